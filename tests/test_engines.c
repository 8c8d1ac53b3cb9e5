// test_engines.c: the GLES engine against the FP64 reference engine on real models from
// ../shared: stories260K (F32, Q8_0, Q4_0), the HF dev llama/mistral/mamba/mamba2/jamba (F32)
// and tiny-rwkv7 (F32, F16, Q5_0, Q5_1), and every checkpoint of ../shared/hf converted here
// by tools/convert.c into a private temp directory (recurrentgemma, zamba2, zamba, llama,
// mistral, mamba, mamba2, jamba; recurrentgemma and mistral with a window shorter than the
// prompt, so the local-attention ring wraps within one batch). For each:
// prompt logits (one batch, and token by token) within 1e-4 relative (max|gl-ref|/max|ref|)
// of ref's, the same 16 greedy ids, every op output within tolerance (the op hooks), and the
// same logits with every weight matrix split over several SSBOs. Skips without ES 3.1.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "convert.h"
#include "gl_env.h"
#include "gles.h"
#include "gles_int.h"
#include "model.h"
#include "ref.h"

#define LOGITS_RTOL 1e-4 // docs/GLES.md: max|gl - ref| / max|ref| per position
#define N_GREEDY 16

static int have_gl;
static struct GlOptions g_opt; // from the environment (app/gl_env.c), as the mains read it
static char g_tmp[256];        // a private temp directory for the converted checkpoints

static int setup(void** state) {
    (void)state;
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/mattn-test-engines-XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    struct Err e = {0};
    const char *path, *renderer;
    gl_options_from_env(&g_opt);
    have_gl = gl_context_acquire(g_opt.egl, &path, &renderer, &e) == 0;
    if (have_gl)
        fprintf(stderr, "gl: %s via %s\n", renderer, path);
    else
        fprintf(stderr, "skip: %s\n", e.msg);
    return 0; // the engines acquire their own reference; ours keeps the context alive
}

static const char* const HF_MODELS[] = {"recurrentgemma", "zamba2",       "zamba",  "llama",
                                        "mistral",        "mamba",        "mamba2", "jamba",
                                        "zamba2-shared1", "mamba2-groups"};

static int teardown(void** state) {
    (void)state;
    if (have_gl) gl_context_release();
    char path[512];
    for (size_t i = 0; i < sizeof(HF_MODELS) / sizeof(HF_MODELS[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s.gguf", g_tmp, HF_MODELS[i]);
        remove(path);
    }
    rmdir(g_tmp);
    return 0;
}

static const int32_t STORIES_IDS[] = {1,   403, 407, 261, 378, 432, 383, 286,
                                      261, 376, 298, 315, 421, 395, 317, 426};

// The prompt of a model: llama.cpp's stories ids, the bytes of "text:..." (a byte-level
// vocabulary such as tiny-rwkv7's), or hf/<name>/ids.txt.
static int prompt_ids(const char* hf, int32_t* ids, int cap) {
    if (!hf) {
        int n = (int)(sizeof(STORIES_IDS) / sizeof(STORIES_IDS[0]));
        memcpy(ids, STORIES_IDS, sizeof(STORIES_IDS));
        return n;
    }
    if (!strncmp(hf, "text:", 5)) {
        int n = 0;
        for (const char* c = hf + 5; *c && n < cap; c++)
            ids[n++] = (unsigned char)*c;
        return n;
    }
    char rel[128], path[512];
    snprintf(rel, sizeof(rel), "hf/%s/ids.txt", hf);
    if (!shared_path(path, sizeof(path), rel)) return -1;
    FILE* f = fopen(path, "r");
    int n = 0, v;
    while (f && n < cap && fscanf(f, "%d", &v) == 1)
        ids[n++] = v;
    if (f) fclose(f);
    return n;
}

static int argmax_d(const double* x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static int argmax_f(const float* x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

// ---------------------------------------------------------------------------------------
// op-by-op comparison through the hooks

struct Capture {
    const struct Graph* g;
    int n;
    double** rows; // per op: (n, width)
};

static void ref_hook(void* ctx, const struct Op* op, int64_t pos0, int n, const double* out,
                     int width) {
    struct Capture* c = ctx;
    int i = (int)(op - c->g->ops);
    if (!c->rows[i]) c->rows[i] = calloc((size_t)c->n * (size_t)width, sizeof(double));
    memcpy(c->rows[i] + (size_t)pos0 * width, out, (size_t)n * (size_t)width * sizeof(double));
}

struct Check {
    struct Capture* ref;
    const struct Graph* g;
    double worst;
    char worst_name[96];
};

static void gl_hook(void* ctx, const struct Op* op, int64_t pos0, int n, const float* out,
                    int width) {
    struct Check* c = ctx;
    const double* want = c->ref->rows[op - c->g->ops];
    for (int t = 0; t < n; t++) {
        const double* r = want + (size_t)(pos0 + t) * width;
        double md = 0, mr = 0;
        for (int i = 0; i < width; i++) {
            double d = fabs(out[(size_t)t * width + i] - r[i]);
            if (!(d <= md)) md = d;
            if (fabs(r[i]) > mr) mr = fabs(r[i]);
        }
        double rel = mr > 0 ? md / mr : md;
        if (!(rel <= c->worst)) {
            c->worst = rel;
            snprintf(c->worst_name, sizeof(c->worst_name), "pos %lld layer %d %s",
                     (long long)(pos0 + t), op->layer, op->name);
        }
    }
}

// ---------------------------------------------------------------------------------------

// The model file at path (rel: its name in the messages), prompted as prompt_ids(hf).
// ops_rtol: the bound on every op output row's relative error (max|gl-ref| / max|ref| of the
// row). Logits are always held to LOGITS_RTOL.
static void check_model_path(const char* path, const char* rel, const char* hf, double ops_rtol) {
    struct Model m;
    struct Err e = {0};
    assert_int_equal(model_open(&m, path, &e), 0);
    int32_t ids[64 + N_GREEDY];
    int n = prompt_ids(hf, ids, 64);
    if (n <= 0) {
        model_free(&m);
        skip();
    }
    int nv = m.config.n_vocab, n_ctx = n + N_GREEDY;
    size_t sz = (size_t)n * nv;

    // ref: the prompt as one batch (op outputs kept), then greedy ids
    struct RefEngine r;
    assert_int_equal(ref_init(&r, &m, n_ctx, n, 1, &e), 0);
    struct Capture cap = {&r.g, n, calloc((size_t)r.g.n_ops, sizeof(double*))};
    r.hook = ref_hook;
    r.hook_ctx = &cap;
    assert_int_equal(ref_forward(&r, ids, n, 0, &e), 0);
    r.hook = NULL;
    double* want = malloc(sz * sizeof(double));
    for (int t = 0; t < n; t++)
        memcpy(want + (size_t)t * nv, ref_logits(&r, t), nv * sizeof(double));
    int32_t greedy_ref[N_GREEDY];
    int row = n - 1;
    for (int k = 0; k < N_GREEDY; k++) {
        greedy_ref[k] = argmax_d(ref_logits(&r, row), nv);
        row = 0;
        if (k + 1 < N_GREEDY) assert_int_equal(ref_forward(&r, &greedy_ref[k], 1, 0, &e), 0);
    }

    // gl: the same batch, every op compared
    struct GlEngine g;
    int rc = gl_init(&g, &m, n_ctx, n, &g_opt, &e);
    if (rc) fail_msg("gl_init: %s", e.msg);
    struct Check chk = {&cap, &g.g, 0, ""};
    g.hook = gl_hook;
    g.hook_ctx = &chk;
    assert_int_equal(gl_forward(&g, ids, n, 0, &e), 0);
    g.hook = NULL;
    fprintf(stderr, "%s: worst op relative error %.2e (%s)\n", rel, chk.worst, chk.worst_name);
    assert_true(chk.worst <= ops_rtol);
    double* got = malloc(sz * sizeof(double));
    for (int t = 0; t < n; t++) {
        const float* l = gl_logits(&g, t);
        for (int i = 0; i < nv; i++)
            got[(size_t)t * nv + i] = l[i];
    }
    double rel_batch = rel_error(got, want, sz);
    int32_t greedy_gl[N_GREEDY];
    row = n - 1;
    for (int k = 0; k < N_GREEDY; k++) {
        greedy_gl[k] = argmax_f(gl_logits(&g, row), nv);
        row = 0;
        if (k + 1 < N_GREEDY) assert_int_equal(gl_forward(&g, &greedy_gl[k], 1, 0, &e), 0);
    }
    // gl token by token (the mat-vec path) over the prompt
    gl_reset(&g);
    for (int t = 0; t < n; t++) {
        assert_int_equal(gl_forward(&g, ids + t, 1, 0, &e), 0);
        const float* l = gl_logits(&g, 0);
        for (int i = 0; i < nv; i++)
            got[(size_t)t * nv + i] = l[i];
    }
    double rel_step = rel_error(got, want, sz);
    // the same with the fused one-row plan off (gles/fuse.c): the graph's ops one by one
    int fused = 0;
    for (int i = 0; i < g.g.n_ops; i++)
        fused += g.fuse[i].kind != FUSE_NONE;
    int all_f32 = 1;
    for (int64_t i = 0; i < m.gguf.n_tensors; i++)
        all_f32 &= m.gguf.tensors[i].type == GGML_TYPE_F32;
    // per layer: attn_norm q k v rope rope attn, o add, ffn_norm gate up glu, down add
    if (m.config.arch == ARCH_LLAMA && all_f32) assert_int_equal(fused, 15 * m.config.n_layer);
    gl_reset(&g);
    g.fuse_on = 0;
    for (int t = 0; t < n; t++) {
        assert_int_equal(gl_forward(&g, ids + t, 1, 0, &e), 0);
        const float* l = gl_logits(&g, 0);
        for (int i = 0; i < nv; i++)
            got[(size_t)t * nv + i] = l[i];
    }
    double rel_unfused = rel_error(got, want, sz);
    gl_free(&g);

    // gl with every matrix split into SSBOs of at most 4 KiB
    struct GlOptions split = g_opt;
    split.max_ssbo = 4096;
    rc = gl_init(&g, &m, n_ctx, n, &split, &e);
    if (rc) fail_msg("gl_init (split): %s", e.msg);
    assert_int_equal(gl_forward(&g, ids, n, 0, &e), 0);
    for (int t = 0; t < n; t++) {
        const float* l = gl_logits(&g, t);
        for (int i = 0; i < nv; i++)
            got[(size_t)t * nv + i] = l[i];
    }
    double rel_split = rel_error(got, want, sz);
    gl_free(&g);

    fprintf(stderr,
            "%s: logits rel error batch %.2e, token by token %.2e (%d ops fused; "
            "unfused %.2e), split %.2e\n",
            rel, rel_batch, rel_step, fused, rel_unfused, rel_split);
    assert_true(rel_batch <= LOGITS_RTOL);
    assert_true(rel_step <= LOGITS_RTOL);
    assert_true(rel_unfused <= LOGITS_RTOL);
    assert_true(rel_split <= LOGITS_RTOL);
    assert_memory_equal(greedy_gl, greedy_ref, sizeof(greedy_ref));

    for (int i = 0; i < r.g.n_ops; i++)
        free(cap.rows[i]);
    free(cap.rows);
    free(want);
    free(got);
    ref_free(&r);
    model_free(&m);
}

// A file under ../shared (rel), or a skip.
static void check_model_tol(const char* rel, const char* hf, double ops_rtol) {
    if (!have_gl) skip();
    char path[512];
    if (!shared_path(path, sizeof(path), rel)) skip();
    check_model_path(path, rel, hf, ops_rtol);
}

// ../shared/hf/<name> converted to F32 GGUF (once per run) and prompted with its ids.txt, or a
// skip when the checkpoint is absent.
static void check_hf_tol(const char* name, double ops_rtol) {
    if (!have_gl) skip();
    char dir[512], rel[128], out[512];
    snprintf(rel, sizeof(rel), "hf/%s", name);
    if (!shared_path(dir, sizeof(dir), rel)) skip();
    snprintf(out, sizeof(out), "%s/%s.gguf", g_tmp, name);
    if (access(out, F_OK) != 0) {
        struct ConvertOptions o = {.type = GGML_TYPE_F32};
        struct Err e = {0};
        int rc = convert_hf(dir, out, &o, &e);
        if (rc) fail_msg("convert %s: %s", name, e.msg);
    }
    snprintf(rel, sizeof(rel), "hf/%s (converted)", name);
    check_model_path(out, rel, name, ops_rtol);
}

#define OPS_RTOL 1e-4
static void check_model(const char* rel, const char* hf) {
    check_model_tol(rel, hf, OPS_RTOL);
}

static void test_stories260k_f32(void** s) {
    (void)s;
    check_model("models/stories260K.gguf", NULL);
}
static void test_stories260k_q8_0(void** s) {
    (void)s;
    check_model("models/stories260K-q8_0.gguf", NULL);
}
static void test_stories260k_q4_0(void** s) {
    (void)s;
    check_model("models/stories260K-q4_0.gguf", NULL);
}
static void test_llama_f32(void** s) {
    (void)s;
    check_model("gguf/llama-f32.gguf", "llama");
}
static void test_mistral_f32(void** s) {
    (void)s;
    check_model("gguf/mistral-f32.gguf", "mistral");
}

// ---- rwkv7: a 30-byte prompt, so the recurrent ops run a batch through their state.
// Op rows may be off by up to 1e-3 relative: at position 0 the wkv7 row of a head is
// v * (k . r), and where that dot product cancels (|k . r| << |k| |r|) the FP32 rounding of
// k and r (~2e-7) grows to ~1e-4 of the tiny row (measured 1.1e-4 on the F32 model, layer 4,
// with max|gl-ref| 1.4e-7); ln_x then rescales the row. The logits stay at ~3e-7.
#define RWKV_PROMPT "text:\"in the beginning was the word"
#define RWKV_OPS_RTOL 1e-3
static void test_rwkv7_f32(void** s) {
    (void)s;
    check_model_tol("models/tiny-rwkv7-834K-f32.gguf", RWKV_PROMPT, RWKV_OPS_RTOL);
}
static void test_rwkv7_fp16(void** s) {
    (void)s;
    check_model_tol("models/tiny-rwkv7-834K-fp16.gguf", RWKV_PROMPT, RWKV_OPS_RTOL);
}
static void test_rwkv7_q5_0(void** s) {
    (void)s;
    check_model_tol("models/tiny-rwkv7-834K-q5_0.gguf", RWKV_PROMPT, RWKV_OPS_RTOL);
}
static void test_rwkv7_q5_1(void** s) {
    (void)s;
    check_model_tol("models/tiny-rwkv7-834K-q5_1.gguf", RWKV_PROMPT, RWKV_OPS_RTOL);
}
// ---- mamba
static void test_mamba_f32(void** s) {
    (void)s;
    check_model("gguf/mamba-f32.gguf", "mamba");
}
static void test_mamba2_f32(void** s) {
    (void)s;
    check_model("gguf/mamba2-f32.gguf", "mamba2");
}
static void test_jamba_f32(void** s) {
    (void)s;
    check_model("gguf/jamba-f32.gguf", "jamba");
}

// ---- griffin, zamba2 and every other ../shared/hf checkpoint, converted here
static void test_hf_recurrentgemma(void** s) {
    (void)s;
    check_hf_tol("recurrentgemma", OPS_RTOL);
}
static void test_hf_zamba2(void** s) {
    (void)s;
    check_hf_tol("zamba2", OPS_RTOL);
}
static void test_hf_zamba2_shared1(void** s) {
    (void)s;
    check_hf_tol("zamba2-shared1", OPS_RTOL);
}
static void test_hf_mamba2_groups(void** s) {
    (void)s;
    check_hf_tol("mamba2-groups", OPS_RTOL);
}
static void test_hf_zamba(void** s) {
    (void)s;
    check_hf_tol("zamba", OPS_RTOL);
}
static void test_hf_llama(void** s) {
    (void)s;
    check_hf_tol("llama", OPS_RTOL);
}
static void test_hf_mistral(void** s) {
    (void)s;
    check_hf_tol("mistral", OPS_RTOL);
}
static void test_hf_mamba(void** s) {
    (void)s;
    check_hf_tol("mamba", OPS_RTOL);
}
static void test_hf_mamba2(void** s) {
    (void)s;
    check_hf_tol("mamba2", OPS_RTOL);
}
static void test_hf_jamba(void** s) {
    (void)s;
    check_hf_tol("jamba", OPS_RTOL);
}

// The fused one-row pass with the split decode attention forced off (opt.no_split_attn, as
// when attn_split.comp's partials exceed the SSBO limit): MV_QKV must then not be planned,
// because only the split path attends without storing k and v again (gles/fuse.c). The
// prompt goes as one batch, then N_GREEDY greedy steps of one token each (the fused pass),
// each step's logits within LOGITS_RTOL of ref's and the same ids.
static void check_no_split_attention(const char* rel, const char* hf) {
    if (!have_gl) skip();
    char path[512];
    if (!shared_path(path, sizeof(path), rel)) skip();
    struct Model m;
    struct Err e = {0};
    assert_int_equal(model_open(&m, path, &e), 0);
    int32_t ids[64];
    int n = prompt_ids(hf, ids, 64), nv = m.config.n_vocab, n_ctx = n + N_GREEDY;
    assert_true(n > 0);
    struct RefEngine r;
    assert_int_equal(ref_init(&r, &m, n_ctx, n, 1, &e), 0);
    struct GlOptions opt = g_opt;
    opt.no_split_attn = 1;
    opt.no_fuse = 0;
    struct GlEngine g;
    int rc = gl_init(&g, &m, n_ctx, n, &opt, &e);
    if (rc) fail_msg("gl_init (no split attention): %s", e.msg);
    assert_int_equal(g.attn_split, -1);
    assert_int_equal(ref_forward(&r, ids, n, 0, &e), 0);
    assert_int_equal(gl_forward(&g, ids, n, 0, &e), 0);
    double worst = 0, *row = malloc((size_t)nv * sizeof(double));
    int t_ref = n - 1, t_gl = n - 1, same = 1;
    char got[N_GREEDY * 8 + 1] = "", want[N_GREEDY * 8 + 1] = "";
    for (int k = 0; k < N_GREEDY; k++) {
        const double* lr = ref_logits(&r, t_ref);
        const float* lg = gl_logits(&g, t_gl);
        for (int i = 0; i < nv; i++)
            row[i] = lg[i];
        double err = rel_error(row, lr, (size_t)nv);
        if (!(err <= worst)) worst = err;
        int32_t id_ref = argmax_d(lr, nv), id_gl = argmax_f(lg, nv);
        snprintf(want + strlen(want), 8, " %d", id_ref);
        snprintf(got + strlen(got), 8, " %d", id_gl);
        same &= id_ref == id_gl;
        if (k + 1 == N_GREEDY) break;
        assert_int_equal(ref_forward(&r, &id_ref, 1, 0, &e), 0);
        assert_int_equal(gl_forward(&g, &id_gl, 1, 0, &e), 0);
        t_ref = t_gl = 0;
    }
    fprintf(stderr, "%s, no split attention: ids%s (ref%s), worst logits rel error %.2e\n", rel,
            got, want, worst);
    free(row);
    gl_free(&g);
    ref_free(&r);
    model_free(&m);
    assert_true(same);
    assert_true(worst <= LOGITS_RTOL);
}

static void test_no_split_attention(void** s) {
    (void)s;
    check_no_split_attention("models/stories260K.gguf", NULL);
    check_no_split_attention("gguf/llama-f32.gguf", "llama");
    check_no_split_attention("gguf/mistral-f32.gguf", "mistral");
}

// Errors: a token outside the vocabulary and a full context are ERR_ARG, as in ref.
static void test_forward_rejects_bad_input(void** s) {
    (void)s;
    if (!have_gl) skip();
    char path[512];
    if (!shared_path(path, sizeof(path), "models/stories260K.gguf")) skip();
    struct Model m;
    struct Err e = {0};
    assert_int_equal(model_open(&m, path, &e), 0);
    struct GlEngine g;
    assert_int_equal(gl_init(&g, &m, 2, 2, &g_opt, &e), 0);
    int32_t bad = 100000, ok[3] = {1, 2, 3};
    assert_int_equal(gl_forward(&g, &bad, 1, 0, &e), ERR_ARG);
    assert_int_equal(gl_forward(&g, ok, 3, 0, &e), ERR_ARG);
    assert_int_equal(gl_forward(&g, ok, 2, 0, &e), 0);
    assert_int_equal(gl_forward(&g, ok, 1, 0, &e), ERR_ARG);
    gl_free(&g);
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260k_f32),    cmocka_unit_test(test_stories260k_q8_0),
        cmocka_unit_test(test_stories260k_q4_0),   cmocka_unit_test(test_llama_f32),
        cmocka_unit_test(test_mistral_f32),        cmocka_unit_test(test_rwkv7_f32),
        cmocka_unit_test(test_rwkv7_fp16),         cmocka_unit_test(test_rwkv7_q5_0),
        cmocka_unit_test(test_rwkv7_q5_1),         cmocka_unit_test(test_mamba_f32),
        cmocka_unit_test(test_mamba2_f32),         cmocka_unit_test(test_jamba_f32),
        cmocka_unit_test(test_hf_recurrentgemma),  cmocka_unit_test(test_hf_zamba2),
        cmocka_unit_test(test_hf_zamba2_shared1),  cmocka_unit_test(test_hf_mamba2_groups),
        cmocka_unit_test(test_hf_zamba),           cmocka_unit_test(test_hf_llama),
        cmocka_unit_test(test_hf_mistral),         cmocka_unit_test(test_hf_mamba),
        cmocka_unit_test(test_hf_mamba2),          cmocka_unit_test(test_hf_jamba),
        cmocka_unit_test(test_no_split_attention), cmocka_unit_test(test_forward_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
