// bind.h: the table-driven half of model loading. "{arch}.*" key readers (and the writers
// synth uses), the tensor table every family declares (shared/families/<family>.c), and
// the one binder that walks it: for each row, per layer or per shared block where the name
// says so, find the tensor, check its type and every dimension, store the view.
// The same rows tell tools/synth.c what to write and tests/test_families.c what to expect.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "model.h"

// ---------------------------------------------------------------------------------------
// keys

// "{arch}.suffix" as an int in [lo, hi]. Missing: *out = def, or ERR_NOT_FOUND when required.
int key_int(const struct Gguf* g, const char* suffix, int required, int64_t def, int64_t lo,
            int64_t hi, int* out, struct Err* e);
// "{arch}.suffix" as a float; def when missing.
int key_float(const struct Gguf* g, const char* suffix, double def, double* out, struct Err* e);
// A bool key; false when missing, ERR_TYPE when of another type.
int key_bool(const struct Gguf* g, const char* suffix, bool* out, struct Err* e);
// A per-layer integer stored as one number or as an array of n_layer (Jamba's
// head_count_kv); fills out[0..n_layer).
int key_per_layer(const struct Gguf* g, const char* suffix, int n_layer, int def, int* out,
                  struct Err* e);

// Writers of "{arch}.suffix" (synth's family key writers).
void key_set_u32(struct GgufWriter* w, const char* arch, const char* suffix, uint32_t v);
void key_set_f32(struct GgufWriter* w, const char* arch, const char* suffix, float v);
void key_set_f64(struct GgufWriter* w, const char* arch, const char* suffix, double v);
void key_set_bool(struct GgufWriter* w, const char* arch, const char* suffix, bool v);
void key_set_i32_arr(struct GgufWriter* w, const char* arch, const char* suffix, const int32_t* v,
                     uint64_t n);

// ---------------------------------------------------------------------------------------
// tensor tables

// A dimension by name, resolved from Config (and the layer, for DIM_KV_LAYER).
enum Dim {
    DIM_NONE, // past the last dimension
    DIM_ONE,
    DIM_SIX,         // RWKV-7's six token-shift mixes
    DIM_EMBD,        // n_embd
    DIM_EMBD2,       // 2 n_embd (Zamba's shared attention input)
    DIM_VOCAB,       // n_vocab
    DIM_FF,          // n_ff
    DIM_FF2,         // 2 n_ff (gate and up in one matrix)
    DIM_Q,           // n_head * head_dim
    DIM_KV,          // n_head_kv * head_dim
    DIM_KV_LAYER,    // layer_n_head_kv[l] * head_dim
    DIM_ROT_HALF,    // n_rot / 2
    DIM_EXPERT,      // n_expert
    DIM_D_CONV,      // ssm_d_conv
    DIM_D_INNER,     // ssm_d_inner (Griffin: the lru width)
    DIM_D_INNER2,    // 2 ssm_d_inner (Mamba-1's [x, z])
    DIM_D_STATE,     // ssm_d_state
    DIM_DT_RANK,     // ssm_dt_rank (Mamba-2: heads)
    DIM_SSM_X,       // dt_rank + 2 d_state (Mamba-1's x_proj outputs)
    DIM_CONV2,       // d_inner + 2 n_group d_state (Mamba-2's conv channels)
    DIM_IN2,         // d_inner + conv channels + heads (Mamba-2's in_proj outputs)
    DIM_GROUP_WIDTH, // d_inner / n_group
    DIM_N_GROUP,     // ssm_n_group
    DIM_ZAMBA_X,     // n_group (dt_rank + 2 d_state): Zamba v1's x_proj of every head
    DIM_ZAMBA_DT,    // n_group dt_rank
    DIM_LORA_DECAY,  // the RWKV-7 LoRA ranks
    DIM_LORA_ICLR,
    DIM_LORA_VALUE,
    DIM_LORA_GATE,
    DIM_N_HEAD,  // n_head (Griffin's gate blocks)
    DIM_BLOCK,   // d_inner / n_head (one gate block's width)
    DIM_ADAPTER, // adapter_rank
    DIM_COUNT,
};

// Whether a row must be present, and whether synth writes it.
enum Presence {
    REQUIRED,                 // bound and written
    OPTIONAL,                 // bound when present; synth does not write it
    OPTIONAL_WRITTEN,         // bound when present; synth writes it
    REQUIRED_AFTER_L0,        // optional on layer 0 only; always written
    REQUIRED_IF_ATTN_ADAPTER, // required and written iff Config.attn_adapter
    REQUIRED_IF_FFN_ADAPTER,  // required and written iff Config.ffn_adapter
    OPTIONAL_UNTIED,          // the output head: absent means tied; written unless tied
    PRESENCE_COUNT,
};

// How synth fills a row (its reasons are in tools/synth.c).
enum Init {
    INIT_NORMAL,         // N(0, 0.02) in the synth's type
    INIT_NORMAL_F32,     // N(0, 0.02), always F32 (LoRAs, routers)
    INIT_ZERO,           // F32 zeros (biases, Gemma norms)
    INIT_ONE,            // F32 ones (norms, Mamba-1 D)
    INIT_K_K,            // 0.85 (RWKV-7 k_k)
    INIT_UNIFORM01,      // U(0, 1) (token-shift mixes)
    INIT_CONV,           // U(+-1/sqrt(d_conv)) (conv1d weight and bias)
    INIT_DT_BIAS,        // softplus^-1 of a log-uniform dt in [0.001, 0.1]
    INIT_A_CHANNELS,     // Mamba-1 A = -(1..d_state) per channel
    INIT_A_LOG_CHANNELS, // ... stored as A_log
    INIT_A_HEADS,        // Mamba-2 A = -U(1, 16) per head
    INIT_A_LOG_HEADS,    // ... stored as A_log
    INIT_D_HEADS,        // ones, written with every named dimension
    INIT_DECAY_RAMP,     // RWKV-7 w0: -6.5 .. -1.5 over channels
    INIT_RG_LAMBDA,      // Griffin's Lambda
    INIT_ZAMBA_X,        // N(0, 0.02) block-diagonal per head: Zamba v1's x_proj
    INIT_ZAMBA_DT,       // ... its dt_proj
    INIT_COUNT,
};

// Row conditions (TensorRow.when): a layer of one of the named kinds, an FFN of one of
// the named kinds, a hybrid (shared-block) layer. 0: every layer.
#define ON_KIND(k) (1u << (k))
#define ON_FFN(k) (1u << (8 + (k)))
#define ON_HYBRID (1u << 16)

struct TensorRow {
    size_t field;      // offsetof in Weights, LayerWeights ("blk.%d.") or SharedBlock
                       // ("shared.%d."): the name's prefix says which
    const char* name;  // GGUF name, %d the layer or shared block
    enum Dim shape[4]; // ggml order; DIM_NONE past the last (those dims are 1)
    enum Presence presence;
    enum Init init;
    unsigned when; // ON_* conditions, 0 for every layer
};

#define TENSORS_END                                                                                \
    { 0, NULL, {DIM_NONE}, REQUIRED, INIT_NORMAL, 0 }
#define WT(f) offsetof(struct Weights, f)
#define LW(f) offsetof(struct LayerWeights, f)
#define SB(f) offsetof(struct SharedBlock, f)

enum BindScope { SCOPE_GLOBAL, SCOPE_LAYER, SCOPE_SHARED };
enum BindScope bind_scope(const struct TensorRow* r);

// The value of d for layer l.
int64_t bind_dim(const struct Config* c, int l, enum Dim d);
// The row's shape for layer l (unused dims 1); returns the number of named dims.
int bind_shape(const struct TensorRow* r, const struct Config* c, int l, int64_t ne[4]);
// Whether the row exists for layer l (its `when`), must be bound there, is written by synth.
int bind_applies(const struct TensorRow* r, const struct Config* c, int l);
int bind_required(const struct TensorRow* r, const struct Config* c, int l);
int bind_written(const struct TensorRow* r, const struct Config* c, int l);

// Calls fn for every (row, index) in file order: global rows where they stand, each run of
// per-layer (per-shared-block) rows layer by layer; rows that do not apply are skipped.
// Stops at fn's first nonzero return and returns it.
typedef int (*BindVisit)(void* ctx, const struct TensorRow* r, int index);
int bind_walk(const struct TensorRow* rows, const struct Config* c, BindVisit fn, void* ctx);

// The slot a row's view goes to in m (NULL for an index out of range).
const struct GgufTensor** bind_slot(struct Model* m, const struct TensorRow* r, int index);

// Binds every row of the table into m->w (layers and shared blocks allocated). Returns 0,
// or ERR_NOT_FOUND / ERR_SHAPE / ERR_UNSUPPORTED naming the first tensor at fault.
int bind_tensors(struct Model* m, const struct TensorRow* rows, struct Err* e);
