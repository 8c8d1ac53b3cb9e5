// ref.h: the FP64 reference engine: runs the shared graph (shared/graph.h) on the CPU in
// double precision with ref/kernels.c. Deterministic for any thread count: threads split a
// matmul's output rows, and every output is computed by the same code in the same order.
#pragma once

#include <stdint.h>

#include "err.h"
#include "graph.h"
#include "model.h"

// Called after every op with its output rows (n rows of width doubles; row t is position
// pos0 + t). Used by --dump and the differential harness.
typedef void (*RefOpHook)(void* ctx, const struct Op* op, int64_t pos0, int n, const double* out,
                          int width);

struct RefPool;

struct RefEngine {
    const struct Model* m;
    struct Graph g;
    int n_ctx;                    // positions the KV caches hold
    int max_batch;                // rows per forward call
    double* bufs[GRAPH_MAX_BUFS]; // (max_batch, g.bufs[i].width) each
    double** state_k;             // per state slot: (rows, width) keys, rows = n_ctx or, for a
                      // sliding window W < n_ctx, a ring of W; (1, width) conv/SSM state
    double** state_v;     // per state slot: (rows, width) values
    double** wd;          // per tensor id: a double copy of 1-D tensors, else NULL
    double* att;          // (n_ctx,) attention scores scratch
    int64_t n_past;       // positions already in the caches
    struct RefPool* pool; // worker threads for matmul (NULL: single-threaded)
    RefOpHook hook;
    void* hook_ctx;
    // ---- mamba
    double* moe_scratch; // router probabilities, expert hidden rows and output
    int* moe_sel;        // chosen experts
};

// Builds the graph and allocates every buffer and state for n_ctx positions and batches of up
// to max_batch positions. n_threads <= 0 means all cores. m must outlive the engine.
int ref_init(struct RefEngine* r, const struct Model* m, int n_ctx, int max_batch, int n_threads,
             struct Err* e);
void ref_free(struct RefEngine* r);

// Clears every state (KV caches, recurrent states): a new sequence starts at position 0.
void ref_reset(struct RefEngine* r);

// Runs n tokens (n <= max_batch) at positions n_past.. n_past+n-1 and advances n_past.
// Afterwards ref_logits() holds their logits; with last_only only the last row is computed
// (prompt positions whose logits nobody reads skip the classifier). Fails with ERR_ARG on a
// token id outside the vocabulary or when the context is full.
int ref_forward(struct RefEngine* r, const int32_t* tokens, int n, int last_only, struct Err* e);

// Logits of row t of the last forward call (n_vocab doubles), valid until the next call.
const double* ref_logits(const struct RefEngine* r, int t);
