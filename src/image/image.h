/* Images for `wgtrain predict`: PNG (libpng) and PGM (P2 and P5) decoding, and the MNIST-style
 * preprocessing that turns any digit picture into the 28x28 input the model was trained on.
 *
 * Every file is untrusted: its size and pixel count are capped before anything is allocated,
 * every size uses checked arithmetic, and each failure is an img_status plus a one-line
 * message (the file-level function prefixes it with the path). */
#ifndef WGTRAIN_IMAGE_H
#define WGTRAIN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMG_MAX_FILE ((size_t)64 * 1024 * 1024) /* bytes of an image file */
#define IMG_MAX_PIXELS ((uint64_t)40 * 1000 * 1000) /* width x height */
#define IMG_MNIST_SIDE 28
#define IMG_MNIST_BOX 20 /* the digit's longer side after scaling, as in MNIST */

typedef enum img_status {
    IMG_OK = 0,
    IMG_ERR_MISSING,   /* no such file */
    IMG_ERR_IO,        /* read error, or not a regular file */
    IMG_ERR_FORMAT,    /* neither PNG nor PGM (P2/P5) */
    IMG_ERR_CORRUPT,   /* a PNG or PGM that does not decode: truncated, bad header or values */
    IMG_ERR_TOO_LARGE, /* over IMG_MAX_FILE bytes or IMG_MAX_PIXELS pixels */
    IMG_ERR_NOMEM,
    IMG_ERR_BLANK,     /* nothing stands out from the background: no digit to read */
} img_status;

const char *img_status_name(img_status s);

/* An 8-bit grayscale image, row-major. */
typedef struct img_gray {
    uint32_t width, height;
    uint8_t *pixels; /* width * height, malloc'd */
} img_gray;

void img_free(img_gray *im);

/* Decodes PNG or PGM held in memory (told apart by content, not by name). PNG of any colour
 * type and bit depth becomes 8-bit gray; transparent pixels are composited onto a background
 * that contrasts with the ink, so a digit drawn on a transparent canvas stays visible. */
img_status img_decode(const uint8_t *bytes, size_t len, img_gray *out, char *err, size_t errlen);
img_status img_decode_png(const uint8_t *bytes, size_t len, img_gray *out, char *err, size_t errlen);
img_status img_decode_pgm(const uint8_t *bytes, size_t len, img_gray *out, char *err, size_t errlen);
/* Reads and decodes a file; messages start with the path. */
img_status img_load(const char *path, img_gray *out, char *err, size_t errlen);

/* MNIST-style preprocessing: white digit on black. A light background (median of the border
 * pixels above mid-gray) is inverted; the background level is subtracted and the contrast
 * stretched to 0..255; the digit is cropped to its bounding box, scaled so its longer side is
 * 20 pixels (aspect ratio kept; area averaging when shrinking, bilinear when enlarging) and
 * placed in a 28x28 field with its centre of mass at (14, 14), as LeCun et al. built MNIST. */
img_status img_to_mnist(const img_gray *in, uint8_t out[IMG_MNIST_SIDE * IMG_MNIST_SIDE], char *err, size_t errlen);

/* The whole picture resized to width x height as it is (area averaging when shrinking, bilinear
 * when enlarging; no inversion, cropping or centring): the input of models trained on data
 * other than MNIST, whose images need not be digits on black. out holds width * height. */
img_status img_resize(const img_gray *in, uint32_t width, uint32_t height, uint8_t *out, char *err, size_t errlen);

/* Writers (tests, tools): PGM P5, and PNG with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)
 * channels of 8 bits. Both write the file directly (not atomically). */
img_status img_write_pgm(const char *path, const img_gray *im, char *err, size_t errlen);
img_status img_write_png(const char *path, uint32_t width, uint32_t height, int channels, const uint8_t *pixels, char *err,
                         size_t errlen);

#endif
