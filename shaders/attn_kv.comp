// attn_kv.comp: stores rows' keys and values in the layer's KV cache, position p in row
// p % rows (rows: n_ctx for a full cache, where that is p itself; W for a sliding window's
// ring). A full cache stores the whole batch before attn.comp runs, so that every query of a
// prompt sees the keys of all earlier positions of the same batch; a ring stores after it,
// and only the batch's last W rows (two rows of one batch may share a ring row).
// bindings: 0 key cache, 1 value cache (rows, width), 2 k, 3 v
// U: 0 width, 1 k stride, 2 v stride, 3 r0, 4 n, 5 pos0, 6 cache rows
#define WIDTH U[0]
#define SK U[1]
#define SV U[2]
#define R0 U[3]
#define N U[4]
#define POS0 U[5]
#define ROWS U[6]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer KC { float kc[]; };
layout(std430, binding = 1) writeonly buffer VC { float vc[]; };
layout(std430, binding = 2) readonly buffer K { float k[]; };
layout(std430, binding = 3) readonly buffer V { float v[]; };

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    int row = (POS0 + t) % ROWS;
    kc[row * WIDTH + i] = k[t * SK + i];
    vc[row * WIDTH + i] = v[t * SV + i];
}
