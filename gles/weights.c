// weights.c: the weights on the GPU (see gles_int.h): matrices keep their GGUF bytes in
// chunks of whole rows, small tensors become float arrays, the fused plan's q;k;v and gate;up
// are packed into one buffer each, and each rope op gets a (cos, sin) table.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "gles_int.h"

// ---------------------------------------------------------------------------------------
// tensors

const char* gl_wtype_define(enum GgmlType t) {
    switch (t) {
    case GGML_TYPE_F32: return "WTYPE_F32";
    case GGML_TYPE_F16: return "WTYPE_F16";
    case GGML_TYPE_BF16: return "WTYPE_BF16";
    case GGML_TYPE_Q8_0: return "WTYPE_Q8_0";
    case GGML_TYPE_Q4_0: return "WTYPE_Q4_0";
    case GGML_TYPE_Q4_1: return "WTYPE_Q4_1";
    case GGML_TYPE_Q5_0: return "WTYPE_Q5_0";
    case GGML_TYPE_Q5_1: return "WTYPE_Q5_1";
    case GGML_TYPE_Q2_K: return "WTYPE_Q2_K";
    case GGML_TYPE_Q3_K: return "WTYPE_Q3_K";
    case GGML_TYPE_Q4_K: return "WTYPE_Q4_K";
    case GGML_TYPE_Q5_K: return "WTYPE_Q5_K";
    case GGML_TYPE_Q6_K: return "WTYPE_Q6_K";
    case GGML_TYPE_IQ4_NL: return "WTYPE_IQ4_NL";
    default: return NULL; // the IQ*_XXS/XS/S/M, TQ and MXFP4 types: no decoder
    }
}

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
        w->bufs[0] = gl_buffer_new(w->row_bytes, f);
        w->n_chunks = 1;
        free(f);
        return gl_check("gl_init: uploading a vector", e);
    }
    if (!gl_wtype_define(t->type))
        return err_set(
            e, ERR_UNSUPPORTED,
            "gl_init: tensor '%s' is %s; the GLES engine reads "
            "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K and IQ4_NL (use mattn-ref)",
            t->name, quant_type_name(t->type));
    w->type = t->type;
    w->n_in = t->ne[0];
    w->rows = t->n_elements / t->ne[0];
    w->row_bytes = quant_row_size(t->type, t->ne[0]);
    size_t limit = g->weight_chunk;
    w->rows_per_chunk = (int64_t)((limit - 4) / w->row_bytes); // 4: see the padding below
    if (w->rows_per_chunk < 1)
        return err_set(e, ERR_UNSUPPORTED,
                       "gl_init: one row of '%s' (%zu bytes) exceeds the "
                       "SSBO limit of %zu bytes",
                       t->name, w->row_bytes, limit);
    if (w->rows_per_chunk > w->rows) w->rows_per_chunk = w->rows;
    int n = (int)((w->rows + w->rows_per_chunk - 1) / w->rows_per_chunk);
    w->bufs = calloc((size_t)n, sizeof(GLuint));
    if (!w->bufs) return err_set(e, ERR_NOMEM, "gl_init: out of memory");
    for (int c = 0; c < n; c++) {
        int64_t r0 = (int64_t)c * w->rows_per_chunk;
        int64_t nr = w->rows - r0 < w->rows_per_chunk ? w->rows - r0 : w->rows_per_chunk;
        // A chunk is padded by 4 bytes: w_u32() on the last block may touch the next word.
        size_t bytes = (size_t)nr * w->row_bytes;
        GLuint b = gl_buffer_new(bytes + 4, NULL);
        glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)bytes,
                        (const uint8_t*)t->data + (size_t)r0 * w->row_bytes);
        w->bufs[c] = b;
        w->n_chunks = c + 1;
    }
    char what[200];
    snprintf(what, sizeof(what), "gl_init: uploading '%s'", t->name);
    return gl_check(what, e);
}

// Bytes of the weights of mat-vecs ops[0..n) back to back.
size_t gl_packed_bytes(const struct GlEngine* g, const int* ops, int n) {
    size_t bytes = 0;
    for (int k = 0; k < n; k++) {
        const struct GgufTensor* t = &g->m->gguf.tensors[g->g.ops[ops[k]].w[0]];
        bytes += quant_row_size(t->type, t->ne[0]) * (size_t)(t->n_elements / t->ne[0]);
    }
    return bytes;
}

// Uploads the weights of mat-vecs ops[0..n) back to back into one buffer (once).
int gl_upload_packed(struct GlEngine* g, const int* ops, int n, struct Err* e) {
    if (g->wt[g->g.ops[ops[0]].w[0]].n_chunks) return 0;              // packed by an earlier use
    GLuint buf = gl_buffer_new(gl_packed_bytes(g, ops, n) + 4, NULL); // + 4: as upload_tensor
    size_t off = 0;
    int64_t base = 0;
    for (int k = 0; k < n; k++) {
        int id = g->g.ops[ops[k]].w[0];
        const struct GgufTensor* t = &g->m->gguf.tensors[id];
        struct GlTensor* w = &g->wt[id];
        w->type = t->type;
        w->n_in = t->ne[0];
        w->rows = t->n_elements / t->ne[0];
        w->row_bytes = quant_row_size(t->type, t->ne[0]);
        w->rows_per_chunk = w->rows;
        w->bufs = malloc(sizeof(GLuint));
        if (!w->bufs) return err_set(e, ERR_NOMEM, "gl_init: out of memory");
        w->bufs[0] = buf;
        w->n_chunks = 1;
        w->row_base = base;
        w->borrowed = k > 0;
        glBindBuffer(GL_SHADER_STORAGE_BUFFER, buf);
        glBufferSubData(GL_SHADER_STORAGE_BUFFER, (GLintptr)off,
                        (GLsizeiptr)(w->row_bytes * (size_t)w->rows), t->data);
        off += w->row_bytes * (size_t)w->rows;
        base += w->rows;
    }
    return gl_check("gl_init: uploading packed weights", e);
}

// ---------------------------------------------------------------------------------------
// rope tables: (cos, sin) per (position, pair) in double, shared by ops with equal parameters

static GLuint rope_table(struct GlEngine* g, const struct Op* op, struct Err* e) {
    int n_op = (int)(op - g->g.ops);
    for (int i = 0; i < n_op; i++) {
        const struct Op* p = &g->g.ops[i];
        if (p->kind == OP_ROPE && g->rope_tab[i] && p->p.rope.n_rot == op->p.rope.n_rot &&
            p->p.rope.freq_base == op->p.rope.freq_base &&
            p->p.rope.freq_scale == op->p.rope.freq_scale && p->w[0] == op->w[0])
            return g->rope_tab[i];
    }
    int half = op->p.rope.n_rot / 2;
    float* tab = malloc((size_t)g->n_ctx * (size_t)(half > 0 ? half : 1) * 2 * sizeof(float));
    double* f = op->w[0] >= 0 ? malloc((size_t)(half + 1) * sizeof(double)) : NULL;
    if (!tab || (op->w[0] >= 0 && !f)) {
        free(tab);
        free(f);
        err_set(e, ERR_NOMEM, "gl_init: out of memory for a rope table");
        return 0;
    }
    if (f) {
        const struct GgufTensor* t = &g->m->gguf.tensors[op->w[0]];
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
    GLuint b = gl_buffer_new((size_t)g->n_ctx * (size_t)half * 2 * sizeof(float), tab);
    free(tab);
    free(f);
    return b;
}

// ---------------------------------------------------------------------------------------
// all of a graph's weights

int gl_weights_upload(struct GlEngine* g, struct Err* e) {
    int rc = 0;
    for (int i = 0; i < g->g.n_ops && !rc; i++) {
        const struct Op* op = &g->g.ops[i];
        for (int k = 0; k < OP_MAX_W && !rc; k++)
            if (op->w[k] >= 0)
                rc = upload_tensor(g, op->w[k], OP_INFO[op->kind].w[k] == WROLE_MATRIX, e);
        if (!rc && op->kind == OP_ROPE && !(g->rope_tab[i] = rope_table(g, op, e)))
            rc = ERR_NOMEM; // rope_table's only failure
    }
    return rc;
}

void gl_weights_delete(struct GlEngine* g) {
    if (g->wt && g->m)
        for (int64_t i = 0; i < g->m->gguf.n_tensors; i++)
            if (g->wt[i].n_chunks && !g->wt[i].borrowed)
                glDeleteBuffers(g->wt[i].n_chunks, g->wt[i].bufs);
    if (g->rope_tab)
        for (int i = 0; i < g->g.n_ops; i++) {
            int shared = 0;
            for (int j = 0; j < i && !shared; j++)
                shared = g->rope_tab[j] == g->rope_tab[i];
            if (g->rope_tab[i] && !shared) glDeleteBuffers(1, &g->rope_tab[i]);
        }
}

void gl_weights_free(struct GlEngine* g) {
    if (g->wt && g->m)
        for (int64_t i = 0; i < g->m->gguf.n_tensors; i++)
            free(g->wt[i].bufs);
    free(g->wt);
    free(g->rope_tab);
    g->wt = NULL;
    g->rope_tab = NULL;
}
