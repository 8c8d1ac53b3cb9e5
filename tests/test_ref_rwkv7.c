// test_ref_rwkv7.c: the FP64 reference engine on RWKV-7 (tiny-rwkv7-834K: 12 layers, d=64,
// byte vocabulary) against llama.cpp's float32 logits and greedy continuations
// (../shared/vectors/llamacpp) and rwkv.cpp's expected logits (../shared/vectors/rwkvcpp),
// plus self-consistency: prefill vs token-by-token vs chunks, thread counts, quantized files
// vs their own F32 dequantization.
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
#include "graph.h"
#include "model.h"
#include "quant.h"
#include "ref.h"

static const int32_t PROMPT[3] = {34, 105, 110}; // the bytes "in
#define N_PROMPT 3
#define N_GREEDY 16

// Greedy continuation after the prompt (prefill, then one token at a time); returns how many
// of the N_GREEDY ids equal want.
static int greedy_agree(const struct Model* m, const int32_t* want) {
    struct RefEngine r;
    struct Err e = {0};
    assert_int_equal(ref_init(&r, m, N_PROMPT + N_GREEDY, N_PROMPT, 1, &e), 0);
    assert_int_equal(ref_forward(&r, PROMPT, N_PROMPT, 1, &e), 0);
    int row = N_PROMPT - 1, agree = 0;
    for (int i = 0; i < N_GREEDY; i++) {
        int32_t id = argmax(ref_logits(&r, row), m->config.n_vocab);
        row = 0;
        agree += id == want[i];
        if (i + 1 < N_GREEDY) assert_int_equal(ref_forward(&r, &id, 1, 0, &e), 0);
    }
    ref_free(&r);
    return agree;
}

static int open_model(struct Model* m, const char* rel) {
    char path[512];
    struct Err e = {0};
    if (!shared_path(path, sizeof(path), rel)) return 0;
    assert_int_equal(model_open(m, path, &e), 0);
    return 1;
}

static void test_config(void** state) {
    (void)state;
    struct Model m;
    if (!open_model(&m, "models/tiny-rwkv7-834K-f32.gguf")) skip();
    const struct Config* c = &m.config;
    assert_int_equal(c->arch, ARCH_RWKV7);
    assert_int_equal(c->n_embd, 64);
    assert_int_equal(c->n_layer, 12);
    assert_int_equal(c->rwkv_head_size, 64);
    assert_int_equal(c->n_head, 1);
    assert_int_equal(c->n_ff, 256);
    assert_int_equal(c->n_vocab, 256);
    assert_int_equal(c->layer_kind[11], LAYER_RWKV7);
    assert_non_null(m.w.layers[0].time_mix_lerp_fused);
    assert_non_null(m.w.layers[1].time_mix_v2);
    // Every op output can be dumped by (layer, name): the pairs are unique.
    struct Graph g;
    struct Err e = {0};
    assert_int_equal(graph_build(&g, &m, &e), 0);
    for (int i = 0; i < g.n_ops; i++)
        for (int j = i + 1; j < g.n_ops; j++)
            if (g.ops[i].layer == g.ops[j].layer)
                assert_string_not_equal(g.ops[i].name, g.ops[j].name);
    graph_free(&g);
    model_free(&m);
}

// F32: every prompt row vs llama.cpp, the last vs rwkv.cpp, greedy vs llama.cpp.
static void test_f32_matches_llamacpp_and_rwkvcpp(void** state) {
    (void)state;
    struct Model m;
    if (!open_model(&m, "models/tiny-rwkv7-834K-f32.gguf")) skip();
    int nv = m.config.n_vocab;
    double* want =
        read_f32("vectors/llamacpp/tiny-rwkv7-f32.batch_logits_f32.bin", (size_t)N_PROMPT * nv);
    double* want_rwkvcpp = read_f32("vectors/rwkvcpp/expected-logits-7v0-834K.bin", (size_t)nv);
    int32_t greedy[N_GREEDY];
    int n_greedy = read_ids("vectors/llamacpp/tiny-rwkv7-f32.greedy.txt", greedy, N_GREEDY);
    if (!want || !want_rwkvcpp || n_greedy != N_GREEDY) {
        free(want);
        free(want_rwkvcpp);
        model_free(&m);
        skip();
    }
    double* got = run_logits(&m, PROMPT, N_PROMPT, N_PROMPT, 2);
    double e_llama = rel_error(got, want, (size_t)N_PROMPT * nv);
    double e_rwkv = rel_error(got + (size_t)(N_PROMPT - 1) * nv, want_rwkvcpp, (size_t)nv);
    int agree = greedy_agree(&m, greedy);
    printf("tiny-rwkv7 f32: relative error vs llama.cpp %.3e, vs rwkv.cpp %.3e, greedy %d/%d\n",
           e_llama, e_rwkv, agree, N_GREEDY);
    assert_true(e_llama <= 1e-5);
    assert_true(e_rwkv <= 1e-5);
    assert_int_equal(agree, N_GREEDY);
    free(got);
    free(want);
    free(want_rwkvcpp);
    model_free(&m);
}

// Quantized files: llama.cpp rounds activations too (F16 inputs to F16 matmuls, Q8 inputs to
// Q5 dots), so its logits differ from exact arithmetic on the same weights by a measured
// 1.1e-4 (fp16), 5.4e-4 (q5_0), 3.4e-4 (q5_1); the bounds sit about 2x above. The exact check
// is against the same weights dequantized to F32 by mattn's own writer.
static void check_quantized(const char* q, double tol) {
    char rel[256];
    struct Model m;
    snprintf(rel, sizeof(rel), "models/tiny-rwkv7-834K-%s.gguf", q);
    if (!open_model(&m, rel)) skip();
    int nv = m.config.n_vocab;
    snprintf(rel, sizeof(rel), "vectors/llamacpp/tiny-rwkv7-%s.batch_logits_f32.bin", q);
    double* want = read_f32(rel, (size_t)N_PROMPT * nv);
    int32_t greedy[N_GREEDY];
    snprintf(rel, sizeof(rel), "vectors/llamacpp/tiny-rwkv7-%s.greedy.txt", q);
    int n_greedy = read_ids(rel, greedy, N_GREEDY);
    if (!want || n_greedy != N_GREEDY) {
        free(want);
        model_free(&m);
        skip();
    }
    double* got = run_logits(&m, PROMPT, N_PROMPT, N_PROMPT, 2);
    double err = rel_error(got, want, (size_t)N_PROMPT * nv);
    int agree = greedy_agree(&m, greedy);

    struct GgufWriter w;
    struct Err e = {0};
    gguf_writer_init(&w);
    for (int64_t i = 0; i < m.gguf.n_kv; i++)
        gguf_writer_set_kv(&w, &m.gguf.kv[i]);
    float** bufs = calloc((size_t)m.gguf.n_tensors, sizeof(float*));
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
    double* got32 = run_logits(&m32, PROMPT, N_PROMPT, N_PROMPT, 1);
    double err32 = rel_error(got, got32, (size_t)N_PROMPT * nv);
    printf("tiny-rwkv7 %s: relative error vs llama.cpp %.3e (bound %.1e), vs its F32 "
           "dequantization %.3e, greedy %d/%d\n",
           q, err, tol, err32, agree, N_GREEDY);
    assert_true(err <= tol);
    assert_true(err32 <= 1e-12);
    assert_int_equal(agree, N_GREEDY);
    model_free(&m32);
    free(bytes);
    for (int64_t i = 0; i < m.gguf.n_tensors; i++)
        free(bufs[i]);
    free(bufs);
    gguf_writer_free(&w);
    free(got32);
    free(got);
    free(want);
    model_free(&m);
}

static void test_fp16(void** state) {
    (void)state;
    check_quantized("fp16", 2.5e-4);
}

static void test_q5_0(void** state) {
    (void)state;
    check_quantized("q5_0", 1e-3);
}

static void test_q5_1(void** state) {
    (void)state;
    check_quantized("q5_1", 7e-4);
}

// One prefill = token by token = uneven chunks (state carried across calls and rows), and
// the thread count changes nothing.
static void test_prefill_equals_decode(void** state) {
    (void)state;
    struct Model m;
    if (!open_model(&m, "models/tiny-rwkv7-834K-f32.gguf")) skip();
    int nv = m.config.n_vocab;
    const char* text = "\"in the beginning was the word";
    int32_t ids[32];
    int n = (int)strlen(text);
    for (int i = 0; i < n; i++)
        ids[i] = (unsigned char)text[i];
    double* a = run_logits(&m, ids, n, n, 1);
    double* b = run_logits(&m, ids, n, 1, 1);
    double* c = run_logits(&m, ids, n, 7, 1);
    double* d = run_logits(&m, ids, n, n, 3);
    size_t total = (size_t)n * nv;
    double e_tok = rel_error(b, a, total), e_chunk = rel_error(c, a, total);
    printf("tiny-rwkv7: token by token vs prefill %.3e, chunks of 7 vs prefill %.3e\n", e_tok,
           e_chunk);
    assert_true(e_tok <= 1e-12);
    assert_true(e_chunk <= 1e-12);
    assert_int_equal(memcmp(a, d, total * sizeof(double)), 0);
    // ref_reset starts a new sequence: the same prompt gives the same logits again.
    struct RefEngine r;
    struct Err e = {0};
    assert_int_equal(ref_init(&r, &m, 2 * n, n, 1, &e), 0);
    assert_int_equal(ref_forward(&r, ids, n, 0, &e), 0);
    ref_reset(&r);
    assert_int_equal(ref_forward(&r, ids, n, 0, &e), 0);
    assert_int_equal(memcmp(ref_logits(&r, 0), a, total * sizeof(double)), 0);
    ref_free(&r);
    free(a);
    free(b);
    free(c);
    free(d);
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config), cmocka_unit_test(test_f32_matches_llamacpp_and_rwkvcpp),
        cmocka_unit_test(test_fp16),   cmocka_unit_test(test_q5_0),
        cmocka_unit_test(test_q5_1),   cmocka_unit_test(test_prefill_equals_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
