// matvec.c: GL feature probing (extensions, subgroups) and matvec.comp, the generation-time
// mat-vec, for the shapes it reads with 16-byte loads (see gles_int.h).
#include <stdio.h>
#include <string.h>

#include "gles_int.h"
#include "programs.h"

int gl_has_extension(const char* name) {
    GLint n_ext = 0;
    glGetIntegerv(GL_NUM_EXTENSIONS, &n_ext);
    for (GLint i = 0; i < n_ext; i++) {
        const char* x = (const char*)glGetStringi(GL_EXTENSIONS, (GLuint)i);
        if (x && !strcmp(x, name)) return 1;
    }
    return 0;
}

// Lanes of the subgroups the driver gives compute shaders, when they can add (subgroupAdd);
// 0 when GL_KHR_shader_subgroup is absent or lacks arithmetic (llvmpipe).
#define GL_SUBGROUP_SIZE_KHR 0x9532
#define GL_SUBGROUP_SUPPORTED_STAGES_KHR 0x9533
#define GL_SUBGROUP_SUPPORTED_FEATURES_KHR 0x9534
#define GL_SUBGROUP_FEATURE_ARITHMETIC_BIT_KHR 0x4
int gl_subgroup_lanes(void) {
    int found = gl_has_extension("GL_KHR_shader_subgroup");
    GLint size = 0, stages = 0, features = 0;
    if (found) {
        glGetIntegerv(GL_SUBGROUP_SIZE_KHR, &size);
        glGetIntegerv(GL_SUBGROUP_SUPPORTED_STAGES_KHR, &stages);
        glGetIntegerv(GL_SUBGROUP_SUPPORTED_FEATURES_KHR, &features);
    }
    glGetError(); // the queries are invalid enums where the extension is absent
    int ok = found && (stages & GL_COMPUTE_SHADER_BIT) &&
             (features & GL_SUBGROUP_FEATURE_ARITHMETIC_BIT_KHR) && size >= 4 && size <= 128 &&
             (size & (size - 1)) == 0;
    return ok ? size : 0;
}

// Whether matvec.comp can run op (an OP_MATMUL): whole 16-byte words or blocks per row and
// rows of x starting on 4-float boundaries. Reads the GGUF tensor: fuse.c asks before upload.
int gl_matvec_fits(const struct GlEngine* g, const struct Op* op) {
    const struct GgufTensor* W = &g->m->gguf.tensors[op->w[0]];
    int per = W->type == GGML_TYPE_F32                                   ? 4
              : (W->type == GGML_TYPE_F16 || W->type == GGML_TYPE_BF16)  ? 8
              : (W->type == GGML_TYPE_Q8_0 || W->type == GGML_TYPE_Q4_0) ? 32
                                                                         : 0;
    return per && W->ne[0] % per == 0 && g->g.bufs[op->in[0]].width % 4 == 0;
}

// matvec.comp's shape: TEAMS teams of one subgroup (else 32 lanes) per work group, NR rows
// per team; opt.mv_teams, opt.mv_nr override the default 4,2 (4,2 beat 4,1, 2,2 and 8,2
// on an H100 for Q4_0 and Q8_0; for tuning).
void gl_matvec_shape(struct GlEngine* g) {
    int team = g->subgroup ? g->subgroup : 32, a = g->opt.mv_teams, b = g->opt.mv_nr;
    g->mv_teams = 4;
    g->mv_nr = 2;
    if (a >= 1 && a * team <= 1024 && b >= 1 && b <= 4) {
        g->mv_teams = a;
        g->mv_nr = b;
    }
}

int gl_matvec_program(struct GlEngine* g, enum GgmlType type, int teams, int nr,
                      const char* epilogue, struct Err* e) {
    int team = g->subgroup ? g->subgroup : 32;
    char d[320];
    snprintf(d, sizeof(d),
             "%s#define W_BINDING 2\n#define %s 1\n#define TEAM %d\n#define TEAMS %d\n"
             "#define MV_X %d\n#define NR %d\n%s",
             g->subgroup ? "#extension GL_KHR_shader_subgroup_basic : enable\n"
                           "#extension GL_KHR_shader_subgroup_arithmetic : enable\n"
                           "#define SUBGROUP 1\n"
                         : "",
             gl_wtype_define(type), team, teams, team * teams, nr, epilogue);
    return gl_program(g, K_MATVEC, d, e);
}
