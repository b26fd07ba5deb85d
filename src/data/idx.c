/* IDX parsing, in memory only (no file I/O here, so the browser build can use this file as
 * is; gzip inflation is in idx_gzip.c). Every input is untrusted: all sizes use checked
 * arithmetic and no read goes past the given buffer.
 *
 * Messages written to err are one line and do not name a file (these functions never see
 * one); mnist_load_dir() prefixes them with "FILE: ". */
#include "data/idx.h"
#include "util/message.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* "60000x28x28" */
static void format_dims(char *buf, size_t n, const uint32_t *dims, uint32_t rank) {
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < rank && used < n; i++) {
        int w = snprintf(buf + used, n - used, i ? "x%u" : "%u", (unsigned)dims[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

idx_status idx_parse(const uint8_t *bytes, size_t len, idx_array *out, char *err, size_t errlen) {
    if (out) memset(out, 0, sizeof *out);
    if (!out || (!bytes && len))
        return message_fail(IDX_ERR_IO, err, errlen, "idx_parse called without a buffer");
    if (len < 4)
        return message_fail(IDX_ERR_TRUNCATED, err, errlen,
                    "file is %zu bytes, too short for the 4-byte IDX magic number", len);
    uint32_t magic = be32(bytes);
    if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08)
        return message_fail(IDX_ERR_MAGIC, err, errlen,
                    "not an IDX file of unsigned bytes (magic 0x%08x, expected 0x00000801 or "
                    "0x00000803)",
                    (unsigned)magic);
    uint32_t rank = bytes[3];
    if (rank != 1 && rank != 3)
        return message_fail(IDX_ERR_MAGIC, err, errlen,
                    "IDX file has rank %u (magic 0x%08x), expected rank 1 (0x00000801) or 3 "
                    "(0x00000803)",
                    (unsigned)rank, (unsigned)magic);
    size_t header = 4 + 4 * (size_t)rank;
    if (len < header)
        return message_fail(IDX_ERR_TRUNCATED, err, errlen,
                    "file is %zu bytes, shorter than its %zu-byte IDX header", len, header);

    uint32_t dims[3] = {0, 0, 0};
    for (uint32_t i = 0; i < rank; i++) dims[i] = be32(bytes + 4 + 4 * i);
    char dimstr[48];
    format_dims(dimstr, sizeof dimstr, dims, rank);

    size_t count = 1, total;
    for (uint32_t i = 0; i < rank; i++)
        if (__builtin_mul_overflow(count, (size_t)dims[i], &count))
            return message_fail(IDX_ERR_OVERFLOW, err, errlen,
                        "header dimensions %s overflow the size of memory", dimstr);
    if (__builtin_add_overflow(count, header, &total))
        return message_fail(IDX_ERR_OVERFLOW, err, errlen,
                    "header dimensions %s plus the %zu-byte header overflow the size of memory",
                    dimstr, header);

    /* In wgtrain, IDX rank 3 is images and rank 1 is labels: name them so in messages. */
    const char *what = rank == 3 ? "pixels" : "labels";
    size_t held = len - header;
    if (len < total)
        return message_fail(IDX_ERR_TRUNCATED, err, errlen,
                    "header says %s = %zu bytes of %s but the file holds %zu", dimstr, count,
                    what, held);
    if (len > total)
        return message_fail(IDX_ERR_SIZE_MISMATCH, err, errlen,
                    "header says %s = %zu bytes of %s but the file holds %zu (%zu extra bytes)",
                    dimstr, count, what, held, held - count);

    out->data = bytes + header;
    out->rank = rank;
    memcpy(out->dims, dims, sizeof dims);
    out->count = count;
    if (err && errlen) err[0] = '\0';
    return IDX_OK;
}

/* ---- a data set's fit: memory only, so the browser host checks what the CLI checks ---- */

/* The first label >= classes, or count when there is none. */
static uint32_t first_label_past(const mnist_set *s, uint32_t classes) {
    for (uint32_t i = 0; i < s->count; i++)
        if (s->labels[i] >= classes) return i;
    return s->count;
}

idx_status mnist_check_test(const mnist_set *train, const mnist_set *test, const char *dir, char *err,
                            size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (train->count == 0) return IDX_OK; /* nothing to train on: the host says so */
    if (train->classes < 2)
        return message_fail(IDX_ERR_LABEL_RANGE, err, errlen,
                            "%s: the training labels hold only class 0: a classifier needs at least 2 classes", dir);
    if (test->rows != train->rows || test->cols != train->cols)
        return message_fail(IDX_ERR_SHAPE, err, errlen, "%s: the test images are %ux%u but the training images are %ux%u",
                            dir, test->rows, test->cols, train->rows, train->cols);
    uint32_t i = first_label_past(test, train->classes);
    if (i < test->count)
        return message_fail(IDX_ERR_LABEL_RANGE, err, errlen,
                            "%s: test label %u at index %u is past the training set's %u classes (labels 0 to %u)", dir,
                            test->labels[i], i, train->classes, train->classes - 1);
    return IDX_OK;
}

idx_status mnist_check_model(const mnist_set *set, uint32_t inputs, uint32_t classes, const char *what, char *err,
                             size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if ((uint64_t)set->rows * set->cols != inputs)
        return message_fail(IDX_ERR_SHAPE, err, errlen, "the model takes %u inputs but the %s holds %ux%u images (%u pixels)",
                            inputs, what, set->rows, set->cols, set->rows * set->cols);
    uint32_t i = first_label_past(set, classes);
    if (i < set->count)
        return message_fail(IDX_ERR_LABEL_RANGE, err, errlen,
                            "the %s has label %u at index %u, past the model's %u classes (0 to %u)", what, set->labels[i], i,
                            classes, classes - 1);
    return IDX_OK;
}
