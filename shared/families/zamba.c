// zamba.c: Zamba2 and Zamba v1 (ARCHITECTURES.md §7, §7.8) in mattn's GGUF layouts
// (docs/GGUF.md): Mamba-2 (v1: multi-head Mamba-1) layers, some of which first run one of
// the shared transformer blocks ("shared.%d.*"). Their keys, tensor tables, graph
// (zamba_build serves both) and what synth writes for them.
#include <math.h>
#include <stdio.h>

#include "families.h"

// ---------------------------------------------------------------------------------------
// config

// Layer kinds from the per-layer head_count_kv (Hkv on hybrid layers, 0 on Mamba layers),
// hybrid ordinal j running shared block j % n_shared_block; checks the head counts.
static int zamba_layers(struct Model* m, enum LayerKind kind, struct Err* e) {
    struct Config* c = &m->config;
    int j = 0;
    for (int l = 0; l < c->n_layer; l++) {
        c->layer_kind[l] = kind;
        c->ffn_kind[l] = FFN_NONE;
        c->layer_shared[l] = -1;
        int kv = c->layer_n_head_kv[l];
        if (kv == 0) continue;
        if (c->n_head <= 0 || c->n_head % kv != 0)
            return err_set(e, ERR_FORMAT, "model: layer %d: %d heads do not share %d KV heads", l,
                           c->n_head, kv);
        if (kv != c->n_head_kv)
            return err_set(e, ERR_FORMAT,
                           "model: layer %d has %d KV heads, another %d (the shared blocks need "
                           "one count)",
                           l, kv, c->n_head_kv);
        c->layer_shared[l] = j++ % c->n_shared_block;
    }
    if (j < c->n_shared_block)
        return err_set(e, ERR_FORMAT, "model: %d hybrid layers for shared_block_count %d", j,
                       c->n_shared_block);
    if (!arch_find_key(&m->gguf, "attention.key_length"))
        c->head_dim = 2 * c->n_embd / c->n_head; // attention_head_dim = 2D / Ha
    if (c->head_dim <= 0)
        return err_set(e, ERR_FORMAT, "model: attention.key_length %d must be positive",
                       c->head_dim);
    // (hd/2)^-0.5, not hd^-0.5: HF Zamba2Attention.scaling = (head_dim / 2) ** -0.5
    c->attn_scale = 1.0 / sqrt(c->head_dim / 2.0);
    return 0;
}

static int zamba2_config(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = mamba_config_ssm(m, 1, e);
    if (rc) return rc;
    if ((rc = key_int(g, "shared_block_count", 1, 0, 1, 64, &c->n_shared_block, e))) return rc;
    if ((rc = key_int(g, "adapter_rank", 0, 0, 0, 1 << 16, &c->adapter_rank, e))) return rc;
    if ((rc = key_bool(g, "attention.adapter", &c->attn_adapter, e))) return rc;
    if ((rc = key_bool(g, "ffn.adapter", &c->ffn_adapter, e))) return rc;
    if ((c->attn_adapter || c->ffn_adapter) && c->adapter_rank <= 0)
        return err_set(e, ERR_FORMAT, "model: adapters without an adapter_rank");
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    if ((rc = zamba_layers(m, LAYER_MAMBA2, e))) return rc;
    c->rope_type = ROPE_NEOX; // HF rotate_half on the checkpoint's own q/k row order
    if ((rc = key_int(g, "rope.dimension_count", 0, c->head_dim, 0, c->head_dim, &c->n_rot, e)))
        return rc;
    if (c->n_rot % 2) return err_set(e, ERR_FORMAT, "model: rope.dimension_count must be even");
    if ((rc = key_float(g, "rope.freq_base", 10000.0, &c->rope_freq_base, e))) return rc;
    c->ssm_gnorm_eps = 1e-5; // Zamba2RMSNormGated(eps=1e-5), whatever rms_norm_eps says
    return 0;
}

// Zamba v1: one shared block with separate gate/up and no RoPE or adapters; the mixer is
// multi-head Mamba-1 with group_count heads, each with its own B, C and dt rank (docs/GGUF.md
// stores the per-head projections as block-diagonal matrices).
static int zamba_config(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = mamba_config_ssm(m, 0, e);
    if (rc) return rc;
    if ((rc = key_int(g, "shared_block_count", 0, 1, 1, 64, &c->n_shared_block, e))) return rc;
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    if (c->ssm_d_inner % c->ssm_n_group)
        return err_set(e, ERR_FORMAT,
                       "model: ssm.inner_size %d is not a multiple of group_count (heads) %d",
                       c->ssm_d_inner, c->ssm_n_group);
    if ((rc = zamba_layers(m, LAYER_MAMBA, e))) return rc;
    c->rope_type = ROPE_NONE; // Zamba v1 attention has no positional encoding
    c->n_rot = 0;
    return 0;
}

// A LoRA adapter comes as a pair or not at all.
static int zamba2_check(const struct Model* m, struct Err* e) {
    for (int l = 0; l < m->config.n_layer; l++) {
        const struct LayerWeights* L = &m->w.layers[l];
        if (!L->shared_attn_q_a != !L->shared_attn_q_b ||
            !L->shared_attn_k_a != !L->shared_attn_k_b ||
            !L->shared_attn_v_a != !L->shared_attn_v_b ||
            !L->shared_ffn_gate_up_a != !L->shared_ffn_gate_up_b)
            return err_set(e, ERR_FORMAT, "model: layer %d has half of a LoRA adapter pair", l);
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// tensors, in file order: the layers, then the shared blocks, whose attention reads
// concat(x, embedding) (2 n_embd wide). A_log is stored as is (A = -exp(A_log) in the
// engine); a hybrid layer has the projection of the shared block's output and, in Zamba2,
// this invocation's LoRA adapters (_a: (in, rank), _b: (rank, out)).

#define H ON_HYBRID
#define E DIM_EMBD
// clang-format off
#define EMBEDDING {WT(token_embd), "token_embd.weight", {E, DIM_VOCAB}, REQUIRED, INIT_NORMAL, 0}
#define HEAD                                                                                       \
    {WT(output_norm), "output_norm.weight", {E}, REQUIRED, INIT_ONE, 0},                           \
    {WT(output), "output.weight", {E, DIM_VOCAB}, OPTIONAL_UNTIED, INIT_NORMAL, 0}
#define SHARED_ATTENTION                                                                           \
    {SB(attn_norm), "shared.%d.attn_norm.weight", {DIM_EMBD2}, REQUIRED, INIT_ONE, 0},             \
    {SB(attn_q), "shared.%d.attn_q.weight", {DIM_EMBD2, DIM_Q}, REQUIRED, INIT_NORMAL, 0},         \
    {SB(attn_k), "shared.%d.attn_k.weight", {DIM_EMBD2, DIM_KV}, REQUIRED, INIT_NORMAL, 0},        \
    {SB(attn_v), "shared.%d.attn_v.weight", {DIM_EMBD2, DIM_KV}, REQUIRED, INIT_NORMAL, 0},        \
    {SB(attn_output), "shared.%d.attn_output.weight", {DIM_Q, E}, REQUIRED, INIT_NORMAL, 0},       \
    {SB(ffn_norm), "shared.%d.ffn_norm.weight", {E}, REQUIRED, INIT_ONE, 0}

static const struct TensorRow ZAMBA2_TENSORS[] = {
    EMBEDDING,
    {LW(attn_norm), "blk.%d.attn_norm.weight", {E}, REQUIRED, INIT_ONE, 0},
    {LW(ssm_in), "blk.%d.ssm_in.weight", {E, DIM_IN2}, REQUIRED, INIT_NORMAL, 0},
    {LW(ssm_conv1d), "blk.%d.ssm_conv1d.weight", {DIM_D_CONV, DIM_CONV2}, REQUIRED, INIT_CONV, 0},
    {LW(ssm_conv1d_b), "blk.%d.ssm_conv1d.bias", {DIM_CONV2}, REQUIRED, INIT_CONV, 0},
    {LW(ssm_dt_b), "blk.%d.ssm_dt.bias", {DIM_DT_RANK}, REQUIRED, INIT_DT_BIAS, 0},
    {LW(ssm_a_log), "blk.%d.ssm_a_log", {DIM_ONE, DIM_DT_RANK}, REQUIRED, INIT_A_LOG_HEADS, 0},
    {LW(ssm_d), "blk.%d.ssm_d", {DIM_ONE, DIM_DT_RANK}, REQUIRED, INIT_D_HEADS, 0},
    {LW(ssm_norm), "blk.%d.ssm_norm.weight", {DIM_GROUP_WIDTH, DIM_N_GROUP}, REQUIRED, INIT_ONE, 0},
    {LW(ssm_out), "blk.%d.ssm_out.weight", {DIM_D_INNER, E}, REQUIRED, INIT_NORMAL, 0},
    {LW(shared_proj), "blk.%d.shared_proj.weight", {E, E}, REQUIRED, INIT_NORMAL, H},
    {LW(shared_attn_q_a), "blk.%d.shared_attn_q_a.weight", {DIM_EMBD2, DIM_ADAPTER},
     REQUIRED_IF_ATTN_ADAPTER, INIT_NORMAL, H},
    {LW(shared_attn_q_b), "blk.%d.shared_attn_q_b.weight", {DIM_ADAPTER, DIM_Q},
     REQUIRED_IF_ATTN_ADAPTER, INIT_NORMAL, H},
    {LW(shared_attn_k_a), "blk.%d.shared_attn_k_a.weight", {DIM_EMBD2, DIM_ADAPTER},
     REQUIRED_IF_ATTN_ADAPTER, INIT_NORMAL, H},
    {LW(shared_attn_k_b), "blk.%d.shared_attn_k_b.weight", {DIM_ADAPTER, DIM_KV},
     REQUIRED_IF_ATTN_ADAPTER, INIT_NORMAL, H},
    {LW(shared_attn_v_a), "blk.%d.shared_attn_v_a.weight", {DIM_EMBD2, DIM_ADAPTER},
     REQUIRED_IF_ATTN_ADAPTER, INIT_NORMAL, H},
    {LW(shared_attn_v_b), "blk.%d.shared_attn_v_b.weight", {DIM_ADAPTER, DIM_KV},
     REQUIRED_IF_ATTN_ADAPTER, INIT_NORMAL, H},
    {LW(shared_ffn_gate_up_a), "blk.%d.shared_ffn_gate_up_a.weight", {E, DIM_ADAPTER},
     REQUIRED_IF_FFN_ADAPTER, INIT_NORMAL, H},
    {LW(shared_ffn_gate_up_b), "blk.%d.shared_ffn_gate_up_b.weight", {DIM_ADAPTER, DIM_FF2},
     REQUIRED_IF_FFN_ADAPTER, INIT_NORMAL, H},
    SHARED_ATTENTION,
    {SB(ffn_gate_up), "shared.%d.ffn_gate_up.weight", {E, DIM_FF2}, REQUIRED, INIT_NORMAL, 0},
    {SB(ffn_down), "shared.%d.ffn_down.weight", {DIM_FF, E}, REQUIRED, INIT_NORMAL, 0},
    HEAD,
    TENSORS_END,
};

// ssm_x outputs [dt_r of every head (nh dr); B of every head (nh ds); C of every head]
static const struct TensorRow ZAMBA_TENSORS[] = {
    EMBEDDING,
    {LW(attn_norm), "blk.%d.attn_norm.weight", {E}, REQUIRED, INIT_ONE, 0},
    {LW(ssm_in), "blk.%d.ssm_in.weight", {E, DIM_D_INNER2}, REQUIRED, INIT_NORMAL, 0},
    {LW(ssm_conv1d), "blk.%d.ssm_conv1d.weight", {DIM_D_CONV, DIM_D_INNER}, REQUIRED, INIT_CONV, 0},
    {LW(ssm_conv1d_b), "blk.%d.ssm_conv1d.bias", {DIM_D_INNER}, REQUIRED, INIT_CONV, 0},
    {LW(ssm_x), "blk.%d.ssm_x.weight", {DIM_D_INNER, DIM_ZAMBA_X}, REQUIRED, INIT_ZAMBA_X, 0},
    {LW(ssm_dt), "blk.%d.ssm_dt.weight", {DIM_ZAMBA_DT, DIM_D_INNER}, REQUIRED, INIT_ZAMBA_DT, 0},
    {LW(ssm_dt_b), "blk.%d.ssm_dt.bias", {DIM_D_INNER}, REQUIRED, INIT_DT_BIAS, 0},
    {LW(ssm_a_log), "blk.%d.ssm_a_log", {DIM_D_STATE, DIM_D_INNER},
     REQUIRED, INIT_A_LOG_CHANNELS, 0},
    {LW(ssm_d), "blk.%d.ssm_d", {DIM_D_INNER}, REQUIRED, INIT_ONE, 0},
    {LW(ssm_out), "blk.%d.ssm_out.weight", {DIM_D_INNER, E}, REQUIRED, INIT_NORMAL, 0},
    {LW(shared_proj), "blk.%d.shared_proj.weight", {E, E}, REQUIRED, INIT_NORMAL, H},
    SHARED_ATTENTION,
    {SB(ffn_gate), "shared.%d.ffn_gate.weight", {E, DIM_FF}, REQUIRED, INIT_NORMAL, 0},
    {SB(ffn_up), "shared.%d.ffn_up.weight", {E, DIM_FF}, REQUIRED, INIT_NORMAL, 0},
    {SB(ffn_down), "shared.%d.ffn_down.weight", {DIM_FF, E}, REQUIRED, INIT_NORMAL, 0},
    HEAD,
    TENSORS_END,
};
// clang-format on
#undef H
#undef E

// ---------------------------------------------------------------------------------------
// graph (ARCHITECTURES.md §7)

static void op_concat(struct Builder* b, const char* name, int out, int x, int y) {
    struct Op* op = build_emit(b, OP_CONCAT, name, out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = y;
}

// out = W x + B (A x), in that order (HF: proj(x) + adapter_list[j](x)); plain W x without
// an adapter. lora is scratch of the adapter's rank, tmp of out's width.
static void build_adapted(struct Builder* b, const char* name, const char* name_a,
                          const char* name_b, const char* name_sum, int out, int x,
                          const struct GgufTensor* w, const struct GgufTensor* a,
                          const struct GgufTensor* bm, int lora, int tmp) {
    op_matmul(b, name, out, x, w, NULL);
    if (!a) return;
    op_matmul(b, name_a, lora, x, a, NULL);
    op_matmul(b, name_b, tmp, lora, bm, NULL);
    op_add(b, name_sum, out, out, tmp);
}

// The shared transformer block S at a hybrid layer (§7.5): attention over
// RMSNorm(concat(x, e)) with this layer's adapters and KV cache, then RMSNorm and the GELU
// MLP, with no residual anywhere inside; out = shared_proj(block output), the layer's own
// projection.
static void build_zamba2_shared(struct Builder* b, int out, int x, int emb,
                                const struct SharedBlock* S, const struct LayerWeights* L) {
    const struct Config* c = &b->m->config;
    int D = c->n_embd, F = c->n_ff;
    int n_q = c->n_head * c->head_dim, n_kv = c->n_head_kv * c->head_dim;
    int xe = build_buf(b, "x_emb", 2 * D), xb = build_buf(b, "xb", D);
    int q = build_buf(b, "q", n_q), k = build_buf(b, "k", n_kv), v = build_buf(b, "v", n_kv);
    int att = build_buf(b, "att_out", n_q);
    int hb = build_buf(b, "hb", F), hb2 = build_buf(b, "hb2", F);
    int lora = build_buf(b, "lora", c->adapter_rank > 0 ? c->adapter_rank : 1);
    int tmp = build_buf(b, "lora_out", n_q > 2 * F ? n_q : 2 * F);
    op_concat(b, "attn_inp", xe, x, emb); // current hidden first, embedding second
    op_rmsnorm(b, "attn_norm_shared", xe, xe, S->attn_norm, c->norm_eps);
    build_adapted(b, "Qcur", "Qcur_lora_a", "Qcur_lora_b", "Qcur_adapted", q, xe, S->attn_q,
                  L->shared_attn_q_a, L->shared_attn_q_b, lora, tmp);
    build_adapted(b, "Kcur", "Kcur_lora_a", "Kcur_lora_b", "Kcur_adapted", k, xe, S->attn_k,
                  L->shared_attn_k_a, L->shared_attn_k_b, lora, tmp);
    build_adapted(b, "Vcur", "Vcur_lora_a", "Vcur_lora_b", "Vcur_adapted", v, xe, S->attn_v,
                  L->shared_attn_v_a, L->shared_attn_v_b, lora, tmp);
    if (c->n_rot > 0) {
        op_rope(b, "Qcur_rope", q, c->n_head);
        op_rope(b, "Kcur_rope", k, c->n_head_kv);
    }
    op_attn(b, att, q, k, v, c->n_head_kv, 0); // one cache per invocation, scale (hd/2)^-0.5
    op_matmul(b, "attn_out", xb, att, S->attn_output, NULL);
    op_rmsnorm(b, "ffn_norm", xb, xb, S->ffn_norm, c->norm_eps);
    if (S->ffn_gate_up) {
        int gu = build_buf(b, "ffn_gate_up", 2 * F);
        build_adapted(b, "ffn_gate_up", "ffn_gate_up_lora_a", "ffn_gate_up_lora_b",
                      "ffn_gate_up_adapted", gu, xb, S->ffn_gate_up, L->shared_ffn_gate_up_a,
                      L->shared_ffn_gate_up_b, lora, tmp);
        op_slice(b, "ffn_gate", hb, gu, 0); // torch.chunk(gate_up, 2): gate first
        op_slice(b, "ffn_up", hb2, gu, F);
    } else { // Zamba v1
        op_matmul(b, "ffn_gate", hb, xb, S->ffn_gate, NULL);
        op_matmul(b, "ffn_up", hb2, xb, S->ffn_up, NULL);
    }
    op_glu(b, "ffn_glu", hb, hb, hb2, ACT_GELU);
    op_matmul(b, "ffn_out", xb, hb, S->ffn_down, NULL);
    op_matmul(b, "shared_proj", out, xb, L->shared_proj, NULL);
}

// Zamba2 (§7.2) and Zamba v1 (§7.8): every layer is a Mamba-2 (v1: multi-head Mamba-1)
// layer; a hybrid layer first runs its shared block and adds the projected result to the
// mixer's *input* (the residual stays x).
static void zamba_build(struct Builder* b) {
    const struct Config* c = &b->m->config;
    int D = c->n_embd;
    int x = build_buf(b, "x", D), xb = build_buf(b, "xb", D), xb2 = build_buf(b, "xb2", D);
    int emb = build_buf(b, "inp_embd", D);
    b->layer = -1;
    // e is kept for every hybrid layer; x = e is a second lookup (no copy op needed)
    op_embed(b, emb, b->m->w.token_embd);
    struct Op* op = build_emit(b, OP_EMBED, "inp_x", x);
    if (op) op->w[0] = build_tensor(b, b->m->w.token_embd);
    for (int l = 0; l < c->n_layer; l++) {
        const struct LayerWeights* L = &b->m->w.layers[l];
        b->layer = l;
        int s = c->layer_shared[l];
        if (s >= 0) {
            build_zamba2_shared(b, xb2, x, emb, &b->m->w.shared[s], L);
            op_add(b, "mamba_inp", xb2, x, xb2);
            op_rmsnorm(b, "attn_norm", xb, xb2, L->attn_norm, c->norm_eps);
        } else {
            op_rmsnorm(b, "attn_norm", xb, x, L->attn_norm, c->norm_eps);
        }
        if (c->arch == ARCH_ZAMBA)
            mamba_build_mixer1(b, xb2, xb, L, c->ssm_n_group);
        else
            mamba_build_mixer2(b, xb2, xb, L);
        op_add(b, "l_out", x, x, xb2);
    }
    build_output(b, x);
}

// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// synth: Zamba2-1.2B, and Zamba v1 at 2048 wide with 32 layers by default

// clang-format off
static const int64_t ZAMBA2_SYNTH[P_COUNT] = {
    [P_EMBD] = 2048, [P_LAYER] = 38, [P_VOCAB] = 32000, [P_CTX] = 4096, [P_FF] = AUTO,
    [P_HEAD] = 32, [P_HEAD_KV] = AUTO, [P_HEAD_DIM] = AUTO, [P_TIED] = 1, [P_EXPAND] = 2,
    [P_D_INNER] = AUTO, [P_D_STATE] = 128, [P_D_CONV] = 4, [P_SSM_HEAD_DIM] = 64,
    [P_N_GROUP] = 1, [P_ATTN_EVERY] = 6, [P_ATTN_OFFSET] = 5, [P_SHARED_BLOCKS] = 1,
    [P_ADAPTER_RANK] = 128, [P_ATTN_ADAPTER] = 1, [P_FFN_ADAPTER] = 1,
};
static const int64_t ZAMBA_SYNTH[P_COUNT] = {
    [P_EMBD] = 2048, [P_LAYER] = 32, [P_VOCAB] = 32000, [P_CTX] = 4096, [P_FF] = AUTO,
    [P_HEAD] = 16, [P_HEAD_KV] = AUTO, [P_HEAD_DIM] = AUTO, [P_TIED] = 1, [P_EXPAND] = 2,
    [P_D_INNER] = AUTO, [P_D_STATE] = 16, [P_D_CONV] = 4, [P_DT_RANK] = AUTO,
    [P_SSM_HEADS] = 2, [P_ATTN_EVERY] = 6, [P_ATTN_OFFSET] = 1, [P_SHARED_BLOCKS] = 1,
};
// clang-format on

// The shared attention reads concat(x, embedding): its heads split 2 n_embd.
static void zamba_synth_resolve(int64_t* v) {
    if (v[P_HEAD_DIM] == AUTO) v[P_HEAD_DIM] = 2 * v[P_EMBD] / v[P_HEAD];
}

// The keys Zamba and Zamba2 share: heads, the hybrid pattern, the f64 epsilon.
static void zamba_keys(struct GgufWriter* w, const char* a, const int64_t* v) {
    key_set_u32(w, a, "feed_forward_length", (uint32_t)v[P_FF]);
    key_set_u32(w, a, "attention.head_count", (uint32_t)v[P_HEAD]);
    family_kv_pattern(w, a, v);
    key_set_u32(w, a, "attention.key_length", (uint32_t)v[P_HEAD_DIM]);
    key_set_u32(w, a, "attention.value_length", (uint32_t)v[P_HEAD_DIM]);
    key_set_f64(w, a, "attention.layer_norm_rms_epsilon", 1e-5);
    key_set_u32(w, a, "shared_block_count", (uint32_t)v[P_SHARED_BLOCKS]);
}

static void zamba2_synth_keys(struct GgufWriter* w, const char* a, const int64_t* v) {
    int64_t r = v[P_ADAPTER_RANK];
    int attn_ad = v[P_ATTN_ADAPTER] && r > 0, ffn_ad = v[P_FFN_ADAPTER] && r > 0;
    zamba_keys(w, a, v);
    key_set_f32(w, a, "rope.freq_base", 10000.0f);
    key_set_u32(w, a, "rope.dimension_count", (uint32_t)v[P_HEAD_DIM]);
    mamba_synth_ssm_keys(w, a, v, v[P_D_INNER] / v[P_SSM_HEAD_DIM], v[P_N_GROUP]);
    key_set_u32(w, a, "adapter_rank", (uint32_t)(attn_ad || ffn_ad ? r : 0));
    key_set_bool(w, a, "attention.adapter", attn_ad);
    key_set_bool(w, a, "ffn.adapter", ffn_ad);
}

static void zamba_synth_keys(struct GgufWriter* w, const char* a, const int64_t* v) {
    zamba_keys(w, a, v);
    mamba_synth_ssm_keys(w, a, v, v[P_DT_RANK], v[P_SSM_HEADS]);
}

static int shared_layers_check(const int64_t* v, char* msg, size_t cap) {
    int64_t n = family_n_attn(v);
    if (n < v[P_SHARED_BLOCKS])
        return snprintf(msg, cap,
                        "%lld layers with the shared block (i %% --attn-every == --attn-offset) "
                        "for --shared-blocks %lld",
                        (long long)n, (long long)v[P_SHARED_BLOCKS]);
    return 0;
}

static int zamba2_synth_check(const int64_t* v, char* msg, size_t cap) {
    if (v[P_HEAD_DIM] % 2)
        return snprintf(msg, cap, "--head-dim must be even (RoPE rotates pairs)");
    if (mamba2_synth_check(v, msg, cap)) return 1;
    if ((v[P_ATTN_ADAPTER] || v[P_FFN_ADAPTER]) && v[P_ADAPTER_RANK] == 0)
        return snprintf(msg, cap, "adapters need an --adapter-rank above 0");
    return shared_layers_check(v, msg, cap);
}

static int zamba_synth_check(const int64_t* v, char* msg, size_t cap) {
    if (v[P_D_INNER] % v[P_SSM_HEADS])
        return snprintf(msg, cap, "--d-inner must be a multiple of --ssm-heads");
    return shared_layers_check(v, msg, cap);
}

// ---------------------------------------------------------------------------------------
// the registry row(s) (shared/families/list.h names them)

const struct Family zamba2_family = {
    .arch = ARCH_ZAMBA2,
    .name = "zamba2",
    .label = "zamba2",
    .load_config = zamba2_config,
    .tensors = ZAMBA2_TENSORS,
    .check = zamba2_check,
    .build = zamba_build,
    .synth_params = PB_COMMON | PB(P_FF) | ATTN | SSM2 | PATTERN | PB(P_SHARED_BLOCKS) |
                    PB(P_ADAPTER_RANK) | PB(P_ATTN_ADAPTER) | PB(P_FFN_ADAPTER),
    .synth_defaults = ZAMBA2_SYNTH,
    .synth_resolve = zamba_synth_resolve,
    .synth_check = zamba2_synth_check,
    .synth_keys = zamba2_synth_keys,
};

const struct Family zamba_family = {
    .arch = ARCH_ZAMBA,
    .name = "zamba",
    .label = "zamba",
    .load_config = zamba_config,
    .tensors = ZAMBA_TENSORS,
    .build = zamba_build,
    .synth_params =
        PB_COMMON | PB(P_FF) | ATTN | SSM1 | PB(P_SSM_HEADS) | PATTERN | PB(P_SHARED_BLOCKS),
    .synth_defaults = ZAMBA_SYNTH,
    .synth_resolve = zamba_synth_resolve,
    .synth_check = zamba_synth_check,
    .synth_keys = zamba_synth_keys,
};
