/* Server helpers: a growable byte buffer, and base64. JSON is built with cJSON (util/json.h); Request bodies are
 * parsed by cJSON through util/json.h (libmicrohttpd's PostProcessor is deliberately not used). */
#ifndef WGTRAIN_SRV_UTIL_H
#define WGTRAIN_SRV_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable buffer: every append is checked; a failed allocation sets oom and makes
 * later appends no-ops, so callers check once at the end ---- */
typedef struct srv_buf {
    char *data; /* NUL-terminated while not oom */
    size_t len, cap;
    bool oom;
} srv_buf;

void srv_buf_free(srv_buf *b);
void srv_buf_reset(srv_buf *b);
bool srv_buf_append(srv_buf *b, const void *p, size_t n);
void srv_buf_puts(srv_buf *b, const char *s);
void srv_buf_printf(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void srv_buf_base64(srv_buf *b, const uint8_t *p, size_t n);

#endif
