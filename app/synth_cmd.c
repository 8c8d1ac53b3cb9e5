// synth_cmd.c: `mattn-ref synth`: a seeded random-weight GGUF of any family and size, for
// benchmarks and tests at shapes no real file here has. Every family writes exactly the keys
// and tensors its load_<arch>() in shared/model.c binds (llama.cpp's layouts, and ours for
// recurrentgemma, zamba2 and zamba: docs/GGUF.md). Matrices ~ N(0, 0.02) in --type (Box-Muller
// over the sampler's xoshiro256** stream, so a seed gives the same file on any machine); the
// parameters a family's recurrence is sensitive to get the values its papers initialise them
// to (see HELP), so the forward stays finite. Not here: anything a real checkpoint learned.
#include "synth_cmd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch.h"
#include "cli.h"
#include "gguf.h"
#include "quant.h"
#include "sampler.h"

// ---------------------------------------------------------------------------------------
// shape flags: one table of flags, one of per-family defaults

// clang-format off (the tables read better packed)
enum Param {
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
// clang-format on

#define F_LLAMA (1u << ARCH_LLAMA)
#define F_RWKV7 (1u << ARCH_RWKV7)
#define F_JAMBA (1u << ARCH_JAMBA)
#define F_MAMBA (1u << ARCH_MAMBA)
#define F_MAMBA2 (1u << ARCH_MAMBA2)
#define F_RG (1u << ARCH_RECURRENTGEMMA)
#define F_ZAMBA2 (1u << ARCH_ZAMBA2)
#define F_ZAMBA (1u << ARCH_ZAMBA)
#define F_ALL ((1u << ARCH_COUNT) - 1)
#define F_ATTN (F_LLAMA | F_JAMBA | F_RG | F_ZAMBA2 | F_ZAMBA)
#define F_SSM (F_MAMBA | F_MAMBA2 | F_JAMBA | F_ZAMBA2 | F_ZAMBA)

struct Flag {
    const char* name;
    int64_t lo, hi;
    unsigned archs; // the families the flag applies to
};

static const struct Flag FLAGS[P_COUNT] = {
    [P_EMBD] = {"--n-embd", 1, 1 << 16, F_ALL},
    [P_LAYER] = {"--n-layer", 1, 512, F_ALL},
    [P_VOCAB] = {"--n-vocab", 3, 1 << 22, F_ALL},
    [P_CTX] = {"--n-ctx", 1, 1 << 24, F_ALL},
    [P_FF] = {"--n-ff", 1, 1 << 20, F_ALL & ~(F_MAMBA | F_MAMBA2)},
    [P_HEAD] = {"--n-head", 1, 1024, F_ATTN},
    [P_HEAD_KV] = {"--n-head-kv", 1, 1024, F_ATTN},
    [P_HEAD_DIM] = {"--head-dim", 2, 1 << 12, F_ATTN | F_RWKV7},
    [P_TIED] = {"--tied", 0, 1, F_ALL},
    [P_WINDOW] = {"--window", 0, 1 << 24, F_LLAMA | F_RG},
    [P_EXPAND] = {"--expand", 1, 16, F_SSM},
    [P_D_INNER] = {"--d-inner", 1, 1 << 20, F_SSM | F_RG},
    [P_D_STATE] = {"--d-state", 1, 1 << 12, F_SSM},
    [P_D_CONV] = {"--d-conv", 2, 64, F_SSM | F_RG},
    [P_DT_RANK] = {"--dt-rank", 1, 1 << 16, F_MAMBA | F_JAMBA | F_ZAMBA},
    [P_SSM_HEAD_DIM] = {"--ssm-head-dim", 1, 1 << 16, F_MAMBA2 | F_ZAMBA2},
    [P_N_GROUP] = {"--n-group", 1, 1 << 12, F_MAMBA2 | F_ZAMBA2},
    [P_SSM_HEADS] = {"--ssm-heads", 1, 1 << 12, F_ZAMBA},
    [P_LORA_DECAY] = {"--lora-decay", 1, 1 << 16, F_RWKV7},
    [P_LORA_ICLR] = {"--lora-iclr", 1, 1 << 16, F_RWKV7},
    [P_LORA_VALUE] = {"--lora-value", 1, 1 << 16, F_RWKV7},
    [P_LORA_GATE] = {"--lora-gate", 1, 1 << 16, F_RWKV7},
    [P_N_EXPERT] = {"--n-expert", 1, 256, F_JAMBA},
    [P_N_EXPERT_USED] = {"--n-expert-used", 1, 256, F_JAMBA},
    [P_MOE_EVERY] = {"--moe-every", 1, 512, F_JAMBA},
    [P_MOE_OFFSET] = {"--moe-offset", 0, 511, F_JAMBA},
    [P_ATTN_EVERY] = {"--attn-every", 1, 512, F_JAMBA | F_RG | F_ZAMBA2 | F_ZAMBA},
    [P_ATTN_OFFSET] = {"--attn-offset", 0, 511, F_JAMBA | F_RG | F_ZAMBA2 | F_ZAMBA},
    [P_SOFTCAP] = {"--softcap", 1, 1000, F_RG},
    [P_SHARED_BLOCKS] = {"--shared-blocks", 1, 64, F_ZAMBA2 | F_ZAMBA},
    [P_ADAPTER_RANK] = {"--adapter-rank", 0, 1 << 16, F_ZAMBA2},
    [P_ATTN_ADAPTER] = {"--attn-adapter", 0, 1, F_ZAMBA2},
    [P_FFN_ADAPTER] = {"--ffn-adapter", 0, 1, F_ZAMBA2},
};
_Static_assert(sizeof(FLAGS) / sizeof(FLAGS[0]) == P_COUNT, "FLAGS size");

#define AUTO (-1) // follows other values: resolve()

// Each family's default: a ~1B model of a published shape (HELP names them).
// clang-format off
static const int64_t DEFAULTS[ARCH_COUNT][P_COUNT] = {
    [ARCH_LLAMA] = {[P_EMBD] = 2048, [P_LAYER] = 22, [P_VOCAB] = 32000, [P_CTX] = 2048,
                    [P_FF] = 5632, [P_HEAD] = 32, [P_HEAD_KV] = 4, [P_HEAD_DIM] = AUTO},
    [ARCH_RWKV7] = {[P_EMBD] = 2048, [P_LAYER] = 24, [P_VOCAB] = 65536, [P_CTX] = 1 << 20,
                    [P_FF] = AUTO, [P_HEAD_DIM] = 64, [P_LORA_DECAY] = 96, [P_LORA_ICLR] = 96,
                    [P_LORA_VALUE] = 64, [P_LORA_GATE] = 256},
    [ARCH_JAMBA] = {[P_EMBD] = 1024, [P_LAYER] = 16, [P_VOCAB] = 65536, [P_CTX] = 262144,
                    [P_FF] = 2048, [P_HEAD] = 8, [P_HEAD_KV] = 2, [P_HEAD_DIM] = AUTO,
                    [P_EXPAND] = 2, [P_D_INNER] = AUTO, [P_D_STATE] = 16, [P_D_CONV] = 4,
                    [P_DT_RANK] = AUTO, [P_N_EXPERT] = 16, [P_N_EXPERT_USED] = 2,
                    [P_MOE_EVERY] = 2, [P_MOE_OFFSET] = 1, [P_ATTN_EVERY] = 8,
                    [P_ATTN_OFFSET] = 4},
    [ARCH_MAMBA] = {[P_EMBD] = 2048, [P_LAYER] = 48, [P_VOCAB] = 50280, [P_CTX] = 1 << 20,
                    [P_TIED] = 1, [P_EXPAND] = 2, [P_D_INNER] = AUTO, [P_D_STATE] = 16,
                    [P_D_CONV] = 4, [P_DT_RANK] = AUTO},
    [ARCH_MAMBA2] = {[P_EMBD] = 2048, [P_LAYER] = 48, [P_VOCAB] = 50288, [P_CTX] = 1 << 20,
                     [P_TIED] = 1, [P_EXPAND] = 2, [P_D_INNER] = AUTO, [P_D_STATE] = 128,
                     [P_D_CONV] = 4, [P_SSM_HEAD_DIM] = 64, [P_N_GROUP] = 1},
    [ARCH_RECURRENTGEMMA] = {[P_EMBD] = 1536, [P_LAYER] = 26, [P_VOCAB] = 256000, [P_CTX] = 8192,
                             [P_FF] = 4608, [P_HEAD] = 6, [P_HEAD_KV] = 1, [P_HEAD_DIM] = AUTO,
                             [P_TIED] = 1, [P_WINDOW] = 2048, [P_D_INNER] = AUTO,
                             [P_D_CONV] = 4, [P_ATTN_EVERY] = 3, [P_ATTN_OFFSET] = 2,
                             [P_SOFTCAP] = 30},
    [ARCH_ZAMBA2] = {[P_EMBD] = 2048, [P_LAYER] = 38, [P_VOCAB] = 32000, [P_CTX] = 4096,
                     [P_FF] = AUTO, [P_HEAD] = 32, [P_HEAD_KV] = AUTO, [P_HEAD_DIM] = AUTO,
                     [P_TIED] = 1, [P_EXPAND] = 2, [P_D_INNER] = AUTO, [P_D_STATE] = 128,
                     [P_D_CONV] = 4, [P_SSM_HEAD_DIM] = 64, [P_N_GROUP] = 1,
                     [P_ATTN_EVERY] = 6, [P_ATTN_OFFSET] = 5, [P_SHARED_BLOCKS] = 1,
                     [P_ADAPTER_RANK] = 128, [P_ATTN_ADAPTER] = 1, [P_FFN_ADAPTER] = 1},
    [ARCH_ZAMBA] = {[P_EMBD] = 2048, [P_LAYER] = 32, [P_VOCAB] = 32000, [P_CTX] = 4096,
                    [P_FF] = AUTO, [P_HEAD] = 16, [P_HEAD_KV] = AUTO, [P_HEAD_DIM] = AUTO,
                    [P_TIED] = 1, [P_EXPAND] = 2, [P_D_INNER] = AUTO, [P_D_STATE] = 16,
                    [P_D_CONV] = 4, [P_DT_RANK] = AUTO, [P_SSM_HEADS] = 2, [P_ATTN_EVERY] = 6,
                    [P_ATTN_OFFSET] = 1, [P_SHARED_BLOCKS] = 1},
};
// clang-format on

// Fills the AUTO values of v (those not given) from the others.
static void resolve(enum Arch a, int64_t* v) {
    int shared = a == ARCH_ZAMBA2 || a == ARCH_ZAMBA;
    if (v[P_FF] == AUTO) v[P_FF] = 4 * v[P_EMBD];
    if (v[P_HEAD_KV] == AUTO) v[P_HEAD_KV] = v[P_HEAD];
    // Zamba's shared attention reads concat(x, embedding): its heads split 2 n_embd
    if (v[P_HEAD_DIM] == AUTO) v[P_HEAD_DIM] = (shared ? 2 : 1) * v[P_EMBD] / v[P_HEAD];
    if (v[P_D_INNER] == AUTO)
        v[P_D_INNER] = a == ARCH_RECURRENTGEMMA ? v[P_EMBD] : v[P_EXPAND] * v[P_EMBD];
    if (v[P_DT_RANK] == AUTO) v[P_DT_RANK] = (v[P_EMBD] + 15) / 16;
}

static const char* const HELP_HEAD =
    "usage: mattn-ref synth -o OUT.gguf [--arch A] [--type T] [--seed S] [shape flags]\n"
    "Writes a model of family A (llama rwkv7 jamba mamba mamba2 recurrentgemma zamba2 zamba;\n"
    "default llama) with seeded random weights and a placeholder vocabulary (give prompts as\n"
    "--ids), then prints 'wrote OUT: N params, M bytes' on stderr.\n"
    "  --type   f32 (default) f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1: the big matrices' type;\n"
    "           vectors, norms, convolutions, RWKV-7 LoRAs and MoE routers stay F32, as do\n"
    "           matrices whose rows are not a whole number of blocks\n"
    "  --seed   the xoshiro256** seed (default 0): the same seed and flags give the same bytes\n"
    "Shape flags and their defaults per family ('-': the flag does not apply to it):\n";

static const char* const HELP_TAIL =
    "Derived unless given: --n-ff 4 n-embd (rwkv7, zamba2, zamba); --n-head-kv n-head (zamba2,\n"
    "zamba); --head-dim n-embd/n-head (zamba2, zamba: 2 n-embd/n-head, the width of their\n"
    "attention input); --d-inner expand * n-embd (recurrentgemma: its lru width, n-embd);\n"
    "--dt-rank ceil(n-embd/16). --expand and --d-inner exclude each other.\n"
    "Layer i has attention (jamba, recurrentgemma) or runs the shared block (zamba2, zamba)\n"
    "when i % attn-every == attn-offset, and a jamba layer has MoE when i % moe-every ==\n"
    "moe-offset (jamba: 1 expert means dense everywhere). --tied 1 writes no output.weight.\n"
    "--head-dim is the WKV head size for rwkv7; --d-inner the RG-LRU width for recurrentgemma.\n"
    "Default shapes: llama TinyLlama-1.1B; rwkv7 RWKV-7 World 1.5B; jamba Jamba's layout\n"
    "(attention every 8, 16 experts top-2 every 2) at 1024 wide, 16 layers; mamba mamba-1.4b;\n"
    "mamba2 mamba2-1.3b; recurrentgemma recurrentgemma-2b's 26 layers at 1536 wide; zamba2\n"
    "Zamba2-1.2B; "
    "zamba Zamba v1 at 2048 wide, 32 layers.\n"
    "Values: matrices N(0, 0.02); RMS/LayerNorm weights 1 (recurrentgemma stores 0: (1 + w)),\n"
    "biases 0; conv1d weights and bias U(+-1/sqrt(d-conv)); Mamba-1 A = -(1..d-state) per\n"
    "channel (jamba, zamba too), Mamba-2 A = -U(1, 16) per head (zamba2 too), stored as A_log\n"
    "by zamba and zamba2; dt bias = softplus^-1 of a log-uniform dt in [0.001, 0.1]; D 1;\n"
    "RWKV-7 token-shift mixes U(0, 1), w0 a ramp from -6.5 to -1.5 over channels, a0 0, v0 1,\n"
    "k_k 0.85, k_a 1; RG-LRU Lambda with softplus(Lambda) = -ln(u)/8, u ~ U(0.9, 0.999).\n";

static void print_help(void) {
    static const char* const SHORT[ARCH_COUNT] = {
        [ARCH_LLAMA] = "llama",   [ARCH_RWKV7] = "rwkv7",   [ARCH_JAMBA] = "jamba",
        [ARCH_MAMBA] = "mamba",   [ARCH_MAMBA2] = "mamba2", [ARCH_RECURRENTGEMMA] = "rgemma",
        [ARCH_ZAMBA2] = "zamba2", [ARCH_ZAMBA] = "zamba"};
    int64_t v[ARCH_COUNT][P_COUNT];
    for (int a = 0; a < ARCH_COUNT; a++) {
        memcpy(v[a], DEFAULTS[a], sizeof(v[a]));
        resolve((enum Arch)a, v[a]);
    }
    fputs(HELP_HEAD, stdout);
    printf("  %-16s", "");
    for (int a = 0; a < ARCH_COUNT; a++)
        printf(" %7s", SHORT[a]);
    printf("\n");
    for (int p = 0; p < P_COUNT; p++) {
        printf("  %-16s", FLAGS[p].name);
        for (int a = 0; a < ARCH_COUNT; a++) {
            if (FLAGS[p].archs & (1u << a))
                printf(" %7lld", (long long)v[a][p]);
            else
                printf(" %7s", "-");
        }
        printf("\n");
    }
    fputs(HELP_TAIL, stdout);
}

// ---------------------------------------------------------------------------------------
// tensors

struct Synth {
    struct GgufWriter w;
    struct SamplerRng rng;
    enum GgmlType type;
    const char* arch; // GGUF name, the prefix of every {arch}.* key
    char key[128];
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

static const char* key(struct Synth* s, const char* suffix) {
    snprintf(s->key, sizeof(s->key), "%s.%s", s->arch, suffix);
    return s->key;
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

// A weight matrix ~ N(0, 0.02) in the synth's type; ne2 > 1 stacks experts or blocks.
static void weight(struct Synth* s, const char* name, int64_t ne0, int64_t ne1, int64_t ne2) {
    matrix_ex(s, name, ne0, ne1, ne2, 0.02, 0, NULL, NULL);
}

// An F32 tensor of shape ne[0..n_dims) for the caller to fill; NULL after a failure.
static float* f32(struct Synth* s, const char* name, int n_dims, int64_t ne0, int64_t ne1,
                  int64_t ne2, int64_t ne3) {
    int64_t n = ne0 * ne1 * ne2 * ne3;
    float* data = s->failed ? NULL : keep(s, (size_t)n * sizeof(float));
    if (!data) {
        s->failed = 1;
        return NULL;
    }
    s->n_params += n;
    gguf_writer_add_tensor(&s->w, name, GGML_TYPE_F32, n_dims,
                           (const int64_t[]){ne0, ne1, ne2, ne3}, data, 0);
    return data;
}

// An F32 vector (or (ne0, ne1) matrix) filled with v.
static void fill(struct Synth* s, const char* name, int64_t ne0, int64_t ne1, double v) {
    float* d = f32(s, name, ne1 > 1 ? 2 : 1, ne0, ne1, 1, 1);
    for (int64_t i = 0; d && i < ne0 * ne1; i++)
        d[i] = (float)v;
}

// An F32 tensor ~ U(lo, hi).
static void f32_uniform(struct Synth* s, const char* name, int n_dims, int64_t ne0, int64_t ne1,
                        double lo, double hi) {
    float* d = f32(s, name, n_dims, ne0, ne1, 1, 1);
    for (int64_t i = 0; d && i < ne0 * ne1; i++)
        d[i] = (float)(lo + (hi - lo) * uniform(s));
}

// The dt bias: softplus^-1 of dt drawn log-uniformly in [0.001, 0.1] (Mamba's init).
static void dt_bias(struct Synth* s, const char* name, int64_t n) {
    float* d = f32(s, name, 1, n, 1, 1, 1);
    for (int64_t i = 0; d && i < n; i++) {
        double dt = exp(log(0.001) + (log(0.1) - log(0.001)) * uniform(s));
        d[i] = (float)(dt + log(-expm1(-dt))); // log(exp(dt) - 1), stable for small dt
    }
}

// Depthwise causal conv (K, channels) and its bias, U(+-1/sqrt(K)) as PyTorch's Conv1d.
static void conv1d(struct Synth* s, const char* wname, const char* bname, int64_t K, int64_t ch) {
    double b = 1.0 / sqrt((double)K);
    f32_uniform(s, wname, 2, K, ch, -b, b);
    f32_uniform(s, bname, 1, ch, 1, -b, b);
}

// Per-head A of Mamba-2: A_log = ln U(1, 16), stored as is or as A = -exp(A_log).
static void ssm_a_heads(struct Synth* s, const char* name, int64_t nh, int store_log) {
    float* d = f32(s, name, 2, 1, nh, 1, 1);
    for (int64_t h = 0; d && h < nh; h++) {
        double a = 1.0 + 15.0 * uniform(s);
        d[h] = (float)(store_log ? log(a) : -a);
    }
}

// Mamba-1's S4D-real A: row c holds -(1..ds), as A or as A_log = ln(1..ds).
static void ssm_a_channels(struct Synth* s, const char* name, int64_t ds, int64_t di,
                           int store_log) {
    float* d = f32(s, name, 2, ds, di, 1, 1);
    for (int64_t c = 0; d && c < di; c++)
        for (int64_t n = 0; n < ds; n++)
            d[c * ds + n] = (float)(store_log ? log((double)(n + 1)) : -(double)(n + 1));
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
    gguf_writer_set_u32(w, key(s, "block_count"), (uint32_t)v[P_LAYER]);
    gguf_writer_set_u32(w, key(s, "context_length"), (uint32_t)v[P_CTX]);
    gguf_writer_set_u32(w, key(s, "embedding_length"), (uint32_t)v[P_EMBD]);
    gguf_writer_set_u32(w, key(s, "vocab_size"), (uint32_t)v[P_VOCAB]);
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

// token_embd first; output_norm (+ bias) and output (unless tied) last.
static void embedding(struct Synth* s, const int64_t* v) {
    weight(s, "token_embd.weight", v[P_EMBD], v[P_VOCAB], 1);
}

static void head(struct Synth* s, const int64_t* v, double norm_w, int norm_bias) {
    fill(s, "output_norm.weight", v[P_EMBD], 1, norm_w);
    if (norm_bias) fill(s, "output_norm.bias", v[P_EMBD], 1, 0.0);
    if (!v[P_TIED]) weight(s, "output.weight", v[P_EMBD], v[P_VOCAB], 1);
}

// head_count_kv per layer: n_head_kv where i % every == offset, else 0 (the layer pattern).
static void kv_pattern(struct Synth* s, const int64_t* v) {
    int32_t kv[512];
    for (int64_t l = 0; l < v[P_LAYER]; l++)
        kv[l] = l % v[P_ATTN_EVERY] == v[P_ATTN_OFFSET] ? (int32_t)v[P_HEAD_KV] : 0;
    gguf_writer_set_arr(&s->w, key(s, "attention.head_count_kv"), GGUF_TYPE_INT32, kv,
                        (uint64_t)v[P_LAYER]);
}

static int is_attn(const int64_t* v, int64_t l) {
    return l % v[P_ATTN_EVERY] == v[P_ATTN_OFFSET];
}

static void progress(const struct Synth* s, int64_t l, int64_t n) {
    fprintf(stderr, "\rmattn-ref synth: %s layer %lld/%lld", s->arch, (long long)l + 1,
            (long long)n);
}

#define NAME(fmt) (snprintf(t, sizeof(t), fmt, (long long)l), t)

// ---------------------------------------------------------------------------------------
// llama

static void synth_llama(struct Synth* s, const int64_t* v) {
    int64_t D = v[P_EMBD], H = v[P_HEAD], Hkv = v[P_HEAD_KV], hd = v[P_HEAD_DIM], F = v[P_FF];
    int64_t n_q = H * hd, n_kv = Hkv * hd;
    struct GgufWriter* w = &s->w;
    gguf_writer_set_u32(w, key(s, "feed_forward_length"), (uint32_t)F);
    gguf_writer_set_u32(w, key(s, "attention.head_count"), (uint32_t)H);
    gguf_writer_set_u32(w, key(s, "attention.head_count_kv"), (uint32_t)Hkv);
    if (hd * H != D) {
        gguf_writer_set_u32(w, key(s, "attention.key_length"), (uint32_t)hd);
        gguf_writer_set_u32(w, key(s, "attention.value_length"), (uint32_t)hd);
    }
    gguf_writer_set_u32(w, key(s, "rope.dimension_count"), (uint32_t)hd);
    gguf_writer_set_f32(w, key(s, "attention.layer_norm_rms_epsilon"), 1e-5f);
    if (v[P_WINDOW])
        gguf_writer_set_u32(w, key(s, "attention.sliding_window"), (uint32_t)v[P_WINDOW]);
    embedding(s, v);
    for (int64_t l = 0; l < v[P_LAYER] && !s->failed; l++) {
        char t[96];
        fill(s, NAME("blk.%lld.attn_norm.weight"), D, 1, 1.0);
        weight(s, NAME("blk.%lld.attn_q.weight"), D, n_q, 1);
        weight(s, NAME("blk.%lld.attn_k.weight"), D, n_kv, 1);
        weight(s, NAME("blk.%lld.attn_v.weight"), D, n_kv, 1);
        weight(s, NAME("blk.%lld.attn_output.weight"), n_q, D, 1);
        fill(s, NAME("blk.%lld.ffn_norm.weight"), D, 1, 1.0);
        weight(s, NAME("blk.%lld.ffn_gate.weight"), D, F, 1);
        weight(s, NAME("blk.%lld.ffn_up.weight"), D, F, 1);
        weight(s, NAME("blk.%lld.ffn_down.weight"), F, D, 1);
        progress(s, l, v[P_LAYER]);
    }
    head(s, v, 1.0, 0);
}

// ---------------------------------------------------------------------------------------
// rwkv7 (llama.cpp's layout)

static void synth_rwkv7(struct Synth* s, const int64_t* v) {
    int64_t C = v[P_EMBD], F = v[P_FF], Dw = v[P_LORA_DECAY], Da = v[P_LORA_ICLR];
    int64_t Dv = v[P_LORA_VALUE], Dg = v[P_LORA_GATE];
    struct GgufWriter* w = &s->w;
    gguf_writer_set_f32(w, key(s, "attention.layer_norm_epsilon"), 1e-5f);
    gguf_writer_set_u32(w, key(s, "wkv.head_size"), (uint32_t)v[P_HEAD_DIM]);
    gguf_writer_set_u32(w, key(s, "attention.decay_lora_rank"), (uint32_t)Dw);
    gguf_writer_set_u32(w, key(s, "attention.iclr_lora_rank"), (uint32_t)Da);
    gguf_writer_set_u32(w, key(s, "attention.value_residual_mix_lora_rank"), (uint32_t)Dv);
    gguf_writer_set_u32(w, key(s, "attention.gate_lora_rank"), (uint32_t)Dg);
    gguf_writer_set_u32(w, key(s, "feed_forward_length"), (uint32_t)F);
    gguf_writer_set_u32(w, key(s, "attention.head_count"), 0);
    embedding(s, v);
    fill(s, "token_embd_norm.weight", C, 1, 1.0);
    fill(s, "token_embd_norm.bias", C, 1, 0.0);
    for (int64_t l = 0; l < v[P_LAYER] && !s->failed; l++) {
        char t[96];
        fill(s, NAME("blk.%lld.attn_norm.weight"), C, 1, 1.0);
        fill(s, NAME("blk.%lld.attn_norm.bias"), C, 1, 0.0);
        fill(s, NAME("blk.%lld.attn_norm_2.weight"), C, 1, 1.0);
        fill(s, NAME("blk.%lld.attn_norm_2.bias"), C, 1, 0.0);
        // decay bias: a ramp over channels, so heads see slow and fast decays
        float* w0 = f32(s, NAME("blk.%lld.time_mix_w0.weight"), 1, C, 1, 1, 1);
        for (int64_t i = 0; w0 && i < C; i++)
            w0[i] = (float)(-6.5 + 5.0 * (double)i / (double)(C > 1 ? C - 1 : 1));
        // LoRAs stay F32, as llama.cpp's quantizer leaves them
        matrix_ex(s, NAME("blk.%lld.time_mix_w1.weight"), C, Dw, 1, 0.02, 1, NULL, NULL);
        matrix_ex(s, NAME("blk.%lld.time_mix_w2.weight"), Dw, C, 1, 0.02, 1, NULL, NULL);
        fill(s, NAME("blk.%lld.time_mix_a0.weight"), C, 1, 0.0);
        matrix_ex(s, NAME("blk.%lld.time_mix_a1.weight"), C, Da, 1, 0.02, 1, NULL, NULL);
        matrix_ex(s, NAME("blk.%lld.time_mix_a2.weight"), Da, C, 1, 0.02, 1, NULL, NULL);
        fill(s, NAME("blk.%lld.time_mix_v0.weight"), C, 1, 1.0);
        matrix_ex(s, NAME("blk.%lld.time_mix_v1.weight"), C, Dv, 1, 0.02, 1, NULL, NULL);
        matrix_ex(s, NAME("blk.%lld.time_mix_v2.weight"), Dv, C, 1, 0.02, 1, NULL, NULL);
        matrix_ex(s, NAME("blk.%lld.time_mix_g1.weight"), C, Dg, 1, 0.02, 1, NULL, NULL);
        matrix_ex(s, NAME("blk.%lld.time_mix_g2.weight"), Dg, C, 1, 0.02, 1, NULL, NULL);
        float* mix = f32(s, NAME("blk.%lld.time_mix_lerp_fused.weight"), 4, C, 1, 1, 6);
        for (int64_t i = 0; mix && i < 6 * C; i++)
            mix[i] = (float)uniform(s);
        fill(s, NAME("blk.%lld.time_mix_k_k.weight"), C, 1, 0.85);
        fill(s, NAME("blk.%lld.time_mix_k_a.weight"), C, 1, 1.0);
        matrix_ex(s, NAME("blk.%lld.time_mix_r_k.weight"), C, 1, 1, 0.02, 1, NULL, NULL);
        weight(s, NAME("blk.%lld.time_mix_key.weight"), C, C, 1);
        weight(s, NAME("blk.%lld.time_mix_value.weight"), C, C, 1);
        weight(s, NAME("blk.%lld.time_mix_receptance.weight"), C, C, 1);
        weight(s, NAME("blk.%lld.time_mix_output.weight"), C, C, 1);
        fill(s, NAME("blk.%lld.time_mix_ln.weight"), C, 1, 1.0);
        fill(s, NAME("blk.%lld.time_mix_ln.bias"), C, 1, 0.0);
        f32_uniform(s, NAME("blk.%lld.channel_mix_lerp_k.weight"), 1, C, 1, 0.0, 1.0);
        weight(s, NAME("blk.%lld.channel_mix_key.weight"), C, F, 1);
        weight(s, NAME("blk.%lld.channel_mix_value.weight"), F, C, 1);
        progress(s, l, v[P_LAYER]);
    }
    head(s, v, 1.0, 1);
}

// ---------------------------------------------------------------------------------------
// mamba, mamba2, jamba (llama.cpp's layouts)

// The {arch}.ssm.* keys of Mamba-1 (time_step_rank R) and Mamba-2 (heads, groups).
static void ssm_keys(struct Synth* s, const int64_t* v, int64_t time_step_rank, int64_t n_group) {
    struct GgufWriter* w = &s->w;
    gguf_writer_set_u32(w, key(s, "ssm.conv_kernel"), (uint32_t)v[P_D_CONV]);
    gguf_writer_set_u32(w, key(s, "ssm.inner_size"), (uint32_t)v[P_D_INNER]);
    gguf_writer_set_u32(w, key(s, "ssm.state_size"), (uint32_t)v[P_D_STATE]);
    gguf_writer_set_u32(w, key(s, "ssm.time_step_rank"), (uint32_t)time_step_rank);
    if (n_group) gguf_writer_set_u32(w, key(s, "ssm.group_count"), (uint32_t)n_group);
}

// Mamba-1 mixer of layer l (jamba: with the dt/B/C RMSNorm weights).
static void mamba1_mixer(struct Synth* s, const int64_t* v, int64_t l, int jamba) {
    int64_t D = v[P_EMBD], di = v[P_D_INNER], ds = v[P_D_STATE], R = v[P_DT_RANK];
    char t[96], t2[96];
    weight(s, NAME("blk.%lld.ssm_in.weight"), D, 2 * di, 1);
    snprintf(t2, sizeof(t2), "blk.%lld.ssm_conv1d.bias", (long long)l);
    conv1d(s, NAME("blk.%lld.ssm_conv1d.weight"), t2, v[P_D_CONV], di);
    weight(s, NAME("blk.%lld.ssm_x.weight"), di, R + 2 * ds, 1);
    if (jamba) {
        fill(s, NAME("blk.%lld.ssm_dt_norm.weight"), R, 1, 1.0);
        fill(s, NAME("blk.%lld.ssm_b_norm.weight"), ds, 1, 1.0);
        fill(s, NAME("blk.%lld.ssm_c_norm.weight"), ds, 1, 1.0);
    }
    weight(s, NAME("blk.%lld.ssm_dt.weight"), R, di, 1);
    dt_bias(s, NAME("blk.%lld.ssm_dt.bias"), di);
    ssm_a_channels(s, NAME("blk.%lld.ssm_a"), ds, di, 0);
    fill(s, NAME("blk.%lld.ssm_d"), di, 1, 1.0);
    weight(s, NAME("blk.%lld.ssm_out.weight"), di, D, 1);
}

// Mamba-2 mixer of layer l; zamba2 keeps A_log.
static void mamba2_mixer(struct Synth* s, const int64_t* v, int64_t l, int store_a_log) {
    int64_t D = v[P_EMBD], di = v[P_D_INNER], ds = v[P_D_STATE], G = v[P_N_GROUP];
    int64_t nh = di / v[P_SSM_HEAD_DIM], conv_dim = di + 2 * G * ds;
    char t[96], t2[96];
    // in_proj rows: z (di), xBC (conv_dim), dt (nh)
    weight(s, NAME("blk.%lld.ssm_in.weight"), D, di + conv_dim + nh, 1);
    snprintf(t2, sizeof(t2), "blk.%lld.ssm_conv1d.bias", (long long)l);
    conv1d(s, NAME("blk.%lld.ssm_conv1d.weight"), t2, v[P_D_CONV], conv_dim);
    dt_bias(s, NAME("blk.%lld.ssm_dt.bias"), nh);
    ssm_a_heads(s, store_a_log ? NAME("blk.%lld.ssm_a_log") : NAME("blk.%lld.ssm_a"), nh,
                store_a_log);
    float* d = f32(s, NAME("blk.%lld.ssm_d"), 2, 1, nh, 1, 1);
    for (int64_t h = 0; d && h < nh; h++)
        d[h] = 1.0f;
    fill(s, NAME("blk.%lld.ssm_norm.weight"), di / G, G, 1.0);
    weight(s, NAME("blk.%lld.ssm_out.weight"), di, D, 1);
}

// Mamba and Mamba-2: a norm and a mixer per layer, no FFN.
static void synth_mamba_family(struct Synth* s, const int64_t* v, int mamba2) {
    struct GgufWriter* w = &s->w;
    gguf_writer_set_u32(w, key(s, "feed_forward_length"), 0);
    gguf_writer_set_u32(w, key(s, "attention.head_count"), 0);
    if (mamba2) {
        ssm_keys(s, v, v[P_D_INNER] / v[P_SSM_HEAD_DIM], v[P_N_GROUP]);
    } else {
        ssm_keys(s, v, v[P_DT_RANK], 0);
    }
    gguf_writer_set_f32(w, key(s, "attention.layer_norm_rms_epsilon"), 1e-5f);
    if (!mamba2) gguf_writer_set_bool(w, key(s, "ssm.dt_b_c_rms"), false);
    embedding(s, v);
    for (int64_t l = 0; l < v[P_LAYER] && !s->failed; l++) {
        char t[96];
        fill(s, NAME("blk.%lld.attn_norm.weight"), v[P_EMBD], 1, 1.0);
        if (mamba2)
            mamba2_mixer(s, v, l, 0);
        else
            mamba1_mixer(s, v, l, 0);
        progress(s, l, v[P_LAYER]);
    }
    head(s, v, 1.0, 0);
}

static void synth_mamba(struct Synth* s, const int64_t* v) {
    synth_mamba_family(s, v, 0);
}
static void synth_mamba2(struct Synth* s, const int64_t* v) {
    synth_mamba_family(s, v, 1);
}

static void synth_jamba(struct Synth* s, const int64_t* v) {
    int64_t D = v[P_EMBD], H = v[P_HEAD], hd = v[P_HEAD_DIM], F = v[P_FF], E = v[P_N_EXPERT];
    int64_t n_q = H * hd, n_kv = v[P_HEAD_KV] * hd;
    struct GgufWriter* w = &s->w;
    gguf_writer_set_u32(w, key(s, "feed_forward_length"), (uint32_t)F);
    gguf_writer_set_u32(w, key(s, "attention.head_count"), (uint32_t)H);
    kv_pattern(s, v);
    if (hd * H != D) {
        gguf_writer_set_u32(w, key(s, "attention.key_length"), (uint32_t)hd);
        gguf_writer_set_u32(w, key(s, "attention.value_length"), (uint32_t)hd);
    }
    ssm_keys(s, v, v[P_DT_RANK], 0);
    gguf_writer_set_f32(w, key(s, "attention.layer_norm_rms_epsilon"), 1e-6f);
    gguf_writer_set_u32(w, key(s, "expert_count"), (uint32_t)E);
    gguf_writer_set_u32(w, key(s, "expert_used_count"), (uint32_t)v[P_N_EXPERT_USED]);
    embedding(s, v);
    for (int64_t l = 0; l < v[P_LAYER] && !s->failed; l++) {
        char t[96];
        fill(s, NAME("blk.%lld.attn_norm.weight"), D, 1, 1.0);
        if (is_attn(v, l)) {
            weight(s, NAME("blk.%lld.attn_q.weight"), D, n_q, 1);
            weight(s, NAME("blk.%lld.attn_k.weight"), D, n_kv, 1);
            weight(s, NAME("blk.%lld.attn_v.weight"), D, n_kv, 1);
            weight(s, NAME("blk.%lld.attn_output.weight"), n_q, D, 1);
        } else {
            mamba1_mixer(s, v, l, 1);
        }
        fill(s, NAME("blk.%lld.ffn_norm.weight"), D, 1, 1.0);
        if (E > 1 && l % v[P_MOE_EVERY] == v[P_MOE_OFFSET]) {
            // the router stays F32 (convert keeps it so); experts stacked ne = [in, out, E]
            matrix_ex(s, NAME("blk.%lld.ffn_gate_inp.weight"), D, E, 1, 0.02, 1, NULL, NULL);
            weight(s, NAME("blk.%lld.ffn_gate_exps.weight"), D, F, E);
            weight(s, NAME("blk.%lld.ffn_up_exps.weight"), D, F, E);
            weight(s, NAME("blk.%lld.ffn_down_exps.weight"), F, D, E);
        } else {
            weight(s, NAME("blk.%lld.ffn_gate.weight"), D, F, 1);
            weight(s, NAME("blk.%lld.ffn_up.weight"), D, F, 1);
            weight(s, NAME("blk.%lld.ffn_down.weight"), F, D, 1);
        }
        progress(s, l, v[P_LAYER]);
    }
    head(s, v, 1.0, 0);
}

// ---------------------------------------------------------------------------------------
// recurrentgemma (our layout, docs/GGUF.md)

// bf16 rounding (nearest even), as the embedding scale is stored.
static double round_bf16(double x) {
    int ex;
    double m = frexp(x, &ex);
    return ldexp(nearbyint(ldexp(m, 8)), ex - 8);
}

static void synth_recurrentgemma(struct Synth* s, const int64_t* v) {
    int64_t D = v[P_EMBD], H = v[P_HEAD], hd = v[P_HEAD_DIM], F = v[P_FF], lru = v[P_D_INNER];
    int64_t n_q = H * hd, n_kv = v[P_HEAD_KV] * hd, bw = lru / H;
    struct GgufWriter* w = &s->w;
    gguf_writer_set_u32(w, key(s, "feed_forward_length"), (uint32_t)F);
    gguf_writer_set_u32(w, key(s, "attention.head_count"), (uint32_t)H);
    kv_pattern(s, v);
    gguf_writer_set_u32(w, key(s, "attention.key_length"), (uint32_t)hd);
    gguf_writer_set_u32(w, key(s, "attention.value_length"), (uint32_t)hd);
    gguf_writer_set_u32(w, key(s, "attention.sliding_window"), (uint32_t)v[P_WINDOW]);
    gguf_writer_set_f32(w, key(s, "attention.layer_norm_rms_epsilon"), 1e-6f);
    gguf_writer_set_f32(w, key(s, "rope.freq_base"), 10000.0f);
    // partial rotary factor 0.5, rounded down to an even count
    gguf_writer_set_u32(w, key(s, "rope.dimension_count"), (uint32_t)(hd / 2 & ~(int64_t)1));
    gguf_writer_set_u32(w, key(s, "ssm.conv_kernel"), (uint32_t)v[P_D_CONV]);
    gguf_writer_set_u32(w, key(s, "ssm.inner_size"), (uint32_t)lru);
    gguf_writer_set_f32(w, key(s, "final_logit_softcapping"), (float)v[P_SOFTCAP]);
    gguf_writer_set_f32(w, key(s, "embedding_scale"), (float)round_bf16(sqrt((double)D)));
    embedding(s, v);
    for (int64_t l = 0; l < v[P_LAYER] && !s->failed; l++) {
        char t[96], t2[96];
        fill(s, NAME("blk.%lld.attn_norm.weight"), D, 1, 0.0); // Gemma norms: (1 + w)
        if (is_attn(v, l)) {
            weight(s, NAME("blk.%lld.attn_q.weight"), D, n_q, 1);
            weight(s, NAME("blk.%lld.attn_k.weight"), D, n_kv, 1);
            weight(s, NAME("blk.%lld.attn_v.weight"), D, n_kv, 1);
            weight(s, NAME("blk.%lld.attn_output.weight"), n_q, D, 1);
            fill(s, NAME("blk.%lld.attn_output.bias"), D, 1, 0.0);
        } else {
            weight(s, NAME("blk.%lld.rg_y.weight"), D, lru, 1);
            fill(s, NAME("blk.%lld.rg_y.bias"), lru, 1, 0.0);
            weight(s, NAME("blk.%lld.rg_x.weight"), D, lru, 1);
            fill(s, NAME("blk.%lld.rg_x.bias"), lru, 1, 0.0);
            snprintf(t2, sizeof(t2), "blk.%lld.ssm_conv1d.bias", (long long)l);
            conv1d(s, NAME("blk.%lld.ssm_conv1d.weight"), t2, v[P_D_CONV], lru);
            weight(s, NAME("blk.%lld.rg_gate_x.weight"), bw, bw, H);
            fill(s, NAME("blk.%lld.rg_gate_x.bias"), bw, H, 0.0);
            weight(s, NAME("blk.%lld.rg_gate_a.weight"), bw, bw, H);
            fill(s, NAME("blk.%lld.rg_gate_a.bias"), bw, H, 0.0);
            // Griffin's init: with the recurrence gate at 1 the decay a = exp(-8 softplus(L))
            // is u ~ U(0.9, 0.999)
            float* lam = f32(s, NAME("blk.%lld.rg_param"), 1, lru, 1, 1, 1);
            for (int64_t i = 0; lam && i < lru; i++) {
                double u = 0.9 + 0.099 * uniform(s), sp = -log(u) / 8.0;
                lam[i] = (float)log(expm1(sp)); // softplus^-1
            }
            weight(s, NAME("blk.%lld.rg_out.weight"), lru, D, 1);
            fill(s, NAME("blk.%lld.rg_out.bias"), D, 1, 0.0);
        }
        fill(s, NAME("blk.%lld.ffn_norm.weight"), D, 1, 0.0);
        weight(s, NAME("blk.%lld.ffn_gate.weight"), D, F, 1);
        fill(s, NAME("blk.%lld.ffn_gate.bias"), F, 1, 0.0);
        weight(s, NAME("blk.%lld.ffn_up.weight"), D, F, 1);
        fill(s, NAME("blk.%lld.ffn_up.bias"), F, 1, 0.0);
        weight(s, NAME("blk.%lld.ffn_down.weight"), F, D, 1);
        fill(s, NAME("blk.%lld.ffn_down.bias"), D, 1, 0.0);
        progress(s, l, v[P_LAYER]);
    }
    head(s, v, 0.0, 0);
}

// ---------------------------------------------------------------------------------------
// zamba2, zamba (our layouts, docs/GGUF.md)

// The keys Zamba and Zamba2 share: heads, the hybrid pattern, the f64 epsilon.
static void zamba_keys(struct Synth* s, const int64_t* v) {
    struct GgufWriter* w = &s->w;
    gguf_writer_set_u32(w, key(s, "feed_forward_length"), (uint32_t)v[P_FF]);
    gguf_writer_set_u32(w, key(s, "attention.head_count"), (uint32_t)v[P_HEAD]);
    kv_pattern(s, v);
    gguf_writer_set_u32(w, key(s, "attention.key_length"), (uint32_t)v[P_HEAD_DIM]);
    gguf_writer_set_u32(w, key(s, "attention.value_length"), (uint32_t)v[P_HEAD_DIM]);
    gguf_writer_set_f64(w, key(s, "attention.layer_norm_rms_epsilon"), 1e-5);
    gguf_writer_set_u32(w, key(s, "shared_block_count"), (uint32_t)v[P_SHARED_BLOCKS]);
}

// Shared block b's attention and norms (its MLP differs: the caller writes it).
static void shared_attention(struct Synth* s, const int64_t* v, int64_t l) {
    int64_t D = v[P_EMBD], n_q = v[P_HEAD] * v[P_HEAD_DIM], n_kv = v[P_HEAD_KV] * v[P_HEAD_DIM];
    char t[96];
    fill(s, NAME("shared.%lld.attn_norm.weight"), 2 * D, 1, 1.0);
    weight(s, NAME("shared.%lld.attn_q.weight"), 2 * D, n_q, 1);
    weight(s, NAME("shared.%lld.attn_k.weight"), 2 * D, n_kv, 1);
    weight(s, NAME("shared.%lld.attn_v.weight"), 2 * D, n_kv, 1);
    weight(s, NAME("shared.%lld.attn_output.weight"), n_q, D, 1);
    fill(s, NAME("shared.%lld.ffn_norm.weight"), D, 1, 1.0);
}

static void synth_zamba2(struct Synth* s, const int64_t* v) {
    int64_t D = v[P_EMBD], F = v[P_FF], hd = v[P_HEAD_DIM], r = v[P_ADAPTER_RANK];
    int64_t n_q = v[P_HEAD] * hd, n_kv = v[P_HEAD_KV] * hd;
    int attn_ad = v[P_ATTN_ADAPTER] && r > 0, ffn_ad = v[P_FFN_ADAPTER] && r > 0;
    struct GgufWriter* w = &s->w;
    zamba_keys(s, v);
    gguf_writer_set_f32(w, key(s, "rope.freq_base"), 10000.0f);
    gguf_writer_set_u32(w, key(s, "rope.dimension_count"), (uint32_t)hd);
    ssm_keys(s, v, v[P_D_INNER] / v[P_SSM_HEAD_DIM], v[P_N_GROUP]);
    gguf_writer_set_u32(w, key(s, "adapter_rank"), (uint32_t)(attn_ad || ffn_ad ? r : 0));
    gguf_writer_set_bool(w, key(s, "attention.adapter"), attn_ad);
    gguf_writer_set_bool(w, key(s, "ffn.adapter"), ffn_ad);
    embedding(s, v);
    for (int64_t l = 0; l < v[P_LAYER] && !s->failed; l++) {
        char t[96];
        fill(s, NAME("blk.%lld.attn_norm.weight"), D, 1, 1.0);
        mamba2_mixer(s, v, l, 1);
        if (is_attn(v, l)) {
            weight(s, NAME("blk.%lld.shared_proj.weight"), D, D, 1);
            if (attn_ad) {
                weight(s, NAME("blk.%lld.shared_attn_q_a.weight"), 2 * D, r, 1);
                weight(s, NAME("blk.%lld.shared_attn_q_b.weight"), r, n_q, 1);
                weight(s, NAME("blk.%lld.shared_attn_k_a.weight"), 2 * D, r, 1);
                weight(s, NAME("blk.%lld.shared_attn_k_b.weight"), r, n_kv, 1);
                weight(s, NAME("blk.%lld.shared_attn_v_a.weight"), 2 * D, r, 1);
                weight(s, NAME("blk.%lld.shared_attn_v_b.weight"), r, n_kv, 1);
            }
            if (ffn_ad) {
                weight(s, NAME("blk.%lld.shared_ffn_gate_up_a.weight"), D, r, 1);
                weight(s, NAME("blk.%lld.shared_ffn_gate_up_b.weight"), r, 2 * F, 1);
            }
        }
        progress(s, l, v[P_LAYER]);
    }
    for (int64_t l = 0; l < v[P_SHARED_BLOCKS] && !s->failed; l++) {
        char t[96];
        shared_attention(s, v, l);
        weight(s, NAME("shared.%lld.ffn_gate_up.weight"), D, 2 * F, 1); // gate rows, then up
        weight(s, NAME("shared.%lld.ffn_down.weight"), F, D, 1);
    }
    head(s, v, 1.0, 0);
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

static void synth_zamba(struct Synth* s, const int64_t* v) {
    int64_t D = v[P_EMBD], F = v[P_FF], di = v[P_D_INNER], N = v[P_D_STATE], R = v[P_DT_RANK];
    int64_t nh = v[P_SSM_HEADS];
    const int64_t geom[4] = {nh, R, N, di / nh};
    zamba_keys(s, v);
    ssm_keys(s, v, R, nh);
    embedding(s, v);
    for (int64_t l = 0; l < v[P_LAYER] && !s->failed; l++) {
        char t[96], t2[96];
        fill(s, NAME("blk.%lld.attn_norm.weight"), D, 1, 1.0);
        weight(s, NAME("blk.%lld.ssm_in.weight"), D, 2 * di, 1);
        snprintf(t2, sizeof(t2), "blk.%lld.ssm_conv1d.bias", (long long)l);
        conv1d(s, NAME("blk.%lld.ssm_conv1d.weight"), t2, v[P_D_CONV], di);
        matrix_ex(s, NAME("blk.%lld.ssm_x.weight"), di, nh * (R + 2 * N), 1, 0.02, 0, zamba_x_cols,
                  geom);
        matrix_ex(s, NAME("blk.%lld.ssm_dt.weight"), nh * R, di, 1, 0.02, 0, zamba_dt_cols, geom);
        dt_bias(s, NAME("blk.%lld.ssm_dt.bias"), di);
        ssm_a_channels(s, NAME("blk.%lld.ssm_a_log"), N, di, 1);
        fill(s, NAME("blk.%lld.ssm_d"), di, 1, 1.0);
        weight(s, NAME("blk.%lld.ssm_out.weight"), di, D, 1);
        if (is_attn(v, l)) weight(s, NAME("blk.%lld.shared_proj.weight"), D, D, 1);
        progress(s, l, v[P_LAYER]);
    }
    for (int64_t l = 0; l < v[P_SHARED_BLOCKS] && !s->failed; l++) {
        char t[96];
        shared_attention(s, v, l);
        weight(s, NAME("shared.%lld.ffn_gate.weight"), D, F, 1);
        weight(s, NAME("shared.%lld.ffn_up.weight"), D, F, 1);
        weight(s, NAME("shared.%lld.ffn_down.weight"), F, D, 1);
    }
    head(s, v, 1.0, 0);
}

#undef NAME

typedef void (*SynthFn)(struct Synth* s, const int64_t* v);
static const SynthFn SYNTHS[ARCH_COUNT] = {
    [ARCH_LLAMA] = synth_llama,   [ARCH_RWKV7] = synth_rwkv7,
    [ARCH_JAMBA] = synth_jamba,   [ARCH_MAMBA] = synth_mamba,
    [ARCH_MAMBA2] = synth_mamba2, [ARCH_RECURRENTGEMMA] = synth_recurrentgemma,
    [ARCH_ZAMBA2] = synth_zamba2, [ARCH_ZAMBA] = synth_zamba,
};
_Static_assert(sizeof(SYNTHS) / sizeof(SYNTHS[0]) == ARCH_COUNT, "SYNTHS size");

// ---------------------------------------------------------------------------------------
// checks: every combination the loader would refuse, refused here first (a usage error)

static int bad(const char* msg) {
    fprintf(stderr, "mattn-ref synth: %s (see --help)\n", msg);
    return EXIT_USAGE;
}

static int check_shape(enum Arch a, const int64_t* v) {
    char m[200];
    unsigned bit = 1u << a;
    if ((bit & F_ATTN) && (v[P_HEAD] % v[P_HEAD_KV] != 0))
        return bad("--n-head must be a multiple of --n-head-kv");
    if ((bit & F_ATTN) && v[P_HEAD_DIM] <= 0)
        return bad("--n-embd / --n-head leaves no head dimension; give --head-dim");
    if ((a == ARCH_LLAMA || a == ARCH_ZAMBA2) && v[P_HEAD_DIM] % 2)
        return bad("--head-dim must be even (RoPE rotates pairs)");
    if (a == ARCH_RECURRENTGEMMA && v[P_HEAD_DIM] < 4)
        return bad("--head-dim must be at least 4 (RoPE on half of it)");
    if (a == ARCH_RWKV7 && v[P_EMBD] % v[P_HEAD_DIM] != 0)
        return bad("--n-embd must be a multiple of --head-dim (the WKV head size)");
    if ((bit & (F_JAMBA | F_RG | F_ZAMBA2 | F_ZAMBA)) && v[P_ATTN_OFFSET] >= v[P_ATTN_EVERY])
        return bad("--attn-offset must be below --attn-every");
    if (a == ARCH_JAMBA && v[P_MOE_OFFSET] >= v[P_MOE_EVERY])
        return bad("--moe-offset must be below --moe-every");
    if (a == ARCH_JAMBA && v[P_N_EXPERT_USED] > v[P_N_EXPERT])
        return bad("--n-expert-used must not exceed --n-expert");
    if ((a == ARCH_MAMBA2 || a == ARCH_ZAMBA2) &&
        (v[P_D_INNER] % v[P_SSM_HEAD_DIM] || (v[P_D_INNER] / v[P_SSM_HEAD_DIM]) % v[P_N_GROUP]))
        return bad("--d-inner must be a multiple of --ssm-head-dim, and the heads of --n-group");
    if (a == ARCH_ZAMBA && v[P_D_INNER] % v[P_SSM_HEADS])
        return bad("--d-inner must be a multiple of --ssm-heads");
    if (a == ARCH_RECURRENTGEMMA && v[P_D_INNER] % v[P_HEAD])
        return bad("--d-inner (the lru width) must be a multiple of --n-head (the gate blocks)");
    if (a == ARCH_RECURRENTGEMMA && v[P_WINDOW] < 1) return bad("--window must be at least 1");
    if (a == ARCH_ZAMBA2 && (v[P_ATTN_ADAPTER] || v[P_FFN_ADAPTER]) && v[P_ADAPTER_RANK] == 0)
        return bad("adapters need an --adapter-rank above 0");
    int64_t n_attn = 0;
    for (int64_t l = 0; (FLAGS[P_ATTN_EVERY].archs & bit) && l < v[P_LAYER]; l++)
        n_attn += is_attn(v, l);
    if (a == ARCH_JAMBA && n_attn == 0)
        return bad("no layer has attention (i % --attn-every == --attn-offset); jamba needs one");
    if ((a == ARCH_ZAMBA2 || a == ARCH_ZAMBA) && n_attn < v[P_SHARED_BLOCKS]) {
        snprintf(m, sizeof(m),
                 "%lld layers with the shared block (i %% --attn-every == --attn-offset) for "
                 "--shared-blocks %lld",
                 (long long)n_attn, (long long)v[P_SHARED_BLOCKS]);
        return bad(m);
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// entry point

int cmd_synth(int argc, char** argv) {
    const char *out = NULL, *arch_s = "llama", *type_name = "f32";
    int64_t given[P_COUNT];
    int is_given[P_COUNT] = {0};
    uint64_t seed = 0;
    struct Err e = {0};
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help();
            return 0;
        }
        if (!v) {
            fprintf(stderr, "mattn-ref synth: unknown or incomplete option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
        i++;
        int p = 0;
        while (p < P_COUNT && strcmp(a, FLAGS[p].name))
            p++;
        if (!strcmp(a, "-o"))
            out = v;
        else if (!strcmp(a, "--arch"))
            arch_s = v;
        else if (!strcmp(a, "--type"))
            type_name = v;
        else if (!strcmp(a, "--seed"))
            rc = cli_u64(a, v, &seed, &e);
        else if (p < P_COUNT) {
            rc = cli_int(a, v, FLAGS[p].lo, FLAGS[p].hi, &given[p], &e);
            is_given[p] = 1;
        } else {
            fprintf(stderr, "mattn-ref synth: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (rc) {
        fprintf(stderr, "mattn-ref synth: %s\n", e.msg);
        return EXIT_USAGE;
    }
    int arch = 0;
    while (arch < ARCH_COUNT && strcmp(arch_s, arch_name((enum Arch)arch)))
        arch++;
    if (arch == ARCH_COUNT) {
        fprintf(stderr,
                "mattn-ref synth: unknown --arch '%.40s' (llama rwkv7 jamba mamba mamba2 "
                "recurrentgemma zamba2 zamba)\n",
                arch_s);
        return EXIT_USAGE;
    }
    int type = quant_type_from_name(type_name);
    float probe[32] = {0};
    uint8_t scratch[64];
    if (!out || type < 0 ||
        quant_quantize_row((enum GgmlType)type, probe, scratch,
                           quant_traits((uint32_t)type)->block_size)) {
        fprintf(stderr, "mattn-ref synth: need -o OUT and a --type of f32 f16 bf16 q8_0 q4_0 q4_1 "
                        "q5_0 q5_1\n");
        return EXIT_USAGE;
    }
    int64_t v[P_COUNT];
    memcpy(v, DEFAULTS[arch], sizeof(v));
    for (int p = 0; p < P_COUNT; p++) {
        if (!is_given[p]) continue;
        if (!(FLAGS[p].archs & (1u << arch))) {
            fprintf(stderr, "mattn-ref synth: %s does not apply to --arch %s (see --help)\n",
                    FLAGS[p].name, arch_s);
            return EXIT_USAGE;
        }
        v[p] = given[p];
    }
    if (is_given[P_EXPAND] && is_given[P_D_INNER])
        return bad("give --expand or --d-inner, not both");
    resolve((enum Arch)arch, v);
    if ((rc = check_shape((enum Arch)arch, v))) return rc;

    struct Err oe = {0};
    if (cli_output("-o", out, &oe)) {
        fprintf(stderr, "mattn-ref: error: %s\n", oe.msg);
        return 1;
    }
    struct Synth s = {.type = (enum GgmlType)type, .arch = arch_name((enum Arch)arch)};
    gguf_writer_init(&s.w);
    sampler_rng_seed(&s.rng, seed);
    header(&s, v, type_name);
    SYNTHS[arch](&s, v);
    fprintf(stderr, "\n");
    rc = s.failed ? err_set(&e, ERR_NOMEM, "synth: out of memory")
                  : gguf_writer_write_file(&s.w, out, &e);
    gguf_writer_free(&s.w);
    for (int i = 0; i < s.n_blobs; i++)
        free(s.blobs[i]);
    free(s.blobs);
    if (rc) {
        fprintf(stderr, "mattn-ref: error: %s\n", e.msg);
        return 1;
    }
    struct stat st;
    long long bytes = stat(out, &st) == 0 ? (long long)st.st_size : -1;
    fprintf(stderr, "mattn-ref synth: wrote %s: %lld params, %lld bytes\n", out,
            (long long)s.n_params, bytes);
    return 0;
}
