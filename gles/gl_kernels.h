// gl_kernels.h: one typed function per compute shader (shaders/<op>.comp), the only writers of
// the uniform array U[] and of the dispatch grid: gles/ops.c and gles/fuse.c run the graph
// with them, tests/test_gl_kernels.c checks each shader through the same function. Each
// takes the program to run (gl_program / gl_matvec_program: the variant's #defines), then
// the output, the inputs, the weights and the dims, as ref/kernels.h does.
// Activations are rows: struct GlRows {buffer, floats per row}; row t of a call is row
// t0 + t of the buffer. Weights are struct GlTensor (gles_int.h), split at row boundaries
// into chunks; a kernel that reads a matrix runs one dispatch per chunk. GLuint 0 for an
// optional buffer (bias, norm weight, sel) means absent: g->dummy is bound instead.
#pragma once

#include <GLES3/gl31.h>
#include <stdint.h>

#include "gles.h"

struct GlTensor;
struct GlEngine;

struct GlRows {
    GLuint buf;
    int stride; // floats per row
};

// ---- embeddings, norms, mat-muls
// out[t] = row tokens[t0 + t] of E (width floats), for n rows.
void k_embed(struct GlEngine* g, int prog, struct GlRows out, GLuint tokens,
             const struct GlTensor* E, int width, int t0, int n);
// out[t] = x[t] * w / rms(x[t]) over width (W_OFFSET: (1 + w)), one work group per row.
void k_rmsnorm(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint w,
               int width, double eps, int t0, int n);
// out[t] = W x[t] (+ bias) with matmul.comp's 64 x 64 tiles.
void k_matmul(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x,
              const struct GlTensor* W, GLuint bias, int t0, int n);
// out[t0] = W x[t0] (+ bias) with matvec.comp (no epilogue): teams x nr rows per group.
void k_matvec(struct GlEngine* g, int prog, int teams, int nr, struct GlRows out, struct GlRows x,
              const struct GlTensor* W, GLuint bias, int t0);
// matvec.comp MV_QKV over the packed q;k;v rows of W (row base W->row_base): q to out, k and
// v rotated with tab's (cos, sin) at pos and stored at row kv_row of kc, vc (kvw floats);
// MV_NORM (norm_w not 0): x is the rmsnorm's input, normed on the fly with eps.
void k_matvec_qkv(struct GlEngine* g, int prog, int teams, GLuint out, GLuint x,
                  const struct GlTensor* W, int nq, int nk, int nv, int head_dim, int neox, int pos,
                  int kv_row, int kvw, GLuint kc, GLuint vc, GLuint tab, GLuint norm_w, double eps);
// matvec.comp MV_GLU over the packed gate;up rows of W: out = act(gate x) * (up x), n_ff
// floats; MV_NORM as k_matvec_qkv.
void k_matvec_glu(struct GlEngine* g, int prog, int teams, GLuint out, GLuint x,
                  const struct GlTensor* W, int n_ff, int act, GLuint norm_w, double eps);
// matvec.comp MV_RES: out = W x (+ bias) + res, one row (out may be res).
void k_matvec_res(struct GlEngine* g, int prog, int teams, int nr, GLuint out, GLuint x,
                  const struct GlTensor* W, GLuint bias, GLuint res);
// out[t] = W_block(i) x[t] for each row i of a block-diagonal W (+ bias).
void k_matmul_blockdiag(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x,
                        const struct GlTensor* W, GLuint bias, int t0, int n);

// ---- attention
// Rotary embedding of n rows of n_head heads from the (n_ctx, n_rot/2) table, positions
// pos0 + t.
void k_rope(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint tab,
            int n_head, int head_dim, int n_rot, int neox, int pos0, int t0, int n);
// Stores rows first..first+n_store-1 of k, v (width floats) at positions pos0 + row into the
// caches kc, vc of `rows` rows (position p in row p % rows).
void k_attn_kv(struct GlEngine* g, int prog, GLuint kc, GLuint vc, struct GlRows k, struct GlRows v,
               int width, int first, int n_store, int pos0, int rows);
// Attention of n query rows over the caches (kvw floats per row); ring (rows < n_ctx): the
// RING variant, reading this batch's keys from k and v.
struct GlAttn {
    int n_head, n_head_kv, head_dim, window;
    double scale;
    int kvw;  // floats per cache row
    int rows; // rows of the caches (a ring when a window keeps fewer than the context)
};
void k_attn(struct GlEngine* g, int prog, const struct GlAttn* a, int ring, struct GlRows out,
            struct GlRows q, GLuint kc, GLuint vc, struct GlRows k, struct GlRows v, int pos0,
            int t0, int n);
// One query row over keys j0..j0+n_keys-1 split over 64-key work groups (attn_split.comp);
// part and count: its partials and per-head counters.
void k_attn_split(struct GlEngine* g, int prog, const struct GlAttn* a, int ring, GLuint part,
                  GLuint count, struct GlRows out, struct GlRows q, GLuint kc, GLuint vc, int j0,
                  int n_keys, int t0);

// ---- element-wise (out[t][i] for i < width)
void k_add(struct GlEngine* g, int prog, struct GlRows out, struct GlRows a, struct GlRows b,
           int width, int t0, int n);
void k_mul(struct GlEngine* g, int prog, struct GlRows out, struct GlRows a, struct GlRows b,
           int width, int t0, int n);
// act(g) * u (enum Act)
void k_glu(struct GlEngine* g, int prog, struct GlRows out, struct GlRows gate, struct GlRows up,
           int width, int act, int t0, int n);
// unary.comp's function numbers: enum Unary's, then (---- griffin) OP_SCALE and OP_SOFTCAP,
// whose factor or cap is param
enum GlUnaryFn {
    GL_UNARY_SCALE = 4,
    GL_UNARY_SOFTCAP = 5,
};
void k_unary(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, int width, int fn,
             double param, int t0, int n);
// x + (prev - x) * mix, mix a row of m (stride m.stride) at offset moff
void k_lerp(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, struct GlRows prev,
            struct GlRows m, int moff, int width, int t0, int n);
// the width floats of x at offset off
void k_slice(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, int off, int width,
             int t0, int n);
// the first a.stride floats from a, the rest from b
void k_concat(struct GlEngine* g, int prog, struct GlRows out, struct GlRows a, struct GlRows b,
              int width, int t0, int n);

// ---- rwkv7
void k_layernorm(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint w,
                 GLuint b, int width, int n_group, double eps, int t0, int n);
void k_token_shift(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint state,
                   int width, int t0, int n);
void k_rwkv7_kk(struct GlEngine* g, int prog, struct GlRows out, struct GlRows k, GLuint k_k,
                int n_head, int head_size, int t0, int n);
void k_rwkv7_ka(struct GlEngine* g, int prog, struct GlRows out, struct GlRows k, struct GlRows a,
                GLuint k_a, int width, int t0, int n);
// in: r, w, k, v, kk, a (6 row buffers); the whole batch in one dispatch, a group per head
void k_wkv7(struct GlEngine* g, int prog, struct GlRows out, GLuint state, const struct GlRows* in,
            int n_head, int t0, int n);
void k_rwkv7_bonus(struct GlEngine* g, int prog, struct GlRows out, struct GlRows y,
                   struct GlRows r, struct GlRows k, struct GlRows v, GLuint r_k, int n_head,
                   int head_size, int t0, int n);

// ---- mamba, griffin
void k_ssm_conv(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint state,
                GLuint w, GLuint b, int width, int d_conv, int t0, int n);
// in: x, dt, B, C; w: A, D, dt bias. ssm_scan.comp (mamba2 0: n_head channels, head_dim 1)
// or ssm_scan2.comp (mamba2 1)
void k_ssm_scan(struct GlEngine* g, int prog, int mamba2, struct GlRows out, GLuint state,
                const struct GlRows* in, const GLuint* w, int n_head, int head_dim, int n_group,
                int t0, int n);
void k_rmsnorm_group(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint w,
                     int width, int n_group, double eps, int t0, int n);
void k_rg_lru(struct GlEngine* g, int prog, struct GlRows out, GLuint state, struct GlRows x,
              struct GlRows gate_x, struct GlRows gate_a, GLuint lambda, int width, int pos0,
              int t0, int n);

// ---- MoE
// y (rows of n_out per slot) = W_sel x for k slots per row, one dispatch per chunk of W;
// sel 0: every slot reads matrix 0; x_slot: x has a row per slot.
void k_moe_matmul(struct GlEngine* g, int prog, GLuint y, struct GlRows x, int x_slot,
                  const struct GlTensor* W, int n_out, GLuint sel, int k, int t0, int n);
void k_moe_route(struct GlEngine* g, int prog, GLuint logits, GLuint sel, GLuint pw, int n_expert,
                 int k, int t0, int n);
void k_moe_sum(struct GlEngine* g, int prog, struct GlRows out, GLuint eo, GLuint pw, int width,
               int k, int t0, int n);
