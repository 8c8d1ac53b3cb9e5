// session.h: the engine-independent half of the `run` and `logits` commands that both
// engines' main.c share: option parsing (struct RunOpts), loading model + tokenizer + prompt
// ids (struct Session), --dump files (index.tsv + one .f64 per op output and position), the
// logits file, the generation loop over an engine given as two callbacks, and the timing
// line. Engines are created and freed by main.c; nothing here knows ref/ or gles/.
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "graph.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

struct RunOpts {
    const char* model;
    const char* prompt;      // -p TEXT
    const char* prompt_file; // -f FILE
    const char* ids;         // --ids "1 7 42"
    const char* out;         // -o FILE (logits)
    const char* dump;        // --dump DIR (logits)
    int64_t n_predict;       // -n (-1: until EOS or a full context)
    int64_t n_ctx;           // -c (0: the model's, capped at 4096)
    int64_t n_threads;       // -t (0: all cores)
    int no_bos, ignore_eos, print_ids, json;
    int seed_given;
    struct SamplerParams sp;
};

// Parses one option of run/logits at argv[*i]. Returns 1 when consumed, 0 when unknown,
// negative on a bad value (message in e).
int session_parse_opt(struct RunOpts* o, int argc, char** argv, int* i, struct Err* e);

// Monotonic seconds.
double session_now(void);

// What run and logits load: model, tokenizer (when the file has one), prompt ids.
struct Session {
    struct Model model;
    struct Tokenizer tok;
    int have_tok;
    int32_t* ids;
    int n_ids;
    int n_ctx;
};

// Loads the model and tokenizer and turns the prompt into ids. The context is -c, else the
// model's training context capped at 4096; a prompt longer than it is ERR_ARG, and so is one
// that leaves fewer than n_extra positions after it (logits passes 0; run passes 0 too and
// stops generating when the context is full). An empty text prompt is BOS alone, as in
// llama.cpp. A model that fails to load gets session_hint's advice. session_free releases a
// half-opened session too.
int session_open(struct Session* s, const struct RunOpts* o, int64_t n_extra, struct Err* e);
void session_free(struct Session* s);

// Appends to e->msg what the user can do about a model file that failed to load, chosen by
// e->code (a damaged or truncated file, not GGUF, an unsupported kind, ...); other codes are
// left alone.
void session_hint(struct Err* e);

// --dump DIR: creates DIR and DIR/index.tsv; session_dump_rows (a RefOpHook) writes one file
// per row; session_dump_close reports any write that failed.
struct DumpCtx {
    const char* dir;
    FILE* index;
    int failed;
};
int session_dump_open(struct DumpCtx* d, const char* dir, struct Err* e);
void session_dump_rows(void* ctx, const struct Op* op, int64_t pos0, int n, const double* out,
                       int width);
int session_dump_close(struct DumpCtx* d, struct Err* e);

// An engine as the generation loop and the logits writer see it.
struct SessionEngine {
    void* self;
    int max_batch;
    int (*forward)(void* self, const int32_t* ids, int n, int last_only, struct Err* e);
    const double* (*logits)(void* self, int t); // row t of the last forward, n_vocab doubles
};

// Writes rows 0..n_rows-1 of eng's logits as little-endian float64 to path (through
// path.tmp and a rename: no half-written file on failure).
int session_write_logits(const char* path, const struct SessionEngine* eng, int n_rows, int n_vocab,
                         struct Err* e);

// Runs the prompt in batches (last row's logits only), then samples and streams up to
// o->n_predict tokens to stdout as `run` does (-1: until EOS). Generation stops when the
// context is full, as llama.cpp's does without context shift, with a note on stderr. Returns 0 or
// the first error; the timings (prompt and generation seconds) and the count of generated tokens
// are filled either way.
int session_generate(struct Session* s, const struct RunOpts* o, struct Sampler* smp,
                     const struct SessionEngine* eng, double* t_prompt, double* t_gen, int* n_gen,
                     struct Err* e);

// The timing summary of `run` on f: text, or one JSON object with --json.
void session_print_timing(FILE* f, const char* prog, const struct RunOpts* o, int n_prompt,
                          double load_s, double t_prompt, int n_gen, double t_gen);

// ---------------------------------------------------------------------------------------
// info: `PROG info -m MODEL [--json] [--kv] [--tensors]`, the same for both engines.
// engine_fields (may be NULL) adds what only the engine knows (the GL renderer, say).
// Prints the description on stdout, errors on stderr; returns the exit status.
struct cJSON;
int session_info(const char* prog, int argc, char** argv, void (*engine_fields)(struct cJSON* o));

// ---------------------------------------------------------------------------------------
// a command of a binary (app/engine_cmd.c dispatches them)

struct SessionCommand {
    const char* name;
    int (*fn)(int argc, char** argv); // argv[0] is the command name; returns the exit status
    const char* summary;
};
