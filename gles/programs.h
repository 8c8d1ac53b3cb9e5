// programs.h: the embedded compute shaders (build/gen/shaders/kernels.h: enum Kernel K_*),
// compiled into programs cached by kernel + defines, and gl_dispatch(), the one place that
// binds buffers, sets uniforms, dispatches and inserts the barrier.
#pragma once

#include <GLES3/gl31.h>

#include "gles.h"
#include "shaders/kernels.h"

struct GlProg {
    enum Kernel kernel;
    char defines[320]; // "#define ...\n" (and #extension) lines of the head
    GLuint prog;
};

// Index of the program for kernel k with the given #define lines (may be ""), compiling it
// on first use. Returns >= 0, or a negative ERR_GL with the driver's info log in e.
int gl_program(struct GlEngine* g, enum Kernel k, const char* defines, struct Err* e);
void gl_programs_free(struct GlEngine* g);

// Compiles and links one compute program from the standard head (with defines), common and
// kernel (lengths in bytes; the strings need no NUL). gl_program() calls it for every kernel;
// tests call it on broken sources. Returns 0 and *out, or ERR_GL with the first error line of
// the driver's info log in e.
int gl_compile(GLuint* out, const char* name, const char* defines, const char* common,
               int common_len, const char* kernel, int kernel_len, struct Err* e);

// Runs program prog over groups (gx, gy, gz) with uniforms U[0..n_uni) and buffers bound to
// bindings 0..n_bufs-1, every one of which it may write. A barrier goes in first when a
// buffer it binds was written, or is one it may write and was read, by a dispatch since the
// last barrier: independent dispatches (q, k and v from one input) run without one.
void gl_dispatch(struct GlEngine* g, int prog, int gx, int gy, int gz, const int* uni, int n_uni,
                 const GLuint* bufs, int n_bufs);
// The same, declaring that it writes only the bindings in the mask writes (bit b: binding b).
void gl_dispatch_rw(struct GlEngine* g, int prog, int gx, int gy, int gz, const int* uni, int n_uni,
                    const GLuint* bufs, int n_bufs, unsigned writes);
// Makes every dispatch so far complete and visible (before reading back, or timing).
void gl_barrier(struct GlEngine* g);

// Work groups of LOCAL_X invocations covering n elements, laid out for common.glsl's
// flat_id(): x is capped at 65535 groups.
void gl_grid(int64_t n, int* gx, int* gy);

#define GL_LOCAL_X 64

// groups work groups laid out as gx * gy >= groups with gx <= 65535 (as gl_grid does).
void gl_groups_2d(int groups, int* gx, int* gy);
// Rows of w in chunk c (the last chunk may be short).
int gl_chunk_rows(const struct GlTensor* w, int c);
// forward.c: a double as the bits of the nearest float (a uniform in U[]).
int gl_float_bits(double x);
// forward.c: the row of KV-cache slot state that holds position pos.
int gl_kv_row(const struct GlEngine* g, int state, int64_t pos);
