// fuzz_tokenizer.c: libFuzzer / AFL++ target for shared/tokenizer.c. Small vocabularies of
// each kind (SPM with byte fallback and a user-defined token, byte-level BPE with a few merges
// under three pre-tokenizers, RWKV world with escaped byte tokens) are written with the GGUF
// writer and parsed once, on the first call; ../shared is never opened. Each input (its first
// byte holds the flags) is encoded and decoded by every one: ids must stay in the vocabulary
// and within tokenizer_bound, a too-small buffer must report the same count, streaming must
// give the bytes of tokenizer_decode, and decode(encode(s)) == s wherever that is promised.
// With bit 2 of the first byte set, the rest is instead a list of arbitrary u16 token ids
// (some just outside the vocabulary) decoded with every flag and streamed (decode_ids).
// Build: make build/fuzz/fuzz_tokenizer; run: build/fuzz/fuzz_tokenizer -max_total_time=120.
// AFL++ / replay: build with -DAFL_MAIN for a main() reading files (or stdin).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer.h"

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_tokenizer: check failed: %s (%s:%d)\n", #cond, __FILE__,         \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

// ---------------------------------------------------------------------------------------
// the vocabularies, built once

struct Vocab {
    const char* toks[512];
    uint64_t lens[512];
    int32_t types[512];
    float scores[512];
    int n;
    char store[512 * 16]; // backing for generated token strings
    size_t used;
};

static void add(struct Vocab* v, const char* s, size_t len, int type, float score) {
    char* p = v->store + v->used;
    memcpy(p, s, len);
    p[len] = '\0';
    v->used += len + 1;
    v->toks[v->n] = p;
    v->lens[v->n] = len;
    v->types[v->n] = type;
    v->scores[v->n] = score;
    v->n++;
}

static void adds(struct Vocab* v, const char* s, int type, float score) {
    add(v, s, strlen(s), type, score);
}

// Parses the writer's output into t; the bytes stay alive as long as the tokenizer (which
// copies what it needs, so the Gguf is freed at once).
static void finish(struct GgufWriter* w, struct Tokenizer* t) {
    struct Err e = {0};
    uint8_t* bytes = NULL;
    size_t size = 0;
    FUZZ_CHECK(gguf_writer_write_mem(w, &bytes, &size, &e) == 0);
    gguf_writer_free(w);
    struct Gguf g = {0};
    FUZZ_CHECK(gguf_parse(&g, bytes, size, &e) == 0);
    if (tokenizer_init(t, &g, &e) != 0) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", e.msg);
        abort();
    }
    gguf_free(&g);
    free(bytes);
}

static void build_spm(struct Tokenizer* t) {
    static struct Vocab v; // large: off the stack
    memset(&v, 0, sizeof(v));
    adds(&v, "<unk>", TOKEN_TYPE_UNKNOWN, 0);
    adds(&v, "<s>", TOKEN_TYPE_CONTROL, 0);
    adds(&v, "</s>", TOKEN_TYPE_CONTROL, 0);
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof(s), "<0x%02X>", b);
        adds(&v, s, TOKEN_TYPE_BYTE, 0);
    }
    // scores with ties, so that the leftmost rule matters
    const char* normal[] = {"\xe2\x96\x81",
                            "a",
                            "b",
                            "c",
                            "t",
                            "h",
                            "e",
                            "\xe2\x96\x81\x61",
                            "ab",
                            "\xe2\x96\x81\x61\x62",
                            "bc",
                            "abc",
                            "th",
                            "he",
                            "the",
                            "\xe2\x96\x81the",
                            "\xe2\x96\x81\xe2\x96\x81",
                            "\xc3\xa9",
                            "\xe2\x96\x81\xc3\xa9",
                            "\xf0\x9f\xa6\x99"};
    for (size_t i = 0; i < sizeof(normal) / sizeof(normal[0]); i++) {
        adds(&v, normal[i], TOKEN_TYPE_NORMAL, -(float)(i % 5));
    }
    adds(&v, "<|user|>", TOKEN_TYPE_USER_DEFINED, 0);
    adds(&v, "unused", TOKEN_TYPE_UNUSED, 0);
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_str(&w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(&w, "tokenizer.ggml.tokens", v.toks, v.lens, (uint64_t)v.n);
    gguf_writer_set_arr(&w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, v.scores, (uint64_t)v.n);
    gguf_writer_set_arr(&w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v.types, (uint64_t)v.n);
    gguf_writer_set_u32(&w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(&w, "tokenizer.ggml.eos_token_id", 2);
    gguf_writer_set_u32(&w, "tokenizer.ggml.unknown_token_id", 0);
    finish(&w, t);
}

// GPT-2's byte -> code point map (the 256 byte tokens are written in this alphabet).
static size_t byte_char(int b, char* out) {
    int n = 0, cp = b;
    for (int c = 0; c < 256; c++) {
        int keep = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
        if (c == b) {
            cp = keep ? c : 256 + n;
            break;
        }
        if (!keep) n++;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static void build_bpe(struct Tokenizer* t, const char* pre) {
    static struct Vocab v;
    memset(&v, 0, sizeof(v));
    for (int b = 0; b < 256; b++) {
        char s[4];
        add(&v, s, byte_char(b, s), TOKEN_TYPE_NORMAL, 0);
    }
    // "Ġ" is the space; "Ã©" is é's two bytes
    const char* merges[] = {
        "\xc4\xa0 t",        "h e", "\xc4\xa0t he",      "a b",        "ab c",
        "\xc4\xa0 \xc4\xa0", "1 2", "\xc3\x83 \xc2\xa9", "\xc4\xa0 a", "\xc4\xa0\x61 b"};
    const char* merged[] = {
        "\xc4\xa0t",        "he", "\xc4\xa0the",      "ab",           "abc",
        "\xc4\xa0\xc4\xa0", "12", "\xc3\x83\xc2\xa9", "\xc4\xa0\x61", "\xc4\xa0\x61\x62"};
    for (size_t i = 0; i < sizeof(merged) / sizeof(merged[0]); i++) {
        adds(&v, merged[i], TOKEN_TYPE_NORMAL, 0);
    }
    adds(&v, "<|endoftext|>", TOKEN_TYPE_CONTROL, 0);
    adds(&v, "<tool>", TOKEN_TYPE_USER_DEFINED, 0);
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_str(&w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(&w, "tokenizer.ggml.pre", pre);
    gguf_writer_set_arr_str(&w, "tokenizer.ggml.tokens", v.toks, v.lens, (uint64_t)v.n);
    gguf_writer_set_arr(&w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v.types, (uint64_t)v.n);
    gguf_writer_set_arr_str(&w, "tokenizer.ggml.merges", merges, NULL,
                            sizeof(merges) / sizeof(merges[0]));
    gguf_writer_set_u32(&w, "tokenizer.ggml.bos_token_id", (uint32_t)v.n - 2);
    gguf_writer_set_u32(&w, "tokenizer.ggml.eos_token_id", (uint32_t)v.n - 2);
    finish(&w, t);
}

static void build_rwkv(struct Tokenizer* t) {
    static struct Vocab v;
    memset(&v, 0, sizeof(v));
    adds(&v, "<s>", TOKEN_TYPE_CONTROL, 0);
    for (int b = 1; b < 256; b++) { // as the tiny RWKV-7 model: no token for byte 0
        char s[8];
        if (b == '\t')
            snprintf(s, sizeof(s), "\\t");
        else if (b == '\n')
            snprintf(s, sizeof(s), "\\n");
        else if (b == '\r')
            snprintf(s, sizeof(s), "\\r");
        else if (b == '\\' || b == '\'')
            snprintf(s, sizeof(s), "\\%c", b);
        else if (b >= 0x20 && b < 0x7f)
            snprintf(s, sizeof(s), "%c", b);
        else
            snprintf(s, sizeof(s), "\\x%02x", b);
        adds(&v, s, TOKEN_TYPE_NORMAL, 0);
    }
    const char* multi[] = {"ab", "abc", "\\n\\n", "\\xe4\\xb8", "the", " the", "\\\\x", "\\'s"};
    for (size_t i = 0; i < sizeof(multi) / sizeof(multi[0]); i++) {
        adds(&v, multi[i], TOKEN_TYPE_NORMAL, 0);
    }
    struct GgufWriter w;
    gguf_writer_init(&w);
    gguf_writer_set_str(&w, "tokenizer.ggml.model", "rwkv");
    gguf_writer_set_arr_str(&w, "tokenizer.ggml.tokens", v.toks, v.lens, (uint64_t)v.n);
    gguf_writer_set_arr(&w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v.types, (uint64_t)v.n);
    finish(&w, t);
}

enum { V_SPM, V_BPE_GPT2, V_BPE_LLAMA3, V_BPE_DEFAULT, V_RWKV, V_COUNT };
static struct Tokenizer g_tok[V_COUNT];
static int g_ready;

static void setup(void) {
    build_spm(&g_tok[V_SPM]);
    build_bpe(&g_tok[V_BPE_GPT2], "gpt-2");
    build_bpe(&g_tok[V_BPE_LLAMA3], "llama-bpe");
    build_bpe(&g_tok[V_BPE_DEFAULT], "default");
    build_rwkv(&g_tok[V_RWKV]);
    g_ready = 1;
}

// ---------------------------------------------------------------------------------------
// one input

static int contains(const char* s, size_t n, const char* pat) {
    size_t k = strlen(pat);
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(s + i, pat, k) == 0) return 1;
    }
    return 0;
}

static void run_one(struct Tokenizer* t, int which, const char* text, size_t len, int add_bos,
                    int parse_special) {
    size_t bound = tokenizer_bound(len);
    int32_t* ids = malloc(bound * sizeof(int32_t));
    FUZZ_CHECK(ids != NULL);
    struct Err e = {0};
    int n = 0;
    int rc = tokenizer_encode(t, text, len, add_bos, parse_special, ids, (int)bound, &n, &e);
    if (rc) {
        // only RWKV may refuse (byte 0 has no token and there is no unknown token)
        FUZZ_CHECK(which == V_RWKV && rc == ERR_UNSUPPORTED && memchr(text, 0, len));
        free(ids);
        return;
    }
    FUZZ_CHECK((size_t)n <= bound);
    for (int i = 0; i < n; i++)
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < t->n_vocab);
    if (n > 1) { // a short buffer: same count, ERR_ARG
        int m = 0;
        int32_t* small = malloc((size_t)(n / 2) * sizeof(int32_t));
        FUZZ_CHECK(tokenizer_encode(t, text, len, add_bos, parse_special, small, n / 2, &m, &e) ==
                   ERR_ARG);
        FUZZ_CHECK(m == n);
        free(small);
    }

    int skip = add_bos && t->add_bos; // leave BOS out of the round trip
    FUZZ_CHECK(!skip || ids[0] == t->bos_id);
    int flags = TOKENIZER_DECODE_STRIP_SPACE;
    size_t cap = (size_t)n * t->max_piece + 1;
    char* out = malloc(cap);
    size_t dlen = 0;
    FUZZ_CHECK(tokenizer_decode(t, ids + skip, n - skip, flags, out, cap, &dlen, &e) == 0);
    // SPM is exact unless a space prefix goes after a special token or the text holds a
    // literal "▁" (U+2581), which SentencePiece cannot tell from an escaped space
    int exact = which != V_SPM || (!parse_special && !contains(text, len, "<|user|>") &&
                                   !contains(text, len, "\xe2\x96\x81"));
    if (exact && (dlen != len || memcmp(out, text, len) != 0)) {
        fprintf(stderr, "fuzz_tokenizer: vocab %d: decode(encode(s)) != s (%zu vs %zu bytes)\n",
                which, dlen, len);
        abort();
    }

    // streaming gives the same bytes
    struct TokenizerStream st;
    tokenizer_stream_init(&st, flags);
    char* acc = malloc(dlen + 8);
    char piece[64];
    size_t k = 0;
    FUZZ_CHECK(t->max_piece + 4 <= sizeof(piece));
    for (int i = skip; i < n; i++) {
        size_t m = 0;
        FUZZ_CHECK(tokenizer_stream_push(t, &st, ids[i], piece, sizeof(piece), &m, &e) == 0);
        FUZZ_CHECK(k + m <= dlen);
        memcpy(acc + k, piece, m);
        k += m;
    }
    k += tokenizer_stream_flush(&st, acc + k, dlen + 8 - k);
    FUZZ_CHECK(k == dlen && memcmp(acc, out, dlen) == 0);

    // the other flags and the escape helper only must not crash
    FUZZ_CHECK(tokenizer_decode(t, ids, n, TOKENIZER_DECODE_SKIP_SPECIAL, out, cap, &dlen, &e) ==
               0);
    char esc[256];
    size_t need = tokenizer_escape(out, dlen, esc, sizeof(esc));
    FUZZ_CHECK(need >= dlen && strlen(esc) == (need < sizeof(esc) ? need : sizeof(esc) - 1));
    free(acc);
    free(out);
    free(ids);
}

// Decode of arbitrary ids (not only encode's output): the input read as little-endian u16
// ids, reduced into [-8, n_vocab + 8) so that ids just outside the vocabulary occur too. Every
// flag combination must succeed on in-range ids and fail with ERR_ARG on any other; the
// stream must give the bytes of tokenizer_decode; a buffer one byte short must say ERR_ARG
// and report the size needed.
static void decode_ids(struct Tokenizer* t, const uint8_t* p, size_t len) {
    int n = (int)(len / 2);
    int32_t* ids = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    FUZZ_CHECK(ids != NULL);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        int v = p[2 * i] | p[2 * i + 1] << 8;
        ids[i] = v % (t->n_vocab + 16) - 8;
        bad |= ids[i] < 0 || ids[i] >= t->n_vocab;
    }
    size_t cap = (size_t)n * t->max_piece + 8, dlen = 0;
    char* out = malloc(cap);
    FUZZ_CHECK(out != NULL);
    struct Err e = {0};
    for (int flags = 0; flags < 4; flags++) {
        int rc = tokenizer_decode(t, ids, n, flags, out, cap, &dlen, &e);
        if (bad) {
            FUZZ_CHECK(rc == ERR_ARG);
            continue;
        }
        FUZZ_CHECK(rc == 0 && dlen <= cap);
        if (dlen > 0) {
            size_t need = 0;
            FUZZ_CHECK(tokenizer_decode(t, ids, n, flags, out, dlen - 1, &need, &e) == ERR_ARG);
            FUZZ_CHECK(need == dlen);
            FUZZ_CHECK(tokenizer_decode(t, ids, n, flags, out, cap, &dlen, &e) == 0);
        }
        struct TokenizerStream st;
        tokenizer_stream_init(&st, flags);
        char* acc = malloc(dlen + 8);
        char piece[64];
        size_t k = 0;
        for (int i = 0; i < n; i++) {
            size_t m = 0;
            FUZZ_CHECK(tokenizer_stream_push(t, &st, ids[i], piece, sizeof(piece), &m, &e) == 0);
            FUZZ_CHECK(k + m <= dlen);
            memcpy(acc + k, piece, m);
            k += m;
        }
        k += tokenizer_stream_flush(&st, acc + k, dlen + 8 - k);
        FUZZ_CHECK(k == dlen && memcmp(acc, out, dlen) == 0);
        free(acc);
    }
    free(out);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!g_ready) setup();
    if (size == 0 || size > 4096) return 0;
    int flags = data[0];
    // an exact-size copy of the text, so that ASan sees a read one past its end
    size_t len = size - 1;
    char* text = malloc(len ? len : 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data + 1, len);
    for (int v = 0; v < V_COUNT; v++) {
        // flag bit 2: the rest of the input is token ids to decode, not text to encode
        if (flags & 4)
            decode_ids(&g_tok[v], (const uint8_t*)text, len);
        else
            run_one(&g_tok[v], v, text, len, flags & 1, (flags >> 1) & 1);
    }
    free(text);
    return 0;
}

#include "afl_main.h"
