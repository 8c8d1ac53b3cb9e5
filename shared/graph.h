// graph.h: the one description of every architecture's forward pass, shared by both engines.
// graph_build() turns a loaded model into a flat list of ops over named activation buffers.
// Every buffer holds one row per position of the batch being processed, so the same graph
// serves a prompt (n positions at once) and a generated token (one position). Ops that
// carry state across positions (attention's KV cache, convolution windows, recurrent
// states) name a state slot; each engine allocates the slots from graph.states and runs the
// ops in order, each in one `switch (op->kind)`. Every op output can be dumped by
// (position, layer, op name). Not here: arithmetic (ref/kernels.c, shaders/*.comp).
#pragma once

#include <stdbool.h>

#include "err.h"
#include "model.h"

enum OpKind {
    OP_EMBED,   // out[t] = row tokens[t] of w[0]                              (n_embd)
    OP_RMSNORM, // out = w[0] * x / sqrt(mean(x^2) + eps) (+ w[1])  per row
    OP_MATMUL,  // out = W x (+ b): w[0] (in, out) as GGUF stores it, w[1] optional bias
    OP_ROPE,    // rotate each head of in[0] by its position                  (in place ok)
    OP_ATTN,    // append in[1]=k, in[2]=v to the KV cache, attend with in[0]=q
    OP_ADD,     // out = in[0] + in[1]
    OP_GLU,     // out = act(in[0]) * in[1]
    // ---- rwkv7
    OP_LAYERNORM,   // out = (x - mean) / sqrt(var + eps) * w[0] + w[1], per group of the row
                    // (n_group 1: LayerNorm; n_head: GroupNorm); biased variance  (in place ok)
    OP_TOKEN_SHIFT, // out[t] = in[0][t-1]; row 0 comes from the state, which then keeps the
                    // batch's last row (the previous token's value of in[0])
    OP_LERP,        // out = in[0] + (in[1] - in[0]) * m; m = slice p.lerp.slice of w[0] (a
                    // (width, ..., n_slice) vector stack), or row in[2] when w[0] < 0
    OP_UNARY,       // out = f(in[0]) elementwise                                 (in place ok)
    OP_MUL,         // out = in[0] * in[1] elementwise                            (in place ok)
    OP_RWKV7_KK,    // out = per head: l2normalize(in[0] * w[0])   (kk, eps 1e-12)
    OP_RWKV7_KA,    // out = in[0] * (1 + (in[1] - 1) * w[0])        (k from raw k, a, k_a)
    OP_WKV7,        // generalized delta rule over rows in order: in = r, w (decay), k, v, kk, a;
                    // state S (n_head, N, N) as [head][value][key]; out = S_t r per head
    OP_RWKV7_BONUS, // out = in[0] + per head (sum r * k * w[0]) * v;  in = y, r, k, v
    // ---- mamba
    OP_SLICE,         // out = in[0][offset : offset + width(out)]  per row
    OP_SSM_CONV,      // out = silu(depthwise causal conv1d(in[0]) + w[1]); w[0] (d_conv, ch)
    OP_SSM_SCAN,      // Mamba-1 selective scan: in x, dt, B, C; w A, D, dt bias -> y; B/C per
                      // group of channels (p.ssm.n_group: 1, or Zamba v1's heads)
    OP_SSM_SCAN2,     // Mamba-2 SSD scan (heads, groups): in x, dt, B, C; w A, D, dt bias -> y
    OP_RMSNORM_GROUP, // out = w[0] * x / rms over each of n_group contiguous groups
    OP_MOE,           // out = sum over the top-k experts of p_e * gated MLP_e(in[0])
    // ---- griffin
    OP_SCALE,            // out = in[0] * p.scale.s                                    (in place ok)
    OP_MATMUL_BLOCKDIAG, // out = block-diagonal W x + b: w[0] (bw, bw, n_block) holds one
                         // (bw in, bw out) GGUF matrix per block, w[1] bias (bw, n_block)
    OP_RG_LRU,           // Griffin RG-LRU over rows in order: in = x, input gate, recurrent gate
                         // (both after the sigmoid); w[0] = Lambda (rg_param); state h; out = h
    OP_SOFTCAP,          // out = cap * tanh(in[0] / cap)                              (in place ok)
    // ---- zamba2
    OP_CONCAT, // out = concat(in[0], in[1]) per row (widths: in[0]'s, then the rest of out)
    OP_COUNT,
};

// What OP_GLU applies to its first input.
enum Act {
    ACT_SILU,      // x * sigmoid(x)
    ACT_GELU_TANH, // tanh approximation
    ACT_GELU,      // exact, with erf
    ACT_COUNT,
};

// ---- rwkv7: what OP_UNARY applies.
enum Unary {
    UNARY_TANH,
    UNARY_SIGMOID,
    UNARY_RWKV7_DECAY, // exp(-exp(-1/2) * sigmoid(x)), the RWKV-7 decay in (0.5452, 1)
    UNARY_SQRELU,      // max(x, 0)^2
    UNARY_COUNT,
};

union OpParams {
    struct {
        double eps;
        double w_offset; // griffin: 1 for Gemma's (1 + w) * x / rms, else 0
    } norm;
    struct {
        enum RopeType type;
        int n_head;       // heads in the row
        int head_dim;     // elements per head
        int n_rot;        // rotated elements per head (the first n_rot)
        double freq_base; // theta_i = pos * freq_scale * freq_base^(-2i/n_rot) / freq_factor_i
        double freq_scale;
        // w[0]: the per-pair frequency factors (rope_freqs), or -1
    } rope;
    struct {
        int n_head, n_head_kv, head_dim;
        int window;   // 0: full causal; W: keys j with pos - W < j <= pos
        double scale; // applied to q.k
    } attn;
    struct {
        enum Act act;
    } glu;
    // ---- rwkv7
    struct {
        double eps;
        int n_group; // contiguous groups per row, each normalised on its own
    } layernorm;
    struct {
        int slice; // which (width,) slice of w[0] is the mix
    } lerp;
    struct {
        enum Unary fn;
    } unary;
    struct {
        int n_head, head_size;
    } rwkv7; // OP_RWKV7_KK, OP_WKV7, OP_RWKV7_BONUS
    // ---- mamba
    struct {
        int offset; // first element of in[0] copied
    } slice;
    struct {
        int d_conv;   // kernel width K; the state keeps the K-1 previous inputs
        int n_head;   // SCAN2: heads (SCAN: d_inner, one channel per "head")
        int head_dim; // SCAN2: channels per head (SCAN: 1)
        int n_group;  // SCAN2: B/C groups
        int d_state;  // N
        int linear;   // griffin: SSM_CONV without the silu after the conv
        int a_log;    // ---- zamba2: w[0] holds A_log; the engine uses A = -exp(A_log)
    } ssm;
    struct {
        int n_group;
        double eps;
    } gnorm;
    struct {
        int n_expert, n_expert_used, n_ff;
    } moe;
    // ---- griffin
    struct {
        double s;
    } scale;
    struct {
        int n_block; // MATMUL_BLOCKDIAG: blocks of width(in) / n_block
    } blockdiag;
    struct {
        double cap;
    } softcap;
};

#define OP_MAX_IN 6 // OP_WKV7 reads six
#define OP_MAX_W 4
#define GRAPH_MAX_BUFS 32 // named activation buffers of one graph

// How an op reads each of its weight slots: the engines prepare a tensor by its role (ref keeps
// a streamed matrix in its GGUF form and converts a whole tensor to double once; gles uploads
// a matrix in its GGUF blocks and a whole tensor as floats).
enum WeightRole {
    WROLE_NONE,   // the slot is unused
    WROLE_MATRIX, // a matrix streamed row by row in its stored type (matmul, embedding rows)
    WROLE_WHOLE,  // a small tensor read whole: norm weights, biases, conv kernels, A, D, factors
    WROLE_COUNT,
};

// What the engines need to know about an op besides its kind: one row per OpKind.
struct OpInfo {
    const char* name;            // dump and message name: "rmsnorm", "ssm_scan2", ...
    enum WeightRole w[OP_MAX_W]; // the role of each weight slot
    bool stateful;               // reads and writes a state slot (op->state >= 0)
};
extern const struct OpInfo OP_INFO[OP_COUNT];

struct Op {
    enum OpKind kind;
    const char* name;  // dump name, llama.cpp's callback names where they exist
    int layer;         // -1 outside the layers
    int out;           // buffer id
    int in[OP_MAX_IN]; // buffer ids, -1 unused
    int w[OP_MAX_W];   // tensor ids (model_tensor_id), -1 unused
    int state;         // state slot id, -1 none
    union OpParams p;
};

struct Buf {
    const char* name; // "x", "xb", "q", ...
    int width;        // elements per position
};

enum StateKind {
    STATE_KV, // keys and values: rows (n_ctx or window) x width each
    // ---- rwkv7
    STATE_SHIFT, // one row of width: the previous token's value (token shift)
    STATE_WKV,   // one row of width n_head * N * N: the WKV-7 matrices
    // ---- mamba
    STATE_CONV, // one row: the d_conv-1 previous conv inputs, [d_conv-1][channels]
    STATE_SSM,  // one row: the SSM state h, [d_inner][d_state] / [n_head][head_dim][d_state]
    // ---- griffin
    STATE_RG_LRU, // one row: the RG-LRU state h, [lru_width]
    STATE_KIND_COUNT,
};

struct StateDesc {
    enum StateKind kind;
    int layer;
    int width;  // elements per cached position (n_head_kv * head_dim for KV)
    int window; // 0: the engine keeps n_ctx positions; W: a ring of min(W, n_ctx)
                // positions (position j in row j % W)
};

struct Graph {
    struct Op* ops;
    int n_ops, cap_ops;
    struct Buf bufs[GRAPH_MAX_BUFS];
    int n_bufs;
    struct StateDesc* states;
    int n_states, cap_states;
    int logits;        // buffer id of the logits (width n_vocab)
    int first_tail_op; // ops [first_tail_op, n_ops) (final norm, classifier) depend on no
                       // other row: when only the last row's logits are read they may run on
                       // that row alone (STYLE §4, calm's FF_UPDATE_KV_ONLY)
};

// Builds the graph of m. Returns 0 or ERR_UNSUPPORTED / ERR_NOMEM with a message.
int graph_build(struct Graph* g, const struct Model* m, struct Err* e);
void graph_free(struct Graph* g);

// Checks g against OP_INFO: every op's name row exists, a weight only in a slot with a role,
// a state slot exactly on the stateful ops, the tail [first_tail_op, n_ops) free of embedding
// and layer ops. graph_build runs it on every graph; 0 or ERR_UNSUPPORTED naming the op.
int graph_check(const struct Graph* g, struct Err* e);

// Names for dumps and messages.
const char* op_kind_name(enum OpKind k);
