// test_gguf_corrupt.c: cmocka suite feeding gguf_parse broken files. A generator makes
// each `enum Corruption` once, by patching one field of a valid writer-made file (located
// by this file's own walker, not by the parser) or by writing raw bytes; each must fail
// with its own ERR_* code and a one-line message naming the key or tensor. Then every
// prefix of a valid file, and seeded random byte mutations, which must fail cleanly or
// parse into something walkable; ASan (make check) turns any bad read into a failure.
// Run: make build/asan/tests/test_gguf_corrupt && build/asan/tests/test_gguf_corrupt
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "gguf.h"

// ---------------------------------------------------------------------------------------
// the base file and its layout

enum { NKV = 6, NT = 3 };
static const char* const KEYS[NKV] = {
    "general.architecture", "general.alignment", "k.u32a", "k.u32b", "k.arr", "k.str"};
static const char* const TNAMES[NT] = {"t0", "t1", "t2"};

// Byte positions of every field, found by walk_layout from the spec (not by gguf_parse).
struct Layout {
    size_t kv_key_len[NKV], kv_key[NKV], kv_type[NKV], kv_val[NKV];
    size_t t_name_len[NT], t_name[NT], t_ndims[NT], t_ne[NT], t_type[NT], t_off[NT];
    size_t header_end;  // first byte after the tensor infos
    size_t data_offset; // header_end rounded up to 32
};

static uint64_t get_u64(const uint8_t* p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t get_u32(const uint8_t* p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void put_u64_at(uint8_t* p, uint64_t v) {
    memcpy(p, &v, 8);
}
static void put_u32_at(uint8_t* p, uint32_t v) {
    memcpy(p, &v, 4);
}

// Walks a file whose kvs are scalars, strings or arrays of scalars or strings.
static void walk_layout(const uint8_t* b, size_t n, int nkv, int nt, struct Layout* L) {
    static const size_t sz[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    size_t p = 24;
    for (int i = 0; i < nkv; i++) {
        L->kv_key_len[i] = p;
        L->kv_key[i] = p + 8;
        p += 8 + get_u64(b + p);
        L->kv_type[i] = p;
        uint32_t t = get_u32(b + p);
        p += 4;
        L->kv_val[i] = p;
        if (t == GGUF_TYPE_STRING) {
            p += 8 + get_u64(b + p);
        } else if (t == GGUF_TYPE_ARRAY) {
            uint32_t et = get_u32(b + p);
            uint64_t k = get_u64(b + p + 4);
            p += 12;
            assert_true(et < 13 && (sz[et] > 0 || et == GGUF_TYPE_STRING));
            if (et == GGUF_TYPE_STRING)
                for (uint64_t j = 0; j < k; j++)
                    p += 8 + get_u64(b + p);
            else
                p += k * sz[et];
        } else {
            p += sz[t];
        }
    }
    for (int i = 0; i < nt; i++) {
        L->t_name_len[i] = p;
        L->t_name[i] = p + 8;
        p += 8 + get_u64(b + p);
        L->t_ndims[i] = p;
        uint32_t nd = get_u32(b + p);
        p += 4;
        L->t_ne[i] = p;
        p += 8 * nd;
        L->t_type[i] = p;
        L->t_off[i] = p + 4;
        p += 12;
    }
    L->header_end = p;
    L->data_offset = (p + 31) / 32 * 32;
    assert_true(p <= n);
}

static uint8_t g_tdata[256];

// The valid base: six kvs (str, u32 alignment, u32, u32, i32 array, str) and three
// tensors: t0 F32 {8,2} (64 B at 0), t1 Q8_0 {32,2} (68 B at 64), t2 F16 {4} (8 B at 160).
static uint8_t* make_base(size_t* n, struct Layout* L) {
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_str(&w, KEYS[0], "llama");
    gguf_writer_set_u32(&w, KEYS[1], 32);
    gguf_writer_set_u32(&w, KEYS[2], 1);
    gguf_writer_set_u32(&w, KEYS[3], 2);
    const int32_t arr[3] = {1, 2, 3};
    gguf_writer_set_arr(&w, KEYS[4], GGUF_TYPE_INT32, arr, 3);
    gguf_writer_set_str(&w, KEYS[5], "value");
    for (size_t i = 0; i < sizeof(g_tdata); i++)
        g_tdata[i] = (uint8_t)(i * 13 + 5);
    gguf_writer_add_tensor(&w, TNAMES[0], GGML_TYPE_F32, 2, (const int64_t[]){8, 2}, g_tdata, 0);
    gguf_writer_add_tensor(&w, TNAMES[1], GGML_TYPE_Q8_0, 2, (const int64_t[]){32, 2}, g_tdata, 0);
    gguf_writer_add_tensor(&w, TNAMES[2], GGML_TYPE_F16, 1, (const int64_t[]){4}, g_tdata, 0);
    uint8_t* out = NULL;
    struct Err e = {0};
    assert_int_equal(gguf_writer_write_mem(&w, &out, n, &e), 0);
    gguf_writer_free(&w);
    walk_layout(out, *n, NKV, NT, L);
    assert_int_equal(*n, L->data_offset + 160 + 8); // the last tensor ends the file
    assert_int_equal(get_u64(out + L->t_off[1]), 64);
    assert_int_equal(get_u64(out + L->t_off[2]), 160);
    return out;
}

// A growable byte buffer for files written by hand.
struct Raw {
    uint8_t* b;
    size_t n, cap;
};

static void raw_put(struct Raw* r, const void* p, size_t k) {
    if (r->n + k > r->cap) {
        r->cap = (r->n + k) * 2 + 64;
        r->b = realloc(r->b, r->cap);
        assert_non_null(r->b);
    }
    if (k) memcpy(r->b + r->n, p, k);
    r->n += k;
}
static void raw_u32(struct Raw* r, uint32_t v) {
    raw_put(r, &v, 4);
}
static void raw_u64(struct Raw* r, uint64_t v) {
    raw_put(r, &v, 8);
}
static void raw_str(struct Raw* r, const char* s, uint64_t len) {
    raw_u64(r, len);
    raw_put(r, s, (size_t)len);
}
static void raw_header(struct Raw* r, uint64_t n_tensors, uint64_t n_kv) {
    raw_put(r, "GGUF", 4);
    raw_u32(r, 3);
    raw_u64(r, n_tensors);
    raw_u64(r, n_kv);
}

// An array nested `depth` levels deep (depth 1: an array of one u8).
static void raw_nested(struct Raw* r, int depth) {
    for (int d = 1; d < depth; d++) {
        raw_u32(r, GGUF_TYPE_ARRAY);
        raw_u64(r, 1);
    }
    raw_u32(r, GGUF_TYPE_UINT8);
    raw_u64(r, 1);
    raw_put(r, "\x07", 1);
}

// ---------------------------------------------------------------------------------------
// the corruptions

enum Corruption {
    EMPTY_FILE,
    SHORT_MAGIC,
    BAD_MAGIC,
    BAD_VERSION_1,
    BAD_VERSION_4,
    BAD_VERSION_BE,
    TRUNCATED_VERSION,
    HUGE_N_KV,
    HUGE_N_TENSORS,
    KEY_PAST_END,
    STRING_PAST_END,
    HUGE_STRING_LEN,
    EMPTY_KEY,
    KEY_WITH_NUL,
    DUP_KEY,
    DUP_TENSOR,
    BAD_VALUE_TYPE,
    BAD_VALUE_TYPE_MAX,
    BAD_ARRAY_TYPE,
    HUGE_ARRAY_LEN,
    HUGE_STRING_ARRAY_LEN,
    HUGE_NESTED_ARRAY_LEN,
    DEEP_NESTING,
    BAD_ALIGN_0,
    BAD_ALIGN_3,
    BAD_ALIGN_TYPE,
    TOO_MANY_DIMS,
    ZERO_DIMS,
    NEG_DIM,
    NE_OVERFLOW,
    NBYTES_OVERFLOW,
    BAD_TYPE,
    BAD_TYPE_RETIRED,
    BAD_TYPE_MAX,
    ROW_NOT_BLOCK_MULTIPLE,
    EMPTY_TENSOR_NAME,
    TENSOR_NAME_WITH_NUL,
    TENSOR_INFO_TRUNCATED,
    MISALIGNED_OFFSET,
    OFFSET_PAST_END,
    OFFSET_HUGE,
    OVERLAP,
    NO_DATA_SECTION,
    TRUNCATED_DATA,
    CORRUPTION_COUNT
};

struct Expect {
    const char* name;
    int code;
    const char* needle; // the message must contain it (the key or tensor at fault)
};

static const struct Expect EXPECT[CORRUPTION_COUNT] = {
    [EMPTY_FILE] = {"EMPTY_FILE", ERR_MAGIC, "not a GGUF"},
    [SHORT_MAGIC] = {"SHORT_MAGIC", ERR_MAGIC, "not a GGUF"},
    [BAD_MAGIC] = {"BAD_MAGIC", ERR_MAGIC, "magic"},
    [BAD_VERSION_1] = {"BAD_VERSION_1", ERR_VERSION, "version 1"},
    [BAD_VERSION_4] = {"BAD_VERSION_4", ERR_VERSION, "version 4"},
    [BAD_VERSION_BE] = {"BAD_VERSION_BE", ERR_VERSION, "big-endian"},
    [TRUNCATED_VERSION] = {"TRUNCATED_VERSION", ERR_TRUNCATED, "version"},
    [HUGE_N_KV] = {"HUGE_N_KV", ERR_TRUNCATED, "keys"},
    [HUGE_N_TENSORS] = {"HUGE_N_TENSORS", ERR_TRUNCATED, "tensors"},
    [KEY_PAST_END] = {"KEY_PAST_END", ERR_TRUNCATED, "key"},
    [STRING_PAST_END] = {"STRING_PAST_END", ERR_TRUNCATED, "'k.str'"},
    [HUGE_STRING_LEN] = {"HUGE_STRING_LEN", ERR_TRUNCATED, "'general.architecture'"},
    [EMPTY_KEY] = {"EMPTY_KEY", ERR_FORMAT, "key 1"},
    [KEY_WITH_NUL] = {"KEY_WITH_NUL", ERR_FORMAT, "key 0"},
    [DUP_KEY] = {"DUP_KEY", ERR_DUPLICATE, "'k.u32a'"},
    [DUP_TENSOR] = {"DUP_TENSOR", ERR_DUPLICATE, "'t0'"},
    [BAD_VALUE_TYPE] = {"BAD_VALUE_TYPE", ERR_TYPE, "'k.u32b'"},
    [BAD_VALUE_TYPE_MAX] = {"BAD_VALUE_TYPE_MAX", ERR_TYPE, "'k.str'"},
    [BAD_ARRAY_TYPE] = {"BAD_ARRAY_TYPE", ERR_TYPE, "'k.arr'"},
    [HUGE_ARRAY_LEN] = {"HUGE_ARRAY_LEN", ERR_TRUNCATED, "'k.arr'"},
    [HUGE_STRING_ARRAY_LEN] = {"HUGE_STRING_ARRAY_LEN", ERR_TRUNCATED, "'tok'"},
    [HUGE_NESTED_ARRAY_LEN] = {"HUGE_NESTED_ARRAY_LEN", ERR_TRUNCATED, "'nest'"},
    [DEEP_NESTING] = {"DEEP_NESTING", ERR_FORMAT, "'deep'"},
    [BAD_ALIGN_0] = {"BAD_ALIGN_0", ERR_ALIGN, "general.alignment"},
    [BAD_ALIGN_3] = {"BAD_ALIGN_3", ERR_ALIGN, "general.alignment 3"},
    [BAD_ALIGN_TYPE] = {"BAD_ALIGN_TYPE", ERR_ALIGN, "general.alignment"},
    [TOO_MANY_DIMS] = {"TOO_MANY_DIMS", ERR_FORMAT, "'t2'"},
    [ZERO_DIMS] = {"ZERO_DIMS", ERR_FORMAT, "'t1'"},
    [NEG_DIM] = {"NEG_DIM", ERR_FORMAT, "'t0'"},
    [NE_OVERFLOW] = {"NE_OVERFLOW", ERR_OVERFLOW, "'t0'"},
    [NBYTES_OVERFLOW] = {"NBYTES_OVERFLOW", ERR_OVERFLOW, "'t0'"},
    [BAD_TYPE] = {"BAD_TYPE", ERR_TYPE, "'t1'"},
    [BAD_TYPE_RETIRED] = {"BAD_TYPE_RETIRED", ERR_TYPE, "'t1'"},
    [BAD_TYPE_MAX] = {"BAD_TYPE_MAX", ERR_TYPE, "'t2'"},
    [ROW_NOT_BLOCK_MULTIPLE] = {"ROW_NOT_BLOCK_MULTIPLE", ERR_FORMAT, "'t1'"},
    [EMPTY_TENSOR_NAME] = {"EMPTY_TENSOR_NAME", ERR_FORMAT, "tensor"},
    [TENSOR_NAME_WITH_NUL] = {"TENSOR_NAME_WITH_NUL", ERR_FORMAT, "tensor"},
    [TENSOR_INFO_TRUNCATED] = {"TENSOR_INFO_TRUNCATED", ERR_TRUNCATED, "'t2'"},
    [MISALIGNED_OFFSET] = {"MISALIGNED_OFFSET", ERR_ALIGN, "'t1'"},
    [OFFSET_PAST_END] = {"OFFSET_PAST_END", ERR_RANGE, "'t2'"},
    [OFFSET_HUGE] = {"OFFSET_HUGE", ERR_RANGE, "'t0'"},
    [OVERLAP] = {"OVERLAP", ERR_RANGE, "'t1'"},
    [NO_DATA_SECTION] = {"NO_DATA_SECTION", ERR_TRUNCATED, "tensor data"},
    [TRUNCATED_DATA] = {"TRUNCATED_DATA", ERR_RANGE, "'t2'"},
};

// Builds corruption c into a malloc'ed buffer of exactly *n bytes.
static uint8_t* make_corrupt(enum Corruption c, size_t* n) {
    struct Layout L;
    uint8_t* b = make_base(n, &L);
    struct Raw r = {0};
    switch (c) {
    case EMPTY_FILE: *n = 0; break;
    case SHORT_MAGIC: *n = 3; break;
    case BAD_MAGIC: b[3] = 'G'; break; // "GGUG"
    case BAD_VERSION_1: put_u32_at(b + 4, 1); break;
    case BAD_VERSION_4: put_u32_at(b + 4, 4); break;
    case BAD_VERSION_BE: put_u32_at(b + 4, 0x03000000u); break; // 3 stored big-endian
    case TRUNCATED_VERSION: *n = 6; break;
    // counts no file of this size can hold: refused before any allocation
    case HUGE_N_KV: put_u64_at(b + 16, UINT64_MAX); break;
    case HUGE_N_TENSORS: put_u64_at(b + 8, 1ull << 40); break;
    case KEY_PAST_END: put_u64_at(b + L.kv_key_len[5], *n); break;
    case STRING_PAST_END: put_u64_at(b + L.kv_val[5], *n - L.kv_val[5] - 8 + 1); break;
    case HUGE_STRING_LEN: put_u64_at(b + L.kv_val[0], UINT64_MAX); break;
    case KEY_WITH_NUL: b[L.kv_key[0] + 7] = 0; break; // "general\0architecture"
    case DUP_KEY: memcpy(b + L.kv_key[3], "k.u32a", 6); break;
    case DUP_TENSOR: memcpy(b + L.t_name[1], "t0", 2); break;
    case BAD_VALUE_TYPE: put_u32_at(b + L.kv_type[3], GGUF_TYPE_COUNT); break;
    case BAD_VALUE_TYPE_MAX: put_u32_at(b + L.kv_type[5], UINT32_MAX); break;
    case BAD_ARRAY_TYPE: put_u32_at(b + L.kv_val[4], 13); break;
    case HUGE_ARRAY_LEN: put_u64_at(b + L.kv_val[4] + 4, UINT64_MAX / 4 + 1); break;
    case BAD_ALIGN_0: put_u32_at(b + L.kv_val[1], 0); break;
    case BAD_ALIGN_3: put_u32_at(b + L.kv_val[1], 3); break;
    case BAD_ALIGN_TYPE: put_u32_at(b + L.kv_type[1], GGUF_TYPE_INT32); break; // same size
    case TOO_MANY_DIMS: put_u32_at(b + L.t_ndims[2], 5); break;
    case ZERO_DIMS: put_u32_at(b + L.t_ndims[1], 0); break;
    case NEG_DIM: put_u64_at(b + L.t_ne[0] + 8, (uint64_t)-1); break;
    case NE_OVERFLOW: put_u64_at(b + L.t_ne[0] + 8, 1ull << 62); break; // 8 * 2^62 elements
    case NBYTES_OVERFLOW: // 2^61 * 2 elements fit int64, their 4-byte floats 2^64 bytes do not
        put_u64_at(b + L.t_ne[0], 1ull << 61);
        break;
    case BAD_TYPE: put_u32_at(b + L.t_type[1], GGML_TYPE_COUNT); break;
    case BAD_TYPE_RETIRED: put_u32_at(b + L.t_type[1], 4); break; // ggml's removed Q4_2
    case BAD_TYPE_MAX: put_u32_at(b + L.t_type[2], UINT32_MAX); break;
    case ROW_NOT_BLOCK_MULTIPLE: put_u64_at(b + L.t_ne[1], 48); break; // Q8_0 blocks of 32
    case TENSOR_NAME_WITH_NUL: b[L.t_name[1] + 1] = 0; break;
    case TENSOR_INFO_TRUNCATED: *n = L.t_off[2] + 3; break;
    case MISALIGNED_OFFSET: put_u64_at(b + L.t_off[1], 64 + 4); break;
    case OFFSET_PAST_END: put_u64_at(b + L.t_off[2], 1ull << 40); break;
    case OFFSET_HUGE: put_u64_at(b + L.t_off[0], UINT64_MAX - 31); break; // aligned, wraps
    case OVERLAP: put_u64_at(b + L.t_off[1], 32); break;                  // inside t0
    case NO_DATA_SECTION: *n = L.header_end; break;
    case TRUNCATED_DATA: *n -= 1; break;
    // the rest are written by hand
    case EMPTY_KEY:
        raw_header(&r, 0, 2);
        raw_str(&r, "a", 1);
        raw_u32(&r, GGUF_TYPE_UINT8);
        raw_put(&r, "\x01", 1);
        raw_str(&r, "", 0);
        raw_u32(&r, GGUF_TYPE_UINT8);
        raw_put(&r, "\x01", 1);
        // the key count bound assumes 1-byte keys: pad so that it is not what fails
        raw_put(&r, "\0\0\0\0\0\0\0\0", 8);
        break;
    case HUGE_STRING_ARRAY_LEN:
        raw_header(&r, 0, 1);
        raw_str(&r, "tok", 3);
        raw_u32(&r, GGUF_TYPE_ARRAY);
        raw_u32(&r, GGUF_TYPE_STRING);
        raw_u64(&r, 1ull << 60);
        raw_str(&r, "x", 1);
        break;
    case HUGE_NESTED_ARRAY_LEN:
        raw_header(&r, 0, 1);
        raw_str(&r, "nest", 4);
        raw_u32(&r, GGUF_TYPE_ARRAY);
        raw_u32(&r, GGUF_TYPE_ARRAY);
        raw_u64(&r, 1);
        raw_u32(&r, GGUF_TYPE_ARRAY); // the inner array claims 2^40 arrays
        raw_u64(&r, 1ull << 40);
        raw_nested(&r, 1);
        break;
    case DEEP_NESTING:
        raw_header(&r, 0, 1);
        raw_str(&r, "deep", 4);
        raw_u32(&r, GGUF_TYPE_ARRAY);
        raw_nested(&r, 9); // one more than the reader's limit of 8
        break;
    case EMPTY_TENSOR_NAME:
        raw_header(&r, 1, 0);
        raw_str(&r, "", 0);
        raw_u32(&r, 1);
        raw_u64(&r, 4);
        raw_u32(&r, GGML_TYPE_F32);
        raw_u64(&r, 0);
        raw_put(&r, g_tdata, 64);
        break;
    case CORRUPTION_COUNT: break;
    }
    if (r.b) { // hand-written: replace the base
        free(b);
        b = r.b;
        *n = r.n;
    }
    uint8_t* exact = malloc(*n ? *n : 1); // exact size: ASan sees one-past-end reads
    assert_non_null(exact);
    memcpy(exact, b, *n);
    free(b);
    return exact;
}

// A failure must be complete: the code, a one-line printable message, g left freed.
static void check_failure(int rc, const struct Err* e, const struct Gguf* g, const char* what) {
    if (rc >= 0) fail_msg("%s: parsed, expected a failure", what);
    assert_true(rc > -ERR_CODE_COUNT);
    assert_int_equal(e->code, rc);
    if (e->msg[0] == 0) fail_msg("%s: empty message", what);
    for (const char* c = e->msg; *c; c++)
        if ((unsigned char)*c < 0x20) fail_msg("%s: control byte in '%s'", what, e->msg);
    assert_null(g->arena);
    assert_null(g->kv);
    assert_int_equal(g->n_kv, 0);
}

// Walks everything a successful parse hands out (ASan checks each read).
static void walk_all(const struct Gguf* g);

static void walk_value(const struct GgufValue* v, volatile uint64_t* h) {
    if (v->type == GGUF_TYPE_STRING) {
        *h += (uint8_t)v->str.s[v->str.len];
        return;
    }
    if (v->type != GGUF_TYPE_ARRAY) {
        *h += v->u;
        return;
    }
    const struct GgufArr* a = &v->arr;
    for (uint64_t i = 0; i < a->n; i++) {
        if (a->type == GGUF_TYPE_STRING) {
            struct GgufStr s = gguf_arr_str(a, i);
            *h += s.len + (uint8_t)s.s[s.len];
        } else if (a->type == GGUF_TYPE_ARRAY) {
            walk_value(&a->items[i], h);
        } else {
            double f = gguf_arr_float(a, i);
            *h += f == f;
            if (a->type != GGUF_TYPE_FLOAT32 && a->type != GGUF_TYPE_FLOAT64)
                *h += (uint64_t)gguf_arr_int(a, i);
        }
    }
}

static void walk_all(const struct Gguf* g) {
    volatile uint64_t h = 0;
    for (int64_t i = 0; i < g->n_kv; i++)
        walk_value(&g->kv[i].val, &h);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct GgufTensor* t = &g->tensors[i];
        assert_true(t->offset + t->nbytes <= g->size - g->data_offset);
        if (t->nbytes) h += ((const uint8_t*)t->data)[0] + ((const uint8_t*)t->data)[t->nbytes - 1];
    }
    (void)h;
}

// ---------------------------------------------------------------------------------------
// tests

static void test_corrupt_base_is_valid(void** state) {
    (void)state;
    struct Layout L;
    size_t n;
    uint8_t* b = make_base(&n, &L);
    struct Gguf g;
    struct Err e = {0};
    assert_int_equal(gguf_parse(&g, b, n, &e), 0);
    assert_int_equal(g.n_kv, NKV);
    assert_int_equal(g.n_tensors, NT);
    assert_int_equal(g.data_offset, L.data_offset);
    for (int i = 0; i < NKV; i++)
        assert_string_equal(g.kv[i].key, KEYS[i]);
    assert_memory_equal(g.tensors[2].data, g_tdata, 8);
    gguf_free(&g);
    free(b);
}

static void test_corrupt_each_fails_with_its_code(void** state) {
    (void)state;
    int bad = 0;
    for (int c = 0; c < CORRUPTION_COUNT; c++) {
        const struct Expect* x = &EXPECT[c];
        assert_non_null(x->name); // every enum entry has an expectation
        size_t n;
        uint8_t* b = make_corrupt((enum Corruption)c, &n);
        struct Gguf g;
        struct Err e = {0};
        int rc = gguf_parse(&g, b, n, &e);
        if (rc != x->code || !strstr(e.msg, x->needle)) {
            printf("%s: got %s '%s', want %s with '%s'\n", x->name, err_name(rc), e.msg,
                   err_name(x->code), x->needle);
            bad++;
            if (rc == 0) gguf_free(&g);
        } else {
            check_failure(rc, &e, &g, x->name);
        }
        free(b);
    }
    assert_int_equal(bad, 0);
}

// Nesting exactly at the limit (8 levels) is accepted; 9 is DEEP_NESTING above.
static void test_corrupt_nesting_limit_boundary(void** state) {
    (void)state;
    struct Raw r = {0};
    raw_header(&r, 0, 1);
    raw_str(&r, "deep", 4);
    raw_u32(&r, GGUF_TYPE_ARRAY);
    raw_nested(&r, 8);
    struct Gguf g;
    struct Err e = {0};
    int rc = gguf_parse(&g, r.b, r.n, &e);
    if (rc) print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
    const struct GgufValue* v = &g.kv[0].val;
    for (int d = 1; d < 8; d++) {
        assert_int_equal(v->arr.type, GGUF_TYPE_ARRAY);
        v = &v->arr.items[0];
    }
    assert_int_equal(v->arr.type, GGUF_TYPE_UINT8);
    assert_true(gguf_arr_int(&v->arr, 0) == 7);
    gguf_free(&g);
    free(r.b);
}

// A control byte in a key must not reach the message (fuzz finding, see tests/data/gguf).
static void test_corrupt_message_stays_one_line(void** state) {
    (void)state;
    struct Raw r = {0};
    raw_header(&r, 0, 1);
    raw_str(&r, "evil\n\x1b[2Jkey", 12);
    raw_u32(&r, 77); // unknown type: the message quotes the key
    struct Gguf g;
    struct Err e = {0};
    assert_int_equal(gguf_parse(&g, r.b, r.n, &e), ERR_TYPE);
    check_failure(ERR_TYPE, &e, &g, "control bytes");
    assert_non_null(strstr(e.msg, "evil"));
    free(r.b);
}

// Every prefix of a file with tensors fails (the last tensor ends the file); the messages
// say MAGIC, TRUNCATED or RANGE.
static void test_corrupt_truncation_every_offset(void** state) {
    (void)state;
    struct Layout L;
    size_t n;
    uint8_t* base = make_base(&n, &L);
    for (size_t len = 0; len < n; len++) {
        uint8_t* b = malloc(len ? len : 1);
        memcpy(b, base, len);
        struct Gguf g;
        struct Err e = {0};
        int rc = gguf_parse(&g, b, len, &e);
        char what[64];
        snprintf(what, sizeof(what), "prefix %zu of %zu", len, n);
        check_failure(rc, &e, &g, what);
        if (rc != ERR_MAGIC && rc != ERR_TRUNCATED && rc != ERR_RANGE)
            fail_msg("%s: %s '%s'", what, err_name(rc), e.msg);
        if (len < 4 && rc != ERR_MAGIC) fail_msg("%s: want ERR_MAGIC", what);
        if (len >= L.data_offset && rc != ERR_RANGE) fail_msg("%s: want ERR_RANGE", what);
        free(b);
    }
    free(base);
}

// A tensor-less file may end anywhere after its last kv (before or inside the padding);
// any shorter prefix fails.
static void test_corrupt_truncation_no_tensors(void** state) {
    (void)state;
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_str(&w, "general.architecture", "llama");
    const char* toks[] = {"<unk>", "<s>", "</s>", "a"};
    gguf_writer_set_arr_str(&w, "tokenizer.ggml.tokens", toks, NULL, 4);
    gguf_writer_set_u8(&w, "last", 1); // 1 byte: the header does not end aligned
    uint8_t* base = NULL;
    size_t n;
    struct Err e = {0};
    assert_int_equal(gguf_writer_write_mem(&w, &base, &n, &e), 0);
    gguf_writer_free(&w);
    struct Layout L;
    walk_layout(base, n, 3, 0, &L);
    assert_true(L.header_end < n); // there is padding to cut into
    assert_int_equal(n, L.data_offset);
    for (size_t len = 0; len <= n; len++) {
        uint8_t* b = malloc(len ? len : 1);
        memcpy(b, base, len);
        struct Gguf g;
        int rc = gguf_parse(&g, b, len, &e);
        char what[64];
        snprintf(what, sizeof(what), "tensor-less prefix %zu of %zu", len, n);
        if (len >= L.header_end) {
            if (rc) fail_msg("%s: %s", what, e.msg);
            assert_int_equal(g.n_kv, 3);
            assert_int_equal(g.data_offset, L.data_offset);
            gguf_free(&g);
        } else {
            check_failure(rc, &e, &g, what);
        }
        free(b);
    }
    free(base);
}

// What the reader accepts, the writer must re-encode into a file the reader accepts.
static void reencode_ok(const struct Gguf* g) {
    struct GgufWriter w;
    gguf_writer_init(&w);
    for (int64_t i = 0; i < g->n_kv; i++)
        gguf_writer_set_kv(&w, &g->kv[i]);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct GgufTensor* t = &g->tensors[i];
        gguf_writer_add_tensor(&w, t->name, t->type, t->n_dims, t->ne, t->data, 0);
    }
    uint8_t* out = NULL;
    size_t n;
    struct Err e = {0};
    int rc = gguf_writer_write_mem(&w, &out, &n, &e);
    gguf_writer_free(&w);
    if (rc) fail_msg("re-encode: %s", e.msg);
    struct Gguf h;
    rc = gguf_parse(&h, out, n, &e);
    if (rc) fail_msg("re-parse: %s", e.msg);
    assert_int_equal(h.n_kv, g->n_kv);
    assert_int_equal(h.n_tensors, g->n_tensors);
    gguf_free(&h);
    free(out);
}

// xorshift64*: a fixed-seed stream for the mutations.
static uint64_t rng_next(uint64_t* s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

// A richer base for mutation: strings arrays, nested arrays, several tensor types.
static uint8_t* make_rich(size_t* n) {
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_str(&w, "general.architecture", "llama");
    gguf_writer_set_u32(&w, "general.alignment", 16);
    gguf_writer_set_u32(&w, "llama.block_count", 2);
    gguf_writer_set_f32(&w, "llama.rope.freq_base", 10000.0f);
    gguf_writer_set_bool(&w, "b", true);
    gguf_writer_set_i64(&w, "i64", -1);
    gguf_writer_set_f64(&w, "f64", 0.5);
    const char* toks[] = {"<unk>", "<s>", "</s>",
                          "\xe2\x96\x81"
                          "a",
                          "b"};
    gguf_writer_set_arr_str(&w, "tokenizer.ggml.tokens", toks, NULL, 5);
    const float sc[5] = {0, -1, -2, -3, -4};
    gguf_writer_set_arr(&w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, sc, 5);
    const uint16_t u16[2] = {1, 2};
    struct GgufValue inner[2] = {
        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_UINT16, 2, (const uint8_t*)u16, NULL}},
        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_INT8, 0, NULL, NULL}},
    };
    struct GgufKv kv = {"nested",
                        {.type = GGUF_TYPE_ARRAY, .arr = {GGUF_TYPE_ARRAY, 2, NULL, inner}}};
    gguf_writer_set_kv(&w, &kv);
    gguf_writer_add_tensor(&w, "a", GGML_TYPE_F32, 2, (const int64_t[]){4, 2}, g_tdata, 0);
    gguf_writer_add_tensor(&w, "q", GGML_TYPE_Q4_0, 1, (const int64_t[]){32}, g_tdata, 0);
    gguf_writer_add_tensor(&w, "e", GGML_TYPE_F16, 3, (const int64_t[]){2, 0, 3}, g_tdata, 0);
    gguf_writer_add_tensor(&w, "z", GGML_TYPE_I8, 4, (const int64_t[]){3, 1, 1, 2}, g_tdata, 0);
    uint8_t* out = NULL;
    struct Err e = {0};
    assert_int_equal(gguf_writer_write_mem(&w, &out, n, &e), 0);
    gguf_writer_free(&w);
    return out;
}

// Seeded random mutations: flips, interesting values, 8-byte overwrites of length fields,
// truncations. Each must fail cleanly or parse into something walkable, and never crash.
static void test_corrupt_random_mutations(void** state) {
    (void)state;
    static const uint64_t interesting[] = {0,
                                           1,
                                           0x7f,
                                           0x80,
                                           0xff,
                                           0xffff,
                                           0xffffffffull,
                                           0x7fffffffffffffffull,
                                           UINT64_MAX,
                                           1ull << 32,
                                           1ull << 62,
                                           13,
                                           5,
                                           40,
                                           4,
                                           32};
    size_t nb[2];
    struct Layout L;
    uint8_t* bases[2] = {make_base(&nb[0], &L), make_rich(&nb[1])};
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int n_iter = quick_mode() ? 2000 : 20000, n_ok = 0;
    int per_code[ERR_CODE_COUNT] = {0};
    for (int it = 0; it < n_iter; it++) {
        int which = it & 1;
        size_t n = nb[which];
        uint8_t* b = malloc(n);
        memcpy(b, bases[which], n);
        int k = 1 + (int)(rng_next(&s) % 4);
        for (int j = 0; j < k; j++) {
            size_t pos = (size_t)(rng_next(&s) % n);
            uint64_t r = rng_next(&s);
            switch (r % 4) {
            case 0: b[pos] ^= (uint8_t)(1u << ((r >> 8) % 8)); break;
            case 1: b[pos] = (uint8_t)(r >> 16); break;
            case 2:
                if (pos + 8 <= n) put_u64_at(b + pos, interesting[(r >> 8) % 16]);
                break;
            default:
                if (pos + 4 <= n) put_u32_at(b + pos, (uint32_t)interesting[(r >> 8) % 16]);
                break;
            }
        }
        if (rng_next(&s) % 8 == 0) { // sometimes also truncate (exact-size realloc)
            n = (size_t)(rng_next(&s) % (n + 1));
            uint8_t* t = malloc(n ? n : 1);
            memcpy(t, b, n);
            free(b);
            b = t;
        }
        struct Gguf g;
        struct Err e = {0};
        int rc = gguf_parse(&g, b, n, &e);
        if (rc == 0) {
            walk_all(&g);
            reencode_ok(&g);
            gguf_free(&g);
            n_ok++;
        } else {
            check_failure(rc, &e, &g, "mutation");
            per_code[-rc]++;
        }
        free(b);
    }
    print_message("%d mutations: %d parsed; MAGIC %d VERSION %d TRUNCATED %d FORMAT %d TYPE %d "
                  "ALIGN %d OVERFLOW %d RANGE %d DUPLICATE %d\n",
                  n_iter, n_ok, per_code[2], per_code[3], per_code[4], per_code[5], per_code[6],
                  per_code[7], per_code[8], per_code[9], per_code[10]);
    free(bases[0]);
    free(bases[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corrupt_base_is_valid),
        cmocka_unit_test(test_corrupt_each_fails_with_its_code),
        cmocka_unit_test(test_corrupt_nesting_limit_boundary),
        cmocka_unit_test(test_corrupt_message_stays_one_line),
        cmocka_unit_test(test_corrupt_truncation_every_offset),
        cmocka_unit_test(test_corrupt_truncation_no_tensors),
        cmocka_unit_test(test_corrupt_random_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
