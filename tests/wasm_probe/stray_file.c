/* A file read in engine code: wasi-libc links it, but it imports WASI's path_open, which the
 * browser build's import check must refuse (tests/web_build.test.sh). */
#include <stdio.h>

__attribute__((export_name("probe"))) int probe(void) {
    FILE *f = fopen("weights.bin", "rb");
    return f ? fgetc(f) : -1;
}
