// graph.c: one build_<arch>() per architecture, each a straight-line transcription of the
// model's forward pass (ARCHITECTURES.md) into ops. The op helpers below only append.
#include "graph.h"

#include <stdlib.h>
#include <string.h>

// One row per op: its name and how it reads each weight slot (graph.h). The table is
// declared without a size so that a missing row is a compile error below, not a NULL name.
const struct OpInfo OP_INFO[] = {
    [OP_EMBED] = {"embed", {WROLE_MATRIX}, false},
    [OP_RMSNORM] = {"rmsnorm", {WROLE_WHOLE, WROLE_WHOLE}, false},
    [OP_MATMUL] = {"matmul", {WROLE_MATRIX, WROLE_WHOLE}, false},
    [OP_ROPE] = {"rope", {WROLE_WHOLE}, false},
    [OP_ATTN] = {"attn", {WROLE_NONE}, true},
    [OP_ADD] = {"add", {WROLE_NONE}, false},
    [OP_GLU] = {"glu", {WROLE_NONE}, false},
    // ---- rwkv7
    [OP_LAYERNORM] = {"layernorm", {WROLE_WHOLE, WROLE_WHOLE}, false},
    [OP_TOKEN_SHIFT] = {"token_shift", {WROLE_NONE}, true},
    [OP_LERP] = {"lerp", {WROLE_WHOLE}, false},
    [OP_UNARY] = {"unary", {WROLE_NONE}, false},
    [OP_MUL] = {"mul", {WROLE_NONE}, false},
    [OP_RWKV7_KK] = {"rwkv7_kk", {WROLE_WHOLE}, false},
    [OP_RWKV7_KA] = {"rwkv7_ka", {WROLE_WHOLE}, false},
    [OP_WKV7] = {"wkv7", {WROLE_NONE}, true},
    [OP_RWKV7_BONUS] = {"rwkv7_bonus", {WROLE_WHOLE}, false},
    // ---- mamba
    [OP_SLICE] = {"slice", {WROLE_NONE}, false},
    [OP_SSM_CONV] = {"ssm_conv", {WROLE_WHOLE, WROLE_WHOLE}, true},
    [OP_SSM_SCAN] = {"ssm_scan", {WROLE_WHOLE, WROLE_WHOLE, WROLE_WHOLE}, true},
    [OP_SSM_SCAN2] = {"ssm_scan2", {WROLE_WHOLE, WROLE_WHOLE, WROLE_WHOLE}, true},
    [OP_RMSNORM_GROUP] = {"rmsnorm_group", {WROLE_WHOLE}, false},
    [OP_MOE] = {"moe", {WROLE_MATRIX, WROLE_MATRIX, WROLE_MATRIX, WROLE_MATRIX}, false},
    // ---- griffin
    [OP_SCALE] = {"scale", {WROLE_NONE}, false},
    [OP_MATMUL_BLOCKDIAG] = {"matmul_blockdiag", {WROLE_MATRIX, WROLE_WHOLE}, false},
    [OP_RG_LRU] = {"rg_lru", {WROLE_WHOLE}, true},
    [OP_SOFTCAP] = {"softcap", {WROLE_NONE}, false},
    // ---- zamba2
    [OP_CONCAT] = {"concat", {WROLE_NONE}, false},
};
_Static_assert(sizeof(OP_INFO) / sizeof(OP_INFO[0]) == OP_COUNT, "OP_INFO: one row per OpKind");

const char* op_kind_name(enum OpKind k) {
    return (unsigned)k < OP_COUNT && OP_INFO[k].name ? OP_INFO[k].name : "?";
}

// ---------------------------------------------------------------------------------------
// builder helpers: each appends one op; a failed allocation is remembered in b->rc

struct Builder {
    struct Graph* g;
    const struct Model* m;
    int layer;
    int rc;
    struct Err* e;
};

static struct Op* emit(struct Builder* b, enum OpKind kind, const char* name, int out) {
    struct Graph* g = b->g;
    if (b->rc) return NULL;
    if (g->n_ops == g->cap_ops) {
        int cap = g->cap_ops ? g->cap_ops * 2 : 64;
        struct Op* ops = realloc(g->ops, (size_t)cap * sizeof(*ops));
        if (!ops) {
            b->rc = err_set(b->e, ERR_NOMEM, "graph: out of memory");
            return NULL;
        }
        g->ops = ops;
        g->cap_ops = cap;
    }
    struct Op* op = &g->ops[g->n_ops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->name = name;
    op->layer = b->layer;
    op->out = out;
    op->state = -1;
    for (int i = 0; i < OP_MAX_IN; i++)
        op->in[i] = -1;
    for (int i = 0; i < OP_MAX_W; i++)
        op->w[i] = -1;
    return op;
}

static int W(const struct Builder* b, const struct GgufTensor* t) {
    return model_tensor_id(b->m, t);
}

static int buf(struct Builder* b, const char* name, int width) {
    struct Graph* g = b->g;
    for (int i = 0; i < g->n_bufs; i++)
        if (strcmp(g->bufs[i].name, name) == 0) {
            if (g->bufs[i].width < width) g->bufs[i].width = width;
            return i;
        }
    if (g->n_bufs == (int)(sizeof(g->bufs) / sizeof(g->bufs[0]))) {
        if (!b->rc) b->rc = err_set(b->e, ERR_NOMEM, "graph: too many buffers");
        return 0;
    }
    g->bufs[g->n_bufs] = (struct Buf){name, width};
    return g->n_bufs++;
}

static int state(struct Builder* b, enum StateKind kind, int width, int window) {
    struct Graph* g = b->g;
    if (b->rc) return -1;
    if (g->n_states == g->cap_states) {
        int cap = g->cap_states ? g->cap_states * 2 : 16;
        struct StateDesc* s = realloc(g->states, (size_t)cap * sizeof(*s));
        if (!s) {
            b->rc = err_set(b->e, ERR_NOMEM, "graph: out of memory");
            return -1;
        }
        g->states = s;
        g->cap_states = cap;
    }
    g->states[g->n_states] = (struct StateDesc){kind, b->layer, width, window};
    return g->n_states++;
}

static void op_embed(struct Builder* b, int out, const struct GgufTensor* table) {
    struct Op* op = emit(b, OP_EMBED, "inp_embd", out);
    if (op) op->w[0] = W(b, table);
}

static void op_rmsnorm(struct Builder* b, const char* name, int out, int x,
                       const struct GgufTensor* w, double eps) {
    struct Op* op = emit(b, OP_RMSNORM, name, out);
    if (!op) return;
    op->in[0] = x;
    op->w[0] = W(b, w);
    op->p.norm.eps = eps;
    op->p.norm.w_offset = b->m->config.norm_w_offset;
}

static void op_matmul(struct Builder* b, const char* name, int out, int x,
                      const struct GgufTensor* w, const struct GgufTensor* bias) {
    struct Op* op = emit(b, OP_MATMUL, name, out);
    if (!op) return;
    op->in[0] = x;
    op->w[0] = W(b, w);
    op->w[1] = W(b, bias);
}

static void op_rope(struct Builder* b, const char* name, int x, int n_head) {
    const struct Config* c = &b->m->config;
    struct Op* op = emit(b, OP_ROPE, name, x);
    if (!op) return;
    op->in[0] = x;
    op->p.rope.type = c->rope_type;
    op->p.rope.n_head = n_head;
    op->p.rope.head_dim = c->head_dim;
    op->p.rope.n_rot = c->n_rot;
    op->p.rope.freq_base = c->rope_freq_base;
    op->p.rope.freq_scale = c->rope_freq_scale;
    op->w[0] = W(b, b->m->w.rope_freqs); // per-pair frequency factors, or -1
}

static void op_attn(struct Builder* b, int out, int q, int k, int v, int n_head_kv, int window) {
    const struct Config* c = &b->m->config;
    // A window needs only its last W keys: the engines may keep them in a ring.
    int slot = state(b, STATE_KV, n_head_kv * c->head_dim, window);
    struct Op* op = emit(b, OP_ATTN, "kqv_out", out);
    if (!op) return;
    op->in[0] = q;
    op->in[1] = k;
    op->in[2] = v;
    op->state = slot;
    op->p.attn.n_head = c->n_head;
    op->p.attn.n_head_kv = n_head_kv;
    op->p.attn.head_dim = c->head_dim;
    op->p.attn.window = window;
    op->p.attn.scale = c->attn_scale;
}

static void op_add(struct Builder* b, const char* name, int out, int x, int y) {
    struct Op* op = emit(b, OP_ADD, name, out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = y;
}

static void op_glu(struct Builder* b, const char* name, int out, int gate, int up, enum Act act) {
    struct Op* op = emit(b, OP_GLU, name, out);
    if (!op) return;
    op->in[0] = gate;
    op->in[1] = up;
    op->p.glu.act = act;
}

// ---------------------------------------------------------------------------------------
// shared sub-builders

// Gated MLP: x = x + down(act(gate(u)) * up(u)), u = norm(x).
static void build_ffn_dense(struct Builder* b, int x, const struct LayerWeights* L, enum Act act) {
    const struct Config* c = &b->m->config;
    int xb = buf(b, "xb", c->n_embd), hb = buf(b, "hb", c->n_ff), hb2 = buf(b, "hb2", c->n_ff);
    op_rmsnorm(b, "ffn_norm", xb, x, L->ffn_norm, c->norm_eps);
    op_matmul(b, "ffn_gate", hb, xb, L->ffn_gate, L->ffn_gate_b);
    op_matmul(b, "ffn_up", hb2, xb, L->ffn_up, L->ffn_up_b);
    op_glu(b, "ffn_glu", hb, hb, hb2, act);
    op_matmul(b, "ffn_out", xb, hb, L->ffn_down, L->ffn_down_b);
    op_add(b, "l_out", x, x, xb);
}

// Final norm and classifier: the graph's tail (first_tail_op).
static void build_output(struct Builder* b, int x) {
    const struct Config* c = &b->m->config;
    b->layer = -1;
    b->g->first_tail_op = b->g->n_ops;
    int xb = buf(b, "xb", c->n_embd);
    b->g->logits = buf(b, "logits", c->n_vocab);
    op_rmsnorm(b, "result_norm", xb, x, b->m->w.output_norm, c->norm_eps);
    op_matmul(b, "result_output", b->g->logits, xb, b->m->w.output, NULL);
}

// ---------------------------------------------------------------------------------------
// llama / mistral (ARCHITECTURES.md §3)

static void build_llama(struct Builder* b) {
    const struct Config* c = &b->m->config;
    int n_q = c->n_head * c->head_dim, n_kv = c->n_head_kv * c->head_dim;
    int x = buf(b, "x", c->n_embd), xb = buf(b, "xb", c->n_embd);
    int q = buf(b, "q", n_q), k = buf(b, "k", n_kv), v = buf(b, "v", n_kv);
    int att = buf(b, "att_out", n_q);
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
// ---- rwkv7 (ARCHITECTURES.md §4)

static void op_layernorm(struct Builder* b, const char* name, int out, int x,
                         const struct GgufTensor* w, const struct GgufTensor* bias, int n_group,
                         double eps) {
    struct Op* op = emit(b, OP_LAYERNORM, name, out);
    if (!op) return;
    op->in[0] = x;
    op->w[0] = W(b, w);
    op->w[1] = W(b, bias);
    op->p.layernorm.eps = eps;
    op->p.layernorm.n_group = n_group;
}

static void op_token_shift(struct Builder* b, const char* name, int out, int x, int width) {
    int slot = state(b, STATE_SHIFT, width, 0);
    struct Op* op = emit(b, OP_TOKEN_SHIFT, name, out);
    if (!op) return;
    op->in[0] = x;
    op->state = slot;
}

// out = x + (prev - x) * mix: mix is slice `slice` of tensor mix, or buffer mix_buf.
static void op_lerp(struct Builder* b, const char* name, int out, int x, int prev,
                    const struct GgufTensor* mix, int slice, int mix_buf) {
    struct Op* op = emit(b, OP_LERP, name, out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = prev;
    op->in[2] = mix ? -1 : mix_buf;
    op->w[0] = W(b, mix);
    op->p.lerp.slice = slice;
}

static void op_unary(struct Builder* b, const char* name, int out, int x, enum Unary fn) {
    struct Op* op = emit(b, OP_UNARY, name, out);
    if (!op) return;
    op->in[0] = x;
    op->p.unary.fn = fn;
}

static void op_mul(struct Builder* b, const char* name, int out, int x, int y) {
    struct Op* op = emit(b, OP_MUL, name, out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = y;
}

// An RWKV-7 op over heads: inputs in order, one weight.
static struct Op* op_rwkv7(struct Builder* b, enum OpKind kind, const char* name, int out,
                           const int* in, int n_in, const struct GgufTensor* w) {
    const struct Config* c = &b->m->config;
    struct Op* op = emit(b, kind, name, out);
    if (!op) return NULL;
    for (int i = 0; i < n_in; i++)
        op->in[i] = in[i];
    op->w[0] = W(b, w);
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

static void build_rwkv7(struct Builder* b) {
    const struct Config* c = &b->m->config;
    int C = c->n_embd;
    int x = buf(b, "x", C), xb = buf(b, "xb", C), prev = buf(b, "x_prev", C);
    int xr = buf(b, "xr", C), xw = buf(b, "xw", C), xk = buf(b, "xk", C);
    int xv = buf(b, "xv", C), xa = buf(b, "xa", C), xg = buf(b, "xg", C);
    int r = buf(b, "r", C), k = buf(b, "k", C), v = buf(b, "v", C), v_first = buf(b, "v_first", C);
    int w = buf(b, "w", C), a = buf(b, "a", C), v_mix = buf(b, "v_mix", C), g = buf(b, "g", C);
    int kk = buf(b, "kk", C), y = buf(b, "wkv", C), hb = buf(b, "hb", c->n_ff);
    int w_lora = buf(b, "w_lora", c->rwkv_lora_decay), a_lora = buf(b, "a_lora", c->rwkv_lora_iclr);
    int v_lora = buf(b, "v_lora", c->rwkv_lora_value), g_lora = buf(b, "g_lora", c->rwkv_lora_gate);
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
        int slot = state(b, STATE_WKV, c->n_head * c->rwkv_head_size * c->rwkv_head_size, 0);
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
    b->g->logits = buf(b, "logits", c->n_vocab);
    b->g->first_tail_op = b->g->n_ops; // the final norm and classifier
    op_layernorm(b, "result_norm", xb, x, b->m->w.output_norm, b->m->w.output_norm_b, 1,
                 c->norm_eps);
    op_matmul(b, "result_output", b->g->logits, xb, b->m->w.output, NULL);
}

// ---- mamba: Mamba-1, Mamba-2, Jamba (ARCHITECTURES.md §5, §7.4)

static void op_slice(struct Builder* b, const char* name, int out, int x, int offset) {
    struct Op* op = emit(b, OP_SLICE, name, out);
    if (!op) return;
    op->in[0] = x;
    op->p.slice.offset = offset;
}

static struct Op* op_ssm_conv(struct Builder* b, int out, int x, const struct LayerWeights* L,
                              int channels) {
    int d_conv = b->m->config.ssm_d_conv;
    int slot = state(b, STATE_CONV, (d_conv - 1) * channels, 0);
    struct Op* op = emit(b, OP_SSM_CONV, "ssm_conv", out);
    if (!op) return NULL;
    op->in[0] = x;
    op->w[0] = W(b, L->ssm_conv1d);
    op->w[1] = W(b, L->ssm_conv1d_b);
    op->state = slot;
    op->p.ssm.d_conv = d_conv;
    return op;
}

// Mamba-1 (mamba2 = 0: n_head = d_inner channels of head_dim 1, A per channel and state) or
// Mamba-2 (A, D, dt per head) scan; B/C per group of channels (n_group contiguous groups:
// Mamba-2's groups, Zamba v1's heads; 1 for plain Mamba-1).
static void op_ssm_scan(struct Builder* b, int mamba2, int n_group, int out, int x, int dt, int B,
                        int C, const struct LayerWeights* L) {
    const struct Config* c = &b->m->config;
    int n_head = mamba2 ? c->ssm_dt_rank : c->ssm_d_inner;
    int head_dim = mamba2 ? c->ssm_d_inner / c->ssm_dt_rank : 1;
    int slot = state(b, STATE_SSM, n_head * head_dim * c->ssm_d_state, 0);
    struct Op* op = emit(b, mamba2 ? OP_SSM_SCAN2 : OP_SSM_SCAN, "ssm_scan", out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = dt;
    op->in[2] = B;
    op->in[3] = C;
    op->w[0] = W(b, L->ssm_a ? L->ssm_a : L->ssm_a_log);
    op->w[1] = W(b, L->ssm_d);
    op->w[2] = W(b, L->ssm_dt_b);
    op->state = slot;
    op->p.ssm.n_head = n_head;
    op->p.ssm.head_dim = head_dim;
    op->p.ssm.n_group = n_group;
    op->p.ssm.d_state = c->ssm_d_state;
    op->p.ssm.a_log = !L->ssm_a;
}

static void op_rmsnorm_group(struct Builder* b, const char* name, int out, int x,
                             const struct GgufTensor* w, int n_group, double eps) {
    struct Op* op = emit(b, OP_RMSNORM_GROUP, name, out);
    if (!op) return;
    op->in[0] = x;
    op->w[0] = W(b, w);
    op->p.gnorm.n_group = n_group;
    op->p.gnorm.eps = eps;
}

static void op_moe(struct Builder* b, int out, int u, const struct LayerWeights* L) {
    const struct Config* c = &b->m->config;
    struct Op* op = emit(b, OP_MOE, "ffn_moe_out", out);
    if (!op) return;
    op->in[0] = u;
    op->w[0] = W(b, L->ffn_gate_inp);
    op->w[1] = W(b, L->ffn_gate_exps);
    op->w[2] = W(b, L->ffn_up_exps);
    op->w[3] = W(b, L->ffn_down_exps);
    op->p.moe.n_expert = c->n_expert;
    op->p.moe.n_expert_used = c->n_expert_used;
    op->p.moe.n_ff = (int)L->ffn_gate_exps->ne[1];
}

// Mamba-1 mixer (§5.5): out = W_out( scan(silu(conv(x)), dt, B, C) * silu(z) ), [x, z] = W_in u.
// Jamba's dt/B/C RMSNorms are applied when the layer has them. n_head > 1: Zamba v1's
// multi-head Mamba-1 (§7.8), whose ssm_x yields [dt_r; B; C] of every head, each n_head wide.
static void build_mamba1_mixer(struct Builder* b, int out, int u, const struct LayerWeights* L,
                               int n_head) {
    const struct Config* c = &b->m->config;
    int di = c->ssm_d_inner, ds = c->ssm_d_state * n_head, dr = c->ssm_dt_rank * n_head;
    int xz = buf(b, "ssm_xz", 2 * di), sx = buf(b, "ssm_x", di), sz = buf(b, "ssm_z", di);
    int xc = buf(b, "ssm_xc", di), dbc = buf(b, "ssm_dbc", dr + 2 * ds);
    int dtr = buf(b, "ssm_dtr", dr), sB = buf(b, "ssm_B", ds), sC = buf(b, "ssm_C", ds);
    int dt = buf(b, "ssm_dt", di), y = buf(b, "ssm_y", di);
    op_matmul(b, "ssm_in", xz, u, L->ssm_in, NULL);
    op_slice(b, "ssm_in_x", sx, xz, 0);
    op_slice(b, "ssm_in_z", sz, xz, di);
    op_ssm_conv(b, xc, sx, L, di);
    op_matmul(b, "ssm_x", dbc, xc, L->ssm_x, NULL);
    op_slice(b, "ssm_dt_r", dtr, dbc, 0);
    op_slice(b, "ssm_B", sB, dbc, dr);
    op_slice(b, "ssm_C", sC, dbc, dr + ds);
    if (L->ssm_dt_norm) {
        op_rmsnorm(b, "ssm_dt_norm", dtr, dtr, L->ssm_dt_norm, c->norm_eps);
        op_rmsnorm(b, "ssm_b_norm", sB, sB, L->ssm_b_norm, c->norm_eps);
        op_rmsnorm(b, "ssm_c_norm", sC, sC, L->ssm_c_norm, c->norm_eps);
    }
    op_matmul(b, "ssm_dt", dt, dtr, L->ssm_dt, NULL); // its bias is added in the scan
    op_ssm_scan(b, 0, n_head, y, xc, dt, sB, sC, L);
    op_glu(b, "ssm_gate", y, sz, y, ACT_SILU);
    op_matmul(b, "ssm_out", out, y, L->ssm_out, NULL);
}

// Mamba-2 mixer (§7.4): [z, xBC, dt] = W_in u; xBC = silu(conv(xBC)); [x, B, C] = xBC;
// out = W_out GroupRMSNorm(scan2(x, dt, B, C) * silu(z)).
static void build_mamba2_mixer(struct Builder* b, int out, int u, const struct LayerWeights* L) {
    const struct Config* c = &b->m->config;
    int di = c->ssm_d_inner, nh = c->ssm_dt_rank, gn = c->ssm_n_group * c->ssm_d_state;
    int conv_dim = di + 2 * gn;
    int zxbcdt = buf(b, "ssm_zxbcdt", di + conv_dim + nh), sz = buf(b, "ssm_z", di);
    int xbc = buf(b, "ssm_xbc", conv_dim), dtr = buf(b, "ssm_dtr", nh);
    int xbcc = buf(b, "ssm_xbc_conv", conv_dim), sx = buf(b, "ssm_x", di);
    int sB = buf(b, "ssm_B", gn), sC = buf(b, "ssm_C", gn), y = buf(b, "ssm_y", di);
    op_matmul(b, "ssm_in", zxbcdt, u, L->ssm_in, NULL);
    op_slice(b, "ssm_in_z", sz, zxbcdt, 0);
    op_slice(b, "ssm_in_xbc", xbc, zxbcdt, di);
    op_slice(b, "ssm_in_dt", dtr, zxbcdt, di + conv_dim);
    op_ssm_conv(b, xbcc, xbc, L, conv_dim);
    op_slice(b, "ssm_x", sx, xbcc, 0);
    op_slice(b, "ssm_B", sB, xbcc, di);
    op_slice(b, "ssm_C", sC, xbcc, di + gn);
    op_ssm_scan(b, 1, c->ssm_n_group, y, sx, dtr, sB, sC, L);
    op_glu(b, "ssm_gate", y, sz, y, ACT_SILU);
    op_rmsnorm_group(b, "ssm_norm", y, y, L->ssm_norm, c->ssm_n_group,
                     c->ssm_gnorm_eps > 0 ? c->ssm_gnorm_eps : c->norm_eps);
    op_matmul(b, "ssm_out", out, y, L->ssm_out, NULL);
}

// Mamba-1 / Mamba-2 models: x = x + mixer(norm(x)) per layer, no FFN.
static void build_mamba_family(struct Builder* b, int mamba2) {
    const struct Config* c = &b->m->config;
    int x = buf(b, "x", c->n_embd), xb = buf(b, "xb", c->n_embd), xb2 = buf(b, "xb2", c->n_embd);
    b->layer = -1;
    op_embed(b, x, b->m->w.token_embd);
    for (int l = 0; l < c->n_layer; l++) {
        const struct LayerWeights* L = &b->m->w.layers[l];
        b->layer = l;
        op_rmsnorm(b, "attn_norm", xb, x, L->attn_norm, c->norm_eps);
        if (mamba2)
            build_mamba2_mixer(b, xb2, xb, L);
        else
            build_mamba1_mixer(b, xb2, xb, L, 1);
        op_add(b, "l_out", x, x, xb2);
    }
    build_output(b, x);
}

static void build_mamba(struct Builder* b) {
    build_mamba_family(b, 0);
}
static void build_mamba2(struct Builder* b) {
    build_mamba_family(b, 1);
}

// Jamba (§5.4): attention (no RoPE) or Mamba-1 mixer, then a dense MLP or MoE.
static void build_jamba(struct Builder* b) {
    const struct Config* c = &b->m->config;
    int n_q = c->n_head * c->head_dim, n_kv = c->n_head_kv * c->head_dim;
    int x = buf(b, "x", c->n_embd), xb = buf(b, "xb", c->n_embd), xb2 = buf(b, "xb2", c->n_embd);
    int q = buf(b, "q", n_q), k = buf(b, "k", n_kv), v = buf(b, "v", n_kv);
    int att = buf(b, "att_out", n_q);
    b->layer = -1;
    op_embed(b, x, b->m->w.token_embd);
    for (int l = 0; l < c->n_layer; l++) {
        const struct LayerWeights* L = &b->m->w.layers[l];
        b->layer = l;
        op_rmsnorm(b, "attn_norm", xb, x, L->attn_norm, c->norm_eps);
        if (c->layer_kind[l] == LAYER_ATTN) {
            op_matmul(b, "Qcur", q, xb, L->attn_q, NULL);
            op_matmul(b, "Kcur", k, xb, L->attn_k, NULL);
            op_matmul(b, "Vcur", v, xb, L->attn_v, NULL);
            op_attn(b, att, q, k, v, c->layer_n_head_kv[l], 0); // no RoPE
            op_matmul(b, "attn_out", xb2, att, L->attn_output, NULL);
        } else {
            build_mamba1_mixer(b, xb2, xb, L, 1);
        }
        op_add(b, "ffn_inp", x, x, xb2);
        if (c->ffn_kind[l] == FFN_MOE) {
            op_rmsnorm(b, "ffn_norm", xb, x, L->ffn_norm, c->norm_eps);
            op_moe(b, xb2, xb, L);
            op_add(b, "l_out", x, x, xb2);
        } else {
            build_ffn_dense(b, x, L, ACT_SILU);
        }
    }
    build_output(b, x);
}

// ---------------------------------------------------------------------------------------
// ---- griffin: RecurrentGemma (ARCHITECTURES.md §6)

static void op_scale(struct Builder* b, const char* name, int out, int x, double s) {
    struct Op* op = emit(b, OP_SCALE, name, out);
    if (!op) return;
    op->in[0] = x;
    op->p.scale.s = s;
}

static void op_matmul_blockdiag(struct Builder* b, const char* name, int out, int x,
                                const struct GgufTensor* w, const struct GgufTensor* bias,
                                int n_block) {
    struct Op* op = emit(b, OP_MATMUL_BLOCKDIAG, name, out);
    if (!op) return;
    op->in[0] = x;
    op->w[0] = W(b, w);
    op->w[1] = W(b, bias);
    op->p.blockdiag.n_block = n_block;
}

static void op_rg_lru(struct Builder* b, int out, int x, int gate_x, int gate_a,
                      const struct LayerWeights* L) {
    int slot = state(b, STATE_RG_LRU, b->m->config.ssm_d_inner, 0);
    struct Op* op = emit(b, OP_RG_LRU, "rg_lru", out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = gate_x;
    op->in[2] = gate_a;
    op->w[0] = W(b, L->rg_param);
    op->state = slot;
}

static void op_softcap(struct Builder* b, const char* name, int out, int x, double cap) {
    struct Op* op = emit(b, OP_SOFTCAP, name, out);
    if (!op) return;
    op->in[0] = x;
    op->p.softcap.cap = cap;
}

// Griffin's recurrent block (§6.5), HF RecurrentGemmaRecurrentBlock:
// out = W_out( RG-LRU(conv(W_x u)) * gelu_tanh(W_y u) ).
static void build_rglru_block(struct Builder* b, int out, int u, const struct LayerWeights* L) {
    const struct Config* c = &b->m->config;
    int lru = c->ssm_d_inner;
    int y = buf(b, "rg_y", lru), xr = buf(b, "rg_x", lru), xc = buf(b, "rg_xc", lru);
    int gx = buf(b, "rg_gate_x", lru), ga = buf(b, "rg_gate_a", lru), h = buf(b, "rg_h", lru);
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
static void build_recurrentgemma(struct Builder* b) {
    const struct Config* c = &b->m->config;
    int n_q = c->n_head * c->head_dim, n_kv = c->n_head_kv * c->head_dim;
    int x = buf(b, "x", c->n_embd), xb = buf(b, "xb", c->n_embd), xb2 = buf(b, "xb2", c->n_embd);
    b->layer = -1;
    op_embed(b, x, b->m->w.token_embd);
    op_scale(b, "inp_scaled", x, x, c->embd_scale);
    for (int l = 0; l < c->n_layer; l++) {
        const struct LayerWeights* L = &b->m->w.layers[l];
        b->layer = l;
        op_rmsnorm(b, "attn_norm", xb, x, L->attn_norm, c->norm_eps);
        if (c->layer_kind[l] == LAYER_ATTN) {
            // MQA with RoPE on the first n_rot dims of each head, over the last W positions.
            int q = buf(b, "q", n_q), k = buf(b, "k", n_kv), v = buf(b, "v", n_kv);
            int att = buf(b, "att_out", n_q), n_head_kv = c->layer_n_head_kv[l];
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

// ---- zamba2 (ARCHITECTURES.md §7)

static void op_concat(struct Builder* b, const char* name, int out, int x, int y) {
    struct Op* op = emit(b, OP_CONCAT, name, out);
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
    int xe = buf(b, "x_emb", 2 * D), xb = buf(b, "xb", D);
    int q = buf(b, "q", n_q), k = buf(b, "k", n_kv), v = buf(b, "v", n_kv);
    int att = buf(b, "att_out", n_q);
    int hb = buf(b, "hb", F), hb2 = buf(b, "hb2", F);
    int lora = buf(b, "lora", c->adapter_rank > 0 ? c->adapter_rank : 1);
    int tmp = buf(b, "lora_out", n_q > 2 * F ? n_q : 2 * F);
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
        int gu = buf(b, "ffn_gate_up", 2 * F);
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
static void build_zamba2(struct Builder* b) {
    const struct Config* c = &b->m->config;
    int D = c->n_embd;
    int x = buf(b, "x", D), xb = buf(b, "xb", D), xb2 = buf(b, "xb2", D);
    int emb = buf(b, "inp_embd", D);
    b->layer = -1;
    // e is kept for every hybrid layer; x = e is a second lookup (no copy op needed)
    op_embed(b, emb, b->m->w.token_embd);
    struct Op* op = emit(b, OP_EMBED, "inp_x", x);
    if (op) op->w[0] = W(b, b->m->w.token_embd);
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
            build_mamba1_mixer(b, xb2, xb, L, c->ssm_n_group);
        else
            build_mamba2_mixer(b, xb2, xb, L);
        op_add(b, "l_out", x, x, xb2);
    }
    build_output(b, x);
}

// ---------------------------------------------------------------------------------------

typedef void (*BuildFn)(struct Builder* b);
static const BuildFn BUILDERS[ARCH_COUNT] = {
    [ARCH_LLAMA] = build_llama,
    [ARCH_RWKV7] = build_rwkv7,
    [ARCH_JAMBA] = build_jamba,
    [ARCH_MAMBA] = build_mamba,
    [ARCH_MAMBA2] = build_mamba2,
    // ---- griffin
    [ARCH_RECURRENTGEMMA] = build_recurrentgemma,
    // ---- zamba2
    [ARCH_ZAMBA2] = build_zamba2,
    [ARCH_ZAMBA] = build_zamba2,
};
_Static_assert(sizeof(BUILDERS) / sizeof(BUILDERS[0]) == ARCH_COUNT, "BUILDERS size");

int graph_build(struct Graph* g, const struct Model* m, struct Err* e) {
    memset(g, 0, sizeof(*g));
    g->logits = -1;
    g->first_tail_op = -1;
    struct Builder b = {.g = g, .m = m, .layer = -1, .e = e};
    if (!BUILDERS[m->config.arch]) {
        b.rc = err_set(e, ERR_UNSUPPORTED, "graph: no graph for architecture '%s' yet",
                       arch_name(m->config.arch));
    } else {
        BUILDERS[m->config.arch](&b);
    }
    if (!b.rc && (g->first_tail_op < 0 || g->first_tail_op > g->n_ops))
        g->first_tail_op = g->n_ops; // a builder that marks no tail runs every op on every row
    if (!b.rc) b.rc = graph_check(g, e);
    if (b.rc) graph_free(g);
    return b.rc;
}

int graph_check(const struct Graph* g, struct Err* e) {
    if (g->first_tail_op < 0 || g->first_tail_op > g->n_ops)
        return err_set(e, ERR_UNSUPPORTED, "graph: first_tail_op %d outside 0..%d",
                       g->first_tail_op, g->n_ops);
    for (int i = 0; i < g->n_ops; i++) {
        const struct Op* op = &g->ops[i];
        if ((unsigned)op->kind >= OP_COUNT || !OP_INFO[op->kind].name)
            return err_set(e, ERR_UNSUPPORTED, "graph: op %d has kind %d, which OP_INFO lacks", i,
                           (int)op->kind);
        const struct OpInfo* info = &OP_INFO[op->kind];
        for (int k = 0; k < OP_MAX_W; k++)
            if (op->w[k] >= 0 && info->w[k] == WROLE_NONE)
                return err_set(e, ERR_UNSUPPORTED,
                               "graph: op %d (%s '%s') has a weight in slot %d, which OP_INFO "
                               "gives no role",
                               i, info->name, op->name, k);
        if ((op->state >= 0) != info->stateful || op->state >= g->n_states)
            return err_set(e, ERR_UNSUPPORTED,
                           "graph: op %d (%s '%s') has state %d; OP_INFO says %s", i, info->name,
                           op->name, op->state, info->stateful ? "stateful" : "stateless");
        if (i >= g->first_tail_op && (op->kind == OP_EMBED || op->layer >= 0 || info->stateful))
            return err_set(e, ERR_UNSUPPORTED,
                           "graph: op %d (%s '%s') of layer %d lies in the tail, which runs on "
                           "the last row only",
                           i, info->name, op->name, op->layer);
    }
    return 0;
}

void graph_free(struct Graph* g) {
    if (!g) return;
    free(g->ops);
    free(g->states);
    memset(g, 0, sizeof(*g));
}
