// info.c: describe a GGUF file (see info.h).
#include "info.h"

#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "model.h"

static cJSON* num_or_null(int rc, double v) {
    return rc ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

// "{arch}.suffix" as a number, an array of numbers (per-layer keys), or null.
static cJSON* arch_value(const struct Gguf* g, const char* suffix) {
    const struct GgufKv* kv = arch_find_key(g, suffix);
    if (!kv) return cJSON_CreateNull();
    if (kv->val.type == GGUF_TYPE_ARRAY) {
        const struct GgufArr* a = &kv->val.arr;
        if (a->type == GGUF_TYPE_STRING || a->type == GGUF_TYPE_ARRAY) return cJSON_CreateNull();
        cJSON* arr = cJSON_CreateArray();
        for (uint64_t i = 0; i < a->n && i < 4096; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(gguf_arr_float(a, i)));
        return arr;
    }
    double v = 0;
    int rc = arch_get_float(g, suffix, &v, NULL);
    return num_or_null(rc, v);
}

cJSON* info_describe(const struct Gguf* g, const char* path) {
    cJSON* o = cJSON_CreateObject();
    if (!o) return NULL;
    struct GgufStr s;
    cJSON_AddStringToObject(o, "file", path);
    cJSON_AddNumberToObject(o, "gguf_version", g->version);
    if (gguf_get_str(g, "general.architecture", &s, NULL) == 0)
        cJSON_AddStringToObject(o, "architecture", s.s);
    else
        cJSON_AddNullToObject(o, "architecture");
    enum Arch a;
    cJSON_AddBoolToObject(o, "supported", arch_from_gguf(g, &a, NULL) == 0);
    if (gguf_get_str(g, "general.name", &s, NULL) == 0)
        cJSON_AddStringToObject(o, "name", s.s);
    else
        cJSON_AddNullToObject(o, "name");
    cJSON_AddItemToObject(o, "n_layer", arch_value(g, "block_count"));
    cJSON_AddItemToObject(o, "n_embd", arch_value(g, "embedding_length"));
    cJSON_AddItemToObject(o, "n_head", arch_value(g, "attention.head_count"));
    cJSON_AddItemToObject(o, "n_head_kv", arch_value(g, "attention.head_count_kv"));
    cJSON_AddItemToObject(o, "n_ctx_train", arch_value(g, "context_length"));

    // Vocabulary size: the explicit key, else the token list, else the embedding rows.
    int64_t n_vocab = -1;
    const struct GgufArr* toks;
    const struct GgufTensor* emb = gguf_find_tensor(g, "token_embd.weight");
    if (arch_get_int(g, "vocab_size", &n_vocab, NULL) != 0) {
        if (gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) == 0)
            n_vocab = (int64_t)toks->n;
        else if (emb && emb->n_dims >= 2)
            n_vocab = emb->ne[1];
        else
            n_vocab = -1;
    }
    cJSON_AddItemToObject(o, "n_vocab", num_or_null(n_vocab < 0, (double)n_vocab));
    if (gguf_get_str(g, "tokenizer.ggml.model", &s, NULL) == 0)
        cJSON_AddStringToObject(o, "tokenizer", s.s);
    else
        cJSON_AddNullToObject(o, "tokenizer");

    int64_t n_params = 0;
    int64_t count[GGML_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < g->n_tensors; i++) {
        n_params += g->tensors[i].n_elements;
        count[g->tensors[i].type]++;
    }
    cJSON_AddNumberToObject(o, "n_tensors", (double)g->n_tensors);
    cJSON_AddNumberToObject(o, "n_params", (double)n_params);
    cJSON_AddNumberToObject(o, "file_bytes", (double)g->size);
    cJSON* types = cJSON_AddObjectToObject(o, "tensor_types");
    for (int t = 0; t < GGML_TYPE_COUNT; t++)
        if (count[t])
            cJSON_AddNumberToObject(types, quant_type_name((uint32_t)t), (double)count[t]);
    return o;
}

// A short rendering of a value: numbers as numbers, strings quoted, arrays as
// "[n x type] first elements...".
static void render(char* buf, size_t cap, const struct GgufValue* v) {
    switch (v->type) {
    case GGUF_TYPE_STRING:
        snprintf(buf, cap, "\"%.*s\"", (int)(cap > 8 ? cap - 8 : 0), v->str.s);
        return;
    case GGUF_TYPE_ARRAY: {
        const struct GgufArr* a = &v->arr;
        int n =
            snprintf(buf, cap, "[%llu x %s]", (unsigned long long)a->n, gguf_type_name(a->type));
        for (uint64_t i = 0; i < a->n && i < 8 && n > 0 && (size_t)n < cap; i++) {
            if (a->type == GGUF_TYPE_STRING)
                n += snprintf(buf + n, cap - (size_t)n, " \"%.24s\"", gguf_arr_str(a, i).s);
            else if (a->type != GGUF_TYPE_ARRAY)
                n += snprintf(buf + n, cap - (size_t)n, " %.9g", gguf_arr_float(a, i));
        }
        if (a->n > 8 && n > 0 && (size_t)n < cap) snprintf(buf + n, cap - (size_t)n, " ...");
        return;
    }
    case GGUF_TYPE_FLOAT32:
    case GGUF_TYPE_FLOAT64: snprintf(buf, cap, "%.9g", v->f); return;
    case GGUF_TYPE_BOOL: snprintf(buf, cap, "%s", v->u ? "true" : "false"); return;
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_INT16:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_INT64: snprintf(buf, cap, "%lld", (long long)v->i); return;
    default: snprintf(buf, cap, "%llu", (unsigned long long)v->u); return;
    }
}

void info_add_kv(cJSON* info, const struct Gguf* g) {
    cJSON* kvs = cJSON_AddObjectToObject(info, "kv");
    char buf[512];
    for (int64_t i = 0; i < g->n_kv; i++) {
        render(buf, sizeof(buf), &g->kv[i].val);
        cJSON_AddStringToObject(kvs, g->kv[i].key, buf);
    }
}

void info_add_tensors(cJSON* info, const struct Gguf* g) {
    cJSON* arr = cJSON_AddArrayToObject(info, "tensors");
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const struct GgufTensor* t = &g->tensors[i];
        cJSON* o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "type", quant_type_name(t->type));
        cJSON* ne = cJSON_AddArrayToObject(o, "ne");
        for (int d = 0; d < t->n_dims; d++)
            cJSON_AddItemToArray(ne, cJSON_CreateNumber((double)t->ne[d]));
        cJSON_AddNumberToObject(o, "offset", (double)t->offset);
        cJSON_AddNumberToObject(o, "bytes", (double)t->nbytes);
        cJSON_AddItemToArray(arr, o);
    }
}

static void print_item(FILE* f, const cJSON* it, int indent) {
    if (cJSON_IsObject(it)) {
        fputc('\n', f);
        for (const cJSON* c = it->child; c; c = c->next) {
            fprintf(f, "%*s%-22s ", indent + 2, "", c->string ? c->string : "");
            print_item(f, c, indent + 2);
        }
        return;
    }
    char* s = cJSON_IsString(it) ? NULL : cJSON_PrintUnformatted(it);
    fprintf(f, "%s\n", s ? s : cJSON_GetStringValue(it));
    free(s);
}

void info_print_text(FILE* f, const cJSON* info) {
    for (const cJSON* c = info->child; c; c = c->next) {
        if (strcmp(c->string, "tensors") == 0 && cJSON_IsArray(c)) {
            fprintf(f, "tensors:\n");
            for (const cJSON* t = c->child; t; t = t->next) {
                char* ne = cJSON_PrintUnformatted(cJSON_GetObjectItem(t, "ne"));
                fprintf(f, "  %-40s %-7s %-20s offset %.0f\n",
                        cJSON_GetStringValue(cJSON_GetObjectItem(t, "name")),
                        cJSON_GetStringValue(cJSON_GetObjectItem(t, "type")), ne ? ne : "",
                        cJSON_GetNumberValue(cJSON_GetObjectItem(t, "offset")));
                free(ne);
            }
            continue;
        }
        fprintf(f, "%-24s ", c->string);
        print_item(f, c, 0);
    }
}

void info_add_layers(cJSON* info, const struct Model* m) {
    // declared [] so that a kind added at the end of its enum fails the asserts below
    static const char* const KIND[] = {
        [LAYER_ATTN] = "attn",   [LAYER_MAMBA] = "mamba", [LAYER_MAMBA2] = "mamba2",
        [LAYER_RWKV7] = "rwkv7", [LAYER_RGLRU] = "rglru",
    };
    static const char* const FFN[] = {[FFN_NONE] = "", [FFN_DENSE] = "+ffn", [FFN_MOE] = "+moe"};
    _Static_assert(sizeof(KIND) / sizeof(KIND[0]) == LAYER_KIND_COUNT, "KIND: one per LayerKind");
    _Static_assert(sizeof(FFN) / sizeof(FFN[0]) == FFN_KIND_COUNT, "FFN: one per FfnKind");
    const struct Config* c = &m->config;
    cJSON* arr = cJSON_AddArrayToObject(info, "layers");
    int n_attn = 0, n_rec = 0, n_moe = 0;
    for (int l = 0; l < c->n_layer; l++) {
        char s[48], shared[24] = "";
        // ---- zamba2: a hybrid layer runs shared block b before its mixer
        if (c->n_shared_block > 0 && c->layer_shared[l] >= 0)
            snprintf(shared, sizeof(shared), "shared%d+", c->layer_shared[l]);
        snprintf(s, sizeof(s), "%s%s%s", shared, KIND[c->layer_kind[l]], FFN[c->ffn_kind[l]]);
        cJSON_AddItemToArray(arr, cJSON_CreateString(s));
        n_attn += c->layer_kind[l] == LAYER_ATTN;
        n_rec += c->layer_kind[l] != LAYER_ATTN;
        n_moe += c->ffn_kind[l] == FFN_MOE;
    }
    // RWKV-7 files store head_count 0; the model's head count follows from wkv.head_size.
    const cJSON* nh = cJSON_GetObjectItem(info, "n_head");
    if (c->n_head > 0 && (!cJSON_IsNumber(nh) || cJSON_GetNumberValue(nh) == 0))
        cJSON_ReplaceItemInObject(info, "n_head", cJSON_CreateNumber(c->n_head));
    cJSON_AddNumberToObject(info, "n_attn", n_attn);
    cJSON_AddNumberToObject(info, "n_recurrent", n_rec);
    cJSON_AddNumberToObject(info, "n_moe", n_moe);
}
