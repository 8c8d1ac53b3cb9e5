// session.c: see session.h. app/mattn_ref.c and app/mattn_gles.c share their options, their
// prompt handling, their --dump layout and their output formats through it.
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "info.h"

int session_parse_opt(struct RunOpts* o, int argc, char** argv, int* i, struct Err* e) {
    const char* a = argv[*i];
    const char* v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int64_t n;
    int rc = 0;
#define TAKES(flag) ((!strcmp(a, flag)) && v && (++*i, 1))
    if (TAKES("-m") || (!strcmp(a, "--model") && v && (++*i, 1)))
        o->model = v;
    else if (TAKES("-p") || (!strcmp(a, "--prompt") && v && (++*i, 1)))
        o->prompt = v;
    else if (TAKES("-f") || (!strcmp(a, "--file") && v && (++*i, 1)))
        o->prompt_file = v;
    else if (TAKES("--ids"))
        o->ids = v;
    else if (TAKES("-o") || (!strcmp(a, "--output") && v && (++*i, 1)))
        o->out = v;
    else if (TAKES("--dump"))
        o->dump = v;
    else if (TAKES("-n") || (!strcmp(a, "--n-predict") && v && (++*i, 1)))
        rc = cli_int("-n", v, -1, INT32_MAX, &o->n_predict, e);
    else if (TAKES("-c") || (!strcmp(a, "--ctx-size") && v && (++*i, 1)))
        rc = cli_int("-c", v, 0, 1 << 24, &o->n_ctx, e);
    else if (TAKES("-t") || (!strcmp(a, "--threads") && v && (++*i, 1)))
        rc = cli_int("-t", v, 0, 1024, &o->n_threads, e);
    else if (TAKES("--seed")) {
        rc = cli_u64("--seed", v, &o->sp.seed, e);
        o->seed_given = 1;
    } else if (TAKES("--temp"))
        rc = cli_double("--temp", v, -1e300, 1e300, &o->sp.temp, e);
    else if (TAKES("--top-k")) {
        rc = cli_int("--top-k", v, INT32_MIN, INT32_MAX, &n, e);
        o->sp.top_k = (int)n;
    } else if (TAKES("--top-p"))
        rc = cli_double("--top-p", v, -1e300, 1e300, &o->sp.top_p, e);
    else if (TAKES("--min-p"))
        rc = cli_double("--min-p", v, -1e300, 1e300, &o->sp.min_p, e);
    else if (TAKES("--repeat-penalty"))
        rc = cli_double("--repeat-penalty", v, -1e300, 1e300, &o->sp.repeat_penalty, e);
    else if (TAKES("--repeat-last-n")) {
        rc = cli_int("--repeat-last-n", v, INT32_MIN, INT32_MAX, &n, e);
        o->sp.repeat_last_n = (int)n;
    } else if (!strcmp(a, "--no-bos"))
        o->no_bos = 1;
    else if (!strcmp(a, "--ignore-eos"))
        o->ignore_eos = 1;
    else if (!strcmp(a, "--print-ids"))
        o->print_ids = 1;
    else if (!strcmp(a, "--json"))
        o->json = 1;
    else
        return 0;
#undef TAKES
    return rc ? rc : 1;
}

double session_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void session_free(struct Session* s) {
    free(s->ids);
    tokenizer_free(&s->tok);
    model_free(&s->model);
    memset(s, 0, sizeof(*s));
}

void session_hint(struct Err* e) {
    const char* hint = NULL;
    switch (e->code) {
    case ERR_IO: hint = "check the path"; break;
    case ERR_MAGIC:
        hint = "mattn reads GGUF files ('mattn-ref convert' makes one from a Hugging Face model)";
        break;
    case ERR_VERSION:
        hint = "convert the model again with a current llama.cpp or mattn-ref convert";
        break;
    case ERR_TRUNCATED:
        hint = "the file is incomplete (an interrupted download?): fetch it again";
        break;
    case ERR_FORMAT:
    case ERR_TYPE:
    case ERR_ALIGN:
    case ERR_OVERFLOW:
    case ERR_RANGE:
    case ERR_DUPLICATE: hint = "the file is damaged: fetch or convert it again"; break;
    case ERR_UNSUPPORTED: hint = "README.md lists what mattn runs"; break;
    case ERR_NOT_FOUND:
    case ERR_SHAPE: hint = "the file does not match its architecture: convert it again"; break;
    default: return;
    }
    size_t n = strlen(e->msg);
    if (n + 3 < sizeof(e->msg)) snprintf(e->msg + n, sizeof(e->msg) - n, "; %s", hint);
}

int session_open(struct Session* s, const struct RunOpts* o, int64_t n_extra, struct Err* e) {
    memset(s, 0, sizeof(*s));
    if (!o->model) return err_set(e, ERR_ARG, "-m MODEL is required");
    int n_src = !!o->prompt + !!o->prompt_file + !!o->ids;
    if (n_src != 1)
        return err_set(e, ERR_ARG, "give exactly one of -p TEXT, -f FILE or --ids \"1 2 3\"");
    int rc = model_open(&s->model, o->model, e);
    if (rc) {
        session_hint(e);
        return rc;
    }
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
                return err_set(e, ERR_ARG, "--ids: token %d is outside the vocabulary (0..%d)",
                               s->ids[i], c->n_vocab - 1);
    } else {
        if (!s->have_tok)
            return err_set(e, ERR_UNSUPPORTED, "%s: cannot tokenize a text prompt (%s); pass --ids",
                           o->model, te.msg);
        size_t len = 0;
        char* text = o->prompt ? (char*)o->prompt : cli_read_text("-f", o->prompt_file, &len, e);
        if (!text) return e->code;
        if (o->prompt) len = strlen(text);
        size_t cap = tokenizer_bound(len);
        s->ids = malloc(cap * sizeof(int32_t));
        rc = s->ids ? tokenizer_encode(&s->tok, text, len, !o->no_bos, 1, s->ids, (int)cap,
                                       &s->n_ids, e)
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
    int64_t n_ctx = o->n_ctx > 0            ? o->n_ctx
                    : c->n_ctx_train <= 0   ? 4096
                    : c->n_ctx_train < 4096 ? c->n_ctx_train
                                            : 4096;
    if (s->n_ids > n_ctx)
        return err_set(e, ERR_ARG,
                       "the prompt is %d tokens, longer than the context of %lld; "
                       "shorten it or raise -c",
                       s->n_ids, (long long)n_ctx);
    if (s->n_ids + n_extra > n_ctx)
        return err_set(e, ERR_ARG,
                       "the prompt (%d tokens) plus %lld to generate exceeds the context of %lld; "
                       "raise -c or lower -n",
                       s->n_ids, (long long)n_extra, (long long)n_ctx);
    s->n_ctx = (int)n_ctx;
    return 0;
}

// ---------------------------------------------------------------------------------------
// --dump and the logits file

int session_dump_open(struct DumpCtx* d, const char* dir, struct Err* e) {
    char path[4096];
    d->dir = dir;
    d->index = NULL;
    d->failed = 0;
    snprintf(path, sizeof(path), "%s/index.tsv", dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return err_set(e, ERR_IO, "--dump: cannot create '%s': %s", dir, strerror(errno));
    if (!(d->index = fopen(path, "w")))
        return err_set(e, ERR_IO, "--dump: cannot write '%s': %s", path, strerror(errno));
    fprintf(d->index, "file\tposition\tlayer\top\tcount\n");
    return 0;
}

void session_dump_rows(void* ctx, const struct Op* op, int64_t pos0, int n, const double* out,
                       int width) {
    struct DumpCtx* d = ctx;
    for (int t = 0; t < n && !d->failed; t++) {
        char name[160], path[4096];
        if (op->layer >= 0)
            snprintf(name, sizeof(name), "p%05lld-l%03d-%s.f64", (long long)(pos0 + t), op->layer,
                     op->name);
        else
            snprintf(name, sizeof(name), "p%05lld-out-%s.f64", (long long)(pos0 + t), op->name);
        snprintf(path, sizeof(path), "%s/%s", d->dir, name);
        FILE* f = fopen(path, "wb");
        if (!f ||
            fwrite(out + (size_t)t * width, sizeof(double), (size_t)width, f) != (size_t)width)
            d->failed = 1;
        if (f && fclose(f) != 0) d->failed = 1;
        fprintf(d->index, "%s\t%lld\t%d\t%s\t%d\n", name, (long long)(pos0 + t), op->layer,
                op->name, width);
    }
}

int session_dump_close(struct DumpCtx* d, struct Err* e) {
    if (d->index && fclose(d->index) != 0) d->failed = 1;
    d->index = NULL;
    if (d->failed) return err_set(e, ERR_IO, "--dump: writing into '%s' failed", d->dir);
    return 0;
}

static int write_all_or_fail(FILE* f, const void* p, size_t n) {
    return fwrite(p, 1, n, f) == n;
}

int session_write_logits(const char* path, const struct SessionEngine* eng, int n_rows, int n_vocab,
                         struct Err* e) {
    // Written to OUT.tmp and renamed: no half-written output on failure.
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE* f = fopen(tmp, "wb");
    int ok = f != NULL;
    size_t nv = (size_t)n_vocab;
    for (int t = 0; ok && t < n_rows; t++)
        ok = write_all_or_fail(f, eng->logits(eng->self, t), nv * sizeof(double));
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) {
        int rc = err_set(e, ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        return rc;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// generation

int session_generate(struct Session* s, const struct RunOpts* o, struct Sampler* smp,
                     const struct SessionEngine* eng, double* t_prompt, double* t_gen,
                     int* n_gen_out, struct Err* e) {
    int rc = 0;
    double t0 = session_now();
    // Prompt: in batches; only the last position's logits are needed.
    for (int i = 0; i < s->n_ids && !rc; i += eng->max_batch) {
        int n = s->n_ids - i < eng->max_batch ? s->n_ids - i : eng->max_batch;
        rc = eng->forward(eng->self, s->ids + i, n, 1, e);
        for (int t = 0; t < n; t++)
            sampler_accept(smp, s->ids[i + t]);
    }
    double t1 = session_now();
    int eos = s->have_tok ? s->tok.eos_id : -1;
    if (eos < 0) {
        int64_t v;
        if (gguf_get_int(&s->model.gguf, "tokenizer.ggml.eos_token_id", &v, NULL) == 0)
            eos = (int)v;
    }
    struct TokenizerStream ts;
    tokenizer_stream_init(&ts, 0);
    char* piece = s->have_tok ? malloc(s->tok.max_piece + 8) : NULL;
    // As llama.cpp without context shift: generation stops when the context is full. The
    // last sampled token is never fed back, so a full context allows n_ctx - n_ids + 1.
    int64_t n_room = (int64_t)s->n_ctx - s->n_ids + 1;
    int64_t n_want = o->n_predict < 0 || o->n_predict > n_room ? n_room : o->n_predict;
    int n_gen = 0, last_row = (s->n_ids - 1) % eng->max_batch, hit_eos = 0;
    for (; n_gen < n_want && !rc; n_gen++) {
        int32_t id = sampler_sample(smp, eng->logits(eng->self, last_row));
        last_row = 0;
        sampler_accept(smp, id);
        int is_eos = id == eos && !o->ignore_eos;
        if (o->print_ids) {
            printf(n_gen ? " %d" : "%d", id);
        } else if (!is_eos && piece) {
            size_t n_out = 0;
            if (tokenizer_stream_push(&s->tok, &ts, id, piece, s->tok.max_piece + 8, &n_out, e) ==
                0)
                fwrite(piece, 1, n_out, stdout);
        }
        if (fflush(stdout) || ferror(stdout)) {
            rc = err_set(e, ERR_IO, "cannot write the generated text to standard output: %s",
                         strerror(errno));
            break;
        }
        if (is_eos) {
            n_gen++;
            hit_eos = 1;
            break;
        }
        if (n_gen + 1 < n_want) rc = eng->forward(eng->self, &id, 1, 0, e);
    }
    if (piece) {
        size_t k = tokenizer_stream_flush(&ts, piece, s->tok.max_piece + 8);
        fwrite(piece, 1, k, stdout);
    }
    printf("\n");
    if ((fflush(stdout) || ferror(stdout)) && !rc)
        rc = err_set(e, ERR_IO, "cannot write the generated text to standard output: %s",
                     strerror(errno));
    if (!rc && !hit_eos && n_gen == n_room && (o->n_predict < 0 || n_want < o->n_predict))
        fprintf(stderr,
                "note: stopped after %d tokens: the context of %d is full (raise -c for "
                "more)\n",
                n_gen, s->n_ctx);
    free(piece);
    *t_prompt = t1 - t0;
    *t_gen = session_now() - t1;
    *n_gen_out = n_gen;
    return rc;
}

void session_print_timing(FILE* f, const char* prog, const struct RunOpts* o, int n_prompt,
                          double load_s, double tp, int n_gen, double tg) {
    if (o->json)
        fprintf(f,
                "{\"seed\":%llu,\"load_s\":%.6f,\"prompt_tokens\":%d,\"prompt_tok_s\":%.3f,"
                "\"gen_tokens\":%d,\"gen_tok_s\":%.3f}\n",
                (unsigned long long)o->sp.seed, load_s, n_prompt, tp > 0 ? n_prompt / tp : 0.0,
                n_gen, tg > 0 ? n_gen / tg : 0.0);
    else
        fprintf(f,
                "%s: load %.3f s; prompt %d tokens, %.2f tok/s; generated %d tokens, "
                "%.2f tok/s\n",
                prog, load_s, n_prompt, tp > 0 ? n_prompt / tp : 0.0, n_gen,
                tg > 0 ? n_gen / tg : 0.0);
}

// ---------------------------------------------------------------------------------------
// info

static const char INFO_HELP[] =
    "usage: %s info -m MODEL.gguf [--json] [--kv] [--tensors]\n"
    "Describes a GGUF file: architecture, name, layers, widths, heads, context, vocabulary,\n"
    "tensor count and types, parameter count, file size.\n"
    "  -m, --model FILE  the GGUF file\n"
    "  --json            one JSON object on stdout (for scripts)\n"
    "  --kv              also list every metadata key and value\n"
    "  --tensors         also list every tensor (name, type, shape, offset)\n";

int session_info(const char* prog, int argc, char** argv, void (*engine_fields)(struct cJSON* o)) {
    const char* model = NULL;
    int json = 0, kv = 0, tensors = 0;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf(INFO_HELP, prog);
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
            {
                fprintf(stderr,
                        "%s info: unknown or incomplete option '%s' (see '%s info --help')\n", prog,
                        a, prog);
                return EXIT_USAGE;
            }
        }
    }
    if (!model) {
        fprintf(stderr, "%s info: -m MODEL is required (see '%s info --help')\n", prog, prog);
        return EXIT_USAGE;
    }
    struct Gguf g;
    struct Err e = {0};
    if (gguf_open(&g, model, &e)) {
        session_hint(&e);
        fprintf(stderr, "%s: error: %s\n", prog, e.msg);
        return 1;
    }
    cJSON* o = info_describe(&g, model);
    // The layer pattern needs the model's own rules (which layers attend, which are MoE): load
    // it over the same mapping when mattn supports the architecture.
    struct Gguf g2;
    struct Model mdl;
    if (o && gguf_parse(&g2, g.bytes, g.size, NULL) == 0) {
        if (model_load(&mdl, &g2, NULL) == 0) {
            info_add_layers(o, &mdl);
            model_free(&mdl);
        }
    }
    if (o && engine_fields) engine_fields(o);
    if (o && kv) info_add_kv(o, &g);
    if (o && tensors) info_add_tensors(o, &g);
    gguf_free(&g);
    if (!o) {
        fprintf(stderr, "%s: error: out of memory\n", prog);
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
