// fuse.c: the fused one-row pass. A generated token is a chain of small dependent dispatches,
// and on a fast GPU each one costs a fixed few microseconds whatever it computes, so the pass
// that runs once per token merges ops the graph keeps apart (for dumps and for the FP64
// reference) into matvec.comp's fused epilogues:
//   q, k, v mat-vecs + rope of q and k + the KV-cache store     -> one MV_QKV dispatch
//   gate and up mat-vecs + the GLU                               -> one MV_GLU dispatch
//   a mat-vec + the residual add after it                        -> one MV_RES dispatch
// and the rmsnorm before the q/k/v or gate/up mat-vecs goes into them (MV_NORM).
// A pattern is fused only when the buffers it no longer writes (k, v, up, the projection
// before the add) are read by no later op. The plan is made once at gl_init; batches (the
// prompt), passes with a hook (dumps, mattn-diff) and opt.no_fuse run the graph's ops
// one by one. The packed q;k;v and gate;up weights serve the unfused kernels too (row base).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gl_kernels.h"
#include "gles_int.h"
#include "programs.h"

static int reads(const struct Op* op, int b) {
    for (int k = 0; k < OP_MAX_IN; k++)
        if (op->in[k] == b) return 1;
    return 0;
}

// Whether buffer b, as it is after op i, is read later: by an op before one that rewrites it,
// or (the logits) by the host.
static int read_later(const struct Graph* G, int b, int i) {
    for (int k = i + 1; k < G->n_ops; k++) {
        if (reads(&G->ops[k], b)) return 1;
        if (G->ops[k].out == b) return 0;
    }
    return b == G->logits;
}

// Mat-vecs ops[0..n) that one matvec.comp dispatch can run over a packed weight buffer: one
// input, no bias, one weight type and row length, each fitting matvec.comp, each tensor
// either not uploaded yet or already packed in this order (a block shared by several layers).
static int packable(const struct GlEngine* g, const int* ops, int n) {
    const struct Op* a = &g->g.ops[ops[0]];
    const struct GgufTensor* ta = &g->m->gguf.tensors[a->w[0]];
    for (int k = 0; k < n; k++) {
        const struct Op* op = &g->g.ops[ops[k]];
        if (op->kind != OP_MATMUL || op->in[0] != a->in[0] || op->w[1] >= 0 ||
            !gl_matvec_fits(g, op))
            return 0;
        const struct GgufTensor* t = &g->m->gguf.tensors[op->w[0]];
        if (t->type != ta->type || t->ne[0] != ta->ne[0]) return 0;
        for (int j = 0; j < k; j++)
            if (op->w[0] == g->g.ops[ops[j]].w[0]) return 0;
        const struct GlTensor* w = &g->wt[op->w[0]];
        const struct GlTensor* w0 = &g->wt[a->w[0]];
        if (k > 0 && (w->n_chunks || w0->n_chunks)) {
            const struct GlTensor* prev = &g->wt[g->g.ops[ops[k - 1]].w[0]];
            if (!w->n_chunks || !w0->n_chunks || w->bufs[0] != w0->bufs[0] ||
                w->row_base != prev->row_base + prev->rows)
                return 0;
        }
    }
    return gl_packed_bytes(g, ops, n) + 4 <= g->weight_chunk; // + 4: upload_tensor's padding
}

// The OP_RMSNORM at i - 1 when the mat-vecs i..last, which write out[], can compute it on the
// fly (MV_NORM): they read its output, nothing after them does, its weight is w (no 1 + w).
static int fusable_norm(const struct GlEngine* g, int i, int last, const int* out, int n_out) {
    const struct Graph* G = &g->g;
    if (i < 1) return -1;
    const struct Op* nm = &G->ops[i - 1];
    if (nm->kind != OP_RMSNORM || nm->out != G->ops[i].in[0] || nm->p.norm.w_offset != 0.0 ||
        nm->in[0] == nm->out || G->bufs[nm->in[0]].width != G->bufs[nm->out].width ||
        G->bufs[nm->in[0]].width % 4 || read_later(G, nm->out, last))
        return -1;
    for (int k = 0; k < n_out; k++)
        if (out[k] == nm->in[0]) return -1;
    return i - 1;
}

// q, k, v mat-vecs at i, i+1, i+2, their ropes (either order) and the attention over them.
static int plan_qkv(struct GlEngine* g, int i, struct Err* e) {
    const struct Graph* G = &g->g;
    if (i + 5 >= G->n_ops) return 0;
    const struct Op *q = &G->ops[i], *k = &G->ops[i + 1], *v = &G->ops[i + 2];
    const struct Op *r0 = &G->ops[i + 3], *r1 = &G->ops[i + 4], *at = &G->ops[i + 5];
    if (r0->kind != OP_ROPE || r1->kind != OP_ROPE || at->kind != OP_ATTN) return 0;
    const struct Op* rq = r0->out == q->out ? r0 : r1;
    const struct Op* rk = r0->out == q->out ? r1 : r0;
    int hd = at->p.attn.head_dim;
    if (rq->out != q->out || rq->in[0] != q->out || rk->out != k->out || rk->in[0] != k->out ||
        at->in[0] != q->out || at->in[1] != k->out || at->in[2] != v->out)
        return 0;
    if (q->out == k->out || q->out == v->out || k->out == v->out || q->out == q->in[0] ||
        k->out == q->in[0] || v->out == q->in[0])
        return 0;
    // one (cos, sin) table for both, rotating whole heads
    if (rq->p.rope.n_rot != rk->p.rope.n_rot || rq->p.rope.freq_base != rk->p.rope.freq_base ||
        rq->p.rope.freq_scale != rk->p.rope.freq_scale || rq->w[0] != rk->w[0] ||
        rq->p.rope.type != rk->p.rope.type)
        return 0;
    if (rq->p.rope.n_rot != hd || rq->p.rope.head_dim != hd || rk->p.rope.head_dim != hd ||
        hd % 2 || (rq->p.rope.type != ROPE_NORM && rq->p.rope.type != ROPE_NEOX))
        return 0;
    int kvw = g->g.states[at->state].width;
    if (G->bufs[q->out].width != at->p.attn.n_head * hd || G->bufs[k->out].width != kvw ||
        G->bufs[v->out].width != kvw)
        return 0;
    if (read_later(G, k->out, i + 5) || read_later(G, v->out, i + 5)) return 0;
    // MV_QKV stores k and v into the cache itself; only the split attention (attn_split.comp,
    // sized by attn_scratch before this plan) can then attend without storing them again.
    // attn.comp's path would store the stale k and v buffers over those rows.
    if (g->attn_split < 0) return 0;
    int ops[3] = {i, i + 1, i + 2};
    if (!packable(g, ops, 3)) return 0;
    int rc = gl_upload_packed(g, ops, 3, e);
    if (rc) return rc;
    int norm = fusable_norm(g, i, i + 2, (const int[]){q->out, k->out, v->out}, 3);
    int prog = gl_matvec_program(
        g, g->wt[q->w[0]].type, g->mv_teams, 2,
        norm >= 0 ? "#define MV_QKV 1\n#define MV_NORM 1\n" : "#define MV_QKV 1\n", e);
    if (prog < 0) return prog;
    g->fuse[i] =
        (struct GlFuse){FUSE_QKV, {(int)(rq - G->ops), (int)(rk - G->ops), i + 5, norm}, prog};
    if (norm >= 0) g->fuse[norm].kind = FUSE_SKIP;
    for (int k = 1; k <= 4; k++)
        g->fuse[i + k].kind = FUSE_SKIP;
    g->fuse[i + 5].kind = FUSE_ATTEND;
    return 1;
}

// gate and up mat-vecs at i, i+1 and the GLU over them at i+2.
static int plan_glu(struct GlEngine* g, int i, struct Err* e) {
    const struct Graph* G = &g->g;
    if (i + 2 >= G->n_ops) return 0;
    const struct Op *ga = &G->ops[i], *up = &G->ops[i + 1], *glu = &G->ops[i + 2];
    if (glu->kind != OP_GLU || glu->in[0] != ga->out || glu->in[1] != up->out ||
        ga->out == up->out || glu->out == ga->in[0] ||
        G->bufs[ga->out].width != G->bufs[up->out].width ||
        G->bufs[glu->out].width != G->bufs[ga->out].width || read_later(G, up->out, i + 2) ||
        (glu->out != ga->out && read_later(G, ga->out, i + 2)))
        return 0;
    int ops[2] = {i, i + 1};
    if (!packable(g, ops, 2)) return 0;
    int rc = gl_upload_packed(g, ops, 2, e);
    if (rc) return rc;
    int norm = fusable_norm(g, i, i + 1, (const int[]){glu->out}, 1);
    int prog = gl_matvec_program(
        g, g->wt[ga->w[0]].type, g->mv_teams, 2,
        norm >= 0 ? "#define MV_GLU 1\n#define MV_NORM 1\n" : "#define MV_GLU 1\n", e);
    if (prog < 0) return prog;
    g->fuse[i] = (struct GlFuse){FUSE_GLU, {i + 1, i + 2, -1, norm}, prog};
    if (norm >= 0) g->fuse[norm].kind = FUSE_SKIP;
    g->fuse[i + 1].kind = g->fuse[i + 2].kind = FUSE_SKIP;
    return 1;
}

// A mat-vec at i whose output only the residual add at i+1 reads.
static int plan_res(struct GlEngine* g, int i, struct Err* e) {
    const struct Graph* G = &g->g;
    if (i + 1 >= G->n_ops) return 0;
    const struct Op *mm = &G->ops[i], *add = &G->ops[i + 1];
    if (add->kind != OP_ADD || (add->in[0] == mm->out) == (add->in[1] == mm->out)) return 0;
    int res = add->in[0] == mm->out ? add->in[1] : add->in[0];
    if (add->out == mm->in[0] || res == mm->out || G->bufs[res].width != G->bufs[mm->out].width ||
        G->bufs[add->out].width != G->bufs[mm->out].width || !gl_matvec_fits(g, mm) ||
        (add->out != mm->out && read_later(G, mm->out, i + 1)))
        return 0;
    enum GgmlType t = g->m->gguf.tensors[mm->w[0]].type;
    int prog = gl_matvec_program(g, t, g->mv_teams, g->mv_nr, "#define MV_RES 1\n", e);
    if (prog < 0) return prog;
    g->fuse[i] = (struct GlFuse){FUSE_RES, {i + 1, -1, -1, -1}, prog};
    g->fuse[i + 1].kind = FUSE_SKIP;
    return 1;
}

int gl_fuse_plan(struct GlEngine* g, struct Err* e) {
    g->fuse_on = !g->opt.no_fuse;
    g->fuse = calloc((size_t)g->g.n_ops + 1, sizeof(*g->fuse));
    if (!g->fuse) return err_set(e, ERR_NOMEM, "gl_init: out of memory");
    for (int i = 0; i < g->g.n_ops; i++) {
        if (g->fuse[i].kind != FUSE_NONE || g->g.ops[i].kind != OP_MATMUL) continue;
        int rc = plan_qkv(g, i, e);
        if (!rc) rc = plan_glu(g, i, e);
        if (!rc) rc = plan_res(g, i, e);
        if (rc < 0) return rc;
    }
    return 0;
}

int gl_fuse_run(struct GlEngine* g, int i) {
    const struct GlFuse* f = &g->fuse[i];
    const struct Graph* G = &g->g;
    const struct Op* op = &G->ops[i];
    if (f->kind == FUSE_NONE || f->kind == FUSE_ATTEND) return 0;
    if (f->kind == FUSE_SKIP) return 1;
    const struct GlTensor* W = &g->wt[op->w[0]];
    // with the rmsnorm fused, the mat-vecs read its input and weight (binding 8)
    const struct Op* nm = f->op[3] >= 0 ? &G->ops[f->op[3]] : NULL;
    GLuint x = g->bufs[nm ? nm->in[0] : op->in[0]];
    GLuint nw = nm ? g->wt[nm->w[0]].bufs[0] : 0;
    double eps = nm ? nm->p.norm.eps : 0.0;
    switch (f->kind) {
    case FUSE_QKV: {
        const struct Op *rq = &G->ops[f->op[0]], *at = &G->ops[f->op[2]];
        const struct Op *k = &G->ops[i + 1], *v = &G->ops[i + 2];
        int pos = (int)g->n_past;
        k_matvec_qkv(g, f->prog, g->mv_teams, g->bufs[op->out], x, W, G->bufs[op->out].width,
                     G->bufs[k->out].width, G->bufs[v->out].width, at->p.attn.head_dim,
                     rq->p.rope.type == ROPE_NEOX, pos, gl_kv_row(g, at->state, pos),
                     G->states[at->state].width, g->state_k[at->state], g->state_v[at->state],
                     g->rope_tab[f->op[0]], nw, eps);
        break;
    }
    case FUSE_GLU: {
        const struct Op* glu = &G->ops[f->op[1]];
        k_matvec_glu(g, f->prog, g->mv_teams, g->bufs[glu->out], x, W, G->bufs[op->out].width,
                     (int)glu->p.glu.act, nw, eps);
        break;
    }
    case FUSE_RES: {
        const struct Op* add = &G->ops[f->op[0]];
        GLuint res = g->bufs[add->in[0] == op->out ? add->in[1] : add->in[0]];
        GLuint bias = op->w[1] >= 0 ? g->wt[op->w[1]].bufs[0] : 0;
        k_matvec_res(g, f->prog, g->mv_teams, g->mv_nr, g->bufs[add->out], x, W, bias, res);
        break;
    }
    case FUSE_NONE:
    case FUSE_SKIP:
    case FUSE_ATTEND: break;
    }
    return 1;
}

// ---------------------------------------------------------------------------------------
// the report (bench, info)

void gl_fuse_summary(const struct GlEngine* g, struct GlFuseSummary* s) {
    memset(s, 0, sizeof(*s));
    s->n_ops = g->g.n_ops;
    s->on = g->fuse_on;
    for (int i = 0; g->fuse && i < g->g.n_ops; i++) {
        enum GlFuseKind k = g->fuse[i].kind;
        s->fused += k != FUSE_NONE;
        s->qkv += k == FUSE_QKV;
        s->glu += k == FUSE_GLU;
        s->res += k == FUSE_RES;
    }
}

void gl_fuse_describe(const struct GlFuseSummary* s, char* buf, size_t cap) {
    const char* names[3] = {s->qkv ? "qkv+rope+kv" : NULL, s->glu ? "gate/up+glu" : NULL,
                            s->res ? "matvec+residual" : NULL};
    int n = snprintf(buf, cap, "%s%d of %d ops", s->on ? "" : "off (planned: ", s->fused, s->n_ops);
    const char* sep = " (";
    for (int k = 0; k < 3 && n >= 0 && (size_t)n < cap; k++)
        if (names[k]) {
            n += snprintf(buf + n, cap - (size_t)n, "%s%s", sep, names[k]);
            sep = ", ";
        }
    if (n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "%s%s", strcmp(sep, ", ") ? "" : ")", s->on ? "" : ")");
}
