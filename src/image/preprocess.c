/* MNIST-style preprocessing; see image.h.
 *
 * MNIST digits (LeCun, Cortes, Burges) are white on black, scaled to fit a 20x20 box with the
 * aspect ratio kept, anti-aliased, and centred in 28x28 by their centre of mass. Measured on
 * the training set, that centre sits at (14.0, 14.0) in pixel-index coordinates and the
 * nonzero bounding box has a longer side of exactly 20, so those are the targets here. */
#include "image/image.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static img_status fail(img_status st, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static img_status fail(img_status st, char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

#define TARGET_CENTRE 14.0

/* Resamples one line of n_in values (stride in_step) to n_out values (stride out_step):
 * area averaging when shrinking, linear interpolation (pixel centres aligned) when enlarging. */
static void resample_line(const float *in, size_t n_in, size_t in_step, float *out, size_t n_out, size_t out_step) {
    if (n_out == n_in) {
        for (size_t i = 0; i < n_out; i++) out[i * out_step] = in[i * in_step];
    } else if (n_out < n_in) {
        double scale = (double)n_in / (double)n_out;
        for (size_t o = 0; o < n_out; o++) {
            double a = o * scale, b = (o + 1) * scale, sum = 0;
            size_t i0 = (size_t)a, i1 = (size_t)ceil(b);
            if (i1 > n_in) i1 = n_in;
            for (size_t i = i0; i < i1; i++) {
                double lo = i > a ? (double)i : a, hi = (double)(i + 1) < b ? (double)(i + 1) : b;
                if (hi > lo) sum += in[i * in_step] * (hi - lo);
            }
            out[o * out_step] = (float)(sum / scale);
        }
    } else {
        double scale = (double)n_in / (double)n_out;
        for (size_t o = 0; o < n_out; o++) {
            double x = (o + 0.5) * scale - 0.5;
            if (x < 0) x = 0;
            if (x > (double)(n_in - 1)) x = (double)(n_in - 1);
            size_t i = (size_t)x;
            double f = x - (double)i;
            float v0 = in[i * in_step], v1 = i + 1 < n_in ? in[(i + 1) * in_step] : v0;
            out[o * out_step] = (float)(v0 + (v1 - v0) * f);
        }
    }
}

img_status img_to_mnist(const img_gray *in, uint8_t out[IMG_MNIST_SIDE * IMG_MNIST_SIDE], char *err, size_t errlen) {
    memset(out, 0, IMG_MNIST_SIDE * IMG_MNIST_SIDE);
    uint32_t w = in->width, h = in->height;
    if (!in->pixels || w == 0 || h == 0) return fail(IMG_ERR_BLANK, err, errlen, "empty image");
    const uint8_t *px = in->pixels;

    /* polarity and background from the border: MNIST wants white ink on black */
    uint64_t hist[256] = {0}, border = 0;
    for (uint32_t x = 0; x < w; x++) {
        hist[px[x]]++, border++;
        if (h > 1) hist[px[(size_t)(h - 1) * w + x]]++, border++;
    }
    for (uint32_t y = 1; y + 1 < h; y++) {
        hist[px[(size_t)y * w]]++, border++;
        if (w > 1) hist[px[(size_t)y * w + w - 1]]++, border++;
    }
    uint64_t acc = 0;
    int median = 0;
    for (int v = 0; v < 256; v++) {
        acc += hist[v];
        if (2 * acc >= border) {
            median = v;
            break;
        }
    }
    bool invert = median > 127;
    /* background level: 90th percentile of the border, in the polarity used from here on */
    acc = 0;
    int floor_level = 0;
    for (int k = 0; k < 256; k++) {
        int v = invert ? 255 - k : k; /* walk the inverted levels upward */
        acc += hist[v];
        if (10 * acc >= 9 * border) {
            floor_level = k;
            break;
        }
    }
    int inv_median = invert ? 255 - median : median;
    if (floor_level > inv_median + 64) floor_level = inv_median + 64; /* ink touching the border */
    size_t n = (size_t)w * h;
    int maxv = 0;
    for (size_t i = 0; i < n; i++) {
        int v = invert ? 255 - px[i] : px[i];
        if (v > maxv) maxv = v;
    }
    if (maxv - floor_level < 16)
        return fail(IMG_ERR_BLANK, err, errlen, "no digit found: nothing stands out from the %s background",
                    invert ? "light" : "dark");

    /* Bounding box of the ink: everything above the background level (x0..y1), but no more than
     * a small margin beyond the strong ink (above the midpoint between background and the
     * darkest ink, sx0..sy1). On a clean image the two differ by the anti-aliased rim and nothing
     * changes; on a photo, a shadow or uneven lighting inside the page rises above the border's
     * level, and is cut off here. */
    int strong = (floor_level + maxv) / 2;
    uint32_t x0 = w, y0 = h, x1 = 0, y1 = 0, sx0 = w, sy0 = h, sx1 = 0, sy1 = 0;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            int v = invert ? 255 - px[(size_t)y * w + x] : px[(size_t)y * w + x];
            if (v > floor_level) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
            if (v > strong) {
                if (x < sx0) sx0 = x;
                if (x > sx1) sx1 = x;
                if (y < sy0) sy0 = y;
                if (y > sy1) sy1 = y;
            }
        }
    if (sx0 <= sx1) {
        uint32_t sw0 = sx1 - sx0 + 1, sh0 = sy1 - sy0 + 1, big = sw0 > sh0 ? sw0 : sh0;
        uint32_t m = big * 15 / 100 > 3 ? big * 15 / 100 : 3;
        bool clamped = false;
        if (sx0 > m && x0 < sx0 - m) x0 = sx0 - m, clamped = true;
        if (sy0 > m && y0 < sy0 - m) y0 = sy0 - m, clamped = true;
        if (x1 > sx1 + m) x1 = sx1 + m, clamped = true;
        if (y1 > sy1 + m) y1 = sy1 + m, clamped = true;
        if (clamped) {
            /* what lies outside the box is background: its level becomes the floor */
            int outside = floor_level;
            for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                    if (x >= x0 && x <= x1 && y >= y0 && y <= y1) continue;
                    int v = invert ? 255 - px[(size_t)y * w + x] : px[(size_t)y * w + x];
                    if (v > outside && v <= strong) outside = v;
                }
            floor_level = outside;
            if (maxv - floor_level < 16) floor_level = maxv - 16;
            /* and the box shrinks to what stands above that floor */
            uint32_t bx0 = x1, by0 = y1, bx1 = x0, by1 = y0;
            for (uint32_t y = y0; y <= y1; y++)
                for (uint32_t x = x0; x <= x1; x++) {
                    int v = invert ? 255 - px[(size_t)y * w + x] : px[(size_t)y * w + x];
                    if (v > floor_level) {
                        if (x < bx0) bx0 = x;
                        if (x > bx1) bx1 = x;
                        if (y < by0) by0 = y;
                        if (y > by1) by1 = y;
                    }
                }
            if (bx0 <= bx1 && by0 <= by1) x0 = bx0, y0 = by0, x1 = bx1, y1 = by1;
        }
    }
    uint32_t cw = x1 - x0 + 1, ch = y1 - y0 + 1, longest = cw > ch ? cw : ch;
    uint32_t sw = (uint32_t)lround((double)cw * IMG_MNIST_BOX / longest), sh = (uint32_t)lround((double)ch * IMG_MNIST_BOX / longest);
    if (sw < 1) sw = 1;
    if (sh < 1) sh = 1;

    /* crop with the background removed and the contrast stretched to 0..255 */
    float *crop = malloc((size_t)cw * ch * sizeof(float));
    float *rows = malloc((size_t)sw * ch * sizeof(float));
    float *digit = malloc((size_t)sw * sh * sizeof(float));
    if (!crop || !rows || !digit) {
        free(crop), free(rows), free(digit);
        return fail(IMG_ERR_NOMEM, err, errlen, "out of memory");
    }
    double range = (double)(maxv - floor_level);
    for (uint32_t y = 0; y < ch; y++)
        for (uint32_t x = 0; x < cw; x++) {
            int v = px[(size_t)(y + y0) * w + x + x0];
            if (invert) v = 255 - v;
            crop[(size_t)y * cw + x] = v <= floor_level ? 0.0f : (float)((v - floor_level) * 255.0 / range);
        }
    for (uint32_t y = 0; y < ch; y++) resample_line(crop + (size_t)y * cw, cw, 1, rows + (size_t)y * sw, sw, 1);
    for (uint32_t x = 0; x < sw; x++) resample_line(rows + x, ch, sw, digit + x, sh, sw);

    /* centre of mass to (14, 14) */
    double mass = 0, mx = 0, my = 0;
    for (uint32_t y = 0; y < sh; y++)
        for (uint32_t x = 0; x < sw; x++) {
            double v = digit[(size_t)y * sw + x];
            mass += v, mx += v * x, my += v * y;
        }
    if (mass <= 0) {
        free(crop), free(rows), free(digit);
        return fail(IMG_ERR_BLANK, err, errlen, "no digit found");
    }
    long ox = lround(TARGET_CENTRE - mx / mass), oy = lround(TARGET_CENTRE - my / mass);
    for (uint32_t y = 0; y < sh; y++)
        for (uint32_t x = 0; x < sw; x++) {
            long tx = (long)x + ox, ty = (long)y + oy;
            if (tx < 0 || ty < 0 || tx >= IMG_MNIST_SIDE || ty >= IMG_MNIST_SIDE) continue;
            float v = digit[(size_t)y * sw + x];
            out[ty * IMG_MNIST_SIDE + tx] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : lrintf(v));
        }
    free(crop), free(rows), free(digit);
    return IMG_OK;
}

img_status img_resize(const img_gray *in, uint32_t width, uint32_t height, uint8_t *out, char *err, size_t errlen) {
    if (!in->pixels || in->width == 0 || in->height == 0) return fail(IMG_ERR_BLANK, err, errlen, "empty image");
    if (width == 0 || height == 0 || (uint64_t)width * height > IMG_MAX_PIXELS)
        return fail(IMG_ERR_TOO_LARGE, err, errlen, "cannot resize to %ux%u", width, height);
    size_t w = in->width, h = in->height;
    /* rows first (w -> width), then columns (h -> height), in floats */
    float *src = malloc(w * h * sizeof *src), *mid = malloc((size_t)width * h * sizeof *mid),
          *dst = malloc((size_t)width * height * sizeof *dst);
    if (!src || !mid || !dst) {
        free(src), free(mid), free(dst);
        return fail(IMG_ERR_NOMEM, err, errlen, "out of memory");
    }
    for (size_t i = 0; i < w * h; i++) src[i] = in->pixels[i];
    for (size_t y = 0; y < h; y++) resample_line(src + y * w, w, 1, mid + y * width, width, 1);
    for (size_t x = 0; x < width; x++) resample_line(mid + x, h, width, dst + x, height, width);
    for (size_t i = 0; i < (size_t)width * height; i++) {
        float v = dst[i];
        out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrintf(v));
    }
    free(src), free(mid), free(dst);
    return IMG_OK;
}
