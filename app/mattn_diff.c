// mattn_diff.c: build/mattn-diff, the differential harness: runs the FP64 reference engine
// and the GLES engine in one process over the same prompt (one batch), catches every op
// output of both through their op hooks, and prints one line per (position, layer, op) with
// the max abs error and the max relative error (max|gl - ref| / max|ref| over the row). An
// element is beyond tolerance when |gl - ref| > atol + rtol * |ref|; the first op with such
// an element is named at the end. Exit status: 0 all within tolerance, 3 the engines disagree,
// 2 bad usage, 1 any other failure (an unreadable model, no GL context, ...).
//   build/mattn-diff -m MODEL (--ids "1 2 3" | -p TEXT) [--atol A] [--rtol R] [-q]
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine_cmd.h"
#include "gl_env.h"
#include "gles.h"
#include "ref.h"
#include "session.h"

struct Capture {
    const struct Graph* g;
    int n;         // positions
    double** rows; // per op index: (n, width) ref outputs
    int oom;
};

static void ref_hook(void* ctx, const struct Op* op, int64_t pos0, int n, const double* out,
                     int width) {
    struct Capture* c = ctx;
    int i = (int)(op - c->g->ops);
    if (!c->rows[i]) c->rows[i] = calloc((size_t)c->n * (size_t)width, sizeof(double));
    if (!c->rows[i]) {
        c->oom = 1;
        return;
    }
    memcpy(c->rows[i] + (size_t)pos0 * width, out, (size_t)n * (size_t)width * sizeof(double));
}

struct Compare {
    struct Capture* ref;
    const struct Graph* g; // the GLES engine's graph (built like the ref's: same op order)
    double atol, rtol;
    int quiet;
    int bad; // ops beyond tolerance
    char first[200];
    double worst_rel;
};

static void gl_hook(void* ctx, const struct Op* op, int64_t pos0, int n, const float* out,
                    int width) {
    struct Compare* c = ctx;
    const double* want = c->ref->rows[op - c->g->ops];
    if (!want) return;
    for (int t = 0; t < n; t++) {
        const double* r = want + (size_t)(pos0 + t) * width;
        const float* got = out + (size_t)t * width;
        double max_abs = 0, max_ref = 0;
        int beyond = 0;
        for (int i = 0; i < width; i++) {
            double d = fabs((double)got[i] - r[i]);
            if (!(d <= c->atol + c->rtol * fabs(r[i]))) beyond = 1; // NaN is beyond
            if (!(d <= max_abs)) max_abs = d;
            if (fabs(r[i]) > max_ref) max_ref = fabs(r[i]);
        }
        double rel = max_ref > 0 ? max_abs / max_ref : max_abs;
        if (rel > c->worst_rel || rel != rel) c->worst_rel = rel;
        if (!c->quiet || beyond)
            printf("%5lld %5d  %-16s %12.3e %12.3e%s\n", (long long)(pos0 + t), op->layer, op->name,
                   max_abs, rel, beyond ? "  *" : "");
        if (beyond && !c->bad++)
            snprintf(c->first, sizeof(c->first), "position %lld, layer %d, op %s",
                     (long long)(pos0 + t), op->layer, op->name);
    }
}

int main(int argc, char** argv) {
    struct RunOpts o = {0};
    struct Err e = {0};
    double atol = 1e-4, rtol = 1e-3;
    int quiet = 0;
    sampler_params_default(&o.sp);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: mattn-diff -m MODEL (--ids \"1 2 3\" | -p TEXT | -f FILE) [--atol A] "
                   "[--rtol R] [-q]\nCompares every op output of mattn-gles with mattn-ref's "
                   "(defaults: --atol 1e-4 --rtol 1e-3;\n-q prints only the ops beyond "
                   "tolerance). Exit status: 0 every op within tolerance, 3 some element\n"
                   "beyond it, 2 bad usage, 1 any other failure (unreadable model, no GL).\n");
            return 0;
        }
        if (!strcmp(argv[i], "--atol") && i + 1 < argc) {
            if (cli_double("--atol", argv[++i], 0, 1e300, &atol, &e)) break;
            continue;
        }
        if (!strcmp(argv[i], "--rtol") && i + 1 < argc) {
            if (cli_double("--rtol", argv[++i], 0, 1e300, &rtol, &e)) break;
            continue;
        }
        if (!strcmp(argv[i], "-q")) {
            quiet = 1;
            continue;
        }
        int rc = session_parse_opt(&o, argc, argv, &i, &e);
        if (rc < 0) break;
        if (rc == 0) {
            fprintf(stderr, "mattn-diff: unknown or incomplete option '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (e.code) {
        fprintf(stderr, "mattn-diff: error: %s\n", e.msg);
        return EXIT_USAGE;
    }
    struct Session s;
    struct RefEngine r = {0};
    struct GlEngine g = {0};
    struct Capture cap = {0};
    int rc = session_open(&s, &o, 0, &e);
    if (!rc) rc = ref_init(&r, &s.model, s.n_ids, s.n_ids, 0, &e);
    if (!rc) {
        cap.g = &r.g;
        cap.n = s.n_ids;
        cap.rows = calloc((size_t)r.g.n_ops, sizeof(double*));
        if (!cap.rows) rc = err_set(&e, ERR_NOMEM, "out of memory");
        r.hook = ref_hook;
        r.hook_ctx = &cap;
    }
    if (!rc) rc = ref_forward(&r, s.ids, s.n_ids, 0, &e);
    if (!rc && cap.oom) rc = err_set(&e, ERR_NOMEM, "out of memory keeping the ref outputs");
    struct GlOptions opt;
    gl_options_from_env(&opt);
    if (!rc) rc = gl_init(&g, &s.model, s.n_ids, s.n_ids, &opt, &e);
    struct Compare cmp = {&cap, &g.g, atol, rtol, quiet, 0, "", 0};
    if (!rc) {
        printf("# %s: %d positions; gl on %s (%s); |gl-ref| <= %g + %g |ref|\n", o.model, s.n_ids,
               g.renderer, g.egl_path, atol, rtol);
        printf("%5s %5s  %-16s %12s %12s\n", "pos", "layer", "op", "max_abs", "max_rel");
        g.hook = gl_hook;
        g.hook_ctx = &cmp;
        rc = gl_forward(&g, s.ids, s.n_ids, 0, &e);
    }
    if (!rc) {
        if (cmp.bad)
            printf("first beyond tolerance: %s (%d rows beyond); worst relative error %.3e\n",
                   cmp.first, cmp.bad, cmp.worst_rel);
        else
            printf("all op outputs within tolerance; worst relative error %.3e\n", cmp.worst_rel);
    }
    if (cap.rows)
        for (int i = 0; i < r.g.n_ops; i++)
            free(cap.rows[i]);
    free(cap.rows);
    gl_free(&g);
    ref_free(&r);
    session_free(&s);
    if (rc) {
        fprintf(stderr, "mattn-diff: error: %s\n", e.msg);
        return e.code == ERR_ARG ? EXIT_USAGE : 1;
    }
    return engine_check_stdout("mattn-diff", cmp.bad ? 3 : 0);
}
