// test_ref_ssm.c: the FP64 reference engine on the state-space families (Mamba-1, Mamba-2,
// Jamba) against Hugging Face float64 logits (../shared/hf), llama.cpp's float32 logits
// (../shared/vectors/llamacpp), and self-consistency (prefill vs token-by-token, threads).
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
#include "model.h"
#include "ref.h"

// One model: logits vs HF float64 within tol, greedy.txt token by token, llama.cpp's float32
// logits (reported, loosely bounded), prefill == decode to 1e-12, 1 thread == 3 threads.
static void check_model(const char* name, const char* arch, enum LayerKind kind, double tol) {
    char path[512], rel[256];
    snprintf(rel, sizeof(rel), "gguf/%s-f32.gguf", name);
    if (!shared_path(path, sizeof(path), rel)) skip();
    struct Model m;
    struct Err e = {0};
    assert_int_equal(model_open(&m, path, &e), 0);
    assert_string_equal(arch_name(m.config.arch), arch);
    int has_kind = 0;
    for (int l = 0; l < m.config.n_layer; l++)
        has_kind |= m.config.layer_kind[l] == kind;
    assert_true(has_kind);
    int n;
    double* got = check_hf_model(&m, name, tol, &n);
    if (!got) {
        model_free(&m);
        skip();
    }
    size_t size, count = (size_t)n * (size_t)m.config.n_vocab;

    // llama.cpp's float32 logits for the same prompt.
    snprintf(rel, sizeof(rel), "vectors/llamacpp/hf-dev-%s.batch_logits_f32.bin", name);
    if (shared_path(path, sizeof(path), rel)) {
        float* ref32 = (float*)read_file(path, &size);
        assert_int_equal(size, count * sizeof(float));
        double* lc = malloc(count * sizeof(double));
        for (size_t i = 0; i < count; i++)
            lc[i] = (double)ref32[i];
        double lc_err = rel_error(got, lc, count);
        printf("%s: relative error vs llama.cpp float32 %.3e\n", name, lc_err);
        assert_true(lc_err <= 1e-5);
        free(lc);
        free(ref32);
    }
    free(got);
    model_free(&m);
}

static void test_mamba_matches_hf(void** state) {
    (void)state;
    check_model("mamba", "mamba", LAYER_MAMBA, 1e-7);
}

static void test_mamba2_matches_hf(void** state) {
    (void)state;
    check_model("mamba2", "mamba2", LAYER_MAMBA2, 1e-7);
}

// hf/mamba2-groups (no llama.cpp GGUF of it in ../shared: converted here): two B/C groups,
// the gated norm per group as the original Mamba-2 and llama.cpp compute it (ARCHITECTURES
// §1); within 1e-8 of HF float64 (float32 A, as llama.cpp's layout stores it).
static void test_mamba2_groups_matches_hf(void** state) {
    (void)state;
    char dir[512], out[] = "/tmp/mattn-ssm-XXXXXX";
    if (!shared_path(dir, sizeof(dir), "hf/mamba2-groups")) skip();
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
    struct Err e = {0};
    struct ConvertOptions o = {.type = GGML_TYPE_F32};
    int rc = convert_hf(dir, out, &o, &e);
    if (rc) printf("convert mamba2-groups: %s\n", e.msg);
    assert_int_equal(rc, 0);
    struct Model m;
    rc = model_open(&m, out, &e);
    unlink(out);
    assert_int_equal(rc, 0);
    assert_int_equal(m.config.ssm_n_group, 2);
    int n;
    double* got = check_hf_model(&m, "mamba2-groups", 1e-8, &n);
    free(got);
    model_free(&m);
    if (!got) skip();
}

static void test_jamba_matches_hf(void** state) {
    (void)state;
    check_model("jamba", "jamba", LAYER_ATTN, 1e-6);
}

// Jamba's layer pattern comes from the per-layer head_count_kv (0 = Mamba) and the presence
// of a router (MoE); its attention has no RoPE.
static void test_jamba_layer_pattern(void** state) {
    (void)state;
    char path[512];
    if (!shared_path(path, sizeof(path), "gguf/jamba-f32.gguf")) skip();
    struct Model m;
    struct Err e = {0};
    assert_int_equal(model_open(&m, path, &e), 0);
    const struct Config* c = &m.config;
    assert_int_equal(c->n_layer, 4);
    for (int l = 0; l < 4; l++) {
        assert_int_equal(c->layer_kind[l], l % 2 ? LAYER_ATTN : LAYER_MAMBA);
        assert_int_equal(c->ffn_kind[l], l % 2 ? FFN_MOE : FFN_DENSE);
    }
    assert_int_equal(c->rope_type, ROPE_NONE);
    assert_int_equal(c->n_expert, 4);
    assert_int_equal(c->n_expert_used, 2);
    assert_true(m.w.layers[0].ssm_dt_norm && m.w.layers[0].ssm_b_norm && m.w.layers[0].ssm_c_norm);
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mamba_matches_hf),         cmocka_unit_test(test_mamba2_matches_hf),
        cmocka_unit_test(test_mamba2_groups_matches_hf), cmocka_unit_test(test_jamba_matches_hf),
        cmocka_unit_test(test_jamba_layer_pattern),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
