// info.h: a description of a GGUF file (what `mattn-ref info` and `mattn-gles info` print),
// computed from the file alone, as a cJSON object so that the JSON and the human-readable
// output come from one source.
#pragma once

#include <cjson/cJSON.h>
#include <stdio.h>

#include "gguf.h"

// Describes g (opened from path, file_bytes long): architecture, name, n_layer, n_embd,
// n_head, n_head_kv (a number, or an array when the file stores one per layer), n_ctx_train,
// n_vocab, tokenizer, n_tensors, n_params, file_bytes, tensor_types (type name -> count).
// Keys a file lacks are null. Returns a new object the caller frees with cJSON_Delete, or
// NULL when out of memory.
cJSON* info_describe(const struct Gguf* g, const char* path);

// Adds what only a loaded model knows: "layers", one string per layer naming its mixer and
// feed-forward ("attn+ffn", "mamba", "attn+moe", "rwkv7", ...), and counts "n_attn",
// "n_recurrent", "n_moe".
struct Model;
void info_add_layers(cJSON* info, const struct Model* m);

// Writes the object as "key: value" lines (nested objects indented), for people.
void info_print_text(FILE* f, const cJSON* info);

// Adds "kv" (every key and a short rendering of its value) and "tensors" (name, type,
// shape, offset) to info, for `info --kv` / `info --tensors`.
void info_add_kv(cJSON* info, const struct Gguf* g);
void info_add_tensors(cJSON* info, const struct Gguf* g);
