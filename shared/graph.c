// graph.c: OP_INFO, and graph_build: the family registry's builder for the model's
// architecture (<family>_build() in shared/families/<family>.c, a straight-line
// transcription of the forward pass into ops with the helpers of build.c), then
// graph_check over the result.
#include "graph.h"

#include "build.h"
#include "families/families.h"

#include <stdlib.h>
#include <string.h>

// One row per op: its name and how it reads each weight slot (graph.h). The table is
// declared without a size so that a missing row is a compile error below, not a NULL name.
const struct OpInfo OP_INFO[] = {
    [OP_EMBED] = {"embed", {WROLE_MATRIX}, false},
    [OP_RMSNORM] = {"rmsnorm", {WROLE_WHOLE, WROLE_WHOLE}, false},
    [OP_MATMUL] = {"matmul", {WROLE_MATRIX, WROLE_WHOLE}, false},
    [OP_ROPE] = {"rope", {WROLE_WHOLE}, false},
    [OP_ATTN] = {"attn", {WROLE_NONE}, true},
    [OP_ADD] = {"add", {WROLE_NONE}, false},
    [OP_GLU] = {"glu", {WROLE_NONE}, false},
    // ---- rwkv7
    [OP_LAYERNORM] = {"layernorm", {WROLE_WHOLE, WROLE_WHOLE}, false},
    [OP_TOKEN_SHIFT] = {"token_shift", {WROLE_NONE}, true},
    [OP_LERP] = {"lerp", {WROLE_WHOLE}, false},
    [OP_UNARY] = {"unary", {WROLE_NONE}, false},
    [OP_MUL] = {"mul", {WROLE_NONE}, false},
    [OP_RWKV7_KK] = {"rwkv7_kk", {WROLE_WHOLE}, false},
    [OP_RWKV7_KA] = {"rwkv7_ka", {WROLE_WHOLE}, false},
    [OP_WKV7] = {"wkv7", {WROLE_NONE}, true},
    [OP_RWKV7_BONUS] = {"rwkv7_bonus", {WROLE_WHOLE}, false},
    // ---- mamba
    [OP_SLICE] = {"slice", {WROLE_NONE}, false},
    [OP_SSM_CONV] = {"ssm_conv", {WROLE_WHOLE, WROLE_WHOLE}, true},
    [OP_SSM_SCAN] = {"ssm_scan", {WROLE_WHOLE, WROLE_WHOLE, WROLE_WHOLE}, true},
    [OP_SSM_SCAN2] = {"ssm_scan2", {WROLE_WHOLE, WROLE_WHOLE, WROLE_WHOLE}, true},
    [OP_RMSNORM_GROUP] = {"rmsnorm_group", {WROLE_WHOLE}, false},
    [OP_MOE] = {"moe", {WROLE_MATRIX, WROLE_MATRIX, WROLE_MATRIX, WROLE_MATRIX}, false},
    // ---- griffin
    [OP_SCALE] = {"scale", {WROLE_NONE}, false},
    [OP_MATMUL_BLOCKDIAG] = {"matmul_blockdiag", {WROLE_MATRIX, WROLE_WHOLE}, false},
    [OP_RG_LRU] = {"rg_lru", {WROLE_WHOLE}, true},
    [OP_SOFTCAP] = {"softcap", {WROLE_NONE}, false},
    // ---- zamba2
    [OP_CONCAT] = {"concat", {WROLE_NONE}, false},
};
_Static_assert(sizeof(OP_INFO) / sizeof(OP_INFO[0]) == OP_COUNT, "OP_INFO: one row per OpKind");

const char* op_kind_name(enum OpKind k) {
    return (unsigned)k < OP_COUNT && OP_INFO[k].name ? OP_INFO[k].name : "?";
}

int graph_build(struct Graph* g, const struct Model* m, struct Err* e) {
    memset(g, 0, sizeof(*g));
    g->logits = -1;
    g->first_tail_op = -1;
    struct Builder b = {.g = g, .m = m, .layer = -1, .e = e};
    const struct Family* f = family_of(m->config.arch);
    if (!f || !f->build) {
        b.rc = err_set(e, ERR_UNSUPPORTED, "graph: no graph for architecture '%s' yet",
                       arch_name(m->config.arch));
    } else {
        f->build(&b);
    }
    if (!b.rc && (g->first_tail_op < 0 || g->first_tail_op > g->n_ops))
        g->first_tail_op = g->n_ops; // a builder that marks no tail runs every op on every row
    if (!b.rc) b.rc = graph_check(g, e);
    if (b.rc) graph_free(g);
    return b.rc;
}

int graph_check(const struct Graph* g, struct Err* e) {
    if (g->first_tail_op < 0 || g->first_tail_op > g->n_ops)
        return err_set(e, ERR_UNSUPPORTED, "graph: first_tail_op %d outside 0..%d",
                       g->first_tail_op, g->n_ops);
    for (int i = 0; i < g->n_ops; i++) {
        const struct Op* op = &g->ops[i];
        if ((unsigned)op->kind >= OP_COUNT || !OP_INFO[op->kind].name)
            return err_set(e, ERR_UNSUPPORTED, "graph: op %d has kind %d, which OP_INFO lacks", i,
                           (int)op->kind);
        const struct OpInfo* info = &OP_INFO[op->kind];
        for (int k = 0; k < OP_MAX_W; k++)
            if (op->w[k] >= 0 && info->w[k] == WROLE_NONE)
                return err_set(e, ERR_UNSUPPORTED,
                               "graph: op %d (%s '%s') has a weight in slot %d, which OP_INFO "
                               "gives no role",
                               i, info->name, op->name, k);
        if ((op->state >= 0) != info->stateful || op->state >= g->n_states)
            return err_set(e, ERR_UNSUPPORTED,
                           "graph: op %d (%s '%s') has state %d; OP_INFO says %s", i, info->name,
                           op->name, op->state, info->stateful ? "stateful" : "stateless");
        if (i >= g->first_tail_op && (op->kind == OP_EMBED || op->layer >= 0 || info->stateful))
            return err_set(e, ERR_UNSUPPORTED,
                           "graph: op %d (%s '%s') of layer %d lies in the tail, which runs on "
                           "the last row only",
                           i, info->name, op->name, op->layer);
    }
    return 0;
}

void graph_free(struct Graph* g) {
    if (!g) return;
    free(g->ops);
    free(g->states);
    memset(g, 0, sizeof(*g));
}
