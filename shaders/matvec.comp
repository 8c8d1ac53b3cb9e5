// matvec.comp: y[o] = sum_i W[o][i] x[i] (+ b[o]) for ONE position (OP_MATMUL while
// generating), the kernel a decode step spends its time in. It only reads memory, so it is
// written to keep many wide loads in flight: a team of TEAM lanes owns NR rows, each lane
// walks the rows in steps that are one GGUF block (Q8_0, Q4_0: 32 elements) or one 16-byte
// word (F32, F16, BF16: 4 or 8 elements), x comes in vec4s shared by the NR rows, and the
// team's partial sums meet in one subgroupAdd (SUBGROUP: a team is a subgroup; the host puts
// the #extension lines in the head) or a shared-memory tree (no subgroups, as on llvmpipe).
// Weights stay in their GGUF encoding. Needs n_in % 4 == 0 and a 4-float aligned x (F16/BF16:
// n_in % 8 == 0, quant types: whole blocks); matmul.comp (NT 1) serves every other shape.
//
// Fused decode epilogues (gles/fuse.c; NR 2, a team's two rows are a pair):
//   MV_RES  y = res + W x: the residual add after an output projection.
//   MV_GLU  W is [gate; up] (one buffer): team p reads gate row p and up row p and writes
//           y[p] = act(gate) * up (common.glsl glu_act).
//   MV_QKV  W is [q; k; v]: team p reads a rotary pair of q or k (rows 2i, 2i+1 of a head, or
//           i, i + hd/2 with NEOX), rotates it by the position's (cos, sin) and writes q to y,
//           k and v straight into the layer's KV cache row (attn_kv.comp's job).
//   MV_NORM (with MV_QKV or MV_GLU) x is the rmsnorm's input: each work group computes
//           w * x / rms(x) on the fly (the OP_RMSNORM before the mat-vecs).
// bindings: 0 out, 1 x (as vec4), 2 weights (uint words), 3 bias, 4 weights (as uvec4);
//           MV_RES 5 residual; MV_QKV 5 key cache, 6 value cache, 7 rope table (vec2);
//           MV_NORM 8 norm weight
// U: 0 n_in, 1 x offset in vec4s, 2 out offset, 3 rows in chunk, 4 row0, 5 has bias,
//    6 bytes per row, 7 row base (rows of other tensors before this one in its buffer);
//    MV_RES: 8 residual offset; MV_GLU: 8 n_ff, 9 act, 10 norm eps (float bits);
//    MV_QKV: 8 q rows, 9 k rows, 10 head dim, 11 neox, 12 position, 13 cache row, 14 kv width,
//    15 norm eps
#define N_IN U[0]
#define X4 U[1]
#define OUT0 U[2]
#define ROWS U[3]
#define ROW0 U[4]
#define HAS_BIAS U[5]
#define ROW_BYTES U[6]
#define WBASE U[7]
#ifndef NR
#define NR 1
#endif
layout(local_size_x = MV_X) in;  // TEAM * TEAMS
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(std430, binding = 4) readonly buffer Weights4 { uvec4 wq4[]; };
#if defined(MV_RES)
#define RES0 U[8]
layout(std430, binding = 5) readonly buffer Res { float res[]; };
#elif defined(MV_GLU)
#define N_FF U[8]
#define ACT U[9]
#elif defined(MV_QKV)
#define NQ U[8]
#define NK U[9]
#define HD U[10]
#define NEOX U[11]
#define POS U[12]
#define CROW U[13]
#define KVW U[14]
layout(std430, binding = 5) writeonly buffer KC { float kc[]; };
layout(std430, binding = 6) writeonly buffer VC { float vc[]; };
layout(std430, binding = 7) readonly buffer Tab { vec2 cs[]; };
#endif
#ifndef SUBGROUP
shared float red[MV_X * NR];
#endif
#ifdef MV_NORM
#ifdef MV_QKV
#define NORM_EPS intBitsToFloat(U[15])
#else
#define NORM_EPS intBitsToFloat(U[10])
#endif
layout(std430, binding = 8) readonly buffer NormW { vec4 nw4[]; };
shared float norm_ss[MV_X];
float norm_r;  // this work group's 1 / rms(x)
#endif

// Element 4i..4i+3 of the input row (MV_NORM: normalised, rmsnorm.comp's w * x / rms).
vec4 xv4(int i) {
#ifdef MV_NORM
    return x4[X4 + i] * (nw4[i] * norm_r);
#else
    return x4[X4 + i];
#endif
}

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
        vec4 xa = xv4(k * PER / 4);
#if PER == 8
        vec4 xb = xv4(k * 2 + 1);
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
        for (int k = 0; k < 8; k++) xv[k] = xv4(b * 8 + k);
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

// The rows team p reads (rows of the chunk), and how many teams the dispatch needs.
void team_rows(int p, out int rows[NR]) {
#if defined(MV_GLU)
    rows[0] = p;
    rows[1] = N_FF + p;
#elif defined(MV_QKV)
    int r = 2 * p, seg = r < NQ ? 0 : r < NQ + NK ? NQ : NQ + NK, l = r - seg;
    if (NEOX != 0 && seg < NQ + NK) {
        int h = l / HD, i = (l % HD) / 2;
        rows[0] = seg + h * HD + i;
        rows[1] = rows[0] + HD / 2;
    } else {
        rows[0] = r;
        rows[1] = r + 1;
    }
#else
    for (int k = 0; k < NR; k++) rows[k] = p * NR + k;
#endif
}

int n_teams() {
#if defined(MV_GLU)
    return N_FF;
#elif defined(MV_QKV)
    return ROWS / 2;
#else
    return (ROWS + NR - 1) / NR;
#endif
}

void main() {
#ifdef SUBGROUP
    int team = int(gl_SubgroupID), lane = int(gl_SubgroupInvocationID);
#else
    int lid = int(gl_LocalInvocationID.x), team = lid / TEAM, lane = lid % TEAM;
#endif
    int p = int(gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * TEAMS + team;
#ifdef MV_NORM
    // the rms of x, summed by the whole work group (each one recomputes it: no dispatch)
    {
        int tid = int(gl_LocalInvocationID.x);
        float ss = 0.0;
        for (int i = tid; i < N_IN / 4; i += MV_X) ss += dot(x4[X4 + i], x4[X4 + i]);
#ifdef SUBGROUP
        ss = subgroupAdd(ss);
        if (lane == 0) norm_ss[team] = ss;
        barrier();
        ss = 0.0;
        for (int i = 0; i < TEAMS; i++) ss += norm_ss[i];
#else
        norm_ss[tid] = ss;
        barrier();
        ss = 0.0;
        for (int i = 0; i < MV_X; i++) ss += norm_ss[i];
#endif
        norm_r = 1.0 / sqrt(ss / float(N_IN) + NORM_EPS);
    }
#endif
    int rows[NR];
    team_rows(min(p, n_teams() - 1), rows);  // clamp: barrier() below
    uint off[NR];
    float acc[NR];
    for (int r = 0; r < NR; r++) {
        off[r] = uint(WBASE + min(rows[r], ROWS - 1)) * uint(ROW_BYTES);
        acc[r] = 0.0;
    }
    row_dots(off, lane, acc);
#ifdef SUBGROUP
    for (int r = 0; r < NR; r++) acc[r] = subgroupAdd(acc[r]);
#else
    for (int r = 0; r < NR; r++) red[r * TEAM * TEAMS + lid] = acc[r];
    barrier();
    for (int s = TEAM / 2; s > 0; s >>= 1) {
        if (lane < s)
            for (int r = 0; r < NR; r++) red[r * TEAM * TEAMS + lid] += red[r * TEAM * TEAMS + lid + s];
        barrier();
    }
    for (int r = 0; r < NR; r++) acc[r] = red[r * TEAM * TEAMS + lid];
#endif
    if (lane != 0 || p >= n_teams()) return;
#if defined(MV_GLU)
    y[OUT0 + p] = glu_act(acc[0], ACT) * acc[1];
#elif defined(MV_QKV)
    int seg = rows[0] < NQ ? 0 : rows[0] < NQ + NK ? NQ : NQ + NK;
    float a = acc[0], b = acc[1];
    if (seg < NQ + NK) {  // q and k: rotate the pair (rope.comp's equations)
        vec2 c = cs[POS * (HD / 2) + ((rows[0] - seg) % HD) / (NEOX != 0 ? 1 : 2)];
        a = acc[0] * c.x - acc[1] * c.y;
        b = acc[1] * c.x + acc[0] * c.y;
    }
    if (seg == 0) {
        y[OUT0 + rows[0]] = a;
        y[OUT0 + rows[1]] = b;
    } else if (seg == NQ) {
        kc[CROW * KVW + rows[0] - seg] = a;
        kc[CROW * KVW + rows[1] - seg] = b;
    } else {
        vc[CROW * KVW + rows[0] - seg] = a;
        vc[CROW * KVW + rows[1] - seg] = b;
    }
#else
    for (int r = 0; r < NR; r++) {
        int o = rows[r];
        if (o >= ROWS) continue;
        float v = acc[r] + (HAS_BIAS != 0 ? bias[ROW0 + o] : 0.0);
#if defined(MV_RES)
        v += res[RES0 + ROW0 + o];
#endif
        y[OUT0 + ROW0 + o] = v;
    }
#endif
}
