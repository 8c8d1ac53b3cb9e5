// matmul_blockdiag.comp: y[t][o] = sum_i W[o][i] x[t][(o / bw) bw + i] + b[o], i < bw: the
// block-diagonal mat-mul of Griffin's RG-LRU gates (OP_MATMUL_BLOCKDIAG; HF
// baddbmm(bias, x_h, W[h]) per head h). The GGUF tensor (bw, bw, n_block) is read as a matrix
// of bw * n_block rows of bw elements: row o is output o of block o / bw, and it reads that
// block's bw inputs. One invocation per (position, output row); W may be one chunk of rows
// (row0 .. row0 + rows - 1) of a tensor split over several buffers.
// bindings: 0 out, 1 x, 2 weights (W_BINDING 2), 3 bias (floats; a dummy when absent)
// U: 0 block width bw, 1 x stride, 2 out stride, 3 rows in chunk, 4 row0, 5 r0, 6 n,
//    7 has bias, 8 bytes per row
#define BW U[0]
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

void main() {
    int id = flat_id();
    if (id >= N * ROWS) return;
    int t = R0 + id / ROWS, r = id % ROWS, o = ROW0 + r;
    int xo = t * SX + (o / BW) * BW;
    uint row_off = uint(r) * uint(ROW_BYTES);
    float acc = 0.0;
    for (int i = 0; i < BW; i++) acc += w_get(row_off, i) * x[xo + i];
    y[t * SO + o] = acc + (HAS_BIAS != 0 ? bias[o] : 0.0);
}
