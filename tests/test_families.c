// test_families.c: the family registry (shared/families/) against itself, synth and the
// loader. For every registry row: the row is complete; its tensor table has no duplicate
// names or fields; a tiny model synthesized at the shape scripts/bench-families.sh
// --small-flags gives holds every row the table says is written, with the table's shape, and
// nothing else; the loader binds every required row on every layer it applies to; and the
// graph reads every tensor in the file (the one exception: RWKV-7's v0/v1/v2 on layer 0)
// and has every matrix it multiplies by.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bind.h"
#include "check.h"
#include "convert.h"
#include "families/families.h"
#include "graph.h"
#include "model.h"
#include "synth.h"
#include "synth_cmd.h"

// ---------------------------------------------------------------------------------------
// the registry

static size_t scope_size(enum BindScope s) {
    return s == SCOPE_LAYER    ? sizeof(struct LayerWeights)
           : s == SCOPE_SHARED ? sizeof(struct SharedBlock)
                               : sizeof(struct Weights);
}

static void test_registry_rows(void** state) {
    (void)state;
    for (int a = 0; a < ARCH_COUNT; a++) {
        const struct Family* f = family_of((enum Arch)a);
        assert_non_null(f);
        assert_int_equal(f->arch, a); // a row left out is zeroed: arch 0, name NULL
        assert_non_null(f->name);
        assert_string_equal(arch_name((enum Arch)a), f->name);
        assert_ptr_equal(family_by_name(f->name), f);
        assert_non_null(f->label);
        assert_true(strlen(f->label) <= 7);
        assert_non_null(f->load_config);
        assert_non_null(f->tensors);
        assert_non_null(f->synth_defaults);
        assert_non_null(f->synth_keys);
        assert_true((f->synth_params & PB_COMMON) == PB_COMMON);
        int n = 0;
        for (const struct TensorRow* r = f->tensors; r->name; r++, n++) {
            assert_true((unsigned)r->presence < PRESENCE_COUNT);
            assert_true((unsigned)r->init < INIT_COUNT);
            for (int d = 0; d < 4; d++)
                assert_true((unsigned)r->shape[d] < DIM_COUNT);
            assert_true(r->field + sizeof(void*) <= scope_size(bind_scope(r)));
            assert_true(r->field % sizeof(void*) == 0);
            for (const struct TensorRow* q = f->tensors; q < r; q++) {
                if (!strcmp(q->name, r->name) ||
                    (q->field == r->field && bind_scope(q) == bind_scope(r)))
                    fail_msg("%s: rows '%s' and '%s' share a name or a field", f->name, q->name,
                             r->name);
            }
        }
        assert_true(n > 0);
    }
    for (int p = 0; p < P_COUNT; p++)
        if (!synth_cmd_flag(p)) fail_msg("synth: flag %d has no name", p);
    for (int k = 0; k < OP_COUNT; k++)
        if (!op_kind_name((enum OpKind)k) || !strcmp(op_kind_name((enum OpKind)k), "?"))
            fail_msg("op %d has no name", k);
    char names[200];
    family_names(names, sizeof(names), " ");
    assert_non_null(strstr(names, "llama rwkv7"));
    // every converter writes an architecture the registry knows
    char types[200], *save = NULL;
    convert_model_types(types, sizeof(types));
    int n_types = 0;
    for (char* t = strtok_r(types, ", ", &save); t; t = strtok_r(NULL, ", ", &save), n_types++) {
        const char* arch = convert_arch_for(t);
        if (!arch || !family_by_name(arch))
            fail_msg("convert: model_type %s maps to '%s', no family", t, arch ? arch : "?");
    }
    assert_true(n_types >= ARCH_COUNT);
}

// ---------------------------------------------------------------------------------------
// each family: synth, the table, the loader, the graph

// The small shape of family name from scripts/bench-families.sh into v (resolved).
static void small_shape(const struct Family* f, int64_t* v) {
    char cmd[256], line[1024];
    snprintf(cmd, sizeof(cmd), "sh scripts/bench-families.sh --small-flags %s", f->name);
    FILE* p = popen(cmd, "r");
    assert_non_null(p);
    if (!fgets(line, sizeof(line), p)) line[0] = 0;
    if (pclose(p) != 0) fail_msg("%s: no --small-flags in scripts/bench-families.sh", f->name);
    memcpy(v, f->synth_defaults, P_COUNT * sizeof(*v));
    char* save = NULL;
    for (char* tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        char* val = strtok_r(NULL, " \n", &save);
        assert_non_null(val);
        int k = 0;
        while (k < P_COUNT && strcmp(tok, synth_cmd_flag(k)))
            k++;
        if (k == P_COUNT) fail_msg("%s: unknown small flag %s", f->name, tok);
        assert_true(f->synth_params & PB(k));
        v[k] = strtoll(val, NULL, 10);
    }
    synth_resolve(f->arch, v);
    char msg[200];
    if (synth_check(f->arch, v, msg, sizeof(msg))) fail_msg("%s: %s", f->name, msg);
}

struct Walk {
    const struct Family* f;
    const struct Gguf* file; // what synth wrote
    struct Model* m;         // what the loader bound
    char* seen;              // per file tensor: a row accounts for it
    int n_rows;
};

static int check_row(void* ctx, const struct TensorRow* r, int index) {
    struct Walk* w = ctx;
    const struct Config* c = &w->m->config;
    char name[128];
    snprintf(name, sizeof(name), r->name, index);
    w->n_rows++;
    const struct GgufTensor* t = gguf_find_tensor(w->file, name);
    if (bind_written(r, c, index) && !t) fail_msg("%s: synth did not write %s", w->f->name, name);
    if (bind_required(r, c, index) && !t) fail_msg("%s: required %s absent", w->f->name, name);
    if (t) {
        int64_t ne[4];
        bind_shape(r, c, index, ne);
        for (int d = 0; d < 4; d++)
            if (t->ne[d] != ne[d])
                fail_msg("%s: %s has ne[%d] %lld, the table says %lld", w->f->name, name, d,
                         (long long)t->ne[d], (long long)ne[d]);
        w->seen[t - w->file->tensors] = 1;
    }
    const struct GgufTensor** slot = bind_slot(w->m, r, index);
    assert_non_null(slot);
    if (bind_required(r, c, index) && !*slot)
        fail_msg("%s: the loader left %s unbound", w->f->name, name);
    if (!t && r->presence == OPTIONAL_UNTIED) // tied: the head is the embedding
        assert_ptr_equal(*slot, w->m->w.token_embd);
    else if (*slot)
        assert_string_equal((*slot)->name, name);
    if (!t && *slot && r->presence != OPTIONAL_UNTIED)
        fail_msg("%s: %s bound but not in the file", w->f->name, name);
    return 0;
}

static void check_family(const struct Family* f, enum GgmlType type) {
    int64_t v[P_COUNT];
    small_shape(f, v);
    struct SynthOptions o = {.type = type, .seed = 1};
    struct Err e = {0};
    uint8_t* bytes = NULL;
    size_t size = 0;
    int64_t n_params = 0;
    if (synth_write_mem(f->arch, v, &o, &bytes, &size, &n_params, &e))
        fail_msg("%s: synth: %s", f->name, e.msg);
    assert_true(n_params > 0);
    struct Gguf file, g;
    assert_int_equal(gguf_parse(&file, bytes, size, &e), 0);
    assert_int_equal(gguf_parse(&g, bytes, size, &e), 0);
    struct Model m;
    if (model_load(&m, &g, &e)) fail_msg("%s: load: %s", f->name, e.msg);
    assert_int_equal(m.config.arch, f->arch);
    assert_int_equal(m.config.tied_output, v[P_TIED] != 0);

    // table vs file vs loader
    struct Walk w = {f, &file, &m, calloc((size_t)file.n_tensors, 1), 0};
    assert_non_null(w.seen);
    assert_int_equal(bind_walk(f->tensors, &m.config, check_row, &w), 0);
    for (int64_t i = 0; i < file.n_tensors; i++)
        if (!w.seen[i])
            fail_msg("%s: synth wrote %s, which no row names", f->name, file.tensors[i].name);

    // the graph reads every tensor but RWKV-7's layer-0 value-residual LoRA
    struct Graph gr;
    if (graph_build(&gr, &m, &e)) fail_msg("%s: graph: %s", f->name, e.msg);
    char* used = calloc((size_t)m.gguf.n_tensors, 1);
    assert_non_null(used);
    for (int i = 0; i < gr.n_ops; i++) {
        const struct Op* op = &gr.ops[i];
        for (int k = 0; k < OP_MAX_W; k++)
            if (op->w[k] >= 0) used[op->w[k]] = 1;
        // a streamed matrix in slot 0 is what the op multiplies by: never optional
        if (OP_INFO[op->kind].w[0] == WROLE_MATRIX && op->w[0] < 0)
            fail_msg("%s: op %d (%s, layer %d) has no matrix", f->name, i, op->name, op->layer);
    }
    for (int64_t i = 0; i < m.gguf.n_tensors; i++) {
        const char* name = m.gguf.tensors[i].name;
        if (used[i] || (f->arch == ARCH_RWKV7 && !strncmp(name, "blk.0.time_mix_v", 16))) continue;
        fail_msg("%s: no op reads %s", f->name, name);
    }
    free(used);
    graph_free(&gr);
    free(w.seen);
    model_free(&m);
    gguf_free(&file);
    free(bytes);
}

static void test_family_tables(void** state) {
    (void)state;
    for (int a = 0; a < ARCH_COUNT; a++)
        check_family(family_of((enum Arch)a), GGML_TYPE_F32);
}

static void test_family_tables_q4_0(void** state) {
    (void)state;
    for (int a = 0; a < ARCH_COUNT; a++)
        check_family(family_of((enum Arch)a), GGML_TYPE_Q4_0);
}

// A table row the file lacks is reported by name.
static void test_missing_row_named(void** state) {
    (void)state;
    const struct Family* f = family_of(ARCH_LLAMA);
    int64_t v[P_COUNT];
    small_shape(f, v);
    struct SynthOptions o = {.type = GGML_TYPE_F32, .seed = 1};
    struct Err e = {0};
    uint8_t* bytes = NULL;
    size_t size = 0;
    assert_int_equal(synth_write_mem(f->arch, v, &o, &bytes, &size, NULL, &e), 0);
    // rename blk.1.ffn_down.weight in place (same length): the loader must name it
    uint8_t* hit = NULL;
    for (size_t i = 0; i + 21 <= size && !hit; i++)
        if (!memcmp(bytes + i, "blk.1.ffn_down.weight", 21)) hit = bytes + i;
    assert_non_null(hit);
    hit[6] = 'X';
    struct Gguf g;
    assert_int_equal(gguf_parse(&g, bytes, size, &e), 0);
    struct Model m;
    assert_int_equal(model_load(&m, &g, &e), ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "'blk.1.ffn_down.weight' is missing"));
    free(bytes);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_rows),
        cmocka_unit_test(test_family_tables),
        cmocka_unit_test(test_family_tables_q4_0),
        cmocka_unit_test(test_missing_row_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
