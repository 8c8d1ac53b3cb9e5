// quant.h: ggml tensor types (the GGUF `type` field) and their block formats.
// Each type's traits (name, block size, bytes per block) drive GGUF validation; the row
// functions turn one row of a stored tensor into doubles (the FP64 reference engine) or
// floats, exactly as ggml's dequantize_row_* define them (same fp16 -> fp32 scales, same
// rounding: every value ggml produces in float is exactly representable, so the double
// result equals ggml's float result). Not here: quantizing kernels for inference; the
// quantizers below exist for the writer (convert, synth) and the tests.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"

// ggml's numbering (ggml.h enum ggml_type); gaps are ids ggml has retired.
enum GgmlType {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_IQ2_XXS = 16,
    GGML_TYPE_IQ2_XS = 17,
    GGML_TYPE_IQ3_XXS = 18,
    GGML_TYPE_IQ1_S = 19,
    GGML_TYPE_IQ4_NL = 20,
    GGML_TYPE_IQ3_S = 21,
    GGML_TYPE_IQ2_S = 22,
    GGML_TYPE_IQ4_XS = 23,
    GGML_TYPE_I8 = 24,
    GGML_TYPE_I16 = 25,
    GGML_TYPE_I32 = 26,
    GGML_TYPE_I64 = 27,
    GGML_TYPE_F64 = 28,
    GGML_TYPE_IQ1_M = 29,
    GGML_TYPE_BF16 = 30,
    GGML_TYPE_TQ1_0 = 34,
    GGML_TYPE_TQ2_0 = 35,
    GGML_TYPE_MXFP4 = 39,
    GGML_TYPE_COUNT = 40,
};

struct QuantTraits {
    const char* name;  // ggml's name: "f32", "q4_0", "q6_K", ... (NULL: no such type)
    const char* upper; // the same upper-cased: "F32", "Q4_0", "Q6_K"
    int block_size;    // elements per block (1 for plain types)
    int type_size;     // bytes per block
    int can_dequant;   // 1 when quant_dequant_row supports it
};

// Traits of type t, or NULL when t is not a ggml type id (retired ids included).
const struct QuantTraits* quant_traits(uint32_t t);

// Upper-case display name ("F32", "Q4_0", "Q6_K", "IQ4_NL", "BF16"), "?" for unknown ids.
const char* quant_type_name(uint32_t t);

// Type id for a name, case-insensitive ("q8_0", "F16", "bf16"); -1 when unknown.
int quant_type_from_name(const char* name);

// Bytes taken by n elements of type t. n must be a multiple of the block size.
size_t quant_row_size(enum GgmlType t, int64_t n);

// fp16 / bf16 scalar conversions, bit-exact (subnormals, inf, nan).
float quant_f16_to_f32(uint16_t h);
uint16_t quant_f32_to_f16(float f); // round to nearest even, as ggml's GGML_FP32_TO_FP16
float quant_bf16_to_f32(uint16_t h);
uint16_t quant_f32_to_bf16(float f); // round to nearest even; nan stays nan (ggml's rule)

// Dequantizes n elements (a multiple of the block size) of type t from src into dst.
// Returns 0, or ERR_UNSUPPORTED for a type without can_dequant.
int quant_dequant_row(enum GgmlType t, const void* src, double* dst, int64_t n);
int quant_dequant_row_f32(enum GgmlType t, const void* src, float* dst, int64_t n);

// Dot product of one stored row of type t with a double vector x of n elements:
// sum_i dequant(row)[i] * x[i], accumulated in double in index order. Scratch-free.
double quant_dot_row(enum GgmlType t, const void* row, const double* x, int64_t n);

// Quantizes n floats (a multiple of the block size) into dst, as ggml's reference
// quantize_row_*_ref does. Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
// Returns 0 or ERR_UNSUPPORTED.
int quant_quantize_row(enum GgmlType t, const float* src, void* dst, int64_t n);
