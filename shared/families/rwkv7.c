// rwkv7.c: RWKV-7 "Goose" (ARCHITECTURES.md §4) in llama.cpp's GGUF layout: its keys, its
// tensor table and what synth writes for it. The graph is build_rwkv7() in graph.c.
#include <stdio.h>

#include "families.h"

// ---------------------------------------------------------------------------------------
// config

int rwkv7_config(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = 0;
    if ((rc = key_int(g, "wkv.head_size", 1, 0, 1, 1 << 16, &c->rwkv_head_size, e))) return rc;
    if ((rc = key_int(g, "attention.decay_lora_rank", 1, 0, 1, 1 << 16, &c->rwkv_lora_decay, e)))
        return rc;
    if ((rc = key_int(g, "attention.iclr_lora_rank", 1, 0, 1, 1 << 16, &c->rwkv_lora_iclr, e)))
        return rc;
    if ((rc = key_int(g, "attention.value_residual_mix_lora_rank", 1, 0, 1, 1 << 16,
                      &c->rwkv_lora_value, e)))
        return rc;
    if ((rc = key_int(g, "attention.gate_lora_rank", 1, 0, 1, 1 << 16, &c->rwkv_lora_gate, e)))
        return rc;
    if (c->n_embd % c->rwkv_head_size != 0)
        return err_set(e, ERR_FORMAT,
                       "model: embedding_length %d is not a multiple of wkv.head_size %d",
                       c->n_embd, c->rwkv_head_size);
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    c->head_dim = c->rwkv_head_size;
    c->n_head = c->n_embd / c->rwkv_head_size;
    c->n_head_kv = c->n_head;
    c->rope_type = ROPE_NONE;
    for (int l = 0; l < c->n_layer; l++) {
        c->layer_kind[l] = LAYER_RWKV7;
        c->ffn_kind[l] = FFN_DENSE;
        c->layer_n_head_kv[l] = c->n_head;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// tensors, in file order: attn_norm(_b) is ln1, attn_norm_2(_b) ln2; the LoRAs stay F32
// (llama.cpp's quantizer leaves them); v0/v1/v2 are unused (and optional) on layer 0

#define E DIM_EMBD
// clang-format off
const struct TensorRow RWKV7_TENSORS[] = {
    {WT(token_embd), "token_embd.weight", {E, DIM_VOCAB}, REQUIRED, INIT_NORMAL, 0},
    {WT(token_embd_norm), "token_embd_norm.weight", {E}, REQUIRED, INIT_ONE, 0},
    {WT(token_embd_norm_b), "token_embd_norm.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(attn_norm), "blk.%d.attn_norm.weight", {E}, REQUIRED, INIT_ONE, 0},
    {LW(attn_norm_b), "blk.%d.attn_norm.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(attn_norm_2), "blk.%d.attn_norm_2.weight", {E}, REQUIRED, INIT_ONE, 0},
    {LW(attn_norm_2_b), "blk.%d.attn_norm_2.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(time_mix_w0), "blk.%d.time_mix_w0.weight", {E}, REQUIRED, INIT_DECAY_RAMP, 0},
    {LW(time_mix_w1), "blk.%d.time_mix_w1.weight", {E, DIM_LORA_DECAY}, REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_w2), "blk.%d.time_mix_w2.weight", {DIM_LORA_DECAY, E}, REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_a0), "blk.%d.time_mix_a0.weight", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(time_mix_a1), "blk.%d.time_mix_a1.weight", {E, DIM_LORA_ICLR}, REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_a2), "blk.%d.time_mix_a2.weight", {DIM_LORA_ICLR, E}, REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_v0), "blk.%d.time_mix_v0.weight", {E}, REQUIRED_AFTER_L0, INIT_ONE, 0},
    {LW(time_mix_v1), "blk.%d.time_mix_v1.weight", {E, DIM_LORA_VALUE}, REQUIRED_AFTER_L0, INIT_NORMAL_F32, 0},
    {LW(time_mix_v2), "blk.%d.time_mix_v2.weight", {DIM_LORA_VALUE, E}, REQUIRED_AFTER_L0, INIT_NORMAL_F32, 0},
    {LW(time_mix_g1), "blk.%d.time_mix_g1.weight", {E, DIM_LORA_GATE}, REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_g2), "blk.%d.time_mix_g2.weight", {DIM_LORA_GATE, E}, REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_lerp_fused), "blk.%d.time_mix_lerp_fused.weight", {E, DIM_ONE, DIM_ONE, DIM_SIX}, REQUIRED, INIT_UNIFORM01, 0},
    {LW(time_mix_k_k), "blk.%d.time_mix_k_k.weight", {E}, REQUIRED, INIT_K_K, 0},
    {LW(time_mix_k_a), "blk.%d.time_mix_k_a.weight", {E}, REQUIRED, INIT_ONE, 0},
    {LW(time_mix_r_k), "blk.%d.time_mix_r_k.weight", {E}, REQUIRED, INIT_NORMAL_F32, 0},
    {LW(time_mix_key), "blk.%d.time_mix_key.weight", {E, E}, REQUIRED, INIT_NORMAL, 0},
    {LW(time_mix_value), "blk.%d.time_mix_value.weight", {E, E}, REQUIRED, INIT_NORMAL, 0},
    {LW(time_mix_receptance), "blk.%d.time_mix_receptance.weight", {E, E}, REQUIRED, INIT_NORMAL, 0},
    {LW(time_mix_output), "blk.%d.time_mix_output.weight", {E, E}, REQUIRED, INIT_NORMAL, 0},
    {LW(time_mix_ln), "blk.%d.time_mix_ln.weight", {E}, REQUIRED, INIT_ONE, 0},
    {LW(time_mix_ln_b), "blk.%d.time_mix_ln.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {LW(channel_mix_lerp_k), "blk.%d.channel_mix_lerp_k.weight", {E}, REQUIRED, INIT_UNIFORM01, 0},
    {LW(channel_mix_key), "blk.%d.channel_mix_key.weight", {E, DIM_FF}, REQUIRED, INIT_NORMAL, 0},
    {LW(channel_mix_value), "blk.%d.channel_mix_value.weight", {DIM_FF, E}, REQUIRED, INIT_NORMAL, 0},
    {WT(output_norm), "output_norm.weight", {E}, REQUIRED, INIT_ONE, 0},
    {WT(output_norm_b), "output_norm.bias", {E}, REQUIRED, INIT_ZERO, 0},
    {WT(output), "output.weight", {E, DIM_VOCAB}, OPTIONAL_UNTIED, INIT_NORMAL, 0},
    TENSORS_END,
};
// clang-format on
#undef E

// ---------------------------------------------------------------------------------------
// synth: RWKV-7 World 1.5B by default

// clang-format off
const int64_t RWKV7_SYNTH[P_COUNT] = {
    [P_EMBD] = 2048, [P_LAYER] = 24, [P_VOCAB] = 65536, [P_CTX] = 1 << 20, [P_FF] = AUTO,
    [P_HEAD_DIM] = 64, [P_LORA_DECAY] = 96, [P_LORA_ICLR] = 96, [P_LORA_VALUE] = 64,
    [P_LORA_GATE] = 256,
};
// clang-format on

void rwkv7_synth_keys(struct GgufWriter* w, const char* a, const int64_t* v) {
    key_set_f32(w, a, "attention.layer_norm_epsilon", 1e-5f);
    key_set_u32(w, a, "wkv.head_size", (uint32_t)v[P_HEAD_DIM]);
    key_set_u32(w, a, "attention.decay_lora_rank", (uint32_t)v[P_LORA_DECAY]);
    key_set_u32(w, a, "attention.iclr_lora_rank", (uint32_t)v[P_LORA_ICLR]);
    key_set_u32(w, a, "attention.value_residual_mix_lora_rank", (uint32_t)v[P_LORA_VALUE]);
    key_set_u32(w, a, "attention.gate_lora_rank", (uint32_t)v[P_LORA_GATE]);
    key_set_u32(w, a, "feed_forward_length", (uint32_t)v[P_FF]);
    key_set_u32(w, a, "attention.head_count", 0);
}

int rwkv7_synth_check(const int64_t* v, char* msg, size_t cap) {
    if (v[P_EMBD] % v[P_HEAD_DIM] != 0)
        return snprintf(msg, cap, "--n-embd must be a multiple of --head-dim (the WKV head size)");
    return 0;
}
