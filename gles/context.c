// context.c: a headless EGL display and an OpenGL ES 3.2 (else 3.1) context with no surface.
// Paths, in order: GBM on a DRM render node (/dev/dri/renderD*), EGL_EXT_platform_device
// (a non-software device first), EGL_MESA_platform_surfaceless; the caller may force one
// (struct GlOptions.egl). The shared context below is the only mutable global of mattn
// (STYLE.md §6): engines share it through a reference count. Measured behaviour: docs
// GLES-NOTES.md.
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GLES3/gl31.h>
#include <dirent.h>
#include <fcntl.h>
#include <gbm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gles.h"

// The one headless context every engine of the process shares.
struct GlContext {
    EGLDisplay dpy;
    EGLContext ctx;
    struct gbm_device* gbm; // the GBM path's device and its render node, else NULL, -1
    int gbm_fd;
    int refs;
    char path[64];
    char renderer[160];
};

static struct GlContext g_context = {EGL_NO_DISPLAY, EGL_NO_CONTEXT, NULL, -1, 0, "", ""};

static const char* egl_err_name(EGLint e) {
    switch (e) {
    case EGL_SUCCESS: return "EGL_SUCCESS";
    case EGL_NOT_INITIALIZED: return "EGL_NOT_INITIALIZED";
    case EGL_BAD_ACCESS: return "EGL_BAD_ACCESS";
    case EGL_BAD_ALLOC: return "EGL_BAD_ALLOC";
    case EGL_BAD_ATTRIBUTE: return "EGL_BAD_ATTRIBUTE";
    case EGL_BAD_CONFIG: return "EGL_BAD_CONFIG";
    case EGL_BAD_CONTEXT: return "EGL_BAD_CONTEXT";
    case EGL_BAD_DISPLAY: return "EGL_BAD_DISPLAY";
    case EGL_BAD_MATCH: return "EGL_BAD_MATCH";
    case EGL_BAD_PARAMETER: return "EGL_BAD_PARAMETER";
    default: return "EGL error";
    }
}

static int has_ext(const char* list, const char* name) {
    if (!list) return 0;
    size_t n = strlen(name);
    for (const char* p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

static PFNEGLGETPLATFORMDISPLAYEXTPROC get_platform_display(void) {
    return (PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
}

// GBM on the first DRM render node that opens. GBM "succeeds" on any character device and
// then silently renders with llvmpipe, so only /dev/dri/renderD* is tried.
static EGLDisplay try_gbm(struct GlContext* c, char* why, size_t cap) {
    PFNEGLGETPLATFORMDISPLAYEXTPROC gpd = get_platform_display();
    DIR* d = opendir("/dev/dri");
    if (!d || !gpd) {
        snprintf(why, cap, "gbm: %s", d ? "no eglGetPlatformDisplayEXT" : "no /dev/dri");
        if (d) closedir(d);
        return EGL_NO_DISPLAY;
    }
    struct dirent* de;
    EGLDisplay dpy = EGL_NO_DISPLAY;
    snprintf(why, cap, "gbm: no render node in /dev/dri");
    while (dpy == EGL_NO_DISPLAY && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "renderD", 7) != 0) continue;
        char path[300];
        snprintf(path, sizeof(path), "/dev/dri/%s", de->d_name);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            snprintf(why, cap, "gbm: cannot open %.150s", path);
            continue;
        }
        struct gbm_device* gbm = gbm_create_device(fd);
        if (gbm) dpy = gpd(EGL_PLATFORM_GBM_KHR, gbm, NULL);
        if (dpy == EGL_NO_DISPLAY) {
            snprintf(why, cap, "gbm: no EGL display on %.150s", path);
            if (gbm) gbm_device_destroy(gbm);
            close(fd);
            continue;
        }
        c->gbm = gbm;
        c->gbm_fd = fd;
    }
    closedir(d);
    return dpy;
}

// EGL_EXT_platform_device: a device that is not Mesa's software device first.
static EGLDisplay try_device(char* why, size_t cap) {
    const char* cext = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
    PFNEGLGETPLATFORMDISPLAYEXTPROC gpd = get_platform_display();
    PFNEGLQUERYDEVICESEXTPROC qd =
        (PFNEGLQUERYDEVICESEXTPROC)eglGetProcAddress("eglQueryDevicesEXT");
    PFNEGLQUERYDEVICESTRINGEXTPROC qs =
        (PFNEGLQUERYDEVICESTRINGEXTPROC)eglGetProcAddress("eglQueryDeviceStringEXT");
    if (!has_ext(cext, "EGL_EXT_platform_device") || !gpd || !qd) {
        snprintf(why, cap, "device: EGL_EXT_platform_device is not available");
        return EGL_NO_DISPLAY;
    }
    EGLDeviceEXT devs[16];
    EGLint n = 0;
    if (!qd(16, devs, &n) || n == 0) {
        snprintf(why, cap, "device: eglQueryDevicesEXT found no device");
        return EGL_NO_DISPLAY;
    }
    for (int pass = 0; pass < 2; pass++)
        for (EGLint i = 0; i < n; i++) {
            const char* ext = qs ? qs(devs[i], EGL_EXTENSIONS) : NULL;
            int soft = has_ext(ext, "EGL_MESA_device_software");
            if (soft != pass) continue;
            EGLDisplay dpy = gpd(EGL_PLATFORM_DEVICE_EXT, devs[i], NULL);
            if (dpy != EGL_NO_DISPLAY) return dpy;
        }
    snprintf(why, cap, "device: no device gave an EGL display");
    return EGL_NO_DISPLAY;
}

static EGLDisplay try_surfaceless(char* why, size_t cap) {
    const char* cext = eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS);
    PFNEGLGETPLATFORMDISPLAYEXTPROC gpd = get_platform_display();
    if (!has_ext(cext, "EGL_MESA_platform_surfaceless") || !gpd) {
        snprintf(why, cap, "surfaceless: EGL_MESA_platform_surfaceless is not available");
        return EGL_NO_DISPLAY;
    }
    EGLDisplay dpy = gpd(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, NULL);
    if (dpy == EGL_NO_DISPLAY) snprintf(why, cap, "surfaceless: no EGL display");
    return dpy;
}

static void release_display(struct GlContext* c) {
    if (c->dpy != EGL_NO_DISPLAY) {
        eglMakeCurrent(c->dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
        if (c->ctx != EGL_NO_CONTEXT) eglDestroyContext(c->dpy, c->ctx);
        eglTerminate(c->dpy);
    }
    if (c->gbm) gbm_device_destroy(c->gbm);
    if (c->gbm_fd >= 0) close(c->gbm_fd);
    c->dpy = EGL_NO_DISPLAY;
    c->ctx = EGL_NO_CONTEXT;
    c->gbm = NULL;
    c->gbm_fd = -1;
}

// Initializes dpy and makes an ES 3.2/3.1 context current on it; 0 or a message in why.
static int make_context(struct GlContext* c, EGLDisplay dpy, char* why, size_t cap) {
    EGLint major, minor;
    if (!eglInitialize(dpy, &major, &minor)) {
        snprintf(why, cap, "eglInitialize failed (%s)", egl_err_name(eglGetError()));
        return -1;
    }
    c->dpy = dpy;
    if (!eglBindAPI(EGL_OPENGL_ES_API)) {
        snprintf(why, cap, "eglBindAPI(EGL_OPENGL_ES_API) failed (%s)",
                 egl_err_name(eglGetError()));
        return -1;
    }
    EGLConfig cfg = (EGLConfig)0; // EGL_NO_CONFIG_KHR
    if (!has_ext(eglQueryString(dpy, EGL_EXTENSIONS), "EGL_KHR_no_config_context")) {
        // The default EGL_SURFACE_TYPE (window bit) matches nothing on a headless display.
        const EGLint attrs[] = {EGL_RENDERABLE_TYPE, EGL_OPENGL_ES3_BIT, EGL_SURFACE_TYPE, 0,
                                EGL_NONE};
        EGLint n = 0;
        if (!eglChooseConfig(dpy, attrs, &cfg, 1, &n) || n < 1) {
            snprintf(why, cap, "no EGL config for OpenGL ES 3 (%s)", egl_err_name(eglGetError()));
            return -1;
        }
    }
    for (int mi = 2; mi >= 1 && c->ctx == EGL_NO_CONTEXT; mi--) {
        const EGLint cattrs[] = {EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, mi,
                                 EGL_NONE};
        c->ctx = eglCreateContext(dpy, cfg, EGL_NO_CONTEXT, cattrs);
    }
    if (c->ctx == EGL_NO_CONTEXT) {
        snprintf(why, cap, "no OpenGL ES 3.1 context (%s)", egl_err_name(eglGetError()));
        return -1;
    }
    if (!eglMakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, c->ctx)) {
        snprintf(why, cap, "eglMakeCurrent without a surface failed (%s)",
                 egl_err_name(eglGetError()));
        return -1;
    }
    GLint gmaj = 0, gmin = 0;
    glGetIntegerv(GL_MAJOR_VERSION, &gmaj);
    glGetIntegerv(GL_MINOR_VERSION, &gmin);
    if (gmaj < 3 || (gmaj == 3 && gmin < 1)) {
        snprintf(why, cap, "the context is OpenGL ES %d.%d, compute needs 3.1", gmaj, gmin);
        return -1;
    }
    const char* r = (const char*)glGetString(GL_RENDERER);
    snprintf(c->renderer, sizeof(c->renderer), "%s", r ? r : "?");
    return 0;
}

int gl_context_acquire(const char* force, const char** path, const char** renderer, struct Err* e) {
    struct GlContext* c = &g_context;
    if (c->refs > 0) {
        c->refs++;
        if (path) *path = c->path;
        if (renderer) *renderer = c->renderer;
        return 0;
    }
    if (force && *force && strcmp(force, "gbm") && strcmp(force, "device") &&
        strcmp(force, "surfaceless"))
        return err_set(e, ERR_ARG, "MATTN_EGL='%s': use gbm, device or surfaceless", force);
    static const char* const NAMES[3] = {"gbm", "device", "surfaceless"};
    char why[3][200] = {{0}};
    char msg[200] = "";
    for (int k = 0; k < 3; k++) {
        if (force && *force && strcmp(force, NAMES[k])) continue;
        EGLDisplay dpy = k == 0   ? try_gbm(c, why[k], sizeof(why[k]))
                         : k == 1 ? try_device(why[k], sizeof(why[k]))
                                  : try_surfaceless(why[k], sizeof(why[k]));
        if (dpy == EGL_NO_DISPLAY) continue;
        if (make_context(c, dpy, msg, sizeof(msg)) == 0) {
            snprintf(c->path, sizeof(c->path), "%s", NAMES[k]);
            c->refs = 1;
            if (path) *path = c->path;
            if (renderer) *renderer = c->renderer;
            return 0;
        }
        snprintf(why[k], sizeof(why[k]), "%s: %.180s", NAMES[k], msg);
        release_display(c);
    }
    if (force && *force)
        return err_set(e, ERR_GL, "no EGL/GL via MATTN_EGL=%s: %s; use mattn-ref", force,
                       why[force[0] == 'g'   ? 0
                           : force[0] == 'd' ? 1
                                             : 2]);
    return err_set(e, ERR_GL, "no EGL/GL: use mattn-ref (%.70s; %.70s; %.70s)", why[0], why[1],
                   why[2]);
}

void gl_context_release(void) {
    struct GlContext* c = &g_context;
    if (c->refs <= 0) return;
    if (--c->refs == 0) release_display(c);
}
