// test_ref_griffin.c: the FP64 reference engine on Griffin / RecurrentGemma. The model is
// converted from ../shared/hf/recurrentgemma (config.json + F32 safetensors) into a private
// temp directory, then checked against Hugging Face float64 logits and greedy ids, for
// self-consistency (prefill vs token by token, threads, a sliding-window ring far past W),
// against an independent windowed attention computed here from the engine's q, k, v, and
// the RG-LRU kernel against values derived by hand. Bad files fail with one line naming the
// tensor or key.
#include <malloc.h>
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
#include "kernels.h"
#include "model.h"
#include "ref.h"

static char g_tmp[256];  // a private temp directory for the suite
static char g_gguf[512]; // the converted model, "" when ../shared lacks it

// Opens the converted model, or skips.
static void open_model(struct Model* m) {
    if (!g_gguf[0]) skip();
    struct Err e = {0};
    int rc = model_open(m, g_gguf, &e);
    if (rc) printf("model_open: %s\n", e.msg);
    assert_int_equal(rc, 0);
}

// The HF reference: ids, greedy continuation and logits [n][n_vocab]. Returns n, or skips.
static int read_reference(int32_t* ids, int32_t* greedy, int* n_greedy, double** logits,
                          int n_vocab) {
    char path[512];
    int n = read_ids("hf/recurrentgemma/ids.txt", ids, 64);
    *n_greedy = read_ids("hf/recurrentgemma/greedy.txt", greedy, 16);
    if (n <= 0 || *n_greedy <= 0 ||
        !shared_path(path, sizeof(path), "hf/recurrentgemma/logits_f64.bin"))
        skip();
    size_t size;
    *logits = (double*)read_file(path, &size);
    assert_non_null(*logits);
    assert_int_equal(size, (size_t)n * (size_t)n_vocab * sizeof(double));
    return n;
}

// ---------------------------------------------------------------------------------------
// against Hugging Face float64

static void test_recurrentgemma_layer_pattern(void** state) {
    (void)state;
    struct Model m;
    open_model(&m);
    const struct Config* c = &m.config;
    // config.json: 3 layers, block_types recurrent, recurrent, attention; window 8; D 64.
    assert_int_equal(c->n_layer, 3);
    assert_int_equal(c->layer_kind[0], LAYER_RGLRU);
    assert_int_equal(c->layer_kind[1], LAYER_RGLRU);
    assert_int_equal(c->layer_kind[2], LAYER_ATTN);
    for (int l = 0; l < 3; l++)
        assert_int_equal(c->ffn_kind[l], FFN_DENSE);
    assert_int_equal(c->sliding_window, 8);
    assert_int_equal(c->n_rot, 8); // head_dim 16 * partial_rotary_factor 0.5
    assert_int_equal(c->rope_type, ROPE_NEOX);
    assert_true(c->embd_scale == 8.0); // bf16(sqrt(64))
    assert_true(c->logit_softcap == 30.0);
    assert_false(c->tied_output); // tie_word_embeddings false: lm_head is its own tensor
    assert_true(m.w.output != m.w.token_embd);
    model_free(&m);
}

static void test_recurrentgemma_matches_hf(void** state) {
    (void)state;
    struct Model m;
    open_model(&m);
    int nv = m.config.n_vocab, n_greedy;
    int32_t ids[64], greedy[16];
    double* want;
    int n = read_reference(ids, greedy, &n_greedy, &want, nv);
    size_t count = (size_t)n * (size_t)nv;

    double* got = run_logits(&m, ids, n, n, 1);
    double rel = rel_error(got, want, count);
    printf("recurrentgemma: relative error vs HF float64 %.3e\n", rel);
    assert_true(rel <= 1e-9);
    for (int t = 0; t < n; t++)
        assert_int_equal(argmax(got + (size_t)t * nv, nv), argmax(want + (size_t)t * nv, nv));

    // Greedy continuation, token by token through the recurrent states and the window.
    struct RefEngine r;
    struct Err e = {0};
    assert_int_equal(ref_init(&r, &m, n + n_greedy, n, 1, &e), 0);
    assert_int_equal(ref_forward(&r, ids, n, 1, &e), 0);
    int row = n - 1;
    printf("recurrentgemma greedy:");
    for (int i = 0; i < n_greedy; i++) {
        int32_t id = argmax(ref_logits(&r, row), nv);
        printf(" %d", id);
        row = 0;
        assert_int_equal(id, greedy[i]);
        if (i + 1 < n_greedy) assert_int_equal(ref_forward(&r, &id, 1, 0, &e), 0);
    }
    printf("\n");
    ref_free(&r);

    // Prefill vs token by token vs uneven chunks; threads change nothing.
    double* dec = run_logits(&m, ids, n, 1, 1);
    double* chunked = run_logits(&m, ids, n, 5, 1);
    double* thr = run_logits(&m, ids, n, n, 3);
    printf("recurrentgemma: prefill vs decode %.3e\n", rel_error(dec, got, count));
    assert_close(dec, got, count, 0, 1e-12, "decode vs prefill");
    assert_close(chunked, got, count, 0, 1e-12, "chunks of 5 vs prefill");
    assert_int_equal(memcmp(got, thr, count * sizeof(double)), 0);

    // A reset engine starts over at position 0 (the RG-LRU reset included).
    assert_int_equal(ref_init(&r, &m, n, n, 1, &e), 0);
    assert_int_equal(ref_forward(&r, ids, n, 0, &e), 0);
    ref_reset(&r);
    assert_int_equal(ref_forward(&r, ids, n, 0, &e), 0);
    for (int t = 0; t < n; t++)
        assert_int_equal(
            memcmp(ref_logits(&r, t), got + (size_t)t * nv, (size_t)nv * sizeof(double)), 0);
    ref_free(&r);
    free(dec);
    free(chunked);
    free(thr);
    free(got);
    free(want);
    model_free(&m);
}

// ---------------------------------------------------------------------------------------
// the sliding window: a ring of W rows, checked far past W

// What the hook keeps: the attention layer's q, k, v and output, and layer 0's RG-LRU inputs
// and output, per absolute position.
struct Capture {
    int attn_layer, n_pos;
    int qw, kw;
    double *q, *k, *v, *o; // (n_pos, qw) / (n_pos, kw)
    double *xc, *gx, *h;   // layer 0, position 0 only (lru each)
    int lru;
};

static void keep(double* dst, int width, int64_t pos0, int n, const double* out, int n_pos) {
    for (int t = 0; t < n; t++)
        if (pos0 + t < n_pos)
            memcpy(dst + (size_t)(pos0 + t) * width, out + (size_t)t * width,
                   (size_t)width * sizeof(double));
}

static void capture_hook(void* ctx, const struct Op* op, int64_t pos0, int n, const double* out,
                         int width) {
    struct Capture* c = ctx;
    if (op->layer == c->attn_layer) {
        if (!strcmp(op->name, "Qcur_rope")) keep(c->q, width, pos0, n, out, c->n_pos);
        if (!strcmp(op->name, "Kcur_rope")) keep(c->k, width, pos0, n, out, c->n_pos);
        if (!strcmp(op->name, "Vcur")) keep(c->v, width, pos0, n, out, c->n_pos);
        if (!strcmp(op->name, "kqv_out")) keep(c->o, width, pos0, n, out, c->n_pos);
    }
    if (op->layer == 0 && pos0 == 0) {
        if (!strcmp(op->name, "ssm_conv")) memcpy(c->xc, out, (size_t)width * sizeof(double));
        if (!strcmp(op->name, "rg_gate_x_sigmoid"))
            memcpy(c->gx, out, (size_t)width * sizeof(double));
        if (!strcmp(op->name, "rg_lru")) memcpy(c->h, out, (size_t)width * sizeof(double));
    }
}

static void test_window_ring_far_past_w(void** state) {
    (void)state;
    struct Model m;
    open_model(&m);
    const struct Config* c = &m.config;
    int W = c->sliding_window, nv = c->n_vocab;
    int n = 6 * W; // the ring wraps five times
    int32_t* ids = malloc((size_t)n * sizeof(int32_t));
    uint32_t s = 12345;
    for (int i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        ids[i] = (int32_t)((s >> 8) % (uint32_t)nv);
    }
    struct RefEngine r;
    struct Err e = {0};
    assert_int_equal(ref_init(&r, &m, n, n, 1, &e), 0);
    // The attention layer's cache is W rows, not n_ctx: its allocation says so.
    int n_kv_states = 0;
    for (int i = 0; i < r.g.n_states; i++) {
        const struct StateDesc* sd = &r.g.states[i];
        if (sd->kind != STATE_KV) continue;
        n_kv_states++;
        size_t ring = (size_t)W * (size_t)sd->width * sizeof(double);
        size_t full = (size_t)n * (size_t)sd->width * sizeof(double);
        assert_true(malloc_usable_size(r.state_k[i]) >= ring);
        assert_true(malloc_usable_size(r.state_k[i]) < full);
        assert_true(malloc_usable_size(r.state_v[i]) < full);
    }
    assert_int_equal(n_kv_states, 1);

    int attn_layer = 2, lru = c->ssm_d_inner;
    struct Capture cap = {0};
    cap.attn_layer = attn_layer;
    cap.n_pos = n;
    cap.qw = c->n_head * c->head_dim;
    cap.kw = c->layer_n_head_kv[attn_layer] * c->head_dim;
    cap.q = calloc((size_t)n * cap.qw, sizeof(double));
    cap.o = calloc((size_t)n * cap.qw, sizeof(double));
    cap.k = calloc((size_t)n * cap.kw, sizeof(double));
    cap.v = calloc((size_t)n * cap.kw, sizeof(double));
    cap.xc = calloc((size_t)lru, sizeof(double));
    cap.gx = calloc((size_t)lru, sizeof(double));
    cap.h = calloc((size_t)lru, sizeof(double));
    cap.lru = lru;
    r.hook = capture_hook;
    r.hook_ctx = &cap;
    assert_int_equal(ref_forward(&r, ids, n, 0, &e), 0);
    double* prefill = malloc((size_t)n * nv * sizeof(double));
    for (int t = 0; t < n; t++)
        memcpy(prefill + (size_t)t * nv, ref_logits(&r, t), (size_t)nv * sizeof(double));
    ref_free(&r);

    // Decoding token by token far past W equals the one-batch prefill.
    double* dec = run_logits(&m, ids, n, 1, 1);
    double* chunked = run_logits(&m, ids, n, 7, 1);
    printf("recurrentgemma %d tokens, window %d: decode vs prefill %.3e\n", n, W,
           rel_error(dec, prefill, (size_t)n * nv));
    assert_close(dec, prefill, (size_t)n * nv, 0, 1e-12, "decode vs prefill past W");
    assert_close(chunked, prefill, (size_t)n * nv, 0, 1e-12, "chunks of 7 vs prefill past W");

    // Independent windowed MQA over the full history the hook kept: position t attends to
    // t-W < j <= t, scale head_dim^-1/2, every query head to the one KV head.
    int hd = c->head_dim, H = c->n_head;
    assert_true(W <= 64);
    double* want = calloc((size_t)n * cap.qw, sizeof(double));
    double sc[64];
    for (int t = 0; t < n; t++) {
        int j0 = t - W + 1 > 0 ? t - W + 1 : 0;
        for (int h = 0; h < H; h++) {
            const double* qh = cap.q + (size_t)t * cap.qw + (size_t)h * hd;
            double mx = -1e300, sum = 0;
            for (int j = j0; j <= t; j++) {
                double d = 0;
                for (int i = 0; i < hd; i++)
                    d += qh[i] * cap.k[(size_t)j * cap.kw + i];
                sc[j - j0] = d / sqrt((double)hd);
                if (sc[j - j0] > mx) mx = sc[j - j0];
            }
            for (int j = j0; j <= t; j++)
                sum += exp(sc[j - j0] - mx);
            double* oh = want + (size_t)t * cap.qw + (size_t)h * hd;
            for (int j = j0; j <= t; j++)
                for (int i = 0; i < hd; i++)
                    oh[i] += exp(sc[j - j0] - mx) / sum * cap.v[(size_t)j * cap.kw + i];
        }
    }
    assert_close(cap.o, want, (size_t)n * cap.qw, 1e-14, 1e-12, "windowed attention");

    // Position 0 is the RG-LRU reset: h = xc * sigmoid(gate_x) exactly, no sqrt(1 - a^2).
    for (int i = 0; i < lru; i++)
        assert_true(cap.h[i] == cap.xc[i] * cap.gx[i]);

    free(want);
    free(cap.q);
    free(cap.k);
    free(cap.v);
    free(cap.o);
    free(cap.xc);
    free(cap.gx);
    free(cap.h);
    free(dec);
    free(chunked);
    free(prefill);
    free(ids);
    model_free(&m);
}

// ---------------------------------------------------------------------------------------
// the RG-LRU kernel by hand

// Channel 0: lambda 0, softplus(0) = ln 2; gate_a 1/2: log a = -8 * 1/2 * ln 2, a = 2^-4 =
// 1/16, a^2 = 1/256, sqrt(1 - a^2) = sqrt(255)/16.
// Channel 1: lambda 30 is past softplus's threshold 20, so softplus = 30; gate_a 1/240:
// log a = -1, a = 1/e, sqrt(1 - a^2) = sqrt(1 - e^-2).
// Channel 2: lambda ln(e - 1), softplus = ln(1 + e - 1) = 1; gate_a 1/4: a = e^-2.
static void test_rg_lru_by_hand(void** state) {
    (void)state;
    const double lambda[3] = {0.0, 30.0, log(M_E - 1.0)};
    const double gate_a[3] = {0.5, 1.0 / 240.0, 0.25};
    double h[3] = {100.0, -7.0, 3.0}; // stale state: position 0 must ignore it
    double out[3];
    // position 0 (reset): h = x * gate_x
    const double x0[3] = {3.0, -1.0, 2.0}, gx0[3] = {0.5, 1.0, 0.75};
    rg_lru_step(out, x0, gx0, gate_a, h, lambda, 3, 1);
    const double want0[3] = {1.5, -1.0, 1.5};
    assert_close(out, want0, 3, 0, 0, "rg_lru reset");
    assert_close(h, want0, 3, 0, 0, "rg_lru reset state");
    // position 1: h = a h + x gate_x sqrt(1 - a^2)
    const double x1[3] = {2.0, 4.0, -2.0}, gx1[3] = {0.25, 0.5, 1.0};
    rg_lru_step(out, x1, gx1, gate_a, h, lambda, 3, 0);
    const double want1[3] = {
        1.5 / 16.0 + 0.5 * sqrt(255.0) / 16.0,
        -1.0 / M_E + 2.0 * sqrt(1.0 - 1.0 / (M_E * M_E)),
        1.5 / (M_E * M_E) - 2.0 * sqrt(1.0 - 1.0 / (M_E * M_E * M_E * M_E)),
    };
    assert_close(out, want1, 3, 0, 1e-15, "rg_lru step");
    assert_close(h, want1, 3, 0, 1e-15, "rg_lru step state");
    // position 2 carries the state on: channel 0 with x 0 just decays by 1/16.
    const double x2[3] = {0.0, 0.0, 0.0};
    rg_lru_step(out, x2, gx1, gate_a, h, lambda, 3, 0);
    const double want2[3] = {want1[0] / 16.0, want1[1] / M_E, want1[2] / (M_E * M_E)};
    assert_close(out, want2, 3, 0, 1e-15, "rg_lru decay");
}

// Block-diagonal gates: two blocks of 2, each an ordinary (in, out) GGUF matrix, so block 1
// never sees block 0's inputs.
static void test_matmul_blockdiag_by_hand(void** state) {
    (void)state;
    // block 0 rows (out j): [1 2], [3 4]; block 1 rows: [5 6], [7 8]
    const float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const double x[4] = {1, -1, 2, 0.5}, b[4] = {0.5, 0, -1, 10};
    double out[4];
    matmul_blockdiag(out, x, w, GGML_TYPE_F32, b, 4, 2);
    const double want[4] = {1 - 2 + 0.5, 3 - 4, 10 + 3 - 1, 14 + 4 + 10};
    assert_close(out, want, 4, 0, 0, "matmul_blockdiag");
}

// ---------------------------------------------------------------------------------------
// bad files: one line naming the tensor or key

// The converted file rewritten with key drop_key left out, tensor drop_tensor left out, and
// tensor shrink (if any) given one row fewer in its last used dim. Returns model_load's
// status with its message in e.
static int load_altered(const char* drop_key, const char* drop_tensor, const char* shrink,
                        struct Err* e) {
    struct Gguf g;
    struct Err e0 = {0};
    assert_int_equal(gguf_open(&g, g_gguf, &e0), 0);
    struct GgufWriter w;
    assert_int_equal(gguf_writer_init(&w), 0);
    for (int64_t i = 0; i < g.n_kv; i++)
        if (!drop_key || strcmp(g.kv[i].key, drop_key)) gguf_writer_set_kv(&w, &g.kv[i]);
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const struct GgufTensor* t = &g.tensors[i];
        if (drop_tensor && !strcmp(t->name, drop_tensor)) continue;
        int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
        if (shrink && !strcmp(t->name, shrink)) ne[t->n_dims - 1]--;
        gguf_writer_add_tensor(&w, t->name, t->type, t->n_dims, ne, t->data, 1);
    }
    uint8_t* bytes;
    size_t size;
    assert_int_equal(gguf_writer_write_mem(&w, &bytes, &size, &e0), 0);
    gguf_writer_free(&w);
    gguf_free(&g);
    struct Gguf g2;
    assert_int_equal(gguf_parse(&g2, bytes, size, &e0), 0);
    struct Model m;
    int rc = model_load(&m, &g2, e);
    if (!rc) {
        assert_true(m.config.n_layer == 3);
        rc = m.config.tied_output ? 1 : 2; // report how the head was bound
        model_free(&m);
    }
    free(bytes);
    return rc;
}

static void test_bad_files_name_the_culprit(void** state) {
    (void)state;
    if (!g_gguf[0]) skip();
    struct Err e = {0};
    assert_int_equal(load_altered(NULL, NULL, "blk.0.rg_gate_x.bias", &e), ERR_SHAPE);
    assert_non_null(strstr(e.msg, "'blk.0.rg_gate_x.bias'"));
    assert_null(strchr(e.msg, '\n'));
    assert_int_equal(load_altered(NULL, NULL, "blk.1.ssm_conv1d.weight", &e), ERR_SHAPE);
    assert_non_null(strstr(e.msg, "'blk.1.ssm_conv1d.weight'"));
    assert_int_equal(load_altered(NULL, NULL, "blk.2.attn_output.bias", &e), ERR_SHAPE);
    assert_non_null(strstr(e.msg, "'blk.2.attn_output.bias'"));
    assert_int_equal(load_altered(NULL, "blk.1.rg_param", NULL, &e), ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "'blk.1.rg_param'"));
    assert_true(load_altered("recurrentgemma.embedding_scale", NULL, NULL, &e) < 0);
    assert_non_null(strstr(e.msg, "embedding_scale"));
    assert_true(load_altered("recurrentgemma.ssm.conv_kernel", NULL, NULL, &e) < 0);
    assert_non_null(strstr(e.msg, "conv_kernel"));
    // Without output.weight the head is the embedding (tie_word_embeddings true).
    assert_int_equal(load_altered(NULL, "output.weight", NULL, &e), 1);
    assert_int_equal(load_altered(NULL, NULL, NULL, &e), 2);
}

// ---------------------------------------------------------------------------------------

static int setup(void** state) {
    (void)state;
    char dir[512], cfg[600];
    g_gguf[0] = 0;
    if (!shared_path(dir, sizeof(dir), "hf/recurrentgemma")) return 0;
    snprintf(cfg, sizeof(cfg), "%s/model.safetensors", dir);
    FILE* f = fopen(cfg, "rb");
    if (!f) {
        printf("SKIP: %s is absent\n", cfg);
        return 0;
    }
    fclose(f);
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/mattn-test-griffin-XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    snprintf(g_gguf, sizeof(g_gguf), "%s/recurrentgemma-f32.gguf", g_tmp);
    struct ConvertOptions o = {.type = GGML_TYPE_F32};
    struct Err e = {0};
    if (convert_hf(dir, g_gguf, &o, &e)) {
        printf("convert_hf: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static int teardown(void** state) {
    (void)state;
    if (g_gguf[0]) {
        remove(g_gguf);
        rmdir(g_tmp);
    }
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rg_lru_by_hand),
        cmocka_unit_test(test_matmul_blockdiag_by_hand),
        cmocka_unit_test(test_recurrentgemma_layer_pattern),
        cmocka_unit_test(test_recurrentgemma_matches_hf),
        cmocka_unit_test(test_window_ring_far_past_w),
        cmocka_unit_test(test_bad_files_name_the_culprit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
