// build.c: the graph builder's helpers (see build.h): op emitters and the sub-builders
// several families share. Each family's builder is in shared/families/<family>.c.
#include "build.h"

#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------------------
// the builder: each helper appends one op; a failed allocation is remembered in b->rc

struct Op* build_emit(struct Builder* b, enum OpKind kind, const char* name, int out) {
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

int build_tensor(const struct Builder* b, const struct GgufTensor* t) {
    return model_tensor_id(b->m, t);
}

int build_buf(struct Builder* b, const char* name, int width) {
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

int build_state(struct Builder* b, enum StateKind kind, int width, int window) {
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

void op_embed(struct Builder* b, int out, const struct GgufTensor* table) {
    struct Op* op = build_emit(b, OP_EMBED, "inp_embd", out);
    if (op) op->w[0] = build_tensor(b, table);
}

void op_rmsnorm(struct Builder* b, const char* name, int out, int x, const struct GgufTensor* w,
                double eps) {
    struct Op* op = build_emit(b, OP_RMSNORM, name, out);
    if (!op) return;
    op->in[0] = x;
    op->w[0] = build_tensor(b, w);
    op->p.norm.eps = eps;
    op->p.norm.w_offset = b->m->config.norm_w_offset;
}

void op_matmul(struct Builder* b, const char* name, int out, int x, const struct GgufTensor* w,
               const struct GgufTensor* bias) {
    struct Op* op = build_emit(b, OP_MATMUL, name, out);
    if (!op) return;
    op->in[0] = x;
    op->w[0] = build_tensor(b, w);
    op->w[1] = build_tensor(b, bias);
}

void op_rope(struct Builder* b, const char* name, int x, int n_head) {
    const struct Config* c = &b->m->config;
    struct Op* op = build_emit(b, OP_ROPE, name, x);
    if (!op) return;
    op->in[0] = x;
    op->p.rope.type = c->rope_type;
    op->p.rope.n_head = n_head;
    op->p.rope.head_dim = c->head_dim;
    op->p.rope.n_rot = c->n_rot;
    op->p.rope.freq_base = c->rope_freq_base;
    op->p.rope.freq_scale = c->rope_freq_scale;
    op->w[0] = build_tensor(b, b->m->w.rope_freqs); // per-pair frequency factors, or -1
}

void op_attn(struct Builder* b, int out, int q, int k, int v, int n_head_kv, int window) {
    const struct Config* c = &b->m->config;
    // A window needs only its last W keys: the engines may keep them in a ring.
    int slot = build_state(b, STATE_KV, n_head_kv * c->head_dim, window);
    struct Op* op = build_emit(b, OP_ATTN, "kqv_out", out);
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

void op_add(struct Builder* b, const char* name, int out, int x, int y) {
    struct Op* op = build_emit(b, OP_ADD, name, out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = y;
}

void op_glu(struct Builder* b, const char* name, int out, int gate, int up, enum Act act) {
    struct Op* op = build_emit(b, OP_GLU, name, out);
    if (!op) return;
    op->in[0] = gate;
    op->in[1] = up;
    op->p.glu.act = act;
}

// ---------------------------------------------------------------------------------------
// shared sub-builders

// Gated MLP: x = x + down(act(gate(u)) * up(u)), u = norm(x).
void build_ffn_dense(struct Builder* b, int x, const struct LayerWeights* L, enum Act act) {
    const struct Config* c = &b->m->config;
    int xb = build_buf(b, "xb", c->n_embd), hb = build_buf(b, "hb", c->n_ff),
        hb2 = build_buf(b, "hb2", c->n_ff);
    op_rmsnorm(b, "ffn_norm", xb, x, L->ffn_norm, c->norm_eps);
    op_matmul(b, "ffn_gate", hb, xb, L->ffn_gate, L->ffn_gate_b);
    op_matmul(b, "ffn_up", hb2, xb, L->ffn_up, L->ffn_up_b);
    op_glu(b, "ffn_glu", hb, hb, hb2, act);
    op_matmul(b, "ffn_out", xb, hb, L->ffn_down, L->ffn_down_b);
    op_add(b, "l_out", x, x, xb);
}

// Final norm and classifier: the graph's tail (first_tail_op).
void build_output(struct Builder* b, int x) {
    const struct Config* c = &b->m->config;
    b->layer = -1;
    b->g->first_tail_op = b->g->n_ops;
    int xb = build_buf(b, "xb", c->n_embd);
    b->g->logits = build_buf(b, "logits", c->n_vocab);
    op_rmsnorm(b, "result_norm", xb, x, b->m->w.output_norm, c->norm_eps);
    op_matmul(b, "result_output", b->g->logits, xb, b->m->w.output, NULL);
}

void op_unary(struct Builder* b, const char* name, int out, int x, enum Unary fn) {
    struct Op* op = build_emit(b, OP_UNARY, name, out);
    if (!op) return;
    op->in[0] = x;
    op->p.unary.fn = fn;
}

void op_slice(struct Builder* b, const char* name, int out, int x, int offset) {
    struct Op* op = build_emit(b, OP_SLICE, name, out);
    if (!op) return;
    op->in[0] = x;
    op->p.slice.offset = offset;
}

struct Op* op_ssm_conv(struct Builder* b, int out, int x, const struct LayerWeights* L,
                       int channels) {
    int d_conv = b->m->config.ssm_d_conv;
    int slot = build_state(b, STATE_CONV, (d_conv - 1) * channels, 0);
    struct Op* op = build_emit(b, OP_SSM_CONV, "ssm_conv", out);
    if (!op) return NULL;
    op->in[0] = x;
    op->w[0] = build_tensor(b, L->ssm_conv1d);
    op->w[1] = build_tensor(b, L->ssm_conv1d_b);
    op->state = slot;
    op->p.ssm.d_conv = d_conv;
    return op;
}
