// test_graph.c: the op table (OP_INFO) and graph_check, which graph_build runs on every graph:
// a row per op kind, and an op that disagrees with its row is refused with its name.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "graph.h"
#include "model.h"

// Every OpKind has a row with a name, and no two rows share a name (dumps are keyed by it).
static void test_op_info_has_every_kind(void** state) {
    (void)state;
    for (int k = 0; k < OP_COUNT; k++) {
        if (!OP_INFO[k].name) fail_msg("OP_INFO has no row for op kind %d", k);
        for (int j = 0; j < k; j++)
            if (!strcmp(OP_INFO[j].name, OP_INFO[k].name))
                fail_msg("OP_INFO rows %d and %d are both '%s'", j, k, OP_INFO[k].name);
        assert_string_equal(op_kind_name((enum OpKind)k), OP_INFO[k].name);
    }
    assert_string_equal(op_kind_name(OP_COUNT), "?");
}

// A two-op graph by hand: an embedding, then a tail matmul; each corruption is refused.
static void test_graph_check_refuses(void** state) {
    (void)state;
    struct Op ops[2] = {
        {.kind = OP_EMBED,
         .name = "inp_embd",
         .layer = -1,
         .out = 0,
         .in = {-1, -1, -1, -1, -1, -1},
         .w = {0, -1, -1, -1},
         .state = -1},
        {.kind = OP_MATMUL,
         .name = "result_output",
         .layer = -1,
         .out = 1,
         .in = {0, -1, -1, -1, -1, -1},
         .w = {0, -1, -1, -1},
         .state = -1},
    };
    struct Graph g = {.ops = ops, .n_ops = 2, .n_bufs = 2, .logits = 1, .first_tail_op = 1};
    struct Err e = {0};
    assert_int_equal(graph_check(&g, &e), 0);
    ops[1].w[2] = 0; // matmul has no third weight slot
    assert_int_equal(graph_check(&g, &e), ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "slot 2"));
    ops[1].w[2] = -1;
    ops[1].state = 0; // a stateless op with a state slot
    assert_int_equal(graph_check(&g, &e), ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "stateless"));
    ops[1].state = -1;
    g.first_tail_op = 0; // the embedding in the tail would skip prompt rows
    assert_int_equal(graph_check(&g, &e), ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "tail"));
    g.first_tail_op = 3;
    assert_int_equal(graph_check(&g, &e), ERR_UNSUPPORTED);
    g.first_tail_op = 1;
    ops[0].kind = OP_COUNT;
    assert_int_equal(graph_check(&g, &e), ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "OP_INFO lacks"));
}

// Every real model's graph passes (graph_build checks it) and has a tail of norm + classifier.
static void test_real_graphs_pass(void** state) {
    (void)state;
    const char* files[] = {"models/stories260K.gguf", "models/tiny-rwkv7-834K-f32.gguf",
                           "gguf/llama-f32.gguf",     "gguf/mamba-f32.gguf",
                           "gguf/mamba2-f32.gguf",    "gguf/jamba-f32.gguf"};
    int n_run = 0;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[512];
        if (!shared_path(path, sizeof(path), files[i])) continue;
        struct Model m = {0};
        struct Graph g = {0};
        struct Err e = {0};
        if (model_open(&m, path, &e)) fail_msg("%s: %s", files[i], e.msg);
        if (graph_build(&g, &m, &e)) fail_msg("%s: %s", files[i], e.msg);
        assert_int_equal(g.n_ops - g.first_tail_op, 2); // result_norm, result_output
        assert_int_equal(g.ops[g.n_ops - 1].out, g.logits);
        graph_free(&g);
        model_free(&m);
        n_run++;
    }
    if (!n_run) skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_info_has_every_kind),
        cmocka_unit_test(test_graph_check_refuses),
        cmocka_unit_test(test_real_graphs_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
