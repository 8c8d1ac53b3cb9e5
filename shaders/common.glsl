// common.glsl: helpers every kernel sees (the host passes: generated head, this file, kernel).
// The head defines LOCAL_X (work-group size) and variant switches:
//   W_BINDING n   declares the weight buffer `wq` at binding n, in its GGUF encoding, with
//   WTYPE_F32 | WTYPE_F16 | WTYPE_BF16 | WTYPE_Q8_0 | WTYPE_Q4_0 selecting the decoder.
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
