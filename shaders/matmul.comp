// matmul.comp: y[t][o] = sum_i W[o][i] x[t][i] (+ b[o]) for a batch of positions (OP_MATMUL
// on a prompt; matvec.comp does single positions). A work group computes a tile of TM rows
// by TN positions. The reduction walks K in steps of 32 (one Q4_0/Q8_0 block, one K-quant
// sub-block): the tile's 32-column slab of W is dequantized once into shared memory and
// serves all TN positions, the positions' slab of x serves all TM rows, and each of the 256
// threads accumulates a 4 x 4 block of outputs (rows tr + 16i, positions tc + 16j: a warp's
// shared-memory reads are broadcasts or consecutive). W is one chunk of a GGUF matrix (rows
// row0 .. row0+rows-1); grid x*y covers the row tiles, z the position tiles.
// bindings: 0 out, 1 x, 2 weights (W_BINDING 2), 3 bias (float; a dummy when absent)
// U: 0 n_in, 1 x stride, 2 out stride, 3 rows in chunk, 4 row0, 5 first pos r0, 6 n, 7 has bias,
//    8 bytes per row, 9 row base (rows of other tensors before this one in its buffer)
#define N_IN U[0]
#define SX U[1]
#define SO U[2]
#define ROWS U[3]
#define ROW0 U[4]
#define R0 U[5]
#define N U[6]
#define HAS_BIAS U[7]
#define ROW_BYTES U[8]
#define WBASE U[9]
#define TM 64
#define TN 64
#define TK 32
layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
shared float ws[TK * TM];  // [k][row]
shared float xs[TK * TN];  // [k][position]

void main() {
    int tid = int(gl_LocalInvocationID.x), tr = tid % 16, tc = tid / 16;
    int o0 = int(gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * TM;
    int t0 = int(gl_WorkGroupID.z) * TN;  // first position of the tile, relative to R0
    // The slab each thread loads: 8 consecutive k of one row (of W) and of one position (of x).
    int lr = tid / 4, lk = (tid % 4) * 8;
    // clamp: barrier() below
    uint row_off = uint(WBASE + min(o0 + lr, ROWS - 1)) * uint(ROW_BYTES);
    bool x_live = t0 + lr < N;
    int xo = (R0 + t0 + lr) * SX;
    float acc[16];
    for (int i = 0; i < 16; i++) acc[i] = 0.0;
    for (int k0 = 0; k0 < N_IN; k0 += TK) {
        for (int k = 0; k < 8; k++) {
            int i = k0 + lk + k;
            bool inside = i < N_IN;
            ws[(lk + k) * TM + lr] = inside ? w_get(row_off, i) : 0.0;
            xs[(lk + k) * TN + lr] = inside && x_live ? x[xo + i] : 0.0;
        }
        barrier();
        for (int k = 0; k < TK; k++) {
            vec4 a = vec4(ws[k * TM + tr], ws[k * TM + tr + 16], ws[k * TM + tr + 32],
                          ws[k * TM + tr + 48]);
            vec4 b = vec4(xs[k * TN + tc], xs[k * TN + tc + 16], xs[k * TN + tc + 32],
                          xs[k * TN + tc + 48]);
            for (int j = 0; j < 4; j++)
                for (int i = 0; i < 4; i++) acc[j * 4 + i] += a[i] * b[j];
        }
        barrier();
    }
    for (int j = 0; j < 4; j++) {
        int t = t0 + tc + 16 * j;
        if (t >= N) continue;
        for (int i = 0; i < 4; i++) {
            int o = o0 + tr + 16 * i;
            if (o < ROWS)
                y[(R0 + t) * SO + ROW0 + o] = acc[j * 4 + i] + (HAS_BIAS != 0 ? bias[ROW0 + o] : 0.0);
        }
    }
}
