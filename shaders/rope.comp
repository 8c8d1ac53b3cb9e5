// rope.comp: rotary position embedding of every head of a row (OP_ROPE), out may equal in.
// One invocation per (row, head, pair). Pair p < n_rot/2 rotates elements (2p, 2p+1) (NORM,
// GGUF Llama) or (p, p + n_rot/2) (NEOX, HF rotate_half) by theta = pos * inv_freq_p:
//   x0' = x0 cos - x1 sin,  x1' = x1 cos + x0 sin
// The (cos, sin) table is computed in double on the host for every position (GPU cos/sin
// lose accuracy at large angles). Pairs p >= n_rot/2 copy elements unchanged.
// bindings: 0 out, 1 in, 2 table vec2[(n_ctx, n_rot/2)]
// U: 0 n_head, 1 head_dim, 2 n_rot, 3 neox, 4 out stride, 5 in stride, 6 r0, 7 n, 8 pos0
#define N_HEAD U[0]
#define HD U[1]
#define N_ROT U[2]
#define NEOX U[3]
#define SO U[4]
#define SI U[5]
#define R0 U[6]
#define N U[7]
#define POS0 U[8]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };
layout(std430, binding = 2) readonly buffer Tab { vec2 cs[]; };

void main() {
    int half_hd = HD / 2, half_rot = N_ROT / 2;
    int id = flat_id();
    if (id >= N * N_HEAD * half_hd) return;
    int p = id % half_hd, h = (id / half_hd) % N_HEAD, t = R0 + id / (half_hd * N_HEAD);
    int io = t * SI + h * HD, oo = t * SO + h * HD;
    if (p < half_rot) {
        int a = NEOX != 0 ? p : 2 * p, b = NEOX != 0 ? p + half_rot : 2 * p + 1;
        vec2 c = cs[(POS0 + t) * half_rot + p];
        float x0 = x[io + a], x1 = x[io + b];
        y[oo + a] = x0 * c.x - x1 * c.y;
        y[oo + b] = x1 * c.x + x0 * c.y;
    } else {
        int a = N_ROT + 2 * (p - half_rot);
        float x0 = x[io + a], x1 = x[io + a + 1];
        y[oo + a] = x0;
        y[oo + a + 1] = x1;
    }
}
