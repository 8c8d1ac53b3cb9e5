// gguf.h: GGUF v2/v3 reader (gguf_parse over bytes; gguf_open = mmap + parse) and a
// GGUF v3 writer. The reader validates everything before it allocates or hands out a
// pointer: counts against the bytes left, every size product against overflow, type ids,
// alignment, offsets inside the file and not overlapping. Tensor views point into the
// caller's buffer or the read-only mapping. Not here: interpreting keys (arch.c) or
// tensor contents (quant.c). Tests: tests/test_gguf.c; fuzzing: fuzz/fuzz_gguf.c.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "quant.h"

enum GgufValueType {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT = 13,
};

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

// A string value. s is NUL-terminated (a copy owned by the struct Gguf) and may contain
// further NULs: len is authoritative.
struct GgufStr {
    const char* s;
    uint64_t len;
};

struct GgufValue;

// An array value. Scalar elements stay in the file bytes (raw, little-endian, possibly
// unaligned: read them with gguf_arr_int/gguf_arr_float); string and array elements are
// parsed into items[].
struct GgufArr {
    enum GgufValueType type;       // element type
    uint64_t n;                    // element count
    const uint8_t* raw;            // scalar elements: n * gguf_type_size(type) bytes
    const struct GgufValue* items; // string / array elements: n entries, else NULL
};

struct GgufValue {
    enum GgufValueType type;
    union {
        uint64_t u; // UINT8..UINT64 and BOOL (0/1)
        int64_t i;  // INT8..INT64
        double f;   // FLOAT32 (exactly widened) and FLOAT64
        struct GgufStr str;
        struct GgufArr arr;
    };
};

struct GgufKv {
    const char* key; // NUL-terminated, non-empty, unique
    struct GgufValue val;
};

struct GgufTensor {
    const char* name;          // NUL-terminated, unique
    int n_dims;                // 1..4
    int64_t ne[GGUF_MAX_DIMS]; // elements per dim, ne[0] fastest (a row); unused dims are 1
    enum GgmlType type;
    uint64_t offset;    // relative to the data section, aligned
    size_t nbytes;      // size of the data
    const void* data;   // view into the buffer (NULL when gguf_parse_meta was used)
    int64_t n_elements; // ne[0]*ne[1]*ne[2]*ne[3]
};

struct Gguf {
    uint32_t version;   // 2 or 3
    uint32_t alignment; // general.alignment or 32
    int64_t n_kv;
    int64_t n_tensors;
    struct GgufKv* kv;          // n_kv entries, file order
    struct GgufTensor* tensors; // n_tensors entries, file order
    size_t data_offset;         // start of the tensor data section in the buffer
    const uint8_t* bytes;       // the whole file (borrowed from the caller, or the mapping)
    size_t size;
    // owned
    void* map; // mmap of the file (gguf_open), else NULL
    size_t map_size;
    void* arena; // one allocation for kv, tensors, values and string copies
};

// Parses a GGUF held in bytes[0..size). On success returns 0 and g views bytes, which the
// caller keeps alive and unchanged until gguf_free(g). On failure returns a negative
// ERR_* code, fills e with one line naming the key or tensor at fault, and leaves g freed.
int gguf_parse(struct Gguf* g, const uint8_t* bytes, size_t size, struct Err* e);

// Opens path read-only, mmaps it (the fd is closed at once) and parses it.
int gguf_open(struct Gguf* g, const char* path, struct Err* e);

// Releases what g owns (the mapping too). Accepts NULL and a zeroed or freed struct.
void gguf_free(struct Gguf* g);

// Size in bytes of one scalar of type t (0 for STRING/ARRAY/unknown).
size_t gguf_type_size(enum GgufValueType t);
const char* gguf_type_name(enum GgufValueType t); // "u32", "str", "arr", ...

// Lookups. Returned pointers are borrowed until gguf_free.
const struct GgufKv* gguf_find_key(const struct Gguf* g, const char* key);
const struct GgufTensor* gguf_find_tensor(const struct Gguf* g, const char* name);

// Typed getters. Each returns 0 and sets *out, ERR_NOT_FOUND when the key is absent, or
// ERR_TYPE when its type does not fit (message in e, which may be NULL).
// get_int accepts any integer type and BOOL; get_float any integer or float type;
// get_uint additionally refuses negative values.
int gguf_get_int(const struct Gguf* g, const char* key, int64_t* out, struct Err* e);
int gguf_get_uint(const struct Gguf* g, const char* key, uint64_t* out, struct Err* e);
int gguf_get_float(const struct Gguf* g, const char* key, double* out, struct Err* e);
int gguf_get_bool(const struct Gguf* g, const char* key, bool* out, struct Err* e);
int gguf_get_str(const struct Gguf* g, const char* key, struct GgufStr* out, struct Err* e);
int gguf_get_arr(const struct Gguf* g, const char* key, const struct GgufArr** out, struct Err* e);

// Array element access (i < a->n; asserts the element kind).
int64_t gguf_arr_int(const struct GgufArr* a, uint64_t i);        // integer or bool elements
double gguf_arr_float(const struct GgufArr* a, uint64_t i);       // any numeric element
struct GgufStr gguf_arr_str(const struct GgufArr* a, uint64_t i); // string elements

// --------------------------------------------------------------------------------------
// writer

struct GgufWriterTensor {
    char* name;
    enum GgmlType type;
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    const void* data; // caller's bytes, or owned when copied
    size_t nbytes;
    int owned;
};

struct GgufWriter {
    uint8_t* kv_bytes; // the encoded key/value section
    size_t kv_len, kv_cap;
    int64_t n_kv;
    char** keys; // for the duplicate check
    struct GgufWriterTensor* tensors;
    int64_t n_tensors, tensors_cap;
    uint32_t alignment;
    int failed; // a set/add call failed (allocation or duplicate): write refuses
    struct Err err;
};

// Starts an empty writer (alignment 32). Returns 0 or ERR_NOMEM.
int gguf_writer_init(struct GgufWriter* w);
void gguf_writer_free(struct GgufWriter* w);

// Setters append one key/value pair. A duplicate key or a failed allocation marks the
// writer failed (reported by the write call). general.alignment set with set_u32 also sets
// the alignment used for tensor data.
void gguf_writer_set_u8(struct GgufWriter* w, const char* key, uint8_t v);
void gguf_writer_set_i8(struct GgufWriter* w, const char* key, int8_t v);
void gguf_writer_set_u16(struct GgufWriter* w, const char* key, uint16_t v);
void gguf_writer_set_i16(struct GgufWriter* w, const char* key, int16_t v);
void gguf_writer_set_u32(struct GgufWriter* w, const char* key, uint32_t v);
void gguf_writer_set_i32(struct GgufWriter* w, const char* key, int32_t v);
void gguf_writer_set_u64(struct GgufWriter* w, const char* key, uint64_t v);
void gguf_writer_set_i64(struct GgufWriter* w, const char* key, int64_t v);
void gguf_writer_set_f32(struct GgufWriter* w, const char* key, float v);
void gguf_writer_set_f64(struct GgufWriter* w, const char* key, double v);
void gguf_writer_set_bool(struct GgufWriter* w, const char* key, bool v);
void gguf_writer_set_str(struct GgufWriter* w, const char* key, const char* v);
void gguf_writer_set_strn(struct GgufWriter* w, const char* key, const char* v, uint64_t len);
// An array of n scalars of type t, read from data as packed little-endian values of
// gguf_type_size(t) bytes each (t may not be STRING or ARRAY).
void gguf_writer_set_arr(struct GgufWriter* w, const char* key, enum GgufValueType t,
                         const void* data, uint64_t n);
// An array of n strings (lens NULL: NUL-terminated).
void gguf_writer_set_arr_str(struct GgufWriter* w, const char* key, const char* const* strs,
                             const uint64_t* lens, uint64_t n);
// A copy of a parsed key/value (any type, nested arrays too), e.g. from another file.
void gguf_writer_set_kv(struct GgufWriter* w, const struct GgufKv* kv);

// Adds a tensor. data (nbytes = quant_row_size(type, ne[0]) * rows) must stay valid
// until the write, unless copy is nonzero. Shape checks as in the reader.
void gguf_writer_add_tensor(struct GgufWriter* w, const char* name, enum GgmlType type, int n_dims,
                            const int64_t* ne, const void* data, int copy);

// Writes the file: to "path.tmp" and then renamed, so no half-written file is left at
// path on failure. Returns 0 or a negative ERR_* with e filled.
int gguf_writer_write_file(struct GgufWriter* w, const char* path, struct Err* e);
// Writes into a malloc'ed buffer (*out, *out_size), owned by the caller.
int gguf_writer_write_mem(struct GgufWriter* w, uint8_t** out, size_t* out_size, struct Err* e);
