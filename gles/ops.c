// ops.c: the GLES engine's interpreter of the shared graph, per op kind side by side: the
// programs it compiles (choose_programs) and its dispatches (gl_ops_run: one switch over op
// kinds, no default, each case a call of gl_kernels.c's k_<op>), plus the scratch buffers
// and KV geometry they share. Nothing here waits for the GPU.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "gl_kernels.h"
#include "gles_int.h"
#include "programs.h"

// Row buffer id of the graph as struct GlRows.
#define ROWS(id) ((struct GlRows){g->bufs[id], g->g.bufs[id].width})

int gl_kv_rows(const struct GlEngine* g, const struct StateDesc* sd) {
    return sd->window > 0 && sd->window < g->n_ctx ? sd->window : g->n_ctx;
}

int gl_kv_row(const struct GlEngine* g, int state, int64_t pos) {
    return (int)(pos % gl_kv_rows(g, &g->g.states[state]));
}

// ---------------------------------------------------------------------------------------
// scratch

// ---- mamba: scratch buffers for the MoE ops, sized for the largest: per row the router
// logits and the k chosen experts with their weights, per (row, slot) the gate, up and
// expert output rows.
static int moe_scratch(struct GlEngine* g, struct Err* e) {
    size_t logits = 0, slots = 0, ff = 0, out = 0;
    for (int i = 0; i < g->g.n_ops; i++) {
        const struct Op* op = &g->g.ops[i];
        if (op->kind != OP_MOE) continue;
        size_t k = (size_t)op->p.moe.n_expert_used;
        if ((size_t)op->p.moe.n_expert > logits) logits = (size_t)op->p.moe.n_expert;
        if (k > slots) slots = k;
        if (k * (size_t)op->p.moe.n_ff > ff) ff = k * (size_t)op->p.moe.n_ff;
        if (k * (size_t)g->g.bufs[op->out].width > out) out = k * (size_t)g->g.bufs[op->out].width;
    }
    if (!logits) return 0;
    size_t b = (size_t)g->max_batch * sizeof(float);
    if (b * ff > (size_t)g->max_ssbo || b * out > (size_t)g->max_ssbo)
        return err_set(e, ERR_UNSUPPORTED,
                       "gl_init: the MoE scratch rows of a batch of %d exceed "
                       "the SSBO limit of %d bytes; use a smaller batch",
                       g->max_batch, (int)g->max_ssbo);
    g->moe_logits = gl_buffer_new(b * logits, NULL);
    g->moe_sel = gl_buffer_new(b * slots, NULL);
    g->moe_pw = gl_buffer_new(b * slots, NULL);
    g->moe_hg = gl_buffer_new(b * ff, NULL);
    g->moe_hu = gl_buffer_new(b * ff, NULL);
    g->moe_eo = gl_buffer_new(b * out, NULL);
    return gl_check("gl_init: MoE scratch", e);
}

// The split decode attention (attn_split.comp) for heads of up to 256, its partials buffer
// sized for the longest key range of any attention op, and its per-head counters (zero).
static int attn_scratch(struct GlEngine* g, struct Err* e) {
    size_t floats = 0;
    int heads = 0;
    g->attn_split = -1;
    if (g->opt.no_split_attn) return 0;
    for (int i = 0; i < g->g.n_ops; i++) {
        const struct Op* op = &g->g.ops[i];
        if (op->kind != OP_ATTN) continue;
        if (op->p.attn.head_dim > 256) return 0; // attn.comp serves one row as well
        int keys =
            op->p.attn.window > 0 && op->p.attn.window < g->n_ctx ? op->p.attn.window : g->n_ctx;
        size_t f = (size_t)op->p.attn.n_head * (size_t)((keys + 63) / 64) *
                   (size_t)(op->p.attn.head_dim + 2);
        if (f > floats) floats = f;
        if (op->p.attn.n_head > heads) heads = op->p.attn.n_head;
    }
    if (!floats) return 0;
    if (floats * sizeof(float) > (size_t)g->max_ssbo) return 0;
    if ((g->attn_split = gl_program(g, K_ATTN_SPLIT, "", e)) < 0) return g->attn_split;
    g->attn_part = gl_buffer_new(floats * sizeof(float), NULL);
    uint32_t* zero = calloc((size_t)heads, sizeof(uint32_t));
    if (!zero) return err_set(e, ERR_NOMEM, "gl_init: out of memory");
    g->attn_count = gl_buffer_new((size_t)heads * sizeof(uint32_t), zero);
    free(zero);
    return gl_check("gl_init: attention partials", e);
}

int gl_ops_scratch(struct GlEngine* g, struct Err* e) {
    int rc = moe_scratch(g, e);
    return rc ? rc : attn_scratch(g, e);
}

// ---------------------------------------------------------------------------------------
// programs

// Picks (compiling now) the programs op i runs: op_prog for batches, op_prog1 for one row.
static int choose_programs(struct GlEngine* g, int i, struct Err* e) {
    const struct Op* op = &g->g.ops[i];
    char d[160];
    int p = -1, p1 = -1;
    switch (op->kind) {
    case OP_EMBED:
        snprintf(d, sizeof(d), "#define W_BINDING 2\n#define %s 1\n",
                 gl_wtype_define(g->wt[op->w[0]].type));
        p = p1 = gl_program(g, K_EMBED, d, e);
        break;
    case OP_RMSNORM:
        // ---- griffin: Gemma's (1 + w) is the W_OFFSET variant
        if (op->p.norm.w_offset != 0.0)
            snprintf(d, sizeof(d), "#define W_OFFSET %.9e\n", op->p.norm.w_offset);
        else
            d[0] = 0;
        p = p1 = gl_program(g, K_RMSNORM, d, e);
        break;
    case OP_MATMUL: {
        snprintf(d, sizeof(d), "#define W_BINDING 2\n#define %s 1\n",
                 gl_wtype_define(g->wt[op->w[0]].type));
        p = p1 = gl_program(g, K_MATMUL, d, e);
        if (p >= 0 && gl_matvec_fits(g, op))
            p1 = gl_matvec_program(g, g->wt[op->w[0]].type, g->mv_teams, g->mv_nr, "", e);
        break;
    }
    case OP_ROPE: p = p1 = gl_program(g, K_ROPE, "", e); break;
    case OP_ATTN:
        // op_prog: store, op_prog1: attend (the RING variant where a window keeps a ring)
        p = gl_program(g, K_ATTN_KV, "", e);
        p1 = p < 0
                 ? p
                 : gl_program(g, K_ATTN,
                              gl_kv_rows(g, &g->g.states[op->state]) < g->n_ctx ? "#define RING 1\n"
                                                                                : "",
                              e);
        break;
    case OP_ADD: p = p1 = gl_program(g, K_ADD, "", e); break;
    case OP_GLU: p = p1 = gl_program(g, K_GLU, "", e); break;
    // ---- rwkv7
    case OP_LAYERNORM: p = p1 = gl_program(g, K_LAYERNORM, "", e); break;
    case OP_TOKEN_SHIFT: p = p1 = gl_program(g, K_TOKEN_SHIFT, "", e); break;
    case OP_LERP: p = p1 = gl_program(g, K_LERP, "", e); break;
    case OP_UNARY: p = p1 = gl_program(g, K_UNARY, "", e); break;
    case OP_MUL: p = p1 = gl_program(g, K_MUL, "", e); break;
    case OP_RWKV7_KK: p = p1 = gl_program(g, K_RWKV7_KK, "", e); break;
    case OP_RWKV7_KA: p = p1 = gl_program(g, K_RWKV7_KA, "", e); break;
    case OP_WKV7:
        // one work group of head_size invocations per head
        if (op->p.rwkv7.head_size < 1 || op->p.rwkv7.head_size > 1024)
            return err_set(e, ERR_UNSUPPORTED, "gl_init: RWKV-7 head size %d (1..1024)",
                           op->p.rwkv7.head_size);
        snprintf(d, sizeof(d), "#define HS %d\n", op->p.rwkv7.head_size);
        p = p1 = gl_program(g, K_WKV7, d, e);
        break;
    case OP_RWKV7_BONUS: p = p1 = gl_program(g, K_RWKV7_BONUS, "", e); break;
    // ---- mamba
    case OP_SLICE: p = p1 = gl_program(g, K_SLICE, "", e); break;
    case OP_SSM_CONV:
        // ---- griffin: the LINEAR variant leaves the silu out
        p = p1 = gl_program(g, K_SSM_CONV, op->p.ssm.linear ? "#define LINEAR 1\n" : "", e);
        break;
    case OP_SSM_SCAN:
    case OP_SSM_SCAN2:
        // the state row of a channel lives in registers: d_state is a compile-time size
        if (op->p.ssm.d_state < 1 || op->p.ssm.d_state > 256)
            return err_set(e, ERR_UNSUPPORTED, "gl_init: SSM state size %d (1..256)",
                           op->p.ssm.d_state);
        if (op->p.ssm.n_group < 1 || op->p.ssm.n_head % op->p.ssm.n_group)
            return err_set(e, ERR_UNSUPPORTED,
                           "gl_init: op '%s': %d B/C groups do not divide %d heads; use mattn-ref",
                           op->name, op->p.ssm.n_group, op->p.ssm.n_head);
        // ---- zamba: the A_LOG variant reads A_log and uses A = -exp(A_log)
        snprintf(d, sizeof(d), "#define DS %d\n%s", op->p.ssm.d_state,
                 op->p.ssm.a_log ? "#define A_LOG 1\n" : "");
        p = p1 = gl_program(g, op->kind == OP_SSM_SCAN ? K_SSM_SCAN : K_SSM_SCAN2, d, e);
        break;
    case OP_RMSNORM_GROUP: p = p1 = gl_program(g, K_RMSNORM_GROUP, "", e); break;
    case OP_MOE: {
        // router, gate, up, down: moe_matmul.comp for each one's weight type
        struct GlMoe* mp = &g->moe[i];
        int* progs[4] = {&mp->router, &mp->gate, &mp->up, &mp->down};
        for (int k = 0; k < 4; k++) {
            snprintf(d, sizeof(d), "#define W_BINDING 2\n#define %s 1\n",
                     gl_wtype_define(g->wt[op->w[k]].type));
            if ((*progs[k] = gl_program(g, K_MOE_MATMUL, d, e)) < 0) return *progs[k];
        }
        if ((mp->route = gl_program(g, K_MOE_ROUTE, "", e)) < 0) return mp->route;
        if ((mp->glu = gl_program(g, K_GLU, "", e)) < 0) return mp->glu;
        if ((mp->sum = gl_program(g, K_MOE_SUM, "", e)) < 0) return mp->sum;
        p = p1 = mp->sum;
        break;
    }
    // ---- griffin
    case OP_SCALE:
    case OP_SOFTCAP: p = p1 = gl_program(g, K_UNARY, "", e); break;
    case OP_MATMUL_BLOCKDIAG: {
        const struct GlTensor* W = &g->wt[op->w[0]];
        int wout = g->g.bufs[op->out].width, nb = op->p.blockdiag.n_block;
        if (nb < 1 || W->n_in * nb != wout || W->rows != wout || g->g.bufs[op->in[0]].width != wout)
            return err_set(e, ERR_UNSUPPORTED,
                           "gl_init: op '%s': %d blocks of %lld do not make "
                           "a width of %d; use mattn-ref",
                           op->name, nb, (long long)W->n_in, wout);
        snprintf(d, sizeof(d), "#define W_BINDING 2\n#define %s 1\n", gl_wtype_define(W->type));
        p = p1 = gl_program(g, K_MATMUL_BLOCKDIAG, d, e);
        break;
    }
    case OP_RG_LRU: p = p1 = gl_program(g, K_RG_LRU, "", e); break;
    // ---- zamba2
    case OP_CONCAT: p = p1 = gl_program(g, K_CONCAT, "", e); break;
    case OP_COUNT: break;
    }
    if (p < 0) return p;
    if (p1 < 0) return p1;
    g->op_prog[i] = p;
    g->op_prog1[i] = p1;
    return 0;
}

int gl_ops_programs(struct GlEngine* g, struct Err* e) {
    int rc = 0;
    for (int i = 0; i < g->g.n_ops && !rc; i++)
        rc = choose_programs(g, i, e);
    return rc;
}

// ---------------------------------------------------------------------------------------
// running op i

// ---- mamba: one OP_MOE over rows t0..t0+n-1 (slots s = t*k + i), all on the GPU: router
// logits, routing, the chosen experts' gate and up mat-vecs, glu, down, weighted sum.
static void run_moe(struct GlEngine* g, int i, int t0, int n) {
    const struct Op* op = &g->g.ops[i];
    const struct GlMoe* mp = &g->moe[i];
    int ne = op->p.moe.n_expert, k = op->p.moe.n_expert_used, ff = op->p.moe.n_ff;
    int wout = g->g.bufs[op->out].width;
    struct GlRows u = {g->bufs[op->in[0]], g->g.bufs[op->in[0]].width};
    k_moe_matmul(g, mp->router, g->moe_logits, u, 0, &g->wt[op->w[0]], ne, 0, 1, t0, n);
    k_moe_route(g, mp->route, g->moe_logits, g->moe_sel, g->moe_pw, ne, k, t0, n);
    k_moe_matmul(g, mp->gate, g->moe_hg, u, 0, &g->wt[op->w[1]], ff, g->moe_sel, k, t0, n);
    k_moe_matmul(g, mp->up, g->moe_hu, u, 0, &g->wt[op->w[2]], ff, g->moe_sel, k, t0, n);
    struct GlRows hg = {g->moe_hg, ff}, hu = {g->moe_hu, ff};
    k_glu(g, mp->glu, hg, hg, hu, ff, ACT_SILU, t0 * k, n * k);
    k_moe_matmul(g, mp->down, g->moe_eo, hg, 1, &g->wt[op->w[3]], wout, g->moe_sel, k, t0, n);
    k_moe_sum(g, mp->sum, (struct GlRows){g->bufs[op->out], wout}, g->moe_eo, g->moe_pw, wout, k,
              t0, n);
}

// ATTN: a full cache stores the batch's keys, then attends; a ring (sliding window) attends
// first, reading this batch's keys from k and v (attn.comp RING), then stores the batch's
// last `rows` positions, so a prompt longer than the window needs one pass.
static void run_attn(struct GlEngine* g, int i, int t0, int n) {
    const struct Op* op = &g->g.ops[i];
    const struct StateDesc* sd = &g->g.states[op->state];
    int pos0 = (int)g->n_past, rows = gl_kv_rows(g, sd), ring = rows < g->n_ctx;
    struct GlRows out = ROWS(op->out), q = ROWS(op->in[0]), k = ROWS(op->in[1]),
                  v = ROWS(op->in[2]);
    GLuint K = g->state_k[op->state], V = g->state_v[op->state];
    struct GlAttn a = {op->p.attn.n_head,
                       op->p.attn.n_head_kv,
                       op->p.attn.head_dim,
                       op->p.attn.window,
                       op->p.attn.scale,
                       sd->width,
                       rows};
    int first = ring && n > rows ? t0 + n - rows : t0, n_store = t0 + n - first;
    if (n == 1 && g->attn_split >= 0) {
        // One position: store its key and value (unless MV_QKV did; a ring row it
        // overwrites held a key outside the window), then attend with the keys split
        // over work groups, the last of each head merging them (attn_split.comp).
        if (!(g->fusing && g->fuse[i].kind == FUSE_ATTEND))
            k_attn_kv(g, g->op_prog[i], K, V, k, v, sd->width, first, n_store, pos0, rows);
        int j0 = op->p.attn.window > 0 && pos0 - op->p.attn.window + 1 > 0
                     ? pos0 - op->p.attn.window + 1
                     : 0;
        k_attn_split(g, g->attn_split, &a, ring, g->attn_part, g->attn_count, out, q, K, V, j0,
                     pos0 - j0 + 1, t0);
        return;
    }
    // (fuse.c plans FUSE_ATTEND only where attn_split exists: here k and v are always stored)
    if (!ring) k_attn_kv(g, g->op_prog[i], K, V, k, v, sd->width, first, n_store, pos0, rows);
    k_attn(g, g->op_prog1[i], &a, ring, out, q, K, V, k, v, pos0, t0, n);
    if (ring) k_attn_kv(g, g->op_prog[i], K, V, k, v, sd->width, first, n_store, pos0, rows);
}

void gl_ops_run(struct GlEngine* g, int i, int t0, int n) {
    const struct Op* op = &g->g.ops[i];
    int pos0 = (int)g->n_past, wout = g->g.bufs[op->out].width, prog = g->op_prog[i];
    struct GlRows O = ROWS(op->out);
#define I(k) ROWS(op->in[k])
#define W(k) g->wt[op->w[k]].bufs[0]
    switch (op->kind) {
    case OP_EMBED: k_embed(g, prog, O, g->tokens, &g->wt[op->w[0]], wout, t0, n); break;
    case OP_RMSNORM: k_rmsnorm(g, prog, O, I(0), W(0), wout, op->p.norm.eps, t0, n); break;
    case OP_MATMUL: {
        const struct GlTensor* W = &g->wt[op->w[0]];
        GLuint bias = op->w[1] >= 0 ? W(1) : 0;
        if (n == 1 && g->op_prog1[i] != prog) // matvec.comp fits this op
            k_matvec(g, g->op_prog1[i], g->mv_teams, g->mv_nr, O, I(0), W, bias, t0);
        else
            k_matmul(g, prog, O, I(0), W, bias, t0, n);
        break;
    }
    case OP_ROPE:
        k_rope(g, prog, O, I(0), g->rope_tab[i], op->p.rope.n_head, op->p.rope.head_dim,
               op->p.rope.n_rot, op->p.rope.type == ROPE_NEOX, pos0, t0, n);
        break;
    case OP_ATTN: run_attn(g, i, t0, n); break;
    case OP_ADD: k_add(g, prog, O, I(0), I(1), wout, t0, n); break;
    case OP_GLU: k_glu(g, prog, O, I(0), I(1), wout, (int)op->p.glu.act, t0, n); break;
    // ---- rwkv7
    case OP_LAYERNORM:
        k_layernorm(g, prog, O, I(0), W(0), W(1), wout, op->p.layernorm.n_group,
                    op->p.layernorm.eps, t0, n);
        break;
    case OP_TOKEN_SHIFT: k_token_shift(g, prog, O, I(0), g->state_k[op->state], wout, t0, n); break;
    case OP_LERP: {
        // the mix: a slice of a weight vector stack (stride 0) or a row of in[2]
        int weight = op->w[0] >= 0;
        struct GlRows mix = weight ? (struct GlRows){W(0), 0} : I(2);
        k_lerp(g, prog, O, I(0), I(1), mix, weight ? op->p.lerp.slice * wout : 0, wout, t0, n);
        break;
    }
    case OP_UNARY: k_unary(g, prog, O, I(0), wout, (int)op->p.unary.fn, 0.0, t0, n); break;
    case OP_MUL: k_mul(g, prog, O, I(0), I(1), wout, t0, n); break;
    case OP_RWKV7_KK:
        k_rwkv7_kk(g, prog, O, I(0), W(0), op->p.rwkv7.n_head, op->p.rwkv7.head_size, t0, n);
        break;
    case OP_RWKV7_KA: k_rwkv7_ka(g, prog, O, I(0), I(1), W(0), wout, t0, n); break;
    case OP_WKV7: {
        // in: r, w, k, v, kk, a; the whole batch in one dispatch, one work group per head
        const struct GlRows in[6] = {I(0), I(1), I(2), I(3), I(4), I(5)};
        k_wkv7(g, prog, O, g->state_k[op->state], in, op->p.rwkv7.n_head, t0, n);
        break;
    }
    case OP_RWKV7_BONUS: // in: y, r, k, v
        k_rwkv7_bonus(g, prog, O, I(0), I(1), I(2), I(3), W(0), op->p.rwkv7.n_head,
                      op->p.rwkv7.head_size, t0, n);
        break;
    // ---- mamba
    case OP_SLICE: k_slice(g, prog, O, I(0), op->p.slice.offset, wout, t0, n); break;
    case OP_SSM_CONV:
        k_ssm_conv(g, prog, O, I(0), g->state_k[op->state], W(0), W(1), wout, op->p.ssm.d_conv, t0,
                   n);
        break;
    case OP_SSM_SCAN:
    case OP_SSM_SCAN2: {
        // in: x, dt, B, C; w: A, D, dt bias; one invocation per channel walks the batch
        const struct GlRows in[4] = {I(0), I(1), I(2), I(3)};
        const GLuint w[3] = {W(0), W(1), W(2)};
        k_ssm_scan(g, prog, op->kind == OP_SSM_SCAN2, O, g->state_k[op->state], in, w,
                   op->p.ssm.n_head, op->p.ssm.head_dim, op->p.ssm.n_group, t0, n);
        break;
    }
    case OP_RMSNORM_GROUP:
        k_rmsnorm_group(g, prog, O, I(0), W(0), wout, op->p.gnorm.n_group, op->p.gnorm.eps, t0, n);
        break;
    case OP_MOE: run_moe(g, i, t0, n); break;
    // ---- griffin
    case OP_SCALE: k_unary(g, prog, O, I(0), wout, GL_UNARY_SCALE, op->p.scale.s, t0, n); break;
    case OP_SOFTCAP:
        k_unary(g, prog, O, I(0), wout, GL_UNARY_SOFTCAP, op->p.softcap.cap, t0, n);
        break;
    case OP_MATMUL_BLOCKDIAG:
        // one dispatch per chunk of rows; a row finds its block (and inputs) from its index
        k_matmul_blockdiag(g, prog, O, I(0), &g->wt[op->w[0]], op->w[1] >= 0 ? W(1) : 0, t0, n);
        break;
    case OP_RG_LRU: // in: x, input gate, recurrent gate; the whole batch in one dispatch
        k_rg_lru(g, prog, O, g->state_k[op->state], I(0), I(1), I(2), W(0), wout, pos0, t0, n);
        break;
    // ---- zamba2
    case OP_CONCAT: k_concat(g, prog, O, I(0), I(1), wout, t0, n); break;
    case OP_COUNT: break;
    }
#undef I
#undef W
}
