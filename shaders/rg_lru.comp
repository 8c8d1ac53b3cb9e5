// rg_lru.comp: Griffin's RG-LRU over the rows of a batch in order (OP_RG_LRU; HF
// RecurrentGemmaRglru). Per channel c and row t at absolute position pos0 + t, with the gates
// already through their sigmoid:
//   log_a = -8 gate_a[t][c] softplus(Lambda[c]);  a = exp(log_a)
//   h[c] = x[t][c] gate_x[t][c]                               at position 0 (HF's reset)
//   h[c] = a h[c] + x[t][c] gate_x[t][c] sqrt(1 - exp(2 log_a))  elsewhere
//   out[t][c] = h[c]
// 1 - exp(2 log_a) is -expm1(2 log_a): a is often close to 1, where the plain difference
// would keep only a few bits. One invocation per channel keeps h[c] in a register.
// bindings: 0 out, 1 state h (width floats), 2 x, 3 gate_x, 4 gate_a, 5 Lambda (floats)
// U: 0 width, 1 out stride, 2 x stride, 3 gate_x stride, 4 gate_a stride, 5 r0, 6 n, 7 pos0
#define WIDTH U[0]
#define SO U[1]
#define SX U[2]
#define SGX U[3]
#define SGA U[4]
#define R0 U[5]
#define N U[6]
#define POS0 U[7]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) buffer State { float hs[]; };
layout(std430, binding = 2) readonly buffer X { float x[]; };
layout(std430, binding = 3) readonly buffer GX { float gx[]; };
layout(std430, binding = 4) readonly buffer GA { float ga[]; };
layout(std430, binding = 5) readonly buffer Lam { float lambda[]; };

void main() {
    int c = flat_id();
    if (c >= WIDTH) return;
    float sp = -8.0 * softplus(lambda[c]);
    float h = hs[c];
    for (int t = R0; t < R0 + N; t++) {
        float log_a = ga[t * SGA + c] * sp;
        float gated = x[t * SX + c] * gx[t * SGX + c];
        if (POS0 + t == 0)
            h = gated;
        else
            h = exp(log_a) * h + gated * sqrt(-exp_m1(2.0 * log_a));
        y[t * SO + c] = h;
    }
    hs[c] = h;
}
