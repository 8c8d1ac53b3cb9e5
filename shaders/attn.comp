// attn.comp: causal multi-head attention with GQA for one (query head, position) per work
// group (OP_ATTN after attn_kv). HF sdpa: softmax(q k^T * scale) v, query head h reading KV
// head h / (n_head / n_head_kv), keys j0..pos (j0 = pos - window + 1 with a sliding window).
// Keys are visited in chunks of CHUNK with an online softmax (running max M and sum S; the
// partial output is rescaled by exp(M_old - M_new)), so any context length fits in shared
// memory. The ATTN_X threads score one key each at a time; for the weighted sum of values
// they split into groups of DL lanes (DL: head_dim rounded up to 64, 128 or 256), lane d of
// group g summing dim d over the chunk's keys j = g mod (ATTN_X / DL); the groups' sums meet
// in shared memory at the end. A decode step has only n_head work groups, so each must use
// many threads. head_dim <= MAX_HD.
// RING (a sliding window kept in a ring of RING_ROWS rows, position j in row j % RING_ROWS):
// the batch attends before its keys are stored (attn_kv runs after this), so keys of this
// batch (j >= pos0) are read from the k and v inputs and older ones from the ring, which
// still holds the W positions before pos0 however long the batch is.
// bindings: 0 out, 1 q, 2 key cache, 3 value cache; RING: 4 k, 5 v (this batch's rows)
// U: 0 n_head, 1 n_head_kv, 2 head_dim, 3 window, 4 scale (float bits), 5 q stride,
//    6 out stride, 7 kv width, 8 r0, 9 pos0; RING: 10 ring rows, 11 k stride, 12 v stride
#define N_HEAD U[0]
#define N_HEAD_KV U[1]
#define HD U[2]
#define WINDOW U[3]
#define SCALE intBitsToFloat(U[4])
#define SQ U[5]
#define SO U[6]
#define KVW U[7]
#define R0 U[8]
#define POS0 U[9]
#define MAX_HD 256
#define CHUNK 512
#define ATTN_X 256
layout(local_size_x = ATTN_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer KC { float kc[]; };
layout(std430, binding = 3) readonly buffer VC { float vc[]; };

#ifdef RING
#define RING_ROWS U[10]
#define SKB U[11]
#define SVB U[12]
layout(std430, binding = 4) readonly buffer KB { float kb[]; };
layout(std430, binding = 5) readonly buffer VB { float vb[]; };
// Element o (kv head offset included) of key / value j.
float key_at(int j, int o) {
    return j >= POS0 ? kb[(j - POS0) * SKB + o] : kc[(j % RING_ROWS) * KVW + o];
}
float val_at(int j, int o) {
    return j >= POS0 ? vb[(j - POS0) * SVB + o] : vc[(j % RING_ROWS) * KVW + o];
}
#else
float key_at(int j, int o) { return kc[j * KVW + o]; }
float val_at(int j, int o) { return vc[j * KVW + o]; }
#endif

shared float qs[MAX_HD];
shared float sc[CHUNK];
shared float red[ATTN_X];

void main() {
    int lid = int(gl_LocalInvocationID.x);
    int h = int(gl_WorkGroupID.x), t = R0 + int(gl_WorkGroupID.y);
    int pos = POS0 + t;
    int j0 = WINDOW > 0 ? max(0, pos - WINDOW + 1) : 0;
    int kvo = (h / (N_HEAD / N_HEAD_KV)) * HD;
    int dl = HD <= 64 ? 64 : HD <= 128 ? 128 : 256;
    int d = lid % dl, grp = lid / dl, n_grp = ATTN_X / dl;
    for (int i = lid; i < HD; i += ATTN_X) qs[i] = q[t * SQ + h * HD + i];
    barrier();
    float acc = 0.0, M = 0.0, S = 0.0;
    for (int c0 = j0; c0 <= pos; c0 += CHUNK) {
        int cn = min(CHUNK, pos - c0 + 1);
        // scores of this chunk, and their max
        float lmax = -3.0e38;
        for (int j = lid; j < cn; j += ATTN_X) {
            int kj = c0 + j;
            vec4 s4 = vec4(0.0);
            int i = 0;
            for (; i + 4 <= HD; i += 4)
                s4 += vec4(qs[i], qs[i + 1], qs[i + 2], qs[i + 3]) *
                      vec4(key_at(kj, kvo + i), key_at(kj, kvo + i + 1), key_at(kj, kvo + i + 2),
                           key_at(kj, kvo + i + 3));
            float s = (s4.x + s4.y) + (s4.z + s4.w);
            for (; i < HD; i++) s += qs[i] * key_at(kj, kvo + i);
            s *= SCALE;
            sc[j] = s;
            lmax = max(lmax, s);
        }
        red[lid] = lmax;
        barrier();
        for (int s = ATTN_X / 2; s > 0; s >>= 1) {
            if (lid < s) red[lid] = max(red[lid], red[lid + s]);
            barrier();
        }
        float m_new = c0 == j0 ? red[0] : max(M, red[0]);
        float corr = c0 == j0 ? 0.0 : exp(M - m_new);
        barrier();
        // probabilities (unnormalised) and their sum
        float lsum = 0.0;
        for (int j = lid; j < cn; j += ATTN_X) {
            float p = exp(sc[j] - m_new);
            sc[j] = p;
            lsum += p;
        }
        red[lid] = lsum;
        barrier();
        for (int s = ATTN_X / 2; s > 0; s >>= 1) {
            if (lid < s) red[lid] += red[lid + s];
            barrier();
        }
        S = S * corr + red[0];
        M = m_new;
        // four keys per step, four sums: loads in flight instead of one latency per key
        vec4 o4 = vec4(0.0);
        if (d < HD) {
            int j = grp, vo = kvo + d;
            for (; j + 3 * n_grp < cn; j += 4 * n_grp)
                o4 += vec4(sc[j], sc[j + n_grp], sc[j + 2 * n_grp], sc[j + 3 * n_grp]) *
                      vec4(val_at(c0 + j, vo), val_at(c0 + j + n_grp, vo),
                           val_at(c0 + j + 2 * n_grp, vo), val_at(c0 + j + 3 * n_grp, vo));
            for (; j < cn; j += n_grp) o4.x += sc[j] * val_at(c0 + j, vo);
        }
        acc = acc * corr + ((o4.x + o4.y) + (o4.z + o4.w));
        barrier();  // sc and red are rewritten by the next chunk
    }
    red[lid] = acc;
    barrier();
    if (grp == 0 && d < HD) {
        float o = 0.0;
        for (int g = 0; g < n_grp; g++) o += red[g * dl + d];
        y[t * SO + h * HD + d] = o / S;
    }
}
