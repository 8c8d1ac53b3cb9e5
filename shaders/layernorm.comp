// layernorm.comp: out = (x - mean) / sqrt(var + eps) * w + b over each of n_group contiguous
// groups of a row (OP_LAYERNORM; torch layer_norm for n_group 1, group_norm for n_head),
// biased variance, two passes (mean, then the centred sum of squares). One work group per
// (group, row); out may equal x (each thread rewrites only the elements it read).
// bindings: 0 out, 1 x, 2 w, 3 b (float, converted from the GGUF at upload)
// U: 0 width, 1 n_group, 2 out stride, 3 x stride, 4 first row r0, 5 eps (float bits)
// grid: (n_group, rows)
#define WIDTH U[0]
#define N_GROUP U[1]
#define SO U[2]
#define SX U[3]
#define R0 U[4]
#define EPS intBitsToFloat(U[5])
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer Wt { float w[]; };
layout(std430, binding = 3) readonly buffer Bs { float b[]; };
shared float red[LOCAL_X];

void main() {
    int g = int(gl_WorkGroupID.x), t = R0 + int(gl_WorkGroupID.y);
    int lid = int(gl_LocalInvocationID.x);
    int gs = WIDTH / N_GROUP, c0 = g * gs;
    int xo = t * SX + c0, yo = t * SO + c0;
    float s = 0.0;
    for (int i = lid; i < gs; i += LOCAL_X) s += x[xo + i];
    red[lid] = s;
    barrier();
    for (int m = LOCAL_X / 2; m > 0; m >>= 1) {
        if (lid < m) red[lid] += red[lid + m];
        barrier();
    }
    float mu = red[0] / float(gs);
    barrier();  // red is reused for the second sum
    float ss = 0.0;
    for (int i = lid; i < gs; i += LOCAL_X) ss += (x[xo + i] - mu) * (x[xo + i] - mu);
    red[lid] = ss;
    barrier();
    for (int m = LOCAL_X / 2; m > 0; m >>= 1) {
        if (lid < m) red[lid] += red[lid + m];
        barrier();
    }
    float r = 1.0 / sqrt(red[0] / float(gs) + EPS);
    for (int i = lid; i < gs; i += LOCAL_X) y[yo + i] = (x[xo + i] - mu) * r * w[c0 + i] + b[c0 + i];
}
