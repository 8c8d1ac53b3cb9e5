// hf_mamba.c: Mamba-1, Mamba-2 and Jamba checkpoints -> llama.cpp's layouts (the tensor
// tables in shared/families/mamba.c): conv1d squeezed, A = -exp(A_log), Jamba's experts
// stacked; the Mamba-2 mixer is shared with hf_zamba.c.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_common.h"

// ---------------------------------------------------------------------------------------
// mamba, mamba2, jamba

// Mamba-1 mixer tensors under prefix (".in_proj.weight" ...) into blk.i.
static int mamba1_mixer(struct Conv* c, const char* prefix, int64_t i, int64_t D, int64_t di,
                        int64_t N, int64_t R, int64_t K, int jamba, int conv_bias, int proj_bias) {
    char p[200];
    snprintf(p, sizeof(p), "%s", prefix);
    long long b = (long long)i;
    hf_copy(c, hf_name(c, "%s.in_proj.weight", p), hf_gname(c, "blk.%lld.ssm_in.weight", b), 2,
            2 * di, D, 1);
    hf_copy_conv(c, hf_name(c, "%s.conv1d.weight", p), hf_gname(c, "blk.%lld.ssm_conv1d.weight", b),
                 di, K);
    if (conv_bias)
        hf_copy(c, hf_name(c, "%s.conv1d.bias", p), hf_gname(c, "blk.%lld.ssm_conv1d.bias", b), 1,
                di, 1, 1);
    hf_copy(c, hf_name(c, "%s.x_proj.weight", p), hf_gname(c, "blk.%lld.ssm_x.weight", b), 2,
            R + 2 * N, di, 1);
    if (jamba) {
        hf_copy(c, hf_name(c, "%s.dt_layernorm.weight", p),
                hf_gname(c, "blk.%lld.ssm_dt_norm.weight", b), 1, R, 1, 1);
        hf_copy(c, hf_name(c, "%s.b_layernorm.weight", p),
                hf_gname(c, "blk.%lld.ssm_b_norm.weight", b), 1, N, 1, 1);
        hf_copy(c, hf_name(c, "%s.c_layernorm.weight", p),
                hf_gname(c, "blk.%lld.ssm_c_norm.weight", b), 1, N, 1, 1);
    }
    hf_copy(c, hf_name(c, "%s.dt_proj.weight", p), hf_gname(c, "blk.%lld.ssm_dt.weight", b), 2, di,
            R, 1);
    hf_copy(c, hf_name(c, "%s.dt_proj.bias", p), hf_gname(c, "blk.%lld.ssm_dt.bias", b), 1, di, 1,
            1);
    float* a = hf_neg_exp(hf_get(c, hf_name(c, "%s.A_log", p), 2, di, N, 1), di * N);
    hf_put(c, hf_gname(c, "blk.%lld.ssm_a", b), a, 2, N, di, 1);
    hf_copy(c, hf_name(c, "%s.D", p), hf_gname(c, "blk.%lld.ssm_d", b), 1, di, 1, 1);
    hf_copy(c, hf_name(c, "%s.out_proj.weight", p), hf_gname(c, "blk.%lld.ssm_out.weight", b), 2, D,
            di, 1);
    if (proj_bias) {
        hf_copy(c, hf_name(c, "%s.in_proj.bias", p), hf_gname(c, "blk.%lld.ssm_in.bias", b), 1,
                2 * di, 1, 1);
        hf_copy(c, hf_name(c, "%s.out_proj.bias", p), hf_gname(c, "blk.%lld.ssm_out.bias", b), 1, D,
                1, 1);
    }
    return c->rc;
}

static int64_t dt_rank(struct Conv* c, const char* key, int64_t D) {
    const cJSON* j = hf_cfg_item(c, key);
    if (cJSON_IsString(j) && !strcmp(j->valuestring, "auto")) return (D + 15) / 16;
    return hf_cfg_int(c, key, (D + 15) / 16, 0, 1, 1 << 20);
}

static const char* embed_name(struct Conv* c) {
    return hf_find(c, "backbone.embeddings.weight") ? "backbone.embeddings.weight"
                                                    : "backbone.embedding.weight";
}

int hf_conv_mamba(struct Conv* c) {
    int64_t D = hf_cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = hf_cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t di = hf_cfg_int(c, "intermediate_size", 2 * D, 0, 1, 1 << 24);
    int64_t N = hf_cfg_int(c, "state_size", 16, 0, 1, 1 << 16);
    int64_t K = hf_cfg_int(c, "conv_kernel", 4, 0, 1, 1024);
    int64_t R = dt_rank(c, "time_step_rank", D);
    double eps = hf_cfg_float(c, "layer_norm_epsilon", 1e-5, 0);
    int tied = hf_cfg_bool(c, "tie_word_embeddings", 1);
    int cb = hf_cfg_bool(c, "use_conv_bias", 1), pb = hf_cfg_bool(c, "use_bias", 0);
    int64_t V = c->n_vocab;
    if (c->rc) return c->rc;
    hf_kv_u32(c, "context_length", 1 << 20);
    hf_kv_u32(c, "embedding_length", D);
    hf_kv_u32(c, "feed_forward_length", 0);
    hf_kv_u32(c, "attention.head_count", 0);
    hf_kv_u32(c, "block_count", L);
    hf_kv_u32(c, "ssm.conv_kernel", K);
    hf_kv_u32(c, "ssm.inner_size", di);
    hf_kv_u32(c, "ssm.state_size", N);
    hf_kv_u32(c, "ssm.time_step_rank", R);
    hf_kv_f32(c, "attention.layer_norm_rms_epsilon", eps);
    gguf_writer_set_bool(&c->w, hf_akey(c, "ssm.dt_b_c_rms"), false);
    hf_copy(c, embed_name(c), "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        hf_copy(c, hf_name(c, "backbone.layers.%lld.norm.weight", (long long)i),
                hf_gname(c, "blk.%lld.attn_norm.weight", (long long)i), 1, D, 1, 1);
        char p[128];
        snprintf(p, sizeof(p), "backbone.layers.%lld.mixer", (long long)i);
        mamba1_mixer(c, p, i, D, di, N, R, K, 0, cb, pb);
    }
    hf_copy(c, "backbone.norm_f.weight", "output_norm.weight", 1, D, 1, 1);
    hf_put_output(c, "lm_head.weight", tied, V, D);
    return c->rc;
}

// Mamba-2 mixer under prefix into blk.i. store_a_log: zamba2 layout (A_log kept as is).
int hf_mamba2_mixer(struct Conv* c, const char* prefix, int64_t i, int64_t D, int64_t di, int64_t N,
                    int64_t G, int64_t nh, int64_t K, int store_a_log, int cb) {
    char p[200];
    snprintf(p, sizeof(p), "%s", prefix);
    long long b = (long long)i;
    int64_t conv_dim = di + 2 * G * N, n_in = 2 * di + 2 * G * N + nh;
    hf_copy(c, hf_name(c, "%s.in_proj.weight", p), hf_gname(c, "blk.%lld.ssm_in.weight", b), 2,
            n_in, D, 1);
    hf_copy_conv(c, hf_name(c, "%s.conv1d.weight", p), hf_gname(c, "blk.%lld.ssm_conv1d.weight", b),
                 conv_dim, K);
    if (cb)
        hf_copy(c, hf_name(c, "%s.conv1d.bias", p), hf_gname(c, "blk.%lld.ssm_conv1d.bias", b), 1,
                conv_dim, 1, 1);
    hf_copy(c, hf_name(c, "%s.dt_bias", p), hf_gname(c, "blk.%lld.ssm_dt.bias", b), 1, nh, 1, 1);
    float* a = hf_get(c, hf_name(c, "%s.A_log", p), 1, nh, 1, 1);
    if (store_a_log)
        hf_put(c, hf_gname(c, "blk.%lld.ssm_a_log", b), a, 2, 1, nh, 1);
    else
        hf_put(c, hf_gname(c, "blk.%lld.ssm_a", b), hf_neg_exp(a, nh), 2, 1, nh, 1);
    float* d = hf_get(c, hf_name(c, "%s.D", p), 1, nh, 1, 1);
    hf_put(c, hf_gname(c, "blk.%lld.ssm_d", b), d, 2, 1, nh, 1);
    float* nw = hf_get(c, hf_name(c, "%s.norm.weight", p), 1, di, 1, 1);
    hf_put(c, hf_gname(c, "blk.%lld.ssm_norm.weight", b), nw, 2, di / G, G, 1);
    hf_copy(c, hf_name(c, "%s.out_proj.weight", p), hf_gname(c, "blk.%lld.ssm_out.weight", b), 2, D,
            di, 1);
    return c->rc;
}

int hf_conv_mamba2(struct Conv* c) {
    int64_t D = hf_cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = hf_cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t ex = hf_cfg_int(c, "expand", 2, 0, 1, 64);
    int64_t di = hf_cfg_int(c, "intermediate_size", ex * D, 0, 1, 1 << 24);
    int64_t N = hf_cfg_int(c, "state_size", 128, 0, 1, 1 << 16);
    int64_t K = hf_cfg_int(c, "conv_kernel", 4, 0, 1, 1024);
    int64_t P = hf_cfg_int(c, "head_dim", 64, 0, 1, 1 << 16);
    int64_t G = hf_cfg_int(c, "n_groups", 1, 0, 1, 1 << 16);
    double eps = hf_cfg_float(c, "layer_norm_epsilon", 1e-5, 0);
    int tied = hf_cfg_bool(c, "tie_word_embeddings", 1);
    int cb = hf_cfg_bool(c, "use_conv_bias", 1);
    int64_t V = c->n_vocab;
    if (c->rc) return c->rc;
    if (di % P || di % G)
        return hf_fail(c, ERR_SHAPE,
                       "config.json: d_inner %lld is not a multiple of head_dim %lld "
                       "and n_groups %lld",
                       (long long)di, (long long)P, (long long)G);
    int64_t nh = di / P;
    int64_t nhc = hf_cfg_int(c, "num_heads", nh, 0, 1, 1 << 20);
    if (nhc != nh)
        return hf_fail(c, ERR_SHAPE, "config.json: num_heads %lld != d_inner/head_dim %lld",
                       (long long)nhc, (long long)nh);
    hf_kv_u32(c, "context_length", 1 << 20);
    hf_kv_u32(c, "embedding_length", D);
    hf_kv_u32(c, "feed_forward_length", 0);
    hf_kv_u32(c, "attention.head_count", 0);
    hf_kv_u32(c, "block_count", L);
    hf_kv_u32(c, "ssm.conv_kernel", K);
    hf_kv_u32(c, "ssm.inner_size", di);
    hf_kv_u32(c, "ssm.state_size", N);
    hf_kv_u32(c, "ssm.time_step_rank", nh);
    hf_kv_u32(c, "ssm.group_count", G);
    hf_kv_f32(c, "attention.layer_norm_rms_epsilon", eps);
    hf_copy(c, embed_name(c), "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        hf_copy(c, hf_name(c, "backbone.layers.%lld.norm.weight", (long long)i),
                hf_gname(c, "blk.%lld.attn_norm.weight", (long long)i), 1, D, 1, 1);
        char p[128];
        snprintf(p, sizeof(p), "backbone.layers.%lld.mixer", (long long)i);
        hf_mamba2_mixer(c, p, i, D, di, N, G, nh, K, 0, cb);
    }
    hf_copy(c, "backbone.norm_f.weight", "output_norm.weight", 1, D, 1, 1);
    hf_put_output(c, "lm_head.weight", tied, V, D);
    return c->rc;
}

// Jamba's experts: per-expert tensors stacked to GGUF ne [in, out, E], or transformers'
// fused experts.gate_up_proj [E, 2F, D] / experts.down_proj [E, D, F].
static int jamba_experts(struct Conv* c, int64_t i, int64_t E, int64_t D, int64_t F) {
    long long b = (long long)i;
    const char* p = "model.layers";
    if (hf_find(c, hf_name(c, "%s.%lld.feed_forward.experts.gate_up_proj", p, b))) {
        float* gu = hf_get(c, c->name, 3, E, 2 * F, D);
        float* g = gu ? malloc((size_t)(E * F * D) * sizeof(float)) : NULL;
        float* u = g ? malloc((size_t)(E * F * D) * sizeof(float)) : NULL;
        if (!u) {
            free(gu);
            free(g);
            return c->rc ? c->rc : hf_fail(c, ERR_NOMEM, "out of memory");
        }
        for (int64_t x = 0; x < E; x++) {
            memcpy(g + x * F * D, gu + x * 2 * F * D, (size_t)(F * D) * sizeof(float));
            memcpy(u + x * F * D, gu + x * 2 * F * D + F * D, (size_t)(F * D) * sizeof(float));
        }
        free(gu);
        hf_put(c, hf_gname(c, "blk.%lld.ffn_gate_exps.weight", b), g, 3, D, F, E);
        hf_put(c, hf_gname(c, "blk.%lld.ffn_up_exps.weight", b), u, 3, D, F, E);
        return hf_copy(c, hf_name(c, "%s.%lld.feed_forward.experts.down_proj", p, b),
                       hf_gname(c, "blk.%lld.ffn_down_exps.weight", b), 3, E, D, F);
    }
    static const char* const M[3][2] = {
        {"gate_proj", "ffn_gate_exps"}, {"up_proj", "ffn_up_exps"}, {"down_proj", "ffn_down_exps"}};
    for (int m = 0; m < 3 && !c->rc; m++) {
        int64_t o = m == 2 ? D : F, in = m == 2 ? F : D;
        float* all = malloc((size_t)(E * o * in) * sizeof(float));
        if (!all) return hf_fail(c, ERR_NOMEM, "out of memory");
        for (int64_t x = 0; x < E; x++) {
            float* w = hf_get(c,
                              hf_name(c, "%s.%lld.feed_forward.experts.%lld.%s.weight", p, b,
                                      (long long)x, M[m][0]),
                              2, o, in, 1);
            if (!w) {
                free(all);
                return c->rc;
            }
            memcpy(all + x * o * in, w, (size_t)(o * in) * sizeof(float));
            free(w);
        }
        hf_put(c, hf_gname(c, "blk.%lld.%s.weight", b, M[m][1]), all, 3, in, o, E);
    }
    return c->rc;
}

int hf_conv_jamba(struct Conv* c) {
    int64_t D = hf_cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = hf_cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t H = hf_cfg_int(c, "num_attention_heads", 0, 1, 1, 4096);
    int64_t Hkv = hf_cfg_int(c, "num_key_value_heads", H, 0, 1, 4096);
    int64_t F = hf_cfg_int(c, "intermediate_size", 0, 1, 1, 1 << 24);
    int64_t hd = hf_cfg_int(c, "head_dim", H ? D / H : 0, 0, 1, 1 << 16);
    int64_t E = hf_cfg_int(c, "num_experts", 16, 0, 1, 4096);
    int64_t Eu = hf_cfg_int(c, "num_experts_per_tok", 2, 0, 1, 4096);
    int64_t ap = hf_cfg_int(c, "attn_layer_period", 8, 0, 1, 4096);
    int64_t ao = hf_cfg_int(c, "attn_layer_offset", 4, 0, 0, 4096);
    int64_t ep = hf_cfg_int(c, "expert_layer_period", 2, 0, 1, 4096);
    int64_t eo = hf_cfg_int(c, "expert_layer_offset", 1, 0, 0, 4096);
    int64_t N = hf_cfg_int(c, "mamba_d_state", 16, 0, 1, 1 << 16);
    int64_t K = hf_cfg_int(c, "mamba_d_conv", 4, 0, 1, 1024);
    int64_t ex = hf_cfg_int(c, "mamba_expand", 2, 0, 1, 64);
    int64_t R = dt_rank(c, "mamba_dt_rank", D);
    int cb = hf_cfg_bool(c, "mamba_conv_bias", 1), pb = hf_cfg_bool(c, "mamba_proj_bias", 0);
    double eps = hf_cfg_float(c, "rms_norm_eps", 1e-6, 0);
    int tied = hf_cfg_bool(c, "tie_word_embeddings", 0);
    int64_t V = c->n_vocab, di = ex * D;
    if (c->rc) return c->rc;
    int32_t* kv = calloc((size_t)L, sizeof(int32_t));
    if (!kv) return hf_fail(c, ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < L; i++)
        kv[i] = i % ap == ao ? (int32_t)Hkv : 0;
    hf_kv_u32(c, "block_count", L);
    hf_kv_u32(c, "context_length",
              hf_cfg_int(c, "max_position_embeddings", 262144, 0, 0, UINT32_MAX));
    hf_kv_u32(c, "embedding_length", D);
    hf_kv_u32(c, "feed_forward_length", F);
    hf_kv_u32(c, "attention.head_count", H);
    hf_kv_i32_arr(c, "attention.head_count_kv", kv, L);
    hf_kv_u32(c, "ssm.conv_kernel", K);
    hf_kv_u32(c, "ssm.inner_size", di);
    hf_kv_u32(c, "ssm.state_size", N);
    hf_kv_u32(c, "ssm.time_step_rank", R);
    hf_kv_f32(c, "attention.layer_norm_rms_epsilon", eps);
    hf_kv_u32(c, "expert_count", E);
    hf_kv_u32(c, "expert_used_count", Eu);
    hf_copy(c, "model.embed_tokens.weight", "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        long long b = (long long)i;
        const char* p = "model.layers";
        hf_copy(c, hf_name(c, "%s.%lld.input_layernorm.weight", p, b),
                hf_gname(c, "blk.%lld.attn_norm.weight", b), 1, D, 1, 1);
        if (kv[i]) {
            hf_copy(c, hf_name(c, "%s.%lld.self_attn.q_proj.weight", p, b),
                    hf_gname(c, "blk.%lld.attn_q.weight", b), 2, H * hd, D, 1);
            hf_copy(c, hf_name(c, "%s.%lld.self_attn.k_proj.weight", p, b),
                    hf_gname(c, "blk.%lld.attn_k.weight", b), 2, Hkv * hd, D, 1);
            hf_copy(c, hf_name(c, "%s.%lld.self_attn.v_proj.weight", p, b),
                    hf_gname(c, "blk.%lld.attn_v.weight", b), 2, Hkv * hd, D, 1);
            hf_copy(c, hf_name(c, "%s.%lld.self_attn.o_proj.weight", p, b),
                    hf_gname(c, "blk.%lld.attn_output.weight", b), 2, D, H * hd, 1);
        } else {
            char mp[128];
            snprintf(mp, sizeof(mp), "%s.%lld.mamba", p, b);
            mamba1_mixer(c, mp, i, D, di, N, R, K, 1, cb, pb);
        }
        hf_copy(c, hf_name(c, "%s.%lld.pre_ff_layernorm.weight", p, b),
                hf_gname(c, "blk.%lld.ffn_norm.weight", b), 1, D, 1, 1);
        if (E > 1 && i % ep == eo) {
            hf_copy(c, hf_name(c, "%s.%lld.feed_forward.router.weight", p, b),
                    hf_gname(c, "blk.%lld.ffn_gate_inp.weight", b), 2, E, D, 1);
            jamba_experts(c, i, E, D, F);
        } else {
            static const char* const M[3][2] = {
                {"gate_proj", "ffn_gate"}, {"up_proj", "ffn_up"}, {"down_proj", "ffn_down"}};
            for (int m = 0; m < 3; m++)
                hf_copy(c, hf_name(c, "%s.%lld.feed_forward.%s.weight", p, b, M[m][0]),
                        hf_gname(c, "blk.%lld.%s.weight", b, M[m][1]), 2, m == 2 ? D : F,
                        m == 2 ? F : D, 1);
        }
    }
    free(kv);
    hf_copy(c, "model.final_layernorm.weight", "output_norm.weight", 1, D, 1, 1);
    hf_put_output(c, "lm_head.weight", tied, V, D);
    return c->rc;
}
