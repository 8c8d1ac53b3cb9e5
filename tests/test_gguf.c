// test_gguf.c: cmocka suite for shared/gguf.{h,c}: writer -> parser round trips of every
// value type, tensor type/shape and alignment; set_kv re-encoding; write_file's no-leftover
// rule; the getters' type rules; and every real GGUF in ../shared (models, llamacpp-archs,
// gguf, vocab) with spot values read by an independent python struct reader.
// Not here: corrupt inputs (tests/test_gguf_corrupt.c) and fuzzing (fuzz/fuzz_gguf.c).
// Run: make build/tests/test_gguf && MATTN_SHARED=../shared build/tests/test_gguf
#include <dirent.h>
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
#include "gguf.h"

// ---------------------------------------------------------------------------------------
// helpers

// Encodes w into memory (asserting success) and frees the writer.
static uint8_t* encode(struct GgufWriter* w, size_t* n) {
    struct Err e = {0};
    uint8_t* out = NULL;
    int rc = gguf_writer_write_mem(w, &out, n, &e);
    if (rc) print_message("write_mem: %s\n", e.msg);
    assert_int_equal(rc, 0);
    gguf_writer_free(w);
    return out;
}

static void parse_ok(struct Gguf* g, const uint8_t* bytes, size_t n) {
    struct Err e = {0};
    int rc = gguf_parse(g, bytes, n, &e);
    if (rc) print_message("gguf_parse: %s\n", e.msg);
    assert_int_equal(rc, 0);
}

static const struct GgufKv* must_key(const struct Gguf* g, const char* key, enum GgufValueType t) {
    const struct GgufKv* kv = gguf_find_key(g, key);
    if (!kv) print_message("missing key %s\n", key);
    assert_non_null(kv);
    assert_int_equal(kv->val.type, t);
    return kv;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static uint64_t f64_bits(double f) {
    uint64_t u;
    memcpy(&u, &f, 8);
    return u;
}

// A temp directory per test run, removed (with its files) at teardown.
static char g_tmpdir[64];

static int setup(void** state) {
    (void)state;
    strcpy(g_tmpdir, "/tmp/mattn-test-gguf-XXXXXX");
    return mkdtemp(g_tmpdir) ? 0 : -1;
}

static int teardown(void** state) {
    (void)state;
    DIR* d = opendir(g_tmpdir);
    if (d) {
        struct dirent* de;
        char p[512];
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
                snprintf(p, sizeof(p), "%s/%s", g_tmpdir, de->d_name);
                if (unlink(p) != 0) rmdir(p);
            }
        closedir(d);
    }
    rmdir(g_tmpdir);
    return 0;
}

static int file_exists(const char* p) {
    struct stat st;
    return stat(p, &st) == 0;
}

// Number of entries in the temp directory (to prove nothing was left behind).
static int tmpdir_count(void) {
    DIR* d = opendir(g_tmpdir);
    assert_non_null(d);
    int n = 0;
    struct dirent* de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

// Walks every value the way a consumer would; checks the string NUL rule on the way.
static uint64_t walk_value(const struct GgufValue* v) {
    uint64_t h = (uint64_t)v->type;
    if (v->type == GGUF_TYPE_STRING) {
        assert_int_equal(v->str.s[v->str.len], 0);
        return h + v->str.len;
    }
    if (v->type != GGUF_TYPE_ARRAY) return h + v->u;
    const struct GgufArr* a = &v->arr;
    for (uint64_t i = 0; i < a->n; i++) {
        if (a->type == GGUF_TYPE_STRING) {
            struct GgufStr s = gguf_arr_str(a, i);
            assert_int_equal(s.s[s.len], 0);
            h += s.len;
        } else if (a->type == GGUF_TYPE_ARRAY) {
            h += walk_value(&a->items[i]);
        } else {
            double f = gguf_arr_float(a, i);
            if (a->type != GGUF_TYPE_FLOAT32 && a->type != GGUF_TYPE_FLOAT64)
                h += (uint64_t)gguf_arr_int(a, i);
            h += f == f;
        }
    }
    return h;
}

// ---------------------------------------------------------------------------------------
// scalar and string values

static void test_gguf_scalars_roundtrip(void** state) {
    (void)state;
    struct GgufWriter w;
    assert_int_equal(gguf_writer_init(&w), 0);
    gguf_writer_set_u8(&w, "u8", 255);
    gguf_writer_set_i8(&w, "i8", -128);
    gguf_writer_set_u16(&w, "u16", 65535);
    gguf_writer_set_i16(&w, "i16", -32768);
    gguf_writer_set_u32(&w, "u32", 4294967295u);
    gguf_writer_set_i32(&w, "i32", INT32_MIN);
    gguf_writer_set_u64(&w, "u64", UINT64_MAX);
    gguf_writer_set_i64(&w, "i64", INT64_MIN);
    gguf_writer_set_f32(&w, "f32", 0.1f);
    gguf_writer_set_f32(&w, "f32.negzero", -0.0f);
    gguf_writer_set_f32(&w, "f32.inf", INFINITY);
    gguf_writer_set_f32(&w, "f32.nan", NAN);
    gguf_writer_set_f64(&w, "f64", 3.141592653589793);
    gguf_writer_set_f64(&w, "f64.denorm", 4.9406564584124654e-324);
    gguf_writer_set_bool(&w, "bool.t", true);
    gguf_writer_set_bool(&w, "bool.f", false);
    gguf_writer_set_str(&w, "str", "hello");
    gguf_writer_set_str(&w, "str.empty", "");
    size_t n;
    uint8_t* buf = encode(&w, &n);
    struct Gguf g;
    parse_ok(&g, buf, n);
    assert_int_equal(g.version, 3);
    assert_int_equal(g.n_kv, 18);
    assert_int_equal(g.n_tensors, 0);
    assert_int_equal(g.alignment, 32);
    // file order is kept
    assert_string_equal(g.kv[0].key, "u8");
    assert_string_equal(g.kv[17].key, "str.empty");
    assert_int_equal(must_key(&g, "u8", GGUF_TYPE_UINT8)->val.u, 255);
    assert_true(must_key(&g, "i8", GGUF_TYPE_INT8)->val.i == -128);
    assert_int_equal(must_key(&g, "u16", GGUF_TYPE_UINT16)->val.u, 65535);
    assert_true(must_key(&g, "i16", GGUF_TYPE_INT16)->val.i == -32768);
    assert_true(must_key(&g, "u32", GGUF_TYPE_UINT32)->val.u == 4294967295u);
    assert_true(must_key(&g, "i32", GGUF_TYPE_INT32)->val.i == INT32_MIN);
    assert_true(must_key(&g, "u64", GGUF_TYPE_UINT64)->val.u == UINT64_MAX);
    assert_true(must_key(&g, "i64", GGUF_TYPE_INT64)->val.i == INT64_MIN);
    // f32 is widened exactly: the double equals the float bit for bit
    assert_true(must_key(&g, "f32", GGUF_TYPE_FLOAT32)->val.f == (double)0.1f);
    double nz = must_key(&g, "f32.negzero", GGUF_TYPE_FLOAT32)->val.f;
    assert_true(nz == 0.0 && signbit(nz));
    assert_true(isinf(must_key(&g, "f32.inf", GGUF_TYPE_FLOAT32)->val.f));
    assert_true(isnan(must_key(&g, "f32.nan", GGUF_TYPE_FLOAT32)->val.f));
    assert_true(f64_bits(must_key(&g, "f64", GGUF_TYPE_FLOAT64)->val.f) ==
                f64_bits(3.141592653589793));
    assert_true(must_key(&g, "f64.denorm", GGUF_TYPE_FLOAT64)->val.f == 4.9406564584124654e-324);
    assert_int_equal(must_key(&g, "bool.t", GGUF_TYPE_BOOL)->val.u, 1);
    assert_int_equal(must_key(&g, "bool.f", GGUF_TYPE_BOOL)->val.u, 0);
    const struct GgufKv* s = must_key(&g, "str", GGUF_TYPE_STRING);
    assert_int_equal(s->val.str.len, 5);
    assert_string_equal(s->val.str.s, "hello");
    s = must_key(&g, "str.empty", GGUF_TYPE_STRING);
    assert_int_equal(s->val.str.len, 0);
    assert_string_equal(s->val.str.s, "");
    gguf_free(&g);
    free(buf);
}

// The exact bytes of a tiny file, written out by hand from the GGUF spec: proves that the
// writer's encoding is the spec's and not just self-consistent with the reader.
static void test_gguf_writer_bytes_match_spec(void** state) {
    (void)state;
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_u32(&w, "general.alignment", 8);
    gguf_writer_set_strn(&w, "k", "a\0b", 3);
    const float t[2] = {1.0f, -2.0f};
    gguf_writer_add_tensor(&w, "t", GGML_TYPE_F32, 1, (const int64_t[]){2}, t, 0);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    static const uint8_t want[] = {
        'G', 'G', 'U',  'F',  3,   0,   0,   0, // magic, version 3
        1,   0,   0,    0,    0,   0,   0,   0, // n_tensors
        2,   0,   0,    0,    0,   0,   0,   0, // n_kv
        17,  0,   0,    0,    0,   0,   0,   0, // key length
        'g', 'e', 'n',  'e',  'r', 'a', 'l', '.',  'a', 'l', 'i', 'g', 'n',
        'm', 'e', 'n',  't',  4,   0,   0,   0,    8,   0,   0,   0,   // u32 8
        1,   0,   0,    0,    0,   0,   0,   0,    'k',                // key "k"
        8,   0,   0,    0,    3,   0,   0,   0,    0,   0,   0,   0,   // string of 3
        'a', 0,   'b',  1,    0,   0,   0,   0,    0,   0,   0,   't', // tensor "t"
        1,   0,   0,    0,                                             // n_dims
        2,   0,   0,    0,    0,   0,   0,   0,                        // ne[0]
        0,   0,   0,    0,                                             // F32
        0,   0,   0,    0,    0,   0,   0,   0,                        // offset 0
        0,   0,   0,    0,    0,   0,              // pad 114 -> 120 (alignment 8)
        0,   0,   0x80, 0x3f, 0,   0,   0,   0xc0, // 1.0f, -2.0f
    };
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    free(buf);
}

static void test_gguf_string_embedded_nul(void** state) {
    (void)state;
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_strn(&w, "nul", "a\0b\0", 4);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    struct Gguf g;
    parse_ok(&g, buf, n);
    struct GgufStr s;
    assert_int_equal(gguf_get_str(&g, "nul", &s, NULL), 0);
    assert_int_equal(s.len, 4);
    assert_memory_equal(s.s, "a\0b\0", 5); // plus the terminating NUL
    gguf_free(&g);
    free(buf);
}

// ---------------------------------------------------------------------------------------
// arrays

static void test_gguf_arrays_scalar_roundtrip(void** state) {
    (void)state;
    const uint8_t u8[] = {0, 1, 255};
    const int8_t i8[] = {-128, 0, 127};
    const uint16_t u16[] = {0, 65535};
    const int16_t i16[] = {-32768, 32767, -1};
    const uint32_t u32[] = {0, 4294967295u, 7};
    const int32_t i32[] = {INT32_MIN, INT32_MAX, -1, 0, 2};
    const uint64_t u64[] = {UINT64_MAX, 0};
    const int64_t i64[] = {INT64_MIN, INT64_MAX, -7};
    const float f32[] = {0.5f, -1e30f, 1e-40f}; // 1e-40f is subnormal
    const double f64[] = {1e300, -0.25, 5e-324};
    const uint8_t bools[] = {1, 0, 1, 1};
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_arr(&w, "u8", GGUF_TYPE_UINT8, u8, 3);
    gguf_writer_set_arr(&w, "i8", GGUF_TYPE_INT8, i8, 3);
    gguf_writer_set_arr(&w, "u16", GGUF_TYPE_UINT16, u16, 2);
    gguf_writer_set_arr(&w, "i16", GGUF_TYPE_INT16, i16, 3);
    gguf_writer_set_arr(&w, "u32", GGUF_TYPE_UINT32, u32, 3);
    gguf_writer_set_arr(&w, "i32", GGUF_TYPE_INT32, i32, 5);
    gguf_writer_set_arr(&w, "u64", GGUF_TYPE_UINT64, u64, 2);
    gguf_writer_set_arr(&w, "i64", GGUF_TYPE_INT64, i64, 3);
    gguf_writer_set_arr(&w, "f32", GGUF_TYPE_FLOAT32, f32, 3);
    gguf_writer_set_arr(&w, "f64", GGUF_TYPE_FLOAT64, f64, 3);
    gguf_writer_set_arr(&w, "bool", GGUF_TYPE_BOOL, bools, 4);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    struct Gguf g;
    parse_ok(&g, buf, n);
    const struct GgufArr* a;
#define ARR(key, etype, count)                                                                     \
    do {                                                                                           \
        assert_int_equal(gguf_get_arr(&g, key, &a, NULL), 0);                                      \
        assert_int_equal(a->type, etype);                                                          \
        assert_int_equal(a->n, count);                                                             \
        assert_null(a->items);                                                                     \
    } while (0)
    ARR("u8", GGUF_TYPE_UINT8, 3);
    for (int i = 0; i < 3; i++)
        assert_true(gguf_arr_int(a, (uint64_t)i) == u8[i]);
    ARR("i8", GGUF_TYPE_INT8, 3);
    for (int i = 0; i < 3; i++)
        assert_true(gguf_arr_int(a, (uint64_t)i) == i8[i]);
    assert_true(gguf_arr_float(a, 0) == -128.0);
    ARR("u16", GGUF_TYPE_UINT16, 2);
    for (int i = 0; i < 2; i++)
        assert_true(gguf_arr_int(a, (uint64_t)i) == u16[i]);
    ARR("i16", GGUF_TYPE_INT16, 3);
    for (int i = 0; i < 3; i++)
        assert_true(gguf_arr_int(a, (uint64_t)i) == i16[i]);
    ARR("u32", GGUF_TYPE_UINT32, 3);
    for (int i = 0; i < 3; i++)
        assert_true(gguf_arr_int(a, (uint64_t)i) == u32[i]);
    ARR("i32", GGUF_TYPE_INT32, 5);
    for (int i = 0; i < 5; i++)
        assert_true(gguf_arr_int(a, (uint64_t)i) == i32[i]);
    ARR("u64", GGUF_TYPE_UINT64, 2);
    assert_true((uint64_t)gguf_arr_int(a, 0) == UINT64_MAX);     // raw bits through int64
    assert_true(gguf_arr_float(a, 0) == 18446744073709551615.0); // as unsigned
    ARR("i64", GGUF_TYPE_INT64, 3);
    for (int i = 0; i < 3; i++)
        assert_true(gguf_arr_int(a, (uint64_t)i) == i64[i]);
    ARR("f32", GGUF_TYPE_FLOAT32, 3);
    for (int i = 0; i < 3; i++)
        assert_true(f32_bits((float)gguf_arr_float(a, (uint64_t)i)) == f32_bits(f32[i]));
    ARR("f64", GGUF_TYPE_FLOAT64, 3);
    for (int i = 0; i < 3; i++)
        assert_true(f64_bits(gguf_arr_float(a, (uint64_t)i)) == f64_bits(f64[i]));
    ARR("bool", GGUF_TYPE_BOOL, 4);
    for (int i = 0; i < 4; i++)
        assert_true(gguf_arr_int(a, (uint64_t)i) == bools[i]);
#undef ARR
    gguf_free(&g);
    free(buf);
}

static void test_gguf_arrays_strings_roundtrip(void** state) {
    (void)state;
    const char* strs[] = {"", "one", "t\0o", "\xe2\x96\x81the"};
    const uint64_t lens[] = {0, 3, 3, 6};
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_arr_str(&w, "withlens", strs, lens, 4);
    const char* plain[] = {"a", "bc"};
    gguf_writer_set_arr_str(&w, "plain", plain, NULL, 2);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    struct Gguf g;
    parse_ok(&g, buf, n);
    const struct GgufArr* a;
    assert_int_equal(gguf_get_arr(&g, "withlens", &a, NULL), 0);
    assert_int_equal(a->type, GGUF_TYPE_STRING);
    assert_int_equal(a->n, 4);
    for (uint64_t i = 0; i < 4; i++) {
        struct GgufStr s = gguf_arr_str(a, i);
        assert_int_equal(s.len, lens[i]);
        assert_memory_equal(s.s, strs[i], lens[i]);
        assert_int_equal(s.s[s.len], 0);
    }
    assert_int_equal(gguf_get_arr(&g, "plain", &a, NULL), 0);
    assert_int_equal(a->n, 2);
    assert_string_equal(gguf_arr_str(a, 1).s, "bc");
    gguf_free(&g);
    free(buf);
}

// Arrays of arrays can only be written through set_kv: build the value by hand.
static void test_gguf_arrays_nested_roundtrip(void** state) {
    (void)state;
    const uint16_t in0[] = {1, 2, 3};
    const int64_t deep[] = {-5, 6};
    struct GgufValue strs[2] = {
        {.type = GGUF_TYPE_STRING, .str = {"x", 1}},
        {.type = GGUF_TYPE_STRING, .str = {"y\0z", 3}},
    };
    struct GgufValue lvl3[1] = {
        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_INT64, 2, (const uint8_t*)deep, NULL}}};
    struct GgufValue inner[4] = {
        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_UINT16, 3, (const uint8_t*)in0, NULL}},
        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_FLOAT32, 0, NULL, NULL}},
        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_STRING, 2, NULL, strs}},
        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_ARRAY, 1, NULL, lvl3}},
    };
    struct GgufKv kv = {"nested",
                        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_ARRAY, 4, NULL, inner}}};
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_kv(&w, &kv);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    struct Gguf g;
    parse_ok(&g, buf, n);
    const struct GgufArr* a;
    assert_int_equal(gguf_get_arr(&g, "nested", &a, NULL), 0);
    assert_int_equal(a->type, GGUF_TYPE_ARRAY);
    assert_int_equal(a->n, 4);
    assert_non_null(a->items);
    const struct GgufArr* a0 = &a->items[0].arr;
    assert_int_equal(a->items[0].type, GGUF_TYPE_ARRAY);
    assert_int_equal(a0->type, GGUF_TYPE_UINT16);
    assert_int_equal(a0->n, 3);
    for (uint64_t i = 0; i < 3; i++)
        assert_true(gguf_arr_int(a0, i) == in0[i]);
    assert_int_equal(a->items[1].arr.type, GGUF_TYPE_FLOAT32);
    assert_int_equal(a->items[1].arr.n, 0);
    const struct GgufArr* a2 = &a->items[2].arr;
    assert_int_equal(a2->type, GGUF_TYPE_STRING);
    assert_int_equal(gguf_arr_str(a2, 1).len, 3);
    assert_memory_equal(gguf_arr_str(a2, 1).s, "y\0z", 4);
    const struct GgufArr* a3 = &a->items[3].arr;
    assert_int_equal(a3->type, GGUF_TYPE_ARRAY);
    assert_int_equal(a3->n, 1);
    assert_int_equal(a3->items[0].arr.type, GGUF_TYPE_INT64);
    assert_true(gguf_arr_int(&a3->items[0].arr, 0) == -5);
    assert_true(gguf_arr_int(&a3->items[0].arr, 1) == 6);
    // and set_kv of the parsed value writes the same bytes again
    struct GgufWriter w2;
    gguf_writer_init(&w2);
    gguf_writer_set_kv(&w2, &g.kv[0]);
    size_t n2;
    uint8_t* buf2 = encode(&w2, &n2);
    assert_int_equal(n2, n);
    assert_memory_equal(buf2, buf, n);
    free(buf2);
    gguf_free(&g);
    free(buf);
}

static void test_gguf_arrays_empty(void** state) {
    (void)state;
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_arr(&w, "e.u32", GGUF_TYPE_UINT32, NULL, 0);
    gguf_writer_set_arr_str(&w, "e.str", NULL, NULL, 0);
    struct GgufKv kv = {"e.arr",
                        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_ARRAY, 0, NULL, NULL}}};
    gguf_writer_set_kv(&w, &kv);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    struct Gguf g;
    parse_ok(&g, buf, n);
    const char* keys[] = {"e.u32", "e.str", "e.arr"};
    const enum GgufValueType types[] = {GGUF_TYPE_UINT32, GGUF_TYPE_STRING, GGUF_TYPE_ARRAY};
    for (int i = 0; i < 3; i++) {
        const struct GgufArr* a;
        assert_int_equal(gguf_get_arr(&g, keys[i], &a, NULL), 0);
        assert_int_equal(a->type, types[i]);
        assert_int_equal(a->n, 0);
    }
    gguf_free(&g);
    free(buf);
}

// ---------------------------------------------------------------------------------------
// tensors and alignment

struct TensorCase {
    const char* name;
    enum GgmlType type;
    int n_dims;
    int64_t ne[4];
    size_t nbytes; // by hand: ggml's block sizes (Q8_0 34 B/32, Q4_K 144 B/256, Q4_0 18 B/32)
};

static const struct TensorCase TENSORS[] = {
    {"vec.f32", GGML_TYPE_F32, 1, {7, 1, 1, 1}, 28},
    {"mat.f16", GGML_TYPE_F16, 2, {3, 5, 1, 1}, 30},
    {"t3.q8_0", GGML_TYPE_Q8_0, 3, {64, 2, 3, 1}, 12 * 34},
    {"empty.i8", GGML_TYPE_I8, 2, {4, 0, 1, 1}, 0},
    {"t4.q4_k", GGML_TYPE_Q4_K, 4, {256, 1, 2, 2}, 4 * 144},
    {"t4.bf16", GGML_TYPE_BF16, 4, {2, 2, 2, 2}, 32},
    {"odd.q4_0", GGML_TYPE_Q4_0, 2, {32, 3, 1, 1}, 54},
    {"zero.row", GGML_TYPE_Q8_0, 1, {0, 1, 1, 1}, 0},
    {"i32", GGML_TYPE_I32, 1, {5, 1, 1, 1}, 20},
};
#define N_TENSORS (sizeof(TENSORS) / sizeof(TENSORS[0]))

static uint8_t pattern(size_t t, size_t k) {
    return (uint8_t)(t * 37 + k * 11 + 1);
}

// Writes TENSORS (data: pattern) with the given alignment (0: default) and checks them.
static void tensors_roundtrip(uint32_t alignment) {
    uint8_t* data[N_TENSORS];
    struct GgufWriter w;
    gguf_writer_init(&w);
    if (alignment) gguf_writer_set_u32(&w, "general.alignment", alignment);
    gguf_writer_set_str(&w, "general.architecture", "test");
    size_t sum = 0;
    for (size_t t = 0; t < N_TENSORS; t++) {
        data[t] = malloc(TENSORS[t].nbytes + 1);
        for (size_t k = 0; k < TENSORS[t].nbytes; k++)
            data[t][k] = pattern(t, k);
        gguf_writer_add_tensor(&w, TENSORS[t].name, TENSORS[t].type, TENSORS[t].n_dims,
                               TENSORS[t].ne, data[t], t % 2); // half copied, half borrowed
        sum += TENSORS[t].nbytes;
    }
    // the copied ones must not depend on the caller's buffer any more
    for (size_t t = 1; t < N_TENSORS; t += 2)
        memset(data[t], 0xEE, TENSORS[t].nbytes);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    struct Gguf g;
    parse_ok(&g, buf, n);
    uint32_t al = alignment ? alignment : 32;
    assert_int_equal(g.alignment, al);
    assert_int_equal(g.n_tensors, N_TENSORS);
    assert_int_equal(g.data_offset % al, 0);
    uint64_t expect_off = 0;
    for (size_t t = 0; t < N_TENSORS; t++) {
        const struct TensorCase* c = &TENSORS[t];
        const struct GgufTensor* x = &g.tensors[t];
        assert_ptr_equal(gguf_find_tensor(&g, c->name), x);
        assert_string_equal(x->name, c->name);
        assert_int_equal(x->type, c->type);
        assert_int_equal(x->n_dims, c->n_dims);
        int64_t ne_all = 1;
        for (int d = 0; d < 4; d++) {
            assert_true(x->ne[d] == c->ne[d]);
            ne_all *= c->ne[d];
        }
        assert_true(x->n_elements == ne_all);
        assert_int_equal(x->nbytes, c->nbytes);
        assert_int_equal(x->offset % al, 0);
        assert_int_equal(x->offset, expect_off); // the writer packs them in order
        expect_off = (x->offset + x->nbytes + al - 1) / al * al;
        assert_ptr_equal(x->data, buf + g.data_offset + x->offset);
        for (size_t k = 0; k < c->nbytes; k++)
            if (((const uint8_t*)x->data)[k] != pattern(t, k)) fail_msg("%s byte %zu", c->name, k);
    }
    if (al == 1) assert_int_equal(n, g.data_offset + sum); // no padding anywhere
    assert_null(gguf_find_tensor(&g, "absent"));
    gguf_free(&g);
    free(buf);
    for (size_t t = 0; t < N_TENSORS; t++)
        free(data[t]);
}

static void test_gguf_tensors_roundtrip(void** state) {
    (void)state;
    tensors_roundtrip(0);
}

static void test_gguf_alignment_variants(void** state) {
    (void)state;
    tensors_roundtrip(1);
    tensors_roundtrip(8);
    tensors_roundtrip(64);
    tensors_roundtrip(4096);
}

// A zero-size tensor shares its offset with the next tensor: an empty range overlaps
// nothing, whatever order the overlap check sorts them in.
static void test_gguf_tensors_zero_size_shares_offset(void** state) {
    (void)state;
    static const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int order = 0; order < 2; order++) {
        struct GgufWriter w;
        gguf_writer_init(&w);
        const int64_t ne0[1] = {0};
        if (order == 0) gguf_writer_add_tensor(&w, "empty", GGML_TYPE_F32, 1, ne0, NULL, 0);
        gguf_writer_add_tensor(&w, "a", GGML_TYPE_F32, 1, (const int64_t[]){8}, x, 0);
        if (order == 1) gguf_writer_add_tensor(&w, "empty", GGML_TYPE_F32, 1, ne0, NULL, 0);
        gguf_writer_add_tensor(&w, "b", GGML_TYPE_F32, 1, (const int64_t[]){4}, x, 0);
        gguf_writer_add_tensor(&w, "empty2", GGML_TYPE_F32, 2, (const int64_t[]){4, 0}, x, 1);
        size_t n;
        uint8_t* buf = encode(&w, &n);
        struct Gguf g;
        parse_ok(&g, buf, n);
        assert_int_equal(g.n_tensors, 4);
        assert_int_equal(gguf_find_tensor(&g, "empty")->nbytes, 0);
        assert_memory_equal(gguf_find_tensor(&g, "b")->data, x, 16);
        gguf_free(&g);
        free(buf);
    }
}

// Offset field of tensor `name` in a writer-made buffer (name found by its length prefix).
static uint8_t* tensor_offset_field(uint8_t* buf, size_t n, const char* name) {
    size_t len = strlen(name);
    for (size_t p = 0; p + 8 + len <= n; p++) {
        uint64_t l;
        memcpy(&l, buf + p, 8);
        if (l != len || memcmp(buf + p + 8, name, len) != 0) continue;
        uint32_t n_dims;
        memcpy(&n_dims, buf + p + 8 + len, 4);
        if (n_dims < 1 || n_dims > 4) continue;
        return buf + p + 8 + len + 4 + 8 * n_dims + 4;
    }
    fail_msg("tensor %s not found", name);
    return NULL;
}

// Zero-size tensors placed (by another writer) at the offset of, or inside, a non-empty
// tensor listed before them: still no overlap. The sort is stable in glibc, so the
// non-empty tensor comes first at equal offsets: the check must skip empty ranges.
static void test_gguf_tensors_zero_size_inside_other(void** state) {
    (void)state;
    static const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_add_tensor(&w, "a", GGML_TYPE_F32, 1, (const int64_t[]){8}, x, 0);
    gguf_writer_add_tensor(&w, "e1", GGML_TYPE_F32, 1, (const int64_t[]){0}, NULL, 0);
    gguf_writer_add_tensor(&w, "e2", GGML_TYPE_F16, 2, (const int64_t[]){0, 9}, NULL, 0);
    gguf_writer_add_tensor(&w, "b", GGML_TYPE_F32, 1, (const int64_t[]){8}, x, 0);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    const uint64_t zero = 0; // e1 and e2 at a's offset, after it in the file
    memcpy(tensor_offset_field(buf, n, "e1"), &zero, 8);
    memcpy(tensor_offset_field(buf, n, "e2"), &zero, 8);
    struct Gguf g;
    parse_ok(&g, buf, n);
    assert_int_equal(gguf_find_tensor(&g, "e1")->offset, 0);
    assert_int_equal(g.n_tensors, 4);
    gguf_free(&g);
    // two non-empty tensors at the same offset still overlap
    memcpy(tensor_offset_field(buf, n, "b"), &zero, 8);
    struct Err e = {0};
    assert_int_equal(gguf_parse(&g, buf, n, &e), ERR_RANGE);
    assert_non_null(strstr(e.msg, "'a'"));
    assert_non_null(strstr(e.msg, "'b'"));
    free(buf);
}

// A v2 file has the same layout as v3 (64-bit counts): patch the version and parse.
static void test_gguf_version2_accepted(void** state) {
    (void)state;
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_u32(&w, "x", 1);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    buf[4] = 2;
    struct Gguf g;
    parse_ok(&g, buf, n);
    assert_int_equal(g.version, 2);
    gguf_free(&g);
    free(buf);
}

// ---------------------------------------------------------------------------------------
// set_kv re-encoding

// A file with every kind of value and tensors, alignment 64.
static uint8_t* build_everything(size_t* n) {
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_str(&w, "general.architecture", "llama");
    gguf_writer_set_u32(&w, "general.alignment", 64);
    gguf_writer_set_u8(&w, "a.u8", 9);
    gguf_writer_set_i8(&w, "a.i8", -9);
    gguf_writer_set_u16(&w, "a.u16", 999);
    gguf_writer_set_i16(&w, "a.i16", -999);
    gguf_writer_set_i32(&w, "a.i32", -99999);
    gguf_writer_set_u64(&w, "a.u64", 1ull << 40);
    gguf_writer_set_i64(&w, "a.i64", -(1ll << 40));
    gguf_writer_set_f32(&w, "a.f32", 1e-5f);
    gguf_writer_set_f64(&w, "a.f64", -1e-300);
    gguf_writer_set_bool(&w, "a.bool", true);
    gguf_writer_set_strn(&w, "a.str", "s\0t", 3);
    const float fa[] = {0.25f, -8};
    gguf_writer_set_arr(&w, "a.arr.f32", GGUF_TYPE_FLOAT32, fa, 2);
    const char* sa[] = {"<s>", "</s>", ""};
    gguf_writer_set_arr_str(&w, "a.arr.str", sa, NULL, 3);
    const int32_t ia[] = {0, 2, 0, 2};
    struct GgufValue inner[2] = {
        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_INT32, 4, (const uint8_t*)ia, NULL}},
        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_BOOL, 0, NULL, NULL}},
    };
    struct GgufKv kv = {"a.arr.arr",
                        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_ARRAY, 2, NULL, inner}}};
    gguf_writer_set_kv(&w, &kv);
    static uint8_t data[1024];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    gguf_writer_add_tensor(&w, "w1", GGML_TYPE_F32, 2, (const int64_t[]){4, 3}, data, 0);
    gguf_writer_add_tensor(&w, "w2", GGML_TYPE_Q8_0, 1, (const int64_t[]){32}, data + 48, 0);
    gguf_writer_add_tensor(&w, "w3", GGML_TYPE_F16, 3, (const int64_t[]){1, 1, 5}, data + 9, 0);
    return encode(&w, n);
}

// Copies every kv and tensor of g into a new writer and encodes it.
static uint8_t* reencode(const struct Gguf* g, size_t* n) {
    struct GgufWriter w;
    gguf_writer_init(&w);
    for (int64_t i = 0; i < g->n_kv; i++)
        gguf_writer_set_kv(&w, &g->kv[i]);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct GgufTensor* t = &g->tensors[i];
        gguf_writer_add_tensor(&w, t->name, t->type, t->n_dims, t->ne, t->data, 0);
    }
    return encode(&w, n);
}

static void test_gguf_set_kv_reproduces_file(void** state) {
    (void)state;
    size_t n, n2;
    uint8_t* buf = build_everything(&n);
    struct Gguf g;
    parse_ok(&g, buf, n);
    assert_int_equal(g.alignment, 64);
    uint8_t* buf2 = reencode(&g, &n2);
    assert_int_equal(n2, n);
    assert_memory_equal(buf2, buf, n);
    gguf_free(&g);
    free(buf2);
    free(buf);
}

// The files in ../shared were written by llama.cpp's gguf-py / gguf.cpp. Re-encoding one
// reproduces it byte for byte, except for trailing zero padding: llama.cpp pads after the
// last tensor (we do not), and vocab-only files end before the padded data section (we pad).
static void reencode_real(const char* rel) {
    char path[512];
    if (!shared_path(path, sizeof(path), rel)) return;
    struct Gguf g;
    struct Err e = {0};
    int rc = gguf_open(&g, path, &e);
    if (rc) print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
    size_t n;
    uint8_t* buf = reencode(&g, &n);
    size_t m = n < g.size ? n : g.size;
    if (memcmp(buf, g.bytes, m) != 0) fail_msg("%s: re-encoded bytes differ", rel);
    const uint8_t* longer = n > g.size ? buf : g.bytes;
    size_t extra = n > g.size ? n - g.size : g.size - n;
    assert_true(extra < g.alignment);
    for (size_t i = 0; i < extra; i++)
        assert_int_equal(longer[m + i], 0);
    free(buf);
    gguf_free(&g);
}

static void test_gguf_set_kv_reproduces_real_files(void** state) {
    (void)state;
    static const char* const files[] = {
        "models/stories260K.gguf",
        "models/stories260K-q4_0.gguf",
        "models/stories260K-q8_0.gguf",
        "models/tiny-rwkv7-834K-q5_0.gguf",
        "models/llamacpp-archs/llama-dense-q2_k.gguf",
        "models/llamacpp-archs/llama-dense-iq4_nl.gguf",
        "gguf/jamba-f32.gguf",
        "gguf/mamba2-f32.gguf",
        "vocab/ggml-vocab-llama-spm.gguf",
        "vocab/ggml-vocab-gpt-2.gguf",
    };
    size_t nf = quick_mode() ? 3 : sizeof(files) / sizeof(files[0]);
    for (size_t i = 0; i < nf; i++)
        reencode_real(files[i]);
}

// ---------------------------------------------------------------------------------------
// write_file

static void test_gguf_write_file_ok(void** state) {
    (void)state;
    char path[256];
    snprintf(path, sizeof(path), "%s/ok.gguf", g_tmpdir);
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_str(&w, "general.name", "ok");
    const float x[4] = {1, 2, 3, 4};
    gguf_writer_add_tensor(&w, "x", GGML_TYPE_F32, 1, (const int64_t[]){4}, x, 0);
    struct Err e = {0};
    int rc = gguf_writer_write_file(&w, path, &e);
    if (rc) print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
    gguf_writer_free(&w);
    assert_int_equal(tmpdir_count(), 1); // no .tmp next to it
    struct Gguf g;
    assert_int_equal(gguf_open(&g, path, &e), 0);
    assert_non_null(g.map);
    assert_memory_equal(gguf_find_tensor(&g, "x")->data, x, sizeof(x));
    gguf_free(&g);
    unlink(path);
}

static void test_gguf_write_file_missing_dir(void** state) {
    (void)state;
    char path[256];
    snprintf(path, sizeof(path), "%s/no/such/dir/x.gguf", g_tmpdir);
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_u8(&w, "k", 1);
    struct Err e = {0};
    assert_int_equal(gguf_writer_write_file(&w, path, &e), ERR_IO);
    assert_int_equal(e.code, ERR_IO);
    assert_non_null(strstr(e.msg, "x.gguf"));
    gguf_writer_free(&w);
    assert_int_equal(tmpdir_count(), 0);
}

// A writer that failed (duplicate key) writes nothing, and an older file at the path stays.
static void test_gguf_write_file_failed_writer(void** state) {
    (void)state;
    char path[256], tmp[300];
    snprintf(path, sizeof(path), "%s/dup.gguf", g_tmpdir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_u8(&w, "k", 1);
    gguf_writer_set_u8(&w, "k", 2);
    struct Err e = {0};
    assert_int_equal(gguf_writer_write_file(&w, path, &e), ERR_DUPLICATE);
    assert_non_null(strstr(e.msg, "'k'"));
    assert_false(file_exists(path));
    assert_false(file_exists(tmp));
    // write_mem refuses too, and allocates nothing
    uint8_t* out = NULL;
    size_t n = 0;
    assert_int_equal(gguf_writer_write_mem(&w, &out, &n, &e), ERR_DUPLICATE);
    assert_null(out);
    gguf_writer_free(&w);

    FILE* f = fopen(path, "wb");
    assert_non_null(f);
    fputs("old", f);
    fclose(f);
    gguf_writer_init(&w);
    static const uint8_t d[32];
    gguf_writer_add_tensor(&w, "t", GGML_TYPE_Q4_0, 1, (const int64_t[]){31}, d, 0);
    assert_int_equal(gguf_writer_write_file(&w, path, &e), ERR_FORMAT);
    gguf_writer_free(&w);
    size_t sz = 0;
    uint8_t* old = read_file(path, &sz);
    assert_non_null(old);
    assert_int_equal(sz, 3);
    free(old);
    assert_false(file_exists(tmp));
    unlink(path);
}

// rename() onto a directory fails after the .tmp was written: the .tmp must go.
static void test_gguf_write_file_onto_directory(void** state) {
    (void)state;
    char path[256];
    snprintf(path, sizeof(path), "%s/adir", g_tmpdir);
    assert_int_equal(mkdir(path, 0700), 0);
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_u8(&w, "k", 1);
    struct Err e = {0};
    assert_int_equal(gguf_writer_write_file(&w, path, &e), ERR_IO);
    gguf_writer_free(&w);
    assert_int_equal(tmpdir_count(), 1); // only the directory
    rmdir(path);
}

// ---------------------------------------------------------------------------------------
// writer refusals: the first failure sticks and is reported by the write

static void expect_writer_fails(struct GgufWriter* w, int code, const char* needle) {
    struct Err e = {0};
    uint8_t* out = NULL;
    size_t n;
    int rc = gguf_writer_write_mem(w, &out, &n, &e);
    if (rc != code) print_message("got %s (%s), want %s\n", err_name(rc), e.msg, err_name(code));
    assert_int_equal(rc, code);
    assert_null(out);
    if (needle && !strstr(e.msg, needle)) fail_msg("message '%s' lacks '%s'", e.msg, needle);
    gguf_writer_free(w);
}

static void test_gguf_writer_refusals(void** state) {
    (void)state;
    static const uint8_t d[4096];
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_u8(&w, "", 1);
    expect_writer_fails(&w, ERR_FORMAT, NULL);

    gguf_writer_init(&w);
    gguf_writer_set_u32(&w, "general.alignment", 48);
    expect_writer_fails(&w, ERR_ALIGN, "general.alignment");

    gguf_writer_init(&w);
    gguf_writer_set_u32(&w, "general.alignment", 0);
    expect_writer_fails(&w, ERR_ALIGN, NULL);

    gguf_writer_init(&w);
    gguf_writer_add_tensor(&w, "t", GGML_TYPE_F32, 1, (const int64_t[]){1}, d, 0);
    gguf_writer_add_tensor(&w, "t", GGML_TYPE_F32, 1, (const int64_t[]){1}, d, 0);
    expect_writer_fails(&w, ERR_DUPLICATE, "'t'");

    gguf_writer_init(&w);
    gguf_writer_add_tensor(&w, "five", GGML_TYPE_F32, 5, (const int64_t[]){1, 1, 1, 1, 1}, d, 0);
    expect_writer_fails(&w, ERR_FORMAT, "five");

    gguf_writer_init(&w);
    gguf_writer_add_tensor(&w, "zero", GGML_TYPE_F32, 0, (const int64_t[]){1}, d, 0);
    expect_writer_fails(&w, ERR_FORMAT, "zero");

    gguf_writer_init(&w);
    gguf_writer_add_tensor(&w, "retired", (enum GgmlType)4, 1, (const int64_t[]){32}, d, 0);
    expect_writer_fails(&w, ERR_TYPE, "retired");

    gguf_writer_init(&w);
    gguf_writer_add_tensor(&w, "neg", GGML_TYPE_F32, 2, (const int64_t[]){4, -1}, d, 0);
    expect_writer_fails(&w, ERR_OVERFLOW, "neg");

    gguf_writer_init(&w);
    gguf_writer_add_tensor(&w, "big", GGML_TYPE_F32, 2, (const int64_t[]){1ll << 40, 1ll << 40}, d,
                           0);
    expect_writer_fails(&w, ERR_OVERFLOW, "big");

    gguf_writer_init(&w);
    gguf_writer_add_tensor(&w, "rows", GGML_TYPE_Q6_K, 1, (const int64_t[]){255}, d, 0);
    expect_writer_fails(&w, ERR_FORMAT, "rows");

    gguf_writer_init(&w);
    gguf_writer_add_tensor(&w, "", GGML_TYPE_F32, 1, (const int64_t[]){1}, d, 0);
    expect_writer_fails(&w, ERR_FORMAT, NULL);

    // the first error wins; later calls are ignored
    gguf_writer_init(&w);
    gguf_writer_set_u8(&w, "a", 1);
    gguf_writer_set_u8(&w, "a", 1);
    gguf_writer_set_u32(&w, "general.alignment", 3);
    gguf_writer_add_tensor(&w, "x", GGML_TYPE_F32, 9, (const int64_t[]){1}, d, 0);
    expect_writer_fails(&w, ERR_DUPLICATE, "'a'");

    // a control byte in a name does not break the one-line message
    gguf_writer_init(&w);
    gguf_writer_set_u8(&w, "a\nb", 1);
    gguf_writer_set_u8(&w, "a\nb", 1);
    struct Err e = {0};
    uint8_t* out = NULL;
    size_t n;
    assert_int_equal(gguf_writer_write_mem(&w, &out, &n, &e), ERR_DUPLICATE);
    assert_null(strchr(e.msg, '\n'));
    gguf_writer_free(&w);

    gguf_writer_free(NULL);
}

// ---------------------------------------------------------------------------------------
// getters

static void test_gguf_getters_types(void** state) {
    (void)state;
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_f32(&w, "f", 1.5f);
    gguf_writer_set_f64(&w, "d", -2.5);
    gguf_writer_set_i32(&w, "neg", -5);
    gguf_writer_set_i8(&w, "i8pos", 7);
    gguf_writer_set_u16(&w, "u16", 700);
    gguf_writer_set_u64(&w, "big", UINT64_MAX);
    gguf_writer_set_i64(&w, "i64min", INT64_MIN);
    gguf_writer_set_bool(&w, "b", true);
    gguf_writer_set_str(&w, "s", "text");
    const uint32_t arr[2] = {1, 2};
    gguf_writer_set_arr(&w, "a", GGUF_TYPE_UINT32, arr, 2);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    struct Gguf g;
    parse_ok(&g, buf, n);
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    struct GgufStr s;
    const struct GgufArr* a;
    struct Err e = {0};

    // get_int: integers and bool; floats and others are ERR_TYPE naming the key
    assert_int_equal(gguf_get_int(&g, "f", &i, &e), ERR_TYPE);
    assert_int_equal(e.code, ERR_TYPE);
    assert_non_null(strstr(e.msg, "'f'"));
    assert_int_equal(gguf_get_int(&g, "d", &i, &e), ERR_TYPE);
    assert_int_equal(gguf_get_int(&g, "s", &i, &e), ERR_TYPE);
    assert_int_equal(gguf_get_int(&g, "a", &i, &e), ERR_TYPE);
    assert_int_equal(gguf_get_int(&g, "neg", &i, &e), 0);
    assert_true(i == -5);
    assert_int_equal(gguf_get_int(&g, "u16", &i, &e), 0);
    assert_true(i == 700);
    assert_int_equal(gguf_get_int(&g, "i64min", &i, &e), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(gguf_get_int(&g, "b", &i, &e), 0);
    assert_true(i == 1);
    assert_int_equal(gguf_get_int(&g, "big", &i, &e), ERR_TYPE); // does not fit int64
    assert_non_null(strstr(e.msg, "'big'"));

    // get_uint: refuses negatives
    assert_int_equal(gguf_get_uint(&g, "neg", &u, &e), ERR_TYPE);
    assert_non_null(strstr(e.msg, "'neg'"));
    assert_int_equal(gguf_get_uint(&g, "i64min", &u, &e), ERR_TYPE);
    assert_int_equal(gguf_get_uint(&g, "f", &u, &e), ERR_TYPE);
    assert_int_equal(gguf_get_uint(&g, "i8pos", &u, &e), 0);
    assert_true(u == 7);
    assert_int_equal(gguf_get_uint(&g, "big", &u, &e), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(gguf_get_uint(&g, "b", &u, &e), 0);
    assert_true(u == 1);

    // get_float: any integer or float
    assert_int_equal(gguf_get_float(&g, "f", &f, &e), 0);
    assert_true(f == 1.5);
    assert_int_equal(gguf_get_float(&g, "d", &f, &e), 0);
    assert_true(f == -2.5);
    assert_int_equal(gguf_get_float(&g, "neg", &f, &e), 0);
    assert_true(f == -5.0);
    assert_int_equal(gguf_get_float(&g, "big", &f, &e), 0);
    assert_true(f == 18446744073709551615.0);
    assert_int_equal(gguf_get_float(&g, "s", &f, &e), ERR_TYPE);
    assert_int_equal(gguf_get_float(&g, "a", &f, &e), ERR_TYPE);

    // get_bool, get_str, get_arr: exactly their type
    assert_int_equal(gguf_get_bool(&g, "b", &b, &e), 0);
    assert_true(b);
    assert_int_equal(gguf_get_bool(&g, "i8pos", &b, &e), ERR_TYPE);
    assert_int_equal(gguf_get_str(&g, "s", &s, &e), 0);
    assert_int_equal(s.len, 4);
    assert_string_equal(s.s, "text");
    assert_int_equal(gguf_get_str(&g, "a", &s, &e), ERR_TYPE);
    assert_int_equal(gguf_get_arr(&g, "a", &a, &e), 0);
    assert_int_equal(a->n, 2);
    assert_int_equal(gguf_get_arr(&g, "s", &a, &e), ERR_TYPE);
    assert_non_null(strstr(e.msg, "'s'"));
    // e may be NULL
    assert_int_equal(gguf_get_int(&g, "f", &i, NULL), ERR_TYPE);
    gguf_free(&g);
    free(buf);
}

static void test_gguf_getters_missing(void** state) {
    (void)state;
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_u8(&w, "present", 1);
    size_t n;
    uint8_t* buf = encode(&w, &n);
    struct Gguf g;
    parse_ok(&g, buf, n);
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    struct GgufStr s;
    const struct GgufArr* a;
    struct Err e = {0};
    assert_int_equal(gguf_get_int(&g, "absent.key", &i, &e), ERR_NOT_FOUND);
    assert_int_equal(e.code, ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "absent.key"));
    assert_int_equal(gguf_get_uint(&g, "absent", &u, &e), ERR_NOT_FOUND);
    assert_int_equal(gguf_get_float(&g, "absent", &f, &e), ERR_NOT_FOUND);
    assert_int_equal(gguf_get_bool(&g, "absent", &b, &e), ERR_NOT_FOUND);
    assert_int_equal(gguf_get_str(&g, "absent", &s, &e), ERR_NOT_FOUND);
    assert_int_equal(gguf_get_arr(&g, "absent", &a, &e), ERR_NOT_FOUND);
    assert_int_equal(gguf_get_int(&g, "absent", &i, NULL), ERR_NOT_FOUND);
    assert_int_equal(gguf_get_int(&g, "presen", &i, NULL), ERR_NOT_FOUND); // no prefix match
    assert_null(gguf_find_key(&g, "absent"));
    gguf_free(&g);
    free(buf);
}

static void test_gguf_type_names_and_sizes(void** state) {
    (void)state;
    static const size_t sizes[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    for (int t = 0; t < GGUF_TYPE_COUNT; t++)
        assert_int_equal(gguf_type_size((enum GgufValueType)t), sizes[t]);
    assert_int_equal(gguf_type_size(GGUF_TYPE_COUNT), 0);
    assert_string_equal(gguf_type_name(GGUF_TYPE_UINT32), "u32");
    assert_string_equal(gguf_type_name(GGUF_TYPE_STRING), "str");
    assert_string_equal(gguf_type_name(GGUF_TYPE_ARRAY), "arr");
    assert_string_equal(gguf_type_name((enum GgufValueType)99), "?");
}

// ---------------------------------------------------------------------------------------
// gguf_open and gguf_free

static void test_gguf_open_errors(void** state) {
    (void)state;
    struct Gguf g;
    struct Err e = {0};
    char path[256];
    snprintf(path, sizeof(path), "%s/missing.gguf", g_tmpdir);
    assert_int_equal(gguf_open(&g, path, &e), ERR_IO);
    assert_non_null(strstr(e.msg, "missing.gguf"));
    assert_int_equal(gguf_open(&g, g_tmpdir, &e), ERR_IO); // a directory
    // an empty file and a non-GGUF file: ERR_MAGIC, with the path in front
    snprintf(path, sizeof(path), "%s/empty.gguf", g_tmpdir);
    FILE* f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(gguf_open(&g, path, &e), ERR_MAGIC);
    assert_non_null(strstr(e.msg, "empty.gguf"));
    f = fopen(path, "wb");
    fputs("GGML this is not a gguf file at all", f);
    fclose(f);
    assert_int_equal(gguf_open(&g, path, &e), ERR_MAGIC);
    assert_int_equal(strncmp(e.msg, path, strlen(path)), 0);
    assert_null(g.map);
    unlink(path);
    // free is safe on zeroed, failed and already-freed structs
    struct Gguf z = {0};
    gguf_free(&z);
    gguf_free(&g);
    gguf_free(NULL);
}

// ---------------------------------------------------------------------------------------
// every real file in ../shared

// Opens rel, walks every kv and tensor, checks the structural invariants; returns 0 or
// 1 when the file is absent (the caller then skips its spot checks).
static int open_real(struct Gguf* g, const char* rel) {
    char path[512];
    if (!shared_path(path, sizeof(path), rel)) return 1;
    struct Err e = {0};
    int rc = gguf_open(g, path, &e);
    if (rc) print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_true(g->version == 2 || g->version == 3);
    assert_int_equal(g->data_offset % g->alignment, 0);
    for (int64_t i = 0; i < g->n_kv; i++) {
        assert_ptr_equal(gguf_find_key(g, g->kv[i].key), &g->kv[i]);
        (void)walk_value(&g->kv[i].val);
    }
    const uint8_t* end = g->bytes + g->size;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct GgufTensor* t = &g->tensors[i];
        const struct QuantTraits* tr = quant_traits(t->type);
        assert_non_null(tr);
        assert_int_equal(t->offset % g->alignment, 0);
        assert_true((const uint8_t*)t->data + t->nbytes <= end);
        assert_int_equal(t->nbytes,
                         (size_t)(t->n_elements / tr->block_size) * (size_t)tr->type_size);
        if (t->nbytes) {
            volatile uint8_t x = ((const uint8_t*)t->data)[t->nbytes - 1];
            (void)x;
        }
    }
    return 0;
}

static void parse_dir(const char* rel, int* count) {
    char dir[512];
    if (!shared_path(dir, sizeof(dir), rel)) return;
    DIR* d = opendir(dir);
    assert_non_null(d);
    struct dirent* de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 5, ".gguf") != 0) continue;
        // the 7.8 MB llama-bpe vocab takes seconds under valgrind: once is enough elsewhere
        if (quick_mode() && strstr(de->d_name, "llama-bpe")) continue;
        char rel2[512];
        snprintf(rel2, sizeof(rel2), "%s/%s", rel, de->d_name);
        struct Gguf g;
        if (open_real(&g, rel2) == 0) {
            gguf_free(&g);
            (*count)++;
        }
    }
    closedir(d);
}

static void test_gguf_real_files_all_parse(void** state) {
    (void)state;
    int count = 0;
    parse_dir("models", &count);
    parse_dir("models/llamacpp-archs", &count);
    parse_dir("gguf", &count);
    parse_dir("vocab", &count);
    print_message("parsed %d real GGUF files\n", count);
}

static void test_gguf_real_stories260k(void** state) {
    (void)state;
    struct Gguf g;
    if (open_real(&g, "models/stories260K.gguf")) return;
    // From an independent python struct reader: v3, 48 tensors, 19 kvs, header ends at
    // 14152 so the data starts at 14176; token_embd.weight F32 {64, 512} at offset 0.
    assert_int_equal(g.version, 3);
    assert_int_equal(g.n_tensors, 48);
    assert_int_equal(g.n_kv, 19);
    assert_int_equal(g.data_offset, 14176);
    assert_int_equal(g.size, 1185376);
    int64_t v;
    assert_int_equal(gguf_get_int(&g, "llama.block_count", &v, NULL), 0);
    assert_true(v == 5);
    assert_int_equal(gguf_get_int(&g, "llama.embedding_length", &v, NULL), 0);
    assert_true(v == 64);
    assert_int_equal(gguf_get_int(&g, "llama.attention.head_count", &v, NULL), 0);
    assert_true(v == 8);
    assert_int_equal(gguf_get_int(&g, "llama.attention.head_count_kv", &v, NULL), 0);
    assert_true(v == 4);
    assert_int_equal(gguf_get_int(&g, "llama.feed_forward_length", &v, NULL), 0);
    assert_true(v == 172);
    uint64_t u;
    assert_int_equal(gguf_get_uint(&g, "tokenizer.ggml.seperator_token_id", &u, NULL), 0);
    assert_true(u == 4294967295u);
    double eps;
    assert_int_equal(gguf_get_float(&g, "llama.attention.layer_norm_rms_epsilon", &eps, NULL), 0);
    assert_true(eps == (double)1e-5f);
    struct GgufStr s;
    assert_int_equal(gguf_get_str(&g, "general.architecture", &s, NULL), 0);
    assert_string_equal(s.s, "llama");
    const struct GgufArr* a;
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.tokens", &a, NULL), 0);
    assert_int_equal(a->type, GGUF_TYPE_STRING);
    assert_int_equal(a->n, 512);
    assert_string_equal(gguf_arr_str(a, 0).s, "<unk>");
    assert_string_equal(gguf_arr_str(a, 2).s, "</s>");
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.token_type", &a, NULL), 0);
    assert_true(gguf_arr_int(a, 0) == 2 && gguf_arr_int(a, 1) == 3 && gguf_arr_int(a, 3) == 6);
    const struct GgufTensor* t = gguf_find_tensor(&g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->type, GGML_TYPE_F32);
    assert_int_equal(t->n_dims, 2);
    assert_true(t->ne[0] == 64 && t->ne[1] == 512 && t->ne[2] == 1 && t->ne[3] == 1);
    assert_int_equal(t->offset, 0);
    assert_int_equal(t->nbytes, 64 * 512 * 4);
    t = gguf_find_tensor(&g, "blk.4.ffn_up.weight");
    assert_non_null(t);
    assert_int_equal(t->offset, 1126912);
    assert_true(t->ne[0] == 64 && t->ne[1] == 172);
    t = gguf_find_tensor(&g, "output_norm.weight");
    assert_int_equal(t->n_dims, 1);
    assert_int_equal(t->offset, 131072);
    gguf_free(&g);
}

static void test_gguf_real_stories260k_quantized(void** state) {
    (void)state;
    static const struct {
        const char* rel;
        enum GgmlType embd;
        size_t size;
    } files[] = {
        {"models/stories260K-q4_0.gguf", GGML_TYPE_Q4_0, 277024},
        {"models/stories260K-q8_0.gguf", GGML_TYPE_Q8_0, 379168},
    };
    for (int i = 0; i < 2; i++) {
        struct Gguf g;
        if (open_real(&g, files[i].rel)) continue;
        assert_int_equal(g.n_tensors, 48);
        assert_int_equal(g.n_kv, 21);
        assert_int_equal(g.size, files[i].size);
        const struct GgufTensor* t = gguf_find_tensor(&g, "output.weight");
        assert_int_equal(t->type, GGML_TYPE_Q8_0); // llama.cpp keeps output at q8_0
        assert_int_equal(t->offset, 0);
        assert_int_equal(t->nbytes, 512 * 2 * 34);
        t = gguf_find_tensor(&g, "token_embd.weight");
        assert_int_equal(t->type, files[i].embd);
        assert_int_equal(t->offset, 35072);
        assert_int_equal(gguf_find_tensor(&g, "output_norm.weight")->type, GGML_TYPE_F32);
        gguf_free(&g);
    }
}

static void test_gguf_real_jamba(void** state) {
    (void)state;
    struct Gguf g;
    if (open_real(&g, "gguf/jamba-f32.gguf")) return;
    assert_int_equal(g.n_tensors, 57);
    assert_int_equal(g.n_kv, 23);
    const struct GgufArr* a;
    assert_int_equal(gguf_get_arr(&g, "jamba.attention.head_count_kv", &a, NULL), 0);
    assert_int_equal(a->type, GGUF_TYPE_INT32);
    assert_int_equal(a->n, 4);
    const int64_t want[4] = {0, 2, 0, 2};
    for (uint64_t i = 0; i < 4; i++)
        assert_true(gguf_arr_int(a, i) == want[i]);
    int64_t v;
    assert_int_equal(gguf_get_int(&g, "jamba.expert_count", &v, NULL), 0);
    assert_true(v == 4);
    assert_int_equal(gguf_get_int(&g, "jamba.ssm.state_size", &v, NULL), 0);
    assert_true(v == 16);
    assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.tokens", &a, NULL), 0);
    assert_int_equal(a->n, 256);
    assert_string_equal(gguf_arr_str(a, 1).s, "tok_1");
    const struct GgufTensor* t = gguf_find_tensor(&g, "output.weight");
    assert_int_equal(t->offset, 1420864);
    assert_int_equal(g.data_offset + t->offset + t->nbytes, g.size);
    gguf_free(&g);
}

static void test_gguf_real_rwkv7(void** state) {
    (void)state;
    static const char* const files[] = {
        "models/tiny-rwkv7-834K-f32.gguf", "models/tiny-rwkv7-834K-fp16.gguf",
        "models/tiny-rwkv7-834K-q5_0.gguf", "models/tiny-rwkv7-834K-q5_1.gguf"};
    static const enum GgmlType ffn[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_Q5_0,
                                        GGML_TYPE_Q5_1};
    for (int i = 0; i < 4; i++) {
        struct Gguf g;
        if (open_real(&g, files[i])) continue;
        assert_int_equal(g.n_tensors, 342);
        assert_int_equal(g.n_kv, 17);
        assert_int_equal(g.data_offset, 26080); // header ends at 26053
        int64_t v;
        assert_int_equal(gguf_get_int(&g, "rwkv7.block_count", &v, NULL), 0);
        assert_true(v == 12);
        assert_int_equal(gguf_get_int(&g, "rwkv7.wkv.head_size", &v, NULL), 0);
        assert_true(v == 64);
        const struct GgufArr* a;
        assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.tokens", &a, NULL), 0);
        assert_int_equal(a->n, 256);
        const struct GgufTensor* t = gguf_find_tensor(&g, "blk.11.channel_mix_key.weight");
        assert_non_null(t);
        assert_int_equal(t->type, ffn[i]);
        assert_true(t->ne[0] == 64 && t->ne[1] == 256);
        t = gguf_find_tensor(&g, "token_embd.weight");
        assert_int_equal(t->offset, 0);
        gguf_free(&g);
    }
}

// Vocabulary-only files: no tensors, and the file ends right after the last kv, before the
// padded start of the (empty) data section. That is valid.
static void test_gguf_real_vocab(void** state) {
    (void)state;
    static const struct {
        const char* rel;
        int64_t n_kv, n_tokens;
        size_t size;
    } files[] = {
        {"vocab/ggml-vocab-llama-spm.gguf", 22, 32000, 723869},
        {"vocab/ggml-vocab-gpt-2.gguf", 16, 50257, 1766807},
        {"vocab/ggml-vocab-llama-bpe.gguf", 20, 128256, 7818140},
    };
    size_t nf = quick_mode() ? 2 : 3;
    for (size_t i = 0; i < nf; i++) {
        struct Gguf g;
        if (open_real(&g, files[i].rel)) continue;
        assert_int_equal(g.n_tensors, 0);
        assert_int_equal(g.n_kv, files[i].n_kv);
        assert_int_equal(g.size, files[i].size);
        assert_true(g.data_offset > g.size); // ends before the padded data section
        const struct GgufArr* a;
        assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.tokens", &a, NULL), 0);
        assert_true((int64_t)a->n == files[i].n_tokens);
        gguf_free(&g);
    }
    struct Gguf g;
    if (open_real(&g, "vocab/ggml-vocab-gpt-2.gguf") == 0) {
        const struct GgufArr* a;
        assert_int_equal(gguf_get_arr(&g, "tokenizer.ggml.merges", &a, NULL), 0);
        assert_int_equal(a->n, 50000);
        assert_string_equal(gguf_arr_str(a, 2).s, "h e");
        int64_t v;
        assert_int_equal(gguf_get_int(&g, "tokenizer.ggml.bos_token_id", &v, NULL), 0);
        assert_true(v == 50256);
        gguf_free(&g);
    }
}

static void test_gguf_real_llamacpp_archs(void** state) {
    (void)state;
    static const struct {
        const char* rel;
        enum GgmlType ffn_up;
    } files[] = {
        {"models/llamacpp-archs/llama-dense-q6_k.gguf", GGML_TYPE_Q6_K},
        {"models/llamacpp-archs/llama-dense-iq4_nl.gguf", GGML_TYPE_IQ4_NL},
    };
    for (int i = 0; i < 2; i++) {
        struct Gguf g;
        if (open_real(&g, files[i].rel)) continue;
        assert_int_equal(g.n_tensors, 64);
        assert_int_equal(g.n_kv, 152);
        const struct GgufTensor* t = gguf_find_tensor(&g, "blk.1.ffn_up.weight");
        assert_int_equal(t->type, files[i].ffn_up);
        assert_true(t->ne[0] == 256 && t->ne[1] == 384);
        t = gguf_find_tensor(&g, "output.weight");
        assert_int_equal(t->type, GGML_TYPE_Q6_K);
        assert_int_equal(t->nbytes, 128 * 210); // 256 per row = one 210-byte Q6_K block
        const struct GgufArr* a;
        assert_int_equal(gguf_get_arr(&g, "llama.deepstack_mapping", &a, NULL), 0);
        assert_int_equal(a->n, 512);
        assert_true(gguf_arr_int(a, 0) == -1);
        gguf_free(&g);
    }
}

// ---------------------------------------------------------------------------------------
// fuzz regressions: every file in tests/data/gguf parses or fails cleanly

static void test_gguf_fuzz_regressions(void** state) {
    (void)state;
    DIR* d = opendir("tests/data/gguf");
    if (!d) {
        printf("SKIP: tests/data/gguf is absent (run from the repository root)\n");
        return;
    }
    struct dirent* de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof(path), "tests/data/gguf/%s", de->d_name);
        size_t size = 0;
        uint8_t* raw = read_file(path, &size);
        assert_non_null(raw);
        uint8_t* buf = malloc(size ? size : 1); // exact size for ASan
        memcpy(buf, raw, size);
        free(raw);
        struct Gguf g;
        struct Err e = {0};
        int rc = gguf_parse(&g, buf, size, &e);
        if (rc == 0) {
            for (int64_t i = 0; i < g.n_kv; i++)
                (void)walk_value(&g.kv[i].val);
            size_t n2;
            uint8_t* again = reencode(&g, &n2);
            struct Gguf h;
            parse_ok(&h, again, n2);
            gguf_free(&h);
            free(again);
            gguf_free(&g);
        } else {
            assert_int_equal(e.code, rc);
            assert_true(e.msg[0] != 0);
            for (const char* c = e.msg; *c; c++)
                if ((unsigned char)*c < 0x20) fail_msg("%s: control byte in message", path);
        }
        free(buf);
        n++;
    }
    closedir(d);
    print_message("replayed %d fuzz regressions\n", n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf_scalars_roundtrip),
        cmocka_unit_test(test_gguf_writer_bytes_match_spec),
        cmocka_unit_test(test_gguf_string_embedded_nul),
        cmocka_unit_test(test_gguf_arrays_scalar_roundtrip),
        cmocka_unit_test(test_gguf_arrays_strings_roundtrip),
        cmocka_unit_test(test_gguf_arrays_nested_roundtrip),
        cmocka_unit_test(test_gguf_arrays_empty),
        cmocka_unit_test(test_gguf_tensors_roundtrip),
        cmocka_unit_test(test_gguf_alignment_variants),
        cmocka_unit_test(test_gguf_tensors_zero_size_shares_offset),
        cmocka_unit_test(test_gguf_tensors_zero_size_inside_other),
        cmocka_unit_test(test_gguf_version2_accepted),
        cmocka_unit_test(test_gguf_set_kv_reproduces_file),
        cmocka_unit_test(test_gguf_set_kv_reproduces_real_files),
        cmocka_unit_test(test_gguf_write_file_ok),
        cmocka_unit_test(test_gguf_write_file_missing_dir),
        cmocka_unit_test(test_gguf_write_file_failed_writer),
        cmocka_unit_test(test_gguf_write_file_onto_directory),
        cmocka_unit_test(test_gguf_writer_refusals),
        cmocka_unit_test(test_gguf_getters_types),
        cmocka_unit_test(test_gguf_getters_missing),
        cmocka_unit_test(test_gguf_type_names_and_sizes),
        cmocka_unit_test(test_gguf_open_errors),
        cmocka_unit_test(test_gguf_real_files_all_parse),
        cmocka_unit_test(test_gguf_real_stories260k),
        cmocka_unit_test(test_gguf_real_stories260k_quantized),
        cmocka_unit_test(test_gguf_real_jamba),
        cmocka_unit_test(test_gguf_real_rwkv7),
        cmocka_unit_test(test_gguf_real_vocab),
        cmocka_unit_test(test_gguf_real_llamacpp_archs),
        cmocka_unit_test(test_gguf_fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
