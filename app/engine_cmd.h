// engine_cmd.h: the commands every engine's binary has (info, run, logits) written once over
// an engine described by a table of calls (struct EngineDef), and the dispatch that lists them
// with the binary's own commands. app/mattn_ref.c and app/mattn_gles.c each fill one EngineDef;
// nothing here knows ref/ or gles/.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"
#include "session.h"

struct cJSON;

// The sampling and output options of `run` (its --help lines), the same in every engine: an
// EngineDef's run_help ends with them (run_help = "usage..." ENGINE_RUN_OPTIONS).
#define ENGINE_RUN_OPTIONS                                                                         \
    "  --seed S             sampling seed (default: random, printed on stderr)\n"                  \
    "  --temp T             temperature (0.8; 0 = greedy)\n"                                       \
    "  --top-k K            keep the K most likely tokens (40; 0 = all)\n"                         \
    "  --top-p P            nucleus sampling (0.95; 1 = off)\n"                                    \
    "  --min-p P            drop tokens below P x the top probability (0.05; 0 = off)\n"           \
    "  --repeat-penalty R   penalise tokens of the last N (1.0 = off)\n"                           \
    "  --repeat-last-n N    window of the repeat penalty (64; -1 = whole context)\n"               \
    "  --no-bos             do not add BOS to a text prompt\n"                                     \
    "  --ignore-eos         keep generating after EOS\n"                                           \
    "  --print-ids          print the generated ids instead of text (EOS included)\n"              \
    "  --json               print the timing summary on stderr as one JSON object\n"

struct EngineDef {
    const char* prog;        // "mattn-ref": error prefix and usage lines
    const char* blurb;       // one line under `PROG --help`
    const char* run_help;    // `PROG run --help`
    const char* logits_help; // `PROG logits --help`
    size_t size;             // bytes of the engine object that init fills (zeroed first)
    // Creates the engine for m with room for n_ctx positions, batches of up to max_batch.
    int (*init)(void* self, const struct Model* m, const struct RunOpts* o, int n_ctx,
                int max_batch, struct Err* e);
    void (*free)(void* self); // also on a half-initialised engine
    int (*forward)(void* self, const int32_t* ids, int n, int last_only, struct Err* e);
    const double* (*logits)(void* self, int t); // row t of the last forward, n_vocab doubles
    int (*max_batch)(void* self);
    // --dump: every op output of the next forwards (up to n_rows rows each) goes to d
    int (*dump)(void* self, struct DumpCtx* d, int n_rows, struct Err* e);
    void (*info_fields)(struct cJSON* o); // what `info` adds (may be NULL)
};

// `PROG COMMAND ...`: info, run and logits over def, then the binary's own commands (extra,
// may be empty); --help lists them all. Returns the exit status.
int engine_main(const struct EngineDef* def, const struct SessionCommand* extra, int n_extra,
                int argc, char** argv);

// status, or 1 (with a one-line message) when it is 0 but standard output could not be written
// in full (a full disk, a closed pipe): every command's last step.
int engine_check_stdout(const char* prog, int status);

// The exit status of a failure: the message on stderr as one line, 2 for bad usage else 1.
int engine_fail(const struct EngineDef* def, const struct Err* e);
