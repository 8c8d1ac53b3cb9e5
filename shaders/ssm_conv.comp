// ssm_conv.comp: Mamba's depthwise causal conv1d over the rows of a batch in order, then SiLU
// (OP_SSM_CONV). Per channel c and row t, with K = d_conv and the state holding the K-1
// previous inputs of c (oldest first):
//   out[t][c] = silu(b[c] + sum_{k<K-1} w[c][k] state[k][c] + w[c][K-1] x[t][c])
// and then x[t][c] is shifted into the state. One invocation per channel walks the rows.
// ---- griffin: with LINEAR defined the silu is left out (RecurrentGemma's conv1d).
// bindings: 0 out, 1 x, 2 state ((K-1) x channels), 3 w (channels x K), 4 b (floats)
// U: 0 channels, 1 d_conv K, 2 out stride, 3 x stride, 4 r0, 5 n
#define CH U[0]
#define KW U[1]
#define SO U[2]
#define SX U[3]
#define R0 U[4]
#define N U[5]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer State { float st[]; };
layout(std430, binding = 3) readonly buffer Wt { float w[]; };
layout(std430, binding = 4) readonly buffer Bs { float b[]; };

void main() {
    int c = flat_id();
    if (c >= CH) return;
    for (int t = R0; t < R0 + N; t++) {
        float xc = x[t * SX + c];
        float s = w[c * KW + KW - 1] * xc;
        for (int k = 0; k < KW - 1; k++) s += w[c * KW + k] * st[k * CH + c];
        s += b[c];
#ifdef LINEAR
        y[t * SO + c] = s;
#else
        y[t * SO + c] = s / (1.0 + exp(-s));
#endif
        for (int k = 0; k + 1 < KW - 1; k++) st[k * CH + c] = st[(k + 1) * CH + c];
        if (KW > 1) st[(KW - 2) * CH + c] = xc;
    }
}
