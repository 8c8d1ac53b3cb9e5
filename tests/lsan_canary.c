// lsan_canary.c: leaks a block allocated in mattn's own code (this binary, linked with the
// library as the suites are). `make check` runs it under the suites' LeakSanitizer options and
// suppressions and requires a leak report: the GL driver's rules in tests/lsan.supp must not
// hide a leak of mattn's.
#include <stdio.h>
#include <stdlib.h>

#include "gguf.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: lsan_canary FILE.gguf\n");
        return 2;
    }
    struct Gguf* g = calloc(1, sizeof *g);
    struct Err e = {0};
    if (!g || gguf_open(g, argv[1], &e)) {
        fprintf(stderr, "lsan_canary: %s\n", e.msg);
        return 1;
    }
    g = NULL; // the leak: the reader and its tables are never freed
    return 0;
}
