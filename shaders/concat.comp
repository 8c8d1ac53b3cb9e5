// concat.comp: out[t] = concat(a[t], b[t]) (OP_CONCAT: Zamba's shared block reads the hidden
// state followed by the embedding): the first wa elements of a row from a, the rest from b.
// bindings: 0 out, 1 a, 2 b
// U: 0 width of out, 1 out stride, 2 width of a (and its stride), 3 b stride, 4 r0, 5 n
#define WIDTH U[0]
#define SO U[1]
#define WA U[2]
#define SB U[3]
#define R0 U[4]
#define N U[5]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    y[t * SO + i] = i < WA ? a[t * WA + i] : b[t * SB + i - WA];
}
