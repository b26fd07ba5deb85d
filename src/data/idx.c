/* IDX parsing and gzip inflation, in memory only (no file I/O here, so the browser build can
 * use this file as is). Every input is untrusted: all sizes use checked arithmetic and no
 * read goes past the given buffer.
 *
 * Messages written to err are one line and do not name a file (these functions never see
 * one); mnist_load_dir() prefixes them with "FILE: ". */
#include "data/idx.h"
#include "util/message.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static idx_status fail(idx_status st, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static idx_status fail(idx_status st, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    message_vformat(err, errlen, fmt, ap);
    va_end(ap);
    return st;
}

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
        return fail(IDX_ERR_IO, err, errlen, "idx_parse called without a buffer");
    if (len < 4)
        return fail(IDX_ERR_TRUNCATED, err, errlen,
                    "file is %zu bytes, too short for the 4-byte IDX magic number", len);
    uint32_t magic = be32(bytes);
    if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08)
        return fail(IDX_ERR_MAGIC, err, errlen,
                    "not an IDX file of unsigned bytes (magic 0x%08x, expected 0x00000801 or "
                    "0x00000803)",
                    (unsigned)magic);
    uint32_t rank = bytes[3];
    if (rank != 1 && rank != 3)
        return fail(IDX_ERR_MAGIC, err, errlen,
                    "IDX file has rank %u (magic 0x%08x), expected rank 1 (0x00000801) or 3 "
                    "(0x00000803)",
                    (unsigned)rank, (unsigned)magic);
    size_t header = 4 + 4 * (size_t)rank;
    if (len < header)
        return fail(IDX_ERR_TRUNCATED, err, errlen,
                    "file is %zu bytes, shorter than its %zu-byte IDX header", len, header);

    uint32_t dims[3] = {0, 0, 0};
    for (uint32_t i = 0; i < rank; i++) dims[i] = be32(bytes + 4 + 4 * i);
    char dimstr[48];
    format_dims(dimstr, sizeof dimstr, dims, rank);

    size_t count = 1, total;
    for (uint32_t i = 0; i < rank; i++)
        if (__builtin_mul_overflow(count, (size_t)dims[i], &count))
            return fail(IDX_ERR_OVERFLOW, err, errlen,
                        "header dimensions %s overflow the size of memory", dimstr);
    if (__builtin_add_overflow(count, header, &total))
        return fail(IDX_ERR_OVERFLOW, err, errlen,
                    "header dimensions %s plus the %zu-byte header overflow the size of memory",
                    dimstr, header);

    /* In wgtrain, IDX rank 3 is images and rank 1 is labels: name them so in messages. */
    const char *what = rank == 3 ? "pixels" : "labels";
    size_t held = len - header;
    if (len < total)
        return fail(IDX_ERR_TRUNCATED, err, errlen,
                    "header says %s = %zu bytes of %s but the file holds %zu", dimstr, count,
                    what, held);
    if (len > total)
        return fail(IDX_ERR_SIZE_MISMATCH, err, errlen,
                    "header says %s = %zu bytes of %s but the file holds %zu (%zu extra bytes)",
                    dimstr, count, what, held, held - count);

    out->data = bytes + header;
    out->rank = rank;
    memcpy(out->dims, dims, sizeof dims);
    out->count = count;
    if (err && errlen) err[0] = '\0';
    return IDX_OK;
}

int idx_is_gzip(const uint8_t *bytes, size_t len) {
    return bytes && len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

idx_status idx_gunzip(const uint8_t *bytes, size_t len, size_t max_out, uint8_t **out,
                      size_t *out_len, char *err, size_t errlen) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!out || !out_len || (!bytes && len))
        return fail(IDX_ERR_IO, err, errlen, "idx_gunzip called without a buffer");

    /* The buffer may grow to max_out + 1 bytes: holding that extra byte proves the stream
     * decompresses to more than max_out without ever allocating more. */
    size_t limit = max_out == SIZE_MAX ? SIZE_MAX : max_out + 1;

    /* Initial capacity: the gzip trailer's ISIZE (size mod 2^32 of the last member) as a hint
     * only, clamped to the limit. */
    size_t cap = 1 << 16;
    if (len >= 18) {
        const uint8_t *t = bytes + len - 4;
        size_t isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
        if (isize < SIZE_MAX && isize + 1 > cap) cap = isize + 1;
    }
    if (cap > limit) cap = limit;
    if (cap == 0) cap = 1;
    uint8_t *buf = malloc(cap);
    if (!buf) return fail(IDX_ERR_NOMEM, err, errlen, "out of memory for %zu bytes", cap);

    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int zrc = inflateInit2(&zs, 16 + MAX_WBITS);
    if (zrc != Z_OK) {
        free(buf);
        return fail(zrc == Z_MEM_ERROR ? IDX_ERR_NOMEM : IDX_ERR_GZIP, err, errlen,
                    "cannot start gzip inflation (zlib error %d)", zrc);
    }

    idx_status st = IDX_OK;
    size_t fed = 0;  /* bytes of input handed to zlib so far */
    size_t have = 0; /* bytes of output in buf */
    for (;;) {
        if (zs.avail_in == 0 && fed < len) {
            size_t chunk = len - fed;
            if (chunk > UINT_MAX) chunk = UINT_MAX;
            zs.next_in = (Bytef *)(uintptr_t)(bytes + fed);
            zs.avail_in = (uInt)chunk;
            fed += chunk;
        }
        if (have == cap) {
            if (cap >= limit) {
                st = fail(IDX_ERR_SIZE_MISMATCH, err, errlen,
                          "gzip stream decompresses to more than the %zu-byte limit", max_out);
                break;
            }
            size_t ncap = cap > limit / 2 ? limit : cap * 2;
            uint8_t *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                st = fail(IDX_ERR_NOMEM, err, errlen, "out of memory for %zu bytes", ncap);
                break;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t room = cap - have;
        if (room > UINT_MAX) room = UINT_MAX;
        zs.next_out = buf + have;
        zs.avail_out = (uInt)room;

        zrc = inflate(&zs, Z_NO_FLUSH);
        have += room - zs.avail_out;

        if (zrc == Z_STREAM_END) {
            size_t rest = zs.avail_in + (len - fed);
            if (rest == 0) break;
            /* Concatenated gzip members form one valid gzip file (as gunzip accepts). The
             * unread input is contiguous from zs.next_in to the end of bytes. */
            size_t off = (size_t)((const uint8_t *)zs.next_in - bytes);
            if (idx_is_gzip(bytes + off, len - off)) {
                if (inflateReset(&zs) != Z_OK) {
                    st = fail(IDX_ERR_GZIP, err, errlen, "cannot reset gzip inflation");
                    break;
                }
                continue;
            }
            st = fail(IDX_ERR_GZIP, err, errlen,
                      "%zu bytes of trailing data after the gzip stream", rest);
            break;
        }
        if (zrc == Z_OK) continue;
        if (zrc == Z_BUF_ERROR) {
            if (zs.avail_in == 0 && fed == len) {
                st = fail(IDX_ERR_GZIP, err, errlen, "gzip stream is truncated");
                break;
            }
            if (have == cap) continue; /* out of room: grow above */
            st = fail(IDX_ERR_GZIP, err, errlen, "gzip inflation made no progress");
            break;
        }
        if (zrc == Z_MEM_ERROR) {
            st = fail(IDX_ERR_NOMEM, err, errlen, "out of memory while inflating gzip");
            break;
        }
        /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
        st = fail(IDX_ERR_GZIP, err, errlen, "gzip stream is corrupt (%s)",
                  zs.msg ? zs.msg : zrc == Z_NEED_DICT ? "needs a preset dictionary"
                                                         : "zlib error");
        break;
    }
    inflateEnd(&zs);

    if (st != IDX_OK) {
        free(buf);
        return st;
    }
    if (have > max_out) { /* the stream ended just as it filled the max_out + 1 bytes */
        free(buf);
        return fail(IDX_ERR_SIZE_MISMATCH, err, errlen,
                    "gzip stream decompresses to more than the %zu-byte limit", max_out);
    }
    if (have < cap && have > 0) {
        uint8_t *nbuf = realloc(buf, have);
        if (nbuf) buf = nbuf;
    }
    *out = buf;
    *out_len = have;
    if (err && errlen) err[0] = '\0';
    return IDX_OK;
}
