// llama.c: Llama (and Mistral, stored as llama; ARCHITECTURES.md §3) in llama.cpp's GGUF
// layout: its keys, its tensor table, its graph (llama_build) and what synth writes for it.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "families.h"

// ---------------------------------------------------------------------------------------
// config

static int llama_config(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = 0;
    if (c->n_head <= 0 || c->n_head_kv <= 0 || c->n_head % c->n_head_kv != 0 || c->head_dim <= 0)
        return err_set(e, ERR_FORMAT,
                       "model: bad head counts (n_head %d, n_head_kv %d, head_dim %d)", c->n_head,
                       c->n_head_kv, c->head_dim);
    c->rope_type = ROPE_NORM;
    if ((rc = key_int(g, "rope.dimension_count", 0, c->head_dim, 2, c->head_dim, &c->n_rot, e)))
        return rc;
    if (c->n_rot % 2) return err_set(e, ERR_FORMAT, "model: rope.dimension_count must be even");
    if ((rc = key_float(g, "rope.freq_base", 10000.0, &c->rope_freq_base, e))) return rc;
    double factor = 0;
    const struct GgufKv* kv = arch_find_key(g, "rope.scaling.type");
    if (kv) {
        if (kv->val.type != GGUF_TYPE_STRING)
            return err_set(e, ERR_TYPE, "model: rope.scaling.type must be a string");
        struct GgufStr st = kv->val.str;
        if ((rc = key_float(g, "rope.scaling.factor", 0, &factor, e))) return rc;
        if (strcmp(st.s, "linear") == 0 && factor > 0) {
            c->rope_freq_scale = 1.0 / factor;
        } else if (strcmp(st.s, "none") != 0 && !(strcmp(st.s, "linear") == 0 && factor == 0)) {
            return err_set(e, ERR_UNSUPPORTED, "model: rope scaling '%.32s' is not supported yet",
                           st.s);
        }
    } else {
        if ((rc = key_float(g, "rope.scale_linear", 1.0, &factor, e))) return rc;
        if (factor <= 0) return err_set(e, ERR_FORMAT, "model: rope.scale_linear must be > 0");
        c->rope_freq_scale = 1.0 / factor;
    }
    if ((rc = key_int(g, "attention.sliding_window", 0, 0, 0, INT32_MAX, &c->sliding_window, e)))
        return rc;
    c->attn_scale = 1.0 / sqrt((double)c->head_dim);
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    for (int l = 0; l < c->n_layer; l++) {
        c->layer_kind[l] = LAYER_ATTN;
        c->ffn_kind[l] = FFN_DENSE;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// tensors, in file order

// clang-format off
static const struct TensorRow LLAMA_TENSORS[] = {
    {WT(token_embd), "token_embd.weight", {DIM_EMBD, DIM_VOCAB}, REQUIRED, INIT_NORMAL, 0},
    {WT(rope_freqs), "rope_freqs.weight", {DIM_ROT_HALF}, OPTIONAL, INIT_ONE, 0},
    {LW(attn_norm), "blk.%d.attn_norm.weight", {DIM_EMBD}, REQUIRED, INIT_ONE, 0},
    {LW(attn_q), "blk.%d.attn_q.weight", {DIM_EMBD, DIM_Q}, REQUIRED, INIT_NORMAL, 0},
    {LW(attn_k), "blk.%d.attn_k.weight", {DIM_EMBD, DIM_KV}, REQUIRED, INIT_NORMAL, 0},
    {LW(attn_v), "blk.%d.attn_v.weight", {DIM_EMBD, DIM_KV}, REQUIRED, INIT_NORMAL, 0},
    {LW(attn_output), "blk.%d.attn_output.weight", {DIM_Q, DIM_EMBD}, REQUIRED, INIT_NORMAL, 0},
    {LW(attn_q_b), "blk.%d.attn_q.bias", {DIM_Q}, OPTIONAL, INIT_ZERO, 0},
    {LW(attn_k_b), "blk.%d.attn_k.bias", {DIM_KV}, OPTIONAL, INIT_ZERO, 0},
    {LW(attn_v_b), "blk.%d.attn_v.bias", {DIM_KV}, OPTIONAL, INIT_ZERO, 0},
    {LW(attn_output_b), "blk.%d.attn_output.bias", {DIM_EMBD}, OPTIONAL, INIT_ZERO, 0},
    {LW(ffn_norm), "blk.%d.ffn_norm.weight", {DIM_EMBD}, REQUIRED, INIT_ONE, 0},
    {LW(ffn_gate), "blk.%d.ffn_gate.weight", {DIM_EMBD, DIM_FF}, REQUIRED, INIT_NORMAL, 0},
    {LW(ffn_up), "blk.%d.ffn_up.weight", {DIM_EMBD, DIM_FF}, REQUIRED, INIT_NORMAL, 0},
    {LW(ffn_down), "blk.%d.ffn_down.weight", {DIM_FF, DIM_EMBD}, REQUIRED, INIT_NORMAL, 0},
    {LW(ffn_gate_b), "blk.%d.ffn_gate.bias", {DIM_FF}, OPTIONAL, INIT_ZERO, 0},
    {LW(ffn_up_b), "blk.%d.ffn_up.bias", {DIM_FF}, OPTIONAL, INIT_ZERO, 0},
    {LW(ffn_down_b), "blk.%d.ffn_down.bias", {DIM_EMBD}, OPTIONAL, INIT_ZERO, 0},
    {WT(output_norm), "output_norm.weight", {DIM_EMBD}, REQUIRED, INIT_ONE, 0},
    {WT(output), "output.weight", {DIM_EMBD, DIM_VOCAB}, OPTIONAL_UNTIED, INIT_NORMAL, 0},
    TENSORS_END,
};
// clang-format on

// ---------------------------------------------------------------------------------------
// graph (ARCHITECTURES.md §3)

static void llama_build(struct Builder* b) {
    const struct Config* c = &b->m->config;
    int n_q = c->n_head * c->head_dim, n_kv = c->n_head_kv * c->head_dim;
    int x = build_buf(b, "x", c->n_embd), xb = build_buf(b, "xb", c->n_embd);
    int q = build_buf(b, "q", n_q), k = build_buf(b, "k", n_kv), v = build_buf(b, "v", n_kv);
    int att = build_buf(b, "att_out", n_q);
    b->layer = -1;
    op_embed(b, x, b->m->w.token_embd); // x = E[t], no scaling
    for (int l = 0; l < c->n_layer; l++) {
        const struct LayerWeights* L = &b->m->w.layers[l];
        b->layer = l;
        op_rmsnorm(b, "attn_norm", xb, x, L->attn_norm, c->norm_eps);
        op_matmul(b, "Qcur", q, xb, L->attn_q, L->attn_q_b);
        op_matmul(b, "Kcur", k, xb, L->attn_k, L->attn_k_b);
        op_matmul(b, "Vcur", v, xb, L->attn_v, L->attn_v_b);
        op_rope(b, "Qcur_rope", q, c->n_head);
        op_rope(b, "Kcur_rope", k, c->n_head_kv);
        op_attn(b, att, q, k, v, c->n_head_kv, c->sliding_window);
        op_matmul(b, "attn_out", xb, att, L->attn_output, L->attn_output_b);
        op_add(b, "ffn_inp", x, x, xb);
        build_ffn_dense(b, x, L, ACT_SILU);
    }
    build_output(b, x);
}

// ---------------------------------------------------------------------------------------
// synth: TinyLlama-1.1B by default

// clang-format off
static const int64_t LLAMA_SYNTH[P_COUNT] = {
    [P_EMBD] = 2048, [P_LAYER] = 22, [P_VOCAB] = 32000, [P_CTX] = 2048, [P_FF] = 5632,
    [P_HEAD] = 32, [P_HEAD_KV] = 4, [P_HEAD_DIM] = AUTO,
};
// clang-format on

static void llama_synth_keys(struct GgufWriter* w, const char* a, const int64_t* v) {
    int64_t D = v[P_EMBD], H = v[P_HEAD], hd = v[P_HEAD_DIM];
    key_set_u32(w, a, "feed_forward_length", (uint32_t)v[P_FF]);
    key_set_u32(w, a, "attention.head_count", (uint32_t)H);
    key_set_u32(w, a, "attention.head_count_kv", (uint32_t)v[P_HEAD_KV]);
    if (hd * H != D) {
        key_set_u32(w, a, "attention.key_length", (uint32_t)hd);
        key_set_u32(w, a, "attention.value_length", (uint32_t)hd);
    }
    key_set_u32(w, a, "rope.dimension_count", (uint32_t)hd);
    key_set_f32(w, a, "attention.layer_norm_rms_epsilon", 1e-5f);
    if (v[P_WINDOW]) key_set_u32(w, a, "attention.sliding_window", (uint32_t)v[P_WINDOW]);
}

static int llama_synth_check(const int64_t* v, char* msg, size_t cap) {
    if (v[P_HEAD_DIM] % 2)
        return snprintf(msg, cap, "--head-dim must be even (RoPE rotates pairs)");
    return 0;
}

// ---------------------------------------------------------------------------------------
// the registry row(s) (shared/families/list.h names them)

const struct Family llama_family = {
    .arch = ARCH_LLAMA,
    .name = "llama",
    .label = "llama",
    .load_config = llama_config,
    .tensors = LLAMA_TENSORS,
    .build = llama_build,
    .synth_params = PB_COMMON | PB(P_FF) | ATTN | PB(P_WINDOW),
    .synth_defaults = LLAMA_SYNTH,
    .synth_check = llama_synth_check,
    .synth_keys = llama_synth_keys,
};
