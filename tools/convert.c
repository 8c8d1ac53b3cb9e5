// convert.c: HF checkpoint -> GGUF, the driver: config.json's model_type picks a row of
// CONVERTERS (one hf_<family>.c per family file in shared/families/), which writes the
// {arch}.* keys and maps the tensors through hf_common.c's helpers; then the vocabulary
// (hf_tokenizer.c) and the write.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hf_common.h"

// ---------------------------------------------------------------------------------------
// driver

// One row per config.json model_type: the GGUF architecture it becomes and its converter.
static const struct Converter {
    const char* model_type;
    const char* arch;
    int (*convert)(struct Conv* c);
} CONVERTERS[] = {
#define CONVERTER(model_type, arch, fn) {model_type, arch, fn},
#include "hf_list.h"
#undef CONVERTER
};
#define N_CONVERTERS (sizeof(CONVERTERS) / sizeof(CONVERTERS[0]))

static const struct Converter* converter_for(const char* model_type) {
    for (size_t i = 0; i < N_CONVERTERS; i++)
        if (model_type && !strcmp(model_type, CONVERTERS[i].model_type)) return &CONVERTERS[i];
    return NULL;
}

const char* convert_arch_for(const char* model_type) {
    const struct Converter* cv = converter_for(model_type);
    return cv ? cv->arch : NULL;
}

const char* convert_model_types(char* buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = 0;
    for (size_t i = 0; i < N_CONVERTERS && n < cap; i++) {
        int k = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", CONVERTERS[i].model_type);
        if (k < 0) break;
        n += (size_t)k;
    }
    return buf;
}

static int file_type_of(enum GgmlType t) {
    switch (t) {
    case GGML_TYPE_F32: return 0;
    case GGML_TYPE_F16: return 1;
    case GGML_TYPE_Q4_0: return 2;
    case GGML_TYPE_Q8_0: return 7;
    case GGML_TYPE_BF16: return 32;
    default: return -1;
    }
}

int convert_hf(const char* dir, const char* out_path, const struct ConvertOptions* o,
               struct Err* e) {
    struct Conv cv = {.dir = dir, .o = o, .e = e, .type = o ? o->type : GGML_TYPE_F32};
    struct Conv* c = &cv;
    if (file_type_of(c->type) < 0)
        return err_set(e, ERR_ARG,
                       "convert: output type %s is not one of f32, f16, bf16, q8_0, "
                       "q4_0",
                       quant_type_name(c->type));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(e, ERR_IO, "convert: %s is not a directory", dir);
    if (gguf_writer_init(&c->w)) return err_set(e, ERR_NOMEM, "convert: out of memory");
    c->cfg = hf_read_json(c, "config.json", 1);
    const cJSON* mt = c->cfg ? hf_cfg_item(c, "model_type") : NULL;
    const char* model_type = cJSON_IsString(mt) ? mt->valuestring : NULL;
    if (c->cfg && !model_type) hf_fail(c, ERR_FORMAT, "config.json: model_type is missing");
    const struct Converter* conv = c->rc ? NULL : converter_for(model_type);
    if (conv) c->arch = conv->arch;
    char types[160];
    if (!c->rc && !conv)
        hf_fail(c, ERR_UNSUPPORTED, "config.json: model_type '%.60s' is not supported (%s)",
                model_type, convert_model_types(types, sizeof(types)));
    if (!c->rc) {
        struct Err se = {0};
        if (safetensors_dir_open(&c->st, dir, &se)) hf_fail(c, se.code, "%s", se.msg);
    }
    if (!c->rc) c->n_vocab = hf_cfg_int(c, "vocab_size", 0, 1, 1, INT32_MAX);
    if (!c->rc) {
        hf_log(c, "%s: model_type %s -> GGUF arch %s, %lld tensors in the checkpoint, output %s",
               dir, model_type, c->arch, (long long)c->st.n_tensors, quant_type_name(c->type));
        gguf_writer_set_str(&c->w, "general.architecture", c->arch);
        const char* name = o && o->name ? o->name : NULL;
        char base[256];
        if (!name) {
            const char* s = dir + strlen(dir);
            while (s > dir && s[-1] == '/')
                s--;
            const char* b = s;
            while (b > dir && b[-1] != '/')
                b--;
            snprintf(base, sizeof(base), "%.*s", (int)(s - b), b);
            name = base;
        }
        gguf_writer_set_str(&c->w, "general.name", name);
        conv->convert(c);
    }
    if (!c->rc) {
        gguf_writer_set_u32(&c->w, "general.file_type", (uint32_t)file_type_of(c->type));
        if (c->type != GGML_TYPE_F32) gguf_writer_set_u32(&c->w, "general.quantization_version", 2);
        hf_write_vocab(c);
    }
    if (!c->rc && c->n_kept_f32)
        hf_log(c,
               "note: %d tensors stay F32 (1-D, norms, biases, SSM A/D/conv, router, or rows "
               "not a multiple of the %s block): %s%s",
               c->n_kept_f32, quant_type_name(c->type), c->kept_names,
               c->n_kept_f32 > 6 ? ", ..." : "");
    if (!c->rc && c->w.failed)
        hf_fail(c, c->w.err.code ? c->w.err.code : ERR_FORMAT, "%s", c->w.err.msg);
    if (!c->rc) {
        struct Err we = {0};
        if (gguf_writer_write_file(&c->w, out_path, &we))
            hf_fail(c, we.code, "%s", we.msg);
        else
            hf_log(c, "wrote %s: %d tensors", out_path, c->n_tensors);
    }
    gguf_writer_free(&c->w);
    for (int i = 0; i < c->n_bufs; i++)
        free(c->bufs[i]);
    free(c->bufs);
    safetensors_free(&c->st);
    cJSON_Delete(c->cfg);
    return c->rc;
}
