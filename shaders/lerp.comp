// lerp.comp: out = x + (prev - x) * m elementwise (OP_LERP; torch.lerp(x, prev, m), RWKV's
// token-shift mix). m is a row of a float buffer: a slice of a weight vector stack (stride 0,
// offset slice * width) or row t of an activation buffer (its stride, offset 0).
// bindings: 0 out, 1 x, 2 prev, 3 m
// U: 0 width, 1 out stride, 2 x stride, 3 prev stride, 4 m stride, 5 m offset, 6 r0, 7 n
#define WIDTH U[0]
#define SO U[1]
#define SX U[2]
#define SP U[3]
#define SM U[4]
#define MOFF U[5]
#define R0 U[6]
#define N U[7]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer Prev { float p[]; };
layout(std430, binding = 3) readonly buffer Mix { float m[]; };

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    float xi = x[t * SX + i];
    y[t * SO + i] = xi + (p[t * SP + i] - xi) * m[MOFF + t * SM + i];
}
