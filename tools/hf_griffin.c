// hf_griffin.c: RecurrentGemma checkpoints -> mattn's recurrentgemma layout (docs/GGUF.md;
// the tensor table in shared/families/griffin.c): the RG-LRU gate blocks transposed, the
// embedding scale rounded to bf16 as HF does.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_common.h"

// ---------------------------------------------------------------------------------------
// recurrentgemma (our layout, docs/GGUF.md)

// bf16 rounding (nearest even) of a double, as torch.tensor(x, dtype=torch.bfloat16) does.
static double round_bf16(double x) {
    int ex;
    double m = frexp(x, &ex); // x = m * 2^ex, 0.5 <= |m| < 1
    return ldexp(nearbyint(ldexp(m, 8)), ex - 8);
}

// RG-LRU gate [H, bw_in, bw_out] (x @ W per block) -> GGUF ne [bw_in, bw_out, H]: each
// block transposed so that row j holds output j's weights, as ggml's matmul expects.
static int rg_gate(struct Conv* c, const char* hname, const char* gname, int64_t H, int64_t bw) {
    float* w = hf_get(c, hname, 3, H, bw, bw);
    if (!w) return c->rc;
    float* t = malloc((size_t)(H * bw * bw) * sizeof(float));
    if (!t) {
        free(w);
        return hf_fail(c, ERR_NOMEM, "out of memory");
    }
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < bw; i++)
            for (int64_t j = 0; j < bw; j++)
                t[(h * bw + j) * bw + i] = w[(h * bw + i) * bw + j];
    free(w);
    char g[256];
    snprintf(g, sizeof(g), "%s", gname);
    return hf_put(c, g, t, 3, bw, bw, H);
}

int hf_conv_recurrentgemma(struct Conv* c) {
    int64_t D = hf_cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = hf_cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t H = hf_cfg_int(c, "num_attention_heads", 0, 1, 1, 4096);
    int64_t Hkv = hf_cfg_int(c, "num_key_value_heads", H, 0, 1, 4096);
    int64_t Fi = hf_cfg_int(c, "intermediate_size", 0, 1, 2, 1 << 24);
    int64_t hd = hf_cfg_int(c, "head_dim", H ? D / H : 0, 0, 1, 1 << 16);
    int64_t lru = hf_cfg_int(c, "lru_width", D, 0, 1, 1 << 24);
    int64_t W = hf_cfg_int(c, "attention_window_size", 2048, 0, 1, UINT32_MAX);
    int64_t K = hf_cfg_int(c, "conv1d_width", 4, 0, 1, 1024);
    double cap = hf_cfg_float(c, "logits_soft_cap", 30, 0);
    double eps = hf_cfg_float(c, "rms_norm_eps", 1e-6, 0);
    double theta = hf_cfg_rope_theta(c, 10000);
    double prf = hf_cfg_float(c, "partial_rotary_factor", 0.5, 0);
    const cJSON* rp = hf_cfg_item(c, "rope_parameters");
    if (cJSON_IsObject(rp))
        hf_json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "partial_rotary_factor"),
                    "rope_parameters.partial_rotary_factor", &prf);
    int tied = hf_cfg_bool(c, "tie_word_embeddings", 1);
    int abias = hf_cfg_bool(c, "attention_bias", 0);
    int64_t V = c->n_vocab, F = Fi / 2;
    if (c->rc) return c->rc;
    const cJSON* bt = hf_cfg_item(c, "block_types");
    int nbt = cJSON_IsArray(bt) ? cJSON_GetArraySize(bt) : 0;
    if (nbt == 0) return hf_fail(c, ERR_FORMAT, "config.json: block_types is missing or empty");
    if (lru % H)
        return hf_fail(c, ERR_SHAPE,
                       "config.json: lru_width %lld is not a multiple of "
                       "num_attention_heads %lld",
                       (long long)lru, (long long)H);
    int64_t bw = lru / H, n_rot = (int64_t)(hd * prf);
    int32_t* kv = calloc((size_t)L, sizeof(int32_t));
    if (!kv) return hf_fail(c, ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < L && !c->rc; i++) {
        const cJSON* t = cJSON_GetArrayItem(bt, (int)(i % nbt));
        if (!cJSON_IsString(t) ||
            (strcmp(t->valuestring, "recurrent") && strcmp(t->valuestring, "attention")))
            hf_fail(c, ERR_FORMAT,
                    "config.json: block_types[%lld] is not \"recurrent\" or "
                    "\"attention\"",
                    (long long)(i % nbt));
        else
            kv[i] = strcmp(t->valuestring, "attention") ? 0 : (int32_t)Hkv;
    }
    hf_kv_u32(c, "block_count", L);
    hf_kv_u32(c, "context_length",
              hf_cfg_int(c, "max_position_embeddings", 8192, 0, 0, UINT32_MAX));
    hf_kv_u32(c, "embedding_length", D);
    hf_kv_u32(c, "feed_forward_length", F);
    hf_kv_u32(c, "attention.head_count", H);
    hf_kv_i32_arr(c, "attention.head_count_kv", kv, L);
    hf_kv_u32(c, "attention.key_length", hd);
    hf_kv_u32(c, "attention.value_length", hd);
    hf_kv_u32(c, "attention.sliding_window", W);
    hf_kv_f32(c, "attention.layer_norm_rms_epsilon", eps);
    hf_kv_f32(c, "rope.freq_base", theta);
    hf_kv_u32(c, "rope.dimension_count", n_rot);
    hf_kv_u32(c, "ssm.conv_kernel", K);
    hf_kv_u32(c, "ssm.inner_size", lru);
    hf_kv_u32(c, "vocab_size", V);
    hf_kv_f32(c, "final_logit_softcapping", cap);
    hf_kv_f32(c, "embedding_scale", round_bf16(sqrt((double)D)));
    hf_copy(c, "model.embed_tokens.weight", "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        long long b = (long long)i;
        const char* p = "model.layers";
        hf_copy(c, hf_name(c, "%s.%lld.temporal_pre_norm.weight", p, b),
                hf_gname(c, "blk.%lld.attn_norm.weight", b), 1, D, 1, 1);
        if (kv[i]) {
            const char* const QKV[3][2] = {
                {"q_proj", "attn_q"}, {"k_proj", "attn_k"}, {"v_proj", "attn_v"}};
            for (int m = 0; m < 3; m++) {
                int64_t o = (m ? Hkv : H) * hd;
                hf_copy(c, hf_name(c, "%s.%lld.temporal_block.%s.weight", p, b, QKV[m][0]),
                        hf_gname(c, "blk.%lld.%s.weight", b, QKV[m][1]), 2, o, D, 1);
                if (abias)
                    hf_copy(c, hf_name(c, "%s.%lld.temporal_block.%s.bias", p, b, QKV[m][0]),
                            hf_gname(c, "blk.%lld.%s.bias", b, QKV[m][1]), 1, o, 1, 1);
            }
            hf_copy(c, hf_name(c, "%s.%lld.temporal_block.o_proj.weight", p, b),
                    hf_gname(c, "blk.%lld.attn_output.weight", b), 2, D, H * hd, 1);
            hf_copy(c, hf_name(c, "%s.%lld.temporal_block.o_proj.bias", p, b),
                    hf_gname(c, "blk.%lld.attn_output.bias", b), 1, D, 1, 1);
        } else {
            const char* const LIN[2][2] = {{"linear_y", "rg_y"}, {"linear_x", "rg_x"}};
            for (int m = 0; m < 2; m++) {
                hf_copy(c, hf_name(c, "%s.%lld.temporal_block.%s.weight", p, b, LIN[m][0]),
                        hf_gname(c, "blk.%lld.%s.weight", b, LIN[m][1]), 2, lru, D, 1);
                hf_copy(c, hf_name(c, "%s.%lld.temporal_block.%s.bias", p, b, LIN[m][0]),
                        hf_gname(c, "blk.%lld.%s.bias", b, LIN[m][1]), 1, lru, 1, 1);
            }
            hf_copy_conv(c, hf_name(c, "%s.%lld.temporal_block.conv_1d.weight", p, b),
                         hf_gname(c, "blk.%lld.ssm_conv1d.weight", b), lru, K);
            hf_copy(c, hf_name(c, "%s.%lld.temporal_block.conv_1d.bias", p, b),
                    hf_gname(c, "blk.%lld.ssm_conv1d.bias", b), 1, lru, 1, 1);
            rg_gate(c, hf_name(c, "%s.%lld.temporal_block.rg_lru.input_gate_weight", p, b),
                    hf_gname(c, "blk.%lld.rg_gate_x.weight", b), H, bw);
            hf_copy(c, hf_name(c, "%s.%lld.temporal_block.rg_lru.input_gate_bias", p, b),
                    hf_gname(c, "blk.%lld.rg_gate_x.bias", b), 2, H, bw, 1);
            rg_gate(c, hf_name(c, "%s.%lld.temporal_block.rg_lru.recurrent_gate_weight", p, b),
                    hf_gname(c, "blk.%lld.rg_gate_a.weight", b), H, bw);
            hf_copy(c, hf_name(c, "%s.%lld.temporal_block.rg_lru.recurrent_gate_bias", p, b),
                    hf_gname(c, "blk.%lld.rg_gate_a.bias", b), 2, H, bw, 1);
            hf_copy(c, hf_name(c, "%s.%lld.temporal_block.rg_lru.recurrent_param", p, b),
                    hf_gname(c, "blk.%lld.rg_param", b), 1, lru, 1, 1);
            hf_copy(c, hf_name(c, "%s.%lld.temporal_block.linear_out.weight", p, b),
                    hf_gname(c, "blk.%lld.rg_out.weight", b), 2, D, lru, 1);
            hf_copy(c, hf_name(c, "%s.%lld.temporal_block.linear_out.bias", p, b),
                    hf_gname(c, "blk.%lld.rg_out.bias", b), 1, D, 1, 1);
        }
        hf_copy(c, hf_name(c, "%s.%lld.channel_pre_norm.weight", p, b),
                hf_gname(c, "blk.%lld.ffn_norm.weight", b), 1, D, 1, 1);
        static const char* const M[3][2] = {
            {"gate_proj", "ffn_gate"}, {"up_proj", "ffn_up"}, {"down_proj", "ffn_down"}};
        for (int m = 0; m < 3; m++) {
            int64_t o = m == 2 ? D : F, in = m == 2 ? F : D;
            hf_copy(c, hf_name(c, "%s.%lld.mlp_block.%s.weight", p, b, M[m][0]),
                    hf_gname(c, "blk.%lld.%s.weight", b, M[m][1]), 2, o, in, 1);
            hf_copy(c, hf_name(c, "%s.%lld.mlp_block.%s.bias", p, b, M[m][0]),
                    hf_gname(c, "blk.%lld.%s.bias", b, M[m][1]), 1, o, 1, 1);
        }
    }
    free(kv);
    hf_copy(c, "model.final_norm.weight", "output_norm.weight", 1, D, 1, 1);
    hf_put_output(c, "lm_head.weight", tied, V, D);
    return c->rc;
}
