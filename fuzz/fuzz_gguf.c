// fuzz_gguf.c: libFuzzer / AFL++ target for the GGUF reader and writer (shared/gguf.c).
// Each input is copied into an exact-size malloc (ASan then catches a read one past the
// end), parsed, walked (every kv, every array element through the public accessors, every
// tensor's first and last byte), re-encoded with the writer and parsed again: a file the
// reader accepts must survive the round trip with the same keys, values and tensor bytes.
// Not here: the model loader (arch.c) or dequantization. Build: make build/fuzz/fuzz_gguf;
// run: make fuzz (fuzz/run.sh); AFL++: see docs/FUZZING.md (-DAFL_MAIN adds a main()).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

// Reads land here so that the compiler cannot drop them.
static volatile uint64_t g_sink;

// A failed oracle: print what and abort, so the fuzzer records the input as a crash.
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_gguf: check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int is_int_or_bool(enum GgufValueType t) {
    return t != GGUF_TYPE_FLOAT32 && t != GGUF_TYPE_FLOAT64 && t != GGUF_TYPE_STRING &&
           t != GGUF_TYPE_ARRAY && t < GGUF_TYPE_COUNT;
}

static void touch_str(struct GgufStr s) {
    FUZZ_CHECK(s.s != NULL);
    FUZZ_CHECK(s.s[s.len] == 0); // the copy is NUL-terminated after len bytes
    if (s.len) g_sink += (uint8_t)s.s[0] + (uint8_t)s.s[s.len - 1];
}

static void walk_value(const struct GgufValue* v);

static void walk_arr(const struct GgufArr* a) {
    FUZZ_CHECK((unsigned)a->type < GGUF_TYPE_COUNT);
    for (uint64_t i = 0; i < a->n; i++) {
        if (a->type == GGUF_TYPE_STRING) {
            touch_str(gguf_arr_str(a, i));
        } else if (a->type == GGUF_TYPE_ARRAY) {
            FUZZ_CHECK(a->items[i].type == GGUF_TYPE_ARRAY);
            walk_value(&a->items[i]);
        } else {
            if (is_int_or_bool(a->type)) g_sink += (uint64_t)gguf_arr_int(a, i);
            double f = gguf_arr_float(a, i);
            g_sink += f == f;
        }
    }
}

static void walk_value(const struct GgufValue* v) {
    switch (v->type) {
    case GGUF_TYPE_STRING: touch_str(v->str); break;
    case GGUF_TYPE_ARRAY: walk_arr(&v->arr); break;
    default: g_sink += v->u; break;
    }
}

static int same_double(double a, double b) {
    return a == b || (isnan(a) && isnan(b));
}

// Deep equality of a value and its re-encoded copy (bools compare as 0/1, floats by value).
static int same_value(const struct GgufValue* a, const struct GgufValue* b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case GGUF_TYPE_STRING:
        return a->str.len == b->str.len && memcmp(a->str.s, b->str.s, a->str.len) == 0;
    case GGUF_TYPE_ARRAY: {
        const struct GgufArr *x = &a->arr, *y = &b->arr;
        if (x->type != y->type || x->n != y->n) return 0;
        for (uint64_t i = 0; i < x->n; i++) {
            if (x->type == GGUF_TYPE_STRING || x->type == GGUF_TYPE_ARRAY) {
                if (!same_value(&x->items[i], &y->items[i])) return 0;
            } else if (is_int_or_bool(x->type)) {
                if (gguf_arr_int(x, i) != gguf_arr_int(y, i)) return 0;
            } else if (!same_double(gguf_arr_float(x, i), gguf_arr_float(y, i))) {
                return 0;
            }
        }
        return 1;
    }
    case GGUF_TYPE_FLOAT32:
    case GGUF_TYPE_FLOAT64: return same_double(a->f, b->f);
    default: return a->u == b->u;
    }
}

// Writes every kv and tensor of g with the writer, parses the result and compares.
static void reencode(const struct Gguf* g) {
    struct GgufWriter w;
    struct Err e = {0};
    FUZZ_CHECK(gguf_writer_init(&w) == 0);
    for (int64_t i = 0; i < g->n_kv; i++)
        gguf_writer_set_kv(&w, &g->kv[i]);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct GgufTensor* t = &g->tensors[i];
        gguf_writer_add_tensor(&w, t->name, t->type, t->n_dims, t->ne, t->data, 0);
    }
    uint8_t* out = NULL;
    size_t out_size = 0;
    int rc = gguf_writer_write_mem(&w, &out, &out_size, &e);
    if (rc) fprintf(stderr, "fuzz_gguf: re-encode failed: %s\n", e.msg);
    FUZZ_CHECK(rc == 0);
    gguf_writer_free(&w);

    struct Gguf h;
    rc = gguf_parse(&h, out, out_size, &e);
    if (rc) fprintf(stderr, "fuzz_gguf: re-parse failed: %s\n", e.msg);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(h.n_kv == g->n_kv && h.n_tensors == g->n_tensors);
    FUZZ_CHECK(h.alignment == g->alignment);
    for (int64_t i = 0; i < g->n_kv; i++) {
        FUZZ_CHECK(strcmp(h.kv[i].key, g->kv[i].key) == 0);
        FUZZ_CHECK(same_value(&h.kv[i].val, &g->kv[i].val));
    }
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct GgufTensor *a = &g->tensors[i], *b = &h.tensors[i];
        FUZZ_CHECK(strcmp(a->name, b->name) == 0 && a->type == b->type);
        FUZZ_CHECK(a->n_dims == b->n_dims && a->nbytes == b->nbytes);
        FUZZ_CHECK(memcmp(a->ne, b->ne, sizeof(a->ne)) == 0);
        FUZZ_CHECK(a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0);
    }
    gguf_free(&h);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    uint8_t* buf = malloc(size ? size : 1); // exact size: one-past-end reads trip ASan
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    struct Gguf g;
    struct Err e = {0};
    int rc = gguf_parse(&g, buf, size, &e);
    if (rc != 0) {
        // A refusal must carry its code and a one-line message.
        FUZZ_CHECK(rc < 0 && e.code == rc && e.msg[0] != 0 && strchr(e.msg, '\n') == NULL);
        free(buf);
        return 0;
    }
    FUZZ_CHECK(g.alignment != 0 && (g.alignment & (g.alignment - 1)) == 0);
    FUZZ_CHECK(g.data_offset % g.alignment == 0);
    for (int64_t i = 0; i < g.n_kv; i++) {
        const struct GgufKv* kv = &g.kv[i];
        FUZZ_CHECK(kv->key[0] != 0);
        FUZZ_CHECK(gguf_find_key(&g, kv->key) == kv); // keys are unique
        walk_value(&kv->val);
        int64_t iv;
        uint64_t uv;
        double fv;
        g_sink += (uint64_t)gguf_get_int(&g, kv->key, &iv, NULL);
        g_sink += (uint64_t)gguf_get_uint(&g, kv->key, &uv, NULL);
        g_sink += (uint64_t)gguf_get_float(&g, kv->key, &fv, NULL);
    }
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const struct GgufTensor* t = &g.tensors[i];
        FUZZ_CHECK(gguf_find_tensor(&g, t->name) == t);
        FUZZ_CHECK(t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS);
        FUZZ_CHECK(t->offset % g.alignment == 0);
        FUZZ_CHECK(t->nbytes <= g.size - g.data_offset);
        if (t->nbytes) {
            const uint8_t* p = t->data;
            g_sink += p[0] + p[t->nbytes - 1];
        }
    }
    reencode(&g);
    gguf_free(&g);
    free(buf);
    return 0;
}

#include "afl_main.h"
