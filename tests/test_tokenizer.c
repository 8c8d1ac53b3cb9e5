// test_tokenizer.c: shared/tokenizer against references made without this code:
// llama.cpp's vocab test vectors (../shared/vocab/ggml-vocab-*.gguf.{inp,out}, ids without
// BOS, split as llama.cpp's tests/test-tokenizer-0.cpp splits them), the RWKV world reference
// tokenizer's expected ids (a GGUF built here from rwkv_vocab_v20230424.txt the way
// llama.cpp's convert_hf_to_gguf.py writes it), and round trips decode(encode(s)) == s.
// Run: make build/tests/test_tokenizer && MATTN_SHARED=../shared build/tests/test_tokenizer
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "gguf.h"
#include "tokenizer.h"

// ---------------------------------------------------------------------------------------
// helpers

// Opens ../shared/rel and reads its tokenizer; 1 when done, 0 when the file is absent.
static int open_tokenizer(const char* rel, struct Gguf* g, struct Tokenizer* t) {
    char path[1024];
    if (!shared_path(path, sizeof(path), rel)) return 0;
    struct Err e = {0};
    int rc = gguf_open(g, path, &e);
    if (rc) fail_msg("%s: %s", rel, e.msg);
    rc = tokenizer_init(t, g, &e);
    if (rc) fail_msg("%s: %s", rel, e.msg);
    return 1;
}

// Encodes s into a malloc'ed array (*n ids); fails the test on error.
static int32_t* encode(struct Tokenizer* t, const char* s, size_t len, int add_bos,
                       int parse_special, int* n) {
    size_t cap = tokenizer_bound(len);
    int32_t* ids = malloc(cap * sizeof(int32_t));
    assert_non_null(ids);
    struct Err e = {0};
    int rc = tokenizer_encode(t, s, len, add_bos, parse_special, ids, (int)cap, n, &e);
    if (rc) fail_msg("encode: %s", e.msg);
    return ids;
}

// Decodes ids into a malloc'ed NUL-terminated string (*len bytes).
static char* decode(const struct Tokenizer* t, const int32_t* ids, int n, int flags, size_t* len) {
    size_t cap = (size_t)n * t->max_piece + 1;
    char* out = malloc(cap);
    assert_non_null(out);
    struct Err e = {0};
    int rc = tokenizer_decode(t, ids, n, flags, out, cap, len, &e);
    if (rc) fail_msg("decode: %s", e.msg);
    out[*len] = '\0';
    return out;
}

static void print_escaped(const char* label, const char* s, size_t len) {
    char buf[512];
    tokenizer_escape(s, len, buf, sizeof(buf));
    printf("%s'%s'\n", label, buf);
}

static void print_ids(const char* label, const int32_t* ids, int n) {
    printf("%s", label);
    for (int i = 0; i < n; i++)
        printf(" %d", ids[i]);
    printf("\n");
}

// Runs every test string of vocab/NAME.gguf.inp against the ids of NAME.gguf.out. The strings
// are separated by "\n__ggml_vocab_test__\n" (the file ends with one); encoded without BOS
// and with parse_special off, as test-tokenizer-0 does. Also checks that decoding gives the
// string back (SPM: with the leading space stripped).
static void run_vectors(const char* name) {
    char rel[256], path[1024];
    snprintf(rel, sizeof(rel), "vocab/%s.gguf", name);
    struct Gguf g = {0};
    struct Tokenizer t = {0};
    if (!open_tokenizer(rel, &g, &t)) {
        skip();
        return;
    }
    size_t n_inp, n_out;
    snprintf(rel, sizeof(rel), "vocab/%s.gguf.inp", name);
    uint8_t* inp = shared_path(path, sizeof(path), rel) ? read_file(path, &n_inp) : NULL;
    snprintf(rel, sizeof(rel), "vocab/%s.gguf.out", name);
    uint8_t* out = shared_path(path, sizeof(path), rel) ? read_file(path, &n_out) : NULL;
    if (!inp || !out) {
        free(inp), free(out), tokenizer_free(&t), gguf_free(&g);
        skip();
        return;
    }
    const char* sep = "\n__ggml_vocab_test__\n";
    size_t sep_len = strlen(sep);
    char* s = (char*)inp;
    char* s_end = s + n_inp;
    char* line = (char*)out;
    int n_tests = 0, n_pass = 0, n_round = 0;
    while (s < s_end && *line) {
        char* next = strstr(s, sep); // inp is NUL-terminated by read_file
        size_t len = next ? (size_t)(next - s) : (size_t)(s_end - s);
        char* eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        int32_t want[1024];
        int n_want = 0;
        for (char* p = line; *p;) {
            char* q;
            long v = strtol(p, &q, 10);
            if (q == p) break;
            assert_true(n_want < 1024);
            want[n_want++] = (int32_t)v;
            p = q;
        }
        int n;
        int32_t* ids = encode(&t, s, len, 0, 0, &n);
        int ok = n == n_want && memcmp(ids, want, (size_t)n * sizeof(int32_t)) == 0;
        if (!ok) {
            printf("%s: test %d mismatch\n", name, n_tests);
            print_escaped("  text: ", s, len);
            print_ids("  want:", want, n_want);
            print_ids("  got: ", ids, n);
        }
        size_t dlen;
        char* back = decode(&t, ids, n, TOKENIZER_DECODE_STRIP_SPACE, &dlen);
        int round = dlen == len && memcmp(back, s, len) == 0;
        if (!round) {
            printf("%s: test %d does not round-trip\n", name, n_tests);
            print_escaped("  text: ", s, len);
            print_escaped("  back: ", back, dlen);
        }
        n_tests++, n_pass += ok, n_round += round;
        free(ids), free(back);
        s = next ? next + sep_len : s_end;
        line = eol ? eol + 1 : line + strlen(line);
    }
    printf("%s: %d/%d vectors match llama.cpp, %d/%d round-trip\n", name, n_pass, n_tests, n_round,
           n_tests);
    assert_int_equal(n_tests, 46);
    assert_int_equal(n_pass, n_tests);
    assert_int_equal(n_round, n_tests);
    free(inp), free(out);
    tokenizer_free(&t);
    gguf_free(&g);
}

// Builds a GGUF from key setters run by fn, parses it and reads its tokenizer into t.
// Returns tokenizer_init's code; *bytes must be freed (after gguf_free(g)).
typedef void (*WriterFn)(struct GgufWriter* w, void* arg);
static int build_tokenizer(WriterFn fn, void* arg, struct Gguf* g, uint8_t** bytes,
                           struct Tokenizer* t, struct Err* e) {
    struct GgufWriter w;
    assert_int_equal(gguf_writer_init(&w), 0);
    fn(&w, arg);
    size_t size;
    int rc = gguf_writer_write_mem(&w, bytes, &size, e);
    gguf_writer_free(&w);
    if (rc) fail_msg("writer: %s", e->msg);
    rc = gguf_parse(g, *bytes, size, e);
    if (rc) fail_msg("parse: %s", e->msg);
    return tokenizer_init(t, g, e);
}

// ---------------------------------------------------------------------------------------
// llama.cpp vocab test vectors

static void test_tokenizer_vectors_llama_spm(void** state) {
    (void)state;
    run_vectors("ggml-vocab-llama-spm");
}

static void test_tokenizer_vectors_llama_bpe(void** state) {
    (void)state;
    run_vectors("ggml-vocab-llama-bpe");
}

static void test_tokenizer_vectors_gpt2(void** state) {
    (void)state;
    run_vectors("ggml-vocab-gpt-2");
}

// ---------------------------------------------------------------------------------------
// RWKV world: the vocabulary file -> GGUF as convert_hf_to_gguf.py writes it

// Parses a Python string or bytes literal s[0..n) ('...', "...", b'...') into out (UTF-8 for
// str: \xNN and \uNNNN are code points). Returns the length, or -1.
static long parse_py_literal(const char* s, size_t n, char* out) {
    int is_bytes = 0;
    if (n && s[0] == 'b') is_bytes = 1, s++, n--;
    if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0]) return -1;
    long k = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '\\') {
            out[k++] = (char)c;
            continue;
        }
        c = (unsigned char)s[++i];
        unsigned long cp = 0;
        int hex = 0;
        switch (c) {
        case 'n': out[k++] = '\n'; break;
        case 't': out[k++] = '\t'; break;
        case 'r': out[k++] = '\r'; break;
        case '\\': out[k++] = '\\'; break;
        case '\'': out[k++] = '\''; break;
        case '"': out[k++] = '"'; break;
        case 'x': hex = 2; break;
        case 'u': hex = 4; break;
        default: return -1;
        }
        if (!hex) continue;
        char digits[5] = {0};
        memcpy(digits, s + i + 1, (size_t)hex);
        cp = strtoul(digits, NULL, 16);
        i += (size_t)hex;
        if (is_bytes || cp < 0x80) {
            out[k++] = (char)cp;
        } else if (cp < 0x800) {
            out[k++] = (char)(0xC0 | (cp >> 6));
            out[k++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[k++] = (char)(0xE0 | (cp >> 12));
            out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[k++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return k;
}

// repr(bytes)[2:-1] as Python writes it: the converter's escaped token text.
static size_t py_bytes_repr(const char* s, size_t n, char* out) {
    int has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char quote = has_sq && !has_dq ? '"' : '\'';
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == (unsigned char)quote || c == '\\')
            out[k++] = '\\', out[k++] = (char)c;
        else if (c == '\t')
            out[k++] = '\\', out[k++] = 't';
        else if (c == '\n')
            out[k++] = '\\', out[k++] = 'n';
        else if (c == '\r')
            out[k++] = '\\', out[k++] = 'r';
        else if (c < 0x20 || c >= 0x7f)
            k += (size_t)sprintf(out + k, "\\x%02x", c);
        else
            out[k++] = (char)c;
    }
    return k;
}

struct RwkvVocab {
    char** tokens;
    uint64_t* lens;
    int32_t* types;
    int n;
};

static void write_rwkv(struct GgufWriter* w, void* arg) {
    struct RwkvVocab* v = arg;
    gguf_writer_set_str(w, "general.architecture", "rwkv6");
    gguf_writer_set_str(w, "tokenizer.ggml.model", "rwkv");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char* const*)v->tokens, v->lens,
                            (uint64_t)v->n);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v->types, (uint64_t)v->n);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 0);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 0);
    gguf_writer_set_u32(w, "tokenizer.ggml.eot_token_id", 261); // the converter's "\n\n" hack
}

static void test_tokenizer_rwkv_world(void** state) {
    (void)state;
    char path[1024];
    size_t n_vocab_txt, n_ref;
    uint8_t* txt = shared_path(path, sizeof(path), "vocab/rwkv-world/rwkv_vocab_v20230424.txt")
                       ? read_file(path, &n_vocab_txt)
                       : NULL;
    uint8_t* ref =
        shared_path(path, sizeof(path), "vocab/rwkv-world/rwkv_world_tokenizer.test.py.ref")
            ? read_file(path, &n_ref)
            : NULL;
    if (!txt || !ref) {
        free(txt), free(ref);
        skip();
        return;
    }
    // vocab_size 65536 as in the RWKV world models: "<s>" (control) + the file + [PADn]
    struct RwkvVocab v = {0};
    int cap = 65536;
    v.tokens = calloc((size_t)cap, sizeof(char*));
    v.lens = calloc((size_t)cap, sizeof(uint64_t));
    v.types = calloc((size_t)cap, sizeof(int32_t));
    v.tokens[0] = strdup("<s>");
    v.lens[0] = 3;
    v.types[0] = TOKEN_TYPE_CONTROL;
    v.n = 1;
    char raw[4096], esc[4 * 4096 + 8];
    for (char* line = (char*)txt; *line;) {
        char* eol = strchr(line, '\n');
        if (eol) *eol = '\0';
        if (*line) {
            // "ID LITERAL LEN"
            char* sp1 = strchr(line, ' ');
            char* sp2 = strrchr(line, ' ');
            assert_true(sp1 && sp2 > sp1);
            assert_int_equal(atoi(line), v.n);
            long len = parse_py_literal(sp1 + 1, (size_t)(sp2 - sp1 - 1), raw);
            if (len < 0 || len != atol(sp2 + 1)) fail_msg("vocab line %d: '%s'", v.n, line);
            size_t k = py_bytes_repr(raw, (size_t)len, esc);
            v.tokens[v.n] = malloc(k + 1);
            memcpy(v.tokens[v.n], esc, k);
            v.tokens[v.n][k] = '\0';
            v.lens[v.n] = k;
            v.types[v.n] = TOKEN_TYPE_NORMAL;
            v.n++;
        }
        if (!eol) break;
        line = eol + 1;
    }
    assert_int_equal(v.n, 65530);
    while (v.n < cap) {
        char pad[32];
        int k = snprintf(pad, sizeof(pad), "[PAD%d]", v.n);
        v.tokens[v.n] = strdup(pad);
        v.lens[v.n] = (uint64_t)k;
        v.types[v.n] = TOKEN_TYPE_UNUSED;
        v.n++;
    }

    struct Gguf g = {0};
    struct Tokenizer t = {0};
    struct Err e = {0};
    uint8_t* bytes = NULL;
    int rc = build_tokenizer(write_rwkv, &v, &g, &bytes, &t, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(t.kind, TOKENIZER_RWKV);
    assert_int_equal(t.n_vocab, 65536);
    assert_int_equal(t.add_bos, 0);

    // the test string and the expected ids of the reference test
    const char* ts = strstr((char*)ref, "test_string: str = ");
    assert_non_null(ts);
    ts += strlen("test_string: str = ");
    const char* ts_end = strchr(ts, '\n');
    char text[512];
    long text_len = parse_py_literal(ts, (size_t)(ts_end - ts), text);
    assert_true(text_len > 0);
    const char* ex = strstr((char*)ref, "expected_tokens: List[int] = [");
    assert_non_null(ex);
    ex += strlen("expected_tokens: List[int] = [");
    int32_t want[256];
    int n_want = 0;
    while (*ex && *ex != ']') {
        char* q;
        long val = strtol(ex, &q, 10);
        if (q == ex) {
            ex++;
            continue;
        }
        want[n_want++] = (int32_t)val;
        ex = q;
    }
    assert_int_equal(n_want, 28);
    int n;
    int32_t* ids = encode(&t, text, (size_t)text_len, 1, 0, &n);
    if (n != n_want || memcmp(ids, want, sizeof(int32_t) * (size_t)n) != 0) {
        print_ids("want:", want, n_want);
        print_ids("got: ", ids, n);
        fail();
    }
    size_t dlen;
    char* back = decode(&t, ids, n, 0, &dlen);
    assert_int_equal(dlen, (size_t)text_len);
    assert_memory_equal(back, text, dlen);
    printf("rwkv world: %d/%d reference ids match, round trip ok\n", n, n_want);
    free(back), free(ids);

    // a few more round trips over the whole vocabulary's pieces, and raw bytes
    const char* more[] = {"\n\nUser: hi\n\nAssistant:", "\x01\x02\xff\xfe bytes", "\\x41 \\n",
                          "    indented\tcode();\r\n",  "日本語のテキスト",       "[PAD65535]"};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        ids = encode(&t, more[i], strlen(more[i]), 0, 0, &n);
        back = decode(&t, ids, n, 0, &dlen);
        assert_int_equal(dlen, strlen(more[i]));
        assert_memory_equal(back, more[i], dlen);
        free(back), free(ids);
    }

    tokenizer_free(&t);
    gguf_free(&g);
    free(bytes);
    for (int i = 0; i < v.n; i++)
        free(v.tokens[i]);
    free(v.tokens), free(v.lens), free(v.types);
    free(txt), free(ref);
}

// The tiny RWKV-7 model's vocabulary: "<s>" then the bytes 1..255 as escaped tokens.
static void test_tokenizer_rwkv_tiny_bytes(void** state) {
    (void)state;
    struct Gguf g = {0};
    struct Tokenizer t = {0};
    if (!open_tokenizer("models/tiny-rwkv7-834K-f32.gguf", &g, &t)) {
        skip();
        return;
    }
    assert_int_equal(t.kind, TOKENIZER_RWKV);
    assert_int_equal(t.n_vocab, 256);
    char all[255];
    for (int i = 0; i < 255; i++)
        all[i] = (char)(i + 1);
    int n;
    int32_t* ids = encode(&t, all, sizeof(all), 1, 0, &n);
    assert_int_equal(n, 255);
    for (int i = 0; i < 255; i++)
        assert_int_equal(ids[i], i + 1);
    size_t dlen;
    char* back = decode(&t, ids, n, 0, &dlen);
    assert_int_equal(dlen, sizeof(all));
    assert_memory_equal(back, all, dlen);
    free(back), free(ids);
    // rwkv.cpp's test prompt bytes
    ids = encode(&t, "\"in", 3, 1, 0, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 34), assert_int_equal(ids[1], 105), assert_int_equal(ids[2], 110);
    free(ids);
    // byte 0 has no token and the vocabulary no unknown token: a clear error, no crash
    int32_t buf[16];
    struct Err e = {0};
    assert_int_equal(tokenizer_encode(&t, "a\0b", 3, 0, 0, buf, 16, &n, &e), ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "0x00"));
    tokenizer_free(&t);
    gguf_free(&g);
}

// ---------------------------------------------------------------------------------------
// special tokens, BOS, placeholder and missing vocabularies

static void test_tokenizer_special_tokens(void** state) {
    (void)state;
    struct Gguf g = {0};
    struct Tokenizer t = {0};
    if (!open_tokenizer("vocab/ggml-vocab-llama-spm.gguf", &g, &t)) {
        skip();
        return;
    }
    assert_int_equal(t.kind, TOKENIZER_SPM);
    assert_int_equal(t.bos_id, 1), assert_int_equal(t.eos_id, 2), assert_int_equal(t.unk_id, 0);
    assert_int_equal(t.add_bos, 1), assert_int_equal(t.add_space_prefix, 1);
    int n;
    // BOS on request; "<s>" in the text is special only with parse_special
    int32_t* ids = encode(&t, "Hello<s>world", 13, 1, 1, &n);
    assert_true(n >= 4);
    assert_int_equal(ids[0], 1);
    int n_bos = 0;
    for (int i = 0; i < n; i++)
        n_bos += ids[i] == 1;
    assert_int_equal(n_bos, 2);
    // llama.cpp puts a space prefix after a special token: "world" -> "▁world"
    size_t dlen;
    char* back = decode(&t, ids, n, TOKENIZER_DECODE_STRIP_SPACE, &dlen);
    assert_string_equal(back, "<s> Hello<s> world");
    free(back);
    back = decode(&t, ids, n, TOKENIZER_DECODE_SKIP_SPECIAL, &dlen);
    assert_string_equal(back, " Hello world");
    free(back), free(ids);
    ids = encode(&t, "Hello<s>world", 13, 0, 0, &n);
    for (int i = 0; i < n; i++)
        assert_int_not_equal(ids[i], 1);
    back = decode(&t, ids, n, TOKENIZER_DECODE_STRIP_SPACE, &dlen);
    assert_string_equal(back, "Hello<s>world");
    free(back), free(ids);
    tokenizer_free(&t);
    gguf_free(&g);

    if (!open_tokenizer("vocab/ggml-vocab-llama-bpe.gguf", &g, &t)) return;
    assert_int_equal(t.kind, TOKENIZER_BPE);
    assert_int_equal(t.add_bos, 1); // llama-bpe's default, as llama.cpp
    assert_int_equal(t.bos_id, 128000);
    const char* s = "<|begin_of_text|>Hi<|eot_id|>";
    ids = encode(&t, s, strlen(s), 1, 1, &n);
    assert_int_equal(ids[0], 128000), assert_int_equal(ids[1], 128000);
    assert_int_equal(ids[n - 1], t.eot_id);
    back = decode(&t, ids + 1, n - 1, 0, &dlen);
    assert_string_equal(back, s);
    free(back), free(ids);
    tokenizer_free(&t);
    gguf_free(&g);

    if (!open_tokenizer("vocab/ggml-vocab-gpt-2.gguf", &g, &t)) return;
    assert_int_equal(t.add_bos, 0);
    ids = encode(&t, "a<|endoftext|>b", 15, 1, 1, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 50256);
    free(ids);
    ids = encode(&t, "a<|endoftext|>b", 15, 1, 0, &n);
    assert_true(n > 3);
    free(ids);
    tokenizer_free(&t);
    gguf_free(&g);
}

static void test_tokenizer_placeholder(void** state) {
    (void)state;
    struct Gguf g = {0};
    struct Tokenizer t = {0};
    if (!open_tokenizer("gguf/llama-f32.gguf", &g, &t)) {
        skip();
        return;
    }
    assert_int_equal(t.kind, TOKENIZER_PLACEHOLDER);
    assert_int_equal(t.n_vocab, 256);
    assert_int_equal(t.bos_id, 1), assert_int_equal(t.eos_id, 2);
    int32_t ids[16];
    int n;
    struct Err e = {0};
    assert_int_equal(tokenizer_encode(&t, "hello", 5, 1, 0, ids, 16, &n, &e), ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "placeholder: pass token ids"));
    int32_t in[] = {1, 7, 42};
    size_t dlen;
    char* back = decode(&t, in, 3, TOKENIZER_DECODE_STRIP_SPACE, &dlen);
    assert_string_equal(back, "tok_1tok_7tok_42");
    free(back);
    tokenizer_free(&t);
    gguf_free(&g);
}

static void write_no_tokenizer(struct GgufWriter* w, void* arg) {
    (void)arg;
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "llama.vocab_size", 16);
}

static void write_unknown_model(struct GgufWriter* w, void* arg) {
    (void)arg;
    gguf_writer_set_str(w, "tokenizer.ggml.model", "bert");
    const char* toks[] = {"[PAD]", "a"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 2);
}

static void write_bad_pre(struct GgufWriter* w, void* arg) {
    (void)arg;
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "no-such-pre");
    const char* toks[] = {"a", "b"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 2);
    const char* merges[] = {"a b"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, NULL, 1);
}

static void write_bad_types(struct GgufWriter* w, void* arg) {
    (void)arg;
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    const char* toks[] = {"<unk>", "a", "b"};
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 3);
    const int32_t types[] = {2, 1}; // shorter than the vocabulary
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 2);
}

static void test_tokenizer_init_errors(void** state) {
    (void)state;
    struct {
        WriterFn fn;
        int code;
        const char* msg;
    } cases[] = {
        {write_no_tokenizer, ERR_NOT_FOUND, "no tokenizer"},
        {write_unknown_model, ERR_UNSUPPORTED, "'bert'"},
        {write_bad_pre, ERR_UNSUPPORTED, "'no-such-pre'"},
        {write_bad_types, ERR_FORMAT, "token_type"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct Gguf g = {0};
        struct Tokenizer t = {0};
        struct Err e = {0};
        uint8_t* bytes = NULL;
        int rc = build_tokenizer(cases[i].fn, NULL, &g, &bytes, &t, &e);
        printf("init error %zu: %s: %s\n", i, err_name(rc), e.msg);
        assert_int_equal(rc, cases[i].code);
        assert_non_null(strstr(e.msg, cases[i].msg));
        tokenizer_free(&t); // already freed: must be harmless
        gguf_free(&g);
        free(bytes);
    }
}

// ---------------------------------------------------------------------------------------
// robustness and decoding helpers

// Random bytes (invalid UTF-8 included) round-trip through every kind.
static void test_tokenizer_invalid_utf8(void** state) {
    (void)state;
    const char* vocabs[] = {"vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                            "vocab/ggml-vocab-llama-bpe.gguf", "models/stories260K.gguf"};
    uint32_t seed = 12345;
    int ran = 0;
    for (size_t v = 0; v < sizeof(vocabs) / sizeof(vocabs[0]); v++) {
        struct Gguf g = {0};
        struct Tokenizer t = {0};
        if (!open_tokenizer(vocabs[v], &g, &t)) continue;
        ran++;
        for (int trial = 0; trial < (quick_mode() ? 5 : 50); trial++) {
            char s[300];
            size_t len = (size_t)(trial * 6);
            for (size_t i = 0; i < len; i++) {
                seed = seed * 1664525u + 1013904223u;
                uint8_t c = (uint8_t)(seed >> 24);
                // mix ASCII, spaces and high bytes so that all paths run
                s[i] = (char)((trial & 1) ? c : (c & 0x80) ? c : (c % 3 == 0 ? ' ' : 'a' + c % 26));
            }
            int n;
            int32_t* ids = encode(&t, s, len, 0, 0, &n);
            size_t dlen;
            char* back = decode(&t, ids, n, TOKENIZER_DECODE_STRIP_SPACE, &dlen);
            if (dlen != len || memcmp(back, s, len) != 0) {
                printf("%s: trial %d\n", vocabs[v], trial);
                print_escaped("  text: ", s, len);
                print_escaped("  back: ", back, dlen);
                fail();
            }
            free(ids), free(back);
        }
        tokenizer_free(&t);
        gguf_free(&g);
    }
    if (!ran) skip();
}

// Streaming holds back incomplete UTF-8 and gives the same bytes as tokenizer_decode.
static void test_tokenizer_stream(void** state) {
    (void)state;
    struct Gguf g = {0};
    struct Tokenizer t = {0};
    if (!open_tokenizer("vocab/ggml-vocab-llama-spm.gguf", &g, &t)) {
        skip();
        return;
    }
    const char* s = " this is 🦙.cpp, ü and 😶‍🌫️";
    int n;
    int32_t* ids = encode(&t, s, strlen(s), 0, 0, &n);
    size_t dlen;
    char* whole = decode(&t, ids, n, TOKENIZER_DECODE_STRIP_SPACE, &dlen);
    assert_string_equal(whole, s);
    struct TokenizerStream st;
    tokenizer_stream_init(&st, TOKENIZER_DECODE_STRIP_SPACE);
    char acc[256], piece[64];
    size_t k = 0;
    int held = 0;
    struct Err e = {0};
    for (int i = 0; i < n; i++) {
        size_t m;
        assert_int_equal(tokenizer_stream_push(&t, &st, ids[i], piece, sizeof(piece), &m, &e), 0);
        // every chunk handed out is valid UTF-8 here
        char esc[256];
        tokenizer_escape(piece, m, esc, sizeof(esc));
        assert_null(strstr(esc, "\\x"));
        held += st.n_pend > 0;
        memcpy(acc + k, piece, m);
        k += m;
    }
    k += tokenizer_stream_flush(&st, acc + k, sizeof(acc) - k);
    assert_true(held > 0); // the llama emoji comes as 4 byte tokens
    assert_int_equal(k, dlen);
    assert_memory_equal(acc, whole, k);
    // a truncated sequence is flushed raw at the end
    tokenizer_stream_init(&st, 0);
    int32_t e2 = tokenizer_find(&t, "<0xE2>", 6);
    assert_true(e2 >= 0);
    size_t m;
    assert_int_equal(tokenizer_stream_push(&t, &st, e2, piece, sizeof(piece), &m, &e), 0);
    assert_int_equal(m, 0);
    assert_int_equal(tokenizer_stream_flush(&st, piece, sizeof(piece)), 1);
    assert_int_equal((uint8_t)piece[0], 0xE2);
    free(whole), free(ids);
    tokenizer_free(&t);
    gguf_free(&g);
}

static void test_tokenizer_bound_and_errors(void** state) {
    (void)state;
    struct Gguf g = {0};
    struct Tokenizer t = {0};
    if (!open_tokenizer("vocab/ggml-vocab-llama-spm.gguf", &g, &t)) {
        skip();
        return;
    }
    int32_t ids[4];
    int n;
    struct Err e = {0};
    const char* s = "a fairly long sentence that needs more than four tokens";
    assert_int_equal(tokenizer_encode(&t, s, strlen(s), 1, 0, ids, 4, &n, &e), ERR_ARG);
    assert_true(n > 4);
    int32_t* all = encode(&t, s, strlen(s), 1, 0, &n);
    assert_true((size_t)n <= tokenizer_bound(strlen(s)));
    char out[8];
    size_t m;
    assert_int_equal(tokenizer_decode(&t, all, n, 0, out, sizeof(out), &m, &e), ERR_ARG);
    assert_true(m > sizeof(out));
    int32_t bad = t.n_vocab;
    assert_int_equal(tokenizer_decode(&t, &bad, 1, 0, out, sizeof(out), &m, &e), ERR_ARG);
    assert_null(tokenizer_piece(&t, -1, &m));
    free(all);
    // worst case of the bound: spaces without "▁" are 3 byte tokens each; here "▁" exists
    char spaces[64];
    memset(spaces, ' ', sizeof(spaces));
    all = encode(&t, spaces, sizeof(spaces), 1, 0, &n);
    assert_true((size_t)n <= tokenizer_bound(sizeof(spaces)));
    free(all);
    tokenizer_free(&t);
    gguf_free(&g);
    tokenizer_free(NULL);
}

static void test_tokenizer_escape(void** state) {
    (void)state;
    char out[64];
    size_t n = tokenizer_escape("a\n\t\\\x01\xff\xc3\xa9\xe2\x96\x81", 11, out, sizeof(out));
    assert_string_equal(out, "a\\n\\t\\\\\\x01\\xffé▁");
    assert_int_equal(n, strlen(out));
    char small[4];
    assert_int_equal(tokenizer_escape("\x01\x02", 2, small, sizeof(small)), 8);
    assert_string_equal(small, "\\x0");
    assert_int_equal(tokenizer_escape("abc", 3, NULL, 0), 3);
}

// stories260K's SPM vocab of 512: BOS is added, text round-trips.
static void test_tokenizer_stories260k(void** state) {
    (void)state;
    struct Gguf g = {0};
    struct Tokenizer t = {0};
    if (!open_tokenizer("models/stories260K.gguf", &g, &t)) {
        skip();
        return;
    }
    assert_int_equal(t.n_vocab, 512);
    const char* s = "Once upon a time, there was a little girl named Lily.";
    int n;
    int32_t* ids = encode(&t, s, strlen(s), 1, 0, &n);
    assert_int_equal(ids[0], 1);
    size_t dlen;
    char* back = decode(&t, ids + 1, n - 1, TOKENIZER_DECODE_STRIP_SPACE, &dlen);
    assert_string_equal(back, s);
    print_ids("stories260K:", ids, n);
    free(back), free(ids);
    tokenizer_free(&t);
    gguf_free(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizer_vectors_llama_spm),
        cmocka_unit_test(test_tokenizer_vectors_llama_bpe),
        cmocka_unit_test(test_tokenizer_vectors_gpt2),
        cmocka_unit_test(test_tokenizer_rwkv_world),
        cmocka_unit_test(test_tokenizer_rwkv_tiny_bytes),
        cmocka_unit_test(test_tokenizer_special_tokens),
        cmocka_unit_test(test_tokenizer_placeholder),
        cmocka_unit_test(test_tokenizer_init_errors),
        cmocka_unit_test(test_tokenizer_invalid_utf8),
        cmocka_unit_test(test_tokenizer_stream),
        cmocka_unit_test(test_tokenizer_bound_and_errors),
        cmocka_unit_test(test_tokenizer_escape),
        cmocka_unit_test(test_tokenizer_stories260k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
