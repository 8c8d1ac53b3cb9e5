// hf_common.h: what the Hugging Face converters share (tools/convert.c drives them): the
// conversion state, config.json readers, {arch}.* key writers and the tensor helpers that
// look a checkpoint tensor up with a shape check, convert it to float32, apply llama.cpp's
// transforms and hand it to the GGUF writer in the chosen type. One hf_<family>.c per
// family file in shared/families/ maps that family's tensors; hf_tokenizer.c the vocabulary.
#pragma once

#include <cjson/cJSON.h>
#include <stdint.h>

#include "convert.h"
#include "gguf.h"
#include "safetensors.h"

struct Conv {
    const char* dir;
    const struct ConvertOptions* o;
    struct Err* e;
    int rc; // sticky: the first error
    cJSON* cfg;
    struct Safetensors st;
    struct GgufWriter w;
    const char* arch;
    enum GgmlType type;
    void** bufs; // tensor data owned until the write
    int n_bufs, cap_bufs;
    int n_tensors, n_kept_f32;
    char kept_names[160]; // the first few tensors kept F32 in a quantized file
    int64_t n_vocab;
    char name[256]; // scratch for formatted names
    char gname[256];
};

// ---------------------------------------------------------------------------------------
// messages and names

// One progress line through ConvertOptions.log.
void hf_log(struct Conv* c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Records the first error (later ones would only repeat its consequences); returns c->rc.
int hf_fail(struct Conv* c, int code, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
// An HF (hf_name) or GGUF (hf_gname) tensor name formatted into c's scratch buffers.
const char* hf_name(struct Conv* c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
const char* hf_gname(struct Conv* c, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// ---------------------------------------------------------------------------------------
// config.json

const cJSON* hf_cfg_item(struct Conv* c, const char* key);
// A number, also transformers' {"__float__": "Infinity"} spelling. 0, or ERR_NOT_FOUND when
// absent or null, ERR_TYPE (recorded) when of another kind.
int hf_json_num(struct Conv* c, const cJSON* j, const char* key, double* out);
// An integer key in [lo, hi]; def when absent (required: an error instead).
int64_t hf_cfg_int(struct Conv* c, const char* key, int64_t def, int required, int64_t lo,
                   int64_t hi);
double hf_cfg_float(struct Conv* c, const char* key, double def, int required);
int hf_cfg_bool(struct Conv* c, const char* key, int def);
// rope_theta, from rope_parameters (transformers 5) or the top level (older configs).
double hf_cfg_rope_theta(struct Conv* c, double def);
// A token id key (int, or the first of a list as some configs write eos_token_id).
int64_t hf_cfg_token_id(struct Conv* c, const char* key);
// dir/file parsed (NULL when absent and not required, or after an error).
cJSON* hf_read_json(struct Conv* c, const char* file, int required);

// ---------------------------------------------------------------------------------------
// {arch}.* keys

const char* hf_akey(struct Conv* c, const char* k);
void hf_kv_u32(struct Conv* c, const char* k, int64_t v);
void hf_kv_f32(struct Conv* c, const char* k, double v);
// Our own layouts (zamba2, zamba) keep a config float as the double transformers uses.
void hf_kv_f64(struct Conv* c, const char* k, double v);
void hf_kv_i32_arr(struct Conv* c, const char* k, const int32_t* v, int64_t n);

// ---------------------------------------------------------------------------------------
// tensors

const struct SafetensorsTensor* hf_find(struct Conv* c, const char* name);
// The HF tensor `name` as a malloc'ed float32 copy after checking its shape (HF order,
// nd dims d0, d1, d2). NULL (error recorded) when absent, misshapen or not a float type.
float* hf_get(struct Conv* c, const char* name, int nd, int64_t d0, int64_t d1, int64_t d2);
// Adds data (float32, owned from now on) as GGUF tensor gname with ne (GGUF order).
int hf_put(struct Conv* c, const char* gname, float* data, int nd, int64_t ne0, int64_t ne1,
           int64_t ne2);
// Copies HF tensor hname (HF shape d0, d1, d2) to gname with the dims reversed.
int hf_copy(struct Conv* c, const char* hname, const char* gname, int nd, int64_t d0, int64_t d1,
            int64_t d2);
// conv1d.weight [C, 1, K] squeezed to GGUF ne [K, C].
int hf_copy_conv(struct Conv* c, const char* hname, const char* gname, int64_t ch, int64_t k);
// llama.cpp's Q/K permutation: HF half-split RoPE rows -> interleaved pairs.
float* hf_permute_qk(float* w, int64_t n_head, int64_t rows, int64_t n_in);
// ssm_a = -exp(A_log): exp in double, rounded once to float32.
float* hf_neg_exp(float* a, int64_t n);
// Output head: lm_head.weight unless tie_word_embeddings (then none, as llama.cpp does).
int hf_put_output(struct Conv* c, const char* hname, int tied, int64_t v, int64_t d);

// ---------------------------------------------------------------------------------------
// the families (hf_<family>.c) and the vocabulary (hf_tokenizer.c)

// Each converter (tools/hf_list.h names them) writes the {arch}.* keys and maps the tensors
// of one model_type; 0 or c->rc.
#define CONVERTER(model_type, arch, fn) int fn(struct Conv* c);
#include "hf_list.h"
#undef CONVERTER
// Mamba-2 mixer under prefix into blk.i (store_a_log: zamba2's layout, A_log kept as is).
int hf_mamba2_mixer(struct Conv* c, const char* prefix, int64_t i, int64_t D, int64_t di, int64_t N,
                    int64_t G, int64_t nh, int64_t K, int store_a_log, int cb);
// tokenizer.json (+ tokenizer_config.json) as tokenizer.ggml.*, else a placeholder vocabulary.
void hf_write_vocab(struct Conv* c);
