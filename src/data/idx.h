/* IDX files (the MNIST format) and the loader of a data-set folder in MNIST's layout: any
 * set of HxW grey images with labels 0..K-1 (MNIST, Fashion-MNIST, 8x8 digits, ...).
 *
 * Every input is untrusted: sizes use checked arithmetic, and each failure is one of the
 * idx_status codes below (tests assert them exactly) with a one-line message naming the file.
 * idx_parse() and idx_gunzip() work on memory only, so the browser build can use them;
 * mnist_load_dir() is the part that reads files. */
#ifndef WGTRAIN_IDX_H
#define WGTRAIN_IDX_H

#include <stddef.h>
#include <stdint.h>

typedef enum idx_status {
    IDX_OK = 0,
    IDX_ERR_MISSING,        /* file not found */
    IDX_ERR_IO,             /* read error */
    IDX_ERR_GZIP,           /* gzip stream corrupt or truncated */
    IDX_ERR_MAGIC,          /* not an IDX file of unsigned bytes, or wrong rank */
    IDX_ERR_TRUNCATED,      /* shorter than its header or its dimensions say */
    IDX_ERR_SIZE_MISMATCH,  /* longer than its dimensions say */
    IDX_ERR_OVERFLOW,       /* product of dimensions overflows */
    IDX_ERR_COUNT_MISMATCH, /* images and labels differ in count */
    IDX_ERR_LABEL_RANGE,    /* a test label past the training set's (or the model's) classes */
    IDX_ERR_SHAPE,          /* images of no pixels or more than IDX_MAX_PIXELS, or of another
                               shape than the training set's (or the model's inputs) */
    IDX_ERR_NOMEM,
} idx_status;

typedef struct idx_array {
    const uint8_t *data; /* points into the parsed buffer (no copy) */
    uint32_t rank;       /* 1 or 3 */
    uint32_t dims[3];
    size_t count;        /* product of dims */
} idx_array;

/* Parses an IDX file of unsigned bytes (magic 0x00000801 or 0x00000803) held in memory. */
idx_status idx_parse(const uint8_t *bytes, size_t len, idx_array *out, char *err, size_t errlen);

/* True when bytes start with the gzip magic (1f 8b). */
int idx_is_gzip(const uint8_t *bytes, size_t len);
/* Inflates a whole gzip member into a malloc'd buffer (*out, *out_len). Caps the output at
 * max_out bytes (IDX_ERR_SIZE_MISMATCH beyond it) so a gzip bomb cannot exhaust memory. */
idx_status idx_gunzip(const uint8_t *bytes, size_t len, size_t max_out, uint8_t **out,
                      size_t *out_len, char *err, size_t errlen);

/* The largest image a data set may hold (a model's inputs: core/model.h allows 65536) and the
 * most classes (labels are bytes). */
#define IDX_MAX_PIXELS 65536
#define IDX_MAX_CLASSES 256

typedef struct mnist_set {
    uint8_t *images;  /* count * rows * cols, malloc'd */
    uint8_t *labels;  /* count, malloc'd */
    uint32_t count, rows, cols;
    uint32_t classes; /* largest label + 1 (0 for an empty set) */
} mnist_set;

typedef enum mnist_split { MNIST_TRAIN, MNIST_TEST } mnist_split;

/* Loads <dir>/train-{images-idx3,labels-idx1}-ubyte (or t10k-...), each raw or gzip
 * (detected by content), trying the plain name then the name with ".gz". Checks that counts
 * match and that images hold 1..IDX_MAX_PIXELS pixels. err gets one line naming the file at
 * fault and, for a missing file, how to get it. */
idx_status mnist_load_dir(const char *dir, mnist_split split, mnist_set *out, char *err,
                          size_t errlen);
/* A test set fits a training set: the same image shape (IDX_ERR_SHAPE) and every label below
 * the training set's classes (IDX_ERR_LABEL_RANGE), which is the model's classes. Also refuses a
 * training set of fewer than 2 classes (IDX_ERR_LABEL_RANGE). An empty training set passes (the
 * host says there is nothing to train on). dir names the folder in err. */
idx_status mnist_check_test(const mnist_set *train, const mnist_set *test, const char *dir, char *err,
                            size_t errlen);
/* A set fits a model of `inputs` inputs and `classes` classes: rows * cols == inputs
 * (IDX_ERR_SHAPE), every label < classes (IDX_ERR_LABEL_RANGE). what names the set in err
 * ("DIR test set"). */
idx_status mnist_check_model(const mnist_set *set, uint32_t inputs, uint32_t classes, const char *what, char *err,
                             size_t errlen);
void mnist_free(mnist_set *set);

#endif
