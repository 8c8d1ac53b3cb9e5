// build.h: what a family's graph builder (shared/families/<family>.c) writes with. A
// builder appends ops to a Graph through these helpers, in the order of the paper or HF
// module, so that it reads like a forward pass: op_<kind>() emits one op, build_<part>()
// a part several families share. A failed allocation is remembered in b->rc and every
// later call does nothing; graph_build (graph.c) reports it.
#pragma once

#include "graph.h"
#include "model.h"

struct Builder {
    struct Graph* g;
    const struct Model* m;
    int layer; // the layer the next ops belong to, -1 outside the layers
    int rc;    // sticky: the first error
    struct Err* e;
};

// ---------------------------------------------------------------------------------------
// the graph's pieces

// Appends an op of kind (inputs, weights and state -1) and returns it, or NULL after an error.
struct Op* build_emit(struct Builder* b, enum OpKind kind, const char* name, int out);
// The tensor id of a weight view (graph ops index m->gguf.tensors), -1 for NULL.
int build_tensor(const struct Builder* b, const struct GgufTensor* t);
// The id of the buffer named name, made at least width wide (created on first use).
int build_buf(struct Builder* b, const char* name, int width);
// A new state slot of the current layer.
int build_state(struct Builder* b, enum StateKind kind, int width, int window);

// ---------------------------------------------------------------------------------------
// op emitters shared by several families (graph.h says what each op computes)

void op_embed(struct Builder* b, int out, const struct GgufTensor* table);
void op_rmsnorm(struct Builder* b, const char* name, int out, int x, const struct GgufTensor* w,
                double eps);
void op_matmul(struct Builder* b, const char* name, int out, int x, const struct GgufTensor* w,
               const struct GgufTensor* bias);
void op_rope(struct Builder* b, const char* name, int x, int n_head);
void op_attn(struct Builder* b, int out, int q, int k, int v, int n_head_kv, int window);
void op_add(struct Builder* b, const char* name, int out, int x, int y);
void op_glu(struct Builder* b, const char* name, int out, int gate, int up, enum Act act);
void op_unary(struct Builder* b, const char* name, int out, int x, enum Unary fn);
void op_slice(struct Builder* b, const char* name, int out, int x, int offset);
// The depthwise causal conv of L (ssm_conv1d, ssm_conv1d_b) over channels; returns the op.
struct Op* op_ssm_conv(struct Builder* b, int out, int x, const struct LayerWeights* L,
                       int channels);

// ---------------------------------------------------------------------------------------
// shared sub-builders

// Gated MLP: x = x + down(act(gate(u)) * up(u)), u = norm(x).
void build_ffn_dense(struct Builder* b, int x, const struct LayerWeights* L, enum Act act);
// Final norm and classifier: the graph's tail (first_tail_op).
void build_output(struct Builder* b, int x);
