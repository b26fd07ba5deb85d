/* PNG and PGM decoding and writing; see image.h. */
#include "image/image.h"
#include "util/file_read.h"
#include "util/message.h"

#include <errno.h>
#include <png.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static img_status fail(img_status st, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static img_status fail(img_status st, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    message_vformat(err, errlen, fmt, ap);
    va_end(ap);
    return st;
}

const char *img_status_name(img_status s) {
    switch (s) {
    case IMG_OK: return "IMG_OK";
    case IMG_ERR_MISSING: return "IMG_ERR_MISSING";
    case IMG_ERR_IO: return "IMG_ERR_IO";
    case IMG_ERR_FORMAT: return "IMG_ERR_FORMAT";
    case IMG_ERR_CORRUPT: return "IMG_ERR_CORRUPT";
    case IMG_ERR_TOO_LARGE: return "IMG_ERR_TOO_LARGE";
    case IMG_ERR_NOMEM: return "IMG_ERR_NOMEM";
    case IMG_ERR_BLANK: return "IMG_ERR_BLANK";
    }
    return "(unknown status)";
}

void img_free(img_gray *im) {
    if (!im) return;
    free(im->pixels);
    im->pixels = NULL;
    im->width = im->height = 0;
}

static img_status check_dims(uint64_t w, uint64_t h, char *err, size_t errlen) {
    uint64_t n;
    if (w == 0 || h == 0) return fail(IMG_ERR_CORRUPT, err, errlen, "image is %llux%llu pixels: empty", (unsigned long long)w, (unsigned long long)h);
    if (__builtin_mul_overflow(w, h, &n) || n > IMG_MAX_PIXELS)
        return fail(IMG_ERR_TOO_LARGE, err, errlen, "image is %llux%llu pixels, more than the %llu-pixel limit",
                    (unsigned long long)w, (unsigned long long)h, (unsigned long long)IMG_MAX_PIXELS);
    return IMG_OK;
}

/* ---- PNG ---- */

img_status img_decode_png(const uint8_t *bytes, size_t len, img_gray *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, bytes, len))
        return fail(IMG_ERR_CORRUPT, err, errlen, "PNG does not decode: %s", im.message);
    img_status st = check_dims(im.width, im.height, err, errlen);
    if (st) {
        png_image_free(&im);
        return st;
    }
    im.format = PNG_FORMAT_GA;
    size_t n = (size_t)im.width * im.height;
    uint8_t *ga = malloc(n * 2);
    if (!ga) {
        png_image_free(&im);
        return fail(IMG_ERR_NOMEM, err, errlen, "out of memory for a %ux%u image", im.width, im.height);
    }
    if (!png_image_finish_read(&im, NULL, ga, 0, NULL)) {
        free(ga);
        png_image_free(&im);
        return fail(IMG_ERR_CORRUPT, err, errlen, "PNG does not decode: %s", im.message);
    }
    uint8_t *g = malloc(n);
    if (!g) {
        free(ga);
        return fail(IMG_ERR_NOMEM, err, errlen, "out of memory for a %ux%u image", im.width, im.height);
    }
    /* Transparency: composite onto black when the ink is light, onto white when it is dark, so
     * strokes on a transparent canvas stay visible whichever colour they are. */
    bool has_alpha = false;
    double ink = 0, weight = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t a = ga[2 * i + 1];
        if (a != 255) has_alpha = true;
        ink += (double)ga[2 * i] * a;
        weight += a;
    }
    unsigned bg = weight > 0 && ink / weight > 127.5 ? 0 : 255;
    for (size_t i = 0; i < n; i++) {
        unsigned v = ga[2 * i], a = ga[2 * i + 1];
        g[i] = has_alpha ? (uint8_t)((v * a + bg * (255 - a) + 127) / 255) : (uint8_t)v;
    }
    free(ga);
    out->width = im.width;
    out->height = im.height;
    out->pixels = g;
    return IMG_OK;
}

/* ---- PGM ---- */

typedef struct pnm {
    const uint8_t *s;
    size_t n, i;
} pnm;

static bool pnm_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Skips whitespace and '#' comments (to the end of the line). */
static void pnm_skip(pnm *p) {
    while (p->i < p->n) {
        if (pnm_space(p->s[p->i])) p->i++;
        else if (p->s[p->i] == '#') {
            while (p->i < p->n && p->s[p->i] != '\n' && p->s[p->i] != '\r') p->i++;
        } else break;
    }
}

/* A decimal number of at most max; false if none, malformed or too big. */
static bool pnm_uint(pnm *p, uint32_t max, uint32_t *out) {
    pnm_skip(p);
    if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') return false;
    uint64_t v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        v = v * 10 + (uint64_t)(p->s[p->i] - '0');
        if (v > max) return false;
        p->i++;
    }
    if (p->i < p->n && !pnm_space(p->s[p->i]) && p->s[p->i] != '#') return false;
    *out = (uint32_t)v;
    return true;
}

img_status img_decode_pgm(const uint8_t *bytes, size_t len, img_gray *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (len < 2 || bytes[0] != 'P' || (bytes[1] != '2' && bytes[1] != '5'))
        return fail(IMG_ERR_FORMAT, err, errlen, "not a PGM image (expected P2 or P5)");
    bool plain = bytes[1] == '2';
    pnm p = {bytes, len, 2};
    if (p.i < p.n && !pnm_space(p.s[p.i]) && p.s[p.i] != '#')
        return fail(IMG_ERR_CORRUPT, err, errlen, "PGM: whitespace expected after the magic number");
    uint32_t w, h, maxval;
    if (!pnm_uint(&p, 1u << 30, &w) || !pnm_uint(&p, 1u << 30, &h))
        return fail(IMG_ERR_CORRUPT, err, errlen, "PGM: width and height must be whole numbers");
    img_status st = check_dims(w, h, err, errlen);
    if (st) return st;
    if (!pnm_uint(&p, 65535, &maxval) || maxval == 0)
        return fail(IMG_ERR_CORRUPT, err, errlen, "PGM: maxval must be a whole number in 1..65535");
    size_t n = (size_t)w * h; /* n <= IMG_MAX_PIXELS: no overflow below */
    /* enough bytes must be there before anything is allocated: a tiny file cannot claim memory */
    if (!plain) {
        /* exactly one whitespace byte, then the raster */
        if (p.i >= p.n || !pnm_space(p.s[p.i]))
            return fail(IMG_ERR_CORRUPT, err, errlen, "PGM: whitespace expected after maxval");
        p.i++;
        size_t need = n * (maxval > 255 ? 2 : 1);
        if (p.n - p.i < need)
            return fail(IMG_ERR_CORRUPT, err, errlen, "PGM: truncated: %zu bytes of pixels, %ux%u needs %zu", p.n - p.i, w, h, need);
    } else if (p.n - p.i < 2 * n - 1) {
        return fail(IMG_ERR_CORRUPT, err, errlen, "PGM: truncated: %zu bytes left cannot hold %zu pixels", p.n - p.i, n);
    }
    uint8_t *g = malloc(n);
    if (!g) return fail(IMG_ERR_NOMEM, err, errlen, "out of memory for a %ux%u image", w, h);
    if (!plain) {
        size_t bps = maxval > 255 ? 2 : 1;
        const uint8_t *r = p.s + p.i;
        for (size_t k = 0; k < n; k++) {
            uint32_t v = bps == 2 ? (uint32_t)r[2 * k] << 8 | r[2 * k + 1] : r[k];
            if (v > maxval) {
                free(g);
                return fail(IMG_ERR_CORRUPT, err, errlen, "PGM: pixel %zu is %u, above maxval %u", k, v, maxval);
            }
            g[k] = (uint8_t)((v * 255u + maxval / 2) / maxval);
        }
        /* anything after the raster (another image of a multi-image file) is not read */
    } else {
        for (size_t k = 0; k < n; k++) {
            uint32_t v;
            if (!pnm_uint(&p, 65535, &v)) {
                free(g);
                return fail(IMG_ERR_CORRUPT, err, errlen, "PGM: pixel %zu of %zu is missing or not a number in 0..65535", k, n);
            }
            if (v > maxval) {
                free(g);
                return fail(IMG_ERR_CORRUPT, err, errlen, "PGM: pixel %zu is %u, above maxval %u", k, v, maxval);
            }
            g[k] = (uint8_t)((v * 255u + maxval / 2) / maxval);
        }
    }
    out->width = w;
    out->height = h;
    out->pixels = g;
    return IMG_OK;
}

img_status img_decode(const uint8_t *bytes, size_t len, img_gray *out, char *err, size_t errlen) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memset(out, 0, sizeof *out);
    if (!bytes || len == 0) return fail(IMG_ERR_FORMAT, err, errlen, "empty file: not a PNG or PGM image");
    if (len >= 8 && !memcmp(bytes, png_sig, 8)) return img_decode_png(bytes, len, out, err, errlen);
    if (len >= 2 && bytes[0] == 'P' && (bytes[1] == '2' || bytes[1] == '5')) return img_decode_pgm(bytes, len, out, err, errlen);
    if (len >= 2 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '7')
        return fail(IMG_ERR_FORMAT, err, errlen, "a Netpbm P%c image: only PGM (P2, P5) and PNG are read", bytes[1]);
    if (len >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
        return fail(IMG_ERR_FORMAT, err, errlen, "a JPEG image: only PNG and PGM are read (convert it to PNG)");
    return fail(IMG_ERR_FORMAT, err, errlen, "not a PNG or PGM image");
}

img_status img_load(const char *path, img_gray *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    uint8_t *buf = NULL;
    size_t have = 0;
    switch (file_read_capped(path, IMG_MAX_FILE, NULL, &buf, &have, err, errlen)) {
    case FILE_READ_OK: break;
    case FILE_READ_MISSING: return IMG_ERR_MISSING;
    case FILE_READ_TOO_LARGE: return IMG_ERR_TOO_LARGE;
    case FILE_READ_NOMEM: return IMG_ERR_NOMEM;
    default: return IMG_ERR_IO;
    }
    char msg[512];
    img_status st = img_decode(buf, have, out, msg, sizeof msg);
    free(buf);
    if (st) return fail(st, err, errlen, "%s: %s", path, msg);
    return IMG_OK;
}

/* ---- writers ---- */

img_status img_write_pgm(const char *path, const img_gray *im, char *err, size_t errlen) {
    FILE *f = fopen(path, "wb");
    if (!f) return fail(IMG_ERR_IO, err, errlen, "%s: cannot create: %s", path, strerror(errno));
    size_t n = (size_t)im->width * im->height;
    int ok = fprintf(f, "P5\n%u %u\n255\n", im->width, im->height) > 0 && fwrite(im->pixels, 1, n, f) == n;
    if (fclose(f) != 0) ok = 0;
    if (!ok) return fail(IMG_ERR_IO, err, errlen, "%s: write error", path);
    return IMG_OK;
}

img_status img_write_png(const char *path, uint32_t width, uint32_t height, int channels, const uint8_t *pixels, char *err,
                         size_t errlen) {
    static const png_uint_32 formats[5] = {0, PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB, PNG_FORMAT_RGBA};
    if (channels < 1 || channels > 4) return fail(IMG_ERR_FORMAT, err, errlen, "PNG writer: %d channels", channels);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = width;
    im.height = height;
    im.format = formats[channels];
    if (!png_image_write_to_file(&im, path, 0, pixels, 0, NULL))
        return fail(IMG_ERR_IO, err, errlen, "%s: cannot write PNG: %s", path, im.message);
    return IMG_OK;
}
