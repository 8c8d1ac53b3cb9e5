// afl_main.h: the file-reading main() every fuzz target gets with -DAFL_MAIN, for AFL++ and
// for replaying inputs by hand: `fuzz_X [file...]` runs LLVMFuzzerTestOneInput on each file,
// or on stdin without arguments. Include it once, after LLVMFuzzerTestOneInput is defined.
#pragma once
#ifdef AFL_MAIN

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int afl_run_stream(FILE* f) {
    size_t cap = 1 << 16, n = 0;
    uint8_t* buf = malloc(cap);
    if (!buf) return 1;
    for (;;) {
        if (n == cap) {
            uint8_t* nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return 1;
            }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        if (k == 0) break;
        n += k;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 2) return afl_run_stream(stdin);
    for (int i = 1; i < argc; i++) {
        FILE* f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        int rc = afl_run_stream(f);
        fclose(f);
        if (rc) return rc;
    }
    return 0;
}

#endif
