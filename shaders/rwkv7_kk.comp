// rwkv7_kk.comp: kk = l2normalize(k * k_k) per head (OP_RWKV7_KK; F.normalize(p=2): the head
// divided by max(||.||, 1e-12)). One work group per (head, row), shared-memory sum of squares.
// bindings: 0 out, 1 k, 2 k_k (float)
// U: 0 head_size, 1 out stride, 2 k stride, 3 r0
// grid: (n_head, rows)
#define HS U[0]
#define SO U[1]
#define SK U[2]
#define R0 U[3]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer KK { float k_k[]; };
shared float red[LOCAL_X];

void main() {
    int h = int(gl_WorkGroupID.x), t = R0 + int(gl_WorkGroupID.y);
    int lid = int(gl_LocalInvocationID.x);
    int c0 = h * HS, ko = t * SK + c0, yo = t * SO + c0;
    float ss = 0.0;
    for (int i = lid; i < HS; i += LOCAL_X) {
        float v = k[ko + i] * k_k[c0 + i];
        ss += v * v;
    }
    red[lid] = ss;
    barrier();
    for (int s = LOCAL_X / 2; s > 0; s >>= 1) {
        if (lid < s) red[lid] += red[lid + s];
        barrier();
    }
    float norm = max(sqrt(red[0]), 1e-12);
    for (int i = lid; i < HS; i += LOCAL_X) y[yo + i] = k[ko + i] * k_k[c0 + i] / norm;
}
