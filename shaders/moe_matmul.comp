// moe_matmul.comp: the selected experts' mat-vecs (OP_MOE). Slot s = t*k + i of row t runs
// expert e = sel[s], the e-th (n_in, n_out) matrix of a stacked GGUF tensor (global row
// e*n_out + o):  out[s][o] = sum_j W_e[o][j] x[xs][j],  xs = s (x per slot: the down
// projection) or t (x per row: gate and up). One work group per (o, s); its threads stride
// over the row's 32-element units (common.glsl w_unit) and meet in a shared-memory tree. The
// stacked tensor may be split into chunks of rows: each dispatch covers one chunk and the work
// groups whose row lies outside it return at once (the whole group: barrier() stays uniform).
// With use_sel 0 every slot reads matrix 0: the router's logits (k 1, n_out n_expert).
// bindings: 0 out (rows of n_out per slot), 1 x, 2 weights (W_BINDING 2), 3 sel (int)
// U: 0 n_in, 1 x stride, 2 n_out (= out stride), 3 rows in chunk, 4 chunk's first row,
//    5 k, 6 r0 (first row t), 7 x per slot, 8 bytes per row, 9 use_sel
// grid: (n_out, n * k)
#define N_IN U[0]
#define SX U[1]
#define N_OUT U[2]
#define ROWS U[3]
#define ROW0 U[4]
#define KU U[5]
#define R0 U[6]
#define X_SLOT U[7]
#define ROW_BYTES U[8]
#define USE_SEL U[9]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 3) readonly buffer Sel { int sel[]; };
shared float red[LOCAL_X];

void main() {
    int lid = int(gl_LocalInvocationID.x);
    int o = int(gl_WorkGroupID.x), s = R0 * KU + int(gl_WorkGroupID.y);
    int local_row = (USE_SEL != 0 ? sel[s] : 0) * N_OUT + o - ROW0;
    if (local_row < 0 || local_row >= ROWS) return;  // uniform over the work group
    uint row_off = uint(local_row) * uint(ROW_BYTES);
    int xo = (X_SLOT != 0 ? s : s / KU) * SX;
    float acc = 0.0;
    int n_units = (N_IN + 31) / 32;
    for (int u = lid; u < n_units; u += LOCAL_X) {
        float v[32];
        w_unit(row_off, u, N_IN, v);
        int i0 = u * 32, m = min(32, N_IN - i0);
        for (int j = 0; j < m; j++) acc += v[j] * x[xo + i0 + j];
    }
    red[lid] = acc;
    barrier();
    for (int m = LOCAL_X / 2; m > 0; m >>= 1) {
        if (lid < m) red[lid] += red[lid + m];
        barrier();
    }
    if (lid == 0) y[s * N_OUT + o] = red[0];
}
