// test_gl_kernels.c: every compute shader against its FP64 ref kernel (ref/kernels.h) on
// seeded random inputs, with sizes that are not multiples of the work-group size (64) or of
// the mat-mat tile (8 positions), and every weight type the matmul and embed shaders read;
// the Griffin and Zamba kernels and variants too (scale, softcap, matmul_blockdiag, rg_lru,
// the local-attention ring, concat, rmsnorm with (1 + w), linear conv, scans with A_log and
// grouped Mamba-1 B/C).
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

#include "buffer.h"
#include "check.h"
#include "gl_env.h"
#include "gl_kernels.h"
#include "gles.h"
#include "gles_int.h"
#include "kernels.h"
#include "programs.h"
#include "quant.h"

static struct GlEngine G; // just a program cache: no model
static int have_gl;

static int setup(void** state) {
    (void)state;
    struct Err e = {0};
    gl_options_from_env(&G.opt);
    have_gl = gl_context_acquire(G.opt.egl, &G.egl_path, &G.renderer, &e) == 0;
    if (!have_gl)
        fprintf(stderr, "skip: %s\n", e.msg);
    else
        fprintf(stderr, "gl: %s via %s\n", G.renderer, G.egl_path);
    if (have_gl) G.dummy = gl_buffer_new(16, NULL); // bound for absent optional buffers
    return 0;
}

static int teardown(void** state) {
    (void)state;
    if (have_gl) {
        gl_programs_free(&G);
        glDeleteBuffers(1, &G.dummy);
        gl_context_release();
    }
    return 0;
}

static uint64_t rng = 88172645463325252ull;
static double urand(void) { // xorshift64 in [-1, 1)
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static GLuint buf_f(const double* x, size_t n) {
    float* f = malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++)
        f[i] = (float)x[i];
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
    for (size_t i = 0; i < n; i++)
        d[i] = f[i];
    glUnmapBuffer(GL_SHADER_STORAGE_BUFFER);
    return d;
}

static int prog(enum Kernel k, const char* defines) {
    struct Err e = {0};
    int p = gl_program(&G, k, defines, &e);
    if (p < 0) fail_msg("%s", e.msg);
    return p;
}

// A weight tensor over caller-owned chunk buffers: rows of n_in elements of type, chunks of
// rows_per_chunk rows (the last may be short) after row_base rows of other tensors.
static struct GlTensor tensor(enum GgmlType type, int n_in, int rows, int rows_per_chunk,
                              GLuint* bufs, int n_chunks, int row_base) {
    struct GlTensor t = {0};
    t.type = type;
    t.n_in = n_in;
    t.rows = rows;
    t.row_bytes = quant_row_size(type, n_in);
    t.rows_per_chunk = rows_per_chunk;
    t.n_chunks = n_chunks;
    t.bufs = bufs;
    t.row_base = row_base;
    return t;
}

static double* rand_vec(size_t n, double scale) {
    double* x = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        x[i] = scale * urand();
    return x;
}

// rand_vec rounded to float: copies through a float buffer compare exactly.
static double* rand_vec_f(size_t n, double scale) {
    double* x = rand_vec(n, scale);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)x[i];
    return x;
}

#define NEED_GL()                                                                                  \
    do {                                                                                           \
        if (!have_gl) skip();                                                                      \
    } while (0)

// ---------------------------------------------------------------------------------------

// w_offset 0: w * x / rms; 1 (---- griffin): Gemma's (1 + w) * x / rms, the W_OFFSET variant.
static void check_rmsnorm(double w_offset) {
    const int n = 100, rows = 3;
    double *x = rand_vec((size_t)rows * n, 2.0), *w = rand_vec(n, 1.0);
    double* want = malloc((size_t)rows * n * sizeof(double));
    for (int t = 0; t < rows; t++)
        rmsnorm(want + t * n, x + t * n, w, w_offset, n, 1e-5);
    GLuint bo = buf_f(x, (size_t)rows * n), bx = buf_f(x, (size_t)rows * n), bw = buf_f(w, n);
    char d[64] = "";
    if (w_offset != 0.0) snprintf(d, sizeof(d), "#define W_OFFSET %.9e\n", w_offset);
    k_rmsnorm(&G, prog(K_RMSNORM, d), (struct GlRows){bo, n}, (struct GlRows){bx, n}, bw, n, 1e-5,
              0, rows);
    double* got = read_f(bo, (size_t)rows * n);
    assert_close(got, want, (size_t)rows * n, 1e-6, 1e-5,
                 w_offset != 0.0 ? "rmsnorm 1 + w" : "rmsnorm");
    GLuint bs[3] = {bo, bx, bw};
    glDeleteBuffers(3, bs);
    free(x), free(w), free(want), free(got);
}

static void test_rmsnorm_rows(void** state) {
    (void)state;
    NEED_GL();
    check_rmsnorm(0.0);
    check_rmsnorm(1.0);
}

// Absolute tolerance of a mat-mul's outputs: 1e-5 of the largest (at least 1e-5). An output
// that cancels to near zero carries the FP32 rounding of its large terms (random K-quant
// blocks reach |W x| ~ 100 with 768 terms).
static double out_atol(const double* want, size_t n) {
    double mx = 1.0;
    for (size_t i = 0; i < n; i++)
        mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
    return 1e-5 * mx;
}

// A random row of n elements of type t at dst: quantized from uniform [-1, 1) floats where
// shared/quant.c has a quantizer, else (K-quants, IQ4_NL) random bytes in every field with
// the f16 super-block scales replaced by sane values in [0.005, 0.05).
static void random_row(enum GgmlType t, uint8_t* dst, int n) {
    float* f = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++)
        f[i] = (float)urand();
    int rc = quant_quantize_row(t, f, dst, n);
    free(f);
    if (rc == 0) return;
    assert_int_equal(rc, ERR_UNSUPPORTED);
    const struct QuantTraits* tr = quant_traits(t);
    int scale_at[2] = {-1, -1}; // byte offsets of the f16 d (and dmin) in a block
    switch (t) {
    case GGML_TYPE_Q2_K: scale_at[0] = 80, scale_at[1] = 82; break;
    case GGML_TYPE_Q3_K: scale_at[0] = 108; break;
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q5_K: scale_at[0] = 0, scale_at[1] = 2; break;
    case GGML_TYPE_Q6_K: scale_at[0] = 208; break;
    case GGML_TYPE_IQ4_NL: scale_at[0] = 0; break;
    default: fail_msg("no way to make a random %s row", tr->name);
    }
    for (int b = 0; b < n / tr->block_size; b++) {
        uint8_t* blk = dst + (size_t)b * tr->type_size;
        for (int i = 0; i < tr->type_size; i++)
            blk[i] = (uint8_t)(urand() * 128.0 + 128.0);
        for (int k = 0; k < 2; k++) {
            if (scale_at[k] < 0) continue;
            uint16_t h = quant_f32_to_f16((float)(0.0275 + 0.0225 * urand()));
            memcpy(blk + scale_at[k], &h, 2);
        }
    }
}

// W (n_out rows of n_in, stored as type) @ x for n positions (+ bias), vs matmul_rows, through
// matmul.comp's 64 x 64 tiles, in two chunks of rows as the engine splits a large matrix.
static void check_matmul(enum GgmlType type, int n_in, int n_out, int n, int bias) {
    char d[160];
    snprintf(d, sizeof(d), "#define W_BINDING 2\n#define WTYPE_%s 1\n", quant_traits(type)->upper);
    size_t rb = quant_row_size(type, n_in);
    uint8_t* wq = malloc(rb * (size_t)n_out);
    for (int o = 0; o < n_out; o++)
        random_row(type, wq + (size_t)o * rb, n_in);
    double *x = rand_vec((size_t)n * n_in, 1.0), *b = rand_vec((size_t)n_out, 1.0);
    double* want = malloc((size_t)n * n_out * sizeof(double));
    for (int t = 0; t < n; t++)
        matmul_rows(want + (size_t)t * n_out, x + (size_t)t * n_in, wq, type, bias ? b : NULL, n_in,
                    0, n_out);
    GLuint bo = buf_bytes(NULL, (size_t)n * n_out * 4), bx = buf_f(x, (size_t)n * n_in),
           bb = buf_f(b, (size_t)n_out);
    int half = (n_out + 1) / 2;
    GLuint bw[2] = {buf_bytes(wq, rb * (size_t)half),
                    buf_bytes(wq + rb * (size_t)half, rb * (size_t)(n_out - half))};
    struct GlTensor W = tensor(type, n_in, n_out, half, bw, 2, 0);
    k_matmul(&G, prog(K_MATMUL, d), (struct GlRows){bo, n_out}, (struct GlRows){bx, n_in}, &W,
             bias ? bb : 0, 0, n);
    double* got = read_f(bo, (size_t)n * n_out);
    char label[64];
    snprintf(label, sizeof(label), "matmul %s %dx%d n=%d", quant_traits(type)->name, n_out, n_in,
             n);
    assert_close(got, want, (size_t)n * n_out, out_atol(want, (size_t)n * n_out), 1e-4, label);
    GLuint bs[5] = {bo, bx, bb, bw[0], bw[1]};
    glDeleteBuffers(5, bs);
    free(wq), free(x), free(b), free(want), free(got);
}

static void test_matmul_types(void** state) {
    (void)state;
    NEED_GL();
    const enum GgmlType types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0,
                                   GGML_TYPE_Q4_0};
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
        int plain = quant_traits(types[k])->block_size == 1;
        int n_in = plain ? 173 : 96; // 173: odd, F16 rows start at 2-byte offsets
        check_matmul(types[k], n_in, 67, 1, 0);
        check_matmul(types[k], n_in, 67, 11, 1);
        check_matmul(types[k], n_in, 150, 70, 1); // row and position tiles cut at both ends
    }
    check_matmul(GGML_TYPE_Q4_0, 2048, 70, 3, 0); // long rows: many K steps
}

// Every other type common.glsl decodes: 32-element blocks with 96- and 160-element rows,
// 256-element super-blocks with 256- and 768-element rows (2 and 3 super-blocks per row, so
// odd rows start off 4-byte boundaries for the odd-sized blocks), through matmul.comp (w_get)
// and through moe_matmul.comp (w_unit, with every slot on matrix 0).
static void check_moe_unit(enum GgmlType type, int n_in, int n_out) {
    char d[96];
    snprintf(d, sizeof(d), "#define W_BINDING 2\n#define WTYPE_%s 1\n", quant_traits(type)->upper);
    size_t rb = quant_row_size(type, n_in);
    uint8_t* wq = malloc(rb * (size_t)n_out);
    for (int o = 0; o < n_out; o++)
        random_row(type, wq + (size_t)o * rb, n_in);
    const int n = 3;
    double *x = rand_vec((size_t)n * n_in, 1.0), *want = malloc((size_t)n * n_out * sizeof(double));
    for (int t = 0; t < n; t++)
        matmul_rows(want + (size_t)t * n_out, x + (size_t)t * n_in, wq, type, NULL, n_in, 0, n_out);
    GLuint bo = buf_bytes(NULL, (size_t)n * n_out * 4), bx = buf_f(x, (size_t)n * n_in),
           bw = buf_bytes(wq, rb * (size_t)n_out);
    struct GlTensor W = tensor(type, n_in, n_out, n_out, &bw, 1, 0);
    k_moe_matmul(&G, prog(K_MOE_MATMUL, d), bo, (struct GlRows){bx, n_in}, 0, &W, n_out, 0, 1, 0,
                 n);
    double* got = read_f(bo, (size_t)n * n_out);
    char label[64];
    snprintf(label, sizeof(label), "w_unit %s %dx%d", quant_traits(type)->name, n_out, n_in);
    assert_close(got, want, (size_t)n * n_out, out_atol(want, (size_t)n * n_out), 1e-4, label);
    GLuint bs[3] = {bo, bx, bw};
    glDeleteBuffers(3, bs);
    free(wq), free(x), free(want), free(got);
}

static void test_matmul_more_types(void** state) {
    (void)state;
    NEED_GL();
    const enum GgmlType types[] = {GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_IQ4_NL,
                                   GGML_TYPE_Q2_K, GGML_TYPE_Q3_K, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K,
                                   GGML_TYPE_Q6_K, GGML_TYPE_F16,  GGML_TYPE_Q8_0, GGML_TYPE_Q4_0};
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
        int bs = quant_traits(types[k])->block_size;
        int n_short = bs == 1 ? 173 : bs == 32 ? 96 : 256;
        int n_long = bs == 1 ? 301 : bs == 32 ? 160 : 768;
        check_matmul(types[k], n_short, 67, 1, 0);
        check_matmul(types[k], n_long, 67, 11, 1);
        check_matmul(types[k], n_long, 150, 70, 1);
        check_moe_unit(types[k], n_short, 67);
        check_moe_unit(types[k], n_long, 13);
    }
}

// matvec.comp (the one-position mat-vec) vs matmul_rows: x is row `row` of a 3-row batch,
// the output lands in row `row` of a batch too, in two chunks of rows like the engine's.
static void check_matvec(enum GgmlType type, int n_in, int n_out, int bias, int teams, int nr,
                         int subgroup) {
    int row = 2;
    G.subgroup = subgroup;
    struct Err e = {0};
    int p = gl_matvec_program(&G, type, teams, nr, "", &e);
    if (p < 0) fail_msg("%s", e.msg);
    size_t rb = quant_row_size(type, n_in);
    uint8_t* wq = malloc(rb * (size_t)n_out);
    float* r = malloc((size_t)n_in * sizeof(float));
    for (int o = 0; o < n_out; o++) {
        for (int i = 0; i < n_in; i++)
            r[i] = (float)urand();
        assert_int_equal(quant_quantize_row(type, r, wq + (size_t)o * rb, n_in), 0);
    }
    double *x = rand_vec((size_t)3 * n_in, 1.0), *b = rand_vec((size_t)n_out, 1.0);
    double* want = calloc((size_t)3 * n_out, sizeof(double));
    matmul_rows(want + (size_t)row * n_out, x + (size_t)row * n_in, wq, type, bias ? b : NULL, n_in,
                0, n_out);
    GLuint bo = buf_f(want, (size_t)3 * n_out), bx = buf_f(x, (size_t)3 * n_in),
           bb = buf_f(b, (size_t)n_out);
    for (size_t i = 0; i < (size_t)3 * n_out; i++) // rows 0, 1 must stay untouched
        if (i / (size_t)n_out != (size_t)row) want[i] = 0;
    int half = (n_out + 1) / 2;
    GLuint bw[2] = {buf_bytes(wq, rb * (size_t)half),
                    buf_bytes(wq + rb * (size_t)half, rb * (size_t)(n_out - half))};
    struct GlTensor W = tensor(type, n_in, n_out, half, bw, 2, 0);
    k_matvec(&G, p, teams, nr, (struct GlRows){bo, n_out}, (struct GlRows){bx, n_in}, &W,
             bias ? bb : 0, row);
    double* got = read_f(bo, (size_t)3 * n_out);
    for (size_t i = 0; i < (size_t)2 * n_out; i++)
        got[i] = 0; // buf_f wrote `want` there: fine
    char label[96];
    snprintf(label, sizeof(label), "matvec %s %dx%d teams=%d nr=%d subgroup=%d",
             quant_traits(type)->name, n_out, n_in, teams, nr, subgroup);
    assert_close(got, want, (size_t)3 * n_out, 1e-5, 1e-4, label);
    GLuint bs[5] = {bo, bx, bb, bw[0], bw[1]};
    glDeleteBuffers(5, bs);
    free(wq), free(r), free(x), free(b), free(want), free(got);
}

static void test_matvec_types(void** state) {
    (void)state;
    NEED_GL();
    const enum GgmlType types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0,
                                   GGML_TYPE_Q4_0};
    int sg = G.opt.no_subgroup ? 0 : gl_subgroup_lanes();
    fprintf(stderr, "matvec: subgroup lanes %d\n", sg);
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
        // 7 x 32 = 224 inputs: odd block counts (Q4_0/Q8_0 blocks at 2 mod 4 bytes), fewer
        // words than lanes for F16; 1184 = 37 blocks, more than a team's lanes.
        for (int n_in = 224; n_in <= 1184; n_in += 960) {
            check_matvec(types[k], n_in, 67, 1, 4, 1, 0);
            check_matvec(types[k], n_in, 67, 0, 3, 2, 0);
            if (sg) {
                check_matvec(types[k], n_in, 67, 1, 4, 1, sg);
                check_matvec(types[k], n_in, 67, 0, 2, 3, sg);
            }
        }
    }
}

// The engine's rope table, (cos, sin) per (position, pair), computed here independently.
static double* rope_table_cpu(int n_ctx, int n_rot, double base) {
    int half = n_rot / 2;
    double* tab = malloc((size_t)n_ctx * half * 2 * sizeof(double));
    for (int p = 0; p < n_ctx; p++)
        for (int i = 0; i < half; i++) {
            double th = p * (1.0 / pow(base, (double)(2 * i) / n_rot));
            tab[2 * (p * half + i)] = cos(th);
            tab[2 * (p * half + i) + 1] = sin(th);
        }
    return tab;
}

// matvec.comp's fused epilogues (gles/fuse.c) against the FP64 kernels, with the weights
// packed after `base` unrelated rows (row base) as gl_init packs q;k;v and gate;up:
//   MV_QKV  q, k, v of one row; q and k roped (NORM or NEOX); k, v into cache row `pos`
//   MV_GLU  act(gate) * up
//   MV_NORM (with either) x is first normalised as rmsnorm() does
//   MV_RES  res + W x + b, written over res itself as the engine does
static uint8_t* packed_rows(enum GgmlType type, int n_in, int rows, int base, size_t* rb) {
    *rb = quant_row_size(type, n_in);
    uint8_t* wq = malloc(*rb * (size_t)(base + rows));
    for (int o = 0; o < base + rows; o++)
        random_row(type, wq + (size_t)o * *rb, n_in);
    return wq;
}

static void check_matvec_qkv(enum GgmlType type, int neox, int norm, int subgroup) {
    const int n_in = 96, n_head = 3, n_kv = 1, hd = 8, n_ctx = 6, pos = 4, base = 5;
    const int nq = n_head * hd, nk = n_kv * hd, rows = nq + 2 * nk, half = hd / 2;
    G.subgroup = subgroup;
    struct Err e = {0};
    int p = gl_matvec_program(
        &G, type, 3, 2, norm ? "#define MV_QKV 1\n#define MV_NORM 1\n" : "#define MV_QKV 1\n", &e);
    if (p < 0) fail_msg("%s", e.msg);
    size_t rb;
    uint8_t* wq = packed_rows(type, n_in, rows, base, &rb);
    double *x = rand_vec(n_in, 1.0), *nw = rand_vec(n_in, 1.0), *xn = malloc(n_in * sizeof(double));
    if (norm)
        rmsnorm(xn, x, nw, 0.0, n_in, 1e-5); // MV_NORM: x is the norm's input
    else
        memcpy(xn, x, n_in * sizeof(double));
    double* y = malloc((size_t)rows * sizeof(double));
    matmul_rows(y, xn, wq + rb * base, type, NULL, n_in, 0, rows);
    rope(y, n_head, hd, hd, neox, pos, 10000.0, 1.0, NULL);
    rope(y + nq, n_kv, hd, hd, neox, pos, 10000.0, 1.0, NULL);
    double* tab = rope_table_cpu(n_ctx, hd, 10000.0);
    double* zero = calloc((size_t)n_ctx * nk, sizeof(double));
    GLuint bq = buf_bytes(NULL, (size_t)nq * 4), bx = buf_f(x, n_in),
           bw = buf_bytes(wq, rb * (size_t)(base + rows)), bK = buf_f(zero, (size_t)n_ctx * nk),
           bV = buf_f(zero, (size_t)n_ctx * nk), bt = buf_f(tab, (size_t)n_ctx * half * 2),
           bn = buf_f(nw, n_in);
    struct GlTensor W = tensor(type, n_in, rows, rows, &bw, 1, base);
    k_matvec_qkv(&G, p, 3, bq, bx, &W, nq, nk, nk, hd, neox, pos, pos, nk, bK, bV, bt,
                 norm ? bn : 0, norm ? 1e-5 : 0.0);
    double *gq = read_f(bq, nq), *gk = read_f(bK, (size_t)n_ctx * nk),
           *gv = read_f(bV, (size_t)n_ctx * nk);
    double* wk = calloc((size_t)n_ctx * nk, sizeof(double));
    double* wv = calloc((size_t)n_ctx * nk, sizeof(double));
    memcpy(wk + (size_t)pos * nk, y + nq, (size_t)nk * sizeof(double));
    memcpy(wv + (size_t)pos * nk, y + nq + nk, (size_t)nk * sizeof(double));
    char label[80];
    snprintf(label, sizeof(label), "matvec qkv %s neox %d norm %d subgroup %d",
             quant_traits(type)->name, neox, norm, subgroup);
    assert_close(gq, y, nq, 1e-5, 1e-4, label);
    assert_close(gk, wk, (size_t)n_ctx * nk, 1e-5, 1e-4, label); // other rows stay 0
    assert_close(gv, wv, (size_t)n_ctx * nk, 1e-5, 1e-4, label);
    GLuint bs[7] = {bq, bx, bw, bK, bV, bt, bn};
    glDeleteBuffers(7, bs);
    free(wq), free(x), free(nw), free(xn), free(y), free(tab), free(zero), free(gq), free(gk),
        free(gv), free(wk), free(wv);
}

static void check_matvec_glu(enum GgmlType type, int act, int norm, int subgroup) {
    const int n_in = 64, n_ff = 37, base = 3;
    G.subgroup = subgroup;
    struct Err e = {0};
    int p = gl_matvec_program(
        &G, type, 4, 2, norm ? "#define MV_GLU 1\n#define MV_NORM 1\n" : "#define MV_GLU 1\n", &e);
    if (p < 0) fail_msg("%s", e.msg);
    size_t rb;
    uint8_t* wq = packed_rows(type, n_in, 2 * n_ff, base, &rb);
    double *x = rand_vec(n_in, 1.0), *nw = rand_vec(n_in, 1.0), *xn = malloc(n_in * sizeof(double));
    if (norm)
        rmsnorm(xn, x, nw, 0.0, n_in, 1e-6);
    else
        memcpy(xn, x, n_in * sizeof(double));
    double *gu = malloc(2 * n_ff * sizeof(double)), *want = malloc(n_ff * sizeof(double));
    matmul_rows(gu, xn, wq + rb * base, type, NULL, n_in, 0, 2 * n_ff);
    (act == 0 ? glu_silu : glu_gelu_tanh)(want, gu, gu + n_ff, n_ff);
    GLuint bo = buf_bytes(NULL, (size_t)n_ff * 4), bx = buf_f(x, n_in),
           bw = buf_bytes(wq, rb * (size_t)(base + 2 * n_ff)), bn = buf_f(nw, n_in);
    struct GlTensor W = tensor(type, n_in, 2 * n_ff, 2 * n_ff, &bw, 1, base);
    k_matvec_glu(&G, p, 4, bo, bx, &W, n_ff, act, norm ? bn : 0, norm ? 1e-6 : 0.0);
    double* got = read_f(bo, n_ff);
    char label[80];
    snprintf(label, sizeof(label), "matvec glu %s act %d norm %d subgroup %d",
             quant_traits(type)->name, act, norm, subgroup);
    assert_close(got, want, n_ff, 1e-5, 1e-4, label);
    GLuint bs[4] = {bo, bx, bw, bn};
    glDeleteBuffers(4, bs);
    free(wq), free(x), free(nw), free(xn), free(gu), free(want), free(got);
}

static void check_matvec_res(enum GgmlType type, int subgroup) {
    const int n_in = 64, n_out = 67, base = 2;
    G.subgroup = subgroup;
    struct Err e = {0};
    int p = gl_matvec_program(&G, type, 4, 2, "#define MV_RES 1\n", &e);
    if (p < 0) fail_msg("%s", e.msg);
    size_t rb;
    uint8_t* wq = packed_rows(type, n_in, n_out, base, &rb);
    double *x = rand_vec(n_in, 1.0), *b = rand_vec(n_out, 1.0), *res = rand_vec_f(n_out, 1.0);
    double* want = malloc(n_out * sizeof(double));
    matmul_rows(want, x, wq + rb * base, type, b, n_in, 0, n_out);
    for (int o = 0; o < n_out; o++)
        want[o] += res[o];
    GLuint bo = buf_f(res, n_out), bx = buf_f(x, n_in), bb = buf_f(b, n_out),
           bw = buf_bytes(wq, rb * (size_t)(base + n_out));
    struct GlTensor W = tensor(type, n_in, n_out, n_out, &bw, 1, base);
    k_matvec_res(&G, p, 4, 2, bo, bx, &W, bb, bo);
    double* got = read_f(bo, n_out);
    char label[80];
    snprintf(label, sizeof(label), "matvec res %s subgroup %d", quant_traits(type)->name, subgroup);
    assert_close(got, want, n_out, 1e-5, 1e-4, label);
    GLuint bs[4] = {bo, bx, bb, bw};
    glDeleteBuffers(4, bs);
    free(wq), free(x), free(b), free(res), free(want), free(got);
}

static void test_matvec_fused(void** state) {
    (void)state;
    NEED_GL();
    int sg = G.opt.no_subgroup ? 0 : gl_subgroup_lanes();
    const enum GgmlType types[] = {GGML_TYPE_F32, GGML_TYPE_Q4_0};
    for (int s = 0; s <= (sg ? 1 : 0); s++)
        for (size_t k = 0; k < 2; k++) {
            for (int norm = 0; norm <= 1; norm++) {
                check_matvec_qkv(types[k], 0, norm, s ? sg : 0);
                check_matvec_qkv(types[k], 1, norm, s ? sg : 0);
                check_matvec_glu(types[k], 0, norm, s ? sg : 0);
                check_matvec_glu(types[k], 1, norm, s ? sg : 0);
            }
            check_matvec_res(types[k], s ? sg : 0);
        }
}

static void test_embed_q4_0(void** state) {
    (void)state;
    NEED_GL();
    const int n_in = 64, n_vocab = 10, n = 5;
    size_t rb = quant_row_size(GGML_TYPE_Q4_0, n_in);
    uint8_t* wq = malloc(rb * n_vocab);
    float row[64];
    for (int o = 0; o < n_vocab; o++) {
        for (int i = 0; i < n_in; i++)
            row[i] = (float)urand();
        quant_quantize_row(GGML_TYPE_Q4_0, row, wq + (size_t)o * rb, n_in);
    }
    int32_t tok[5] = {3, 9, 0, 3, 7};
    double want[5 * 64];
    for (int t = 0; t < n; t++)
        quant_dequant_row(GGML_TYPE_Q4_0, wq + (size_t)tok[t] * rb, want + t * n_in, n_in);
    GLuint bo = buf_bytes(NULL, sizeof(want)), bt = buf_bytes(tok, sizeof(tok));
    // Split the table into rows 0..5 and 6..9, as for a table over the SSBO limit.
    GLuint b1 = buf_bytes(wq, rb * 6), b2 = buf_bytes(wq + rb * 6, rb * 4);
    int p = prog(K_EMBED, "#define W_BINDING 2\n#define WTYPE_Q4_0 1\n");
    GLuint chunks[2] = {b1, b2};
    struct GlTensor E = tensor(GGML_TYPE_Q4_0, n_in, n_vocab, 6, chunks, 2, 0);
    k_embed(&G, p, (struct GlRows){bo, n_in}, bt, &E, n_in, 0, n);
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
    double* tab = rope_table_cpu(n_ctx, n_rot, base);
    GLuint bx = buf_f(x, (size_t)n * n_head * hd), bt = buf_f(tab, (size_t)n_ctx * half * 2);
    int w = n_head * hd;
    k_rope(&G, prog(K_ROPE, ""), (struct GlRows){bx, w}, (struct GlRows){bx, w}, bt, n_head, hd,
           n_rot, neox, pos0, 0, n);
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
    struct GlRows k = {bk, kvw}, v = {bv, kvw}, rq = {bq, qw};
    k_attn_kv(&G, prog(K_ATTN_KV, ""), bK, bV, k, v, kvw, 0, n, pos0, n_ctx);
    struct GlAttn a = {n_head, n_head_kv, hd, window, scale, kvw, n_ctx};
    k_attn(&G, prog(K_ATTN, ""), &a, 0, (struct GlRows){bo, qw}, rq, bK, bV, k, v, pos0, 0, n);
    double* got = read_f(bo, (size_t)n * qw);
    char label[80];
    snprintf(label, sizeof(label), "attn h%d/%d hd%d pos0 %d n %d window %d", n_head, n_head_kv, hd,
             pos0, n, window);
    assert_close(got, want, (size_t)n * qw, 1e-5, 1e-4, label);
    // the last row again through the split decode attention (attn_split.comp), as a
    // generated token at position pos0 + n - 1 runs it: chunks of 64 keys, the last group of
    // each head merging; twice, as the counters it leaves at zero allow
    int pos = pos0 + n - 1, j0 = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
    int n_keys = pos - j0 + 1, n_split = (n_keys + 63) / 64;
    GLuint bp = buf_bytes(NULL, (size_t)n_head * n_split * (hd + 2) * 4);
    GLuint bo1 = buf_bytes(NULL, (size_t)qw * 4);
    uint32_t* zero = calloc((size_t)qw, 4); // qw >= n_head
    GLuint bc = buf_bytes(zero, (size_t)n_head * 4);
    double* got1 = NULL;
    for (int rep = 0; rep < 2; rep++) {
        free(got1);
        glBindBuffer(GL_SHADER_STORAGE_BUFFER, bo1);
        glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)qw * 4, zero);
        k_attn_split(&G, prog(K_ATTN_SPLIT, ""), &a, 0, bp, bc, (struct GlRows){bo1, 0}, rq, bK, bV,
                     j0, n_keys, n - 1);
        got1 = read_f(bo1, (size_t)qw);
        snprintf(label, sizeof(label), "attn_split h%d/%d hd%d pos %d window %d (%d splits) #%d",
                 n_head, n_head_kv, hd, pos, window, n_split, rep);
        assert_close(got1, want + (size_t)(n - 1) * qw, (size_t)qw, 1e-5, 1e-4, label);
    }
    uint32_t cnt[64];
    glMemoryBarrier(GL_BUFFER_UPDATE_BARRIER_BIT);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, bc);
    const void* mp = glMapBufferRange(GL_SHADER_STORAGE_BUFFER, 0, n_head * 4, GL_MAP_READ_BIT);
    assert_non_null(mp);
    memcpy(cnt, mp, (size_t)n_head * 4);
    glUnmapBuffer(GL_SHADER_STORAGE_BUFFER);
    for (int h = 0; h < n_head; h++)
        assert_int_equal(cnt[h], 0); // reset for the next use
    free(zero);
    free(got1);
    GLuint bs[9] = {bK, bV, bk, bv, bq, bo, bp, bo1, bc};
    glDeleteBuffers(9, bs);
    free(kc), free(vc), free(q), free(want), free(att), free(kz), free(vz), free(got);
}

static void test_attn_gqa_chunks_window(void** state) {
    (void)state;
    NEED_GL();
    check_attn(4, 2, 24, 0, 9, 0);    // a prompt from position 0
    check_attn(4, 2, 24, 597, 3, 0);  // 600 keys: two chunks of the online softmax
    check_attn(4, 4, 8, 40, 5, 16);   // sliding window
    check_attn(2, 1, 130, 7, 1, 0);   // head_dim > 64: several dims per thread
    check_attn(8, 2, 64, 599, 1, 0);  // one token at 600 keys: 10 splits, the last short
    check_attn(4, 4, 8, 300, 1, 100); // window 100 of 301 keys: 2 splits from j0 = 201
    check_attn(2, 1, 130, 127, 1, 0); // 128 keys (2 full splits), head_dim > 64
}

static void test_add_glu(void** state) {
    (void)state;
    NEED_GL();
    const int w = 130, n = 3;
    size_t m = (size_t)w * n;
    double *a = rand_vec(m, 4.0), *b = rand_vec(m, 2.0), *want = malloc(m * sizeof(double));
    GLuint bo = buf_bytes(NULL, m * 4), ba = buf_f(a, m), bb = buf_f(b, m);
    struct GlRows ro = {bo, w}, ra = {ba, w}, rb = {bb, w};
    add(want, a, b, (int)m);
    k_add(&G, prog(K_ADD, ""), ro, ra, rb, w, 0, n);
    double* got = read_f(bo, m);
    assert_close(got, want, m, 1e-6, 1e-6, "add");
    free(got);
    for (int act = 0; act < 3; act++) {
        if (act == 0) glu_silu(want, a, b, (int)m);
        if (act == 1) glu_gelu_tanh(want, a, b, (int)m);
        if (act == 2) glu_gelu(want, a, b, (int)m);
        k_glu(&G, prog(K_GLU, ""), ro, ra, rb, w, act, 0, n);
        got = read_f(bo, m);
        assert_close(got, want, m, 1e-5, 1e-5,
                     act == 0   ? "glu silu"
                     : act == 1 ? "glu gelu_tanh"
                                : "glu gelu");
        free(got);
    }
    GLuint bs[3] = {bo, ba, bb};
    glDeleteBuffers(3, bs);
    free(a), free(b), free(want);
}

// ---------------------------------------------------------------------------------------
// ---- rwkv7

static void test_layernorm_groups(void** state) {
    (void)state;
    NEED_GL();
    const int rows = 3;
    const int cases[3][2] = {{100, 1}, {100, 4}, {200, 1}}; // width, groups (gs 100, 25, 200)
    for (int c = 0; c < 3; c++) {
        int n = cases[c][0], ng = cases[c][1];
        size_t m = (size_t)rows * n;
        double *x = rand_vec(m, 2.0), *w = rand_vec(n, 1.0), *b = rand_vec(n, 1.0);
        for (size_t i = 0; i < m; i++)
            x[i] += 3.0; // a mean far from 0: two passes matter
        double* want = malloc(m * sizeof(double));
        for (int t = 0; t < rows; t++)
            layernorm(want + (size_t)t * n, x + (size_t)t * n, w, b, n, ng, 64e-5);
        GLuint bx = buf_f(x, m), bw = buf_f(w, n), bb = buf_f(b, n);
        // in place, as the graph runs it (out = x)
        k_layernorm(&G, prog(K_LAYERNORM, ""), (struct GlRows){bx, n}, (struct GlRows){bx, n}, bw,
                    bb, n, ng, 64e-5, 0, rows);
        double* got = read_f(bx, m);
        assert_close(got, want, m, 1e-5, 1e-5, ng == 1 ? "layernorm" : "groupnorm");
        GLuint bs[3] = {bx, bw, bb};
        glDeleteBuffers(3, bs);
        free(x), free(w), free(b), free(want), free(got);
    }
}

// Two calls (a batch of 5, then 1 row): the state carries the last row across calls.
static void test_token_shift_state(void** state) {
    (void)state;
    NEED_GL();
    const int w = 70;
    double* x = rand_vec_f(6 * w, 1.0);
    double* want = calloc(6 * w, sizeof(double)); // row 0: the zero state
    memcpy(want + w, x, 5 * w * sizeof(double));
    double zero[70] = {0};
    GLuint bo = buf_bytes(NULL, 6 * w * 4), bx = buf_f(x, 6 * w), bs = buf_f(zero, w);
    int p = prog(K_TOKEN_SHIFT, "");
    struct GlRows ro = {bo, w}, rx = {bx, w};
    k_token_shift(&G, p, ro, rx, bs, w, 0, 5);
    k_token_shift(&G, p, ro, rx, bs, w, 5, 1);
    double* got = read_f(bo, 6 * w);
    assert_close(got, want, 6 * w, 0, 0, "token_shift");
    double* st = read_f(bs, w);
    assert_close(st, x + 5 * w, w, 0, 0, "token_shift state");
    GLuint b3[3] = {bo, bx, bs};
    glDeleteBuffers(3, b3);
    free(x), free(want), free(got), free(st);
}

static void test_lerp_unary_mul_ka(void** state) {
    (void)state;
    NEED_GL();
    const int w = 130, n = 3;
    size_t m = (size_t)w * n;
    double *x = rand_vec(m, 3.0), *pv = rand_vec(m, 3.0), *mixb = rand_vec(m, 1.0);
    double *stack = rand_vec(4 * (size_t)w, 1.0), *want = malloc(m * sizeof(double));
    GLuint bo = buf_bytes(NULL, m * 4), bx = buf_f(x, m), bp = buf_f(pv, m), bm = buf_f(mixb, m),
           bst = buf_f(stack, 4 * (size_t)w);
    struct GlRows ro = {bo, w}, rx = {bx, w}, rp = {bp, w};
    // lerp with slice 2 of a stack, then with a row of a buffer
    for (int t = 0; t < n; t++)
        lerp(want + t * w, x + t * w, pv + t * w, stack + 2 * w, w);
    k_lerp(&G, prog(K_LERP, ""), ro, rx, rp, (struct GlRows){bst, 0}, 2 * w, w, 0, n);
    double* got = read_f(bo, m);
    assert_close(got, want, m, 1e-6, 1e-6, "lerp slice");
    free(got);
    lerp(want, x, pv, mixb, (int)m);
    k_lerp(&G, prog(K_LERP, ""), ro, rx, rp, (struct GlRows){bm, w}, 0, w, 0, n);
    got = read_f(bo, m);
    assert_close(got, want, m, 1e-6, 1e-6, "lerp row");
    free(got);
    const char* names[4] = {"tanh", "sigmoid", "rwkv7 decay", "sqrelu"};
    for (int f = 0; f < 4; f++) {
        if (f == 0) vec_tanh(want, x, (int)m);
        if (f == 1) vec_sigmoid(want, x, (int)m);
        if (f == 2) rwkv7_decay(want, x, (int)m);
        if (f == 3) sqrelu(want, x, (int)m);
        k_unary(&G, prog(K_UNARY, ""), ro, rx, w, f, 0.0, 0, n);
        got = read_f(bo, m);
        assert_close(got, want, m, 1e-6, 1e-6, names[f]);
        free(got);
    }
    mul(want, x, pv, (int)m);
    k_mul(&G, prog(K_MUL, ""), ro, rx, rp, w, 0, n);
    got = read_f(bo, m);
    assert_close(got, want, m, 1e-6, 1e-6, "mul");
    free(got);
    for (int t = 0; t < n; t++)
        rwkv7_ka(want + t * w, x + t * w, pv + t * w, stack, w);
    k_rwkv7_ka(&G, prog(K_RWKV7_KA, ""), ro, rx, rp, bst, w, 0, n);
    got = read_f(bo, m);
    assert_close(got, want, m, 1e-6, 1e-6, "rwkv7_ka");
    free(got);
    GLuint bs[5] = {bo, bx, bp, bm, bst};
    glDeleteBuffers(5, bs);
    free(x), free(pv), free(mixb), free(stack), free(want);
}

static void test_rwkv7_kk_bonus(void** state) {
    (void)state;
    NEED_GL();
    const int nh = 3, hs = 70, w = nh * hs, n = 4; // head size > 64: two per thread
    size_t m = (size_t)w * n;
    double *k = rand_vec(m, 2.0), *kk = rand_vec(w, 1.0), *y = rand_vec(m, 1.0);
    double *r = rand_vec(m, 1.0), *v = rand_vec(m, 1.0), *want = malloc(m * sizeof(double));
    for (int i = 0; i < hs; i++)
        k[hs + i] = 0.0; // head 1 of row 0 is zero: the 1e-12 floor
    for (int t = 0; t < n; t++)
        rwkv7_kk(want + t * w, k + t * w, kk, nh, hs);
    GLuint bo = buf_bytes(NULL, m * 4), bk = buf_f(k, m), bkk = buf_f(kk, w), by = buf_f(y, m),
           br = buf_f(r, m), bv = buf_f(v, m);
    struct GlRows rk = {bk, w}, ry = {by, w};
    k_rwkv7_kk(&G, prog(K_RWKV7_KK, ""), (struct GlRows){bo, w}, rk, bkk, nh, hs, 0, n);
    double* got = read_f(bo, m);
    assert_close(got, want, m, 1e-6, 1e-5, "rwkv7_kk");
    free(got);
    for (int t = 0; t < n; t++)
        rwkv7_bonus(want + t * w, y + t * w, r + t * w, k + t * w, v + t * w, kk, nh, hs);
    // in place: out = y
    k_rwkv7_bonus(&G, prog(K_RWKV7_BONUS, ""), ry, ry, (struct GlRows){br, w}, rk,
                  (struct GlRows){bv, w}, bkk, nh, hs, 0, n);
    got = read_f(by, m);
    assert_close(got, want, m, 1e-5, 1e-5, "rwkv7_bonus");
    free(got);
    GLuint bs[6] = {bo, bk, bkk, by, br, bv};
    glDeleteBuffers(6, bs);
    free(k), free(kk), free(y), free(r), free(v), free(want);
}

// A prompt batch then single rows through the same state, vs wkv7() token by token.
static void check_wkv7(int nh, int hs, int n1, int n2) {
    int w = nh * hs, n = n1 + n2;
    size_t m = (size_t)w * n, ns = (size_t)nh * hs * hs;
    double *r = rand_vec(m, 1.0), *dw = rand_vec(m, 1.0), *k = rand_vec(m, 1.0);
    double *v = rand_vec(m, 1.0), *kr = rand_vec(m, 1.0), *a = rand_vec(m, 1.0);
    double* kk = malloc(m * sizeof(double));
    double* ones = malloc((size_t)w * sizeof(double));
    for (int i = 0; i < w; i++)
        ones[i] = 1.0;
    for (size_t i = 0; i < m; i++)
        a[i] = 0.5 * (a[i] + 1.0); // a in (0, 1)
    rwkv7_decay(dw, dw, (int)m);   // w in (0.55, 1)
    for (int t = 0; t < n; t++)
        rwkv7_kk(kk + t * w, kr + t * w, ones, nh, hs); // unit heads
    double *S = calloc(ns, sizeof(double)), *want = malloc(m * sizeof(double));
    for (int t = 0; t < n; t++)
        wkv7(want + t * w, S, r + t * w, dw + t * w, k + t * w, v + t * w, kk + t * w, a + t * w,
             nh, hs);
    GLuint by = buf_bytes(NULL, m * 4), bS = buf_bytes(NULL, ns * 4);
    float* zero = calloc(ns, sizeof(float));
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, bS);
    glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)(ns * 4), zero);
    GLuint in[6] = {buf_f(r, m), buf_f(dw, m), buf_f(k, m), buf_f(v, m), buf_f(kk, m), buf_f(a, m)};
    char d[32];
    snprintf(d, sizeof(d), "#define HS %d\n", hs);
    int p = prog(K_WKV7, d);
    struct GlRows rin[6];
    for (int k = 0; k < 6; k++)
        rin[k] = (struct GlRows){in[k], w};
    k_wkv7(&G, p, (struct GlRows){by, w}, bS, rin, nh, 0, n1);
    for (int t = n1; t < n; t++)
        k_wkv7(&G, p, (struct GlRows){by, w}, bS, rin, nh, t, 1);
    double* got = read_f(by, m);
    char label[64];
    snprintf(label, sizeof(label), "wkv7 %d heads of %d, %d + %d rows", nh, hs, n1, n2);
    assert_close(got, want, m, 1e-5, 1e-4, label);
    double* gS = read_f(bS, ns);
    assert_close(gS, S, ns, 1e-5, 1e-4, "wkv7 state");
    glDeleteBuffers(8 - 0, (const GLuint[]){by, bS, in[0], in[1], in[2], in[3], in[4], in[5]});
    free(r), free(dw), free(k), free(v), free(kr), free(a), free(kk), free(ones), free(S),
        free(want), free(zero), free(got), free(gS);
}

static void test_wkv7_batch_then_steps(void** state) {
    (void)state;
    NEED_GL();
    check_wkv7(3, 24, 7, 2);
    check_wkv7(2, 64, 11, 3);
}

// ---------------------------------------------------------------------------------------
// ---- mamba

static void test_slice_rmsnorm_group(void** state) {
    (void)state;
    NEED_GL();
    const int wi = 150, wo = 67, off = 41, n = 3, ng = 3, wg = 99;
    double* x = rand_vec_f((size_t)wi * n, 1.0);
    double* want = malloc((size_t)wi * n * sizeof(double));
    for (int t = 0; t < n; t++)
        memcpy(want + t * wo, x + t * wi + off, wo * sizeof(double));
    GLuint bo = buf_bytes(NULL, (size_t)wi * n * 4), bx = buf_f(x, (size_t)wi * n);
    k_slice(&G, prog(K_SLICE, ""), (struct GlRows){bo, wo}, (struct GlRows){bx, wi}, off, wo, 0, n);
    double* got = read_f(bo, (size_t)n * wo);
    assert_close(got, want, (size_t)n * wo, 0, 0, "slice");
    free(got);
    double* w = rand_vec(wg, 1.0);
    for (int t = 0; t < n; t++)
        rmsnorm_group(want + t * wg, x + t * wi, w, wg, ng, 1e-5);
    GLuint bw = buf_f(w, wg);
    k_rmsnorm_group(&G, prog(K_RMSNORM_GROUP, ""), (struct GlRows){bo, wg}, (struct GlRows){bx, wi},
                    bw, wg, ng, 1e-5, 0, n);
    got = read_f(bo, (size_t)n * wg);
    assert_close(got, want, (size_t)n * wg, 1e-6, 1e-5, "rmsnorm_group");
    GLuint bs[3] = {bo, bx, bw};
    glDeleteBuffers(3, bs);
    free(x), free(want), free(got), free(w);
}

// Depthwise conv over a batch of n1 rows, then n2 single rows, vs ssm_conv_step; with the silu
// (Mamba) and without (linear: ---- griffin, the LINEAR variant).
static void check_ssm_conv(int linear) {
    const int ch = 100, K = 4, n1 = 5, n2 = 2, n = n1 + n2;
    double *x = rand_vec((size_t)ch * n, 2.0), *w = rand_vec((size_t)ch * K, 1.0);
    double *b = rand_vec(ch, 1.0), *st = calloc((size_t)(K - 1) * ch, sizeof(double));
    double* want = malloc((size_t)ch * n * sizeof(double));
    for (int t = 0; t < n; t++)
        ssm_conv_step(want + t * ch, x + t * ch, st, w, b, ch, K, linear);
    GLuint bo = buf_bytes(NULL, (size_t)ch * n * 4), bx = buf_f(x, (size_t)ch * n);
    double* zero = calloc((size_t)(K - 1) * ch, sizeof(double));
    GLuint bst = buf_f(zero, (size_t)(K - 1) * ch), bw = buf_f(w, (size_t)ch * K),
           bb = buf_f(b, ch);
    int p = prog(K_SSM_CONV, linear ? "#define LINEAR 1\n" : "");
    const GLuint bufs[5] = {bo, bx, bst, bw, bb};
    struct GlRows ro = {bo, ch}, rx = {bx, ch};
    k_ssm_conv(&G, p, ro, rx, bst, bw, bb, ch, K, 0, n1);
    for (int t = n1; t < n; t++)
        k_ssm_conv(&G, p, ro, rx, bst, bw, bb, ch, K, t, 1);
    double* got = read_f(bo, (size_t)ch * n);
    assert_close(got, want, (size_t)ch * n, 1e-6, 1e-5, linear ? "ssm_conv linear" : "ssm_conv");
    double* gs = read_f(bst, (size_t)(K - 1) * ch);
    assert_close(gs, st, (size_t)(K - 1) * ch, 0, 1e-6, "ssm_conv state");
    glDeleteBuffers(5, bufs);
    free(x), free(w), free(b), free(st), free(want), free(zero), free(got), free(gs);
}

static void test_ssm_conv_state(void** state) {
    (void)state;
    NEED_GL();
    check_ssm_conv(0);
    check_ssm_conv(1);
}

// Mamba-1 (mamba2 0: n_head = channels, head_dim 1; ng groups of channels with their own B
// and C, as ref/forward.c runs Zamba v1's heads) or Mamba-2 scan: a batch of n1 rows then n2
// single rows, vs ssm_scan_step / ssm_scan2_step. a_log (---- zamba): the shader gets A_log
// (the A_LOG variant), the reference A = ssm_a_from_log(A_log).
static void check_scan(int mamba2, int nh, int hd, int ng, int ds, int n1, int n2, int a_log) {
    int ch = nh * hd, n = n1 + n2, ndt = mamba2 ? nh : ch, nbc = ng * ds;
    double *x = rand_vec((size_t)ch * n, 1.0), *dt = rand_vec((size_t)ndt * n, 3.0);
    double *Bm = rand_vec((size_t)nbc * n, 1.0), *Cm = rand_vec((size_t)nbc * n, 1.0);
    size_t na = mamba2 ? (size_t)nh : (size_t)ch * ds;
    double *A = rand_vec(na, 1.0), *D = rand_vec(ndt, 1.0), *dtb = rand_vec(ndt, 1.0);
    double* A_log = malloc(na * sizeof(double));
    for (size_t i = 0; i < na; i++)
        A_log[i] = A[i] = 2.0 * A[i];
    ssm_a_from_log(A, (int)na); // A < 0 as -exp(A_log)
    dt[0] = 25.0;               // beyond softplus' threshold
    dt[1] = -30.0;              // softplus ~ exp(x): log1p accuracy
    double *h = calloc((size_t)ch * ds, sizeof(double)),
           *want = malloc((size_t)ch * n * sizeof(double));
    for (int t = 0; t < n; t++) {
        if (mamba2)
            ssm_scan2_step(want + t * ch, x + t * ch, dt + t * ndt, Bm + t * nbc, Cm + t * nbc, h,
                           A, D, dtb, nh, hd, ng, ds);
        else
            for (int g = 0, gc = ch / ng; g < ng; g++)
                ssm_scan_step(want + t * ch + g * gc, x + t * ch + g * gc, dt + t * ndt + g * gc,
                              Bm + t * nbc + g * ds, Cm + t * nbc + g * ds, h + (size_t)g * gc * ds,
                              A + (size_t)g * gc * ds, D + g * gc, dtb + g * gc, gc, ds);
    }
    double* zero = calloc((size_t)ch * ds, sizeof(double));
    GLuint bufs[9] = {buf_bytes(NULL, (size_t)ch * n * 4),
                      buf_f(zero, (size_t)ch * ds),
                      buf_f(x, (size_t)ch * n),
                      buf_f(dt, (size_t)ndt * n),
                      buf_f(Bm, (size_t)nbc * n),
                      buf_f(Cm, (size_t)nbc * n),
                      buf_f(a_log ? A_log : A, na),
                      buf_f(D, ndt),
                      buf_f(dtb, ndt)};
    char d[48];
    snprintf(d, sizeof(d), "#define DS %d\n%s", ds, a_log ? "#define A_LOG 1\n" : "");
    int p = prog(mamba2 ? K_SSM_SCAN2 : K_SSM_SCAN, d);
    const struct GlRows in[4] = {{bufs[2], ch}, {bufs[3], ndt}, {bufs[4], nbc}, {bufs[5], nbc}};
    for (int t = 0; t < n; t = t == 0 ? n1 : t + 1) {
        int rows = t == 0 ? n1 : 1;
        // Mamba-1: one "head" per channel
        k_ssm_scan(&G, p, mamba2, (struct GlRows){bufs[0], ch}, bufs[1], in, bufs + 6,
                   mamba2 ? nh : ch, mamba2 ? hd : 1, ng, t, rows);
    }
    double* got = read_f(bufs[0], (size_t)ch * n);
    char label[80];
    snprintf(label, sizeof(label), "ssm_scan%s %dx%d groups %d d_state %d%s", mamba2 ? "2" : "", nh,
             hd, ng, ds, a_log ? " A_log" : "");
    assert_close(got, want, (size_t)ch * n, 1e-5, 1e-4, label);
    double* gh = read_f(bufs[1], (size_t)ch * ds);
    assert_close(gh, h, (size_t)ch * ds, 1e-5, 1e-4, "ssm state");
    glDeleteBuffers(9, bufs);
    free(x), free(dt), free(Bm), free(Cm), free(A), free(A_log), free(D), free(dtb), free(h),
        free(want), free(zero), free(got), free(gh);
}

static void test_ssm_scan(void** state) {
    (void)state;
    NEED_GL();
    check_scan(0, 100, 1, 1, 16, 6, 2, 0);
    check_scan(0, 70, 1, 1, 5, 1, 1, 0);
    check_scan(1, 6, 16, 2, 16, 6, 2, 0);
    check_scan(1, 5, 13, 1, 7, 9, 1, 0);
    // ---- zamba: A from A_log (Zamba2's Mamba-2, Zamba v1's Mamba-1), and Zamba v1's heads
    // as B/C groups of 50 and 35 channels
    check_scan(1, 6, 16, 2, 16, 6, 2, 1);
    check_scan(0, 100, 1, 2, 16, 6, 2, 1);
    check_scan(0, 105, 1, 3, 5, 9, 1, 0);
}

// The MoE stages (route, expert mat-vecs for gate/up, glu, down, weighted sum) against the
// ref's composition: moe_route, matmul_rows on the chosen expert's matrix, glu_silu.
static void test_moe(void** state) {
    (void)state;
    NEED_GL();
    // router F32 (d_q -> ne); gate/up Q8_0 (d_q -> ff) and down F32 (ff -> d) per expert:
    // ff 40 and d 70 are not multiples of the work-group size or of a 32-element unit
    const int ne = 5, k = 2, ff = 40, d = 70, n = 3, d_q = 96;
    float* R = malloc((size_t)d_q * ne * 4);
    for (int i = 0; i < d_q * ne; i++)
        R[i] = (float)urand() * 3.0f;
    size_t gb = quant_row_size(GGML_TYPE_Q8_0, d_q);
    uint8_t *Gq = malloc(gb * ff * ne), *Uq = malloc(gb * ff * ne);
    float row[96];
    for (int r = 0; r < ff * ne; r++) {
        for (int i = 0; i < d_q; i++)
            row[i] = (float)urand();
        quant_quantize_row(GGML_TYPE_Q8_0, row, Gq + (size_t)r * gb, d_q);
        for (int i = 0; i < d_q; i++)
            row[i] = (float)urand();
        quant_quantize_row(GGML_TYPE_Q8_0, row, Uq + (size_t)r * gb, d_q);
    }
    float* Dn = malloc((size_t)ff * d * ne * 4);
    for (int i = 0; i < ff * d * ne; i++)
        Dn[i] = (float)urand();
    double* u = rand_vec((size_t)n * d_q, 1.0);
    double* want = calloc((size_t)n * d, sizeof(double));
    double p[5], hg[40], hu[40], eo[70];
    int sel[2];
    for (int t = 0; t < n; t++) {
        const double* ut = u + (size_t)t * d_q;
        matmul_rows(p, ut, R, GGML_TYPE_F32, NULL, d_q, 0, ne);
        moe_route(sel, p, ne, k);
        for (int i = 0; i < k; i++) {
            int ex = sel[i];
            matmul_rows(hg, ut, Gq + (size_t)ex * ff * gb, GGML_TYPE_Q8_0, NULL, d_q, 0, ff);
            matmul_rows(hu, ut, Uq + (size_t)ex * ff * gb, GGML_TYPE_Q8_0, NULL, d_q, 0, ff);
            glu_silu(hg, hg, hu, ff);
            matmul_rows(eo, hg, Dn + (size_t)ex * d * ff, GGML_TYPE_F32, NULL, ff, 0, d);
            for (int j = 0; j < d; j++)
                want[(size_t)t * d + j] += eo[j] * p[ex];
        }
    }
    GLuint bu = buf_f(u, (size_t)n * d_q), bR = buf_bytes(R, (size_t)d_q * ne * 4);
    GLuint bG = buf_bytes(Gq, gb * ff * ne), bU = buf_bytes(Uq, gb * ff * ne);
    // the down tensor in two chunks (rows 0..3d-1 and the rest) as over the SSBO limit
    GLuint bD1 = buf_bytes(Dn, (size_t)3 * d * ff * 4);
    GLuint bD2 = buf_bytes(Dn + (size_t)3 * d * ff, (size_t)(ne - 3) * d * ff * 4);
    GLuint blog = buf_bytes(NULL, (size_t)n * ne * 4), bsel = buf_bytes(NULL, (size_t)n * k * 4),
           bpw = buf_bytes(NULL, (size_t)n * k * 4), bhg = buf_bytes(NULL, (size_t)n * k * ff * 4),
           bhu = buf_bytes(NULL, (size_t)n * k * ff * 4),
           beo = buf_bytes(NULL, (size_t)n * k * d * 4), bo = buf_bytes(NULL, (size_t)n * d * 4);
    int pq = prog(K_MOE_MATMUL, "#define W_BINDING 2\n#define WTYPE_Q8_0 1\n");
    int pf = prog(K_MOE_MATMUL, "#define W_BINDING 2\n#define WTYPE_F32 1\n");
    GLuint down[2] = {bD1, bD2};
    struct GlTensor Rt = tensor(GGML_TYPE_F32, d_q, ne, ne, &bR, 1, 0),
                    Gt = tensor(GGML_TYPE_Q8_0, d_q, ff * ne, ff * ne, &bG, 1, 0),
                    Ut = tensor(GGML_TYPE_Q8_0, d_q, ff * ne, ff * ne, &bU, 1, 0),
                    Dt = tensor(GGML_TYPE_F32, ff, d * ne, 3 * d, down, 2, 0);
    struct GlRows ru = {bu, d_q}, rhg = {bhg, ff}, rhu = {bhu, ff};
    // the router: k 1, no selection
    k_moe_matmul(&G, pf, blog, ru, 0, &Rt, ne, 0, 1, 0, n);
    k_moe_route(&G, prog(K_MOE_ROUTE, ""), blog, bsel, bpw, ne, k, 0, n);
    k_moe_matmul(&G, pq, bhg, ru, 0, &Gt, ff, bsel, k, 0, n);
    k_moe_matmul(&G, pq, bhu, ru, 0, &Ut, ff, bsel, k, 0, n);
    k_glu(&G, prog(K_GLU, ""), rhg, rhg, rhu, ff, 0, 0, n * k);
    k_moe_matmul(&G, pf, beo, rhg, 1, &Dt, d, bsel, k, 0, n);
    k_moe_sum(&G, prog(K_MOE_SUM, ""), (struct GlRows){bo, d}, beo, bpw, d, k, 0, n);
    double* got = read_f(bo, (size_t)n * d);
    assert_close(got, want, (size_t)n * d, 1e-5, 1e-4, "moe");
    GLuint bs[14] = {bu, bR, bG, bU, bD1, bD2, blog, bsel, bpw, bhg, bhu, beo, bo, 0};
    glDeleteBuffers(13, bs);
    free(R), free(Gq), free(Uq), free(Dn), free(u), free(want), free(got);
}

// ---------------------------------------------------------------------------------------
// ---- griffin

// OP_SCALE and OP_SOFTCAP through unary.comp (functions 4 and 5), in place as the graph runs
// them. The soft cap is checked relative to each element: near 0 cap * tanh(x / cap) ~ x, so
// a tanh that cancels there would show.
static void test_scale_softcap(void** state) {
    (void)state;
    NEED_GL();
    const int w = 130, n = 3;
    size_t m = (size_t)w * n;
    double *x = rand_vec_f(m, 40.0), *want = malloc(m * sizeof(double));
    x[0] = 1e-4, x[1] = -3e-6, x[2] = 200.0, x[3] = -1e5, x[4] = 0.0; // tiny, past the cap, 0
    GLuint bx = buf_f(x, m);
    const double s = 8.0, cap = 30.0;
    scale(want, x, s, (int)m);
    k_unary(&G, prog(K_UNARY, ""), (struct GlRows){bx, w}, (struct GlRows){bx, w}, w,
            GL_UNARY_SCALE, s, 0, n);
    double* got = read_f(bx, m);
    assert_close(got, want, m, 0, 1e-7, "scale");
    free(got);
    GLuint bx2 = buf_f(x, m);
    softcap(want, x, cap, (int)m);
    k_unary(&G, prog(K_UNARY, ""), (struct GlRows){bx2, w}, (struct GlRows){bx2, w}, w,
            GL_UNARY_SOFTCAP, cap, 0, n);
    got = read_f(bx2, m);
    assert_close(got, want, m, 0, 1e-6, "softcap");
    free(got);
    GLuint bs[2] = {bx, bx2};
    glDeleteBuffers(2, bs);
    free(x), free(want);
}

// n_block blocks of bw x bw weights of type `type` (one GGUF tensor (bw, bw, n_block)) on n
// positions, vs matmul_blockdiag, the rows split into two buffers at a row inside a block (as
// a tensor over the SSBO limit is split).
static void check_blockdiag(enum GgmlType type, int bw, int n_block, int n, int bias) {
    char d[96];
    snprintf(d, sizeof(d), "#define W_BINDING 2\n#define WTYPE_%s 1\n", quant_traits(type)->upper);
    int width = bw * n_block;
    size_t rb = quant_row_size(type, bw);
    uint8_t* wq = malloc(rb * (size_t)width);
    for (int o = 0; o < width; o++)
        random_row(type, wq + (size_t)o * rb, bw);
    double *x = rand_vec((size_t)n * width, 1.0), *b = rand_vec((size_t)width, 1.0);
    double* zero = calloc((size_t)width, sizeof(double));
    double* want = malloc((size_t)n * width * sizeof(double));
    for (int t = 0; t < n; t++)
        matmul_blockdiag(want + (size_t)t * width, x + (size_t)t * width, wq, type, bias ? b : zero,
                         width, n_block);
    // chunks of cut rows (the engine's rows_per_chunk), the cut inside a block
    int cut = bw + bw / 2 + 1 > width / 2 ? bw + bw / 2 + 1 : width - (bw + bw / 2 + 1);
    assert_true(cut % bw != 0 && width - cut <= cut);
    GLuint bo = buf_bytes(NULL, (size_t)n * width * 4), bx = buf_f(x, (size_t)n * width),
           bb = buf_f(b, (size_t)width);
    GLuint bw2[2] = {buf_bytes(wq, rb * (size_t)cut),
                     buf_bytes(wq + rb * (size_t)cut, rb * (size_t)(width - cut))};
    struct GlTensor W = tensor(type, bw, width, cut, bw2, 2, 0);
    k_matmul_blockdiag(&G, prog(K_MATMUL_BLOCKDIAG, d), (struct GlRows){bo, width},
                       (struct GlRows){bx, width}, &W, bias ? bb : 0, 0, n);
    double* got = read_f(bo, (size_t)n * width);
    char label[80];
    snprintf(label, sizeof(label), "matmul_blockdiag %s %d blocks of %d, n=%d",
             quant_traits(type)->name, n_block, bw, n);
    assert_close(got, want, (size_t)n * width, out_atol(want, (size_t)n * width), 1e-4, label);
    GLuint bs[5] = {bo, bx, bb, bw2[0], bw2[1]};
    glDeleteBuffers(5, bs);
    free(wq), free(x), free(b), free(zero), free(want), free(got);
}

static void test_matmul_blockdiag(void** state) {
    (void)state;
    NEED_GL();
    check_blockdiag(GGML_TYPE_F32, 16, 4, 5, 1); // RecurrentGemma's shape (4 heads of 16)
    check_blockdiag(GGML_TYPE_F32, 23, 3, 7, 0);
    check_blockdiag(GGML_TYPE_F16, 21, 5, 3, 1);
    check_blockdiag(GGML_TYPE_Q8_0, 64, 3, 4, 1);
    check_blockdiag(GGML_TYPE_Q4_K, 256, 2, 2, 1);
}

// RG-LRU from a random state: a batch of n1 rows at positions pos0.., then n2 single rows, vs
// rg_lru_step. From pos0 0 the first row is the reset (the state is ignored); later rows keep
// it. Lambda spans softplus values from ~5e-5 (a within 1e-3 of 1, where 1 - a^2 must not be
// computed as a difference) to ~4.
static void check_rg_lru(int w, int pos0, int n1, int n2) {
    int n = n1 + n2;
    size_t m = (size_t)w * n;
    double *x = rand_vec(m, 2.0), *gxv = rand_vec(m, 4.0), *gav = rand_vec(m, 4.0);
    double *lam = rand_vec((size_t)w, 1.0), *h = rand_vec((size_t)w, 1.0);
    vec_sigmoid(gxv, gxv, (int)m);
    vec_sigmoid(gav, gav, (int)m);
    for (int i = 0; i < w; i++)
        lam[i] = -3.0 + 7.0 * lam[i]; // softplus(-10) = 4.5e-5 .. softplus(4) = 4.0
    GLuint bh = buf_f(h, (size_t)w);
    double* want = malloc(m * sizeof(double));
    for (int t = 0; t < n; t++)
        rg_lru_step(want + (size_t)t * w, x + (size_t)t * w, gxv + (size_t)t * w,
                    gav + (size_t)t * w, h, lam, w, pos0 + t == 0);
    GLuint bo = buf_bytes(NULL, m * 4), bx = buf_f(x, m), bgx = buf_f(gxv, m), bga = buf_f(gav, m),
           bl = buf_f(lam, (size_t)w);
    const GLuint bufs[6] = {bo, bh, bx, bgx, bga, bl};
    int p = prog(K_RG_LRU, "");
    for (int t = 0; t < n; t = t == 0 ? n1 : t + 1)
        k_rg_lru(&G, p, (struct GlRows){bo, w}, bh, (struct GlRows){bx, w}, (struct GlRows){bgx, w},
                 (struct GlRows){bga, w}, bl, w, pos0, t, t == 0 ? n1 : 1);
    double* got = read_f(bo, m);
    char label[64];
    snprintf(label, sizeof(label), "rg_lru width %d from position %d, %d + %d rows", w, pos0, n1,
             n2);
    assert_close(got, want, m, 1e-6, 1e-5, label);
    double* gh = read_f(bh, (size_t)w);
    assert_close(gh, h, (size_t)w, 1e-6, 1e-5, "rg_lru state");
    glDeleteBuffers(6, bufs);
    free(x), free(gxv), free(gav), free(lam), free(h), free(want), free(got), free(gh);
}

static void test_rg_lru(void** state) {
    (void)state;
    NEED_GL();
    check_rg_lru(100, 0, 6, 2);
    check_rg_lru(70, 5, 3, 1);
    check_rg_lru(64, 0, 1, 3);
}

// Local attention in a ring of W rows, over calls: a prompt batch of n1 rows (longer than W)
// at positions pos0.., then n2 single rows. The ring starts with positions pos0 - W .. pos0 - 1
// in rows j % W; the other rows hold garbage that must never be read. Each call attends
// (attn.comp RING) and then stores its last W rows (attn_kv.comp), as gles/forward.c does.
// Reference: attention() over the whole key sequence with the window.
static void check_attn_ring(int n_head, int n_head_kv, int hd, int W, int pos0, int n1, int n2) {
    int kvw = n_head_kv * hd, qw = n_head * hd, n = n1 + n2, n_all = pos0 + n;
    double *kc = rand_vec((size_t)n_all * kvw, 1.0), *vc = rand_vec((size_t)n_all * kvw, 1.0);
    double *q = rand_vec((size_t)n * qw, 1.0), *want = malloc((size_t)n * qw * sizeof(double));
    double* att = malloc((size_t)n_all * sizeof(double));
    double scale = 1.0 / sqrt(hd);
    for (int t = 0; t < n; t++) {
        int64_t pos = pos0 + t, j0 = pos - W + 1 > 0 ? pos - W + 1 : 0;
        attention(want + (size_t)t * qw, q + (size_t)t * qw, kc, vc, kvw, n_all, j0, pos, n_head,
                  n_head_kv, hd, scale, att);
    }
    double *rk = rand_vec((size_t)W * kvw, 1e3), *rv = rand_vec((size_t)W * kvw, 1e3);
    for (int j = pos0 - W > 0 ? pos0 - W : 0; j < pos0; j++) {
        memcpy(rk + (size_t)(j % W) * kvw, kc + (size_t)j * kvw, (size_t)kvw * sizeof(double));
        memcpy(rv + (size_t)(j % W) * kvw, vc + (size_t)j * kvw, (size_t)kvw * sizeof(double));
    }
    GLuint bK = buf_f(rk, (size_t)W * kvw), bV = buf_f(rv, (size_t)W * kvw);
    int pa = prog(K_ATTN, "#define RING 1\n"), ps = prog(K_ATTN_KV, "");
    double* got = malloc((size_t)n * qw * sizeof(double));
    for (int r0 = 0; r0 < n; r0 = r0 == 0 ? n1 : r0 + 1) {
        // one call as the engine makes it: its rows start at row 0 of q, k, v and out, row 0
        // is position pc; keys of earlier calls can only come from the ring
        int rows = r0 == 0 ? n1 : 1, pc = pos0 + r0;
        GLuint bk = buf_f(kc + (size_t)pc * kvw, (size_t)rows * kvw);
        GLuint bv = buf_f(vc + (size_t)pc * kvw, (size_t)rows * kvw);
        GLuint bq = buf_f(q + (size_t)r0 * qw, (size_t)rows * qw);
        GLuint bo = buf_bytes(NULL, (size_t)rows * qw * 4);
        struct GlAttn a = {n_head, n_head_kv, hd, W, scale, kvw, W};
        struct GlRows k = {bk, kvw}, v = {bv, kvw};
        k_attn(&G, pa, &a, 1, (struct GlRows){bo, qw}, (struct GlRows){bq, qw}, bK, bV, k, v, pc, 0,
               rows);
        int first = rows > W ? rows - W : 0, n_store = rows - first;
        k_attn_kv(&G, ps, bK, bV, k, v, kvw, first, n_store, pc, W);
        double* o = read_f(bo, (size_t)rows * qw);
        memcpy(got + (size_t)r0 * qw, o, (size_t)rows * qw * sizeof(double));
        GLuint bs[4] = {bk, bv, bq, bo};
        glDeleteBuffers(4, bs);
        free(o);
    }
    char label[96];
    snprintf(label, sizeof(label), "attn ring h%d/%d hd%d W %d pos0 %d, %d + %d rows", n_head,
             n_head_kv, hd, W, pos0, n1, n2);
    assert_close(got, want, (size_t)n * qw, 1e-5, 1e-4, label);
    // the ring now holds the last W positions, position j in row j % W
    double* gk = read_f(bK, (size_t)W * kvw);
    for (int j = n_all - W; j < n_all; j++)
        assert_close(gk + (size_t)(j % W) * kvw, kc + (size_t)j * kvw, (size_t)kvw, 0, 1e-7,
                     "attn ring keys");
    GLuint bs[2] = {bK, bV};
    glDeleteBuffers(2, bs);
    free(kc), free(vc), free(q), free(want), free(att), free(rk), free(rv), free(got), free(gk);
}

static void test_attn_ring(void** state) {
    (void)state;
    NEED_GL();
    check_attn_ring(4, 1, 16, 8, 0, 16, 3);    // RecurrentGemma's shape: a prompt of 2 W
    check_attn_ring(4, 2, 24, 5, 3, 13, 4);    // the ring partly filled before the prompt
    check_attn_ring(2, 2, 8, 7, 20, 3, 9);     // a short batch after the ring has wrapped
    check_attn_ring(2, 1, 12, 600, 650, 2, 2); // a window across two 512-key chunks
}

// ---- zamba2

// The write masks gl_dispatch() elides barriers by come from the shaders' qualifiers (the
// Makefile's registry.inc): the bindings each kernel declares without `readonly`.
static void test_write_masks(void** state) {
    (void)state;
    assert_int_equal(gl_kernel_writes(K_ADD), 1u);
    assert_int_equal(gl_kernel_writes(K_MATMUL), 1u);
    assert_int_equal(gl_kernel_writes(K_ATTN_KV), 1u | 1u << 1);
    assert_int_equal(gl_kernel_writes(K_ATTN_SPLIT), 1u | 1u << 4 | 1u << 5);
    assert_int_equal(gl_kernel_writes(K_MATVEC), 1u | 1u << 5 | 1u << 6); // MV_QKV's caches
    assert_int_equal(gl_kernel_writes(K_RG_LRU), 1u | 1u << 1);           // out, state
    assert_int_equal(gl_kernel_writes(K_MOE_ROUTE), 1u << 1 | 1u << 2);
    for (int k = 0; k < K_COUNT; k++)
        assert_true(gl_kernel_writes((enum Kernel)k) != 0); // every kernel writes something
}

static void test_concat(void** state) {
    (void)state;
    NEED_GL();
    const int wa = 70, wb = 45, sb = 50, w = wa + wb, n = 3; // b rows are wider than their part
    double *a = rand_vec_f((size_t)n * wa, 1.0), *b = rand_vec_f((size_t)n * sb, 1.0);
    double* want = malloc((size_t)n * w * sizeof(double));
    for (int t = 0; t < n; t++)
        concat(want + (size_t)t * w, a + (size_t)t * wa, wa, b + (size_t)t * sb, wb);
    GLuint bo = buf_bytes(NULL, (size_t)n * w * 4), ba = buf_f(a, (size_t)n * wa),
           bb = buf_f(b, (size_t)n * sb);
    k_concat(&G, prog(K_CONCAT, ""), (struct GlRows){bo, w}, (struct GlRows){ba, wa},
             (struct GlRows){bb, sb}, w, 0, n);
    double* got = read_f(bo, (size_t)n * w);
    assert_close(got, want, (size_t)n * w, 0, 0, "concat");
    GLuint bs[3] = {bo, ba, bb};
    glDeleteBuffers(3, bs);
    free(a), free(b), free(want), free(got);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm_rows),
        cmocka_unit_test(test_matmul_types),
        cmocka_unit_test(test_matmul_more_types),
        cmocka_unit_test(test_matvec_types),
        cmocka_unit_test(test_matvec_fused),
        cmocka_unit_test(test_embed_q4_0),
        cmocka_unit_test(test_rope_norm_neox),
        cmocka_unit_test(test_attn_gqa_chunks_window),
        cmocka_unit_test(test_add_glu),
        cmocka_unit_test(test_layernorm_groups),
        cmocka_unit_test(test_token_shift_state),
        cmocka_unit_test(test_lerp_unary_mul_ka),
        cmocka_unit_test(test_rwkv7_kk_bonus),
        cmocka_unit_test(test_wkv7_batch_then_steps),
        cmocka_unit_test(test_slice_rmsnorm_group),
        cmocka_unit_test(test_ssm_conv_state),
        cmocka_unit_test(test_ssm_scan),
        cmocka_unit_test(test_moe),
        cmocka_unit_test(test_scale_softcap),
        cmocka_unit_test(test_matmul_blockdiag),
        cmocka_unit_test(test_rg_lru),
        cmocka_unit_test(test_attn_ring),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_write_masks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
