// rwkv7_ka.comp: out = k * (1 + (a - 1) * k_a) elementwise (OP_RWKV7_KA); out may be k.
// bindings: 0 out, 1 k, 2 a, 3 k_a (float)
// U: 0 width, 1 out stride, 2 k stride, 3 a stride, 4 r0, 5 n
#define WIDTH U[0]
#define SO U[1]
#define SK U[2]
#define SA U[3]
#define R0 U[4]
#define N U[5]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer A { float a[]; };
layout(std430, binding = 3) readonly buffer KA { float k_a[]; };

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    y[t * SO + i] = k[t * SK + i] * (1.0 + (a[t * SA + i] - 1.0) * k_a[i]);
}
