// test_ref_zamba.c: the FP64 reference engine on Zamba2 and Zamba v1 (ARCHITECTURES.md §7,
// §7.8), converted from ../shared/hf by tools/convert.c, against Hugging Face float64
// logits, greedy ids, and itself (prefill vs token by token, 1 vs 3 threads, reset); plus
// the layer pattern read from the file and one-line load errors on damaged files.
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
#include "gguf.h"
#include "model.h"
#include "ref.h"

static char g_tmp[256]; // a private temp directory for the suite

// Converts ../shared/hf/<name> to F32 GGUF in the temp directory and opens it as a model;
// skips when the checkpoint is absent.
static void open_converted(const char* name, struct Model* m) {
    char dir[512], rel[128], out[512];
    snprintf(rel, sizeof(rel), "hf/%s", name);
    if (!shared_path(dir, sizeof(dir), rel)) skip();
    snprintf(out, sizeof(out), "%s/%s.gguf", g_tmp, name);
    struct Err e = {0};
    struct ConvertOptions o = {.type = GGML_TYPE_F32};
    if (access(out, F_OK) != 0) {
        int rc = convert_hf(dir, out, &o, &e);
        if (rc) printf("convert %s: %s\n", name, e.msg);
        assert_int_equal(rc, 0);
    }
    int rc = model_open(m, out, &e);
    if (rc) printf("open %s: %s\n", name, e.msg);
    assert_int_equal(rc, 0);
}

// Logits vs HF float64 within tol (max|got-ref| / max|ref|), argmax per position,
// greedy.txt token by token, prefill == decode to 1e-12, 1 thread == 3 threads, reset.
static void check_model(const char* name, double tol) {
    struct Model m;
    open_converted(name, &m);
    int n;
    double* got = check_hf_model(&m, name, tol, &n);
    if (!got) {
        model_free(&m);
        skip();
    }
    free(got);
    model_free(&m);
}

// Rewrites the GGUF of model `name` with one change: tensor `tensor` dropped (ne NULL) or
// given shape ne (same element count), or key `key` set to u32 `val`; then loads it and
// returns the load status with the message in e.
static int load_altered(const char* name, const char* tensor, const int64_t* ne, const char* key,
                        uint32_t val, struct Err* e) {
    struct Model m;
    open_converted(name, &m);
    const struct Gguf* g = &m.gguf;
    struct GgufWriter w;
    assert_int_equal(gguf_writer_init(&w), 0);
    for (int64_t i = 0; i < g->n_kv; i++) {
        if (key && strcmp(g->kv[i].key, key) == 0) continue;
        gguf_writer_set_kv(&w, &g->kv[i]);
    }
    if (key) gguf_writer_set_u32(&w, key, val);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct GgufTensor* t = &g->tensors[i];
        const int64_t* shape = t->ne;
        if (tensor && strcmp(t->name, tensor) == 0) {
            if (!ne) continue;
            shape = ne;
        }
        gguf_writer_add_tensor(&w, t->name, t->type, (int)t->n_dims, shape, t->data, 1);
    }
    uint8_t* bytes;
    size_t n;
    assert_int_equal(gguf_writer_write_mem(&w, &bytes, &n, e), 0);
    gguf_writer_free(&w);
    model_free(&m);
    struct Gguf g2;
    assert_int_equal(gguf_parse(&g2, bytes, n, e), 0);
    int rc = model_load(&m, &g2, e);
    if (!rc) model_free(&m);
    free(bytes);
    return rc;
}

// ---------------------------------------------------------------------------------------
// zamba2

static void test_zamba2_matches_hf(void** state) {
    (void)state;
    check_model("zamba2", 1e-12);
}

// hf/zamba2/config.json: layers_block_type [mamba, hybrid, mamba, hybrid], num_mem_blocks 2,
// attention_head_dim 32 (scale (32/2)^-0.5), use_mem_rope, adapters on q/k/v and gate_up.
static void test_zamba2_layer_pattern(void** state) {
    (void)state;
    struct Model m;
    open_converted("zamba2", &m);
    const struct Config* c = &m.config;
    assert_int_equal(c->n_layer, 4);
    static const int SHARED[4] = {-1, 0, -1, 1};
    for (int l = 0; l < 4; l++) {
        assert_int_equal(c->layer_kind[l], LAYER_MAMBA2);
        assert_int_equal(c->layer_shared[l], SHARED[l]);
        assert_true((m.w.layers[l].shared_proj != NULL) == (SHARED[l] >= 0));
        assert_true((m.w.layers[l].shared_attn_q_a != NULL) == (SHARED[l] >= 0));
    }
    assert_int_equal(c->n_shared_block, 2);
    assert_int_equal(c->adapter_rank, 8);
    assert_int_equal(c->head_dim, 32);
    assert_true(c->attn_scale == 0.25);
    assert_int_equal(c->rope_type, ROPE_NEOX);
    assert_int_equal(c->n_rot, 32);
    assert_true(c->ssm_gnorm_eps == 1e-5);
    assert_false(c->tied_output);
    model_free(&m);
}

// hf/zamba2-shared1: num_mem_blocks 1 over two hybrid layers, but the checkpoint (as
// transformers 5 builds it) holds a different copy of the block under each layer, and HF runs
// each layer with its own: the converter writes one block per hybrid layer (ARCHITECTURES §7.3:
// a block is shared only where its copies are), adapters by the layer's ordinal.
static void test_zamba2_shared1_matches_hf(void** state) {
    (void)state;
    check_model("zamba2-shared1", 1e-9);
}

static void test_zamba2_shared1_blocks(void** state) {
    (void)state;
    char path[512];
    if (!shared_path(path, sizeof(path), "hf/zamba2-shared1/config.json")) skip();
    struct Model m;
    open_converted("zamba2-shared1", &m);
    static const int SHARED[4] = {-1, 0, -1, 1};
    for (int l = 0; l < 4; l++)
        assert_int_equal(m.config.layer_shared[l], SHARED[l]);
    assert_int_equal(m.config.n_shared_block, 2);
    model_free(&m);
}

// A damaged file fails to load with one line naming the tensor or key at fault.
static void test_zamba2_bad_files(void** state) {
    (void)state;
    struct Err e = {0};
    // an adapter stored transposed: same bytes, wrong shape
    assert_int_equal(load_altered("zamba2", "blk.3.shared_attn_q_a.weight",
                                  (const int64_t[4]){8, 128, 1, 1}, NULL, 0, &e),
                     ERR_SHAPE);
    assert_non_null(strstr(e.msg, "blk.3.shared_attn_q_a.weight"));
    assert_null(strchr(e.msg, '\n'));
    // a shared block's tensor missing
    assert_int_equal(load_altered("zamba2", "shared.1.ffn_down.weight", NULL, NULL, 0, &e),
                     ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "shared.1.ffn_down.weight"));
    // more shared blocks than the file holds
    assert_int_equal(load_altered("zamba2", NULL, NULL, "zamba2.shared_block_count", 3, &e),
                     ERR_FORMAT);
    assert_non_null(strstr(e.msg, "shared_block_count"));
    // A_log missing (a llama.cpp-style ssm_a is not this layout)
    assert_int_equal(load_altered("zamba2", "blk.1.ssm_a_log", NULL, NULL, 0, &e), ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "blk.1.ssm_a_log"));
}

// ---------------------------------------------------------------------------------------
// zamba (v1)

static void test_zamba_matches_hf(void** state) {
    (void)state;
    check_model("zamba", 1e-12);
}

// hf/zamba/config.json: hybrid at layers 2 and 5, 4 heads sharing 2 KV heads of 32, two
// Mamba heads (ssm.group_count), no RoPE; its checkpoint holds different shared_transf values
// under layers 2 and 5, which transformers runs as two blocks.
static void test_zamba_layer_pattern(void** state) {
    (void)state;
    struct Model m;
    open_converted("zamba", &m);
    const struct Config* c = &m.config;
    assert_int_equal(c->n_layer, 6);
    static const int SHARED[6] = {-1, -1, 0, -1, -1, 1};
    for (int l = 0; l < 6; l++) {
        assert_int_equal(c->layer_kind[l], LAYER_MAMBA);
        assert_int_equal(c->layer_shared[l], SHARED[l]);
        assert_true((m.w.layers[l].shared_proj != NULL) == (SHARED[l] >= 0));
        assert_null(m.w.layers[l].shared_attn_q_a);
    }
    assert_int_equal(c->n_shared_block, 2);
    assert_non_null(m.w.shared[1].ffn_gate);
    assert_null(m.w.shared[1].ffn_gate_up);
    assert_int_equal(c->n_head, 4);
    assert_int_equal(c->n_head_kv, 2);
    assert_int_equal(c->head_dim, 32);
    assert_true(c->attn_scale == 0.25);
    assert_int_equal(c->rope_type, ROPE_NONE);
    assert_int_equal(c->ssm_n_group, 2);
    assert_int_equal(c->ssm_dt_rank, 8);
    assert_true(c->norm_eps == 1e-5); // stored as the double transformers uses
    model_free(&m);
}

static void test_zamba_bad_files(void** state) {
    (void)state;
    struct Err e = {0};
    // the block-diagonal x projection with one head's rows missing from its shape
    assert_int_equal(
        load_altered("zamba", "blk.4.ssm_x.weight", (const int64_t[4]){64, 160, 1, 1}, NULL, 0, &e),
        ERR_SHAPE);
    assert_non_null(strstr(e.msg, "blk.4.ssm_x.weight"));
    assert_int_equal(load_altered("zamba", "shared.0.ffn_up.weight", NULL, NULL, 0, &e),
                     ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "shared.0.ffn_up.weight"));
}

static int setup(void** state) {
    (void)state;
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/mattn-test-zamba-XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void** state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
    return getenv("MATTN_KEEP_TMP") ? 0 : system(cmd) != 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zamba2_matches_hf),
        cmocka_unit_test(test_zamba2_layer_pattern),
        cmocka_unit_test(test_zamba2_bad_files),
        cmocka_unit_test(test_zamba2_shared1_matches_hf),
        cmocka_unit_test(test_zamba2_shared1_blocks),
        cmocka_unit_test(test_zamba_matches_hf),
        cmocka_unit_test(test_zamba_layer_pattern),
        cmocka_unit_test(test_zamba_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
