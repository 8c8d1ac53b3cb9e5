// mattn-ref: the FP64 reference engine's command line: the engine as app/engine_cmd.c runs it
// (info, run, logits) plus the commands only mattn-ref has (tokenize, convert, synth). Each
// returns an exit status: 0 ok, 1 failure (one line on stderr says what and where), 2 bad
// usage; nothing under ref/ prints or exits.
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
#include "engine_cmd.h"
#include "gguf.h"
#include "info.h"
#include "model.h"
#include "ref.h"
#include "sampler.h"
#include "session.h"
#include "tokenizer.h"
#include "tokenize_cmd.h"
#include "synth_cmd.h"

// ---------------------------------------------------------------------------------------
// the engine as app/engine_cmd.c runs it (info, run, logits)

static const char LOGITS_HELP[] =
    "usage: mattn-ref logits -m MODEL (--ids \"1 7 42\" | -p TEXT | -f FILE) -o OUT.bin\n"
    "                        [--dump DIR] [-c CTX] [-t THREADS] [--no-bos]\n"
    "Runs the prompt teacher-forced and writes the logits after every position as\n"
    "little-endian float64 [n_tokens][n_vocab]. --ids are used as given (no BOS added).\n"
    "  --dump DIR   also write every op output at every position (docs/DUMP.md)\n";

static const char RUN_HELP[] =
    "usage: mattn-ref run -m MODEL (-p PROMPT | -f FILE | --ids \"1 7 42\") [options]\n"
    "Generates text after the prompt and streams it to stdout (the prompt is not echoed).\n"
    "  -n N                 tokens to generate (default 128; -1 = until EOS); stops\n"
    "                       early at EOS or when the context is full\n"
    "  -c CTX               context size (default: the model's, at most 4096)\n"
    "  -t THREADS           worker threads (default: all cores); results do not depend on "
    "it\n" ENGINE_RUN_OPTIONS;

static int ref_def_init(void* self, const struct Model* m, const struct RunOpts* o, int n_ctx,
                        int max_batch, struct Err* e) {
    return ref_init(self, m, n_ctx, max_batch, (int)o->n_threads, e);
}

static void ref_def_free(void* self) {
    ref_free(self);
}

static int ref_def_forward(void* self, const int32_t* ids, int n, int last_only, struct Err* e) {
    return ref_forward(self, ids, n, last_only, e);
}

static const double* ref_def_logits(void* self, int t) {
    return ref_logits(self, t);
}

static int ref_def_max_batch(void* self) {
    return ((struct RefEngine*)self)->max_batch;
}

static int ref_def_dump(void* self, struct DumpCtx* d, int n_rows, struct Err* e) {
    (void)n_rows;
    (void)e;
    struct RefEngine* r = self;
    r->hook = session_dump_rows;
    r->hook_ctx = d;
    return 0;
}

static const struct EngineDef REF_ENGINE = {
    .prog = "mattn-ref",
    .blurb = "The FP64 reference engine for hybrid language models in GGUF files.",
    .run_help = RUN_HELP,
    .logits_help = LOGITS_HELP,
    .size = sizeof(struct RefEngine),
    .init = ref_def_init,
    .free = ref_def_free,
    .forward = ref_def_forward,
    .logits = ref_def_logits,
    .max_batch = ref_def_max_batch,
    .dump = ref_def_dump,
    .info_fields = NULL,
};

// ---------------------------------------------------------------------------------------
// dispatch

// the commands only mattn-ref has (info, run and logits come from engine_cmd.c)
static const struct SessionCommand COMMANDS[] = {
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"convert", cmd_convert, "convert a Hugging Face checkpoint directory to GGUF"},
    {"synth", cmd_synth, "write a seeded random-weight model of a given shape"},
};

int main(int argc, char** argv) {
    return engine_main(&REF_ENGINE, COMMANDS, (int)(sizeof(COMMANDS) / sizeof(COMMANDS[0])), argc,
                       argv);
}
