// buffer.h: GPU buffer allocation and the GL error check that follows it. Allocation is
// deferred-checked, as GL itself reports errors: gl_buffer_new() never waits, and gl_check()
// turns the first recorded GL error (GL_OUT_OF_MEMORY above all) into one line of advice.
#pragma once

#include <GLES3/gl31.h>
#include <stddef.h>

#include "err.h"

// Creates a shader storage buffer of bytes bytes (4 when 0), filled from data when data is
// not NULL, and leaves it bound to GL_SHADER_STORAGE_BUFFER. A failed allocation is recorded
// by GL (GL_OUT_OF_MEMORY) and reported by the next gl_check().
GLuint gl_buffer_new(size_t bytes, const void* data);

// Returns 0 when GL has recorded no error, else ERR_GL with a message that starts with what,
// names the error and, for GL_OUT_OF_MEMORY, says what to do. Clears the recorded error.
int gl_check(const char* what, struct Err* e);
