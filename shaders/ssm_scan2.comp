// ssm_scan2.comp: the Mamba-2 (SSD) scan over the rows of a batch in order (OP_SSM_SCAN2; HF
// Mamba2Mixer.torch_forward's cached step). Heads hh of head_dim P channels; head hh reads
// B/C group g = hh / (n_head / n_group). Per channel c = hh*P + p and row t (d_state DS):
//   dt_h = softplus(dt[t][hh] + dt_bias[hh])
//   h[c][n] = exp(dt_h A[hh]) h[c][n] + dt_h B[t][g][n] x[t][c]
//   y[t][c] = sum_n h[c][n] C[t][g][n] + D[hh] x[t][c]
// One invocation per channel keeps h[c] in registers for the batch. ---- zamba2: with A_LOG
// defined the A buffer holds A_log and A = -exp(A_log).
// bindings: 0 y, 1 state h (n_head*P x DS), 2 x, 3 dt, 4 B, 5 C, 6 A, 7 D, 8 dt_bias (floats,
//           one per head)
// U: 0 n_head, 1 head_dim P, 2 n_group, 3 y stride, 4 x stride, 5 dt stride, 6 B stride,
//    7 C stride, 8 r0, 9 n
#define NH U[0]
#define HD U[1]
#define NG U[2]
#define SY U[3]
#define SX U[4]
#define SDT U[5]
#define SB U[6]
#define SC U[7]
#define R0 U[8]
#define N U[9]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) buffer State { float hs[]; };
layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) readonly buffer DT { float dt[]; };
layout(std430, binding = 4) readonly buffer Bm { float B[]; };
layout(std430, binding = 5) readonly buffer Cm { float C[]; };
layout(std430, binding = 6) readonly buffer Am { float A[]; };
layout(std430, binding = 7) readonly buffer Dm { float D[]; };
layout(std430, binding = 8) readonly buffer DTB { float dt_bias[]; };

void main() {
    int c = flat_id();
    if (c >= NH * HD) return;
    int hh = c / HD, g = hh / (NH / NG);
#ifdef A_LOG
    float a = -exp(A[hh]);
#else
    float a = A[hh];
#endif
    float h[DS];
    for (int n = 0; n < DS; n++) h[n] = hs[c * DS + n];
    for (int t = R0; t < R0 + N; t++) {
        float d = softplus(dt[t * SDT + hh] + dt_bias[hh]);
        float dA = exp(d * a);
        float xc = x[t * SX + c], acc = 0.0;
        for (int n = 0; n < DS; n++) {
            h[n] = h[n] * dA + d * B[t * SB + g * DS + n] * xc;
            acc += h[n] * C[t * SC + g * DS + n];
        }
        y[t * SY + c] = acc + D[hh] * xc;
    }
    for (int n = 0; n < DS; n++) hs[c * DS + n] = h[n];
}
