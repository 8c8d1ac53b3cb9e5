// check.c: test helpers (see check.h).
#include "check.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <string.h>

#include "model.h"
#include "ref.h"

const char* shared_path(char* buf, size_t cap, const char* rel) {
    const char* dir = getenv("MATTN_SHARED");
    if (!dir || !*dir) dir = "../shared";
    snprintf(buf, cap, "%s/%s", dir, rel);
    struct stat st;
    if (stat(buf, &st) != 0) {
        printf("SKIP: %s is absent\n", buf);
        return NULL;
    }
    return buf;
}

uint8_t* read_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t* buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            buf = malloc((size_t)n + 1);
            if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
                buf[n] = 0;
                *size = (size_t)n;
            } else {
                free(buf);
                buf = NULL;
            }
        }
    }
    fclose(f);
    return buf;
}

double rel_error(const double* got, const double* ref, size_t n) {
    double maxd = 0, maxr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - ref[i]);
        if (d > maxd || isnan(d)) maxd = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > maxr) maxr = fabs(ref[i]);
    }
    return maxr > 0 ? maxd / maxr : maxd;
}

void assert_close_impl(const double* got, const double* want, size_t n, double atol, double rtol,
                       const char* label, const char* file, int line) {
    size_t bad = 0, first = n;
    double maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        if (d > maxdiff) maxdiff = d;
        if (!(d <= atol + rtol * fabs(want[i]))) {
            if (first == n) first = i;
            bad++;
        }
    }
    if (bad == 0) return;
    printf("%s:%d: %s: %zu of %zu off (atol %g, rtol %g), first at %zu, maxdiff %.3e\n", file, line,
           label, bad, n, atol, rtol, first, maxdiff);
    for (size_t i = first, k = 0; i < n && k < 5; i++, k++)
        printf("  [%zu] got %.17g want %.17g\n", i, got[i], want[i]);
    _fail(file, line);
}

int quick_mode(void) {
    const char* q = getenv("MATTN_QUICK");
    return q && *q && *q != '0';
}

int read_ids(const char* rel, int32_t* ids, int cap) {
    char path[512];
    if (!shared_path(path, sizeof(path), rel)) return -1;
    FILE* f = fopen(path, "r");
    int n = 0, v;
    while (f && n < cap && fscanf(f, "%d", &v) == 1)
        ids[n++] = v;
    if (f) fclose(f);
    return n;
}

double* read_f32(const char* rel, size_t n) {
    char path[512];
    if (!shared_path(path, sizeof(path), rel)) return NULL;
    size_t size;
    float* f = (float*)read_file(path, &size);
    assert_non_null(f);
    assert_int_equal(size, n * sizeof(float));
    double* d = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        d[i] = (double)f[i];
    free(f);
    return d;
}

int argmax(const double* x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

double* run_logits(const struct Model* m, const int32_t* ids, int n, int chunk, int threads) {
    struct RefEngine r;
    struct Err e = {0};
    assert_int_equal(ref_init(&r, m, n, chunk, threads, &e), 0);
    int nv = m->config.n_vocab;
    double* out = malloc((size_t)n * (size_t)nv * sizeof(double));
    for (int i = 0; i < n; i += chunk) {
        int k = n - i < chunk ? n - i : chunk;
        assert_int_equal(ref_forward(&r, ids + i, k, 0, &e), 0);
        for (int t = 0; t < k; t++)
            memcpy(out + (size_t)(i + t) * nv, ref_logits(&r, t), (size_t)nv * sizeof(double));
    }
    ref_free(&r);
    return out;
}

double* check_hf_model(const struct Model* m, const char* name, double tol, int* n_out) {
    char path[512], rel[256];
    int32_t ids[64], greedy[16];
    snprintf(rel, sizeof(rel), "hf/%s/ids.txt", name);
    int n = read_ids(rel, ids, 64);
    snprintf(rel, sizeof(rel), "hf/%s/greedy.txt", name);
    int n_greedy = read_ids(rel, greedy, 16);
    snprintf(rel, sizeof(rel), "hf/%s/logits_f64.bin", name);
    if (n <= 0 || n_greedy <= 0 || !shared_path(path, sizeof(path), rel)) return NULL;
    size_t size;
    double* want = (double*)read_file(path, &size);
    int nv = m->config.n_vocab;
    size_t count = (size_t)n * (size_t)nv;
    assert_non_null(want);
    assert_int_equal(size, count * sizeof(double));

    double* got = run_logits(m, ids, n, n, 1);
    double rel_err = rel_error(got, want, count);
    printf("%s: relative error vs HF float64 %.3e\n", name, rel_err);
    assert_true(rel_err <= tol);
    for (int t = 0; t < n; t++)
        assert_int_equal(argmax(got + (size_t)t * nv, nv), argmax(want + (size_t)t * nv, nv));

    // Greedy continuation, token by token through the KV caches and recurrent states.
    struct RefEngine r;
    struct Err e = {0};
    assert_int_equal(ref_init(&r, m, n + n_greedy, n, 1, &e), 0);
    assert_int_equal(ref_forward(&r, ids, n, 1, &e), 0);
    int row = n - 1;
    for (int i = 0; i < n_greedy; i++) {
        int32_t id = argmax(ref_logits(&r, row), nv);
        row = 0;
        assert_int_equal(id, greedy[i]);
        if (i + 1 < n_greedy) assert_int_equal(ref_forward(&r, &id, 1, 0, &e), 0);
    }
    ref_free(&r);

    // Prefill vs token by token; threads change nothing.
    double* dec = run_logits(m, ids, n, 1, 1);
    double* thr = run_logits(m, ids, n, n, 3);
    printf("%s: prefill vs decode %.3e\n", name, rel_error(dec, got, count));
    assert_close(dec, got, count, 0, 1e-12, name);
    assert_int_equal(memcmp(got, thr, count * sizeof(double)), 0);

    // A reset engine starts over: the second sequence equals the first.
    assert_int_equal(ref_init(&r, m, n, n, 1, &e), 0);
    assert_int_equal(ref_forward(&r, ids, n, 0, &e), 0);
    ref_reset(&r);
    assert_int_equal(ref_forward(&r, ids, n, 0, &e), 0);
    for (int t = 0; t < n; t++)
        assert_int_equal(
            memcmp(ref_logits(&r, t), got + (size_t)t * nv, (size_t)nv * sizeof(double)), 0);
    ref_free(&r);
    free(dec);
    free(thr);
    free(want);
    *n_out = n;
    return got;
}
