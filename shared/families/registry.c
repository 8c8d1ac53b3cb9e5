// registry.c: the family registry, indexed by enum Arch: one pointer per line of list.h to
// the struct Family its family file defines; and the synth helpers the family files share.
#include <stdio.h>
#include <string.h>

#include "families.h"

#define FAMILY(id, object) extern const struct Family object;
#include "list.h"
#undef FAMILY

// One row per line of list.h, each the family file's own struct Family.
static const struct Family* const FAMILIES[] = {
#define FAMILY(id, object) [ARCH_##id] = &object,
#include "list.h"
#undef FAMILY
};
_Static_assert(sizeof(FAMILIES) / sizeof(FAMILIES[0]) == ARCH_COUNT, "one family row per arch");

const struct Family* family_of(enum Arch a) {
    return (unsigned)a < ARCH_COUNT ? FAMILIES[a] : NULL;
}

const struct Family* family_by_name(const char* name) {
    for (int a = 0; a < ARCH_COUNT; a++)
        if (FAMILIES[a]->name && name && !strcmp(FAMILIES[a]->name, name)) return FAMILIES[a];
    return NULL;
}

const char* family_names(char* buf, size_t cap, const char* sep) {
    size_t n = 0;
    if (cap) buf[0] = 0;
    for (int a = 0; a < ARCH_COUNT && n < cap; a++) {
        int k = snprintf(buf + n, cap - n, "%s%s", a ? sep : "",
                         FAMILIES[a]->name ? FAMILIES[a]->name : "?");
        if (k < 0) break;
        n += (size_t)k;
    }
    return buf;
}

// ---------------------------------------------------------------------------------------
// synth helpers

int family_is_attn(const int64_t* v, int64_t l) {
    return l % v[P_ATTN_EVERY] == v[P_ATTN_OFFSET];
}

int64_t family_n_attn(const int64_t* v) {
    int64_t n = 0;
    for (int64_t l = 0; l < v[P_LAYER]; l++)
        n += family_is_attn(v, l);
    return n;
}

void family_kv_pattern(struct GgufWriter* w, const char* arch, const int64_t* v) {
    int32_t kv[MODEL_MAX_LAYERS];
    for (int64_t l = 0; l < v[P_LAYER]; l++)
        kv[l] = family_is_attn(v, l) ? (int32_t)v[P_HEAD_KV] : 0;
    key_set_i32_arr(w, arch, "attention.head_count_kv", kv, (uint64_t)v[P_LAYER]);
}
