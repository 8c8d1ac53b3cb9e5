// engine_cmd.c: see engine_cmd.h. `run` and `logits` as both binaries run them: options and
// prompt through session.c, the engine through the EngineDef's calls.
#include "engine_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sampler.h"

int engine_fail(const struct EngineDef* def, const struct Err* e) {
    fprintf(stderr, "%s: error: %s\n", def->prog, e->msg);
    return e->code == ERR_ARG ? EXIT_USAGE : 1;
}

static int usage_error(const struct EngineDef* def, const char* cmd, const char* fmt,
                       const char* arg) {
    fprintf(stderr, "%s %s: ", def->prog, cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see '%s %s --help')\n", def->prog, cmd);
    return EXIT_USAGE;
}

// Parses the options of run/logits into o. Returns -1 to go on, else the exit status (after
// --help or a bad option).
static int parse_opts(const struct EngineDef* def, const char* cmd, const char* help,
                      struct RunOpts* o, int argc, char** argv) {
    struct Err e = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(help, stdout);
            return 0;
        }
        int rc = session_parse_opt(o, argc, argv, &i, &e);
        if (rc < 0) return engine_fail(def, &e);
        if (rc == 0) return usage_error(def, cmd, "unknown or incomplete option '%s'", argv[i]);
    }
    return -1;
}

// The engine object: def->size bytes, zeroed, freed through def->free.
static void* engine_new(const struct EngineDef* def, struct Err* e) {
    void* self = calloc(1, def->size);
    if (!self) err_set(e, ERR_NOMEM, "out of memory");
    return self;
}

static void engine_delete(const struct EngineDef* def, void* self) {
    if (!self) return;
    def->free(self);
    free(self);
}

// ---------------------------------------------------------------------------------------
// logits

static int cmd_logits(const struct EngineDef* def, int argc, char** argv) {
    struct RunOpts o = {0};
    struct Err e = {0};
    sampler_params_default(&o.sp);
    int status = parse_opts(def, "logits", def->logits_help, &o, argc, argv);
    if (status >= 0) return status;
    if (!o.out) return usage_error(def, "logits", "%s", "-o OUT.bin is required");
    if (cli_output("-o", o.out, &e)) return engine_fail(def, &e);
    struct Session s;
    struct DumpCtx d = {0};
    void* x = NULL;
    int rc = session_open(&s, &o, 0, &e);
    if (!rc && !(x = engine_new(def, &e))) rc = e.code;
    if (!rc) rc = def->init(x, &s.model, &o, s.n_ctx, s.n_ids, &e);
    if (!rc && o.dump && !(rc = session_dump_open(&d, o.dump, &e)))
        rc = def->dump(x, &d, s.n_ids, &e);
    if (!rc) rc = def->forward(x, s.ids, s.n_ids, 0, &e);
    if (o.dump && d.index) {
        struct Err de = {0};
        if (session_dump_close(&d, &de) && !rc) rc = err_set(&e, de.code, "%s", de.msg);
    }
    if (!rc) {
        struct SessionEngine eng = {x, def->max_batch(x), def->forward, def->logits};
        size_t nv = (size_t)s.model.config.n_vocab;
        rc = session_write_logits(o.out, &eng, s.n_ids, (int)nv, &e);
        if (!rc)
            fprintf(stderr, "%s: wrote %d x %zu logits to %s\n", def->prog, s.n_ids, nv, o.out);
    }
    engine_delete(def, x);
    session_free(&s);
    return rc ? engine_fail(def, &e) : 0;
}

// ---------------------------------------------------------------------------------------
// run

static int cmd_run(const struct EngineDef* def, int argc, char** argv) {
    struct RunOpts o = {0};
    struct Err e = {0};
    sampler_params_default(&o.sp);
    o.n_predict = 128;
    int status = parse_opts(def, "run", def->run_help, &o, argc, argv);
    if (status >= 0) return status;
    if (sampler_params_check(&o.sp, &e)) return engine_fail(def, &e);
    if (!o.seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o.sp.seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    double t_start = session_now();
    struct Session s;
    struct Sampler smp = {0};
    void* x = NULL;
    int rc = session_open(&s, &o, 0, &e);
    if (!rc && !s.have_tok && !o.print_ids)
        rc = err_set(&e, ERR_UNSUPPORTED, "%s has no tokenizer to print text with; add --print-ids",
                     o.model);
    const int max_batch = 512;
    if (!rc && !(x = engine_new(def, &e))) rc = e.code;
    if (!rc)
        rc = def->init(x, &s.model, &o, s.n_ctx, s.n_ids < max_batch ? s.n_ids : max_batch, &e);
    if (!rc) rc = sampler_init(&smp, &o.sp, s.model.config.n_vocab, &e);
    if (rc) {
        sampler_free(&smp);
        engine_delete(def, x);
        session_free(&s);
        return engine_fail(def, &e);
    }
    fprintf(stderr, "%s: seed %llu\n", def->prog, (unsigned long long)o.sp.seed);
    double t_loaded = session_now(), tp = 0, tg = 0;
    int n_gen = 0;
    struct SessionEngine eng = {x, def->max_batch(x), def->forward, def->logits};
    rc = session_generate(&s, &o, &smp, &eng, &tp, &tg, &n_gen, &e);
    if (!rc)
        session_print_timing(stderr, def->prog, &o, s.n_ids, t_loaded - t_start, tp, n_gen, tg);
    sampler_free(&smp);
    engine_delete(def, x);
    session_free(&s);
    return rc ? engine_fail(def, &e) : 0;
}

// ---------------------------------------------------------------------------------------
// dispatch

static const struct {
    const char* name;
    int (*fn)(const struct EngineDef* def, int argc, char** argv);
    const char* summary;
} COMMON[] = {
    {"info", NULL, "describe a GGUF file (--json for scripts)"},
    {"run", cmd_run, "generate text from a prompt"},
    {"logits", cmd_logits, "write the logits of every prompt position (float64)"},
};

int engine_main(const struct EngineDef* def, const struct SessionCommand* extra, int n_extra,
                int argc, char** argv) {
    const char* prog = def->prog;
    int n_common = (int)(sizeof(COMMON) / sizeof(COMMON[0]));
    if (argc < 2) {
        fprintf(stderr, "%s: no command given (try '%s --help')\n", prog, prog);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        printf("usage: %s COMMAND [options]   (%s COMMAND --help for details)\n%s\n\ncommands:\n",
               prog, prog, def->blurb);
        for (int i = 0; i < n_common; i++)
            printf("  %-10s %s\n", COMMON[i].name, COMMON[i].summary);
        for (int i = 0; i < n_extra; i++)
            printf("  %-10s %s\n", extra[i].name, extra[i].summary);
        return engine_check_stdout(prog, 0);
    }
    int status = -1;
    if (!strcmp(argv[1], "info")) status = session_info(prog, argc - 1, argv + 1, def->info_fields);
    for (int i = 0; i < n_common && status < 0; i++)
        if (COMMON[i].fn && !strcmp(argv[1], COMMON[i].name))
            status = COMMON[i].fn(def, argc - 1, argv + 1);
    for (int i = 0; i < n_extra && status < 0; i++)
        if (!strcmp(argv[1], extra[i].name)) status = extra[i].fn(argc - 1, argv + 1);
    if (status < 0) {
        fprintf(stderr, "%s: unknown command '%s' (try '%s --help')\n", prog, argv[1], prog);
        return EXIT_USAGE;
    }
    return engine_check_stdout(prog, status);
}

int engine_check_stdout(const char* prog, int status) {
    if ((fflush(stdout) || ferror(stdout)) && status == 0) {
        fprintf(stderr, "%s: error: cannot write to standard output: %s\n", prog,
                errno ? strerror(errno) : "write error");
        return 1;
    }
    return status;
}
