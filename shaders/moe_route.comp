// moe_route.comp: mixture-of-experts routing for each row (OP_MOE, first stage after the
// router mat-vec; HF JambaSparseMoeBlock): p = softmax(logits) over the n_expert experts, the
// k largest (ties: the lower index) in ascending expert order, their p not renormalised.
// One invocation per row; sel and pw hold k entries per row.
// bindings: 0 router logits (rows of n_expert), 1 sel (int), 2 pw (float)
// U: 0 n_expert, 1 k, 2 r0, 3 n
#define NE U[0]
#define KU U[1]
#define R0 U[2]
#define N U[3]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) readonly buffer Logits { float lg[]; };
layout(std430, binding = 1) buffer Sel { int sel[]; };
layout(std430, binding = 2) writeonly buffer PW { float pw[]; };

void main() {
    int id = flat_id();
    if (id >= N) return;
    int t = R0 + id, lo = t * NE, so = t * KU;
    float mx = lg[lo];
    for (int e = 1; e < NE; e++) mx = max(mx, lg[lo + e]);
    float sum = 0.0;
    for (int e = 0; e < NE; e++) sum += exp(lg[lo + e] - mx);
    // top-k by repeated scans (logits order equals p order)
    for (int i = 0; i < KU; i++) {
        int best = -1;
        for (int e = 0; e < NE; e++) {
            bool taken = false;
            for (int j = 0; j < i; j++) taken = taken || sel[so + j] == e;
            if (!taken && (best < 0 || lg[lo + e] > lg[lo + best])) best = e;
        }
        sel[so + i] = best;
    }
    // ascending expert order (insertion sort)
    for (int i = 1; i < KU; i++)
        for (int j = i; j > 0 && sel[so + j - 1] > sel[so + j]; j--) {
            int tmp = sel[so + j];
            sel[so + j] = sel[so + j - 1];
            sel[so + j - 1] = tmp;
        }
    for (int i = 0; i < KU; i++) pw[so + i] = exp(lg[lo + sel[so + i]] - mx) / sum;
}
