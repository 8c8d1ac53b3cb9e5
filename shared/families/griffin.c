// griffin.c: RecurrentGemma / Griffin (ARCHITECTURES.md §6) in mattn's GGUF layout
// (docs/GGUF.md): its keys, its tensor table, its graph (griffin_build) and what synth
// writes for it.
#include <math.h>
#include <stdio.h>

#include "families.h"

// ---------------------------------------------------------------------------------------
// config

static int griffin_config(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = 0;
    if (c->n_head <= 0 || c->head_dim <= 0)
        return err_set(e, ERR_FORMAT, "model: bad head counts (n_head %d, head_dim %d)", c->n_head,
                       c->head_dim);
    for (int l = 0; l < c->n_layer; l++)
        if (c->layer_n_head_kv[l] > 0 && c->n_head % c->layer_n_head_kv[l] != 0)
            return err_set(e, ERR_FORMAT, "model: layer %d: %d heads do not share %d KV heads", l,
                           c->n_head, c->layer_n_head_kv[l]);
    // HF rotates halves (rotate_half) of the first n_rot dims of each head.
    c->rope_type = ROPE_NEOX;
    if ((rc = key_int(g, "rope.dimension_count", 1, 0, 2, c->head_dim, &c->n_rot, e))) return rc;
    if (c->n_rot % 2) return err_set(e, ERR_FORMAT, "model: rope.dimension_count must be even");
    if ((rc = key_float(g, "rope.freq_base", 10000.0, &c->rope_freq_base, e))) return rc;
    if ((rc = key_int(g, "attention.sliding_window", 1, 0, 1, INT32_MAX, &c->sliding_window, e)))
        return rc;
    if ((rc = key_int(g, "ssm.conv_kernel", 1, 0, 1, 1 << 10, &c->ssm_d_conv, e))) return rc;
    if ((rc = key_int(g, "ssm.inner_size", 1, 0, 1, 1 << 24, &c->ssm_d_inner, e))) return rc;
    if ((rc = key_float(g, "final_logit_softcapping", -1, &c->logit_softcap, e))) return rc;
    if ((rc = key_float(g, "embedding_scale", -1, &c->embd_scale, e))) return rc;
    if (!(c->logit_softcap > 0) || !(c->embd_scale > 0) || !isfinite(c->logit_softcap) ||
        !isfinite(c->embd_scale))
        return err_set(e, ERR_FORMAT,
                       "model: final_logit_softcapping and embedding_scale must be present, "
                       "finite and positive");
    if (c->ssm_d_inner % c->n_head)
        return err_set(e, ERR_FORMAT,
                       "model: ssm.inner_size %d is not a multiple of the %d RG-LRU gate blocks "
                       "(attention.head_count)",
                       c->ssm_d_inner, c->n_head);
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    c->norm_w_offset = 1.0; // Gemma RMSNorm: (1 + w), weights stored centred at 0
    c->attn_scale = 1.0 / sqrt((double)c->head_dim);
    for (int l = 0; l < c->n_layer; l++) {
        c->layer_kind[l] = c->layer_n_head_kv[l] > 0 ? LAYER_ATTN : LAYER_RGLRU;
        c->ffn_kind[l] = FFN_DENSE;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// tensors, in file order: Gemma norms are stored centred at 0 ((1 + w) x / rms); the
// recurrent layers use ssm_conv1d(_b) for the conv; the RG-LRU gates are block-diagonal,
// (bw, bw, n_head) with one GGUF matrix per block, biases (bw, n_head)

#define A ON_KIND(LAYER_ATTN)
#define R ON_KIND(LAYER_RGLRU)
#define E DIM_EMBD
#define LRU DIM_D_INNER
// clang-format off
static const struct TensorRow GRIFFIN_TENSORS[] = {
    {WT(token_embd), "token_embd.weight", {E, DIM_VOCAB}, REQUIRED, INIT_NORMAL, 0},
    {LW(attn_norm), "blk.%d.attn_norm.weight", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(attn_q), "blk.%d.attn_q.weight", {E, DIM_Q}, REQUIRED, INIT_NORMAL, A},
    {LW(attn_k), "blk.%d.attn_k.weight", {E, DIM_KV_LAYER}, REQUIRED, INIT_NORMAL, A},
    {LW(attn_v), "blk.%d.attn_v.weight", {E, DIM_KV_LAYER}, REQUIRED, INIT_NORMAL, A},
    {LW(attn_q_b), "blk.%d.attn_q.bias", {DIM_Q}, OPTIONAL, INIT_ZERO, A},
    {LW(attn_k_b), "blk.%d.attn_k.bias", {DIM_KV_LAYER}, OPTIONAL, INIT_ZERO, A},
    {LW(attn_v_b), "blk.%d.attn_v.bias", {DIM_KV_LAYER}, OPTIONAL, INIT_ZERO, A},
    {LW(attn_output), "blk.%d.attn_output.weight", {DIM_Q, E}, REQUIRED, INIT_NORMAL, A},
    {LW(attn_output_b), "blk.%d.attn_output.bias", {E}, REQUIRED, INIT_ZERO, A},
    {LW(rg_y), "blk.%d.rg_y.weight", {E, LRU}, REQUIRED, INIT_NORMAL, R},
    {LW(rg_y_b), "blk.%d.rg_y.bias", {LRU}, REQUIRED, INIT_ZERO, R},
    {LW(rg_x), "blk.%d.rg_x.weight", {E, LRU}, REQUIRED, INIT_NORMAL, R},
    {LW(rg_x_b), "blk.%d.rg_x.bias", {LRU}, REQUIRED, INIT_ZERO, R},
    {LW(ssm_conv1d), "blk.%d.ssm_conv1d.weight", {DIM_D_CONV, LRU}, REQUIRED, INIT_CONV, R},
    {LW(ssm_conv1d_b), "blk.%d.ssm_conv1d.bias", {LRU}, REQUIRED, INIT_CONV, R},
    {LW(rg_gate_x), "blk.%d.rg_gate_x.weight", {DIM_BLOCK, DIM_BLOCK, DIM_N_HEAD},
     REQUIRED, INIT_NORMAL, R},
    {LW(rg_gate_x_b), "blk.%d.rg_gate_x.bias", {DIM_BLOCK, DIM_N_HEAD}, REQUIRED, INIT_ZERO, R},
    {LW(rg_gate_a), "blk.%d.rg_gate_a.weight", {DIM_BLOCK, DIM_BLOCK, DIM_N_HEAD},
     REQUIRED, INIT_NORMAL, R},
    {LW(rg_gate_a_b), "blk.%d.rg_gate_a.bias", {DIM_BLOCK, DIM_N_HEAD}, REQUIRED, INIT_ZERO, R},
    {LW(rg_param), "blk.%d.rg_param", {LRU}, REQUIRED, INIT_RG_LAMBDA, R},
    {LW(rg_out), "blk.%d.rg_out.weight", {LRU, E}, REQUIRED, INIT_NORMAL, R},
    {LW(rg_out_b), "blk.%d.rg_out.bias", {E}, REQUIRED, INIT_ZERO, R},
    {LW(ffn_norm), "blk.%d.ffn_norm.weight", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(ffn_gate), "blk.%d.ffn_gate.weight", {E, DIM_FF}, REQUIRED, INIT_NORMAL, 0},
    {LW(ffn_gate_b), "blk.%d.ffn_gate.bias", {DIM_FF}, REQUIRED, INIT_ZERO, 0},
    {LW(ffn_up), "blk.%d.ffn_up.weight", {E, DIM_FF}, REQUIRED, INIT_NORMAL, 0},
    {LW(ffn_up_b), "blk.%d.ffn_up.bias", {DIM_FF}, REQUIRED, INIT_ZERO, 0},
    {LW(ffn_down), "blk.%d.ffn_down.weight", {DIM_FF, E}, REQUIRED, INIT_NORMAL, 0},
    {LW(ffn_down_b), "blk.%d.ffn_down.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {WT(output_norm), "output_norm.weight", {E}, REQUIRED, INIT_ZERO, 0},
    {WT(output), "output.weight", {E, DIM_VOCAB}, OPTIONAL_UNTIED, INIT_NORMAL, 0},
    TENSORS_END,
};
// clang-format on
#undef A
#undef R
#undef E
#undef LRU

// ---------------------------------------------------------------------------------------
// graph (ARCHITECTURES.md §6)

static void op_scale(struct Builder* b, const char* name, int out, int x, double s) {
    struct Op* op = build_emit(b, OP_SCALE, name, out);
    if (!op) return;
    op->in[0] = x;
    op->p.scale.s = s;
}

static void op_matmul_blockdiag(struct Builder* b, const char* name, int out, int x,
                                const struct GgufTensor* w, const struct GgufTensor* bias,
                                int n_block) {
    struct Op* op = build_emit(b, OP_MATMUL_BLOCKDIAG, name, out);
    if (!op) return;
    op->in[0] = x;
    op->w[0] = build_tensor(b, w);
    op->w[1] = build_tensor(b, bias);
    op->p.blockdiag.n_block = n_block;
}

static void op_rg_lru(struct Builder* b, int out, int x, int gate_x, int gate_a,
                      const struct LayerWeights* L) {
    int slot = build_state(b, STATE_RG_LRU, b->m->config.ssm_d_inner, 0);
    struct Op* op = build_emit(b, OP_RG_LRU, "rg_lru", out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = gate_x;
    op->in[2] = gate_a;
    op->w[0] = build_tensor(b, L->rg_param);
    op->state = slot;
}

static void op_softcap(struct Builder* b, const char* name, int out, int x, double cap) {
    struct Op* op = build_emit(b, OP_SOFTCAP, name, out);
    if (!op) return;
    op->in[0] = x;
    op->p.softcap.cap = cap;
}

// Griffin's recurrent block (§6.5), HF RecurrentGemmaRecurrentBlock:
// out = W_out( RG-LRU(conv(W_x u)) * gelu_tanh(W_y u) ).
static void build_rglru_block(struct Builder* b, int out, int u, const struct LayerWeights* L) {
    const struct Config* c = &b->m->config;
    int lru = c->ssm_d_inner;
    int y = build_buf(b, "rg_y", lru), xr = build_buf(b, "rg_x", lru),
        xc = build_buf(b, "rg_xc", lru);
    int gx = build_buf(b, "rg_gate_x", lru), ga = build_buf(b, "rg_gate_a", lru),
        h = build_buf(b, "rg_h", lru);
    op_matmul(b, "rg_y", y, u, L->rg_y, L->rg_y_b);
    op_matmul(b, "rg_x", xr, u, L->rg_x, L->rg_x_b);
    struct Op* conv = op_ssm_conv(b, xc, xr, L, lru);
    if (conv) conv->p.ssm.linear = 1; // Griffin's conv has no activation after it
    // The gates read the conv output, one (bw x bw) block per head (n_head blocks).
    op_matmul_blockdiag(b, "rg_gate_x", gx, xc, L->rg_gate_x, L->rg_gate_x_b, c->n_head);
    op_unary(b, "rg_gate_x_sigmoid", gx, gx, UNARY_SIGMOID);
    op_matmul_blockdiag(b, "rg_gate_a", ga, xc, L->rg_gate_a, L->rg_gate_a_b, c->n_head);
    op_unary(b, "rg_gate_a_sigmoid", ga, ga, UNARY_SIGMOID);
    op_rg_lru(b, h, xc, gx, ga, L);
    op_glu(b, "rg_gated", h, y, h, ACT_GELU_TANH); // gelu_tanh(y) * h
    op_matmul(b, "rg_out", out, h, L->rg_out, L->rg_out_b);
}

// §6.4: x = E[t] * bf16(sqrt(D)); per layer x += temporal(norm(x)); x += MLP(norm(x)), all
// norms Gemma's (1 + w); logits = cap * tanh(head(norm(x)) / cap).
static void griffin_build(struct Builder* b) {
    const struct Config* c = &b->m->config;
    int n_q = c->n_head * c->head_dim, n_kv = c->n_head_kv * c->head_dim;
    int x = build_buf(b, "x", c->n_embd), xb = build_buf(b, "xb", c->n_embd),
        xb2 = build_buf(b, "xb2", c->n_embd);
    b->layer = -1;
    op_embed(b, x, b->m->w.token_embd);
    op_scale(b, "inp_scaled", x, x, c->embd_scale);
    for (int l = 0; l < c->n_layer; l++) {
        const struct LayerWeights* L = &b->m->w.layers[l];
        b->layer = l;
        op_rmsnorm(b, "attn_norm", xb, x, L->attn_norm, c->norm_eps);
        if (c->layer_kind[l] == LAYER_ATTN) {
            // MQA with RoPE on the first n_rot dims of each head, over the last W positions.
            int q = build_buf(b, "q", n_q), k = build_buf(b, "k", n_kv),
                v = build_buf(b, "v", n_kv);
            int att = build_buf(b, "att_out", n_q), n_head_kv = c->layer_n_head_kv[l];
            op_matmul(b, "Qcur", q, xb, L->attn_q, L->attn_q_b);
            op_matmul(b, "Kcur", k, xb, L->attn_k, L->attn_k_b);
            op_matmul(b, "Vcur", v, xb, L->attn_v, L->attn_v_b);
            op_rope(b, "Qcur_rope", q, c->n_head);
            op_rope(b, "Kcur_rope", k, n_head_kv);
            op_attn(b, att, q, k, v, n_head_kv, c->sliding_window);
            op_matmul(b, "attn_out", xb2, att, L->attn_output, L->attn_output_b);
        } else {
            build_rglru_block(b, xb2, xb, L);
        }
        op_add(b, "ffn_inp", x, x, xb2);
        build_ffn_dense(b, x, L, ACT_GELU_TANH);
    }
    build_output(b, x);
    op_softcap(b, "result_softcap", b->g->logits, b->g->logits, c->logit_softcap);
}

// ---------------------------------------------------------------------------------------
// synth: recurrentgemma-2b's 26 layers at 1536 wide by default

// clang-format off
static const int64_t GRIFFIN_SYNTH[P_COUNT] = {
    [P_EMBD] = 1536, [P_LAYER] = 26, [P_VOCAB] = 256000, [P_CTX] = 8192, [P_FF] = 4608,
    [P_HEAD] = 6, [P_HEAD_KV] = 1, [P_HEAD_DIM] = AUTO, [P_TIED] = 1, [P_WINDOW] = 2048,
    [P_D_INNER] = AUTO, [P_D_CONV] = 4, [P_ATTN_EVERY] = 3, [P_ATTN_OFFSET] = 2,
    [P_SOFTCAP] = 30,
};
// clang-format on

// The lru width defaults to n_embd.
static void griffin_synth_resolve(int64_t* v) {
    if (v[P_D_INNER] == AUTO) v[P_D_INNER] = v[P_EMBD];
}

// bf16 rounding (nearest even), as the embedding scale is stored.
static double round_bf16(double x) {
    int ex;
    double m = frexp(x, &ex);
    return ldexp(nearbyint(ldexp(m, 8)), ex - 8);
}

static void griffin_synth_keys(struct GgufWriter* w, const char* a, const int64_t* v) {
    int64_t hd = v[P_HEAD_DIM];
    key_set_u32(w, a, "feed_forward_length", (uint32_t)v[P_FF]);
    key_set_u32(w, a, "attention.head_count", (uint32_t)v[P_HEAD]);
    family_kv_pattern(w, a, v);
    key_set_u32(w, a, "attention.key_length", (uint32_t)hd);
    key_set_u32(w, a, "attention.value_length", (uint32_t)hd);
    key_set_u32(w, a, "attention.sliding_window", (uint32_t)v[P_WINDOW]);
    key_set_f32(w, a, "attention.layer_norm_rms_epsilon", 1e-6f);
    key_set_f32(w, a, "rope.freq_base", 10000.0f);
    // partial rotary factor 0.5, rounded down to an even count
    key_set_u32(w, a, "rope.dimension_count", (uint32_t)(hd / 2 & ~(int64_t)1));
    key_set_u32(w, a, "ssm.conv_kernel", (uint32_t)v[P_D_CONV]);
    key_set_u32(w, a, "ssm.inner_size", (uint32_t)v[P_D_INNER]);
    key_set_f32(w, a, "final_logit_softcapping", (float)v[P_SOFTCAP]);
    key_set_f32(w, a, "embedding_scale", (float)round_bf16(sqrt((double)v[P_EMBD])));
}

static int griffin_synth_check(const int64_t* v, char* msg, size_t cap) {
    if (v[P_HEAD_DIM] < 4)
        return snprintf(msg, cap, "--head-dim must be at least 4 (RoPE on half of it)");
    if (v[P_D_INNER] % v[P_HEAD])
        return snprintf(msg, cap,
                        "--d-inner (the lru width) must be a multiple of --n-head (the gate "
                        "blocks)");
    if (v[P_WINDOW] < 1) return snprintf(msg, cap, "--window must be at least 1");
    return 0;
}

// ---------------------------------------------------------------------------------------
// the registry row(s) (shared/families/list.h names them)

const struct Family recurrentgemma_family = {
    .arch = ARCH_RECURRENTGEMMA,
    .name = "recurrentgemma",
    .label = "rgemma",
    .load_config = griffin_config,
    .tensors = GRIFFIN_TENSORS,
    .build = griffin_build,
    .synth_params = PB_COMMON | PB(P_FF) | ATTN | PB(P_WINDOW) | PB(P_D_INNER) | PB(P_D_CONV) |
                    PATTERN | PB(P_SOFTCAP),
    .synth_defaults = GRIFFIN_SYNTH,
    .synth_resolve = griffin_synth_resolve,
    .synth_check = griffin_synth_check,
    .synth_keys = griffin_synth_keys,
};
