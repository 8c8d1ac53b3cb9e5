// gles_int.h: the GLES engine's internals shared by its files (gles.h is the public side):
// weights on the GPU, the fused plan, the MoE programs, and what each file offers the others.
// Who calls whom, with no circle: forward.c (lifecycle) -> fuse.c (the fused plan) ->
// ops.c (per op: programs and dispatches) -> gl_kernels.c (one k_<op> per shader) ->
// programs.c (gl_dispatch); weights.c, matvec.c, buffer.c, profile.c, context.c below them.
#pragma once

#include <GLES3/gl31.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gles.h"
#include "graph.h"
#include "quant.h"

// A weight tensor on the GPU: 2-D tensors keep their GGUF bytes, split at row boundaries into
// chunks no larger than GL_MAX_SHADER_STORAGE_BLOCK_SIZE; 1-D tensors become float arrays.
struct GlTensor {
    enum GgmlType type; // GGML_TYPE_F32 for converted 1-D tensors
    int64_t n_in, rows; // elements per row, rows
    size_t row_bytes;
    int64_t rows_per_chunk;
    int n_chunks;
    GLuint* bufs;     // n_chunks buffers
    int64_t row_base; // rows of other tensors before this one in bufs[0] (fuse.c packs
                      // q, k, v and gate, up into one buffer each), else 0
    int borrowed;     // bufs[0] belongs to the group's first tensor: not deleted here
};

// What a one-row pass without hooks runs for an op (fuse.c): its own dispatches, nothing (an
// earlier fused dispatch did its work), or a fused dispatch standing for it and the ops in
// op[] (matvec.comp's MV_QKV, MV_GLU and MV_RES epilogues).
enum GlFuseKind {
    FUSE_NONE,
    FUSE_SKIP,   // done by an earlier fused dispatch
    FUSE_QKV,    // q, k, v mat-vecs + both ropes + the KV store (+ the rmsnorm before them);
                 // op: rope q, rope k, attention, rmsnorm or -1
    FUSE_GLU,    // gate and up mat-vecs + the GLU (+ the rmsnorm before); op: up, glu, -1,
                 // rmsnorm or -1
    FUSE_RES,    // a mat-vec + the residual add after it; op: add
    FUSE_ATTEND, // attention whose keys and values FUSE_QKV stored: only attend
};

struct GlFuse {
    enum GlFuseKind kind;
    int op[4];
    int prog;
};

// ---- mamba: the programs of one OP_MOE: moe_matmul.comp for the router and the experts'
// gate, up and down matrices (by weight type), moe_route.comp, glu.comp, moe_sum.comp.
struct GlMoe {
    int router, gate, up, down;
    int route, glu, sum;
};

// ---------------------------------------------------------------------------------------
// weights.c: uploads, the packed q;k;v and gate;up buffers, rope tables

// The WTYPE_* define of the shaders' decoder for t (common.glsl), NULL when none reads it.
const char* gl_wtype_define(enum GgmlType t);
// Uploads every weight the graph's ops use (matrices as GGUF bytes in chunks of whole rows,
// the rest as float arrays; tensors the fused plan packed are kept) and each rope op's table.
int gl_weights_upload(struct GlEngine* g, struct Err* e);
// Bytes of the weights of mat-vecs ops[0..n) back to back.
size_t gl_packed_bytes(const struct GlEngine* g, const int* ops, int n);
// Uploads the weights of mat-vecs ops[0..n) back to back into one buffer (once: a block
// shared by several layers is packed by its first use).
int gl_upload_packed(struct GlEngine* g, const int* ops, int n, struct Err* e);
// Deletes the weight buffers and rope tables (GL objects; a context must exist) ...
void gl_weights_delete(struct GlEngine* g);
// ... and frees the host side (no GL).
void gl_weights_free(struct GlEngine* g);

// ---------------------------------------------------------------------------------------
// matvec.c: feature probing and the generation-time mat-vec

// Whether the current context lists GL extension name.
int gl_has_extension(const char* name);
// matvec.comp's shape (g->mv_teams, g->mv_nr) from opt and g->subgroup.
void gl_matvec_shape(struct GlEngine* g);
// The matvec.comp program for weights of type (F32, F16, BF16, Q8_0, Q4_0): work groups of
// teams teams (one subgroup each when g->subgroup, else 32 lanes), nr rows per team.
// epilogue: "" or #define lines of matvec.comp's fused variants (MV_RES, MV_GLU, MV_QKV,
// MV_NORM).
int gl_matvec_program(struct GlEngine* g, enum GgmlType type, int teams, int nr,
                      const char* epilogue, struct Err* e);

// Whether matvec.comp can run op (an OP_MATMUL) for one row: whole 16-byte words or blocks
// per row, rows of x on 4-float boundaries. Reads the GGUF tensor (fuse.c asks before upload).
int gl_matvec_fits(const struct GlEngine* g, const struct Op* op);

// ---------------------------------------------------------------------------------------
// ops.c: per op kind, the programs it runs and its dispatches

// Rows a KV slot keeps: a ring of W rows for a sliding window shorter than the context (as
// ref/forward.c), else n_ctx; and the row of slot state that holds position pos.
int gl_kv_rows(const struct GlEngine* g, const struct StateDesc* sd);
int gl_kv_row(const struct GlEngine* g, int state, int64_t pos);
// Scratch buffers sized for the graph: the MoE rows, and the split decode attention
// (attn_split.comp and its partials), which it leaves off (g->attn_split -1) when a head is
// wider than 256, the partials exceed the SSBO limit or opt.no_split_attn is set.
int gl_ops_scratch(struct GlEngine* g, struct Err* e);
// Compiles the programs of every op: op_prog for batches, op_prog1 for one row.
int gl_ops_programs(struct GlEngine* g, struct Err* e);
// Encodes op i over rows t0..t0+n-1 (positions n_past + row).
void gl_ops_run(struct GlEngine* g, int i, int t0, int n);

// ---------------------------------------------------------------------------------------
// fuse.c: the fused one-row pass

// Plans it (after gl_ops_scratch: it fuses only what the executor honours; it packs the
// weights of fused mat-vecs into one buffer each, so it runs before gl_weights_upload).
int gl_fuse_plan(struct GlEngine* g, struct Err* e);
// Runs op i of the plan: 1 when the plan took the op (dispatched a fused kernel or nothing),
// 0 when the op runs as usual (gl_ops_run).
int gl_fuse_run(struct GlEngine* g, int i);

// ---------------------------------------------------------------------------------------
// profile.c: GPU timestamps around every op (gl_profile in gles.h turns them on)

// Marks the GPU time before op i (i = 0) or after op i - 1.
void gl_profile_mark(struct GlEngine* g, int i);
// Waits for the forward's timestamps and adds each op's time to g->op_ns.
void gl_profile_collect(struct GlEngine* g);
