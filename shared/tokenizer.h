// tokenizer.h: text <-> token ids from a GGUF's tokenizer.ggml.* keys, as llama.cpp reads
// them (src/llama-vocab.cpp): SentencePiece BPE with scores ("llama"), GPT-2 byte-level BPE
// with merge ranks and a pre-tokenizer regex chosen by tokenizer.ggml.pre ("gpt2"), and the
// RWKV "world" greedy trie ("rwkv"). A placeholder vocabulary ("test", "none", "no_vocab")
// loads for decoding only. Pre-tokenizers: default, gpt-2 (and phi-2, mpt, olmo, ...),
// llama-bpe (llama3, ...), dbrx/smaug-bpe, qwen2, starcoder family. Not here: WordPiece,
// Unigram (t5), other pre-tokenizers (ERR_UNSUPPORTED), SPM remove_extra_whitespaces,
// llama.cpp's per-model lstrip/rstrip of special tokens, chat templates and its detokenizer
// space clean-up (decoding here is byte-exact). Tests: tests/test_tokenizer.c (llama.cpp's
// vocab test vectors, RWKV world reference ids); fuzzing: fuzz/fuzz_tokenizer.c.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct Gguf;
struct pcre2_real_code_8;
struct pcre2_real_match_data_8;

enum TokenizerKind {
    TOKENIZER_SPM = 0,         // tokenizer.ggml.model = "llama"
    TOKENIZER_BPE = 1,         // "gpt2": byte-level BPE
    TOKENIZER_RWKV = 2,        // "rwkv": world vocabulary, greedy longest match
    TOKENIZER_PLACEHOLDER = 3, // "test", "none", "no_vocab": ids only, no encoding
    TOKENIZER_KIND_COUNT = 4,
};

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum TokenType {
    TOKEN_TYPE_UNDEFINED = 0,
    TOKEN_TYPE_NORMAL = 1,
    TOKEN_TYPE_UNKNOWN = 2,
    TOKEN_TYPE_CONTROL = 3,
    TOKEN_TYPE_USER_DEFINED = 4,
    TOKEN_TYPE_UNUSED = 5,
    TOKEN_TYPE_BYTE = 6,
    TOKEN_TYPE_COUNT = 7,
};

// Longest accepted input of tokenizer_encode, in bytes (keeps every count in an int).
#define TOKENIZER_MAX_TEXT (1u << 28)

// Flags of tokenizer_decode and tokenizer_stream_init.
enum TokenizerDecodeFlags {
    // Drop one leading space of the first token's piece when the vocabulary adds a space
    // prefix (SPM): llama.cpp's llama_detokenize does this, so that decode(encode(s)) == s.
    // (llama.cpp strips even when the first token is BOS, i.e. nothing then; same here.)
    TOKENIZER_DECODE_STRIP_SPACE = 1,
    // Control and unknown tokens decode to nothing (llama.cpp's special = false). Without
    // this flag they decode to their literal text, e.g. "<s>".
    TOKENIZER_DECODE_SKIP_SPECIAL = 2,
};

struct TokenEntry {
    uint32_t text_off, text_len;   // the vocabulary string, in arena
    uint32_t piece_off, piece_len; // the decoded bytes, in arena
    float score;                   // tokenizer.ggml.scores (0 when absent)
    uint8_t type;                  // enum TokenType
};

struct Tokenizer {
    enum TokenizerKind kind;
    int n_vocab;
    int bos_id, eos_id, unk_id, pad_id, eot_id; // -1 when the model has none
    int add_bos;          // tokenizer.ggml.add_bos_token, else llama.cpp's default per model
    int add_eos;          // tokenizer.ggml.add_eos_token, else 0
    int add_space_prefix; // tokenizer.ggml.add_space_prefix, else 1 for SPM, 0 otherwise
    int ignore_merges;    // BPE: a pre-token that is a whole token skips the merges (Llama-3)
    char model[32];       // tokenizer.ggml.model, truncated
    char pre[64];         // tokenizer.ggml.pre, truncated ("" when absent)
    size_t max_piece;     // longest piece in bytes (for decode buffers)

    // owned tables, built once in tokenizer_init
    struct TokenEntry* tokens; // (n_vocab,)
    char* arena;               // every token text and piece
    size_t arena_len;
    uint32_t* tok_slots; // text -> id hash: id + 1, 0 = empty; (tok_mask + 1,)
    uint32_t tok_mask;
    int32_t* specials; // control/user-defined/unknown ids, longest text first
    int n_specials;
    int32_t byte_id[256];  // SPM "<0xNN>" / BPE byte-unicode token of each byte, or -1
    uint16_t byte_cp[256]; // BPE: GPT-2's bytes_to_unicode() code point of each byte
    // BPE merges: "left right" strings, rank = index
    char* merge_arena;
    uint32_t* merge_off;   // (n_merges,) offset in merge_arena
    uint32_t* merge_len;   // (n_merges,) length of "left right"
    uint32_t* merge_split; // (n_merges,) length of left
    int n_merges;
    uint32_t* merge_slots; // "left right" -> rank + 1, 0 = empty; (merge_mask + 1,)
    uint32_t merge_mask;
    struct pcre2_real_code_8* re[4]; // pre-tokenizer regexes, applied in order
    int n_re;
    struct pcre2_real_match_data_8* md;
    // RWKV trie: node 0 is the root; child edges in a hash keyed by (node << 8 | byte)
    int32_t* trie_val; // (n_nodes,) token id ending at the node, or -1
    uint32_t n_nodes;
    uint64_t* trie_keys;  // (node << 8 | byte) + 1, 0 = empty; (trie_mask + 1,)
    uint32_t* trie_child; // (trie_mask + 1,)
    uint32_t trie_mask;

    // scratch, allocated in tokenizer_init and grown only when an input needs more
    void* buf; // escaped / byte-encoded text (bytes)
    size_t buf_cap;
    void* syms; // merge symbols
    size_t syms_cap;
    void* heap; // merge candidates
    size_t heap_cap;
    void* spans; // regex pieces (two halves)
    size_t spans_cap;
    void* frags; // special-token partition (two halves)
    size_t frags_cap;
};

// Reads the tokenizer of g. On success t owns copies of everything it needs (g may be freed
// afterwards). Fails with ERR_NOT_FOUND when g has no tokenizer.ggml.model (a model without
// tokenizer keys), ERR_UNSUPPORTED for a tokenizer model or pre-tokenizer not implemented
// here, ERR_FORMAT/ERR_TYPE for malformed keys (message in e), ERR_NOMEM; t is then freed.
int tokenizer_init(struct Tokenizer* t, const struct Gguf* g, struct Err* e);

// Releases what t owns. Accepts NULL and a zeroed or freed struct.
void tokenizer_free(struct Tokenizer* t);

// A bound on the ids tokenizer_encode produces from n_bytes of text, BOS/EOS included:
// 4 * n_bytes + 8. Every byte yields at most one id, except in SPM, where a space becomes
// "▁" (3 byte-fallback tokens when "▁" is not a token) and a prefix space is added to the
// text and after each special token; the worst case is 3.5 ids per byte.
size_t tokenizer_bound(size_t n_bytes);

// Tokenizes text[0..len) into ids[0..cap); *n_ids gets the number of ids. Any bytes are
// accepted: invalid UTF-8 goes through byte fallback (SPM) or as raw bytes (BPE, RWKV).
// add_bos: prepend BOS when the model's add_bos says so (and append EOS when add_eos), as
// llama.cpp's add_special. parse_special: control and unknown tokens written literally in
// the text (e.g. "<s>") become their ids; user-defined tokens always do (llama.cpp). SPM
// adds the leading space (add_space_prefix) to the text and after every special token, as
// llama.cpp does. decode(encode(s)) == s byte for byte (SPM: with the first space stripped),
// except in SPM when a literal "▁" (U+2581) is in s (it decodes as a space: SentencePiece
// escapes spaces to it) or a space prefix follows a special token. Returns 0; ERR_ARG when
// cap is too small (*n_ids then holds the count needed) or len exceeds TOKENIZER_MAX_TEXT;
// ERR_UNSUPPORTED for a placeholder vocabulary, or when a byte has no token and the model
// has no unknown token; ERR_NOMEM. Uses t's scratch: one struct Tokenizer must not encode
// from two threads at once.
int tokenizer_encode(struct Tokenizer* t, const char* text, size_t len, int add_bos,
                     int parse_special, int32_t* ids, int cap, int* n_ids, struct Err* e);

// The decoded bytes of token id (byte tokens as the raw byte, "▁" as a space, GPT-2
// byte-unicode back to bytes, RWKV escapes undone, control tokens as their text, unused
// SPM/BPE tokens as nothing), length in *len. Borrowed until tokenizer_free. NULL (and
// *len = 0) when id is out of range.
const char* tokenizer_piece(const struct Tokenizer* t, int id, size_t* len);

// The vocabulary string of id as stored in the GGUF (NULL when out of range).
const char* tokenizer_token_text(const struct Tokenizer* t, int id, size_t* len);

// enum TokenType of id (TOKEN_TYPE_UNDEFINED when out of range).
int tokenizer_token_type(const struct Tokenizer* t, int id);

// The id of a token given by its exact vocabulary string, or -1.
int tokenizer_find(const struct Tokenizer* t, const char* text, size_t len);

// Short name of a kind: "spm", "bpe", "rwkv", "placeholder".
const char* tokenizer_kind_name(enum TokenizerKind k);

// Writes the bytes of ids[0..n) to out[0..cap) (not NUL-terminated) with flags from
// enum TokenizerDecodeFlags; *n_out gets the byte count. Returns 0; ERR_ARG for an id out
// of range or when cap is too small (*n_out then holds the size needed).
int tokenizer_decode(const struct Tokenizer* t, const int32_t* ids, int n, int flags, char* out,
                     size_t cap, size_t* n_out, struct Err* e);

// Streaming decode: pieces go out as soon as they end on a complete UTF-8 sequence; an
// incomplete trailing sequence (at most 3 bytes) is held back until the next piece or the
// flush. Bytes that can never form a valid sequence are passed through as they are.
struct TokenizerStream {
    uint8_t pend[4];
    int n_pend;
    int flags;    // enum TokenizerDecodeFlags
    int n_tokens; // tokens pushed so far
};

void tokenizer_stream_init(struct TokenizerStream* s, int flags);

// Appends the piece of id. Writes what is complete to out[0..cap) and its length to *n_out;
// cap >= t->max_piece + 4 always suffices. Returns 0, or ERR_ARG (id out of range, cap too
// small; nothing is consumed then).
int tokenizer_stream_push(const struct Tokenizer* t, struct TokenizerStream* s, int32_t id,
                          char* out, size_t cap, size_t* n_out, struct Err* e);

// Writes the held-back bytes (at most 4, raw) to out and resets the hold. Returns the count.
size_t tokenizer_stream_flush(struct TokenizerStream* s, char* out, size_t cap);

// For printing a piece or a token text: copies s[0..len) to out as a NUL-terminated string
// in which printable ASCII and valid UTF-8 of U+00A0 and above stay as they are, and every
// other byte becomes \n, \t, \r, \\ or \xNN. Writes at most cap bytes (NUL included; cap may
// be 0) and returns the length the full escape needs, without the NUL (like snprintf).
size_t tokenizer_escape(const char* s, size_t len, char* out, size_t cap);
