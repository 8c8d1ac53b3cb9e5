// fuzz_convert.c: libFuzzer / AFL++ target for the Hugging Face side of `mattn-ref convert`
// (tools/convert.c): the config.json reader, the tokenizer.json reader, the safetensors
// header, and the checks between them. An input is
//   u16 n_config (LE), u16 n_tokenizer (LE), config.json bytes, tokenizer.json bytes,
//   model.safetensors bytes (the rest)
// (no tokenizer.json when n_tokenizer is 0). The parts are written into a private temp
// directory and convert_hf() runs on it, to F32. A failure must carry one line and leave no
// output file; a success must write a GGUF that gguf_open reads back. Seeds: fuzz/corpus/
// convert/ (fuzz/make_convert_seeds.py) and, in fuzz/run.sh, ../shared/hf/*/ read in place.
// Build: make build/fuzz/fuzz_convert; AFL++: -DAFL_MAIN.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"
#include "gguf.h"

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_convert: check failed: %s (%s:%d)\n", #cond, __FILE__,           \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char g_dir[256];

static void put(const char* name, const uint8_t* p, size_t n) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE* f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(n == 0 || fwrite(p, 1, n, f) == n);
    FUZZ_CHECK(fclose(f) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!g_dir[0]) {
        const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(g_dir, sizeof(g_dir), "%s/mattn-fuzz-convert-XXXXXX", base);
        FUZZ_CHECK(mkdtemp(g_dir) != NULL);
    }
    if (size < 4) return 0;
    size_t n_cfg = (size_t)data[0] | (size_t)data[1] << 8;
    size_t n_tok = (size_t)data[2] | (size_t)data[3] << 8;
    data += 4;
    size -= 4;
    if (n_cfg > size) n_cfg = size;
    if (n_tok > size - n_cfg) n_tok = size - n_cfg;
    char tok_path[512], out[512];
    snprintf(tok_path, sizeof(tok_path), "%s/tokenizer.json", g_dir);
    snprintf(out, sizeof(out), "%s/out.gguf", g_dir);
    put("config.json", data, n_cfg);
    if (n_tok)
        put("tokenizer.json", data + n_cfg, n_tok);
    else
        unlink(tok_path);
    put("model.safetensors", data + n_cfg + n_tok, size - n_cfg - n_tok);

    struct ConvertOptions o = {.type = GGML_TYPE_F32, .name = "fuzz"};
    struct Err e = {0};
    int rc = convert_hf(g_dir, out, &o, &e);
    if (rc) {
        FUZZ_CHECK(rc < 0 && e.code == rc && e.msg[0] && !strchr(e.msg, '\n'));
        FUZZ_CHECK(access(out, F_OK) != 0); // nothing half-written
    } else {
        struct Gguf g;
        struct Err ge = {0};
        int grc = gguf_open(&g, out, &ge);
        if (grc) fprintf(stderr, "fuzz_convert: the output does not parse: %s\n", ge.msg);
        FUZZ_CHECK(grc == 0);
        gguf_free(&g);
        unlink(out);
    }
    return 0;
}

#include "afl_main.h"
