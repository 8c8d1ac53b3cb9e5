// cli.c: strict option-value parsing (see cli.h).
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_int(const char* flag, const char* s, int64_t lo, int64_t hi, int64_t* out, struct Err* e) {
    char* end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno)
        return err_set(e, ERR_ARG, "%s: '%s' is not an integer", flag, s ? s : "");
    if (v < lo || v > hi)
        return err_set(e, ERR_ARG, "%s: %lld is outside [%lld, %lld]", flag, v, (long long)lo,
                       (long long)hi);
    *out = v;
    return 0;
}

int cli_double(const char* flag, const char* s, double lo, double hi, double* out, struct Err* e) {
    char* end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || isnan(v))
        return err_set(e, ERR_ARG, "%s: '%s' is not a number", flag, s ? s : "");
    if (v < lo || v > hi) return err_set(e, ERR_ARG, "%s: %g is outside [%g, %g]", flag, v, lo, hi);
    *out = v;
    return 0;
}

int cli_u64(const char* flag, const char* s, uint64_t* out, struct Err* e) {
    char* end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return err_set(e, ERR_ARG, "%s: '%s' is not a non-negative integer", flag, s ? s : "");
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno)
        return err_set(e, ERR_ARG, "%s: '%s' is not a non-negative integer", flag, s);
    *out = v;
    return 0;
}

int cli_ids(const char* flag, const char* s, int32_t* ids, int cap, int* n, struct Err* e) {
    *n = 0;
    const char* p = s;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p) break;
        char* end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX ||
            (*end && *end != ' ' && *end != ',' && *end != '\t' && *end != '\n'))
            return err_set(e, ERR_ARG, "%s: '%.32s' is not a token id", flag, p);
        if (*n >= cap) return err_set(e, ERR_ARG, "%s: more than %d ids", flag, cap);
        ids[(*n)++] = (int32_t)v;
        p = end;
    }
    return 0;
}

int cli_output(const char* flag, const char* path, struct Err* e) {
    struct stat st;
    if (!path || !*path) return err_set(e, ERR_ARG, "%s: the output path is empty", flag);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return err_set(e, ERR_IO, "%s: '%s' is a directory; give a file name", flag, path);
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return err_set(e, ERR_IO, "%s: the output path is too long", flag);
    // O_EXCL: never truncate a file that is there already (another run's output in progress).
    int existed = access(tmp, F_OK) == 0;
    FILE* f = existed ? fopen(tmp, "ab") : fopen(tmp, "wbx");
    if (!f)
        return err_set(e, ERR_IO, "%s: cannot write '%s': %s; choose a writable path", flag, path,
                       strerror(errno));
    fclose(f);
    if (!existed) unlink(tmp);
    return 0;
}

char* cli_read_text(const char* flag, const char* path, size_t* len, struct Err* e) {
    int is_stdin = !strcmp(path, "-");
    FILE* f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        err_set(e, ERR_IO, "%s: cannot open '%s': %s", flag, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!is_stdin) fclose(f);
        err_set(e, ERR_IO, "%s: '%s' is a directory; give a text file (or - for standard input)",
                flag, path);
        return NULL;
    }
    size_t cap = 4096, n = 0, k;
    char* buf = malloc(cap + 1);
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char* nb = cap < (1u << 30) ? realloc(buf, cap * 2 + 1) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    if (!is_stdin) fclose(f);
    if (!buf) {
        err_set(e, ERR_NOMEM, "%s: '%s' is too large", flag, path);
        return NULL;
    }
    if (bad) {
        free(buf);
        err_set(e, ERR_IO, "%s: cannot read '%s'", flag, path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}
