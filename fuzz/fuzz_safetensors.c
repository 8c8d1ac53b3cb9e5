// fuzz_safetensors.c: libFuzzer / AFL++ target for the safetensors header parser
// (tools/safetensors.c). Each input is copied into an exact-size malloc (ASan then catches
// a read one past the end) and parsed; an accepted file is walked: every tensor is found by
// name, its byte range must lie inside the input and agree with dtype and shape, ranges of
// non-empty tensors must not overlap, and float tensors are converted to float32 and
// double. Build: make build/fuzz/fuzz_safetensors; AFL++: -DAFL_MAIN adds a main().
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

static volatile uint64_t g_sink;

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_safetensors: check failed: %s (%s:%d)\n", #cond, __FILE__,       \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int cmp_ptr(const void* a, const void* b) {
    const struct SafetensorsTensor *x = *(const struct SafetensorsTensor*const*)a,
                                   *y = *(const struct SafetensorsTensor*const*)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    uint8_t* buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    struct Safetensors s;
    struct Err e = {0};
    int rc = safetensors_parse(&s, buf, size, &e);
    if (rc) {
        FUZZ_CHECK(rc < 0 && e.code == rc);
        FUZZ_CHECK(strchr(e.msg, '\n') == NULL);
        FUZZ_CHECK(s.tensors == NULL && s.n_tensors == 0);
        free(buf);
        return 0;
    }
    const struct SafetensorsTensor** order = malloc(((size_t)s.n_tensors + 1) * sizeof(*order));
    FUZZ_CHECK(order != NULL);
    for (int64_t i = 0; i < s.n_tensors; i++) {
        const struct SafetensorsTensor* t = &s.tensors[i];
        order[i] = t;
        FUZZ_CHECK(safetensors_find(&s, t->name) == t);
        if (i) FUZZ_CHECK(strcmp(s.tensors[i - 1].name, t->name) < 0);
        FUZZ_CHECK(t->n_dims >= 0 && t->n_dims <= SAFETENSORS_MAX_DIMS);
        int64_t n = 1;
        for (int d = 0; d < t->n_dims; d++)
            n *= t->shape[d];
        FUZZ_CHECK(n == t->n_elements);
        FUZZ_CHECK(t->nbytes == (size_t)n * safetensors_dtype_size(t->dtype));
        FUZZ_CHECK(t->data >= buf && t->data + t->nbytes <= buf + size);
        if (t->nbytes) g_sink += t->data[0] + t->data[t->nbytes - 1];
        if (t->n_elements <= (1 << 16)) {
            float* f = malloc((size_t)(t->n_elements + 1) * sizeof(float));
            double* d = malloc((size_t)(t->n_elements + 1) * sizeof(double));
            FUZZ_CHECK(f && d);
            int ok32 = safetensors_to_f32(t, f, &e), ok64 = safetensors_to_f64(t, d, &e);
            FUZZ_CHECK((ok32 == 0) == (ok64 == 0));
            if (!ok32 && t->n_elements) g_sink += f[0] == f[0];
            free(f);
            free(d);
        }
    }
    qsort(order, (size_t)s.n_tensors, sizeof(*order), cmp_ptr);
    const uint8_t* end = buf;
    for (int64_t i = 0; i < s.n_tensors; i++) {
        if (!order[i]->nbytes) continue;
        FUZZ_CHECK(order[i]->data >= end);
        end = order[i]->data + order[i]->nbytes;
    }
    free(order);
    safetensors_free(&s);
    free(buf);
    return 0;
}

#include "afl_main.h"
