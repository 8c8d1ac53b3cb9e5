// err.h: the one error type of mattn.
// Library code never prints or exits: it returns a negative ERR_* code and fills a
// struct Err with one line that names the function and the object at fault. Only
// app/mattn_ref.c and app/mattn_gles.c print the message and choose the exit status.
#pragma once

enum ErrCode {
    ERR_OK = 0,
    ERR_IO = -1,           // open/read/write/mmap failed (errno text in the message)
    ERR_MAGIC = -2,        // not a GGUF (or safetensors, ...) file at all
    ERR_VERSION = -3,      // a format version we do not read
    ERR_TRUNCATED = -4,    // the data ends before a field it announces
    ERR_FORMAT = -5,       // malformed: bad length, count, string, duplicate, ...
    ERR_TYPE = -6,         // unknown type id, or a value of the wrong type
    ERR_ALIGN = -7,        // bad alignment value or a misaligned offset
    ERR_OVERFLOW = -8,     // a size product or offset overflows
    ERR_RANGE = -9,        // a tensor's data lies outside the file or overlaps another
    ERR_DUPLICATE = -10,   // the same key or tensor name twice
    ERR_NOMEM = -11,       // allocation failed or over a safety cap
    ERR_NOT_FOUND = -12,   // a required key or tensor is absent
    ERR_UNSUPPORTED = -13, // valid input we cannot run (architecture, quant type, ...)
    ERR_SHAPE = -14,       // a tensor has the wrong shape or type for its role
    ERR_ARG = -15,         // bad user argument (flag value, prompt too long, ...)
    ERR_GL = -16,          // EGL/GL failure, shader compile error
    ERR_CODE_COUNT = 17,
};

struct Err {
    int code;      // 0 or a negative ERR_* value
    char msg[256]; // one line, no trailing newline
};

// Records code and a printf-style message in e (e may be NULL) and returns code, so that
// callers can write `return err_set(e, ERR_FORMAT, "%s: ...", __func__, ...);`.
// Overwrites an earlier message.
int err_set(struct Err* e, int code, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

// A short stable name for a code ("ERR_FORMAT"), for tests and --json output.
const char* err_name(int code);
