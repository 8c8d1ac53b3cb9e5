// synth_cmd.c: `mattn-ref synth`: a seeded random-weight GGUF of any size, for benchmarks and
// tests at shapes no real file here has. Weights ~ N(0, 0.02) (Box-Muller over the sampler's
// xoshiro256** stream, so a seed gives the same file on any machine), norm weights 1, a
// placeholder vocabulary (prompts are given as ids). Matrices are written in --type; 1-D
// tensors stay F32. Only llama's shapes for now; the other families follow with their engines.
#include "synth_cmd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "quant.h"
#include "sampler.h"

static const char HELP[] =
    "usage: mattn-ref synth -o OUT.gguf --arch llama [--n-embd 2048] [--n-layer 22] [--n-head 32]\n"
    "                       [--n-head-kv 4] [--n-ff 5632] [--n-vocab 32000] [--n-ctx 2048]\n"
    "                       [--type f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1] [--seed S]\n"
    "Writes a model with seeded random weights (N(0, 0.02), norms 1) and a placeholder\n"
    "vocabulary. The defaults are TinyLlama-1.1B's shape.\n";

struct Synth {
    struct GgufWriter w;
    struct SamplerRng rng;
    enum GgmlType type;
    void** blobs;  // every tensor's bytes, freed at the end
    int n_blobs, cap_blobs;
    int failed;
};

static double normal(struct SamplerRng* rng) {
    // Box-Muller; u1 in (0, 1] so the log is finite.
    double u1 = 1.0 - sampler_rng_uniform(rng), u2 = sampler_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
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

// A (rows, cols) matrix stored as rows of cols elements (GGUF ne = [cols, rows]).
static void matrix(struct Synth* s, const char* name, int64_t cols, int64_t rows) {
    enum GgmlType t = s->type;
    if (cols % quant_traits(t)->block_size != 0) t = GGML_TYPE_F32;
    size_t rb = quant_row_size(t, cols);
    uint8_t* data = keep(s, rb * (size_t)rows);
    float* row = malloc((size_t)cols * sizeof(float));
    if (!data || !row) {
        free(row);
        s->failed = 1;
        return;
    }
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < cols; i++) row[i] = (float)(0.02 * normal(&s->rng));
        quant_quantize_row(t, row, data + (size_t)r * rb, cols);
    }
    free(row);
    gguf_writer_add_tensor(&s->w, name, t, 2, (const int64_t[]){cols, rows}, data, 0);
}

static void ones(struct Synth* s, const char* name, int64_t n) {
    float* data = keep(s, (size_t)n * sizeof(float));
    if (!data) {
        s->failed = 1;
        return;
    }
    for (int64_t i = 0; i < n; i++) data[i] = 1.0f;
    gguf_writer_add_tensor(&s->w, name, GGML_TYPE_F32, 1, (const int64_t[]){n}, data, 0);
}

int cmd_synth(int argc, char** argv) {
    const char *out = NULL, *arch = "llama", *type_name = "f32";
    int64_t n_embd = 2048, n_layer = 22, n_head = 32, n_head_kv = 4, n_ff = 5632, n_vocab = 32000,
            n_ctx = 2048;
    uint64_t seed = 0;
    struct Err e = {0};
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(HELP, stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "mattn-ref synth: unknown or incomplete option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--arch")) arch = v;
        else if (!strcmp(a, "--type")) type_name = v;
        else if (!strcmp(a, "--seed")) rc = cli_u64(a, v, &seed, &e);
        else if (!strcmp(a, "--n-embd")) rc = cli_int(a, v, 1, 1 << 16, &n_embd, &e);
        else if (!strcmp(a, "--n-layer")) rc = cli_int(a, v, 1, 512, &n_layer, &e);
        else if (!strcmp(a, "--n-head")) rc = cli_int(a, v, 1, 1024, &n_head, &e);
        else if (!strcmp(a, "--n-head-kv")) rc = cli_int(a, v, 1, 1024, &n_head_kv, &e);
        else if (!strcmp(a, "--n-ff")) rc = cli_int(a, v, 1, 1 << 20, &n_ff, &e);
        else if (!strcmp(a, "--n-vocab")) rc = cli_int(a, v, 1, 1 << 22, &n_vocab, &e);
        else if (!strcmp(a, "--n-ctx")) rc = cli_int(a, v, 1, 1 << 24, &n_ctx, &e);
        else {
            fprintf(stderr, "mattn-ref synth: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (rc) {
        fprintf(stderr, "mattn-ref synth: %s\n", e.msg);
        return EXIT_USAGE;
    }
    int type = quant_type_from_name(type_name);
    float probe[32] = {0};
    uint8_t scratch[64];
    if (!out || strcmp(arch, "llama") != 0 || type < 0 ||
        quant_quantize_row((enum GgmlType)type, probe, scratch, quant_traits((uint32_t)type)->block_size)) {
        fprintf(stderr, "mattn-ref synth: need -o OUT, --arch llama (only llama for now) and a --type of "
                        "f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1\n");
        return EXIT_USAGE;
    }
    if (n_embd % n_head || n_head % n_head_kv) {
        fprintf(stderr, "mattn-ref synth: --n-embd must divide by --n-head, and --n-head by --n-head-kv\n");
        return EXIT_USAGE;
    }
    struct Err oe = {0};
    if (cli_output("-o", out, &oe)) {
        fprintf(stderr, "mattn-ref: error: %s\n", oe.msg);
        return 1;
    }
    struct Synth s = {.type = (enum GgmlType)type};
    gguf_writer_init(&s.w);
    sampler_rng_seed(&s.rng, seed);
    int64_t head_dim = n_embd / n_head, n_kv = n_head_kv * head_dim;
    struct GgufWriter* w = &s.w;
    char name[96];
    snprintf(name, sizeof(name), "synth-llama-%lldL-%lld-%.16s", (long long)n_layer, (long long)n_embd, type_name);
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", name);
    gguf_writer_set_u32(w, "llama.block_count", (uint32_t)n_layer);
    gguf_writer_set_u32(w, "llama.context_length", (uint32_t)n_ctx);
    gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)n_embd);
    gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)n_ff);
    gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)n_head);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)n_head_kv);
    gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)head_dim);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_writer_set_u32(w, "llama.vocab_size", (uint32_t)n_vocab);
    // Placeholder vocabulary, as llama.cpp's own test models write it.
    gguf_writer_set_str(w, "tokenizer.ggml.model", "test");
    char** toks = malloc((size_t)n_vocab * sizeof(char*));
    int32_t* types = malloc((size_t)n_vocab * sizeof(int32_t));
    float* scores = calloc((size_t)n_vocab, sizeof(float));
    for (int64_t i = 0; toks && types && i < n_vocab; i++) {
        toks[i] = malloc(32);
        if (toks[i]) snprintf(toks[i], 32, "tok_%lld", (long long)i);
        types[i] = 1;
    }
    if (toks && types && scores) {
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char* const*)toks, NULL, (uint64_t)n_vocab);
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (uint64_t)n_vocab);
        gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (uint64_t)n_vocab);
    } else {
        s.failed = 1;
    }
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    for (int64_t i = 0; toks && i < n_vocab; i++) free(toks[i]);
    free(toks);
    free(types);
    free(scores);

    matrix(&s, "token_embd.weight", n_embd, n_vocab);
    for (int64_t l = 0; l < n_layer && !s.failed; l++) {
        char t[64];
#define NAME(x) (snprintf(t, sizeof(t), "blk.%lld." x ".weight", (long long)l), t)
        ones(&s, NAME("attn_norm"), n_embd);
        matrix(&s, NAME("attn_q"), n_embd, n_embd);
        matrix(&s, NAME("attn_k"), n_embd, n_kv);
        matrix(&s, NAME("attn_v"), n_embd, n_kv);
        matrix(&s, NAME("attn_output"), n_embd, n_embd);
        ones(&s, NAME("ffn_norm"), n_embd);
        matrix(&s, NAME("ffn_gate"), n_embd, n_ff);
        matrix(&s, NAME("ffn_up"), n_embd, n_ff);
        matrix(&s, NAME("ffn_down"), n_ff, n_embd);
#undef NAME
        fprintf(stderr, "\rmattn-ref synth: layer %lld/%lld", (long long)l + 1, (long long)n_layer);
    }
    ones(&s, "output_norm.weight", n_embd);
    matrix(&s, "output.weight", n_embd, n_vocab);
    fprintf(stderr, "\n");
    rc = s.failed ? err_set(&e, ERR_NOMEM, "synth: out of memory") : gguf_writer_write_file(w, out, &e);
    gguf_writer_free(w);
    for (int i = 0; i < s.n_blobs; i++) free(s.blobs[i]);
    free(s.blobs);
    if (rc) {
        fprintf(stderr, "mattn-ref: error: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "mattn-ref synth: wrote %s\n", out);
    return 0;
}
