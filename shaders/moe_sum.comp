// moe_sum.comp: out[t] = sum_i pw[t*k + i] * eo[t*k + i] over a row's k expert outputs, in
// ascending expert order as the ref adds them (OP_MOE, last stage).
// bindings: 0 out, 1 eo (rows of width per slot), 2 pw
// U: 0 width, 1 out stride, 2 k, 3 r0, 4 n
#define WIDTH U[0]
#define SO U[1]
#define KU U[2]
#define R0 U[3]
#define N U[4]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer EO { float eo[]; };
layout(std430, binding = 2) readonly buffer PW { float pw[]; };

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, j = id % WIDTH;
    float acc = 0.0;
    for (int i = 0; i < KU; i++) acc += eo[(t * KU + i) * WIDTH + j] * pw[t * KU + i];
    y[t * SO + j] = acc;
}
