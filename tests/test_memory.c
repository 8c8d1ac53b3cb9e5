// test_memory.c: memory stability. 200 consecutive generations in one process with each
// engine on ../shared/models/stories260K.gguf, each done the way `run` does one: open the
// session (map the model, load the tokenizer, tokenize the prompt), create the engine and the
// sampler, generate 8 tokens through session_generate, free everything. After a warm-up
// (20 generations for ref; 100 for gles, because llvmpipe's worker threads fill their malloc
// arenas over the first ~100) and after generation 200 the test reads two measures:
// - the resident set (/proc/self/statm), which must grow by less than 1 MiB (ref) or 4 MiB
//   (gles: measured +0.3 to +1.0 MiB from 100 to 200 on llvmpipe, arena noise);
// - the malloc heap in use (mallinfo2), exact, which must grow by less than 256 KiB (measured:
//   ref +0, gles +43 KiB, Mesa's name tables). RSS alone can miss a leak that lands in pages
//   already resident.
// Proof that it fails: a leak of 8 KiB per generation (in session_free) measured ref RSS
// +3336 KiB and heap +1443 KiB; gles heap +847 KiB (its RSS only +124 KiB); a leaked KV cache
// (ref_free, gl_free) measured RSS +16 MiB (ref) and +6 MiB (gles). All fail.
// Takes about 1 s (ref) + 10 s (gles on llvmpipe); not run under valgrind (make check).
#include <fcntl.h>
#include <malloc.h>
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
#include "gl_env.h"
#include "gles.h"
#include "ref.h"
#include "sampler.h"
#include "session.h"

#define N_GEN 200
#define REF_WARM 20
#define GLES_WARM 100
#define N_TOKENS 8
#define REF_RSS_KIB 1024
#define GLES_RSS_KIB 4096
#define HEAP_KIB 256

#ifdef __SANITIZE_ADDRESS__
// Under ASan freed blocks sit in a quarantine that grows the resident set by design; with no
// quarantine, reuse is as in a plain build and the bound still means something.
const char* __asan_default_options(void);
const char* __asan_default_options(void) {
    return "quarantine_size_mb=0";
}
#endif

static long rss_kib(void) {
    FILE* f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Bytes the process holds through malloc (every arena, mmapped chunks included), in KiB.
// Exact where RSS is not: a leak can land in freed-but-resident pages and leave RSS flat.
// 0 under ASan, whose allocator glibc's mallinfo2 does not see.
static long heap_kib(void) {
    struct mallinfo2 mi = mallinfo2();
    return (long)((mi.uordblks + mi.hblkhd) / 1024);
}

// ---------------------------------------------------------------------------------------
// the two engines behind session_generate's callbacks

struct Engine {
    int (*init)(void* self, const struct Model* m, int n_ctx, int max_batch, struct Err* e);
    void (*free)(void* self);
    struct SessionEngine se;
};

static int ref_fwd(void* self, const int32_t* ids, int n, int last_only, struct Err* e) {
    return ref_forward(self, ids, n, last_only, e);
}
static const double* ref_row(void* self, int t) {
    return ref_logits(self, t);
}
static int ref_make(void* self, const struct Model* m, int n_ctx, int max_batch, struct Err* e) {
    return ref_init(self, m, n_ctx, max_batch, 0, e);
}
static void ref_drop(void* self) {
    ref_free(self);
}

struct GlesBox {
    struct GlEngine g;
    double row[4096];
};
static int gl_fwd(void* self, const int32_t* ids, int n, int last_only, struct Err* e) {
    return gl_forward(&((struct GlesBox*)self)->g, ids, n, last_only, e);
}
static const double* gl_row(void* self, int t) {
    struct GlesBox* b = self;
    const float* f = gl_logits(&b->g, t);
    for (int i = 0; i < b->g.m->config.n_vocab; i++)
        b->row[i] = f[i];
    return b->row;
}
static int gl_make(void* self, const struct Model* m, int n_ctx, int max_batch, struct Err* e) {
    if (m->config.n_vocab > 4096) return err_set(e, ERR_ARG, "vocab too large for the test");
    struct GlOptions opt;
    gl_options_from_env(&opt);
    return gl_init(&((struct GlesBox*)self)->g, m, n_ctx, max_batch, &opt, e);
}
static void gl_drop(void* self) {
    gl_free(&((struct GlesBox*)self)->g);
}

// One `run`: returns 0 or fails the test.
static void one_run(struct Engine* eng, void* self, const char* model, int i) {
    struct RunOpts o = {0};
    sampler_params_default(&o.sp);
    o.model = model;
    o.prompt = "Once upon a time";
    o.n_predict = N_TOKENS;
    o.n_ctx = 64;
    o.print_ids = 1;
    o.sp.seed = (uint64_t)i;
    struct Session s;
    struct Sampler smp = {0};
    struct Err e = {0};
    int rc = session_open(&s, &o, 0, &e);
    if (!rc) rc = eng->init(self, &s.model, s.n_ctx, s.n_ids, &e);
    if (!rc) rc = sampler_init(&smp, &o.sp, s.model.config.n_vocab, &e);
    if (!rc) {
        eng->se.self = self;
        eng->se.max_batch = s.n_ids;
        double tp, tg;
        int n_gen = 0;
        rc = session_generate(&s, &o, &smp, &eng->se, &tp, &tg, &n_gen, &e);
        if (!rc && n_gen != N_TOKENS) rc = err_set(&e, ERR_FORMAT, "generated %d tokens", n_gen);
    }
    sampler_free(&smp);
    if (eng->se.self) eng->free(self);
    eng->se.self = NULL;
    session_free(&s);
    if (rc) fail_msg("generation %d: %s", i, e.msg);
}

// Runs N_GEN generations with stdout (the generated ids) sent to /dev/null and fills the
// growth, between generation n_warm and N_GEN, of the resident set and of the malloc heap in
// KiB (MATTN_RSS_TRACE=1 prints both every 20 generations).
static void growth(struct Engine* eng, void* self, const char* model, int n_warm, long* rss,
                   long* heap) {
    fflush(stdout);
    int saved = dup(1), null = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && null >= 0);
    dup2(null, 1);
    close(null);
    long rss0 = 0, heap0 = 0;
    for (int i = 1; i <= N_GEN; i++) {
        one_run(eng, self, model, i);
        if (i == n_warm) {
            rss0 = rss_kib();
            heap0 = heap_kib();
        }
        if (getenv("MATTN_RSS_TRACE") && i % 20 == 0)
            fprintf(stderr, "%d: rss %ld heap %ld\n", i, rss_kib(), heap_kib());
    }
    long rss1 = rss_kib(), heap1 = heap_kib();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    printf("after %d generations: resident %ld KiB, heap %ld KiB; after %d: resident %ld KiB "
           "(%+ld), heap %ld KiB (%+ld)\n",
           n_warm, rss0, heap0, N_GEN, rss1, rss1 - rss0, heap1, heap1 - heap0);
    *rss = rss1 - rss0;
    *heap = heap1 - heap0;
}

static void test_memory_ref_200_generations(void** state) {
    (void)state;
    char path[512];
    if (!shared_path(path, sizeof(path), "models/stories260K.gguf")) skip();
    struct RefEngine r = {0};
    struct Engine eng = {ref_make, ref_drop, {NULL, 0, ref_fwd, ref_row}};
    long rss, heap;
    growth(&eng, &r, path, REF_WARM, &rss, &heap);
    assert_true(rss < REF_RSS_KIB);
    assert_true(heap < HEAP_KIB);
}

static void test_memory_gles_200_generations(void** state) {
    (void)state;
    char path[512];
    if (!shared_path(path, sizeof(path), "models/stories260K.gguf")) skip();
    struct Err e = {0};
    const char *egl, *renderer;
    struct GlOptions opt;
    gl_options_from_env(&opt);
    if (gl_context_acquire(opt.egl, &egl, &renderer, &e)) {
        printf("SKIP: %s\n", e.msg);
        skip();
    }
    // Each engine acquires and releases the context; holding one reference here keeps the
    // display alive between generations, as a long-lived program would.
    static struct GlesBox box;
    struct Engine eng = {gl_make, gl_drop, {NULL, 0, gl_fwd, gl_row}};
    long rss, heap;
    growth(&eng, &box, path, GLES_WARM, &rss, &heap);
    gl_context_release();
    assert_true(rss < GLES_RSS_KIB);
    assert_true(heap < HEAP_KIB);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_ref_200_generations),
        cmocka_unit_test(test_memory_gles_200_generations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
