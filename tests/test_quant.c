// test_quant.c: shared/quant: fp16/bf16 scalars, row dequantization against llama.cpp's
// gguf-py vectors in ../shared/vectors/dequant (bit-exact), hand-built blocks, the reference
// quantizers (hand-checked blocks and round-trip error bounds) and quant_dot_row.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "check.h"
#include "gguf.h"
#include "quant.h"

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

// xorshift32, uniform in [-1, 1)
static float rnd(uint32_t* s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)(*s >> 8) / 8388608.0f - 1.0f;
}

// --------------------------------------------------------------------------------------
// fp16 / bf16 scalars

static void test_f16_to_f32_known(void** state) {
    (void)state;
    assert_true(quant_f16_to_f32(0x3C00) == 1.0f);
    assert_true(quant_f16_to_f32(0xC000) == -2.0f);
    assert_true(quant_f16_to_f32(0x7BFF) == 65504.0f);
    assert_true(quant_f16_to_f32(0x3555) == 0x1.554p-2f);        // 0.333251953125
    assert_true(quant_f16_to_f32(0x0001) == 0x1p-24f);           // smallest subnormal
    assert_true(quant_f16_to_f32(0x03FF) == 1023.0f * 0x1p-24f); // largest subnormal
    assert_true(quant_f16_to_f32(0x0400) == 0x1p-14f);           // smallest normal
    assert_true(quant_f16_to_f32(0x7C00) == INFINITY);
    assert_true(quant_f16_to_f32(0xFC00) == -INFINITY);
    assert_int_equal(bits_of(quant_f16_to_f32(0x8000)), 0x80000000u); // -0
    assert_int_equal(bits_of(quant_f16_to_f32(0x0000)), 0);
    assert_true(isnan(quant_f16_to_f32(0x7E00)));
    assert_true(isnan(quant_f16_to_f32(0x7C01))); // signalling: stays NaN
    assert_true(isnan(quant_f16_to_f32(0xFE00)) && signbit(quant_f16_to_f32(0xFE00)));
}

static void test_f32_to_f16_rounding(void** state) {
    (void)state;
    assert_int_equal(quant_f32_to_f16(1.0f), 0x3C00);
    assert_int_equal(quant_f32_to_f16(-2.0f), 0xC000);
    assert_int_equal(quant_f32_to_f16(65504.0f), 0x7BFF);
    assert_int_equal(quant_f32_to_f16(65519.996f), 0x7BFF); // below the tie
    assert_int_equal(quant_f32_to_f16(65520.0f), 0x7C00);   // tie, 0x7BFF is odd: up to inf
    assert_int_equal(quant_f32_to_f16(1e30f), 0x7C00);
    assert_int_equal(quant_f32_to_f16(-INFINITY), 0xFC00);
    assert_int_equal(quant_f32_to_f16(NAN), 0x7E00);
    assert_int_equal(quant_f32_to_f16(-0.0f), 0x8000);
    // 1 + 2^-11 is halfway between 0x3C00 (even) and 0x3C01: down
    assert_int_equal(quant_f32_to_f16(1.0f + 0x1p-11f), 0x3C00);
    // 1 + 3*2^-11 is halfway between 0x3C01 (odd) and 0x3C02: up
    assert_int_equal(quant_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3C02);
    assert_int_equal(quant_f32_to_f16(1.0f + 0x1p-11f + 0x1p-23f), 0x3C01); // past the tie
    // subnormals: 2^-25 ties between 0 and 0x0001 -> 0; 3*2^-25 ties 1/2 -> 2
    assert_int_equal(quant_f32_to_f16(0x1p-24f), 0x0001);
    assert_int_equal(quant_f32_to_f16(0x1p-25f), 0x0000);
    assert_int_equal(quant_f32_to_f16(0x1.000002p-25f), 0x0001);
    assert_int_equal(quant_f32_to_f16(3 * 0x1p-25f), 0x0002);
    assert_int_equal(quant_f32_to_f16(-0x1p-24f), 0x8001);
    assert_int_equal(quant_f32_to_f16(1e-10f), 0x0000);
    // (1023.5) * 2^-24 ties between 0x03FF (odd) and 0x0400, the smallest normal
    assert_int_equal(quant_f32_to_f16(1023.5f * 0x1p-24f), 0x0400);
    assert_int_equal(quant_f32_to_f16(0.1f), 0x2E66); // 0.0999755859375, the nearest half
}

static void test_f16_round_trip_all(void** state) {
    (void)state;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = quant_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            assert_int_equal(quant_f32_to_f16(f) & 0x7FFF, 0x7E00);
            continue;
        }
        if (quant_f32_to_f16(f) != h) fail_msg("half 0x%04x does not round-trip", h);
    }
}

#ifdef __FLT16_MAX__
// The compiler's own float -> _Float16 conversion (IEEE round to nearest even) as an
// independent reference: every tie between two neighbouring halves and a float on each
// side of it, plus a strided sweep of all floats.
static uint16_t f16_native(float f) {
    __extension__ _Float16 h = f; // implicit conversion: the compiler's rounding
    uint16_t u;
    memcpy(&u, &h, sizeof(u));
    return u;
}

static void check_native(float f) {
    if (isnan(f)) return;
    uint16_t want = f16_native(f), got = quant_f32_to_f16(f);
    if (got != want) fail_msg("f32 %a (0x%08x): got 0x%04x want 0x%04x", f, bits_of(f), got, want);
}

static void test_f32_to_f16_vs_native(void** state) {
    (void)state;
    for (uint16_t h = 0; h < 0x7C00; h++) {
        float a = quant_f16_to_f32(h), b = quant_f16_to_f32((uint16_t)(h + 1));
        float mid = a + (b - a) * 0.5f; // exact: a half has 11 significant bits
        check_native(mid);
        check_native(-mid);
        check_native(nextafterf(mid, 0.0f));
        check_native(nextafterf(mid, INFINITY));
    }
    uint32_t stride = quick_mode() ? 40009 : 997;
    for (uint64_t u = 0; u <= 0xFFFFFFFFu; u += stride)
        check_native(float_of((uint32_t)u));
}
#else
static void test_f32_to_f16_vs_native(void** state) {
    (void)state;
    skip();
}
#endif

static void test_bf16(void** state) {
    (void)state;
    assert_true(quant_bf16_to_f32(0x3F80) == 1.0f);
    assert_true(quant_bf16_to_f32(0xC040) == -3.0f);
    assert_true(quant_bf16_to_f32(0x4049) == 3.140625f); // 0x40490000
    assert_true(quant_bf16_to_f32(0x0001) == 0x1p-133f); // smallest bf16 subnormal
    assert_true(quant_bf16_to_f32(0xFF80) == -INFINITY);
    assert_true(isnan(quant_bf16_to_f32(0x7FC0)));
    assert_int_equal(quant_f32_to_bf16(1.0f), 0x3F80);
    assert_int_equal(quant_f32_to_bf16(float_of(0x3F808000)), 0x3F80); // tie, even: down
    assert_int_equal(quant_f32_to_bf16(float_of(0x3F818000)), 0x3F82); // tie, odd: up
    assert_int_equal(quant_f32_to_bf16(float_of(0x3F808001)), 0x3F81); // above the tie
    assert_int_equal(quant_f32_to_bf16(float_of(0x3F807FFF)), 0x3F80); // below the tie
    assert_int_equal(quant_f32_to_bf16(float_of(0x7F7FFFFF)), 0x7F80); // FLT_MAX: inf
    assert_int_equal(quant_f32_to_bf16(INFINITY), 0x7F80);
    assert_int_equal(quant_f32_to_bf16(-0.0f), 0x8000);
    // NaN whose payload is only in the low half: truncation alone would give inf
    assert_int_equal(quant_f32_to_bf16(float_of(0x7F800001)), 0x7FC0);
    assert_int_equal(quant_f32_to_bf16(float_of(0xFF800001)), 0xFFC0);
    assert_int_equal(quant_f32_to_bf16(float_of(0x7FC00000)), 0x7FC0);
}

// --------------------------------------------------------------------------------------
// dequantization: ../shared/vectors/dequant

// Dequantizes every row of one tensor named by an index.json entry and compares with the
// float32 vector bit for bit. Returns 1 when compared, 0 when a file was absent.
static int check_vector(const cJSON* e) {
    const char* type = cJSON_GetStringValue(cJSON_GetObjectItem(e, "type"));
    const char* file = cJSON_GetStringValue(cJSON_GetObjectItem(e, "file"));
    const char* tname = cJSON_GetStringValue(cJSON_GetObjectItem(e, "tensor"));
    const char* out = cJSON_GetStringValue(cJSON_GetObjectItem(e, "out"));
    assert_non_null(type);
    assert_non_null(file);
    assert_non_null(tname);
    assert_non_null(out);
    char gpath[1024], vpath[1024];
    if (!shared_path(gpath, sizeof(gpath), file) || !shared_path(vpath, sizeof(vpath), out))
        return 0;

    struct Gguf g;
    struct Err err = {0};
    int rc = gguf_open(&g, gpath, &err);
    if (rc) fail_msg("%s: %s", gpath, err.msg);
    const struct GgufTensor* t = gguf_find_tensor(&g, tname);
    assert_non_null(t);
    assert_int_equal(t->type, quant_type_from_name(type));
    const cJSON* ne = cJSON_GetObjectItem(e, "ggml_ne");
    for (int d = 0; d < cJSON_GetArraySize(ne); d++)
        assert_int_equal(t->ne[d], (int64_t)cJSON_GetArrayItem(ne, d)->valuedouble);

    size_t vsize = 0;
    uint8_t* want_bytes = read_file(vpath, &vsize);
    assert_non_null(want_bytes);
    assert_int_equal(vsize, (size_t)t->n_elements * sizeof(float));
    float* want = malloc(vsize);
    memcpy(want, want_bytes, vsize);

    int64_t n0 = t->ne[0], rows = t->n_elements / n0;
    size_t row_bytes = quant_row_size(t->type, n0);
    double* got = malloc((size_t)n0 * sizeof(double));
    float* got32 = malloc((size_t)n0 * sizeof(float));
    double* want64 = malloc((size_t)n0 * sizeof(double));
    int64_t bad = 0;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t* row = (const uint8_t*)t->data + (size_t)r * row_bytes;
        const float* w = want + r * n0;
        assert_int_equal(quant_dequant_row(t->type, row, got, n0), 0);
        assert_int_equal(quant_dequant_row_f32(t->type, row, got32, n0), 0);
        for (int64_t i = 0; i < n0; i++) {
            float gf = (float)got[i];
            int ok = bits_of(gf) == bits_of(w[i]) && got[i] == (double)w[i] &&
                     bits_of(got32[i]) == bits_of(w[i]);
            if (!ok && bad++ < 5)
                printf("%s row %lld [%lld]: got %.9g (f32 %.9g) want %.9g\n", type, (long long)r,
                       (long long)i, got[i], (double)got32[i], (double)w[i]);
            want64[i] = (double)w[i];
        }
        // the dot of a row with itself-as-reference equals the same sum formed here
        double dot = quant_dot_row(t->type, row, want64, n0), ref = 0.0;
        for (int64_t i = 0; i < n0; i++)
            ref += got[i] * want64[i];
        if (dot != ref && bad++ < 5)
            printf("%s row %lld: dot %.17g want %.17g\n", type, (long long)r, dot, ref);
    }
    printf("dequant %-6s %-45s %-26s %lld values: %s\n", type, file, tname,
           (long long)t->n_elements, bad ? "MISMATCH" : "exact");
    free(want64);
    free(got32);
    free(got);
    free(want);
    free(want_bytes);
    gguf_free(&g);
    assert_int_equal(bad, 0);
    return 1;
}

static void test_dequant_vectors(void** state) {
    (void)state;
    char path[1024];
    if (!shared_path(path, sizeof(path), "vectors/dequant/index.json")) skip();
    size_t size = 0;
    uint8_t* text = read_file(path, &size);
    assert_non_null(text);
    cJSON* index = cJSON_Parse((const char*)text);
    free(text);
    assert_non_null(index);
    assert_true(cJSON_IsArray(index));
    int n = 0, done = 0;
    const cJSON* e;
    cJSON_ArrayForEach(e, index) {
        n++;
        done += check_vector(e);
    }
    cJSON_Delete(index);
    assert_true(n >= 11); // F16, Q4_0, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL
    if (done == 0) skip();
}

// --------------------------------------------------------------------------------------
// dequantization: hand-built blocks

static void test_dequant_q4_1_hand(void** state) {
    (void)state;
    // q4_1: d f16 | m f16 | qs[16]. d = 0x3800 = 0.5, m = 0xBC00 = -1.0.
    // qs[j] = j | (15 - j) << 4: element j has code j, element j + 16 code 15 - j.
    uint8_t blk[20] = {0x00, 0x38, 0x00, 0xBC};
    for (int j = 0; j < 16; j++)
        blk[4 + j] = (uint8_t)(j | (15 - j) << 4);
    // value = code * 0.5 - 1: codes 0..15 -> -1, -0.5, 0, ..., 6.5; then 15..0 back down
    static const double want[32] = {
        -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0,  6.5,
        6.5,  6.0,  5.5, 5.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0,
    };
    double got[32];
    assert_int_equal(quant_dequant_row(GGML_TYPE_Q4_1, blk, got, 32), 0);
    assert_close(got, want, 32, 0.0, 0.0, "q4_1 hand block");

    // d = 0x2E66 (0.0999755859375 = 3276/32768), m = 0x3C00 (1.0), code 3 everywhere:
    // float(3 * 0.0999755859375) = 0.2999267578125 exactly (9828/32768), + 1 =
    // 1.2999267578125, which needs 21 significant bits: exact in float too.
    uint8_t blk2[20] = {0x66, 0x2E, 0x00, 0x3C};
    for (int j = 0; j < 16; j++)
        blk2[4 + j] = 0x33;
    assert_int_equal(quant_dequant_row(GGML_TYPE_Q4_1, blk2, got, 32), 0);
    for (int j = 0; j < 32; j++)
        assert_true(got[j] == 1.2999267578125);
}

static void test_dequant_bf16_hand(void** state) {
    (void)state;
    // little-endian bf16: 1.0 (0x3F80), -3.0 (0xC040), 0.25 (0x3E80), 3.140625 (0x4049),
    // 2^-133 (0x0001), -0.0 (0x8000)
    static const uint8_t row[12] = {0x80, 0x3F, 0x40, 0xC0, 0x80, 0x3E,
                                    0x49, 0x40, 0x01, 0x00, 0x00, 0x80};
    static const double want[6] = {1.0, -3.0, 0.25, 3.140625, 0x1p-133, -0.0};
    double got[6];
    float got32[6];
    assert_int_equal(quant_dequant_row(GGML_TYPE_BF16, row, got, 6), 0);
    assert_int_equal(quant_dequant_row_f32(GGML_TYPE_BF16, row, got32, 6), 0);
    assert_close(got, want, 6, 0.0, 0.0, "bf16 hand row");
    assert_true(signbit(got[5]));
    for (int i = 0; i < 6; i++)
        assert_true((double)got32[i] == want[i]);
    double x[6] = {1, 1, 1, 1, 0, 1};
    // 1 - 3 + 0.25 + 3.140625 + 0 - 0 = 1.390625
    assert_true(quant_dot_row(GGML_TYPE_BF16, row, x, 6) == 1.390625);
}

static void test_dequant_q8_0_q4_0_hand(void** state) {
    (void)state;
    // q8_0: d = 0x3400 (0.25) | qs = 0, 1, -1, 127, -128, then 4 .. (4 + 26)
    uint8_t b8[34] = {0x00, 0x34, 0, 1, 0xFF, 0x7F, 0x80};
    for (int j = 5; j < 32; j++)
        b8[2 + j] = (uint8_t)(j - 1);
    double got[32];
    assert_int_equal(quant_dequant_row(GGML_TYPE_Q8_0, b8, got, 32), 0);
    assert_true(got[0] == 0.0 && got[1] == 0.25 && got[2] == -0.25);
    assert_true(got[3] == 31.75 && got[4] == -32.0 && got[5] == 1.0 && got[31] == 7.5);
    // q4_0: d = 0xC000 (-2.0) | qs[j] = 0x8F: low nibble 15 -> (15-8)*-2 = -14 for j < 16,
    // high nibble 8 -> 0 for j >= 16
    uint8_t b4[18] = {0x00, 0xC0};
    for (int j = 0; j < 16; j++)
        b4[2 + j] = 0x8F;
    assert_int_equal(quant_dequant_row(GGML_TYPE_Q4_0, b4, got, 32), 0);
    for (int j = 0; j < 16; j++)
        assert_true(got[j] == -14.0 && got[j + 16] == 0.0);
}

static void test_dequant_unsupported(void** state) {
    (void)state;
    uint8_t blk[512] = {0};
    double got[256];
    float got32[256];
    assert_int_equal(quant_dequant_row(GGML_TYPE_Q8_K, blk, got, 256), ERR_UNSUPPORTED);
    assert_int_equal(quant_dequant_row_f32(GGML_TYPE_IQ2_XXS, blk, got32, 256), ERR_UNSUPPORTED);
    assert_int_equal(quant_dequant_row(GGML_TYPE_Q4_0, blk, got, 33), ERR_ARG);
    assert_int_equal(quant_quantize_row(GGML_TYPE_Q4_K, got32, blk, 256), ERR_UNSUPPORTED);
    assert_int_equal(quant_quantize_row(GGML_TYPE_Q8_0, got32, blk, 48), ERR_ARG);
    for (int t = 0; t < GGML_TYPE_COUNT; t++) {
        const struct QuantTraits* tr = quant_traits((uint32_t)t);
        if (!tr || tr->can_dequant) continue;
        assert_int_equal(quant_dequant_row((enum GgmlType)t, blk, got, 0), ERR_UNSUPPORTED);
    }
}

// --------------------------------------------------------------------------------------
// quantizers

static void test_quantize_q8_0_hand(void** state) {
    (void)state;
    // max |x| = 127 -> d = 127/127 = 1.0 (0x3C00), id = 1, code = roundf(x), halves away
    // from zero
    float x[32] = {-127.0f, 127.0f, 0.4f, 0.5f, -0.5f, 2.5f, -2.5f, 126.6f, 3.49f};
    uint8_t b[34];
    assert_int_equal(quant_quantize_row(GGML_TYPE_Q8_0, x, b, 32), 0);
    static const uint8_t want[11] = {0x00, 0x3C, 0x81, 0x7F, 0, 1, 0xFF, 3, 0xFD, 127, 3};
    assert_memory_equal(b, want, sizeof(want));
    for (int j = 9; j < 32; j++)
        assert_int_equal(b[2 + j], 0);
    // all zero: d = 0, id = 0, codes 0
    float z[32] = {0};
    assert_int_equal(quant_quantize_row(GGML_TYPE_Q8_0, z, b, 32), 0);
    for (int j = 0; j < 34; j++)
        assert_int_equal(b[j], 0);
}

static void test_quantize_q4_0_hand(void** state) {
    (void)state;
    // signed extreme -8 -> d = -8 / -8 = 1.0, code = trunc(x + 8.5) clamped to 15:
    // -8 -> 0, 7 -> 15, 8 -> 16 -> 15, 0.49 -> 8, 0.5 -> 9, -0.5 -> 8, -7.6 -> 0, 0 -> 8
    float x[32] = {-8.0f, 7.0f, 8.0f, 0.49f, 0.5f, -0.5f, -7.6f};
    x[16] = 3.2f;  // -> 11 (high nibble of qs[0])
    x[17] = -3.2f; // -> 5
    uint8_t b[18];
    assert_int_equal(quant_quantize_row(GGML_TYPE_Q4_0, x, b, 32), 0);
    static const uint8_t want[18] = {0x00, 0x3C, 0xB0, 0x5F, 0x8F, 0x88, 0x89, 0x88, 0x80,
                                     0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88};
    assert_memory_equal(b, want, sizeof(want));
}

static void test_quantize_q4_1_hand(void** state) {
    (void)state;
    // min -1, max 6.5 -> d = 7.5 / 15 = 0.5 (0x3800), m = -1 (0xBC00), id = 2,
    // code = trunc((x + 1) * 2 + 0.5): -1 -> 0, 6.5 -> 15, 0.24 -> trunc(2.98) = 2,
    // 0.26 -> trunc(3.02) = 3, the 0.0 fillers -> trunc(2.5) = 2
    float x[32] = {-1.0f, 6.5f, 0.24f, 0.26f};
    uint8_t b[20];
    assert_int_equal(quant_quantize_row(GGML_TYPE_Q4_1, x, b, 32), 0);
    static const uint8_t want[8] = {0x00, 0x38, 0x00, 0xBC, 0x20, 0x2F, 0x22, 0x23};
    assert_memory_equal(b, want, sizeof(want));
    for (int j = 4; j < 16; j++)
        assert_int_equal(b[4 + j], 0x22);
}

static void test_quantize_q5_hand(void** state) {
    (void)state;
    // q5_0: extreme -16 -> d = 1.0, code = trunc(x + 16.5) clamped to 31:
    // x[0] = -16 -> 0, x[1] = 15 -> 31, x[2] = -1 -> 15, zeros -> 16 (bit 4 set),
    // x[16] = 16 -> 32 -> 31
    float x[32] = {-16.0f, 15.0f, -1.0f};
    x[16] = 16.0f;
    uint8_t b[22];
    assert_int_equal(quant_quantize_row(GGML_TYPE_Q5_0, x, b, 32), 0);
    // qs[0] = 0 | (31 & 15) << 4 = 0xF0, qs[1] = 15 | 0 = 0x0F, qs[2] = 15 | 0 = 0x0F,
    // others 0x00; qh: bit j = code_j >> 4: element 0 no, 1 yes, 2 no, 3..15 yes, 16..31 yes
    // -> 0xFFFFFFFA
    static const uint8_t want[9] = {0x00, 0x3C, 0xFA, 0xFF, 0xFF, 0xFF, 0xF0, 0x0F, 0x0F};
    assert_memory_equal(b, want, sizeof(want));
    for (int j = 3; j < 16; j++)
        assert_int_equal(b[6 + j], 0x00);

    // q5_1: min 0, max 31 -> d = 1 (0x3C00), m = 0; code = trunc(x + 0.5): x[j] = j for
    // j < 32 gives code j: qs[j] = j & 15 | (j+16) & 15 << 4 = j | j << 4, qh = 0xFFFF0000
    float y[32];
    for (int j = 0; j < 32; j++)
        y[j] = (float)j;
    uint8_t c[24];
    assert_int_equal(quant_quantize_row(GGML_TYPE_Q5_1, y, c, 32), 0);
    static const uint8_t wantc[8] = {0x00, 0x3C, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF};
    assert_memory_equal(c, wantc, sizeof(wantc));
    for (int j = 0; j < 16; j++)
        assert_int_equal(c[8 + j], j | j << 4);
    double back[32];
    assert_int_equal(quant_dequant_row(GGML_TYPE_Q5_1, c, back, 32), 0);
    for (int j = 0; j < 32; j++)
        assert_true(back[j] == (double)j);
}

static void test_quantize_plain(void** state) {
    (void)state;
    float x[3] = {1.0f, -2.0f, 0x1.000002p0f};
    uint8_t b[12];
    assert_int_equal(quant_quantize_row(GGML_TYPE_F32, x, b, 3), 0);
    assert_memory_equal(b, x, 12);
    // 1 + 2^-23 rounds to 1.0 in both 16-bit formats
    assert_int_equal(quant_quantize_row(GGML_TYPE_F16, x, b, 3), 0);
    static const uint8_t w16[6] = {0x00, 0x3C, 0x00, 0xC0, 0x00, 0x3C};
    assert_memory_equal(b, w16, 6);
    assert_int_equal(quant_quantize_row(GGML_TYPE_BF16, x, b, 3), 0);
    static const uint8_t wb16[6] = {0x80, 0x3F, 0x00, 0xC0, 0x80, 0x3F};
    assert_memory_equal(b, wb16, 6);
}

// Quantizes a fixed pseudo-random row, dequantizes it, and bounds each block's error by
// what its scale allows (half a step, plus the step's own fp16 rounding, plus clamping).
static void round_trip(enum GgmlType t) {
    const int64_t n = quick_mode() ? 1024 : 16384;
    float* x = malloc((size_t)n * sizeof(float));
    uint8_t* q = malloc(quant_row_size(t, n));
    double* y = malloc((size_t)n * sizeof(double));
    uint32_t s = 0x12345678u + (uint32_t)t;
    for (int64_t i = 0; i < n; i++)
        x[i] = rnd(&s) * (float)(1 + i / 32 % 5); // scales vary
    assert_int_equal(quant_quantize_row(t, x, q, n), 0);
    assert_int_equal(quant_dequant_row(t, q, y, n), 0);
    double worst = 0.0;
    for (int64_t b = 0; b < n / 32; b++) {
        const float* xb = x + 32 * b;
        float mn = xb[0], mx = xb[0], amax = 0.0f;
        for (int j = 0; j < 32; j++) {
            mn = fminf(mn, xb[j]);
            mx = fmaxf(mx, xb[j]);
            amax = fmaxf(amax, fabsf(xb[j]));
        }
        double bound;
        switch (t) {
        case GGML_TYPE_Q4_0: bound = amax / 8.0 * 1.01; break; // clamp costs a full step
        case GGML_TYPE_Q5_0: bound = amax / 16.0 * 1.01; break;
        case GGML_TYPE_Q4_1: bound = (mx - mn) / 15.0 * 0.51 + fabsf(mn) / 1024.0; break;
        case GGML_TYPE_Q5_1: bound = (mx - mn) / 31.0 * 0.52 + fabsf(mn) / 1024.0; break;
        default: bound = amax / 127.0 * 0.57; break; // q8_0
        }
        for (int j = 0; j < 32; j++) {
            double err = fabs(y[32 * b + j] - (double)xb[j]);
            if (err > bound)
                fail_msg("%s block %lld [%d]: x %.9g back %.9g err %.3g > %.3g", quant_type_name(t),
                         (long long)b, j, (double)xb[j], y[32 * b + j], err, bound);
            if (err / (amax > 0 ? amax : 1) > worst) worst = err / (amax > 0 ? amax : 1);
        }
    }
    printf("round trip %-5s n %lld: worst error / block absmax %.4f\n", quant_type_name(t),
           (long long)n, worst);
    free(y);
    free(q);
    free(x);
}

static void test_quantize_round_trip(void** state) {
    (void)state;
    round_trip(GGML_TYPE_Q4_0);
    round_trip(GGML_TYPE_Q4_1);
    round_trip(GGML_TYPE_Q5_0);
    round_trip(GGML_TYPE_Q5_1);
    round_trip(GGML_TYPE_Q8_0);
}

// --------------------------------------------------------------------------------------
// dot products

static void test_dot_row(void** state) {
    (void)state;
    static const enum GgmlType types[] = {GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16,
                                          GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0,
                                          GGML_TYPE_Q5_1, GGML_TYPE_Q8_0};
    const int64_t n = 800; // not a multiple of 256: the last chunk is partial
    float x[800];
    double v[800], y[800];
    uint8_t q[800 * 4];
    uint32_t s = 7;
    for (int64_t i = 0; i < n; i++) {
        x[i] = rnd(&s);
        v[i] = (double)rnd(&s) * 3.0 + 1e-3 * (double)i;
    }
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
        enum GgmlType t = types[k];
        assert_int_equal(quant_quantize_row(t, x, q, n), 0);
        assert_int_equal(quant_dequant_row(t, q, y, n), 0);
        double want = 0.0;
        for (int64_t i = 0; i < n; i++)
            want += y[i] * v[i];
        double got = quant_dot_row(t, q, v, n);
        if (got != want) fail_msg("%s: dot %.17g want %.17g", quant_type_name(t), got, want);
    }
    // F32 row: the dot is the plain double sum of float * double products
    double want = 0.0;
    for (int64_t i = 0; i < n; i++)
        want += (double)x[i] * v[i];
    assert_true(quant_dot_row(GGML_TYPE_F32, x, v, n) == want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_to_f32_known),
        cmocka_unit_test(test_f32_to_f16_rounding),
        cmocka_unit_test(test_f16_round_trip_all),
        cmocka_unit_test(test_f32_to_f16_vs_native),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_dequant_vectors),
        cmocka_unit_test(test_dequant_q4_1_hand),
        cmocka_unit_test(test_dequant_bf16_hand),
        cmocka_unit_test(test_dequant_q8_0_q4_0_hand),
        cmocka_unit_test(test_dequant_unsupported),
        cmocka_unit_test(test_quantize_q8_0_hand),
        cmocka_unit_test(test_quantize_q4_0_hand),
        cmocka_unit_test(test_quantize_q4_1_hand),
        cmocka_unit_test(test_quantize_q5_hand),
        cmocka_unit_test(test_quantize_plain),
        cmocka_unit_test(test_quantize_round_trip),
        cmocka_unit_test(test_dot_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
