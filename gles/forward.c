// forward.c: the GLES engine's interpreter of the shared graph (see gles.h): one switch over
// op kinds, no default, each case a list of gl_dispatch() calls. Nothing here waits for the
// GPU: a forward is encoded whole, and gl_logits() (or a hook) is the only read-back.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "gles.h"
#include "programs.h"
#include "quant.h"

#define NT_BATCH 8   // positions per mat-mat tile (matmul.comp NT)

// ---------------------------------------------------------------------------------------
// weights

static const char* wtype_define(enum GgmlType t) {
    switch (t) {
    case GGML_TYPE_F32: return "WTYPE_F32";
    case GGML_TYPE_F16: return "WTYPE_F16";
    case GGML_TYPE_BF16: return "WTYPE_BF16";
    case GGML_TYPE_Q8_0: return "WTYPE_Q8_0";
    case GGML_TYPE_Q4_0: return "WTYPE_Q4_0";
    default: return NULL;  // TODO: Q4_K, Q6_K and the other K-quants: no decoder yet
    }
}

static int gl_error(const char* what, struct Err* e) { return gl_check(what, e); }

static GLuint new_buffer(size_t bytes, const void* data) { return gl_buffer_new(bytes, data); }

// Uploads tensor id: 1-D tensors as float arrays, matrices as their GGUF bytes in chunks of
// whole rows no larger than the SSBO block limit.
static int upload_tensor(struct GlEngine* g, int id, int as_matrix, struct Err* e) {
    struct GlTensor* w = &g->wt[id];
    if (w->n_chunks) return 0;
    const struct GgufTensor* t = &g->m->gguf.tensors[id];
    if (!as_matrix) {
        float* f = malloc((size_t)t->n_elements * sizeof(float) + 4);
        if (!f) return err_set(e, ERR_NOMEM, "gl_init: out of memory converting '%s'", t->name);
        if (quant_dequant_row_f32(t->type, t->data, f, t->n_elements)) {
            free(f);
            return err_set(e, ERR_UNSUPPORTED, "gl_init: cannot convert '%s' (%s)", t->name,
                           quant_type_name(t->type));
        }
        w->type = GGML_TYPE_F32;
        w->n_in = t->n_elements;
        w->rows = 1;
        w->row_bytes = (size_t)t->n_elements * sizeof(float);
        w->rows_per_chunk = 1;
        w->bufs = calloc(1, sizeof(GLuint));
        if (!w->bufs) {
            free(f);
            return err_set(e, ERR_NOMEM, "gl_init: out of memory");
        }
        w->bufs[0] = new_buffer(w->row_bytes, f);
        w->n_chunks = 1;
        free(f);
        return gl_error("gl_init: uploading a vector", e);
    }
    if (!wtype_define(t->type))
        return err_set(e, ERR_UNSUPPORTED, "gl_init: tensor '%s' is %s; the GLES engine reads "
                       "F32, F16, BF16, Q8_0 and Q4_0 (use mattn-ref)", t->name,
                       quant_type_name(t->type));
    w->type = t->type;
    w->n_in = t->ne[0];
    w->rows = t->n_elements / t->ne[0];
    w->row_bytes = quant_row_size(t->type, t->ne[0]);
    // MATTN_GL_MAX_SSBO lowers the chunk size (the tests force the split path with it).
    size_t limit = (size_t)g->max_ssbo;
    const char* cap = getenv("MATTN_GL_MAX_SSBO");
    if (cap && atol(cap) > 0 && (size_t)atol(cap) < limit) limit = (size_t)atol(cap);
    w->rows_per_chunk = (int64_t)((limit - 4) / w->row_bytes);  // 4: see the padding below
    if (w->rows_per_chunk < 1)
        return err_set(e, ERR_UNSUPPORTED, "gl_init: one row of '%s' (%zu bytes) exceeds the "
                       "SSBO limit of %zu bytes", t->name, w->row_bytes, limit);
    if (w->rows_per_chunk > w->rows) w->rows_per_chunk = w->rows;
    int n = (int)((w->rows + w->rows_per_chunk - 1) / w->rows_per_chunk);
    w->bufs = calloc((size_t)n, sizeof(GLuint));
    if (!w->bufs) return err_set(e, ERR_NOMEM, "gl_init: out of memory");
    for (int c = 0; c < n; c++) {
        int64_t r0 = (int64_t)c * w->rows_per_chunk;
        int64_t nr = w->rows - r0 < w->rows_per_chunk ? w->rows - r0 : w->rows_per_chunk;
        // A chunk is padded by 4 bytes: w_u32() on the last block may touch the next word.
        size_t bytes = (size_t)nr * w->row_bytes;
        GLuint b = new_buffer(bytes + 4, NULL);
        glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)bytes,
                        (const uint8_t*)t->data + (size_t)r0 * w->row_bytes);
        w->bufs[c] = b;
        w->n_chunks = c + 1;
    }
    char what[200];
    snprintf(what, sizeof(what), "gl_init: uploading '%s'", t->name);
    return gl_error(what, e);
}

// ---------------------------------------------------------------------------------------
// rope tables: (cos, sin) per (position, pair) in double, shared by ops with equal parameters

struct RopeKey {
    int n_rot, factors;
    double base, scale;
};

static GLuint rope_table(struct GlEngine* g, const struct Op* op, struct Err* e) {
    int n_op = (int)(op - g->g.ops);
    for (int i = 0; i < n_op; i++) {
        const struct Op* p = &g->g.ops[i];
        if (p->kind == OP_ROPE && g->rope_tab[i] && p->p.rope.n_rot == op->p.rope.n_rot &&
            p->p.rope.freq_base == op->p.rope.freq_base &&
            p->p.rope.freq_scale == op->p.rope.freq_scale &&
            p->p.rope.freq_factors == op->p.rope.freq_factors)
            return g->rope_tab[i];
    }
    int half = op->p.rope.n_rot / 2;
    float* tab = malloc((size_t)g->n_ctx * (size_t)(half > 0 ? half : 1) * 2 * sizeof(float));
    double* f = op->p.rope.freq_factors >= 0 ? malloc((size_t)(half + 1) * sizeof(double)) : NULL;
    if (!tab || (op->p.rope.freq_factors >= 0 && !f)) {
        free(tab);
        free(f);
        err_set(e, ERR_NOMEM, "gl_init: out of memory for a rope table");
        return 0;
    }
    if (f) {
        const struct GgufTensor* t = &g->m->gguf.tensors[op->p.rope.freq_factors];
        quant_dequant_row(t->type, t->data, f, half);
    }
    for (int i = 0; i < half; i++) {
        // As ref/kernels.c rope(): theta = pos * freq_scale * base^(-2i/n_rot) / factor_i
        double inv_freq = 1.0 / pow(op->p.rope.freq_base, (double)(2 * i) / op->p.rope.n_rot);
        for (int pos = 0; pos < g->n_ctx; pos++) {
            double theta = (double)pos * op->p.rope.freq_scale * inv_freq;
            if (f) theta /= f[i];
            tab[2 * ((size_t)pos * half + i)] = (float)cos(theta);
            tab[2 * ((size_t)pos * half + i) + 1] = (float)sin(theta);
        }
    }
    GLuint b = new_buffer((size_t)g->n_ctx * (size_t)half * 2 * sizeof(float), tab);
    free(tab);
    free(f);
    return b;
}

// ---------------------------------------------------------------------------------------
// init / free

void gl_free(struct GlEngine* g) {
    if (!g) return;
    if (g->renderer) {  // the context exists: GL objects can be deleted
        glDeleteBuffers(32, g->bufs);
        for (int s = 0; s < g->g.n_states; s++) {
            if (g->state_k) glDeleteBuffers(1, &g->state_k[s]);
            if (g->state_v) glDeleteBuffers(1, &g->state_v[s]);
        }
        if (g->wt && g->m)
            for (int64_t i = 0; i < g->m->gguf.n_tensors; i++)
                if (g->wt[i].n_chunks) glDeleteBuffers(g->wt[i].n_chunks, g->wt[i].bufs);
        if (g->rope_tab)
            for (int i = 0; i < g->g.n_ops; i++) {
                int shared = 0;
                for (int j = 0; j < i && !shared; j++) shared = g->rope_tab[j] == g->rope_tab[i];
                if (g->rope_tab[i] && !shared) glDeleteBuffers(1, &g->rope_tab[i]);
            }
        glDeleteBuffers(1, &g->tokens);
        glDeleteBuffers(1, &g->dummy);
        gl_programs_free(g);
        gl_context_release();
    }
    if (g->wt && g->m)
        for (int64_t i = 0; i < g->m->gguf.n_tensors; i++) free(g->wt[i].bufs);
    free(g->wt);
    free(g->state_k);
    free(g->state_v);
    free(g->rope_tab);
    free(g->op_prog);
    free(g->op_prog1);
    free(g->logits_host);
    free(g->hook_buf);
    graph_free(&g->g);
    memset(g, 0, sizeof(*g));
}

// Rows per matmul work group: enough that its LOCAL_X lanes each get a 32-element unit of a
// row when rows are short (n_in 64: 32 rows of 2 lanes), one row when rows have >= 64 units.
static int matmul_rpg(const struct GlTensor* w) {
    int64_t units = (w->n_in + 31) / 32;
    int rpg = 1;
    while (rpg < 32 && (int64_t)(GL_LOCAL_X / (rpg * 2)) >= units) rpg *= 2;
    return rpg;
}

// Picks (compiling now) the programs op i runs: op_prog for batches, op_prog1 for one row.
static int choose_programs(struct GlEngine* g, int i, struct Err* e) {
    const struct Op* op = &g->g.ops[i];
    char d[160];
    int p = -1, p1 = -1;
    switch (op->kind) {
    case OP_EMBED:
        snprintf(d, sizeof(d), "#define W_BINDING 2\n#define %s 1\n",
                 wtype_define(g->wt[op->w[0]].type));
        p = p1 = gl_program(g, K_EMBED, d, e);
        break;
    case OP_RMSNORM: p = p1 = gl_program(g, K_RMSNORM, "", e); break;
    case OP_MATMUL: {
        int rpg = matmul_rpg(&g->wt[op->w[0]]);
        snprintf(d, sizeof(d), "#define W_BINDING 2\n#define %s 1\n#define NT %d\n#define RPG %d\n",
                 wtype_define(g->wt[op->w[0]].type), NT_BATCH, rpg);
        p = gl_program(g, K_MATMUL, d, e);
        snprintf(d, sizeof(d), "#define W_BINDING 2\n#define %s 1\n#define NT 1\n#define RPG %d\n",
                 wtype_define(g->wt[op->w[0]].type), rpg);
        p1 = p < 0 ? p : gl_program(g, K_MATMUL, d, e);
        break;
    }
    case OP_ROPE: p = p1 = gl_program(g, K_ROPE, "", e); break;
    case OP_ATTN:
        p = gl_program(g, K_ATTN_KV, "", e);
        p1 = p < 0 ? p : gl_program(g, K_ATTN, "", e);  // op_prog: store, op_prog1: attend
        break;
    case OP_ADD: p = p1 = gl_program(g, K_ADD, "", e); break;
    case OP_GLU: p = p1 = gl_program(g, K_GLU, "", e); break;
    // TODO: the RWKV-7 and Mamba ops have ref kernels but no shaders yet (issue 8, part 2).
    case OP_LAYERNORM:
    case OP_TOKEN_SHIFT:
    case OP_LERP:
    case OP_UNARY:
    case OP_MUL:
    case OP_RWKV7_KK:
    case OP_RWKV7_KA:
    case OP_WKV7:
    case OP_RWKV7_BONUS:
    case OP_SLICE:
    case OP_SSM_CONV:
    case OP_SSM_SCAN:
    case OP_SSM_SCAN2:
    case OP_RMSNORM_GROUP:
    case OP_MOE:
        return err_set(e, ERR_UNSUPPORTED, "gl_init: op '%s' (%s) has no GLES kernel yet; "
                       "use mattn-ref", op->name, op_kind_name(op->kind));
    case OP_COUNT: break;
    }
    if (p < 0) return p;
    if (p1 < 0) return p1;
    g->op_prog[i] = p;
    g->op_prog1[i] = p1;
    return 0;
}

int gl_init(struct GlEngine* g, const struct Model* m, int n_ctx, int max_batch, struct Err* e) {
    memset(g, 0, sizeof(*g));
    g->m = m;
    g->n_ctx = n_ctx;
    g->max_batch = max_batch;
    if (n_ctx < 1 || max_batch < 1)
        return err_set(e, ERR_ARG, "gl_init: context %d and batch %d must be positive", n_ctx,
                       max_batch);
    int rc = gl_context_acquire(&g->egl_path, &g->renderer, e);
    if (rc) {
        g->renderer = NULL;
        return rc;
    }
    if ((rc = graph_build(&g->g, m, e))) goto fail;
    glGetIntegerv(GL_MAX_SHADER_STORAGE_BLOCK_SIZE, &g->max_ssbo);
    int widest = 1;
    for (int i = 0; i < g->g.n_bufs; i++) {
        size_t bytes = (size_t)max_batch * (size_t)g->g.bufs[i].width * sizeof(float);
        if (bytes > (size_t)g->max_ssbo) {
            rc = err_set(e, ERR_UNSUPPORTED, "gl_init: buffer '%s' of %d x %d floats exceeds the "
                         "SSBO limit of %d bytes; use a smaller batch", g->g.bufs[i].name,
                         max_batch, g->g.bufs[i].width, (int)g->max_ssbo);
            goto fail;
        }
        g->bufs[i] = new_buffer(bytes, NULL);
        if (g->g.bufs[i].width > widest) widest = g->g.bufs[i].width;
    }
    g->state_k = calloc((size_t)g->g.n_states + 1, sizeof(GLuint));
    g->state_v = calloc((size_t)g->g.n_states + 1, sizeof(GLuint));
    g->wt = calloc((size_t)m->gguf.n_tensors + 1, sizeof(*g->wt));
    g->rope_tab = calloc((size_t)g->g.n_ops + 1, sizeof(GLuint));
    g->op_prog = calloc((size_t)g->g.n_ops + 1, sizeof(int));
    g->op_prog1 = calloc((size_t)g->g.n_ops + 1, sizeof(int));
    g->logits_host = malloc((size_t)max_batch * (size_t)m->config.n_vocab * sizeof(float));
    g->hook_buf = malloc((size_t)max_batch * (size_t)widest * sizeof(float));
    if (!g->state_k || !g->state_v || !g->wt || !g->rope_tab || !g->op_prog || !g->op_prog1 ||
        !g->logits_host || !g->hook_buf) {
        rc = err_set(e, ERR_NOMEM, "gl_init: out of memory");
        goto fail;
    }
    for (int s = 0; s < g->g.n_states; s++) {
        const struct StateDesc* sd = &g->g.states[s];
        switch (sd->kind) {
        case STATE_KV: {
            size_t bytes = (size_t)n_ctx * (size_t)sd->width * sizeof(float);
            if (bytes > (size_t)g->max_ssbo) {
                // TODO: split the KV cache like the weights; a context this long is rare here.
                rc = err_set(e, ERR_UNSUPPORTED, "gl_init: a KV cache of %d x %d floats exceeds "
                             "the SSBO limit of %d bytes; lower -c", n_ctx, sd->width,
                             (int)g->max_ssbo);
                goto fail;
            }
            g->state_k[s] = new_buffer(bytes, NULL);
            g->state_v[s] = new_buffer(bytes, NULL);
            break;
        }
        case STATE_SHIFT:
        case STATE_WKV:
        case STATE_CONV:
        case STATE_SSM:
        case STATE_KIND_COUNT: break;  // their ops are refused below
        }
    }
    g->tokens = new_buffer((size_t)max_batch * sizeof(int32_t), NULL);
    g->dummy = new_buffer(16, NULL);
    for (int i = 0; i < g->g.n_ops && !rc; i++) {
        const struct Op* op = &g->g.ops[i];
        for (int k = 0; k < OP_MAX_W && !rc; k++)
            if (op->w[k] >= 0)
                rc = upload_tensor(g, op->w[k], (op->kind == OP_MATMUL || op->kind == OP_EMBED)
                                   && k == 0, e);
        if (!rc && op->kind == OP_ROPE && !(g->rope_tab[i] = rope_table(g, op, e))) rc = e->code;
        if (!rc) rc = choose_programs(g, i, e);
    }
    if (rc) goto fail;
    if ((rc = gl_error("gl_init", e))) goto fail;
    gl_reset(g);
    return 0;
fail:
    gl_free(g);
    return rc;
}

void gl_reset(struct GlEngine* g) {
    // Stale keys beyond n_past are never read (attention stops at pos), so the caches need
    // no clearing; zeroing keeps dumps of a fresh engine deterministic all the same.
    g->n_past = 0;
    for (int s = 0; s < g->g.n_states; s++) {
        const struct StateDesc* sd = &g->g.states[s];
        size_t bytes = (size_t)g->n_ctx * (size_t)sd->width * sizeof(float);
        GLuint bs[2] = {g->state_k[s], g->state_v[s]};
        for (int k = 0; k < 2; k++) {
            if (!bs[k]) continue;
            glBindBuffer(GL_SHADER_STORAGE_BUFFER, bs[k]);
            glBufferData(GL_SHADER_STORAGE_BUFFER, (GLsizeiptr)bytes, NULL, GL_DYNAMIC_COPY);
        }
    }
    g->logits_ready = 0;
}

void gl_finish(void) { glFinish(); }

// ---------------------------------------------------------------------------------------
// the interpreter

// Copies rows [t0, t0+n) of buffer id (width floats) to dst.
static void read_rows(GLuint buf, int t0, int n, int width, float* dst) {
    glMemoryBarrier(GL_BUFFER_UPDATE_BARRIER_BIT);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, buf);
    size_t off = (size_t)t0 * (size_t)width * sizeof(float);
    size_t len = (size_t)n * (size_t)width * sizeof(float);
    const void* p = glMapBufferRange(GL_SHADER_STORAGE_BUFFER, (GLintptr)off, (GLsizeiptr)len,
                                     GL_MAP_READ_BIT);
    if (p) {
        memcpy(dst, p, len);
        glUnmapBuffer(GL_SHADER_STORAGE_BUFFER);
    } else {
        memset(dst, 0, len);
    }
}

static void run_op(struct GlEngine* g, int i, int t0, int n) {
    const struct Op* op = &g->g.ops[i];
    const struct Buf* B = g->g.bufs;
    int pos0 = (int)g->n_past;
    int wout = B[op->out].width;
    int gx, gy;
    switch (op->kind) {
    case OP_EMBED: {
        const struct GlTensor* E = &g->wt[op->w[0]];
        gl_grid((int64_t)n * wout, &gx, &gy);
        for (int c = 0; c < E->n_chunks; c++) {
            int u[7] = {wout, wout, t0, n, (int)(c * E->rows_per_chunk), (int)E->rows_per_chunk,
                        (int)E->row_bytes};
            gl_dispatch(g, g->op_prog[i], gx, gy, 1, u, 7,
                        (const GLuint[]){g->bufs[op->out], g->tokens, E->bufs[c]}, 3);
        }
        break;
    }
    case OP_RMSNORM: {
        float eps = (float)op->p.norm.eps;
        int eb;
        memcpy(&eb, &eps, 4);
        gl_dispatch(g, g->op_prog[i], n, 1, 1, (const int[]){wout, wout, B[op->in[0]].width, t0, eb},
                    5, (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], g->wt[op->w[0]].bufs[0]},
                    3);
        break;
    }
    case OP_MATMUL: {
        const struct GlTensor* W = &g->wt[op->w[0]];
        GLuint bias = op->w[1] >= 0 ? g->wt[op->w[1]].bufs[0] : g->dummy;
        int prog = n == 1 ? g->op_prog1[i] : g->op_prog[i];
        int rpg = matmul_rpg(W);
        int tiles = n == 1 ? 1 : (n + NT_BATCH - 1) / NT_BATCH;
        for (int c = 0; c < W->n_chunks; c++) {
            int64_t r0 = (int64_t)c * W->rows_per_chunk;
            int rows = (int)(W->rows - r0 < W->rows_per_chunk ? W->rows - r0 : W->rows_per_chunk);
            int groups = (rows + rpg - 1) / rpg;
            int rx = groups < 65535 ? groups : 65535, ry = (groups + rx - 1) / rx;
            int u[9] = {(int)W->n_in, B[op->in[0]].width, wout, rows, (int)r0, t0, n,
                        op->w[1] >= 0, (int)W->row_bytes};
            gl_dispatch(g, prog, rx, ry, tiles, u, 9,
                        (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], W->bufs[c], bias}, 4);
        }
        break;
    }
    case OP_ROPE: {
        gl_grid((int64_t)n * op->p.rope.n_head * (op->p.rope.head_dim / 2), &gx, &gy);
        int u[9] = {op->p.rope.n_head, op->p.rope.head_dim, op->p.rope.n_rot,
                    op->p.rope.type == ROPE_NEOX, wout, B[op->in[0]].width, t0, n, pos0};
        gl_dispatch(g, g->op_prog[i], gx, gy, 1, u, 9,
                    (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], g->rope_tab[i]}, 3);
        break;
    }
    case OP_ATTN: {
        int w = g->g.states[op->state].width;
        GLuint K = g->state_k[op->state], V = g->state_v[op->state];
        gl_grid((int64_t)n * w, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){w, B[op->in[1]].width, B[op->in[2]].width, t0, n, pos0}, 6,
                    (const GLuint[]){K, V, g->bufs[op->in[1]], g->bufs[op->in[2]]}, 4);
        float scale = (float)op->p.attn.scale;
        int sb;
        memcpy(&sb, &scale, 4);
        int u[10] = {op->p.attn.n_head, op->p.attn.n_head_kv, op->p.attn.head_dim,
                     op->p.attn.window, sb, B[op->in[0]].width, wout, w, t0, pos0};
        gl_dispatch(g, g->op_prog1[i], op->p.attn.n_head, n, 1, u, 10,
                    (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], K, V}, 4);
        break;
    }
    case OP_ADD:
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, wout, B[op->in[0]].width, B[op->in[1]].width, t0, n}, 6,
                    (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], g->bufs[op->in[1]]}, 3);
        break;
    case OP_GLU:
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, wout, B[op->in[0]].width, B[op->in[1]].width, t0, n,
                                  (int)op->p.glu.act}, 7,
                    (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], g->bufs[op->in[1]]}, 3);
        break;
    case OP_LAYERNORM:
    case OP_TOKEN_SHIFT:
    case OP_LERP:
    case OP_UNARY:
    case OP_MUL:
    case OP_RWKV7_KK:
    case OP_RWKV7_KA:
    case OP_WKV7:
    case OP_RWKV7_BONUS:
    case OP_SLICE:
    case OP_SSM_CONV:
    case OP_SSM_SCAN:
    case OP_SSM_SCAN2:
    case OP_RMSNORM_GROUP:
    case OP_MOE:
    case OP_COUNT: break;  // refused by gl_init
    }
}

int gl_forward(struct GlEngine* g, const int32_t* tokens, int n, int last_only, struct Err* e) {
    if (n < 1 || n > g->max_batch)
        return err_set(e, ERR_ARG, "gl_forward: batch of %d (1..%d)", n, g->max_batch);
    if (g->n_past + n > g->n_ctx)
        return err_set(e, ERR_ARG, "the context of %d tokens is full (%lld used, %d more asked); "
                       "raise -c", g->n_ctx, (long long)g->n_past, n);
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= g->m->config.n_vocab)
            return err_set(e, ERR_ARG, "token id %d is outside the vocabulary (0..%d)", tokens[t],
                           g->m->config.n_vocab - 1);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, g->tokens);
    glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)((size_t)n * sizeof(int32_t)), tokens);
    int t_last = last_only ? n - 1 : 0;
    for (int i = 0; i < g->g.n_ops; i++) {
        const struct Op* op = &g->g.ops[i];
        // The final norm and classifier only matter for rows whose logits are read.
        int t0 = (op->layer < 0 && op->kind != OP_EMBED) ? t_last : 0;
        run_op(g, i, t0, n - t0);
        if (g->hook) {
            int w = g->g.bufs[op->out].width;
            read_rows(g->bufs[op->out], t0, n - t0, w, g->hook_buf);
            g->hook(g->hook_ctx, op, g->n_past + t0, n - t0, g->hook_buf, w);
        }
    }
    g->n_past += n;
    g->last_t0 = t_last;
    g->last_n = n;
    g->logits_ready = 0;
    return gl_error("gl_forward", e);
}

const float* gl_logits(struct GlEngine* g, int t) {
    int nv = g->g.bufs[g->g.logits].width;
    if (!g->logits_ready) {
        read_rows(g->bufs[g->g.logits], g->last_t0, g->last_n - g->last_t0, nv,
                  g->logits_host + (size_t)g->last_t0 * nv);
        g->logits_ready = 1;
    }
    return g->logits_host + (size_t)t * nv;
}
