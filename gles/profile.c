// profile.c: per-op GPU time (gl_profile): a GL_EXT_disjoint_timer_query timestamp before the
// first op and after every op; the entry points live in struct GlEngine.
#include <EGL/egl.h>
#include <stdlib.h>

#include "buffer.h"
#include "gles_int.h"

#define GL_TIMESTAMP_EXT 0x8E28

int gl_profile(struct GlEngine* g, int on, struct Err* e) {
    if (g->queries) {
        glDeleteQueries(g->g.n_ops + 1, g->queries);
        free(g->queries);
        g->queries = NULL;
    }
    if (!on) return 0;
    int ext = gl_has_extension("GL_EXT_disjoint_timer_query");
    g->query_counter = (void (*)(GLuint, GLenum))eglGetProcAddress("glQueryCounterEXT");
    g->query_u64 =
        (void (*)(GLuint, GLenum, GLuint64*))eglGetProcAddress("glGetQueryObjectui64vEXT");
    if (!ext || !g->query_counter || !g->query_u64)
        return err_set(e, ERR_UNSUPPORTED,
                       "profiling needs GL_EXT_disjoint_timer_query, which "
                       "%s lacks",
                       g->renderer);
    free(g->op_ns);
    g->queries = calloc((size_t)g->g.n_ops + 1, sizeof(GLuint));
    g->op_ns = calloc((size_t)g->g.n_ops + 1, sizeof(double));
    g->n_profiled = 0;
    if (!g->queries || !g->op_ns) return err_set(e, ERR_NOMEM, "gl_profile: out of memory");
    glGenQueries(g->g.n_ops + 1, g->queries);
    return gl_check("gl_profile", e);
}

void gl_profile_collect(struct GlEngine* g) {
    GLuint64 prev = 0, t = 0;
    for (int i = 0; i <= g->g.n_ops; i++) {
        g->query_u64(g->queries[i], GL_QUERY_RESULT, &t); // waits for the GPU
        if (i > 0) g->op_ns[i - 1] += (double)(t - prev);
        prev = t;
    }
    g->n_profiled++;
}

void gl_profile_mark(struct GlEngine* g, int i) {
    if (g->queries) g->query_counter(g->queries[i], GL_TIMESTAMP_EXT);
}
