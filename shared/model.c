// model.c: model_open/model_load: read the common hyperparameters, then walk the family
// registry (shared/families/): the family's config loader fills the rest of struct Config
// and its tensor table is bound by bind_tensors() (shared/bind.c), which checks presence,
// type and every dimension and names the first mismatch.
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"
#include "families/families.h"

// ---------------------------------------------------------------------------------------
// common config

static int load_common(struct Model* m, struct Err* e) {
    const struct Gguf* g = &m->gguf;
    struct Config* c = &m->config;
    int rc;
    if ((rc = key_int(g, "embedding_length", 1, 0, 1, 1 << 20, &c->n_embd, e))) return rc;
    if ((rc = key_int(g, "block_count", 1, 0, 1, MODEL_MAX_LAYERS, &c->n_layer, e))) return rc;
    if ((rc = key_int(g, "context_length", 0, 4096, 1, INT32_MAX, &c->n_ctx_train, e))) return rc;
    if ((rc = key_int(g, "feed_forward_length", 0, 0, 0, 1 << 24, &c->n_ff, e))) return rc;
    if ((rc = key_per_layer(g, "attention.head_count", c->n_layer, 0, c->layer_n_head_kv, e)))
        return rc;
    c->n_head = 0;
    for (int l = 0; l < c->n_layer; l++)
        if (c->layer_n_head_kv[l] > c->n_head) c->n_head = c->layer_n_head_kv[l];
    if ((rc = key_per_layer(g, "attention.head_count_kv", c->n_layer, c->n_head, c->layer_n_head_kv,
                            e)))
        return rc;
    c->n_head_kv = 0;
    for (int l = 0; l < c->n_layer; l++)
        if (c->layer_n_head_kv[l] > c->n_head_kv) c->n_head_kv = c->layer_n_head_kv[l];
    int head_dim_default = c->n_head > 0 ? c->n_embd / c->n_head : 0;
    if ((rc = key_int(g, "attention.key_length", 0, head_dim_default, 0, 1 << 16, &c->head_dim, e)))
        return rc;
    double eps;
    if ((rc = key_float(g, "attention.layer_norm_rms_epsilon", -1, &eps, e))) return rc;
    if (eps < 0 && (rc = key_float(g, "attention.layer_norm_epsilon", 1e-5, &eps, e))) return rc;
    c->norm_eps = eps;

    // Vocabulary size: explicit key, else the token list, else the embedding rows.
    const struct GgufTensor* emb = gguf_find_tensor(g, "token_embd.weight");
    const struct GgufArr* toks;
    int64_t nv;
    if (arch_get_int(g, "vocab_size", &nv, NULL) == 0) {
        c->n_vocab = (int)nv;
    } else if (gguf_get_arr(g, "tokenizer.ggml.tokens", &toks, NULL) == 0) {
        c->n_vocab = (int)toks->n;
    } else if (emb && emb->n_dims == 2) {
        c->n_vocab = (int)emb->ne[1];
    }
    if (c->n_vocab <= 0 || (emb && emb->ne[1] > INT32_MAX))
        return err_set(e, ERR_FORMAT, "model: cannot tell the vocabulary size");
    return 0;
}

// ---------------------------------------------------------------------------------------
// entry points

// Takes g over; reads the config and, when bind is set, binds the weights.
static int load(struct Model* m, struct Gguf* g, int bind, struct Err* e) {
    memset(m, 0, sizeof(*m));
    m->gguf = *g;
    memset(g, 0, sizeof(*g));
    struct Config* c = &m->config;
    c->rope_freq_base = 10000.0;
    c->rope_freq_scale = 1.0;
    int rc = arch_from_gguf(&m->gguf, &c->arch, e);
    const struct Family* f = rc ? NULL : family_of(c->arch);
    if (!rc) rc = load_common(m, e);
    if (!rc) rc = f->load_config(m, e);
    if (!rc && bind) {
        m->w.layers = calloc((size_t)c->n_layer, sizeof(*m->w.layers));
        if (c->n_shared_block > 0)
            m->w.shared = calloc((size_t)c->n_shared_block, sizeof(*m->w.shared));
        if (!m->w.layers || (c->n_shared_block > 0 && !m->w.shared))
            rc = err_set(e, ERR_NOMEM, "model: out of memory");
    }
    if (!rc && bind) rc = bind_tensors(m, f->tensors, e);
    if (!rc && bind && !m->w.output) { // no output.weight: the head is token_embd
        m->w.output = m->w.token_embd;
        c->tied_output = true;
    }
    if (!rc && bind && f->check) rc = f->check(m, e);
    if (rc) model_free(m);
    return rc;
}

int model_load(struct Model* m, struct Gguf* g, struct Err* e) {
    return load(m, g, 1, e);
}

int model_load_config(struct Model* m, struct Gguf* g, struct Err* e) {
    return load(m, g, 0, e);
}

int model_open(struct Model* m, const char* path, struct Err* e) {
    struct Gguf g;
    memset(m, 0, sizeof(*m));
    int rc = gguf_open(&g, path, e);
    if (rc) return rc;
    rc = model_load(m, &g, e);
    if (rc && e) {
        char tmp[sizeof(e->msg)];
        memcpy(tmp, e->msg, sizeof(tmp));
        size_t n = strlen(path);
        if (n > 120) n = 120;
        snprintf(e->msg, sizeof(e->msg), "%.*s: %.*s", (int)n, path, (int)(sizeof(e->msg) - n - 3),
                 tmp);
    }
    return rc;
}

void model_free(struct Model* m) {
    if (!m) return;
    free(m->w.layers);
    free(m->w.shared);
    gguf_free(&m->gguf);
    memset(m, 0, sizeof(*m));
}

int model_tensor_id(const struct Model* m, const struct GgufTensor* t) {
    if (!t) return -1;
    return (int)(t - m->gguf.tensors);
}
