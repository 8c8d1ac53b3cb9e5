// test_convert.c: the safetensors reader and the HF -> GGUF converter (tools/convert.c).
// Every ../shared/hf model converts; llama, mistral, jamba, mamba and mamba2 match the
// llama.cpp-made ../shared/gguf files (tensors byte for byte, ssm_a within 2 ulp, {arch}.*
// keys by value and type); quantized outputs stay within documented logit distances of the
// F32 one; self-written fixtures cover F16/BF16 safetensors, a sharded checkpoint, a
// tokenizer.json, and bad inputs (each fails and leaves no file behind).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "convert.h"
#include "gguf.h"
#include "model.h"
#include "quant.h"
#include "ref.h"
#include "safetensors.h"
#include "tokenizer.h"

static char g_tmp[256]; // a private temp directory for the suite

static const char* tmp_path(char* buf, size_t cap, const char* name) {
    snprintf(buf, cap, "%s/%s", g_tmp, name);
    return buf;
}

static int exists(const char* path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void write_text(const char* path, const char* text) {
    FILE* f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void write_bytes(const char* path, const void* p, size_t n) {
    FILE* f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void rm_rf(const char* dir) {
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void copy_file(const char* from, const char* to) {
    size_t n;
    uint8_t* b = read_file(from, &n);
    assert_non_null(b);
    write_bytes(to, b, n);
    free(b);
}

// Converts with quiet options; returns the convert_hf status.
static int convert(const char* dir, const char* out, enum GgmlType t, struct Err* e) {
    struct ConvertOptions o = {.type = t};
    return convert_hf(dir, out, &o, e);
}

// ---------------------------------------------------------------------------------------
// a safetensors writer for fixtures

struct StEntry {
    const char* name;
    const char* dtype;
    int n_dims;
    int64_t shape[4];
    const void* data;
    size_t nbytes;
};

// Writes entries as a safetensors file; extra_header replaces the generated header when set.
static void st_write(const char* path, const struct StEntry* t, int n) {
    size_t cap = 4096 + (size_t)n * 256, len = 0;
    char* h = malloc(cap);
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                t[i].name, t[i].dtype);
        for (int d = 0; d < t[i].n_dims; d++)
            len += (size_t)snprintf(h + len, cap - len, d ? ",%lld" : "%lld",
                                    (long long)t[i].shape[d]);
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%llu,%llu]}",
                                (unsigned long long)off, (unsigned long long)(off + t[i].nbytes));
        off += t[i].nbytes;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8)
        h[len++] = ' ';
    FILE* f = fopen(path, "wb");
    assert_non_null(f);
    uint8_t hl[8];
    for (int i = 0; i < 8; i++)
        hl[i] = (uint8_t)((uint64_t)len >> (8 * i));
    fwrite(hl, 1, 8, f);
    fwrite(h, 1, len, f);
    for (int i = 0; i < n; i++)
        fwrite(t[i].data, 1, t[i].nbytes, f);
    fclose(f);
    free(h);
}

// ---------------------------------------------------------------------------------------
// comparison with ../shared/gguf

static int64_t ulps(float a, float b) {
    int32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    if ((x < 0) != (y < 0)) return a == b ? 0 : INT32_MAX;
    return llabs((int64_t)x - (int64_t)y);
}

static int value_equal(const struct GgufValue* a, const struct GgufValue* b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case GGUF_TYPE_STRING:
        return a->str.len == b->str.len && !memcmp(a->str.s, b->str.s, a->str.len);
    case GGUF_TYPE_FLOAT32:
    case GGUF_TYPE_FLOAT64: return a->f == b->f;
    case GGUF_TYPE_ARRAY:
        if (a->arr.type != b->arr.type || a->arr.n != b->arr.n) return 0;
        if (a->arr.type == GGUF_TYPE_STRING || a->arr.type == GGUF_TYPE_ARRAY) {
            for (uint64_t i = 0; i < a->arr.n; i++)
                if (!value_equal(&a->arr.items[i], &b->arr.items[i])) return 0;
            return 1;
        }
        return !memcmp(a->arr.raw, b->arr.raw, a->arr.n * gguf_type_size(a->arr.type));
    default: return a->u == b->u;
    }
}

// Compares our conversion of hf/NAME with gguf/NAME-f32.gguf; returns the largest ssm_a
// distance in ulps.
static int64_t compare_with_reference(const char* name) {
    char ref_path[512], rel[128], dir[512], out[512];
    snprintf(rel, sizeof(rel), "gguf/%s-f32.gguf", name);
    if (!shared_path(ref_path, sizeof(ref_path), rel)) skip();
    snprintf(rel, sizeof(rel), "hf/%s", name);
    if (!shared_path(dir, sizeof(dir), rel)) skip();
    snprintf(rel, sizeof(rel), "%s.gguf", name);
    tmp_path(out, sizeof(out), rel);
    struct Err e = {0};
    int rc = convert(dir, out, GGML_TYPE_F32, &e);
    if (rc) printf("convert %s: %s\n", name, e.msg);
    assert_int_equal(rc, 0);
    struct Gguf want, got;
    assert_int_equal(gguf_open(&want, ref_path, &e), 0);
    assert_int_equal(gguf_open(&got, out, &e), 0);
    assert_int_equal(got.n_tensors, want.n_tensors);
    int64_t max_ulp = 0;
    for (int64_t i = 0; i < want.n_tensors; i++) {
        const struct GgufTensor* w = &want.tensors[i];
        const struct GgufTensor* g = gguf_find_tensor(&got, w->name);
        if (!g) printf("%s: tensor %s missing\n", name, w->name);
        assert_non_null(g);
        assert_int_equal(g->type, w->type);
        assert_int_equal(g->n_dims, w->n_dims);
        for (int d = 0; d < GGUF_MAX_DIMS; d++)
            assert_int_equal(g->ne[d], w->ne[d]);
        assert_int_equal(g->nbytes, w->nbytes);
        size_t nl = strlen(w->name);
        if (nl >= 5 && !strcmp(w->name + nl - 5, "ssm_a")) {
            const float *a = w->data, *b = g->data;
            for (int64_t k = 0; k < w->n_elements; k++) {
                int64_t u = ulps(a[k], b[k]);
                if (u > max_ulp) max_ulp = u;
            }
        } else if (memcmp(g->data, w->data, w->nbytes)) {
            printf("%s: tensor %s differs\n", name, w->name);
            fail();
        }
    }
    // {arch}.* keys: the same set, values and types
    struct GgufStr arch;
    assert_int_equal(gguf_get_str(&want, "general.architecture", &arch, &e), 0);
    size_t al = arch.len;
    int n_arch_keys = 0;
    for (int64_t i = 0; i < want.n_kv; i++) {
        const struct GgufKv* k = &want.kv[i];
        if (strncmp(k->key, arch.s, al) || k->key[al] != '.') continue;
        n_arch_keys++;
        const struct GgufKv* o = gguf_find_key(&got, k->key);
        if (!o || !value_equal(&o->val, &k->val)) {
            printf("%s: key %s %s\n", name, k->key, o ? "differs (value or type)" : "missing");
            fail();
        }
    }
    for (int64_t i = 0; i < got.n_kv; i++) {
        const struct GgufKv* k = &got.kv[i];
        if (strncmp(k->key, arch.s, al) || k->key[al] != '.') continue;
        if (!gguf_find_key(&want, k->key)) {
            printf("%s: extra key %s\n", name, k->key);
            fail();
        }
    }
    // the placeholder vocabulary and special ids are those of the reference too
    static const char* const TOK[] = {"tokenizer.ggml.model",
                                      "tokenizer.ggml.tokens",
                                      "tokenizer.ggml.token_type",
                                      "tokenizer.ggml.scores",
                                      "tokenizer.ggml.bos_token_id",
                                      "tokenizer.ggml.eos_token_id",
                                      "tokenizer.ggml.padding_token_id",
                                      "general.file_type"};
    for (size_t i = 0; i < sizeof(TOK) / sizeof(TOK[0]); i++) {
        const struct GgufKv *a = gguf_find_key(&want, TOK[i]), *b = gguf_find_key(&got, TOK[i]);
        assert_non_null(b);
        if (a) assert_true(value_equal(&a->val, &b->val));
    }
    printf("%s: %lld tensors identical, %d %s.* keys equal, ssm_a max %lld ulp\n", name,
           (long long)want.n_tensors, n_arch_keys, arch.s, (long long)max_ulp);
    gguf_free(&want);
    gguf_free(&got);
    return max_ulp;
}

static void test_llama_matches_llamacpp(void** state) {
    (void)state;
    compare_with_reference("llama");
}

static void test_mistral_matches_llamacpp(void** state) {
    (void)state;
    compare_with_reference("mistral");
}

static void test_jamba_matches_llamacpp(void** state) {
    (void)state;
    assert_true(compare_with_reference("jamba") <= 2);
}

static void test_mamba_matches_llamacpp(void** state) {
    (void)state;
    assert_true(compare_with_reference("mamba") <= 2);
}

static void test_mamba2_matches_llamacpp(void** state) {
    (void)state;
    assert_true(compare_with_reference("mamba2") <= 2);
}

// ---------------------------------------------------------------------------------------
// the two layouts of our own

static void open_converted(const char* name, struct Gguf* g) {
    char dir[512], rel[128], out[512];
    snprintf(rel, sizeof(rel), "hf/%s", name);
    if (!shared_path(dir, sizeof(dir), rel)) skip();
    snprintf(rel, sizeof(rel), "%s.gguf", name);
    tmp_path(out, sizeof(out), rel);
    struct Err e = {0};
    int rc = convert(dir, out, GGML_TYPE_F32, &e);
    if (rc) printf("convert %s: %s\n", name, e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(gguf_open(g, out, &e), 0);
}

static const struct GgufTensor* want_tensor(const struct Gguf* g, const char* name, int64_t ne0,
                                            int64_t ne1, int64_t ne2) {
    const struct GgufTensor* t = gguf_find_tensor(g, name);
    if (!t) printf("tensor %s missing\n", name);
    assert_non_null(t);
    assert_int_equal(t->type, GGML_TYPE_F32);
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != ne2)
        printf("%s: ne [%lld,%lld,%lld]\n", name, (long long)t->ne[0], (long long)t->ne[1],
               (long long)t->ne[2]);
    assert_int_equal(t->ne[0], ne0);
    assert_int_equal(t->ne[1], ne1);
    assert_int_equal(t->ne[2], ne2);
    return t;
}

static int64_t key_int(const struct Gguf* g, const char* key) {
    int64_t v = -1;
    struct Err e = {0};
    if (gguf_get_int(g, key, &v, &e)) printf("key %s: %s\n", key, e.msg);
    return v;
}

// Reads one float32 of an HF tensor straight from the checkpoint.
static float hf_value(const char* name, const char* tensor, int64_t i) {
    char dir[512], rel[128];
    snprintf(rel, sizeof(rel), "hf/%s", name);
    assert_non_null(shared_path(dir, sizeof(dir), rel));
    struct Safetensors s;
    struct Err e = {0};
    assert_int_equal(safetensors_dir_open(&s, dir, &e), 0);
    const struct SafetensorsTensor* t = safetensors_find(&s, tensor);
    assert_non_null(t);
    float* f = malloc((size_t)t->n_elements * sizeof(float));
    assert_int_equal(safetensors_to_f32(t, f, &e), 0);
    float v = f[i];
    free(f);
    safetensors_free(&s);
    return v;
}

static void test_recurrentgemma_layout(void** state) {
    (void)state;
    struct Gguf g;
    open_converted("recurrentgemma", &g);
    assert_int_equal(key_int(&g, "recurrentgemma.block_count"), 3);
    assert_int_equal(key_int(&g, "recurrentgemma.feed_forward_length"), 96);
    assert_int_equal(key_int(&g, "recurrentgemma.attention.sliding_window"), 8);
    assert_int_equal(key_int(&g, "recurrentgemma.rope.dimension_count"), 8);
    assert_int_equal(key_int(&g, "recurrentgemma.ssm.inner_size"), 64);
    double v;
    struct Err e = {0};
    assert_int_equal(gguf_get_float(&g, "recurrentgemma.embedding_scale", &v, &e), 0);
    assert_true(v == 8.0); // bf16(sqrt(64))
    assert_int_equal(gguf_get_float(&g, "recurrentgemma.final_logit_softcapping", &v, &e), 0);
    assert_true(v == 30.0);
    const struct GgufArr* kv;
    assert_int_equal(gguf_get_arr(&g, "recurrentgemma.attention.head_count_kv", &kv, &e), 0);
    assert_int_equal(kv->n, 3);
    assert_int_equal(gguf_arr_int(kv, 0), 0);
    assert_int_equal(gguf_arr_int(kv, 2), 1);
    want_tensor(&g, "blk.0.rg_gate_x.weight", 16, 16, 4);
    want_tensor(&g, "blk.0.rg_gate_x.bias", 16, 4, 1);
    want_tensor(&g, "blk.1.rg_gate_a.weight", 16, 16, 4);
    want_tensor(&g, "blk.0.ssm_conv1d.weight", 4, 64, 1);
    want_tensor(&g, "blk.0.rg_param", 64, 1, 1);
    want_tensor(&g, "blk.2.attn_k.weight", 64, 16, 1);
    want_tensor(&g, "blk.2.attn_output.bias", 64, 1, 1);
    want_tensor(&g, "blk.2.ffn_down.weight", 96, 64, 1);
    want_tensor(&g, "output.weight", 64, 256, 1);
    // gate matrices are transposed per block: GGUF [h][out j][in i] = HF [h][in i][out j]
    const struct GgufTensor* t = want_tensor(&g, "blk.1.rg_gate_a.weight", 16, 16, 4);
    const float* d = t->data;
    int64_t h = 2, i = 3, j = 11;
    assert_true(d[(h * 16 + j) * 16 + i] ==
                hf_value("recurrentgemma",
                         "model.layers.1.temporal_block.rg_lru.recurrent_gate_weight",
                         (h * 16 + i) * 16 + j));
    gguf_free(&g);
}

static void test_zamba2_layout(void** state) {
    (void)state;
    struct Gguf g;
    open_converted("zamba2", &g);
    assert_int_equal(key_int(&g, "zamba2.block_count"), 4);
    assert_int_equal(key_int(&g, "zamba2.shared_block_count"), 2);
    assert_int_equal(key_int(&g, "zamba2.adapter_rank"), 8);
    assert_int_equal(key_int(&g, "zamba2.ssm.time_step_rank"), 4);
    assert_int_equal(key_int(&g, "zamba2.attention.key_length"), 32);
    assert_int_equal(key_int(&g, "zamba2.rope.dimension_count"), 32);
    const struct GgufArr* kv;
    struct Err e = {0};
    assert_int_equal(gguf_get_arr(&g, "zamba2.attention.head_count_kv", &kv, &e), 0);
    assert_int_equal(kv->n, 4);
    assert_int_equal(gguf_arr_int(kv, 0), 0);
    assert_int_equal(gguf_arr_int(kv, 1), 4);
    assert_int_equal(gguf_arr_int(kv, 3), 4);
    // A_log stored as is (lossless), shaped like mamba2's ssm_a
    const struct GgufTensor* a = want_tensor(&g, "blk.0.ssm_a_log", 1, 4, 1);
    assert_true(((const float*)a->data)[2] == hf_value("zamba2", "model.layers.0.mamba.A_log", 2));
    assert_null(gguf_find_tensor(&g, "blk.0.ssm_a"));
    want_tensor(&g, "blk.1.ssm_in.weight", 64, 292, 1);
    want_tensor(&g, "blk.1.ssm_norm.weight", 128, 1, 1);
    want_tensor(&g, "blk.1.shared_proj.weight", 64, 64, 1);
    want_tensor(&g, "blk.1.shared_attn_q_a.weight", 128, 8, 1);
    want_tensor(&g, "blk.3.shared_attn_v_b.weight", 8, 128, 1);
    want_tensor(&g, "blk.3.shared_ffn_gate_up_a.weight", 64, 8, 1);
    want_tensor(&g, "blk.3.shared_ffn_gate_up_b.weight", 8, 256, 1);
    assert_null(gguf_find_tensor(&g, "blk.0.shared_proj.weight"));
    for (int b = 0; b < 2; b++) {
        char n[96];
        snprintf(n, sizeof(n), "shared.%d.attn_norm.weight", b);
        want_tensor(&g, n, 128, 1, 1);
        snprintf(n, sizeof(n), "shared.%d.attn_q.weight", b);
        want_tensor(&g, n, 128, 128, 1);
        snprintf(n, sizeof(n), "shared.%d.attn_output.weight", b);
        want_tensor(&g, n, 128, 64, 1);
        snprintf(n, sizeof(n), "shared.%d.ffn_gate_up.weight", b);
        want_tensor(&g, n, 64, 256, 1);
        snprintf(n, sizeof(n), "shared.%d.ffn_down.weight", b);
        want_tensor(&g, n, 128, 64, 1);
    }
    assert_null(gguf_find_tensor(&g, "shared.2.attn_q.weight"));
    // block 1 comes from layer 3 (the second hybrid layer), adapters of ordinal 1 too
    const struct GgufTensor* q = gguf_find_tensor(&g, "shared.1.attn_q.weight");
    assert_true(
        ((const float*)q->data)[77] ==
        hf_value("zamba2", "model.layers.3.shared_transformer.self_attn.q_proj.weight", 77));
    const struct GgufTensor* ad = gguf_find_tensor(&g, "blk.3.shared_attn_k_a.weight");
    assert_true(
        ((const float*)ad->data)[5] ==
        hf_value("zamba2",
                 "model.layers.3.shared_transformer.self_attn.linear_k_adapter_list.1.0.weight",
                 5));
    gguf_free(&g);
}

// zamba2 with published checkpoints' spelling "mamba" (not "linear_attention"), tied head,
// and block 0's tensors found under the first hybrid layer only.
static void test_zamba2_mamba_spelling_and_tied(void** state) {
    (void)state;
    char src[512], dir[512], p[600], out[512];
    if (!shared_path(src, sizeof(src), "hf/zamba2")) skip();
    tmp_path(dir, sizeof(dir), "zamba2-tied");
    mkdir(dir, 0755);
    size_t n;
    snprintf(p, sizeof(p), "%s/config.json", src);
    char* cfg = (char*)read_file(p, &n);
    assert_non_null(cfg);
    // rewrite the types and the tie flag
    for (char* s; (s = strstr(cfg, "\"linear_attention\""));) {
        memcpy(s, "\"mamba\"", 7);
        memmove(s + 7, s + 18, strlen(s + 18) + 1);
    }
    char* t = strstr(cfg, "\"tie_word_embeddings\": false");
    assert_non_null(t);
    memcpy(t, "\"tie_word_embeddings\": true ", 28);
    snprintf(p, sizeof(p), "%s/config.json", dir);
    write_text(p, cfg);
    free(cfg);
    snprintf(p, sizeof(p), "%s/model.safetensors", src);
    char q[600];
    snprintf(q, sizeof(q), "%s/model.safetensors", dir);
    copy_file(p, q);
    tmp_path(out, sizeof(out), "zamba2-tied.gguf");
    struct Err e = {0};
    int rc = convert(dir, out, GGML_TYPE_F32, &e);
    if (rc) printf("%s\n", e.msg);
    assert_int_equal(rc, 0);
    struct Gguf g;
    assert_int_equal(gguf_open(&g, out, &e), 0);
    assert_null(gguf_find_tensor(&g, "output.weight"));
    assert_non_null(gguf_find_tensor(&g, "shared.1.attn_q.weight"));
    gguf_free(&g);
}

static void test_every_hf_model_converts(void** state) {
    (void)state;
    static const char* const M[] = {"llama",  "mistral",        "jamba",  "mamba",
                                    "mamba2", "recurrentgemma", "zamba2", "zamba"};
    for (size_t i = 0; i < sizeof(M) / sizeof(M[0]); i++) {
        struct Gguf g;
        open_converted(M[i], &g);
        assert_true(g.n_tensors > 10);
        // the placeholder vocabulary covers every embedding row
        const struct GgufArr* toks;
        struct Err e = {0};
        assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.tokens", &toks, &e), 0);
        assert_int_equal(toks->n, gguf_find_tensor(&g, "token_embd.weight")->ne[1]);
        gguf_free(&g);
    }
}

// ---------------------------------------------------------------------------------------
// quantized outputs vs the F32 one (llama: the engine runs it)

static double* llama_logits(const char* path, const int32_t* ids, int n, int* nv) {
    struct Model m;
    struct Err e = {0};
    int rc = model_open(&m, path, &e);
    if (rc) printf("model_open %s: %s\n", path, e.msg);
    assert_int_equal(rc, 0);
    struct RefEngine r;
    assert_int_equal(ref_init(&r, &m, n, n, 1, &e), 0);
    assert_int_equal(ref_forward(&r, ids, n, 0, &e), 0);
    *nv = m.config.n_vocab;
    double* out = malloc((size_t)n * (size_t)*nv * sizeof(double));
    for (int t = 0; t < n; t++)
        memcpy(out + (size_t)t * *nv, ref_logits(&r, t), (size_t)*nv * sizeof(double));
    ref_free(&r);
    model_free(&m);
    return out;
}

static void test_quantized_types_load_and_stay_close(void** state) {
    (void)state;
    char dir[512], out[512];
    if (!shared_path(dir, sizeof(dir), "hf/llama")) skip();
    static const int32_t IDS[16] = {1, 7, 42, 99, 3, 250, 17, 64, 128, 5, 200, 33, 77, 12, 190, 8};
    struct Err e = {0};
    tmp_path(out, sizeof(out), "llama-f32.gguf");
    assert_int_equal(convert(dir, out, GGML_TYPE_F32, &e), 0);
    int nv;
    double* ref = llama_logits(out, IDS, 16, &nv);
    // Documented bounds (docs/GGUF.md): relative error of the logits vs the F32 file. The
    // seeded-random weights make this tiny model sensitive: measured 9.0e-4 (F16), 7.7e-3
    // (BF16), 3.0e-2 (Q8_0), 5.4e-1 (Q4_0, argmax agrees at 10/16 positions).
    static const struct {
        enum GgmlType t;
        double tol;
    } T[] = {{GGML_TYPE_F16, 2e-3},
             {GGML_TYPE_BF16, 2e-2},
             {GGML_TYPE_Q8_0, 6e-2},
             {GGML_TYPE_Q4_0, 8e-1}};
    for (size_t i = 0; i < sizeof(T) / sizeof(T[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "llama-%s.gguf", quant_type_name(T[i].t));
        tmp_path(out, sizeof(out), name);
        int rc = convert(dir, out, T[i].t, &e);
        if (rc) printf("%s\n", e.msg);
        assert_int_equal(rc, 0);
        struct Gguf g;
        assert_int_equal(gguf_open(&g, out, &e), 0);
        assert_int_equal(gguf_find_tensor(&g, "blk.0.attn_q.weight")->type, T[i].t);
        assert_int_equal(gguf_find_tensor(&g, "blk.0.attn_norm.weight")->type, GGML_TYPE_F32);
        gguf_free(&g);
        double* got = llama_logits(out, IDS, 16, &nv);
        double rel = rel_error(got, ref, 16 * (size_t)nv);
        int agree = 0;
        for (int t = 0; t < 16; t++) {
            int a = 0, b = 0;
            for (int k = 1; k < nv; k++) {
                if (got[t * nv + k] > got[t * nv + a]) a = k;
                if (ref[t * nv + k] > ref[t * nv + b]) b = k;
            }
            agree += a == b;
        }
        printf("llama %s: logits relative error vs F32 %.3e (bound %.0e), argmax agree %d/16\n",
               quant_type_name(T[i].t), rel, T[i].tol, agree);
        assert_true(rel <= T[i].tol);
        if (T[i].t != GGML_TYPE_Q4_0) assert_int_equal(agree, 16);
        free(got);
    }
    free(ref);
}

// ---------------------------------------------------------------------------------------
// fixtures: F16/BF16 safetensors, sharded checkpoints, tokenizer.json

// Loads hf/llama's tensors; the caller frees with safetensors_free.
static int open_llama(struct Safetensors* s, char* cfg_path, size_t cap) {
    char dir[512];
    if (!shared_path(dir, sizeof(dir), "hf/llama")) return -1;
    snprintf(cfg_path, cap, "%s/config.json", dir);
    struct Err e = {0};
    assert_int_equal(safetensors_dir_open(s, dir, &e), 0);
    return 0;
}

// Writes hf/llama's tensors into dir as dtype ("F16" or "BF16"), over n_shards files.
static void write_llama_fixture(const char* dir, const char* dtype, int n_shards) {
    struct Safetensors s;
    char cfg[600], p[600];
    if (open_llama(&s, cfg, sizeof(cfg))) skip();
    mkdir(dir, 0755);
    snprintf(p, sizeof(p), "%s/config.json", dir);
    copy_file(cfg, p);
    struct StEntry* ent = calloc((size_t)s.n_tensors, sizeof(*ent));
    void** bufs = calloc((size_t)s.n_tensors, sizeof(void*));
    struct Err e = {0};
    for (int64_t i = 0; i < s.n_tensors; i++) {
        const struct SafetensorsTensor* t = &s.tensors[i];
        float* f = malloc((size_t)t->n_elements * sizeof(float));
        assert_int_equal(safetensors_to_f32(t, f, &e), 0);
        ent[i].name = t->name;
        ent[i].n_dims = t->n_dims;
        for (int d = 0; d < t->n_dims; d++)
            ent[i].shape[d] = t->shape[d];
        ent[i].dtype = dtype;
        if (!strcmp(dtype, "F32")) {
            bufs[i] = f;
            ent[i].nbytes = (size_t)t->n_elements * 4;
        } else {
            uint16_t* h = malloc((size_t)t->n_elements * 2);
            for (int64_t k = 0; k < t->n_elements; k++)
                h[k] = !strcmp(dtype, "F16") ? quant_f32_to_f16(f[k]) : quant_f32_to_bf16(f[k]);
            free(f);
            bufs[i] = h;
            ent[i].nbytes = (size_t)t->n_elements * 2;
        }
        ent[i].data = bufs[i];
    }
    if (n_shards <= 1) {
        snprintf(p, sizeof(p), "%s/model.safetensors", dir);
        st_write(p, ent, (int)s.n_tensors);
    } else {
        size_t cap = 65536, len = 0;
        char* idx = malloc(cap);
        len += (size_t)snprintf(idx + len, cap - len,
                                "{\"metadata\":{\"total_size\":1},"
                                "\"weight_map\":{");
        int64_t per = (s.n_tensors + n_shards - 1) / n_shards;
        for (int k = 0; k < n_shards; k++) {
            int64_t lo = k * per, hi = lo + per < s.n_tensors ? lo + per : s.n_tensors;
            char fname[96];
            snprintf(fname, sizeof(fname), "model-%05d-of-%05d.safetensors", k + 1, n_shards);
            snprintf(p, sizeof(p), "%s/%s", dir, fname);
            st_write(p, ent + lo, (int)(hi - lo));
            for (int64_t i = lo; i < hi; i++)
                len += (size_t)snprintf(idx + len, cap - len, "%s\"%s\":\"%s\"", i ? "," : "",
                                        ent[i].name, fname);
        }
        len += (size_t)snprintf(idx + len, cap - len, "}}");
        snprintf(p, sizeof(p), "%s/model.safetensors.index.json", dir);
        write_text(p, idx);
        free(idx);
    }
    for (int64_t i = 0; i < s.n_tensors; i++)
        free(bufs[i]);
    free(bufs);
    free(ent);
    safetensors_free(&s);
}

// Checks a conversion of a 16-bit llama fixture against the reference GGUF rounded to 16 bits
// (the Q/K permutation commutes with elementwise rounding).
static void check_rounded(const char* out, int bf16) {
    char ref_path[512];
    if (!shared_path(ref_path, sizeof(ref_path), "gguf/llama-f32.gguf")) skip();
    struct Gguf want, got;
    struct Err e = {0};
    assert_int_equal(gguf_open(&want, ref_path, &e), 0);
    assert_int_equal(gguf_open(&got, out, &e), 0);
    assert_int_equal(got.n_tensors, want.n_tensors);
    for (int64_t i = 0; i < want.n_tensors; i++) {
        const struct GgufTensor* w = &want.tensors[i];
        const struct GgufTensor* g = gguf_find_tensor(&got, w->name);
        assert_non_null(g);
        assert_int_equal(g->type, GGML_TYPE_F32);
        const float *a = w->data, *b = g->data;
        for (int64_t k = 0; k < w->n_elements; k++) {
            float r = bf16 ? quant_bf16_to_f32(quant_f32_to_bf16(a[k]))
                           : quant_f16_to_f32(quant_f32_to_f16(a[k]));
            if (memcmp(&r, &b[k], 4)) {
                printf("%s[%lld]: %.9g vs %.9g\n", w->name, (long long)k, (double)b[k], (double)r);
                fail();
            }
        }
    }
    gguf_free(&want);
    gguf_free(&got);
}

static void test_f16_and_bf16_safetensors(void** state) {
    (void)state;
    static const char* const DT[2] = {"F16", "BF16"};
    for (int k = 0; k < 2; k++) {
        char dir[512], out[512], name[64];
        snprintf(name, sizeof(name), "llama-%s", DT[k]);
        tmp_path(dir, sizeof(dir), name);
        write_llama_fixture(dir, DT[k], 1);
        snprintf(name, sizeof(name), "llama-from-%s.gguf", DT[k]);
        tmp_path(out, sizeof(out), name);
        struct Err e = {0};
        int rc = convert(dir, out, GGML_TYPE_F32, &e);
        if (rc) printf("%s\n", e.msg);
        assert_int_equal(rc, 0);
        check_rounded(out, k == 1);
    }
}

static void test_sharded_checkpoint(void** state) {
    (void)state;
    char dir[512], out[512], one[512], ref_dir[512];
    tmp_path(dir, sizeof(dir), "llama-sharded");
    write_llama_fixture(dir, "F32", 3);
    char p[600];
    snprintf(p, sizeof(p), "%s/model-00002-of-00003.safetensors", dir);
    assert_true(exists(p));
    tmp_path(out, sizeof(out), "llama-sharded.gguf");
    struct Err e = {0};
    int rc = convert(dir, out, GGML_TYPE_F32, &e);
    if (rc) printf("%s\n", e.msg);
    assert_int_equal(rc, 0);
    if (!shared_path(ref_dir, sizeof(ref_dir), "hf/llama")) skip();
    tmp_path(one, sizeof(one), "llama-one.gguf");
    struct ConvertOptions o = {.type = GGML_TYPE_F32, .name = "llama-sharded"};
    assert_int_equal(convert_hf(ref_dir, one, &o, &e), 0);
    size_t n1, n2;
    uint8_t* a = read_file(out, &n1);
    uint8_t* b = read_file(one, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1); // same name -> the same file, byte for byte
    free(a);
    free(b);
    // a weight_map entry that its shard lacks is refused
    snprintf(p, sizeof(p), "%s/model.safetensors.index.json", dir);
    char* idx = (char*)read_file(p, &n1);
    char* s = strstr(idx, "model.norm.weight");
    assert_non_null(s);
    memcpy(s, "model.nrm0", 10);
    write_text(p, idx);
    free(idx);
    tmp_path(out, sizeof(out), "llama-sharded-bad.gguf");
    assert_int_not_equal(convert(dir, out, GGML_TYPE_F32, &e), 0);
    printf("bad index: %s\n", e.msg);
    assert_false(exists(out));
}

static const char BPE_TOKENIZER[] =
    "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":0,\"content\":\"<|endoftext|>\","
    "\"special\":true},{\"id\":1,\"content\":\"<|begin|>\",\"special\":true}],"
    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},"
    "\"model\":{\"type\":\"BPE\",\"vocab\":{\"<|endoftext|>\":0,\"<|begin|>\":1,\"a\":2,\"b\":3,"
    "\"c\":4,\"\xc4\xa0\":5,\"ab\":6,\"abc\":7,\"\xc4\xa0"
    "a\":8},"
    "\"merges\":[\"a b\",[\"ab\",\"c\"],\"\xc4\xa0 a\"]}}";

static const char SPM_TOKENIZER[] =
    "{\"added_tokens\":[{\"id\":1,\"content\":\"<s>\",\"special\":true},"
    "{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0.0],[\"<s>\",0.0],"
    "[\"</s>\",0.0],[\"<0x41>\",0.0],[\"\xe2\x96\x81\",-1.5],[\"\xe2\x96\x81"
    "a\",-2.0],"
    "[\"b\",-3.25]]}}";

static const char SPM_BPE_TOKENIZER[] =
    "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"<s>\":1,"
    "\"</s>\":2,\"\xe2\x96\x81\":3,\"a\":4,\"b\":5,\"ab\":6,\"\xe2\x96\x81"
    "ab\":7},"
    "\"merges\":[\"a b\",\"\xe2\x96\x81 ab\"]}}";

static void test_tokenizer_import(void** state) {
    (void)state;
    char dir[512], out[512], p[600];
    tmp_path(dir, sizeof(dir), "llama-tok");
    write_llama_fixture(dir, "F32", 1);
    snprintf(p, sizeof(p), "%s/tokenizer.json", dir);
    write_text(p, BPE_TOKENIZER);
    snprintf(p, sizeof(p), "%s/tokenizer_config.json", dir);
    write_text(p, "{\"bos_token\":\"<|begin|>\",\"eos_token\":{\"content\":\"<|endoftext|>\"},"
                  "\"add_bos_token\":true}");
    tmp_path(out, sizeof(out), "llama-bpe.gguf");
    struct Err e = {0};
    int rc = convert(dir, out, GGML_TYPE_F32, &e);
    if (rc) printf("%s\n", e.msg);
    assert_int_equal(rc, 0);
    struct Gguf g;
    assert_int_equal(gguf_open(&g, out, &e), 0);
    struct GgufStr s;
    assert_int_equal(gguf_get_str(&g, "tokenizer.ggml.model", &s, &e), 0);
    assert_string_equal(s.s, "gpt2");
    assert_int_equal(gguf_get_str(&g, "tokenizer.ggml.pre", &s, &e), 0);
    assert_string_equal(s.s, "gpt-2");
    const struct GgufArr *toks, *merges, *types;
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.tokens", &toks, &e), 0);
    assert_int_equal(toks->n, 256); // padded to vocab_size
    assert_string_equal(gguf_arr_str(toks, 7).s, "abc");
    assert_string_equal(gguf_arr_str(toks, 9).s, "[PAD9]");
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.merges", &merges, &e), 0);
    assert_int_equal(merges->n, 3);
    assert_string_equal(gguf_arr_str(merges, 1).s, "ab c");
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.token_type", &types, &e), 0);
    assert_int_equal(gguf_arr_int(types, 0), 3); // special -> CONTROL
    assert_int_equal(gguf_arr_int(types, 2), 1);
    assert_int_equal(key_int(&g, "tokenizer.ggml.bos_token_id"), 1);
    assert_int_equal(key_int(&g, "tokenizer.ggml.eos_token_id"), 0);
    bool ab = false;
    assert_int_equal(gguf_get_bool(&g, "tokenizer.ggml.add_bos_token", &ab, &e), 0);
    assert_true(ab);
    // the engine's tokenizer accepts it and merges "abc" into one token
    struct Tokenizer tk;
    rc = tokenizer_init(&tk, &g, &e);
    if (rc) printf("tokenizer_init: %s\n", e.msg);
    assert_int_equal(rc, 0);
    int32_t ids[16];
    int n = 0;
    rc = tokenizer_encode(&tk, "abc a", 5, 0, 0, ids, 16, &n, &e);
    if (rc) printf("tokenizer_encode: %s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 7);
    assert_int_equal(ids[1], 8);
    tokenizer_free(&tk);
    gguf_free(&g);

    // SentencePiece-style (Unigram) -> "llama" with scores and types
    snprintf(p, sizeof(p), "%s/tokenizer.json", dir);
    write_text(p, SPM_TOKENIZER);
    snprintf(p, sizeof(p), "%s/tokenizer_config.json", dir);
    unlink(p);
    tmp_path(out, sizeof(out), "llama-spm.gguf");
    assert_int_equal(convert(dir, out, GGML_TYPE_F32, &e), 0);
    assert_int_equal(gguf_open(&g, out, &e), 0);
    assert_int_equal(gguf_get_str(&g, "tokenizer.ggml.model", &s, &e), 0);
    assert_string_equal(s.s, "llama");
    const struct GgufArr* scores;
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.scores", &scores, &e), 0);
    assert_true(gguf_arr_float(scores, 6) == -3.25);
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.token_type", &types, &e), 0);
    assert_int_equal(gguf_arr_int(types, 0), 2); // UNKNOWN
    assert_int_equal(gguf_arr_int(types, 1), 3); // CONTROL
    assert_int_equal(gguf_arr_int(types, 3), 6); // BYTE
    assert_int_equal(gguf_arr_int(types, 5), 1);
    assert_int_equal(key_int(&g, "tokenizer.ggml.bos_token_id"), 1); // from config.json
    assert_int_equal(key_int(&g, "tokenizer.ggml.unknown_token_id"), 0);
    gguf_free(&g);

    // SentencePiece-style BPE (byte_fallback, U+2581) -> "llama", merge ranks as scores
    snprintf(p, sizeof(p), "%s/tokenizer.json", dir);
    write_text(p, SPM_BPE_TOKENIZER);
    tmp_path(out, sizeof(out), "llama-spm-bpe.gguf");
    assert_int_equal(convert(dir, out, GGML_TYPE_F32, &e), 0);
    assert_int_equal(gguf_open(&g, out, &e), 0);
    assert_int_equal(gguf_get_str(&g, "tokenizer.ggml.model", &s, &e), 0);
    assert_string_equal(s.s, "llama");
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.scores", &scores, &e), 0);
    assert_true(gguf_arr_float(scores, 6) == -1.0);
    assert_true(gguf_arr_float(scores, 7) == -2.0);
    assert_true(gguf_arr_float(scores, 4) == 0.0);
    assert_null(gguf_find_key(&g, "tokenizer.ggml.merges"));
    gguf_free(&g);
}

// ---------------------------------------------------------------------------------------
// the safetensors parser

static uint8_t* st_bytes(const char* header, const void* data, size_t n_data, size_t* size) {
    size_t hl = strlen(header);
    uint8_t* b = malloc(8 + hl + n_data + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    if (n_data) memcpy(b + 8 + hl, data, n_data);
    *size = 8 + hl + n_data;
    return b;
}

static int parse_header(const char* header, size_t n_data, struct Err* e) {
    uint8_t data[64] = {0};
    size_t size;
    uint8_t* b = st_bytes(header, data, n_data, &size);
    struct Safetensors s;
    int rc = safetensors_parse(&s, b, size, e);
    if (!rc) safetensors_free(&s);
    free(b);
    return rc;
}

static void test_safetensors_parse(void** state) {
    (void)state;
    float v[3] = {1.5f, -2.0f, 0.25f};
    uint16_t h[2] = {quant_f32_to_f16(3.0f), quant_f32_to_bf16(-0.5f)};
    uint8_t data[16];
    memcpy(data, v, 12);
    memcpy(data + 12, h, 4);
    size_t size;
    uint8_t* b = st_bytes("{\"b\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[12,14]},"
                          "\"__metadata__\":{\"format\":\"pt\"},"
                          "\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                          "\"c\":{\"dtype\":\"BF16\",\"shape\":[1,1],\"data_offsets\":[14,16]},"
                          "\"z\":{\"dtype\":\"I32\",\"shape\":[0],\"data_offsets\":[16,16]}}  ",
                          data, 16, &size);
    struct Safetensors s;
    struct Err e = {0};
    assert_int_equal(safetensors_parse(&s, b, size, &e), 0);
    assert_int_equal(s.n_tensors, 4);
    assert_string_equal(s.tensors[0].name, "a"); // sorted
    const struct SafetensorsTensor* t = safetensors_find(&s, "c");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 2);
    float f[3];
    assert_int_equal(safetensors_to_f32(t, f, &e), 0);
    assert_true(f[0] == -0.5f);
    assert_int_equal(safetensors_to_f32(safetensors_find(&s, "b"), f, &e), 0);
    assert_true(f[0] == 3.0f);
    assert_int_equal(safetensors_to_f32(safetensors_find(&s, "a"), f, &e), 0);
    assert_true(f[1] == -2.0f);
    double d[3];
    assert_int_equal(safetensors_to_f64(safetensors_find(&s, "a"), d, &e), 0);
    assert_true(d[2] == 0.25);
    assert_int_equal(safetensors_to_f32(safetensors_find(&s, "z"), f, &e), ERR_TYPE);
    assert_null(safetensors_find(&s, "d"));
    safetensors_free(&s);
    free(b);

    static const struct {
        const char* header;
        size_t n_data;
        int code;
    } BAD[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 12, ERR_RANGE},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 12, ERR_SHAPE},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, ERR_RANGE},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 12, ERR_RANGE},
        {"{\"a\":{\"dtype\":\"Q9\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, ERR_TYPE},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 12, ERR_SHAPE},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 12, ERR_SHAPE},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,8]}}",
         12, ERR_OVERFLOW},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 12, ERR_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 12, ERR_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 12, ERR_FORMAT},
        {"[1,2]", 0, ERR_MAGIC},
        {"{\"__metadata__\":3}", 0, ERR_FORMAT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         12, ERR_DUPLICATE},
    };
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        int rc = parse_header(BAD[i].header, BAD[i].n_data, &e);
        if (rc != BAD[i].code) printf("case %zu: %s (%s)\n", i, err_name(rc), e.msg);
        assert_int_equal(rc, BAD[i].code);
        assert_null(strchr(e.msg, '\n'));
    }
    // a header length past the end of the file, and a file shorter than 8 bytes
    uint8_t tiny[12] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, 0};
    assert_int_equal(safetensors_parse(&s, tiny, sizeof(tiny), &e), ERR_TRUNCATED);
    assert_int_equal(safetensors_parse(&s, tiny, 5, &e), ERR_TRUNCATED);
}

// ---------------------------------------------------------------------------------------
// bad input: one-line error, nonzero status, no output file

// Makes dir a copy of hf/llama with config.json and model.safetensors replaced when given.
static void make_case(const char* dir, const char* config, const uint8_t* st, size_t st_size) {
    char src[512], p[600], q[600];
    if (!shared_path(src, sizeof(src), "hf/llama")) skip();
    rm_rf(dir);
    mkdir(dir, 0755);
    snprintf(q, sizeof(q), "%s/config.json", dir);
    if (config)
        write_text(q, config);
    else {
        snprintf(p, sizeof(p), "%s/config.json", src);
        copy_file(p, q);
    }
    snprintf(q, sizeof(q), "%s/model.safetensors", dir);
    if (st)
        write_bytes(q, st, st_size);
    else {
        snprintf(p, sizeof(p), "%s/model.safetensors", src);
        copy_file(p, q);
    }
}

static void expect_failure(const char* dir, const char* what, int code) {
    char out[512], tmp[600];
    tmp_path(out, sizeof(out), "bad.gguf");
    snprintf(tmp, sizeof(tmp), "%s.tmp", out);
    unlink(out);
    struct Err e = {0};
    int rc = convert(dir, out, GGML_TYPE_F32, &e);
    printf("%-28s -> %s: %s\n", what, err_name(rc), e.msg);
    assert_int_not_equal(rc, 0);
    if (code) assert_int_equal(rc, code);
    assert_null(strchr(e.msg, '\n'));
    assert_true(strlen(e.msg) > 10);
    assert_false(exists(out));
    assert_false(exists(tmp));
}

static char* llama_config_with(const char* from, const char* to) {
    char src[512], p[600];
    if (!shared_path(src, sizeof(src), "hf/llama")) skip();
    snprintf(p, sizeof(p), "%s/config.json", src);
    size_t n;
    char* cfg = (char*)read_file(p, &n);
    char* s = strstr(cfg, from);
    assert_non_null(s);
    char* out = malloc(n + strlen(to) + 1);
    size_t k = (size_t)(s - cfg);
    memcpy(out, cfg, k);
    strcpy(out + k, to);
    strcat(out, s + strlen(from));
    free(cfg);
    return out;
}

static void test_bad_inputs(void** state) {
    (void)state;
    char dir[512], p[600], src[512];
    if (!shared_path(src, sizeof(src), "hf/llama")) skip();
    tmp_path(dir, sizeof(dir), "bad");

    tmp_path(p, sizeof(p), "no-such-dir");
    expect_failure(p, "missing directory", ERR_IO);

    make_case(dir, NULL, NULL, 0);
    snprintf(p, sizeof(p), "%s/config.json", dir);
    unlink(p);
    expect_failure(dir, "no config.json", ERR_IO);

    make_case(dir, NULL, NULL, 0);
    snprintf(p, sizeof(p), "%s/model.safetensors", dir);
    unlink(p);
    expect_failure(dir, "no safetensors", ERR_NOT_FOUND);

    make_case(dir, "{\"model_type\": \"llama\", \"hidden_size\": 64,", NULL, 0);
    expect_failure(dir, "malformed config.json", ERR_FORMAT);

    char* cfg = llama_config_with("\"model_type\": \"llama\"", "\"model_type\": \"gpt_neox\"");
    make_case(dir, cfg, NULL, 0);
    free(cfg);
    expect_failure(dir, "unknown architecture", ERR_UNSUPPORTED);

    cfg = llama_config_with("\"hidden_size\": 64", "\"hidden_size\": 96");
    make_case(dir, cfg, NULL, 0);
    free(cfg);
    expect_failure(dir, "shape mismatch", ERR_SHAPE);

    cfg = llama_config_with("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
    make_case(dir, cfg, NULL, 0);
    free(cfg);
    expect_failure(dir, "missing tensor", ERR_NOT_FOUND);

    cfg = llama_config_with("\"hidden_size\": 64", "\"hidden_size\": \"64\"");
    make_case(dir, cfg, NULL, 0);
    free(cfg);
    expect_failure(dir, "config value of a wrong type", ERR_TYPE);

    // safetensors damage: truncated, offsets out of range, overlapping, wrong dtype
    snprintf(p, sizeof(p), "%s/model.safetensors", src);
    size_t n;
    uint8_t* st = read_file(p, &n);
    assert_non_null(st);
    make_case(dir, NULL, st, n - 100);
    expect_failure(dir, "truncated safetensors", ERR_RANGE);
    make_case(dir, NULL, st, 6);
    expect_failure(dir, "safetensors shorter than 8", ERR_TRUNCATED);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | st[i];
    char* header = malloc(hl + 1);
    memcpy(header, st + 8, hl);
    header[hl] = 0;
    // the first data_offsets [0, N] becomes [1, N+1]: misaligned sizes or overlap
    char* d = strstr(header, "\"data_offsets\":[0,");
    assert_non_null(d);
    uint8_t* st2 = malloc(n);
    memcpy(st2, st, n);
    char* h2 = (char*)st2 + 8 + (d - header) + strlen("\"data_offsets\":[");
    *h2 = '4'; // [4, N]: N-4 bytes for N/4 elements
    make_case(dir, NULL, st2, n);
    expect_failure(dir, "offsets inconsistent", ERR_SHAPE);
    free(st2);
    // every tensor of a dtype I32 (same size as F32)
    st2 = malloc(n);
    memcpy(st2, st, n);
    for (char* s = (char*)st2 + 8; (s = strstr(s, "\"F32\"")) && s < (char*)st2 + 8 + hl; s++)
        memcpy(s, "\"I32\"", 5);
    make_case(dir, NULL, st2, n);
    expect_failure(dir, "integer dtype", ERR_TYPE);
    free(st2);
    // overlap: the second tensor's offsets copied onto the first's
    st2 = malloc(n);
    memcpy(st2, st, n);
    {
        char* h = (char*)st2 + 8;
        char* a = strstr(h, "\"model.norm.weight\"");
        char* b = strstr(h, "\"model.layers.0.input_layernorm.weight\"");
        assert_true(a && b);
        char* oa = strstr(a, "data_offsets");
        char* ob = strstr(b, "data_offsets");
        // both are [64] F32: same width when offsets have equal digit counts
        char* ea = strchr(oa, ']');
        char* eb = strchr(ob, ']');
        if (ea - oa == eb - ob) {
            memcpy(oa, ob, (size_t)(eb - ob));
            make_case(dir, NULL, st2, n);
            expect_failure(dir, "overlapping offsets", ERR_RANGE);
        } else {
            printf("overlap case skipped: offsets differ in width\n");
        }
    }
    free(st2);
    free(header);
    free(st);
    rm_rf(dir);
}

// ---------------------------------------------------------------------------------------

static int setup(void** state) {
    (void)state;
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/mattn-test-convert-XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void** state) {
    (void)state;
    if (!getenv("MATTN_KEEP_TMP")) rm_rf(g_tmp);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_parse),
        cmocka_unit_test(test_llama_matches_llamacpp),
        cmocka_unit_test(test_mistral_matches_llamacpp),
        cmocka_unit_test(test_jamba_matches_llamacpp),
        cmocka_unit_test(test_mamba_matches_llamacpp),
        cmocka_unit_test(test_mamba2_matches_llamacpp),
        cmocka_unit_test(test_every_hf_model_converts),
        cmocka_unit_test(test_recurrentgemma_layout),
        cmocka_unit_test(test_zamba2_layout),
        cmocka_unit_test(test_zamba2_mamba_spelling_and_tied),
        cmocka_unit_test(test_quantized_types_load_and_stay_close),
        cmocka_unit_test(test_f16_and_bf16_safetensors),
        cmocka_unit_test(test_sharded_checkpoint),
        cmocka_unit_test(test_tokenizer_import),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
