// programs.c: compiles the embedded shaders (or, with opt.shader_dir set, the files on disk)
// and runs them. Every kernel source is three strings: a generated head (#version, precision,
// LOCAL_X, the variant's defines), shaders/common.glsl, then shaders/<op>.comp.
#include "programs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shaders/registry.inc"

static char* load_file(const char* dir, const char* name, int* len) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char* s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) *len = (int)n;
    return s;
}

// Copies the first line of a driver log that names an error (else the log's start).
static void first_error(char* dst, size_t cap, const char* log) {
    const char* p = strstr(log, "error");
    if (!p) p = log;
    while (p > log && p[-1] != '\n')
        p--;
    size_t n = strcspn(p, "\n");
    if (n >= cap) n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = 0;
}

int gl_compile(GLuint* out, const char* name, const char* defines, const char* common,
               int common_len, const char* kernel, int kernel_len, struct Err* e) {
    char head[512];
    snprintf(
        head, sizeof(head),
        "#version 310 es\n%s#define LOCAL_X %d\nprecision highp float;\nprecision highp int;\n",
        defines, GL_LOCAL_X); // defines first: they may hold #extension lines
    const char* src[3] = {head, common, kernel};
    GLint len[3] = {-1, (GLint)common_len, (GLint)kernel_len};
    GLuint sh = glCreateShader(GL_COMPUTE_SHADER);
    if (!sh)
        return err_set(e, ERR_GL, "shader %s.comp: glCreateShader failed; use mattn-ref", name);
    glShaderSource(sh, 3, src, len);
    glCompileShader(sh);
    GLint ok = 0;
    char log[4096] = "", line[160];
    glGetShaderiv(sh, GL_COMPILE_STATUS, &ok);
    if (!ok) {
        glGetShaderInfoLog(sh, sizeof(log), NULL, log);
        glDeleteShader(sh);
        first_error(line, sizeof(line), log);
        return err_set(e, ERR_GL,
                       "shader %s.comp does not compile on this GL driver (%s); use "
                       "mattn-ref",
                       name, line);
    }
    GLuint p = glCreateProgram();
    glAttachShader(p, sh);
    glLinkProgram(p);
    glDeleteShader(sh);
    glGetProgramiv(p, GL_LINK_STATUS, &ok);
    if (!ok) {
        glGetProgramInfoLog(p, sizeof(log), NULL, log);
        glDeleteProgram(p);
        first_error(line, sizeof(line), log);
        return err_set(e, ERR_GL,
                       "shader %s.comp does not link on this GL driver (%s); use "
                       "mattn-ref",
                       name, line);
    }
    *out = p;
    return 0;
}

// Compiles kernel k from the embedded sources, or from opt.shader_dir's files when it is set.
static int compile(struct GlEngine* g, GLuint* out, enum Kernel k, const char* defines,
                   struct Err* e) {
    const char* name = KERNELS[k].name;
    const char* dir = g->opt.shader_dir;
    if (!dir || !*dir)
        return gl_compile(out, name, defines, (const char*)COMMON_SRC, (int)COMMON_LEN,
                          (const char*)KERNELS[k].data, (int)KERNELS[k].len, e);
    char fname[96];
    int len_common = 0, len_kernel = 0;
    snprintf(fname, sizeof(fname), "%s.comp", name);
    char* disk_common = load_file(dir, "common.glsl", &len_common);
    char* disk_kernel = load_file(dir, fname, &len_kernel);
    int rc =
        disk_common && disk_kernel
            ? gl_compile(out, name, defines, disk_common, len_common, disk_kernel, len_kernel, e)
            : err_set(e, ERR_GL, "shader directory: cannot read %s/common.glsl or %s/%s", dir, dir,
                      fname);
    free(disk_common);
    free(disk_kernel);
    return rc;
}

int gl_program(struct GlEngine* g, enum Kernel k, const char* defines, struct Err* e) {
    for (int i = 0; i < g->n_progs; i++)
        if (g->progs[i].kernel == k && !strcmp(g->progs[i].defines, defines)) return i;
    if (strlen(defines) >= sizeof(g->progs[0].defines))
        return err_set(e, ERR_GL, "gl_program: defines too long for %s", KERNELS[k].name);
    if (g->n_progs == g->cap_progs) {
        int cap = g->cap_progs ? 2 * g->cap_progs : 32;
        struct GlProg* p = realloc(g->progs, (size_t)cap * sizeof(*p));
        if (!p) return err_set(e, ERR_NOMEM, "gl_program: out of memory");
        g->progs = p;
        g->cap_progs = cap;
    }
    GLuint prog = 0;
    int rc = compile(g, &prog, k, defines, e);
    if (rc) return rc;
    struct GlProg* p = &g->progs[g->n_progs];
    p->kernel = k;
    snprintf(p->defines, sizeof(p->defines), "%s", defines);
    p->prog = prog;
    return g->n_progs++;
}

void gl_programs_free(struct GlEngine* g) {
    for (int i = 0; i < g->n_progs; i++)
        glDeleteProgram(g->progs[i].prog);
    free(g->progs);
    g->progs = NULL;
    g->n_progs = g->cap_progs = 0;
}

void gl_barrier(struct GlEngine* g) {
    glMemoryBarrier(GL_SHADER_STORAGE_BARRIER_BIT);
    g->n_pend_r = g->n_pend_w = 0;
}

static int pending(const GLuint* set, int n, GLuint b) {
    for (int i = 0; i < n; i++)
        if (set[i] == b) return 1;
    return 0;
}

unsigned gl_kernel_writes(enum Kernel k) {
    return KERNELS[k].writes;
}

void gl_dispatch(struct GlEngine* g, int prog, int gx, int gy, int gz, const int* uni, int n_uni,
                 const GLuint* bufs, int n_bufs) {
    // The bindings the shader may write (its non-readonly SSBOs, from the generated registry);
    // the dummy buffer stands where a binding is unused and is never written.
    unsigned writes = KERNELS[g->progs[prog].kernel].writes;
    for (int i = 0; i < n_bufs; i++)
        if (bufs[i] == g->dummy && g->dummy) writes &= ~(1u << i);
    int hazard = g->n_pend_r + n_bufs > GL_MAX_PENDING || g->n_pend_w + n_bufs > GL_MAX_PENDING;
    for (int i = 0; i < n_bufs && !hazard; i++)
        hazard = pending(g->pend_w, g->n_pend_w, bufs[i]) ||
                 ((writes >> i & 1u) && pending(g->pend_r, g->n_pend_r, bufs[i]));
    if (hazard) gl_barrier(g);
    glUseProgram(g->progs[prog].prog);
    for (int i = 0; i < n_bufs; i++)
        glBindBufferBase(GL_SHADER_STORAGE_BUFFER, (GLuint)i, bufs[i]);
    if (n_uni > 0) glUniform1iv(0, n_uni, uni);
    glDispatchCompute((GLuint)gx, (GLuint)gy, (GLuint)gz);
    for (int i = 0; i < n_bufs; i++) {
        if (writes >> i & 1u)
            g->pend_w[g->n_pend_w++] = bufs[i];
        else
            g->pend_r[g->n_pend_r++] = bufs[i];
    }
}

void gl_grid(int64_t n, int* gx, int* gy) {
    int64_t groups = (n + GL_LOCAL_X - 1) / GL_LOCAL_X;
    if (groups < 1) groups = 1;
    int64_t x = groups < 65535 ? groups : 65535;
    *gx = (int)x;
    *gy = (int)((groups + x - 1) / x);
}

int gl_chunk_rows(const struct GlTensor* w, int c) {
    int64_t r0 = (int64_t)c * w->rows_per_chunk;
    return (int)(w->rows - r0 < w->rows_per_chunk ? w->rows - r0 : w->rows_per_chunk);
}

int gl_float_bits(double x) {
    float f = (float)x;
    int b;
    memcpy(&b, &f, 4);
    return b;
}

void gl_groups_2d(int groups, int* gx, int* gy) {
    *gx = groups < 65535 ? (groups > 0 ? groups : 1) : 65535;
    *gy = (groups + *gx - 1) / *gx;
}
