// common.glsl: helpers every kernel sees (the host passes: generated head, this file, kernel).
// The head defines LOCAL_X (work-group size) and variant switches:
//   W_BINDING n   declares the weight buffer `wq` at binding n, in its GGUF encoding, with
//   WTYPE_F32 | WTYPE_F16 | WTYPE_BF16 | WTYPE_Q8_0 | WTYPE_Q4_0 | WTYPE_Q4_1 | WTYPE_Q5_0 |
//   WTYPE_Q5_1 | WTYPE_Q2_K | WTYPE_Q3_K | WTYPE_Q4_K | WTYPE_Q5_K | WTYPE_Q6_K | WTYPE_IQ4_NL
//   selecting the decoder (byte layouts: shared/quant.c, ggml-common.h).
// Scalars arrive in one int array U[] (gl_dispatch sets it with one glUniform1iv); kernels
// name its entries with #defines. Floats travel as their bits (intBitsToFloat).
// No main() here.

layout(location = 0) uniform int U[16];

// Flat invocation id over a 2-D grid of 1-D work groups (x is capped at 65535 groups).
int flat_id() {
    return int((gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * uint(LOCAL_X) +
               gl_LocalInvocationID.x);
}

// torch softplus (beta 1, threshold 20): x if x > 20, else log1p(exp(x)). log1p(e) for
// e = exp(x) <= 1 by its series in z = e / (2 + e): 2 (z + z^3/3 + z^5/5 + ...), z <= 1/3, so
// small values keep their relative accuracy (log(1.0 + e) would round them away).
float softplus(float x) {
    if (x > 20.0) return x;
    float e = exp(x);
    if (x > 0.0) return log(1.0 + e);
    float z = e / (2.0 + e), z2 = z * z, s = 0.0;
    for (int k = 9; k >= 0; k--) s = s * z2 + 1.0 / float(2 * k + 1);
    return 2.0 * z * s;
}

// OP_GLU's activations (enum Act): 0 SiLU x*sigmoid(x); 1 GELU, tanh approximation; 2 exact
// GELU with erf by A&S 7.1.26 (|error| < 1.5e-7).
float erf_approx(float x) {
    float s = sign(x), a = abs(x);
    float t = 1.0 / (1.0 + 0.3275911 * a);
    float p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 +
              t * (-1.453152027 + t * 1.061405429))));
    return s * (1.0 - p * exp(-a * a));
}

float glu_act(float x, int act) {
    if (act == 0) return x / (1.0 + exp(-x));
    if (act == 1) {
        float k = 0.7978845608028654;  // sqrt(2/pi)
        return 0.5 * x * (1.0 + tanh(clamp(k * (x + 0.044715 * x * x * x), -15.0, 15.0)));
    }
    return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
}

// exp(x) - 1 without the cancellation of exp(x) - 1.0 near 0: the Taylor series up to x^10
// for |x| < 1/2 (truncation below 1e-10 relative), the plain difference beyond (its
// rounding is then at most ~2 ulp of the result).
float exp_m1(float x) {
    if (abs(x) >= 0.5) return exp(x) - 1.0;
    float s = 1.0;
    for (int k = 10; k >= 2; k--) s = 1.0 + x * s / float(k);
    return x * s;
}

// tanh(x) = -expm1(-2|x|) / (2 + expm1(-2|x|)) with the sign of x: relative accuracy near 0
// (where (e^2x - 1) / (e^2x + 1) cancels), no overflow for large |x|.
float tanh_acc(float x) {
    float e = exp_m1(-2.0 * abs(x));
    return sign(x) * (-e / (2.0 + e));
}

#ifdef W_BINDING
layout(std430, binding = W_BINDING) readonly buffer Weights { uint wq[]; };

// Byte-addressed reads into the weight words. GGUF blocks are not 4-byte aligned (Q4_0 is 18
// bytes, Q8_0 34), but every 16-bit field is 2-byte aligned.
uint w_u16(uint off) { return (wq[off >> 2] >> ((off & 2u) * 8u)) & 0xffffu; }
uint w_u8(uint off) { return (wq[off >> 2] >> ((off & 3u) * 8u)) & 0xffu; }
// Four bytes at an even offset.
uint w_u32(uint off) {
    uint i = off >> 2;
    return (off & 2u) == 0u ? wq[i] : (wq[i] >> 16) | (wq[i + 1u] << 16);
}
float w_half(uint off) { return unpackHalf2x16(w_u16(off)).x; }

// 32-element blocks: element j (0..31) of a block's 16 nibble bytes at qs: the low nibble of
// byte j for j < 16, the high nibble of byte j - 16 otherwise.
uint w_nibble(uint qs, int j) {
    uint q = w_u8(qs + uint(j & 15));
    return j < 16 ? (q & 15u) : (q >> 4);
}

#if defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
// The 12-byte scales field at sc of q4_K/q5_K: six-bit scale and min of sub-block j (0..7).
// Bytes 0..3 hold scales 0..3 and 4..7 mins 0..3 (low 6 bits); entries 4..7 take their low
// nibbles from bytes 8..11 and their top 2 bits from the top bits of bytes 0..7.
void w_k4_scale_min(uint sc, int j, out float scale, out float mn) {
    uint uj = uint(j);
    if (j < 4) {
        scale = float(w_u8(sc + uj) & 63u);
        mn = float(w_u8(sc + uj + 4u) & 63u);
    } else {
        scale = float((w_u8(sc + uj + 4u) & 15u) | ((w_u8(sc + uj - 4u) >> 6) << 4));
        mn = float((w_u8(sc + uj + 4u) >> 4) | ((w_u8(sc + uj) >> 6) << 4));
    }
}
#endif

// Element i of the row starting at byte row_off.
float w_get(uint row_off, int i) {
#if defined(WTYPE_F32)
    return uintBitsToFloat(wq[(row_off >> 2) + uint(i)]);
#elif defined(WTYPE_F16)
    return w_half(row_off + 2u * uint(i));
#elif defined(WTYPE_BF16)
    return uintBitsToFloat(w_u16(row_off + 2u * uint(i)) << 16);
#elif defined(WTYPE_Q8_0)
    // block: f16 d, int8 qs[32]; x = d * q
    uint b = row_off + 34u * uint(i / 32);
    int q = bitfieldExtract(int(w_u8(b + 2u + uint(i % 32))) << 24, 24, 8);
    return w_half(b) * float(q);
#elif defined(WTYPE_Q4_0)
    // block: f16 d, uint8 qs[16]; element j < 16 is the low nibble of qs[j], j >= 16 the
    // high nibble of qs[j-16]; x = d * (nibble - 8)
    uint b = row_off + 18u * uint(i / 32);
    int j = i % 32;
    uint q = w_u8(b + 2u + uint(j & 15));
    q = j < 16 ? (q & 15u) : (q >> 4);
    return w_half(b) * float(int(q) - 8);
#elif defined(WTYPE_Q4_1)
    // block (20 bytes): f16 d, f16 m, qs[16]; x = q * d + m
    uint b = row_off + 20u * uint(i / 32);
    return float(w_nibble(b + 4u, i % 32)) * w_half(b) + w_half(b + 2u);
#elif defined(WTYPE_Q5_0)
    // block (22 bytes): f16 d, u32 qh (fifth bit of element j: bit j), qs[16];
    // x = (q - 16) * d
    uint b = row_off + 22u * uint(i / 32);
    int j = i % 32;
    uint q = w_nibble(b + 6u, j) | (((w_u32(b + 2u) >> uint(j)) & 1u) << 4);
    return float(int(q) - 16) * w_half(b);
#elif defined(WTYPE_Q5_1)
    // block (24 bytes): f16 d, f16 m, u32 qh, qs[16]; x = q * d + m
    uint b = row_off + 24u * uint(i / 32);
    int j = i % 32;
    uint q = w_nibble(b + 8u, j) | (((w_u32(b + 4u) >> uint(j)) & 1u) << 4);
    return float(q) * w_half(b) + w_half(b + 2u);
#elif defined(WTYPE_IQ4_NL)
    // block (18 bytes): f16 d, qs[16]; x = d * table[nibble]
    const int IQ4NL[16] = int[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53,
                                  69, 89, 113);
    uint b = row_off + 18u * uint(i / 32);
    return w_half(b) * float(IQ4NL[w_nibble(b + 2u, i % 32)]);
#elif defined(WTYPE_Q2_K) || defined(WTYPE_Q3_K)
    // 256-element blocks of two 128-element halves; in half h, pass k (0..3) takes bits
    // 2k..2k+1 of 32 qs bytes: bytes 0..15 (part 0, scale 8h+2k) then 16..31 (part 1, 8h+2k+1).
    int e = i % 256, h = e / 128, k = (e % 128) / 32, part = (e % 32) / 16, l = e % 16;
    int s = h * 8 + 2 * k + part, qi = 16 * part + l;
#if defined(WTYPE_Q2_K)
    // block (84 bytes): scales[16] (low nibble scale, high nibble min), qs[64], f16 d, dmin;
    // x = d * scale * q - dmin * min
    uint b = row_off + 84u * uint(i / 256);
    uint sc = w_u8(b + uint(s));
    uint v = (w_u8(b + 16u + 32u * uint(h) + uint(qi)) >> (2u * uint(k))) & 3u;
    return w_half(b + 80u) * float(sc & 15u) * float(v) - w_half(b + 82u) * float(sc >> 4);
#else
    // block (110 bytes): hmask[32] (a clear bit p of hmask[qi] subtracts 4 from pass p = 4h+k),
    // qs[64] (low 2 bits), scales[12] (16 six-bit scales biased by 32), f16 d; x = d * scale * q
    uint b = row_off + 110u * uint(i / 256);
    uint sc = b + 96u;
    uint lo = s < 8 ? (w_u8(sc + uint(s)) & 15u) : (w_u8(sc + uint(s - 8)) >> 4);
    uint hi = (w_u8(sc + 8u + uint(s % 4)) >> (2u * uint(s / 4))) & 3u;
    int scale = int(lo | (hi << 4)) - 32;
    int v = int((w_u8(b + 32u + 32u * uint(h) + uint(qi)) >> (2u * uint(k))) & 3u);
    if ((w_u8(b + uint(qi)) & (1u << uint(4 * h + k))) == 0u) v -= 4;
    return w_half(b + 108u) * float(scale) * float(v);
#endif
#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
    // 256-element blocks: f16 d, f16 dmin, scales[12], (q5_K: qh[32],) qs[128]. Four 64-element
    // chunks c of 32 qs bytes: low nibbles (sub-block 2c), then high nibbles (2c+1);
    // q5_K's fifth bit of element l of sub-block j is bit j of qh[l]. x = d * scale * q - dmin * min
    int e = i % 256, c = e / 64, j = e / 32, l = e % 32;
#if defined(WTYPE_Q4_K)
    uint b = row_off + 144u * uint(i / 256), qs = b + 16u;
#else
    uint b = row_off + 176u * uint(i / 256), qs = b + 48u;
#endif
    float scale, mn;
    w_k4_scale_min(b + 4u, j, scale, mn);
    uint q = w_u8(qs + 32u * uint(c) + uint(l));
    q = (j & 1) == 0 ? (q & 15u) : (q >> 4);
#if defined(WTYPE_Q5_K)
    q += ((w_u8(b + 16u + uint(l)) >> uint(j)) & 1u) << 4;
#endif
    return w_half(b) * scale * float(q) - w_half(b + 2u) * mn;
#elif defined(WTYPE_Q6_K)
    // block (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d.
    // Per 128-element half h: element l + 32k (k 0..3) takes nibble k/2 of ql[64h + l + 32(k%2)]
    // and bits 2k..2k+1 of qh[32h + l], scale 8h + l/16 + 2k; x = d * scale * (q - 32)
    int e = i % 256, h = e / 128, k = (e % 128) / 32, l = e % 32;
    uint b = row_off + 210u * uint(i / 256);
    uint lo = w_u8(b + 64u * uint(h) + uint(l + 32 * (k % 2)));
    lo = k < 2 ? (lo & 15u) : (lo >> 4);
    uint hi = (w_u8(b + 128u + 32u * uint(h) + uint(l)) >> (2u * uint(k))) & 3u;
    int sc = bitfieldExtract(int(w_u8(b + 192u + 8u * uint(h) + uint(l / 16 + 2 * k))), 0, 8);
    return w_half(b + 208u) * float(sc) * float(int(lo | (hi << 4)) - 32);
#endif
}

// The 32 elements of unit u (elements 32u .. 32u+31; past n reads 0) of a row.
void w_unit(uint row_off, int u, int n, out float v[32]) {
#if defined(WTYPE_Q8_0)
    uint b = row_off + 34u * uint(u);
    float d = w_half(b);
    for (int k = 0; k < 8; k++) {
        int w = int(w_u32(b + 2u + 4u * uint(k)));
        for (int c = 0; c < 4; c++) v[4 * k + c] = d * float(bitfieldExtract(w, 8 * c, 8));
    }
#elif defined(WTYPE_Q4_0)
    uint b = row_off + 18u * uint(u);
    float d = w_half(b);
    for (int k = 0; k < 4; k++) {
        uint w = w_u32(b + 2u + 4u * uint(k));
        for (int c = 0; c < 4; c++) {
            uint q = (w >> (8u * uint(c))) & 0xffu;
            v[4 * k + c] = d * float(int(q & 15u) - 8);
            v[4 * k + c + 16] = d * float(int(q >> 4) - 8);
        }
    }
#else
    int i0 = u * 32;
    for (int k = 0; k < 32; k++) v[k] = i0 + k < n ? w_get(row_off, i0 + k) : 0.0;
#endif
}
#endif
