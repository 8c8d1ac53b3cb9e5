// slice.comp: out[t] = x[t][offset : offset + width] (OP_SLICE: the splits of Mamba's in_proj
// and x_proj outputs).
// bindings: 0 out, 1 x
// U: 0 width, 1 out stride, 2 x stride, 3 offset, 4 r0, 5 n
#define WIDTH U[0]
#define SO U[1]
#define SX U[2]
#define OFF U[3]
#define R0 U[4]
#define N U[5]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    y[t * SO + i] = x[t * SX + OFF + i];
}
