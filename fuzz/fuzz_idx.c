/* libFuzzer target: the IDX parser and gzip inflation (src/data/idx.c: idx_parse, idx_gunzip).
 *
 * Raw input goes to idx_parse(); gzip input (1f 8b) is inflated under a 1 MiB cap and the result
 * parsed too. An accepted array must lie inside its buffer and hold exactly the product of its
 * dimensions. Build and run: fuzz/build.sh, fuzz/run.sh idx SECONDS. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/idx.h"

static void check(const uint8_t *buf, size_t len, const idx_array *a) {
    size_t n = 1;
    for (uint32_t i = 0; i < a->rank; i++) n *= a->dims[i];
    if (a->rank != 1 && a->rank != 3) abort();
    if (n != a->count || a->data < buf || a->data + a->count > buf + len) abort();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < a->count; i++) sink ^= a->data[i]; /* ASan checks every byte */
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    idx_array a;
    char err[512];
    if (idx_parse(data, size, &a, err, sizeof err) == IDX_OK) check(data, size, &a);
    else if (!memchr(err, 0, sizeof err)) abort();
    if (idx_is_gzip(data, size)) {
        uint8_t *out = NULL;
        size_t n = 0;
        if (idx_gunzip(data, size, (size_t)1 << 20, &out, &n, err, sizeof err) == IDX_OK) {
            if (n > ((size_t)1 << 20)) abort();
            if (idx_parse(out, n, &a, err, sizeof err) == IDX_OK) check(out, n, &a);
            free(out);
        }
    }
    return 0;
}
