// fuzz_pipeline.c: libFuzzer / AFL++ target for the whole loading pipeline: bytes ->
// gguf_parse -> model_load (config, tensor binding by name, type and shape) -> graph_build ->
// tokenizer_init (+ a short encode/decode when the file has a vocabulary) -> for a tiny model
// one FP64 forward pass of two tokens (ref_init with one thread, ref_forward, the logits read)
// -> free. Each input is copied into an exact-size malloc, so ASan sees any read past its end.
// Size limits keep each input fast: the forward runs only under MAX_FWD_ELEMS weight elements
// and MAX_FWD_LAYERS layers. Seeds: fuzz/corpus/pipeline/ (tiny models `mattn-ref synth`
// writes; fuzz/make_corpus.sh). Build: make build/fuzz/fuzz_pipeline; AFL++: -DAFL_MAIN.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "graph.h"
#include "model.h"
#include "ref.h"
#include "tokenizer.h"

#define MAX_FWD_ELEMS 200000
#define MAX_FWD_LAYERS 4
#define MAX_FWD_VOCAB 4096
#define MAX_FWD_EMBD 512

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_pipeline: check failed: %s (%s:%d)\n", #cond, __FILE__,          \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static volatile double g_sink;

// An error must carry its code and one line of text.
static void check_err(int rc, const struct Err* e) {
    FUZZ_CHECK(rc < 0 && e->code == rc && e->msg[0] != 0);
    FUZZ_CHECK(strchr(e->msg, '\n') == NULL);
}

static void tokenize_a_little(const struct Gguf* g) {
    struct Tokenizer t;
    struct Err e = {0};
    int rc = tokenizer_init(&t, g, &e);
    if (rc) {
        check_err(rc, &e);
        return;
    }
    static const char text[] = "Once upon a time, \xff\xc3 <s> 12 caf\xc3\xa9";
    size_t len = sizeof(text) - 1, bound = tokenizer_bound(len);
    int32_t* ids = malloc(bound * sizeof(int32_t));
    int n = 0;
    if (ids && tokenizer_encode(&t, text, len, 1, 1, ids, (int)bound, &n, &e) == 0) {
        FUZZ_CHECK(n >= 0 && (size_t)n <= bound);
        for (int i = 0; i < n; i++)
            FUZZ_CHECK(ids[i] >= 0 && ids[i] < t.n_vocab);
        size_t cap = (size_t)n * (size_t)t.max_piece + 1, dlen = 0;
        char* out = malloc(cap);
        if (out) (void)tokenizer_decode(&t, ids, n, 0, out, cap, &dlen, &e);
        FUZZ_CHECK(!out || dlen <= cap);
        free(out);
    }
    free(ids);
    tokenizer_free(&t);
}

static int tiny(const struct Model* m) {
    const struct Config* c = &m->config;
    int64_t elems = 0;
    for (int64_t i = 0; i < m->gguf.n_tensors; i++) {
        elems += m->gguf.tensors[i].n_elements;
        if (elems > MAX_FWD_ELEMS) return 0;
    }
    return c->n_layer <= MAX_FWD_LAYERS && c->n_vocab <= MAX_FWD_VOCAB &&
           c->n_embd <= MAX_FWD_EMBD && c->n_vocab >= 2;
}

static void forward(const struct Model* m) {
    struct RefEngine r = {0};
    struct Err e = {0};
    int rc = ref_init(&r, m, 4, 2, 1, &e);
    if (rc) {
        check_err(rc, &e);
        ref_free(&r);
        return;
    }
    const int32_t ids[2] = {1 % m->config.n_vocab, m->config.n_vocab - 1};
    rc = ref_forward(&r, ids, 2, 0, &e);
    if (rc) {
        check_err(rc, &e);
    } else {
        double s = 0;
        for (int t = 0; t < 2; t++) {
            const double* l = ref_logits(&r, t);
            for (int i = 0; i < m->config.n_vocab; i++)
                s += l[i];
        }
        g_sink = s;
    }
    ref_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    uint8_t* buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    struct Gguf g;
    struct Err e = {0};
    int rc = gguf_parse(&g, buf, size, &e);
    if (rc) {
        check_err(rc, &e);
        free(buf);
        return 0;
    }
    tokenize_a_little(&g);
    struct Model m;
    rc = model_load(&m, &g, &e); // takes g over, on failure too
    if (rc) {
        check_err(rc, &e);
        free(buf);
        return 0;
    }
    struct Graph gr;
    rc = graph_build(&gr, &m, &e);
    if (rc) {
        check_err(rc, &e);
    } else {
        FUZZ_CHECK(gr.n_ops > 0);
        graph_free(&gr);
        if (tiny(&m)) forward(&m);
    }
    model_free(&m);
    free(buf);
    return 0;
}

#include "afl_main.h"
