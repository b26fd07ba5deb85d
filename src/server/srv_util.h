/* Server helpers: a growable byte buffer with JSON output, and base64. Request bodies are
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
/* A JSON string literal (quotes included); bytes < 0x20, quote and backslash are escaped. */
void srv_buf_json_string(srv_buf *b, const char *s);
/* A JSON number with up to `digits` significant digits; null when not finite. */
void srv_buf_json_number(srv_buf *b, double v, int digits);
void srv_buf_base64(srv_buf *b, const uint8_t *p, size_t n);

#endif
