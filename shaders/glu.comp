// glu.comp: out = act(g) * u elementwise (OP_GLU; HF LlamaMLP act_fn(gate_proj(x)) * up_proj(x)).
// act: 0 SiLU x*sigmoid(x); 1 GELU tanh approximation; 2 exact GELU (erf, A&S 7.1.26,
// |error| < 1.5e-7).
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
layout(std430, binding = 1) buffer G { float g[]; };
layout(std430, binding = 2) buffer Up { float u[]; };

float erf_approx(float x) {
    float s = sign(x), a = abs(x);
    float t = 1.0 / (1.0 + 0.3275911 * a);
    float p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 +
              t * (-1.453152027 + t * 1.061405429))));
    return s * (1.0 - p * exp(-a * a));
}

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    float x = g[t * SG + i], r;
    if (ACT == 0) {
        r = x / (1.0 + exp(-x));
    } else if (ACT == 1) {
        float k = 0.7978845608028654;  // sqrt(2/pi)
        r = 0.5 * x * (1.0 + tanh(clamp(k * (x + 0.044715 * x * x * x), -15.0, 15.0)));
    } else {
        r = 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
    }
    y[t * SO + i] = r * u[t * SU + i];
}
