// tokenizer.c: SPM, byte-level BPE and RWKV world tokenizers over tokenizer.ggml.* keys.
// Each algorithm follows llama.cpp's src/llama-vocab.cpp (llm_tokenizer_spm_session,
// llm_tokenizer_bpe_session, llm_tokenizer_rwkv_session, tokenizer_st_partition) so that
// the ids match llama.cpp's; where llama.cpp would crash, hang or drop bytes on malformed
// vocabularies or invalid UTF-8, this file falls back to bytes or reports an error instead.
// All lookups are hash tables built once in tokenizer_init; encoding allocates nothing unless
// an input is longer than any before it. Tests: tests/test_tokenizer.c.
#include "tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

#define MAX_VOCAB (1 << 24)         // ids stay far inside int32
#define MAX_ARENA (UINT32_MAX - 16) // offsets are uint32

static const char* const KIND_NAMES[] = {"spm", "bpe", "rwkv", "placeholder"};
_Static_assert(sizeof(KIND_NAMES) / sizeof(KIND_NAMES[0]) == TOKENIZER_KIND_COUNT, "KIND_NAMES");

const char* tokenizer_kind_name(enum TokenizerKind k) {
    return (unsigned)k < TOKENIZER_KIND_COUNT ? KIND_NAMES[k] : "?";
}

// ---------------------------------------------------------------------------------------
// small helpers

static uint64_t hash_bytes(uint64_t h, const void* p, size_t n) {
    // FNV-1a, 64-bit
    const uint8_t* s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}
#define HASH_SEED 0xcbf29ce484222325ull

static uint64_t hash_mix(uint64_t h) {
    // spreads FNV's low bits before masking
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

// Table size for n keys: a power of two >= 2n (load factor <= 1/2).
static uint32_t table_size(size_t n) {
    uint32_t c = 16;
    while (c < 2 * n)
        c <<= 1;
    return c;
}

// Bytes of the UTF-8 sequence a lead byte announces (llama.cpp's unicode_len_utf8: by the
// high nibble, so a stray continuation byte counts as 1 and 0xF8..0xFF as 4).
static size_t utf8_len(uint8_t c) {
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[c >> 4];
}

// Length of the valid UTF-8 sequence at s[0..n) (no overlongs, surrogates or > U+10FFFF),
// its code point in *cp, or 0 when the bytes there are not one.
static size_t utf8_decode(const uint8_t* s, size_t n, uint32_t* cp) {
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

static size_t utf8_put(uint32_t cp, char* out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes map to themselves, the other 68 bytes
// to U+0100.. in byte order, so that every byte is a visible character in vocab strings.
static void bpe_byte_map(uint32_t cp_of_byte[256]) {
    uint32_t n = 0;
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        cp_of_byte[b] = keep ? (uint32_t)b : 256 + n++;
    }
}
#define BPE_CP_LIMIT 324 // 256 + 68: every code point bpe_byte_map produces is below

// A growable byte buffer for building the arenas at init.
struct Buf {
    char* p;
    size_t len, cap;
};

static int buf_put(struct Buf* b, const void* s, size_t n, struct Err* e) {
    if (n > MAX_ARENA - b->len) {
        return err_set(e, ERR_NOMEM, "tokenizer_init: vocabulary strings exceed 4 GiB");
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 16;
        while (cap < b->len + n)
            cap *= 2;
        char* p = realloc(b->p, cap);
        if (!p) return err_set(e, ERR_NOMEM, "tokenizer_init: out of memory (%zu bytes)", cap);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

// Grows *p to hold need elements of size elem (scratch: only when an input needs more).
static int grow(void** p, size_t* cap, size_t need, size_t elem, struct Err* e) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    if (c > SIZE_MAX / elem) return err_set(e, ERR_NOMEM, "tokenizer: scratch size overflows");
    void* q = realloc(*p, c * elem);
    if (!q) return err_set(e, ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", c * elem);
    *p = q;
    *cap = c;
    return 0;
}

// ---------------------------------------------------------------------------------------
// token text -> id

static const char* text_of(const struct Tokenizer* t, int id) {
    return t->arena + t->tokens[id].text_off;
}

int tokenizer_find(const struct Tokenizer* t, const char* text, size_t len) {
    if (!t->tok_slots) return -1;
    uint32_t i = (uint32_t)hash_mix(hash_bytes(HASH_SEED, text, len)) & t->tok_mask;
    for (;; i = (i + 1) & t->tok_mask) {
        uint32_t s = t->tok_slots[i];
        if (s == 0) return -1;
        const struct TokenEntry* te = &t->tokens[s - 1];
        if (te->text_len == len && memcmp(t->arena + te->text_off, text, len) == 0) {
            return (int)(s - 1);
        }
    }
}

// Inserts id unless its text is already present: the first of duplicate strings keeps it
// (llama.cpp now rejects such vocabularies; older versions let the last one win).
static void tok_insert(struct Tokenizer* t, int id) {
    const struct TokenEntry* te = &t->tokens[id];
    const char* s = t->arena + te->text_off;
    uint32_t i = (uint32_t)hash_mix(hash_bytes(HASH_SEED, s, te->text_len)) & t->tok_mask;
    for (;; i = (i + 1) & t->tok_mask) {
        uint32_t cur = t->tok_slots[i];
        if (cur == 0) {
            t->tok_slots[i] = (uint32_t)id + 1;
            return;
        }
        const struct TokenEntry* o = &t->tokens[cur - 1];
        if (o->text_len == te->text_len && memcmp(t->arena + o->text_off, s, te->text_len) == 0) {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// BPE merges: "left right" -> rank

static uint64_t merge_hash(const char* l, size_t ln, const char* r, size_t rn) {
    uint64_t h = hash_bytes(HASH_SEED, l, ln);
    h = hash_bytes(h, " ", 1);
    return hash_mix(hash_bytes(h, r, rn));
}

static int merge_rank(const struct Tokenizer* t, const char* l, size_t ln, const char* r,
                      size_t rn) {
    if (!t->merge_slots) return -1;
    uint32_t i = (uint32_t)merge_hash(l, ln, r, rn) & t->merge_mask;
    for (;; i = (i + 1) & t->merge_mask) {
        uint32_t s = t->merge_slots[i];
        if (s == 0) return -1;
        uint32_t m = s - 1;
        const char* p = t->merge_arena + t->merge_off[m];
        if (t->merge_split[m] == ln && t->merge_len[m] == ln + 1 + rn && memcmp(p, l, ln) == 0 &&
            memcmp(p + ln + 1, r, rn) == 0) {
            return (int)m;
        }
    }
}

static int load_merges(struct Tokenizer* t, const struct Gguf* g, struct Err* e) {
    const struct GgufArr* a = NULL;
    int rc = gguf_get_arr(g, "tokenizer.ggml.merges", &a, e);
    if (rc == ERR_NOT_FOUND) {
        return err_set(e, ERR_NOT_FOUND,
                       "tokenizer_init: gpt2 tokenizer without "
                       "tokenizer.ggml.merges");
    }
    if (rc) return rc;
    if (a->type != GGUF_TYPE_STRING) {
        return err_set(e, ERR_TYPE,
                       "tokenizer_init: tokenizer.ggml.merges is an array of %s, "
                       "not of strings",
                       gguf_type_name(a->type));
    }
    if (a->n > MAX_VOCAB) {
        return err_set(e, ERR_FORMAT, "tokenizer_init: %llu merges (more than %d)",
                       (unsigned long long)a->n, MAX_VOCAB);
    }
    int n = (int)a->n;
    t->n_merges = n;
    t->merge_off = calloc((size_t)n + 1, sizeof(uint32_t));
    t->merge_len = calloc((size_t)n + 1, sizeof(uint32_t));
    t->merge_split = calloc((size_t)n + 1, sizeof(uint32_t));
    t->merge_mask = table_size((size_t)n) - 1;
    t->merge_slots = calloc((size_t)t->merge_mask + 1, sizeof(uint32_t));
    if (!t->merge_off || !t->merge_len || !t->merge_split || !t->merge_slots) {
        return err_set(e, ERR_NOMEM, "tokenizer_init: out of memory for %d merges", n);
    }
    struct Buf b = {0};
    for (int m = 0; m < n; m++) {
        struct GgufStr s = gguf_arr_str(a, (uint64_t)m);
        t->merge_off[m] = (uint32_t)b.len;
        t->merge_len[m] = 0; // no usable split: never matches
        if ((rc = buf_put(&b, s.s, s.len, e))) goto fail;
        // llama.cpp: word.find(' ', 1), so a leading space belongs to the left part
        const char* sp = s.len > 1 ? memchr(s.s + 1, ' ', s.len - 1) : NULL;
        if (!sp) continue;
        t->merge_len[m] = (uint32_t)s.len;
        t->merge_split[m] = (uint32_t)(sp - s.s);
    }
    t->merge_arena = b.p;
    for (int m = 0; m < n; m++) {
        if (t->merge_len[m] == 0) continue;
        const char* p = t->merge_arena + t->merge_off[m];
        size_t ln = t->merge_split[m], rn = t->merge_len[m] - ln - 1;
        uint32_t i = (uint32_t)merge_hash(p, ln, p + ln + 1, rn) & t->merge_mask;
        bool dup = false;
        for (; t->merge_slots[i]; i = (i + 1) & t->merge_mask) {
            uint32_t o = t->merge_slots[i] - 1;
            if (t->merge_len[o] == t->merge_len[m] && t->merge_split[o] == ln &&
                memcmp(t->merge_arena + t->merge_off[o], p, t->merge_len[m]) == 0) {
                dup = true; // std::unordered_map::emplace keeps the first (lowest) rank
                break;
            }
        }
        if (!dup) t->merge_slots[i] = (uint32_t)m + 1;
    }
    return 0;
fail:
    free(b.p);
    return rc;
}

// ---------------------------------------------------------------------------------------
// pre-tokenizers (BPE): regexes as llama.cpp's llm_tokenizer_bpe lists them

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3                                                                                  \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?"             \
    "\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                   \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?"             \
    "\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

struct PreTokenizer {
    const char* names; // space-separated tokenizer.ggml.pre values
    const char* re[4];
    int ignore_merges, add_bos;
};

static const struct PreTokenizer PRE_TOKENIZERS[] = {
    {"default", {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, 0, 0},
    {"gpt-2 phi-2 mpt olmo jais jina-es jina-de gigachat jina-v2-es jina-v2-de exaone4 "
     "trillion granite-docling",
     {RE_GPT2, NULL, NULL, NULL},
     0,
     0},
    {"llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2",
     {RE_LLAMA3, NULL, NULL, NULL},
     1,
     1},
    {"dbrx smaug-bpe", {RE_LLAMA3, NULL, NULL, NULL}, 0, 0},
    {"qwen2 deepseek-r1-qwen stablelm2 megrez", {RE_QWEN2, NULL, NULL, NULL}, 0, 0},
    {"starcoder refact command-r smollm codeshell exaone minerva-7b",
     {"\\p{N}", RE_GPT2, NULL, NULL},
     0,
     0},
};

static bool name_in(const char* names, const char* name) {
    size_t n = strlen(name);
    for (const char* p = names; *p;) {
        const char* sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) return true;
        if (!sp) break;
        p = sp + 1;
    }
    return false;
}

static int setup_pre(struct Tokenizer* t, struct Err* e) {
    const struct PreTokenizer* pt = NULL;
    const char* pre = t->pre[0] ? t->pre : "default"; // llama.cpp: missing -> 'default'
    for (size_t i = 0; i < sizeof(PRE_TOKENIZERS) / sizeof(PRE_TOKENIZERS[0]); i++) {
        if (name_in(PRE_TOKENIZERS[i].names, pre)) pt = &PRE_TOKENIZERS[i];
    }
    if (!pt) {
        return err_set(e, ERR_UNSUPPORTED,
                       "tokenizer_init: pre-tokenizer '%s' "
                       "(tokenizer.ggml.pre) is not supported",
                       pre);
    }
    t->ignore_merges = pt->ignore_merges;
    t->add_bos = pt->add_bos;
    // Invalid UTF-8 never matches (PCRE2_MATCH_INVALID_UTF): such bytes fall into the
    // pieces between matches and are encoded as bytes.
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    for (int i = 0; i < 4 && pt->re[i]; i++) {
        int code;
        PCRE2_SIZE off;
        t->re[i] =
            pcre2_compile((PCRE2_SPTR)pt->re[i], PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
        if (!t->re[i]) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(code, msg, sizeof(msg));
            return err_set(e, ERR_UNSUPPORTED, "tokenizer_init: regex of '%s' at %zu: %s", pre,
                           (size_t)off, (const char*)msg);
        }
        pcre2_jit_compile(t->re[i], PCRE2_JIT_COMPLETE); // falls back to the interpreter
        t->n_re = i + 1;
    }
    t->md = pcre2_match_data_create(4, NULL);
    if (!t->md) return err_set(e, ERR_NOMEM, "tokenizer_init: pcre2 match data");
    return 0;
}

// ---------------------------------------------------------------------------------------
// RWKV: llama_unescape_rwkv_token and the byte trie

// Undoes the escaping of llama.cpp's converter (Python's repr of bytes, minus b''): \t \n
// \r, \xNN (lowercase hex, as llama.cpp decodes it) and \<c> -> c. Returns the length.
static size_t rwkv_unescape(const char* s, size_t n, char* out) {
    size_t k = 0;
    bool esc = false;
    int hex_left = 0;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (hex_left) {
            uint8_t v = c >= 'a' ? (uint8_t)(c - 'a' + 10) : (uint8_t)(c - '0');
            acc = (uint8_t)((acc << 4) + v);
            if (--hex_left == 0) {
                out[k++] = (char)acc;
                acc = 0;
            }
        } else if (esc) {
            if (c == 't')
                out[k++] = '\t';
            else if (c == 'n')
                out[k++] = '\n';
            else if (c == 'r')
                out[k++] = '\r';
            else if (c == 'x')
                hex_left = 2;
            else
                out[k++] = (char)c;
            esc = false;
        } else if (c == '\\') {
            esc = true;
        } else {
            out[k++] = (char)c;
        }
    }
    return k;
}

static uint32_t trie_child(const struct Tokenizer* t, uint32_t node, uint8_t c) {
    uint64_t key = ((uint64_t)node << 8 | c) + 1;
    uint32_t i = (uint32_t)hash_mix(key * 0x9E3779B97F4A7C15ull) & t->trie_mask;
    for (;; i = (i + 1) & t->trie_mask) {
        if (t->trie_keys[i] == key) return t->trie_child[i];
        if (t->trie_keys[i] == 0) return 0; // 0 is the root: never a child
    }
}

static int build_trie(struct Tokenizer* t, struct Err* e) {
    size_t total = 1;
    for (int id = 0; id < t->n_vocab; id++)
        total += t->tokens[id].piece_len;
    if (total > MAX_ARENA / 2) return err_set(e, ERR_NOMEM, "tokenizer_init: trie too large");
    t->trie_val = malloc(total * sizeof(int32_t));
    t->trie_mask = table_size(total) - 1;
    t->trie_keys = calloc((size_t)t->trie_mask + 1, sizeof(uint64_t));
    t->trie_child = calloc((size_t)t->trie_mask + 1, sizeof(uint32_t));
    if (!t->trie_val || !t->trie_keys || !t->trie_child) {
        return err_set(e, ERR_NOMEM, "tokenizer_init: out of memory for the trie");
    }
    t->n_nodes = 1;
    t->trie_val[0] = -1;
    for (int id = 0; id < t->n_vocab; id++) {
        const struct TokenEntry* te = &t->tokens[id];
        const uint8_t* p = (const uint8_t*)t->arena + te->piece_off;
        uint32_t node = 0;
        for (uint32_t j = 0; j < te->piece_len; j++) {
            uint64_t key = ((uint64_t)node << 8 | p[j]) + 1;
            uint32_t i = (uint32_t)hash_mix(key * 0x9E3779B97F4A7C15ull) & t->trie_mask;
            while (t->trie_keys[i] && t->trie_keys[i] != key)
                i = (i + 1) & t->trie_mask;
            if (!t->trie_keys[i]) {
                t->trie_keys[i] = key;
                t->trie_child[i] = t->n_nodes;
                t->trie_val[t->n_nodes++] = -1;
            }
            node = t->trie_child[i];
        }
        // naive_trie::insert overwrites: the last of duplicate byte strings wins. An empty
        // piece would sit on the root, which is never looked at.
        if (node) t->trie_val[node] = id;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// init

static int reserve_scratch(struct Tokenizer* t, size_t len, struct Err* e);

static int cmp_special(const void* a, const void* b, const struct Tokenizer* t) {
    int x = *(const int32_t*)a, y = *(const int32_t*)b;
    uint32_t lx = t->tokens[x].text_len, ly = t->tokens[y].text_len;
    if (lx != ly) return lx > ly ? -1 : 1; // longest first, as cache_special_tokens
    return x < y ? -1 : x > y;
}

// qsort has no context argument in C11: a small insertion-merge would do, but the special
// list is short (hundreds), so an insertion sort is enough.
static void sort_specials(struct Tokenizer* t) {
    for (int i = 1; i < t->n_specials; i++) {
        int32_t v = t->specials[i];
        int j = i - 1;
        while (j >= 0 && cmp_special(&t->specials[j], &v, t) > 0) {
            t->specials[j + 1] = t->specials[j];
            j--;
        }
        t->specials[j + 1] = v;
    }
}

// Reads an optional token id key into *id: absent keeps the default, out of range is
// ignored (llama.cpp warns and keeps the default).
static int read_id(const struct Tokenizer* t, const struct Gguf* g, const char* key, int* id,
                   struct Err* e) {
    int64_t v;
    int rc = gguf_get_int(g, key, &v, e);
    if (rc == ERR_NOT_FOUND) return 0;
    if (rc) return rc;
    if (v >= 0 && v < t->n_vocab) *id = (int)v;
    return 0;
}

static int read_flag(const struct Gguf* g, const char* key, int* flag, struct Err* e) {
    bool v;
    int rc = gguf_get_bool(g, key, &v, e);
    if (rc == ERR_NOT_FOUND) return 0;
    if (rc) return rc;
    *flag = v;
    return 0;
}

// Parses "<0xNN>" (either case of hex digit); -1 when text is not a byte token.
static int parse_byte_token(const char* s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

// Appends the decoded bytes of token id to b (see tokenizer_piece). byte_of_cp inverts
// t->byte_cp (-1 outside the byte-unicode alphabet).
static int make_piece(const struct Tokenizer* t, int id, const int16_t* byte_of_cp, struct Buf* b,
                      struct Err* e) {
    const struct TokenEntry* te = &t->tokens[id];
    const char* s = text_of(t, id);
    size_t n = te->text_len;
    char tmp[8];
    int rc = 0;
    if (t->kind == TOKENIZER_PLACEHOLDER) return buf_put(b, s, n, e);
    if (t->kind == TOKENIZER_RWKV) {
        // unescaping never lengthens: reserve n bytes, unescape in place, keep what was used
        if ((rc = buf_put(b, s, n, e))) return rc;
        size_t k = rwkv_unescape(s, n, b->p + b->len - n);
        b->len -= n - k;
        return 0;
    }
    switch (te->type) {
    case TOKEN_TYPE_CONTROL:
    case TOKEN_TYPE_UNKNOWN:
    case TOKEN_TYPE_USER_DEFINED: return buf_put(b, s, n, e);
    case TOKEN_TYPE_BYTE: {
        int v = parse_byte_token(s, n);
        if (v < 0) return buf_put(b, s, n, e); // malformed: show the text
        tmp[0] = (char)v;
        return buf_put(b, tmp, 1, e);
    }
    case TOKEN_TYPE_NORMAL: break;
    default: return 0; // unused/undefined: llama.cpp's token_to_piece gives nothing
    }
    if (t->kind == TOKENIZER_SPM) { // "▁" -> " "
        for (size_t i = 0; i < n && !rc;) {
            if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                rc = buf_put(b, " ", 1, e);
                i += 3;
            } else {
                rc = buf_put(b, s + i, 1, e);
                i++;
            }
        }
        return rc;
    }
    // BPE: each character of the byte-unicode alphabet back to its byte; a character outside
    // it (a malformed vocabulary) is copied as it is.
    for (size_t i = 0; i < n && !rc;) {
        uint32_t cp;
        size_t k = utf8_decode((const uint8_t*)s + i, n - i, &cp);
        if (k && cp < BPE_CP_LIMIT && byte_of_cp[cp] >= 0) {
            tmp[0] = (char)byte_of_cp[cp];
            rc = buf_put(b, tmp, 1, e);
        } else {
            if (!k) k = 1;
            rc = buf_put(b, s + i, k, e);
        }
        i += k;
    }
    return rc;
}

static const char* const EOT_TEXTS[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<end_of_utterance>",
    ("<\xef\xbd\x9c"
     "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"), // DeepSeek
};

static int load_tokens(struct Tokenizer* t, const struct Gguf* g, struct Err* e) {
    const struct GgufArr* toks = NULL;
    int rc = gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, e);
    if (rc == ERR_NOT_FOUND && t->kind == TOKENIZER_PLACEHOLDER) return 0; // "none"
    if (rc == ERR_NOT_FOUND) {
        return err_set(e, ERR_NOT_FOUND,
                       "tokenizer_init: tokenizer.ggml.model is '%s' but "
                       "tokenizer.ggml.tokens is absent",
                       t->model);
    }
    if (rc) return rc;
    if (toks->type != GGUF_TYPE_STRING) {
        return err_set(e, ERR_TYPE, "tokenizer_init: tokenizer.ggml.tokens is an array of %s",
                       gguf_type_name(toks->type));
    }
    if (toks->n == 0 || toks->n > MAX_VOCAB) {
        return err_set(e, ERR_FORMAT, "tokenizer_init: tokenizer.ggml.tokens has %llu entries",
                       (unsigned long long)toks->n);
    }
    int n = (int)toks->n;
    const struct GgufArr* scores = NULL;
    const struct GgufArr* types = NULL;
    if ((rc = gguf_get_arr(g, "tokenizer.ggml.scores", &scores, e)) && rc != ERR_NOT_FOUND) {
        return rc;
    }
    if ((rc = gguf_get_arr(g, "tokenizer.ggml.token_type", &types, e)) && rc != ERR_NOT_FOUND) {
        return rc;
    }
    if (scores && (scores->n < (uint64_t)n || gguf_type_size(scores->type) == 0 ||
                   scores->type == GGUF_TYPE_BOOL)) {
        return err_set(e, ERR_FORMAT,
                       "tokenizer_init: tokenizer.ggml.scores has %llu %s "
                       "entries for %d tokens",
                       (unsigned long long)scores->n, gguf_type_name(scores->type), n);
    }
    if (types && (types->n < (uint64_t)n || gguf_type_size(types->type) == 0 ||
                  types->type == GGUF_TYPE_FLOAT32 || types->type == GGUF_TYPE_FLOAT64)) {
        return err_set(e, ERR_FORMAT,
                       "tokenizer_init: tokenizer.ggml.token_type has %llu %s "
                       "entries for %d tokens",
                       (unsigned long long)types->n, gguf_type_name(types->type), n);
    }
    t->n_vocab = n;
    t->tokens = calloc((size_t)n, sizeof(*t->tokens));
    if (!t->tokens) return err_set(e, ERR_NOMEM, "tokenizer_init: out of memory (%d tokens)", n);

    struct Buf b = {0};
    for (int id = 0; id < n; id++) {
        struct GgufStr s = gguf_arr_str(toks, (uint64_t)id);
        struct TokenEntry* te = &t->tokens[id];
        te->text_off = (uint32_t)b.len;
        if (s.len == 0) { // llama.cpp renames empty tokens
            char name[32];
            int k = snprintf(name, sizeof(name), "[EMPTY_%d]", id);
            rc = buf_put(&b, name, (size_t)k, e);
        } else {
            rc = buf_put(&b, s.s, s.len, e);
        }
        if (rc) goto fail;
        te->text_len = (uint32_t)(b.len - te->text_off);
        double sc = scores ? gguf_arr_float(scores, (uint64_t)id) : 0.0;
        // NaN would break the merge order; out-of-range doubles do not convert to float
        te->score = isnan(sc) || sc < -FLT_MAX ? -INFINITY : sc > FLT_MAX ? INFINITY : (float)sc;
        int64_t ty = types ? gguf_arr_int(types, (uint64_t)id) : TOKEN_TYPE_NORMAL;
        te->type = ty >= 0 && ty < TOKEN_TYPE_COUNT ? (uint8_t)ty : TOKEN_TYPE_UNDEFINED;
    }
    t->arena = b.p; // texts now; pieces follow
    t->arena_len = b.len;
    t->tok_mask = table_size((size_t)n) - 1;
    t->tok_slots = calloc((size_t)t->tok_mask + 1, sizeof(uint32_t));
    if (!t->tok_slots) return err_set(e, ERR_NOMEM, "tokenizer_init: out of memory (hash)");
    for (int id = 0; id < n; id++)
        tok_insert(t, id);

    // llama.cpp marks these end-of-turn texts as control tokens when no eot id is given
    if ((rc = read_id(t, g, "tokenizer.ggml.eot_token_id", &t->eot_id, e))) return rc;
    if (t->kind != TOKENIZER_PLACEHOLDER) {
        for (size_t i = 0; i < sizeof(EOT_TEXTS) / sizeof(EOT_TEXTS[0]) && t->eot_id < 0; i++) {
            int id = tokenizer_find(t, EOT_TEXTS[i], strlen(EOT_TEXTS[i]));
            if (id < 0) continue;
            t->eot_id = id;
            t->tokens[id].type = TOKEN_TYPE_CONTROL;
        }
    }
    return 0;
fail:
    free(b.p);
    return rc;
}

int tokenizer_init(struct Tokenizer* t, const struct Gguf* g, struct Err* e) {
    memset(t, 0, sizeof(*t));
    struct GgufStr model;
    int rc = gguf_get_str(g, "tokenizer.ggml.model", &model, e);
    if (rc == ERR_NOT_FOUND) {
        return err_set(e, ERR_NOT_FOUND,
                       "tokenizer_init: this GGUF has no tokenizer "
                       "(tokenizer.ggml.model is absent): pass token ids");
    }
    if (rc) return rc;
    snprintf(t->model, sizeof(t->model), "%.*s", (int)(model.len < 31 ? model.len : 31), model.s);
    struct GgufStr pre;
    if ((rc = gguf_get_str(g, "tokenizer.ggml.pre", &pre, e)) == 0) {
        snprintf(t->pre, sizeof(t->pre), "%.*s", (int)(pre.len < 63 ? pre.len : 63), pre.s);
    } else if (rc != ERR_NOT_FOUND) {
        return rc;
    }
    t->bos_id = t->eos_id = t->unk_id = t->pad_id = t->eot_id = -1;
    // llama.cpp's defaults per model
    int bos = -1, eos = -1, unk = -1;
    if (strcmp(t->model, "llama") == 0) {
        t->kind = TOKENIZER_SPM;
        bos = 1, eos = 2, unk = 0;
        t->add_bos = 1;
        t->add_space_prefix = 1;
    } else if (strcmp(t->model, "gpt2") == 0) {
        t->kind = TOKENIZER_BPE;
        bos = 11, eos = 11;
    } else if (strcmp(t->model, "rwkv") == 0) {
        t->kind = TOKENIZER_RWKV;
    } else if (strcmp(t->model, "test") == 0 || strcmp(t->model, "none") == 0 ||
               strcmp(t->model, "no_vocab") == 0) {
        t->kind = TOKENIZER_PLACEHOLDER;
    } else {
        return err_set(e, ERR_UNSUPPORTED,
                       "tokenizer_init: tokenizer model '%s' is not "
                       "supported (llama, gpt2, rwkv are)",
                       t->model);
    }
    if (t->kind == TOKENIZER_BPE && (rc = setup_pre(t, e))) goto fail;
    if ((rc = load_tokens(t, g, e))) goto fail;
    if (t->kind == TOKENIZER_BPE && (rc = load_merges(t, g, e))) goto fail;
    if (bos < t->n_vocab) t->bos_id = bos;
    if (eos < t->n_vocab) t->eos_id = eos;
    if (unk < t->n_vocab) t->unk_id = unk;
    if ((rc = read_id(t, g, "tokenizer.ggml.bos_token_id", &t->bos_id, e)) ||
        (rc = read_id(t, g, "tokenizer.ggml.eos_token_id", &t->eos_id, e)) ||
        (rc = read_id(t, g, "tokenizer.ggml.unknown_token_id", &t->unk_id, e)) ||
        (rc = read_id(t, g, "tokenizer.ggml.padding_token_id", &t->pad_id, e)) ||
        (rc = read_flag(g, "tokenizer.ggml.add_bos_token", &t->add_bos, e)) ||
        (rc = read_flag(g, "tokenizer.ggml.add_eos_token", &t->add_eos, e)) ||
        (rc = read_flag(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, e))) {
        goto fail;
    }
    if (t->kind == TOKENIZER_PLACEHOLDER) t->add_bos = t->add_eos = t->add_space_prefix = 0;
    if (t->add_bos && t->bos_id < 0) t->add_bos = 0; // llama.cpp throws; we just don't add
    if (t->add_eos && t->eos_id < 0) t->add_eos = 0;

    // pieces, built apart and then appended to the texts in the arena
    uint32_t cp_of_byte[256];
    int16_t byte_of_cp[BPE_CP_LIMIT];
    bpe_byte_map(cp_of_byte);
    memset(byte_of_cp, 0xff, sizeof(byte_of_cp));
    for (int c = 0; c < 256; c++) {
        t->byte_cp[c] = (uint16_t)cp_of_byte[c];
        byte_of_cp[cp_of_byte[c]] = (int16_t)c;
    }
    struct Buf b = {0};
    if ((rc = buf_put(&b, t->arena, t->arena_len, e))) goto fail; // texts first
    for (int id = 0; id < t->n_vocab; id++) {
        size_t off = b.len;
        if ((rc = make_piece(t, id, byte_of_cp, &b, e))) {
            free(b.p);
            goto fail;
        }
        t->tokens[id].piece_off = (uint32_t)off;
        t->tokens[id].piece_len = (uint32_t)(b.len - off);
        if (b.len - off > t->max_piece) t->max_piece = b.len - off;
    }
    free(t->arena);
    t->arena = b.p;
    t->arena_len = b.len;

    // byte fallback ids
    for (int c = 0; c < 256; c++) {
        char s[8];
        int id = -1;
        if (t->kind == TOKENIZER_SPM) {
            snprintf(s, sizeof(s), "<0x%02X>", c);
            id = tokenizer_find(t, s, 6);
            if (id < 0) { // llama.cpp's byte_to_token falls back to the byte itself
                s[0] = (char)c;
                id = tokenizer_find(t, s, 1);
            }
        } else if (t->kind == TOKENIZER_BPE) {
            id = tokenizer_find(t, s, utf8_put(t->byte_cp[c], s));
        }
        t->byte_id[c] = id;
    }

    // special tokens, matched in the text before tokenizing (tokenizer_st_partition)
    t->specials = malloc(((size_t)t->n_vocab + 1) * sizeof(int32_t));
    if (!t->specials) {
        rc = err_set(e, ERR_NOMEM, "tokenizer_init: out of memory");
        goto fail;
    }
    for (int id = 0; id < t->n_vocab; id++) {
        int ty = t->tokens[id].type;
        if (ty == TOKEN_TYPE_CONTROL || ty == TOKEN_TYPE_USER_DEFINED || ty == TOKEN_TYPE_UNKNOWN) {
            t->specials[t->n_specials++] = id;
        }
    }
    sort_specials(t);

    if (t->kind == TOKENIZER_RWKV && (rc = build_trie(t, e))) goto fail;

    // scratch for inputs up to 4 KiB; a longer one grows it once
    if ((rc = reserve_scratch(t, 4096, e))) goto fail;
    return 0;
fail:
    tokenizer_free(t);
    return rc;
}

void tokenizer_free(struct Tokenizer* t) {
    if (!t) return;
    free(t->tokens);
    free(t->arena);
    free(t->tok_slots);
    free(t->specials);
    free(t->merge_arena);
    free(t->merge_off);
    free(t->merge_len);
    free(t->merge_split);
    free(t->merge_slots);
    for (int i = 0; i < 4; i++)
        pcre2_code_free(t->re[i]);
    pcre2_match_data_free(t->md);
    free(t->trie_val);
    free(t->trie_keys);
    free(t->trie_child);
    free(t->buf);
    free(t->syms);
    free(t->heap);
    free(t->spans);
    free(t->frags);
    memset(t, 0, sizeof(*t));
}

// ---------------------------------------------------------------------------------------
// encoding: shared pieces

struct Out {
    int32_t* ids;
    int cap;
    int n;
};

static void out_push(struct Out* o, int32_t id) {
    if (o->n < o->cap) o->ids[o->n] = id;
    o->n++;
}

// A byte with no token of its own: the unknown token, else an error.
static int push_unknown(const struct Tokenizer* t, struct Out* o, uint8_t c, struct Err* e) {
    if (t->unk_id < 0) {
        return err_set(e, ERR_UNSUPPORTED,
                       "tokenizer_encode: byte 0x%02x has no token in this "
                       "vocabulary and there is no unknown token",
                       c);
    }
    out_push(o, t->unk_id);
    return 0;
}

// A symbol of the merge loops: a span of t->buf, linked to its neighbours.
struct Sym {
    int prev, next;
    uint32_t off, n;
};

// A merge candidate: higher key first, then the leftmost (llm_bigram_spm / llm_bigram_bpe
// comparators; key = score for SPM, -rank for BPE).
struct Bigram {
    int left, right;
    double key;
    uint32_t size;
};

static bool bigram_before(const struct Bigram* a, const struct Bigram* b) {
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

struct Heap {
    struct Bigram* a;
    size_t n;
};

static void heap_push(struct Heap* h, struct Bigram v) {
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_before(&v, &h->a[p])) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = v;
}

static struct Bigram heap_pop(struct Heap* h) {
    struct Bigram top = h->a[0];
    struct Bigram v = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && bigram_before(&h->a[c + 1], &h->a[c])) c++;
        if (!bigram_before(&h->a[c], &v)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n) h->a[i] = v;
    return top;
}

// Splits buf[0..n) into symbols of one UTF-8 character each. On valid UTF-8 this is
// llama.cpp's split; where llama.cpp sizes an invalid sequence by its lead byte (and so may
// swallow a following "▁" into a byte-fallback symbol, which then decodes as "▁" and not " "),
// each byte of an invalid sequence is a symbol of its own here, so that decoding gives the
// input back.
static int split_chars(struct Sym* syms, const uint8_t* buf, size_t n) {
    int count = 0;
    for (size_t off = 0; off < n;) {
        uint32_t cp;
        size_t len = utf8_decode(buf + off, n - off, &cp);
        if (len == 0) len = 1;
        syms[count] =
            (struct Sym){count - 1, off + len == n ? -1 : count + 1, (uint32_t)off, (uint32_t)len};
        off += len;
        count++;
    }
    return count;
}

// ---------------------------------------------------------------------------------------
// SPM (llm_tokenizer_spm_session)

static void spm_try_bigram(const struct Tokenizer* t, const struct Sym* syms, struct Heap* h,
                           int left, int right) {
    if (left < 0 || right < 0) return;
    const char* s = (const char*)t->buf + syms[left].off;
    size_t n = syms[left].n + syms[right].n;
    int id = tokenizer_find(t, s, n);
    if (id < 0) return;
    heap_push(h, (struct Bigram){left, right, t->tokens[id].score, (uint32_t)n});
}

// Tokenizes frag[0..n): spaces -> "▁" (with a leading one when prefix), then merges the pair
// whose merged text is the highest-scoring token until none is left.
static int spm_encode(struct Tokenizer* t, const char* frag, size_t n, bool prefix, struct Out* o,
                      struct Err* e) {
    size_t len = 0;
    uint8_t* buf = t->buf;
    if (prefix) memcpy(buf, "\xe2\x96\x81", 3), len = 3;
    for (size_t i = 0; i < n; i++) {
        if (frag[i] == ' ')
            memcpy(buf + len, "\xe2\x96\x81", 3), len += 3;
        else
            buf[len++] = (uint8_t)frag[i];
    }
    struct Sym* syms = t->syms;
    int count = split_chars(syms, buf, len);
    struct Heap h = {t->heap, 0};
    for (int i = 1; i < count; i++)
        spm_try_bigram(t, syms, &h, i - 1, i);
    while (h.n) {
        struct Bigram bg = heap_pop(&h);
        struct Sym* l = &syms[bg.left];
        struct Sym* r = &syms[bg.right];
        // stale: one side was merged away since the pair was queued
        if (l->n == 0 || r->n == 0 || l->n + r->n != bg.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) syms[r->next].prev = bg.left;
        spm_try_bigram(t, syms, &h, l->prev, bg.left);
        spm_try_bigram(t, syms, &h, bg.left, l->next);
    }
    // Every merged symbol is a token; an unmerged character may not be: byte fallback.
    // (llama.cpp's rev_merge re-segmentation can only apply to merged symbols, so it is moot.)
    for (int i = count ? 0 : -1; i >= 0; i = syms[i].next) {
        const char* s = (const char*)buf + syms[i].off;
        int id = tokenizer_find(t, s, syms[i].n);
        if (id >= 0) {
            out_push(o, id);
            continue;
        }
        for (uint32_t j = 0; j < syms[i].n; j++) {
            uint8_t c = (uint8_t)s[j];
            int rc =
                t->byte_id[c] >= 0 ? (out_push(o, t->byte_id[c]), 0) : push_unknown(t, o, c, e);
            if (rc) return rc;
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// BPE (llm_tokenizer_bpe_session)

struct Span {
    uint32_t off, len;
};

// Splits text[0..n) into pre-tokens with the regexes in order: each regex splits every
// piece of the previous one into its matches and the gaps between them (unicode_regex_split).
// Returns the piece count, in *out (which points into t->spans), or a negative ERR_*.
static int pre_split(struct Tokenizer* t, const char* text, size_t n, struct Span** out,
                     struct Err* e) {
    struct Span* cur = t->spans;
    struct Span* nxt = cur + (n + 1);
    int n_cur = 0;
    if (n) cur[n_cur++] = (struct Span){0, (uint32_t)n};
    for (int r = 0; r < t->n_re; r++) {
        int n_nxt = 0;
        for (int i = 0; i < n_cur; i++) {
            const PCRE2_SPTR s = (PCRE2_SPTR)text + cur[i].off;
            size_t len = cur[i].len, pos = 0;
            while (pos < len) {
                int rc = pcre2_match(t->re[r], s, len, pos, PCRE2_NOTEMPTY, t->md, NULL);
                if (rc == PCRE2_ERROR_NOMATCH) break;
                if (rc < 0) {
                    return err_set(e, ERR_UNSUPPORTED,
                                   "tokenizer_encode: pre-tokenizer regex "
                                   "failed (pcre2 error %d)",
                                   rc);
                }
                PCRE2_SIZE* ov = pcre2_get_ovector_pointer(t->md);
                size_t ms = ov[0], me = ov[1];
                if (me <= ms || me > len) break; // cannot happen with PCRE2_NOTEMPTY
                if (ms > pos)
                    nxt[n_nxt++] = (struct Span){cur[i].off + (uint32_t)pos, (uint32_t)(ms - pos)};
                nxt[n_nxt++] = (struct Span){cur[i].off + (uint32_t)ms, (uint32_t)(me - ms)};
                pos = me;
            }
            if (pos < len)
                nxt[n_nxt++] = (struct Span){cur[i].off + (uint32_t)pos, (uint32_t)(len - pos)};
        }
        struct Span* tmp = cur;
        cur = nxt;
        nxt = tmp;
        n_cur = n_nxt;
    }
    *out = cur;
    return n_cur;
}

static void bpe_try_bigram(const struct Tokenizer* t, const struct Sym* syms, struct Heap* h,
                           int left, int right) {
    if (left < 0 || right < 0) return;
    const char* s = (const char*)t->buf;
    int rank = merge_rank(t, s + syms[left].off, syms[left].n, s + syms[right].off, syms[right].n);
    if (rank < 0) return;
    heap_push(h, (struct Bigram){left, right, -(double)rank, syms[left].n + syms[right].n});
}

// One pre-token word[0..n): bytes -> byte-unicode characters, then merges by rank.
static int bpe_word(struct Tokenizer* t, const char* word, size_t n, struct Out* o, struct Err* e) {
    uint8_t* buf = t->buf;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += utf8_put(t->byte_cp[(uint8_t)word[i]], (char*)buf + len);
    if (t->ignore_merges) {
        int id = tokenizer_find(t, (const char*)buf, len);
        if (id >= 0) {
            out_push(o, id);
            return 0;
        }
    }
    struct Sym* syms = t->syms;
    int count = split_chars(syms, buf, len);
    struct Heap h = {t->heap, 0};
    for (int i = 1; i < count; i++)
        bpe_try_bigram(t, syms, &h, i - 1, i);
    while (h.n) {
        struct Bigram bg = heap_pop(&h);
        struct Sym* l = &syms[bg.left];
        struct Sym* r = &syms[bg.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != bg.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) syms[r->next].prev = bg.left;
        bpe_try_bigram(t, syms, &h, l->prev, bg.left);
        bpe_try_bigram(t, syms, &h, bg.left, l->next);
    }
    for (int i = count ? 0 : -1; i >= 0; i = syms[i].next) {
        const char* s = (const char*)buf + syms[i].off;
        int id = tokenizer_find(t, s, syms[i].n);
        if (id >= 0) {
            out_push(o, id);
            continue;
        }
        // A merge result that is not a token (malformed vocabulary): its characters one by
        // one. (llama.cpp looks up single bytes of the UTF-8 here and drops what it misses.)
        for (uint32_t j = 0; j < syms[i].n;) {
            uint32_t k = (uint32_t)utf8_len((uint8_t)s[j]);
            if (k > syms[i].n - j) k = syms[i].n - j;
            id = tokenizer_find(t, s + j, k);
            if (id >= 0)
                out_push(o, id);
            else if (t->unk_id >= 0)
                out_push(o, t->unk_id);
            j += k;
        }
    }
    (void)e;
    return 0;
}

static int bpe_encode(struct Tokenizer* t, const char* frag, size_t n, struct Out* o,
                      struct Err* e) {
    struct Span* spans = NULL;
    int n_spans = pre_split(t, frag, n, &spans, e);
    if (n_spans < 0) return n_spans;
    for (int i = 0; i < n_spans; i++) {
        int rc = bpe_word(t, frag + spans[i].off, spans[i].len, o, e);
        if (rc) return rc;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// RWKV (llm_tokenizer_rwkv_session): greedy longest match over the byte trie

static int rwkv_encode(const struct Tokenizer* t, const char* frag, size_t n, struct Out* o,
                       struct Err* e) {
    const uint8_t* s = (const uint8_t*)frag;
    for (size_t pos = 0; pos < n;) {
        int best = -1;
        size_t best_len = 0;
        uint32_t node = trie_child(t, 0, s[pos]);
        for (size_t k = 1; node; k++) {
            if (t->trie_val[node] >= 0) best = t->trie_val[node], best_len = k;
            if (pos + k >= n) break;
            node = trie_child(t, node, s[pos + k]);
        }
        if (best < 0) {
            // no token starts with this byte (llama.cpp pushes the unknown id, and would
            // loop forever when only longer tokens start with it)
            int rc = push_unknown(t, o, s[pos], e);
            if (rc) return rc;
            pos++;
            continue;
        }
        out_push(o, best);
        pos += best_len;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// tokenizer_encode: special-token partition, then the model's algorithm per text fragment

// memmem (a GNU extension, not in _DEFAULT_SOURCE): first s[0..sn) in h[0..hn), or NULL.
static const char* find_bytes(const char* h, size_t hn, const char* s, size_t sn) {
    if (sn == 0 || sn > hn) return NULL;
    const char* end = h + (hn - sn) + 1;
    for (const char* p = h; p < end;) {
        p = memchr(p, s[0], (size_t)(end - p));
        if (!p) return NULL;
        if (memcmp(p, s, sn) == 0) return p;
        p++;
    }
    return NULL;
}

struct Frag {
    int32_t id; // a special token, or -1 for text[off..off+len)
    uint32_t off, len;
};

// Splits the text around every occurrence of each special token, longest tokens first
// (tokenizer_st_partition). Returns the fragment count; *out points into t->frags.
static int partition(struct Tokenizer* t, const char* text, size_t len, int parse_special,
                     struct Frag** out) {
    struct Frag* cur = t->frags;
    struct Frag* nxt = cur + (2 * len + 2);
    int n_cur = 0;
    if (len) cur[n_cur++] = (struct Frag){-1, 0, (uint32_t)len};
    for (int k = 0; k < t->n_specials; k++) {
        int id = t->specials[k];
        int ty = t->tokens[id].type;
        // control and unknown tokens only when asked; user-defined ones always
        if (!parse_special && (ty == TOKEN_TYPE_CONTROL || ty == TOKEN_TYPE_UNKNOWN)) continue;
        const char* st = text_of(t, id);
        size_t sn = t->tokens[id].text_len;
        int n_nxt = 0;
        bool hit = false;
        for (int i = 0; i < n_cur; i++) {
            if (cur[i].id >= 0 || cur[i].len < sn) {
                nxt[n_nxt++] = cur[i];
                continue;
            }
            size_t pos = cur[i].off, end = cur[i].off + cur[i].len;
            while (pos < end) {
                const char* m = find_bytes(text + pos, end - pos, st, sn);
                if (!m) break;
                size_t ms = (size_t)(m - text);
                if (ms > pos) nxt[n_nxt++] = (struct Frag){-1, (uint32_t)pos, (uint32_t)(ms - pos)};
                nxt[n_nxt++] = (struct Frag){id, (uint32_t)ms, (uint32_t)sn};
                pos = ms + sn;
                hit = true;
            }
            if (pos < end) nxt[n_nxt++] = (struct Frag){-1, (uint32_t)pos, (uint32_t)(end - pos)};
        }
        if (hit) {
            struct Frag* tmp = cur;
            cur = nxt;
            nxt = tmp;
            n_cur = n_nxt;
        }
    }
    *out = cur;
    return n_cur;
}

// Scratch for a text of len bytes: SPM text grows to 3 bytes per space (+ a prefix), BPE
// characters are at most 2 bytes per byte; one symbol per byte, 3 merge candidates per
// symbol; at most 2 fragments per byte and 1 regex piece per byte, each in two halves.
static int reserve_scratch(struct Tokenizer* t, size_t len, struct Err* e) {
    size_t sym_n = 3 * len + 8;
    int rc;
    if ((rc = grow(&t->buf, &t->buf_cap, sym_n, 1, e)) ||
        (rc = grow(&t->syms, &t->syms_cap, sym_n, sizeof(struct Sym), e)) ||
        (rc = grow(&t->heap, &t->heap_cap, 3 * sym_n, sizeof(struct Bigram), e)) ||
        (rc = grow(&t->frags, &t->frags_cap, 4 * len + 4, sizeof(struct Frag), e)) ||
        (t->kind == TOKENIZER_BPE &&
         (rc = grow(&t->spans, &t->spans_cap, 2 * len + 2, sizeof(struct Span), e)))) {
        return rc;
    }
    return 0;
}

size_t tokenizer_bound(size_t n_bytes) {
    return 4 * n_bytes + 8;
}

int tokenizer_encode(struct Tokenizer* t, const char* text, size_t len, int add_bos,
                     int parse_special, int32_t* ids, int cap, int* n_ids, struct Err* e) {
    *n_ids = 0;
    if (t->kind == TOKENIZER_PLACEHOLDER) {
        return err_set(e, ERR_UNSUPPORTED,
                       "tokenizer_encode: this model's vocabulary is a "
                       "placeholder: pass token ids (tokenizer.ggml.model "
                       "= '%s')",
                       t->model);
    }
    if (len > TOKENIZER_MAX_TEXT) {
        return err_set(e, ERR_ARG, "tokenizer_encode: text of %zu bytes (at most %u)", len,
                       TOKENIZER_MAX_TEXT);
    }
    if (cap < 0) cap = 0;
    int rc = reserve_scratch(t, len, e);
    if (rc) return rc;
    struct Out o = {ids, cap, 0};
    if (add_bos && t->add_bos) out_push(&o, t->bos_id);
    struct Frag* frags = NULL;
    int n_frags = partition(t, text, len, parse_special, &frags);
    bool prev_special = true; // SPM: the space prefix goes before the first text fragment
    for (int i = 0; i < n_frags && !rc; i++) {
        if (frags[i].id >= 0) {
            out_push(&o, frags[i].id);
            prev_special = true;
            continue;
        }
        const char* s = text + frags[i].off;
        size_t n = frags[i].len;
        switch (t->kind) {
        case TOKENIZER_SPM:
            rc = spm_encode(t, s, n, t->add_space_prefix && prev_special, &o, e);
            break;
        case TOKENIZER_BPE: rc = bpe_encode(t, s, n, &o, e); break;
        case TOKENIZER_RWKV: rc = rwkv_encode(t, s, n, &o, e); break;
        case TOKENIZER_PLACEHOLDER:
        case TOKENIZER_KIND_COUNT: break;
        }
        prev_special = false;
    }
    if (rc) return rc;
    if (add_bos && t->add_eos) out_push(&o, t->eos_id);
    *n_ids = o.n;
    if (o.n > cap) {
        return err_set(e, ERR_ARG,
                       "tokenizer_encode: %d ids do not fit in a buffer of %d "
                       "(see tokenizer_bound)",
                       o.n, cap);
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// decoding

const char* tokenizer_piece(const struct Tokenizer* t, int id, size_t* len) {
    if (id < 0 || id >= t->n_vocab) {
        *len = 0;
        return NULL;
    }
    *len = t->tokens[id].piece_len;
    return t->arena + t->tokens[id].piece_off;
}

const char* tokenizer_token_text(const struct Tokenizer* t, int id, size_t* len) {
    if (id < 0 || id >= t->n_vocab) {
        *len = 0;
        return NULL;
    }
    *len = t->tokens[id].text_len;
    return text_of(t, id);
}

int tokenizer_token_type(const struct Tokenizer* t, int id) {
    return id >= 0 && id < t->n_vocab ? t->tokens[id].type : TOKEN_TYPE_UNDEFINED;
}

// The piece of id as decoding with flags shows it (first: no token decoded before).
static const char* decoded_piece(const struct Tokenizer* t, int id, int flags, bool first,
                                 size_t* len) {
    const char* p = tokenizer_piece(t, id, len);
    int ty = t->tokens[id].type;
    if ((flags & TOKENIZER_DECODE_SKIP_SPECIAL) &&
        (ty == TOKEN_TYPE_CONTROL || ty == TOKEN_TYPE_UNKNOWN)) {
        *len = 0;
    } else if (first && (flags & TOKENIZER_DECODE_STRIP_SPACE) && t->add_space_prefix && *len &&
               p[0] == ' ') {
        p++, (*len)--;
    }
    return p;
}

int tokenizer_decode(const struct Tokenizer* t, const int32_t* ids, int n, int flags, char* out,
                     size_t cap, size_t* n_out, struct Err* e) {
    size_t total = 0;
    *n_out = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab) {
            return err_set(e, ERR_ARG,
                           "tokenizer_decode: token id %d at %d is outside the "
                           "vocabulary of %d",
                           ids[i], i, t->n_vocab);
        }
        size_t len;
        const char* p = decoded_piece(t, ids[i], flags, i == 0, &len);
        if (total + len <= cap) memcpy(out + total, p, len);
        total += len;
    }
    *n_out = total;
    if (total > cap) {
        return err_set(e, ERR_ARG, "tokenizer_decode: %zu bytes do not fit in %zu", total, cap);
    }
    return 0;
}

void tokenizer_stream_init(struct TokenizerStream* s, int flags) {
    memset(s, 0, sizeof(*s));
    s->flags = flags;
}

// Bytes at the end of p[0..n) that start a UTF-8 sequence not yet complete (0..3).
static size_t incomplete_tail(const uint8_t* p, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        uint8_t c = p[n - k];
        if ((c & 0xC0) == 0x80) continue; // a continuation byte: look further back
        size_t need = c >= 0xF0 && c <= 0xF4   ? 4
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xC2 && c <= 0xDF ? 2
                                               : 1;
        return need > k ? k : 0;
    }
    return 0;
}

int tokenizer_stream_push(const struct Tokenizer* t, struct TokenizerStream* s, int32_t id,
                          char* out, size_t cap, size_t* n_out, struct Err* e) {
    *n_out = 0;
    if (id < 0 || id >= t->n_vocab) {
        return err_set(e, ERR_ARG,
                       "tokenizer_stream_push: token id %d is outside the "
                       "vocabulary of %d",
                       id, t->n_vocab);
    }
    size_t len;
    const char* p = decoded_piece(t, id, s->flags, s->n_tokens == 0, &len);
    size_t total = (size_t)s->n_pend + len;
    if (total > cap) {
        return err_set(e, ERR_ARG, "tokenizer_stream_push: %zu bytes do not fit in %zu", total,
                       cap);
    }
    memcpy(out, s->pend, (size_t)s->n_pend);
    memcpy(out + s->n_pend, p, len);
    size_t hold = incomplete_tail((const uint8_t*)out, total);
    memcpy(s->pend, out + total - hold, hold);
    s->n_pend = (int)hold;
    s->n_tokens++;
    *n_out = total - hold;
    return 0;
}

size_t tokenizer_stream_flush(struct TokenizerStream* s, char* out, size_t cap) {
    size_t n = (size_t)s->n_pend < cap ? (size_t)s->n_pend : cap;
    memcpy(out, s->pend, n);
    s->n_pend = 0;
    return n;
}

size_t tokenizer_escape(const char* s, size_t len, char* out, size_t cap) {
    size_t k = 0;
    char tmp[8];
    for (size_t i = 0; i < len;) {
        const uint8_t* u = (const uint8_t*)s + i;
        uint32_t cp;
        size_t n = utf8_decode(u, len - i, &cp);
        size_t m;
        if (n && (cp >= 0xA0 || (cp >= 0x20 && cp < 0x7F && cp != '\\'))) {
            memcpy(tmp, u, n);
            m = n;
        } else {
            n = 1;
            m = u[0] == '\n'   ? (size_t)snprintf(tmp, sizeof(tmp), "\\n")
                : u[0] == '\t' ? (size_t)snprintf(tmp, sizeof(tmp), "\\t")
                : u[0] == '\r' ? (size_t)snprintf(tmp, sizeof(tmp), "\\r")
                : u[0] == '\\' ? (size_t)snprintf(tmp, sizeof(tmp), "\\\\")
                               : (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", u[0]);
        }
        for (size_t j = 0; j < m; j++, k++) {
            if (k + 1 < cap) out[k] = tmp[j];
        }
        i += n;
    }
    if (cap) out[k < cap ? k : cap - 1] = '\0';
    return k;
}
