// test_ref_forward.c: the FP64 reference engine against independent references:
// Hugging Face float64 logits (../shared/hf), llama.cpp's logits and greedy continuations
// (../shared/vectors/llamacpp), and self-consistency (prefill vs token-by-token, threads).
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
#include "model.h"
#include "quant.h"
#include "ref.h"

// Logits vs HF float64 within tol, and greedy ids vs greedy.txt (which may end at EOS).
static void check_hf(const char* gguf_rel, const char* hf, double tol) {
    char path[512], rel[256];
    if (!shared_path(path, sizeof(path), gguf_rel)) skip();
    struct Model m;
    struct Err e = {0};
    assert_int_equal(model_open(&m, path, &e), 0);
    int32_t ids[64], greedy[16];
    snprintf(rel, sizeof(rel), "hf/%s/ids.txt", hf);
    int n = read_ids(rel, ids, 64);
    snprintf(rel, sizeof(rel), "hf/%s/greedy.txt", hf);
    int n_greedy = read_ids(rel, greedy, 16);
    snprintf(rel, sizeof(rel), "hf/%s/logits_f64.bin", hf);
    if (n <= 0 || n_greedy <= 0 || !shared_path(path, sizeof(path), rel)) {
        model_free(&m);
        skip();
    }
    size_t size;
    double* want = (double*)read_file(path, &size);
    int nv = m.config.n_vocab;
    assert_int_equal(size, (size_t)n * (size_t)nv * sizeof(double));
    double* got = run_logits(&m, ids, n, n, 2);
    double rel_err = rel_error(got, want, (size_t)n * nv);
    printf("%s: relative error vs HF float64 %.3e\n", hf, rel_err);
    assert_true(rel_err <= tol);

    // Greedy continuation, token by token through the KV cache, stopping at EOS as HF does.
    struct RefEngine r;
    assert_int_equal(ref_init(&r, &m, n + n_greedy, n, 1, &e), 0);
    assert_int_equal(ref_forward(&r, ids, n, 1, &e), 0);
    int row = n - 1;
    for (int i = 0; i < n_greedy; i++) {
        int32_t id = argmax(ref_logits(&r, row), nv);
        row = 0;
        assert_int_equal(id, greedy[i]);
        if (i + 1 < n_greedy) assert_int_equal(ref_forward(&r, &id, 1, 0, &e), 0);
    }
    ref_free(&r);
    free(got);
    free(want);
    model_free(&m);
}

static void test_llama_matches_hf(void** state) {
    (void)state;
    check_hf("gguf/llama-f32.gguf", "llama", 1e-9);
}

static void test_mistral_sliding_window_matches_hf(void** state) {
    (void)state;
    check_hf("gguf/mistral-f32.gguf", "mistral", 1e-9);
}

static const int32_t STORIES_IDS[16] = {1,   403, 407, 261, 378, 432, 383, 286,
                                        261, 376, 298, 315, 421, 395, 317, 426};

// stories260K vs llama.cpp's float32 logits; returns our logits.
static double* check_stories(const char* model_rel, const char* ref_rel, double tol,
                             struct Model* m) {
    char path[512];
    struct Err e = {0};
    if (!shared_path(path, sizeof(path), model_rel)) return NULL;
    assert_int_equal(model_open(m, path, &e), 0);
    if (!shared_path(path, sizeof(path), ref_rel)) {
        model_free(m);
        return NULL;
    }
    size_t size;
    float* ref32 = (float*)read_file(path, &size);
    int nv = m->config.n_vocab;
    assert_int_equal(size, 16 * (size_t)nv * sizeof(float));
    double* want = malloc(16 * (size_t)nv * sizeof(double));
    for (size_t i = 0; i < 16 * (size_t)nv; i++)
        want[i] = (double)ref32[i];
    double* got = run_logits(m, STORIES_IDS, 16, 16, 2);
    double rel_err = rel_error(got, want, 16 * (size_t)nv);
    int agree = 0;
    for (int t = 0; t < 16; t++)
        agree += argmax(got + t * nv, nv) == argmax(want + t * nv, nv);
    printf("%s: relative error vs llama.cpp %.3e, argmax agree %d/16\n", model_rel, rel_err, agree);
    assert_true(rel_err <= tol);
    assert_true(agree >= 14);
    free(ref32);
    free(want);
    return got;
}

static void test_stories260k_matches_llamacpp(void** state) {
    (void)state;
    struct Model m;
    double* got = check_stories("models/stories260K.gguf",
                                "vectors/llamacpp/stories260K.batch_logits_f32.bin", 1e-5, &m);
    if (!got) skip();
    free(got);
    model_free(&m);
}

// Quantized files: llama.cpp also rounds activations (about 1% relative), so only a loose
// bound applies there; the exact check is against the same weights dequantized to F32 by
// mattn's own writer, which must give the same logits to rounding.
static void check_quantized(const char* model_rel, const char* ref_rel) {
    struct Model m;
    double* got = check_stories(model_rel, ref_rel, 0.03, &m);
    if (!got) skip();
    struct GgufWriter w;
    struct Err e = {0};
    gguf_writer_init(&w);
    for (int64_t i = 0; i < m.gguf.n_kv; i++)
        gguf_writer_set_kv(&w, &m.gguf.kv[i]);
    float* bufs[256] = {0};
    assert_true(m.gguf.n_tensors <= 256);
    for (int64_t i = 0; i < m.gguf.n_tensors; i++) {
        const struct GgufTensor* t = &m.gguf.tensors[i];
        bufs[i] = malloc((size_t)t->n_elements * sizeof(float));
        assert_int_equal(quant_dequant_row_f32(t->type, t->data, bufs[i], t->n_elements), 0);
        gguf_writer_add_tensor(&w, t->name, GGML_TYPE_F32, t->n_dims, t->ne, bufs[i], 0);
    }
    uint8_t* bytes;
    size_t size;
    assert_int_equal(gguf_writer_write_mem(&w, &bytes, &size, &e), 0);
    struct Gguf g;
    struct Model m32;
    assert_int_equal(gguf_parse(&g, bytes, size, &e), 0);
    assert_int_equal(model_load(&m32, &g, &e), 0);
    double* got32 = run_logits(&m32, STORIES_IDS, 16, 16, 1);
    double rel_err = rel_error(got, got32, 16 * (size_t)m.config.n_vocab);
    printf("%s: relative error vs its F32 dequantization %.3e\n", model_rel, rel_err);
    assert_true(rel_err <= 1e-12);
    model_free(&m32);
    free(bytes);
    for (int i = 0; i < 256; i++)
        free(bufs[i]);
    gguf_writer_free(&w);
    free(got32);
    free(got);
    model_free(&m);
}

static void test_stories260k_q8_0(void** state) {
    (void)state;
    check_quantized("models/stories260K-q8_0.gguf",
                    "vectors/llamacpp/stories260K-q8_0.batch_logits_f32.bin");
}

static void test_stories260k_q4_0(void** state) {
    (void)state;
    check_quantized("models/stories260K-q4_0.gguf",
                    "vectors/llamacpp/stories260K-q4_0.batch_logits_f32.bin");
}

// Token-by-token decode equals one prefill pass, and the thread count changes nothing.
static void test_prefill_equals_decode(void** state) {
    (void)state;
    const char* models[] = {"gguf/llama-f32.gguf", "gguf/mistral-f32.gguf",
                            "models/stories260K.gguf"};
    for (size_t k = 0; k < sizeof(models) / sizeof(models[0]); k++) {
        char path[512];
        struct Model m;
        struct Err e = {0};
        if (!shared_path(path, sizeof(path), models[k])) continue;
        assert_int_equal(model_open(&m, path, &e), 0);
        int nv = m.config.n_vocab;
        int32_t ids[16];
        for (int i = 0; i < 16; i++)
            ids[i] = STORIES_IDS[i] % nv;
        double* a = run_logits(&m, ids, 16, 16, 1);
        double* b = run_logits(&m, ids, 16, 1, 1);
        double* c = run_logits(&m, ids, 16, 16, 3);
        assert_close(b, a, 16 * (size_t)nv, 0, 1e-12, models[k]);
        assert_int_equal(memcmp(a, c, 16 * (size_t)nv * sizeof(double)), 0);
        free(a);
        free(b);
        free(c);
        model_free(&m);
    }
}

static void test_forward_rejects_bad_input(void** state) {
    (void)state;
    char path[512];
    if (!shared_path(path, sizeof(path), "models/stories260K.gguf")) skip();
    struct Model m;
    struct RefEngine r;
    struct Err e = {0};
    assert_int_equal(model_open(&m, path, &e), 0);
    assert_int_equal(ref_init(&r, &m, 4, 4, 1, &e), 0);
    int32_t bad = 512;
    assert_int_equal(ref_forward(&r, &bad, 1, 0, &e), ERR_ARG);
    assert_non_null(strstr(e.msg, "vocabulary"));
    int32_t ids[4] = {1, 2, 3, 4};
    assert_int_equal(ref_forward(&r, ids, 4, 0, &e), 0);
    assert_int_equal(ref_forward(&r, ids, 1, 0, &e), ERR_ARG); // context full
    assert_non_null(strstr(e.msg, "context"));
    ref_free(&r);
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_matches_hf),
        cmocka_unit_test(test_mistral_sliding_window_matches_hf),
        cmocka_unit_test(test_stories260k_matches_llamacpp),
        cmocka_unit_test(test_stories260k_q8_0),
        cmocka_unit_test(test_stories260k_q4_0),
        cmocka_unit_test(test_prefill_equals_decode),
        cmocka_unit_test(test_forward_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
