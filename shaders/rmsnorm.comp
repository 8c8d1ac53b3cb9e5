// rmsnorm.comp: out = w * x / sqrt(mean(x^2) + eps), one work group per row (OP_RMSNORM).
// HF LlamaRMSNorm: variance = x.pow(2).mean(-1); x * rsqrt(variance + eps) * weight.
// ---- griffin: with W_OFFSET defined (a float literal, 1.0 for Gemma) the weight is
// (W_OFFSET + w): HF GemmaRMSNorm's x * (1.0 + weight).
// bindings: 0 out, 1 x, 2 w (float, converted from the GGUF at upload)
// U: 0 width n, 1 out stride, 2 x stride, 3 first row r0, 4 eps (float bits)
#define WIDTH U[0]
#define SO U[1]
#define SX U[2]
#define R0 U[3]
#define EPS intBitsToFloat(U[4])
#define NORM_X 256  // one work group per row: enough threads to keep loads in flight
layout(local_size_x = NORM_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer Wt { float w[]; };
shared float red[NORM_X];

void main() {
    int t = R0 + int(gl_WorkGroupID.x), lid = int(gl_LocalInvocationID.x);
    int xo = t * SX;
    float ss = 0.0;
    for (int i = lid; i < WIDTH; i += NORM_X) ss += x[xo + i] * x[xo + i];
    red[lid] = ss;
    barrier();
    for (int s = NORM_X / 2; s > 0; s >>= 1) {
        if (lid < s) red[lid] += red[lid + s];
        barrier();
    }
    float r = 1.0 / sqrt(red[0] / float(WIDTH) + EPS);
#ifdef W_OFFSET
    for (int i = lid; i < WIDTH; i += NORM_X) y[t * SO + i] = (W_OFFSET + w[i]) * (x[xo + i] * r);
#else
    for (int i = lid; i < WIDTH; i += NORM_X) y[t * SO + i] = w[i] * (x[xo + i] * r);
#endif
}
