// rwkv7.c: RWKV-7 "Goose" (ARCHITECTURES.md §4) in llama.cpp's GGUF layout: its keys, its
// tensor table, its graph (rwkv7_build) and what synth writes for it.
#include <stdio.h>

#include "families.h"

// ---------------------------------------------------------------------------------------
// config

static int rwkv7_config(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = 0;
    if ((rc = key_int(g, "wkv.head_size", 1, 0, 1, 1 << 16, &c->rwkv_head_size, e))) return rc;
    if ((rc = key_int(g, "attention.decay_lora_rank", 1, 0, 1, 1 << 16, &c->rwkv_lora_decay, e)))
        return rc;
    if ((rc = key_int(g, "attention.iclr_lora_rank", 1, 0, 1, 1 << 16, &c->rwkv_lora_iclr, e)))
        return rc;
    if ((rc = key_int(g, "attention.value_residual_mix_lora_rank", 1, 0, 1, 1 << 16,
                      &c->rwkv_lora_value, e)))
        return rc;
    if ((rc = key_int(g, "attention.gate_lora_rank", 1, 0, 1, 1 << 16, &c->rwkv_lora_gate, e)))
        return rc;
    if (c->n_embd % c->rwkv_head_size != 0)
        return err_set(e, ERR_FORMAT,
                       "model: embedding_length %d is not a multiple of wkv.head_size %d",
                       c->n_embd, c->rwkv_head_size);
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    c->head_dim = c->rwkv_head_size;
    c->n_head = c->n_embd / c->rwkv_head_size;
    c->n_head_kv = c->n_head;
    c->rope_type = ROPE_NONE;
    for (int l = 0; l < c->n_layer; l++) {
        c->layer_kind[l] = LAYER_RWKV7;
        c->ffn_kind[l] = FFN_DENSE;
        c->layer_n_head_kv[l] = c->n_head;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// tensors, in file order: attn_norm(_b) is ln1, attn_norm_2(_b) ln2; the LoRAs stay F32
// (llama.cpp's quantizer leaves them); v0/v1/v2 are unused (and optional) on layer 0

#define E DIM_EMBD
// clang-format off
static const struct TensorRow RWKV7_TENSORS[] = {
    {WT(token_embd), "token_embd.weight", {E, DIM_VOCAB}, REQUIRED, INIT_NORMAL, 0},
    {WT(token_embd_norm), "token_embd_norm.weight", {E}, REQUIRED, INIT_ONE, 0},
    {WT(token_embd_norm_b), "token_embd_norm.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(attn_norm), "blk.%d.attn_norm.weight", {E}, REQUIRED, INIT_ONE, 0},
    {LW(attn_norm_b), "blk.%d.attn_norm.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(attn_norm_2), "blk.%d.attn_norm_2.weight", {E}, REQUIRED, INIT_ONE, 0},
    {LW(attn_norm_2_b), "blk.%d.attn_norm_2.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(time_mix_w0), "blk.%d.time_mix_w0.weight", {E}, REQUIRED, INIT_DECAY_RAMP, 0},
    {LW(time_mix_w1), "blk.%d.time_mix_w1.weight", {E, DIM_LORA_DECAY},
     REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_w2), "blk.%d.time_mix_w2.weight", {DIM_LORA_DECAY, E},
     REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_a0), "blk.%d.time_mix_a0.weight", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(time_mix_a1), "blk.%d.time_mix_a1.weight", {E, DIM_LORA_ICLR},
     REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_a2), "blk.%d.time_mix_a2.weight", {DIM_LORA_ICLR, E},
     REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_v0), "blk.%d.time_mix_v0.weight", {E}, REQUIRED_AFTER_L0, INIT_ONE, 0},
    {LW(time_mix_v1), "blk.%d.time_mix_v1.weight", {E, DIM_LORA_VALUE},
     REQUIRED_AFTER_L0, INIT_NORMAL_F32, 0},
    {LW(time_mix_v2), "blk.%d.time_mix_v2.weight", {DIM_LORA_VALUE, E},
     REQUIRED_AFTER_L0, INIT_NORMAL_F32, 0},
    {LW(time_mix_g1), "blk.%d.time_mix_g1.weight", {E, DIM_LORA_GATE},
     REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_g2), "blk.%d.time_mix_g2.weight", {DIM_LORA_GATE, E},
     REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_lerp_fused), "blk.%d.time_mix_lerp_fused.weight", {E, DIM_ONE, DIM_ONE, DIM_SIX},
     REQUIRED, INIT_UNIFORM01, 0},
    {LW(time_mix_k_k), "blk.%d.time_mix_k_k.weight", {E}, REQUIRED, INIT_K_K, 0},
    {LW(time_mix_k_a), "blk.%d.time_mix_k_a.weight", {E}, REQUIRED, INIT_ONE, 0},
    {LW(time_mix_r_k), "blk.%d.time_mix_r_k.weight", {E}, REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_key), "blk.%d.time_mix_key.weight", {E, E}, REQUIRED, INIT_NORMAL, 0},
    {LW(time_mix_value), "blk.%d.time_mix_value.weight", {E, E}, REQUIRED, INIT_NORMAL, 0},
    {LW(time_mix_receptance), "blk.%d.time_mix_receptance.weight", {E, E},
     REQUIRED, INIT_NORMAL, 0},
    {LW(time_mix_output), "blk.%d.time_mix_output.weight", {E, E}, REQUIRED, INIT_NORMAL, 0},
    {LW(time_mix_ln), "blk.%d.time_mix_ln.weight", {E}, REQUIRED, INIT_ONE, 0},
    {LW(time_mix_ln_b), "blk.%d.time_mix_ln.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(channel_mix_lerp_k), "blk.%d.channel_mix_lerp_k.weight", {E}, REQUIRED, INIT_UNIFORM01, 0},
    {LW(channel_mix_key), "blk.%d.channel_mix_key.weight", {E, DIM_FF}, REQUIRED, INIT_NORMAL, 0},
    {LW(channel_mix_value), "blk.%d.channel_mix_value.weight", {DIM_FF, E},
     REQUIRED, INIT_NORMAL, 0},
    {WT(output_norm), "output_norm.weight", {E}, REQUIRED, INIT_ONE, 0},
    {WT(output_norm_b), "output_norm.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {WT(output), "output.weight", {E, DIM_VOCAB}, OPTIONAL_UNTIED, INIT_NORMAL, 0},
    TENSORS_END,
};
// clang-format on
#undef E

// ---------------------------------------------------------------------------------------
// graph (ARCHITECTURES.md §4)

static void op_layernorm(struct Builder* b, const char* name, int out, int x,
                         const struct GgufTensor* w, const struct GgufTensor* bias, int n_group,
                         double eps) {
    struct Op* op = build_emit(b, OP_LAYERNORM, name, out);
    if (!op) return;
    op->in[0] = x;
    op->w[0] = build_tensor(b, w);
    op->w[1] = build_tensor(b, bias);
    op->p.layernorm.eps = eps;
    op->p.layernorm.n_group = n_group;
}

static void op_token_shift(struct Builder* b, const char* name, int out, int x, int width) {
    int slot = build_state(b, STATE_SHIFT, width, 0);
    struct Op* op = build_emit(b, OP_TOKEN_SHIFT, name, out);
    if (!op) return;
    op->in[0] = x;
    op->state = slot;
}

// out = x + (prev - x) * mix: mix is slice `slice` of tensor mix, or buffer mix_buf.
static void op_lerp(struct Builder* b, const char* name, int out, int x, int prev,
                    const struct GgufTensor* mix, int slice, int mix_buf) {
    struct Op* op = build_emit(b, OP_LERP, name, out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = prev;
    op->in[2] = mix ? -1 : mix_buf;
    op->w[0] = build_tensor(b, mix);
    op->p.lerp.slice = slice;
}

static void op_mul(struct Builder* b, const char* name, int out, int x, int y) {
    struct Op* op = build_emit(b, OP_MUL, name, out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = y;
}

// An RWKV-7 op over heads: inputs in order, one weight.
static struct Op* op_rwkv7(struct Builder* b, enum OpKind kind, const char* name, int out,
                           const int* in, int n_in, const struct GgufTensor* w) {
    const struct Config* c = &b->m->config;
    struct Op* op = build_emit(b, kind, name, out);
    if (!op) return NULL;
    for (int i = 0; i < n_in; i++)
        op->in[i] = in[i];
    op->w[0] = build_tensor(b, w);
    op->p.rwkv7.n_head = c->n_head;
    op->p.rwkv7.head_size = c->rwkv_head_size;
    return op;
}

// LoRA y = bias + M2 f(M1 x) with the inner activation f (UNARY_COUNT: none).
static void build_lora(struct Builder* b, const char* name, const char* name_f,
                       const char* name_out, int out, int hidden, int x,
                       const struct GgufTensor* m1, enum Unary f, const struct GgufTensor* m2,
                       const struct GgufTensor* bias) {
    op_matmul(b, name, hidden, x, m1, NULL);
    if (f != UNARY_COUNT) op_unary(b, name_f, hidden, hidden, f);
    op_matmul(b, name_out, out, hidden, m2, bias);
}

static void rwkv7_build(struct Builder* b) {
    const struct Config* c = &b->m->config;
    int C = c->n_embd;
    int x = build_buf(b, "x", C), xb = build_buf(b, "xb", C), prev = build_buf(b, "x_prev", C);
    int xr = build_buf(b, "xr", C), xw = build_buf(b, "xw", C), xk = build_buf(b, "xk", C);
    int xv = build_buf(b, "xv", C), xa = build_buf(b, "xa", C), xg = build_buf(b, "xg", C);
    int r = build_buf(b, "r", C), k = build_buf(b, "k", C), v = build_buf(b, "v", C),
        v_first = build_buf(b, "v_first", C);
    int w = build_buf(b, "w", C), a = build_buf(b, "a", C), v_mix = build_buf(b, "v_mix", C),
        g = build_buf(b, "g", C);
    int kk = build_buf(b, "kk", C), y = build_buf(b, "wkv", C), hb = build_buf(b, "hb", c->n_ff);
    int w_lora = build_buf(b, "w_lora", c->rwkv_lora_decay),
        a_lora = build_buf(b, "a_lora", c->rwkv_lora_iclr);
    int v_lora = build_buf(b, "v_lora", c->rwkv_lora_value),
        g_lora = build_buf(b, "g_lora", c->rwkv_lora_gate);
    // GroupNorm eps = head_size * 1e-5 (64e-5 for every released RWKV-7), §4.5
    double gn_eps = c->rwkv_head_size * 1e-5;
    b->layer = -1;
    op_embed(b, x, b->m->w.token_embd);
    for (int l = 0; l < c->n_layer; l++) {
        const struct LayerWeights* L = &b->m->w.layers[l];
        b->layer = l;
        // ln0 belongs to block 0 (HF's Rwkv7Block 0 holds pre_norm)
        if (l == 0)
            op_layernorm(b, "inp_norm", x, x, b->m->w.token_embd_norm, b->m->w.token_embd_norm_b, 1,
                         c->norm_eps);
        // ---- time mixing
        op_layernorm(b, "attn_norm", xb, x, L->attn_norm, L->attn_norm_b, 1, c->norm_eps);
        op_token_shift(b, "att_shift", prev, xb, C);
        const struct GgufTensor* mix = L->time_mix_lerp_fused;
        op_lerp(b, "xr", xr, xb, prev, mix, 0, -1);
        op_lerp(b, "xw", xw, xb, prev, mix, 1, -1);
        op_lerp(b, "xk", xk, xb, prev, mix, 2, -1);
        op_lerp(b, "xv", xv, xb, prev, mix, 3, -1);
        op_lerp(b, "xa", xa, xb, prev, mix, 4, -1);
        op_lerp(b, "xg", xg, xb, prev, mix, 5, -1);
        op_matmul(b, "r", r, xr, L->time_mix_receptance, NULL);
        build_lora(b, "w_lora", "w_lora_tanh", "w_lora_out", w, w_lora, xw, L->time_mix_w1,
                   UNARY_TANH, L->time_mix_w2, L->time_mix_w0);
        op_unary(b, "w", w, w, UNARY_RWKV7_DECAY);
        op_matmul(b, "k_raw", k, xk, L->time_mix_key, NULL);
        int vv = l == 0 ? v_first : v; // layer 0's v is v_first
        op_matmul(b, "v_raw", vv, xv, L->time_mix_value, NULL);
        if (l > 0) {
            build_lora(b, "v_lora", NULL, "v_lora_out", v_mix, v_lora, xv, L->time_mix_v1,
                       UNARY_COUNT, L->time_mix_v2, L->time_mix_v0);
            op_unary(b, "v_mix", v_mix, v_mix, UNARY_SIGMOID);
            op_lerp(b, "v", v, v, v_first, NULL, 0, v_mix);
        }
        build_lora(b, "a_lora", NULL, "a_lora_out", a, a_lora, xa, L->time_mix_a1, UNARY_COUNT,
                   L->time_mix_a2, L->time_mix_a0);
        op_unary(b, "a", a, a, UNARY_SIGMOID);
        build_lora(b, "g_lora", "g_lora_sigmoid", "g", g, g_lora, xg, L->time_mix_g1, UNARY_SIGMOID,
                   L->time_mix_g2, NULL);
        op_rwkv7(b, OP_RWKV7_KK, "kk", kk, (const int[]){k}, 1, L->time_mix_k_k);
        op_rwkv7(b, OP_RWKV7_KA, "k", k, (const int[]){k, a}, 2, L->time_mix_k_a);
        int slot = build_state(b, STATE_WKV, c->n_head * c->rwkv_head_size * c->rwkv_head_size, 0);
        struct Op* op = op_rwkv7(b, OP_WKV7, "wkv7", y, (const int[]){r, w, k, vv, kk, a}, 6, NULL);
        if (op) op->state = slot;
        op_layernorm(b, "ln_x", y, y, L->time_mix_ln, L->time_mix_ln_b, c->n_head, gn_eps);
        op_rwkv7(b, OP_RWKV7_BONUS, "bonus", y, (const int[]){y, r, k, vv}, 4, L->time_mix_r_k);
        op_mul(b, "gated", y, y, g);
        op_matmul(b, "attn_out", xb, y, L->time_mix_output, NULL);
        op_add(b, "ffn_inp", x, x, xb);
        // ---- channel mixing
        op_layernorm(b, "ffn_norm", xb, x, L->attn_norm_2, L->attn_norm_2_b, 1, c->norm_eps);
        op_token_shift(b, "ffn_shift", prev, xb, C);
        op_lerp(b, "ffn_xk", xk, xb, prev, L->channel_mix_lerp_k, 0, -1);
        op_matmul(b, "ffn_key", hb, xk, L->channel_mix_key, NULL);
        op_unary(b, "ffn_sqrelu", hb, hb, UNARY_SQRELU);
        op_matmul(b, "ffn_out", xb, hb, L->channel_mix_value, NULL);
        op_add(b, "l_out", x, x, xb);
    }
    b->layer = -1;
    b->g->logits = build_buf(b, "logits", c->n_vocab);
    b->g->first_tail_op = b->g->n_ops; // the final norm and classifier
    op_layernorm(b, "result_norm", xb, x, b->m->w.output_norm, b->m->w.output_norm_b, 1,
                 c->norm_eps);
    op_matmul(b, "result_output", b->g->logits, xb, b->m->w.output, NULL);
}

// ---------------------------------------------------------------------------------------
// synth: RWKV-7 World 1.5B by default

// clang-format off
static const int64_t RWKV7_SYNTH[P_COUNT] = {
    [P_EMBD] = 2048, [P_LAYER] = 24, [P_VOCAB] = 65536, [P_CTX] = 1 << 20, [P_FF] = AUTO,
    [P_HEAD_DIM] = 64, [P_LORA_DECAY] = 96, [P_LORA_ICLR] = 96, [P_LORA_VALUE] = 64,
    [P_LORA_GATE] = 256,
};
// clang-format on

static void rwkv7_synth_keys(struct GgufWriter* w, const char* a, const int64_t* v) {
    key_set_f32(w, a, "attention.layer_norm_epsilon", 1e-5f);
    key_set_u32(w, a, "wkv.head_size", (uint32_t)v[P_HEAD_DIM]);
    key_set_u32(w, a, "attention.decay_lora_rank", (uint32_t)v[P_LORA_DECAY]);
    key_set_u32(w, a, "attention.iclr_lora_rank", (uint32_t)v[P_LORA_ICLR]);
    key_set_u32(w, a, "attention.value_residual_mix_lora_rank", (uint32_t)v[P_LORA_VALUE]);
    key_set_u32(w, a, "attention.gate_lora_rank", (uint32_t)v[P_LORA_GATE]);
    key_set_u32(w, a, "feed_forward_length", (uint32_t)v[P_FF]);
    key_set_u32(w, a, "attention.head_count", 0);
}

static int rwkv7_synth_check(const int64_t* v, char* msg, size_t cap) {
    if (v[P_EMBD] % v[P_HEAD_DIM] != 0)
        return snprintf(msg, cap, "--n-embd must be a multiple of --head-dim (the WKV head size)");
    return 0;
}

// ---------------------------------------------------------------------------------------
// the registry row(s) (shared/families/list.h names them)

const struct Family rwkv7_family = {
    .arch = ARCH_RWKV7,
    .name = "rwkv7",
    .label = "rwkv7",
    .load_config = rwkv7_config,
    .tensors = RWKV7_TENSORS,
    .build = rwkv7_build,
    .synth_params = PB_COMMON | PB(P_FF) | PB(P_HEAD_DIM) | PB(P_LORA_DECAY) | PB(P_LORA_ICLR) |
                    PB(P_LORA_VALUE) | PB(P_LORA_GATE),
    .synth_defaults = RWKV7_SYNTH,
    .synth_check = rwkv7_synth_check,
    .synth_keys = rwkv7_synth_keys,
};
