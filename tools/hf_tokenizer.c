// hf_tokenizer.c: tokenizer.json (+ tokenizer_config.json) -> tokenizer.ggml.* (SPM or
// byte-level BPE, scores, merges, special ids), or a placeholder vocabulary when the
// checkpoint has none.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hf_common.h"

// ---------------------------------------------------------------------------------------
// vocabulary

static void placeholder_vocab(struct Conv* c) {
    int64_t V = c->n_vocab;
    char** toks = calloc((size_t)V, sizeof(char*));
    int32_t* types = malloc((size_t)V * sizeof(int32_t));
    float* scores = calloc((size_t)V, sizeof(float));
    char* text = malloc((size_t)V * 32);
    if (!toks || !types || !scores || !text) {
        hf_fail(c, ERR_NOMEM, "out of memory");
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
        hf_fail(c, ERR_FORMAT, "tokenizer.json: model.type or model.vocab is missing");
        return;
    }
    int unigram = !strcmp(mtype->valuestring, "Unigram");
    if (!unigram && strcmp(mtype->valuestring, "BPE")) {
        hf_fail(c, ERR_UNSUPPORTED, "tokenizer.json: model type '%.40s' is not supported",
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
        hf_fail(c, ERR_NOMEM, "out of memory");
        goto done;
    }
    int spm = unigram;
    if (unigram) {
        if (!cJSON_IsArray(vocab)) {
            hf_fail(c, ERR_FORMAT, "tokenizer.json: Unigram vocab is not a list");
            goto done;
        }
        int64_t id = 0;
        for (const cJSON* it = vocab->child; it; it = it->next, id++) {
            const cJSON* s = cJSON_GetArrayItem(it, 0);
            const cJSON* sc = cJSON_GetArrayItem(it, 1);
            if (!cJSON_IsString(s) || !cJSON_IsNumber(sc)) {
                hf_fail(c, ERR_FORMAT, "tokenizer.json: vocab entry %lld is not [piece, score]",
                        (long long)id);
                goto done;
            }
            if (id >= V) {
                hf_fail(c, ERR_SHAPE, "tokenizer.json: %d tokens but vocab_size is %lld",
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
            hf_fail(c, ERR_FORMAT, "tokenizer.json: BPE vocab is not an object");
            goto done;
        }
        for (const cJSON* it = vocab->child; it; it = it->next) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 ||
                it->valuedouble != floor(it->valuedouble)) {
                hf_fail(c, ERR_FORMAT, "tokenizer.json: vocab id of a token is not an integer");
                goto done;
            }
            if (it->valuedouble >= (double)V) {
                hf_fail(c, ERR_SHAPE, "tokenizer.json: token id %.0f >= vocab_size %lld",
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
            hf_fail(c, ERR_SHAPE, "tokenizer.json: added token id %.0f >= vocab_size %lld",
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
        hf_fail(c, ERR_NOMEM, "out of memory");
        goto done;
    }
    struct TokIdx* tidx = NULL;
    int64_t n_tidx = 0;
    if (spm && !unigram && n_merges) {
        tidx = malloc((size_t)V * sizeof(*tidx));
        if (!tidx) {
            free(mstr);
            hf_fail(c, ERR_NOMEM, "out of memory");
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
            hf_fail(c, ERR_FORMAT, "tokenizer.json: merge %lld is neither \"a b\" nor [a, b]",
                    (long long)m);
            break;
        }
        if (!mstr[m]) hf_fail(c, ERR_NOMEM, "out of memory");
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
            hf_fail(c, ERR_NOMEM, "out of memory");
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
        hf_log(c, "tokenizer.json: %s vocabulary of %lld tokens, %lld merges",
               spm ? "SentencePiece-style (llama)" : "byte-level BPE (gpt2)", (long long)n,
               (long long)n_merges);
        // bos/eos/unk from tokenizer_config.json, when it names them
        cJSON* tc = hf_read_json(c, "tokenizer_config.json", 0);
        static const char* const SP[3][2] = {{"bos_token", "tokenizer.ggml.bos_token_id"},
                                             {"eos_token", "tokenizer.ggml.eos_token_id"},
                                             {"pad_token", "tokenizer.ggml.padding_token_id"}};
        for (int k = 0; k < 3; k++) {
            int64_t id = special_from_tc(tc, SP[k][0], toks, n);
            if (id < 0)
                id = hf_cfg_token_id(c, k == 0   ? "bos_token_id"
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

void hf_write_vocab(struct Conv* c) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/tokenizer.json", c->dir);
    if (stat(path, &st) == 0) {
        cJSON* tj = hf_read_json(c, "tokenizer.json", 1);
        if (tj) import_tokenizer(c, tj);
        cJSON_Delete(tj);
        return;
    }
    hf_log(c, "no tokenizer.json: placeholder vocabulary tok_0..tok_%lld",
           (long long)c->n_vocab - 1);
    placeholder_vocab(c);
    static const char* const SP[3][2] = {{"bos_token_id", "tokenizer.ggml.bos_token_id"},
                                         {"eos_token_id", "tokenizer.ggml.eos_token_id"},
                                         {"pad_token_id", "tokenizer.ggml.padding_token_id"}};
    for (int k = 0; k < 3; k++) {
        int64_t id = hf_cfg_token_id(c, SP[k][0]);
        if (id >= 0 && id < c->n_vocab) gguf_writer_set_u32(&c->w, SP[k][1], (uint32_t)id);
    }
}
