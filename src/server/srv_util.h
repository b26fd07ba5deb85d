/* Server helpers: a growable byte buffer with JSON output, base64, and a strict JSON parser
 * for request bodies (libmicrohttpd's PostProcessor is deliberately not used). */
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

/* ---- strict JSON (RFC 8259) ----
 * Rejects: NaN, Infinity and other non-JSON tokens, numbers that overflow a double, leading
 * zeros, control characters and invalid UTF-8 in strings, \u0000, unpaired surrogates,
 * duplicate object keys, nesting deeper than 16, and anything after the value. */
typedef enum srv_json_type {
    SRV_JSON_NULL,
    SRV_JSON_BOOL,
    SRV_JSON_NUMBER,
    SRV_JSON_STRING,
    SRV_JSON_ARRAY,
    SRV_JSON_OBJECT
} srv_json_type;

typedef struct srv_json {
    srv_json_type type;
    bool boolean;
    double number;
    char *string;            /* STRING: NUL-terminated UTF-8 */
    size_t count;            /* ARRAY, OBJECT: members */
    struct srv_json *items;  /* ARRAY, OBJECT: values */
    char **keys;             /* OBJECT: keys, parallel to items */
} srv_json;

#define SRV_JSON_MAX_DEPTH 16

/* Returns a tree to free with srv_json_free, or NULL with a one-line message in err. When the
 * fault lies in the value of a member of the top-level object (or is a repeated key), field
 * (when not NULL) gets that key; otherwise "". */
srv_json *srv_json_parse(const char *text, size_t len, char *err, size_t errlen, char *field, size_t fieldlen);
void srv_json_free(srv_json *v);
/* Member of an object, or NULL. */
const srv_json *srv_json_get(const srv_json *obj, const char *key);
const char *srv_json_type_name(srv_json_type t);

#endif
