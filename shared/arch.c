// arch.c: architecture names and "{arch}.*" key helpers (see arch.h).
#include "arch.h"

#include <stdio.h>
#include <string.h>

static const char* const ARCH_NAMES[ARCH_COUNT] = {
    [ARCH_LLAMA] = "llama",   [ARCH_RWKV7] = "rwkv7",   [ARCH_JAMBA] = "jamba",
    [ARCH_MAMBA] = "mamba",   [ARCH_MAMBA2] = "mamba2", [ARCH_RECURRENTGEMMA] = "recurrentgemma",
    [ARCH_ZAMBA2] = "zamba2", [ARCH_ZAMBA] = "zamba",
};
_Static_assert(sizeof(ARCH_NAMES) / sizeof(ARCH_NAMES[0]) == ARCH_COUNT, "ARCH_NAMES size");

const char* arch_name(enum Arch a) {
    return (unsigned)a < ARCH_COUNT ? ARCH_NAMES[a] : "?";
}

int arch_from_gguf(const struct Gguf* g, enum Arch* out, struct Err* e) {
    struct GgufStr s;
    int rc = gguf_get_str(g, "general.architecture", &s, e);
    if (rc) return rc;
    for (int a = 0; a < ARCH_COUNT; a++) {
        if (strcmp(s.s, ARCH_NAMES[a]) == 0) {
            *out = (enum Arch)a;
            return 0;
        }
    }
    return err_set(e, ERR_UNSUPPORTED,
                   "architecture '%.64s' is not supported (mattn runs llama, rwkv7, jamba, "
                   "mamba, mamba2, recurrentgemma, zamba2, zamba)",
                   s.s);
}

const struct GgufKv* arch_find_key(const struct Gguf* g, const char* suffix) {
    struct GgufStr s;
    if (gguf_get_str(g, "general.architecture", &s, NULL)) return NULL;
    char key[256];
    snprintf(key, sizeof(key), "%.100s.%.100s", s.s, suffix);
    return gguf_find_key(g, key);
}

static int arch_key(const struct Gguf* g, const char* suffix, char* key, size_t cap,
                    struct Err* e) {
    struct GgufStr s;
    int rc = gguf_get_str(g, "general.architecture", &s, e);
    if (rc) return rc;
    snprintf(key, cap, "%.100s.%.100s", s.s, suffix);
    return 0;
}

int arch_get_int(const struct Gguf* g, const char* suffix, int64_t* out, struct Err* e) {
    char key[256];
    int rc = arch_key(g, suffix, key, sizeof(key), e);
    return rc ? rc : gguf_get_int(g, key, out, e);
}

int arch_get_float(const struct Gguf* g, const char* suffix, double* out, struct Err* e) {
    char key[256];
    int rc = arch_key(g, suffix, key, sizeof(key), e);
    return rc ? rc : gguf_get_float(g, key, out, e);
}
