// convert.c: HF checkpoint -> GGUF. One function per family writes the {arch}.* keys and
// maps the tensors; shared helpers look tensors up with a shape check, convert them to
// float32, apply llama.cpp's transforms and hand them to the GGUF writer in the chosen type.
#include "convert.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf.h"
#include "safetensors.h"

struct Conv {
    const char* dir;
    const struct ConvertOptions* o;
    struct Err* e;
    int rc; // sticky: the first error
    cJSON* cfg;
    struct Safetensors st;
    struct GgufWriter w;
    const char* arch;
    enum GgmlType type;
    void** bufs; // tensor data owned until the write
    int n_bufs, cap_bufs;
    int n_tensors, n_kept_f32;
    char kept_names[160]; // the first few tensors kept F32 in a quantized file
    int64_t n_vocab;
    char name[256]; // scratch for formatted names
    char gname[256];
};

static void logf_(struct Conv* c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct Conv* c, const char* fmt, ...) {
    if (!c->o || !c->o->log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->o->log(c->o->log_ctx, line);
}

// Records the first error (later ones would only repeat its consequences).
static int fail(struct Conv* c, int code, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct Conv* c, int code, const char* fmt, ...) {
    if (c->rc) return c->rc;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->rc = err_set(c->e, code, "convert: %s", msg);
    return c->rc;
}

static const char* hf(struct Conv* c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static const char* hf(struct Conv* c, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->name, sizeof(c->name), fmt, ap);
    va_end(ap);
    return c->name;
}

static const char* gg(struct Conv* c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static const char* gg(struct Conv* c, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->gname, sizeof(c->gname), fmt, ap);
    va_end(ap);
    return c->gname;
}

// ---------------------------------------------------------------------------------------
// config.json

static const cJSON* cfg_item(struct Conv* c, const char* key) {
    return cJSON_GetObjectItemCaseSensitive(c->cfg, key);
}

// A number, also transformers' {"__float__": "Infinity"} spelling. 0, or ERR_NOT_FOUND when
// absent or null, ERR_TYPE (recorded) when of another kind.
static int json_num(struct Conv* c, const cJSON* j, const char* key, double* out) {
    if (!j || cJSON_IsNull(j)) return ERR_NOT_FOUND;
    if (cJSON_IsNumber(j)) {
        *out = j->valuedouble;
        return 0;
    }
    const cJSON* f = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "__float__") : NULL;
    if (cJSON_IsString(f)) {
        const char* s = f->valuestring;
        if (!strcmp(s, "Infinity") || !strcmp(s, "inf"))
            *out = INFINITY;
        else if (!strcmp(s, "-Infinity") || !strcmp(s, "-inf"))
            *out = -INFINITY;
        else if (!strcmp(s, "NaN") || !strcmp(s, "nan"))
            *out = NAN;
        else
            return fail(c, ERR_TYPE, "config.json: %s has __float__ '%.40s'", key, s);
        return 0;
    }
    return fail(c, ERR_TYPE, "config.json: %s is not a number", key);
}

static int cfg_num(struct Conv* c, const char* key, double* out) {
    return json_num(c, cfg_item(c, key), key, out);
}

// An integer key in [lo, hi]; def when absent (required: an error instead).
static int64_t cfg_int(struct Conv* c, const char* key, int64_t def, int required, int64_t lo,
                       int64_t hi) {
    double v;
    int rc = cfg_num(c, key, &v);
    if (rc == ERR_NOT_FOUND) {
        if (required) fail(c, ERR_NOT_FOUND, "config.json: %s is missing", key);
        return def;
    }
    if (rc) return def;
    if (v != floor(v) || v < (double)lo || v > (double)hi) {
        fail(c, ERR_RANGE, "config.json: %s = %g is out of range [%lld, %lld]", key, v,
             (long long)lo, (long long)hi);
        return def;
    }
    return (int64_t)v;
}

static double cfg_float(struct Conv* c, const char* key, double def, int required) {
    double v;
    int rc = cfg_num(c, key, &v);
    if (rc == ERR_NOT_FOUND) {
        if (required) fail(c, ERR_NOT_FOUND, "config.json: %s is missing", key);
        return def;
    }
    return rc ? def : v;
}

static int cfg_bool(struct Conv* c, const char* key, int def) {
    const cJSON* j = cfg_item(c, key);
    if (!j || cJSON_IsNull(j)) return def;
    if (!cJSON_IsBool(j)) {
        fail(c, ERR_TYPE, "config.json: %s is not true/false", key);
        return def;
    }
    return cJSON_IsTrue(j);
}

// rope_theta, from rope_parameters (transformers 5) or the top level (older configs).
static double cfg_rope_theta(struct Conv* c, double def) {
    const cJSON* rp = cfg_item(c, "rope_parameters");
    double v;
    if (cJSON_IsObject(rp) && json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "rope_theta"),
                                       "rope_parameters.rope_theta", &v) == 0)
        return v;
    return cfg_float(c, "rope_theta", def, 0);
}

// A token id key (int, or the first of a list as some configs write eos_token_id).
static int64_t cfg_token_id(struct Conv* c, const char* key) {
    const cJSON* j = cfg_item(c, key);
    if (cJSON_IsArray(j)) j = j->child;
    if (cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble < 2147483648.0 &&
        j->valuedouble == floor(j->valuedouble))
        return (int64_t)j->valuedouble;
    return -1;
}

static cJSON* read_json(struct Conv* c, const char* file, int required) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", c->dir, file);
    FILE* f = fopen(path, "rb");
    if (!f) {
        if (required) fail(c, ERR_IO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char* buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 131072;
            char* nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                fail(c, ERR_NOMEM, "out of memory reading %s", path);
                return NULL;
            }
            buf = nb;
        }
        size_t k = fread(buf + len, 1, 65536, f);
        len += k;
        if (k < 65536) break;
    }
    fclose(f);
    buf[len] = 0;
    cJSON* j = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        fail(c, ERR_FORMAT, "%s is malformed JSON (not an object)", path);
        return NULL;
    }
    return j;
}

// ---------------------------------------------------------------------------------------
// keys

static const char* akey(struct Conv* c, const char* k) {
    snprintf(c->gname, sizeof(c->gname), "%s.%s", c->arch, k);
    return c->gname;
}

static void kv_u32(struct Conv* c, const char* k, int64_t v) {
    if (v < 0 || v > UINT32_MAX) {
        fail(c, ERR_RANGE, "%s.%s = %lld does not fit u32", c->arch, k, (long long)v);
        return;
    }
    gguf_writer_set_u32(&c->w, akey(c, k), (uint32_t)v);
}

static void kv_f32(struct Conv* c, const char* k, double v) {
    gguf_writer_set_f32(&c->w, akey(c, k), (float)v);
}

// Our own layouts (zamba2, zamba) keep a config float as the double transformers uses: an
// f32 rms_norm_eps of 1e-5 moves FP64 logits by ~1e-10.
static void kv_f64(struct Conv* c, const char* k, double v) {
    gguf_writer_set_f64(&c->w, akey(c, k), v);
}

static void kv_i32_arr(struct Conv* c, const char* k, const int32_t* v, int64_t n) {
    gguf_writer_set_arr(&c->w, akey(c, k), GGUF_TYPE_INT32, v, (uint64_t)n);
}

// ---------------------------------------------------------------------------------------
// tensors

static int keep(struct Conv* c, void* p) {
    if (c->n_bufs == c->cap_bufs) {
        int cap = c->cap_bufs ? c->cap_bufs * 2 : 64;
        void** nb = realloc(c->bufs, (size_t)cap * sizeof(*nb));
        if (!nb) return fail(c, ERR_NOMEM, "out of memory");
        c->bufs = nb;
        c->cap_bufs = cap;
    }
    c->bufs[c->n_bufs++] = p;
    return 0;
}

static int shape_str(char* buf, size_t cap, int nd, const int64_t* s) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < nd && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, i ? ",%lld" : "%lld", (long long)s[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return 0;
}

static const struct SafetensorsTensor* find(struct Conv* c, const char* name) {
    return safetensors_find(&c->st, name);
}

// The HF tensor `name` as a malloc'ed float32 copy after checking its shape (HF order,
// nd dims d0, d1, d2). NULL (error recorded) when absent, misshapen or not a float type.
static float* get(struct Conv* c, const char* name, int nd, int64_t d0, int64_t d1, int64_t d2) {
    if (c->rc) return NULL;
    const struct SafetensorsTensor* t = find(c, name);
    if (!t) {
        fail(c, ERR_NOT_FOUND, "tensor %s is missing from the checkpoint", name);
        return NULL;
    }
    int64_t want[3] = {d0, d1, d2};
    int ok = t->n_dims == nd;
    for (int i = 0; ok && i < nd; i++)
        ok = t->shape[i] == want[i];
    if (!ok) {
        char a[96], b[96];
        shape_str(a, sizeof(a), t->n_dims, t->shape);
        shape_str(b, sizeof(b), nd, want);
        fail(c, ERR_SHAPE, "tensor %s has shape %s, expected %s", name, a, b);
        return NULL;
    }
    float* f = malloc((size_t)(t->n_elements ? t->n_elements : 1) * sizeof(float));
    if (!f) {
        fail(c, ERR_NOMEM, "out of memory for %s", name);
        return NULL;
    }
    struct Err e2 = {0};
    if (safetensors_to_f32(t, f, &e2)) {
        free(f);
        fail(c, ERR_TYPE, "tensor %s has dtype %s (need F32, F16, BF16 or F64)", name,
             safetensors_dtype_name(t->dtype));
        return NULL;
    }
    return f;
}

// Tensors that llama.cpp keeps in F32 whatever the output type.
static int force_f32(const char* name) {
    static const char* const SUFFIX[] = {"_norm.weight",        ".bias",    "ssm_a",
                                         "ssm_a_log",           "ssm_d",    "ssm_conv1d.weight",
                                         "ffn_gate_inp.weight", "rg_param", "rope_freqs.weight"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(SUFFIX) / sizeof(SUFFIX[0]); i++) {
        size_t k = strlen(SUFFIX[i]);
        if (n >= k && !strcmp(name + n - k, SUFFIX[i])) return 1;
    }
    return 0;
}

// Adds data (float32, owned from now on) as GGUF tensor gname with ne (GGUF order).
static int put(struct Conv* c, const char* gname, float* data, int nd, int64_t ne0, int64_t ne1,
               int64_t ne2) {
    if (!data || c->rc) {
        free(data);
        return c->rc ? c->rc : fail(c, ERR_NOMEM, "no data for %s", gname);
    }
    int64_t ne[GGUF_MAX_DIMS] = {ne0, nd > 1 ? ne1 : 1, nd > 2 ? ne2 : 1, 1};
    enum GgmlType t = c->type;
    if (t != GGML_TYPE_F32) {
        const struct QuantTraits* q = quant_traits(t);
        int64_t blck = q ? (int64_t)q->block_size : 1;
        if (nd < 2 || force_f32(gname) || ne0 % blck) {
            t = GGML_TYPE_F32;
            if (c->n_kept_f32++ < 6) {
                size_t k = strlen(c->kept_names);
                snprintf(c->kept_names + k, sizeof(c->kept_names) - k, "%s%s", k ? ", " : "",
                         gname);
            }
        }
    }
    void* out = data;
    if (t != GGML_TYPE_F32) {
        int64_t rows = ne[1] * ne[2] * ne[3];
        size_t rs = quant_row_size(t, ne0);
        uint8_t* q = malloc(rs * (size_t)(rows ? rows : 1));
        if (!q) {
            free(data);
            return fail(c, ERR_NOMEM, "out of memory for %s", gname);
        }
        for (int64_t r = 0; r < rows; r++) {
            if (quant_quantize_row(t, data + r * ne0, q + (size_t)r * rs, ne0)) {
                free(q);
                free(data);
                return fail(c, ERR_UNSUPPORTED, "cannot quantize %s to %s", gname,
                            quant_type_name(t));
            }
        }
        free(data);
        out = q;
    }
    if (keep(c, out)) {
        free(out);
        return c->rc;
    }
    gguf_writer_add_tensor(&c->w, gname, t, nd, ne, out, 0);
    if (c->w.failed) return fail(c, c->w.err.code ? c->w.err.code : ERR_FORMAT, "%s", c->w.err.msg);
    c->n_tensors++;
    char sh[96];
    shape_str(sh, sizeof(sh), nd, ne);
    logf_(c, "[%3d] %-36s %-5s %s", c->n_tensors, gname, quant_type_name(t), sh);
    return 0;
}

// Copies HF tensor hname (HF shape d0, d1, d2) to gname with the dims reversed.
static int copy(struct Conv* c, const char* hname, const char* gname, int nd, int64_t d0,
                int64_t d1, int64_t d2) {
    float* f = get(c, hname, nd, d0, d1, d2);
    if (!f) return c->rc;
    char g[256];
    snprintf(g, sizeof(g), "%s", gname);
    if (nd == 1) return put(c, g, f, 1, d0, 1, 1);
    if (nd == 2) return put(c, g, f, 2, d1, d0, 1);
    return put(c, g, f, 3, d2, d1, d0);
}

// conv1d.weight [C, 1, K] squeezed to GGUF ne [K, C].
static int copy_conv(struct Conv* c, const char* hname, const char* gname, int64_t ch, int64_t k) {
    float* f = get(c, hname, 3, ch, 1, k);
    char g[256];
    snprintf(g, sizeof(g), "%s", gname);
    return f ? put(c, g, f, 2, k, ch, 1) : c->rc;
}

// llama.cpp's Q/K permutation: HF half-split RoPE rows -> interleaved pairs.
static float* permute_qk(float* w, int64_t n_head, int64_t rows, int64_t n_in) {
    if (!w) return NULL;
    float* o = malloc((size_t)(rows * n_in) * sizeof(float));
    if (!o) {
        free(w);
        return NULL;
    }
    int64_t hd = rows / n_head, half = hd / 2;
    for (int64_t h = 0; h < n_head; h++)
        for (int64_t j = 0; j < half; j++)
            for (int64_t two = 0; two < 2; two++)
                memcpy(o + (h * hd + j * 2 + two) * n_in, w + (h * hd + two * half + j) * n_in,
                       (size_t)n_in * sizeof(float));
    free(w);
    return o;
}

// ssm_a = -exp(A_log): exp in double, rounded once to float32.
static float* neg_exp(float* a, int64_t n) {
    if (!a) return NULL;
    for (int64_t i = 0; i < n; i++)
        a[i] = (float)-exp((double)a[i]);
    return a;
}

// Output head: lm_head.weight unless tie_word_embeddings (then none, as llama.cpp does).
static int put_output(struct Conv* c, const char* hname, int tied, int64_t v, int64_t d) {
    if (tied) {
        logf_(c, "tie_word_embeddings: no output.weight (the head is token_embd)");
        return 0;
    }
    return copy(c, hname, "output.weight", 2, v, d, 1);
}

// ---------------------------------------------------------------------------------------
// llama / mistral

static int rope_scaling(struct Conv* c, double theta, int64_t head_dim) {
    const cJSON* rp = cfg_item(c, "rope_parameters");
    if (!cJSON_IsObject(rp)) rp = cfg_item(c, "rope_scaling");
    if (!cJSON_IsObject(rp)) return 0;
    const cJSON* ty = cJSON_GetObjectItemCaseSensitive(rp, "rope_type");
    if (!cJSON_IsString(ty)) ty = cJSON_GetObjectItemCaseSensitive(rp, "type");
    const char* t = cJSON_IsString(ty) ? ty->valuestring : "default";
    if (!strcmp(t, "default")) return 0;
    double factor = 1;
    if (json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "factor"), "rope factor", &factor))
        return fail(c, ERR_FORMAT, "config.json: rope type %s without a factor", t);
    if (!strcmp(t, "linear")) {
        gguf_writer_set_str(&c->w, akey(c, "rope.scaling.type"), "linear");
        kv_f32(c, "rope.scaling.factor", factor);
        return 0;
    }
    if (!strcmp(t, "yarn")) {
        gguf_writer_set_str(&c->w, akey(c, "rope.scaling.type"), "yarn");
        kv_f32(c, "rope.scaling.factor", factor);
        double orig;
        if (!json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "original_max_position_embeddings"),
                      "original_max_position_embeddings", &orig))
            kv_u32(c, "rope.scaling.original_context_length", (int64_t)orig);
        return 0;
    }
    if (!strcmp(t, "llama3")) {
        // llama.cpp writes the per-frequency factors as rope_freqs.weight
        double lo = 1, hi = 4, old = 8192;
        json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "low_freq_factor"), "low_freq_factor",
                 &lo);
        json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "high_freq_factor"), "high_freq_factor",
                 &hi);
        json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "original_max_position_embeddings"),
                 "original_max_position_embeddings", &old);
        float* f = malloc((size_t)(head_dim / 2) * sizeof(float));
        if (!f) return fail(c, ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < head_dim / 2; i++) {
            double freq = 1.0 / pow(theta, (double)(2 * i) / (double)head_dim);
            double wl = 2 * M_PI / freq, r;
            if (wl < old / hi)
                r = 1;
            else if (wl > old / lo)
                r = factor;
            else {
                double s = (old / wl - lo) / (hi - lo);
                r = 1 / ((1 - s) / factor + s);
            }
            f[i] = (float)r;
        }
        return put(c, "rope_freqs.weight", f, 1, head_dim / 2, 1, 1);
    }
    return fail(c, ERR_UNSUPPORTED, "config.json: rope type '%s' is not supported", t);
}

static int conv_llama(struct Conv* c, int mistral) {
    int64_t D = cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t H = cfg_int(c, "num_attention_heads", 0, 1, 1, 4096);
    int64_t Hkv = cfg_int(c, "num_key_value_heads", H, 0, 1, 4096);
    int64_t F = cfg_int(c, "intermediate_size", 0, 1, 1, 1 << 24);
    int64_t V = c->n_vocab;
    int has_hd = cfg_item(c, "head_dim") && !cJSON_IsNull(cfg_item(c, "head_dim"));
    int64_t hd = cfg_int(c, "head_dim", H ? D / H : 0, 0, 1, 1 << 16);
    double eps = cfg_float(c, "rms_norm_eps", 1e-6, 0);
    double theta = cfg_rope_theta(c, 10000);
    int tied = cfg_bool(c, "tie_word_embeddings", 0);
    int abias = cfg_bool(c, "attention_bias", 0), mbias = cfg_bool(c, "mlp_bias", 0);
    if (c->rc) return c->rc;
    if (hd % 2 || H % Hkv)
        return fail(c, ERR_SHAPE,
                    "config.json: head_dim %lld or heads %lld/%lld "
                    "unusable",
                    (long long)hd, (long long)H, (long long)Hkv);
    kv_u32(c, "block_count", L);
    kv_u32(c, "context_length", cfg_int(c, "max_position_embeddings", 4096, 0, 0, UINT32_MAX));
    kv_u32(c, "embedding_length", D);
    kv_u32(c, "feed_forward_length", F);
    kv_u32(c, "attention.head_count", H);
    kv_u32(c, "attention.head_count_kv", Hkv);
    kv_f32(c, "rope.freq_base", theta);
    kv_f32(c, "attention.layer_norm_rms_epsilon", eps);
    if (has_hd) {
        kv_u32(c, "attention.key_length", hd);
        kv_u32(c, "attention.value_length", hd);
    }
    kv_u32(c, "vocab_size", V);
    kv_u32(c, "rope.dimension_count", hd);
    if (mistral) {
        const cJSON* sw = cfg_item(c, "sliding_window");
        if (sw && !cJSON_IsNull(sw))
            kv_u32(c, "attention.sliding_window",
                   cfg_int(c, "sliding_window", 0, 1, 1, UINT32_MAX));
    }
    if (rope_scaling(c, theta, hd)) return c->rc;
    copy(c, "model.embed_tokens.weight", "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        const char* p = "model.layers";
        copy(c, hf(c, "%s.%lld.input_layernorm.weight", p, (long long)i),
             gg(c, "blk.%lld.attn_norm.weight", (long long)i), 1, D, 1, 1);
        float* q = permute_qk(
            get(c, hf(c, "%s.%lld.self_attn.q_proj.weight", p, (long long)i), 2, H * hd, D, 1), H,
            H * hd, D);
        put(c, gg(c, "blk.%lld.attn_q.weight", (long long)i), q, 2, D, H * hd, 1);
        float* k = permute_qk(
            get(c, hf(c, "%s.%lld.self_attn.k_proj.weight", p, (long long)i), 2, Hkv * hd, D, 1),
            Hkv, Hkv * hd, D);
        put(c, gg(c, "blk.%lld.attn_k.weight", (long long)i), k, 2, D, Hkv * hd, 1);
        copy(c, hf(c, "%s.%lld.self_attn.v_proj.weight", p, (long long)i),
             gg(c, "blk.%lld.attn_v.weight", (long long)i), 2, Hkv * hd, D, 1);
        copy(c, hf(c, "%s.%lld.self_attn.o_proj.weight", p, (long long)i),
             gg(c, "blk.%lld.attn_output.weight", (long long)i), 2, D, H * hd, 1);
        if (abias) {
            q = permute_qk(
                get(c, hf(c, "%s.%lld.self_attn.q_proj.bias", p, (long long)i), 1, H * hd, 1, 1), H,
                H * hd, 1);
            put(c, gg(c, "blk.%lld.attn_q.bias", (long long)i), q, 1, H * hd, 1, 1);
            k = permute_qk(
                get(c, hf(c, "%s.%lld.self_attn.k_proj.bias", p, (long long)i), 1, Hkv * hd, 1, 1),
                Hkv, Hkv * hd, 1);
            put(c, gg(c, "blk.%lld.attn_k.bias", (long long)i), k, 1, Hkv * hd, 1, 1);
            copy(c, hf(c, "%s.%lld.self_attn.v_proj.bias", p, (long long)i),
                 gg(c, "blk.%lld.attn_v.bias", (long long)i), 1, Hkv * hd, 1, 1);
            copy(c, hf(c, "%s.%lld.self_attn.o_proj.bias", p, (long long)i),
                 gg(c, "blk.%lld.attn_output.bias", (long long)i), 1, D, 1, 1);
        }
        copy(c, hf(c, "%s.%lld.post_attention_layernorm.weight", p, (long long)i),
             gg(c, "blk.%lld.ffn_norm.weight", (long long)i), 1, D, 1, 1);
        static const char* const MLP[3][2] = {
            {"gate_proj", "ffn_gate"}, {"up_proj", "ffn_up"}, {"down_proj", "ffn_down"}};
        for (int m = 0; m < 3; m++) {
            int64_t o = m == 2 ? D : F, in = m == 2 ? F : D;
            copy(c, hf(c, "%s.%lld.mlp.%s.weight", p, (long long)i, MLP[m][0]),
                 gg(c, "blk.%lld.%s.weight", (long long)i, MLP[m][1]), 2, o, in, 1);
            if (mbias)
                copy(c, hf(c, "%s.%lld.mlp.%s.bias", p, (long long)i, MLP[m][0]),
                     gg(c, "blk.%lld.%s.bias", (long long)i, MLP[m][1]), 1, o, 1, 1);
        }
    }
    copy(c, "model.norm.weight", "output_norm.weight", 1, D, 1, 1);
    put_output(c, "lm_head.weight", tied, V, D);
    return c->rc;
}

// ---------------------------------------------------------------------------------------
// mamba, mamba2, jamba

// Mamba-1 mixer tensors under prefix (".in_proj.weight" ...) into blk.i.
static int mamba1_mixer(struct Conv* c, const char* prefix, int64_t i, int64_t D, int64_t di,
                        int64_t N, int64_t R, int64_t K, int jamba, int conv_bias, int proj_bias) {
    char p[200];
    snprintf(p, sizeof(p), "%s", prefix);
    long long b = (long long)i;
    copy(c, hf(c, "%s.in_proj.weight", p), gg(c, "blk.%lld.ssm_in.weight", b), 2, 2 * di, D, 1);
    copy_conv(c, hf(c, "%s.conv1d.weight", p), gg(c, "blk.%lld.ssm_conv1d.weight", b), di, K);
    if (conv_bias)
        copy(c, hf(c, "%s.conv1d.bias", p), gg(c, "blk.%lld.ssm_conv1d.bias", b), 1, di, 1, 1);
    copy(c, hf(c, "%s.x_proj.weight", p), gg(c, "blk.%lld.ssm_x.weight", b), 2, R + 2 * N, di, 1);
    if (jamba) {
        copy(c, hf(c, "%s.dt_layernorm.weight", p), gg(c, "blk.%lld.ssm_dt_norm.weight", b), 1, R,
             1, 1);
        copy(c, hf(c, "%s.b_layernorm.weight", p), gg(c, "blk.%lld.ssm_b_norm.weight", b), 1, N, 1,
             1);
        copy(c, hf(c, "%s.c_layernorm.weight", p), gg(c, "blk.%lld.ssm_c_norm.weight", b), 1, N, 1,
             1);
    }
    copy(c, hf(c, "%s.dt_proj.weight", p), gg(c, "blk.%lld.ssm_dt.weight", b), 2, di, R, 1);
    copy(c, hf(c, "%s.dt_proj.bias", p), gg(c, "blk.%lld.ssm_dt.bias", b), 1, di, 1, 1);
    float* a = neg_exp(get(c, hf(c, "%s.A_log", p), 2, di, N, 1), di * N);
    put(c, gg(c, "blk.%lld.ssm_a", b), a, 2, N, di, 1);
    copy(c, hf(c, "%s.D", p), gg(c, "blk.%lld.ssm_d", b), 1, di, 1, 1);
    copy(c, hf(c, "%s.out_proj.weight", p), gg(c, "blk.%lld.ssm_out.weight", b), 2, D, di, 1);
    if (proj_bias) {
        copy(c, hf(c, "%s.in_proj.bias", p), gg(c, "blk.%lld.ssm_in.bias", b), 1, 2 * di, 1, 1);
        copy(c, hf(c, "%s.out_proj.bias", p), gg(c, "blk.%lld.ssm_out.bias", b), 1, D, 1, 1);
    }
    return c->rc;
}

static int64_t dt_rank(struct Conv* c, const char* key, int64_t D) {
    const cJSON* j = cfg_item(c, key);
    if (cJSON_IsString(j) && !strcmp(j->valuestring, "auto")) return (D + 15) / 16;
    return cfg_int(c, key, (D + 15) / 16, 0, 1, 1 << 20);
}

static const char* embed_name(struct Conv* c) {
    return find(c, "backbone.embeddings.weight") ? "backbone.embeddings.weight"
                                                 : "backbone.embedding.weight";
}

static int conv_mamba(struct Conv* c) {
    int64_t D = cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t di = cfg_int(c, "intermediate_size", 2 * D, 0, 1, 1 << 24);
    int64_t N = cfg_int(c, "state_size", 16, 0, 1, 1 << 16);
    int64_t K = cfg_int(c, "conv_kernel", 4, 0, 1, 1024);
    int64_t R = dt_rank(c, "time_step_rank", D);
    double eps = cfg_float(c, "layer_norm_epsilon", 1e-5, 0);
    int tied = cfg_bool(c, "tie_word_embeddings", 1);
    int cb = cfg_bool(c, "use_conv_bias", 1), pb = cfg_bool(c, "use_bias", 0);
    int64_t V = c->n_vocab;
    if (c->rc) return c->rc;
    kv_u32(c, "context_length", 1 << 20);
    kv_u32(c, "embedding_length", D);
    kv_u32(c, "feed_forward_length", 0);
    kv_u32(c, "attention.head_count", 0);
    kv_u32(c, "block_count", L);
    kv_u32(c, "ssm.conv_kernel", K);
    kv_u32(c, "ssm.inner_size", di);
    kv_u32(c, "ssm.state_size", N);
    kv_u32(c, "ssm.time_step_rank", R);
    kv_f32(c, "attention.layer_norm_rms_epsilon", eps);
    gguf_writer_set_bool(&c->w, akey(c, "ssm.dt_b_c_rms"), false);
    copy(c, embed_name(c), "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        copy(c, hf(c, "backbone.layers.%lld.norm.weight", (long long)i),
             gg(c, "blk.%lld.attn_norm.weight", (long long)i), 1, D, 1, 1);
        char p[128];
        snprintf(p, sizeof(p), "backbone.layers.%lld.mixer", (long long)i);
        mamba1_mixer(c, p, i, D, di, N, R, K, 0, cb, pb);
    }
    copy(c, "backbone.norm_f.weight", "output_norm.weight", 1, D, 1, 1);
    put_output(c, "lm_head.weight", tied, V, D);
    return c->rc;
}

// Mamba-2 mixer under prefix into blk.i. store_a_log: zamba2 layout (A_log kept as is).
static int mamba2_mixer(struct Conv* c, const char* prefix, int64_t i, int64_t D, int64_t di,
                        int64_t N, int64_t G, int64_t nh, int64_t K, int store_a_log, int cb) {
    char p[200];
    snprintf(p, sizeof(p), "%s", prefix);
    long long b = (long long)i;
    int64_t conv_dim = di + 2 * G * N, n_in = 2 * di + 2 * G * N + nh;
    copy(c, hf(c, "%s.in_proj.weight", p), gg(c, "blk.%lld.ssm_in.weight", b), 2, n_in, D, 1);
    copy_conv(c, hf(c, "%s.conv1d.weight", p), gg(c, "blk.%lld.ssm_conv1d.weight", b), conv_dim, K);
    if (cb)
        copy(c, hf(c, "%s.conv1d.bias", p), gg(c, "blk.%lld.ssm_conv1d.bias", b), 1, conv_dim, 1,
             1);
    copy(c, hf(c, "%s.dt_bias", p), gg(c, "blk.%lld.ssm_dt.bias", b), 1, nh, 1, 1);
    float* a = get(c, hf(c, "%s.A_log", p), 1, nh, 1, 1);
    if (store_a_log)
        put(c, gg(c, "blk.%lld.ssm_a_log", b), a, 2, 1, nh, 1);
    else
        put(c, gg(c, "blk.%lld.ssm_a", b), neg_exp(a, nh), 2, 1, nh, 1);
    float* d = get(c, hf(c, "%s.D", p), 1, nh, 1, 1);
    put(c, gg(c, "blk.%lld.ssm_d", b), d, 2, 1, nh, 1);
    float* nw = get(c, hf(c, "%s.norm.weight", p), 1, di, 1, 1);
    put(c, gg(c, "blk.%lld.ssm_norm.weight", b), nw, 2, di / G, G, 1);
    copy(c, hf(c, "%s.out_proj.weight", p), gg(c, "blk.%lld.ssm_out.weight", b), 2, D, di, 1);
    return c->rc;
}

static int conv_mamba2(struct Conv* c) {
    int64_t D = cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t ex = cfg_int(c, "expand", 2, 0, 1, 64);
    int64_t di = cfg_int(c, "intermediate_size", ex * D, 0, 1, 1 << 24);
    int64_t N = cfg_int(c, "state_size", 128, 0, 1, 1 << 16);
    int64_t K = cfg_int(c, "conv_kernel", 4, 0, 1, 1024);
    int64_t P = cfg_int(c, "head_dim", 64, 0, 1, 1 << 16);
    int64_t G = cfg_int(c, "n_groups", 1, 0, 1, 1 << 16);
    double eps = cfg_float(c, "layer_norm_epsilon", 1e-5, 0);
    int tied = cfg_bool(c, "tie_word_embeddings", 1);
    int cb = cfg_bool(c, "use_conv_bias", 1);
    int64_t V = c->n_vocab;
    if (c->rc) return c->rc;
    if (di % P || di % G)
        return fail(c, ERR_SHAPE,
                    "config.json: d_inner %lld is not a multiple of head_dim %lld "
                    "and n_groups %lld",
                    (long long)di, (long long)P, (long long)G);
    int64_t nh = di / P;
    int64_t nhc = cfg_int(c, "num_heads", nh, 0, 1, 1 << 20);
    if (nhc != nh)
        return fail(c, ERR_SHAPE, "config.json: num_heads %lld != d_inner/head_dim %lld",
                    (long long)nhc, (long long)nh);
    kv_u32(c, "context_length", 1 << 20);
    kv_u32(c, "embedding_length", D);
    kv_u32(c, "feed_forward_length", 0);
    kv_u32(c, "attention.head_count", 0);
    kv_u32(c, "block_count", L);
    kv_u32(c, "ssm.conv_kernel", K);
    kv_u32(c, "ssm.inner_size", di);
    kv_u32(c, "ssm.state_size", N);
    kv_u32(c, "ssm.time_step_rank", nh);
    kv_u32(c, "ssm.group_count", G);
    kv_f32(c, "attention.layer_norm_rms_epsilon", eps);
    copy(c, embed_name(c), "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        copy(c, hf(c, "backbone.layers.%lld.norm.weight", (long long)i),
             gg(c, "blk.%lld.attn_norm.weight", (long long)i), 1, D, 1, 1);
        char p[128];
        snprintf(p, sizeof(p), "backbone.layers.%lld.mixer", (long long)i);
        mamba2_mixer(c, p, i, D, di, N, G, nh, K, 0, cb);
    }
    copy(c, "backbone.norm_f.weight", "output_norm.weight", 1, D, 1, 1);
    put_output(c, "lm_head.weight", tied, V, D);
    return c->rc;
}

// Jamba's experts: per-expert tensors stacked to GGUF ne [in, out, E], or transformers'
// fused experts.gate_up_proj [E, 2F, D] / experts.down_proj [E, D, F].
static int jamba_experts(struct Conv* c, int64_t i, int64_t E, int64_t D, int64_t F) {
    long long b = (long long)i;
    const char* p = "model.layers";
    if (find(c, hf(c, "%s.%lld.feed_forward.experts.gate_up_proj", p, b))) {
        float* gu = get(c, c->name, 3, E, 2 * F, D);
        float* g = gu ? malloc((size_t)(E * F * D) * sizeof(float)) : NULL;
        float* u = g ? malloc((size_t)(E * F * D) * sizeof(float)) : NULL;
        if (!u) {
            free(gu);
            free(g);
            return c->rc ? c->rc : fail(c, ERR_NOMEM, "out of memory");
        }
        for (int64_t x = 0; x < E; x++) {
            memcpy(g + x * F * D, gu + x * 2 * F * D, (size_t)(F * D) * sizeof(float));
            memcpy(u + x * F * D, gu + x * 2 * F * D + F * D, (size_t)(F * D) * sizeof(float));
        }
        free(gu);
        put(c, gg(c, "blk.%lld.ffn_gate_exps.weight", b), g, 3, D, F, E);
        put(c, gg(c, "blk.%lld.ffn_up_exps.weight", b), u, 3, D, F, E);
        return copy(c, hf(c, "%s.%lld.feed_forward.experts.down_proj", p, b),
                    gg(c, "blk.%lld.ffn_down_exps.weight", b), 3, E, D, F);
    }
    static const char* const M[3][2] = {
        {"gate_proj", "ffn_gate_exps"}, {"up_proj", "ffn_up_exps"}, {"down_proj", "ffn_down_exps"}};
    for (int m = 0; m < 3 && !c->rc; m++) {
        int64_t o = m == 2 ? D : F, in = m == 2 ? F : D;
        float* all = malloc((size_t)(E * o * in) * sizeof(float));
        if (!all) return fail(c, ERR_NOMEM, "out of memory");
        for (int64_t x = 0; x < E; x++) {
            float* w = get(
                c,
                hf(c, "%s.%lld.feed_forward.experts.%lld.%s.weight", p, b, (long long)x, M[m][0]),
                2, o, in, 1);
            if (!w) {
                free(all);
                return c->rc;
            }
            memcpy(all + x * o * in, w, (size_t)(o * in) * sizeof(float));
            free(w);
        }
        put(c, gg(c, "blk.%lld.%s.weight", b, M[m][1]), all, 3, in, o, E);
    }
    return c->rc;
}

static int conv_jamba(struct Conv* c) {
    int64_t D = cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t H = cfg_int(c, "num_attention_heads", 0, 1, 1, 4096);
    int64_t Hkv = cfg_int(c, "num_key_value_heads", H, 0, 1, 4096);
    int64_t F = cfg_int(c, "intermediate_size", 0, 1, 1, 1 << 24);
    int64_t hd = cfg_int(c, "head_dim", H ? D / H : 0, 0, 1, 1 << 16);
    int64_t E = cfg_int(c, "num_experts", 16, 0, 1, 4096);
    int64_t Eu = cfg_int(c, "num_experts_per_tok", 2, 0, 1, 4096);
    int64_t ap = cfg_int(c, "attn_layer_period", 8, 0, 1, 4096);
    int64_t ao = cfg_int(c, "attn_layer_offset", 4, 0, 0, 4096);
    int64_t ep = cfg_int(c, "expert_layer_period", 2, 0, 1, 4096);
    int64_t eo = cfg_int(c, "expert_layer_offset", 1, 0, 0, 4096);
    int64_t N = cfg_int(c, "mamba_d_state", 16, 0, 1, 1 << 16);
    int64_t K = cfg_int(c, "mamba_d_conv", 4, 0, 1, 1024);
    int64_t ex = cfg_int(c, "mamba_expand", 2, 0, 1, 64);
    int64_t R = dt_rank(c, "mamba_dt_rank", D);
    int cb = cfg_bool(c, "mamba_conv_bias", 1), pb = cfg_bool(c, "mamba_proj_bias", 0);
    double eps = cfg_float(c, "rms_norm_eps", 1e-6, 0);
    int tied = cfg_bool(c, "tie_word_embeddings", 0);
    int64_t V = c->n_vocab, di = ex * D;
    if (c->rc) return c->rc;
    int32_t* kv = calloc((size_t)L, sizeof(int32_t));
    if (!kv) return fail(c, ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < L; i++)
        kv[i] = i % ap == ao ? (int32_t)Hkv : 0;
    kv_u32(c, "block_count", L);
    kv_u32(c, "context_length", cfg_int(c, "max_position_embeddings", 262144, 0, 0, UINT32_MAX));
    kv_u32(c, "embedding_length", D);
    kv_u32(c, "feed_forward_length", F);
    kv_u32(c, "attention.head_count", H);
    kv_i32_arr(c, "attention.head_count_kv", kv, L);
    kv_u32(c, "ssm.conv_kernel", K);
    kv_u32(c, "ssm.inner_size", di);
    kv_u32(c, "ssm.state_size", N);
    kv_u32(c, "ssm.time_step_rank", R);
    kv_f32(c, "attention.layer_norm_rms_epsilon", eps);
    kv_u32(c, "expert_count", E);
    kv_u32(c, "expert_used_count", Eu);
    copy(c, "model.embed_tokens.weight", "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        long long b = (long long)i;
        const char* p = "model.layers";
        copy(c, hf(c, "%s.%lld.input_layernorm.weight", p, b),
             gg(c, "blk.%lld.attn_norm.weight", b), 1, D, 1, 1);
        if (kv[i]) {
            copy(c, hf(c, "%s.%lld.self_attn.q_proj.weight", p, b),
                 gg(c, "blk.%lld.attn_q.weight", b), 2, H * hd, D, 1);
            copy(c, hf(c, "%s.%lld.self_attn.k_proj.weight", p, b),
                 gg(c, "blk.%lld.attn_k.weight", b), 2, Hkv * hd, D, 1);
            copy(c, hf(c, "%s.%lld.self_attn.v_proj.weight", p, b),
                 gg(c, "blk.%lld.attn_v.weight", b), 2, Hkv * hd, D, 1);
            copy(c, hf(c, "%s.%lld.self_attn.o_proj.weight", p, b),
                 gg(c, "blk.%lld.attn_output.weight", b), 2, D, H * hd, 1);
        } else {
            char mp[128];
            snprintf(mp, sizeof(mp), "%s.%lld.mamba", p, b);
            mamba1_mixer(c, mp, i, D, di, N, R, K, 1, cb, pb);
        }
        copy(c, hf(c, "%s.%lld.pre_ff_layernorm.weight", p, b),
             gg(c, "blk.%lld.ffn_norm.weight", b), 1, D, 1, 1);
        if (E > 1 && i % ep == eo) {
            copy(c, hf(c, "%s.%lld.feed_forward.router.weight", p, b),
                 gg(c, "blk.%lld.ffn_gate_inp.weight", b), 2, E, D, 1);
            jamba_experts(c, i, E, D, F);
        } else {
            static const char* const M[3][2] = {
                {"gate_proj", "ffn_gate"}, {"up_proj", "ffn_up"}, {"down_proj", "ffn_down"}};
            for (int m = 0; m < 3; m++)
                copy(c, hf(c, "%s.%lld.feed_forward.%s.weight", p, b, M[m][0]),
                     gg(c, "blk.%lld.%s.weight", b, M[m][1]), 2, m == 2 ? D : F, m == 2 ? F : D, 1);
        }
    }
    free(kv);
    copy(c, "model.final_layernorm.weight", "output_norm.weight", 1, D, 1, 1);
    put_output(c, "lm_head.weight", tied, V, D);
    return c->rc;
}

// ---------------------------------------------------------------------------------------
// recurrentgemma (our layout, docs/GGUF.md)

// bf16 rounding (nearest even) of a double, as torch.tensor(x, dtype=torch.bfloat16) does.
static double round_bf16(double x) {
    int ex;
    double m = frexp(x, &ex); // x = m * 2^ex, 0.5 <= |m| < 1
    return ldexp(nearbyint(ldexp(m, 8)), ex - 8);
}

// RG-LRU gate [H, bw_in, bw_out] (x @ W per block) -> GGUF ne [bw_in, bw_out, H]: each
// block transposed so that row j holds output j's weights, as ggml's matmul expects.
static int rg_gate(struct Conv* c, const char* hname, const char* gname, int64_t H, int64_t bw) {
    float* w = get(c, hname, 3, H, bw, bw);
    if (!w) return c->rc;
    float* t = malloc((size_t)(H * bw * bw) * sizeof(float));
    if (!t) {
        free(w);
        return fail(c, ERR_NOMEM, "out of memory");
    }
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < bw; i++)
            for (int64_t j = 0; j < bw; j++)
                t[(h * bw + j) * bw + i] = w[(h * bw + i) * bw + j];
    free(w);
    char g[256];
    snprintf(g, sizeof(g), "%s", gname);
    return put(c, g, t, 3, bw, bw, H);
}

static int conv_recurrentgemma(struct Conv* c) {
    int64_t D = cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t H = cfg_int(c, "num_attention_heads", 0, 1, 1, 4096);
    int64_t Hkv = cfg_int(c, "num_key_value_heads", H, 0, 1, 4096);
    int64_t Fi = cfg_int(c, "intermediate_size", 0, 1, 2, 1 << 24);
    int64_t hd = cfg_int(c, "head_dim", H ? D / H : 0, 0, 1, 1 << 16);
    int64_t lru = cfg_int(c, "lru_width", D, 0, 1, 1 << 24);
    int64_t W = cfg_int(c, "attention_window_size", 2048, 0, 1, UINT32_MAX);
    int64_t K = cfg_int(c, "conv1d_width", 4, 0, 1, 1024);
    double cap = cfg_float(c, "logits_soft_cap", 30, 0);
    double eps = cfg_float(c, "rms_norm_eps", 1e-6, 0);
    double theta = cfg_rope_theta(c, 10000);
    double prf = cfg_float(c, "partial_rotary_factor", 0.5, 0);
    const cJSON* rp = cfg_item(c, "rope_parameters");
    if (cJSON_IsObject(rp))
        json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "partial_rotary_factor"),
                 "rope_parameters.partial_rotary_factor", &prf);
    int tied = cfg_bool(c, "tie_word_embeddings", 1);
    int abias = cfg_bool(c, "attention_bias", 0);
    int64_t V = c->n_vocab, F = Fi / 2;
    if (c->rc) return c->rc;
    const cJSON* bt = cfg_item(c, "block_types");
    int nbt = cJSON_IsArray(bt) ? cJSON_GetArraySize(bt) : 0;
    if (nbt == 0) return fail(c, ERR_FORMAT, "config.json: block_types is missing or empty");
    if (lru % H)
        return fail(c, ERR_SHAPE,
                    "config.json: lru_width %lld is not a multiple of "
                    "num_attention_heads %lld",
                    (long long)lru, (long long)H);
    int64_t bw = lru / H, n_rot = (int64_t)(hd * prf);
    int32_t* kv = calloc((size_t)L, sizeof(int32_t));
    if (!kv) return fail(c, ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < L && !c->rc; i++) {
        const cJSON* t = cJSON_GetArrayItem(bt, (int)(i % nbt));
        if (!cJSON_IsString(t) ||
            (strcmp(t->valuestring, "recurrent") && strcmp(t->valuestring, "attention")))
            fail(c, ERR_FORMAT,
                 "config.json: block_types[%lld] is not \"recurrent\" or "
                 "\"attention\"",
                 (long long)(i % nbt));
        else
            kv[i] = strcmp(t->valuestring, "attention") ? 0 : (int32_t)Hkv;
    }
    kv_u32(c, "block_count", L);
    kv_u32(c, "context_length", cfg_int(c, "max_position_embeddings", 8192, 0, 0, UINT32_MAX));
    kv_u32(c, "embedding_length", D);
    kv_u32(c, "feed_forward_length", F);
    kv_u32(c, "attention.head_count", H);
    kv_i32_arr(c, "attention.head_count_kv", kv, L);
    kv_u32(c, "attention.key_length", hd);
    kv_u32(c, "attention.value_length", hd);
    kv_u32(c, "attention.sliding_window", W);
    kv_f32(c, "attention.layer_norm_rms_epsilon", eps);
    kv_f32(c, "rope.freq_base", theta);
    kv_u32(c, "rope.dimension_count", n_rot);
    kv_u32(c, "ssm.conv_kernel", K);
    kv_u32(c, "ssm.inner_size", lru);
    kv_u32(c, "vocab_size", V);
    kv_f32(c, "final_logit_softcapping", cap);
    kv_f32(c, "embedding_scale", round_bf16(sqrt((double)D)));
    copy(c, "model.embed_tokens.weight", "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        long long b = (long long)i;
        const char* p = "model.layers";
        copy(c, hf(c, "%s.%lld.temporal_pre_norm.weight", p, b),
             gg(c, "blk.%lld.attn_norm.weight", b), 1, D, 1, 1);
        if (kv[i]) {
            const char* const QKV[3][2] = {
                {"q_proj", "attn_q"}, {"k_proj", "attn_k"}, {"v_proj", "attn_v"}};
            for (int m = 0; m < 3; m++) {
                int64_t o = (m ? Hkv : H) * hd;
                copy(c, hf(c, "%s.%lld.temporal_block.%s.weight", p, b, QKV[m][0]),
                     gg(c, "blk.%lld.%s.weight", b, QKV[m][1]), 2, o, D, 1);
                if (abias)
                    copy(c, hf(c, "%s.%lld.temporal_block.%s.bias", p, b, QKV[m][0]),
                         gg(c, "blk.%lld.%s.bias", b, QKV[m][1]), 1, o, 1, 1);
            }
            copy(c, hf(c, "%s.%lld.temporal_block.o_proj.weight", p, b),
                 gg(c, "blk.%lld.attn_output.weight", b), 2, D, H * hd, 1);
            copy(c, hf(c, "%s.%lld.temporal_block.o_proj.bias", p, b),
                 gg(c, "blk.%lld.attn_output.bias", b), 1, D, 1, 1);
        } else {
            const char* const LIN[2][2] = {{"linear_y", "rg_y"}, {"linear_x", "rg_x"}};
            for (int m = 0; m < 2; m++) {
                copy(c, hf(c, "%s.%lld.temporal_block.%s.weight", p, b, LIN[m][0]),
                     gg(c, "blk.%lld.%s.weight", b, LIN[m][1]), 2, lru, D, 1);
                copy(c, hf(c, "%s.%lld.temporal_block.%s.bias", p, b, LIN[m][0]),
                     gg(c, "blk.%lld.%s.bias", b, LIN[m][1]), 1, lru, 1, 1);
            }
            copy_conv(c, hf(c, "%s.%lld.temporal_block.conv_1d.weight", p, b),
                      gg(c, "blk.%lld.ssm_conv1d.weight", b), lru, K);
            copy(c, hf(c, "%s.%lld.temporal_block.conv_1d.bias", p, b),
                 gg(c, "blk.%lld.ssm_conv1d.bias", b), 1, lru, 1, 1);
            rg_gate(c, hf(c, "%s.%lld.temporal_block.rg_lru.input_gate_weight", p, b),
                    gg(c, "blk.%lld.rg_gate_x.weight", b), H, bw);
            copy(c, hf(c, "%s.%lld.temporal_block.rg_lru.input_gate_bias", p, b),
                 gg(c, "blk.%lld.rg_gate_x.bias", b), 2, H, bw, 1);
            rg_gate(c, hf(c, "%s.%lld.temporal_block.rg_lru.recurrent_gate_weight", p, b),
                    gg(c, "blk.%lld.rg_gate_a.weight", b), H, bw);
            copy(c, hf(c, "%s.%lld.temporal_block.rg_lru.recurrent_gate_bias", p, b),
                 gg(c, "blk.%lld.rg_gate_a.bias", b), 2, H, bw, 1);
            copy(c, hf(c, "%s.%lld.temporal_block.rg_lru.recurrent_param", p, b),
                 gg(c, "blk.%lld.rg_param", b), 1, lru, 1, 1);
            copy(c, hf(c, "%s.%lld.temporal_block.linear_out.weight", p, b),
                 gg(c, "blk.%lld.rg_out.weight", b), 2, D, lru, 1);
            copy(c, hf(c, "%s.%lld.temporal_block.linear_out.bias", p, b),
                 gg(c, "blk.%lld.rg_out.bias", b), 1, D, 1, 1);
        }
        copy(c, hf(c, "%s.%lld.channel_pre_norm.weight", p, b),
             gg(c, "blk.%lld.ffn_norm.weight", b), 1, D, 1, 1);
        static const char* const M[3][2] = {
            {"gate_proj", "ffn_gate"}, {"up_proj", "ffn_up"}, {"down_proj", "ffn_down"}};
        for (int m = 0; m < 3; m++) {
            int64_t o = m == 2 ? D : F, in = m == 2 ? F : D;
            copy(c, hf(c, "%s.%lld.mlp_block.%s.weight", p, b, M[m][0]),
                 gg(c, "blk.%lld.%s.weight", b, M[m][1]), 2, o, in, 1);
            copy(c, hf(c, "%s.%lld.mlp_block.%s.bias", p, b, M[m][0]),
                 gg(c, "blk.%lld.%s.bias", b, M[m][1]), 1, o, 1, 1);
        }
    }
    free(kv);
    copy(c, "model.final_norm.weight", "output_norm.weight", 1, D, 1, 1);
    put_output(c, "lm_head.weight", tied, V, D);
    return c->rc;
}

// ---------------------------------------------------------------------------------------
// zamba2 (our layout, docs/GGUF.md)

// The layer types: 1 = hybrid, 0 = mamba ("mamba" or transformers' "linear_attention").
static int zamba_layer_types(struct Conv* c, int64_t L, int* hybrid) {
    const cJSON* lt = cfg_item(c, "layers_block_type");
    if (!cJSON_IsArray(lt)) lt = cfg_item(c, "layer_types");
    if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != L)
        return fail(c, ERR_FORMAT, "config.json: layers_block_type is missing or not %lld entries",
                    (long long)L);
    int i = 0;
    for (const cJSON* t = lt->child; t; t = t->next, i++) {
        const char* s = cJSON_IsString(t) ? t->valuestring : "";
        if (!strcmp(s, "hybrid"))
            hybrid[i] = 1;
        else if (!strcmp(s, "mamba") || !strcmp(s, "linear_attention"))
            hybrid[i] = 0;
        else
            return fail(c, ERR_FORMAT,
                        "config.json: layers_block_type[%d] = '%.40s' (want "
                        "\"mamba\", \"linear_attention\" or \"hybrid\")",
                        i, s);
    }
    return 0;
}

// The first hybrid layer whose ordinal is = b (mod nmb) and holds suffix under
// model.layers.N. (suffix starts with the block's module: shared_transformer. in Zamba2,
// shared_transf. in Zamba v1); -1 when none does.
static int64_t zamba_find_shared(struct Conv* c, const int* hybrid, int64_t L, int64_t nmb,
                                 int64_t b, const char* suffix) {
    int64_t j = 0;
    for (int64_t i = 0; i < L; i++) {
        if (!hybrid[i]) continue;
        if (j++ % nmb != b) continue;
        if (find(c, hf(c, "model.layers.%lld.%s", (long long)i, suffix))) return i;
    }
    return -1;
}

static int zamba_shared(struct Conv* c, const int* hybrid, int64_t L, int64_t nmb, int64_t b,
                        const char* suffix, const char* gname, int nd, int64_t d0, int64_t d1) {
    int64_t i = zamba_find_shared(c, hybrid, L, nmb, b, suffix);
    char g[256];
    snprintf(g, sizeof(g), "%s", gname);
    if (i < 0)
        return fail(c, ERR_NOT_FOUND, "shared block %lld: %s is under no hybrid layer",
                    (long long)b, suffix);
    hf(c, "model.layers.%lld.%s", (long long)i, suffix);
    char h[256];
    snprintf(h, sizeof(h), "%s", c->name);
    return copy(c, h, g, nd, d0, d1, 1);
}

static int conv_zamba2(struct Conv* c) {
    int64_t D = cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t Ha = cfg_int(c, "num_attention_heads", 0, 1, 1, 4096);
    int64_t Hkv = cfg_int(c, "num_key_value_heads", Ha, 0, 1, 4096);
    int64_t F = cfg_int(c, "intermediate_size", 4 * D, 0, 1, 1 << 24);
    int64_t hd = cfg_int(c, "attention_head_dim", Ha ? 2 * D / Ha : 0, 0, 1, 1 << 16);
    int64_t N = cfg_int(c, "mamba_d_state", 64, 0, 1, 1 << 16);
    int64_t K = cfg_int(c, "mamba_d_conv", 4, 0, 1, 1024);
    double ex = cfg_float(c, "mamba_expand", 2, 0);
    int64_t G = cfg_int(c, "mamba_ngroups", 1, 0, 1, 1 << 16);
    int64_t nh = cfg_int(c, "n_mamba_heads", 8, 0, 1, 1 << 16);
    int64_t nmb = cfg_int(c, "num_mem_blocks", 1, 0, 1, 64);
    int64_t r = cfg_int(c, "adapter_rank", 128, 0, 1, 1 << 16);
    int attn_ad = cfg_bool(c, "use_shared_attention_adapter", 0);
    int mlp_ad = cfg_bool(c, "use_shared_mlp_adapter", 1);
    int mem_rope = cfg_bool(c, "use_mem_rope", 0);
    int cb = cfg_bool(c, "use_conv_bias", 1);
    double eps = cfg_float(c, "rms_norm_eps", 1e-5, 0);
    double theta = cfg_rope_theta(c, 10000);
    int tied = cfg_bool(c, "tie_word_embeddings", 1);
    int64_t V = c->n_vocab, di = (int64_t)(ex * (double)D);
    if (c->rc) return c->rc;
    if (cfg_bool(c, "use_long_context", 0))
        return fail(c, ERR_UNSUPPORTED, "config.json: use_long_context is not supported");
    if (cfg_bool(c, "add_bias_linear", 0))
        return fail(c, ERR_UNSUPPORTED, "config.json: add_bias_linear is not supported");
    if (di % nh || di % G || nh % G)
        return fail(c, ERR_SHAPE,
                    "config.json: d_inner %lld, n_mamba_heads %lld and mamba_ngroups "
                    "%lld do not divide",
                    (long long)di, (long long)nh, (long long)G);
    int64_t P = cfg_int(c, "mamba_headdim", di / nh, 0, 1, 1 << 20);
    if (P * nh != di)
        return fail(c, ERR_SHAPE,
                    "config.json: mamba_headdim %lld * n_mamba_heads %lld != d_inner "
                    "%lld",
                    (long long)P, (long long)nh, (long long)di);
    int* hybrid = calloc((size_t)L, sizeof(int));
    int32_t* kv = calloc((size_t)L, sizeof(int32_t));
    if (!hybrid || !kv) {
        free(hybrid);
        free(kv);
        return fail(c, ERR_NOMEM, "out of memory");
    }
    if (zamba_layer_types(c, L, hybrid)) goto done;
    int64_t n_hybrid = 0;
    for (int64_t i = 0; i < L; i++) {
        kv[i] = hybrid[i] ? (int32_t)Hkv : 0;
        n_hybrid += hybrid[i];
    }
    if (n_hybrid < nmb) {
        fail(c, ERR_FORMAT, "config.json: %lld hybrid layers for num_mem_blocks %lld",
             (long long)n_hybrid, (long long)nmb);
        goto done;
    }
    kv_u32(c, "block_count", L);
    kv_u32(c, "context_length", cfg_int(c, "max_position_embeddings", 4096, 0, 0, UINT32_MAX));
    kv_u32(c, "embedding_length", D);
    kv_u32(c, "feed_forward_length", F);
    kv_u32(c, "attention.head_count", Ha);
    kv_i32_arr(c, "attention.head_count_kv", kv, L);
    kv_u32(c, "attention.key_length", hd);
    kv_u32(c, "attention.value_length", hd);
    kv_f64(c, "attention.layer_norm_rms_epsilon", eps);
    kv_f32(c, "rope.freq_base", theta);
    kv_u32(c, "rope.dimension_count", mem_rope ? hd : 0);
    kv_u32(c, "ssm.conv_kernel", K);
    kv_u32(c, "ssm.inner_size", di);
    kv_u32(c, "ssm.state_size", N);
    kv_u32(c, "ssm.time_step_rank", nh);
    kv_u32(c, "ssm.group_count", G);
    kv_u32(c, "vocab_size", V);
    kv_u32(c, "shared_block_count", nmb);
    kv_u32(c, "adapter_rank", (attn_ad || mlp_ad) ? r : 0);
    gguf_writer_set_bool(&c->w, akey(c, "attention.adapter"), attn_ad);
    gguf_writer_set_bool(&c->w, akey(c, "ffn.adapter"), mlp_ad);
    copy(c, "model.embed_tokens.weight", "token_embd.weight", 2, V, D, 1);
    int64_t j = 0;
    for (int64_t i = 0; i < L && !c->rc; i++) {
        long long b = (long long)i;
        char p[160];
        if (!hybrid[i]) {
            copy(c, hf(c, "model.layers.%lld.input_layernorm.weight", b),
                 gg(c, "blk.%lld.attn_norm.weight", b), 1, D, 1, 1);
            snprintf(p, sizeof(p), "model.layers.%lld.mamba", b);
            mamba2_mixer(c, p, i, D, di, N, G, nh, K, 1, cb);
            continue;
        }
        copy(c, hf(c, "model.layers.%lld.mamba_decoder.input_layernorm.weight", b),
             gg(c, "blk.%lld.attn_norm.weight", b), 1, D, 1, 1);
        snprintf(p, sizeof(p), "model.layers.%lld.mamba_decoder.mamba", b);
        mamba2_mixer(c, p, i, D, di, N, G, nh, K, 1, cb);
        copy(c, hf(c, "model.layers.%lld.linear.weight", b),
             gg(c, "blk.%lld.shared_proj.weight", b), 2, D, D, 1);
        // adapters of ordinal j, found under any hybrid layer that uses block j % nmb
        int64_t blk = j % nmb;
        static const char* const AD[4][2] = {
            {"self_attn.linear_q_adapter_list", "shared_attn_q"},
            {"self_attn.linear_k_adapter_list", "shared_attn_k"},
            {"self_attn.linear_v_adapter_list", "shared_attn_v"},
            {"feed_forward.gate_up_proj_adapter_list", "shared_ffn_gate_up"}};
        for (int m = 0; m < 4 && !c->rc; m++) {
            if (m < 3 ? !attn_ad : !mlp_ad) continue;
            int64_t in = m < 3 ? 2 * D : D, out = m < 3 ? (m ? Hkv : Ha) * hd : 2 * F;
            char sa[160], sb[160], ga[160], gb[160];
            snprintf(sa, sizeof(sa), "shared_transformer.%s.%lld.0.weight", AD[m][0], (long long)j);
            snprintf(sb, sizeof(sb), "shared_transformer.%s.%lld.1.weight", AD[m][0], (long long)j);
            snprintf(ga, sizeof(ga), "blk.%lld.%s_a.weight", b, AD[m][1]);
            snprintf(gb, sizeof(gb), "blk.%lld.%s_b.weight", b, AD[m][1]);
            zamba_shared(c, hybrid, L, nmb, blk, sa, ga, 2, r, in);
            zamba_shared(c, hybrid, L, nmb, blk, sb, gb, 2, out, r);
        }
        j++;
    }
    for (int64_t bb = 0; bb < nmb && !c->rc; bb++) {
        char g[96];
        long long b = (long long)bb;
#define SH(suffix, gsuffix, nd, d0, d1)                                                            \
    (snprintf(g, sizeof(g), "shared.%lld.%s", b, gsuffix),                                         \
     zamba_shared(c, hybrid, L, nmb, bb, "shared_transformer." suffix, g, nd, d0, d1))
        SH("input_layernorm.weight", "attn_norm.weight", 1, 2 * D, 1);
        SH("self_attn.q_proj.weight", "attn_q.weight", 2, Ha * hd, 2 * D);
        SH("self_attn.k_proj.weight", "attn_k.weight", 2, Hkv * hd, 2 * D);
        SH("self_attn.v_proj.weight", "attn_v.weight", 2, Hkv * hd, 2 * D);
        SH("self_attn.o_proj.weight", "attn_output.weight", 2, D, Ha * hd);
        SH("pre_ff_layernorm.weight", "ffn_norm.weight", 1, D, 1);
        SH("feed_forward.gate_up_proj.weight", "ffn_gate_up.weight", 2, 2 * F, D);
        SH("feed_forward.down_proj.weight", "ffn_down.weight", 2, D, F);
#undef SH
    }
    copy(c, "model.final_layernorm.weight", "output_norm.weight", 1, D, 1, 1);
    put_output(c, "lm_head.weight", tied, V, D);
done:
    free(hybrid);
    free(kv);
    return c->rc;
}

// ---------------------------------------------------------------------------------------
// zamba v1 (our layout, docs/GGUF.md)

// Zamba's multi-head Mamba-1 mixer under prefix into blk.i: in_proj de-interleaved into
// [x; z]; the per-head x_proj and dt_proj written as dense block-diagonal matrices (exact
// zeros elsewhere) whose outputs are [dt_r of every head; B of every head; C of every head]
// and [dt of every channel]; A_log, D and the dt bias flattened over (head, channel).
static int zamba_mixer(struct Conv* c, const char* prefix, int64_t i, int64_t D, int64_t di,
                       int64_t N, int64_t R, int64_t nh, int64_t K) {
    char p[200];
    snprintf(p, sizeof(p), "%s", prefix);
    long long b = (long long)i;
    int64_t P = di / nh, W = R + 2 * N;
    float* w = get(c, hf(c, "%s.in_proj.weight", p), 2, 2 * di, D, 1);
    float* xz = w ? calloc((size_t)(2 * di * D), sizeof(float)) : NULL;
    if (w && !xz) fail(c, ERR_NOMEM, "out of memory");
    for (int64_t ch = 0; xz && ch < di; ch++) { // HF: view(B, di, 2, L): row 2c -> x, 2c+1 -> z
        memcpy(xz + ch * D, w + 2 * ch * D, (size_t)D * sizeof(float));
        memcpy(xz + (di + ch) * D, w + (2 * ch + 1) * D, (size_t)D * sizeof(float));
    }
    free(w);
    put(c, gg(c, "blk.%lld.ssm_in.weight", b), xz, 2, D, 2 * di, 1);
    copy_conv(c, hf(c, "%s.conv1d.weight", p), gg(c, "blk.%lld.ssm_conv1d.weight", b), di, K);
    copy(c, hf(c, "%s.conv1d.bias", p), gg(c, "blk.%lld.ssm_conv1d.bias", b), 1, di, 1, 1);
    float* xp = get(c, hf(c, "%s.x_proj_weight", p), 3, nh, W, P);
    float* xd = xp ? calloc((size_t)(nh * W * di), sizeof(float)) : NULL;
    if (xp && !xd) fail(c, ERR_NOMEM, "out of memory");
    for (int64_t h = 0; xd && h < nh; h++)
        for (int64_t k = 0; k < W; k++) {
            int64_t row = k < R       ? h * R + k
                          : k < R + N ? nh * R + h * N + (k - R)
                                      : nh * (R + N) + h * N + (k - R - N);
            memcpy(xd + row * di + h * P, xp + (h * W + k) * P, (size_t)P * sizeof(float));
        }
    free(xp);
    put(c, gg(c, "blk.%lld.ssm_x.weight", b), xd, 2, di, nh * W, 1);
    float* dp = get(c, hf(c, "%s.dt_proj_weight", p), 3, nh, P, R);
    float* dd = dp ? calloc((size_t)(di * nh * R), sizeof(float)) : NULL;
    if (dp && !dd) fail(c, ERR_NOMEM, "out of memory");
    for (int64_t ch = 0; dd && ch < di; ch++)
        memcpy(dd + ch * nh * R + (ch / P) * R, dp + ch * R, (size_t)R * sizeof(float));
    free(dp);
    put(c, gg(c, "blk.%lld.ssm_dt.weight", b), dd, 2, nh * R, di, 1);
    put(c, gg(c, "blk.%lld.ssm_dt.bias", b), get(c, hf(c, "%s.dt_proj_bias", p), 2, nh, P, 1), 1,
        di, 1, 1);
    put(c, gg(c, "blk.%lld.ssm_a_log", b), get(c, hf(c, "%s.A_log", p), 3, nh, P, N), 2, N, di, 1);
    put(c, gg(c, "blk.%lld.ssm_d", b), get(c, hf(c, "%s.D", p), 2, nh, P, 1), 1, di, 1, 1);
    copy(c, hf(c, "%s.out_proj.weight", p), gg(c, "blk.%lld.ssm_out.weight", b), 2, D, di, 1);
    return c->rc;
}

static int conv_zamba(struct Conv* c) {
    int64_t D = cfg_int(c, "hidden_size", 0, 1, 1, 1 << 20);
    int64_t L = cfg_int(c, "num_hidden_layers", 0, 1, 1, 4096);
    int64_t Ha = cfg_int(c, "num_attention_heads", 0, 1, 1, 4096);
    int64_t Hkv = cfg_int(c, "num_key_value_heads", Ha, 0, 1, 4096);
    int64_t F = cfg_int(c, "intermediate_size", 4 * D, 0, 1, 1 << 24);
    int64_t hd = cfg_int(c, "attention_head_dim", Ha ? 2 * D / Ha : 0, 0, 1, 1 << 16);
    int64_t N = cfg_int(c, "mamba_d_state", 16, 0, 1, 1 << 16);
    int64_t K = cfg_int(c, "mamba_d_conv", 4, 0, 1, 1024);
    int64_t ex = cfg_int(c, "mamba_expand", 2, 0, 1, 64);
    int64_t R = cfg_int(c, "mamba_dt_rank", (D + 15) / 16, 0, 1, 1 << 16);
    int64_t nh = cfg_int(c, "n_mamba_heads", 2, 0, 1, 1 << 16);
    int cb = cfg_bool(c, "mamba_conv_bias", 1);
    double eps = cfg_float(c, "rms_norm_eps", 1e-5, 0);
    int tied = cfg_bool(c, "tie_word_embeddings", 1);
    int64_t V = c->n_vocab, di = ex * D;
    if (c->rc) return c->rc;
    if (!cb || cfg_bool(c, "mamba_proj_bias", 0))
        return fail(c, ERR_UNSUPPORTED,
                    "config.json: mamba_conv_bias false or mamba_proj_bias "
                    "true is not supported");
    static const char* const ACT[2][2] = {{"hidden_act", "gelu"}, {"hidden_mamba_act", "silu"}};
    for (int k = 0; k < 2; k++) {
        const cJSON* a = cfg_item(c, ACT[k][0]);
        if (a && !(cJSON_IsString(a) && !strcmp(a->valuestring, ACT[k][1])))
            return fail(c, ERR_UNSUPPORTED, "config.json: %s must be \"%s\"", ACT[k][0], ACT[k][1]);
    }
    if (di % nh || Ha % Hkv)
        return fail(c, ERR_SHAPE,
                    "config.json: d_inner %lld / n_mamba_heads %lld or heads %lld / "
                    "KV heads %lld do not divide",
                    (long long)di, (long long)nh, (long long)Ha, (long long)Hkv);
    int* hybrid = calloc((size_t)L, sizeof(int));
    int32_t* kv = calloc((size_t)L, sizeof(int32_t));
    if (!hybrid || !kv) {
        free(hybrid);
        free(kv);
        return fail(c, ERR_NOMEM, "out of memory");
    }
    if (cfg_item(c, "layers_block_type") || cfg_item(c, "layer_types")) {
        if (zamba_layer_types(c, L, hybrid)) goto done;
    } else { // HF ZambaConfig: mamba, mamba, hybrid, then hybrid where i % period == offset
        int64_t per = cfg_int(c, "attn_layer_period", 6, 0, 1, 4096);
        int64_t off = cfg_int(c, "attn_layer_offset", 4, 0, 0, 4096);
        for (int64_t i = 0; i < L; i++)
            hybrid[i] = i == 2 || (i >= 3 && (i - 3) % per == off);
    }
    int64_t n_hybrid = 0;
    for (int64_t i = 0; i < L; i++) {
        kv[i] = hybrid[i] ? (int32_t)Hkv : 0;
        n_hybrid += hybrid[i];
    }
    if (n_hybrid < 1) {
        fail(c, ERR_FORMAT, "config.json: no hybrid layer");
        goto done;
    }
    kv_u32(c, "block_count", L);
    kv_u32(c, "context_length", cfg_int(c, "max_position_embeddings", 4096, 0, 0, UINT32_MAX));
    kv_u32(c, "embedding_length", D);
    kv_u32(c, "feed_forward_length", F);
    kv_u32(c, "attention.head_count", Ha);
    kv_i32_arr(c, "attention.head_count_kv", kv, L);
    kv_u32(c, "attention.key_length", hd);
    kv_u32(c, "attention.value_length", hd);
    kv_f64(c, "attention.layer_norm_rms_epsilon", eps);
    kv_u32(c, "ssm.conv_kernel", K);
    kv_u32(c, "ssm.inner_size", di);
    kv_u32(c, "ssm.state_size", N);
    kv_u32(c, "ssm.time_step_rank", R);
    kv_u32(c, "ssm.group_count", nh);
    kv_u32(c, "vocab_size", V);
    copy(c, "model.embed_tokens.weight", "token_embd.weight", 2, V, D, 1);
    for (int64_t i = 0; i < L && !c->rc; i++) {
        long long b = (long long)i;
        char p[160];
        const char* in = hybrid[i] ? "mamba_decoder." : "";
        copy(c, hf(c, "model.layers.%lld.%sinput_layernorm.weight", b, in),
             gg(c, "blk.%lld.attn_norm.weight", b), 1, D, 1, 1);
        snprintf(p, sizeof(p), "model.layers.%lld.%smamba", b, in);
        zamba_mixer(c, p, i, D, di, N, R, nh, K);
        if (hybrid[i])
            copy(c, hf(c, "model.layers.%lld.linear.weight", b),
                 gg(c, "blk.%lld.shared_proj.weight", b), 2, D, D, 1);
    }
    // The block is meant to be tied, but a checkpoint may hold different values under each
    // hybrid layer, and transformers then runs each layer's own (the hf/zamba test model does):
    // one block per hybrid layer unless every copy equals the first.
    static const char* const SHT[9][2] = {{"input_layernorm.weight", "attn_norm.weight"},
                                          {"self_attn.q_proj.weight", "attn_q.weight"},
                                          {"self_attn.k_proj.weight", "attn_k.weight"},
                                          {"self_attn.v_proj.weight", "attn_v.weight"},
                                          {"self_attn.o_proj.weight", "attn_output.weight"},
                                          {"pre_ff_layernorm.weight", "ffn_norm.weight"},
                                          {"feed_forward.gate_proj.weight", "ffn_gate.weight"},
                                          {"feed_forward.up_proj.weight", "ffn_up.weight"},
                                          {"feed_forward.down_proj.weight", "ffn_down.weight"}};
    const int64_t SHD[9][2] = {{2 * D, 0},
                               {Ha * hd, 2 * D},
                               {Hkv * hd, 2 * D},
                               {Hkv * hd, 2 * D},
                               {D, Ha * hd},
                               {D, 0},
                               {F, D},
                               {F, D},
                               {D, F}};
    int64_t nb = 1;
    for (int m = 0; m < 9 && nb == 1 && !c->rc; m++) {
        char suffix[128];
        snprintf(suffix, sizeof(suffix), "shared_transf.%s", SHT[m][0]);
        int64_t first = zamba_find_shared(c, hybrid, L, 1, 0, suffix);
        if (first < 0) break; // reported when the block is written
        int nd = SHD[m][1] ? 2 : 1;
        float* a = get(c, hf(c, "model.layers.%lld.%s", (long long)first, suffix), nd, SHD[m][0],
                       nd == 2 ? SHD[m][1] : 1, 1);
        int64_t count = SHD[m][0] * (nd == 2 ? SHD[m][1] : 1);
        for (int64_t i = first + 1; a && i < L && nb == 1; i++) {
            if (!hybrid[i] || !find(c, hf(c, "model.layers.%lld.%s", (long long)i, suffix)))
                continue;
            float* o = get(c, c->name, nd, SHD[m][0], nd == 2 ? SHD[m][1] : 1, 1);
            if (o && memcmp(a, o, (size_t)count * sizeof(float))) nb = n_hybrid;
            free(o);
        }
        free(a);
    }
    kv_u32(c, "shared_block_count", nb);
    for (int64_t bb = 0, j = 0, i = 0; i < L && bb < nb && !c->rc; i++) {
        if (!hybrid[i] || j++ != bb) continue;
        for (int m = 0; m < 9 && !c->rc; m++) {
            char suffix[128], g[96];
            snprintf(suffix, sizeof(suffix), "shared_transf.%s", SHT[m][0]);
            snprintf(g, sizeof(g), "shared.%lld.%s", (long long)bb, SHT[m][1]);
            int nd = SHD[m][1] ? 2 : 1;
            if (nb > 1 && find(c, hf(c, "model.layers.%lld.%s", (long long)i, suffix)))
                copy(c, c->name, g, nd, SHD[m][0], nd == 2 ? SHD[m][1] : 1, 1);
            else
                zamba_shared(c, hybrid, L, 1, 0, suffix, g, nd, SHD[m][0], nd == 2 ? SHD[m][1] : 1);
        }
        bb++;
    }
    copy(c, "model.final_layernorm.weight", "output_norm.weight", 1, D, 1, 1);
    put_output(c, "lm_head.weight", tied, V, D);
done:
    free(hybrid);
    free(kv);
    return c->rc;
}

// ---------------------------------------------------------------------------------------
// vocabulary

static void placeholder_vocab(struct Conv* c) {
    int64_t V = c->n_vocab;
    char** toks = calloc((size_t)V, sizeof(char*));
    int32_t* types = malloc((size_t)V * sizeof(int32_t));
    float* scores = calloc((size_t)V, sizeof(float));
    char* text = malloc((size_t)V * 32);
    if (!toks || !types || !scores || !text) {
        fail(c, ERR_NOMEM, "out of memory");
    } else {
        for (int64_t i = 0; i < V; i++) {
            toks[i] = text + i * 32;
            snprintf(toks[i], 32, "tok_%lld", (long long)i);
            types[i] = 1;
        }
        gguf_writer_set_str(&c->w, "tokenizer.ggml.model", "test");
        gguf_writer_set_arr_str(&c->w, "tokenizer.ggml.tokens", (const char* const*)toks, NULL,
                                (uint64_t)V);
        gguf_writer_set_arr(&c->w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types,
                            (uint64_t)V);
        gguf_writer_set_arr(&c->w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (uint64_t)V);
    }
    free(toks);
    free(types);
    free(scores);
    free(text);
}

// A token's id in the vocabulary of tokenizer.json (model.vocab or added_tokens), -1 if none.
static int64_t tok_lookup(char** toks, int64_t n, const char* s) {
    for (int64_t i = 0; i < n; i++)
        if (toks[i] && !strcmp(toks[i], s)) return i;
    return -1;
}

// A sorted index over the token strings, for the merge scores (bsearch, not O(V) per merge).
struct TokIdx {
    const char* s;
    int64_t id;
};

static int cmp_tokidx(const void* a, const void* b) {
    return strcmp(((const struct TokIdx*)a)->s, ((const struct TokIdx*)b)->s);
}

static int64_t tokidx_find(const struct TokIdx* idx, int64_t n, const char* s) {
    struct TokIdx key = {.s = s};
    const struct TokIdx* r = bsearch(&key, idx, (size_t)n, sizeof(key), cmp_tokidx);
    return r ? r->id : -1;
}

// bos/eos/unk/pad from tokenizer_config.json ("bos_token": "<s>" or {"content": "<s>"}).
static int64_t special_from_tc(const cJSON* tc, const char* key, char** toks, int64_t n) {
    const cJSON* j = tc ? cJSON_GetObjectItemCaseSensitive(tc, key) : NULL;
    if (cJSON_IsObject(j)) j = cJSON_GetObjectItemCaseSensitive(j, "content");
    return cJSON_IsString(j) ? tok_lookup(toks, n, j->valuestring) : -1;
}

static int byte_token(const char* s) {
    return strlen(s) == 6 && !strncmp(s, "<0x", 3) && s[5] == '>';
}

// The tokenizer.json's pre-tokenizer as a tokenizer.ggml.pre name: llama-3's split regex ->
// "llama-bpe", a plain ByteLevel -> "gpt-2", else "default".
static const char* guess_pre(const cJSON* tj) {
    const cJSON* pt = cJSON_GetObjectItemCaseSensitive(tj, "pre_tokenizer");
    char* s = pt ? cJSON_PrintUnformatted(pt) : NULL;
    const char* pre = "default";
    if (s && strstr(s, "\\\\p{N}{1,3}"))
        pre = "llama-bpe";
    else if (s && strstr(s, "\"ByteLevel\"") && !strstr(s, "\"Split\""))
        pre = "gpt-2";
    free(s);
    return pre;
}

static void import_tokenizer(struct Conv* c, cJSON* tj) {
    const cJSON* model = cJSON_GetObjectItemCaseSensitive(tj, "model");
    const cJSON* mtype = model ? cJSON_GetObjectItemCaseSensitive(model, "type") : NULL;
    const cJSON* vocab = model ? cJSON_GetObjectItemCaseSensitive(model, "vocab") : NULL;
    if (!cJSON_IsString(mtype) || !vocab) {
        fail(c, ERR_FORMAT, "tokenizer.json: model.type or model.vocab is missing");
        return;
    }
    int unigram = !strcmp(mtype->valuestring, "Unigram");
    if (!unigram && strcmp(mtype->valuestring, "BPE")) {
        fail(c, ERR_UNSUPPORTED, "tokenizer.json: model type '%.40s' is not supported",
             mtype->valuestring);
        return;
    }
    int64_t V = c->n_vocab, n = V;
    // every id the tokenizer uses must have an embedding row
    const cJSON* added = cJSON_GetObjectItemCaseSensitive(tj, "added_tokens");
    char** toks = calloc((size_t)V, sizeof(char*));
    float* scores = calloc((size_t)V, sizeof(float));
    int32_t* types = calloc((size_t)V, sizeof(int32_t));
    char** pads = calloc((size_t)V, sizeof(char*));
    if (!toks || !scores || !types || !pads) {
        fail(c, ERR_NOMEM, "out of memory");
        goto done;
    }
    int spm = unigram;
    if (unigram) {
        if (!cJSON_IsArray(vocab)) {
            fail(c, ERR_FORMAT, "tokenizer.json: Unigram vocab is not a list");
            goto done;
        }
        int64_t id = 0;
        for (const cJSON* it = vocab->child; it; it = it->next, id++) {
            const cJSON* s = cJSON_GetArrayItem(it, 0);
            const cJSON* sc = cJSON_GetArrayItem(it, 1);
            if (!cJSON_IsString(s) || !cJSON_IsNumber(sc)) {
                fail(c, ERR_FORMAT, "tokenizer.json: vocab entry %lld is not [piece, score]",
                     (long long)id);
                goto done;
            }
            if (id >= V) {
                fail(c, ERR_SHAPE, "tokenizer.json: %d tokens but vocab_size is %lld",
                     cJSON_GetArraySize(vocab), (long long)V);
                goto done;
            }
            toks[id] = s->valuestring;
            scores[id] = (float)sc->valuedouble;
            types[id] = byte_token(s->valuestring) ? 6 : 1;
        }
        const cJSON* unk = cJSON_GetObjectItemCaseSensitive(model, "unk_id");
        if (cJSON_IsNumber(unk) && unk->valuedouble >= 0 && unk->valuedouble < (double)V) {
            types[(int64_t)unk->valuedouble] = 2;
            gguf_writer_set_u32(&c->w, "tokenizer.ggml.unknown_token_id",
                                (uint32_t)unk->valuedouble);
        }
    } else {
        if (!cJSON_IsObject(vocab)) {
            fail(c, ERR_FORMAT, "tokenizer.json: BPE vocab is not an object");
            goto done;
        }
        for (const cJSON* it = vocab->child; it; it = it->next) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 ||
                it->valuedouble != floor(it->valuedouble)) {
                fail(c, ERR_FORMAT, "tokenizer.json: vocab id of a token is not an integer");
                goto done;
            }
            if (it->valuedouble >= (double)V) {
                fail(c, ERR_SHAPE, "tokenizer.json: token id %.0f >= vocab_size %lld",
                     it->valuedouble, (long long)V);
                goto done;
            }
            int64_t id = (int64_t)it->valuedouble;
            toks[id] = it->string;
            types[id] = byte_token(it->string) ? 6 : 1;
            if (strstr(it->string, "\xe2\x96\x81")) spm = 1; // U+2581, SentencePiece's space
        }
        const cJSON* bf = cJSON_GetObjectItemCaseSensitive(model, "byte_fallback");
        if (cJSON_IsTrue(bf)) spm = 1;
    }
    for (const cJSON* it = added ? added->child : NULL; it; it = it->next) {
        const cJSON* id = cJSON_GetObjectItemCaseSensitive(it, "id");
        const cJSON* s = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(s) || id->valuedouble < 0) continue;
        if (id->valuedouble >= (double)V) {
            fail(c, ERR_SHAPE, "tokenizer.json: added token id %.0f >= vocab_size %lld",
                 id->valuedouble, (long long)V);
            goto done;
        }
        int64_t k = (int64_t)id->valuedouble;
        toks[k] = s->valuestring;
        types[k] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "special")) ? 3 : 4;
    }
    // BPE merges: tokenizers writes "a b" strings (older) or ["a", "b"] pairs (newer)
    const cJSON* merges = model ? cJSON_GetObjectItemCaseSensitive(model, "merges") : NULL;
    int64_t n_merges = cJSON_IsArray(merges) ? cJSON_GetArraySize(merges) : 0;
    char** mstr = n_merges ? calloc((size_t)n_merges, sizeof(char*)) : NULL;
    if (n_merges && !mstr) {
        fail(c, ERR_NOMEM, "out of memory");
        goto done;
    }
    struct TokIdx* tidx = NULL;
    int64_t n_tidx = 0;
    if (spm && !unigram && n_merges) {
        tidx = malloc((size_t)V * sizeof(*tidx));
        if (!tidx) {
            free(mstr);
            fail(c, ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int64_t i = 0; i < V; i++)
            if (toks[i]) tidx[n_tidx++] = (struct TokIdx){toks[i], i};
        qsort(tidx, (size_t)n_tidx, sizeof(*tidx), cmp_tokidx);
    }
    int64_t m = 0;
    for (const cJSON* it = n_merges ? merges->child : NULL; it; it = it->next, m++) {
        if (cJSON_IsString(it)) {
            mstr[m] = strdup(it->valuestring);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) &&
                   cJSON_IsString(it->child->next)) {
            size_t la = strlen(it->child->valuestring), lb = strlen(it->child->next->valuestring);
            mstr[m] = malloc(la + lb + 2);
            if (mstr[m]) {
                memcpy(mstr[m], it->child->valuestring, la);
                mstr[m][la] = ' ';
                memcpy(mstr[m] + la + 1, it->child->next->valuestring, lb + 1);
            }
        } else {
            fail(c, ERR_FORMAT, "tokenizer.json: merge %lld is neither \"a b\" nor [a, b]",
                 (long long)m);
            break;
        }
        if (!mstr[m]) fail(c, ERR_NOMEM, "out of memory");
        // SentencePiece-style BPE: a merged token's score ranks its merge (earlier = higher)
        if (!c->rc && spm && !unigram) {
            char* sp = strchr(mstr[m], ' ');
            if (sp) {
                *sp = 0;
                size_t la = strlen(mstr[m]);
                char* cat = malloc(la + strlen(sp + 1) + 1);
                if (cat) {
                    memcpy(cat, mstr[m], la);
                    strcpy(cat + la, sp + 1);
                    int64_t t = tokidx_find(tidx, n_tidx, cat);
                    if (t >= 0 && scores[t] == 0) scores[t] = -(float)(m + 1);
                    free(cat);
                }
                *sp = ' ';
            }
        }
    }
    free(tidx);
    for (int64_t i = 0; i < n && !c->rc; i++) {
        if (toks[i]) continue;
        pads[i] = malloc(32);
        if (!pads[i]) {
            fail(c, ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(pads[i], 32, "[PAD%lld]", (long long)i);
        toks[i] = pads[i];
        types[i] = 5; // UNUSED
    }
    if (!c->rc) {
        gguf_writer_set_str(&c->w, "tokenizer.ggml.model", spm ? "llama" : "gpt2");
        if (!spm) gguf_writer_set_str(&c->w, "tokenizer.ggml.pre", guess_pre(tj));
        gguf_writer_set_arr_str(&c->w, "tokenizer.ggml.tokens", (const char* const*)toks, NULL,
                                (uint64_t)n);
        if (spm)
            gguf_writer_set_arr(&c->w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores,
                                (uint64_t)n);
        gguf_writer_set_arr(&c->w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types,
                            (uint64_t)n);
        if (!spm && n_merges)
            gguf_writer_set_arr_str(&c->w, "tokenizer.ggml.merges", (const char* const*)mstr, NULL,
                                    (uint64_t)n_merges);
        logf_(c, "tokenizer.json: %s vocabulary of %lld tokens, %lld merges",
              spm ? "SentencePiece-style (llama)" : "byte-level BPE (gpt2)", (long long)n,
              (long long)n_merges);
        // bos/eos/unk from tokenizer_config.json, when it names them
        cJSON* tc = read_json(c, "tokenizer_config.json", 0);
        static const char* const SP[3][2] = {{"bos_token", "tokenizer.ggml.bos_token_id"},
                                             {"eos_token", "tokenizer.ggml.eos_token_id"},
                                             {"pad_token", "tokenizer.ggml.padding_token_id"}};
        for (int k = 0; k < 3; k++) {
            int64_t id = special_from_tc(tc, SP[k][0], toks, n);
            if (id < 0)
                id = cfg_token_id(c, k == 0   ? "bos_token_id"
                                     : k == 1 ? "eos_token_id"
                                              : "pad_token_id");
            if (id >= 0) gguf_writer_set_u32(&c->w, SP[k][1], (uint32_t)id);
        }
        const cJSON* ab = tc ? cJSON_GetObjectItemCaseSensitive(tc, "add_bos_token") : NULL;
        if (cJSON_IsBool(ab))
            gguf_writer_set_bool(&c->w, "tokenizer.ggml.add_bos_token", cJSON_IsTrue(ab));
        const cJSON* ae = tc ? cJSON_GetObjectItemCaseSensitive(tc, "add_eos_token") : NULL;
        if (cJSON_IsBool(ae))
            gguf_writer_set_bool(&c->w, "tokenizer.ggml.add_eos_token", cJSON_IsTrue(ae));
        cJSON_Delete(tc);
    }
    for (int64_t i = 0; i < n_merges; i++)
        free(mstr[i]);
    free(mstr);
done:
    for (int64_t i = 0; pads && i < V; i++)
        free(pads[i]);
    free(pads);
    free(toks);
    free(scores);
    free(types);
}

static void write_vocab(struct Conv* c) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/tokenizer.json", c->dir);
    if (stat(path, &st) == 0) {
        cJSON* tj = read_json(c, "tokenizer.json", 1);
        if (tj) import_tokenizer(c, tj);
        cJSON_Delete(tj);
        return;
    }
    logf_(c, "no tokenizer.json: placeholder vocabulary tok_0..tok_%lld",
          (long long)c->n_vocab - 1);
    placeholder_vocab(c);
    static const char* const SP[3][2] = {{"bos_token_id", "tokenizer.ggml.bos_token_id"},
                                         {"eos_token_id", "tokenizer.ggml.eos_token_id"},
                                         {"pad_token_id", "tokenizer.ggml.padding_token_id"}};
    for (int k = 0; k < 3; k++) {
        int64_t id = cfg_token_id(c, SP[k][0]);
        if (id >= 0 && id < c->n_vocab) gguf_writer_set_u32(&c->w, SP[k][1], (uint32_t)id);
    }
}

// ---------------------------------------------------------------------------------------
// driver

static const struct {
    const char* model_type;
    const char* arch;
} ARCHS[] = {
    {"llama", "llama"},   {"mistral", "llama"}, {"jamba", "jamba"},
    {"mamba", "mamba"},   {"mamba2", "mamba2"}, {"recurrent_gemma", "recurrentgemma"},
    {"zamba2", "zamba2"}, {"zamba", "zamba"},
};

const char* convert_arch_for(const char* model_type) {
    for (size_t i = 0; i < sizeof(ARCHS) / sizeof(ARCHS[0]); i++)
        if (model_type && !strcmp(model_type, ARCHS[i].model_type)) return ARCHS[i].arch;
    return NULL;
}

static int file_type_of(enum GgmlType t) {
    switch (t) {
    case GGML_TYPE_F32: return 0;
    case GGML_TYPE_F16: return 1;
    case GGML_TYPE_Q4_0: return 2;
    case GGML_TYPE_Q8_0: return 7;
    case GGML_TYPE_BF16: return 32;
    default: return -1;
    }
}

int convert_hf(const char* dir, const char* out_path, const struct ConvertOptions* o,
               struct Err* e) {
    struct Conv cv = {.dir = dir, .o = o, .e = e, .type = o ? o->type : GGML_TYPE_F32};
    struct Conv* c = &cv;
    if (file_type_of(c->type) < 0)
        return err_set(e, ERR_ARG,
                       "convert: output type %s is not one of f32, f16, bf16, q8_0, "
                       "q4_0",
                       quant_type_name(c->type));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, ERR_IO, "convert: %s is not a directory", dir);
    if (gguf_writer_init(&c->w)) return err_set(e, ERR_NOMEM, "convert: out of memory");
    c->cfg = read_json(c, "config.json", 1);
    const cJSON* mt = c->cfg ? cfg_item(c, "model_type") : NULL;
    const char* model_type = cJSON_IsString(mt) ? mt->valuestring : NULL;
    if (c->cfg && !model_type) fail(c, ERR_FORMAT, "config.json: model_type is missing");
    if (!c->rc && !(c->arch = convert_arch_for(model_type)))
        fail(c, ERR_UNSUPPORTED,
             "config.json: model_type '%.60s' is not supported (llama, "
             "mistral, jamba, mamba, mamba2, recurrent_gemma, zamba2, zamba)",
             model_type);
    if (!c->rc) {
        struct Err se = {0};
        if (safetensors_dir_open(&c->st, dir, &se)) fail(c, se.code, "%s", se.msg);
    }
    if (!c->rc) c->n_vocab = cfg_int(c, "vocab_size", 0, 1, 1, INT32_MAX);
    if (!c->rc) {
        logf_(c, "%s: model_type %s -> GGUF arch %s, %lld tensors in the checkpoint, output %s",
              dir, model_type, c->arch, (long long)c->st.n_tensors, quant_type_name(c->type));
        gguf_writer_set_str(&c->w, "general.architecture", c->arch);
        const char* name = o && o->name ? o->name : NULL;
        char base[256];
        if (!name) {
            const char* s = dir + strlen(dir);
            while (s > dir && s[-1] == '/')
                s--;
            const char* b = s;
            while (b > dir && b[-1] != '/')
                b--;
            snprintf(base, sizeof(base), "%.*s", (int)(s - b), b);
            name = base;
        }
        gguf_writer_set_str(&c->w, "general.name", name);
        if (!strcmp(model_type, "llama"))
            conv_llama(c, 0);
        else if (!strcmp(model_type, "mistral"))
            conv_llama(c, 1);
        else if (!strcmp(model_type, "jamba"))
            conv_jamba(c);
        else if (!strcmp(model_type, "mamba"))
            conv_mamba(c);
        else if (!strcmp(model_type, "mamba2"))
            conv_mamba2(c);
        else if (!strcmp(model_type, "recurrent_gemma"))
            conv_recurrentgemma(c);
        else if (!strcmp(model_type, "zamba2"))
            conv_zamba2(c);
        else
            conv_zamba(c);
    }
    if (!c->rc) {
        gguf_writer_set_u32(&c->w, "general.file_type", (uint32_t)file_type_of(c->type));
        if (c->type != GGML_TYPE_F32) gguf_writer_set_u32(&c->w, "general.quantization_version", 2);
        write_vocab(c);
    }
    if (!c->rc && c->n_kept_f32)
        logf_(c,
              "note: %d tensors stay F32 (1-D, norms, biases, SSM A/D/conv, router, or rows "
              "not a multiple of the %s block): %s%s",
              c->n_kept_f32, quant_type_name(c->type), c->kept_names,
              c->n_kept_f32 > 6 ? ", ..." : "");
    if (!c->rc && c->w.failed)
        fail(c, c->w.err.code ? c->w.err.code : ERR_FORMAT, "%s", c->w.err.msg);
    if (!c->rc) {
        struct Err we = {0};
        if (gguf_writer_write_file(&c->w, out_path, &we))
            fail(c, we.code, "%s", we.msg);
        else
            logf_(c, "wrote %s: %d tensors", out_path, c->n_tensors);
    }
    gguf_writer_free(&c->w);
    for (int i = 0; i < c->n_bufs; i++)
        free(c->bufs[i]);
    free(c->bufs);
    safetensors_free(&c->st);
    cJSON_Delete(c->cfg);
    return c->rc;
}
