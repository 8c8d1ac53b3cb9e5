// glu.comp: out = act(g) * u elementwise (OP_GLU; HF LlamaMLP act_fn(gate_proj(x)) * up_proj(x)).
// act: common.glsl glu_act (enum Act).
// bindings: 0 out, 1 g, 2 u
// U: 0 width, 1 out stride, 2 g stride, 3 u stride, 4 r0, 5 n, 6 act
#define WIDTH U[0]
#define SO U[1]
#define SG U[2]
#define SU U[3]
#define R0 U[4]
#define N U[5]
#define ACT U[6]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer G { float g[]; };
layout(std430, binding = 2) readonly buffer Up { float u[]; };

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    y[t * SO + i] = glu_act(g[t * SG + i], ACT) * u[t * SU + i];
}
