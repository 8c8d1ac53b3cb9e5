// hf_llama.c: Llama and Mistral checkpoints -> llama.cpp's llama layout (the tensor table
// in shared/families/llama.c): Q/K rows permuted to interleaved RoPE pairs, the rope
// scaling keys (llama3's frequency factors as rope_freqs.weight).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hf_common.h"

// ---------------------------------------------------------------------------------------
// llama / mistral

static int rope_scaling(struct Conv* c, double theta, int64_t head_dim) {
    const cJSON* rp = hf_cfg_item(c, "rope_parameters");
    if (!cJSON_IsObject(rp)) rp = hf_cfg_item(c, "rope_scaling");
    if (!cJSON_IsObject(rp)) return 0;
    const cJSON* ty = cJSON_GetObjectItemCaseSensitive(rp, "rope_type");
    if (!cJSON_IsString(ty)) ty = cJSON_GetObjectItemCaseSensitive(rp, "type");
    const char* t = cJSON_IsString(ty) ? ty->valuestring : "default";
    if (!strcmp(t, "default")) return 0;
    double factor = 1;
    if (hf_json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "factor"), "rope factor", &factor))
        return hf_fail(c, ERR_FORMAT, "config.json: rope type %s without a factor", t);
    if (!strcmp(t, "linear")) {
        gguf_writer_set_str(&c->w, hf_akey(c, "rope.scaling.type"), "linear");
        hf_kv_f32(c, "rope.scaling.factor", factor);
        return 0;
    }
    if (!strcmp(t, "yarn")) {
        gguf_writer_set_str(&c->w, hf_akey(c, "rope.scaling.type"), "yarn");
        hf_kv_f32(c, "rope.scaling.factor", factor);
        double orig;
        if (!hf_json_num(c,
                         cJSON_GetObjectItemCaseSensitive(rp, "original_max_position_embeddings"),
                         "original_max_position_embeddings", &orig))
            hf_kv_u32(c, "rope.scaling.original_context_length", (int64_t)orig);
        return 0;
    }
    if (!strcmp(t, "llama3")) {
        // llama.cpp writes the per-frequency factors as rope_freqs.weight
        double lo = 1, hi = 4, old = 8192;
        hf_json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "low_freq_factor"), "low_freq_factor",
                    &lo);
        hf_json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "high_freq_factor"), "high_freq_factor",
                    &hi);
        hf_json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "original_max_position_embeddings"),
                    "original_max_position_embeddings", &old);
        float* f = malloc((size_t)(head_dim / 2) * sizeof(float));
        if (!f) return hf_fail(c, ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < head_dim / 2; i++) {
            double freq = 1.0 / pow(theta, (double)(2 * i) / (double)head_dim);
            double wl = 2 * M_PI / freq, r;
            if (wl < old / hi)
                r = 1;
            else if (wl > old / lo)
                r = factor;
            else {
                double s = (old / wl - lo) / (hi - lo);
                r = 1 / ((1 - s) / factor + s);
            }
            f[i] = (float)r;
        }
        return hf_put(c, "rope_freqs.weight", f, 1, head_dim / 2, 1, 1);
    }
    return hf_fail(c, ERR_UNSUPPORTED, "config.json: rope type '%s' is not supported", t);
}

static int conv_llama(struct Conv* c, int mistral) {
    int64_t D = hf_cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = hf_cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t H = hf_cfg_int(c, "num_attention_heads", 0, 1, 1, 4096);
    int64_t Hkv = hf_cfg_int(c, "num_key_value_heads", H, 0, 1, 4096);
    int64_t F = hf_cfg_int(c, "intermediate_size", 0, 1, 1, 1 << 24);
    int64_t V = c->n_vocab;
    int has_hd = hf_cfg_item(c, "head_dim") && !cJSON_IsNull(hf_cfg_item(c, "head_dim"));
    int64_t hd = hf_cfg_int(c, "head_dim", H ? D / H : 0, 0, 1, 1 << 16);
    double eps = hf_cfg_float(c, "rms_norm_eps", 1e-6, 0);
    double theta = hf_cfg_rope_theta(c, 10000);
    int tied = hf_cfg_bool(c, "tie_word_embeddings", 0);
    int abias = hf_cfg_bool(c, "attention_bias", 0), mbias = hf_cfg_bool(c, "mlp_bias", 0);
    if (c->rc) return c->rc;
    if (hd % 2 || H % Hkv)
        return hf_fail(c, ERR_SHAPE,
                       "config.json: head_dim %lld or heads %lld/%lld "
                       "unusable",
                       (long long)hd, (long long)H, (long long)Hkv);
    hf_kv_u32(c, "block_count", L);
    hf_kv_u32(c, "context_length",
              hf_cfg_int(c, "max_position_embeddings", 4096, 0, 0, UINT32_MAX));
    hf_kv_u32(c, "embedding_length", D);
    hf_kv_u32(c, "feed_forward_length", F);
    hf_kv_u32(c, "attention.head_count", H);
    hf_kv_u32(c, "attention.head_count_kv", Hkv);
    hf_kv_f32(c, "rope.freq_base", theta);
    hf_kv_f32(c, "attention.layer_norm_rms_epsilon", eps);
    if (has_hd) {
        hf_kv_u32(c, "attention.key_length", hd);
        hf_kv_u32(c, "attention.value_length", hd);
    }
    hf_kv_u32(c, "vocab_size", V);
    hf_kv_u32(c, "rope.dimension_count", hd);
    if (mistral) {
        const cJSON* sw = hf_cfg_item(c, "sliding_window");
        if (sw && !cJSON_IsNull(sw))
            hf_kv_u32(c, "attention.sliding_window",
                      hf_cfg_int(c, "sliding_window", 0, 1, 1, UINT32_MAX));
    }
    if (rope_scaling(c, theta, hd)) return c->rc;
    hf_copy(c, "model.embed_tokens.weight", "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        const char* p = "model.layers";
        hf_copy(c, hf_name(c, "%s.%lld.input_layernorm.weight", p, (long long)i),
                hf_gname(c, "blk.%lld.attn_norm.weight", (long long)i), 1, D, 1, 1);
        float* q =
            hf_permute_qk(hf_get(c, hf_name(c, "%s.%lld.self_attn.q_proj.weight", p, (long long)i),
                                 2, H * hd, D, 1),
                          H, H * hd, D);
        hf_put(c, hf_gname(c, "blk.%lld.attn_q.weight", (long long)i), q, 2, D, H * hd, 1);
        float* k =
            hf_permute_qk(hf_get(c, hf_name(c, "%s.%lld.self_attn.k_proj.weight", p, (long long)i),
                                 2, Hkv * hd, D, 1),
                          Hkv, Hkv * hd, D);
        hf_put(c, hf_gname(c, "blk.%lld.attn_k.weight", (long long)i), k, 2, D, Hkv * hd, 1);
        hf_copy(c, hf_name(c, "%s.%lld.self_attn.v_proj.weight", p, (long long)i),
                hf_gname(c, "blk.%lld.attn_v.weight", (long long)i), 2, Hkv * hd, D, 1);
        hf_copy(c, hf_name(c, "%s.%lld.self_attn.o_proj.weight", p, (long long)i),
                hf_gname(c, "blk.%lld.attn_output.weight", (long long)i), 2, D, H * hd, 1);
        if (abias) {
            q = hf_permute_qk(hf_get(c,
                                     hf_name(c, "%s.%lld.self_attn.q_proj.bias", p, (long long)i),
                                     1, H * hd, 1, 1),
                              H, H * hd, 1);
            hf_put(c, hf_gname(c, "blk.%lld.attn_q.bias", (long long)i), q, 1, H * hd, 1, 1);
            k = hf_permute_qk(hf_get(c,
                                     hf_name(c, "%s.%lld.self_attn.k_proj.bias", p, (long long)i),
                                     1, Hkv * hd, 1, 1),
                              Hkv, Hkv * hd, 1);
            hf_put(c, hf_gname(c, "blk.%lld.attn_k.bias", (long long)i), k, 1, Hkv * hd, 1, 1);
            hf_copy(c, hf_name(c, "%s.%lld.self_attn.v_proj.bias", p, (long long)i),
                    hf_gname(c, "blk.%lld.attn_v.bias", (long long)i), 1, Hkv * hd, 1, 1);
            hf_copy(c, hf_name(c, "%s.%lld.self_attn.o_proj.bias", p, (long long)i),
                    hf_gname(c, "blk.%lld.attn_output.bias", (long long)i), 1, D, 1, 1);
        }
        hf_copy(c, hf_name(c, "%s.%lld.post_attention_layernorm.weight", p, (long long)i),
                hf_gname(c, "blk.%lld.ffn_norm.weight", (long long)i), 1, D, 1, 1);
        static const char* const MLP[3][2] = {
            {"gate_proj", "ffn_gate"}, {"up_proj", "ffn_up"}, {"down_proj", "ffn_down"}};
        for (int m = 0; m < 3; m++) {
            int64_t o = m == 2 ? D : F, in = m == 2 ? F : D;
            hf_copy(c, hf_name(c, "%s.%lld.mlp.%s.weight", p, (long long)i, MLP[m][0]),
                    hf_gname(c, "blk.%lld.%s.weight", (long long)i, MLP[m][1]), 2, o, in, 1);
            if (mbias)
                hf_copy(c, hf_name(c, "%s.%lld.mlp.%s.bias", p, (long long)i, MLP[m][0]),
                        hf_gname(c, "blk.%lld.%s.bias", (long long)i, MLP[m][1]), 1, o, 1, 1);
        }
    }
    hf_copy(c, "model.norm.weight", "output_norm.weight", 1, D, 1, 1);
    hf_put_output(c, "lm_head.weight", tied, V, D);
    return c->rc;
}

int hf_conv_llama(struct Conv* c) {
    return conv_llama(c, 0);
}

// Mistral is stored as llama, with its sliding window.
int hf_conv_mistral(struct Conv* c) {
    return conv_llama(c, 1);
}
