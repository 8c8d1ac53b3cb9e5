// convert.h: Hugging Face checkpoint directory (config.json + safetensors, optional
// tokenizer.json) -> GGUF, for llama, mistral, jamba, mamba, mamba2 (llama.cpp's layout
// and metadata, as ../shared/gguf/README.md documents them), recurrent_gemma, zamba2 and
// zamba (layouts of our own, docs/GGUF.md). The output is written through gguf_writer_write_file
// (path.tmp, then renamed): on any error no file is left at out_path.
// The driver is tools/convert.c; one tools/hf_<family>.c per family, tools/hf_common.c and
// tools/hf_tokenizer.c do the work. Not here: flag parsing and printing (app/convert_cmd.c).
// Tests: tests/test_convert.c.
#pragma once

#include <stddef.h>

#include "err.h"
#include "quant.h"

struct ConvertOptions {
    enum GgmlType type; // GGML_TYPE_F32 (lossless), F16, BF16, Q8_0 or Q4_0
    const char* name;   // general.name; NULL: the directory's last path component
    // Progress and notes, one line each (no newline); NULL: silent.
    void (*log)(void* ctx, const char* line);
    void* log_ctx;
};

// Converts dir into out_path. Returns 0, or a negative ERR_* with one line in e naming the
// file, key or tensor at fault.
int convert_hf(const char* dir, const char* out_path, const struct ConvertOptions* o,
               struct Err* e);

// The GGUF architecture a config.json model_type maps to ("mistral" -> "llama",
// "recurrent_gemma" -> "recurrentgemma"), or NULL when unsupported.
const char* convert_arch_for(const char* model_type);
// "llama, mistral, ..." (every model_type convert_hf takes) into buf; returns buf.
const char* convert_model_types(char* buf, size_t cap);
