// attn_kv.comp: the first half of OP_ATTN: appends the rows' keys and values to the layer's
// KV cache at positions pos0 + t. A separate dispatch, so that every query of a prompt
// batch sees the keys of all earlier positions of the same batch.
// bindings: 0 key cache, 1 value cache (n_ctx, width), 2 k, 3 v
// U: 0 width, 1 k stride, 2 v stride, 3 r0, 4 n, 5 pos0
#define WIDTH U[0]
#define SK U[1]
#define SV U[2]
#define R0 U[3]
#define N U[4]
#define POS0 U[5]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer KC { float kc[]; };
layout(std430, binding = 1) writeonly buffer VC { float vc[]; };
layout(std430, binding = 2) readonly buffer K { float k[]; };
layout(std430, binding = 3) readonly buffer V { float v[]; };

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    kc[(POS0 + t) * WIDTH + i] = k[t * SK + i];
    vc[(POS0 + t) * WIDTH + i] = v[t * SV + i];
}
