// mamba.c: the Mamba family (ARCHITECTURES.md §5, §7.4) in llama.cpp's GGUF layouts:
// Mamba-1 ("mamba"), Mamba-2 ("mamba2") and Jamba (attention or Mamba-1 layers, dense or
// MoE MLPs). Their keys, tensor tables, graphs (mamba_build, mamba2_build, jamba_build; the
// two mixers zamba.c uses too) and what synth writes for them.
#include <math.h>
#include <stdio.h>

#include "families.h"

// ---------------------------------------------------------------------------------------
// config

int mamba_config_ssm(struct Model* m, int mamba2, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc;
    if ((rc = key_int(g, "ssm.conv_kernel", 1, 0, 1, 1 << 10, &c->ssm_d_conv, e))) return rc;
    if ((rc = key_int(g, "ssm.inner_size", 1, 0, 1, 1 << 20, &c->ssm_d_inner, e))) return rc;
    if ((rc = key_int(g, "ssm.state_size", 1, 0, 1, 1 << 12, &c->ssm_d_state, e))) return rc;
    if ((rc = key_int(g, "ssm.time_step_rank", 1, 0, 1, 1 << 16, &c->ssm_dt_rank, e))) return rc;
    if ((rc = key_int(g, "ssm.group_count", mamba2, 1, 1, 1 << 12, &c->ssm_n_group, e))) return rc;
    c->ssm_dt_b_c_rms = false;
    const struct GgufKv* kv = arch_find_key(g, "ssm.dt_b_c_rms");
    if (kv && kv->val.type == GGUF_TYPE_BOOL) c->ssm_dt_b_c_rms = kv->val.u != 0;
    if (mamba2 && (c->ssm_d_inner % c->ssm_dt_rank || c->ssm_dt_rank % c->ssm_n_group ||
                   c->ssm_d_inner % c->ssm_n_group))
        return err_set(e, ERR_FORMAT,
                       "model: ssm.inner_size %d, time_step_rank (heads) %d and group_count %d "
                       "do not divide",
                       c->ssm_d_inner, c->ssm_dt_rank, c->ssm_n_group);
    return 0;
}

static void set_layers(struct Config* c, enum LayerKind kind, enum FfnKind ffn) {
    for (int l = 0; l < c->n_layer; l++) {
        c->layer_kind[l] = kind;
        c->ffn_kind[l] = ffn;
    }
}

static int mamba_config(struct Model* m, struct Err* e) {
    int rc = mamba_config_ssm(m, 0, e);
    if (!rc) set_layers(&m->config, LAYER_MAMBA, FFN_NONE);
    return rc;
}

static int mamba2_config(struct Model* m, struct Err* e) {
    int rc = mamba_config_ssm(m, 1, e);
    if (!rc) set_layers(&m->config, LAYER_MAMBA2, FFN_NONE);
    return rc;
}

// Jamba (§5.4): a layer with KV heads has attention, else a Mamba-1 mixer; a layer with a
// router (ffn_gate_inp) has experts, else a dense MLP.
static int jamba_config(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc = mamba_config_ssm(m, 0, e);
    if (rc) return rc;
    if (c->n_head <= 0 || c->n_head_kv <= 0 || c->head_dim <= 0)
        return err_set(e, ERR_FORMAT,
                       "model: bad head counts (n_head %d, n_head_kv %d, head_dim %d)", c->n_head,
                       c->n_head_kv, c->head_dim);
    for (int l = 0; l < c->n_layer; l++)
        if (c->layer_n_head_kv[l] > 0 && c->n_head % c->layer_n_head_kv[l] != 0)
            return err_set(e, ERR_FORMAT, "model: layer %d: %d heads do not share %d KV heads", l,
                           c->n_head, c->layer_n_head_kv[l]);
    c->rope_type = ROPE_NONE; // Jamba attention has no positional encoding
    c->n_rot = 0;
    c->attn_scale = 1.0 / sqrt((double)c->head_dim);
    if ((rc = key_int(g, "expert_count", 0, 0, 0, 1 << 16, &c->n_expert, e))) return rc;
    if ((rc = key_int(g, "expert_used_count", 0, 0, 0, c->n_expert, &c->n_expert_used, e)))
        return rc;
    if (c->n_ff <= 0) return err_set(e, ERR_FORMAT, "model: feed_forward_length is missing");
    for (int l = 0; l < c->n_layer; l++) {
        char name[64];
        snprintf(name, sizeof(name), "blk.%d.ffn_gate_inp.weight", l);
        c->layer_kind[l] = c->layer_n_head_kv[l] > 0 ? LAYER_ATTN : LAYER_MAMBA;
        c->ffn_kind[l] = gguf_find_tensor(g, name) ? FFN_MOE : FFN_DENSE;
        if (c->ffn_kind[l] == FFN_MOE && (c->n_expert < 1 || c->n_expert_used < 1))
            return err_set(e, ERR_FORMAT,
                           "model: layer %d has experts but expert_count %d, expert_used_count %d",
                           l, c->n_expert, c->n_expert_used);
    }
    return 0;
}

// Jamba's dt/B/C RMSNorms come as a set or not at all.
static int mamba_check(const struct Model* m, struct Err* e) {
    for (int l = 0; l < m->config.n_layer; l++) {
        const struct LayerWeights* L = &m->w.layers[l];
        if (!L->ssm_dt_norm != !L->ssm_b_norm || !L->ssm_dt_norm != !L->ssm_c_norm)
            return err_set(e, ERR_FORMAT,
                           "model: layer %d has some but not all of ssm_dt_norm, ssm_b_norm, "
                           "ssm_c_norm",
                           l);
    }
    return 0;
}

// ---------------------------------------------------------------------------------------
// tensors, in file order

// The Mamba-1 mixer of a layer (when: its layer kinds; norms: whether synth writes Jamba's
// dt/B/C RMSNorm weights, which the loader takes when present).
// clang-format off
#define MAMBA1_MIXER(when, norms)                                                                  \
    {LW(ssm_in), "blk.%d.ssm_in.weight", {DIM_EMBD, DIM_D_INNER2}, REQUIRED, INIT_NORMAL, when},   \
    {LW(ssm_conv1d), "blk.%d.ssm_conv1d.weight", {DIM_D_CONV, DIM_D_INNER},                        \
     REQUIRED, INIT_CONV, when},                                                                   \
    {LW(ssm_conv1d_b), "blk.%d.ssm_conv1d.bias", {DIM_D_INNER}, REQUIRED, INIT_CONV, when},        \
    {LW(ssm_x), "blk.%d.ssm_x.weight", {DIM_D_INNER, DIM_SSM_X}, REQUIRED, INIT_NORMAL, when},     \
    {LW(ssm_dt_norm), "blk.%d.ssm_dt_norm.weight", {DIM_DT_RANK}, norms, INIT_ONE, when},          \
    {LW(ssm_b_norm), "blk.%d.ssm_b_norm.weight", {DIM_D_STATE}, norms, INIT_ONE, when},            \
    {LW(ssm_c_norm), "blk.%d.ssm_c_norm.weight", {DIM_D_STATE}, norms, INIT_ONE, when},            \
    {LW(ssm_dt), "blk.%d.ssm_dt.weight", {DIM_DT_RANK, DIM_D_INNER}, REQUIRED, INIT_NORMAL, when}, \
    {LW(ssm_dt_b), "blk.%d.ssm_dt.bias", {DIM_D_INNER}, REQUIRED, INIT_DT_BIAS, when},             \
    {LW(ssm_a), "blk.%d.ssm_a", {DIM_D_STATE, DIM_D_INNER}, REQUIRED, INIT_A_CHANNELS, when},      \
    {LW(ssm_d), "blk.%d.ssm_d", {DIM_D_INNER}, REQUIRED, INIT_ONE, when},                          \
    {LW(ssm_out), "blk.%d.ssm_out.weight", {DIM_D_INNER, DIM_EMBD}, REQUIRED, INIT_NORMAL, when}

#define EMBEDDING                                                                                  \
    {WT(token_embd), "token_embd.weight", {DIM_EMBD, DIM_VOCAB}, REQUIRED, INIT_NORMAL, 0}
#define HEAD                                                                                       \
    {WT(output_norm), "output_norm.weight", {DIM_EMBD}, REQUIRED, INIT_ONE, 0},                    \
    {WT(output), "output.weight", {DIM_EMBD, DIM_VOCAB}, OPTIONAL_UNTIED, INIT_NORMAL, 0}

static const struct TensorRow MAMBA_TENSORS[] = {
    EMBEDDING,
    {LW(attn_norm), "blk.%d.attn_norm.weight", {DIM_EMBD}, REQUIRED, INIT_ONE, 0},
    MAMBA1_MIXER(0, OPTIONAL),
    HEAD,
    TENSORS_END,
};

// in_proj rows: z (d_inner), xBC (conv channels), dt (heads)
static const struct TensorRow MAMBA2_TENSORS[] = {
    EMBEDDING,
    {LW(attn_norm), "blk.%d.attn_norm.weight", {DIM_EMBD}, REQUIRED, INIT_ONE, 0},
    {LW(ssm_in), "blk.%d.ssm_in.weight", {DIM_EMBD, DIM_IN2}, REQUIRED, INIT_NORMAL, 0},
    {LW(ssm_conv1d), "blk.%d.ssm_conv1d.weight", {DIM_D_CONV, DIM_CONV2}, REQUIRED, INIT_CONV, 0},
    {LW(ssm_conv1d_b), "blk.%d.ssm_conv1d.bias", {DIM_CONV2}, REQUIRED, INIT_CONV, 0},
    {LW(ssm_dt_b), "blk.%d.ssm_dt.bias", {DIM_DT_RANK}, REQUIRED, INIT_DT_BIAS, 0},
    {LW(ssm_a), "blk.%d.ssm_a", {DIM_ONE, DIM_DT_RANK}, REQUIRED, INIT_A_HEADS, 0},
    {LW(ssm_d), "blk.%d.ssm_d", {DIM_ONE, DIM_DT_RANK}, REQUIRED, INIT_D_HEADS, 0},
    {LW(ssm_norm), "blk.%d.ssm_norm.weight", {DIM_GROUP_WIDTH, DIM_N_GROUP}, REQUIRED, INIT_ONE, 0},
    {LW(ssm_out), "blk.%d.ssm_out.weight", {DIM_D_INNER, DIM_EMBD}, REQUIRED, INIT_NORMAL, 0},
    HEAD,
    TENSORS_END,
};

#define A ON_KIND(LAYER_ATTN)
#define MOE ON_FFN(FFN_MOE)
#define DENSE ON_FFN(FFN_DENSE)
// the router stays F32 (convert keeps it so); experts stacked ne = [in, out, n_expert]
static const struct TensorRow JAMBA_TENSORS[] = {
    EMBEDDING,
    {LW(attn_norm), "blk.%d.attn_norm.weight", {DIM_EMBD}, REQUIRED, INIT_ONE, 0},
    {LW(attn_q), "blk.%d.attn_q.weight", {DIM_EMBD, DIM_Q}, REQUIRED, INIT_NORMAL, A},
    {LW(attn_k), "blk.%d.attn_k.weight", {DIM_EMBD, DIM_KV_LAYER}, REQUIRED, INIT_NORMAL, A},
    {LW(attn_v), "blk.%d.attn_v.weight", {DIM_EMBD, DIM_KV_LAYER}, REQUIRED, INIT_NORMAL, A},
    {LW(attn_output), "blk.%d.attn_output.weight", {DIM_Q, DIM_EMBD}, REQUIRED, INIT_NORMAL, A},
    MAMBA1_MIXER(ON_KIND(LAYER_MAMBA), OPTIONAL_WRITTEN),
    {LW(ffn_norm), "blk.%d.ffn_norm.weight", {DIM_EMBD}, REQUIRED, INIT_ONE, 0},
    {LW(ffn_gate_inp), "blk.%d.ffn_gate_inp.weight", {DIM_EMBD, DIM_EXPERT},
     REQUIRED, INIT_NORMAL_F32, MOE},
    {LW(ffn_gate_exps), "blk.%d.ffn_gate_exps.weight", {DIM_EMBD, DIM_FF, DIM_EXPERT},
     REQUIRED, INIT_NORMAL, MOE},
    {LW(ffn_up_exps), "blk.%d.ffn_up_exps.weight", {DIM_EMBD, DIM_FF, DIM_EXPERT},
     REQUIRED, INIT_NORMAL, MOE},
    {LW(ffn_down_exps), "blk.%d.ffn_down_exps.weight", {DIM_FF, DIM_EMBD, DIM_EXPERT},
     REQUIRED, INIT_NORMAL, MOE},
    {LW(ffn_gate), "blk.%d.ffn_gate.weight", {DIM_EMBD, DIM_FF}, REQUIRED, INIT_NORMAL, DENSE},
    {LW(ffn_up), "blk.%d.ffn_up.weight", {DIM_EMBD, DIM_FF}, REQUIRED, INIT_NORMAL, DENSE},
    {LW(ffn_down), "blk.%d.ffn_down.weight", {DIM_FF, DIM_EMBD}, REQUIRED, INIT_NORMAL, DENSE},
    HEAD,
    TENSORS_END,
};
#undef A
#undef MOE
#undef DENSE
// clang-format on

// ---------------------------------------------------------------------------------------
// graph (ARCHITECTURES.md §5, §7.4)

// Mamba-1 (mamba2 = 0: n_head = d_inner channels of head_dim 1, A per channel and state) or
// Mamba-2 (A, D, dt per head) scan; B/C per group of channels (n_group contiguous groups:
// Mamba-2's groups, Zamba v1's heads; 1 for plain Mamba-1).
static void op_ssm_scan(struct Builder* b, int mamba2, int n_group, int out, int x, int dt, int B,
                        int C, const struct LayerWeights* L) {
    const struct Config* c = &b->m->config;
    int n_head = mamba2 ? c->ssm_dt_rank : c->ssm_d_inner;
    int head_dim = mamba2 ? c->ssm_d_inner / c->ssm_dt_rank : 1;
    int slot = build_state(b, STATE_SSM, n_head * head_dim * c->ssm_d_state, 0);
    struct Op* op = build_emit(b, mamba2 ? OP_SSM_SCAN2 : OP_SSM_SCAN, "ssm_scan", out);
    if (!op) return;
    op->in[0] = x;
    op->in[1] = dt;
    op->in[2] = B;
    op->in[3] = C;
    op->w[0] = build_tensor(b, L->ssm_a ? L->ssm_a : L->ssm_a_log);
    op->w[1] = build_tensor(b, L->ssm_d);
    op->w[2] = build_tensor(b, L->ssm_dt_b);
    op->state = slot;
    op->p.ssm.n_head = n_head;
    op->p.ssm.head_dim = head_dim;
    op->p.ssm.n_group = n_group;
    op->p.ssm.d_state = c->ssm_d_state;
    op->p.ssm.a_log = !L->ssm_a;
}

static void op_rmsnorm_group(struct Builder* b, const char* name, int out, int x,
                             const struct GgufTensor* w, int n_group, double eps) {
    struct Op* op = build_emit(b, OP_RMSNORM_GROUP, name, out);
    if (!op) return;
    op->in[0] = x;
    op->w[0] = build_tensor(b, w);
    op->p.gnorm.n_group = n_group;
    op->p.gnorm.eps = eps;
}

static void op_moe(struct Builder* b, int out, int u, const struct LayerWeights* L) {
    const struct Config* c = &b->m->config;
    struct Op* op = build_emit(b, OP_MOE, "ffn_moe_out", out);
    if (!op) return;
    op->in[0] = u;
    op->w[0] = build_tensor(b, L->ffn_gate_inp);
    op->w[1] = build_tensor(b, L->ffn_gate_exps);
    op->w[2] = build_tensor(b, L->ffn_up_exps);
    op->w[3] = build_tensor(b, L->ffn_down_exps);
    op->p.moe.n_expert = c->n_expert;
    op->p.moe.n_expert_used = c->n_expert_used;
    op->p.moe.n_ff = (int)L->ffn_gate_exps->ne[1];
}

// Mamba-1 mixer (§5.5): out = W_out( scan(silu(conv(x)), dt, B, C) * silu(z) ), [x, z] = W_in u.
// Jamba's dt/B/C RMSNorms are applied when the layer has them. n_head > 1: Zamba v1's
// multi-head Mamba-1 (§7.8), whose ssm_x yields [dt_r; B; C] of every head, each n_head wide.
void mamba_build_mixer1(struct Builder* b, int out, int u, const struct LayerWeights* L,
                        int n_head) {
    const struct Config* c = &b->m->config;
    int di = c->ssm_d_inner, ds = c->ssm_d_state * n_head, dr = c->ssm_dt_rank * n_head;
    int xz = build_buf(b, "ssm_xz", 2 * di), sx = build_buf(b, "ssm_x", di),
        sz = build_buf(b, "ssm_z", di);
    int xc = build_buf(b, "ssm_xc", di), dbc = build_buf(b, "ssm_dbc", dr + 2 * ds);
    int dtr = build_buf(b, "ssm_dtr", dr), sB = build_buf(b, "ssm_B", ds),
        sC = build_buf(b, "ssm_C", ds);
    int dt = build_buf(b, "ssm_dt", di), y = build_buf(b, "ssm_y", di);
    op_matmul(b, "ssm_in", xz, u, L->ssm_in, NULL);
    op_slice(b, "ssm_in_x", sx, xz, 0);
    op_slice(b, "ssm_in_z", sz, xz, di);
    op_ssm_conv(b, xc, sx, L, di);
    op_matmul(b, "ssm_x", dbc, xc, L->ssm_x, NULL);
    op_slice(b, "ssm_dt_r", dtr, dbc, 0);
    op_slice(b, "ssm_B", sB, dbc, dr);
    op_slice(b, "ssm_C", sC, dbc, dr + ds);
    if (L->ssm_dt_norm) {
        op_rmsnorm(b, "ssm_dt_norm", dtr, dtr, L->ssm_dt_norm, c->norm_eps);
        op_rmsnorm(b, "ssm_b_norm", sB, sB, L->ssm_b_norm, c->norm_eps);
        op_rmsnorm(b, "ssm_c_norm", sC, sC, L->ssm_c_norm, c->norm_eps);
    }
    op_matmul(b, "ssm_dt", dt, dtr, L->ssm_dt, NULL); // its bias is added in the scan
    op_ssm_scan(b, 0, n_head, y, xc, dt, sB, sC, L);
    op_glu(b, "ssm_gate", y, sz, y, ACT_SILU);
    op_matmul(b, "ssm_out", out, y, L->ssm_out, NULL);
}

// Mamba-2 mixer (§7.4): [z, xBC, dt] = W_in u; xBC = silu(conv(xBC)); [x, B, C] = xBC;
// out = W_out GroupRMSNorm(scan2(x, dt, B, C) * silu(z)).
void mamba_build_mixer2(struct Builder* b, int out, int u, const struct LayerWeights* L) {
    const struct Config* c = &b->m->config;
    int di = c->ssm_d_inner, nh = c->ssm_dt_rank, gn = c->ssm_n_group * c->ssm_d_state;
    int conv_dim = di + 2 * gn;
    int zxbcdt = build_buf(b, "ssm_zxbcdt", di + conv_dim + nh), sz = build_buf(b, "ssm_z", di);
    int xbc = build_buf(b, "ssm_xbc", conv_dim), dtr = build_buf(b, "ssm_dtr", nh);
    int xbcc = build_buf(b, "ssm_xbc_conv", conv_dim), sx = build_buf(b, "ssm_x", di);
    int sB = build_buf(b, "ssm_B", gn), sC = build_buf(b, "ssm_C", gn),
        y = build_buf(b, "ssm_y", di);
    op_matmul(b, "ssm_in", zxbcdt, u, L->ssm_in, NULL);
    op_slice(b, "ssm_in_z", sz, zxbcdt, 0);
    op_slice(b, "ssm_in_xbc", xbc, zxbcdt, di);
    op_slice(b, "ssm_in_dt", dtr, zxbcdt, di + conv_dim);
    op_ssm_conv(b, xbcc, xbc, L, conv_dim);
    op_slice(b, "ssm_x", sx, xbcc, 0);
    op_slice(b, "ssm_B", sB, xbcc, di);
    op_slice(b, "ssm_C", sC, xbcc, di + gn);
    op_ssm_scan(b, 1, c->ssm_n_group, y, sx, dtr, sB, sC, L);
    op_glu(b, "ssm_gate", y, sz, y, ACT_SILU);
    op_rmsnorm_group(b, "ssm_norm", y, y, L->ssm_norm, c->ssm_n_group,
                     c->ssm_gnorm_eps > 0 ? c->ssm_gnorm_eps : c->norm_eps);
    op_matmul(b, "ssm_out", out, y, L->ssm_out, NULL);
}

// Mamba-1 / Mamba-2 models: x = x + mixer(norm(x)) per layer, no FFN.
static void build_mamba_family(struct Builder* b, int mamba2) {
    const struct Config* c = &b->m->config;
    int x = build_buf(b, "x", c->n_embd), xb = build_buf(b, "xb", c->n_embd),
        xb2 = build_buf(b, "xb2", c->n_embd);
    b->layer = -1;
    op_embed(b, x, b->m->w.token_embd);
    for (int l = 0; l < c->n_layer; l++) {
        const struct LayerWeights* L = &b->m->w.layers[l];
        b->layer = l;
        op_rmsnorm(b, "attn_norm", xb, x, L->attn_norm, c->norm_eps);
        if (mamba2)
            mamba_build_mixer2(b, xb2, xb, L);
        else
            mamba_build_mixer1(b, xb2, xb, L, 1);
        op_add(b, "l_out", x, x, xb2);
    }
    build_output(b, x);
}

static void mamba_build(struct Builder* b) {
    build_mamba_family(b, 0);
}
static void mamba2_build(struct Builder* b) {
    build_mamba_family(b, 1);
}

// Jamba (§5.4): attention (no RoPE) or Mamba-1 mixer, then a dense MLP or MoE.
static void jamba_build(struct Builder* b) {
    const struct Config* c = &b->m->config;
    int n_q = c->n_head * c->head_dim, n_kv = c->n_head_kv * c->head_dim;
    int x = build_buf(b, "x", c->n_embd), xb = build_buf(b, "xb", c->n_embd),
        xb2 = build_buf(b, "xb2", c->n_embd);
    int q = build_buf(b, "q", n_q), k = build_buf(b, "k", n_kv), v = build_buf(b, "v", n_kv);
    int att = build_buf(b, "att_out", n_q);
    b->layer = -1;
    op_embed(b, x, b->m->w.token_embd);
    for (int l = 0; l < c->n_layer; l++) {
        const struct LayerWeights* L = &b->m->w.layers[l];
        b->layer = l;
        op_rmsnorm(b, "attn_norm", xb, x, L->attn_norm, c->norm_eps);
        if (c->layer_kind[l] == LAYER_ATTN) {
            op_matmul(b, "Qcur", q, xb, L->attn_q, NULL);
            op_matmul(b, "Kcur", k, xb, L->attn_k, NULL);
            op_matmul(b, "Vcur", v, xb, L->attn_v, NULL);
            op_attn(b, att, q, k, v, c->layer_n_head_kv[l], 0); // no RoPE
            op_matmul(b, "attn_out", xb2, att, L->attn_output, NULL);
        } else {
            mamba_build_mixer1(b, xb2, xb, L, 1);
        }
        op_add(b, "ffn_inp", x, x, xb2);
        if (c->ffn_kind[l] == FFN_MOE) {
            op_rmsnorm(b, "ffn_norm", xb, x, L->ffn_norm, c->norm_eps);
            op_moe(b, xb2, xb, L);
            op_add(b, "l_out", x, x, xb2);
        } else {
            build_ffn_dense(b, x, L, ACT_SILU);
        }
    }
    build_output(b, x);
}

// ---------------------------------------------------------------------------------------
// synth: mamba-1.4b, mamba2-1.3b, and Jamba's layout at 1024 wide by default

// clang-format off
static const int64_t MAMBA_SYNTH[P_COUNT] = {
    [P_EMBD] = 2048, [P_LAYER] = 48, [P_VOCAB] = 50280, [P_CTX] = 1 << 20, [P_TIED] = 1,
    [P_EXPAND] = 2, [P_D_INNER] = AUTO, [P_D_STATE] = 16, [P_D_CONV] = 4, [P_DT_RANK] = AUTO,
};
static const int64_t MAMBA2_SYNTH[P_COUNT] = {
    [P_EMBD] = 2048, [P_LAYER] = 48, [P_VOCAB] = 50288, [P_CTX] = 1 << 20, [P_TIED] = 1,
    [P_EXPAND] = 2, [P_D_INNER] = AUTO, [P_D_STATE] = 128, [P_D_CONV] = 4,
    [P_SSM_HEAD_DIM] = 64, [P_N_GROUP] = 1,
};
static const int64_t JAMBA_SYNTH[P_COUNT] = {
    [P_EMBD] = 1024, [P_LAYER] = 16, [P_VOCAB] = 65536, [P_CTX] = 262144, [P_FF] = 2048,
    [P_HEAD] = 8, [P_HEAD_KV] = 2, [P_HEAD_DIM] = AUTO, [P_EXPAND] = 2, [P_D_INNER] = AUTO,
    [P_D_STATE] = 16, [P_D_CONV] = 4, [P_DT_RANK] = AUTO, [P_N_EXPERT] = 16,
    [P_N_EXPERT_USED] = 2, [P_MOE_EVERY] = 2, [P_MOE_OFFSET] = 1, [P_ATTN_EVERY] = 8,
    [P_ATTN_OFFSET] = 4,
};
// clang-format on

void mamba_synth_ssm_keys(struct GgufWriter* w, const char* a, const int64_t* v,
                          int64_t time_step_rank, int64_t n_group) {
    key_set_u32(w, a, "ssm.conv_kernel", (uint32_t)v[P_D_CONV]);
    key_set_u32(w, a, "ssm.inner_size", (uint32_t)v[P_D_INNER]);
    key_set_u32(w, a, "ssm.state_size", (uint32_t)v[P_D_STATE]);
    key_set_u32(w, a, "ssm.time_step_rank", (uint32_t)time_step_rank);
    if (n_group) key_set_u32(w, a, "ssm.group_count", (uint32_t)n_group);
}

static void mamba_synth_keys(struct GgufWriter* w, const char* a, const int64_t* v) {
    key_set_u32(w, a, "feed_forward_length", 0);
    key_set_u32(w, a, "attention.head_count", 0);
    mamba_synth_ssm_keys(w, a, v, v[P_DT_RANK], 0);
    key_set_f32(w, a, "attention.layer_norm_rms_epsilon", 1e-5f);
    key_set_bool(w, a, "ssm.dt_b_c_rms", false);
}

static void mamba2_synth_keys(struct GgufWriter* w, const char* a, const int64_t* v) {
    key_set_u32(w, a, "feed_forward_length", 0);
    key_set_u32(w, a, "attention.head_count", 0);
    mamba_synth_ssm_keys(w, a, v, v[P_D_INNER] / v[P_SSM_HEAD_DIM], v[P_N_GROUP]);
    key_set_f32(w, a, "attention.layer_norm_rms_epsilon", 1e-5f);
}

static void jamba_synth_keys(struct GgufWriter* w, const char* a, const int64_t* v) {
    int64_t H = v[P_HEAD], hd = v[P_HEAD_DIM];
    key_set_u32(w, a, "feed_forward_length", (uint32_t)v[P_FF]);
    key_set_u32(w, a, "attention.head_count", (uint32_t)H);
    family_kv_pattern(w, a, v);
    if (hd * H != v[P_EMBD]) {
        key_set_u32(w, a, "attention.key_length", (uint32_t)hd);
        key_set_u32(w, a, "attention.value_length", (uint32_t)hd);
    }
    mamba_synth_ssm_keys(w, a, v, v[P_DT_RANK], 0);
    key_set_f32(w, a, "attention.layer_norm_rms_epsilon", 1e-6f);
    key_set_u32(w, a, "expert_count", (uint32_t)v[P_N_EXPERT]);
    key_set_u32(w, a, "expert_used_count", (uint32_t)v[P_N_EXPERT_USED]);
}

// A jamba layer has experts when l % moe-every == moe-offset (1 expert: dense everywhere).
static void jamba_synth_layers(const int64_t* v, struct Config* c) {
    for (int l = 0; l < c->n_layer; l++)
        c->ffn_kind[l] =
            v[P_N_EXPERT] > 1 && l % v[P_MOE_EVERY] == v[P_MOE_OFFSET] ? FFN_MOE : FFN_DENSE;
}

int mamba2_synth_check(const int64_t* v, char* msg, size_t cap) {
    if (v[P_D_INNER] % v[P_SSM_HEAD_DIM] || (v[P_D_INNER] / v[P_SSM_HEAD_DIM]) % v[P_N_GROUP])
        return snprintf(msg, cap,
                        "--d-inner must be a multiple of --ssm-head-dim, and the heads of "
                        "--n-group");
    return 0;
}

static int jamba_synth_check(const int64_t* v, char* msg, size_t cap) {
    if (v[P_MOE_OFFSET] >= v[P_MOE_EVERY])
        return snprintf(msg, cap, "--moe-offset must be below --moe-every");
    if (v[P_N_EXPERT_USED] > v[P_N_EXPERT])
        return snprintf(msg, cap, "--n-expert-used must not exceed --n-expert");
    if (family_n_attn(v) == 0)
        return snprintf(msg, cap,
                        "no layer has attention (i %% --attn-every == --attn-offset); jamba needs "
                        "one");
    return 0;
}

// ---------------------------------------------------------------------------------------
// the registry row(s) (shared/families/list.h names them)

const struct Family jamba_family = {
    .arch = ARCH_JAMBA,
    .name = "jamba",
    .label = "jamba",
    .load_config = jamba_config,
    .tensors = JAMBA_TENSORS,
    .check = mamba_check,
    .build = jamba_build,
    .synth_params = PB_COMMON | PB(P_FF) | ATTN | SSM1 | PB(P_N_EXPERT) | PB(P_N_EXPERT_USED) |
                    PB(P_MOE_EVERY) | PB(P_MOE_OFFSET) | PATTERN,
    .synth_defaults = JAMBA_SYNTH,
    .synth_check = jamba_synth_check,
    .synth_keys = jamba_synth_keys,
    .synth_layers = jamba_synth_layers,
};

const struct Family mamba_family = {
    .arch = ARCH_MAMBA,
    .name = "mamba",
    .label = "mamba",
    .load_config = mamba_config,
    .tensors = MAMBA_TENSORS,
    .check = mamba_check,
    .build = mamba_build,
    .synth_params = PB_COMMON | SSM1,
    .synth_defaults = MAMBA_SYNTH,
    .synth_keys = mamba_synth_keys,
};

const struct Family mamba2_family = {
    .arch = ARCH_MAMBA2,
    .name = "mamba2",
    .label = "mamba2",
    .load_config = mamba2_config,
    .tensors = MAMBA2_TENSORS,
    .build = mamba2_build,
    .synth_params = PB_COMMON | SSM2,
    .synth_defaults = MAMBA2_SYNTH,
    .synth_check = mamba2_synth_check,
    .synth_keys = mamba2_synth_keys,
};
