/* Dawn is opened with dlopen(RTLD_GLOBAL) and the executable's wgpu* calls are bound lazily
 * (see the Makefile), so the calls stay plain direct calls while a missing library is our own
 * clear message instead of the dynamic loader's. */
#include "host/dawn_library.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAWN_SUBPATH "node_modules/bun-webgpu-linux-x64/libwebgpu_wrapper.so"

static void quiet_headless_noise(void) {
    /* Headless machines: let Dawn's GLES probe use EGL's surfaceless platform instead of
     * failing loudly on a missing display. */
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) setenv("EGL_PLATFORM", "surfaceless", 0);
}

static void *try_open(const char *path) {
    return access(path, R_OK) == 0 ? dlopen(path, RTLD_NOW | RTLD_GLOBAL) : NULL;
}

bool checkout_path(const char *subpath, char *out, size_t cap) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return false;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    const char *ups[] = {"/..", "/../.."};
    for (int i = 0; i < 2; i++) {
        snprintf(out, cap, "%s%s/%s", exe, ups[i], subpath);
        if (access(out, R_OK) == 0) return true;
    }
    return false;
}

bool dawn_library_open(char *err, size_t errlen) {
    quiet_headless_noise();
    const char *env = getenv("WGTRAIN_DAWN_LIBRARY");
    if (env && *env) {
        if (try_open(env)) return true;
        snprintf(err, errlen, "cannot open Dawn from WGTRAIN_DAWN_LIBRARY=%s: %s", env,
                 access(env, R_OK) ? "no such file" : dlerror());
        return false;
    }
    char path[PATH_MAX + 64];
    if (checkout_path(DAWN_SUBPATH, path, sizeof path) && try_open(path)) return true;
    if (try_open(DAWN_SUBPATH)) return true;
    snprintf(err, errlen,
             "Dawn (libwebgpu_wrapper.so) not found: run 'make setup' in the wgtrain folder (it runs "
             "npm ci, which installs bun-webgpu-linux-x64@0.1.7), or set WGTRAIN_DAWN_LIBRARY");
    return false;
}
