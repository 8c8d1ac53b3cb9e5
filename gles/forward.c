// forward.c: the GLES engine's lifecycle (see gles.h): gl_init builds the graph and sizes
// every buffer, then hands over to ops.c (scratch, programs), fuse.c (the one-row plan) and
// weights.c (uploads); gl_forward encodes the ops (ops.c, or fuse.c's fused dispatches) with
// nothing waiting for the GPU; gl_logits (or a hook) is the only read-back.
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "gles_int.h"
#include "programs.h"

// ---------------------------------------------------------------------------------------
// init / free

void gl_free(struct GlEngine* g) {
    if (!g) return;
    if (g->renderer) { // the context exists: GL objects can be deleted
        glDeleteBuffers(GRAPH_MAX_BUFS, g->bufs);
        for (int s = 0; s < g->g.n_states; s++) {
            if (g->state_k) glDeleteBuffers(1, &g->state_k[s]);
            if (g->state_v) glDeleteBuffers(1, &g->state_v[s]);
        }
        gl_weights_delete(g);
        if (g->attn_part) glDeleteBuffers(1, &g->attn_part);
        if (g->attn_count) glDeleteBuffers(1, &g->attn_count);
        if (g->readback) glDeleteBuffers(1, &g->readback);
        if (g->queries) glDeleteQueries(g->g.n_ops + 1, g->queries);
        glDeleteBuffers(1, &g->tokens);
        glDeleteBuffers(1, &g->dummy);
        GLuint moe[6] = {g->moe_logits, g->moe_sel, g->moe_pw, g->moe_hg, g->moe_hu, g->moe_eo};
        for (int k = 0; k < 6; k++)
            if (moe[k]) glDeleteBuffers(1, &moe[k]);
        gl_programs_free(g);
        gl_context_release();
    }
    gl_weights_free(g);
    free(g->state_k);
    free(g->state_v);
    free(g->op_prog);
    free(g->op_prog1);
    free(g->moe);
    free(g->fuse);
    free(g->logits_host);
    free(g->hook_buf);
    free(g->queries);
    free(g->op_ns);
    graph_free(&g->g);
    memset(g, 0, sizeof(*g));
}

int gl_init(struct GlEngine* g, const struct Model* m, int n_ctx, int max_batch,
            const struct GlOptions* opt, struct Err* e) {
    memset(g, 0, sizeof(*g));
    if (opt) g->opt = *opt;
    g->m = m;
    g->n_ctx = n_ctx;
    g->max_batch = max_batch;
    if (n_ctx < 1 || max_batch < 1)
        return err_set(e, ERR_ARG, "gl_init: context %d and batch %d must be positive", n_ctx,
                       max_batch);
    int rc = gl_context_acquire(g->opt.egl, &g->egl_path, &g->renderer, e);
    if (rc) {
        g->renderer = NULL;
        return rc;
    }
    if ((rc = graph_build(&g->g, m, e))) goto fail;
    glGetIntegerv(GL_MAX_SHADER_STORAGE_BLOCK_SIZE, &g->max_ssbo);
    // opt.max_ssbo lowers the weight chunk size (the tests force the split path with it).
    g->weight_chunk = (size_t)g->max_ssbo;
    if (g->opt.max_ssbo > 0 && g->opt.max_ssbo < g->weight_chunk) g->weight_chunk = g->opt.max_ssbo;
    g->subgroup = g->opt.no_subgroup ? 0 : gl_subgroup_lanes();
    gl_matvec_shape(g);
    int widest = 1;
    for (int i = 0; i < g->g.n_bufs; i++) {
        size_t bytes = (size_t)max_batch * (size_t)g->g.bufs[i].width * sizeof(float);
        if (bytes > (size_t)g->max_ssbo) {
            rc = err_set(e, ERR_UNSUPPORTED,
                         "gl_init: buffer '%s' of %d x %d floats exceeds the "
                         "SSBO limit of %d bytes; use a smaller batch",
                         g->g.bufs[i].name, max_batch, g->g.bufs[i].width, (int)g->max_ssbo);
            goto fail;
        }
        g->bufs[i] = gl_buffer_new(bytes, NULL);
        if (g->g.bufs[i].width > widest) widest = g->g.bufs[i].width;
    }
    g->state_k = calloc((size_t)g->g.n_states + 1, sizeof(GLuint));
    g->state_v = calloc((size_t)g->g.n_states + 1, sizeof(GLuint));
    g->wt = calloc((size_t)m->gguf.n_tensors + 1, sizeof(*g->wt));
    g->rope_tab = calloc((size_t)g->g.n_ops + 1, sizeof(GLuint));
    g->op_prog = calloc((size_t)g->g.n_ops + 1, sizeof(int));
    g->op_prog1 = calloc((size_t)g->g.n_ops + 1, sizeof(int));
    g->moe = calloc((size_t)g->g.n_ops + 1, sizeof(*g->moe));
    g->logits_host = malloc((size_t)max_batch * (size_t)m->config.n_vocab * sizeof(float));
    g->hook_buf = malloc((size_t)max_batch * (size_t)widest * sizeof(float));
    if (!g->state_k || !g->state_v || !g->wt || !g->rope_tab || !g->op_prog || !g->op_prog1 ||
        !g->moe || !g->logits_host || !g->hook_buf) {
        rc = err_set(e, ERR_NOMEM, "gl_init: out of memory");
        goto fail;
    }
    for (int s = 0; s < g->g.n_states; s++) {
        const struct StateDesc* sd = &g->g.states[s];
        switch (sd->kind) {
        case STATE_KV: {
            size_t bytes = (size_t)gl_kv_rows(g, sd) * (size_t)sd->width * sizeof(float);
            if (bytes > (size_t)g->max_ssbo) {
                // TODO: split the KV cache like the weights; a context this long is rare here.
                rc = err_set(e, ERR_UNSUPPORTED,
                             "gl_init: a KV cache of %d x %d floats exceeds "
                             "the SSBO limit of %d bytes; lower -c",
                             gl_kv_rows(g, sd), sd->width, (int)g->max_ssbo);
                goto fail;
            }
            g->state_k[s] = gl_buffer_new(bytes, NULL);
            g->state_v[s] = gl_buffer_new(bytes, NULL);
            break;
        }
        // ---- rwkv7, mamba, griffin: one row, zeroed by gl_reset
        case STATE_SHIFT:
        case STATE_WKV:
        case STATE_CONV:
        case STATE_SSM:
        case STATE_RG_LRU:
            if ((size_t)sd->width * sizeof(float) > (size_t)g->max_ssbo) {
                rc = err_set(e, ERR_UNSUPPORTED,
                             "gl_init: a recurrent state of %d floats "
                             "exceeds the SSBO limit of %d bytes",
                             sd->width, (int)g->max_ssbo);
                goto fail;
            }
            g->state_k[s] = gl_buffer_new((size_t)sd->width * sizeof(float), NULL);
            break;
        case STATE_KIND_COUNT: break;
        }
    }
    g->tokens = gl_buffer_new((size_t)max_batch * sizeof(int32_t), NULL);
    g->dummy = gl_buffer_new(16, NULL);
    // The fused plan needs the scratch sizing (whether the split attention exists) and packs
    // some weights, so it comes between the two.
    if ((rc = gl_ops_scratch(g, e))) goto fail;
    if ((rc = gl_fuse_plan(g, e))) goto fail;
    if ((rc = gl_weights_upload(g, e))) goto fail;
    if ((rc = gl_ops_programs(g, e))) goto fail;
    if ((rc = gl_check("gl_init", e))) goto fail;
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
        GLuint bs[2] = {g->state_k[s], g->state_v[s]};
        if (sd->kind == STATE_KV) {
            size_t bytes = (size_t)gl_kv_rows(g, sd) * (size_t)sd->width * sizeof(float);
            for (int k = 0; k < 2; k++) {
                if (!bs[k]) continue;
                glBindBuffer(GL_SHADER_STORAGE_BUFFER, bs[k]);
                glBufferData(GL_SHADER_STORAGE_BUFFER, (GLsizeiptr)bytes, NULL, GL_DYNAMIC_COPY);
            }
        } else if (bs[0]) {
            // ---- rwkv7, mamba, griffin: a recurrent state starts at zero (glBufferData(NULL)
            // leaves the contents undefined)
            size_t bytes = (size_t)sd->width * sizeof(float);
            float* zero = calloc(1, bytes);
            glBindBuffer(GL_SHADER_STORAGE_BUFFER, bs[0]);
            if (zero) glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)bytes, zero);
            free(zero);
        }
    }
    g->logits_ready = 0;
}

void gl_finish(void) {
    glFinish();
}

// ---------------------------------------------------------------------------------------
// forward and read-back

// Copies rows [t0, t0+n) of buffer id (width floats) to dst.
static void read_rows(struct GlEngine* g, GLuint buf, int t0, int n, int width, float* dst) {
    gl_barrier(g);
    glMemoryBarrier(GL_BUFFER_UPDATE_BARRIER_BIT);
    size_t off = (size_t)t0 * (size_t)width * sizeof(float);
    size_t len = (size_t)n * (size_t)width * sizeof(float);
    // The rows go through a small read-back buffer: mapping a range of the activation buffer
    // itself cost time in proportion to the whole buffer on NVIDIA's driver (a batch of 512
    // rows of a 256000-word vocabulary: ~32 ms per generated token).
    if (len > g->readback_bytes) {
        if (g->readback) glDeleteBuffers(1, &g->readback);
        glGenBuffers(1, &g->readback);
        glBindBuffer(GL_COPY_WRITE_BUFFER, g->readback);
        glBufferData(GL_COPY_WRITE_BUFFER, (GLsizeiptr)len, NULL, GL_STREAM_READ);
        g->readback_bytes = len;
    }
    glBindBuffer(GL_COPY_READ_BUFFER, buf);
    glBindBuffer(GL_COPY_WRITE_BUFFER, g->readback);
    glCopyBufferSubData(GL_COPY_READ_BUFFER, GL_COPY_WRITE_BUFFER, (GLintptr)off, 0,
                        (GLsizeiptr)len);
    const void* p = glMapBufferRange(GL_COPY_WRITE_BUFFER, 0, (GLsizeiptr)len, GL_MAP_READ_BIT);
    if (p) {
        memcpy(dst, p, len);
        glUnmapBuffer(GL_COPY_WRITE_BUFFER);
    } else {
        memset(dst, 0, len);
    }
}

int gl_forward(struct GlEngine* g, const int32_t* tokens, int n, int last_only, struct Err* e) {
    if (n < 1 || n > g->max_batch)
        return err_set(e, ERR_ARG, "gl_forward: batch of %d (1..%d)", n, g->max_batch);
    if (g->n_past + n > g->n_ctx)
        return err_set(e, ERR_ARG,
                       "the context of %d tokens is full (%lld used, %d more asked); "
                       "raise -c",
                       g->n_ctx, (long long)g->n_past, n);
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= g->m->config.n_vocab)
            return err_set(e, ERR_ARG, "token id %d is outside the vocabulary (0..%d)", tokens[t],
                           g->m->config.n_vocab - 1);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, g->tokens);
    glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)((size_t)n * sizeof(int32_t)), tokens);
    int t_last = last_only ? n - 1 : 0;
    gl_profile_mark(g, 0);
    g->fusing = n == 1 && !g->hook && g->fuse_on; // fuse.c
    for (int i = 0; i < g->g.n_ops; i++) {
        const struct Op* op = &g->g.ops[i];
        // The final norm and classifier only matter for rows whose logits are read.
        int t0 = i >= g->g.first_tail_op ? t_last : 0;
        if (!g->fusing || !gl_fuse_run(g, i)) gl_ops_run(g, i, t0, n - t0);
        if (g->hook) {
            int w = g->g.bufs[op->out].width;
            read_rows(g, g->bufs[op->out], t0, n - t0, w, g->hook_buf);
            g->hook(g->hook_ctx, op, g->n_past + t0, n - t0, g->hook_buf, w);
        }
        gl_profile_mark(g, i + 1);
    }
    if (g->queries) gl_profile_collect(g);
    g->n_past += n;
    g->last_t0 = t_last;
    g->last_n = n;
    g->logits_ready = 0;
    return gl_check("gl_forward", e);
}

const float* gl_logits(struct GlEngine* g, int t) {
    int nv = g->g.bufs[g->g.logits].width;
    if (!g->logits_ready) {
        read_rows(g, g->bufs[g->g.logits], g->last_t0, g->last_n - g->last_t0, nv,
                  g->logits_host + (size_t)g->last_t0 * nv);
        g->logits_ready = 1;
    }
    return g->logits_host + (size_t)t * nv;
}
