// graph.c: one build_<arch>() per architecture, each a straight-line transcription of the
// model's forward pass (ARCHITECTURES.md) into ops. The op helpers below only append.
#include "graph.h"

#include <stdlib.h>
#include <string.h>

static const char* const OP_NAMES[OP_COUNT] = {
    [OP_EMBED] = "embed", [OP_RMSNORM] = "rmsnorm", [OP_MATMUL] = "matmul", [OP_ROPE] = "rope",
    [OP_ATTN] = "attn",   [OP_ADD] = "add",         [OP_GLU] = "glu",
    // ---- rwkv7
    [OP_LAYERNORM] = "layernorm", [OP_TOKEN_SHIFT] = "token_shift", [OP_LERP] = "lerp",
    [OP_UNARY] = "unary",         [OP_MUL] = "mul",                 [OP_RWKV7_KK] = "rwkv7_kk",
    [OP_RWKV7_KA] = "rwkv7_ka",   [OP_WKV7] = "wkv7",
    [OP_RWKV7_BONUS] = "rwkv7_bonus",
};
_Static_assert(sizeof(OP_NAMES) / sizeof(OP_NAMES[0]) == OP_COUNT, "OP_NAMES size");

const char* op_kind_name(enum OpKind k) { return (unsigned)k < OP_COUNT ? OP_NAMES[k] : "?"; }

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
    for (int i = 0; i < OP_MAX_IN; i++) op->in[i] = -1;
    for (int i = 0; i < OP_MAX_W; i++) op->w[i] = -1;
    return op;
}

static int W(const struct Builder* b, const struct GgufTensor* t) { return model_tensor_id(b->m, t); }

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
    op->p.rope.freq_factors = W(b, b->m->w.rope_freqs);
}

static void op_attn(struct Builder* b, int out, int q, int k, int v, int n_head_kv, int window) {
    const struct Config* c = &b->m->config;
    int slot = state(b, STATE_KV, n_head_kv * c->head_dim, 0);
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

// Final norm and classifier.
static void build_output(struct Builder* b, int x) {
    const struct Config* c = &b->m->config;
    b->layer = -1;
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
    op_embed(b, x, b->m->w.token_embd);  // x = E[t], no scaling
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
    for (int i = 0; i < n_in; i++) op->in[i] = in[i];
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
        // ln0 belongs to block 0 (and must run on every row, which layer -1 ops need not).
        if (l == 0)
            op_layernorm(b, "inp_norm", x, x, b->m->w.token_embd_norm,
                         b->m->w.token_embd_norm_b, 1, c->norm_eps);
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
        int vv = l == 0 ? v_first : v;  // layer 0's v is v_first
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
        build_lora(b, "g_lora", "g_lora_sigmoid", "g", g, g_lora, xg, L->time_mix_g1,
                   UNARY_SIGMOID, L->time_mix_g2, NULL);
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
    op_layernorm(b, "result_norm", xb, x, b->m->w.output_norm, b->m->w.output_norm_b, 1,
                 c->norm_eps);
    op_matmul(b, "result_output", b->g->logits, xb, b->m->w.output, NULL);
}

// ---------------------------------------------------------------------------------------

typedef void (*BuildFn)(struct Builder* b);
static const BuildFn BUILDERS[ARCH_COUNT] = {
    [ARCH_LLAMA] = build_llama,
    [ARCH_RWKV7] = build_rwkv7,
};
_Static_assert(sizeof(BUILDERS) / sizeof(BUILDERS[0]) == ARCH_COUNT, "BUILDERS size");

int graph_build(struct Graph* g, const struct Model* m, struct Err* e) {
    memset(g, 0, sizeof(*g));
    g->logits = -1;
    g->tokens_buf = -1;
    struct Builder b = {.g = g, .m = m, .layer = -1, .e = e};
    if (!BUILDERS[m->config.arch]) {
        b.rc = err_set(e, ERR_UNSUPPORTED, "graph: no graph for architecture '%s' yet",
                       arch_name(m->config.arch));
    } else {
        BUILDERS[m->config.arch](&b);
    }
    if (b.rc) graph_free(g);
    return b.rc;
}

void graph_free(struct Graph* g) {
    if (!g) return;
    free(g->ops);
    free(g->states);
    memset(g, 0, sizeof(*g));
}
