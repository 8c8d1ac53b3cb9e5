// matmul.comp: out[t][o] = sum_i W[o][i] x[t][i] (+ b[o])  (OP_MATMUL; PyTorch F.linear).
// W is one chunk of a GGUF matrix (rows row0 .. row0+rows-1), dequantized on the fly in
// units of 32 elements (one Q4_0/Q8_0 block). One work group per output row o; its threads
// stride over the row's units, and NT positions share each dequantized unit (NT 1: a
// mat-vec for generation; NT 8: a mat-mat tile for prompts, grid z = position tiles). The
// per-thread partial sums meet in a shared-memory tree reduction. RPG > 1 gives a work
// group RPG rows of LOCAL_X / RPG lanes each, for rows too short to keep 64 lanes busy.
// bindings: 0 out, 1 x, 2 weights (W_BINDING 2), 3 bias (float; a dummy when absent)
// U: 0 n_in, 1 x stride, 2 out stride, 3 rows in chunk, 4 row0, 5 first pos r0, 6 n, 7 has bias,
//    8 bytes per row
#define N_IN U[0]
#define SX U[1]
#define SO U[2]
#define ROWS U[3]
#define ROW0 U[4]
#define R0 U[5]
#define N U[6]
#define HAS_BIAS U[7]
#define ROW_BYTES U[8]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
#ifndef RPG
#define RPG 1
#endif
#define LANES (LOCAL_X / RPG)
shared float red[LOCAL_X * NT];

void main() {
    int lid = int(gl_LocalInvocationID.x), lane = lid % LANES;
    int o = int(gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * RPG + lid / LANES;
    bool live = o < ROWS;
    uint row_off = uint(min(o, ROWS - 1)) * uint(ROW_BYTES);  // clamp: barrier() below
    int tb = R0 + int(gl_WorkGroupID.z) * NT;                  // first position of the tile
    int nt = min(NT, R0 + N - tb);
    float acc[NT];
    for (int t = 0; t < NT; t++) acc[t] = 0.0;
    int n_units = (N_IN + 31) / 32;
    for (int u = lane; u < n_units; u += LANES) {
        float v[32];
        w_unit(row_off, u, N_IN, v);
        int i0 = u * 32, m = min(32, N_IN - i0);
        for (int t = 0; t < nt; t++) {
            int xo = (tb + t) * SX + i0;
            float s = 0.0;
            for (int k = 0; k < m; k++) s += v[k] * x[xo + k];
            acc[t] += s;
        }
    }
    for (int t = 0; t < NT; t++) red[t * LOCAL_X + lid] = acc[t];
    barrier();
    for (int s = LANES / 2; s > 0; s >>= 1) {
        if (lane < s)
            for (int t = 0; t < NT; t++) red[t * LOCAL_X + lid] += red[t * LOCAL_X + lid + s];
        barrier();
    }
    if (lane == 0 && live) {
        float b = HAS_BIAS != 0 ? bias[ROW0 + o] : 0.0;
        for (int t = 0; t < nt; t++) y[(tb + t) * SO + ROW0 + o] = red[t * LOCAL_X + lid] + b;
    }
}
