/* gzip inflation of IDX files, in memory only (zlib). Native builds only: the browser build
 * inflates with the browser's DecompressionStream and links idx.c without this file. */
#include "data/idx.h"
#include "util/message.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int idx_is_gzip(const uint8_t *bytes, size_t len) {
    return bytes && len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

idx_status idx_gunzip(const uint8_t *bytes, size_t len, size_t max_out, uint8_t **out,
                      size_t *out_len, char *err, size_t errlen) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!out || !out_len || (!bytes && len))
        return message_fail(IDX_ERR_IO, err, errlen, "idx_gunzip called without a buffer");

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
    if (!buf) return message_fail(IDX_ERR_NOMEM, err, errlen, "out of memory for %zu bytes", cap);

    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int zrc = inflateInit2(&zs, 16 + MAX_WBITS);
    if (zrc != Z_OK) {
        free(buf);
        return message_fail(zrc == Z_MEM_ERROR ? IDX_ERR_NOMEM : IDX_ERR_GZIP, err, errlen,
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
                st = message_fail(IDX_ERR_SIZE_MISMATCH, err, errlen,
                          "gzip stream decompresses to more than the %zu-byte limit", max_out);
                break;
            }
            size_t ncap = cap > limit / 2 ? limit : cap * 2;
            uint8_t *nbuf = realloc(buf, ncap);
            if (!nbuf) {
                st = message_fail(IDX_ERR_NOMEM, err, errlen, "out of memory for %zu bytes", ncap);
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
                    st = message_fail(IDX_ERR_GZIP, err, errlen, "cannot reset gzip inflation");
                    break;
                }
                continue;
            }
            st = message_fail(IDX_ERR_GZIP, err, errlen,
                      "%zu bytes of trailing data after the gzip stream", rest);
            break;
        }
        if (zrc == Z_OK) continue;
        if (zrc == Z_BUF_ERROR) {
            if (zs.avail_in == 0 && fed == len) {
                st = message_fail(IDX_ERR_GZIP, err, errlen, "gzip stream is truncated");
                break;
            }
            if (have == cap) continue; /* out of room: grow above */
            st = message_fail(IDX_ERR_GZIP, err, errlen, "gzip inflation made no progress");
            break;
        }
        if (zrc == Z_MEM_ERROR) {
            st = message_fail(IDX_ERR_NOMEM, err, errlen, "out of memory while inflating gzip");
            break;
        }
        /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
        st = message_fail(IDX_ERR_GZIP, err, errlen, "gzip stream is corrupt (%s)",
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
        return message_fail(IDX_ERR_SIZE_MISMATCH, err, errlen,
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
