// gl_env.c: see gl_env.h.
#include "gl_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gl_options_from_env(struct GlOptions* o) {
    memset(o, 0, sizeof(*o));
    const char* s = getenv("MATTN_EGL");
    o->egl = s && *s ? s : NULL;
    s = getenv("MATTN_GL_SUBGROUP");
    o->no_subgroup = s && !strcmp(s, "0");
    s = getenv("MATTN_GL_MATVEC");
    int a, b;
    if (s && sscanf(s, "%d,%d", &a, &b) == 2) {
        o->mv_teams = a;
        o->mv_nr = b;
    }
    s = getenv("MATTN_GL_MAX_SSBO");
    if (s && atol(s) > 0) o->max_ssbo = (size_t)atol(s);
    s = getenv("GL_SHADER_DIR");
    o->shader_dir = s && *s ? s : NULL;
    s = getenv("MATTN_GL_FUSE");
    o->no_fuse = s && !strcmp(s, "0");
}
