/* IDX files (the MNIST format) and the MNIST directory loader.
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
    IDX_ERR_LABEL_RANGE,    /* a label >= 10 */
    IDX_ERR_SHAPE,          /* images are not 28x28 */
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

typedef struct mnist_set {
    uint8_t *images; /* count * rows * cols, malloc'd */
    uint8_t *labels; /* count, each < 10, malloc'd */
    uint32_t count, rows, cols;
} mnist_set;

typedef enum mnist_split { MNIST_TRAIN, MNIST_TEST } mnist_split;

/* Loads <dir>/train-{images-idx3,labels-idx1}-ubyte (or t10k-...), each raw or gzip
 * (detected by content), trying the plain name then the name with ".gz". Checks that counts
 * match, labels are < 10 and images are 28x28. err gets one line naming the file at fault
 * and, for a missing file, how to get it. */
idx_status mnist_load_dir(const char *dir, mnist_split split, mnist_set *out, char *err,
                          size_t errlen);
void mnist_free(mnist_set *set);

#endif
