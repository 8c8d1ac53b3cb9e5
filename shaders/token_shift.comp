// token_shift.comp: out[t] = x[t-1] for the rows of a batch in order; row r0 gets the state
// (the previous call's last x), and the state then keeps the batch's last row (OP_TOKEN_SHIFT,
// RWKV's time_shift). One invocation per column walks the rows, so the state is read before
// it is overwritten without any cross-invocation ordering.
// bindings: 0 out, 1 x, 2 state (width floats)
// U: 0 width, 1 out stride, 2 x stride, 3 r0, 4 n
#define WIDTH U[0]
#define SO U[1]
#define SX U[2]
#define R0 U[3]
#define N U[4]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer State { float st[]; };

void main() {
    int i = flat_id();
    if (i >= WIDTH) return;
    y[R0 * SO + i] = st[i];
    for (int t = R0 + 1; t < R0 + N; t++) y[t * SO + i] = x[(t - 1) * SX + i];
    st[i] = x[(R0 + N - 1) * SX + i];
}
