// synth_cmd.c: `mattn-ref synth`: flags, help and checks around the generator in
// tools/synth.c, which writes a seeded random-weight GGUF of any family and size by walking
// the family's tensor table (shared/families/). Per-family defaults and the flags that apply
// to a family are registry data (families.h); this file only names the flags.
#include "synth_cmd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch.h"
#include "cli.h"
#include "families/families.h"
#include "quant.h"
#include "synth.h"

// ---------------------------------------------------------------------------------------
// shape flags: one table of flags, one of per-family defaults

struct Flag {
    const char* name;
    int64_t lo, hi;
};

// Declared [] so that a flag left out of the end fails the assertion below; one left out
// of the middle is a NULL name, which print_help and the flag loop would skip:
// tests/test_families.c checks every entry.
static const struct Flag FLAGS[] = {
    [P_EMBD] = {"--n-embd", 1, 1 << 16},
    [P_LAYER] = {"--n-layer", 1, 512},
    [P_VOCAB] = {"--n-vocab", 3, 1 << 22},
    [P_CTX] = {"--n-ctx", 1, 1 << 24},
    [P_FF] = {"--n-ff", 1, 1 << 20},
    [P_HEAD] = {"--n-head", 1, 1024},
    [P_HEAD_KV] = {"--n-head-kv", 1, 1024},
    [P_HEAD_DIM] = {"--head-dim", 2, 1 << 12},
    [P_TIED] = {"--tied", 0, 1},
    [P_WINDOW] = {"--window", 0, 1 << 24},
    [P_EXPAND] = {"--expand", 1, 16},
    [P_D_INNER] = {"--d-inner", 1, 1 << 20},
    [P_D_STATE] = {"--d-state", 1, 1 << 12},
    [P_D_CONV] = {"--d-conv", 2, 64},
    [P_DT_RANK] = {"--dt-rank", 1, 1 << 16},
    [P_SSM_HEAD_DIM] = {"--ssm-head-dim", 1, 1 << 16},
    [P_N_GROUP] = {"--n-group", 1, 1 << 12},
    [P_SSM_HEADS] = {"--ssm-heads", 1, 1 << 12},
    [P_LORA_DECAY] = {"--lora-decay", 1, 1 << 16},
    [P_LORA_ICLR] = {"--lora-iclr", 1, 1 << 16},
    [P_LORA_VALUE] = {"--lora-value", 1, 1 << 16},
    [P_LORA_GATE] = {"--lora-gate", 1, 1 << 16},
    [P_N_EXPERT] = {"--n-expert", 1, 256},
    [P_N_EXPERT_USED] = {"--n-expert-used", 1, 256},
    [P_MOE_EVERY] = {"--moe-every", 1, 512},
    [P_MOE_OFFSET] = {"--moe-offset", 0, 511},
    [P_ATTN_EVERY] = {"--attn-every", 1, 512},
    [P_ATTN_OFFSET] = {"--attn-offset", 0, 511},
    [P_SOFTCAP] = {"--softcap", 1, 1000},
    [P_SHARED_BLOCKS] = {"--shared-blocks", 1, 64},
    [P_ADAPTER_RANK] = {"--adapter-rank", 0, 1 << 16},
    [P_ATTN_ADAPTER] = {"--attn-adapter", 0, 1},
    [P_FFN_ADAPTER] = {"--ffn-adapter", 0, 1},
};
_Static_assert(sizeof(FLAGS) / sizeof(FLAGS[0]) == P_COUNT, "FLAGS size");

static const char* const HELP_HEAD =
    "default llama) with seeded random weights and a placeholder vocabulary (give prompts as\n"
    "--ids), then prints 'wrote OUT: N params, M bytes' on stderr.\n"
    "  --type   f32 (default) f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1: the big matrices' type;\n"
    "           vectors, norms, convolutions, RWKV-7 LoRAs and MoE routers stay F32, as do\n"
    "           matrices whose rows are not a whole number of blocks\n"
    "  --seed   the xoshiro256** seed (default 0): the same seed and flags give the same bytes\n"
    "Shape flags and their defaults per family ('-': the flag does not apply to it):\n";

static const char* const HELP_TAIL =
    "Derived unless given: --n-ff 4 n-embd (rwkv7, zamba2, zamba); --n-head-kv n-head (zamba2,\n"
    "zamba); --head-dim n-embd/n-head (zamba2, zamba: 2 n-embd/n-head, the width of their\n"
    "attention input); --d-inner expand * n-embd (recurrentgemma: its lru width, n-embd);\n"
    "--dt-rank ceil(n-embd/16). --expand and --d-inner exclude each other.\n"
    "Layer i has attention (jamba, recurrentgemma) or runs the shared block (zamba2, zamba)\n"
    "when i % attn-every == attn-offset, and a jamba layer has MoE when i % moe-every ==\n"
    "moe-offset (jamba: 1 expert means dense everywhere). --tied 1 writes no output.weight.\n"
    "--head-dim is the WKV head size for rwkv7; --d-inner the RG-LRU width for recurrentgemma.\n"
    "Default shapes: llama TinyLlama-1.1B; rwkv7 RWKV-7 World 1.5B; jamba Jamba's layout\n"
    "(attention every 8, 16 experts top-2 every 2) at 1024 wide, 16 layers; mamba mamba-1.4b;\n"
    "mamba2 mamba2-1.3b; recurrentgemma recurrentgemma-2b's 26 layers at 1536 wide; zamba2\n"
    "Zamba2-1.2B; "
    "zamba Zamba v1 at 2048 wide, 32 layers.\n"
    "Values: matrices N(0, 0.02); RMS/LayerNorm weights 1 (recurrentgemma stores 0: (1 + w)),\n"
    "biases 0; conv1d weights and bias U(+-1/sqrt(d-conv)); Mamba-1 A = -(1..d-state) per\n"
    "channel (jamba, zamba too), Mamba-2 A = -U(1, 16) per head (zamba2 too), stored as A_log\n"
    "by zamba and zamba2; dt bias = softplus^-1 of a log-uniform dt in [0.001, 0.1]; D 1;\n"
    "RWKV-7 token-shift mixes U(0, 1), w0 a ramp from -6.5 to -1.5 over channels, a0 0, v0 1,\n"
    "k_k 0.85, k_a 1; RG-LRU Lambda with softplus(Lambda) = -ln(u)/8, u ~ U(0.9, 0.999).\n";

const char* synth_cmd_flag(int p) {
    return p >= 0 && p < P_COUNT ? FLAGS[p].name : NULL;
}

static void print_help(void) {
    char names[160];
    printf("usage: mattn-ref synth -o OUT.gguf [--arch A] [--type T] [--seed S] [shape flags]\n"
           "Writes a model of family A (%s;\n",
           family_names(names, sizeof(names), " "));
    fputs(HELP_HEAD, stdout);
    int64_t v[ARCH_COUNT][P_COUNT];
    for (int a = 0; a < ARCH_COUNT; a++)
        synth_defaults((enum Arch)a, v[a]);
    printf("  %-16s", "");
    for (int a = 0; a < ARCH_COUNT; a++)
        printf(" %7s", family_of((enum Arch)a)->label);
    printf("\n");
    for (int p = 0; p < P_COUNT; p++) {
        printf("  %-16s", FLAGS[p].name);
        for (int a = 0; a < ARCH_COUNT; a++) {
            if (family_of((enum Arch)a)->synth_params & PB(p))
                printf(" %7lld", (long long)v[a][p]);
            else
                printf(" %7s", "-");
        }
        printf("\n");
    }
    fputs(HELP_TAIL, stdout);
}

// ---------------------------------------------------------------------------------------
// entry point

static int bad(const char* msg) {
    fprintf(stderr, "mattn-ref synth: %s (see --help)\n", msg);
    return EXIT_USAGE;
}

static void progress(void* ctx, const char* arch, int64_t l, int64_t n) {
    (void)ctx;
    fprintf(stderr, "\rmattn-ref synth: %s layer %lld/%lld", arch, (long long)l + 1, (long long)n);
}

int cmd_synth(int argc, char** argv) {
    const char *out = NULL, *arch_s = "llama", *type_name = "f32";
    int64_t given[P_COUNT];
    int is_given[P_COUNT] = {0};
    uint64_t seed = 0;
    struct Err e = {0};
    int rc = 0;
    for (int i = 1; i < argc && !rc; i++) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help();
            return 0;
        }
        if (!v) {
            fprintf(stderr, "mattn-ref synth: unknown or incomplete option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
        i++;
        int p = 0;
        while (p < P_COUNT && strcmp(a, FLAGS[p].name))
            p++;
        if (!strcmp(a, "-o"))
            out = v;
        else if (!strcmp(a, "--arch"))
            arch_s = v;
        else if (!strcmp(a, "--type"))
            type_name = v;
        else if (!strcmp(a, "--seed"))
            rc = cli_u64(a, v, &seed, &e);
        else if (p < P_COUNT) {
            rc = cli_int(a, v, FLAGS[p].lo, FLAGS[p].hi, &given[p], &e);
            is_given[p] = 1;
        } else {
            fprintf(stderr, "mattn-ref synth: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (rc) {
        fprintf(stderr, "mattn-ref synth: %s\n", e.msg);
        return EXIT_USAGE;
    }
    const struct Family* fam = family_by_name(arch_s);
    if (!fam) {
        char names[160];
        fprintf(stderr, "mattn-ref synth: unknown --arch '%.40s' (%s)\n", arch_s,
                family_names(names, sizeof(names), " "));
        return EXIT_USAGE;
    }
    enum Arch arch = fam->arch;
    int type = quant_type_from_name(type_name);
    float probe[32] = {0};
    uint8_t scratch[64];
    if (!out || type < 0 ||
        quant_quantize_row((enum GgmlType)type, probe, scratch,
                           quant_traits((uint32_t)type)->block_size)) {
        fprintf(stderr, "mattn-ref synth: need -o OUT and a --type of f32 f16 bf16 q8_0 q4_0 q4_1 "
                        "q5_0 q5_1\n");
        return EXIT_USAGE;
    }
    int64_t v[P_COUNT];
    memcpy(v, fam->synth_defaults, sizeof(v));
    for (int p = 0; p < P_COUNT; p++) {
        if (!is_given[p]) continue;
        if (!(fam->synth_params & PB(p))) {
            fprintf(stderr, "mattn-ref synth: %s does not apply to --arch %s (see --help)\n",
                    FLAGS[p].name, arch_s);
            return EXIT_USAGE;
        }
        v[p] = given[p];
    }
    if (is_given[P_EXPAND] && is_given[P_D_INNER])
        return bad("give --expand or --d-inner, not both");
    synth_resolve(arch, v);
    char msg[200];
    if (synth_check(arch, v, msg, sizeof(msg))) return bad(msg);

    struct Err oe = {0};
    if (cli_output("-o", out, &oe)) {
        fprintf(stderr, "mattn-ref: error: %s\n", oe.msg);
        return 1;
    }
    struct SynthOptions so = {
        .type = (enum GgmlType)type, .type_name = type_name, .seed = seed, .progress = progress};
    int64_t n_params = 0;
    rc = synth_write_file(arch, v, &so, out, &n_params, &e);
    fprintf(stderr, "\n");
    if (rc) {
        fprintf(stderr, "mattn-ref: error: %s\n", e.msg);
        return 1;
    }
    struct stat st;
    long long bytes = stat(out, &st) == 0 ? (long long)st.st_size : -1;
    fprintf(stderr, "mattn-ref synth: wrote %s: %lld params, %lld bytes\n", out,
            (long long)n_params, bytes);
    return 0;
}
