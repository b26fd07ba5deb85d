/* Strict JSON on cJSON; see json.h. */
#include "util/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the lexical pass ----
 * It does not check the structure (cJSON does): it walks tokens, tracking only the nesting
 * depth, whether the one top-level value is complete, and which member of a top-level object
 * it is in, so that a fault can name that member. */

typedef struct lexer {
    const unsigned char *s;
    size_t n, i;
    const json_rules *rules;
    json_error *err;
    int depth;
    bool root_object, root_done, expect_key, in_member;
    char key[64]; /* the current top-level member's key, raw (escapes not decoded) */
} lexer;

static bool lex_fail(lexer *lx, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool lex_fail(lexer *lx, size_t at, const char *fmt, ...) {
    json_error *e = lx->err;
    e->fault = JSON_FAULT_SYNTAX;
    e->offset = at;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    snprintf(e->member, sizeof e->member, "%s", lx->in_member ? lx->key : "");
    return false;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int hexval(unsigned char c) {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 if invalid (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char b0 = s[0];
    if (b0 < 0x80) return 1;
    size_t k;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) k = 2;
    else if (b0 == 0xE0) k = 3, lo = 0xA0;
    else if (b0 >= 0xE1 && b0 <= 0xEC) k = 3;
    else if (b0 == 0xED) k = 3, hi = 0x9F;
    else if (b0 >= 0xEE && b0 <= 0xEF) k = 3;
    else if (b0 == 0xF0) k = 4, lo = 0x90;
    else if (b0 >= 0xF1 && b0 <= 0xF3) k = 4;
    else if (b0 == 0xF4) k = 4, hi = 0x8F;
    else return 0;
    if (n < k || s[1] < lo || s[1] > hi) return 0;
    for (size_t j = 2; j < k; j++)
        if (s[j] < 0x80 || s[j] > 0xBF) return 0;
    return k;
}

static bool read_hex4(lexer *lx, size_t at, uint32_t *cp) {
    if (lx->n - at < 4) return false;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(lx->s[at + (size_t)k]);
        if (h < 0) return false;
        v = v << 4 | (uint32_t)h;
    }
    *cp = v;
    return true;
}

static bool lex_string(lexer *lx, bool is_key) {
    size_t start = ++lx->i, keylen = 0;
    for (;;) {
        if (lx->i >= lx->n) return lex_fail(lx, lx->i, "unterminated string");
        unsigned char c = lx->s[lx->i];
        if (c == '"') break;
        if (c < 0x20) return lex_fail(lx, lx->i, "control character in a string (must be escaped)");
        if (c == '\\') {
            if (lx->i + 1 >= lx->n) return lex_fail(lx, lx->i, "unterminated string");
            unsigned char e = lx->s[lx->i + 1];
            if (e && strchr("\"\\/bfnrt", e)) {
                lx->i += 2;
                continue;
            }
            if (e != 'u') return lex_fail(lx, lx->i + 1, "bad escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
            uint32_t cp, lo;
            if (!read_hex4(lx, lx->i + 2, &cp)) return lex_fail(lx, lx->i, "\\u needs four hex digits");
            if (cp >= 0xDC00 && cp <= 0xDFFF) return lex_fail(lx, lx->i, "unpaired surrogate (lone low surrogate)");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (lx->n - lx->i < 12 || lx->s[lx->i + 6] != '\\' || lx->s[lx->i + 7] != 'u' ||
                    !read_hex4(lx, lx->i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return lex_fail(lx, lx->i, "unpaired surrogate (high surrogate without a low one)");
                lx->i += 6;
            } else if (cp == 0) {
                if (!lx->rules->allow_nul) return lex_fail(lx, lx->i, "\\u0000 is not accepted");
                if (lx->err->nul_at == JSON_NO_OFFSET) lx->err->nul_at = lx->i;
            }
            lx->i += 6;
            continue;
        }
        size_t k = utf8_seq(lx->s + lx->i, lx->n - lx->i);
        if (!k) return lex_fail(lx, lx->i, "invalid UTF-8 in a string");
        lx->i += k;
    }
    if (is_key) {
        keylen = lx->i - start < sizeof lx->key - 1 ? lx->i - start : sizeof lx->key - 1;
        memcpy(lx->key, lx->s + start, keylen);
        lx->key[keylen] = 0;
    }
    lx->i++; /* closing quote */
    return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, finite as a double */
static bool lex_number(lexer *lx) {
    size_t s = lx->i, q = s, n = lx->n;
    const unsigned char *t = lx->s;
    if (t[q] == '-') q++;
    if (q < n && is_alpha(t[q]) && strchr("NnIi", t[q])) return lex_fail(lx, s, "NaN and Infinity are not JSON numbers");
    if (q >= n || !is_digit(t[q])) return lex_fail(lx, q, "digit expected in a number");
    if (t[q] == '0') {
        q++;
        if (q < n && is_digit(t[q])) return lex_fail(lx, s, "leading zero in a number");
    } else
        while (q < n && is_digit(t[q])) q++;
    if (q < n && t[q] == '.') {
        q++;
        if (q >= n || !is_digit(t[q])) return lex_fail(lx, q, "digit expected after '.'");
        while (q < n && is_digit(t[q])) q++;
    }
    if (q < n && (t[q] == 'e' || t[q] == 'E')) {
        q++;
        if (q < n && (t[q] == '+' || t[q] == '-')) q++;
        if (q >= n || !is_digit(t[q])) return lex_fail(lx, q, "digit expected in the exponent");
        while (q < n && is_digit(t[q])) q++;
    }
    if (q < n && (is_digit(t[q]) || strchr("+-.eE", t[q]) || is_alpha(t[q])))
        return lex_fail(lx, q, "malformed number");
    char tmp[64]; /* cJSON reads at most 63 characters of a number */
    if (q - s >= sizeof tmp) return lex_fail(lx, s, "number longer than %zu characters", sizeof tmp - 1);
    memcpy(tmp, t + s, q - s);
    tmp[q - s] = 0;
    if (!isfinite(strtod(tmp, NULL))) return lex_fail(lx, s, "number out of range");
    lx->i = q;
    return true;
}

static bool lex_word(lexer *lx) {
    size_t s = lx->i;
    while (lx->i < lx->n && is_alpha(lx->s[lx->i])) lx->i++;
    size_t k = lx->i - s;
    const char *w = (const char *)lx->s + s;
    if ((k == 4 && !memcmp(w, "true", 4)) || (k == 5 && !memcmp(w, "false", 5)) || (k == 4 && !memcmp(w, "null", 4)))
        return true;
    if (strchr("NnIi", w[0])) return lex_fail(lx, s, "NaN and Infinity are not JSON numbers");
    return lex_fail(lx, s, "not a JSON value");
}

/* Runs up to byte `stop` (n for the whole text). */
static bool lex(lexer *lx, size_t stop) {
    if (lx->n >= 3 && !memcmp(lx->s, "\xEF\xBB\xBF", 3)) return lex_fail(lx, 0, "byte order mark");
    while (lx->i < stop) {
        unsigned char c = lx->s[lx->i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            lx->i++;
            continue;
        }
        if (lx->root_done) return lex_fail(lx, lx->i, "unexpected data after the JSON value");
        bool top = lx->root_object && lx->depth == 1;
        switch (c) {
        case '{':
        case '[':
            if (lx->depth == 0) lx->root_object = c == '{';
            if (++lx->depth > lx->rules->max_depth) {
                lex_fail(lx, lx->i, "nested too deeply (more than %d levels)", lx->rules->max_depth);
                lx->err->fault = JSON_FAULT_DEPTH;
                return false;
            }
            if (lx->depth == 1 && lx->root_object) lx->expect_key = true;
            lx->i++;
            continue;
        case '}':
        case ']':
            if (lx->depth == 0) return lex_fail(lx, lx->i, "unexpected '%c'", c);
            if (top) lx->in_member = false;
            if (--lx->depth == 0) lx->root_done = true;
            if (lx->depth == 1 && lx->root_object) lx->in_member = false; /* the member's value ended */
            lx->i++;
            continue;
        case ',':
            if (top) lx->in_member = false, lx->expect_key = true;
            lx->i++;
            continue;
        case ':':
            if (top) lx->in_member = true;
            lx->i++;
            continue;
        case '"':
            if (!lex_string(lx, top && lx->expect_key)) return false;
            if (top) lx->expect_key = false;
            break;
        default:
            if (c == '-' || is_digit(c)) {
                if (!lex_number(lx)) return false;
            } else if (is_alpha(c)) {
                if (!lex_word(lx)) return false;
            } else if (c < 0x20) {
                return lex_fail(lx, lx->i, "control character outside a string");
            } else {
                return lex_fail(lx, lx->i, "unexpected %s", c < 0x7f ? "character" : "byte");
            }
        }
        if (lx->depth == 0) lx->root_done = true; /* a scalar at the top */
        if (top) lx->in_member = false;           /* a scalar member value ended */
    }
    return true;
}

/* ---- after cJSON: numbers' source text, duplicate keys ---- */

/* The next number token at or after *pos, in a text the lexer accepted. */
static bool next_number(const unsigned char *s, size_t n, size_t *pos, size_t *begin, size_t *end) {
    size_t i = *pos;
    while (i < n) {
        unsigned char c = s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
            i++;
        } else if (is_alpha(c)) {
            while (i < n && is_alpha(s[i])) i++;
        } else if (c == '-' || is_digit(c)) {
            *begin = i;
            while (i < n && (is_digit(s[i]) || strchr("+-.eE", s[i]))) i++;
            *end = *pos = i;
            return true;
        } else
            i++;
    }
    return false;
}

/* Pre-order, as cJSON's children follow the text: the k-th number item is the k-th token. */
static bool attach_number_text(cJSON *item, const unsigned char *s, size_t n, size_t *pos) {
    for (; item; item = item->next) {
        if (cJSON_IsNumber(item)) {
            size_t b, e;
            if (!next_number(s, n, pos, &b, &e)) return false;
            char *text = cJSON_malloc(e - b + 1);
            if (!text) return false;
            memcpy(text, s + b, e - b);
            text[e - b] = 0;
            item->valuestring = text; /* cJSON_Delete frees it; printing ignores it */
        }
        if (item->child && !attach_number_text(item->child, s, n, pos)) return false;
    }
    return true;
}

static int cmp_key(const void *a, const void *b) {
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* The first repeated key found in obj or below, or NULL; *nomem on allocation failure. */
static const char *find_duplicate(const cJSON *obj, bool *nomem) {
    size_t count = 0;
    for (const cJSON *c = obj->child; c; c = c->next) count++;
    if (cJSON_IsObject(obj) && count > 1) {
        const cJSON **keys = malloc(count * sizeof *keys);
        if (!keys) return *nomem = true, NULL;
        size_t k = 0;
        for (const cJSON *c = obj->child; c; c = c->next) keys[k++] = c;
        qsort(keys, count, sizeof *keys, cmp_key);
        const char *dup = NULL;
        for (k = 1; k < count && !dup; k++)
            if (!strcmp(keys[k - 1]->string, keys[k]->string)) dup = keys[k]->string;
        free(keys);
        if (dup) return dup;
    }
    for (const cJSON *c = obj->child; c; c = c->next) {
        const char *dup = c->child ? find_duplicate(c, nomem) : NULL;
        if (dup || *nomem) return dup;
    }
    return NULL;
}

cJSON *json_parse_strict(const char *text, size_t len, const json_rules *rules, json_error *err) {
    memset(err, 0, sizeof *err);
    err->offset = err->nul_at = JSON_NO_OFFSET;
    lexer lx = {(const unsigned char *)text, len, 0, rules, err, 0, false, false, false, false, ""};
    if (!text && len) {
        lex_fail(&lx, 0, "no buffer");
        return NULL;
    }
    if (!lex(&lx, len)) return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        if (!lx.root_done && at + 1 >= len) { /* cJSON puts a fault at the end on the last byte */
            lex_fail(&lx, len, lx.depth ? "unexpected end of input" : "a JSON value is expected");
            return NULL;
        }
        /* a structural fault: find the member it lies in by lexing up to it */
        json_error scratch;
        lexer again = {(const unsigned char *)text, len, 0, rules, &scratch, 0, false, false, false, false, ""};
        memset(&scratch, 0, sizeof scratch);
        lex(&again, at);
        lx.in_member = again.in_member;
        memcpy(lx.key, again.key, sizeof lx.key);
        lex_fail(&lx, at, "unexpected '%c'", text[at] >= 0x20 && text[at] < 0x7f ? text[at] : '?');
        return NULL;
    }
    size_t pos = 0;
    if (rules->number_text && !attach_number_text(root, (const unsigned char *)text, len, &pos)) {
        cJSON_Delete(root);
        err->fault = JSON_FAULT_NOMEM;
        snprintf(err->reason, sizeof err->reason, "out of memory");
        return NULL;
    }
    if (!rules->allow_duplicates) {
        bool nomem = false;
        const char *dup = NULL;
        for (const cJSON *m = cJSON_IsObject(root) ? root->child : NULL; m && !dup && !nomem; m = m->next) {
            dup = find_duplicate(m, &nomem); /* below a top-level member: name that member */
            if (dup) snprintf(err->member, sizeof err->member, "%s", m->string);
        }
        if (!dup && !nomem && (dup = find_duplicate(root, &nomem))) snprintf(err->member, sizeof err->member, "%s", dup);
        if (dup || nomem) {
            err->fault = nomem ? JSON_FAULT_NOMEM : JSON_FAULT_DUPLICATE;
            if (nomem) snprintf(err->reason, sizeof err->reason, "out of memory");
            else snprintf(err->reason, sizeof err->reason, "duplicate key '%.60s'", dup);
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}

const char *json_type_name(const cJSON *v) {
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "?";
}

bool json_get_u64(const cJSON *item, unsigned long long *out) {
    if (!cJSON_IsNumber(item) || !item->valuestring) return false;
    const char *s = item->valuestring;
    if (!is_digit((unsigned char)s[0]) || (s[0] == '0' && s[1])) return false;
    unsigned long long v = 0;
    for (; *s; s++) {
        if (!is_digit((unsigned char)*s)) return false;
        if (__builtin_mul_overflow(v, 10ull, &v) || __builtin_add_overflow(v, (unsigned long long)(*s - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

cJSON *json_number(double v, int digits) {
    if (!isfinite(v)) return cJSON_CreateNull();
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.*g", digits, v);
    double r = strtod(tmp, NULL);
    return cJSON_CreateNumber(r == 0 ? 0 : r); /* no "-0" */
}

cJSON *json_fixed(double v, int decimals) {
    if (!isfinite(v)) return cJSON_CreateNull();
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    double r = strtod(tmp, NULL);
    return cJSON_CreateNumber(r == 0 ? 0 : r);
}

cJSON *json_integer(unsigned long long v) {
    if (v < 1000000000000000ull) return cJSON_CreateNumber((double)v);
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%llu", v);
    return cJSON_CreateRaw(tmp);
}

/* s with each invalid UTF-8 byte replaced by U+FFFD: s itself when valid, else a malloc'd copy
 * (NULL when out of memory). */
static char *utf8_clean(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), bad = 0;
    for (size_t i = 0, k; i < n; i += k ? k : 1)
        if (!(k = utf8_seq(u + i, n - i))) bad++;
    if (!bad) return (char *)s;
    char *out = malloc(n + 2 * bad + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0, k; i < n; i += k ? k : 1) {
        if ((k = utf8_seq(u + i, n - i))) memcpy(o, u + i, k), o += k;
        else memcpy(o, "\xEF\xBF\xBD", 3), o += 3;
    }
    *o = 0;
    return out;
}

cJSON *json_string(const char *s) {
    char *clean = utf8_clean(s);
    if (!clean) return NULL;
    cJSON *item = cJSON_CreateString(clean);
    if (clean != s) free(clean);
    return item;
}

static bool add_item(cJSON *obj, const char *key, cJSON *item) {
    if (!item) return false;
    char *clean = utf8_clean(key);
    bool ok = clean && cJSON_AddItemToObject(obj, clean, item);
    if (clean && clean != key) free(clean);
    if (!ok) cJSON_Delete(item);
    return ok;
}

bool json_add(cJSON *obj, const char *key, cJSON *item) { return add_item(obj, key, item); }

bool json_add_string(cJSON *obj, const char *key, const char *s) { return add_item(obj, key, json_string(s)); }

bool json_add_fixed(cJSON *obj, const char *key, double v, int decimals) { return add_item(obj, key, json_fixed(v, decimals)); }

bool json_add_integer(cJSON *obj, const char *key, unsigned long long v) { return add_item(obj, key, json_integer(v)); }

bool json_add_number(cJSON *obj, const char *key, double v, int digits) {
    return add_item(obj, key, json_number(v, digits));
}

char *json_print(const cJSON *item) { return item ? cJSON_PrintUnformatted(item) : NULL; }
