// gl_kernels.c: see gl_kernels.h. Each function writes its shader's U[] in the order of the
// shader's `// U:` header and picks its grid; gl_dispatch (programs.c) binds, barriers and
// dispatches.
#include "gl_kernels.h"

#include "gles_int.h"
#include "programs.h"

#include "graph.h"

#define MM_TILE 64 // rows and positions per matmul.comp work group (TM, TN)

_Static_assert((int)UNARY_COUNT == (int)GL_UNARY_SCALE, "unary.comp numbers scale 4, softcap 5");

static GLuint or_dummy(const struct GlEngine* g, GLuint b) {
    return b ? b : g->dummy;
}

// ---------------------------------------------------------------------------------------
// embeddings, norms, mat-muls

void k_embed(struct GlEngine* g, int prog, struct GlRows out, GLuint tokens,
             const struct GlTensor* E, int width, int t0, int n) {
    int gx, gy;
    gl_grid((int64_t)n * width, &gx, &gy);
    for (int c = 0; c < E->n_chunks; c++) {
        int u[7] = {width,
                    out.stride,
                    t0,
                    n,
                    (int)(c * E->rows_per_chunk),
                    (int)E->rows_per_chunk,
                    (int)E->row_bytes};
        gl_dispatch(g, prog, gx, gy, 1, u, 7, (const GLuint[]){out.buf, tokens, E->bufs[c]}, 3);
    }
}

void k_rmsnorm(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint w,
               int width, double eps, int t0, int n) {
    int u[5] = {width, out.stride, x.stride, t0, gl_float_bits(eps)};
    gl_dispatch(g, prog, n, 1, 1, u, 5, (const GLuint[]){out.buf, x.buf, w}, 3);
}

void k_matmul(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x,
              const struct GlTensor* W, GLuint bias, int t0, int n) {
    int gx, gy;
    for (int c = 0; c < W->n_chunks; c++) {
        int rows = gl_chunk_rows(W, c);
        gl_groups_2d((rows + MM_TILE - 1) / MM_TILE, &gx, &gy);
        int u[10] = {(int)W->n_in,
                     x.stride,
                     out.stride,
                     rows,
                     (int)(c * W->rows_per_chunk),
                     t0,
                     n,
                     bias != 0,
                     (int)W->row_bytes,
                     (int)W->row_base};
        gl_dispatch(g, prog, gx, gy, (n + MM_TILE - 1) / MM_TILE, u, 10,
                    (const GLuint[]){out.buf, x.buf, W->bufs[c], or_dummy(g, bias)}, 4);
    }
}

void k_matvec(struct GlEngine* g, int prog, int teams, int nr, struct GlRows out, struct GlRows x,
              const struct GlTensor* W, GLuint bias, int t0) {
    int gx, gy, per_group = teams * nr;
    for (int c = 0; c < W->n_chunks; c++) {
        int rows = gl_chunk_rows(W, c);
        gl_groups_2d((rows + per_group - 1) / per_group, &gx, &gy);
        int u[8] = {
            (int)W->n_in, t0 * x.stride / 4, t0 * out.stride, rows, (int)(c * W->rows_per_chunk),
            bias != 0,    (int)W->row_bytes, (int)W->row_base};
        gl_dispatch(g, prog, gx, gy, 1, u, 8,
                    (const GLuint[]){out.buf, x.buf, W->bufs[c], or_dummy(g, bias), W->bufs[c]}, 5);
    }
}

void k_matvec_qkv(struct GlEngine* g, int prog, int teams, GLuint out, GLuint x,
                  const struct GlTensor* W, int nq, int nk, int nv, int head_dim, int neox, int pos,
                  int kv_row, int kvw, GLuint kc, GLuint vc, GLuint tab, GLuint norm_w,
                  double eps) {
    int gx, gy;
    gl_groups_2d(((nq + nk + nv) / 2 + teams - 1) / teams, &gx, &gy);
    int u[16] = {(int)W->n_in,
                 0,
                 0,
                 nq + nk + nv,
                 0,
                 0,
                 (int)W->row_bytes,
                 (int)W->row_base,
                 nq,
                 nk,
                 head_dim,
                 neox,
                 pos,
                 kv_row,
                 kvw,
                 gl_float_bits(eps)};
    gl_dispatch(g, prog, gx, gy, 1, u, 16,
                (const GLuint[]){out, x, W->bufs[0], g->dummy, W->bufs[0], kc, vc, tab,
                                 or_dummy(g, norm_w)},
                9);
}

void k_matvec_glu(struct GlEngine* g, int prog, int teams, GLuint out, GLuint x,
                  const struct GlTensor* W, int n_ff, int act, GLuint norm_w, double eps) {
    int gx, gy;
    gl_groups_2d((n_ff + teams - 1) / teams, &gx, &gy);
    int u[11] = {(int)W->n_in,     0,    0,   2 * n_ff,          0, 0, (int)W->row_bytes,
                 (int)W->row_base, n_ff, act, gl_float_bits(eps)};
    gl_dispatch(g, prog, gx, gy, 1, u, 11,
                (const GLuint[]){out, x, W->bufs[0], g->dummy, W->bufs[0], g->dummy, g->dummy,
                                 g->dummy, or_dummy(g, norm_w)},
                9);
}

void k_matvec_res(struct GlEngine* g, int prog, int teams, int nr, GLuint out, GLuint x,
                  const struct GlTensor* W, GLuint bias, GLuint res) {
    int gx, gy, per_group = teams * nr;
    for (int c = 0; c < W->n_chunks; c++) {
        int rows = gl_chunk_rows(W, c);
        gl_groups_2d((rows + per_group - 1) / per_group, &gx, &gy);
        int u[9] = {(int)W->n_in,
                    0,
                    0,
                    rows,
                    (int)(c * W->rows_per_chunk),
                    bias != 0,
                    (int)W->row_bytes,
                    (int)W->row_base,
                    0};
        gl_dispatch(g, prog, gx, gy, 1, u, 9,
                    (const GLuint[]){out, x, W->bufs[c], or_dummy(g, bias), W->bufs[c], res}, 6);
    }
}

void k_matmul_blockdiag(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x,
                        const struct GlTensor* W, GLuint bias, int t0, int n) {
    int gx, gy;
    for (int c = 0; c < W->n_chunks; c++) {
        int rows = gl_chunk_rows(W, c);
        int u[9] = {
            (int)W->n_in, x.stride,         out.stride, rows, (int)(c * W->rows_per_chunk), t0, n,
            bias != 0,    (int)W->row_bytes};
        gl_grid((int64_t)n * rows, &gx, &gy);
        gl_dispatch(g, prog, gx, gy, 1, u, 9,
                    (const GLuint[]){out.buf, x.buf, W->bufs[c], or_dummy(g, bias)}, 4);
    }
}

// ---------------------------------------------------------------------------------------
// attention

void k_rope(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint tab,
            int n_head, int head_dim, int n_rot, int neox, int pos0, int t0, int n) {
    int gx, gy;
    gl_grid((int64_t)n * n_head * (head_dim / 2), &gx, &gy);
    int u[9] = {n_head, head_dim, n_rot, neox, out.stride, x.stride, t0, n, pos0};
    gl_dispatch(g, prog, gx, gy, 1, u, 9, (const GLuint[]){out.buf, x.buf, tab}, 3);
}

void k_attn_kv(struct GlEngine* g, int prog, GLuint kc, GLuint vc, struct GlRows k, struct GlRows v,
               int width, int first, int n_store, int pos0, int rows) {
    int gx, gy;
    gl_grid((int64_t)n_store * width, &gx, &gy);
    int u[7] = {width, k.stride, v.stride, first, n_store, pos0, rows};
    gl_dispatch(g, prog, gx, gy, 1, u, 7, (const GLuint[]){kc, vc, k.buf, v.buf}, 4);
}

void k_attn(struct GlEngine* g, int prog, const struct GlAttn* a, int ring, struct GlRows out,
            struct GlRows q, GLuint kc, GLuint vc, struct GlRows k, struct GlRows v, int pos0,
            int t0, int n) {
    int u[13] = {a->n_head, a->n_head_kv, a->head_dim, a->window, gl_float_bits(a->scale),
                 q.stride,  out.stride,   a->kvw,      t0,        pos0,
                 a->rows,   k.stride,     v.stride};
    gl_dispatch(g, prog, a->n_head, n, 1, u, ring ? 13 : 10,
                (const GLuint[]){out.buf, q.buf, kc, vc, k.buf, v.buf}, ring ? 6 : 4);
}

void k_attn_split(struct GlEngine* g, int prog, const struct GlAttn* a, int ring, GLuint part,
                  GLuint count, struct GlRows out, struct GlRows q, GLuint kc, GLuint vc, int j0,
                  int n_keys, int t0) {
    int n_split = (n_keys + 63) / 64;
    int u[11] = {
        a->n_head, a->n_head_kv, a->head_dim, gl_float_bits(a->scale), t0 * q.stride,  a->kvw,
        j0,        n_keys,       n_split,     ring ? a->rows : 0,      t0 * out.stride};
    gl_dispatch(g, prog, a->n_head, n_split, 1, u, 11,
                (const GLuint[]){part, q.buf, kc, vc, count, out.buf}, 6);
}

// ---------------------------------------------------------------------------------------
// element-wise

// out, a, b over n rows of width: add.comp, mul.comp, rwkv7_ka.comp (+ k_a), glu.comp (+ act)
static void binary(struct GlEngine* g, int prog, struct GlRows out, struct GlRows a,
                   struct GlRows b, GLuint w, int width, int act, int t0, int n) {
    int gx, gy;
    gl_grid((int64_t)n * width, &gx, &gy);
    int u[7] = {width, out.stride, a.stride, b.stride, t0, n, act};
    gl_dispatch(g, prog, gx, gy, 1, u, act >= 0 ? 7 : 6, (const GLuint[]){out.buf, a.buf, b.buf, w},
                w ? 4 : 3);
}

void k_add(struct GlEngine* g, int prog, struct GlRows out, struct GlRows a, struct GlRows b,
           int width, int t0, int n) {
    binary(g, prog, out, a, b, 0, width, -1, t0, n);
}

void k_mul(struct GlEngine* g, int prog, struct GlRows out, struct GlRows a, struct GlRows b,
           int width, int t0, int n) {
    binary(g, prog, out, a, b, 0, width, -1, t0, n);
}

void k_glu(struct GlEngine* g, int prog, struct GlRows out, struct GlRows gate, struct GlRows up,
           int width, int act, int t0, int n) {
    binary(g, prog, out, gate, up, 0, width, act, t0, n);
}

void k_rwkv7_ka(struct GlEngine* g, int prog, struct GlRows out, struct GlRows k, struct GlRows a,
                GLuint k_a, int width, int t0, int n) {
    binary(g, prog, out, k, a, k_a, width, -1, t0, n);
}

void k_unary(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, int width, int fn,
             double param, int t0, int n) {
    int gx, gy;
    gl_grid((int64_t)n * width, &gx, &gy);
    int u[7] = {width, out.stride, x.stride, t0, n, fn, gl_float_bits(param)};
    gl_dispatch(g, prog, gx, gy, 1, u, fn >= GL_UNARY_SCALE ? 7 : 6,
                (const GLuint[]){out.buf, x.buf}, 2);
}

void k_lerp(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, struct GlRows prev,
            struct GlRows m, int moff, int width, int t0, int n) {
    int gx, gy;
    gl_grid((int64_t)n * width, &gx, &gy);
    int u[8] = {width, out.stride, x.stride, prev.stride, m.stride, moff, t0, n};
    gl_dispatch(g, prog, gx, gy, 1, u, 8, (const GLuint[]){out.buf, x.buf, prev.buf, m.buf}, 4);
}

void k_slice(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, int off, int width,
             int t0, int n) {
    int gx, gy;
    gl_grid((int64_t)n * width, &gx, &gy);
    int u[6] = {width, out.stride, x.stride, off, t0, n};
    gl_dispatch(g, prog, gx, gy, 1, u, 6, (const GLuint[]){out.buf, x.buf}, 2);
}

void k_concat(struct GlEngine* g, int prog, struct GlRows out, struct GlRows a, struct GlRows b,
              int width, int t0, int n) {
    int gx, gy;
    gl_grid((int64_t)n * width, &gx, &gy);
    int u[6] = {width, out.stride, a.stride, b.stride, t0, n};
    gl_dispatch(g, prog, gx, gy, 1, u, 6, (const GLuint[]){out.buf, a.buf, b.buf}, 3);
}

// ---------------------------------------------------------------------------------------
// rwkv7

void k_layernorm(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint w,
                 GLuint b, int width, int n_group, double eps, int t0, int n) {
    int u[6] = {width, n_group, out.stride, x.stride, t0, gl_float_bits(eps)};
    gl_dispatch(g, prog, n_group, n, 1, u, 6, (const GLuint[]){out.buf, x.buf, w, b}, 4);
}

void k_token_shift(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint state,
                   int width, int t0, int n) {
    int gx, gy;
    gl_grid(width, &gx, &gy);
    int u[5] = {width, out.stride, x.stride, t0, n};
    gl_dispatch(g, prog, gx, gy, 1, u, 5, (const GLuint[]){out.buf, x.buf, state}, 3);
}

void k_rwkv7_kk(struct GlEngine* g, int prog, struct GlRows out, struct GlRows k, GLuint k_k,
                int n_head, int head_size, int t0, int n) {
    int u[4] = {head_size, out.stride, k.stride, t0};
    gl_dispatch(g, prog, n_head, n, 1, u, 4, (const GLuint[]){out.buf, k.buf, k_k}, 3);
}

void k_wkv7(struct GlEngine* g, int prog, struct GlRows out, GLuint state, const struct GlRows* in,
            int n_head, int t0, int n) {
    int u[9] = {out.stride, 0, 0, 0, 0, 0, 0, t0, n};
    GLuint bufs[8] = {out.buf, state};
    for (int k = 0; k < 6; k++) {
        u[1 + k] = in[k].stride;
        bufs[2 + k] = in[k].buf;
    }
    gl_dispatch(g, prog, n_head, 1, 1, u, 9, bufs, 8);
}

void k_rwkv7_bonus(struct GlEngine* g, int prog, struct GlRows out, struct GlRows y,
                   struct GlRows r, struct GlRows k, struct GlRows v, GLuint r_k, int n_head,
                   int head_size, int t0, int n) {
    int u[7] = {head_size, out.stride, y.stride, r.stride, k.stride, v.stride, t0};
    gl_dispatch(g, prog, n_head, n, 1, u, 7,
                (const GLuint[]){out.buf, y.buf, r.buf, k.buf, v.buf, r_k}, 6);
}

// ---------------------------------------------------------------------------------------
// mamba, griffin

void k_ssm_conv(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint state,
                GLuint w, GLuint b, int width, int d_conv, int t0, int n) {
    int gx, gy;
    gl_grid(width, &gx, &gy);
    int u[6] = {width, d_conv, out.stride, x.stride, t0, n};
    gl_dispatch(g, prog, gx, gy, 1, u, 6, (const GLuint[]){out.buf, x.buf, state, w, b}, 5);
}

void k_ssm_scan(struct GlEngine* g, int prog, int mamba2, struct GlRows out, GLuint state,
                const struct GlRows* in, const GLuint* w, int n_head, int head_dim, int n_group,
                int t0, int n) {
    const GLuint bufs[9] = {out.buf,   state, in[0].buf, in[1].buf, in[2].buf,
                            in[3].buf, w[0],  w[1],      w[2]};
    int sx = in[0].stride, sdt = in[1].stride, sb = in[2].stride, sc = in[3].stride, gx, gy;
    gl_grid((int64_t)n_head * head_dim, &gx, &gy);
    if (!mamba2)
        gl_dispatch(g, prog, gx, gy, 1,
                    (const int[]){n_head, out.stride, sx, sdt, sb, sc, t0, n, n_group}, 9, bufs, 9);
    else
        gl_dispatch(g, prog, gx, gy, 1,
                    (const int[]){n_head, head_dim, n_group, out.stride, sx, sdt, sb, sc, t0, n},
                    10, bufs, 9);
}

void k_rmsnorm_group(struct GlEngine* g, int prog, struct GlRows out, struct GlRows x, GLuint w,
                     int width, int n_group, double eps, int t0, int n) {
    int u[6] = {width, n_group, out.stride, x.stride, t0, gl_float_bits(eps)};
    gl_dispatch(g, prog, n_group, n, 1, u, 6, (const GLuint[]){out.buf, x.buf, w}, 3);
}

void k_rg_lru(struct GlEngine* g, int prog, struct GlRows out, GLuint state, struct GlRows x,
              struct GlRows gate_x, struct GlRows gate_a, GLuint lambda, int width, int pos0,
              int t0, int n) {
    int gx, gy;
    gl_grid(width, &gx, &gy);
    int u[8] = {width, out.stride, x.stride, gate_x.stride, gate_a.stride, t0, n, pos0};
    gl_dispatch(g, prog, gx, gy, 1, u, 8,
                (const GLuint[]){out.buf, state, x.buf, gate_x.buf, gate_a.buf, lambda}, 6);
}

// ---------------------------------------------------------------------------------------
// MoE

void k_moe_matmul(struct GlEngine* g, int prog, GLuint y, struct GlRows x, int x_slot,
                  const struct GlTensor* W, int n_out, GLuint sel, int k, int t0, int n) {
    for (int c = 0; c < W->n_chunks; c++) {
        int u[10] = {(int)W->n_in,
                     x.stride,
                     n_out,
                     gl_chunk_rows(W, c),
                     (int)(c * W->rows_per_chunk),
                     k,
                     t0,
                     x_slot,
                     (int)W->row_bytes,
                     sel != 0};
        gl_dispatch(g, prog, n_out, n * k, 1, u, 10,
                    (const GLuint[]){y, x.buf, W->bufs[c], or_dummy(g, sel)}, 4);
    }
}

void k_moe_route(struct GlEngine* g, int prog, GLuint logits, GLuint sel, GLuint pw, int n_expert,
                 int k, int t0, int n) {
    int gx, gy;
    gl_grid(n, &gx, &gy);
    gl_dispatch(g, prog, gx, gy, 1, (const int[]){n_expert, k, t0, n}, 4,
                (const GLuint[]){logits, sel, pw}, 3);
}

void k_moe_sum(struct GlEngine* g, int prog, struct GlRows out, GLuint eo, GLuint pw, int width,
               int k, int t0, int n) {
    int gx, gy;
    gl_grid((int64_t)n * width, &gx, &gy);
    gl_dispatch(g, prog, gx, gy, 1, (const int[]){width, out.stride, k, t0, n}, 5,
                (const GLuint[]){out.buf, eo, pw}, 3);
}
