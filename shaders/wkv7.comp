// wkv7.comp: the RWKV-7 state update with the generalised delta rule over the rows of a batch
// in order (OP_WKV7). Per head h, state S[h][p = value][q = key], per row t:
//   sa[p]   = sum_q S[p][q] * (-kk[q])
//   S[p][q] = S[p][q] * w[q] + sa[p] * (kk[q] * a[q]) + v[p] * k[q]
//   y[p]    = sum_q S[p][q] * r[q]
// Row p of S depends only on row p, so one work group per head has one invocation per value
// index p (local size HS, the head size, a compile-time define) holding its state row in
// registers for the whole batch; the row vectors r, w, k, kk, a of the head are staged in
// shared memory per position. The state is read once and written back once per dispatch.
// bindings: 0 y, 1 state (n_head * HS * HS), 2 r, 3 w, 4 k, 5 v, 6 kk, 7 a
// U: 0 y stride, 1 r stride, 2 w stride, 3 k stride, 4 v stride, 5 kk stride, 6 a stride,
//    7 r0, 8 n
// grid: (n_head)
#define SY U[0]
#define SR U[1]
#define SW U[2]
#define SK U[3]
#define SV U[4]
#define SKK U[5]
#define SA U[6]
#define R0 U[7]
#define N U[8]
layout(local_size_x = HS) in;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) buffer State { float S[]; };
layout(std430, binding = 2) readonly buffer R { float r[]; };
layout(std430, binding = 3) readonly buffer W { float w[]; };
layout(std430, binding = 4) readonly buffer K { float k[]; };
layout(std430, binding = 5) readonly buffer V { float v[]; };
layout(std430, binding = 6) readonly buffer KK { float kk[]; };
layout(std430, binding = 7) readonly buffer A { float a[]; };
shared float sr[HS], sw[HS], sk[HS], skk[HS], ska[HS];

void main() {
    int h = int(gl_WorkGroupID.x), p = int(gl_LocalInvocationID.x);
    int c0 = h * HS;
    int so = (h * HS + p) * HS;  // row p of head h's state
    float s[HS];
    for (int q = 0; q < HS; q++) s[q] = S[so + q];
    for (int t = R0; t < R0 + N; t++) {
        sr[p] = r[t * SR + c0 + p];
        sw[p] = w[t * SW + c0 + p];
        sk[p] = k[t * SK + c0 + p];
        skk[p] = kk[t * SKK + c0 + p];
        ska[p] = kk[t * SKK + c0 + p] * a[t * SA + c0 + p];
        float vp = v[t * SV + c0 + p];
        barrier();
        float sa = 0.0;
        for (int q = 0; q < HS; q++) sa += s[q] * -skk[q];
        float yp = 0.0;
        for (int q = 0; q < HS; q++) {
            s[q] = s[q] * sw[q] + sa * ska[q] + vp * sk[q];
            yp += s[q] * sr[q];
        }
        y[t * SY + c0 + p] = yp;
        barrier();  // the staged vectors are rewritten for the next position
    }
    for (int q = 0; q < HS; q++) S[so + q] = s[q];
}
