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

// Hooks a family does not need are left out (NULL).
static const struct Family FAMILIES[] = {
    [ARCH_LLAMA] =
        {
            .arch = ARCH_LLAMA,
            .name = "llama",
            .label = "llama",
            .load_config = llama_config,
            .tensors = LLAMA_TENSORS,
            .build = llama_build,
            .synth_params = PB_COMMON | PB(P_FF) | ATTN | PB(P_WINDOW),
            .synth_defaults = LLAMA_SYNTH,
            .synth_check = llama_synth_check,
            .synth_keys = llama_synth_keys,
        },
    [ARCH_RWKV7] =
        {
            .arch = ARCH_RWKV7,
            .name = "rwkv7",
            .label = "rwkv7",
            .load_config = rwkv7_config,
            .tensors = RWKV7_TENSORS,
            .build = rwkv7_build,
            .synth_params = PB_COMMON | PB(P_FF) | PB(P_HEAD_DIM) | PB(P_LORA_DECAY) |
                            PB(P_LORA_ICLR) | PB(P_LORA_VALUE) | PB(P_LORA_GATE),
            .synth_defaults = RWKV7_SYNTH,
            .synth_check = rwkv7_synth_check,
            .synth_keys = rwkv7_synth_keys,
        },
    [ARCH_JAMBA] =
        {
            .arch = ARCH_JAMBA,
            .name = "jamba",
            .label = "jamba",
            .load_config = jamba_config,
            .tensors = JAMBA_TENSORS,
            .check = mamba_check,
            .build = jamba_build,
            .synth_params = PB_COMMON | PB(P_FF) | ATTN | SSM1 | PB(P_N_EXPERT) |
                            PB(P_N_EXPERT_USED) | PB(P_MOE_EVERY) | PB(P_MOE_OFFSET) | PATTERN,
            .synth_defaults = JAMBA_SYNTH,
            .synth_check = jamba_synth_check,
            .synth_keys = jamba_synth_keys,
            .synth_layers = jamba_synth_layers,
        },
    [ARCH_MAMBA] =
        {
            .arch = ARCH_MAMBA,
            .name = "mamba",
            .label = "mamba",
            .load_config = mamba_config,
            .tensors = MAMBA_TENSORS,
            .check = mamba_check,
            .build = mamba_build,
            .synth_params = PB_COMMON | SSM1,
            .synth_defaults = MAMBA_SYNTH,
            .synth_keys = mamba_synth_keys,
        },
    [ARCH_MAMBA2] =
        {
            .arch = ARCH_MAMBA2,
            .name = "mamba2",
            .label = "mamba2",
            .load_config = mamba2_config,
            .tensors = MAMBA2_TENSORS,
            .build = mamba2_build,
            .synth_params = PB_COMMON | SSM2,
            .synth_defaults = MAMBA2_SYNTH,
            .synth_check = mamba2_synth_check,
            .synth_keys = mamba2_synth_keys,
        },
    [ARCH_RECURRENTGEMMA] =
        {
            .arch = ARCH_RECURRENTGEMMA,
            .name = "recurrentgemma",
            .label = "rgemma",
            .load_config = griffin_config,
            .tensors = GRIFFIN_TENSORS,
            .build = griffin_build,
            .synth_params = PB_COMMON | PB(P_FF) | ATTN | PB(P_WINDOW) | PB(P_D_INNER) |
                            PB(P_D_CONV) | PATTERN | PB(P_SOFTCAP),
            .synth_defaults = GRIFFIN_SYNTH,
            .synth_resolve = griffin_synth_resolve,
            .synth_check = griffin_synth_check,
            .synth_keys = griffin_synth_keys,
        },
    [ARCH_ZAMBA2] =
        {
            .arch = ARCH_ZAMBA2,
            .name = "zamba2",
            .label = "zamba2",
            .load_config = zamba2_config,
            .tensors = ZAMBA2_TENSORS,
            .check = zamba2_check,
            .build = zamba_build,
            .synth_params = PB_COMMON | PB(P_FF) | ATTN | SSM2 | PATTERN | PB(P_SHARED_BLOCKS) |
                            PB(P_ADAPTER_RANK) | PB(P_ATTN_ADAPTER) | PB(P_FFN_ADAPTER),
            .synth_defaults = ZAMBA2_SYNTH,
            .synth_resolve = zamba_synth_resolve,
            .synth_check = zamba2_synth_check,
            .synth_keys = zamba2_synth_keys,
        },
    [ARCH_ZAMBA] =
        {
            .arch = ARCH_ZAMBA,
            .name = "zamba",
            .label = "zamba",
            .load_config = zamba_config,
            .tensors = ZAMBA_TENSORS,
            .build = zamba_build,
            .synth_params = PB_COMMON | PB(P_FF) | ATTN | SSM1 | PB(P_SSM_HEADS) | PATTERN |
                            PB(P_SHARED_BLOCKS),
            .synth_defaults = ZAMBA_SYNTH,
            .synth_resolve = zamba_synth_resolve,
            .synth_check = zamba_synth_check,
            .synth_keys = zamba_synth_keys,
        },
};
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
