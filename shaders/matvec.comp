// matvec.comp: y[o] = sum_i W[o][i] x[i] (+ b[o]) for ONE position (OP_MATMUL while
// generating), the kernel a decode step spends its time in. It only reads memory, so it is
// written to keep many wide loads in flight: a team of TEAM lanes owns NR adjacent rows,
// each lane walks the rows in steps that are one GGUF block (Q8_0, Q4_0: 32 elements) or one
// 16-byte word (F32, F16, BF16: 4 or 8 elements), x comes in vec4s shared by the NR rows, and
// the team's partial sums meet in one subgroupAdd (SUBGROUP: a team is a subgroup; the host
// puts the #extension lines in the head) or a
// shared-memory tree (no subgroups, as on llvmpipe). Weights stay in their GGUF encoding.
// Needs n_in % 4 == 0 and a 4-float aligned x (F16/BF16: n_in % 8 == 0, quant types: whole
// blocks); matmul.comp (NT 1) serves every other shape.
// bindings: 0 out, 1 x (as vec4), 2 weights (uint words), 3 bias, 4 weights (as uvec4)
// U: 0 n_in, 1 x offset in vec4s, 2 out offset, 3 rows in chunk, 4 row0, 5 has bias,
//    6 bytes per row
#define N_IN U[0]
#define X4 U[1]
#define OUT0 U[2]
#define ROWS U[3]
#define ROW0 U[4]
#define HAS_BIAS U[5]
#define ROW_BYTES U[6]
#ifndef NR
#define NR 1
#endif
layout(local_size_x = MV_X) in;  // TEAM * TEAMS
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 4) readonly buffer Weights4 { uvec4 wq4[]; };
#ifndef SUBGROUP
shared float red[MV_X * NR];
#endif

// Four signed bytes of a word as floats.
vec4 i8x4(uint w) {
    int s = int(w);
    return vec4(ivec4(s << 24, s << 16, s << 8, s) >> 24);
}

// Adds lane's share of row r's dot product with x to acc (NR rows at row offsets off[]).
void row_dots(uint off[NR], int lane, inout float acc[NR]) {
#if defined(WTYPE_F32) || defined(WTYPE_F16) || defined(WTYPE_BF16)
#if defined(WTYPE_F32)
#define PER 4  // elements per 16-byte word
#else
#define PER 8
#endif
    int n_w = N_IN / PER;
    for (int k = lane; k < n_w; k += TEAM) {
        vec4 xa = x4[X4 + k * PER / 4];
#if PER == 8
        vec4 xb = x4[X4 + k * 2 + 1];
#endif
        for (int r = 0; r < NR; r++) {
            uvec4 w = wq4[(off[r] >> 4) + uint(k)];
#if defined(WTYPE_F32)
            acc[r] += dot(uintBitsToFloat(w), xa);
#elif defined(WTYPE_F16)
            acc[r] += dot(vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y)), xa) +
                      dot(vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w)), xb);
#else
            uvec4 lo = w << 16, hi = w & 0xffff0000u;
            acc[r] += dot(uintBitsToFloat(uvec4(lo.x, hi.x, lo.y, hi.y)), xa) +
                      dot(uintBitsToFloat(uvec4(lo.z, hi.z, lo.w, hi.w)), xb);
#endif
        }
    }
#elif defined(WTYPE_Q8_0) || defined(WTYPE_Q4_0)
#if defined(WTYPE_Q8_0)
    const uint BLOCK = 34u, NW = 9u;  // f16 d, int8 q[32]
#else
    const uint BLOCK = 18u, NW = 5u;  // f16 d, uint8 qs[16]: q_j low nibbles, q_j+16 high
#endif
    int n_b = N_IN / 32;
    for (int b = lane; b < n_b; b += TEAM) {
        vec4 xv[8];
        for (int k = 0; k < 8; k++) xv[k] = x4[X4 + b * 8 + k];
        for (int r = 0; r < NR; r++) {
            // A block starts at an even byte: its words a[0..NW-1] hold d at bytes 0-1 or
            // 2-3 and the quants after it, shifted by two bytes when the block is aligned.
            uint start = off[r] + BLOCK * uint(b), i = start >> 2;
            bool al = (start & 2u) == 0u;
            uint a[NW];
            for (uint k = 0u; k < NW; k++) a[k] = wq[i + k];
            float d = unpackHalf2x16(al ? a[0] : a[0] >> 16).x;
            float s = 0.0;
            for (int k = 0; k < int(NW) - 1; k++) {
                uint q = al ? (a[k] >> 16) | (a[k + 1] << 16) : a[k + 1];
#if defined(WTYPE_Q8_0)
                s += dot(i8x4(q), xv[k]);
#else
                uvec4 qb = uvec4(q) >> uvec4(0u, 8u, 16u, 24u);
                s += dot(vec4(qb & 15u) - 8.0, xv[k]) + dot(vec4(qb >> 4 & 15u) - 8.0, xv[k + 4]);
#endif
            }
            acc[r] += d * s;
        }
    }
#endif
}

void main() {
#ifdef SUBGROUP
    int team = int(gl_SubgroupID), lane = int(gl_SubgroupInvocationID);
#else
    int lid = int(gl_LocalInvocationID.x), team = lid / TEAM, lane = lid % TEAM;
#endif
    int o0 = (int(gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * TEAMS + team) * NR;
    uint off[NR];
    float acc[NR];
    for (int r = 0; r < NR; r++) {
        off[r] = uint(min(o0 + r, ROWS - 1)) * uint(ROW_BYTES);  // clamp: barrier() below
        acc[r] = 0.0;
    }
    row_dots(off, lane, acc);
#ifdef SUBGROUP
    for (int r = 0; r < NR; r++) acc[r] = subgroupAdd(acc[r]);
    if (lane == 0)
#else
    for (int r = 0; r < NR; r++) red[r * TEAM * TEAMS + lid] = acc[r];
    barrier();
    for (int s = TEAM / 2; s > 0; s >>= 1) {
        if (lane < s)
            for (int r = 0; r < NR; r++) red[r * TEAM * TEAMS + lid] += red[r * TEAM * TEAMS + lid + s];
        barrier();
    }
    for (int r = 0; r < NR; r++) acc[r] = red[r * TEAM * TEAMS + lid];
    if (lane == 0)
#endif
        for (int r = 0; r < NR; r++)
            if (o0 + r < ROWS)
                y[OUT0 + ROW0 + o0 + r] = acc[r] + (HAS_BIAS != 0 ? bias[ROW0 + o0 + r] : 0.0);
}
