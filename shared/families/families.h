// families.h: the family registry. One struct Family per architecture, defined in its family
// file and listed by one line of list.h, names everything mattn knows about it: its config loader
// (hparams -> struct Config, layer kinds), its tensor table (bind.h), its graph builder (build.h)
// and what `mattn-ref synth` needs to write a model of it (flag defaults, family keys). The code
// lives in one file per family: llama.c, rwkv7.c, mamba.c (mamba, mamba2, jamba), griffin.c
// (recurrentgemma), zamba.c (zamba2, zamba). Adding a family: docs/ADDING.md.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "bind.h"
#include "build.h"
#include "model.h"

// ---------------------------------------------------------------------------------------
// synth parameters: the shape flags of `mattn-ref synth` (app/synth_cmd.c names them)

enum SynthParam {
    P_EMBD,
    P_LAYER,
    P_VOCAB,
    P_CTX,
    P_FF,
    P_HEAD,
    P_HEAD_KV,
    P_HEAD_DIM,
    P_TIED,
    P_WINDOW,
    P_EXPAND,
    P_D_INNER,
    P_D_STATE,
    P_D_CONV,
    P_DT_RANK,
    P_SSM_HEAD_DIM,
    P_N_GROUP,
    P_SSM_HEADS,
    P_LORA_DECAY,
    P_LORA_ICLR,
    P_LORA_VALUE,
    P_LORA_GATE,
    P_N_EXPERT,
    P_N_EXPERT_USED,
    P_MOE_EVERY,
    P_MOE_OFFSET,
    P_ATTN_EVERY,
    P_ATTN_OFFSET,
    P_SOFTCAP,
    P_SHARED_BLOCKS,
    P_ADAPTER_RANK,
    P_ATTN_ADAPTER,
    P_FFN_ADAPTER,
    P_COUNT,
};

#define AUTO (-1)                  // a synth default that follows other values
#define PB(p) (UINT64_C(1) << (p)) // Family.synth_params bit of flag p
#define PB_COMMON (PB(P_EMBD) | PB(P_LAYER) | PB(P_VOCAB) | PB(P_CTX) | PB(P_TIED))
// flag groups several families share
#define SSM1 (PB(P_EXPAND) | PB(P_D_INNER) | PB(P_D_STATE) | PB(P_D_CONV) | PB(P_DT_RANK))
#define SSM2                                                                                       \
    (PB(P_EXPAND) | PB(P_D_INNER) | PB(P_D_STATE) | PB(P_D_CONV) | PB(P_SSM_HEAD_DIM) |            \
     PB(P_N_GROUP))
#define ATTN (PB(P_HEAD) | PB(P_HEAD_KV) | PB(P_HEAD_DIM))
#define PATTERN (PB(P_ATTN_EVERY) | PB(P_ATTN_OFFSET))

// ---------------------------------------------------------------------------------------
// the registry

struct Family {
    enum Arch arch;
    const char* name;  // general.architecture
    const char* label; // its column in `synth --help` (at most 7 characters)
    // Reads the family's keys into m->config (load_common has read the common ones) and
    // sets every layer's kind; binds nothing. Returns 0 or ERR_* naming the key.
    int (*load_config)(struct Model* m, struct Err* e);
    const struct TensorRow* tensors; // ends with TENSORS_END
    // Checks across bound tensors (half a LoRA pair...), or NULL.
    int (*check)(const struct Model* m, struct Err* e);
    // Appends the forward pass to b->g (graph_build calls it; build.h has the helpers).
    void (*build)(struct Builder* b);
    // ---- synth
    uint64_t synth_params;             // PB(p) for each flag that applies
    const int64_t* synth_defaults;     // [P_COUNT]: a ~1B model of a published shape
    void (*synth_resolve)(int64_t* v); // the family's own AUTO values (before the common ones)
    // A shape the loader would refuse: writes a one-line reason, returns nonzero. Or NULL.
    int (*synth_check)(const int64_t* v, char* msg, size_t cap);
    // Writes the {arch}.* keys after the common ones (block_count ... vocab_size).
    void (*synth_keys)(struct GgufWriter* w, const char* arch, const int64_t* v);
    // What the keys cannot say about the layers (Jamba's MoE pattern), or NULL.
    void (*synth_layers)(const int64_t* v, struct Config* c);
};

// The row of architecture a (a < ARCH_COUNT).
const struct Family* family_of(enum Arch a);
// The row named name, or NULL.
const struct Family* family_by_name(const char* name);
// "llama, rwkv7, ..." (sep between names) into buf; returns buf.
const char* family_names(char* buf, size_t cap, const char* sep);

// ---------------------------------------------------------------------------------------
// what the family files share with each other (everything else in a family file is static
// and reaches the rest of mattn through its struct Family row)

// The Mamba-1 mixer (n_head > 1: Zamba v1's multi-head variant) and the Mamba-2 mixer of
// layer L: out = mixer(u). zamba.c builds with them too.
void mamba_build_mixer1(struct Builder* b, int out, int u, const struct LayerWeights* L,
                        int n_head);
void mamba_build_mixer2(struct Builder* b, int out, int u, const struct LayerWeights* L);
// The {arch}.ssm.* keys every Mamba-family file has (zamba.c reads and writes them too).
int mamba_config_ssm(struct Model* m, int mamba2, struct Err* e);
void mamba_synth_ssm_keys(struct GgufWriter* w, const char* arch, const int64_t* v,
                          int64_t time_step_rank, int64_t n_group);
// A Mamba-2 shape the loader would refuse (zamba2's synth check starts with it).
int mamba2_synth_check(const int64_t* v, char* msg, size_t cap);

// Synth helpers the family key writers share: layer l has attention (or runs the shared
// block) when l % attn_every == attn_offset; head_count_kv per layer in that pattern.
int family_is_attn(const int64_t* v, int64_t l);
int64_t family_n_attn(const int64_t* v);
void family_kv_pattern(struct GgufWriter* w, const char* arch, const int64_t* v);
