// forward.c: the reference engine's interpreter of the shared graph (see ref.h). One
// switch over op kinds, no default, so -Wswitch flags an op this engine lacks.
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels.h"
#include "ref.h"

// ---------------------------------------------------------------------------------------
// a tiny thread pool for matmul rows: the caller thread takes part, workers sleep between jobs

struct MatmulJob {
    double* out;
    const double* x;
    const void* w;
    enum GgmlType type;
    const double* b;
    int n_in, n_out;
};

struct RefPool {
    int n_threads;
    pthread_t* threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    int64_t generation;
    int pending;
    int quit;
    struct MatmulJob job;
};

static void job_slice(const struct MatmulJob* j, int part, int n_parts) {
    int o0 = (int)((int64_t)j->n_out * part / n_parts);
    int o1 = (int)((int64_t)j->n_out * (part + 1) / n_parts);
    matmul_rows(j->out, j->x, j->w, j->type, j->b, j->n_in, o0, o1);
}

struct Worker {
    struct RefPool* pool;
    int index;
};

static void* worker_main(void* arg) {
    struct Worker* wk = arg;
    struct RefPool* p = wk->pool;
    int index = wk->index;
    free(wk);
    int64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->start, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        struct MatmulJob job = p->job;
        pthread_mutex_unlock(&p->mu);
        job_slice(&job, index, p->n_threads);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pool_free(struct RefPool* p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        if (p->threads[i]) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

static struct RefPool* pool_new(int n_threads) {
    struct RefPool* p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->n_threads = n_threads;
    p->threads = calloc((size_t)n_threads, sizeof(*p->threads));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    if (!p->threads) {
        pool_free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        struct Worker* wk = malloc(sizeof(*wk));
        if (!wk) break;
        *wk = (struct Worker){p, i};
        if (pthread_create(&p->threads[i], NULL, worker_main, wk) != 0) {
            free(wk);
            p->threads[i] = 0;
            p->n_threads = i; // run with the threads we got
            break;
        }
    }
    return p;
}

// out = W x + b over all rows, split across the pool (thread 0 is the caller).
static void matmul_par(struct RefPool* p, const struct MatmulJob* j) {
    // Small matrices are not worth waking threads for.
    if (!p || p->n_threads == 1 || (int64_t)j->n_out * j->n_in < 65536) {
        matmul_rows(j->out, j->x, j->w, j->type, j->b, j->n_in, 0, j->n_out);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->job = *j;
    p->pending = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    job_slice(j, 0, p->n_threads);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

// ---------------------------------------------------------------------------------------
// init / free

// Rows a state slot keeps: a windowed KV cache is a ring of its last W positions (memory does
// not grow with the context), a full one n_ctx rows, the recurrent states one row.
static int64_t state_rows(const struct RefEngine* r, const struct StateDesc* sd) {
    if (sd->kind != STATE_KV) return 1;
    return sd->window > 0 && sd->window < r->n_ctx ? sd->window : r->n_ctx;
}

static const struct GgufTensor* tensor(const struct RefEngine* r, int id) {
    return &r->m->gguf.tensors[id];
}

void ref_free(struct RefEngine* r) {
    if (!r) return;
    for (int i = 0; i < GRAPH_MAX_BUFS; i++)
        free(r->bufs[i]);
    for (int s = 0; s < r->g.n_states; s++) {
        if (r->state_k) free(r->state_k[s]);
        if (r->state_v) free(r->state_v[s]);
    }
    free(r->state_k);
    free(r->state_v);
    if (r->wd && r->m)
        for (int64_t i = 0; i < r->m->gguf.n_tensors; i++)
            free(r->wd[i]);
    free(r->wd);
    free(r->att);
    free(r->moe_scratch);
    free(r->moe_sel);
    pool_free(r->pool);
    graph_free(&r->g);
    memset(r, 0, sizeof(*r));
}

// Every weight an op reads whole (OP_INFO: norm weights, biases, rope factors, conv kernels,
// A, D, RWKV-7's lerp stacks) is converted to double once; streamed matrices stay in their
// GGUF form. MoE needs scratch rows. Returns 0, ERR_NOMEM or ERR_UNSUPPORTED.
static int weights_init(struct RefEngine* r, struct Err* e) {
    size_t scratch = 0;
    int max_used = 0;
    for (int i = 0; i < r->g.n_ops; i++) {
        const struct Op* op = &r->g.ops[i];
        for (int k = 0; k < OP_MAX_W; k++) {
            int id = op->w[k];
            if (id < 0 || r->wd[id] || OP_INFO[op->kind].w[k] != WROLE_WHOLE) continue;
            const struct GgufTensor* t = tensor(r, id);
            if (!quant_traits(t->type)->can_dequant)
                return err_set(e, ERR_UNSUPPORTED, "ref_init: cannot convert '%s' (%s)", t->name,
                               quant_type_name(t->type));
            r->wd[id] = malloc((size_t)t->n_elements * sizeof(double) + 1);
            if (!r->wd[id]) return ERR_NOMEM;
            quant_dequant_row(t->type, t->data, r->wd[id], t->n_elements);
            // ---- zamba2: a scan whose w[0] is A_log gets A once here (each layer's own
            // tensor, read by this op only); Zamba v1 (Mamba-1 scan) too
            if (k == 0 && (op->kind == OP_SSM_SCAN || op->kind == OP_SSM_SCAN2) && op->p.ssm.a_log)
                ssm_a_from_log(r->wd[id], (int)t->n_elements);
        }
        // ---- mamba
        if (op->kind == OP_MOE) {
            size_t need = (size_t)op->p.moe.n_expert + 2 * (size_t)op->p.moe.n_ff +
                          (size_t)r->g.bufs[op->out].width;
            if (need > scratch) scratch = need;
            if (op->p.moe.n_expert_used > max_used) max_used = op->p.moe.n_expert_used;
        }
    }
    if (scratch) {
        r->moe_scratch = malloc(scratch * sizeof(double));
        r->moe_sel = malloc((size_t)max_used * sizeof(int) + 1);
        if (!r->moe_scratch || !r->moe_sel) return ERR_NOMEM;
    }
    return 0;
}

int ref_init(struct RefEngine* r, const struct Model* m, int n_ctx, int max_batch, int n_threads,
             struct Err* e) {
    memset(r, 0, sizeof(*r));
    r->m = m;
    r->n_ctx = n_ctx;
    r->max_batch = max_batch;
    if (n_ctx < 1 || max_batch < 1)
        return err_set(e, ERR_ARG, "ref_init: context %d and batch %d must be positive", n_ctx,
                       max_batch);
    int rc = graph_build(&r->g, m, e);
    if (rc) return rc;
    for (int i = 0; i < r->g.n_bufs; i++) {
        r->bufs[i] = calloc((size_t)max_batch * (size_t)r->g.bufs[i].width, sizeof(double));
        if (!r->bufs[i]) goto oom;
    }
    r->state_k = calloc((size_t)r->g.n_states + 1, sizeof(double*));
    r->state_v = calloc((size_t)r->g.n_states + 1, sizeof(double*));
    if (!r->state_k || !r->state_v) goto oom;
    for (int s = 0; s < r->g.n_states; s++) {
        const struct StateDesc* sd = &r->g.states[s];
        switch (sd->kind) {
        case STATE_KV:
            r->state_k[s] = calloc((size_t)state_rows(r, sd) * (size_t)sd->width, sizeof(double));
            r->state_v[s] = calloc((size_t)state_rows(r, sd) * (size_t)sd->width, sizeof(double));
            if (!r->state_k[s] || !r->state_v[s]) goto oom;
            break;
        // ---- rwkv7
        case STATE_SHIFT:
        case STATE_WKV:
            r->state_k[s] = calloc((size_t)sd->width, sizeof(double));
            if (!r->state_k[s]) goto oom;
            break;
        // ---- mamba
        case STATE_CONV:
        case STATE_SSM:
            r->state_k[s] = calloc((size_t)sd->width + 1, sizeof(double));
            if (!r->state_k[s]) goto oom;
            break;
        // ---- griffin
        case STATE_RG_LRU:
            r->state_k[s] = calloc((size_t)sd->width, sizeof(double));
            if (!r->state_k[s]) goto oom;
            break;
        case STATE_KIND_COUNT: break;
        }
    }
    r->wd = calloc((size_t)m->gguf.n_tensors + 1, sizeof(double*));
    if (!r->wd) goto oom;
    r->att = malloc((size_t)n_ctx * sizeof(double));
    if (!r->att) goto oom;
    if ((rc = weights_init(r, e))) {
        if (rc != ERR_NOMEM) {
            ref_free(r);
            return rc;
        }
        goto oom;
    }
    if (n_threads <= 0) n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 256) n_threads = 256;
    if (n_threads > 1 && !(r->pool = pool_new(n_threads))) goto oom;
    return 0;
oom:
    ref_free(r);
    return err_set(e, ERR_NOMEM, "ref_init: out of memory for a context of %d positions", n_ctx);
}

void ref_reset(struct RefEngine* r) {
    r->n_past = 0;
    for (int s = 0; s < r->g.n_states; s++) {
        const struct StateDesc* sd = &r->g.states[s];
        size_t n = (size_t)state_rows(r, sd) * (size_t)sd->width;
        if (r->state_k[s]) memset(r->state_k[s], 0, n * sizeof(double));
        if (r->state_v[s]) memset(r->state_v[s], 0, n * sizeof(double));
    }
}

const double* ref_logits(const struct RefEngine* r, int t) {
    return r->bufs[r->g.logits] + (size_t)t * (size_t)r->g.bufs[r->g.logits].width;
}

// ---------------------------------------------------------------------------------------
// the interpreter

// Row t of buffer id.
static double* row(const struct RefEngine* r, int id, int t) {
    return r->bufs[id] + (size_t)t * (size_t)r->g.bufs[id].width;
}

// ---- mamba: bytes of one expert's matrix in a stacked (n_in, n_out, n_expert) tensor
static size_t expert_bytes(const struct GgufTensor* t) {
    return quant_row_size(t->type, t->ne[0]) * (size_t)t->ne[1];
}

// one row of a mixture of experts (Jamba §5.4):
// out = sum over the top-k experts e (ascending) of p_e * down_e(silu(gate_e u) * up_e u)
static void run_moe(struct RefEngine* r, const struct Op* op, double* out, const double* u) {
    const struct GgufTensor* R = tensor(r, op->w[0]);
    const struct GgufTensor *G = tensor(r, op->w[1]), *U = tensor(r, op->w[2]),
                            *Dn = tensor(r, op->w[3]);
    int n_expert = op->p.moe.n_expert, k = op->p.moe.n_expert_used, ff = op->p.moe.n_ff;
    int n_embd = (int)R->ne[0], wout = r->g.bufs[op->out].width;
    double* p = r->moe_scratch;
    double *hg = p + n_expert, *hu = hg + ff, *eo = hu + ff;
    struct MatmulJob jr = {p, u, R->data, R->type, NULL, n_embd, n_expert};
    matmul_par(r->pool, &jr);
    moe_route(r->moe_sel, p, n_expert, k);
    for (int i = 0; i < wout; i++)
        out[i] = 0.0;
    for (int i = 0; i < k; i++) {
        int ex = r->moe_sel[i];
        // expert ex is the ex-th (n_in, n_out) matrix of the stacked tensor
        struct MatmulJob jg = {
            hg,     u, (const uint8_t*)G->data + (size_t)ex * expert_bytes(G), G->type, NULL,
            n_embd, ff};
        struct MatmulJob ju = {
            hu,     u, (const uint8_t*)U->data + (size_t)ex * expert_bytes(U), U->type, NULL,
            n_embd, ff};
        matmul_par(r->pool, &jg);
        matmul_par(r->pool, &ju);
        glu_silu(hg, hg, hu, ff);
        struct MatmulJob jd = {
            eo, hg,  (const uint8_t*)Dn->data + (size_t)ex * expert_bytes(Dn), Dn->type, NULL,
            ff, wout};
        matmul_par(r->pool, &jd);
        for (int j = 0; j < wout; j++)
            out[j] += eo[j] * p[ex];
    }
}

static void run_op(struct RefEngine* r, const struct Op* op, const int32_t* tokens, int t0, int n) {
    int64_t pos0 = r->n_past;
    int wout = r->g.bufs[op->out].width;
    switch (op->kind) {
    case OP_EMBED: {
        const struct GgufTensor* E = tensor(r, op->w[0]);
        size_t rb = quant_row_size(E->type, E->ne[0]);
        for (int t = t0; t < t0 + n; t++)
            quant_dequant_row(E->type, (const uint8_t*)E->data + (size_t)tokens[t] * rb,
                              row(r, op->out, t), E->ne[0]);
        break;
    }
    case OP_RMSNORM:
        for (int t = t0; t < t0 + n; t++)
            rmsnorm(row(r, op->out, t), row(r, op->in[0], t), r->wd[op->w[0]], op->p.norm.w_offset,
                    wout, op->p.norm.eps);
        break;
    case OP_MATMUL: {
        const struct GgufTensor* Wt = tensor(r, op->w[0]);
        for (int t = t0; t < t0 + n; t++) {
            struct MatmulJob j = {row(r, op->out, t),
                                  row(r, op->in[0], t),
                                  Wt->data,
                                  Wt->type,
                                  op->w[1] >= 0 ? r->wd[op->w[1]] : NULL,
                                  (int)Wt->ne[0],
                                  (int)Wt->ne[1]};
            matmul_par(r->pool, &j);
        }
        break;
    }
    case OP_ROPE:
        for (int t = t0; t < t0 + n; t++) {
            if (op->out != op->in[0])
                memcpy(row(r, op->out, t), row(r, op->in[0], t), (size_t)wout * sizeof(double));
            rope(row(r, op->out, t), op->p.rope.n_head, op->p.rope.head_dim, op->p.rope.n_rot,
                 op->p.rope.type == ROPE_NEOX, pos0 + t, op->p.rope.freq_base,
                 op->p.rope.freq_scale, op->w[0] >= 0 ? r->wd[op->w[0]] : NULL);
        }
        break;
    case OP_ATTN: {
        // Each row stores its key and value, then attends: a ring of W rows has room for the
        // window of one position, not for a whole batch's keys at once.
        const struct StateDesc* sd = &r->g.states[op->state];
        int w = sd->width;
        int64_t rows = state_rows(r, sd);
        double* K = r->state_k[op->state];
        double* V = r->state_v[op->state];
        for (int t = t0; t < t0 + n; t++) {
            int64_t pos = pos0 + t;
            memcpy(K + (size_t)(pos % rows) * w, row(r, op->in[1], t), (size_t)w * sizeof(double));
            memcpy(V + (size_t)(pos % rows) * w, row(r, op->in[2], t), (size_t)w * sizeof(double));
            int64_t j0 = op->p.attn.window > 0 ? pos - op->p.attn.window + 1 : 0;
            if (j0 < 0) j0 = 0;
            attention(row(r, op->out, t), row(r, op->in[0], t), K, V, w, rows, j0, pos,
                      op->p.attn.n_head, op->p.attn.n_head_kv, op->p.attn.head_dim,
                      op->p.attn.scale, r->att);
        }
        break;
    }
    case OP_ADD:
        for (int t = t0; t < t0 + n; t++)
            add(row(r, op->out, t), row(r, op->in[0], t), row(r, op->in[1], t), wout);
        break;
    case OP_GLU:
        for (int t = t0; t < t0 + n; t++) {
            double* o = row(r, op->out, t);
            const double *g = row(r, op->in[0], t), *u = row(r, op->in[1], t);
            switch (op->p.glu.act) {
            case ACT_SILU: glu_silu(o, g, u, wout); break;
            case ACT_GELU_TANH: glu_gelu_tanh(o, g, u, wout); break;
            case ACT_GELU: glu_gelu(o, g, u, wout); break;
            case ACT_COUNT: break;
            }
        }
        break;
    // ---- rwkv7
    case OP_LAYERNORM:
        for (int t = t0; t < t0 + n; t++)
            layernorm(row(r, op->out, t), row(r, op->in[0], t), r->wd[op->w[0]], r->wd[op->w[1]],
                      wout, op->p.layernorm.n_group, op->p.layernorm.eps);
        break;
    case OP_TOKEN_SHIFT: {
        // Rows in order: each sees the row before it; the first sees the previous call's last.
        double* prev = r->state_k[op->state];
        size_t bytes = (size_t)wout * sizeof(double);
        memcpy(row(r, op->out, t0), prev, bytes);
        for (int t = t0 + 1; t < t0 + n; t++)
            memcpy(row(r, op->out, t), row(r, op->in[0], t - 1), bytes);
        memcpy(prev, row(r, op->in[0], t0 + n - 1), bytes);
        break;
    }
    case OP_LERP:
        for (int t = t0; t < t0 + n; t++) {
            const double* mix = op->w[0] >= 0 ? r->wd[op->w[0]] + (size_t)op->p.lerp.slice * wout
                                              : row(r, op->in[2], t);
            lerp(row(r, op->out, t), row(r, op->in[0], t), row(r, op->in[1], t), mix, wout);
        }
        break;
    case OP_UNARY:
        for (int t = t0; t < t0 + n; t++) {
            double* o = row(r, op->out, t);
            const double* x = row(r, op->in[0], t);
            switch (op->p.unary.fn) {
            case UNARY_TANH: vec_tanh(o, x, wout); break;
            case UNARY_SIGMOID: vec_sigmoid(o, x, wout); break;
            case UNARY_RWKV7_DECAY: rwkv7_decay(o, x, wout); break;
            case UNARY_SQRELU: sqrelu(o, x, wout); break;
            case UNARY_COUNT: break;
            }
        }
        break;
    case OP_MUL:
        for (int t = t0; t < t0 + n; t++)
            mul(row(r, op->out, t), row(r, op->in[0], t), row(r, op->in[1], t), wout);
        break;
    case OP_RWKV7_KK:
        for (int t = t0; t < t0 + n; t++)
            rwkv7_kk(row(r, op->out, t), row(r, op->in[0], t), r->wd[op->w[0]], op->p.rwkv7.n_head,
                     op->p.rwkv7.head_size);
        break;
    case OP_RWKV7_KA:
        for (int t = t0; t < t0 + n; t++)
            rwkv7_ka(row(r, op->out, t), row(r, op->in[0], t), row(r, op->in[1], t),
                     r->wd[op->w[0]], wout);
        break;
    case OP_WKV7:
        // One token after another through the state: a batch equals single-token calls.
        for (int t = t0; t < t0 + n; t++)
            wkv7(row(r, op->out, t), r->state_k[op->state], row(r, op->in[0], t),
                 row(r, op->in[1], t), row(r, op->in[2], t), row(r, op->in[3], t),
                 row(r, op->in[4], t), row(r, op->in[5], t), op->p.rwkv7.n_head,
                 op->p.rwkv7.head_size);
        break;
    case OP_RWKV7_BONUS:
        for (int t = t0; t < t0 + n; t++)
            rwkv7_bonus(row(r, op->out, t), row(r, op->in[0], t), row(r, op->in[1], t),
                        row(r, op->in[2], t), row(r, op->in[3], t), r->wd[op->w[0]],
                        op->p.rwkv7.n_head, op->p.rwkv7.head_size);
        break;
    // ---- mamba
    case OP_SLICE:
        for (int t = t0; t < t0 + n; t++)
            memcpy(row(r, op->out, t), row(r, op->in[0], t) + op->p.slice.offset,
                   (size_t)wout * sizeof(double));
        break;
    case OP_SSM_CONV:
        // Rows in order: each position sees the previous ones through the state.
        for (int t = t0; t < t0 + n; t++)
            ssm_conv_step(row(r, op->out, t), row(r, op->in[0], t), r->state_k[op->state],
                          r->wd[op->w[0]], r->wd[op->w[1]], wout, op->p.ssm.d_conv,
                          op->p.ssm.linear);
        break;
    case OP_SSM_SCAN: {
        // n_group contiguous groups of channels, each with its own B and C (Zamba v1's heads)
        int N = op->p.ssm.d_state, gc = op->p.ssm.n_head / op->p.ssm.n_group;
        for (int t = t0; t < t0 + n; t++)
            for (int g = 0; g < op->p.ssm.n_group; g++) {
                size_t c0 = (size_t)g * gc;
                ssm_scan_step(row(r, op->out, t) + c0, row(r, op->in[0], t) + c0,
                              row(r, op->in[1], t) + c0, row(r, op->in[2], t) + (size_t)g * N,
                              row(r, op->in[3], t) + (size_t)g * N, r->state_k[op->state] + c0 * N,
                              r->wd[op->w[0]] + c0 * N, r->wd[op->w[1]] + c0, r->wd[op->w[2]] + c0,
                              gc, N);
            }
        break;
    }
    case OP_SSM_SCAN2:
        for (int t = t0; t < t0 + n; t++)
            ssm_scan2_step(row(r, op->out, t), row(r, op->in[0], t), row(r, op->in[1], t),
                           row(r, op->in[2], t), row(r, op->in[3], t), r->state_k[op->state],
                           r->wd[op->w[0]], r->wd[op->w[1]], r->wd[op->w[2]], op->p.ssm.n_head,
                           op->p.ssm.head_dim, op->p.ssm.n_group, op->p.ssm.d_state);
        break;
    case OP_RMSNORM_GROUP:
        for (int t = t0; t < t0 + n; t++)
            rmsnorm_group(row(r, op->out, t), row(r, op->in[0], t), r->wd[op->w[0]], wout,
                          op->p.gnorm.n_group, op->p.gnorm.eps);
        break;
    case OP_MOE:
        for (int t = t0; t < t0 + n; t++)
            run_moe(r, op, row(r, op->out, t), row(r, op->in[0], t));
        break;
    // ---- griffin
    case OP_SCALE:
        for (int t = t0; t < t0 + n; t++)
            scale(row(r, op->out, t), row(r, op->in[0], t), op->p.scale.s, wout);
        break;
    case OP_MATMUL_BLOCKDIAG: {
        const struct GgufTensor* Wt = tensor(r, op->w[0]);
        for (int t = t0; t < t0 + n; t++)
            matmul_blockdiag(row(r, op->out, t), row(r, op->in[0], t), Wt->data, Wt->type,
                             r->wd[op->w[1]], wout, op->p.blockdiag.n_block);
        break;
    }
    case OP_RG_LRU:
        // Rows in order through the state; position 0 of the sequence resets it (HF's
        // reset = position_ids == 0), whichever call it arrives in.
        for (int t = t0; t < t0 + n; t++)
            rg_lru_step(row(r, op->out, t), row(r, op->in[0], t), row(r, op->in[1], t),
                        row(r, op->in[2], t), r->state_k[op->state], r->wd[op->w[0]], wout,
                        pos0 + t == 0);
        break;
    case OP_SOFTCAP:
        for (int t = t0; t < t0 + n; t++)
            softcap(row(r, op->out, t), row(r, op->in[0], t), op->p.softcap.cap, wout);
        break;
    // ---- zamba2
    case OP_CONCAT: {
        int w0 = r->g.bufs[op->in[0]].width;
        for (int t = t0; t < t0 + n; t++)
            concat(row(r, op->out, t), row(r, op->in[0], t), w0, row(r, op->in[1], t), wout - w0);
        break;
    }
    case OP_COUNT: break;
    }
}

int ref_forward(struct RefEngine* r, const int32_t* tokens, int n, int last_only, struct Err* e) {
    if (n < 1 || n > r->max_batch)
        return err_set(e, ERR_ARG, "ref_forward: batch of %d (1..%d)", n, r->max_batch);
    if (r->n_past + n > r->n_ctx)
        return err_set(e, ERR_ARG,
                       "the context of %d tokens is full (%lld used, %d more asked); "
                       "raise -c",
                       r->n_ctx, (long long)r->n_past, n);
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= r->m->config.n_vocab)
            return err_set(e, ERR_ARG, "token id %d is outside the vocabulary (0..%d)", tokens[t],
                           r->m->config.n_vocab - 1);
    for (int i = 0; i < r->g.n_ops; i++) {
        const struct Op* op = &r->g.ops[i];
        // The final norm and classifier only matter for rows whose logits are read.
        int t0 = (last_only && i >= r->g.first_tail_op) ? n - 1 : 0;
        run_op(r, op, tokens, t0, n - t0);
        if (r->hook)
            r->hook(r->hook_ctx, op, r->n_past + t0, n - t0, row(r, op->out, t0),
                    r->g.bufs[op->out].width);
    }
    r->n_past += n;
    return 0;
}
