// model.c: read hyperparameters and bind weight views (see model.h).
// One load_<arch>() per family: it reads that family's keys into struct Config and binds
// its tensors with bind(), which checks presence, type and every dimension and names the
// first mismatch.
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRED 1
#define OPTIONAL 0

// ---------------------------------------------------------------------------------------
// keys

// Reads "{arch}.suffix" as an int in [lo, hi]. Missing: *out = def, or ERR_NOT_FOUND when
// required.
static int key_int(const struct Gguf* g, const char* suffix, int required, int64_t def, int64_t lo,
                   int64_t hi, int* out, struct Err* e) {
    int64_t v = def;
    int rc = arch_get_int(g, suffix, &v, e);
    if (rc == ERR_NOT_FOUND && !required) {
        v = def;
    } else if (rc) {
        return rc;
    }
    if (v < lo || v > hi)
        return err_set(e, ERR_FORMAT, "model: key '%s' = %lld is outside [%lld, %lld]", suffix,
                       (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return 0;
}

static int key_float(const struct Gguf* g, const char* suffix, double def, double* out,
                     struct Err* e) {
    int rc = arch_get_float(g, suffix, out, e);
    if (rc == ERR_NOT_FOUND) {
        *out = def;
        return 0;
    }
    return rc;
}

// A per-layer integer that a file may store as one number or as an array (Jamba's
// head_count_kv). Fills out[0..n_layer).
static int key_per_layer(const struct Gguf* g, const char* suffix, int n_layer, int def, int* out,
                         struct Err* e) {
    const struct GgufKv* kv = arch_find_key(g, suffix);
    if (kv && kv->val.type == GGUF_TYPE_ARRAY) {
        const struct GgufArr* a = &kv->val.arr;
        if (a->type == GGUF_TYPE_STRING || a->type == GGUF_TYPE_ARRAY ||
            a->type == GGUF_TYPE_FLOAT32 || a->type == GGUF_TYPE_FLOAT64 ||
            a->n != (uint64_t)n_layer)
            return err_set(e, ERR_FORMAT, "model: key '%s' must hold %d integers", kv->key,
                           n_layer);
        for (int l = 0; l < n_layer; l++) {
            int64_t v = gguf_arr_int(a, (uint64_t)l);
            if (v < 0 || v > 65536)
                return err_set(e, ERR_FORMAT, "model: key '%s'[%d] = %lld is out of range", kv->key,
                               l, (long long)v);
            out[l] = (int)v;
        }
        return 0;
    }
    int v;
    int rc = key_int(g, suffix, 0, def, 0, 65536, &v, e);
    if (rc) return rc;
    for (int l = 0; l < n_layer; l++)
        out[l] = v;
    return 0;
}

// ---------------------------------------------------------------------------------------
// tensors

// Finds the tensor named fmt (with %d = layer), checks that its type can be dequantized and
// that its shape is ne (ggml order, unused dims 1; -1 matches anything). Returns the view,
// or NULL: for a missing optional tensor with *rc untouched, otherwise with *rc set.
static const struct GgufTensor* bind(const struct Model* m, int* rc, struct Err* e, int required,
                                     const int64_t ne[4], const char* fmt, int layer) {
    if (*rc) return NULL;
    char name[128];
    snprintf(name, sizeof(name), fmt, layer);
    const struct GgufTensor* t = gguf_find_tensor(&m->gguf, name);
    if (!t) {
        if (required)
            *rc = err_set(e, ERR_NOT_FOUND,
                          "model: tensor '%s' is missing (is this a complete %s "
                          "model?)",
                          name, arch_name(m->config.arch));
        return NULL;
    }
    const struct QuantTraits* tr = quant_traits(t->type);
    if (!tr->can_dequant) {
        *rc = err_set(e, ERR_UNSUPPORTED,
                      "model: tensor '%s' has type %s, which mattn cannot "
                      "dequantize yet",
                      name, tr->upper);
        return NULL;
    }
    for (int d = 0; d < 4; d++) {
        if (ne[d] >= 0 && t->ne[d] != ne[d]) {
            *rc = err_set(e, ERR_SHAPE,
                          "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected "
                          "[%lld, %lld, %lld, %lld]",
                          name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                          (long long)t->ne[3], (long long)ne[0], (long long)ne[1], (long long)ne[2],
                          (long long)ne[3]);
            return NULL;
        }
    }
    return t;
}

#define SHAPE(...) ((const int64_t[4]){__VA_ARGS__})

// ---------------------------------------------------------------------------------------
// common config

static int load_common(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc;
    if ((rc = key_int(g, "embedding_length", 1, 0, 1, 1 << 20, &c->n_embd, e))) return rc;
    if ((rc = key_int(g, "block_count", 1, 0, 1, MODEL_MAX_LAYERS, &c->n_layer, e))) return rc;
    if ((rc = key_int(g, "context_length", 0, 4096, 1, INT32_MAX, &c->n_ctx_train, e))) return rc;
    if ((rc = key_int(g, "feed_forward_length", 0, 0, 0, 1 << 24, &c->n_ff, e))) return rc;
    if ((rc = key_per_layer(g, "attention.head_count", c->n_layer, 0, c->layer_n_head_kv, e)))
        return rc;
    c->n_head = 0;
    for (int l = 0; l < c->n_layer; l++)
        if (c->layer_n_head_kv[l] > c->n_head) c->n_head = c->layer_n_head_kv[l];
    if ((rc = key_per_layer(g, "attention.head_count_kv", c->n_layer, c->n_head, c->layer_n_head_kv,
                            e)))
        return rc;
    c->n_head_kv = 0;
    for (int l = 0; l < c->n_layer; l++)
        if (c->layer_n_head_kv[l] > c->n_head_kv) c->n_head_kv = c->layer_n_head_kv[l];
    int head_dim_default = c->n_head > 0 ? c->n_embd / c->n_head : 0;
    if ((rc = key_int(g, "attention.key_length", 0, head_dim_default, 0, 1 << 16, &c->head_dim, e)))
        return rc;
    double eps;
    if ((rc = key_float(g, "attention.layer_norm_rms_epsilon", -1, &eps, e))) return rc;
    if (eps < 0 && (rc = key_float(g, "attention.layer_norm_epsilon", 1e-5, &eps, e))) return rc;
    c->norm_eps = eps;

    // Vocabulary size: explicit key, else the token list, else the embedding rows.
    const struct GgufTensor* emb = gguf_find_tensor(g, "token_embd.weight");
    const struct GgufArr* toks;
    int64_t nv;
    if (arch_get_int(g, "vocab_size", &nv, NULL) == 0) {
        c->n_vocab = (int)nv;
    } else if (gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) == 0) {
        c->n_vocab = (int)toks->n;
    } else if (emb && emb->n_dims == 2) {
        c->n_vocab = (int)emb->ne[1];
    }
    if (c->n_vocab <= 0 || (emb && emb->ne[1] > INT32_MAX))
        return err_set(e, ERR_FORMAT, "model: cannot tell the vocabulary size");
    return 0;
}

static int bind_output(struct Model* m, int* rc, struct Err* e) {
    const struct Config* c = &m->config;
    struct Weights* w = &m->w;
    w->token_embd =
        bind(m, rc, e, REQUIRED, SHAPE(c->n_embd, c->n_vocab, 1, 1), "token_embd.weight", 0);
    w->output_norm = bind(m, rc, e, REQUIRED, SHAPE(c->n_embd, 1, 1, 1), "output_norm.weight", 0);
    w->output = bind(m, rc, e, OPTIONAL, SHAPE(c->n_embd, c->n_vocab, 1, 1), "output.weight", 0);
    if (!*rc && !w->output) {
        w->output = w->token_embd;
        m->config.tied_output = true;
    }
    return *rc;
}

// ---------------------------------------------------------------------------------------
// llama (and Mistral, stored as llama)

static int load_llama(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = 0;
    if (c->n_head <= 0 || c->n_head_kv <= 0 || c->n_head % c->n_head_kv != 0 || c->head_dim <= 0)
        return err_set(e, ERR_FORMAT,
                       "model: bad head counts (n_head %d, n_head_kv %d, head_dim %d)", c->n_head,
                       c->n_head_kv, c->head_dim);
    c->rope_type = ROPE_NORM;
    if ((rc = key_int(g, "rope.dimension_count", 0, c->head_dim, 2, c->head_dim, &c->n_rot, e)))
        return rc;
    if (c->n_rot % 2) return err_set(e, ERR_FORMAT, "model: rope.dimension_count must be even");
    if ((rc = key_float(g, "rope.freq_base", 10000.0, &c->rope_freq_base, e))) return rc;
    double factor = 0;
    struct GgufStr st;
    if (arch_find_key(g, "rope.scaling.type")) {
        const struct GgufKv* kv = arch_find_key(g, "rope.scaling.type");
        if (kv->val.type != GGUF_TYPE_STRING)
            return err_set(e, ERR_TYPE, "model: rope.scaling.type must be a string");
        st = kv->val.str;
        if ((rc = key_float(g, "rope.scaling.factor", 0, &factor, e))) return rc;
        if (strcmp(st.s, "linear") == 0 && factor > 0) {
            c->rope_freq_scale = 1.0 / factor;
        } else if (strcmp(st.s, "none") != 0 && !(strcmp(st.s, "linear") == 0 && factor == 0)) {
            return err_set(e, ERR_UNSUPPORTED, "model: rope scaling '%.32s' is not supported yet",
                           st.s);
        }
    } else {
        if ((rc = key_float(g, "rope.scale_linear", 1.0, &factor, e))) return rc;
        if (factor <= 0) return err_set(e, ERR_FORMAT, "model: rope.scale_linear must be > 0");
        c->rope_freq_scale = 1.0 / factor;
    }
    if ((rc = key_int(g, "attention.sliding_window", 0, 0, 0, INT32_MAX, &c->sliding_window, e)))
        return rc;
    c->attn_scale = 1.0 / sqrt((double)c->head_dim);
    int n_q = c->n_head * c->head_dim, n_kv = c->n_head_kv * c->head_dim;
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    if ((rc = bind_output(m, &rc, e))) return rc;
    m->w.rope_freqs =
        bind(m, &rc, e, OPTIONAL, SHAPE(c->n_rot / 2, 1, 1, 1), "rope_freqs.weight", 0);
    for (int l = 0; l < c->n_layer && !rc; l++) {
        struct LayerWeights* L = &m->w.layers[l];
        c->layer_kind[l] = LAYER_ATTN;
        c->ffn_kind[l] = FFN_DENSE;
        L->attn_norm =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, 1, 1, 1), "blk.%d.attn_norm.weight", l);
        L->attn_q =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, n_q, 1, 1), "blk.%d.attn_q.weight", l);
        L->attn_k =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, n_kv, 1, 1), "blk.%d.attn_k.weight", l);
        L->attn_v =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, n_kv, 1, 1), "blk.%d.attn_v.weight", l);
        L->attn_output =
            bind(m, &rc, e, REQUIRED, SHAPE(n_q, c->n_embd, 1, 1), "blk.%d.attn_output.weight", l);
        L->attn_q_b = bind(m, &rc, e, OPTIONAL, SHAPE(n_q, 1, 1, 1), "blk.%d.attn_q.bias", l);
        L->attn_k_b = bind(m, &rc, e, OPTIONAL, SHAPE(n_kv, 1, 1, 1), "blk.%d.attn_k.bias", l);
        L->attn_v_b = bind(m, &rc, e, OPTIONAL, SHAPE(n_kv, 1, 1, 1), "blk.%d.attn_v.bias", l);
        L->attn_output_b =
            bind(m, &rc, e, OPTIONAL, SHAPE(c->n_embd, 1, 1, 1), "blk.%d.attn_output.bias", l);
        L->ffn_norm =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, 1, 1, 1), "blk.%d.ffn_norm.weight", l);
        L->ffn_gate =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, c->n_ff, 1, 1), "blk.%d.ffn_gate.weight", l);
        L->ffn_up =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, c->n_ff, 1, 1), "blk.%d.ffn_up.weight", l);
        L->ffn_down =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_ff, c->n_embd, 1, 1), "blk.%d.ffn_down.weight", l);
        L->ffn_gate_b =
            bind(m, &rc, e, OPTIONAL, SHAPE(c->n_ff, 1, 1, 1), "blk.%d.ffn_gate.bias", l);
        L->ffn_up_b = bind(m, &rc, e, OPTIONAL, SHAPE(c->n_ff, 1, 1, 1), "blk.%d.ffn_up.bias", l);
        L->ffn_down_b =
            bind(m, &rc, e, OPTIONAL, SHAPE(c->n_embd, 1, 1, 1), "blk.%d.ffn_down.bias", l);
    }
    return rc;
}

// ---------------------------------------------------------------------------------------
// ---- rwkv7 (ARCHITECTURES.md §4; llama.cpp's GGUF layout)

static int load_rwkv7(struct Model* m, struct Err* e) {
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
                       "model: embedding_length %d is not a multiple of "
                       "wkv.head_size %d",
                       c->n_embd, c->rwkv_head_size);
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    c->head_dim = c->rwkv_head_size;
    c->n_head = c->n_embd / c->rwkv_head_size;
    c->n_head_kv = c->n_head;
    c->rope_type = ROPE_NONE;
    int C = c->n_embd;
    if ((rc = bind_output(m, &rc, e))) return rc;
    m->w.output_norm_b = bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "output_norm.bias", 0);
    m->w.token_embd_norm =
        bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "token_embd_norm.weight", 0);
    m->w.token_embd_norm_b =
        bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "token_embd_norm.bias", 0);
    int Dw = c->rwkv_lora_decay, Da = c->rwkv_lora_iclr, Dv = c->rwkv_lora_value;
    int Dg = c->rwkv_lora_gate;
    for (int l = 0; l < c->n_layer && !rc; l++) {
        struct LayerWeights* L = &m->w.layers[l];
        c->layer_kind[l] = LAYER_RWKV7;
        c->ffn_kind[l] = FFN_DENSE;
        c->layer_n_head_kv[l] = c->n_head;
        int v_lora = l > 0 ? REQUIRED : OPTIONAL;
        L->attn_norm = bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.attn_norm.weight", l);
        L->attn_norm_b = bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.attn_norm.bias", l);
        L->attn_norm_2 =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.attn_norm_2.weight", l);
        L->attn_norm_2_b =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.attn_norm_2.bias", l);
        L->time_mix_lerp_fused =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 6), "blk.%d.time_mix_lerp_fused.weight", l);
        L->time_mix_w0 =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.time_mix_w0.weight", l);
        L->time_mix_w1 =
            bind(m, &rc, e, REQUIRED, SHAPE(C, Dw, 1, 1), "blk.%d.time_mix_w1.weight", l);
        L->time_mix_w2 =
            bind(m, &rc, e, REQUIRED, SHAPE(Dw, C, 1, 1), "blk.%d.time_mix_w2.weight", l);
        L->time_mix_a0 =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.time_mix_a0.weight", l);
        L->time_mix_a1 =
            bind(m, &rc, e, REQUIRED, SHAPE(C, Da, 1, 1), "blk.%d.time_mix_a1.weight", l);
        L->time_mix_a2 =
            bind(m, &rc, e, REQUIRED, SHAPE(Da, C, 1, 1), "blk.%d.time_mix_a2.weight", l);
        L->time_mix_v0 = bind(m, &rc, e, v_lora, SHAPE(C, 1, 1, 1), "blk.%d.time_mix_v0.weight", l);
        L->time_mix_v1 =
            bind(m, &rc, e, v_lora, SHAPE(C, Dv, 1, 1), "blk.%d.time_mix_v1.weight", l);
        L->time_mix_v2 =
            bind(m, &rc, e, v_lora, SHAPE(Dv, C, 1, 1), "blk.%d.time_mix_v2.weight", l);
        L->time_mix_g1 =
            bind(m, &rc, e, REQUIRED, SHAPE(C, Dg, 1, 1), "blk.%d.time_mix_g1.weight", l);
        L->time_mix_g2 =
            bind(m, &rc, e, REQUIRED, SHAPE(Dg, C, 1, 1), "blk.%d.time_mix_g2.weight", l);
        L->time_mix_k_k =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.time_mix_k_k.weight", l);
        L->time_mix_k_a =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.time_mix_k_a.weight", l);
        L->time_mix_r_k =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.time_mix_r_k.weight", l);
        L->time_mix_key =
            bind(m, &rc, e, REQUIRED, SHAPE(C, C, 1, 1), "blk.%d.time_mix_key.weight", l);
        L->time_mix_value =
            bind(m, &rc, e, REQUIRED, SHAPE(C, C, 1, 1), "blk.%d.time_mix_value.weight", l);
        L->time_mix_receptance =
            bind(m, &rc, e, REQUIRED, SHAPE(C, C, 1, 1), "blk.%d.time_mix_receptance.weight", l);
        L->time_mix_output =
            bind(m, &rc, e, REQUIRED, SHAPE(C, C, 1, 1), "blk.%d.time_mix_output.weight", l);
        L->time_mix_ln =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.time_mix_ln.weight", l);
        L->time_mix_ln_b =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.time_mix_ln.bias", l);
        L->channel_mix_lerp_k =
            bind(m, &rc, e, REQUIRED, SHAPE(C, 1, 1, 1), "blk.%d.channel_mix_lerp_k.weight", l);
        L->channel_mix_key =
            bind(m, &rc, e, REQUIRED, SHAPE(C, c->n_ff, 1, 1), "blk.%d.channel_mix_key.weight", l);
        L->channel_mix_value = bind(m, &rc, e, REQUIRED, SHAPE(c->n_ff, C, 1, 1),
                                    "blk.%d.channel_mix_value.weight", l);
    }
    return rc;
}

// ---- mamba: Mamba-1, Mamba-2 and Jamba (ARCHITECTURES.md §5, §7.4)

// The {arch}.ssm.* keys every Mamba-family file has.
static int load_ssm_keys(struct Model* m, int mamba2, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc;
    if ((rc = key_int(g, "ssm.conv_kernel", 1, 0, 1, 1 << 10, &c->ssm_d_conv, e))) return rc;
    if ((rc = key_int(g, "ssm.inner_size", 1, 0, 1, 1 << 20, &c->ssm_d_inner, e))) return rc;
    if ((rc = key_int(g, "ssm.state_size", 1, 0, 1, 1 << 12, &c->ssm_d_state, e))) return rc;
    if ((rc = key_int(g, "ssm.time_step_rank", 1, 0, 1, 1 << 16, &c->ssm_dt_rank, e))) return rc;
    if ((rc = key_int(g, "ssm.group_count", mamba2, 1, 1, 1 << 12, &c->ssm_n_group, e))) return rc;
    c->ssm_dt_b_c_rms = false;
    const struct GgufKv* kv = arch_find_key(g, "ssm.dt_b_c_rms");
    if (kv && kv->val.type == GGUF_TYPE_BOOL) c->ssm_dt_b_c_rms = kv->val.u != 0;
    if (mamba2 && (c->ssm_d_inner % c->ssm_dt_rank || c->ssm_dt_rank % c->ssm_n_group ||
                   c->ssm_d_inner % c->ssm_n_group))
        return err_set(e, ERR_FORMAT,
                       "model: ssm.inner_size %d, time_step_rank (heads) %d and "
                       "group_count %d do not divide",
                       c->ssm_d_inner, c->ssm_dt_rank, c->ssm_n_group);
    return 0;
}

// Mamba-1 mixer of layer l (Jamba adds the dt/B/C RMSNorm weights).
static void bind_mamba1_layer(struct Model* m, int l, int* rc, struct Err* e) {
    const struct Config* c = &m->config;
    struct LayerWeights* L = &m->w.layers[l];
    int di = c->ssm_d_inner, ds = c->ssm_d_state, dr = c->ssm_dt_rank;
    L->ssm_in = bind(m, rc, e, REQUIRED, SHAPE(c->n_embd, 2 * di, 1, 1), "blk.%d.ssm_in.weight", l);
    L->ssm_conv1d =
        bind(m, rc, e, REQUIRED, SHAPE(c->ssm_d_conv, di, 1, 1), "blk.%d.ssm_conv1d.weight", l);
    L->ssm_conv1d_b = bind(m, rc, e, REQUIRED, SHAPE(di, 1, 1, 1), "blk.%d.ssm_conv1d.bias", l);
    L->ssm_x = bind(m, rc, e, REQUIRED, SHAPE(di, dr + 2 * ds, 1, 1), "blk.%d.ssm_x.weight", l);
    L->ssm_dt = bind(m, rc, e, REQUIRED, SHAPE(dr, di, 1, 1), "blk.%d.ssm_dt.weight", l);
    L->ssm_dt_b = bind(m, rc, e, REQUIRED, SHAPE(di, 1, 1, 1), "blk.%d.ssm_dt.bias", l);
    L->ssm_a = bind(m, rc, e, REQUIRED, SHAPE(ds, di, 1, 1), "blk.%d.ssm_a", l);
    L->ssm_d = bind(m, rc, e, REQUIRED, SHAPE(di, 1, 1, 1), "blk.%d.ssm_d", l);
    L->ssm_out = bind(m, rc, e, REQUIRED, SHAPE(di, c->n_embd, 1, 1), "blk.%d.ssm_out.weight", l);
    L->ssm_dt_norm = bind(m, rc, e, OPTIONAL, SHAPE(dr, 1, 1, 1), "blk.%d.ssm_dt_norm.weight", l);
    L->ssm_b_norm = bind(m, rc, e, OPTIONAL, SHAPE(ds, 1, 1, 1), "blk.%d.ssm_b_norm.weight", l);
    L->ssm_c_norm = bind(m, rc, e, OPTIONAL, SHAPE(ds, 1, 1, 1), "blk.%d.ssm_c_norm.weight", l);
    if (!*rc && (!L->ssm_dt_norm != !L->ssm_b_norm || !L->ssm_dt_norm != !L->ssm_c_norm))
        *rc = err_set(e, ERR_FORMAT,
                      "model: layer %d has some but not all of ssm_dt_norm, "
                      "ssm_b_norm, ssm_c_norm",
                      l);
}

static int load_mamba(struct Model* m, struct Err* e) {
    struct Config* c = &m->config;
    int rc = load_ssm_keys(m, 0, e);
    if (rc) return rc;
    if ((rc = bind_output(m, &rc, e))) return rc;
    for (int l = 0; l < c->n_layer && !rc; l++) {
        c->layer_kind[l] = LAYER_MAMBA;
        c->ffn_kind[l] = FFN_NONE;
        m->w.layers[l].attn_norm =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, 1, 1, 1), "blk.%d.attn_norm.weight", l);
        bind_mamba1_layer(m, l, &rc, e);
    }
    return rc;
}

static int load_mamba2(struct Model* m, struct Err* e) {
    struct Config* c = &m->config;
    int rc = load_ssm_keys(m, 1, e);
    if (rc) return rc;
    int di = c->ssm_d_inner, nh = c->ssm_dt_rank, ng = c->ssm_n_group;
    int conv_dim = di + 2 * ng * c->ssm_d_state;
    if ((rc = bind_output(m, &rc, e))) return rc;
    for (int l = 0; l < c->n_layer && !rc; l++) {
        struct LayerWeights* L = &m->w.layers[l];
        c->layer_kind[l] = LAYER_MAMBA2;
        c->ffn_kind[l] = FFN_NONE;
        L->attn_norm =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, 1, 1, 1), "blk.%d.attn_norm.weight", l);
        // in_proj rows: z (d_inner), xBC (conv_dim), dt (n_head)
        L->ssm_in = bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, di + conv_dim + nh, 1, 1),
                         "blk.%d.ssm_in.weight", l);
        L->ssm_conv1d = bind(m, &rc, e, REQUIRED, SHAPE(c->ssm_d_conv, conv_dim, 1, 1),
                             "blk.%d.ssm_conv1d.weight", l);
        L->ssm_conv1d_b =
            bind(m, &rc, e, REQUIRED, SHAPE(conv_dim, 1, 1, 1), "blk.%d.ssm_conv1d.bias", l);
        L->ssm_dt_b = bind(m, &rc, e, REQUIRED, SHAPE(nh, 1, 1, 1), "blk.%d.ssm_dt.bias", l);
        L->ssm_a = bind(m, &rc, e, REQUIRED, SHAPE(1, nh, 1, 1), "blk.%d.ssm_a", l);
        L->ssm_d = bind(m, &rc, e, REQUIRED, SHAPE(1, nh, 1, 1), "blk.%d.ssm_d", l);
        L->ssm_norm =
            bind(m, &rc, e, REQUIRED, SHAPE(di / ng, ng, 1, 1), "blk.%d.ssm_norm.weight", l);
        L->ssm_out =
            bind(m, &rc, e, REQUIRED, SHAPE(di, c->n_embd, 1, 1), "blk.%d.ssm_out.weight", l);
    }
    return rc;
}

static int load_jamba(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = load_ssm_keys(m, 0, e);
    if (rc) return rc;
    if (c->n_head <= 0 || c->n_head_kv <= 0 || c->head_dim <= 0)
        return err_set(e, ERR_FORMAT,
                       "model: bad head counts (n_head %d, n_head_kv %d, head_dim %d)", c->n_head,
                       c->n_head_kv, c->head_dim);
    for (int l = 0; l < c->n_layer; l++)
        if (c->layer_n_head_kv[l] > 0 && c->n_head % c->layer_n_head_kv[l] != 0)
            return err_set(e, ERR_FORMAT, "model: layer %d: %d heads do not share %d KV heads", l,
                           c->n_head, c->layer_n_head_kv[l]);
    c->rope_type = ROPE_NONE; // Jamba attention has no positional encoding
    c->n_rot = 0;
    c->attn_scale = 1.0 / sqrt((double)c->head_dim);
    if ((rc = key_int(g, "expert_count", 0, 0, 0, 1 << 16, &c->n_expert, e))) return rc;
    if ((rc = key_int(g, "expert_used_count", 0, 0, 0, c->n_expert, &c->n_expert_used, e)))
        return rc;
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    int n_q = c->n_head * c->head_dim, ff = c->n_ff, ne = c->n_expert;
    if ((rc = bind_output(m, &rc, e))) return rc;
    for (int l = 0; l < c->n_layer && !rc; l++) {
        struct LayerWeights* L = &m->w.layers[l];
        int n_kv = c->layer_n_head_kv[l] * c->head_dim;
        L->attn_norm =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, 1, 1, 1), "blk.%d.attn_norm.weight", l);
        if (c->layer_n_head_kv[l] > 0) {
            c->layer_kind[l] = LAYER_ATTN;
            L->attn_q =
                bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, n_q, 1, 1), "blk.%d.attn_q.weight", l);
            L->attn_k =
                bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, n_kv, 1, 1), "blk.%d.attn_k.weight", l);
            L->attn_v =
                bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, n_kv, 1, 1), "blk.%d.attn_v.weight", l);
            L->attn_output = bind(m, &rc, e, REQUIRED, SHAPE(n_q, c->n_embd, 1, 1),
                                  "blk.%d.attn_output.weight", l);
        } else {
            c->layer_kind[l] = LAYER_MAMBA;
            bind_mamba1_layer(m, l, &rc, e);
        }
        L->ffn_norm =
            bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, 1, 1, 1), "blk.%d.ffn_norm.weight", l);
        L->ffn_gate_inp =
            bind(m, &rc, e, OPTIONAL, SHAPE(c->n_embd, ne, 1, 1), "blk.%d.ffn_gate_inp.weight", l);
        if (L->ffn_gate_inp) {
            c->ffn_kind[l] = FFN_MOE;
            if (ne < 1 || c->n_expert_used < 1) {
                rc = err_set(e, ERR_FORMAT,
                             "model: layer %d has experts but expert_count %d, "
                             "expert_used_count %d",
                             l, ne, c->n_expert_used);
                break;
            }
            L->ffn_gate_exps = bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, ff, ne, 1),
                                    "blk.%d.ffn_gate_exps.weight", l);
            L->ffn_up_exps = bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, ff, ne, 1),
                                  "blk.%d.ffn_up_exps.weight", l);
            L->ffn_down_exps = bind(m, &rc, e, REQUIRED, SHAPE(ff, c->n_embd, ne, 1),
                                    "blk.%d.ffn_down_exps.weight", l);
        } else {
            c->ffn_kind[l] = FFN_DENSE;
            L->ffn_gate =
                bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, ff, 1, 1), "blk.%d.ffn_gate.weight", l);
            L->ffn_up =
                bind(m, &rc, e, REQUIRED, SHAPE(c->n_embd, ff, 1, 1), "blk.%d.ffn_up.weight", l);
            L->ffn_down =
                bind(m, &rc, e, REQUIRED, SHAPE(ff, c->n_embd, 1, 1), "blk.%d.ffn_down.weight", l);
        }
    }
    return rc;
}

// ---------------------------------------------------------------------------------------
// ---- griffin: RecurrentGemma (ARCHITECTURES.md §6; mattn's layout, docs/GGUF.md)

static int load_recurrentgemma(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = 0;
    if (c->n_head <= 0 || c->head_dim <= 0)
        return err_set(e, ERR_FORMAT, "model: bad head counts (n_head %d, head_dim %d)", c->n_head,
                       c->head_dim);
    for (int l = 0; l < c->n_layer; l++)
        if (c->layer_n_head_kv[l] > 0 && c->n_head % c->layer_n_head_kv[l] != 0)
            return err_set(e, ERR_FORMAT, "model: layer %d: %d heads do not share %d KV heads", l,
                           c->n_head, c->layer_n_head_kv[l]);
    // HF rotates halves (rotate_half) of the first n_rot dims of each head.
    c->rope_type = ROPE_NEOX;
    if ((rc = key_int(g, "rope.dimension_count", 1, 0, 2, c->head_dim, &c->n_rot, e))) return rc;
    if (c->n_rot % 2) return err_set(e, ERR_FORMAT, "model: rope.dimension_count must be even");
    if ((rc = key_float(g, "rope.freq_base", 10000.0, &c->rope_freq_base, e))) return rc;
    if ((rc = key_int(g, "attention.sliding_window", 1, 0, 1, INT32_MAX, &c->sliding_window, e)))
        return rc;
    if ((rc = key_int(g, "ssm.conv_kernel", 1, 0, 1, 1 << 10, &c->ssm_d_conv, e))) return rc;
    if ((rc = key_int(g, "ssm.inner_size", 1, 0, 1, 1 << 24, &c->ssm_d_inner, e))) return rc;
    if ((rc = key_float(g, "final_logit_softcapping", -1, &c->logit_softcap, e))) return rc;
    if ((rc = key_float(g, "embedding_scale", -1, &c->embd_scale, e))) return rc;
    if (!(c->logit_softcap > 0) || !(c->embd_scale > 0) || !isfinite(c->logit_softcap) ||
        !isfinite(c->embd_scale))
        return err_set(e, ERR_FORMAT,
                       "model: final_logit_softcapping and embedding_scale must "
                       "be present, finite and positive");
    if (c->ssm_d_inner % c->n_head)
        return err_set(e, ERR_FORMAT,
                       "model: ssm.inner_size %d is not a multiple of the %d "
                       "RG-LRU gate blocks (attention.head_count)",
                       c->ssm_d_inner, c->n_head);
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    c->norm_w_offset = 1.0; // Gemma RMSNorm: (1 + w), weights stored centred at 0
    c->attn_scale = 1.0 / sqrt((double)c->head_dim);
    int D = c->n_embd, lru = c->ssm_d_inner, H = c->n_head, bw = lru / H, K = c->ssm_d_conv;
    int n_q = H * c->head_dim, ff = c->n_ff;
    if ((rc = bind_output(m, &rc, e))) return rc;
    for (int l = 0; l < c->n_layer && !rc; l++) {
        struct LayerWeights* L = &m->w.layers[l];
        int n_kv = c->layer_n_head_kv[l] * c->head_dim;
        c->ffn_kind[l] = FFN_DENSE;
        L->attn_norm = bind(m, &rc, e, REQUIRED, SHAPE(D, 1, 1, 1), "blk.%d.attn_norm.weight", l);
        if (c->layer_n_head_kv[l] > 0) {
            c->layer_kind[l] = LAYER_ATTN;
            L->attn_q = bind(m, &rc, e, REQUIRED, SHAPE(D, n_q, 1, 1), "blk.%d.attn_q.weight", l);
            L->attn_k = bind(m, &rc, e, REQUIRED, SHAPE(D, n_kv, 1, 1), "blk.%d.attn_k.weight", l);
            L->attn_v = bind(m, &rc, e, REQUIRED, SHAPE(D, n_kv, 1, 1), "blk.%d.attn_v.weight", l);
            L->attn_q_b = bind(m, &rc, e, OPTIONAL, SHAPE(n_q, 1, 1, 1), "blk.%d.attn_q.bias", l);
            L->attn_k_b = bind(m, &rc, e, OPTIONAL, SHAPE(n_kv, 1, 1, 1), "blk.%d.attn_k.bias", l);
            L->attn_v_b = bind(m, &rc, e, OPTIONAL, SHAPE(n_kv, 1, 1, 1), "blk.%d.attn_v.bias", l);
            L->attn_output =
                bind(m, &rc, e, REQUIRED, SHAPE(n_q, D, 1, 1), "blk.%d.attn_output.weight", l);
            L->attn_output_b =
                bind(m, &rc, e, REQUIRED, SHAPE(D, 1, 1, 1), "blk.%d.attn_output.bias", l);
        } else {
            c->layer_kind[l] = LAYER_RGLRU;
            L->rg_y = bind(m, &rc, e, REQUIRED, SHAPE(D, lru, 1, 1), "blk.%d.rg_y.weight", l);
            L->rg_y_b = bind(m, &rc, e, REQUIRED, SHAPE(lru, 1, 1, 1), "blk.%d.rg_y.bias", l);
            L->rg_x = bind(m, &rc, e, REQUIRED, SHAPE(D, lru, 1, 1), "blk.%d.rg_x.weight", l);
            L->rg_x_b = bind(m, &rc, e, REQUIRED, SHAPE(lru, 1, 1, 1), "blk.%d.rg_x.bias", l);
            L->ssm_conv1d =
                bind(m, &rc, e, REQUIRED, SHAPE(K, lru, 1, 1), "blk.%d.ssm_conv1d.weight", l);
            L->ssm_conv1d_b =
                bind(m, &rc, e, REQUIRED, SHAPE(lru, 1, 1, 1), "blk.%d.ssm_conv1d.bias", l);
            L->rg_gate_x =
                bind(m, &rc, e, REQUIRED, SHAPE(bw, bw, H, 1), "blk.%d.rg_gate_x.weight", l);
            L->rg_gate_x_b =
                bind(m, &rc, e, REQUIRED, SHAPE(bw, H, 1, 1), "blk.%d.rg_gate_x.bias", l);
            L->rg_gate_a =
                bind(m, &rc, e, REQUIRED, SHAPE(bw, bw, H, 1), "blk.%d.rg_gate_a.weight", l);
            L->rg_gate_a_b =
                bind(m, &rc, e, REQUIRED, SHAPE(bw, H, 1, 1), "blk.%d.rg_gate_a.bias", l);
            L->rg_param = bind(m, &rc, e, REQUIRED, SHAPE(lru, 1, 1, 1), "blk.%d.rg_param", l);
            L->rg_out = bind(m, &rc, e, REQUIRED, SHAPE(lru, D, 1, 1), "blk.%d.rg_out.weight", l);
            L->rg_out_b = bind(m, &rc, e, REQUIRED, SHAPE(D, 1, 1, 1), "blk.%d.rg_out.bias", l);
        }
        L->ffn_norm = bind(m, &rc, e, REQUIRED, SHAPE(D, 1, 1, 1), "blk.%d.ffn_norm.weight", l);
        L->ffn_gate = bind(m, &rc, e, REQUIRED, SHAPE(D, ff, 1, 1), "blk.%d.ffn_gate.weight", l);
        L->ffn_up = bind(m, &rc, e, REQUIRED, SHAPE(D, ff, 1, 1), "blk.%d.ffn_up.weight", l);
        L->ffn_down = bind(m, &rc, e, REQUIRED, SHAPE(ff, D, 1, 1), "blk.%d.ffn_down.weight", l);
        L->ffn_gate_b = bind(m, &rc, e, REQUIRED, SHAPE(ff, 1, 1, 1), "blk.%d.ffn_gate.bias", l);
        L->ffn_up_b = bind(m, &rc, e, REQUIRED, SHAPE(ff, 1, 1, 1), "blk.%d.ffn_up.bias", l);
        L->ffn_down_b = bind(m, &rc, e, REQUIRED, SHAPE(D, 1, 1, 1), "blk.%d.ffn_down.bias", l);
    }
    return rc;
}

// ---- zamba2 (ARCHITECTURES.md §7; mattn's layout, docs/GGUF.md)

static int key_bool(const struct Gguf* g, const char* suffix, bool* out, struct Err* e) {
    const struct GgufKv* kv = arch_find_key(g, suffix);
    *out = false;
    if (!kv) return 0;
    if (kv->val.type != GGUF_TYPE_BOOL)
        return err_set(e, ERR_TYPE, "model: key '%s' must be a bool", kv->key);
    *out = kv->val.u != 0;
    return 0;
}

// Layer kinds from the per-layer head_count_kv (Hkv on hybrid layers, 0 on Mamba layers),
// hybrid ordinal j running shared block j % n_shared_block; checks the head counts.
static int zamba_layers(struct Model* m, struct Err* e) {
    struct Config* c = &m->config;
    int j = 0;
    for (int l = 0; l < c->n_layer; l++) {
        c->layer_shared[l] = -1;
        int kv = c->layer_n_head_kv[l];
        if (kv == 0) continue;
        if (c->n_head <= 0 || c->n_head % kv != 0)
            return err_set(e, ERR_FORMAT, "model: layer %d: %d heads do not share %d KV heads", l,
                           c->n_head, kv);
        if (kv != c->n_head_kv)
            return err_set(e, ERR_FORMAT,
                           "model: layer %d has %d KV heads, another %d (the shared "
                           "blocks need one count)",
                           l, kv, c->n_head_kv);
        c->layer_shared[l] = j++ % c->n_shared_block;
    }
    if (j < c->n_shared_block)
        return err_set(e, ERR_FORMAT, "model: %d hybrid layers for shared_block_count %d", j,
                       c->n_shared_block);
    if (!arch_find_key(&m->gguf, "attention.key_length"))
        c->head_dim = 2 * c->n_embd / c->n_head; // attention_head_dim = 2D / Ha
    if (c->head_dim <= 0)
        return err_set(e, ERR_FORMAT, "model: attention.key_length %d must be positive",
                       c->head_dim);
    // (hd/2)^-0.5, not hd^-0.5: HF Zamba2Attention.scaling = (head_dim / 2) ** -0.5
    c->attn_scale = 1.0 / sqrt(c->head_dim / 2.0);
    return 0;
}

// The shared transformer blocks' attention and norms, alike in Zamba and Zamba2 (the MLPs
// differ: the caller binds them): block s reads concat(x, embedding), 2 * n_embd wide.
static int bind_shared_blocks(struct Model* m, struct Err* e) {
    const struct Config* c = &m->config;
    int D = c->n_embd, n_q = c->n_head * c->head_dim, n_kv = c->n_head_kv * c->head_dim, rc = 0;
    m->w.shared = calloc((size_t)c->n_shared_block, sizeof(*m->w.shared));
    if (!m->w.shared) return err_set(e, ERR_NOMEM, "model: out of memory");
    for (int s = 0; s < c->n_shared_block && !rc; s++) {
        struct SharedBlock* S = &m->w.shared[s];
        S->attn_norm =
            bind(m, &rc, e, REQUIRED, SHAPE(2 * D, 1, 1, 1), "shared.%d.attn_norm.weight", s);
        S->attn_q =
            bind(m, &rc, e, REQUIRED, SHAPE(2 * D, n_q, 1, 1), "shared.%d.attn_q.weight", s);
        S->attn_k =
            bind(m, &rc, e, REQUIRED, SHAPE(2 * D, n_kv, 1, 1), "shared.%d.attn_k.weight", s);
        S->attn_v =
            bind(m, &rc, e, REQUIRED, SHAPE(2 * D, n_kv, 1, 1), "shared.%d.attn_v.weight", s);
        S->attn_output =
            bind(m, &rc, e, REQUIRED, SHAPE(n_q, D, 1, 1), "shared.%d.attn_output.weight", s);
        S->ffn_norm = bind(m, &rc, e, REQUIRED, SHAPE(D, 1, 1, 1), "shared.%d.ffn_norm.weight", s);
    }
    return rc;
}

static int load_zamba2(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = load_ssm_keys(m, 1, e);
    if (rc) return rc;
    if ((rc = key_int(g, "shared_block_count", 1, 0, 1, 64, &c->n_shared_block, e))) return rc;
    if ((rc = key_int(g, "adapter_rank", 0, 0, 0, 1 << 16, &c->adapter_rank, e))) return rc;
    if ((rc = key_bool(g, "attention.adapter", &c->attn_adapter, e))) return rc;
    if ((rc = key_bool(g, "ffn.adapter", &c->ffn_adapter, e))) return rc;
    if ((c->attn_adapter || c->ffn_adapter) && c->adapter_rank <= 0)
        return err_set(e, ERR_FORMAT, "model: adapters without an adapter_rank");
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    if ((rc = zamba_layers(m, e))) return rc;
    c->rope_type = ROPE_NEOX; // HF rotate_half on the checkpoint's own q/k row order
    if ((rc = key_int(g, "rope.dimension_count", 0, c->head_dim, 0, c->head_dim, &c->n_rot, e)))
        return rc;
    if (c->n_rot % 2) return err_set(e, ERR_FORMAT, "model: rope.dimension_count must be even");
    if ((rc = key_float(g, "rope.freq_base", 10000.0, &c->rope_freq_base, e))) return rc;
    c->ssm_gnorm_eps = 1e-5; // Zamba2RMSNormGated(eps=1e-5), whatever rms_norm_eps says
    int D = c->n_embd, F = c->n_ff, r = c->adapter_rank;
    int n_q = c->n_head * c->head_dim, n_kv = c->n_head_kv * c->head_dim;
    int di = c->ssm_d_inner, nh = c->ssm_dt_rank, ng = c->ssm_n_group;
    int conv_dim = di + 2 * ng * c->ssm_d_state;
    int qkv_ad = c->attn_adapter ? REQUIRED : OPTIONAL,
        ffn_ad = c->ffn_adapter ? REQUIRED : OPTIONAL;
    if ((rc = bind_output(m, &rc, e))) return rc;
    if ((rc = bind_shared_blocks(m, e))) return rc;
    for (int s = 0; s < c->n_shared_block && !rc; s++) {
        struct SharedBlock* S = &m->w.shared[s];
        S->ffn_gate_up =
            bind(m, &rc, e, REQUIRED, SHAPE(D, 2 * F, 1, 1), "shared.%d.ffn_gate_up.weight", s);
        S->ffn_down = bind(m, &rc, e, REQUIRED, SHAPE(F, D, 1, 1), "shared.%d.ffn_down.weight", s);
    }
    for (int l = 0; l < c->n_layer && !rc; l++) {
        struct LayerWeights* L = &m->w.layers[l];
        c->layer_kind[l] = LAYER_MAMBA2;
        c->ffn_kind[l] = FFN_NONE;
        L->attn_norm = bind(m, &rc, e, REQUIRED, SHAPE(D, 1, 1, 1), "blk.%d.attn_norm.weight", l);
        L->ssm_in = bind(m, &rc, e, REQUIRED, SHAPE(D, di + conv_dim + nh, 1, 1),
                         "blk.%d.ssm_in.weight", l);
        L->ssm_conv1d = bind(m, &rc, e, REQUIRED, SHAPE(c->ssm_d_conv, conv_dim, 1, 1),
                             "blk.%d.ssm_conv1d.weight", l);
        L->ssm_conv1d_b =
            bind(m, &rc, e, REQUIRED, SHAPE(conv_dim, 1, 1, 1), "blk.%d.ssm_conv1d.bias", l);
        L->ssm_dt_b = bind(m, &rc, e, REQUIRED, SHAPE(nh, 1, 1, 1), "blk.%d.ssm_dt.bias", l);
        L->ssm_a_log = bind(m, &rc, e, REQUIRED, SHAPE(1, nh, 1, 1), "blk.%d.ssm_a_log", l);
        L->ssm_d = bind(m, &rc, e, REQUIRED, SHAPE(1, nh, 1, 1), "blk.%d.ssm_d", l);
        L->ssm_norm =
            bind(m, &rc, e, REQUIRED, SHAPE(di / ng, ng, 1, 1), "blk.%d.ssm_norm.weight", l);
        L->ssm_out = bind(m, &rc, e, REQUIRED, SHAPE(di, D, 1, 1), "blk.%d.ssm_out.weight", l);
        if (c->layer_shared[l] < 0) continue;
        L->shared_proj =
            bind(m, &rc, e, REQUIRED, SHAPE(D, D, 1, 1), "blk.%d.shared_proj.weight", l);
        L->shared_attn_q_a =
            bind(m, &rc, e, qkv_ad, SHAPE(2 * D, r, 1, 1), "blk.%d.shared_attn_q_a.weight", l);
        L->shared_attn_q_b =
            bind(m, &rc, e, qkv_ad, SHAPE(r, n_q, 1, 1), "blk.%d.shared_attn_q_b.weight", l);
        L->shared_attn_k_a =
            bind(m, &rc, e, qkv_ad, SHAPE(2 * D, r, 1, 1), "blk.%d.shared_attn_k_a.weight", l);
        L->shared_attn_k_b =
            bind(m, &rc, e, qkv_ad, SHAPE(r, n_kv, 1, 1), "blk.%d.shared_attn_k_b.weight", l);
        L->shared_attn_v_a =
            bind(m, &rc, e, qkv_ad, SHAPE(2 * D, r, 1, 1), "blk.%d.shared_attn_v_a.weight", l);
        L->shared_attn_v_b =
            bind(m, &rc, e, qkv_ad, SHAPE(r, n_kv, 1, 1), "blk.%d.shared_attn_v_b.weight", l);
        L->shared_ffn_gate_up_a =
            bind(m, &rc, e, ffn_ad, SHAPE(D, r, 1, 1), "blk.%d.shared_ffn_gate_up_a.weight", l);
        L->shared_ffn_gate_up_b =
            bind(m, &rc, e, ffn_ad, SHAPE(r, 2 * F, 1, 1), "blk.%d.shared_ffn_gate_up_b.weight", l);
        if (!rc && (!L->shared_attn_q_a != !L->shared_attn_q_b ||
                    !L->shared_attn_k_a != !L->shared_attn_k_b ||
                    !L->shared_attn_v_a != !L->shared_attn_v_b ||
                    !L->shared_ffn_gate_up_a != !L->shared_ffn_gate_up_b))
            rc = err_set(e, ERR_FORMAT, "model: layer %d has half of a LoRA adapter pair", l);
    }
    return rc;
}

// Zamba v1 (§7.8): one shared block with separate gate/up and no RoPE or adapters; the mixer
// is multi-head Mamba-1 with group_count heads, each with its own B, C and dt rank (docs/GGUF.md
// stores the per-head projections as block-diagonal matrices).
static int load_zamba(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = load_ssm_keys(m, 0, e);
    if (rc) return rc;
    if ((rc = key_int(g, "shared_block_count", 0, 1, 1, 64, &c->n_shared_block, e))) return rc;
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    if (c->ssm_d_inner % c->ssm_n_group)
        return err_set(e, ERR_FORMAT,
                       "model: ssm.inner_size %d is not a multiple of group_count "
                       "(heads) %d",
                       c->ssm_d_inner, c->ssm_n_group);
    if ((rc = zamba_layers(m, e))) return rc;
    c->rope_type = ROPE_NONE; // Zamba v1 attention has no positional encoding
    c->n_rot = 0;
    int D = c->n_embd, F = c->n_ff, di = c->ssm_d_inner, ds = c->ssm_d_state;
    int dr = c->ssm_dt_rank, nh = c->ssm_n_group;
    if ((rc = bind_output(m, &rc, e))) return rc;
    if ((rc = bind_shared_blocks(m, e))) return rc;
    for (int s = 0; s < c->n_shared_block && !rc; s++) {
        struct SharedBlock* S = &m->w.shared[s];
        S->ffn_gate = bind(m, &rc, e, REQUIRED, SHAPE(D, F, 1, 1), "shared.%d.ffn_gate.weight", s);
        S->ffn_up = bind(m, &rc, e, REQUIRED, SHAPE(D, F, 1, 1), "shared.%d.ffn_up.weight", s);
        S->ffn_down = bind(m, &rc, e, REQUIRED, SHAPE(F, D, 1, 1), "shared.%d.ffn_down.weight", s);
    }
    for (int l = 0; l < c->n_layer && !rc; l++) {
        struct LayerWeights* L = &m->w.layers[l];
        c->layer_kind[l] = LAYER_MAMBA;
        c->ffn_kind[l] = FFN_NONE;
        L->attn_norm = bind(m, &rc, e, REQUIRED, SHAPE(D, 1, 1, 1), "blk.%d.attn_norm.weight", l);
        L->ssm_in = bind(m, &rc, e, REQUIRED, SHAPE(D, 2 * di, 1, 1), "blk.%d.ssm_in.weight", l);
        L->ssm_conv1d = bind(m, &rc, e, REQUIRED, SHAPE(c->ssm_d_conv, di, 1, 1),
                             "blk.%d.ssm_conv1d.weight", l);
        L->ssm_conv1d_b =
            bind(m, &rc, e, REQUIRED, SHAPE(di, 1, 1, 1), "blk.%d.ssm_conv1d.bias", l);
        // outputs [dt_r of every head (nh dr); B of every head (nh ds); C of every head]
        L->ssm_x = bind(m, &rc, e, REQUIRED, SHAPE(di, nh * (dr + 2 * ds), 1, 1),
                        "blk.%d.ssm_x.weight", l);
        L->ssm_dt = bind(m, &rc, e, REQUIRED, SHAPE(nh * dr, di, 1, 1), "blk.%d.ssm_dt.weight", l);
        L->ssm_dt_b = bind(m, &rc, e, REQUIRED, SHAPE(di, 1, 1, 1), "blk.%d.ssm_dt.bias", l);
        L->ssm_a_log = bind(m, &rc, e, REQUIRED, SHAPE(ds, di, 1, 1), "blk.%d.ssm_a_log", l);
        L->ssm_d = bind(m, &rc, e, REQUIRED, SHAPE(di, 1, 1, 1), "blk.%d.ssm_d", l);
        L->ssm_out = bind(m, &rc, e, REQUIRED, SHAPE(di, D, 1, 1), "blk.%d.ssm_out.weight", l);
        if (c->layer_shared[l] >= 0)
            L->shared_proj =
                bind(m, &rc, e, REQUIRED, SHAPE(D, D, 1, 1), "blk.%d.shared_proj.weight", l);
    }
    return rc;
}

// ---------------------------------------------------------------------------------------
// entry points

typedef int (*LoadFn)(struct Model* m, struct Err* e);
static const LoadFn LOADERS[ARCH_COUNT] = {
    [ARCH_LLAMA] = load_llama,
    [ARCH_RWKV7] = load_rwkv7,
    [ARCH_JAMBA] = load_jamba,
    [ARCH_MAMBA] = load_mamba,
    [ARCH_MAMBA2] = load_mamba2,
    // ---- griffin
    [ARCH_RECURRENTGEMMA] = load_recurrentgemma,
    // ---- zamba2
    [ARCH_ZAMBA2] = load_zamba2,
    [ARCH_ZAMBA] = load_zamba,
};
_Static_assert(sizeof(LOADERS) / sizeof(LOADERS[0]) == ARCH_COUNT, "LOADERS size");

int model_load(struct Model* m, struct Gguf* g, struct Err* e) {
    memset(m, 0, sizeof(*m));
    m->gguf = *g;
    memset(g, 0, sizeof(*g));
    struct Config* c = &m->config;
    c->rope_freq_base = 10000.0;
    c->rope_freq_scale = 1.0;
    int rc = arch_from_gguf(&m->gguf, &c->arch, e);
    if (!rc && !LOADERS[c->arch])
        rc = err_set(e, ERR_UNSUPPORTED,
                     "model: architecture '%s' is recognised but not implemented "
                     "yet",
                     arch_name(c->arch));
    if (!rc) rc = load_common(m, e);
    if (!rc) {
        m->w.layers = calloc((size_t)c->n_layer, sizeof(*m->w.layers));
        if (!m->w.layers) rc = err_set(e, ERR_NOMEM, "model: out of memory");
    }
    if (!rc) rc = LOADERS[c->arch](m, e);
    if (rc) model_free(m);
    return rc;
}

int model_open(struct Model* m, const char* path, struct Err* e) {
    struct Gguf g;
    memset(m, 0, sizeof(*m));
    int rc = gguf_open(&g, path, e);
    if (rc) return rc;
    rc = model_load(m, &g, e);
    if (rc && e) {
        char tmp[sizeof(e->msg)];
        memcpy(tmp, e->msg, sizeof(tmp));
        size_t n = strlen(path);
        if (n > 120) n = 120;
        snprintf(e->msg, sizeof(e->msg), "%.*s: %.*s", (int)n, path, (int)(sizeof(e->msg) - n - 3),
                 tmp);
    }
    return rc;
}

void model_free(struct Model* m) {
    if (!m) return;
    free(m->w.layers);
    free(m->w.shared);
    gguf_free(&m->gguf);
    memset(m, 0, sizeof(*m));
}

int model_tensor_id(const struct Model* m, const struct GgufTensor* t) {
    if (!t) return -1;
    return (int)(t - m->gguf.tensors);
}
