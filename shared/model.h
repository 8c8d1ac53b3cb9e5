// model.h: a model as the engines see it: hyperparameters (struct Config, read from the
// GGUF's "{arch}.*" keys with llama.cpp's names) and weights (struct Weights: non-owning
// views into the mapped GGUF, bound by name and checked for type and shape).
// The architectures differ in Config values and in which LayerWeights fields are set
// (each family's tensor table, shared/families/); its builder turns both into ops.
// Not here: any arithmetic.
#pragma once

#include <stdbool.h>

#include "arch.h"
#include "err.h"
#include "gguf.h"

#define MODEL_MAX_LAYERS 512

enum LayerKind {
    LAYER_ATTN,   // (self-)attention with a KV cache
    LAYER_MAMBA,  // Mamba-1 mixer (conv + selective scan)
    LAYER_MAMBA2, // Mamba-2 mixer (conv + SSD with heads and groups)
    LAYER_RWKV7,  // RWKV-7 time mix + channel mix
    LAYER_RGLRU,  // Griffin recurrent block (conv + RG-LRU)
    LAYER_KIND_COUNT,
};

enum FfnKind {
    FFN_NONE,  // the layer has no separate feed-forward (Mamba, Mamba-2)
    FFN_DENSE, // gated MLP
    FFN_MOE,   // mixture of experts
    FFN_KIND_COUNT,
};

enum RopeType {
    ROPE_NONE, // no positional encoding (Jamba)
    ROPE_NORM, // rotate adjacent pairs (2i, 2i+1): llama.cpp's GGUF Llama layout
    ROPE_NEOX, // rotate halves (i, i + n_rot/2): HF layout
    ROPE_TYPE_COUNT,
};

struct Config {
    enum Arch arch;
    int n_embd;      // {arch}.embedding_length
    int n_layer;     // {arch}.block_count
    int n_head;      // {arch}.attention.head_count (largest over layers)
    int n_head_kv;   // {arch}.attention.head_count_kv (largest over layers)
    int head_dim;    // {arch}.attention.key_length, else n_embd / n_head
    int n_ff;        // {arch}.feed_forward_length
    int n_vocab;     // {arch}.vocab_size, else tokenizer.ggml.tokens, else token_embd rows
    int n_ctx_train; // {arch}.context_length
    double norm_eps; // {arch}.attention.layer_norm_rms_epsilon (or layer_norm_epsilon)
    // attention
    enum RopeType rope_type;
    int n_rot;              // {arch}.rope.dimension_count, else head_dim
    double rope_freq_base;  // {arch}.rope.freq_base, default 10000
    double rope_freq_scale; // 1 / {arch}.rope.scaling.factor for linear scaling, else 1
    int sliding_window;     // {arch}.attention.sliding_window (0: none); W keys incl. current
    double attn_scale;      // 1/sqrt(head_dim) unless the architecture says otherwise
    // per layer
    enum LayerKind layer_kind[MODEL_MAX_LAYERS];
    enum FfnKind ffn_kind[MODEL_MAX_LAYERS];
    int layer_n_head_kv[MODEL_MAX_LAYERS]; // per-layer KV heads (Jamba stores an array)
    // mixture of experts
    int n_expert;      // {arch}.expert_count
    int n_expert_used; // {arch}.expert_used_count
    // state-space layers
    int ssm_d_conv;      // {arch}.ssm.conv_kernel
    int ssm_d_inner;     // {arch}.ssm.inner_size
    int ssm_d_state;     // {arch}.ssm.state_size
    int ssm_dt_rank;     // {arch}.ssm.time_step_rank (Mamba-2: number of heads)
    int ssm_n_group;     // {arch}.ssm.group_count
    bool ssm_dt_b_c_rms; // {arch}.ssm.dt_b_c_rms (Jamba's dt/B/C RMSNorms)
    // RWKV-7
    int rwkv_head_size; // {arch}.wkv.head_size
    int rwkv_lora_decay, rwkv_lora_iclr, rwkv_lora_value, rwkv_lora_gate;
    // output
    bool tied_output; // no output.weight: the head is token_embd
    // ---- griffin
    double norm_w_offset; // 1: every RMSNorm is Gemma's (1 + w) * x / rms; 0: w * x / rms
    double embd_scale;    // {arch}.embedding_scale (bf16-rounded sqrt(n_embd)), 0: none
    double logit_softcap; // {arch}.final_logit_softcapping, 0: none
    // ---- zamba2
    double ssm_gnorm_eps; // Mamba-2 gated group RMSNorm: norm_eps (mamba2), 1e-5 (Zamba2)
    int n_shared_block;   // {arch}.shared_block_count: distinct shared transformer blocks
    int adapter_rank;     // {arch}.adapter_rank (0: no adapters)
    bool attn_adapter;    // {arch}.attention.adapter: per-invocation q/k/v LoRA adapters
    bool ffn_adapter;     // {arch}.ffn.adapter: per-invocation gate_up LoRA adapter
    int layer_shared[MODEL_MAX_LAYERS]; // shared block run before layer l's mixer, -1: none
};

// Per-layer weights, named like the GGUF tensors without "blk.N." and ".weight";
// fields an architecture lacks stay NULL. Biases end in _b.
struct LayerWeights {
    const struct GgufTensor *attn_norm, *attn_norm_b;
    const struct GgufTensor *attn_q, *attn_k, *attn_v, *attn_output;
    const struct GgufTensor *attn_q_b, *attn_k_b, *attn_v_b, *attn_output_b;
    const struct GgufTensor *ffn_norm, *ffn_norm_b;
    const struct GgufTensor *ffn_gate, *ffn_up, *ffn_down;
    const struct GgufTensor *ffn_gate_b, *ffn_up_b, *ffn_down_b;
    // mixture of experts: ffn_gate_inp (router), stacked experts (ne = [in, out, n_expert])
    const struct GgufTensor *ffn_gate_inp, *ffn_gate_exps, *ffn_up_exps, *ffn_down_exps;
    // Mamba / Mamba-2
    const struct GgufTensor *ssm_in, *ssm_conv1d, *ssm_conv1d_b, *ssm_x, *ssm_dt, *ssm_dt_b;
    const struct GgufTensor *ssm_a, *ssm_d, *ssm_out, *ssm_norm;
    const struct GgufTensor *ssm_dt_norm, *ssm_b_norm, *ssm_c_norm;
    // ---- rwkv7: attn_norm(_b) is ln1, attn_norm_2(_b) ln2; LoRA matrices are (in, out)
    // like every GGUF matrix; time_mix_lerp_fused holds the six token-shift mixes
    // r, w, k, v, a, g as (n_embd, 1, 1, 6); v0/v1/v2 are unused on layer 0.
    const struct GgufTensor *attn_norm_2, *attn_norm_2_b;
    const struct GgufTensor* time_mix_lerp_fused;
    const struct GgufTensor *time_mix_w0, *time_mix_w1, *time_mix_w2;
    const struct GgufTensor *time_mix_a0, *time_mix_a1, *time_mix_a2;
    const struct GgufTensor *time_mix_v0, *time_mix_v1, *time_mix_v2;
    const struct GgufTensor *time_mix_g1, *time_mix_g2;
    const struct GgufTensor *time_mix_k_k, *time_mix_k_a, *time_mix_r_k;
    const struct GgufTensor *time_mix_key, *time_mix_value, *time_mix_receptance;
    const struct GgufTensor* time_mix_output;
    const struct GgufTensor *time_mix_ln, *time_mix_ln_b; // GroupNorm ln_x
    const struct GgufTensor *channel_mix_lerp_k, *channel_mix_key, *channel_mix_value;
    // ---- griffin: recurrent layers use ssm_conv1d(_b) for the conv; the RG-LRU gates are
    // block-diagonal, (bw, bw, n_head) with one GGUF matrix per block, biases (bw, n_head)
    const struct GgufTensor *rg_y, *rg_y_b, *rg_x, *rg_x_b;
    const struct GgufTensor *rg_gate_x, *rg_gate_x_b, *rg_gate_a, *rg_gate_a_b;
    const struct GgufTensor *rg_param, *rg_out, *rg_out_b;
    // ---- zamba2: A_log as stored (A = -exp(A_log) in the engine); on hybrid layers the
    // projection of the shared block's output and this invocation's LoRA adapters
    // (_a: (in, rank), _b: (rank, out); the adapted projection is W x + B (A x)).
    const struct GgufTensor* ssm_a_log;
    const struct GgufTensor* shared_proj;
    const struct GgufTensor *shared_attn_q_a, *shared_attn_q_b, *shared_attn_k_a, *shared_attn_k_b;
    const struct GgufTensor *shared_attn_v_a, *shared_attn_v_b;
    const struct GgufTensor *shared_ffn_gate_up_a, *shared_ffn_gate_up_b;
};

// ---- zamba2: one shared transformer block ("shared.b.*"), run by several hybrid layers.
// Its attention reads concat(x, embedding) (2 n_embd wide); ffn_gate_up holds gate then up
// (Zamba2), or ffn_gate and ffn_up are separate (Zamba v1).
struct SharedBlock {
    const struct GgufTensor* attn_norm;                // (2 n_embd,)
    const struct GgufTensor *attn_q, *attn_k, *attn_v; // (2 n_embd, heads * head_dim)
    const struct GgufTensor* attn_output;              // (n_head * head_dim, n_embd)
    const struct GgufTensor* ffn_norm;                 // (n_embd,)
    const struct GgufTensor* ffn_gate_up;              // (n_embd, 2 n_ff)
    const struct GgufTensor* ffn_down;                 // (n_ff, n_embd)
    const struct GgufTensor *ffn_gate, *ffn_up;        // Zamba v1: (n_embd, n_ff) each
};

struct Weights {
    const struct GgufTensor* token_embd; // (n_vocab, n_embd)
    const struct GgufTensor *token_embd_norm, *token_embd_norm_b;
    const struct GgufTensor *output_norm, *output_norm_b;
    const struct GgufTensor* output;     // (n_vocab, n_embd); token_embd when tied
    const struct GgufTensor* rope_freqs; // optional per-dimension frequency factors
    struct LayerWeights* layers;         // n_layer entries
    // ---- zamba2
    struct SharedBlock* shared; // n_shared_block entries, NULL for other archs
};

struct Model {
    struct Gguf gguf; // owns the mapping every tensor view points into
    struct Config config;
    struct Weights w;
};

// Opens a GGUF and loads config and weights. Fails (negative ERR_*, message naming the key
// or tensor) on an unsupported architecture, a missing or mis-shaped tensor, a missing
// required key, or a tensor type that cannot be dequantized.
int model_open(struct Model* m, const char* path, struct Err* e);
// Same over a parsed GGUF, which the model takes over (it is freed with the model).
int model_load(struct Model* m, struct Gguf* g, struct Err* e);
// Same, but reads only the config (m->config; no weights are bound, m->w stays empty):
// what synth uses to size the tensors of the keys it wrote.
int model_load_config(struct Model* m, struct Gguf* g, struct Err* e);
void model_free(struct Model* m);

// Index of a tensor view in m->gguf.tensors (the id graph ops use), or -1 for NULL.
int model_tensor_id(const struct Model* m, const struct GgufTensor* t);
