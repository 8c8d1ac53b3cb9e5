// rwkv7_bonus.comp: out = y + per head h (sum_q r[q] k[q] r_k[h][q]) * v (OP_RWKV7_BONUS,
// RWKV-7's current-token bonus); out may be y. One work group per (head, row): the dot
// product meets in a shared-memory tree, then each thread writes its elements.
// bindings: 0 out, 1 y, 2 r, 3 k, 4 v, 5 r_k (float)
// U: 0 head_size, 1 out stride, 2 y stride, 3 r stride, 4 k stride, 5 v stride, 6 r0
// grid: (n_head, rows)
#define HS U[0]
#define SO U[1]
#define SY U[2]
#define SR U[3]
#define SK U[4]
#define SV U[5]
#define R0 U[6]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer Y { float y[]; };
layout(std430, binding = 2) readonly buffer R { float r[]; };
layout(std430, binding = 3) readonly buffer K { float k[]; };
layout(std430, binding = 4) readonly buffer V { float v[]; };
layout(std430, binding = 5) readonly buffer RK { float r_k[]; };
shared float red[LOCAL_X];

void main() {
    int h = int(gl_WorkGroupID.x), t = R0 + int(gl_WorkGroupID.y);
    int lid = int(gl_LocalInvocationID.x);
    int c0 = h * HS;
    float s = 0.0;
    for (int q = lid; q < HS; q += LOCAL_X) s += r[t * SR + c0 + q] * k[t * SK + c0 + q] * r_k[c0 + q];
    red[lid] = s;
    barrier();
    for (int m = LOCAL_X / 2; m > 0; m >>= 1) {
        if (lid < m) red[lid] += red[lid + m];
        barrier();
    }
    float dot = red[0];
    for (int p = lid; p < HS; p += LOCAL_X) o[t * SO + c0 + p] = y[t * SY + c0 + p] + dot * v[t * SV + c0 + p];
}
