// mattn-gles: the OpenGL ES 3.1 compute engine's command line: the engine as app/engine_cmd.c
// runs it (info, run and logits with mattn-ref's flags and output formats: logits and --dump
// are float64 files even though the engine computes in float), plus bench (prompt and
// generation tok/s). Exit status: 0 ok, 1 failure (one line on stderr), 2 bad usage.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine_cmd.h"
#include "gguf.h"
#include "gl_env.h"
#include "gles.h"
#include "info.h"
#include "model.h"
#include "sampler.h"
#include "session.h"

static int fail(const struct Err* e) {
    fprintf(stderr, "mattn-gles: error: %s\n", e->msg);
    return e->code == ERR_ARG ? EXIT_USAGE : 1;
}

static int usage_error(const char* cmd, const char* fmt, const char* arg) {
    fprintf(stderr, "mattn-gles %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'mattn-gles %s --help')\n", cmd);
    return EXIT_USAGE;
}

// ---------------------------------------------------------------------------------------
// info

// Whether a model's blocks run fused in the one-row pass (gles/fuse.c): "fused" says it in
// words ("75 of 83 ops (qkv+rope+kv, gate/up+glu, matvec+residual)"), "fused_ops" counts the
// ops that run fused (0 with MATTN_GL_FUSE=0).
static void add_fused(cJSON* o, const struct GlEngine* g) {
    struct GlFuseSummary fs;
    char text[160];
    gl_fuse_summary(g, &fs);
    gl_fuse_describe(&fs, text, sizeof(text));
    cJSON_AddStringToObject(o, "fused", text);
    cJSON_AddNumberToObject(o, "fused_ops", fs.on ? fs.fused : 0);
}

// The GL context's path and renderer, or why there is none; with a model mattn supports,
// whether its blocks run fused (the engine is built for it on a short context: the plan is
// made at init).
static void gl_fields(cJSON* o) {
    const char *path = NULL, *renderer = NULL;
    struct Err e = {0};
    struct GlOptions opt;
    gl_options_from_env(&opt);
    if (gl_context_acquire(opt.egl, &path, &renderer, &e) == 0) {
        cJSON_AddStringToObject(o, "egl", path);
        cJSON_AddStringToObject(o, "renderer", renderer);
        const char* file = cJSON_GetStringValue(cJSON_GetObjectItem(o, "file"));
        struct Model m;
        struct GlEngine g = {0};
        if (file && model_open(&m, file, &e) == 0) {
            if (gl_init(&g, &m, 16, 1, &opt, &e) == 0)
                add_fused(o, &g);
            else
                cJSON_AddStringToObject(o, "fused", "unknown (the engine does not load it)");
            gl_free(&g);
            model_free(&m);
        }
        gl_context_release();
    } else {
        cJSON_AddNullToObject(o, "renderer");
        cJSON_AddStringToObject(o, "gl_error", e.msg);
    }
}

// ---------------------------------------------------------------------------------------
// the engine as app/session.c sees it: float results widened to double

struct Gles {
    struct GlEngine g;
    double* row;  // (n_vocab,) the widened logits row
    double* dump; // (max_batch * widest buffer,) widened op outputs
    struct DumpCtx* d;
};

static int engine_forward(void* self, const int32_t* ids, int n, int last_only, struct Err* e) {
    return gl_forward(&((struct Gles*)self)->g, ids, n, last_only, e);
}

static const double* engine_logits(void* self, int t) {
    struct Gles* x = self;
    const float* f = gl_logits(&x->g, t);
    for (int i = 0; i < x->g.m->config.n_vocab; i++)
        x->row[i] = f[i];
    return x->row;
}

static void dump_hook(void* ctx, const struct Op* op, int64_t pos0, int n, const float* out,
                      int width) {
    struct Gles* x = ctx;
    for (size_t i = 0; i < (size_t)n * (size_t)width; i++)
        x->dump[i] = out[i];
    session_dump_rows(x->d, op, pos0, n, x->dump, width);
}

static int gles_init(void* self, const struct Model* m, const struct RunOpts* o, int n_ctx,
                     int max_batch, struct Err* e) {
    (void)o; // -t is accepted for compatibility with mattn-ref and ignored
    struct Gles* x = self;
    struct GlOptions opt;
    gl_options_from_env(&opt);
    int rc = gl_init(&x->g, m, n_ctx, max_batch, &opt, e);
    if (rc) return rc;
    x->row = malloc((size_t)m->config.n_vocab * sizeof(double));
    if (!x->row) return err_set(e, ERR_NOMEM, "out of memory");
    return 0;
}

static void gles_free(void* self) {
    struct Gles* x = self;
    gl_free(&x->g);
    free(x->row);
    free(x->dump);
    memset(x, 0, sizeof(*x));
}

static int gles_max_batch(void* self) {
    return ((struct Gles*)self)->g.max_batch;
}

// --dump: op outputs are widened to double into a buffer of n_rows rows of the widest buffer
static int gles_dump(void* self, struct DumpCtx* d, int n_rows, struct Err* e) {
    struct Gles* x = self;
    int widest = 1;
    for (int i = 0; i < x->g.g.n_bufs; i++)
        if (x->g.g.bufs[i].width > widest) widest = x->g.g.bufs[i].width;
    x->dump = malloc((size_t)n_rows * (size_t)widest * sizeof(double));
    if (!x->dump) return err_set(e, ERR_NOMEM, "out of memory");
    x->d = d;
    x->g.hook = dump_hook;
    x->g.hook_ctx = x;
    return 0;
}

// ---------------------------------------------------------------------------------------
// logits and run (app/engine_cmd.c)

static const char LOGITS_HELP[] =
    "usage: mattn-gles logits -m MODEL (--ids \"1 7 42\" | -p TEXT | -f FILE) -o OUT.bin\n"
    "                         [--dump DIR] [-c CTX] [--no-bos]\n"
    "Runs the prompt teacher-forced on the GPU and writes the logits after every position\n"
    "as little-endian float64 [n_tokens][n_vocab]. --ids are used as given (no BOS added).\n"
    "  --dump DIR   also write every op output at every position (docs/DUMP.md)\n";

static const char RUN_HELP[] =
    "usage: mattn-gles run -m MODEL (-p PROMPT | -f FILE | --ids \"1 7 42\") [options]\n"
    "Generates text after the prompt on the GPU and streams it to stdout (the prompt is not\n"
    "echoed).\n"
    "  -n N                 tokens to generate (default 128; -1 = until EOS); stops\n"
    "                       early at EOS or when the context is full\n"
    "  -c CTX               context size (default: the model's, at most 4096)\n"
    "  -t THREADS           accepted for compatibility with mattn-ref; "
    "ignored\n" ENGINE_RUN_OPTIONS;

static const struct EngineDef GLES_ENGINE = {
    .prog = "mattn-gles",
    .blurb = "The OpenGL ES 3.1 compute engine for hybrid language models in GGUF files.",
    .run_help = RUN_HELP,
    .logits_help = LOGITS_HELP,
    .size = sizeof(struct Gles),
    .init = gles_init,
    .free = gles_free,
    .forward = engine_forward,
    .logits = engine_logits,
    .max_batch = gles_max_batch,
    .dump = gles_dump,
    .info_fields = gl_fields,
};

// ---------------------------------------------------------------------------------------
// bench

static const char BENCH_HELP[] =
    "usage: mattn-gles bench -m MODEL [-p 512] [-n 128] [-r 3] [--json] [--profile]\n"
    "Measures prompt processing (-p tokens in batches of up to 512, logits of the last row\n"
    "read back) and generation (-n tokens one at a time, each one's logits read back and its\n"
    "argmax fed back), the GPU synchronised around each timing. Token ids are synthetic.\n"
    "Prints the median over -r repeats, after one warm-up run, and the GL renderer.\n"
    "--profile: then one more run with a GPU timestamp around every op\n"
    "(GL_EXT_disjoint_timer_query), printing GPU time per op name to stderr.\n"
    "MATTN_GL_SUBGROUP=0 turns subgroup reductions off; MATTN_GL_MATVEC=TEAMS,NR reshapes\n"
    "the mat-vec kernel (default 4,2).\n";

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static int bench_once(struct GlEngine* g, const int32_t* ids, int n_p, int n_g, double* tp,
                      double* tg, struct Err* e) {
    int nv = g->m->config.n_vocab, rc = 0;
    gl_reset(g);
    gl_finish();
    double t0 = session_now();
    for (int i = 0; i < n_p && !rc; i += g->max_batch) {
        int n = n_p - i < g->max_batch ? n_p - i : g->max_batch;
        rc = gl_forward(g, ids + i, n, 1, e);
        if (!rc && i + n >= n_p) (void)gl_logits(g, n - 1);
    }
    gl_finish();
    double t1 = session_now();
    int32_t id = ids[n_p - 1];
    for (int k = 0; k < n_g && !rc; k++) {
        rc = gl_forward(g, &id, 1, 0, e);
        if (rc) break;
        const float* l = gl_logits(g, 0);
        int best = 0;
        for (int i = 1; i < nv; i++)
            if (l[i] > l[best]) best = i;
        id = best;
    }
    gl_finish();
    *tp = t1 - t0;
    *tg = session_now() - t1;
    return rc;
}

// Per-op GPU time of the last profiled forwards, summed over layers by op name, slowest first.
static void print_profile(const struct GlEngine* g, const char* what) {
    struct Row {
        const char* name;
        double ns;
        int ops;
    } rows[64];
    int n_rows = 0;
    double total = 0;
    for (int i = 0; i < g->g.n_ops; i++) {
        const char* name = g->g.ops[i].name;
        int r = 0;
        while (r < n_rows && strcmp(rows[r].name, name))
            r++;
        if (r == n_rows) {
            if (n_rows == 64) continue;
            rows[n_rows++] = (struct Row){name, 0, 0};
        }
        rows[r].ns += g->op_ns[i];
        rows[r].ops++;
        total += g->op_ns[i];
    }
    for (int a = 1; a < n_rows; a++) // insertion sort, slowest first
        for (int b = a; b > 0 && rows[b].ns > rows[b - 1].ns; b--) {
            struct Row t = rows[b];
            rows[b] = rows[b - 1];
            rows[b - 1] = t;
        }
    int n = g->n_profiled > 0 ? g->n_profiled : 1;
    fprintf(stderr, "profile, %s: %.1f us of GPU time per forward (%d forwards)\n", what,
            total / n / 1e3, g->n_profiled);
    fprintf(stderr, "  %-16s %5s %10s %6s\n", "op", "count", "us", "share");
    for (int r = 0; r < n_rows; r++)
        fprintf(stderr, "  %-16s %5d %10.1f %5.1f%%\n", rows[r].name, rows[r].ops,
                rows[r].ns / n / 1e3, total > 0 ? 100 * rows[r].ns / total : 0);
}

// One profiled prompt pass (per-op times for the whole prompt) and n_g profiled tokens.
static int bench_profile(struct GlEngine* g, const int32_t* ids, int n_p, int n_g, struct Err* e) {
    int rc = gl_profile(g, 1, e);
    gl_reset(g);
    for (int i = 0; i < n_p && !rc; i += g->max_batch) {
        int n = n_p - i < g->max_batch ? n_p - i : g->max_batch;
        rc = gl_forward(g, ids + i, n, 1, e);
    }
    if (!rc) print_profile(g, "prompt");
    if (!rc) rc = gl_profile(g, 1, e); // restart the sums
    int32_t id = ids[n_p - 1];
    for (int k = 0; k < n_g && !rc; k++)
        rc = gl_forward(g, &id, 1, 0, e);
    if (!rc && n_g > 0) print_profile(g, "generation");
    gl_profile(g, 0, e);
    return rc;
}

static int cmd_bench(int argc, char** argv) {
    const char* model = NULL;
    int64_t n_p = 512, n_g = 128, reps = 3;
    int json = 0, profile = 0, rc = 0;
    struct Err e = {0};
    for (int i = 1; i < argc && !rc; i++) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(BENCH_HELP, stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && v) {
            model = argv[++i];
        } else if (!strcmp(a, "-p") && v) {
            rc = cli_int("-p", argv[++i], 1, 1 << 20, &n_p, &e);
        } else if (!strcmp(a, "-n") && v) {
            rc = cli_int("-n", argv[++i], 0, 1 << 20, &n_g, &e);
        } else if (!strcmp(a, "-r") && v) {
            rc = cli_int("-r", argv[++i], 1, 1000, &reps, &e);
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--profile")) {
            profile = 1;
        } else {
            return usage_error("bench", "unknown or incomplete option '%s'", a);
        }
    }
    if (rc) return fail(&e);
    if (!model) return usage_error("bench", "%s", "-m MODEL is required");
    struct Model m;
    if ((rc = model_open(&m, model, &e))) {
        session_hint(&e);
        return fail(&e);
    }
    int32_t* ids = malloc((size_t)n_p * sizeof(int32_t));
    double* tps = calloc((size_t)reps, sizeof(double));
    double* tgs = calloc((size_t)reps, sizeof(double));
    struct GlEngine g = {0};
    if (!ids || !tps || !tgs) rc = err_set(&e, ERR_NOMEM, "out of memory");
    for (int64_t i = 0; !rc && i < n_p; i++)
        ids[i] = (int32_t)((1 + i * 7919) % m.config.n_vocab);
    int n_ctx = (int)(n_p + n_g);
    struct GlOptions opt;
    gl_options_from_env(&opt);
    if (!rc) rc = gl_init(&g, &m, n_ctx, n_p < 512 ? (int)n_p : 512, &opt, &e);
    double tp, tg;
    // Warm-up: Mesa compiles each program at its first dispatch; drivers page buffers in.
    if (!rc) rc = bench_once(&g, ids, (int)n_p, n_g < 4 ? (int)n_g : 4, &tp, &tg, &e);
    for (int r = 0; r < reps && !rc; r++)
        rc = bench_once(&g, ids, (int)n_p, (int)n_g, &tps[r], &tgs[r], &e);
    if (!rc && profile) rc = bench_profile(&g, ids, (int)n_p, (int)n_g, &e);
    if (!rc) {
        qsort(tps, (size_t)reps, sizeof(double), cmp_double);
        qsort(tgs, (size_t)reps, sizeof(double), cmp_double);
        double mp = tps[reps / 2], mg = tgs[reps / 2];
        double pps = mp > 0 ? (double)n_p / mp : 0, gps = mg > 0 ? (double)n_g / mg : 0;
        if (json) {
            cJSON* o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", model);
            cJSON_AddStringToObject(o, "renderer", g.renderer);
            cJSON_AddStringToObject(o, "egl", g.egl_path);
            cJSON_AddNumberToObject(o, "prompt_tokens", (double)n_p);
            cJSON_AddNumberToObject(o, "prompt_tok_s", pps);
            cJSON_AddNumberToObject(o, "gen_tokens", (double)n_g);
            cJSON_AddNumberToObject(o, "gen_tok_s", gps);
            cJSON_AddNumberToObject(o, "repeats", (double)reps);
            add_fused(o, &g);
            char* s = cJSON_PrintUnformatted(o);
            if (s) printf("%s\n", s);
            free(s);
            cJSON_Delete(o);
        } else {
            struct GlFuseSummary fs;
            char text[160];
            gl_fuse_summary(&g, &fs);
            gl_fuse_describe(&fs, text, sizeof(text));
            printf("renderer: %s (EGL %s)\n", g.renderer, g.egl_path);
            printf("fused:    %s\n", text);
            printf("prompt:     %6lld tokens  %10.2f tok/s\n", (long long)n_p, pps);
            printf("generation: %6lld tokens  %10.2f tok/s\n", (long long)n_g, gps);
            printf("(median of %lld after a warm-up)\n", (long long)reps);
        }
    }
    gl_free(&g);
    free(ids);
    free(tps);
    free(tgs);
    model_free(&m);
    return rc ? fail(&e) : 0;
}

// ---------------------------------------------------------------------------------------
// dispatch

// the commands only mattn-gles has (info, run and logits come from engine_cmd.c)
static const struct SessionCommand COMMANDS[] = {
    {"bench", cmd_bench, "prompt and generation speed on this GPU"},
};

int main(int argc, char** argv) {
    return engine_main(&GLES_ENGINE, COMMANDS, (int)(sizeof(COMMANDS) / sizeof(COMMANDS[0])), argc,
                       argv);
}
