// attn_merge.comp: the second half of the split decode attention: combines the partials
// (m_s, l_s, o_s) of attn_split.comp's chunks of query head h into its output row:
//   M = max_s m_s,  y[d] = sum_s exp(m_s - M) o_s[d] / sum_s exp(m_s - M) l_s
// One work group per head, one invocation per output element.
// bindings: 0 out, 1 partials
// U: 0 head_dim, 1 n_split, 2 out offset
#define HD U[0]
#define NSPLIT U[1]
#define OUT0 U[2]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer Part { float part[]; };

void main() {
    int h = int(gl_WorkGroupID.x), lid = int(gl_LocalInvocationID.x);
    int base = h * NSPLIT * (HD + 2);
    float M = part[base];
    for (int s = 1; s < NSPLIT; s++) M = max(M, part[base + s * (HD + 2)]);
    float L = 0.0;
    for (int s = 0; s < NSPLIT; s++)
        L += exp(part[base + s * (HD + 2)] - M) * part[base + s * (HD + 2) + 1];
    for (int d = lid; d < HD; d += LOCAL_X) {
        float o = 0.0;
        for (int s = 0; s < NSPLIT; s++)
            o += exp(part[base + s * (HD + 2)] - M) * part[base + s * (HD + 2) + 2 + d];
        y[OUT0 + h * HD + d] = o / L;
    }
}
