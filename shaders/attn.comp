// attn.comp: causal multi-head attention with GQA for one (query head, position) per work
// group (OP_ATTN after attn_kv). HF sdpa: softmax(q k^T * scale) v, query head h reading KV
// head h / (n_head / n_head_kv), keys j0..pos (j0 = pos - window + 1 with a sliding window).
// Keys are visited in chunks of CHUNK with an online softmax (running max M and sum S; the
// partial output is rescaled by exp(M_old - M_new)), so any context length fits in shared
// memory. Thread lid owns output dims lid, lid + LOCAL_X, ... (head_dim <= MAX_HD).
// bindings: 0 out, 1 q, 2 key cache, 3 value cache
// U: 0 n_head, 1 n_head_kv, 2 head_dim, 3 window, 4 scale (float bits), 5 q stride,
//    6 out stride, 7 kv width, 8 r0, 9 pos0
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
#define NACC (MAX_HD / LOCAL_X)
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer KC { float kc[]; };
layout(std430, binding = 3) readonly buffer VC { float vc[]; };
shared float qs[MAX_HD];
shared float sc[CHUNK];
shared float red[LOCAL_X];

void main() {
    int lid = int(gl_LocalInvocationID.x);
    int h = int(gl_WorkGroupID.x), t = R0 + int(gl_WorkGroupID.y);
    int pos = POS0 + t;
    int j0 = WINDOW > 0 ? max(0, pos - WINDOW + 1) : 0;
    int kvo = (h / (N_HEAD / N_HEAD_KV)) * HD;
    for (int d = lid; d < HD; d += LOCAL_X) qs[d] = q[t * SQ + h * HD + d];
    barrier();
    float acc[NACC];
    for (int a = 0; a < NACC; a++) acc[a] = 0.0;
    float M = 0.0, S = 0.0;
    for (int c0 = j0; c0 <= pos; c0 += CHUNK) {
        int cn = min(CHUNK, pos - c0 + 1);
        // scores of this chunk, and their max
        float lmax = -3.0e38;
        for (int j = lid; j < cn; j += LOCAL_X) {
            int ko = (c0 + j) * KVW + kvo;
            float s = 0.0;
            for (int d = 0; d < HD; d++) s += qs[d] * kc[ko + d];
            s *= SCALE;
            sc[j] = s;
            lmax = max(lmax, s);
        }
        red[lid] = lmax;
        barrier();
        for (int s = LOCAL_X / 2; s > 0; s >>= 1) {
            if (lid < s) red[lid] = max(red[lid], red[lid + s]);
            barrier();
        }
        float m_new = c0 == j0 ? red[0] : max(M, red[0]);
        float corr = c0 == j0 ? 0.0 : exp(M - m_new);
        barrier();
        // probabilities (unnormalised) and their sum
        float lsum = 0.0;
        for (int j = lid; j < cn; j += LOCAL_X) {
            float p = exp(sc[j] - m_new);
            sc[j] = p;
            lsum += p;
        }
        red[lid] = lsum;
        barrier();
        for (int s = LOCAL_X / 2; s > 0; s >>= 1) {
            if (lid < s) red[lid] += red[lid + s];
            barrier();
        }
        S = S * corr + red[0];
        M = m_new;
        for (int a = 0; a < NACC; a++) {
            int d = lid + a * LOCAL_X;
            if (d >= HD) break;
            float o = 0.0;
            for (int j = 0; j < cn; j++) o += sc[j] * vc[(c0 + j) * KVW + kvo + d];
            acc[a] = acc[a] * corr + o;
        }
        barrier();  // sc and red are rewritten by the next chunk
    }
    for (int a = 0; a < NACC; a++) {
        int d = lid + a * LOCAL_X;
        if (d < HD) y[t * SO + h * HD + d] = acc[a] / S;
    }
}
