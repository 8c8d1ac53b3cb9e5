// embed.comp: out[t] = row tokens[t] of the embedding table (OP_EMBED), dequantized.
// One invocation per output element. The table may be split into chunks of rows: each
// dispatch covers one chunk and writes only the rows whose token falls inside it.
// bindings: 0 out (float), 1 tokens (int), 2 weights (W_BINDING 2)
// U: 0 width, 1 out stride, 2 first row r0, 3 rows n, 4 chunk's first token, 5 chunk rows,
//    6 bytes per row
#define WIDTH U[0]
#define STRIDE U[1]
#define R0 U[2]
#define N U[3]
#define TOK0 U[4]
#define TOKS U[5]
#define ROW_BYTES U[6]
layout(local_size_x = LOCAL_X) in;
layout(std430, binding = 0) writeonly buffer Out { float y[]; };
layout(std430, binding = 1) readonly buffer Tok { int tokens[]; };

void main() {
    int id = flat_id();
    if (id >= N * WIDTH) return;
    int t = R0 + id / WIDTH, i = id % WIDTH;
    int tok = tokens[t] - TOK0;
    if (tok < 0 || tok >= TOKS) return;
    y[t * STRIDE + i] = w_get(uint(tok) * uint(ROW_BYTES), i);
}
