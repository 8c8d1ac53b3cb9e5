// arch.h: the architectures mattn knows, by their GGUF `general.architecture` name.
// Everything else about an architecture (its name included) is its family's registry row
// (shared/families/families.h); this module maps names to enum Arch and reads the few keys
// every tool (info, run) needs.
#pragma once

#include "err.h"
#include "gguf.h"

// One value per line of shared/families/list.h, in its order.
enum Arch {
#define FAMILY(id, object) ARCH_##id,
#include "families/list.h"
#undef FAMILY
    ARCH_COUNT,
};

// GGUF name of an architecture ("llama"), from the family registry; "?" when out of range.
const char* arch_name(enum Arch a);

// Architecture of a parsed file. Returns 0, ERR_NOT_FOUND when general.architecture is
// absent, or ERR_UNSUPPORTED (message names the architecture) when mattn cannot run it.
int arch_from_gguf(const struct Gguf* g, enum Arch* out, struct Err* e);

// Reads "{arch}.{suffix}" where arch is the file's general.architecture, e.g.
// arch_get_int(g, "block_count", &v). Same return codes as gguf_get_int.
int arch_get_int(const struct Gguf* g, const char* suffix, int64_t* out, struct Err* e);
int arch_get_float(const struct Gguf* g, const char* suffix, double* out, struct Err* e);
// Finds "{arch}.{suffix}" (any type), or NULL.
const struct GgufKv* arch_find_key(const struct Gguf* g, const char* suffix);
