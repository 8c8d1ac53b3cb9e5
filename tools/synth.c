// synth.c: the generator behind `mattn-ref synth` (see synth.h). It writes the common keys
// and a placeholder vocabulary, lets the family write its {arch}.* keys, reads those keys
// back through the loader's own config code (model_load_config) to size every tensor, and
// then walks the family's tensor table in file order. Matrices ~ N(0, 0.02) in the chosen
// type (Box-Muller over the sampler's xoshiro256** stream, so a seed gives the same file on
// any machine); the parameters a family's recurrence is sensitive to get the values its
// papers initialise them to (enum Init), so the forward stays finite. Not here: anything a
// real checkpoint learned.
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"
#include "families/families.h"
#include "gguf.h"
#include "model.h"
#include "sampler.h"

// ---------------------------------------------------------------------------------------
// shapes

void synth_resolve(enum Arch a, int64_t* v) {
    const struct Family* f = family_of(a);
    if (f->synth_resolve) f->synth_resolve(v);
    if (v[P_FF] == AUTO) v[P_FF] = 4 * v[P_EMBD];
    if (v[P_HEAD_KV] == AUTO) v[P_HEAD_KV] = v[P_HEAD];
    if (v[P_HEAD_DIM] == AUTO) v[P_HEAD_DIM] = v[P_EMBD] / v[P_HEAD];
    if (v[P_D_INNER] == AUTO) v[P_D_INNER] = v[P_EXPAND] * v[P_EMBD];
    if (v[P_DT_RANK] == AUTO) v[P_DT_RANK] = (v[P_EMBD] + 15) / 16;
}

void synth_defaults(enum Arch a, int64_t* v) {
    memcpy(v, family_of(a)->synth_defaults, P_COUNT * sizeof(*v));
    synth_resolve(a, v);
}

int synth_check(enum Arch a, const int64_t* v, char* msg, size_t cap) {
    const struct Family* f = family_of(a);
    if ((f->synth_params & PB(P_HEAD)) && v[P_HEAD] % v[P_HEAD_KV] != 0)
        return snprintf(msg, cap, "--n-head must be a multiple of --n-head-kv");
    if ((f->synth_params & PB(P_HEAD)) && v[P_HEAD_DIM] <= 0)
        return snprintf(msg, cap, "--n-embd / --n-head leaves no head dimension; give --head-dim");
    if ((f->synth_params & PB(P_ATTN_EVERY)) && v[P_ATTN_OFFSET] >= v[P_ATTN_EVERY])
        return snprintf(msg, cap, "--attn-offset must be below --attn-every");
    return f->synth_check ? f->synth_check(v, msg, cap) : 0;
}

// ---------------------------------------------------------------------------------------
// values

struct Synth {
    struct GgufWriter w;
    struct SamplerRng rng;
    enum GgmlType type;
    const char* arch; // GGUF name, the prefix of every {arch}.* key
    const struct SynthOptions* o;
    const struct Config* c;
    int layer;    // the layer being written, for progress
    void** blobs; // every tensor's bytes, freed at the end
    int n_blobs, cap_blobs;
    int64_t n_params;
    double spare; // Box-Muller's second value
    int has_spare;
    int failed;
};

static double uniform(struct Synth* s) {
    return sampler_rng_uniform(&s->rng);
}

static double normal(struct Synth* s) {
    if (s->has_spare) {
        s->has_spare = 0;
        return s->spare;
    }
    // Box-Muller: two independent N(0, 1) from two uniforms; u1 in (0, 1] so the log is finite.
    double u1 = 1.0 - uniform(s), u2 = uniform(s);
    double r = sqrt(-2.0 * log(u1));
    s->spare = r * sin(2.0 * M_PI * u2);
    s->has_spare = 1;
    return r * cos(2.0 * M_PI * u2);
}

static void* keep(struct Synth* s, size_t n) {
    if (s->n_blobs == s->cap_blobs) {
        int cap = s->cap_blobs ? s->cap_blobs * 2 : 64;
        void** nb = realloc(s->blobs, (size_t)cap * sizeof(*nb));
        if (!nb) return NULL;
        s->blobs = nb;
        s->cap_blobs = cap;
    }
    void* p = malloc(n ? n : 1);
    if (p) s->blobs[s->n_blobs++] = p;
    return p;
}

// Which columns of a row a block-diagonal matrix fills: [*c0, *c1); the rest are zeros.
typedef void (*BlockCols)(const int64_t* geom, int64_t row, int64_t* c0, int64_t* c1);

// A matrix of ne1 * ne2 rows of ne0 elements (GGUF ne = [ne0, ne1, ne2]) ~ N(0, sd) written in
// the synth's type, or F32 when rows are not whole blocks or f32 is set.
static void matrix_ex(struct Synth* s, const char* name, int64_t ne0, int64_t ne1, int64_t ne2,
                      double sd, int f32, BlockCols cols, const int64_t* geom) {
    enum GgmlType t = f32 ? GGML_TYPE_F32 : s->type;
    if (ne0 % quant_traits(t)->block_size != 0) t = GGML_TYPE_F32;
    int64_t rows = ne1 * ne2;
    size_t rb = quant_row_size(t, ne0);
    uint8_t* data = s->failed ? NULL : keep(s, rb * (size_t)rows);
    float* row = data ? malloc((size_t)ne0 * sizeof(float)) : NULL;
    if (!row) {
        s->failed = 1;
        return;
    }
    for (int64_t r = 0; r < rows; r++) {
        int64_t c0 = 0, c1 = ne0;
        if (cols) cols(geom, r, &c0, &c1);
        for (int64_t i = 0; i < ne0; i++)
            row[i] = i >= c0 && i < c1 ? (float)(sd * normal(s)) : 0.0f;
        quant_quantize_row(t, row, data + (size_t)r * rb, ne0);
    }
    free(row);
    s->n_params += ne0 * rows;
    gguf_writer_add_tensor(&s->w, name, t, ne2 > 1 ? 3 : 2, (const int64_t[]){ne0, ne1, ne2}, data,
                           0);
}

// An F32 tensor of shape ne[0..n_dims) for the caller to fill; NULL after a failure.
static float* f32(struct Synth* s, const char* name, int n_dims, const int64_t* ne) {
    int64_t n = ne[0] * ne[1] * ne[2] * ne[3];
    float* data = s->failed ? NULL : keep(s, (size_t)n * sizeof(float));
    if (!data) {
        s->failed = 1;
        return NULL;
    }
    s->n_params += n;
    gguf_writer_add_tensor(&s->w, name, GGML_TYPE_F32, n_dims, ne, data, 0);
    return data;
}

// Zamba v1's per-head x_proj as one block-diagonal matrix: output rows [dt_r of every head
// (nh R); B of every head (nh N); C of every head (nh N)], each reading its head's P channels.
// geom = {nh, R, N, P}.
static void zamba_x_cols(const int64_t* geom, int64_t row, int64_t* c0, int64_t* c1) {
    int64_t nh = geom[0], R = geom[1], N = geom[2], P = geom[3];
    int64_t h = row < nh * R         ? row / R
                : row < nh * (R + N) ? (row - nh * R) / N
                                     : (row - nh * (R + N)) / N;
    *c0 = h * P;
    *c1 = h * P + P;
}

// dt_proj: channel c = h P + p (a row) reads the R values of head h's dt_r.
static void zamba_dt_cols(const int64_t* geom, int64_t row, int64_t* c0, int64_t* c1) {
    int64_t R = geom[1], P = geom[3];
    *c0 = row / P * R;
    *c1 = row / P * R + R;
}

// One tensor of the table: row r at layer (or shared block) index.
static int write_row(void* ctx, const struct TensorRow* r, int index) {
    struct Synth* s = ctx;
    const struct Config* c = s->c;
    if (s->failed) return 1;
    if (!bind_written(r, c, index)) return 0;
    char name[128];
    snprintf(name, sizeof(name), r->name, index);
    int64_t ne[4];
    int nd = bind_shape(r, c, index, ne);
    int64_t n = ne[0] * ne[1] * ne[2] * ne[3];
    // vectors and stacks filled with a constant keep only the dims that are not 1
    int nd_fill = ne[1] > 1 ? 2 : 1;
    float* d = NULL;
    const int64_t geom[4] = {c->ssm_n_group, c->ssm_dt_rank, c->ssm_d_state,
                             c->ssm_n_group > 0 ? c->ssm_d_inner / c->ssm_n_group : 0};
    switch (r->init) {
    case INIT_NORMAL: matrix_ex(s, name, ne[0], ne[1], ne[2], 0.02, 0, NULL, NULL); break;
    // LoRAs and routers stay F32, as llama.cpp's quantizer and convert leave them
    case INIT_NORMAL_F32: matrix_ex(s, name, ne[0], ne[1], ne[2], 0.02, 1, NULL, NULL); break;
    case INIT_ZAMBA_X: matrix_ex(s, name, ne[0], ne[1], 1, 0.02, 0, zamba_x_cols, geom); break;
    case INIT_ZAMBA_DT: matrix_ex(s, name, ne[0], ne[1], 1, 0.02, 0, zamba_dt_cols, geom); break;
    case INIT_ZERO:
    case INIT_ONE:
    case INIT_K_K: {
        double v = r->init == INIT_ZERO ? 0.0 : r->init == INIT_ONE ? 1.0 : 0.85;
        d = f32(s, name, nd_fill, ne);
        for (int64_t i = 0; d && i < n; i++)
            d[i] = (float)v;
        break;
    }
    case INIT_D_HEADS:
        d = f32(s, name, nd, ne);
        for (int64_t i = 0; d && i < n; i++)
            d[i] = 1.0f;
        break;
    case INIT_UNIFORM01:
        d = f32(s, name, nd, ne);
        for (int64_t i = 0; d && i < n; i++)
            d[i] = (float)uniform(s);
        break;
    case INIT_CONV: { // U(+-1/sqrt(K)) as PyTorch's Conv1d
        double b = 1.0 / sqrt((double)c->ssm_d_conv);
        d = f32(s, name, nd, ne);
        for (int64_t i = 0; d && i < n; i++)
            d[i] = (float)(-b + 2 * b * uniform(s));
        break;
    }
    case INIT_DT_BIAS: // softplus^-1 of dt drawn log-uniformly in [0.001, 0.1] (Mamba's init)
        d = f32(s, name, nd, ne);
        for (int64_t i = 0; d && i < n; i++) {
            double dt = exp(log(0.001) + (log(0.1) - log(0.001)) * uniform(s));
            d[i] = (float)(dt + log(-expm1(-dt))); // log(exp(dt) - 1), stable for small dt
        }
        break;
    case INIT_A_CHANNELS:
    case INIT_A_LOG_CHANNELS: // Mamba-1's S4D-real A: row c holds -(1..ds), or ln(1..ds)
        d = f32(s, name, nd, ne);
        for (int64_t ch = 0; d && ch < ne[1]; ch++)
            for (int64_t k = 0; k < ne[0]; k++)
                d[ch * ne[0] + k] = (float)(r->init == INIT_A_LOG_CHANNELS ? log((double)(k + 1))
                                                                           : -(double)(k + 1));
        break;
    case INIT_A_HEADS:
    case INIT_A_LOG_HEADS: // Mamba-2's per-head A_log = ln U(1, 16), or A = -exp(A_log)
        d = f32(s, name, nd, ne);
        for (int64_t i = 0; d && i < n; i++) {
            double a = 1.0 + 15.0 * uniform(s);
            d[i] = (float)(r->init == INIT_A_LOG_HEADS ? log(a) : -a);
        }
        break;
    case INIT_DECAY_RAMP: // a ramp over channels, so heads see slow and fast decays
        d = f32(s, name, nd, ne);
        for (int64_t i = 0; d && i < n; i++)
            d[i] = (float)(-6.5 + 5.0 * (double)i / (double)(n > 1 ? n - 1 : 1));
        break;
    case INIT_RG_LAMBDA: // Griffin's init: with the recurrence gate at 1 the decay
                         // a = exp(-8 softplus(Lambda)) is u ~ U(0.9, 0.999)
        d = f32(s, name, nd, ne);
        for (int64_t i = 0; d && i < n; i++) {
            double u = 0.9 + 0.099 * uniform(s), sp = -log(u) / 8.0;
            d[i] = (float)log(expm1(sp)); // softplus^-1
        }
        break;
    case INIT_COUNT: break;
    }
    return s->failed;
}

// Reports each layer as its first tensor is written.
static int write_row_progress(void* ctx, const struct TensorRow* r, int index) {
    struct Synth* s = ctx;
    if (bind_scope(r) == SCOPE_LAYER && index != s->layer) {
        s->layer = index;
        if (s->o->progress) s->o->progress(s->o->progress_ctx, s->arch, index, s->c->n_layer);
    }
    return write_row(ctx, r, index);
}

// ---------------------------------------------------------------------------------------
// file header: general.*, the common {arch}.* keys and a placeholder vocabulary

static void header(struct Synth* s, const int64_t* v, const char* type_name) {
    struct GgufWriter* w = &s->w;
    char name[96];
    snprintf(name, sizeof(name), "synth-%s-%lldL-%lld-%.16s", s->arch, (long long)v[P_LAYER],
             (long long)v[P_EMBD], type_name);
    gguf_writer_set_str(w, "general.architecture", s->arch);
    gguf_writer_set_str(w, "general.name", name);
    key_set_u32(w, s->arch, "block_count", (uint32_t)v[P_LAYER]);
    key_set_u32(w, s->arch, "context_length", (uint32_t)v[P_CTX]);
    key_set_u32(w, s->arch, "embedding_length", (uint32_t)v[P_EMBD]);
    key_set_u32(w, s->arch, "vocab_size", (uint32_t)v[P_VOCAB]);
    // Placeholder vocabulary, as llama.cpp's own test models write it.
    int64_t n_vocab = v[P_VOCAB];
    gguf_writer_set_str(w, "tokenizer.ggml.model", "test");
    char** toks = calloc((size_t)n_vocab, sizeof(char*));
    int32_t* types = malloc((size_t)n_vocab * sizeof(int32_t));
    float* scores = calloc((size_t)n_vocab, sizeof(float));
    int ok = toks && types && scores;
    for (int64_t i = 0; ok && i < n_vocab; i++) {
        toks[i] = malloc(32);
        if (toks[i])
            snprintf(toks[i], 32, "tok_%lld", (long long)i);
        else
            ok = 0;
        types[i] = 1;
    }
    if (ok) {
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char* const*)toks, NULL,
                                (uint64_t)n_vocab);
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types,
                            (uint64_t)n_vocab);
        gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores,
                            (uint64_t)n_vocab);
    } else {
        s->failed = 1;
    }
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    for (int64_t i = 0; toks && i < n_vocab; i++)
        free(toks[i]);
    free(toks);
    free(types);
    free(scores);
}

// ---------------------------------------------------------------------------------------
// entry points

// The keys written so far, read back by the loader's config code: the Config every row's
// shape and condition is resolved against.
static int read_config(struct Synth* s, const int64_t* v, struct Model* m, uint8_t** bytes,
                       struct Err* e) {
    size_t size;
    struct Gguf g;
    int rc = gguf_writer_write_mem(&s->w, bytes, &size, e);
    if (!rc) rc = gguf_parse(&g, *bytes, size, e);
    if (!rc) rc = model_load_config(m, &g, e);
    if (rc) return rc;
    m->config.tied_output = v[P_TIED] != 0;
    const struct Family* f = family_of(m->config.arch);
    if (f->synth_layers) f->synth_layers(v, &m->config);
    return 0;
}

static void synth_free(struct Synth* s) {
    gguf_writer_free(&s->w);
    for (int i = 0; i < s->n_blobs; i++)
        free(s->blobs[i]);
    free(s->blobs);
}

// Builds the whole file in s->w (tensor data in s->blobs).
static int synth_build(struct Synth* s, enum Arch a, const int64_t* v, const struct SynthOptions* o,
                       struct Err* e) {
    const struct Family* f = family_of(a);
    *s = (struct Synth){.type = o->type, .arch = f->name, .o = o, .layer = -1};
    if (gguf_writer_init(&s->w)) return err_set(e, ERR_NOMEM, "synth: out of memory");
    sampler_rng_seed(&s->rng, o->seed);
    header(s, v, o->type_name ? o->type_name : quant_type_name(o->type));
    f->synth_keys(&s->w, f->name, v);
    if (s->failed || s->w.failed) return err_set(e, ERR_NOMEM, "synth: out of memory");
    struct Model m = {0};
    uint8_t* bytes = NULL;
    int rc = read_config(s, v, &m, &bytes, e);
    if (!rc) {
        s->c = &m.config;
        bind_walk(f->tensors, &m.config, write_row_progress, s);
        if (s->failed) rc = err_set(e, ERR_NOMEM, "synth: out of memory");
    }
    model_free(&m);
    free(bytes);
    s->c = NULL;
    return rc;
}

int synth_write_file(enum Arch a, const int64_t* v, const struct SynthOptions* o, const char* path,
                     int64_t* n_params, struct Err* e) {
    struct Synth s;
    int rc = synth_build(&s, a, v, o, e);
    if (!rc) rc = gguf_writer_write_file(&s.w, path, e);
    if (!rc && n_params) *n_params = s.n_params;
    synth_free(&s);
    return rc;
}

int synth_write_mem(enum Arch a, const int64_t* v, const struct SynthOptions* o, uint8_t** out,
                    size_t* size, int64_t* n_params, struct Err* e) {
    struct Synth s;
    int rc = synth_build(&s, a, v, o, e);
    if (!rc) rc = gguf_writer_write_mem(&s.w, out, size, e);
    if (!rc && n_params) *n_params = s.n_params;
    synth_free(&s);
    return rc;
}
