// registry.c: one row per architecture (families.h), indexed by enum Arch, and the synth
// helpers the family files share.
#include <stdio.h>
#include <string.h>

#include "families.h"

#define SSM1 (PB(P_EXPAND) | PB(P_D_INNER) | PB(P_D_STATE) | PB(P_D_CONV) | PB(P_DT_RANK))
#define SSM2                                                                                       \
    (PB(P_EXPAND) | PB(P_D_INNER) | PB(P_D_STATE) | PB(P_D_CONV) | PB(P_SSM_HEAD_DIM) |            \
     PB(P_N_GROUP))
#define ATTN (PB(P_HEAD) | PB(P_HEAD_KV) | PB(P_HEAD_DIM))
#define PATTERN (PB(P_ATTN_EVERY) | PB(P_ATTN_OFFSET))

// clang-format off
static const struct Family FAMILIES[] = {
    [ARCH_LLAMA] = {ARCH_LLAMA, "llama", "llama", llama_config, LLAMA_TENSORS, NULL, llama_build,
                    PB_COMMON | PB(P_FF) | ATTN | PB(P_WINDOW), LLAMA_SYNTH, NULL,
                    llama_synth_check, llama_synth_keys, NULL},
    [ARCH_RWKV7] = {ARCH_RWKV7, "rwkv7", "rwkv7", rwkv7_config, RWKV7_TENSORS, NULL, rwkv7_build,
                    PB_COMMON | PB(P_FF) | PB(P_HEAD_DIM) | PB(P_LORA_DECAY) | PB(P_LORA_ICLR) |
                        PB(P_LORA_VALUE) | PB(P_LORA_GATE),
                    RWKV7_SYNTH, NULL, rwkv7_synth_check, rwkv7_synth_keys, NULL},
    [ARCH_JAMBA] = {ARCH_JAMBA, "jamba", "jamba", jamba_config, JAMBA_TENSORS, mamba_check, jamba_build,
                    PB_COMMON | PB(P_FF) | ATTN | SSM1 | PB(P_N_EXPERT) | PB(P_N_EXPERT_USED) |
                        PB(P_MOE_EVERY) | PB(P_MOE_OFFSET) | PATTERN,
                    JAMBA_SYNTH, NULL, jamba_synth_check, jamba_synth_keys, jamba_synth_layers},
    [ARCH_MAMBA] = {ARCH_MAMBA, "mamba", "mamba", mamba_config, MAMBA_TENSORS, mamba_check, mamba_build,
                    PB_COMMON | SSM1, MAMBA_SYNTH, NULL, NULL, mamba_synth_keys, NULL},
    [ARCH_MAMBA2] = {ARCH_MAMBA2, "mamba2", "mamba2", mamba2_config, MAMBA2_TENSORS, NULL, mamba2_build,
                     PB_COMMON | SSM2, MAMBA2_SYNTH, NULL, mamba2_synth_check, mamba2_synth_keys,
                     NULL},
    [ARCH_RECURRENTGEMMA] = {ARCH_RECURRENTGEMMA, "recurrentgemma", "rgemma", griffin_config,
                             GRIFFIN_TENSORS, NULL, griffin_build,
                             PB_COMMON | PB(P_FF) | ATTN | PB(P_WINDOW) | PB(P_D_INNER) |
                                 PB(P_D_CONV) | PATTERN | PB(P_SOFTCAP),
                             GRIFFIN_SYNTH, griffin_synth_resolve, griffin_synth_check,
                             griffin_synth_keys, NULL},
    [ARCH_ZAMBA2] = {ARCH_ZAMBA2, "zamba2", "zamba2", zamba2_config, ZAMBA2_TENSORS, zamba2_check, zamba_build,
                     PB_COMMON | PB(P_FF) | ATTN | SSM2 | PATTERN | PB(P_SHARED_BLOCKS) |
                         PB(P_ADAPTER_RANK) | PB(P_ATTN_ADAPTER) | PB(P_FFN_ADAPTER),
                     ZAMBA2_SYNTH, zamba_synth_resolve, zamba2_synth_check, zamba2_synth_keys,
                     NULL},
    [ARCH_ZAMBA] = {ARCH_ZAMBA, "zamba", "zamba", zamba_config, ZAMBA_TENSORS, NULL, zamba_build,
                    PB_COMMON | PB(P_FF) | ATTN | SSM1 | PB(P_SSM_HEADS) | PATTERN |
                        PB(P_SHARED_BLOCKS),
                    ZAMBA_SYNTH, zamba_synth_resolve, zamba_synth_check, zamba_synth_keys, NULL},
};
// clang-format on
// Declared [] so that a missing row shortens the array and fails here (a row left out of
// the middle is a zeroed row, which tests/test_families.c finds by its arch and name).
_Static_assert(sizeof(FAMILIES) / sizeof(FAMILIES[0]) == ARCH_COUNT, "one family row per arch");

const struct Family* family_of(enum Arch a) {
    return (unsigned)a < ARCH_COUNT ? &FAMILIES[a] : NULL;
}

const struct Family* family_by_name(const char* name) {
    for (int a = 0; a < ARCH_COUNT; a++)
        if (FAMILIES[a].name && name && !strcmp(FAMILIES[a].name, name)) return &FAMILIES[a];
    return NULL;
}

const char* family_names(char* buf, size_t cap, const char* sep) {
    size_t n = 0;
    if (cap) buf[0] = 0;
    for (int a = 0; a < ARCH_COUNT && n < cap; a++) {
        int k = snprintf(buf + n, cap - n, "%s%s", a ? sep : "",
                         FAMILIES[a].name ? FAMILIES[a].name : "?");
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
