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
#include "gguf.h"
#include "info.h"
#include "model.h"
#include "ref.h"
#include "sampler.h"
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

static const char INFO_HELP[] =
    "usage: mattn-ref info -m MODEL.gguf [--json] [--kv] [--tensors]\n"
    "Describes a GGUF file: architecture, name, layers, widths, heads, context, vocabulary,\n"
    "tensor count and types, parameter count, file size.\n"
    "  -m, --model FILE  the GGUF file\n"
    "  --json            one JSON object on stdout (for scripts)\n"
    "  --kv              also list every metadata key and value\n"
    "  --tensors         also list every tensor (name, type, shape, offset)\n";

static int cmd_info(int argc, char** argv) {
    const char* model = NULL;
    int json = 0, kv = 0, tensors = 0;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(INFO_HELP, stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--kv")) {
            kv = 1;
        } else if (!strcmp(a, "--tensors")) {
            tensors = 1;
        } else {
            return usage_error("info", "unknown or incomplete option '%s'", a);
        }
    }
    if (!model) return usage_error("info", "%s", "-m MODEL is required");
    struct Gguf g;
    struct Err e = {0};
    if (gguf_open(&g, model, &e)) return fail(&e);
    cJSON* o = info_describe(&g, model);
    if (o && kv) info_add_kv(o, &g);
    if (o && tensors) info_add_tensors(o, &g);
    gguf_free(&g);
    if (!o) {
        fprintf(stderr, "mattn-ref: error: out of memory\n");
        return 1;
    }
    if (json) {
        char* s = cJSON_PrintUnformatted(o);
        if (s) printf("%s\n", s);
        free(s);
    } else {
        info_print_text(stdout, o);
    }
    cJSON_Delete(o);
    return 0;
}

// ---------------------------------------------------------------------------------------
// run / logits: options both share

struct RunOpts {
    const char* model;
    const char* prompt;     // -p TEXT
    const char* prompt_file;// -f FILE
    const char* ids;        // --ids "1 7 42"
    const char* out;        // -o FILE (logits)
    const char* dump;       // --dump DIR (logits)
    int64_t n_predict;      // -n
    int64_t n_ctx;          // -c (0: the model's, capped at 4096)
    int64_t n_threads;      // -t (0: all cores)
    int no_bos, ignore_eos, print_ids, json;
    int seed_given;
    struct SamplerParams sp;
};

// Parses one option of run/logits at argv[*i]. Returns 1 when consumed, 0 when unknown,
// negative on a bad value (message in e).
static int parse_run_opt(struct RunOpts* o, int argc, char** argv, int* i, struct Err* e) {
    const char* a = argv[*i];
    const char* v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int64_t n;
    int rc = 0;
#define TAKES(flag) ((!strcmp(a, flag)) && v && (++*i, 1))
    if (TAKES("-m") || (!strcmp(a, "--model") && v && (++*i, 1))) o->model = v;
    else if (TAKES("-p") || (!strcmp(a, "--prompt") && v && (++*i, 1))) o->prompt = v;
    else if (TAKES("-f") || (!strcmp(a, "--file") && v && (++*i, 1))) o->prompt_file = v;
    else if (TAKES("--ids")) o->ids = v;
    else if (TAKES("-o") || (!strcmp(a, "--output") && v && (++*i, 1))) o->out = v;
    else if (TAKES("--dump")) o->dump = v;
    else if (TAKES("-n") || (!strcmp(a, "--n-predict") && v && (++*i, 1))) rc = cli_int("-n", v, 0, INT32_MAX, &o->n_predict, e);
    else if (TAKES("-c") || (!strcmp(a, "--ctx-size") && v && (++*i, 1))) rc = cli_int("-c", v, 0, 1 << 24, &o->n_ctx, e);
    else if (TAKES("-t") || (!strcmp(a, "--threads") && v && (++*i, 1))) rc = cli_int("-t", v, 0, 1024, &o->n_threads, e);
    else if (TAKES("--seed")) { rc = cli_u64("--seed", v, &o->sp.seed, e); o->seed_given = 1; }
    else if (TAKES("--temp")) rc = cli_double("--temp", v, -1e300, 1e300, &o->sp.temp, e);
    else if (TAKES("--top-k")) { rc = cli_int("--top-k", v, INT32_MIN, INT32_MAX, &n, e); o->sp.top_k = (int)n; }
    else if (TAKES("--top-p")) rc = cli_double("--top-p", v, -1e300, 1e300, &o->sp.top_p, e);
    else if (TAKES("--min-p")) rc = cli_double("--min-p", v, -1e300, 1e300, &o->sp.min_p, e);
    else if (TAKES("--repeat-penalty")) rc = cli_double("--repeat-penalty", v, -1e300, 1e300, &o->sp.repeat_penalty, e);
    else if (TAKES("--repeat-last-n")) { rc = cli_int("--repeat-last-n", v, INT32_MIN, INT32_MAX, &n, e); o->sp.repeat_last_n = (int)n; }
    else if (!strcmp(a, "--no-bos")) o->no_bos = 1;
    else if (!strcmp(a, "--ignore-eos")) o->ignore_eos = 1;
    else if (!strcmp(a, "--print-ids")) o->print_ids = 1;
    else if (!strcmp(a, "--json")) o->json = 1;
    else return 0;
#undef TAKES
    return rc ? rc : 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// What run and logits load: model, tokenizer (when the file has one), prompt ids.
struct Session {
    struct Model model;
    struct Tokenizer tok;
    int have_tok;
    int32_t* ids;
    int n_ids;
    int n_ctx;
};

static void session_free(struct Session* s) {
    free(s->ids);
    tokenizer_free(&s->tok);
    model_free(&s->model);
}

static char* read_text_file(const char* path, size_t* len, struct Err* e) {
    FILE* f = fopen(path, "rb");
    if (!f) {
        err_set(e, ERR_IO, "cannot open prompt file '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char* buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char* nb = cap < (1u << 30) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) err_set(e, ERR_NOMEM, "prompt file '%s' is too large", path);
    *len = n;
    return buf;
}

// Loads the model and tokenizer and turns the prompt into ids. n_extra positions beyond the
// prompt must fit in the context.
static int session_open(struct Session* s, const struct RunOpts* o, int64_t n_extra, struct Err* e) {
    memset(s, 0, sizeof(*s));
    if (!o->model) return err_set(e, ERR_ARG, "-m MODEL is required");
    int n_src = !!o->prompt + !!o->prompt_file + !!o->ids;
    if (n_src != 1) return err_set(e, ERR_ARG, "give exactly one of -p TEXT, -f FILE or --ids \"1 2 3\"");
    int rc = model_open(&s->model, o->model, e);
    if (rc) return rc;
    const struct Config* c = &s->model.config;
    struct Err te = {0};
    s->have_tok = tokenizer_init(&s->tok, &s->model.gguf, &te) == 0;
    if (o->ids) {
        size_t cap = strlen(o->ids) / 2 + 2;
        s->ids = malloc(cap * sizeof(int32_t));
        if (!s->ids) return err_set(e, ERR_NOMEM, "out of memory");
        if ((rc = cli_ids("--ids", o->ids, s->ids, (int)cap, &s->n_ids, e))) return rc;
        for (int i = 0; i < s->n_ids; i++)
            if (s->ids[i] >= c->n_vocab)
                return err_set(e, ERR_ARG, "--ids: token %d is outside the vocabulary (0..%d)", s->ids[i],
                               c->n_vocab - 1);
    } else {
        if (!s->have_tok)
            return err_set(e, ERR_UNSUPPORTED, "%s: cannot tokenize a text prompt (%s); pass --ids", o->model,
                           te.msg);
        size_t len = 0;
        char* text = o->prompt ? (char*)o->prompt : read_text_file(o->prompt_file, &len, e);
        if (!text) return e->code;
        if (o->prompt) len = strlen(text);
        size_t cap = tokenizer_bound(len);
        s->ids = malloc(cap * sizeof(int32_t));
        rc = s->ids ? tokenizer_encode(&s->tok, text, len, !o->no_bos, 1, s->ids, (int)cap, &s->n_ids, e)
                    : err_set(e, ERR_NOMEM, "out of memory");
        if (!o->prompt) free(text);
        if (rc == ERR_UNSUPPORTED) {
            char tmp[sizeof(e->msg)];
            memcpy(tmp, e->msg, sizeof(tmp));
            snprintf(e->msg, sizeof(e->msg), "%.200s; give the prompt as --ids \"1 2 3\"", tmp);
        }
        if (rc) return rc;
        // An empty prompt is BOS alone, as in llama.cpp.
        if (s->n_ids == 0 && !o->no_bos && s->tok.bos_id >= 0) s->ids[s->n_ids++] = s->tok.bos_id;
    }
    if (s->n_ids == 0) return err_set(e, ERR_ARG, "the prompt is empty (no tokens to run)");
    int64_t n_ctx = o->n_ctx > 0 ? o->n_ctx : (c->n_ctx_train < 4096 ? c->n_ctx_train : 4096);
    if (s->n_ids + n_extra > n_ctx)
        return err_set(e, ERR_ARG, "the prompt (%d tokens) plus %lld to generate exceeds the context of %lld; "
                       "raise -c or lower -n", s->n_ids, (long long)n_extra, (long long)n_ctx);
    s->n_ctx = (int)n_ctx;
    return 0;
}

// ---------------------------------------------------------------------------------------
// logits

static const char LOGITS_HELP[] =
    "usage: mattn-ref logits -m MODEL (--ids \"1 7 42\" | -p TEXT | -f FILE) -o OUT.bin\n"
    "                        [--dump DIR] [-c CTX] [-t THREADS] [--no-bos]\n"
    "Runs the prompt teacher-forced and writes the logits after every position as\n"
    "little-endian float64 [n_tokens][n_vocab]. --ids are used as given (no BOS added).\n"
    "  --dump DIR   also write every op output at every position (docs/DUMP.md)\n";

struct DumpCtx {
    const char* dir;
    FILE* index;
    int failed;
};

static void dump_hook(void* ctx, const struct Op* op, int64_t pos0, int n, const double* out, int width) {
    struct DumpCtx* d = ctx;
    for (int t = 0; t < n && !d->failed; t++) {
        char name[160], path[4096];
        if (op->layer >= 0)
            snprintf(name, sizeof(name), "p%05lld-l%03d-%s.f64", (long long)(pos0 + t), op->layer, op->name);
        else
            snprintf(name, sizeof(name), "p%05lld-out-%s.f64", (long long)(pos0 + t), op->name);
        snprintf(path, sizeof(path), "%s/%s", d->dir, name);
        FILE* f = fopen(path, "wb");
        if (!f || fwrite(out + (size_t)t * width, sizeof(double), (size_t)width, f) != (size_t)width)
            d->failed = 1;
        if (f && fclose(f) != 0) d->failed = 1;
        fprintf(d->index, "%s\t%lld\t%d\t%s\t%d\n", name, (long long)(pos0 + t), op->layer, op->name, width);
    }
}

static int write_all_or_fail(FILE* f, const void* p, size_t n) { return fwrite(p, 1, n, f) == n; }

static int cmd_logits(int argc, char** argv) {
    struct RunOpts o = {0};
    struct Err e = {0};
    sampler_params_default(&o.sp);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(LOGITS_HELP, stdout);
            return 0;
        }
        int rc = parse_run_opt(&o, argc, argv, &i, &e);
        if (rc < 0) return fail(&e);
        if (rc == 0) return usage_error("logits", "unknown or incomplete option '%s'", argv[i]);
    }
    if (!o.out) return usage_error("logits", "%s", "-o OUT.bin is required");
    struct Session s;
    struct RefEngine r = {0};
    int rc = session_open(&s, &o, 0, &e);
    if (!rc) rc = ref_init(&r, &s.model, s.n_ctx, s.n_ids, (int)o.n_threads, &e);
    struct DumpCtx d = {o.dump, NULL, 0};
    if (!rc && o.dump) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/index.tsv", o.dump);
        if (mkdir(o.dump, 0755) != 0 && errno != EEXIST)
            rc = err_set(&e, ERR_IO, "--dump: cannot create '%s': %s", o.dump, strerror(errno));
        else if (!(d.index = fopen(path, "w")))
            rc = err_set(&e, ERR_IO, "--dump: cannot write '%s': %s", path, strerror(errno));
        else {
            fprintf(d.index, "file\tposition\tlayer\top\tcount\n");
            r.hook = dump_hook;
            r.hook_ctx = &d;
        }
    }
    if (!rc) rc = ref_forward(&r, s.ids, s.n_ids, 0, &e);
    if (d.index && fclose(d.index) != 0) d.failed = 1;
    if (!rc && d.failed) rc = err_set(&e, ERR_IO, "--dump: writing into '%s' failed", o.dump);
    if (!rc) {
        // Written to OUT.tmp and renamed: no half-written output on failure.
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", o.out);
        FILE* f = fopen(tmp, "wb");
        int ok = f != NULL;
        size_t nv = (size_t)s.model.config.n_vocab;
        for (int t = 0; ok && t < s.n_ids; t++) ok = write_all_or_fail(f, ref_logits(&r, t), nv * sizeof(double));
        if (f && fclose(f) != 0) ok = 0;
        if (ok && rename(tmp, o.out) != 0) ok = 0;
        if (!ok) {
            rc = err_set(&e, ERR_IO, "cannot write '%s': %s", o.out, strerror(errno));
            unlink(tmp);
        } else {
            fprintf(stderr, "mattn-ref: wrote %d x %zu logits to %s\n", s.n_ids, nv, o.out);
        }
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
    "  -n N                 tokens to generate (default 128); stops early at EOS\n"
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
        int rc = parse_run_opt(&o, argc, argv, &i, &e);
        if (rc < 0) return fail(&e);
        if (rc == 0) return usage_error("run", "unknown or incomplete option '%s'", argv[i]);
    }
    if (sampler_params_check(&o.sp, &e)) return fail(&e);
    if (!o.seed_given) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o.sp.seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    double t_start = now_s();
    struct Session s;
    struct RefEngine r = {0};
    struct Sampler smp = {0};
    int rc = session_open(&s, &o, o.n_predict, &e);
    if (!rc && !s.have_tok && !o.print_ids)
        rc = err_set(&e, ERR_UNSUPPORTED, "%s has no tokenizer to print text with; add --print-ids", o.model);
    const int max_batch = 512;
    if (!rc) rc = ref_init(&r, &s.model, s.n_ctx, s.n_ids < max_batch ? s.n_ids : max_batch, (int)o.n_threads, &e);
    if (!rc) rc = sampler_init(&smp, &o.sp, s.model.config.n_vocab, &e);
    if (rc) {
        sampler_free(&smp);
        ref_free(&r);
        session_free(&s);
        return fail(&e);
    }
    fprintf(stderr, "mattn-ref: seed %llu\n", (unsigned long long)o.sp.seed);
    double t_loaded = now_s();
    // Prompt: in batches; only the last position's logits are needed.
    for (int i = 0; i < s.n_ids && !rc; i += r.max_batch) {
        int n = s.n_ids - i < r.max_batch ? s.n_ids - i : r.max_batch;
        rc = ref_forward(&r, s.ids + i, n, 1, &e);
        for (int t = 0; t < n; t++) sampler_accept(&smp, s.ids[i + t]);
    }
    double t_prompt = now_s();
    int eos = s.have_tok ? s.tok.eos_id : -1;
    if (eos < 0) {
        int64_t v;
        if (gguf_get_int(&s.model.gguf, "tokenizer.ggml.eos_token_id", &v, NULL) == 0) eos = (int)v;
    }
    struct TokenizerStream ts;
    tokenizer_stream_init(&ts, 0);
    char* piece = s.have_tok ? malloc(s.tok.max_piece + 8) : NULL;
    int n_gen = 0, last_row = (s.n_ids - 1) % r.max_batch;
    for (; n_gen < o.n_predict && !rc; n_gen++) {
        int32_t id = sampler_sample(&smp, ref_logits(&r, last_row));
        last_row = 0;
        sampler_accept(&smp, id);
        int is_eos = id == eos && !o.ignore_eos;
        if (o.print_ids) {
            printf(n_gen ? " %d" : "%d", id);
        } else if (!is_eos && piece) {
            size_t n_out = 0;
            if (tokenizer_stream_push(&s.tok, &ts, id, piece, s.tok.max_piece + 8, &n_out, &e) == 0)
                fwrite(piece, 1, n_out, stdout);
        }
        fflush(stdout);
        if (is_eos) {
            n_gen++;
            break;
        }
        if (n_gen + 1 < o.n_predict) rc = ref_forward(&r, &id, 1, 0, &e);
    }
    if (piece) {
        size_t k = tokenizer_stream_flush(&ts, piece, s.tok.max_piece + 8);
        fwrite(piece, 1, k, stdout);
    }
    printf("\n");
    double t_end = now_s();
    free(piece);
    if (!rc) {
        double tp = t_prompt - t_loaded, tg = t_end - t_prompt;
        if (o.json)
            fprintf(stderr, "{\"seed\":%llu,\"load_s\":%.6f,\"prompt_tokens\":%d,\"prompt_tok_s\":%.3f,"
                    "\"gen_tokens\":%d,\"gen_tok_s\":%.3f}\n", (unsigned long long)o.sp.seed,
                    t_loaded - t_start, s.n_ids, tp > 0 ? s.n_ids / tp : 0.0, n_gen,
                    tg > 0 ? n_gen / tg : 0.0);
        else
            fprintf(stderr, "mattn-ref: load %.3f s; prompt %d tokens, %.2f tok/s; generated %d tokens, "
                    "%.2f tok/s\n", t_loaded - t_start, s.n_ids, tp > 0 ? s.n_ids / tp : 0.0, n_gen,
                    tg > 0 ? n_gen / tg : 0.0);
    }
    sampler_free(&smp);
    ref_free(&r);
    session_free(&s);
    return rc ? fail(&e) : 0;
}

// ---------------------------------------------------------------------------------------
// dispatch

struct Command {
    const char* name;
    int (*fn)(int argc, char** argv);
    const char* summary;
};

static const struct Command COMMANDS[] = {
    {"info", cmd_info, "describe a GGUF file (--json for scripts)"},
    {"run", cmd_run, "generate text from a prompt"},
    {"logits", cmd_logits, "write the logits of every prompt position (float64)"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"synth", cmd_synth, "write a seeded random-weight model of a given shape"},
};

static void usage(FILE* f) {
    fprintf(f, "usage: mattn-ref COMMAND [options]   (mattn-ref COMMAND --help for details)\n"
               "The FP64 reference engine for hybrid language models in GGUF files.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "mattn-ref: no command given (try 'mattn-ref --help')\n");
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "mattn-ref: unknown command '%s' (try 'mattn-ref --help')\n", argv[1]);
    return EXIT_USAGE;
}
