// quant.c: ggml block formats: traits, fp16/bf16, row dequantization, row dots, and the
// reference quantizers the writer uses. Bit-exact to ggml-quants.c's *_ref definitions.
#include "quant.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <string.h>

// --------------------------------------------------------------------------------------
// traits

#define T(id, nm, up, bs, ts, dq) [id] = {nm, up, bs, ts, dq}
static const struct QuantTraits TRAITS[GGML_TYPE_COUNT] = {
    T(GGML_TYPE_F32, "f32", "F32", 1, 4, 1),
    T(GGML_TYPE_F16, "f16", "F16", 1, 2, 1),
    T(GGML_TYPE_Q4_0, "q4_0", "Q4_0", 32, 18, 1),
    T(GGML_TYPE_Q4_1, "q4_1", "Q4_1", 32, 20, 1),
    T(GGML_TYPE_Q5_0, "q5_0", "Q5_0", 32, 22, 1),
    T(GGML_TYPE_Q5_1, "q5_1", "Q5_1", 32, 24, 1),
    T(GGML_TYPE_Q8_0, "q8_0", "Q8_0", 32, 34, 1),
    T(GGML_TYPE_Q8_1, "q8_1", "Q8_1", 32, 36, 0),
    T(GGML_TYPE_Q2_K, "q2_K", "Q2_K", 256, 84, 1),
    T(GGML_TYPE_Q3_K, "q3_K", "Q3_K", 256, 110, 1),
    T(GGML_TYPE_Q4_K, "q4_K", "Q4_K", 256, 144, 1),
    T(GGML_TYPE_Q5_K, "q5_K", "Q5_K", 256, 176, 1),
    T(GGML_TYPE_Q6_K, "q6_K", "Q6_K", 256, 210, 1),
    T(GGML_TYPE_Q8_K, "q8_K", "Q8_K", 256, 292, 0),
    T(GGML_TYPE_IQ2_XXS, "iq2_xxs", "IQ2_XXS", 256, 66, 0),
    T(GGML_TYPE_IQ2_XS, "iq2_xs", "IQ2_XS", 256, 74, 0),
    T(GGML_TYPE_IQ3_XXS, "iq3_xxs", "IQ3_XXS", 256, 98, 0),
    T(GGML_TYPE_IQ1_S, "iq1_s", "IQ1_S", 256, 50, 0),
    T(GGML_TYPE_IQ4_NL, "iq4_nl", "IQ4_NL", 32, 18, 1),
    T(GGML_TYPE_IQ3_S, "iq3_s", "IQ3_S", 256, 110, 0),
    T(GGML_TYPE_IQ2_S, "iq2_s", "IQ2_S", 256, 82, 0),
    T(GGML_TYPE_IQ4_XS, "iq4_xs", "IQ4_XS", 256, 136, 0),
    T(GGML_TYPE_I8, "i8", "I8", 1, 1, 0),
    T(GGML_TYPE_I16, "i16", "I16", 1, 2, 0),
    T(GGML_TYPE_I32, "i32", "I32", 1, 4, 0),
    T(GGML_TYPE_I64, "i64", "I64", 1, 8, 0),
    T(GGML_TYPE_F64, "f64", "F64", 1, 8, 0),
    T(GGML_TYPE_IQ1_M, "iq1_m", "IQ1_M", 256, 56, 0),
    T(GGML_TYPE_BF16, "bf16", "BF16", 1, 2, 1),
    T(GGML_TYPE_TQ1_0, "tq1_0", "TQ1_0", 256, 54, 0),
    T(GGML_TYPE_TQ2_0, "tq2_0", "TQ2_0", 256, 66, 0),
    T(GGML_TYPE_MXFP4, "mxfp4", "MXFP4", 32, 17, 0),
};
#undef T
_Static_assert(sizeof(TRAITS) / sizeof(TRAITS[0]) == GGML_TYPE_COUNT, "TRAITS size");

const struct QuantTraits* quant_traits(uint32_t t) {
    if (t >= GGML_TYPE_COUNT || TRAITS[t].name == NULL) return NULL;
    return &TRAITS[t];
}

const char* quant_type_name(uint32_t t) {
    const struct QuantTraits* tr = quant_traits(t);
    return tr ? tr->upper : "?";
}

int quant_type_from_name(const char* name) {
    for (int t = 0; t < GGML_TYPE_COUNT; t++) {
        const char* a = TRAITS[t].name;
        if (!a) continue;
        size_t i = 0;
        while (a[i] && name[i] && tolower((unsigned char)a[i]) == tolower((unsigned char)name[i])) i++;
        if (a[i] == 0 && name[i] == 0) return t;
    }
    return -1;
}

size_t quant_row_size(enum GgmlType t, int64_t n) {
    const struct QuantTraits* tr = quant_traits((uint32_t)t);
    assert(tr && n % tr->block_size == 0);
    return (size_t)(n / tr->block_size) * (size_t)tr->type_size;
}
