// mattn-ref: the FP64 reference engine's command line.
// Each subcommand parses its own flags, does its work through shared/ and ref/, and
// returns an exit status: 0 ok, 1 failure (one line on stderr says what and where), 2 bad
// usage. This is the only ref/ file that prints errors or exits.
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "convert_cmd.h"
#include "gguf.h"
#include "info.h"
#include "model.h"
#include "ref.h"
#include "sampler.h"
#include "session.h"
#include "tokenizer.h"
#include "tokenize_cmd.h"
#include "synth_cmd.h"

static int fail(const struct Err* e) {
    fprintf(stderr, "mattn-ref: error: %s\n", e->msg);
    return e->code == ERR_ARG ? EXIT_USAGE : 1;
}

static int usage_error(const char* cmd, const char* fmt, const char* arg) {
    fprintf(stderr, "mattn-ref %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'mattn-ref %s --help')\n", cmd);
    return EXIT_USAGE;
}

// ---------------------------------------------------------------------------------------
// info

static int cmd_info(int argc, char** argv) {
    return session_info("mattn-ref", argc, argv, NULL);
}

// ---------------------------------------------------------------------------------------
// run / logits: the engine calls; options, prompt, dumps and output formats are app/session.c

static int engine_forward(void* self, const int32_t* ids, int n, int last_only, struct Err* e) {
    return ref_forward(self, ids, n, last_only, e);
}

static const double* engine_logits(void* self, int t) {
    return ref_logits(self, t);
}

// ---------------------------------------------------------------------------------------
// logits

static const char LOGITS_HELP[] =
    "usage: mattn-ref logits -m MODEL (--ids \"1 7 42\" | -p TEXT | -f FILE) -o OUT.bin\n"
    "                        [--dump DIR] [-c CTX] [-t THREADS] [--no-bos]\n"
    "Runs the prompt teacher-forced and writes the logits after every position as\n"
    "little-endian float64 [n_tokens][n_vocab]. --ids are used as given (no BOS added).\n"
    "  --dump DIR   also write every op output at every position (docs/DUMP.md)\n";

static int cmd_logits(int argc, char** argv) {
    struct RunOpts o = {0};
    struct Err e = {0};
    sampler_params_default(&o.sp);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(LOGITS_HELP, stdout);
            return 0;
        }
        int rc = session_parse_opt(&o, argc, argv, &i, &e);
        if (rc < 0) return fail(&e);
        if (rc == 0) return usage_error("logits", "unknown or incomplete option '%s'", argv[i]);
    }
    if (!o.out) return usage_error("logits", "%s", "-o OUT.bin is required");
    if (cli_output("-o", o.out, &e)) return fail(&e);
    struct Session s;
    struct RefEngine r = {0};
    int rc = session_open(&s, &o, 0, &e);
    if (!rc) rc = ref_init(&r, &s.model, s.n_ctx, s.n_ids, (int)o.n_threads, &e);
    struct DumpCtx d = {0};
    if (!rc && o.dump && !(rc = session_dump_open(&d, o.dump, &e))) {
        r.hook = session_dump_rows;
        r.hook_ctx = &d;
    }
    if (!rc) rc = ref_forward(&r, s.ids, s.n_ids, 0, &e);
    if (o.dump && d.index) {
        struct Err de = {0};
        if (session_dump_close(&d, &de) && !rc) rc = err_set(&e, de.code, "%s", de.msg);
    }
    if (!rc) {
        struct SessionEngine eng = {&r, r.max_batch, engine_forward, engine_logits};
        size_t nv = (size_t)s.model.config.n_vocab;
        rc = session_write_logits(o.out, &eng, s.n_ids, (int)nv, &e);
        if (!rc) fprintf(stderr, "mattn-ref: wrote %d x %zu logits to %s\n", s.n_ids, nv, o.out);
    }
    ref_free(&r);
    session_free(&s);
    return rc ? fail(&e) : 0;
}

// ---------------------------------------------------------------------------------------
// run

static const char RUN_HELP[] =
    "usage: mattn-ref run -m MODEL (-p PROMPT | -f FILE | --ids \"1 7 42\") [options]\n"
    "Generates text after the prompt and streams it to stdout (the prompt is not echoed).\n"
    "  -n N                 tokens to generate (default 128; -1 = until EOS); stops\n"
    "                       early at EOS or when the context is full\n"
    "  -c CTX               context size (default: the model's, at most 4096)\n"
    "  -t THREADS           worker threads (default: all cores); results do not depend on it\n"
    "  --seed S             sampling seed (default: random, printed on stderr)\n"
    "  --temp T             temperature (0.8; 0 = greedy)\n"
    "  --top-k K            keep the K most likely tokens (40; 0 = all)\n"
    "  --top-p P            nucleus sampling (0.95; 1 = off)\n"
    "  --min-p P            drop tokens below P x the top probability (0.05; 0 = off)\n"
    "  --repeat-penalty R   penalise tokens of the last N (1.0 = off)\n"
    "  --repeat-last-n N    window of the repeat penalty (64; -1 = whole context)\n"
    "  --no-bos             do not add BOS to a text prompt\n"
    "  --ignore-eos         keep generating after EOS\n"
    "  --print-ids          print the generated ids instead of text (EOS included)\n"
    "  --json               print the timing summary on stderr as one JSON object\n";

static int cmd_run(int argc, char** argv) {
    struct RunOpts o = {0};
    struct Err e = {0};
    sampler_params_default(&o.sp);
    o.n_predict = 128;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(RUN_HELP, stdout);
            return 0;
        }
        int rc = session_parse_opt(&o, argc, argv, &i, &e);
        if (rc < 0) return fail(&e);
        if (rc == 0) return usage_error("run", "unknown or incomplete option '%s'", argv[i]);
    }
    if (sampler_params_check(&o.sp, &e)) return fail(&e);
    if (!o.seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o.sp.seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    double t_start = session_now();
    struct Session s;
    struct RefEngine r = {0};
    struct Sampler smp = {0};
    int rc = session_open(&s, &o, 0, &e);
    if (!rc && !s.have_tok && !o.print_ids)
        rc = err_set(&e, ERR_UNSUPPORTED, "%s has no tokenizer to print text with; add --print-ids",
                     o.model);
    const int max_batch = 512;
    if (!rc)
        rc = ref_init(&r, &s.model, s.n_ctx, s.n_ids < max_batch ? s.n_ids : max_batch,
                      (int)o.n_threads, &e);
    if (!rc) rc = sampler_init(&smp, &o.sp, s.model.config.n_vocab, &e);
    if (rc) {
        sampler_free(&smp);
        ref_free(&r);
        session_free(&s);
        return fail(&e);
    }
    fprintf(stderr, "mattn-ref: seed %llu\n", (unsigned long long)o.sp.seed);
    double t_loaded = session_now(), tp = 0, tg = 0;
    int n_gen = 0;
    struct SessionEngine eng = {&r, r.max_batch, engine_forward, engine_logits};
    rc = session_generate(&s, &o, &smp, &eng, &tp, &tg, &n_gen, &e);
    if (!rc)
        session_print_timing(stderr, "mattn-ref", &o, s.n_ids, t_loaded - t_start, tp, n_gen, tg);
    sampler_free(&smp);
    ref_free(&r);
    session_free(&s);
    return rc ? fail(&e) : 0;
}

// ---------------------------------------------------------------------------------------
// dispatch

static const struct SessionCommand COMMANDS[] = {
    {"info", cmd_info, "describe a GGUF file (--json for scripts)"},
    {"run", cmd_run, "generate text from a prompt"},
    {"logits", cmd_logits, "write the logits of every prompt position (float64)"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"convert", cmd_convert, "convert a Hugging Face checkpoint directory to GGUF"},
    {"synth", cmd_synth, "write a seeded random-weight model of a given shape"},
};

int main(int argc, char** argv) {
    return session_main("mattn-ref",
                        "The FP64 reference engine for hybrid language models in GGUF files.",
                        COMMANDS, (int)(sizeof(COMMANDS) / sizeof(COMMANDS[0])), argc, argv);
}
