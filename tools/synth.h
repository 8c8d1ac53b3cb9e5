// synth.h: a seeded random-weight GGUF of any family and shape, for benchmarks and tests at
// shapes no real file here has. The generator walks the family's tensor table
// (shared/families/), so it writes exactly the keys and tensors the loader binds.
// Not here: flag parsing and help (app/synth_cmd.c). Tests: tests/test_families.c, cli.sh.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "arch.h"
#include "err.h"
#include "quant.h"

struct SynthOptions {
    enum GgmlType type;    // the big matrices' type (F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1)
    const char* type_name; // its name, for general.name
    uint64_t seed;         // the xoshiro256** seed: the same seed and shape give the same bytes
    // Called after each layer, or NULL.
    void (*progress)(void* ctx, const char* arch, int64_t layer, int64_t n_layer);
    void* progress_ctx;
};

// The family's defaults with its AUTO values resolved (v: P_COUNT values, families.h).
void synth_defaults(enum Arch a, int64_t* v);
// Fills the AUTO values of v (those the caller did not give) from the others.
void synth_resolve(enum Arch a, int64_t* v);
// Whether the loader would refuse this shape: 0, or nonzero with a one-line reason in msg.
int synth_check(enum Arch a, const int64_t* v, char* msg, size_t cap);

// Writes the model of shape v (resolved and checked) to path (path.tmp, then renamed).
// Returns 0 with *n_params set, or a negative ERR_* with e filled.
int synth_write_file(enum Arch a, const int64_t* v, const struct SynthOptions* o, const char* path,
                     int64_t* n_params, struct Err* e);
// Same into a malloc'ed buffer (*out, *size), owned by the caller.
int synth_write_mem(enum Arch a, const int64_t* v, const struct SynthOptions* o, uint8_t** out,
                    size_t* size, int64_t* n_params, struct Err* e);
