// quant.c: ggml block formats: traits, fp16/bf16, row dequantization, row dots, and the
// reference quantizers the writer uses. Bit-exact to ggml-quants.c's *_ref definitions.
#include "quant.h"

#include <assert.h>
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <string.h>

// --------------------------------------------------------------------------------------
// traits

#define T(id, nm, up, bs, ts, dq) [id] = {nm, up, bs, ts, dq}
static const struct QuantTraits TRAITS[] = {
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
        while (a[i] && name[i] && tolower((unsigned char)a[i]) == tolower((unsigned char)name[i]))
            i++;
        if (a[i] == 0 && name[i] == 0) return t;
    }
    return -1;
}

size_t quant_row_size(enum GgmlType t, int64_t n) {
    const struct QuantTraits* tr = quant_traits((uint32_t)t);
    assert(tr && n % tr->block_size == 0);
    return (size_t)(n / tr->block_size) * (size_t)tr->type_size;
}

// Every value below is computed in float, in the order ggml's C reference uses, so that a
// fused multiply-add would change results: forbid contraction where the compiler honours
// the pragma (clang); GCC's -std=c11 already implies -ffp-contract=off.
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

// --------------------------------------------------------------------------------------
// fp16 / bf16 scalars

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static uint32_t f32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

float quant_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1F;
    uint32_t m = h & 0x3FF;
    if (e == 0) {
        // zero or subnormal: m * 2^-24, exact in float
        float v = (float)m * 0x1p-24f;
        return f32_from_bits(sign | f32_to_bits(v));
    }
    if (e == 31) {
        // inf, or NaN with its payload; a signalling NaN comes out quiet, as it does from
        // ggml on x86 (its float multiply and F16C both set the quiet bit)
        uint32_t nan_quiet = m ? 0x00400000u : 0;
        return f32_from_bits(sign | 0x7F800000u | (m << 13) | nan_quiet);
    }
    // normal: rebias the exponent from 15 to 127
    return f32_from_bits(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t quant_f32_to_f16(float f) {
    uint32_t w = f32_to_bits(f);
    uint16_t sign = (uint16_t)((w >> 16) & 0x8000);
    uint32_t a = w & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return sign | 0x7E00; // NaN: ggml's portable path gives this one
    // 65520 (0x477FF000) is the tie between 65504 (odd mantissa) and 65536: rounds to inf
    if (a >= 0x477FF000u) return sign | 0x7C00;
    uint32_t e = a >> 23;
    if (e < 113) {
        // below 2^-14: a half subnormal or zero, round(|f| * 2^24) with ties to even
        if (e < 102) return sign; // < 2^-25: rounds to zero (2^-25 itself ties to 0)
        uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
        uint32_t shift = 126 - e; // 14..24
        uint32_t q = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++; // may carry into 0x400: fine
        return sign | (uint16_t)q;
    }
    // normal: keep 10 mantissa bits, round on the 13 dropped ones (carry may bump e)
    uint32_t v = ((e - 112) << 10) | ((a >> 13) & 0x3FF);
    uint32_t rem = a & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (v & 1))) v++;
    return sign | (uint16_t)v;
}

float quant_bf16_to_f32(uint16_t h) {
    return f32_from_bits((uint32_t)h << 16);
}

uint16_t quant_f32_to_bf16(float f) {
    uint32_t w = f32_to_bits(f);
    // NaN: truncate and force the quiet bit, so a payload living only in the low half
    // cannot turn into inf
    if ((w & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((w >> 16) | 0x40);
    // round to nearest even on the dropped 16 bits (overflow to inf is the right answer)
    uint32_t lsb = (w >> 16) & 1;
    return (uint16_t)((w + 0x7FFFu + lsb) >> 16);
}

static float rd_f16(const uint8_t* p) {
    uint16_t h;
    memcpy(&h, p, sizeof(h));
    return quant_f16_to_f32(h);
}

static void wr_f16(uint8_t* p, float f) {
    uint16_t h = quant_f32_to_f16(f);
    memcpy(p, &h, sizeof(h));
}

// --------------------------------------------------------------------------------------
// block dequantization: one block of src into float y, ggml's float expression for each
// element. Byte layouts follow ggml-common.h; "f16" fields are little-endian halves.

// q4_0, 18 bytes / 32: d f16 | qs[16] (element j in the low nibble of qs[j], j+16 high)
static void dq_q4_0(const uint8_t* b, float* y) {
    float d = rd_f16(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((qs[j] & 0xF) - 8) * d;
        y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
    }
}

// q4_1, 20 bytes / 32: d f16 | m f16 | qs[16]; value = q*d + m
static void dq_q4_1(const uint8_t* b, float* y) {
    float d = rd_f16(b), m = rd_f16(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(qs[j] & 0xF) * d + m;
        y[j + 16] = (float)(qs[j] >> 4) * d + m;
    }
}

// The fifth bit of element j of a q5 block: bit j of the 32-bit qh word.
static int q5_hi(uint32_t qh, int j) {
    return (int)((qh >> j) & 1) << 4;
}

// q5_0, 22 bytes / 32: d f16 | qh u32 (fifth bits) | qs[16]; value = (q - 16)*d
static void dq_q5_0(const uint8_t* b, float* y) {
    float d = rd_f16(b);
    uint32_t qh;
    memcpy(&qh, b + 2, sizeof(qh));
    const uint8_t* qs = b + 6;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(((qs[j] & 0xF) | q5_hi(qh, j)) - 16) * d;
        y[j + 16] = (float)(((qs[j] >> 4) | q5_hi(qh, j + 16)) - 16) * d;
    }
}

// q5_1, 24 bytes / 32: d f16 | m f16 | qh u32 | qs[16]; value = q*d + m
static void dq_q5_1(const uint8_t* b, float* y) {
    float d = rd_f16(b), m = rd_f16(b + 2);
    uint32_t qh;
    memcpy(&qh, b + 4, sizeof(qh));
    const uint8_t* qs = b + 8;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((qs[j] & 0xF) | q5_hi(qh, j)) * d + m;
        y[j + 16] = (float)((qs[j] >> 4) | q5_hi(qh, j + 16)) * d + m;
    }
}

// q8_0, 34 bytes / 32: d f16 | qs[32] int8
static void dq_q8_0(const uint8_t* b, float* y) {
    float d = rd_f16(b);
    for (int j = 0; j < 32; j++)
        y[j] = (float)(int8_t)b[2 + j] * d;
}

// q2_K, 84 bytes / 256: scales[16] (low nibble scale, high nibble min, one per 16 values)
// | qs[64] (2-bit quants, four per byte) | d f16 | dmin f16.
// Each 128-value half uses 32 qs bytes; within it, pass k = 0..3 takes bits 2k..2k+1 of
// qs[0..15] (16 values, scale 2k) and then of qs[16..31] (16 values, scale 2k+1).
static void dq_q2_K(const uint8_t* b, float* y) {
    const uint8_t* sc = b;
    float d = rd_f16(b + 80), dmin = rd_f16(b + 82);
    for (int half = 0; half < 2; half++) {
        const uint8_t* q = b + 16 + 32 * half;
        for (int k = 0; k < 4; k++) {
            for (int part = 0; part < 2; part++) {
                uint8_t s = sc[half * 8 + 2 * k + part];
                float dl = d * (float)(s & 0xF);
                float ml = dmin * (float)(s >> 4);
                for (int l = 0; l < 16; l++) {
                    int v = (q[16 * part + l] >> (2 * k)) & 3;
                    *y++ = dl * (float)v - ml;
                }
            }
        }
    }
}

// q3_K, 110 bytes / 256: hmask[32] (third bits) | qs[64] (low 2 bits) | scales[12] (16
// six-bit scales biased by 32) | d f16. Same walk as q2_K; the high bit of value 32*p + l
// of pass p (0..7 over both halves) is bit p of hmask[l] (l < 32), and a clear bit means
// subtract 4.
static int q3_scale(const uint8_t* sc, int s) {
    int lo = s < 8 ? sc[s] & 0xF : sc[s - 8] >> 4;
    int hi = (sc[8 + s % 4] >> (2 * (s / 4))) & 3;
    return (lo | hi << 4) - 32;
}

static void dq_q3_K(const uint8_t* b, float* y) {
    const uint8_t* hm = b;
    const uint8_t* sc = b + 96;
    float d = rd_f16(b + 108);
    for (int half = 0; half < 2; half++) {
        const uint8_t* q = b + 32 + 32 * half;
        for (int k = 0; k < 4; k++) {
            int bit = 1 << (4 * half + k);
            for (int part = 0; part < 2; part++) {
                float dl = d * (float)q3_scale(sc, half * 8 + 2 * k + part);
                for (int l = 0; l < 16; l++) {
                    int i = 16 * part + l;
                    int v = ((q[i] >> (2 * k)) & 3) - ((hm[i] & bit) ? 0 : 4);
                    *y++ = dl * (float)v;
                }
            }
        }
    }
}

// The 12-byte scales field of q4_K/q5_K: 8 six-bit scales and 8 six-bit mins. Bytes 0..3
// hold scales 0..3 (low 6 bits) and bytes 4..7 mins 0..3; entries 4..7 take their low
// nibbles from bytes 8..11 and their top 2 bits from the spare top bits of bytes 0..7.
static void k4_scale_min(const uint8_t* q, int j, int* sc, int* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// q4_K, 144 bytes / 256: d f16 | dmin f16 | scales[12] | qs[128]. Four 64-value chunks of
// 32 qs bytes: low nibbles (sub-block 2c), then high nibbles (2c+1); value = d1*q - m1.
static void dq_q4_K(const uint8_t* b, float* y) {
    float d = rd_f16(b), dmin = rd_f16(b + 2);
    const uint8_t* scales = b + 4;
    for (int c = 0; c < 4; c++) {
        const uint8_t* q = b + 16 + 32 * c;
        int sc, m;
        k4_scale_min(scales, 2 * c, &sc, &m);
        float d1 = d * (float)sc, m1 = dmin * (float)m;
        k4_scale_min(scales, 2 * c + 1, &sc, &m);
        float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; l++)
            *y++ = d1 * (float)(q[l] & 0xF) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * (float)(q[l] >> 4) - m2;
    }
}

// q5_K, 176 bytes / 256: d f16 | dmin f16 | scales[12] | qh[32] | qs[128]. As q4_K, with
// the fifth bit of value l of sub-block s in bit s of qh[l].
static void dq_q5_K(const uint8_t* b, float* y) {
    float d = rd_f16(b), dmin = rd_f16(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    for (int c = 0; c < 4; c++) {
        const uint8_t* q = b + 48 + 32 * c;
        int sc, m;
        k4_scale_min(scales, 2 * c, &sc, &m);
        float d1 = d * (float)sc, m1 = dmin * (float)m;
        k4_scale_min(scales, 2 * c + 1, &sc, &m);
        float d2 = d * (float)sc, m2 = dmin * (float)m;
        int u1 = 1 << (2 * c), u2 = 2 << (2 * c);
        for (int l = 0; l < 32; l++) {
            *y++ = d1 * (float)((q[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
        }
        for (int l = 0; l < 32; l++) {
            *y++ = d2 * (float)((q[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

// q6_K, 210 bytes / 256: ql[128] (low 4 bits) | qh[64] (high 2 bits) | scales[16] int8 |
// d f16. Per 128-value half: ql 64 bytes, qh 32 bytes, 8 scales; value l + 32k (k = 0..3)
// takes the nibble k/2 of ql[l + 32*(k%2)] and bits 2k..2k+1 of qh[l]. ggml evaluates
// d * scale * q left to right: (d*scale)*q.
static void dq_q6_K(const uint8_t* b, float* y) {
    float d = rd_f16(b + 208);
    for (int half = 0; half < 2; half++) {
        const uint8_t* ql = b + 64 * half;
        const uint8_t* qh = b + 128 + 32 * half;
        const int8_t* sc = (const int8_t*)(b + 192 + 8 * half);
        float* yh = y + 128 * half;
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            for (int k = 0; k < 4; k++) {
                int lo = (k < 2 ? ql[l + 32 * k] & 0xF : ql[l + 32 * (k - 2)] >> 4);
                int q = (lo | ((qh[l] >> (2 * k)) & 3) << 4) - 32;
                yh[l + 32 * k] = d * (float)sc[is + 2 * k] * (float)q;
            }
        }
    }
}

// iq4_nl, 18 bytes / 32: d f16 | qs[16]; nibbles index a fixed non-linear table.
static const int8_t IQ4NL_VALUES[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

static void dq_iq4_nl(const uint8_t* b, float* y) {
    float d = rd_f16(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)IQ4NL_VALUES[qs[j] & 0xF];
        y[j + 16] = d * (float)IQ4NL_VALUES[qs[j] >> 4];
    }
}

// Elements per chunk the row functions work in: a whole number of blocks for every type
// (block sizes are 1, 32 or 256), small enough for a stack buffer.
#define CHUNK 256

// Dequantizes n elements (n <= CHUNK, whole blocks) of type t from src into y.
// Returns 0 or ERR_UNSUPPORTED.
static int dequant_chunk(enum GgmlType t, const uint8_t* src, float* y, int n) {
    void (*blk)(const uint8_t*, float*) = NULL;
    switch (t) {
    case GGML_TYPE_F32: memcpy(y, src, (size_t)n * sizeof(float)); return 0;
    case GGML_TYPE_F16:
        for (int i = 0; i < n; i++)
            y[i] = rd_f16(src + 2 * i);
        return 0;
    case GGML_TYPE_BF16:
        for (int i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, sizeof(h));
            y[i] = quant_bf16_to_f32(h);
        }
        return 0;
    case GGML_TYPE_Q4_0: blk = dq_q4_0; break;
    case GGML_TYPE_Q4_1: blk = dq_q4_1; break;
    case GGML_TYPE_Q5_0: blk = dq_q5_0; break;
    case GGML_TYPE_Q5_1: blk = dq_q5_1; break;
    case GGML_TYPE_Q8_0: blk = dq_q8_0; break;
    case GGML_TYPE_Q2_K: blk = dq_q2_K; break;
    case GGML_TYPE_Q3_K: blk = dq_q3_K; break;
    case GGML_TYPE_Q4_K: blk = dq_q4_K; break;
    case GGML_TYPE_Q5_K: blk = dq_q5_K; break;
    case GGML_TYPE_Q6_K: blk = dq_q6_K; break;
    case GGML_TYPE_IQ4_NL: blk = dq_iq4_nl; break;
    default: return ERR_UNSUPPORTED;
    }
    const struct QuantTraits* tr = &TRAITS[t];
    for (int i = 0; i < n / tr->block_size; i++) {
        blk(src + (size_t)i * (size_t)tr->type_size, y + (size_t)i * (size_t)tr->block_size);
    }
    return 0;
}

// Checks t and n for the row functions: 0, ERR_UNSUPPORTED or ERR_ARG.
static int row_check(enum GgmlType t, int64_t n) {
    const struct QuantTraits* tr = quant_traits((uint32_t)t);
    if (!tr || !tr->can_dequant) return ERR_UNSUPPORTED;
    if (n < 0 || n % tr->block_size != 0) return ERR_ARG;
    return 0;
}

// --------------------------------------------------------------------------------------
// rows: dequantization and dot products

int quant_dequant_row_f32(enum GgmlType t, const void* src, float* dst, int64_t n) {
    int rc = row_check(t, n);
    if (rc) return rc;
    const uint8_t* p = src;
    int type_size = TRAITS[t].type_size, bs = TRAITS[t].block_size;
    for (int64_t i = 0; i < n; i += CHUNK) {
        int m = (int)(n - i < CHUNK ? n - i : CHUNK);
        dequant_chunk(t, p + (size_t)(i / bs) * (size_t)type_size, dst + i, m);
    }
    return 0;
}

int quant_dequant_row(enum GgmlType t, const void* src, double* dst, int64_t n) {
    int rc = row_check(t, n);
    if (rc) return rc;
    const uint8_t* p = src;
    int type_size = TRAITS[t].type_size, bs = TRAITS[t].block_size;
    float buf[CHUNK];
    for (int64_t i = 0; i < n; i += CHUNK) {
        int m = (int)(n - i < CHUNK ? n - i : CHUNK);
        dequant_chunk(t, p + (size_t)(i / bs) * (size_t)type_size, buf, m);
        for (int j = 0; j < m; j++)
            dst[i + j] = (double)buf[j];
    }
    return 0;
}

double quant_dot_row(enum GgmlType t, const void* row, const double* x, int64_t n) {
    int rc = row_check(t, n);
    assert(rc == 0);
    if (rc) return NAN;
    const uint8_t* p = row;
    int type_size = TRAITS[t].type_size, bs = TRAITS[t].block_size;
    float buf[CHUNK];
    double sum = 0.0;
    for (int64_t i = 0; i < n; i += CHUNK) {
        int m = (int)(n - i < CHUNK ? n - i : CHUNK);
        dequant_chunk(t, p + (size_t)(i / bs) * (size_t)type_size, buf, m);
        for (int j = 0; j < m; j++)
            sum += (double)buf[j] * x[i + j];
    }
    return sum;
}

// --------------------------------------------------------------------------------------
// reference quantizers (ggml's quantize_row_*_ref): one block of 32 floats each

// The element of largest magnitude, sign kept (the first one on ties), as q4_0/q5_0 pick
// it so that it maps to the extreme code -8 / -16 exactly.
static float signed_absmax(const float* x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float* x, float* mn, float* mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

// ggml truncates toward zero (its int8_t/uint8_t casts of x + 0.5 or x + bias); the
// operands are in range for finite input, so an int cast is the same.
static int trunc_clamp(float v, int hi) {
    int q = (int)v;
    return q > hi ? hi : q;
}

// q4_0: d = max / -8 so that the signed extreme is code 0; code = trunc(x/d + 8.5)
static void qz_q4_0(const float* x, uint8_t* b) {
    float d = signed_absmax(x) / -8.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr_f16(b, d);
    for (int j = 0; j < 16; j++) {
        int q0 = trunc_clamp(x[j] * id + 8.5f, 15);
        int q1 = trunc_clamp(x[j + 16] * id + 8.5f, 15);
        b[2 + j] = (uint8_t)(q0 | q1 << 4);
    }
}

// q4_1: d = (max - min) / 15, m = min; code = trunc((x - min)/d + 0.5)
static void qz_q4_1(const float* x, uint8_t* b) {
    float mn, mx;
    min_max(x, &mn, &mx);
    float d = (mx - mn) / 15.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr_f16(b, d);
    wr_f16(b + 2, mn);
    for (int j = 0; j < 16; j++) {
        int q0 = trunc_clamp((x[j] - mn) * id + 0.5f, 15);
        int q1 = trunc_clamp((x[j + 16] - mn) * id + 0.5f, 15);
        b[4 + j] = (uint8_t)(q0 | q1 << 4);
    }
}

// q5_0: d = max / -16; code = trunc(x/d + 16.5), its bit 4 goes to qh
static void qz_q5_0(const float* x, uint8_t* b) {
    float d = signed_absmax(x) / -16.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr_f16(b, d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int q0 = trunc_clamp(x[j] * id + 16.5f, 31);
        int q1 = trunc_clamp(x[j + 16] * id + 16.5f, 31);
        b[6 + j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
        qh |= (uint32_t)(q0 >> 4) << j;
        qh |= (uint32_t)(q1 >> 4) << (j + 16);
    }
    memcpy(b + 2, &qh, sizeof(qh));
}

// q5_1: d = (max - min) / 31, m = min; code = trunc((x - min)/d + 0.5). ggml does not
// clamp here (the code cannot exceed 31.5 for finite input); the mask keeps 5 bits.
static void qz_q5_1(const float* x, uint8_t* b) {
    float mn, mx;
    min_max(x, &mn, &mx);
    float d = (mx - mn) / 31.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr_f16(b, d);
    wr_f16(b + 2, mn);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int q0 = (int)((x[j] - mn) * id + 0.5f) & 31;
        int q1 = (int)((x[j + 16] - mn) * id + 0.5f) & 31;
        b[8 + j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
        qh |= (uint32_t)(q0 >> 4) << j;
        qh |= (uint32_t)(q1 >> 4) << (j + 16);
    }
    memcpy(b + 4, &qh, sizeof(qh));
}

// q8_0: d = absmax / 127; code = roundf(x/d) (half away from zero)
static void qz_q8_0(const float* x, uint8_t* b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) {
        float a = fabsf(x[j]);
        amax = amax > a ? amax : a; // ggml's MAX: a NaN element propagates
    }
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr_f16(b, d);
    for (int j = 0; j < 32; j++)
        b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

int quant_quantize_row(enum GgmlType t, const float* src, void* dst, int64_t n) {
    uint8_t* out = dst;
    void (*blk)(const float*, uint8_t*) = NULL;
    switch (t) {
    case GGML_TYPE_F32:
        if (n < 0) return ERR_ARG;
        memcpy(out, src, (size_t)n * sizeof(float));
        return 0;
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
        if (n < 0) return ERR_ARG;
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = t == GGML_TYPE_F16 ? quant_f32_to_f16(src[i]) : quant_f32_to_bf16(src[i]);
            memcpy(out + 2 * i, &h, sizeof(h));
        }
        return 0;
    case GGML_TYPE_Q4_0: blk = qz_q4_0; break;
    case GGML_TYPE_Q4_1: blk = qz_q4_1; break;
    case GGML_TYPE_Q5_0: blk = qz_q5_0; break;
    case GGML_TYPE_Q5_1: blk = qz_q5_1; break;
    case GGML_TYPE_Q8_0: blk = qz_q8_0; break;
    default: return ERR_UNSUPPORTED;
    }
    if (n < 0 || n % 32 != 0) return ERR_ARG;
    size_t ts = (size_t)TRAITS[t].type_size;
    for (int64_t i = 0; i < n / 32; i++)
        blk(src + 32 * i, out + (size_t)i * ts);
    return 0;
}
