// bind.c: key readers and writers, and the table-driven tensor binder (see bind.h).
#include "bind.h"

#include <stdio.h>
#include <string.h>

#include "quant.h"

// ---------------------------------------------------------------------------------------
// keys

int key_int(const struct Gguf* g, const char* suffix, int required, int64_t def, int64_t lo,
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

int key_float(const struct Gguf* g, const char* suffix, double def, double* out, struct Err* e) {
    int rc = arch_get_float(g, suffix, out, e);
    if (rc == ERR_NOT_FOUND) {
        *out = def;
        return 0;
    }
    return rc;
}

int key_bool(const struct Gguf* g, const char* suffix, bool* out, struct Err* e) {
    const struct GgufKv* kv = arch_find_key(g, suffix);
    *out = false;
    if (!kv) return 0;
    if (kv->val.type != GGUF_TYPE_BOOL)
        return err_set(e, ERR_TYPE, "model: key '%s' must be a bool", kv->key);
    *out = kv->val.u != 0;
    return 0;
}

int key_per_layer(const struct Gguf* g, const char* suffix, int n_layer, int def, int* out,
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

static const char* arch_key_name(char* buf, size_t cap, const char* arch, const char* suffix) {
    snprintf(buf, cap, "%s.%s", arch, suffix);
    return buf;
}

void key_set_u32(struct GgufWriter* w, const char* arch, const char* suffix, uint32_t v) {
    char k[128];
    gguf_writer_set_u32(w, arch_key_name(k, sizeof(k), arch, suffix), v);
}

void key_set_f32(struct GgufWriter* w, const char* arch, const char* suffix, float v) {
    char k[128];
    gguf_writer_set_f32(w, arch_key_name(k, sizeof(k), arch, suffix), v);
}

void key_set_f64(struct GgufWriter* w, const char* arch, const char* suffix, double v) {
    char k[128];
    gguf_writer_set_f64(w, arch_key_name(k, sizeof(k), arch, suffix), v);
}

void key_set_bool(struct GgufWriter* w, const char* arch, const char* suffix, bool v) {
    char k[128];
    gguf_writer_set_bool(w, arch_key_name(k, sizeof(k), arch, suffix), v);
}

void key_set_i32_arr(struct GgufWriter* w, const char* arch, const char* suffix, const int32_t* v,
                     uint64_t n) {
    char k[128];
    gguf_writer_set_arr(w, arch_key_name(k, sizeof(k), arch, suffix), GGUF_TYPE_INT32, v, n);
}

// ---------------------------------------------------------------------------------------
// rows

enum BindScope bind_scope(const struct TensorRow* r) {
    if (!strncmp(r->name, "blk.", 4)) return SCOPE_LAYER;
    if (!strncmp(r->name, "shared.", 7)) return SCOPE_SHARED;
    return SCOPE_GLOBAL;
}

int64_t bind_dim(const struct Config* c, int l, enum Dim d) {
    int64_t di = c->ssm_d_inner, ds = c->ssm_d_state, ng = c->ssm_n_group;
    int64_t conv2 = di + 2 * ng * ds;
    switch (d) {
    case DIM_NONE:
    case DIM_ONE: return 1;
    case DIM_SIX: return 6;
    case DIM_EMBD: return c->n_embd;
    case DIM_EMBD2: return 2 * (int64_t)c->n_embd;
    case DIM_VOCAB: return c->n_vocab;
    case DIM_FF: return c->n_ff;
    case DIM_FF2: return 2 * (int64_t)c->n_ff;
    case DIM_Q: return (int64_t)c->n_head * c->head_dim;
    case DIM_KV: return (int64_t)c->n_head_kv * c->head_dim;
    case DIM_KV_LAYER: return (int64_t)c->layer_n_head_kv[l] * c->head_dim;
    case DIM_ROT_HALF: return c->n_rot / 2;
    case DIM_EXPERT: return c->n_expert;
    case DIM_D_CONV: return c->ssm_d_conv;
    case DIM_D_INNER: return di;
    case DIM_D_INNER2: return 2 * di;
    case DIM_D_STATE: return ds;
    case DIM_DT_RANK: return c->ssm_dt_rank;
    case DIM_SSM_X: return c->ssm_dt_rank + 2 * ds;
    case DIM_CONV2: return conv2;
    case DIM_IN2: return di + conv2 + c->ssm_dt_rank;
    case DIM_GROUP_WIDTH: return ng > 0 ? di / ng : 0;
    case DIM_N_GROUP: return ng;
    case DIM_ZAMBA_X: return ng * (c->ssm_dt_rank + 2 * ds);
    case DIM_ZAMBA_DT: return ng * c->ssm_dt_rank;
    case DIM_LORA_DECAY: return c->rwkv_lora_decay;
    case DIM_LORA_ICLR: return c->rwkv_lora_iclr;
    case DIM_LORA_VALUE: return c->rwkv_lora_value;
    case DIM_LORA_GATE: return c->rwkv_lora_gate;
    case DIM_N_HEAD: return c->n_head;
    case DIM_BLOCK: return c->n_head > 0 ? di / c->n_head : 0;
    case DIM_ADAPTER: return c->adapter_rank;
    case DIM_COUNT: break;
    }
    return -1;
}

int bind_shape(const struct TensorRow* r, const struct Config* c, int l, int64_t ne[4]) {
    int n = 0;
    for (int d = 0; d < 4; d++) {
        ne[d] = bind_dim(c, l, r->shape[d]);
        if (r->shape[d] != DIM_NONE) n = d + 1;
    }
    return n;
}

int bind_applies(const struct TensorRow* r, const struct Config* c, int l) {
    if (bind_scope(r) != SCOPE_LAYER || !r->when) return 1;
    unsigned kinds = r->when & 0xffu, ffn = (r->when >> 8) & 0xffu;
    if (kinds && !(kinds & (1u << c->layer_kind[l]))) return 0;
    if (ffn && !(ffn & (1u << c->ffn_kind[l]))) return 0;
    if ((r->when & ON_HYBRID) && c->layer_shared[l] < 0) return 0;
    return 1;
}

int bind_required(const struct TensorRow* r, const struct Config* c, int l) {
    switch (r->presence) {
    case REQUIRED: return 1;
    case OPTIONAL:
    case OPTIONAL_WRITTEN:
    case OPTIONAL_UNTIED: return 0;
    case REQUIRED_AFTER_L0: return l > 0;
    case REQUIRED_IF_ATTN_ADAPTER: return c->attn_adapter;
    case REQUIRED_IF_FFN_ADAPTER: return c->ffn_adapter;
    case PRESENCE_COUNT: break;
    }
    return 0;
}

int bind_written(const struct TensorRow* r, const struct Config* c, int l) {
    switch (r->presence) {
    case REQUIRED:
    case OPTIONAL_WRITTEN:
    case REQUIRED_AFTER_L0: return 1;
    case OPTIONAL: return 0;
    case REQUIRED_IF_ATTN_ADAPTER:
    case REQUIRED_IF_FFN_ADAPTER: return bind_required(r, c, l);
    case OPTIONAL_UNTIED: return !c->tied_output;
    case PRESENCE_COUNT: break;
    }
    return 0;
}

static int scope_count(enum BindScope s, const struct Config* c) {
    return s == SCOPE_LAYER ? c->n_layer : s == SCOPE_SHARED ? c->n_shared_block : 1;
}

int bind_walk(const struct TensorRow* rows, const struct Config* c, BindVisit fn, void* ctx) {
    for (int i = 0; rows[i].name;) {
        enum BindScope s = bind_scope(&rows[i]);
        int j = i + 1;
        while (s != SCOPE_GLOBAL && rows[j].name && bind_scope(&rows[j]) == s)
            j++;
        for (int k = 0; k < scope_count(s, c); k++)
            for (int r = i; r < j; r++) {
                if (s == SCOPE_LAYER && !bind_applies(&rows[r], c, k)) continue;
                int rc = fn(ctx, &rows[r], k);
                if (rc) return rc;
            }
        i = j;
    }
    return 0;
}

const struct GgufTensor** bind_slot(struct Model* m, const struct TensorRow* r, int index) {
    char* base;
    switch (bind_scope(r)) {
    case SCOPE_LAYER:
        if (!m->w.layers || index < 0 || index >= m->config.n_layer) return NULL;
        base = (char*)&m->w.layers[index];
        break;
    case SCOPE_SHARED:
        if (!m->w.shared || index < 0 || index >= m->config.n_shared_block) return NULL;
        base = (char*)&m->w.shared[index];
        break;
    default: base = (char*)&m->w; break;
    }
    return (const struct GgufTensor**)(base + r->field);
}

// ---------------------------------------------------------------------------------------
// binder

struct BindCtx {
    struct Model* m;
    struct Err* e;
};

// Finds the row's tensor for index, checks that its type can be dequantized and that its
// shape is the row's; stores the view (NULL for a missing optional tensor).
static int bind_one(void* ctx, const struct TensorRow* r, int index) {
    struct BindCtx* b = ctx;
    struct Model* m = b->m;
    const struct Config* c = &m->config;
    char name[128];
    snprintf(name, sizeof(name), r->name, index);
    const struct GgufTensor** slot = bind_slot(m, r, index);
    const struct GgufTensor* t = gguf_find_tensor(&m->gguf, name);
    if (!t) {
        if (bind_required(r, c, index))
            return err_set(b->e, ERR_NOT_FOUND,
                           "model: tensor '%s' is missing (is this a complete %s model?)", name,
                           arch_name(c->arch));
        *slot = NULL;
        return 0;
    }
    const struct QuantTraits* tr = quant_traits(t->type);
    if (!tr->can_dequant)
        return err_set(b->e, ERR_UNSUPPORTED,
                       "model: tensor '%s' has type %s, which mattn cannot dequantize yet", name,
                       tr->upper);
    int64_t ne[4];
    bind_shape(r, c, index, ne);
    for (int d = 0; d < 4; d++)
        if (t->ne[d] != ne[d])
            return err_set(b->e, ERR_SHAPE,
                           "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected "
                           "[%lld, %lld, %lld, %lld]",
                           name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                           (long long)t->ne[3], (long long)ne[0], (long long)ne[1],
                           (long long)ne[2], (long long)ne[3]);
    *slot = t;
    return 0;
}

int bind_tensors(struct Model* m, const struct TensorRow* rows, struct Err* e) {
    struct BindCtx b = {m, e};
    return bind_walk(rows, &m->config, bind_one, &b);
}
