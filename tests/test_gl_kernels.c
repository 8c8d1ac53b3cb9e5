// test_gl_kernels.c: every compute shader against its FP64 ref kernel (ref/kernels.h) on
// seeded random inputs, with sizes that are not multiples of the work-group size (64) or of
// the mat-mat tile (8 positions), and every weight type the matmul and embed shaders read.
// Each test skips when no OpenGL ES 3.1 context can be created.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "gles.h"
#include "kernels.h"
#include "programs.h"
#include "quant.h"

static struct GlEngine G;  // just a program cache: no model
static int have_gl;

static int setup(void** state) {
    (void)state;
    struct Err e = {0};
    have_gl = gl_context_acquire(&G.egl_path, &G.renderer, &e) == 0;
    if (!have_gl) fprintf(stderr, "skip: %s\n", e.msg);
    else fprintf(stderr, "gl: %s via %s\n", G.renderer, G.egl_path);
    return 0;
}

static int teardown(void** state) {
    (void)state;
    if (have_gl) {
        gl_programs_free(&G);
        gl_context_release();
    }
    return 0;
}

static uint64_t rng = 88172645463325252ull;
static double urand(void) {  // xorshift64 in [-1, 1)
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static GLuint buf_f(const double* x, size_t n) {
    float* f = malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    GLuint b;
    glGenBuffers(1, &b);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, b);
    glBufferData(GL_SHADER_STORAGE_BUFFER, (GLsizeiptr)(n * sizeof(float) + 4), f, GL_DYNAMIC_COPY);
    free(f);
    return b;
}

static GLuint buf_bytes(const void* p, size_t n) {
    GLuint b;
    glGenBuffers(1, &b);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, b);
    glBufferData(GL_SHADER_STORAGE_BUFFER, (GLsizeiptr)(n + 4), NULL, GL_DYNAMIC_COPY);
    if (p) glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)n, p);
    return b;
}

// Reads n floats back as doubles.
static double* read_f(GLuint b, size_t n) {
    glMemoryBarrier(GL_BUFFER_UPDATE_BARRIER_BIT);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, b);
    const float* f = glMapBufferRange(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)(n * sizeof(float)),
                                      GL_MAP_READ_BIT);
    assert_non_null(f);
    double* d = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) d[i] = f[i];
    glUnmapBuffer(GL_SHADER_STORAGE_BUFFER);
    return d;
}

static int prog(enum Kernel k, const char* defines) {
    struct Err e = {0};
    int p = gl_program(&G, k, defines, &e);
    if (p < 0) fail_msg("%s", e.msg);
    return p;
}

static int fbits(double x) {
    float f = (float)x;
    int i;
    memcpy(&i, &f, 4);
    return i;
}

static double* rand_vec(size_t n, double scale) {
    double* x = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) x[i] = scale * urand();
    return x;
}

#define NEED_GL() \
    do {          \
        if (!have_gl) skip(); \
    } while (0)

// ---------------------------------------------------------------------------------------

static void test_rmsnorm_rows(void** state) {
    (void)state;
    NEED_GL();
    const int n = 100, rows = 3;
    double *x = rand_vec((size_t)rows * n, 2.0), *w = rand_vec(n, 1.0);
    double* want = malloc((size_t)rows * n * sizeof(double));
    for (int t = 0; t < rows; t++) rmsnorm(want + t * n, x + t * n, w, 0.0, n, 1e-5);
    GLuint bo = buf_f(x, (size_t)rows * n), bx = buf_f(x, (size_t)rows * n),
           bw = buf_f(w, n);
    gl_dispatch(&G, prog(K_RMSNORM, ""), rows, 1, 1, (const int[]){n, n, n, 0, fbits(1e-5)}, 5,
                (const GLuint[]){bo, bx, bw}, 3);
    double* got = read_f(bo, (size_t)rows * n);
    assert_close(got, want, (size_t)rows * n, 1e-6, 1e-5, "rmsnorm");
    GLuint bs[3] = {bo, bx, bw};
    glDeleteBuffers(3, bs);
    free(x), free(w), free(want), free(got);
}

// W (n_out rows of n_in, stored as type) @ x for n positions (+ bias), vs matmul_rows.
// rpg: rows per work group (matmul.comp RPG).
static void check_matmul(enum GgmlType type, int n_in, int n_out, int n, int bias, int rpg) {
    char d[160];
    snprintf(d, sizeof(d), "#define W_BINDING 2\n#define WTYPE_%s 1\n#define NT %d\n#define RPG %d\n",
             quant_traits(type)->upper, n == 1 ? 1 : 8, rpg);
    size_t rb = quant_row_size(type, n_in);
    uint8_t* wq = malloc(rb * (size_t)n_out);
    float* row = malloc((size_t)n_in * sizeof(float));
    for (int o = 0; o < n_out; o++) {
        for (int i = 0; i < n_in; i++) row[i] = (float)urand();
        assert_int_equal(quant_quantize_row(type, row, wq + (size_t)o * rb, n_in), 0);
    }
    double *x = rand_vec((size_t)n * n_in, 1.0), *b = rand_vec((size_t)n_out, 1.0);
    double* want = malloc((size_t)n * n_out * sizeof(double));
    for (int t = 0; t < n; t++)
        matmul_rows(want + (size_t)t * n_out, x + (size_t)t * n_in, wq, type, bias ? b : NULL,
                    n_in, 0, n_out);
    GLuint bo = buf_bytes(NULL, (size_t)n * n_out * 4), bx = buf_f(x, (size_t)n * n_in),
           bw = buf_bytes(wq, rb * (size_t)n_out), bb = buf_f(b, (size_t)n_out);
    // Two chunks of rows, as the engine splits a matrix over the SSBO limit.
    int half = n_out / 2;
    int u1[9] = {n_in, n_in, n_out, half, 0, 0, n, bias, (int)rb};
    GLuint bw2 = buf_bytes(wq + rb * (size_t)half, rb * (size_t)(n_out - half));
    gl_dispatch(&G, prog(K_MATMUL, d), (half + rpg - 1) / rpg, 1, (n + 7) / 8, u1, 9,
                (const GLuint[]){bo, bx, bw, bb}, 4);
    int u2[9] = {n_in, n_in, n_out, n_out - half, half, 0, n, bias, (int)rb};
    gl_dispatch(&G, prog(K_MATMUL, d), (n_out - half + rpg - 1) / rpg, 1, (n + 7) / 8, u2, 9,
                (const GLuint[]){bo, bx, bw2, bb}, 4);
    double* got = read_f(bo, (size_t)n * n_out);
    char label[64];
    snprintf(label, sizeof(label), "matmul %s %dx%d n=%d rpg=%d", quant_traits(type)->name, n_out,
             n_in, n, rpg);
    assert_close(got, want, (size_t)n * n_out, 1e-5, 1e-4, label);
    GLuint bs[5] = {bo, bx, bw, bb, bw2};
    glDeleteBuffers(5, bs);
    free(wq), free(row), free(x), free(b), free(want), free(got);
}

static void test_matmul_types(void** state) {
    (void)state;
    NEED_GL();
    const enum GgmlType types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0,
                                   GGML_TYPE_Q4_0};
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
        int plain = quant_traits(types[k])->block_size == 1;
        int n_in = plain ? 173 : 96;  // 173: odd, F16 rows start at 2-byte offsets
        check_matmul(types[k], n_in, 67, 1, 0, 1);
        check_matmul(types[k], n_in, 67, 11, 1, 1);
        check_matmul(types[k], n_in, 67, 1, 1, 8);   // 8 rows of 8 lanes per work group
        check_matmul(types[k], n_in, 67, 11, 0, 32); // 32 rows of 2 lanes
    }
    check_matmul(GGML_TYPE_Q4_0, 2048, 70, 3, 0, 1);  // long rows: many units per thread
}

static void test_embed_q4_0(void** state) {
    (void)state;
    NEED_GL();
    const int n_in = 64, n_vocab = 10, n = 5;
    size_t rb = quant_row_size(GGML_TYPE_Q4_0, n_in);
    uint8_t* wq = malloc(rb * n_vocab);
    float row[64];
    for (int o = 0; o < n_vocab; o++) {
        for (int i = 0; i < n_in; i++) row[i] = (float)urand();
        quant_quantize_row(GGML_TYPE_Q4_0, row, wq + (size_t)o * rb, n_in);
    }
    int32_t tok[5] = {3, 9, 0, 3, 7};
    double want[5 * 64];
    for (int t = 0; t < n; t++)
        quant_dequant_row(GGML_TYPE_Q4_0, wq + (size_t)tok[t] * rb, want + t * n_in, n_in);
    GLuint bo = buf_bytes(NULL, sizeof(want)), bt = buf_bytes(tok, sizeof(tok));
    // Split the table into rows 0..5 and 6..9, as for a table over the SSBO limit.
    GLuint b1 = buf_bytes(wq, rb * 6), b2 = buf_bytes(wq + rb * 6, rb * 4);
    int gx, gy;
    gl_grid((int64_t)n * n_in, &gx, &gy);
    int p = prog(K_EMBED, "#define W_BINDING 2\n#define WTYPE_Q4_0 1\n");
    gl_dispatch(&G, p, gx, gy, 1, (const int[]){n_in, n_in, 0, n, 0, 6, (int)rb}, 7,
                (const GLuint[]){bo, bt, b1}, 3);
    gl_dispatch(&G, p, gx, gy, 1, (const int[]){n_in, n_in, 0, n, 6, 4, (int)rb}, 7,
                (const GLuint[]){bo, bt, b2}, 3);
    double* got = read_f(bo, (size_t)n * n_in);
    assert_close(got, want, (size_t)n * n_in, 0, 1e-6, "embed q4_0");
    GLuint bs[4] = {bo, bt, b1, b2};
    glDeleteBuffers(4, bs);
    free(wq), free(got);
}

static void check_rope(int neox) {
    const int n_head = 3, hd = 16, n_rot = 12, n = 4, pos0 = 5, n_ctx = 16, half = n_rot / 2;
    const double base = 10000.0;
    double* x = rand_vec((size_t)n * n_head * hd, 1.0);
    double* want = malloc((size_t)n * n_head * hd * sizeof(double));
    memcpy(want, x, (size_t)n * n_head * hd * sizeof(double));
    for (int t = 0; t < n; t++)
        rope(want + (size_t)t * n_head * hd, n_head, hd, n_rot, neox, pos0 + t, base, 1.0, NULL);
    double* tab = malloc((size_t)n_ctx * half * 2 * sizeof(double));
    for (int p = 0; p < n_ctx; p++)
        for (int i = 0; i < half; i++) {
            double th = p * (1.0 / pow(base, (double)(2 * i) / n_rot));
            tab[2 * (p * half + i)] = cos(th);
            tab[2 * (p * half + i) + 1] = sin(th);
        }
    GLuint bx = buf_f(x, (size_t)n * n_head * hd), bt = buf_f(tab, (size_t)n_ctx * half * 2);
    int gx, gy;
    gl_grid((int64_t)n * n_head * (hd / 2), &gx, &gy);
    int w = n_head * hd;
    gl_dispatch(&G, prog(K_ROPE, ""), gx, gy, 1,
                (const int[]){n_head, hd, n_rot, neox, w, w, 0, n, pos0}, 9,
                (const GLuint[]){bx, bx, bt}, 3);
    double* got = read_f(bx, (size_t)n * w);
    assert_close(got, want, (size_t)n * w, 1e-6, 1e-5, neox ? "rope neox" : "rope norm");
    GLuint bs[2] = {bx, bt};
    glDeleteBuffers(2, bs);
    free(x), free(want), free(tab), free(got);
}

static void test_rope_norm_neox(void** state) {
    (void)state;
    NEED_GL();
    check_rope(0);
    check_rope(1);
}

// Prompt of n rows after pos0 cached positions; 600 keys cross the shader's 512-key chunks.
static void check_attn(int n_head, int n_head_kv, int hd, int pos0, int n, int window) {
    int kvw = n_head_kv * hd, qw = n_head * hd, n_ctx = pos0 + n;
    double *kc = rand_vec((size_t)n_ctx * kvw, 1.0), *vc = rand_vec((size_t)n_ctx * kvw, 1.0);
    double* q = rand_vec((size_t)n * qw, 1.0);
    double* want = malloc((size_t)n * qw * sizeof(double));
    double* att = malloc((size_t)n_ctx * sizeof(double));
    double scale = 1.0 / sqrt(hd);
    for (int t = 0; t < n; t++) {
        int64_t pos = pos0 + t, j0 = window > 0 ? pos - window + 1 : 0;
        if (j0 < 0) j0 = 0;
        attention(want + (size_t)t * qw, q + (size_t)t * qw, kc, vc, kvw, n_ctx, j0, pos, n_head,
                  n_head_kv, hd, scale, att);
    }
    // The cache holds the first pos0 positions; the batch's own k, v go in through attn_kv.
    double* kz = calloc((size_t)n_ctx * kvw, sizeof(double));
    double* vz = calloc((size_t)n_ctx * kvw, sizeof(double));
    memcpy(kz, kc, (size_t)pos0 * kvw * sizeof(double));
    memcpy(vz, vc, (size_t)pos0 * kvw * sizeof(double));
    GLuint bK = buf_f(kz, (size_t)n_ctx * kvw), bV = buf_f(vz, (size_t)n_ctx * kvw);
    GLuint bk = buf_f(kc + (size_t)pos0 * kvw, (size_t)n * kvw);
    GLuint bv = buf_f(vc + (size_t)pos0 * kvw, (size_t)n * kvw);
    GLuint bq = buf_f(q, (size_t)n * qw), bo = buf_bytes(NULL, (size_t)n * qw * 4);
    int gx, gy;
    gl_grid((int64_t)n * kvw, &gx, &gy);
    gl_dispatch(&G, prog(K_ATTN_KV, ""), gx, gy, 1, (const int[]){kvw, kvw, kvw, 0, n, pos0}, 6,
                (const GLuint[]){bK, bV, bk, bv}, 4);
    int u[10] = {n_head, n_head_kv, hd, window, fbits(scale), qw, qw, kvw, 0, pos0};
    gl_dispatch(&G, prog(K_ATTN, ""), n_head, n, 1, u, 10, (const GLuint[]){bo, bq, bK, bV}, 4);
    double* got = read_f(bo, (size_t)n * qw);
    char label[80];
    snprintf(label, sizeof(label), "attn h%d/%d hd%d pos0 %d n %d window %d", n_head, n_head_kv,
             hd, pos0, n, window);
    assert_close(got, want, (size_t)n * qw, 1e-5, 1e-4, label);
    GLuint bs[6] = {bK, bV, bk, bv, bq, bo};
    glDeleteBuffers(6, bs);
    free(kc), free(vc), free(q), free(want), free(att), free(kz), free(vz), free(got);
}

static void test_attn_gqa_chunks_window(void** state) {
    (void)state;
    NEED_GL();
    check_attn(4, 2, 24, 0, 9, 0);      // a prompt from position 0
    check_attn(4, 2, 24, 597, 3, 0);    // 600 keys: two chunks of the online softmax
    check_attn(4, 4, 8, 40, 5, 16);     // sliding window
    check_attn(2, 1, 130, 7, 1, 0);     // head_dim > 64: several dims per thread
}

static void test_add_glu(void** state) {
    (void)state;
    NEED_GL();
    const int w = 130, n = 3;
    size_t m = (size_t)w * n;
    double *a = rand_vec(m, 4.0), *b = rand_vec(m, 2.0), *want = malloc(m * sizeof(double));
    GLuint bo = buf_bytes(NULL, m * 4), ba = buf_f(a, m), bb = buf_f(b, m);
    int gx, gy;
    gl_grid((int64_t)m, &gx, &gy);
    add(want, a, b, (int)m);
    gl_dispatch(&G, prog(K_ADD, ""), gx, gy, 1, (const int[]){w, w, w, w, 0, n}, 6,
                (const GLuint[]){bo, ba, bb}, 3);
    double* got = read_f(bo, m);
    assert_close(got, want, m, 1e-6, 1e-6, "add");
    free(got);
    for (int act = 0; act < 3; act++) {
        if (act == 0) glu_silu(want, a, b, (int)m);
        if (act == 1) glu_gelu_tanh(want, a, b, (int)m);
        if (act == 2) glu_gelu(want, a, b, (int)m);
        gl_dispatch(&G, prog(K_GLU, ""), gx, gy, 1, (const int[]){w, w, w, w, 0, n, act}, 7,
                    (const GLuint[]){bo, ba, bb}, 3);
        got = read_f(bo, m);
        assert_close(got, want, m, 1e-5, 1e-5, act == 0 ? "glu silu" : act == 1 ? "glu gelu_tanh" : "glu gelu");
        free(got);
    }
    GLuint bs[3] = {bo, ba, bb};
    glDeleteBuffers(3, bs);
    free(a), free(b), free(want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm_rows),
        cmocka_unit_test(test_matmul_types),
        cmocka_unit_test(test_embed_q4_0),
        cmocka_unit_test(test_rope_norm_neox),
        cmocka_unit_test(test_attn_gqa_chunks_window),
        cmocka_unit_test(test_add_glu),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
