// cli.h: command-line helpers both engines' main.c use: strict number parsing with the
// flag named in the error, and the exit-status convention (0 ok, 1 failure, 2 bad usage).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define EXIT_USAGE 2

// Parse a whole string as a number within [lo, hi]; ERR_ARG naming flag otherwise.
int cli_int(const char* flag, const char* s, int64_t lo, int64_t hi, int64_t* out, struct Err* e);
int cli_double(const char* flag, const char* s, double lo, double hi, double* out, struct Err* e);
int cli_u64(const char* flag, const char* s, uint64_t* out, struct Err* e);

// Parses "1 7 42" (spaces, commas or tabs between ids) into ids[0..cap). Each id must lie
// in [0, INT32_MAX]. Returns 0 and *n, or ERR_ARG.
int cli_ids(const char* flag, const char* s, int32_t* ids, int cap, int* n, struct Err* e);

// Checks, before any work, that an output file can be written at path: path is not a
// directory and path.tmp (where writers put the data before renaming it to path) can be
// created in its directory. The probe is removed again. Returns 0, or ERR_IO naming path.
int cli_output(const char* flag, const char* path, struct Err* e);

// Reads the whole text file a flag names (-f), or standard input for "-", into a malloc'ed
// buffer (NUL-terminated beyond *len). A directory, an unreadable file or a read error is
// ERR_IO naming flag and path; more than 1 GiB is ERR_NOMEM. Returns the buffer or NULL.
char* cli_read_text(const char* flag, const char* path, size_t* len, struct Err* e);
