// mattn-ref: the FP64 reference engine's command line.
// Each subcommand parses its own flags, does its work through shared/ and ref/, and
// returns an exit status: 0 ok, 1 failure (one line on stderr says what and where), 2 bad
// usage. This is the only ref/ file that prints errors or exits.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "info.h"

static int fail(const struct Err* e) {
    fprintf(stderr, "mattn-ref: error: %s\n", e->msg);
    return e->code == ERR_ARG ? EXIT_USAGE : 1;
}

static int usage_error(const char* cmd, const char* fmt, const char* arg) {
    fprintf(stderr, "mattn-ref %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'mattn-ref %s --help')\n", cmd);
    return EXIT_USAGE;
}

// ---------------------------------------------------------------------------------------
// info

static const char INFO_HELP[] =
    "usage: mattn-ref info -m MODEL.gguf [--json] [--kv] [--tensors]\n"
    "Describes a GGUF file: architecture, name, layers, widths, heads, context, vocabulary,\n"
    "tensor count and types, parameter count, file size.\n"
    "  -m, --model FILE  the GGUF file\n"
    "  --json            one JSON object on stdout (for scripts)\n"
    "  --kv              also list every metadata key and value\n"
    "  --tensors         also list every tensor (name, type, shape, offset)\n";

static int cmd_info(int argc, char** argv) {
    const char* model = NULL;
    int json = 0, kv = 0, tensors = 0;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(INFO_HELP, stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--kv")) {
            kv = 1;
        } else if (!strcmp(a, "--tensors")) {
            tensors = 1;
        } else {
            return usage_error("info", "unknown or incomplete option '%s'", a);
        }
    }
    if (!model) return usage_error("info", "%s", "-m MODEL is required");
    struct Gguf g;
    struct Err e = {0};
    if (gguf_open(&g, model, &e)) return fail(&e);
    cJSON* o = info_describe(&g, model);
    if (o && kv) info_add_kv(o, &g);
    if (o && tensors) info_add_tensors(o, &g);
    gguf_free(&g);
    if (!o) {
        fprintf(stderr, "mattn-ref: error: out of memory\n");
        return 1;
    }
    if (json) {
        char* s = cJSON_PrintUnformatted(o);
        if (s) printf("%s\n", s);
        free(s);
    } else {
        info_print_text(stdout, o);
    }
    cJSON_Delete(o);
    return 0;
}

// ---------------------------------------------------------------------------------------
// dispatch

struct Command {
    const char* name;
    int (*fn)(int argc, char** argv);
    const char* summary;
};

static const struct Command COMMANDS[] = {
    {"info", cmd_info, "describe a GGUF file (--json for scripts)"},
};

static void usage(FILE* f) {
    fprintf(f, "usage: mattn-ref COMMAND [options]   (mattn-ref COMMAND --help for details)\n"
               "The FP64 reference engine for hybrid language models in GGUF files.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "mattn-ref: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
