// hf_common.c: the helpers every HF converter uses (see hf_common.h): messages, config.json
// readers, key writers, and the tensor path: look up with a shape check, convert to float32,
// transform, hand to the GGUF writer in the chosen type (or F32 where llama.cpp keeps it).
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hf_common.h"

// ---------------------------------------------------------------------------------------
// messages and names

void hf_log(struct Conv* c, const char* fmt, ...) {
    if (!c->o || !c->o->log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->o->log(c->o->log_ctx, line);
}

// Records the first error (later ones would only repeat its consequences).
int hf_fail(struct Conv* c, int code, const char* fmt, ...) {
    if (c->rc) return c->rc;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->rc = err_set(c->e, code, "convert: %s", msg);
    return c->rc;
}

const char* hf_name(struct Conv* c, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->name, sizeof(c->name), fmt, ap);
    va_end(ap);
    return c->name;
}

const char* hf_gname(struct Conv* c, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->gname, sizeof(c->gname), fmt, ap);
    va_end(ap);
    return c->gname;
}

// ---------------------------------------------------------------------------------------
// config.json

const cJSON* hf_cfg_item(struct Conv* c, const char* key) {
    return cJSON_GetObjectItemCaseSensitive(c->cfg, key);
}

// A number, also transformers' {"__float__": "Infinity"} spelling. 0, or ERR_NOT_FOUND when
// absent or null, ERR_TYPE (recorded) when of another kind.
int hf_json_num(struct Conv* c, const cJSON* j, const char* key, double* out) {
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
            return hf_fail(c, ERR_TYPE, "config.json: %s has __float__ '%.40s'", key, s);
        return 0;
    }
    return hf_fail(c, ERR_TYPE, "config.json: %s is not a number", key);
}

static int cfg_num(struct Conv* c, const char* key, double* out) {
    return hf_json_num(c, hf_cfg_item(c, key), key, out);
}

// An integer key in [lo, hi]; def when absent (required: an error instead).
int64_t hf_cfg_int(struct Conv* c, const char* key, int64_t def, int required, int64_t lo,
                   int64_t hi) {
    double v;
    int rc = cfg_num(c, key, &v);
    if (rc == ERR_NOT_FOUND) {
        if (required) hf_fail(c, ERR_NOT_FOUND, "config.json: %s is missing", key);
        return def;
    }
    if (rc) return def;
    if (v != floor(v) || v < (double)lo || v > (double)hi) {
        hf_fail(c, ERR_RANGE, "config.json: %s = %g is out of range [%lld, %lld]", key, v,
                (long long)lo, (long long)hi);
        return def;
    }
    return (int64_t)v;
}

double hf_cfg_float(struct Conv* c, const char* key, double def, int required) {
    double v;
    int rc = cfg_num(c, key, &v);
    if (rc == ERR_NOT_FOUND) {
        if (required) hf_fail(c, ERR_NOT_FOUND, "config.json: %s is missing", key);
        return def;
    }
    return rc ? def : v;
}

int hf_cfg_bool(struct Conv* c, const char* key, int def) {
    const cJSON* j = hf_cfg_item(c, key);
    if (!j || cJSON_IsNull(j)) return def;
    if (!cJSON_IsBool(j)) {
        hf_fail(c, ERR_TYPE, "config.json: %s is not true/false", key);
        return def;
    }
    return cJSON_IsTrue(j);
}

// rope_theta, from rope_parameters (transformers 5) or the top level (older configs).
double hf_cfg_rope_theta(struct Conv* c, double def) {
    const cJSON* rp = hf_cfg_item(c, "rope_parameters");
    double v;
    if (cJSON_IsObject(rp) && hf_json_num(c, cJSON_GetObjectItemCaseSensitive(rp, "rope_theta"),
                                          "rope_parameters.rope_theta", &v) == 0)
        return v;
    return hf_cfg_float(c, "rope_theta", def, 0);
}

// A token id key (int, or the first of a list as some configs write eos_token_id).
int64_t hf_cfg_token_id(struct Conv* c, const char* key) {
    const cJSON* j = hf_cfg_item(c, key);
    if (cJSON_IsArray(j)) j = j->child;
    if (cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble < 2147483648.0 &&
        j->valuedouble == floor(j->valuedouble))
        return (int64_t)j->valuedouble;
    return -1;
}

cJSON* hf_read_json(struct Conv* c, const char* file, int required) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", c->dir, file);
    FILE* f = fopen(path, "rb");
    if (!f) {
        if (required) hf_fail(c, ERR_IO, "cannot open %s: %s", path, strerror(errno));
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
                hf_fail(c, ERR_NOMEM, "out of memory reading %s", path);
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
        hf_fail(c, ERR_FORMAT, "%s is malformed JSON (not an object)", path);
        return NULL;
    }
    return j;
}

// ---------------------------------------------------------------------------------------
// keys

const char* hf_akey(struct Conv* c, const char* k) {
    snprintf(c->gname, sizeof(c->gname), "%s.%s", c->arch, k);
    return c->gname;
}

void hf_kv_u32(struct Conv* c, const char* k, int64_t v) {
    if (v < 0 || v > UINT32_MAX) {
        hf_fail(c, ERR_RANGE, "%s.%s = %lld does not fit u32", c->arch, k, (long long)v);
        return;
    }
    gguf_writer_set_u32(&c->w, hf_akey(c, k), (uint32_t)v);
}

void hf_kv_f32(struct Conv* c, const char* k, double v) {
    gguf_writer_set_f32(&c->w, hf_akey(c, k), (float)v);
}

// Our own layouts (zamba2, zamba) keep a config float as the double transformers uses: an
// f32 rms_norm_eps of 1e-5 moves FP64 logits by ~1e-10.
void hf_kv_f64(struct Conv* c, const char* k, double v) {
    gguf_writer_set_f64(&c->w, hf_akey(c, k), v);
}

void hf_kv_i32_arr(struct Conv* c, const char* k, const int32_t* v, int64_t n) {
    gguf_writer_set_arr(&c->w, hf_akey(c, k), GGUF_TYPE_INT32, v, (uint64_t)n);
}

// ---------------------------------------------------------------------------------------
// tensors

static int keep(struct Conv* c, void* p) {
    if (c->n_bufs == c->cap_bufs) {
        int cap = c->cap_bufs ? c->cap_bufs * 2 : 64;
        void** nb = realloc(c->bufs, (size_t)cap * sizeof(*nb));
        if (!nb) return hf_fail(c, ERR_NOMEM, "out of memory");
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

const struct SafetensorsTensor* hf_find(struct Conv* c, const char* name) {
    return safetensors_find(&c->st, name);
}

// The HF tensor `name` as a malloc'ed float32 copy after checking its shape (HF order,
// nd dims d0, d1, d2). NULL (error recorded) when absent, misshapen or not a float type.
float* hf_get(struct Conv* c, const char* name, int nd, int64_t d0, int64_t d1, int64_t d2) {
    if (c->rc) return NULL;
    const struct SafetensorsTensor* t = hf_find(c, name);
    if (!t) {
        hf_fail(c, ERR_NOT_FOUND, "tensor %s is missing from the checkpoint", name);
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
        hf_fail(c, ERR_SHAPE, "tensor %s has shape %s, expected %s", name, a, b);
        return NULL;
    }
    float* f = malloc((size_t)(t->n_elements ? t->n_elements : 1) * sizeof(float));
    if (!f) {
        hf_fail(c, ERR_NOMEM, "out of memory for %s", name);
        return NULL;
    }
    struct Err e2 = {0};
    if (safetensors_to_f32(t, f, &e2)) {
        free(f);
        hf_fail(c, ERR_TYPE, "tensor %s has dtype %s (need F32, F16, BF16 or F64)", name,
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
int hf_put(struct Conv* c, const char* gname, float* data, int nd, int64_t ne0, int64_t ne1,
           int64_t ne2) {
    if (!data || c->rc) {
        free(data);
        return c->rc ? c->rc : hf_fail(c, ERR_NOMEM, "no data for %s", gname);
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
            return hf_fail(c, ERR_NOMEM, "out of memory for %s", gname);
        }
        for (int64_t r = 0; r < rows; r++) {
            if (quant_quantize_row(t, data + r * ne0, q + (size_t)r * rs, ne0)) {
                free(q);
                free(data);
                return hf_fail(c, ERR_UNSUPPORTED, "cannot quantize %s to %s", gname,
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
    if (c->w.failed)
        return hf_fail(c, c->w.err.code ? c->w.err.code : ERR_FORMAT, "%s", c->w.err.msg);
    c->n_tensors++;
    char sh[96];
    shape_str(sh, sizeof(sh), nd, ne);
    hf_log(c, "[%3d] %-36s %-5s %s", c->n_tensors, gname, quant_type_name(t), sh);
    return 0;
}

// Copies HF tensor hname (HF shape d0, d1, d2) to gname with the dims reversed.
int hf_copy(struct Conv* c, const char* hname, const char* gname, int nd, int64_t d0, int64_t d1,
            int64_t d2) {
    float* f = hf_get(c, hname, nd, d0, d1, d2);
    if (!f) return c->rc;
    char g[256];
    snprintf(g, sizeof(g), "%s", gname);
    if (nd == 1) return hf_put(c, g, f, 1, d0, 1, 1);
    if (nd == 2) return hf_put(c, g, f, 2, d1, d0, 1);
    return hf_put(c, g, f, 3, d2, d1, d0);
}

// conv1d.weight [C, 1, K] squeezed to GGUF ne [K, C].
int hf_copy_conv(struct Conv* c, const char* hname, const char* gname, int64_t ch, int64_t k) {
    float* f = hf_get(c, hname, 3, ch, 1, k);
    char g[256];
    snprintf(g, sizeof(g), "%s", gname);
    return f ? hf_put(c, g, f, 2, k, ch, 1) : c->rc;
}

// llama.cpp's Q/K permutation: HF half-split RoPE rows -> interleaved pairs.
float* hf_permute_qk(float* w, int64_t n_head, int64_t rows, int64_t n_in) {
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
float* hf_neg_exp(float* a, int64_t n) {
    if (!a) return NULL;
    for (int64_t i = 0; i < n; i++)
        a[i] = (float)-exp((double)a[i]);
    return a;
}

// Output head: lm_head.weight unless tie_word_embeddings (then none, as llama.cpp does).
int hf_put_output(struct Conv* c, const char* hname, int tied, int64_t v, int64_t d) {
    if (tied) {
        hf_log(c, "tie_word_embeddings: no output.weight (the head is token_embd)");
        return 0;
    }
    return hf_copy(c, hname, "output.weight", 2, v, d, 1);
}
