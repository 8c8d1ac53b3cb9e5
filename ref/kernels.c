// kernels.c: FP64 reference kernels (see kernels.h). Each comment gives the equation and the
// PyTorch / HF expression it reproduces.
#include "kernels.h"

#include <math.h>
#include <stddef.h>

void rmsnorm(double* out, const double* x, const double* w, double w_offset, int n, double eps) {
    // HF: variance = x.pow(2).mean(-1); x = x * rsqrt(variance + eps); return w * x
    // (Gemma: x * (1.0 + w)). With w_offset 0, (0 + w) is w exactly.
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        out[i] = (w_offset + w[i]) * (x[i] * r);
}

void matmul_rows(double* out, const double* x, const void* w, enum GgmlType type, const double* b,
                 int n_in, int o0, int o1) {
    // Each output is one stored row dotted with x: the weights stay in their GGUF form and
    // are dequantized exactly, row by row (a 1B model in double would need 8 GB).
    size_t row_bytes = quant_row_size(type, n_in);
    const uint8_t* base = w;
    for (int o = o0; o < o1; o++) {
        double s = quant_dot_row(type, base + (size_t)o * row_bytes, x, n_in);
        out[o] = b ? s + b[o] : s;
    }
}

void rope(double* x, int n_head, int head_dim, int n_rot, int neox, int64_t pos, double base,
          double freq_scale, const double* factors) {
    // HF: inv_freq = 1 / base^(arange(0, d, 2) / d); angle = pos * inv_freq
    // x' = x * cos + rotate(x) * sin, over pairs (2i, 2i+1) (GGUF/llama.cpp NORM) or
    // (i, i + d/2) (HF rotate_half, NEOX).
    int half = n_rot / 2;
    for (int i = 0; i < half; i++) {
        double inv_freq = 1.0 / pow(base, (double)(2 * i) / n_rot);
        double theta = (double)pos * freq_scale * inv_freq;
        if (factors) theta /= factors[i];
        double c = cos(theta), s = sin(theta);
        for (int h = 0; h < n_head; h++) {
            double* v = x + (size_t)h * head_dim;
            int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            double x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x1 * c + x0 * s;
        }
    }
}

void softmax(double* x, int n) {
    double mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = exp(x[i] - mx);
        sum += x[i];
    }
    for (int i = 0; i < n; i++)
        x[i] /= sum;
}

void attention(double* out, const double* q, const double* k_cache, const double* v_cache,
               int kv_stride, int64_t cache_rows, int64_t j0, int64_t j1, int n_head, int n_head_kv,
               int head_dim, double scale, double* att) {
    // HF sdpa: softmax(q k^T * scale) v, each query head reading KV head h / n_rep
    int n_rep = n_head / n_head_kv;
    int n = (int)(j1 - j0 + 1);
    for (int h = 0; h < n_head; h++) {
        const double* qh = q + (size_t)h * head_dim;
        size_t kv_off = (size_t)(h / n_rep) * head_dim;
        for (int j = 0; j < n; j++) {
            const double* kj = k_cache + (size_t)((j0 + j) % cache_rows) * kv_stride + kv_off;
            double s = 0.0;
            for (int i = 0; i < head_dim; i++)
                s += qh[i] * kj[i];
            att[j] = s * scale;
        }
        softmax(att, n);
        double* oh = out + (size_t)h * head_dim;
        for (int i = 0; i < head_dim; i++)
            oh[i] = 0.0;
        for (int j = 0; j < n; j++) {
            const double* vj = v_cache + (size_t)((j0 + j) % cache_rows) * kv_stride + kv_off;
            for (int i = 0; i < head_dim; i++)
                oh[i] += att[j] * vj[i];
        }
    }
}

double silu(double x) {
    return x / (1.0 + exp(-x));
}

void glu_silu(double* out, const double* g, const double* u, int n) {
    for (int i = 0; i < n; i++)
        out[i] = silu(g[i]) * u[i];
}

void glu_gelu_tanh(double* out, const double* g, const double* u, int n) {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const double k = sqrt(2.0 / M_PI);
    for (int i = 0; i < n; i++) {
        double x = g[i];
        out[i] = 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x))) * u[i];
    }
}

void glu_gelu(double* out, const double* g, const double* u, int n) {
    // 0.5 x (1 + erf(x / sqrt 2))
    for (int i = 0; i < n; i++)
        out[i] = 0.5 * g[i] * (1.0 + erf(g[i] / sqrt(2.0))) * u[i];
}

void add(double* out, const double* a, const double* b, int n) {
    for (int i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

// ---------------------------------------------------------------------------------------
// ---- rwkv7

void layernorm(double* out, const double* x, const double* w, const double* b, int n, int n_group,
               double eps) {
    // torch layer_norm / group_norm: biased variance, (x - mu) * rsqrt(var + eps) * w + b
    int gs = n / n_group;
    for (int g = 0; g < n_group; g++) {
        const double* xg = x + (size_t)g * gs;
        double mu = 0.0;
        for (int i = 0; i < gs; i++)
            mu += xg[i];
        mu /= gs;
        double var = 0.0;
        for (int i = 0; i < gs; i++)
            var += (xg[i] - mu) * (xg[i] - mu);
        var /= gs;
        double r = 1.0 / sqrt(var + eps);
        for (int i = 0; i < gs; i++) {
            int c = g * gs + i;
            out[c] = (x[c] - mu) * r * w[c] + b[c];
        }
    }
}

void lerp(double* out, const double* x, const double* prev, const double* mix, int n) {
    for (int i = 0; i < n; i++)
        out[i] = x[i] + (prev[i] - x[i]) * mix[i];
}

void vec_tanh(double* out, const double* x, int n) {
    for (int i = 0; i < n; i++)
        out[i] = tanh(x[i]);
}

void vec_sigmoid(double* out, const double* x, int n) {
    for (int i = 0; i < n; i++)
        out[i] = 1.0 / (1.0 + exp(-x[i]));
}

void rwkv7_decay(double* out, const double* z, int n) {
    // w = exp(-exp(-1/2) * sigmoid(z)) with the exact constant, not llama.cpp's 0.606531
    const double c = exp(-0.5);
    for (int i = 0; i < n; i++)
        out[i] = exp(-c / (1.0 + exp(-z[i])));
}

void sqrelu(double* out, const double* x, int n) {
    for (int i = 0; i < n; i++)
        out[i] = x[i] > 0.0 ? x[i] * x[i] : 0.0;
}

void mul(double* out, const double* a, const double* b, int n) {
    for (int i = 0; i < n; i++)
        out[i] = a[i] * b[i];
}

void rwkv7_kk(double* kk, const double* k, const double* k_k, int n_head, int head_size) {
    // F.normalize(k * k_k per head, p=2): v / max(||v||, 1e-12)
    for (int h = 0; h < n_head; h++) {
        size_t o = (size_t)h * head_size;
        double ss = 0.0;
        for (int i = 0; i < head_size; i++) {
            kk[o + i] = k[o + i] * k_k[o + i];
            ss += kk[o + i] * kk[o + i];
        }
        double norm = sqrt(ss);
        if (norm < 1e-12) norm = 1e-12;
        for (int i = 0; i < head_size; i++)
            kk[o + i] /= norm;
    }
}

void rwkv7_ka(double* out, const double* k, const double* a, const double* k_a, int n) {
    for (int i = 0; i < n; i++)
        out[i] = k[i] * (1.0 + (a[i] - 1.0) * k_a[i]);
}

void wkv7(double* y, double* S, const double* r, const double* w, const double* k, const double* v,
          const double* kk, const double* a, int n_head, int head_size) {
    int N = head_size;
    for (int h = 0; h < n_head; h++) {
        size_t o = (size_t)h * N;
        double* Sh = S + (size_t)h * N * N;
        for (int p = 0; p < N; p++) {
            double* row = Sh + (size_t)p * N;
            double sa = 0.0;
            for (int q = 0; q < N; q++)
                sa += row[q] * -kk[o + q];
            double yp = 0.0;
            for (int q = 0; q < N; q++) {
                row[q] = row[q] * w[o + q] + sa * (kk[o + q] * a[o + q]) + v[o + p] * k[o + q];
                yp += row[q] * r[o + q];
            }
            y[o + p] = yp;
        }
    }
}

void rwkv7_bonus(double* out, const double* y, const double* r, const double* k, const double* v,
                 const double* r_k, int n_head, int head_size) {
    for (int h = 0; h < n_head; h++) {
        size_t o = (size_t)h * head_size;
        double s = 0.0;
        for (int q = 0; q < head_size; q++)
            s += r[o + q] * k[o + q] * r_k[o + q];
        for (int p = 0; p < head_size; p++)
            out[o + p] = y[o + p] + s * v[o + p];
    }
}
// ---- mamba

double softplus(double x) {
    // torch.nn.functional.softplus(x, beta=1, threshold=20)
    return x > 20.0 ? x : log1p(exp(x));
}

void ssm_conv_step(double* out, const double* x, double* state, const double* w, const double* b,
                   int channels, int d_conv, int linear) {
    // HF decode: conv_state = roll(conv_state, -1); conv_state[:, -1] = x;
    // x = act(sum(conv_state * conv1d.weight[:, 0, :], -1) + conv1d.bias)
    // (RecurrentGemma: the same sum + bias with no act.)
    int K = d_conv;
    for (int c = 0; c < channels; c++) {
        const double* wc = w + (size_t)c * K;
        double s = 0.0;
        for (int k = 0; k < K - 1; k++)
            s += wc[k] * state[(size_t)k * channels + c];
        s += wc[K - 1] * x[c];
        out[c] = linear ? s + b[c] : silu(s + b[c]);
    }
    for (int k = 0; k + 1 < K - 1; k++)
        for (int c = 0; c < channels; c++)
            state[(size_t)k * channels + c] = state[(size_t)(k + 1) * channels + c];
    if (K > 1)
        for (int c = 0; c < channels; c++)
            state[(size_t)(K - 2) * channels + c] = x[c];
}

void ssm_scan_step(double* y, const double* x, const double* dt, const double* B, const double* C,
                   double* h, const double* A, const double* D, const double* dt_bias, int d_inner,
                   int d_state) {
    // HF MambaMixer.slow_forward: discrete_A = exp(A * dt); deltaB_u = (dt * B) * x;
    // h = discrete_A * h + deltaB_u; y = h @ C + x * D
    for (int c = 0; c < d_inner; c++) {
        double d = softplus(dt[c] + dt_bias[c]);
        double* hc = h + (size_t)c * d_state;
        const double* Ac = A + (size_t)c * d_state;
        double acc = 0.0;
        for (int n = 0; n < d_state; n++) {
            hc[n] = exp(Ac[n] * d) * hc[n] + d * B[n] * x[c];
            acc += hc[n] * C[n];
        }
        y[c] = acc + D[c] * x[c];
    }
}

void ssm_scan2_step(double* y, const double* x, const double* dt, const double* B, const double* C,
                    double* h, const double* A, const double* D, const double* dt_bias, int n_head,
                    int head_dim, int n_group, int d_state) {
    // HF Mamba2Mixer.torch_forward (cached step): dA = exp(dt * A); dBx = (dt * B) * x;
    // h = h * dA + dBx; y = h @ C + x * D
    int heads_per_group = n_head / n_group;
    for (int hh = 0; hh < n_head; hh++) {
        int g = hh / heads_per_group;
        const double* Bg = B + (size_t)g * d_state;
        const double* Cg = C + (size_t)g * d_state;
        double d = softplus(dt[hh] + dt_bias[hh]);
        double dA = exp(d * A[hh]);
        for (int p = 0; p < head_dim; p++) {
            int c = hh * head_dim + p;
            double* hc = h + (size_t)c * d_state;
            double acc = 0.0;
            for (int n = 0; n < d_state; n++) {
                hc[n] = hc[n] * dA + d * Bg[n] * x[c];
                acc += hc[n] * Cg[n];
            }
            y[c] = acc + D[hh] * x[c];
        }
    }
}

void rmsnorm_group(double* out, const double* x, const double* w, int n, int n_group, double eps) {
    // HF MambaRMSNormGated (after the gate): per group, x * rsqrt(mean(x^2) + eps) * w
    int gs = n / n_group;
    for (int g = 0; g < n_group; g++)
        rmsnorm(out + (size_t)g * gs, x + (size_t)g * gs, w + (size_t)g * gs, 0.0, gs, eps);
}

void moe_route(int* sel, double* p, int n_expert, int k) {
    // HF JambaSparseMoeBlock: routing_weights = softmax(router_logits); topk(routing_weights, k)
    softmax(p, n_expert);
    for (int i = 0; i < k; i++) {
        int best = -1;
        for (int e = 0; e < n_expert; e++) {
            int taken = 0;
            for (int j = 0; j < i; j++)
                taken |= sel[j] == e;
            if (!taken && (best < 0 || p[e] > p[best])) best = e;
        }
        sel[i] = best;
    }
    // ascending expert order: HF accumulates the experts' outputs in index order
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && sel[j - 1] > sel[j]; j--) {
            int t = sel[j];
            sel[j] = sel[j - 1];
            sel[j - 1] = t;
        }
}

// ---- griffin

void scale(double* out, const double* x, double s, int n) {
    for (int i = 0; i < n; i++)
        out[i] = x[i] * s;
}

void matmul_blockdiag(double* out, const double* x, const void* w, enum GgmlType type,
                      const double* b, int n, int n_block) {
    // HF RG-LRU gates: baddbmm(bias, x_h, W[h]) per block h. The converter stored each block
    // transposed, so block h is an ordinary (bw in, bw out) matrix: rows h*bw .. of w.
    int bw = n / n_block;
    size_t block_bytes = quant_row_size(type, bw) * (size_t)bw;
    for (int h = 0; h < n_block; h++) {
        size_t o = (size_t)h * bw;
        matmul_rows(out + o, x + o, (const uint8_t*)w + (size_t)h * block_bytes, type, b + o, bw, 0,
                    bw);
    }
}

void rg_lru_step(double* out, const double* x, const double* gate_x, const double* gate_a,
                 double* h, const double* lambda, int n, int reset) {
    // HF: log_a = -8.0 * recurrent_gate * softplus(recurrent_param); a = exp(log_a);
    // a_square = exp(2 * log_a); gated = x * input_gate;
    // multiplier = reset + ~reset * sqrt(1 - a_square); normalized_x = gated * multiplier;
    // h = (a * ~reset) * h + normalized_x. The reset comes from position_ids == 0: a sequence
    // starts without the sqrt(1 - a^2) normalisation and ignores the previous state.
    for (int i = 0; i < n; i++) {
        double log_a = -8.0 * gate_a[i] * softplus(lambda[i]);
        double a = exp(log_a);
        double a2 = exp(2.0 * log_a); // as HF, not a * a
        double gated = x[i] * gate_x[i];
        if (reset) {
            h[i] = gated;
        } else {
            h[i] = a * h[i] + gated * sqrt(1.0 - a2);
        }
        out[i] = h[i];
    }
}

void softcap(double* out, const double* x, double cap, int n) {
    // HF: logits = logits / cap; logits = tanh(logits) * cap
    for (int i = 0; i < n; i++)
        out[i] = tanh(x[i] / cap) * cap;
}

// ---------------------------------------------------------------------------------------
// ---- zamba2

void concat(double* out, const double* a, int na, const double* b, int nb) {
    for (int i = 0; i < na; i++)
        out[i] = a[i];
    for (int i = 0; i < nb; i++)
        out[na + i] = b[i];
}

void ssm_a_from_log(double* a, int n) {
    // in double: the file keeps A_log exactly, so A carries no float32 rounding (F6)
    for (int i = 0; i < n; i++)
        a[i] = -exp(a[i]);
}
