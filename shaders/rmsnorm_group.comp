// rmsnorm_group.comp: out = w * x / sqrt(mean(x^2) + eps) over each of n_group contiguous
// groups of a row (OP_RMSNORM_GROUP; HF MambaRMSNormGated after its gate). One work group per
// (group, row); out may equal x.
// bindings: 0 out, 1 x, 2 w (float, the whole row's weights)
// U: 0 width, 1 n_group, 2 out stride, 3 x stride, 4 r0, 5 eps (float bits)
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
shared float red[LOCAL_X];

void main() {
    int g = int(gl_WorkGroupID.x), t = R0 + int(gl_WorkGroupID.y);
    int lid = int(gl_LocalInvocationID.x);
    int gs = WIDTH / N_GROUP, c0 = g * gs;
    int xo = t * SX + c0, yo = t * SO + c0;
    float ss = 0.0;
    for (int i = lid; i < gs; i += LOCAL_X) ss += x[xo + i] * x[xo + i];
    red[lid] = ss;
    barrier();
    for (int s = LOCAL_X / 2; s > 0; s >>= 1) {
        if (lid < s) red[lid] += red[lid + s];
        barrier();
    }
    float r = 1.0 / sqrt(red[0] / float(gs) + EPS);
    for (int i = lid; i < gs; i += LOCAL_X) y[yo + i] = w[c0 + i] * (x[xo + i] * r);
}
