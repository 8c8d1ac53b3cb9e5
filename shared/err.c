// err.c: struct Err helpers (see err.h).
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

int err_set(struct Err* e, int code, const char* fmt, ...) {
    if (e) {
        e->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        // A message is one line whatever it quotes: names from a damaged file (a tensor, a
        // key, a JSON string) may hold newlines or other control bytes.
        for (char* c = e->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    }
    return code;
}

static const char* const ERR_NAMES[] = {
    "ERR_OK",        "ERR_IO",    "ERR_MAGIC",     "ERR_VERSION",     "ERR_TRUNCATED",
    "ERR_FORMAT",    "ERR_TYPE",  "ERR_ALIGN",     "ERR_OVERFLOW",    "ERR_RANGE",
    "ERR_DUPLICATE", "ERR_NOMEM", "ERR_NOT_FOUND", "ERR_UNSUPPORTED", "ERR_SHAPE",
    "ERR_ARG",       "ERR_GL",
};
_Static_assert(sizeof(ERR_NAMES) / sizeof(ERR_NAMES[0]) == ERR_CODE_COUNT, "ERR_NAMES size");

const char* err_name(int code) {
    if (code > 0 || -code >= ERR_CODE_COUNT) return "ERR_?";
    return ERR_NAMES[-code];
}
