// gl_env.h: the GLES engine's options from the environment, for the mains and the tests
// (gles/ itself reads no environment variables).
#pragma once

#include "gles.h"

// Fills *o (zeroed first) from MATTN_EGL, MATTN_GL_SUBGROUP=0, MATTN_GL_MATVEC=TEAMS,NR,
// MATTN_GL_MAX_SSBO=BYTES, GL_SHADER_DIR and MATTN_GL_FUSE=0. The strings point into the
// environment. Malformed values are ignored, as unset ones are (an unknown MATTN_EGL name is
// passed on: gl_init rejects it with ERR_ARG).
void gl_options_from_env(struct GlOptions* o);
