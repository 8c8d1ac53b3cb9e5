// safetensors.h: reader for Hugging Face safetensors checkpoints.
// safetensors_parse validates a file held in memory: an 8-byte little-endian header length,
// a JSON object {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the data section. Every tensor's byte range must lie inside the data section, match
// its dtype and shape exactly (size products checked for overflow) and overlap no other.
// safetensors_open maps a file read-only; safetensors_dir_open opens a model directory:
// model.safetensors, or the shards named by model.safetensors.index.json's weight_map.
// Tensor views point into the mapping. Not here: tensor names' meaning (convert.c).
// Tests: tests/test_convert.c; fuzzing: fuzz/fuzz_safetensors.c.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SAFETENSORS_MAX_DIMS 8
// A header larger than this is refused (the format's own readers cap it at 100 MB).
#define SAFETENSORS_MAX_HEADER (100u * 1024u * 1024u)

enum SafetensorsDtype {
    ST_F64,
    ST_F32,
    ST_F16,
    ST_BF16,
    ST_I64,
    ST_I32,
    ST_I16,
    ST_I8,
    ST_U8,
    ST_BOOL,
    ST_U16,
    ST_U32,
    ST_U64,
    ST_F8_E4M3,
    ST_F8_E5M2,
    ST_DTYPE_COUNT,
};

struct SafetensorsTensor {
    const char* name; // NUL-terminated, unique within the file (or directory)
    enum SafetensorsDtype dtype;
    int n_dims;                          // 0 (a scalar) .. SAFETENSORS_MAX_DIMS
    int64_t shape[SAFETENSORS_MAX_DIMS]; // row-major: shape[n_dims-1] is contiguous
    int64_t n_elements;
    const uint8_t* data; // view into the buffer (unaligned, little-endian)
    size_t nbytes;
};

struct Safetensors {
    int64_t n_tensors;
    struct SafetensorsTensor* tensors; // sorted by name (safetensors_find: binary search)
    char* names;                       // owned storage for the names
    // owned when opened from a file or directory
    void** maps;
    size_t* map_sizes;
    int n_maps;
};

// Parses bytes[0..size), which the caller keeps alive until safetensors_free. Returns 0, or
// a negative ERR_* with one line in e naming the tensor or field at fault (s left freed).
int safetensors_parse(struct Safetensors* s, const uint8_t* bytes, size_t size, struct Err* e);

// Opens and maps one .safetensors file.
int safetensors_open(struct Safetensors* s, const char* path, struct Err* e);

// Opens a Hugging Face model directory: model.safetensors.index.json (sharded; every
// weight_map entry must be found in its shard) or else model.safetensors.
int safetensors_dir_open(struct Safetensors* s, const char* dir, struct Err* e);

void safetensors_free(struct Safetensors* s); // accepts NULL and a zeroed struct

const struct SafetensorsTensor* safetensors_find(const struct Safetensors* s, const char* name);

const char* safetensors_dtype_name(enum SafetensorsDtype t); // "F32", ...
size_t safetensors_dtype_size(enum SafetensorsDtype t);

// Converts a float tensor (F64/F32/F16/BF16) to float32 into dst[0..n_elements).
// F64 rounds to nearest; returns ERR_TYPE for any other dtype.
int safetensors_to_f32(const struct SafetensorsTensor* t, float* dst, struct Err* e);
// The same to double (exact for all four dtypes).
int safetensors_to_f64(const struct SafetensorsTensor* t, double* dst, struct Err* e);
