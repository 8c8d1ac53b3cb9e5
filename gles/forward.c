// forward.c: the GLES engine's interpreter of the shared graph (see gles.h): one switch over
// op kinds, no default, each case a list of gl_dispatch() calls. Nothing here waits for the
// GPU: a forward is encoded whole, and gl_logits() (or a hook) is the only read-back.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <EGL/egl.h>

#include "buffer.h"
#include "gles.h"
#include "programs.h"
#include "quant.h"

#define MM_TILE 64 // rows and positions per matmul.comp work group (TM, TN)
// unary.comp's function numbers: enum Unary's, then (---- griffin) OP_SCALE and OP_SOFTCAP
enum GlUnaryFn {
    GL_UNARY_SCALE = 4,
    GL_UNARY_SOFTCAP = 5,
};
_Static_assert((int)UNARY_COUNT == (int)GL_UNARY_SCALE, "unary.comp numbers scale 4 and softcap 5");

// ---------------------------------------------------------------------------------------
// weights

static const char* wtype_define(enum GgmlType t) {
    switch (t) {
    case GGML_TYPE_F32: return "WTYPE_F32";
    case GGML_TYPE_F16: return "WTYPE_F16";
    case GGML_TYPE_BF16: return "WTYPE_BF16";
    case GGML_TYPE_Q8_0: return "WTYPE_Q8_0";
    case GGML_TYPE_Q4_0: return "WTYPE_Q4_0";
    case GGML_TYPE_Q4_1: return "WTYPE_Q4_1";
    case GGML_TYPE_Q5_0: return "WTYPE_Q5_0";
    case GGML_TYPE_Q5_1: return "WTYPE_Q5_1";
    case GGML_TYPE_Q2_K: return "WTYPE_Q2_K";
    case GGML_TYPE_Q3_K: return "WTYPE_Q3_K";
    case GGML_TYPE_Q4_K: return "WTYPE_Q4_K";
    case GGML_TYPE_Q5_K: return "WTYPE_Q5_K";
    case GGML_TYPE_Q6_K: return "WTYPE_Q6_K";
    case GGML_TYPE_IQ4_NL: return "WTYPE_IQ4_NL";
    default: return NULL; // the IQ*_XXS/XS/S/M, TQ and MXFP4 types: no decoder
    }
}

// Uploads tensor id: 1-D tensors as float arrays, matrices as their GGUF bytes in chunks of
// whole rows no larger than the SSBO block limit.
static int upload_tensor(struct GlEngine* g, int id, int as_matrix, struct Err* e) {
    struct GlTensor* w = &g->wt[id];
    if (w->n_chunks) return 0;
    const struct GgufTensor* t = &g->m->gguf.tensors[id];
    if (!as_matrix) {
        float* f = malloc((size_t)t->n_elements * sizeof(float) + 4);
        if (!f) return err_set(e, ERR_NOMEM, "gl_init: out of memory converting '%s'", t->name);
        if (quant_dequant_row_f32(t->type, t->data, f, t->n_elements)) {
            free(f);
            return err_set(e, ERR_UNSUPPORTED, "gl_init: cannot convert '%s' (%s)", t->name,
                           quant_type_name(t->type));
        }
        w->type = GGML_TYPE_F32;
        w->n_in = t->n_elements;
        w->rows = 1;
        w->row_bytes = (size_t)t->n_elements * sizeof(float);
        w->rows_per_chunk = 1;
        w->bufs = calloc(1, sizeof(GLuint));
        if (!w->bufs) {
            free(f);
            return err_set(e, ERR_NOMEM, "gl_init: out of memory");
        }
        w->bufs[0] = gl_buffer_new(w->row_bytes, f);
        w->n_chunks = 1;
        free(f);
        return gl_check("gl_init: uploading a vector", e);
    }
    if (!wtype_define(t->type))
        return err_set(
            e, ERR_UNSUPPORTED,
            "gl_init: tensor '%s' is %s; the GLES engine reads "
            "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K and IQ4_NL (use mattn-ref)",
            t->name, quant_type_name(t->type));
    w->type = t->type;
    w->n_in = t->ne[0];
    w->rows = t->n_elements / t->ne[0];
    w->row_bytes = quant_row_size(t->type, t->ne[0]);
    size_t limit = g->weight_chunk;
    w->rows_per_chunk = (int64_t)((limit - 4) / w->row_bytes); // 4: see the padding below
    if (w->rows_per_chunk < 1)
        return err_set(e, ERR_UNSUPPORTED,
                       "gl_init: one row of '%s' (%zu bytes) exceeds the "
                       "SSBO limit of %zu bytes",
                       t->name, w->row_bytes, limit);
    if (w->rows_per_chunk > w->rows) w->rows_per_chunk = w->rows;
    int n = (int)((w->rows + w->rows_per_chunk - 1) / w->rows_per_chunk);
    w->bufs = calloc((size_t)n, sizeof(GLuint));
    if (!w->bufs) return err_set(e, ERR_NOMEM, "gl_init: out of memory");
    for (int c = 0; c < n; c++) {
        int64_t r0 = (int64_t)c * w->rows_per_chunk;
        int64_t nr = w->rows - r0 < w->rows_per_chunk ? w->rows - r0 : w->rows_per_chunk;
        // A chunk is padded by 4 bytes: w_u32() on the last block may touch the next word.
        size_t bytes = (size_t)nr * w->row_bytes;
        GLuint b = gl_buffer_new(bytes + 4, NULL);
        glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)bytes,
                        (const uint8_t*)t->data + (size_t)r0 * w->row_bytes);
        w->bufs[c] = b;
        w->n_chunks = c + 1;
    }
    char what[200];
    snprintf(what, sizeof(what), "gl_init: uploading '%s'", t->name);
    return gl_check(what, e);
}

// ---------------------------------------------------------------------------------------
// rope tables: (cos, sin) per (position, pair) in double, shared by ops with equal parameters

struct RopeKey {
    int n_rot, factors;
    double base, scale;
};

static GLuint rope_table(struct GlEngine* g, const struct Op* op, struct Err* e) {
    int n_op = (int)(op - g->g.ops);
    for (int i = 0; i < n_op; i++) {
        const struct Op* p = &g->g.ops[i];
        if (p->kind == OP_ROPE && g->rope_tab[i] && p->p.rope.n_rot == op->p.rope.n_rot &&
            p->p.rope.freq_base == op->p.rope.freq_base &&
            p->p.rope.freq_scale == op->p.rope.freq_scale && p->w[0] == op->w[0])
            return g->rope_tab[i];
    }
    int half = op->p.rope.n_rot / 2;
    float* tab = malloc((size_t)g->n_ctx * (size_t)(half > 0 ? half : 1) * 2 * sizeof(float));
    double* f = op->w[0] >= 0 ? malloc((size_t)(half + 1) * sizeof(double)) : NULL;
    if (!tab || (op->w[0] >= 0 && !f)) {
        free(tab);
        free(f);
        err_set(e, ERR_NOMEM, "gl_init: out of memory for a rope table");
        return 0;
    }
    if (f) {
        const struct GgufTensor* t = &g->m->gguf.tensors[op->w[0]];
        quant_dequant_row(t->type, t->data, f, half);
    }
    for (int i = 0; i < half; i++) {
        // As ref/kernels.c rope(): theta = pos * freq_scale * base^(-2i/n_rot) / factor_i
        double inv_freq = 1.0 / pow(op->p.rope.freq_base, (double)(2 * i) / op->p.rope.n_rot);
        for (int pos = 0; pos < g->n_ctx; pos++) {
            double theta = (double)pos * op->p.rope.freq_scale * inv_freq;
            if (f) theta /= f[i];
            tab[2 * ((size_t)pos * half + i)] = (float)cos(theta);
            tab[2 * ((size_t)pos * half + i) + 1] = (float)sin(theta);
        }
    }
    GLuint b = gl_buffer_new((size_t)g->n_ctx * (size_t)half * 2 * sizeof(float), tab);
    free(tab);
    free(f);
    return b;
}

// ---------------------------------------------------------------------------------------
// init / free

void gl_free(struct GlEngine* g) {
    if (!g) return;
    if (g->renderer) { // the context exists: GL objects can be deleted
        glDeleteBuffers(GRAPH_MAX_BUFS, g->bufs);
        for (int s = 0; s < g->g.n_states; s++) {
            if (g->state_k) glDeleteBuffers(1, &g->state_k[s]);
            if (g->state_v) glDeleteBuffers(1, &g->state_v[s]);
        }
        if (g->wt && g->m)
            for (int64_t i = 0; i < g->m->gguf.n_tensors; i++)
                if (g->wt[i].n_chunks && !g->wt[i].borrowed)
                    glDeleteBuffers(g->wt[i].n_chunks, g->wt[i].bufs);
        if (g->attn_part) glDeleteBuffers(1, &g->attn_part);
        if (g->attn_count) glDeleteBuffers(1, &g->attn_count);
        if (g->readback) glDeleteBuffers(1, &g->readback);
        if (g->rope_tab)
            for (int i = 0; i < g->g.n_ops; i++) {
                int shared = 0;
                for (int j = 0; j < i && !shared; j++)
                    shared = g->rope_tab[j] == g->rope_tab[i];
                if (g->rope_tab[i] && !shared) glDeleteBuffers(1, &g->rope_tab[i]);
            }
        if (g->queries) glDeleteQueries(g->g.n_ops + 1, g->queries);
        glDeleteBuffers(1, &g->tokens);
        glDeleteBuffers(1, &g->dummy);
        GLuint moe[6] = {g->moe_logits, g->moe_sel, g->moe_pw, g->moe_hg, g->moe_hu, g->moe_eo};
        for (int k = 0; k < 6; k++)
            if (moe[k]) glDeleteBuffers(1, &moe[k]);
        gl_programs_free(g);
        gl_context_release();
    }
    if (g->wt && g->m)
        for (int64_t i = 0; i < g->m->gguf.n_tensors; i++)
            free(g->wt[i].bufs);
    free(g->wt);
    free(g->state_k);
    free(g->state_v);
    free(g->rope_tab);
    free(g->op_prog);
    free(g->op_prog1);
    free(g->moe);
    free(g->fuse);
    free(g->logits_host);
    free(g->hook_buf);
    free(g->queries);
    free(g->op_ns);
    graph_free(&g->g);
    memset(g, 0, sizeof(*g));
}

// ---- matvec.comp: the generation-time mat-vec, for shapes it reads with 16-byte loads.

static int has_extension(const char* name) {
    GLint n_ext = 0;
    glGetIntegerv(GL_NUM_EXTENSIONS, &n_ext);
    for (GLint i = 0; i < n_ext; i++) {
        const char* x = (const char*)glGetStringi(GL_EXTENSIONS, (GLuint)i);
        if (x && !strcmp(x, name)) return 1;
    }
    return 0;
}

// Lanes of the subgroups the driver gives compute shaders, when they can add (subgroupAdd);
// 0 when GL_KHR_shader_subgroup is absent or lacks arithmetic (llvmpipe).
#define GL_SUBGROUP_SIZE_KHR 0x9532
#define GL_SUBGROUP_SUPPORTED_STAGES_KHR 0x9533
#define GL_SUBGROUP_SUPPORTED_FEATURES_KHR 0x9534
#define GL_SUBGROUP_FEATURE_ARITHMETIC_BIT_KHR 0x4
int gl_subgroup_lanes(void) {
    int found = has_extension("GL_KHR_shader_subgroup");
    GLint size = 0, stages = 0, features = 0;
    if (found) {
        glGetIntegerv(GL_SUBGROUP_SIZE_KHR, &size);
        glGetIntegerv(GL_SUBGROUP_SUPPORTED_STAGES_KHR, &stages);
        glGetIntegerv(GL_SUBGROUP_SUPPORTED_FEATURES_KHR, &features);
    }
    glGetError(); // the queries are invalid enums where the extension is absent
    int ok = found && (stages & GL_COMPUTE_SHADER_BIT) &&
             (features & GL_SUBGROUP_FEATURE_ARITHMETIC_BIT_KHR) && size >= 4 && size <= 128 &&
             (size & (size - 1)) == 0;
    return ok ? size : 0;
}

// Whether matvec.comp can run op (an OP_MATMUL): whole 16-byte words or blocks per row and
// rows of x starting on 4-float boundaries. Reads the GGUF tensor: fuse.c asks before upload.
int gl_matvec_fits(const struct GlEngine* g, const struct Op* op) {
    const struct GgufTensor* W = &g->m->gguf.tensors[op->w[0]];
    int per = W->type == GGML_TYPE_F32                                   ? 4
              : (W->type == GGML_TYPE_F16 || W->type == GGML_TYPE_BF16)  ? 8
              : (W->type == GGML_TYPE_Q8_0 || W->type == GGML_TYPE_Q4_0) ? 32
                                                                         : 0;
    return per && W->ne[0] % per == 0 && g->g.bufs[op->in[0]].width % 4 == 0;
}

// matvec.comp's shape: TEAMS teams of one subgroup (else 32 lanes) per work group, NR rows
// per team; opt.mv_teams, opt.mv_nr override the default 4,2 (4,2 beat 4,1, 2,2 and 8,2
// on an H100 for Q4_0 and Q8_0; for tuning).
static void matvec_shape(struct GlEngine* g) {
    int team = g->subgroup ? g->subgroup : 32, a = g->opt.mv_teams, b = g->opt.mv_nr;
    g->mv_teams = 4;
    g->mv_nr = 2;
    if (a >= 1 && a * team <= 1024 && b >= 1 && b <= 4) {
        g->mv_teams = a;
        g->mv_nr = b;
    }
}

int gl_matvec_program(struct GlEngine* g, enum GgmlType type, int teams, int nr,
                      const char* epilogue, struct Err* e) {
    int team = g->subgroup ? g->subgroup : 32;
    char d[320];
    snprintf(d, sizeof(d),
             "%s#define W_BINDING 2\n#define %s 1\n#define TEAM %d\n#define TEAMS %d\n"
             "#define MV_X %d\n#define NR %d\n%s",
             g->subgroup ? "#extension GL_KHR_shader_subgroup_basic : enable\n"
                           "#extension GL_KHR_shader_subgroup_arithmetic : enable\n"
                           "#define SUBGROUP 1\n"
                         : "",
             wtype_define(type), team, teams, team * teams, nr, epilogue);
    return gl_program(g, K_MATVEC, d, e);
}

// Rows a KV slot keeps: a ring of W rows for a sliding window shorter than the context (as
// ref/forward.c), else n_ctx.
static int kv_rows(const struct GlEngine* g, const struct StateDesc* sd) {
    return sd->window > 0 && sd->window < g->n_ctx ? sd->window : g->n_ctx;
}

// Picks (compiling now) the programs op i runs: op_prog for batches, op_prog1 for one row.
static int choose_programs(struct GlEngine* g, int i, struct Err* e) {
    const struct Op* op = &g->g.ops[i];
    char d[160];
    int p = -1, p1 = -1;
    switch (op->kind) {
    case OP_EMBED:
        snprintf(d, sizeof(d), "#define W_BINDING 2\n#define %s 1\n",
                 wtype_define(g->wt[op->w[0]].type));
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
                 wtype_define(g->wt[op->w[0]].type));
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
                 : gl_program(
                       g, K_ATTN,
                       kv_rows(g, &g->g.states[op->state]) < g->n_ctx ? "#define RING 1\n" : "", e);
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
                     wtype_define(g->wt[op->w[k]].type));
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
        snprintf(d, sizeof(d), "#define W_BINDING 2\n#define %s 1\n", wtype_define(W->type));
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

int gl_kv_row(const struct GlEngine* g, int state, int64_t pos) {
    return (int)(pos % kv_rows(g, &g->g.states[state]));
}

int gl_init(struct GlEngine* g, const struct Model* m, int n_ctx, int max_batch,
            const struct GlOptions* opt, struct Err* e) {
    memset(g, 0, sizeof(*g));
    if (opt) g->opt = *opt;
    g->m = m;
    g->n_ctx = n_ctx;
    g->max_batch = max_batch;
    if (n_ctx < 1 || max_batch < 1)
        return err_set(e, ERR_ARG, "gl_init: context %d and batch %d must be positive", n_ctx,
                       max_batch);
    int rc = gl_context_acquire(g->opt.egl, &g->egl_path, &g->renderer, e);
    if (rc) {
        g->renderer = NULL;
        return rc;
    }
    if ((rc = graph_build(&g->g, m, e))) goto fail;
    glGetIntegerv(GL_MAX_SHADER_STORAGE_BLOCK_SIZE, &g->max_ssbo);
    // opt.max_ssbo lowers the weight chunk size (the tests force the split path with it).
    g->weight_chunk = (size_t)g->max_ssbo;
    if (g->opt.max_ssbo > 0 && g->opt.max_ssbo < g->weight_chunk) g->weight_chunk = g->opt.max_ssbo;
    g->subgroup = g->opt.no_subgroup ? 0 : gl_subgroup_lanes();
    matvec_shape(g);
    int widest = 1;
    for (int i = 0; i < g->g.n_bufs; i++) {
        size_t bytes = (size_t)max_batch * (size_t)g->g.bufs[i].width * sizeof(float);
        if (bytes > (size_t)g->max_ssbo) {
            rc = err_set(e, ERR_UNSUPPORTED,
                         "gl_init: buffer '%s' of %d x %d floats exceeds the "
                         "SSBO limit of %d bytes; use a smaller batch",
                         g->g.bufs[i].name, max_batch, g->g.bufs[i].width, (int)g->max_ssbo);
            goto fail;
        }
        g->bufs[i] = gl_buffer_new(bytes, NULL);
        if (g->g.bufs[i].width > widest) widest = g->g.bufs[i].width;
    }
    g->state_k = calloc((size_t)g->g.n_states + 1, sizeof(GLuint));
    g->state_v = calloc((size_t)g->g.n_states + 1, sizeof(GLuint));
    g->wt = calloc((size_t)m->gguf.n_tensors + 1, sizeof(*g->wt));
    g->rope_tab = calloc((size_t)g->g.n_ops + 1, sizeof(GLuint));
    g->op_prog = calloc((size_t)g->g.n_ops + 1, sizeof(int));
    g->op_prog1 = calloc((size_t)g->g.n_ops + 1, sizeof(int));
    g->moe = calloc((size_t)g->g.n_ops + 1, sizeof(*g->moe));
    g->logits_host = malloc((size_t)max_batch * (size_t)m->config.n_vocab * sizeof(float));
    g->hook_buf = malloc((size_t)max_batch * (size_t)widest * sizeof(float));
    if (!g->state_k || !g->state_v || !g->wt || !g->rope_tab || !g->op_prog || !g->op_prog1 ||
        !g->moe || !g->logits_host || !g->hook_buf) {
        rc = err_set(e, ERR_NOMEM, "gl_init: out of memory");
        goto fail;
    }
    for (int s = 0; s < g->g.n_states; s++) {
        const struct StateDesc* sd = &g->g.states[s];
        switch (sd->kind) {
        case STATE_KV: {
            size_t bytes = (size_t)kv_rows(g, sd) * (size_t)sd->width * sizeof(float);
            if (bytes > (size_t)g->max_ssbo) {
                // TODO: split the KV cache like the weights; a context this long is rare here.
                rc = err_set(e, ERR_UNSUPPORTED,
                             "gl_init: a KV cache of %d x %d floats exceeds "
                             "the SSBO limit of %d bytes; lower -c",
                             kv_rows(g, sd), sd->width, (int)g->max_ssbo);
                goto fail;
            }
            g->state_k[s] = gl_buffer_new(bytes, NULL);
            g->state_v[s] = gl_buffer_new(bytes, NULL);
            break;
        }
        // ---- rwkv7, mamba, griffin: one row, zeroed by gl_reset
        case STATE_SHIFT:
        case STATE_WKV:
        case STATE_CONV:
        case STATE_SSM:
        case STATE_RG_LRU:
            if ((size_t)sd->width * sizeof(float) > (size_t)g->max_ssbo) {
                rc = err_set(e, ERR_UNSUPPORTED,
                             "gl_init: a recurrent state of %d floats "
                             "exceeds the SSBO limit of %d bytes",
                             sd->width, (int)g->max_ssbo);
                goto fail;
            }
            g->state_k[s] = gl_buffer_new((size_t)sd->width * sizeof(float), NULL);
            break;
        case STATE_KIND_COUNT: break;
        }
    }
    if ((rc = moe_scratch(g, e))) goto fail;
    if ((rc = attn_scratch(g, e))) goto fail;
    g->tokens = gl_buffer_new((size_t)max_batch * sizeof(int32_t), NULL);
    g->dummy = gl_buffer_new(16, NULL);
    if ((rc = gl_fuse_plan(g, e))) goto fail; // packs some weights: before the uploads
    for (int i = 0; i < g->g.n_ops && !rc; i++) {
        const struct Op* op = &g->g.ops[i];
        for (int k = 0; k < OP_MAX_W && !rc; k++)
            if (op->w[k] >= 0)
                rc = upload_tensor(g, op->w[k], OP_INFO[op->kind].w[k] == WROLE_MATRIX, e);
        if (!rc && op->kind == OP_ROPE && !(g->rope_tab[i] = rope_table(g, op, e)))
            rc = ERR_NOMEM; // rope_table's only failure
        if (!rc) rc = choose_programs(g, i, e);
    }
    if (rc) goto fail;
    if ((rc = gl_check("gl_init", e))) goto fail;
    gl_reset(g);
    return 0;
fail:
    gl_free(g);
    return rc;
}

void gl_reset(struct GlEngine* g) {
    // Stale keys beyond n_past are never read (attention stops at pos), so the caches need
    // no clearing; zeroing keeps dumps of a fresh engine deterministic all the same.
    g->n_past = 0;
    for (int s = 0; s < g->g.n_states; s++) {
        const struct StateDesc* sd = &g->g.states[s];
        GLuint bs[2] = {g->state_k[s], g->state_v[s]};
        if (sd->kind == STATE_KV) {
            size_t bytes = (size_t)kv_rows(g, sd) * (size_t)sd->width * sizeof(float);
            for (int k = 0; k < 2; k++) {
                if (!bs[k]) continue;
                glBindBuffer(GL_SHADER_STORAGE_BUFFER, bs[k]);
                glBufferData(GL_SHADER_STORAGE_BUFFER, (GLsizeiptr)bytes, NULL, GL_DYNAMIC_COPY);
            }
        } else if (bs[0]) {
            // ---- rwkv7, mamba, griffin: a recurrent state starts at zero (glBufferData(NULL)
            // leaves the contents undefined)
            size_t bytes = (size_t)sd->width * sizeof(float);
            float* zero = calloc(1, bytes);
            glBindBuffer(GL_SHADER_STORAGE_BUFFER, bs[0]);
            if (zero) glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)bytes, zero);
            free(zero);
        }
    }
    g->logits_ready = 0;
}

void gl_finish(void) {
    glFinish();
}

// ---------------------------------------------------------------------------------------
// the interpreter

// Copies rows [t0, t0+n) of buffer id (width floats) to dst.
static void read_rows(struct GlEngine* g, GLuint buf, int t0, int n, int width, float* dst) {
    gl_barrier(g);
    glMemoryBarrier(GL_BUFFER_UPDATE_BARRIER_BIT);
    size_t off = (size_t)t0 * (size_t)width * sizeof(float);
    size_t len = (size_t)n * (size_t)width * sizeof(float);
    // The rows go through a small read-back buffer: mapping a range of the activation buffer
    // itself cost time in proportion to the whole buffer on NVIDIA's driver (a batch of 512
    // rows of a 256000-word vocabulary: ~32 ms per generated token).
    if (len > g->readback_bytes) {
        if (g->readback) glDeleteBuffers(1, &g->readback);
        glGenBuffers(1, &g->readback);
        glBindBuffer(GL_COPY_WRITE_BUFFER, g->readback);
        glBufferData(GL_COPY_WRITE_BUFFER, (GLsizeiptr)len, NULL, GL_STREAM_READ);
        g->readback_bytes = len;
    }
    glBindBuffer(GL_COPY_READ_BUFFER, buf);
    glBindBuffer(GL_COPY_WRITE_BUFFER, g->readback);
    glCopyBufferSubData(GL_COPY_READ_BUFFER, GL_COPY_WRITE_BUFFER, (GLintptr)off, 0,
                        (GLsizeiptr)len);
    const void* p = glMapBufferRange(GL_COPY_WRITE_BUFFER, 0, (GLsizeiptr)len, GL_MAP_READ_BIT);
    if (p) {
        memcpy(dst, p, len);
        glUnmapBuffer(GL_COPY_WRITE_BUFFER);
    } else {
        memset(dst, 0, len);
    }
}

int gl_float_bits(double x) {
    float f = (float)x;
    int b;
    memcpy(&b, &f, 4);
    return b;
}

// ---- mamba: the (rows of n_out per slot) mat-vecs of stacked tensor w with moe_matmul.comp
// program prog, one dispatch per chunk of w's rows. k slots per row; sel: each slot's expert
// (0: none, every slot reads matrix 0, as the router does); x_slot: x has a row per slot.
static void moe_matmul(struct GlEngine* g, int prog, const struct GlTensor* w, int n_out, GLuint y,
                       GLuint x, int sx, int x_slot, GLuint sel, int k, int t0, int n) {
    for (int c = 0; c < w->n_chunks; c++) {
        int64_t r0 = (int64_t)c * w->rows_per_chunk;
        int rows = gl_chunk_rows(w, c);
        int u[10] = {(int)w->n_in,      sx,      n_out, rows, (int)r0, k, t0, x_slot,
                     (int)w->row_bytes, sel != 0};
        gl_dispatch(g, prog, n_out, n * k, 1, u, 10,
                    (const GLuint[]){y, x, w->bufs[c], sel ? sel : g->dummy}, 4);
    }
}

// ---- mamba: one OP_MOE over rows t0..t0+n-1 (slots s = t*k + i), all on the GPU: router
// logits, routing, the chosen experts' gate and up mat-vecs, glu, down, weighted sum.
static void run_moe(struct GlEngine* g, int i, int t0, int n) {
    const struct Op* op = &g->g.ops[i];
    const struct GlMoe* mp = &g->moe[i];
    int ne = op->p.moe.n_expert, k = op->p.moe.n_expert_used, ff = op->p.moe.n_ff;
    int wout = g->g.bufs[op->out].width, win = g->g.bufs[op->in[0]].width;
    GLuint u = g->bufs[op->in[0]];
    int gx, gy;
    moe_matmul(g, mp->router, &g->wt[op->w[0]], ne, g->moe_logits, u, win, 0, 0, 1, t0, n);
    gl_grid(n, &gx, &gy);
    gl_dispatch(g, mp->route, gx, gy, 1, (const int[]){ne, k, t0, n}, 4,
                (const GLuint[]){g->moe_logits, g->moe_sel, g->moe_pw}, 3);
    moe_matmul(g, mp->gate, &g->wt[op->w[1]], ff, g->moe_hg, u, win, 0, g->moe_sel, k, t0, n);
    moe_matmul(g, mp->up, &g->wt[op->w[2]], ff, g->moe_hu, u, win, 0, g->moe_sel, k, t0, n);
    gl_grid((int64_t)n * k * ff, &gx, &gy);
    gl_dispatch(g, mp->glu, gx, gy, 1, (const int[]){ff, ff, ff, ff, t0 * k, n * k, ACT_SILU}, 7,
                (const GLuint[]){g->moe_hg, g->moe_hg, g->moe_hu}, 3);
    moe_matmul(g, mp->down, &g->wt[op->w[3]], wout, g->moe_eo, g->moe_hg, ff, 1, g->moe_sel, k, t0,
               n);
    gl_grid((int64_t)n * wout, &gx, &gy);
    gl_dispatch(g, mp->sum, gx, gy, 1, (const int[]){wout, wout, k, t0, n}, 5,
                (const GLuint[]){g->bufs[op->out], g->moe_eo, g->moe_pw}, 3);
}

static void run_op(struct GlEngine* g, int i, int t0, int n) {
    const struct Op* op = &g->g.ops[i];
    const struct Buf* B = g->g.bufs;
    int pos0 = (int)g->n_past;
    int wout = B[op->out].width;
    int gx, gy;
#define O g->bufs[op->out]
#define I(k) g->bufs[op->in[k]]
    switch (op->kind) {
    case OP_EMBED: {
        const struct GlTensor* E = &g->wt[op->w[0]];
        gl_grid((int64_t)n * wout, &gx, &gy);
        for (int c = 0; c < E->n_chunks; c++) {
            int u[7] = {wout,
                        wout,
                        t0,
                        n,
                        (int)(c * E->rows_per_chunk),
                        (int)E->rows_per_chunk,
                        (int)E->row_bytes};
            gl_dispatch(g, g->op_prog[i], gx, gy, 1, u, 7,
                        (const GLuint[]){g->bufs[op->out], g->tokens, E->bufs[c]}, 3);
        }
        break;
    }
    case OP_RMSNORM: {
        float eps = (float)op->p.norm.eps;
        int eb;
        memcpy(&eb, &eps, 4);
        gl_dispatch(
            g, g->op_prog[i], n, 1, 1, (const int[]){wout, wout, B[op->in[0]].width, t0, eb}, 5,
            (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], g->wt[op->w[0]].bufs[0]}, 3);
        break;
    }
    case OP_MATMUL: {
        const struct GlTensor* W = &g->wt[op->w[0]];
        GLuint bias = op->w[1] >= 0 ? g->wt[op->w[1]].bufs[0] : g->dummy;
        int vec = n == 1 && g->op_prog1[i] != g->op_prog[i]; // matvec.comp fits this op
        int rows_per_group = vec ? g->mv_teams * g->mv_nr : MM_TILE;
        for (int c = 0; c < W->n_chunks; c++) {
            int64_t r0 = (int64_t)c * W->rows_per_chunk;
            int rows = gl_chunk_rows(W, c);
            gl_groups_2d((rows + rows_per_group - 1) / rows_per_group, &gx, &gy);
            if (vec) {
                int u[8] = {
                    (int)W->n_in,  t0 * B[op->in[0]].width / 4, t0 * wout,       rows, (int)r0,
                    op->w[1] >= 0, (int)W->row_bytes,           (int)W->row_base};
                gl_dispatch(g, g->op_prog1[i], gx, gy, 1, u, 8,
                            (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], W->bufs[c], bias,
                                             W->bufs[c]},
                            5);
            } else {
                int u[10] = {(int)W->n_in,
                             B[op->in[0]].width,
                             wout,
                             rows,
                             (int)r0,
                             t0,
                             n,
                             op->w[1] >= 0,
                             (int)W->row_bytes,
                             (int)W->row_base};
                gl_dispatch(
                    g, g->op_prog[i], gx, gy, (n + MM_TILE - 1) / MM_TILE, u, 10,
                    (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], W->bufs[c], bias}, 4);
            }
        }
        break;
    }
    case OP_ROPE: {
        gl_grid((int64_t)n * op->p.rope.n_head * (op->p.rope.head_dim / 2), &gx, &gy);
        int u[9] = {op->p.rope.n_head,
                    op->p.rope.head_dim,
                    op->p.rope.n_rot,
                    op->p.rope.type == ROPE_NEOX,
                    wout,
                    B[op->in[0]].width,
                    t0,
                    n,
                    pos0};
        gl_dispatch(g, g->op_prog[i], gx, gy, 1, u, 9,
                    (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], g->rope_tab[i]}, 3);
        break;
    }
    case OP_ATTN: {
        // A full cache stores the batch's keys, then attends; a ring (sliding window) attends
        // first, reading this batch's keys from k and v (attn.comp RING), then stores the
        // batch's last `rows` positions, so a prompt longer than the window needs one pass.
        const struct StateDesc* sd = &g->g.states[op->state];
        int w = sd->width, rows = kv_rows(g, sd), ring = rows < g->n_ctx;
        int sk = B[op->in[1]].width, sv = B[op->in[2]].width;
        GLuint K = g->state_k[op->state], V = g->state_v[op->state];
        int first = ring && n > rows ? t0 + n - rows : t0, n_store = t0 + n - first;
        int store[7] = {w, sk, sv, first, n_store, pos0, rows};
        const GLuint store_bufs[4] = {K, V, I(1), I(2)};
        gl_grid((int64_t)n_store * w, &gx, &gy);
        int sb = gl_float_bits(op->p.attn.scale);
        if (n == 1 && g->attn_split >= 0) {
            // One position: store its key and value (unless MV_QKV did; a ring row it
            // overwrites held a key outside the window), then attend with the keys split
            // over work groups, the last of each head merging them (attn_split.comp).
            if (!(g->fusing && g->fuse[i].kind == FUSE_ATTEND))
                gl_dispatch(g, g->op_prog[i], gx, gy, 1, store, 7, store_bufs, 4);
            int j0 = op->p.attn.window > 0 && pos0 - op->p.attn.window + 1 > 0
                         ? pos0 - op->p.attn.window + 1
                         : 0;
            int n_keys = pos0 - j0 + 1, n_split = (n_keys + 63) / 64;
            int u[11] = {op->p.attn.n_head,
                         op->p.attn.n_head_kv,
                         op->p.attn.head_dim,
                         sb,
                         t0 * B[op->in[0]].width,
                         w,
                         j0,
                         n_keys,
                         n_split,
                         ring ? rows : 0,
                         t0 * wout};
            gl_dispatch(g, g->attn_split, op->p.attn.n_head, n_split, 1, u, 11,
                        (const GLuint[]){g->attn_part, I(0), K, V, g->attn_count, O}, 6);
            break;
        }
        if (!ring) gl_dispatch(g, g->op_prog[i], gx, gy, 1, store, 7, store_bufs, 4);
        int u[13] = {op->p.attn.n_head,
                     op->p.attn.n_head_kv,
                     op->p.attn.head_dim,
                     op->p.attn.window,
                     sb,
                     B[op->in[0]].width,
                     wout,
                     w,
                     t0,
                     pos0,
                     rows,
                     sk,
                     sv};
        gl_dispatch(g, g->op_prog1[i], op->p.attn.n_head, n, 1, u, ring ? 13 : 10,
                    (const GLuint[]){O, I(0), K, V, I(1), I(2)}, ring ? 6 : 4);
        if (ring) gl_dispatch(g, g->op_prog[i], gx, gy, 1, store, 7, store_bufs, 4);
        break;
    }
    case OP_ADD:
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, wout, B[op->in[0]].width, B[op->in[1]].width, t0, n}, 6,
                    (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], g->bufs[op->in[1]]}, 3);
        break;
    case OP_GLU:
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, wout, B[op->in[0]].width, B[op->in[1]].width, t0, n,
                                  (int)op->p.glu.act},
                    7, (const GLuint[]){g->bufs[op->out], g->bufs[op->in[0]], g->bufs[op->in[1]]},
                    3);
        break;
    // ---- rwkv7
    case OP_LAYERNORM: {
        const struct GlTensor *w = &g->wt[op->w[0]], *b = &g->wt[op->w[1]];
        int u[6] = {wout, op->p.layernorm.n_group,           wout, B[op->in[0]].width,
                    t0,   gl_float_bits(op->p.layernorm.eps)};
        gl_dispatch(g, g->op_prog[i], op->p.layernorm.n_group, n, 1, u, 6,
                    (const GLuint[]){O, I(0), w->bufs[0], b->bufs[0]}, 4);
        break;
    }
    case OP_TOKEN_SHIFT:
        gl_grid(wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, wout, B[op->in[0]].width, t0, n}, 5,
                    (const GLuint[]){O, I(0), g->state_k[op->state]}, 3);
        break;
    case OP_LERP: {
        // the mix: a slice of a weight vector stack (stride 0) or a row of in[2]
        int weight = op->w[0] >= 0;
        GLuint mix = weight ? g->wt[op->w[0]].bufs[0] : I(2);
        int u[8] = {wout,
                    wout,
                    B[op->in[0]].width,
                    B[op->in[1]].width,
                    weight ? 0 : B[op->in[2]].width,
                    weight ? op->p.lerp.slice * wout : 0,
                    t0,
                    n};
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1, u, 8, (const GLuint[]){O, I(0), I(1), mix}, 4);
        break;
    }
    case OP_UNARY:
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, wout, B[op->in[0]].width, t0, n, (int)op->p.unary.fn}, 6,
                    (const GLuint[]){O, I(0)}, 2);
        break;
    case OP_MUL:
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, wout, B[op->in[0]].width, B[op->in[1]].width, t0, n}, 6,
                    (const GLuint[]){O, I(0), I(1)}, 3);
        break;
    case OP_RWKV7_KK:
        gl_dispatch(g, g->op_prog[i], op->p.rwkv7.n_head, n, 1,
                    (const int[]){op->p.rwkv7.head_size, wout, B[op->in[0]].width, t0}, 4,
                    (const GLuint[]){O, I(0), g->wt[op->w[0]].bufs[0]}, 3);
        break;
    case OP_RWKV7_KA:
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, wout, B[op->in[0]].width, B[op->in[1]].width, t0, n}, 6,
                    (const GLuint[]){O, I(0), I(1), g->wt[op->w[0]].bufs[0]}, 4);
        break;
    case OP_WKV7: {
        // in: r, w, k, v, kk, a; the whole batch in one dispatch, one work group per head
        int u[9] = {wout, 0, 0, 0, 0, 0, 0, t0, n};
        for (int k = 0; k < 6; k++)
            u[1 + k] = B[op->in[k]].width;
        gl_dispatch(g, g->op_prog[i], op->p.rwkv7.n_head, 1, 1, u, 9,
                    (const GLuint[]){O, g->state_k[op->state], I(0), I(1), I(2), I(3), I(4), I(5)},
                    8);
        break;
    }
    case OP_RWKV7_BONUS: {
        // in: y, r, k, v
        int u[7] = {
            op->p.rwkv7.head_size, wout, B[op->in[0]].width, B[op->in[1]].width, B[op->in[2]].width,
            B[op->in[3]].width,    t0};
        gl_dispatch(g, g->op_prog[i], op->p.rwkv7.n_head, n, 1, u, 7,
                    (const GLuint[]){O, I(0), I(1), I(2), I(3), g->wt[op->w[0]].bufs[0]}, 6);
        break;
    }
    // ---- mamba
    case OP_SLICE:
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, wout, B[op->in[0]].width, op->p.slice.offset, t0, n}, 6,
                    (const GLuint[]){O, I(0)}, 2);
        break;
    case OP_SSM_CONV:
        gl_grid(wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, op->p.ssm.d_conv, wout, B[op->in[0]].width, t0, n}, 6,
                    (const GLuint[]){O, I(0), g->state_k[op->state], g->wt[op->w[0]].bufs[0],
                                     g->wt[op->w[1]].bufs[0]},
                    5);
        break;
    case OP_SSM_SCAN:
    case OP_SSM_SCAN2: {
        // in: x, dt, B, C; w: A, D, dt bias; one invocation per channel walks the batch
        const GLuint bufs[9] = {O,
                                g->state_k[op->state],
                                I(0),
                                I(1),
                                I(2),
                                I(3),
                                g->wt[op->w[0]].bufs[0],
                                g->wt[op->w[1]].bufs[0],
                                g->wt[op->w[2]].bufs[0]};
        int sx = B[op->in[0]].width, sdt = B[op->in[1]].width, sb = B[op->in[2]].width,
            sc = B[op->in[3]].width;
        gl_grid((int64_t)op->p.ssm.n_head * op->p.ssm.head_dim, &gx, &gy);
        if (op->kind == OP_SSM_SCAN)
            gl_dispatch(
                g, g->op_prog[i], gx, gy, 1,
                (const int[]){op->p.ssm.n_head, wout, sx, sdt, sb, sc, t0, n, op->p.ssm.n_group}, 9,
                bufs, 9);
        else
            gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                        (const int[]){op->p.ssm.n_head, op->p.ssm.head_dim, op->p.ssm.n_group, wout,
                                      sx, sdt, sb, sc, t0, n},
                        10, bufs, 9);
        break;
    }
    case OP_RMSNORM_GROUP:
        gl_dispatch(g, g->op_prog[i], op->p.gnorm.n_group, n, 1,
                    (const int[]){wout, op->p.gnorm.n_group, wout, B[op->in[0]].width, t0,
                                  gl_float_bits(op->p.gnorm.eps)},
                    6, (const GLuint[]){O, I(0), g->wt[op->w[0]].bufs[0]}, 3);
        break;
    case OP_MOE: run_moe(g, i, t0, n); break;
    // ---- griffin
    case OP_SCALE:
    case OP_SOFTCAP: {
        int scale = op->kind == OP_SCALE;
        int u[7] = {wout,
                    wout,
                    B[op->in[0]].width,
                    t0,
                    n,
                    scale ? GL_UNARY_SCALE : GL_UNARY_SOFTCAP,
                    gl_float_bits(scale ? op->p.scale.s : op->p.softcap.cap)};
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1, u, 7, (const GLuint[]){O, I(0)}, 2);
        break;
    }
    case OP_MATMUL_BLOCKDIAG: {
        // one dispatch per chunk of rows; a row finds its block (and inputs) from its index
        const struct GlTensor* W = &g->wt[op->w[0]];
        GLuint bias = op->w[1] >= 0 ? g->wt[op->w[1]].bufs[0] : g->dummy;
        for (int c = 0; c < W->n_chunks; c++) {
            int rows = gl_chunk_rows(W, c);
            int u[9] = {
                (int)W->n_in,  B[op->in[0]].width, wout, rows, (int)(c * W->rows_per_chunk), t0, n,
                op->w[1] >= 0, (int)W->row_bytes};
            gl_grid((int64_t)n * rows, &gx, &gy);
            gl_dispatch(g, g->op_prog[i], gx, gy, 1, u, 9,
                        (const GLuint[]){O, I(0), W->bufs[c], bias}, 4);
        }
        break;
    }
    case OP_RG_LRU: {
        // in: x, input gate, recurrent gate; the whole batch in one dispatch
        int u[8] = {wout, wout, B[op->in[0]].width, B[op->in[1]].width, B[op->in[2]].width, t0,
                    n,    pos0};
        gl_grid(wout, &gx, &gy);
        gl_dispatch(
            g, g->op_prog[i], gx, gy, 1, u, 8,
            (const GLuint[]){O, g->state_k[op->state], I(0), I(1), I(2), g->wt[op->w[0]].bufs[0]},
            6);
        break;
    }
    // ---- zamba2
    case OP_CONCAT:
        gl_grid((int64_t)n * wout, &gx, &gy);
        gl_dispatch(g, g->op_prog[i], gx, gy, 1,
                    (const int[]){wout, wout, B[op->in[0]].width, B[op->in[1]].width, t0, n}, 6,
                    (const GLuint[]){O, I(0), I(1)}, 3);
        break;
    case OP_COUNT: break;
    }
#undef O
#undef I
}

// ---- profiling: a GPU timestamp before the first op and after every op

#define GL_TIMESTAMP_EXT 0x8E28

int gl_profile(struct GlEngine* g, int on, struct Err* e) {
    if (g->queries) {
        glDeleteQueries(g->g.n_ops + 1, g->queries);
        free(g->queries);
        g->queries = NULL;
    }
    if (!on) return 0;
    int ext = has_extension("GL_EXT_disjoint_timer_query");
    g->query_counter = (void (*)(GLuint, GLenum))eglGetProcAddress("glQueryCounterEXT");
    g->query_u64 =
        (void (*)(GLuint, GLenum, GLuint64*))eglGetProcAddress("glGetQueryObjectui64vEXT");
    if (!ext || !g->query_counter || !g->query_u64)
        return err_set(e, ERR_UNSUPPORTED,
                       "profiling needs GL_EXT_disjoint_timer_query, which "
                       "%s lacks",
                       g->renderer);
    free(g->op_ns);
    g->queries = calloc((size_t)g->g.n_ops + 1, sizeof(GLuint));
    g->op_ns = calloc((size_t)g->g.n_ops + 1, sizeof(double));
    g->n_profiled = 0;
    if (!g->queries || !g->op_ns) return err_set(e, ERR_NOMEM, "gl_profile: out of memory");
    glGenQueries(g->g.n_ops + 1, g->queries);
    return gl_check("gl_profile", e);
}

static void profile_collect(struct GlEngine* g) {
    GLuint64 prev = 0, t = 0;
    for (int i = 0; i <= g->g.n_ops; i++) {
        g->query_u64(g->queries[i], GL_QUERY_RESULT, &t); // waits for the GPU
        if (i > 0) g->op_ns[i - 1] += (double)(t - prev);
        prev = t;
    }
    g->n_profiled++;
}

int gl_forward(struct GlEngine* g, const int32_t* tokens, int n, int last_only, struct Err* e) {
    if (n < 1 || n > g->max_batch)
        return err_set(e, ERR_ARG, "gl_forward: batch of %d (1..%d)", n, g->max_batch);
    if (g->n_past + n > g->n_ctx)
        return err_set(e, ERR_ARG,
                       "the context of %d tokens is full (%lld used, %d more asked); "
                       "raise -c",
                       g->n_ctx, (long long)g->n_past, n);
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= g->m->config.n_vocab)
            return err_set(e, ERR_ARG, "token id %d is outside the vocabulary (0..%d)", tokens[t],
                           g->m->config.n_vocab - 1);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, g->tokens);
    glBufferSubData(GL_SHADER_STORAGE_BUFFER, 0, (GLsizeiptr)((size_t)n * sizeof(int32_t)), tokens);
    int t_last = last_only ? n - 1 : 0;
    if (g->queries) g->query_counter(g->queries[0], GL_TIMESTAMP_EXT);
    g->fusing = n == 1 && !g->hook && g->fuse_on; // fuse.c
    for (int i = 0; i < g->g.n_ops; i++) {
        const struct Op* op = &g->g.ops[i];
        // The final norm and classifier only matter for rows whose logits are read.
        int t0 = i >= g->g.first_tail_op ? t_last : 0;
        if (!g->fusing || !gl_fuse_run(g, i)) run_op(g, i, t0, n - t0);
        if (g->hook) {
            int w = g->g.bufs[op->out].width;
            read_rows(g, g->bufs[op->out], t0, n - t0, w, g->hook_buf);
            g->hook(g->hook_ctx, op, g->n_past + t0, n - t0, g->hook_buf, w);
        }
        if (g->queries) g->query_counter(g->queries[i + 1], GL_TIMESTAMP_EXT);
    }
    if (g->queries) profile_collect(g);
    g->n_past += n;
    g->last_t0 = t_last;
    g->last_n = n;
    g->logits_ready = 0;
    return gl_check("gl_forward", e);
}

const float* gl_logits(struct GlEngine* g, int t) {
    int nv = g->g.bufs[g->g.logits].width;
    if (!g->logits_ready) {
        read_rows(g, g->bufs[g->g.logits], g->last_t0, g->last_n - g->last_t0, nv,
                  g->logits_host + (size_t)g->last_t0 * nv);
        g->logits_ready = 1;
    }
    return g->logits_host + (size_t)t * nv;
}
