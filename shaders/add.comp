// add.comp: out = a + b elementwise over rows (OP_ADD, the residual connections).
// bindings: 0 out, 1 a, 2 b
// U: 0 width, 1 out stride, 2 a stride, 3 b stride, 4 r0, 5 n
#define WIDTH U[0]
#define SO U[1]
#define SA U[2]
#define SB U[3]
#define R0 U[4]
#define N U[5]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    y[t * SO + i] = a[t * SA + i] + b[t * SB + i];
}
