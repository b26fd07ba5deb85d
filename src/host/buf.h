/* A growable byte buffer, and base64: what the hosts assemble replies and events in. Portable
 * (the server and the browser host both use it). JSON itself is built and parsed by cJSON
 * (util/json.h). */
#ifndef WGTRAIN_HOST_BUF_H
#define WGTRAIN_HOST_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable buffer: every append is checked; a failed allocation sets oom and makes
 * later appends no-ops, so callers check once at the end ---- */
typedef struct host_buf {
    char *data; /* NUL-terminated while not oom */
    size_t len, cap;
    bool oom;
} host_buf;

void host_buf_free(host_buf *b);
void host_buf_reset(host_buf *b);
bool host_buf_append(host_buf *b, const void *p, size_t n);
void host_buf_puts(host_buf *b, const char *s);
void host_buf_printf(host_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void host_buf_base64(host_buf *b, const uint8_t *p, size_t n);

#endif
