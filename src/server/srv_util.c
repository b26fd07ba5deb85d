/* Server helpers; see srv_util.h. */
#include "server/srv_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ---- */

void srv_buf_free(srv_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void srv_buf_reset(srv_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

static bool reserve(srv_buf *b, size_t extra) {
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

bool srv_buf_append(srv_buf *b, const void *p, size_t n) {
    if (!reserve(b, n)) return false;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return true;
}

void srv_buf_puts(srv_buf *b, const char *s) { srv_buf_append(b, s, strlen(s)); }

void srv_buf_printf(srv_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        srv_buf_append(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void srv_buf_json_string(srv_buf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    srv_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const unsigned char *run = p;
        while (*p && *p >= 0x20 && *p != '"' && *p != '\\') p++;
        if (p > run) srv_buf_append(b, run, (size_t)(p - run));
        if (!*p) break;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (*p) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[*p >> 4], esc[5] = hex[*p & 15];
            n = 6;
        }
        srv_buf_append(b, esc, n);
    }
    srv_buf_append(b, "\"", 1);
}

void srv_buf_json_number(srv_buf *b, double v, int digits) {
    if (!isfinite(v)) {
        srv_buf_puts(b, "null");
        return;
    }
    if (v == 0) v = 0; /* no "-0" */
    srv_buf_printf(b, "%.*g", digits, v);
}

void srv_buf_base64(srv_buf *b, const uint8_t *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!reserve(b, (n + 2) / 3 * 4)) return;
    char *o = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = tab[v >> 18], *o++ = tab[(v >> 12) & 63], *o++ = tab[(v >> 6) & 63], *o++ = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = tab[v >> 18], *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = 0;
}

/* ---- strict JSON parser ---- */

typedef struct parser {
    const char *p, *start, *end;
    char *err;
    size_t errlen;
    bool failed;
    const char *member; /* key of the top-level member being parsed, or NULL */
    char field[64];     /* the member at fault */
} parser;

static bool perr(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool perr(parser *ps, const char *fmt, ...) {
    if (ps->failed) return false;
    ps->failed = true;
    if (ps->member) snprintf(ps->field, sizeof ps->field, "%s", ps->member);
    char msg[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ps->field[0])
        snprintf(ps->err, ps->errlen, "invalid JSON at byte %zu, in the value of '%s': %s", (size_t)(ps->p - ps->start),
                 ps->field, msg);
    else
        snprintf(ps->err, ps->errlen, "invalid JSON at byte %zu: %s", (size_t)(ps->p - ps->start), msg);
    return false;
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static void free_value(srv_json *v) {
    if (v->type == SRV_JSON_STRING) free(v->string);
    if (v->type == SRV_JSON_ARRAY || v->type == SRV_JSON_OBJECT) {
        for (size_t i = 0; i < v->count; i++) {
            free_value(&v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
    memset(v, 0, sizeof *v);
}

static bool parse_value(parser *ps, srv_json *out, int depth);

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_u4(parser *ps, uint32_t *cp) {
    if (ps->end - ps->p < 4) return perr(ps, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(ps->p[i]);
        if (h < 0) return perr(ps, "bad \\u escape");
        v = v << 4 | (uint32_t)h;
    }
    ps->p += 4;
    *cp = v;
    return true;
}

static void put_utf8(srv_buf *b, uint32_t cp) {
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) u[0] = (unsigned char)cp, n = 1;
    else if (cp < 0x800) u[0] = (unsigned char)(0xC0 | cp >> 6), u[1] = (unsigned char)(0x80 | (cp & 63)), n = 2;
    else if (cp < 0x10000)
        u[0] = (unsigned char)(0xE0 | cp >> 12), u[1] = (unsigned char)(0x80 | ((cp >> 6) & 63)),
        u[2] = (unsigned char)(0x80 | (cp & 63)), n = 3;
    else
        u[0] = (unsigned char)(0xF0 | cp >> 18), u[1] = (unsigned char)(0x80 | ((cp >> 12) & 63)),
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 63)), u[3] = (unsigned char)(0x80 | (cp & 63)), n = 4;
    srv_buf_append(b, u, n);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
    else return 0;
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static bool parse_string(parser *ps, char **out) {
    ps->p++; /* opening quote */
    srv_buf b = {0};
    for (;;) {
        if (ps->p >= ps->end) {
            srv_buf_free(&b);
            return perr(ps, "unterminated string");
        }
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20) {
            srv_buf_free(&b);
            return perr(ps, "control character in string");
        }
        if (c == '\\') {
            ps->p++;
            if (ps->p >= ps->end) {
                srv_buf_free(&b);
                return perr(ps, "unterminated string");
            }
            char e = *ps->p++;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char map[] = "\"\\/\b\f\n\r\t";
                srv_buf_append(&b, &map[simple - "\"\\/bfnrt"], 1);
                continue;
            }
            if (e != 'u') {
                ps->p--;
                srv_buf_free(&b);
                return perr(ps, "bad escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
            }
            uint32_t cp;
            if (!read_u4(ps, &cp)) {
                srv_buf_free(&b);
                return false;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                    srv_buf_free(&b);
                    return perr(ps, "unpaired surrogate");
                }
                ps->p += 2;
                if (!read_u4(ps, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    srv_buf_free(&b);
                    return perr(ps, "unpaired surrogate");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                srv_buf_free(&b);
                return perr(ps, "unpaired surrogate");
            } else if (cp == 0) {
                srv_buf_free(&b);
                return perr(ps, "\\u0000 is not accepted");
            }
            put_utf8(&b, cp);
            continue;
        }
        size_t n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
        if (!n) {
            srv_buf_free(&b);
            return perr(ps, "invalid UTF-8 in string");
        }
        srv_buf_append(&b, ps->p, n);
        ps->p += n;
    }
    if (b.oom || !srv_buf_append(&b, "", 0)) {
        srv_buf_free(&b);
        return perr(ps, "out of memory");
    }
    *out = b.data;
    return true;
}

static bool parse_number(parser *ps, srv_json *out) {
    const char *s = ps->p, *q = s;
    if (q < ps->end && *q == '-') q++;
    if (q < ps->end && (*q == 'N' || *q == 'n' || *q == 'I' || *q == 'i'))
        return perr(ps, "NaN and Infinity are not JSON numbers");
    if (q >= ps->end || !(*q >= '0' && *q <= '9')) return perr(ps, "not a JSON value");
    if (*q == '0') {
        q++;
        if (q < ps->end && *q >= '0' && *q <= '9') return perr(ps, "leading zero in number");
    } else
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || !(*q >= '0' && *q <= '9')) return perr(ps, "digit expected after '.'");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (q >= ps->end || !(*q >= '0' && *q <= '9')) return perr(ps, "digit expected in exponent");
        while (q < ps->end && *q >= '0' && *q <= '9') q++;
    }
    size_t n = (size_t)(q - s);
    char tmp[64];
    if (n >= sizeof tmp) return perr(ps, "number too long");
    memcpy(tmp, s, n);
    tmp[n] = 0;
    errno = 0;
    double v = strtod(tmp, NULL);
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1)) return perr(ps, "number out of range");
    out->type = SRV_JSON_NUMBER;
    out->number = v;
    ps->p = q;
    return true;
}

static bool push_item(parser *ps, srv_json *arr, size_t *cap, bool with_keys) {
    if (arr->count < *cap) return true;
    size_t nc = *cap ? *cap * 2 : 8;
    srv_json *items = realloc(arr->items, nc * sizeof *items);
    if (!items) return perr(ps, "out of memory");
    arr->items = items;
    if (with_keys) {
        char **keys = realloc(arr->keys, nc * sizeof *keys);
        if (!keys) return perr(ps, "out of memory");
        arr->keys = keys;
    }
    *cap = nc;
    return true;
}

static bool parse_array(parser *ps, srv_json *out, int depth) {
    out->type = SRV_JSON_ARRAY;
    size_t cap = 0;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return true;
    }
    for (;;) {
        if (!push_item(ps, out, &cap, false)) return false;
        srv_json *v = &out->items[out->count];
        memset(v, 0, sizeof *v);
        out->count++;
        if (!parse_value(ps, v, depth + 1)) return false;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return true;
        }
        return perr(ps, "',' or ']' expected");
    }
}

static bool parse_object(parser *ps, srv_json *out, int depth) {
    out->type = SRV_JSON_OBJECT;
    size_t cap = 0;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return true;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') return perr(ps, "string key expected");
        if (!push_item(ps, out, &cap, true)) return false;
        const char *key_at = ps->p;
        char *key = NULL;
        if (!parse_string(ps, &key)) return false;
        for (size_t i = 0; i < out->count; i++)
            if (!strcmp(out->keys[i], key)) {
                ps->p = key_at;
                char k[64];
                snprintf(k, sizeof k, "%s", key);
                free(key);
                if (depth == 1) ps->member = out->keys[i];
                return perr(ps, "duplicate key '%s'", k);
            }
        srv_json *v = &out->items[out->count];
        memset(v, 0, sizeof *v);
        out->keys[out->count] = key;
        out->count++;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') return perr(ps, "':' expected");
        ps->p++;
        if (depth == 1) ps->member = key;
        if (!parse_value(ps, v, depth + 1)) return false;
        if (depth == 1) ps->member = NULL;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return true;
        }
        return perr(ps, "',' or '}' expected");
    }
}

static bool literal(parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n)) return perr(ps, "not a JSON value");
    ps->p += n;
    return true;
}

static bool parse_value(parser *ps, srv_json *out, int depth) {
    if (depth > SRV_JSON_MAX_DEPTH) return perr(ps, "nested deeper than %d", SRV_JSON_MAX_DEPTH);
    skip_ws(ps);
    if (ps->p >= ps->end) return perr(ps, "value expected");
    switch (*ps->p) {
    case '{': return parse_object(ps, out, depth);
    case '[': return parse_array(ps, out, depth);
    case '"':
        out->type = SRV_JSON_STRING;
        return parse_string(ps, &out->string);
    case 't':
        out->type = SRV_JSON_BOOL, out->boolean = true;
        return literal(ps, "true");
    case 'f':
        out->type = SRV_JSON_BOOL;
        return literal(ps, "false");
    case 'n':
        out->type = SRV_JSON_NULL;
        return literal(ps, "null");
    default: return parse_number(ps, out);
    }
}

srv_json *srv_json_parse(const char *text, size_t len, char *err, size_t errlen, char *field, size_t fieldlen) {
    srv_json *root = calloc(1, sizeof *root);
    if (!root) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    parser ps = {text, text, text + len, err, errlen, false, NULL, ""};
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
        perr(&ps, "byte order mark");
    } else if (parse_value(&ps, root, 1)) {
        skip_ws(&ps);
        if (ps.p != ps.end) perr(&ps, "unexpected data after the JSON value");
    }
    if (field && fieldlen) snprintf(field, fieldlen, "%s", ps.field);
    if (ps.failed) {
        srv_json_free(root);
        return NULL;
    }
    return root;
}

void srv_json_free(srv_json *v) {
    if (!v) return;
    free_value(v);
    free(v);
}

const srv_json *srv_json_get(const srv_json *obj, const char *key) {
    if (!obj || obj->type != SRV_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (!strcmp(obj->keys[i], key)) return &obj->items[i];
    return NULL;
}

const char *srv_json_type_name(srv_json_type t) {
    switch (t) {
    case SRV_JSON_NULL: return "null";
    case SRV_JSON_BOOL: return "a boolean";
    case SRV_JSON_NUMBER: return "a number";
    case SRV_JSON_STRING: return "a string";
    case SRV_JSON_ARRAY: return "an array";
    case SRV_JSON_OBJECT: return "an object";
    }
    return "?";
}
