// kernels.h: the FP64 reference kernels, one function per op, each a direct transcription of
// the equations in ../shared/docs/ARCHITECTURES.md. Arguments: output first, then inputs,
// then weights, then sizes. Doubles throughout; no allocation; deterministic.
#pragma once

#include <stdint.h>

#include "quant.h"

// out = w * x / sqrt(mean(x^2) + eps)     x, w, out (n,)
void rmsnorm(double* out, const double* x, const double* w, int n, double eps);

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
// with stride kv_stride elements; att is scratch of (j1 - j0 + 1) doubles.
// out (n_head * head_dim,) = concat_h sum_j softmax_j(scale * q_h . k_j) v_j
void attention(double* out, const double* q, const double* k_cache, const double* v_cache,
               int kv_stride, int64_t j0, int64_t j1, int n_head, int n_head_kv, int head_dim,
               double scale, double* att);

// out = silu(g) * u  (or the given GELU)   (n,)
void glu_silu(double* out, const double* g, const double* u, int n);
void glu_gelu_tanh(double* out, const double* g, const double* u, int n);
void glu_gelu(double* out, const double* g, const double* u, int n);

// out = a + b   (n,)
void add(double* out, const double* a, const double* b, int n);

// softmax in place, max-subtracted   (n,)
void softmax(double* x, int n);

double silu(double x);
