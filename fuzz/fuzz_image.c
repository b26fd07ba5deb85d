/* libFuzzer target: PNG/PGM decoding and MNIST preprocessing (src/image), as `wgtrain predict`
 * runs them on untrusted files. libpng itself is the system library (not instrumented); what is
 * checked is wgtrain's use of it, its PGM parser and the preprocessing arithmetic.
 * Build and run: fuzz/build.sh, fuzz/run.sh image SECONDS. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    img_gray im;
    char err[512];
    if (img_decode(data, size, &im, err, sizeof err) != IMG_OK) return 0;
    if (!im.pixels || !im.width || !im.height || (uint64_t)im.width * im.height > IMG_MAX_PIXELS) abort();
    uint8_t out[IMG_MNIST_SIDE * IMG_MNIST_SIDE];
    img_to_mnist(&im, out, err, sizeof err);
    img_free(&im);
    return 0;
}
