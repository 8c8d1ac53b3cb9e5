// kernels.h: the FP64 reference kernels, one function per op, each a direct transcription of
// the equations in ../shared/docs/ARCHITECTURES.md. Arguments: output first, then inputs,
// then weights, then sizes. Doubles throughout; no allocation; deterministic.
#pragma once

#include <stdint.h>

#include "quant.h"

// out = (w_offset + w) * (x / sqrt(mean(x^2) + eps))     x, w, out (n,)
// w_offset 0: Llama's RMSNorm; 1: Gemma's, whose weights are stored centred at 0.
void rmsnorm(double* out, const double* x, const double* w, double w_offset, int n, double eps);

// out[o] = sum_i W[o][i] x[i] (+ b[o])    W: n_out rows of n_in elements, stored as type
// (a GGUF row each); x (n_in,), out (n_out,), b (n_out,) or NULL. Rows [o0, o1) only.
void matmul_rows(double* out, const double* x, const void* w, enum GgmlType type, const double* b,
                 int n_in, int o0, int o1);

// Rotates n_head heads of head_dim elements in place at position pos. mode NORM pairs
// (2i, 2i+1), NEOX pairs (i, i + n_rot/2); only the first n_rot elements of each head turn.
// theta_i = pos * freq_scale * base^(-2i/n_rot) / factor_i  (factors NULL: all 1).
void rope(double* x, int n_head, int head_dim, int n_rot, int neox, int64_t pos, double base,
          double freq_scale, const double* factors);

// One query position of multi-head attention with GQA: query head h uses KV head
// h / (n_head / n_head_kv). Keys/values of positions j0..j1 (inclusive) are rows of k/v
// with stride kv_stride elements, position j in row j % cache_rows (a ring when the cache
// holds fewer rows than positions); att is scratch of (j1 - j0 + 1) doubles.
// out (n_head * head_dim,) = concat_h sum_j softmax_j(scale * q_h . k_j) v_j
void attention(double* out, const double* q, const double* k_cache, const double* v_cache,
               int kv_stride, int64_t cache_rows, int64_t j0, int64_t j1, int n_head, int n_head_kv,
               int head_dim, double scale, double* att);

// out = silu(g) * u  (or the given GELU)   (n,)
void glu_silu(double* out, const double* g, const double* u, int n);
void glu_gelu_tanh(double* out, const double* g, const double* u, int n);
void glu_gelu(double* out, const double* g, const double* u, int n);

// out = a + b   (n,)
void add(double* out, const double* a, const double* b, int n);

// softmax in place, max-subtracted   (n,)
void softmax(double* x, int n);

double silu(double x);

// ---- rwkv7 (ARCHITECTURES.md §1.1, §1.2, §4.4)

// n_group contiguous groups of n / n_group elements, each: mu = mean(x), var = mean((x-mu)^2),
// out = (x - mu) / sqrt(var + eps) * w + b.  n_group 1 is LayerNorm, H is GroupNorm(H).
// x, w, b, out (n,); in place ok.
void layernorm(double* out, const double* x, const double* w, const double* b, int n, int n_group,
               double eps);

// out = x + (prev - x) * mix   (n,)  (torch.lerp(x, prev, mix); RWKV's u + (sA - u) * x_r)
void lerp(double* out, const double* x, const double* prev, const double* mix, int n);

// out = f(x) elementwise   (n,); in place ok
void vec_tanh(double* out, const double* x, int n);
void vec_sigmoid(double* out, const double* x, int n);
void rwkv7_decay(double* out, const double* z, int n); // exp(-exp(-1/2) * sigmoid(z))
void sqrelu(double* out, const double* x, int n);      // max(x, 0)^2

// out = a * b   (n,)
void mul(double* out, const double* a, const double* b, int n);

// kk = k * k_k, then each head of head_size divided by max(||kk_h||_2, 1e-12)   (n_head*N,)
void rwkv7_kk(double* kk, const double* k, const double* k_k, int n_head, int head_size);

// out = k * (1 + (a - 1) * k_a)   (n,)
void rwkv7_ka(double* out, const double* k, const double* a, const double* k_a, int n);

// One token of the WKV-7 state update, per head h (vectors restricted to the head, length N),
// S (n_head, N, N) as S[h][p = value][q = key]:
//   sa[p] = sum_q S[p][q] * (-kk[q])
//   S[p][q] = S[p][q] * w[q] + sa[p] * (kk[q] * a[q]) + v[p] * k[q]
//   y[p] = sum_q S[p][q] * r[q]
void wkv7(double* y, double* S, const double* r, const double* w, const double* k, const double* v,
          const double* kk, const double* a, int n_head, int head_size);

// out = y + per head h: (sum_q r[q] k[q] r_k[h][q]) * v   (n_head*N,); out may be y
void rwkv7_bonus(double* out, const double* y, const double* r, const double* k, const double* v,
                 const double* r_k, int n_head, int head_size);
// ---- mamba: Mamba-1 / Mamba-2 / Jamba (ARCHITECTURES.md §1.5, §5.5, §7.4)

// torch softplus (beta 1, threshold 20): x if x > 20, else log1p(exp(x))
double softplus(double x);

// One position of the depthwise causal conv1d, then silu (unless linear: Griffin). w
// (channels, d_conv) row-major as GGUF stores it (w[c][d_conv-1] multiplies the current
// input), b (channels,). state (d_conv-1, channels): the previous inputs, oldest first; x is
// shifted in afterwards.
// out[c] = silu(sum_{k<d_conv-1} w[c][k] state[k][c] + w[c][d_conv-1] x[c] + b[c])
void ssm_conv_step(double* out, const double* x, double* state, const double* w, const double* b,
                   int channels, int d_conv, int linear);

// One position of the Mamba-1 selective scan over d_inner channels, h (d_inner, d_state):
// dt_c = softplus(dt[c] + dt_bias[c]); h[c][n] = exp(A[c][n] dt_c) h[c][n] + dt_c B[n] x[c]
// y[c] = sum_n h[c][n] C[n] + D[c] x[c]
void ssm_scan_step(double* y, const double* x, const double* dt, const double* B, const double* C,
                   double* h, const double* A, const double* D, const double* dt_bias, int d_inner,
                   int d_state);

// One position of the Mamba-2 scan: n_head heads of head_dim channels, h (n_head, head_dim,
// d_state); head hh reads B/C group hh / (n_head / n_group) (each d_state wide).
// dt_h = softplus(dt[hh] + dt_bias[hh]); h[hh][p][n] = exp(dt_h A[hh]) h + dt_h B_g[n] x[hh*P+p]
// y[hh*P+p] = sum_n h[hh][p][n] C_g[n] + D[hh] x[hh*P+p]
void ssm_scan2_step(double* y, const double* x, const double* dt, const double* B, const double* C,
                    double* h, const double* A, const double* D, const double* dt_bias, int n_head,
                    int head_dim, int n_group, int d_state);

// RMSNorm over each of n_group contiguous groups of n / n_group elements:
// out = w * x / sqrt(mean_group(x^2) + eps)
void rmsnorm_group(double* out, const double* x, const double* w, int n, int n_group, double eps);

// Mixture-of-experts routing: p = softmax(logits) in place over all n_expert experts;
// sel[0..k) = the k experts with the largest p (ties: the lower index), in ascending expert
// order. The weights p[sel[i]] are NOT renormalised (Jamba, Mixtral-style top-k of softmax).
void moe_route(int* sel, double* p, int n_expert, int k);

// ---- griffin: RecurrentGemma (ARCHITECTURES.md §6)

// out = s * x   (n,); in place ok
void scale(double* out, const double* x, double s, int n);

// Block-diagonal matmul: n_block blocks of bw = n / n_block elements,
// out[h*bw + j] = sum_i W_h[j][i] x[h*bw + i] + b[h*bw + j]. w holds the n_block (bw in,
// bw out) GGUF matrices one after another (n rows of bw elements, stored as type); b (n,).
void matmul_blockdiag(double* out, const double* x, const void* w, enum GgmlType type,
                      const double* b, int n, int n_block);

// One position of the RG-LRU (HF RecurrentGemmaRglru), h (n,) the state, lambda = rg_param:
//   log_a = -8 * gate_a * softplus(lambda);  a = exp(log_a);  a2 = exp(2 log_a)
//   reset (position 0): h = x * gate_x                (a := 0, multiplier 1)
//   else:               h = a * h + (x * gate_x) * sqrt(1 - a2)
//   out = h
void rg_lru_step(double* out, const double* x, const double* gate_x, const double* gate_a,
                 double* h, const double* lambda, int n, int reset);

// out = cap * tanh(x / cap)   (n,); in place ok
void softcap(double* out, const double* x, double cap, int n);
// ---- zamba2 (ARCHITECTURES.md §7)

// out = concat(a, b): a (na,) then b (nb,)   (torch.concatenate([a, b], dim=-1))
void concat(double* out, const double* a, int na, const double* b, int nb);

// A = -exp(A_log) in place   (n,)   (HF Mamba-2: A = -torch.exp(self.A_log))
void ssm_a_from_log(double* a, int n);
