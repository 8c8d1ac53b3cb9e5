// attn_split.comp: attention for ONE query position (a generated token), split over the keys
// (flash-decoding): work group (h, s) takes query head h and keys j0 + s*CK .. j0 + s*CK +
// CK - 1 of the n keys, one invocation per key, and writes its chunk's softmax partials:
//   m = max score,  l = sum_j exp(score_j - m),  o[d] = sum_j exp(score_j - m) v_j[d]
// with score_j = scale * q.k_j. The last of a head's work groups to finish (a per-head atomic
// counter, reset by that group for the next use) merges the chunks into the output row:
//   M = max_s m_s,  y[d] = sum_s exp(m_s - M) o_s[d] / sum_s exp(m_s - M) l_s
// A decode step has only n_head query rows; splitting the keys gives the GPU n_head x splits
// work groups to spread a long context over, in one dispatch. Query head h reads KV head
// h / (n_head / n_head_kv) (GQA).
// bindings: 0 partials (n_head, n_split, head_dim + 2), 1 q, 2 key cache, 3 value cache,
//           4 per-head counters (zero between dispatches), 5 out
// U: 0 n_head, 1 n_head_kv, 2 head_dim, 3 scale (float bits), 4 q offset, 5 kv width,
//    6 first key j0, 7 n keys, 8 n_split, 9 ring rows (0: key j in row j; W: in row j % W),
//    10 out offset
#define N_HEAD U[0]
#define N_HEAD_KV U[1]
#define HD U[2]
#define SCALE intBitsToFloat(U[3])
#define Q0 U[4]
#define KVW U[5]
#define J0 U[6]
#define NKEYS U[7]
#define NSPLIT U[8]
#define RING U[9]
#define OUT0 U[10]
#define CK 64      // keys per work group, one per invocation
#define MAX_HD 256
layout(local_size_x = CK) in;
layout(std430, binding = 0) coherent buffer Part { float part[]; };
layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer KC { float kc[]; };
layout(std430, binding = 3) readonly buffer VC { float vc[]; };
layout(std430, binding = 4) coherent buffer Count { uint count[]; };
layout(std430, binding = 5) writeonly buffer Out { float y[]; };
shared float qs[MAX_HD];
shared float p[CK];
shared float red[CK];
shared bool last;

int key_row(int j) { return RING > 0 ? j % RING : j; }

void main() {
    int lid = int(gl_LocalInvocationID.x);
    int h = int(gl_WorkGroupID.x), s = int(gl_WorkGroupID.y);
    int kvo = (h / (N_HEAD / N_HEAD_KV)) * HD;
    int c0 = s * CK, cn = min(CK, NKEYS - c0);
    for (int i = lid; i < HD; i += CK) qs[i] = q[Q0 + h * HD + i];
    barrier();
    float score = -3.0e38;
    if (lid < cn) {
        int ko = key_row(J0 + c0 + lid) * KVW + kvo;
        vec4 s4 = vec4(0.0);
        int i = 0;
        for (; i + 4 <= HD; i += 4)
            s4 += vec4(qs[i], qs[i + 1], qs[i + 2], qs[i + 3]) *
                  vec4(kc[ko + i], kc[ko + i + 1], kc[ko + i + 2], kc[ko + i + 3]);
        float d = (s4.x + s4.y) + (s4.z + s4.w);
        for (; i < HD; i++) d += qs[i] * kc[ko + i];
        score = d * SCALE;
    }
    red[lid] = score;
    barrier();
    for (int k = CK / 2; k > 0; k >>= 1) {
        if (lid < k) red[lid] = max(red[lid], red[lid + k]);
        barrier();
    }
    float m = red[0];
    barrier();
    float e = lid < cn ? exp(score - m) : 0.0;
    p[lid] = e;
    red[lid] = e;
    barrier();
    for (int k = CK / 2; k > 0; k >>= 1) {
        if (lid < k) red[lid] += red[lid + k];
        barrier();
    }
    int base = (h * NSPLIT + s) * (HD + 2);
    if (lid == 0) {
        part[base] = m;
        part[base + 1] = red[0];
    }
    for (int d = lid; d < HD; d += CK) {
        vec4 o4 = vec4(0.0);
        int j = 0;
        for (; j + 4 <= cn; j += 4)
            o4 += vec4(p[j], p[j + 1], p[j + 2], p[j + 3]) *
                  vec4(vc[key_row(J0 + c0 + j) * KVW + kvo + d],
                       vc[key_row(J0 + c0 + j + 1) * KVW + kvo + d],
                       vc[key_row(J0 + c0 + j + 2) * KVW + kvo + d],
                       vc[key_row(J0 + c0 + j + 3) * KVW + kvo + d]);
        for (; j < cn; j++) o4.x += p[j] * vc[key_row(J0 + c0 + j) * KVW + kvo + d];
        part[base + 2 + d] = (o4.x + o4.y) + (o4.z + o4.w);
    }
    // the last group of head h merges: the others' partials are visible once their
    // barrier-then-increment has happened before this group's increment
    memoryBarrierBuffer();
    barrier();
    if (lid == 0) last = atomicAdd(count[h], 1u) == uint(NSPLIT - 1);
    barrier();
    if (!last) return;
    memoryBarrierBuffer();
    int b0 = h * NSPLIT * (HD + 2);
    float M = part[b0];
    for (int k = 1; k < NSPLIT; k++) M = max(M, part[b0 + k * (HD + 2)]);
    float L = 0.0;
    for (int k = 0; k < NSPLIT; k++)
        L += exp(part[b0 + k * (HD + 2)] - M) * part[b0 + k * (HD + 2) + 1];
    for (int d = lid; d < HD; d += CK) {
        float o = 0.0;
        for (int k = 0; k < NSPLIT; k++)
            o += exp(part[b0 + k * (HD + 2)] - M) * part[b0 + k * (HD + 2) + 2 + d];
        y[OUT0 + h * HD + d] = o / L;
    }
    if (lid == 0) count[h] = 0u;
}
