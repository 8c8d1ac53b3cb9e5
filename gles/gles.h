// gles.h: the OpenGL ES 3.1 compute engine: runs the shared graph (shared/graph.h) on the GPU
// in FP32 with one compute shader per op (shaders/*.comp). Weights are uploaded once, still in
// their GGUF encoding, and dequantized inside the shaders; the KV caches live on the GPU. A
// forward call is encoded as dispatches with no synchronisation; the first gl_logits() after
// it waits for the GPU and reads the logits back. Not here: sampling, tokenizing (shared/).
// Callers own a struct GlEngine and read its first fields (m, g, renderer, egl_path, max_batch,
// the hook and the profile sums); the rest is the engine's (gles_int.h, docs/GLES.md layout).
#pragma once

#include <GLES3/gl31.h>
#include <stdint.h>

#include "err.h"
#include "graph.h"
#include "model.h"

// Called after every op with its output rows (n rows of width floats; row t is position
// pos0 + t). Setting a hook makes every op wait for the GPU and read its output back.
typedef void (*GlOpHook)(void* ctx, const struct Op* op, int64_t pos0, int n, const float* out,
                         int width);

// internals (gles_int.h): weights on the GPU, the fused plan, the MoE programs, programs
struct GlTensor;
struct GlFuse;
struct GlMoe;
struct GlProg;

// Engine options, filled by the caller (the mains read them from the environment: see
// app/gl_env.h); a zeroed struct means the defaults. Nothing in gles/ reads the environment.
struct GlOptions {
    const char* egl;        // "gbm", "device" or "surfaceless": only this EGL path; NULL or ""
                            // tries each in turn (MATTN_EGL). Applies when the shared
                            // context is created.
    int no_subgroup;        // 1: no subgroup reductions even where the driver has them
                            // (MATTN_GL_SUBGROUP=0)
    int mv_teams, mv_nr;    // matvec.comp's shape: teams per work group (1..1024 lanes in
                            // all) and rows per team (1..4); 0 or out of range: 4, 2
                            // (MATTN_GL_MATVEC=TEAMS,NR)
    size_t max_ssbo;        // weight chunks of at most this many bytes when below the
                            // driver's limit; 0: the limit (MATTN_GL_MAX_SSBO)
    const char* shader_dir; // compile shaders/<op>.comp from this directory instead of the
                            // embedded copies; NULL or "": embedded (GL_SHADER_DIR)
    int no_fuse;            // 1: the one-row pass runs the graph op by op (MATTN_GL_FUSE=0)
    int no_split_attn;      // 1: decode attention without attn_split.comp (as when its
                            // partials exceed the SSBO limit; for tests)
};

struct GlEngine {
    const struct Model* m;
    struct GlOptions opt; // as given to gl_init
    struct Graph g;
    GlOpHook hook; // called after every op when set (see GlOpHook)
    void* hook_ctx;
    int n_ctx;                   // positions of the context (a full KV cache holds them all)
    int max_batch;               // rows per forward call
    const char* egl_path;        // "gbm", "device" or "surfaceless"
    const char* renderer;        // GL_RENDERER
    GLint max_ssbo;              // GL_MAX_SHADER_STORAGE_BLOCK_SIZE
    size_t weight_chunk;         // bytes per weight buffer: max_ssbo, or opt.max_ssbo if lower
    int subgroup;                // subgroup lanes usable by compute shaders, 0: none
    int mv_teams, mv_nr;         // matvec.comp's shape (opt.mv_teams, opt.mv_nr or 4, 2)
    GLuint bufs[GRAPH_MAX_BUFS]; // (max_batch, g.bufs[i].width) floats each
    GLuint* state_k;             // per state slot: (rows, width) keys, rows n_ctx or a window's
                                 // ring of W (ops.c gl_kv_rows); or the recurrent state
    GLuint* state_v;             // per state slot: (rows, width) values (KV slots only)
    struct GlTensor* wt;         // per tensor id (uploaded only when an op uses it)
    GLuint tokens;               // (max_batch,) int token ids of the current call
    GLuint dummy;                // bound where an optional buffer is absent
    GLuint* rope_tab;            // per op index: (n_ctx, n_rot/2) vec2 (cos, sin), or 0
    // buffers read and written by dispatches since the last barrier (programs.c)
#define GL_MAX_PENDING 64
    GLuint pend_r[GL_MAX_PENDING], pend_w[GL_MAX_PENDING];
    int n_pend_r, n_pend_w;
    struct GlProg* progs; // compiled programs (programs.c)
    int n_progs, cap_progs;
    int* op_prog;                       // per op: program index for batches (mat-mat) ...
    int* op_prog1;                      // ... and for one row (mat-vec)
    struct GlMoe* moe;                  // per op index (OP_MOE only)
    struct GlFuse* fuse;                // per op index: the fused one-row plan (fuse.c)
    int fuse_on;                        // use it (!opt.no_fuse; tests may clear it)
    int fusing;                         // the pass being encoded runs the fused plan
    int attn_split;                     // split decode attention program, -1 when not used
    GLuint attn_part;                   // its partials: (n_head, splits, head_dim + 2) floats
    GLuint attn_count;                  // its per-head counters of finished splits
    GLuint moe_logits, moe_sel, moe_pw; // per row: router logits, k experts and their weights
    GLuint moe_hg, moe_hu, moe_eo;      // per (row, slot): gate, up, expert output rows
    int64_t n_past;                     // positions already in the caches
    float* logits_host;                 // (max_batch, n_vocab) read back by gl_logits
    GLuint readback;                    // staging buffer the read-backs are copied through
    size_t readback_bytes;
    int last_t0, last_n; // rows of the logits the last forward computed
    int logits_ready;
    float* hook_buf; // (max_batch * widest buffer) scratch for hooks
    // profiling (gl_profile): per op, GPU nanoseconds summed over the profiled forwards
    GLuint* queries; // n_ops + 1 timestamp queries, or NULL when not profiling
    void (*query_counter)(GLuint id, GLenum target);             // glQueryCounterEXT
    void (*query_u64)(GLuint id, GLenum pname, GLuint64* value); // glGetQueryObjectui64vEXT
    double* op_ns;
    int n_profiled;
};

// Creates (or shares) the headless context, builds the graph, compiles every program the
// model needs, uploads the weights and allocates buffers for n_ctx positions and batches of
// up to max_batch. Fails with ERR_GL (no EGL/GL, a compile error with its log, an out-of-
// memory buffer) or ERR_UNSUPPORTED (a weight type no shader reads). m must outlive it.
// opt may be NULL (the defaults); it is copied.
int gl_init(struct GlEngine* g, const struct Model* m, int n_ctx, int max_batch,
            const struct GlOptions* opt, struct Err* e);
void gl_free(struct GlEngine* g);

// Clears the KV caches and zeroes the recurrent states: a new sequence starts at position 0.
void gl_reset(struct GlEngine* g);

// Encodes n tokens (n <= max_batch) at positions n_past..n_past+n-1 and advances n_past; with
// last_only only the last row's logits are computed. Nothing waits for the GPU here unless a
// hook is set. Fails with ERR_ARG on a bad token or a full context, ERR_GL on a GL error.
int gl_forward(struct GlEngine* g, const int32_t* tokens, int n, int last_only, struct Err* e);

// Logits of row t of the last forward (n_vocab floats), valid until the next call. The first
// call after a forward waits for the GPU and reads the computed rows back.
const float* gl_logits(struct GlEngine* g, int t);

// A model's fused one-row pass (gles/fuse.c), for bench and info: ops the plan merges into
// fused dispatches (or skips for them) out of the graph's n_ops, and which patterns it found.
struct GlFuseSummary {
    int fused, n_ops;
    int qkv, glu, res; // fused dispatches of each kind: q/k/v + rope + KV store, gate/up + GLU,
                       // mat-vec + residual add
    int on;            // the plan runs (not turned off with opt.no_fuse)
};
void gl_fuse_summary(const struct GlEngine* g, struct GlFuseSummary* s);
// "30 of 35 ops (qkv+rope+kv, gate/up+glu, matvec+residual)", "0 of 35 ops", or with the
// plan turned off "off (planned: 30 of 35 ops (...))", into buf.
void gl_fuse_describe(const struct GlFuseSummary* s, char* buf, size_t cap);

// Lanes per subgroup that compute shaders can reduce over (GL_KHR_shader_subgroup with
// arithmetic), 0 without (llvmpipe). Needs a current context.
int gl_subgroup_lanes(void);

// Turns per-op GPU timing on (GL_EXT_disjoint_timer_query timestamps around every op; each
// forward then waits for its own results) or off. Sums land in g->op_ns per op index over
// g->n_profiled forwards. Fails with ERR_UNSUPPORTED when the driver has no timestamps.
int gl_profile(struct GlEngine* g, int on, struct Err* e);

// Waits until every encoded dispatch has finished (for timing).
void gl_finish(void);

// context.c: the shared headless context. acquire creates it on first use, through EGL path
// egl only when it is "gbm", "device" or "surfaceless" (else each in turn; ERR_ARG for another
// name); the path and renderer strings stay valid until the last release, which tears it down.
int gl_context_acquire(const char* egl, const char** path, const char** renderer, struct Err* e);
void gl_context_release(void);
