// buffer.c: see buffer.h. Split out of forward.c so that the out-of-memory path can be tested
// (tests/test_gles_errors.c asks for an absurd buffer through gl_buffer_new).
#include "buffer.h"

#include <stdint.h>

GLuint gl_buffer_new(size_t bytes, const void* data) {
    GLuint b = 0;
    glGenBuffers(1, &b);
    glBindBuffer(GL_SHADER_STORAGE_BUFFER, b);
    // GLsizeiptr is signed: a size beyond its range is an allocation that cannot succeed.
    GLsizeiptr n = bytes > (size_t)INTPTR_MAX ? (GLsizeiptr)INTPTR_MAX : (GLsizeiptr)bytes;
    glBufferData(GL_SHADER_STORAGE_BUFFER, n ? n : 4, data, GL_DYNAMIC_COPY);
    return b;
}

int gl_check(const char* what, struct Err* e) {
    GLenum err = glGetError();
    if (err == GL_NO_ERROR) return 0;
    // Drain the other recorded flags (GL keeps one per kind) so the next check starts clean.
    for (int i = 0; i < 8 && glGetError() != GL_NO_ERROR; i++) {
    }
    if (err == GL_OUT_OF_MEMORY)
        return err_set(e, ERR_GL,
                       "%s: the GPU is out of memory (GL_OUT_OF_MEMORY); lower -c, "
                       "use a smaller or more quantized model, or use mattn-ref",
                       what);
    const char* name = err == GL_INVALID_VALUE       ? "GL_INVALID_VALUE"
                       : err == GL_INVALID_OPERATION ? "GL_INVALID_OPERATION"
                       : err == GL_INVALID_ENUM      ? "GL_INVALID_ENUM"
                                                     : "GL error";
    return err_set(e, ERR_GL, "%s: %s (0x%04x)", what, name, err);
}
