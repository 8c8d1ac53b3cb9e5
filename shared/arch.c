// arch.c: architecture names (from the family registry) and "{arch}.*" key helpers (see
// arch.h).
#include "arch.h"

#include <stdio.h>
#include <string.h>

#include "families/families.h"

const char* arch_name(enum Arch a) {
    const struct Family* f = family_of(a);
    return f && f->name ? f->name : "?";
}

int arch_from_gguf(const struct Gguf* g, enum Arch* out, struct Err* e) {
    struct GgufStr s;
    int rc = gguf_get_str(g, "general.architecture", &s, e);
    if (rc) return rc;
    const struct Family* f = family_by_name(s.s);
    if (f) {
        *out = f->arch;
        return 0;
    }
    char names[160];
    return err_set(e, ERR_UNSUPPORTED, "architecture '%.64s' is not supported (mattn runs %s)", s.s,
                   family_names(names, sizeof(names), ", "));
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
