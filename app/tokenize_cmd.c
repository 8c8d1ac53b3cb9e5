// tokenize_cmd.c: `mattn-ref tokenize -m MODEL (-p TEXT | -f FILE) [--no-bos] [--pieces]`.
// Only the model's tokenizer keys are read; the weights are not touched.
#include "tokenize_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gguf.h"
#include "tokenizer.h"

static const char HELP[] =
    "usage: mattn-ref tokenize -m MODEL (-p TEXT | -f FILE) [--no-bos] [--pieces] [--json]\n"
    "Prints the token ids of the text, space-separated, on one line.\n"
    "  -f FILE     tokenize the file's bytes verbatim (a trailing newline is part of the text)\n"
    "  --no-bos    do not add BOS (and EOS) even where the model asks for them\n"
    "  --no-special  treat control tokens written in the text (\"<s>\") as plain text\n"
    "  --pieces    also print each token's text, one per line: id -> 'piece'\n"
    "  --json      print {\"ids\": [...], \"pieces\": [...]} instead\n";

static int fail(const char* msg) {
    fprintf(stderr, "mattn-ref: error: %s\n", msg);
    return 1;
}

// Prints a JSON string literal of bytes (invalid UTF-8 escaped as \u00XX of the byte).
static void json_str(const char* s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int cmd_tokenize(int argc, char** argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL;
    int no_bos = 0, pieces = 0, json = 0, special = 1;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(HELP, stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && v) {
            model = argv[++i];
        } else if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && v) {
            prompt = argv[++i];
        } else if ((!strcmp(a, "-f") || !strcmp(a, "--file")) && v) {
            file = argv[++i];
        } else if (!strcmp(a, "--no-bos")) {
            no_bos = 1;
        } else if (!strcmp(a, "--no-special")) {
            special = 0;
        } else if (!strcmp(a, "--pieces")) {
            pieces = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else {
            fprintf(stderr, "mattn-ref tokenize: unknown or incomplete option '%s' (see --help)\n",
                    a);
            return EXIT_USAGE;
        }
    }
    if (!model || !!prompt + !!file != 1) {
        fprintf(stderr,
                "mattn-ref tokenize: need -m MODEL and one of -p TEXT or -f FILE (see --help)\n");
        return EXIT_USAGE;
    }
    struct Gguf g;
    struct Tokenizer tok;
    struct Err e = {0};
    if (gguf_open(&g, model, &e)) return fail(e.msg);
    int rc = tokenizer_init(&tok, &g, &e);
    gguf_free(&g);
    if (rc) return fail(e.msg);
    size_t len = prompt ? strlen(prompt) : 0;
    char* text = prompt ? (char*)prompt : cli_read_text("-f", file, &len, &e);
    if (!text) {
        tokenizer_free(&tok);
        return fail(e.msg);
    }
    size_t cap = tokenizer_bound(len);
    int32_t* ids = malloc(cap * sizeof(*ids));
    int n = 0;
    rc = ids ? tokenizer_encode(&tok, text, len, !no_bos, special, ids, (int)cap, &n, &e)
             : err_set(&e, ERR_NOMEM, "out of memory");
    if (!prompt) free(text);
    if (!rc) {
        if (json) printf("{\"ids\":[");
        for (int i = 0; i < n; i++)
            printf(i ? (json ? ",%d" : " %d") : "%d", ids[i]);
        if (json) {
            printf("],\"pieces\":[");
            for (int i = 0; i < n; i++) {
                size_t pl;
                const char* p = tokenizer_piece(&tok, ids[i], &pl);
                if (i) putchar(',');
                json_str(p, pl);
            }
            printf("]}");
        }
        printf("\n");
        for (int i = 0; pieces && !json && i < n; i++) {
            size_t pl;
            const char* p = tokenizer_piece(&tok, ids[i], &pl);
            size_t need = tokenizer_escape(p, pl, NULL, 0) + 1;
            char* esc = malloc(need);
            if (esc) tokenizer_escape(p, pl, esc, need);
            printf("%6d -> '%s'\n", ids[i], esc ? esc : "");
            free(esc);
        }
    }
    free(ids);
    tokenizer_free(&tok);
    return rc ? fail(e.msg) : 0;
}
