// test_gles_errors.c: the GLES engine's environment failures, each through the production
// function: a shader the driver rejects (gl_compile, which gl_program uses for every kernel)
// must fail with ERR_GL and the driver's own error line in one-line message; an allocation no
// GPU can satisfy (gl_buffer_new, which every engine buffer goes through) must be reported by
// gl_check as GL_OUT_OF_MEMORY with advice. "No EGL at all" is tests/cli.sh's check (it needs
// a process whose EGL vendor list is empty). Skips when no ES 3.1 context can be made.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buffer.h"
#include "check.h"
#include "gl_env.h"
#include "gles.h"
#include "programs.h"

static int have_gl;

static int setup(void** state) {
    (void)state;
    struct Err e = {0};
    const char *path, *renderer;
    struct GlOptions opt;
    gl_options_from_env(&opt);
    have_gl = gl_context_acquire(opt.egl, &path, &renderer, &e) == 0;
    if (have_gl)
        fprintf(stderr, "gl: %s via %s\n", renderer, path);
    else
        printf("SKIP: %s\n", e.msg);
    return 0;
}

static int teardown(void** state) {
    (void)state;
    if (have_gl) gl_context_release();
    return 0;
}

#define NEED_GL()                                                                                  \
    do {                                                                                           \
        if (!have_gl) {                                                                            \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static const char COMMON[] = "// no helpers\n";
static const char GOOD[] = "layout(local_size_x = LOCAL_X) in;\n"
                           "layout(std430, binding = 0) buffer Out { float y[]; };\n"
                           "void main() { y[gl_GlobalInvocationID.x] = 1.0; }\n";
// GLSL ES 3.10: using an undeclared identifier is a compile-time error (section 4.1).
static const char BROKEN[] = "layout(local_size_x = LOCAL_X) in;\n"
                             "void main() { mattn_undeclared_name = 1.0; }\n";

static void test_gl_compile_good_source_links(void** state) {
    (void)state;
    NEED_GL();
    struct Err e = {0};
    GLuint p = 0;
    assert_int_equal(
        gl_compile(&p, "good", "", COMMON, (int)strlen(COMMON), GOOD, (int)strlen(GOOD), &e), 0);
    assert_true(p != 0);
    glDeleteProgram(p);
}

static void test_gl_compile_error_carries_driver_log(void** state) {
    (void)state;
    NEED_GL();
    struct Err e = {0};
    GLuint p = 0;
    int rc =
        gl_compile(&p, "broken", "", COMMON, (int)strlen(COMMON), BROKEN, (int)strlen(BROKEN), &e);
    fprintf(stderr, "message: %s\n", e.msg);
    assert_int_equal(rc, ERR_GL);
    assert_int_equal(e.code, ERR_GL);
    assert_int_equal(p, 0);
    assert_non_null(strstr(e.msg, "broken.comp"));
    // The driver's log names the offending identifier; the message must carry it.
    assert_non_null(strstr(e.msg, "mattn_undeclared_name"));
    assert_non_null(strstr(e.msg, "mattn-ref"));
    assert_null(strchr(e.msg, '\n'));
}

static void test_gl_buffer_out_of_memory(void** state) {
    (void)state;
    NEED_GL();
    struct Err e = {0};
    assert_int_equal(gl_check("before", &e), 0);
    // 64 TiB: more than any GPU (and more than the 4 GiB a Mesa buffer can address).
    GLuint b = gl_buffer_new((size_t)1 << 46, NULL);
    int rc = gl_check("allocating the KV cache", &e);
    fprintf(stderr, "message: %s\n", e.msg);
    assert_int_equal(rc, ERR_GL);
    assert_non_null(strstr(e.msg, "allocating the KV cache"));
    assert_non_null(strstr(e.msg, "GL_OUT_OF_MEMORY"));
    assert_non_null(strstr(e.msg, "lower -c"));
    assert_null(strchr(e.msg, '\n'));
    glDeleteBuffers(1, &b);
    // The error is consumed: an ordinary buffer afterwards checks clean.
    GLuint ok = gl_buffer_new(1024, NULL);
    assert_int_equal(gl_check("after", &e), 0);
    glDeleteBuffers(1, &ok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gl_compile_good_source_links),
        cmocka_unit_test(test_gl_compile_error_carries_driver_log),
        cmocka_unit_test(test_gl_buffer_out_of_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
