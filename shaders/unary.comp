// unary.comp: out = f(x) elementwise (OP_UNARY, and Griffin's OP_SCALE and OP_SOFTCAP), out
// may equal x. f: 0 tanh; 1 sigmoid; 2 the RWKV-7 decay exp(-exp(-1/2) * sigmoid(x));
// 3 squared ReLU max(x, 0)^2; ---- griffin: 4 x * s; 5 the soft cap s * tanh(x / s) (HF
// RecurrentGemma: tanh(logits / cap) * cap), with a tanh that keeps its relative accuracy
// near 0. The parameter s is used by 4 and 5 only.
// bindings: 0 out, 1 x
// U: 0 width, 1 out stride, 2 x stride, 3 r0, 4 n, 5 f, 6 s (float bits; f 4 and 5)
#define WIDTH U[0]
#define SO U[1]
#define SX U[2]
#define R0 U[3]
#define N U[4]
#define FN U[5]
#define PARAM intBitsToFloat(U[6])
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };

float sigmoid(float v) { return 1.0 / (1.0 + exp(-v)); }

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    float v = x[t * SX + i], r;
    if (FN == 0) {
        r = tanh(clamp(v, -15.0, 15.0));  // tanh(15) is 1 in float; clamp avoids inf/inf
    } else if (FN == 1) {
        r = sigmoid(v);
    } else if (FN == 2) {
        r = exp(-0.6065306597126334 * sigmoid(v));  // exp(-1/2)
    } else if (FN == 3) {
        r = v > 0.0 ? v * v : 0.0;
    } else if (FN == 4) {
        r = v * PARAM;
    } else {
        r = PARAM * tanh_acc(v / PARAM);
    }
    y[t * SO + i] = r;
}
