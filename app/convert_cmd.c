// convert_cmd.c: `mattn-ref convert`: flag parsing and progress printing around
// convert_hf (tools/convert.c).
#include "convert_cmd.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "convert.h"
#include "quant.h"

static const char CONVERT_HELP[] =
    "usage: mattn-ref convert HF_DIR -o OUT.gguf [--type f32|f16|bf16|q8_0|q4_0] [--name NAME] "
    "[-q]\n"
    "Converts a Hugging Face checkpoint directory (config.json, model.safetensors or a sharded\n"
    "model.safetensors.index.json, optional tokenizer.json) to GGUF.\n"
    "Architectures: llama, mistral, jamba, mamba, mamba2 (llama.cpp's layout), recurrent_gemma,\n"
    "zamba2, zamba (mattn's layouts, docs/GGUF.md).\n"
    "  -o, --outfile PATH  the GGUF to write (written to PATH.tmp, then renamed)\n"
    "  --type T            tensor type: f32 (default, lossless), f16, bf16, q8_0, q4_0; 1-D\n"
    "                      tensors, norms, biases, SSM A/D/conv and rows that are not a whole\n"
    "                      number of blocks stay f32\n"
    "  --name NAME         general.name (default: the directory's name)\n"
    "  -q, --quiet         no progress lines on stderr\n";

static void progress(void* ctx, const char* line) {
    (void)ctx;
    fprintf(stderr, "convert: %s\n", line);
}

static int usage_error(const char* fmt, const char* arg) {
    fprintf(stderr, "mattn-ref convert: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'mattn-ref convert --help')\n");
    return EXIT_USAGE;
}

int cmd_convert(int argc, char** argv) {
    const char *dir = NULL, *out = NULL;
    struct ConvertOptions o = {.type = GGML_TYPE_F32, .log = progress};
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(CONVERT_HELP, stdout);
            return 0;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o.log = NULL;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--outfile") || !strcmp(a, "--type") ||
                   !strcmp(a, "--name")) {
            if (i + 1 >= argc) return usage_error("%s needs a value", a);
            const char* v = argv[++i];
            if (a[1] == 'o' || !strcmp(a, "--outfile")) {
                out = v;
            } else if (!strcmp(a, "--name")) {
                o.name = v;
            } else {
                int t = quant_type_from_name(v);
                if (t != GGML_TYPE_F32 && t != GGML_TYPE_F16 && t != GGML_TYPE_BF16 &&
                    t != GGML_TYPE_Q8_0 && t != GGML_TYPE_Q4_0)
                    return usage_error("--type '%s' is not f32, f16, bf16, q8_0 or q4_0", v);
                o.type = (enum GgmlType)t;
            }
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else if (!dir) {
            dir = a;
        } else {
            return usage_error("unexpected argument '%s'", a);
        }
    }
    if (!dir) return usage_error("%s", "HF_DIR is missing");
    if (!out) return usage_error("%s", "-o OUT.gguf is missing");
    struct Err e = {0};
    if (cli_output("-o", out, &e) || convert_hf(dir, out, &o, &e)) {
        fprintf(stderr, "mattn-ref: error: %s\n", e.msg);
        return e.code == ERR_ARG ? EXIT_USAGE : 1;
    }
    return 0;
}
