// hf_zamba.c: Zamba2 and Zamba v1 checkpoints -> mattn's layouts (docs/GGUF.md; the tensor
// tables in shared/families/zamba.c): the shared blocks found through the first hybrid
// layer that holds them, the adapters per invocation, Zamba v1's per-head projections
// written as block-diagonal matrices.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_common.h"

// ---------------------------------------------------------------------------------------
// zamba2 (our layout, docs/GGUF.md)

// The layer types: 1 = hybrid, 0 = mamba ("mamba" or transformers' "linear_attention").
static int zamba_layer_types(struct Conv* c, int64_t L, int* hybrid) {
    const cJSON* lt = hf_cfg_item(c, "layers_block_type");
    if (!cJSON_IsArray(lt)) lt = hf_cfg_item(c, "layer_types");
    if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != L)
        return hf_fail(c, ERR_FORMAT,
                       "config.json: layers_block_type is missing or not %lld entries",
                       (long long)L);
    int i = 0;
    for (const cJSON* t = lt->child; t; t = t->next, i++) {
        const char* s = cJSON_IsString(t) ? t->valuestring : "";
        if (!strcmp(s, "hybrid"))
            hybrid[i] = 1;
        else if (!strcmp(s, "mamba") || !strcmp(s, "linear_attention"))
            hybrid[i] = 0;
        else
            return hf_fail(c, ERR_FORMAT,
                           "config.json: layers_block_type[%d] = '%.40s' (want "
                           "\"mamba\", \"linear_attention\" or \"hybrid\")",
                           i, s);
    }
    return 0;
}

// The first hybrid layer whose ordinal is = b (mod nmb) and holds suffix under
// model.layers.N. (suffix starts with the block's module: shared_transformer. in Zamba2,
// shared_transf. in Zamba v1); -1 when none does.
static int64_t zamba_find_shared(struct Conv* c, const int* hybrid, int64_t L, int64_t nmb,
                                 int64_t b, const char* suffix) {
    int64_t j = 0;
    for (int64_t i = 0; i < L; i++) {
        if (!hybrid[i]) continue;
        if (j++ % nmb != b) continue;
        if (hf_find(c, hf_name(c, "model.layers.%lld.%s", (long long)i, suffix))) return i;
    }
    return -1;
}

static int zamba_shared(struct Conv* c, const int* hybrid, int64_t L, int64_t nmb, int64_t b,
                        const char* suffix, const char* gname, int nd, int64_t d0, int64_t d1) {
    int64_t i = zamba_find_shared(c, hybrid, L, nmb, b, suffix);
    char g[256];
    snprintf(g, sizeof(g), "%s", gname);
    if (i < 0)
        return hf_fail(c, ERR_NOT_FOUND, "shared block %lld: %s is under no hybrid layer",
                       (long long)b, suffix);
    hf_name(c, "model.layers.%lld.%s", (long long)i, suffix);
    char h[256];
    snprintf(h, sizeof(h), "%s", c->name);
    return hf_copy(c, h, g, nd, d0, d1, 1);
}

// Whether any of the n shared-block tensors module.names[m] (dims[m][0] x dims[m][1]; 0 for a
// vector's second) has copies that differ between two hybrid layers that use the same block
// (hybrid ordinal j uses block j % nmb). Zamba2 and Zamba v1 both write one block per hybrid
// layer then: a block is shared only where its copies agree.
static int zamba_copies_differ(struct Conv* c, const int* hybrid, int64_t L, int64_t nmb,
                               const char* module, int n, const char* const (*names)[2],
                               const int64_t (*dims)[2]) {
    int differ = 0;
    for (int m = 0; m < n && !differ && !c->rc; m++) {
        char suffix[128];
        snprintf(suffix, sizeof(suffix), "%s%s", module, names[m][0]);
        int nd = dims[m][1] ? 2 : 1;
        int64_t d1 = nd == 2 ? dims[m][1] : 1;
        size_t bytes = (size_t)(dims[m][0] * d1) * sizeof(float);
        for (int64_t b = 0; b < nmb && !differ && !c->rc; b++) {
            int64_t first = zamba_find_shared(c, hybrid, L, nmb, b, suffix);
            if (first < 0) continue; // reported when the block is written
            float* a = hf_get(c, hf_name(c, "model.layers.%lld.%s", (long long)first, suffix), nd,
                              dims[m][0], d1, 1);
            int64_t j = 0; // the hybrid ordinal of layer i
            for (int64_t k = 0; k <= first; k++)
                j += hybrid[k];
            for (int64_t i = first + 1; a && i < L && !differ; i++) {
                if (!hybrid[i] || j++ % nmb != b ||
                    !hf_find(c, hf_name(c, "model.layers.%lld.%s", (long long)i, suffix)))
                    continue;
                float* o = hf_get(c, c->name, nd, dims[m][0], d1, 1);
                if (o && memcmp(a, o, bytes)) differ = 1;
                free(o);
            }
            free(a);
        }
    }
    return differ;
}

int hf_conv_zamba2(struct Conv* c) {
    int64_t D = hf_cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = hf_cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t Ha = hf_cfg_int(c, "num_attention_heads", 0, 1, 1, 4096);
    int64_t Hkv = hf_cfg_int(c, "num_key_value_heads", Ha, 0, 1, 4096);
    int64_t F = hf_cfg_int(c, "intermediate_size", 4 * D, 0, 1, 1 << 24);
    int64_t hd = hf_cfg_int(c, "attention_head_dim", Ha ? 2 * D / Ha : 0, 0, 1, 1 << 16);
    int64_t N = hf_cfg_int(c, "mamba_d_state", 64, 0, 1, 1 << 16);
    int64_t K = hf_cfg_int(c, "mamba_d_conv", 4, 0, 1, 1024);
    double ex = hf_cfg_float(c, "mamba_expand", 2, 0);
    int64_t G = hf_cfg_int(c, "mamba_ngroups", 1, 0, 1, 1 << 16);
    int64_t nh = hf_cfg_int(c, "n_mamba_heads", 8, 0, 1, 1 << 16);
    int64_t nmb = hf_cfg_int(c, "num_mem_blocks", 1, 0, 1, 64);
    int64_t r = hf_cfg_int(c, "adapter_rank", 128, 0, 1, 1 << 16);
    int attn_ad = hf_cfg_bool(c, "use_shared_attention_adapter", 0);
    int mlp_ad = hf_cfg_bool(c, "use_shared_mlp_adapter", 1);
    int mem_rope = hf_cfg_bool(c, "use_mem_rope", 0);
    int cb = hf_cfg_bool(c, "use_conv_bias", 1);
    double eps = hf_cfg_float(c, "rms_norm_eps", 1e-5, 0);
    double theta = hf_cfg_rope_theta(c, 10000);
    int tied = hf_cfg_bool(c, "tie_word_embeddings", 1);
    int64_t V = c->n_vocab, di = (int64_t)(ex * (double)D);
    if (c->rc) return c->rc;
    if (hf_cfg_bool(c, "use_long_context", 0))
        return hf_fail(c, ERR_UNSUPPORTED, "config.json: use_long_context is not supported");
    if (hf_cfg_bool(c, "add_bias_linear", 0))
        return hf_fail(c, ERR_UNSUPPORTED, "config.json: add_bias_linear is not supported");
    if (di % nh || di % G || nh % G)
        return hf_fail(c, ERR_SHAPE,
                       "config.json: d_inner %lld, n_mamba_heads %lld and mamba_ngroups "
                       "%lld do not divide",
                       (long long)di, (long long)nh, (long long)G);
    int64_t P = hf_cfg_int(c, "mamba_headdim", di / nh, 0, 1, 1 << 20);
    if (P * nh != di)
        return hf_fail(c, ERR_SHAPE,
                       "config.json: mamba_headdim %lld * n_mamba_heads %lld != d_inner "
                       "%lld",
                       (long long)P, (long long)nh, (long long)di);
    int* hybrid = calloc((size_t)L, sizeof(int));
    int32_t* kv = calloc((size_t)L, sizeof(int32_t));
    if (!hybrid || !kv) {
        free(hybrid);
        free(kv);
        return hf_fail(c, ERR_NOMEM, "out of memory");
    }
    if (zamba_layer_types(c, L, hybrid)) goto done;
    int64_t n_hybrid = 0;
    for (int64_t i = 0; i < L; i++) {
        kv[i] = hybrid[i] ? (int32_t)Hkv : 0;
        n_hybrid += hybrid[i];
    }
    if (n_hybrid < nmb) {
        hf_fail(c, ERR_FORMAT, "config.json: %lld hybrid layers for num_mem_blocks %lld",
                (long long)n_hybrid, (long long)nmb);
        goto done;
    }
    // A block is shared only when its copies are: a checkpoint whose hybrid layers hold
    // different copies of "the same" block (transformers 5 builds and saves one module per
    // hybrid layer) runs each layer with its own, so it gets one block per hybrid layer.
    static const char* const BLOCK[8][2] = {
        {"input_layernorm.weight", ""},           {"self_attn.q_proj.weight", ""},
        {"self_attn.k_proj.weight", ""},          {"self_attn.v_proj.weight", ""},
        {"self_attn.o_proj.weight", ""},          {"pre_ff_layernorm.weight", ""},
        {"feed_forward.gate_up_proj.weight", ""}, {"feed_forward.down_proj.weight", ""}};
    const int64_t BLOCK_DIMS[8][2] = {
        {2 * D, 0},   {Ha * hd, 2 * D}, {Hkv * hd, 2 * D}, {Hkv * hd, 2 * D},
        {D, Ha * hd}, {D, 0},           {2 * F, D},        {D, F}};
    if (nmb < n_hybrid &&
        zamba_copies_differ(c, hybrid, L, nmb, "shared_transformer.", 8, BLOCK, BLOCK_DIMS))
        nmb = n_hybrid;
    if (c->rc) goto done;
    hf_kv_u32(c, "block_count", L);
    hf_kv_u32(c, "context_length",
              hf_cfg_int(c, "max_position_embeddings", 4096, 0, 0, UINT32_MAX));
    hf_kv_u32(c, "embedding_length", D);
    hf_kv_u32(c, "feed_forward_length", F);
    hf_kv_u32(c, "attention.head_count", Ha);
    hf_kv_i32_arr(c, "attention.head_count_kv", kv, L);
    hf_kv_u32(c, "attention.key_length", hd);
    hf_kv_u32(c, "attention.value_length", hd);
    hf_kv_f64(c, "attention.layer_norm_rms_epsilon", eps);
    hf_kv_f32(c, "rope.freq_base", theta);
    hf_kv_u32(c, "rope.dimension_count", mem_rope ? hd : 0);
    hf_kv_u32(c, "ssm.conv_kernel", K);
    hf_kv_u32(c, "ssm.inner_size", di);
    hf_kv_u32(c, "ssm.state_size", N);
    hf_kv_u32(c, "ssm.time_step_rank", nh);
    hf_kv_u32(c, "ssm.group_count", G);
    hf_kv_u32(c, "vocab_size", V);
    hf_kv_u32(c, "shared_block_count", nmb);
    hf_kv_u32(c, "adapter_rank", (attn_ad || mlp_ad) ? r : 0);
    gguf_writer_set_bool(&c->w, hf_akey(c, "attention.adapter"), attn_ad);
    gguf_writer_set_bool(&c->w, hf_akey(c, "ffn.adapter"), mlp_ad);
    hf_copy(c, "model.embed_tokens.weight", "token_embd.weight", 2, V, D, 1);
    int64_t j = 0;
    for (int64_t i = 0; i < L && !c->rc; i++) {
        long long b = (long long)i;
        char p[160];
        if (!hybrid[i]) {
            hf_copy(c, hf_name(c, "model.layers.%lld.input_layernorm.weight", b),
                    hf_gname(c, "blk.%lld.attn_norm.weight", b), 1, D, 1, 1);
            snprintf(p, sizeof(p), "model.layers.%lld.mamba", b);
            hf_mamba2_mixer(c, p, i, D, di, N, G, nh, K, 1, cb);
            continue;
        }
        hf_copy(c, hf_name(c, "model.layers.%lld.mamba_decoder.input_layernorm.weight", b),
                hf_gname(c, "blk.%lld.attn_norm.weight", b), 1, D, 1, 1);
        snprintf(p, sizeof(p), "model.layers.%lld.mamba_decoder.mamba", b);
        hf_mamba2_mixer(c, p, i, D, di, N, G, nh, K, 1, cb);
        hf_copy(c, hf_name(c, "model.layers.%lld.linear.weight", b),
                hf_gname(c, "blk.%lld.shared_proj.weight", b), 2, D, D, 1);
        // adapters of ordinal j, found under any hybrid layer that uses block j % nmb
        int64_t blk = j % nmb;
        static const char* const AD[4][2] = {
            {"self_attn.linear_q_adapter_list", "shared_attn_q"},
            {"self_attn.linear_k_adapter_list", "shared_attn_k"},
            {"self_attn.linear_v_adapter_list", "shared_attn_v"},
            {"feed_forward.gate_up_proj_adapter_list", "shared_ffn_gate_up"}};
        for (int m = 0; m < 4 && !c->rc; m++) {
            if (m < 3 ? !attn_ad : !mlp_ad) continue;
            int64_t in = m < 3 ? 2 * D : D, out = m < 3 ? (m ? Hkv : Ha) * hd : 2 * F;
            char sa[160], sb[160], ga[160], gb[160];
            snprintf(sa, sizeof(sa), "shared_transformer.%s.%lld.0.weight", AD[m][0], (long long)j);
            snprintf(sb, sizeof(sb), "shared_transformer.%s.%lld.1.weight", AD[m][0], (long long)j);
            snprintf(ga, sizeof(ga), "blk.%lld.%s_a.weight", b, AD[m][1]);
            snprintf(gb, sizeof(gb), "blk.%lld.%s_b.weight", b, AD[m][1]);
            zamba_shared(c, hybrid, L, nmb, blk, sa, ga, 2, r, in);
            zamba_shared(c, hybrid, L, nmb, blk, sb, gb, 2, out, r);
        }
        j++;
    }
    for (int64_t bb = 0; bb < nmb && !c->rc; bb++) {
        char g[96];
        long long b = (long long)bb;
#define SH(suffix, gsuffix, nd, d0, d1)                                                            \
    (snprintf(g, sizeof(g), "shared.%lld.%s", b, gsuffix),                                         \
     zamba_shared(c, hybrid, L, nmb, bb, "shared_transformer." suffix, g, nd, d0, d1))
        SH("input_layernorm.weight", "attn_norm.weight", 1, 2 * D, 1);
        SH("self_attn.q_proj.weight", "attn_q.weight", 2, Ha * hd, 2 * D);
        SH("self_attn.k_proj.weight", "attn_k.weight", 2, Hkv * hd, 2 * D);
        SH("self_attn.v_proj.weight", "attn_v.weight", 2, Hkv * hd, 2 * D);
        SH("self_attn.o_proj.weight", "attn_output.weight", 2, D, Ha * hd);
        SH("pre_ff_layernorm.weight", "ffn_norm.weight", 1, D, 1);
        SH("feed_forward.gate_up_proj.weight", "ffn_gate_up.weight", 2, 2 * F, D);
        SH("feed_forward.down_proj.weight", "ffn_down.weight", 2, D, F);
#undef SH
    }
    hf_copy(c, "model.final_layernorm.weight", "output_norm.weight", 1, D, 1, 1);
    hf_put_output(c, "lm_head.weight", tied, V, D);
done:
    free(hybrid);
    free(kv);
    return c->rc;
}

// ---------------------------------------------------------------------------------------
// zamba v1 (our layout, docs/GGUF.md)

// Zamba's multi-head Mamba-1 mixer under prefix into blk.i: in_proj de-interleaved into
// [x; z]; the per-head x_proj and dt_proj written as dense block-diagonal matrices (exact
// zeros elsewhere) whose outputs are [dt_r of every head; B of every head; C of every head]
// and [dt of every channel]; A_log, D and the dt bias flattened over (head, channel).
static int zamba_mixer(struct Conv* c, const char* prefix, int64_t i, int64_t D, int64_t di,
                       int64_t N, int64_t R, int64_t nh, int64_t K) {
    char p[200];
    snprintf(p, sizeof(p), "%s", prefix);
    long long b = (long long)i;
    int64_t P = di / nh, W = R + 2 * N;
    float* w = hf_get(c, hf_name(c, "%s.in_proj.weight", p), 2, 2 * di, D, 1);
    float* xz = w ? calloc((size_t)(2 * di * D), sizeof(float)) : NULL;
    if (w && !xz) hf_fail(c, ERR_NOMEM, "out of memory");
    for (int64_t ch = 0; xz && ch < di; ch++) { // HF: view(B, di, 2, L): row 2c -> x, 2c+1 -> z
        memcpy(xz + ch * D, w + 2 * ch * D, (size_t)D * sizeof(float));
        memcpy(xz + (di + ch) * D, w + (2 * ch + 1) * D, (size_t)D * sizeof(float));
    }
    free(w);
    hf_put(c, hf_gname(c, "blk.%lld.ssm_in.weight", b), xz, 2, D, 2 * di, 1);
    hf_copy_conv(c, hf_name(c, "%s.conv1d.weight", p), hf_gname(c, "blk.%lld.ssm_conv1d.weight", b),
                 di, K);
    hf_copy(c, hf_name(c, "%s.conv1d.bias", p), hf_gname(c, "blk.%lld.ssm_conv1d.bias", b), 1, di,
            1, 1);
    float* xp = hf_get(c, hf_name(c, "%s.x_proj_weight", p), 3, nh, W, P);
    float* xd = xp ? calloc((size_t)(nh * W * di), sizeof(float)) : NULL;
    if (xp && !xd) hf_fail(c, ERR_NOMEM, "out of memory");
    for (int64_t h = 0; xd && h < nh; h++)
        for (int64_t k = 0; k < W; k++) {
            int64_t row = k < R       ? h * R + k
                          : k < R + N ? nh * R + h * N + (k - R)
                                      : nh * (R + N) + h * N + (k - R - N);
            memcpy(xd + row * di + h * P, xp + (h * W + k) * P, (size_t)P * sizeof(float));
        }
    free(xp);
    hf_put(c, hf_gname(c, "blk.%lld.ssm_x.weight", b), xd, 2, di, nh * W, 1);
    float* dp = hf_get(c, hf_name(c, "%s.dt_proj_weight", p), 3, nh, P, R);
    float* dd = dp ? calloc((size_t)(di * nh * R), sizeof(float)) : NULL;
    if (dp && !dd) hf_fail(c, ERR_NOMEM, "out of memory");
    for (int64_t ch = 0; dd && ch < di; ch++)
        memcpy(dd + ch * nh * R + (ch / P) * R, dp + ch * R, (size_t)R * sizeof(float));
    free(dp);
    hf_put(c, hf_gname(c, "blk.%lld.ssm_dt.weight", b), dd, 2, nh * R, di, 1);
    hf_put(c, hf_gname(c, "blk.%lld.ssm_dt.bias", b),
           hf_get(c, hf_name(c, "%s.dt_proj_bias", p), 2, nh, P, 1), 1, di, 1, 1);
    hf_put(c, hf_gname(c, "blk.%lld.ssm_a_log", b),
           hf_get(c, hf_name(c, "%s.A_log", p), 3, nh, P, N), 2, N, di, 1);
    hf_put(c, hf_gname(c, "blk.%lld.ssm_d", b), hf_get(c, hf_name(c, "%s.D", p), 2, nh, P, 1), 1,
           di, 1, 1);
    hf_copy(c, hf_name(c, "%s.out_proj.weight", p), hf_gname(c, "blk.%lld.ssm_out.weight", b), 2, D,
            di, 1);
    return c->rc;
}

int hf_conv_zamba(struct Conv* c) {
    int64_t D = hf_cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = hf_cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t Ha = hf_cfg_int(c, "num_attention_heads", 0, 1, 1, 4096);
    int64_t Hkv = hf_cfg_int(c, "num_key_value_heads", Ha, 0, 1, 4096);
    int64_t F = hf_cfg_int(c, "intermediate_size", 4 * D, 0, 1, 1 << 24);
    int64_t hd = hf_cfg_int(c, "attention_head_dim", Ha ? 2 * D / Ha : 0, 0, 1, 1 << 16);
    int64_t N = hf_cfg_int(c, "mamba_d_state", 16, 0, 1, 1 << 16);
    int64_t K = hf_cfg_int(c, "mamba_d_conv", 4, 0, 1, 1024);
    int64_t ex = hf_cfg_int(c, "mamba_expand", 2, 0, 1, 64);
    int64_t R = hf_cfg_int(c, "mamba_dt_rank", (D + 15) / 16, 0, 1, 1 << 16);
    int64_t nh = hf_cfg_int(c, "n_mamba_heads", 2, 0, 1, 1 << 16);
    int cb = hf_cfg_bool(c, "mamba_conv_bias", 1);
    double eps = hf_cfg_float(c, "rms_norm_eps", 1e-5, 0);
    int tied = hf_cfg_bool(c, "tie_word_embeddings", 1);
    int64_t V = c->n_vocab, di = ex * D;
    if (c->rc) return c->rc;
    if (!cb || hf_cfg_bool(c, "mamba_proj_bias", 0))
        return hf_fail(c, ERR_UNSUPPORTED,
                       "config.json: mamba_conv_bias false or mamba_proj_bias "
                       "true is not supported");
    static const char* const ACT[2][2] = {{"hidden_act", "gelu"}, {"hidden_mamba_act", "silu"}};
    for (int k = 0; k < 2; k++) {
        const cJSON* a = hf_cfg_item(c, ACT[k][0]);
        if (a && !(cJSON_IsString(a) && !strcmp(a->valuestring, ACT[k][1])))
            return hf_fail(c, ERR_UNSUPPORTED, "config.json: %s must be \"%s\"", ACT[k][0],
                           ACT[k][1]);
    }
    if (di % nh || Ha % Hkv)
        return hf_fail(c, ERR_SHAPE,
                       "config.json: d_inner %lld / n_mamba_heads %lld or heads %lld / "
                       "KV heads %lld do not divide",
                       (long long)di, (long long)nh, (long long)Ha, (long long)Hkv);
    int* hybrid = calloc((size_t)L, sizeof(int));
    int32_t* kv = calloc((size_t)L, sizeof(int32_t));
    if (!hybrid || !kv) {
        free(hybrid);
        free(kv);
        return hf_fail(c, ERR_NOMEM, "out of memory");
    }
    if (hf_cfg_item(c, "layers_block_type") || hf_cfg_item(c, "layer_types")) {
        if (zamba_layer_types(c, L, hybrid)) goto done;
    } else { // HF ZambaConfig: mamba, mamba, hybrid, then hybrid where i % period == offset
        int64_t per = hf_cfg_int(c, "attn_layer_period", 6, 0, 1, 4096);
        int64_t off = hf_cfg_int(c, "attn_layer_offset", 4, 0, 0, 4096);
        for (int64_t i = 0; i < L; i++)
            hybrid[i] = i == 2 || (i >= 3 && (i - 3) % per == off);
    }
    int64_t n_hybrid = 0;
    for (int64_t i = 0; i < L; i++) {
        kv[i] = hybrid[i] ? (int32_t)Hkv : 0;
        n_hybrid += hybrid[i];
    }
    if (n_hybrid < 1) {
        hf_fail(c, ERR_FORMAT, "config.json: no hybrid layer");
        goto done;
    }
    hf_kv_u32(c, "block_count", L);
    hf_kv_u32(c, "context_length",
              hf_cfg_int(c, "max_position_embeddings", 4096, 0, 0, UINT32_MAX));
    hf_kv_u32(c, "embedding_length", D);
    hf_kv_u32(c, "feed_forward_length", F);
    hf_kv_u32(c, "attention.head_count", Ha);
    hf_kv_i32_arr(c, "attention.head_count_kv", kv, L);
    hf_kv_u32(c, "attention.key_length", hd);
    hf_kv_u32(c, "attention.value_length", hd);
    hf_kv_f64(c, "attention.layer_norm_rms_epsilon", eps);
    hf_kv_u32(c, "ssm.conv_kernel", K);
    hf_kv_u32(c, "ssm.inner_size", di);
    hf_kv_u32(c, "ssm.state_size", N);
    hf_kv_u32(c, "ssm.time_step_rank", R);
    hf_kv_u32(c, "ssm.group_count", nh);
    hf_kv_u32(c, "vocab_size", V);
    hf_copy(c, "model.embed_tokens.weight", "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        long long b = (long long)i;
        char p[160];
        const char* in = hybrid[i] ? "mamba_decoder." : "";
        hf_copy(c, hf_name(c, "model.layers.%lld.%sinput_layernorm.weight", b, in),
                hf_gname(c, "blk.%lld.attn_norm.weight", b), 1, D, 1, 1);
        snprintf(p, sizeof(p), "model.layers.%lld.%smamba", b, in);
        zamba_mixer(c, p, i, D, di, N, R, nh, K);
        if (hybrid[i])
            hf_copy(c, hf_name(c, "model.layers.%lld.linear.weight", b),
                    hf_gname(c, "blk.%lld.shared_proj.weight", b), 2, D, D, 1);
    }
    // The block is meant to be tied, but a checkpoint may hold different values under each
    // hybrid layer, and transformers then runs each layer's own (the hf/zamba test model does):
    // one block per hybrid layer unless every copy equals the first.
    static const char* const SHT[9][2] = {{"input_layernorm.weight", "attn_norm.weight"},
                                          {"self_attn.q_proj.weight", "attn_q.weight"},
                                          {"self_attn.k_proj.weight", "attn_k.weight"},
                                          {"self_attn.v_proj.weight", "attn_v.weight"},
                                          {"self_attn.o_proj.weight", "attn_output.weight"},
                                          {"pre_ff_layernorm.weight", "ffn_norm.weight"},
                                          {"feed_forward.gate_proj.weight", "ffn_gate.weight"},
                                          {"feed_forward.up_proj.weight", "ffn_up.weight"},
                                          {"feed_forward.down_proj.weight", "ffn_down.weight"}};
    const int64_t SHD[9][2] = {{2 * D, 0},
                               {Ha * hd, 2 * D},
                               {Hkv * hd, 2 * D},
                               {Hkv * hd, 2 * D},
                               {D, Ha * hd},
                               {D, 0},
                               {F, D},
                               {F, D},
                               {D, F}};
    int64_t nb = zamba_copies_differ(c, hybrid, L, 1, "shared_transf.", 9, SHT, SHD) ? n_hybrid : 1;
    hf_kv_u32(c, "shared_block_count", nb);
    for (int64_t bb = 0, j = 0, i = 0; i < L && bb < nb && !c->rc; i++) {
        if (!hybrid[i] || j++ != bb) continue;
        for (int m = 0; m < 9 && !c->rc; m++) {
            char suffix[128], g[96];
            snprintf(suffix, sizeof(suffix), "shared_transf.%s", SHT[m][0]);
            snprintf(g, sizeof(g), "shared.%lld.%s", (long long)bb, SHT[m][1]);
            int nd = SHD[m][1] ? 2 : 1;
            if (nb > 1 && hf_find(c, hf_name(c, "model.layers.%lld.%s", (long long)i, suffix)))
                hf_copy(c, c->name, g, nd, SHD[m][0], nd == 2 ? SHD[m][1] : 1, 1);
            else
                zamba_shared(c, hybrid, L, 1, 0, suffix, g, nd, SHD[m][0], nd == 2 ? SHD[m][1] : 1);
        }
        bb++;
    }
    hf_copy(c, "model.final_layernorm.weight", "output_norm.weight", 1, D, 1, 1);
    hf_put_output(c, "lm_head.weight", tied, V, D);
done:
    free(hybrid);
    free(kv);
    return c->rc;
}
