/* safetensors in memory: strict JSON, the header parser, the writer, and the model and
 * training-state codecs. No file I/O, no GPU: the fuzz target links this file alone.
 *
 * The format (https://huggingface.co/docs/safetensors): 8 bytes little-endian u64 N, N bytes
 * of UTF-8 JSON (an object; may end in space padding), then the data section. Each header key
 * but "__metadata__" names a tensor: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
 * offsets relative to the data section. "__metadata__" is an object of strings.
 *
 * Every message is one line and names no file (ckpt_io.c prefixes the path). */
#include "checkpoint/ckpt.h"
#include "util/json.h"
#include "util/message.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ckpt_status fail(ckpt_status st, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ckpt_status fail(ckpt_status st, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    message_vformat(err, errlen, fmt, ap);
    va_end(ap);
    return st;
}

const char *ckpt_status_name(ckpt_status s) {
    switch (s) {
    case CKPT_OK: return "CKPT_OK";
    case CKPT_ERR_IO: return "CKPT_ERR_IO";
    case CKPT_ERR_NOSPACE: return "CKPT_ERR_NOSPACE";
    case CKPT_ERR_NOMEM: return "CKPT_ERR_NOMEM";
    case CKPT_ERR_MISSING: return "CKPT_ERR_MISSING";
    case CKPT_ERR_TOO_LARGE: return "CKPT_ERR_TOO_LARGE";
    case CKPT_ERR_TRUNCATED: return "CKPT_ERR_TRUNCATED";
    case CKPT_ERR_HEADER_SIZE: return "CKPT_ERR_HEADER_SIZE";
    case CKPT_ERR_JSON: return "CKPT_ERR_JSON";
    case CKPT_ERR_SCHEMA: return "CKPT_ERR_SCHEMA";
    case CKPT_ERR_DTYPE: return "CKPT_ERR_DTYPE";
    case CKPT_ERR_SIZE: return "CKPT_ERR_SIZE";
    case CKPT_ERR_OFFSETS: return "CKPT_ERR_OFFSETS";
    case CKPT_ERR_TRAILING: return "CKPT_ERR_TRAILING";
    case CKPT_ERR_TENSOR: return "CKPT_ERR_TENSOR";
    case CKPT_ERR_SHAPE: return "CKPT_ERR_SHAPE";
    case CKPT_ERR_VALUE: return "CKPT_ERR_VALUE";
    case CKPT_ERR_METADATA: return "CKPT_ERR_METADATA";
    case CKPT_ERR_MISMATCH: return "CKPT_ERR_MISMATCH";
    case CKPT_ERR_DIGEST: return "CKPT_ERR_DIGEST";
    }
    return "(unknown status)";
}

static bool is_digit(uint8_t ch) { return ch >= '0' && ch <= '9'; }

static int hexval(uint8_t ch) {
    if (is_digit(ch)) return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* ---- strict JSON ------------------------------------------------------------------------- */

/* cJSON through the strict layer (util/json.h). Duplicate keys are left to the schema below,
 * which names them in its own words; \u0000 is reported (cJSON would cut the string there) and
 * refused by the schema, as every string of a header is a name, a dtype or metadata. */
static const json_rules header_rules = {CKPT_JSON_MAX_DEPTH, true, true, true};

static ckpt_status json_fail(const json_error *je, const uint8_t *s, size_t len, char *err, size_t errlen) {
    if (je->fault == JSON_FAULT_NOMEM) return fail(CKPT_ERR_NOMEM, err, errlen, "out of memory parsing the header");
    size_t at = je->offset;
    if (at < len && s[at] >= 0x20 && s[at] < 0x7f)
        return fail(CKPT_ERR_JSON, err, errlen, "header is not valid JSON: %s at byte %zu ('%c')", je->reason, at, s[at]);
    if (at < len) return fail(CKPT_ERR_JSON, err, errlen, "header is not valid JSON: %s at byte %zu (0x%02x)", je->reason, at, s[at]);
    return fail(CKPT_ERR_JSON, err, errlen, "header is not valid JSON: %s at byte %zu (end)", je->reason, at);
}

ckpt_status ckpt_json_validate(const uint8_t *s, size_t len, char *err, size_t errlen) {
    if (!s && len) return fail(CKPT_ERR_JSON, err, errlen, "no buffer");
    json_error je;
    cJSON *v = json_parse_strict((const char *)s, len, &header_rules, &je);
    if (!v) return json_fail(&je, s, len, err, errlen);
    cJSON_Delete(v);
    return CKPT_OK;
}

/* ---- the header schema ------------------------------------------------------------------- */

/* Copies a string into a NUL-terminated buffer of cap bytes; what names it for errors. */
static ckpt_status get_string(const cJSON *v, char *buf, size_t cap, const char *what, char *err, size_t errlen) {
    if (!cJSON_IsString(v)) return fail(CKPT_ERR_SCHEMA, err, errlen, "%s must be a string", what);
    size_t len = strlen(v->valuestring);
    if (len > cap - 1) return fail(CKPT_ERR_SCHEMA, err, errlen, "%s is longer than %zu bytes", what, cap - 1);
    memcpy(buf, v->valuestring, len + 1);
    return CKPT_OK;
}

/* a key is a string too: the same rules */
static ckpt_status get_key(const cJSON *member, char *buf, size_t cap, const char *what, char *err, size_t errlen) {
    cJSON key = {0};
    key.type = cJSON_String;
    key.valuestring = member->string;
    return get_string(&key, buf, cap, what, err, errlen);
}

static ckpt_status parse_metadata(const cJSON *obj, ckpt_parsed *p, char *err, size_t errlen) {
    if (!cJSON_IsObject(obj)) return fail(CKPT_ERR_SCHEMA, err, errlen, "__metadata__ must be an object of strings");
    for (const cJSON *m = obj->child; m; m = m->next) {
        if (p->nmeta >= CKPT_MAX_META)
            return fail(CKPT_ERR_SCHEMA, err, errlen, "__metadata__ has more than %d entries", CKPT_MAX_META);
        ckpt_kv *kv = &p->meta[p->nmeta];
        ckpt_status st = get_key(m, kv->key, sizeof kv->key, "a metadata key", err, errlen);
        if (st) return st;
        for (uint32_t j = 0; j < p->nmeta; j++)
            if (!strcmp(p->meta[j].key, kv->key)) return fail(CKPT_ERR_SCHEMA, err, errlen, "duplicate metadata key '%s'", kv->key);
        char what[CKPT_MAX_NAME + 40];
        snprintf(what, sizeof what, "metadata value of '%s'", kv->key);
        st = get_string(m, kv->value, sizeof kv->value, what, err, errlen);
        if (st) return st;
        p->nmeta++;
    }
    return CKPT_OK;
}

static const char *const known_dtypes[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                           "BF16", "I32", "U32", "F32", "F64", "I64", "U64", "C64", "F4",
                                           "F6_E2M3", "F6_E3M2", "E8M0", "F8_E8M0"};

static ckpt_status parse_tensor(const cJSON *entry, ckpt_tensor *t, char *err, size_t errlen) {
    const char *n = t->name;
    if (!cJSON_IsObject(entry)) return fail(CKPT_ERR_SCHEMA, err, errlen, "entry of tensor '%s' must be an object", n);
    bool have_dtype = false, have_shape = false, have_offsets = false;
    for (const cJSON *f = entry->child; f; f = f->next) {
        const char *key = f->string;
        if (!strcmp(key, "dtype")) {
            if (have_dtype) return fail(CKPT_ERR_SCHEMA, err, errlen, "tensor '%s' has two dtype fields", n);
            have_dtype = true;
            if (!cJSON_IsString(f)) return fail(CKPT_ERR_SCHEMA, err, errlen, "dtype of tensor '%s' must be a string", n);
            const char *dt = f->valuestring;
            if (strlen(dt) > 15) return fail(CKPT_ERR_DTYPE, err, errlen, "tensor '%s' has an unknown dtype", n);
            if (strcmp(dt, "F32") != 0) {
                for (size_t k = 0; k < sizeof known_dtypes / sizeof *known_dtypes; k++)
                    if (!strcmp(dt, known_dtypes[k]))
                        return fail(CKPT_ERR_DTYPE, err, errlen, "tensor '%s' has dtype %s; only F32 is accepted", n, dt);
                return fail(CKPT_ERR_DTYPE, err, errlen, "tensor '%s' has an unknown dtype '%s'", n, dt);
            }
        } else if (!strcmp(key, "shape")) {
            if (have_shape) return fail(CKPT_ERR_SCHEMA, err, errlen, "tensor '%s' has two shape fields", n);
            have_shape = true;
            if (!cJSON_IsArray(f))
                return fail(CKPT_ERR_SCHEMA, err, errlen, "shape of tensor '%s' must be an array of whole numbers", n);
            t->rank = 0;
            for (const cJSON *d = f->child; d; d = d->next) {
                if (t->rank >= CKPT_MAX_RANK)
                    return fail(CKPT_ERR_SHAPE, err, errlen, "tensor '%s' has more than %d dimensions", n, CKPT_MAX_RANK);
                unsigned long long dim;
                if (!json_get_u64(d, &dim))
                    return fail(CKPT_ERR_SCHEMA, err, errlen, "shape of tensor '%s' must be an array of whole numbers below 2^64", n);
                t->shape[t->rank++] = dim;
            }
        } else if (!strcmp(key, "data_offsets")) {
            if (have_offsets) return fail(CKPT_ERR_SCHEMA, err, errlen, "tensor '%s' has two data_offsets fields", n);
            have_offsets = true;
            unsigned long long b, e;
            if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != 2 || !json_get_u64(f->child, &b) || !json_get_u64(f->child->next, &e))
                return fail(CKPT_ERR_SCHEMA, err, errlen,
                            "data_offsets of tensor '%s' must be two whole numbers [begin, end] below 2^64", n);
            t->begin = b, t->end = e;
        } else {
            return fail(CKPT_ERR_SCHEMA, err, errlen, "tensor '%s' has an unknown field '%.40s'", n, key);
        }
    }
    if (!have_dtype) return fail(CKPT_ERR_SCHEMA, err, errlen, "tensor '%s' has no dtype", n);
    if (!have_shape) return fail(CKPT_ERR_SCHEMA, err, errlen, "tensor '%s' has no shape", n);
    if (!have_offsets) return fail(CKPT_ERR_SCHEMA, err, errlen, "tensor '%s' has no data_offsets", n);
    return CKPT_OK;
}

/* The header object's members: "__metadata__" and the tensors, in file order. */
static ckpt_status parse_header(const cJSON *root, ckpt_parsed *out, char *err, size_t errlen) {
    bool have_meta = false;
    for (const cJSON *m = root->child; m; m = m->next) {
        char key[CKPT_MAX_NAME + 1];
        ckpt_status st = get_key(m, key, sizeof key, "a tensor name", err, errlen);
        if (st) return st;
        if (!strcmp(key, "__metadata__")) {
            if (have_meta) return fail(CKPT_ERR_SCHEMA, err, errlen, "duplicate key '__metadata__'");
            have_meta = true;
            st = parse_metadata(m, out, err, errlen);
            if (st) return st;
            continue;
        }
        if (!key[0]) return fail(CKPT_ERR_SCHEMA, err, errlen, "a tensor has an empty name");
        for (uint32_t j = 0; j < out->ntensors; j++)
            if (!strcmp(out->tensors[j].name, key)) return fail(CKPT_ERR_SCHEMA, err, errlen, "duplicate tensor '%s'", key);
        if (out->ntensors >= CKPT_MAX_TENSORS) return fail(CKPT_ERR_SCHEMA, err, errlen, "more than %d tensors", CKPT_MAX_TENSORS);
        ckpt_tensor *t = &out->tensors[out->ntensors];
        memcpy(t->name, key, sizeof key);
        st = parse_tensor(m, t, err, errlen);
        if (st) return st;
        out->ntensors++;
    }
    return CKPT_OK;
}
static void format_shape(char *buf, size_t cap, const ckpt_tensor *t) {
    size_t used = 0;
    int w = snprintf(buf, cap, "[");
    if (w > 0) used = (size_t)w;
    for (uint32_t i = 0; i < t->rank && used < cap; i++) {
        w = snprintf(buf + used, cap - used, i ? ", %llu" : "%llu", (unsigned long long)t->shape[i]);
        if (w < 0) return;
        used += (size_t)w;
    }
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

static int cmp_range(const void *a, const void *b) {
    const ckpt_tensor *x = *(const ckpt_tensor *const *)a, *y = *(const ckpt_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

ckpt_status ckpt_parse(const uint8_t *bytes, size_t len, ckpt_parsed *out, char *err, size_t errlen) {
    if (!out || (!bytes && len)) return fail(CKPT_ERR_IO, err, errlen, "ckpt_parse called without a buffer");
    memset(out, 0, sizeof *out);
    if (len < 8)
        return fail(CKPT_ERR_TRUNCATED, err, errlen, "file is %zu bytes, too short for the 8-byte safetensors header length", len);
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = n << 8 | bytes[k];
    if (n == 0) return fail(CKPT_ERR_HEADER_SIZE, err, errlen, "header length is 0: not a safetensors file");
    if (n > CKPT_MAX_HEADER)
        return fail(CKPT_ERR_HEADER_SIZE, err, errlen,
                    "header length %llu is over the %llu-byte limit (not a safetensors file, or a hostile one)",
                    (unsigned long long)n, (unsigned long long)CKPT_MAX_HEADER);
    if (n > len - 8)
        return fail(CKPT_ERR_TRUNCATED, err, errlen,
                    "header length %llu runs past the end of the file (%zu bytes): truncated or not safetensors",
                    (unsigned long long)n, len);
    const uint8_t *hdr = bytes + 8;
    size_t hlen = (size_t)n;
    out->header_len = n;
    if (hdr[0] != '{') return fail(CKPT_ERR_JSON, err, errlen, "header does not start with '{': not a safetensors file");
    /* the JSON object, then only space padding */
    size_t jlen = hlen;
    while (jlen > 0 && hdr[jlen - 1] == ' ') jlen--;
    json_error je;
    cJSON *root = json_parse_strict((const char *)hdr, jlen, &header_rules, &je);
    if (!root) return json_fail(&je, hdr, jlen, err, errlen);
    ckpt_status st = CKPT_OK;
    if (je.nul_at != JSON_NO_OFFSET)
        st = fail(CKPT_ERR_SCHEMA, err, errlen, "a string in the header contains a NUL character (\\u0000 at byte %zu)", je.nul_at);
    else
        st = parse_header(root, out, err, errlen); /* root is an object: the header starts with '{' */
    cJSON_Delete(root);
    if (st) return st;

    /* sizes and byte ranges, all checked */
    const uint8_t *data = hdr + hlen;
    uint64_t data_len = (uint64_t)(len - 8 - hlen);
    ckpt_tensor *order[CKPT_MAX_TENSORS];
    for (uint32_t i = 0; i < out->ntensors; i++) {
        ckpt_tensor *t = &out->tensors[i];
        char shape[160];
        format_shape(shape, sizeof shape, t);
        uint64_t count = 1, bytes_needed;
        for (uint32_t d = 0; d < t->rank; d++)
            if (__builtin_mul_overflow(count, t->shape[d], &count))
                return fail(CKPT_ERR_SIZE, err, errlen, "shape %s of tensor '%s' overflows 64 bits", shape, t->name);
        if (__builtin_mul_overflow(count, (uint64_t)4, &bytes_needed))
            return fail(CKPT_ERR_SIZE, err, errlen, "shape %s of tensor '%s' overflows 64 bits", shape, t->name);
        t->count = count;
        if (t->end < t->begin)
            return fail(CKPT_ERR_OFFSETS, err, errlen, "tensor '%s' has data_offsets [%llu, %llu]: end before begin", t->name,
                        (unsigned long long)t->begin, (unsigned long long)t->end);
        if (t->end - t->begin != bytes_needed)
            return fail(CKPT_ERR_SIZE, err, errlen,
                        "tensor '%s' has shape %s (%llu bytes as F32) but its data_offsets span %llu bytes", t->name, shape,
                        (unsigned long long)bytes_needed, (unsigned long long)(t->end - t->begin));
        if (t->end > data_len)
            return fail(CKPT_ERR_OFFSETS, err, errlen,
                        "tensor '%s' ends at byte %llu of the data section, past its end (%llu bytes): truncated file or bad offsets",
                        t->name, (unsigned long long)t->end, (unsigned long long)data_len);
        t->data = data + t->begin;
        order[i] = t;
    }
    qsort(order, out->ntensors, sizeof *order, cmp_range);
    uint64_t pos = 0;
    for (uint32_t i = 0; i < out->ntensors; i++) {
        const ckpt_tensor *t = order[i];
        if (t->begin < pos)
            return fail(CKPT_ERR_OFFSETS, err, errlen, "tensors '%s' and '%s' overlap (bytes %llu..%llu and %llu..%llu)",
                        order[i - 1]->name, t->name, (unsigned long long)order[i - 1]->begin,
                        (unsigned long long)order[i - 1]->end, (unsigned long long)t->begin, (unsigned long long)t->end);
        if (t->begin > pos)
            return fail(CKPT_ERR_OFFSETS, err, errlen, "bytes %llu..%llu of the data section belong to no tensor (gap before '%s')",
                        (unsigned long long)pos, (unsigned long long)t->begin, t->name);
        pos = t->end;
    }
    if (pos != data_len)
        return fail(CKPT_ERR_TRAILING, err, errlen, "%llu trailing bytes after the last tensor (data section is %llu bytes, tensors cover %llu)",
                    (unsigned long long)(data_len - pos), (unsigned long long)data_len, (unsigned long long)pos);
    return CKPT_OK;
}

const char *ckpt_meta_get(const ckpt_parsed *p, const char *key) {
    for (uint32_t i = 0; i < p->nmeta; i++)
        if (!strcmp(p->meta[i].key, key)) return p->meta[i].value;
    return NULL;
}

const ckpt_tensor *ckpt_find_tensor(const ckpt_parsed *p, const char *name) {
    for (uint32_t i = 0; i < p->ntensors; i++)
        if (!strcmp(p->tensors[i].name, name)) return &p->tensors[i];
    return NULL;
}

/* ---- the writer -------------------------------------------------------------------------- */

typedef struct sbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const void *s, size_t k) {
    if (b->oom) return;
    size_t need;
    if (__builtin_add_overflow(b->n, k, &need)) {
        b->oom = true;
        return;
    }
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) {
            if (__builtin_mul_overflow(cap, 2, &cap)) {
                b->oom = true;
                return;
            }
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, k);
    b->n = need;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void hex_digest(const uint8_t d[32], char out[65]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) out[2 * i] = hex[d[i] >> 4], out[2 * i + 1] = hex[d[i] & 15];
    out[64] = '\0';
}

ckpt_status ckpt_serialize(const ckpt_out_tensor *tensors, size_t ntensors, const ckpt_kv *meta, size_t nmeta,
                           uint8_t **out, size_t *out_len, char *err, size_t errlen) {
    *out = NULL;
    *out_len = 0;
    /* the digest takes one metadata entry: the caller's "sha256" (replaced) or a new one at the end */
    bool caller_digest = false;
    for (size_t i = 0; i < nmeta; i++) caller_digest |= !strcmp(meta[i].key, CKPT_DIGEST_KEY);
    if (ntensors > CKPT_MAX_TENSORS || nmeta + !caller_digest > CKPT_MAX_META)
        return fail(CKPT_ERR_SCHEMA, err, errlen, "too many tensors or metadata entries to write");
    /* the data section first: its SHA-256 goes into the header */
    uint64_t off = 0;
    for (size_t i = 0; i < ntensors; i++) {
        const ckpt_out_tensor *t = &tensors[i];
        uint64_t count = 1, bytes;
        if (t->rank > CKPT_MAX_RANK) return fail(CKPT_ERR_SIZE, err, errlen, "tensor sizes overflow");
        for (uint32_t d = 0; d < t->rank; d++)
            if (__builtin_mul_overflow(count, t->shape[d], &count)) return fail(CKPT_ERR_SIZE, err, errlen, "tensor sizes overflow");
        if (__builtin_mul_overflow(count, (uint64_t)4, &bytes) || __builtin_add_overflow(off, bytes, &off) ||
            off > SIZE_MAX - CKPT_MAX_HEADER - 16)
            return fail(CKPT_ERR_SIZE, err, errlen, "tensor sizes overflow");
    }
    uint8_t *data = malloc(off ? (size_t)off : 1);
    if (!data) return fail(CKPT_ERR_NOMEM, err, errlen, "out of memory for %llu bytes of tensor data", (unsigned long long)off);
    uint8_t *d = data;
    for (size_t i = 0; i < ntensors; i++) {
        const ckpt_out_tensor *t = &tensors[i];
        uint64_t count = 1;
        for (uint32_t dd = 0; dd < t->rank; dd++) count *= t->shape[dd];
        for (uint64_t k = 0; k < count; k++) {
            uint32_t bits;
            memcpy(&bits, &t->data[k], 4);
            d[0] = (uint8_t)bits, d[1] = (uint8_t)(bits >> 8), d[2] = (uint8_t)(bits >> 16), d[3] = (uint8_t)(bits >> 24);
            d += 4;
        }
    }
    uint8_t digest[32];
    char digest_hex[65];
    ckpt_sha256(data, (size_t)off, digest);
    hex_digest(digest, digest_hex);

    /* the header: metadata first, then the tensors in order, as PyTorch's writer lays it out */
    cJSON *hdr = cJSON_CreateObject(), *md = cJSON_CreateObject();
    bool ok = hdr && json_add(hdr, "__metadata__", md);
    for (size_t i = 0; ok && i < nmeta; i++)
        ok = json_add_string(md, meta[i].key, strcmp(meta[i].key, CKPT_DIGEST_KEY) ? meta[i].value : digest_hex);
    if (ok && !caller_digest) ok = json_add_string(md, CKPT_DIGEST_KEY, digest_hex);
    off = 0;
    for (size_t i = 0; ok && i < ntensors; i++) {
        const ckpt_out_tensor *t = &tensors[i];
        uint64_t count = 1;
        for (uint32_t dd = 0; dd < t->rank; dd++) count *= t->shape[dd];
        cJSON *entry = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offsets = cJSON_CreateArray();
        ok = json_add(hdr, t->name, entry) && json_add_string(entry, "dtype", "F32") && json_add(entry, "shape", shape) &&
             json_add(entry, "data_offsets", offsets);
        if (!ok) {
            if (!entry) cJSON_Delete(shape), cJSON_Delete(offsets); /* neither was attached */
            break;
        }
        for (uint32_t dd = 0; ok && dd < t->rank; dd++) ok = cJSON_AddItemToArray(shape, json_integer(t->shape[dd]));
        uint64_t end = off + count * 4;
        ok = ok && cJSON_AddItemToArray(offsets, json_integer(off)) && cJSON_AddItemToArray(offsets, json_integer(end));
        off = end;
    }
    char *text = ok ? json_print(hdr) : NULL;
    cJSON_Delete(hdr);
    sbuf h = {0};
    if (text) sb_str(&h, text);
    else h.oom = true;
    cJSON_free(text);
    while (!h.oom && h.n % 8) sb_str(&h, " ");
    if (h.oom) {
        free(h.p), free(data);
        return fail(CKPT_ERR_NOMEM, err, errlen, "out of memory building the header");
    }
    if (h.n > CKPT_MAX_HEADER) {
        free(h.p), free(data);
        return fail(CKPT_ERR_HEADER_SIZE, err, errlen, "header would be %zu bytes, over the %llu-byte limit", h.n,
                    (unsigned long long)CKPT_MAX_HEADER);
    }
    size_t total = 8 + h.n + (size_t)off;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(h.p), free(data);
        return fail(CKPT_ERR_NOMEM, err, errlen, "out of memory for a %zu-byte file", total);
    }
    uint64_t n = h.n;
    for (int k = 0; k < 8; k++) buf[k] = (uint8_t)(n >> (8 * k));
    memcpy(buf + 8, h.p, h.n);
    memcpy(buf + 8 + h.n, data, (size_t)off);
    free(h.p), free(data);
    *out = buf;
    *out_len = total;
    return CKPT_OK;
}

ckpt_status ckpt_verify_digest(const uint8_t *bytes, size_t len, const ckpt_parsed *p, bool *present, char *err,
                               size_t errlen) {
    *present = false;
    const char *want = ckpt_meta_get(p, CKPT_DIGEST_KEY);
    if (!want) return CKPT_OK;
    *present = true;
    bool hex = strlen(want) == 64;
    for (size_t i = 0; hex && i < 64; i++) hex = (want[i] >= '0' && want[i] <= '9') || (want[i] >= 'a' && want[i] <= 'f');
    if (!hex)
        return fail(CKPT_ERR_DIGEST, err, errlen, "metadata %s is '%.80s', not 64 lowercase hex digits", CKPT_DIGEST_KEY, want);
    uint64_t start = 8 + p->header_len;
    if (start > len) return fail(CKPT_ERR_TRUNCATED, err, errlen, "file ends inside its header");
    uint8_t digest[32];
    char got[65];
    ckpt_sha256(bytes + start, len - (size_t)start, digest);
    hex_digest(digest, got);
    if (strcmp(got, want) != 0)
        return fail(CKPT_ERR_DIGEST, err, errlen,
                    "tensor data does not match the file's sha256 digest (recorded %.12s..., computed %.12s...): the file "
                    "is corrupt or was altered",
                    want, got);
    return CKPT_OK;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static float get_f32(const uint8_t *p) {
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint64_t ckpt_fnv1a64(uint64_t h, const void *bytes, size_t n) {
    const uint8_t *p = bytes;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t ckpt_params_fingerprint(const float *params, size_t count) {
    uint64_t h = CKPT_FNV_OFFSET;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &params[i], 4);
        uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16), (uint8_t)(bits >> 24)};
        h = ckpt_fnv1a64(h, le, 4);
    }
    return h;
}

/* Copies a tensor's F32 data into dst, refusing NaN and infinities. */
static ckpt_status copy_finite(const ckpt_tensor *t, float *dst, char *err, size_t errlen) {
    for (uint64_t k = 0; k < t->count; k++) {
        float v = get_f32(t->data + 4 * k);
        if (!isfinite(v))
            return fail(CKPT_ERR_VALUE, err, errlen, "tensor '%s' holds %s at index %llu", t->name,
                        isnan(v) ? "NaN" : "an infinity", (unsigned long long)k);
        dst[k] = v;
    }
    return CKPT_OK;
}

/* ---- the model ---------------------------------------------------------------------------- */

/* "<k>.weight" or "<k>.bias", k a decimal without leading zeros: the Sequential module k */
static bool layer_tensor_name(const char *name, uint32_t *module, bool *weight) {
    const char *p = name;
    if (!is_digit((uint8_t)*p) || (p[0] == '0' && is_digit((uint8_t)p[1]))) return false;
    uint32_t k = 0;
    for (; is_digit((uint8_t)*p); p++) {
        if (k > 1000) return false;
        k = k * 10 + (uint32_t)(*p - '0');
    }
    if (!strcmp(p, ".weight")) *weight = true;
    else if (!strcmp(p, ".bias")) *weight = false;
    else return false;
    *module = k;
    return true;
}

/* The names a model of `layers` dense layers holds, for messages: "0.weight, 0.bias, 2.weight, 2.bias" */
static void expected_names(char *buf, size_t cap, uint32_t layers) {
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t l = 0; l < layers && n < cap; l++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%u.weight, %u.bias", l ? ", " : "", 2 * l, 2 * l);
}

/* A decimal 1..CKPT_MAX_INPUTS, digits only. */
static bool parse_dim(const char *s, uint32_t *out) {
    uint32_t v = 0;
    if (!*s || strlen(s) > 5) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + (uint32_t)(*s - '0');
    }
    if (v < 1 || v > CKPT_MAX_INPUTS) return false;
    *out = v;
    return true;
}

void ckpt_default_image_shape(uint32_t inputs, uint32_t *rows, uint32_t *cols) {
    uint32_t side = 1;
    while ((side + 1) * (side + 1) <= inputs) side++;
    if (side * side == inputs) *rows = *cols = side;
    else *rows = 1, *cols = inputs;
}

ckpt_status ckpt_model_decode(const ckpt_parsed *p, ckpt_model *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    /* every tensor must be a Linear layer of Sequential: even module indices, activations between */
    uint32_t layers = 0;
    for (uint32_t i = 0; i < p->ntensors; i++) {
        uint32_t module;
        bool weight;
        const char *name = p->tensors[i].name;
        if (!layer_tensor_name(name, &module, &weight) || module % 2 || module / 2 >= MODEL_MAX_LAYERS)
            return fail(CKPT_ERR_TENSOR, err, errlen,
                        "unexpected tensor '%s': a model holds only the Linear layers of torch.nn.Sequential "
                        "(0.weight, 0.bias, 2.weight, 2.bias, ..., at most %d layers)%s",
                        name, MODEL_MAX_LAYERS, !strcmp(name, CKPT_VELOCITY_TENSOR) ? " (this is a training-state file)" : "");
        if (module / 2 + 1 > layers) layers = module / 2 + 1;
    }
    if (layers < 2) layers = 2; /* at least one hidden layer: a missing 2.weight is named */
    char names[512];
    expected_names(names, sizeof names, layers);
    const ckpt_tensor *w[MODEL_MAX_LAYERS], *b[MODEL_MAX_LAYERS];
    for (uint32_t l = 0; l < layers; l++) {
        char wn[32], bn[32];
        snprintf(wn, sizeof wn, "%u.weight", 2 * l);
        snprintf(bn, sizeof bn, "%u.bias", 2 * l);
        if (!(w[l] = ckpt_find_tensor(p, wn)))
            return fail(CKPT_ERR_TENSOR, err, errlen, "missing tensor '%s' (this model holds %s)", wn, names);
        if (!(b[l] = ckpt_find_tensor(p, bn)))
            return fail(CKPT_ERR_TENSOR, err, errlen, "missing tensor '%s' (this model holds %s)", bn, names);
    }
    char shape[160];
    format_shape(shape, sizeof shape, w[0]);
    /* the inputs are 0.weight's columns, the classes the last layer's rows: any data set */
    if (w[0]->rank != 2 || w[0]->shape[1] < 1 || w[0]->shape[1] > CKPT_MAX_INPUTS)
        return fail(CKPT_ERR_SHAPE, err, errlen, "tensor '0.weight' has shape %s, expected [H, inputs] with 1..%d inputs", shape,
                    CKPT_MAX_INPUTS);
    model_arch a = model_arch_default();
    a.hidden_layers = layers - 1;
    a.inputs = (uint32_t)w[0]->shape[1];
    uint64_t fan_in = a.inputs;
    for (uint32_t l = 0; l < layers; l++) {
        bool last = l + 1 == layers;
        uint64_t rows = w[l]->rank == 2 ? w[l]->shape[0] : 0;
        format_shape(shape, sizeof shape, w[l]);
        if (!last && (rows < 1 || rows > MLP_MAX_HIDDEN) && w[l]->rank == 2 && w[l]->shape[1] == fan_in)
            return fail(CKPT_ERR_SHAPE, err, errlen, "tensor '%s' has shape %s: hidden size %llu is outside 1..%d", w[l]->name,
                        shape, (unsigned long long)rows, MLP_MAX_HIDDEN);
        if (last && (rows < 2 || rows > CKPT_MAX_CLASSES) && w[l]->rank == 2 && w[l]->shape[1] == fan_in)
            return fail(CKPT_ERR_SHAPE, err, errlen, "tensor '%s' has shape %s: %llu classes is outside 2..%d", w[l]->name,
                        shape, (unsigned long long)rows, CKPT_MAX_CLASSES);
        if (w[l]->rank != 2 || w[l]->shape[0] != rows || w[l]->shape[1] != fan_in) {
            if (last)
                return fail(CKPT_ERR_SHAPE, err, errlen, "tensor '%s' has shape %s, expected [classes, %llu] to match %s", w[l]->name,
                            shape, (unsigned long long)fan_in, l ? w[l - 1]->name : "the inputs");
            return fail(CKPT_ERR_SHAPE, err, errlen, "tensor '%s' has shape %s, expected [H, %llu] to match %s", w[l]->name, shape,
                        (unsigned long long)fan_in, w[l - 1]->name);
        }
        if (b[l]->rank != 1 || b[l]->shape[0] != w[l]->shape[0]) {
            format_shape(shape, sizeof shape, b[l]);
            return fail(CKPT_ERR_SHAPE, err, errlen, "tensor '%s' has shape %s, expected [%llu] to match %s", b[l]->name, shape,
                        (unsigned long long)w[l]->shape[0], w[l]->name);
        }
        if (!last) a.hidden[l] = (uint32_t)rows;
        else a.classes = (uint32_t)rows;
        fan_in = w[l]->shape[0];
    }
    const char *act = ckpt_meta_get(p, "activation");
    if (act && !model_activation_parse(act, &a.activation))
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata activation '%s' is not relu, gelu, tanh, sigmoid or leaky_relu", act);
    char why[160];
    if (!model_arch_check(&a, why, sizeof why)) return fail(CKPT_ERR_SHAPE, err, errlen, "%s", why);
    /* the image shape: recorded since models had other data than MNIST; before, 784 was 28x28 */
    const char *mr = ckpt_meta_get(p, "rows"), *mc = ckpt_meta_get(p, "cols");
    uint32_t rows = 0, cols = 0;
    if (mr || mc) {
        if (!mr || !mc || !parse_dim(mr, &rows) || !parse_dim(mc, &cols) || (uint64_t)rows * cols != a.inputs)
            return fail(CKPT_ERR_METADATA, err, errlen, "metadata rows '%s' and cols '%s' are not an image of the model's %u inputs",
                        mr ? mr : "", mc ? mc : "", a.inputs);
    } else {
        ckpt_default_image_shape(a.inputs, &rows, &cols);
    }
    out->arch = a;
    out->rows = rows;
    out->cols = cols;
    size_t n = model_param_count(&a);
    out->params = malloc(n * sizeof(float));
    if (!out->params) return fail(CKPT_ERR_NOMEM, err, errlen, "out of memory for %zu parameters", n);
    size_t o = 0;
    for (uint32_t l = 0; l < layers; l++) {
        ckpt_status st = copy_finite(w[l], out->params + o, err, errlen);
        o += (size_t)w[l]->count;
        if (!st) st = copy_finite(b[l], out->params + o, err, errlen);
        o += (size_t)b[l]->count;
        if (st) {
            ckpt_model_free(out);
            return st;
        }
    }
    return CKPT_OK;
}

ckpt_status ckpt_model_encode(const model_arch *arch, const float *params, const ckpt_kv *meta, size_t nmeta, uint8_t **out,
                              size_t *out_len, char *err, size_t errlen) {
    char why[160];
    if (!model_arch_check(arch, why, sizeof why)) return fail(CKPT_ERR_SHAPE, err, errlen, "%s", why);
    model_layout lay;
    model_layout_make(arch, 1, &lay);
    ckpt_out_tensor t[MODEL_MAX_TENSORS];
    char names[MODEL_MAX_TENSORS][24];
    for (uint32_t l = 0; l < lay.layers; l++) {
        snprintf(names[2 * l], sizeof names[0], "%u.weight", 2 * l);
        snprintf(names[2 * l + 1], sizeof names[0], "%u.bias", 2 * l);
        t[2 * l] = (ckpt_out_tensor){names[2 * l], 2, {lay.fan_out[l], lay.fan_in[l], 0, 0}, params + lay.offsets[2 * l]};
        t[2 * l + 1] = (ckpt_out_tensor){names[2 * l + 1], 1, {lay.fan_out[l], 0, 0, 0}, params + lay.offsets[2 * l + 1]};
    }
    return ckpt_serialize(t, lay.tensors, meta, nmeta, out, out_len, err, errlen);
}

void ckpt_model_free(ckpt_model *m) {
    if (!m) return;
    free(m->params);
    m->params = NULL;
    memset(&m->arch, 0, sizeof m->arch);
}

/* The shortest decimal that reads back as exactly this float ("0.05", not "0.0500000007"). */
static void fmt_float(char *buf, size_t cap, float v) {
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, cap, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v) return;
    }
}

static const char *kernels_name(mlp_kernels k) {
    return k == MLP_KERNELS_REFERENCE ? "reference" : k == MLP_KERNELS_FUSED ? "fused" : "auto";
}

static const char *const schedule_names[] = {"constant", "cosine", "step", "onecycle"};

size_t ckpt_model_metadata(const ckpt_model_info *info, ckpt_kv *kv) {
    char lr[32], mom[32];
    fmt_float(lr, sizeof lr, info->cfg.lr);
    fmt_float(mom, sizeof mom, info->cfg.momentum);
    size_t n = 0;
    const mlp_config *c = &info->cfg;
#define KV(k, ...) (snprintf(kv[n].key, sizeof kv[n].key, "%s", k), snprintf(kv[n].value, sizeof kv[n].value, __VA_ARGS__), n++)
    KV("format", "pt");
    KV("producer", "wgtrain");
    char arch[CKPT_MAX_VALUE + 1], hidden[128];
    model_describe(&c->arch, arch, sizeof arch);
    model_hidden_format(&c->arch, hidden, sizeof hidden);
    KV("architecture", "%s", arch);
    KV("hidden", "%s", hidden);
    KV("layers", "%u,%s,%u", c->arch.inputs, hidden, c->arch.classes);
    KV("activation", "%s", model_activation_name(c->arch.activation));
    KV("init", "%s", model_init_name(c->init));
    KV("epoch", "%u", info->epoch);
    KV("epochs", "%u", c->epochs);
    KV("batch", "%u", c->batch);
    KV("lr", "%s", lr);
    KV("momentum", "%s", mom);
    KV("schedule", "%s", (unsigned)c->schedule < 4 ? schedule_names[c->schedule] : "?");
    KV("optimizer", "%s", optim_name(c->optimizer));
    char wd[32], b1[32], b2[32], eps[32], clip[32];
    fmt_float(wd, sizeof wd, c->weight_decay);
    fmt_float(b1, sizeof b1, c->beta1);
    fmt_float(b2, sizeof b2, c->beta2);
    fmt_float(eps, sizeof eps, c->eps);
    fmt_float(clip, sizeof clip, c->clip_grad_norm);
    KV("weight_decay", "%s", wd);
    if (c->optimizer >= OPTIM_ADAM) KV("betas", "%s,%s", b1, b2), KV("eps", "%s", eps);
    if (c->clip_grad_norm > 0) KV("clip_grad_norm", "%s", clip);
    if (c->warmup) KV("warmup", "%u", c->warmup);
    char ls[32], dr[32];
    fmt_float(ls, sizeof ls, c->label_smoothing);
    fmt_float(dr, sizeof dr, c->dropout);
    if (c->label_smoothing > 0) KV("label_smoothing", "%s", ls);
    if (c->dropout > 0) KV("dropout", "%s", dr);
    KV("kernels", "%s", kernels_name(c->kernels));
    KV("loss", "cross-entropy (softmax)");
    KV("seed", "%llu", (unsigned long long)c->seed);
    KV("dataset", "%s", info->dataset && *info->dataset ? info->dataset : "MNIST");
    KV("train_samples", "%u", info->train_samples);
    KV("test_samples", "%u", info->test_samples);
    uint32_t rows = info->rows, cols = info->cols;
    if ((uint64_t)rows * cols != c->arch.inputs) ckpt_default_image_shape(c->arch.inputs, &rows, &cols);
    KV("rows", "%u", rows);
    KV("cols", "%u", cols);
    KV("classes", "%u", c->arch.classes);
    KV("input", "%ux%u grayscale, flattened row-major to %u", rows, cols, c->arch.inputs);
    KV("input_normalization", "x = (pixel / 255 - 0.1307) / 0.3081");
    if (info->test_accuracy >= 0) KV("test_accuracy", "%.6f", info->test_accuracy);
#undef KV
    return n;
}

/* ---- the training state ------------------------------------------------------------------- */

static const char *const state_keys[] = {
    "format", "version", "epochs_done", "global_step", "steps_per_epoch", "train_samples", "train_fingerprint",
    "model_fingerprint", "seed", "hidden", "batch", "epochs", "lr", "momentum", "schedule", "save_every", "kernels",
};
static const char *const state_info_keys[] = {"rng", "data_order", "producer", CKPT_DIGEST_KEY};
/* keys a training state written before they existed lacks (their values then: relu, torch) */
static const char *const state_optional_keys[] = {"activation", "init", "optimizer", "weight_decay", "beta1", "beta2",
                                                  "eps", "clip_grad_norm", "warmup", "label_smoothing", "dropout",
                                                  "inputs", "classes", "edit_lr_scale", "edit_momentum"};
#define N_STATE_KEYS (sizeof state_keys / sizeof *state_keys)
#define N_STATE_OPTIONAL (sizeof state_optional_keys / sizeof *state_optional_keys)

static bool parse_meta_u64(const char *s, uint64_t max, uint64_t *out) {
    if (!*s || (s[0] == '0' && s[1])) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (!is_digit((uint8_t)*s)) return false;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v)) return false;
    }
    if (v > max) return false;
    *out = v;
    return true;
}

static bool parse_meta_f32(const char *s, float *out) {
    if (!*s || !(is_digit((uint8_t)s[0]) || s[0] == '-' || s[0] == '.')) return false;
    for (const char *q = s; *q; q++)
        if (!(is_digit((uint8_t)*q) || *q == '.' || *q == '-' || *q == '+' || *q == 'e' || *q == 'E')) return false;
    char *end;
    float v = strtof(s, &end);
    if (*end || !isfinite(v)) return false;
    *out = v;
    return true;
}

static bool parse_meta_f64(const char *s, double *out) {
    if (!*s || !(is_digit((uint8_t)s[0]) || s[0] == '-' || s[0] == '.')) return false;
    for (const char *q = s; *q; q++)
        if (!(is_digit((uint8_t)*q) || *q == '.' || *q == '-' || *q == '+' || *q == 'e' || *q == 'E')) return false;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return false;
    *out = v;
    return true;
}

static bool parse_meta_hex64(const char *s, uint64_t *out) {
    if (strlen(s) != 16) return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int h = hexval((uint8_t)s[i]);
        if (h < 0 || (s[i] >= 'A' && s[i] <= 'F')) return false;
        v = v << 4 | (uint64_t)h;
    }
    *out = v;
    return true;
}

ckpt_status ckpt_state_encode(const ckpt_state *s, uint8_t **out, size_t *out_len, char *err, size_t errlen) {
    if (s->cfg.kernels != MLP_KERNELS_FUSED && s->cfg.kernels != MLP_KERNELS_REFERENCE)
        return fail(CKPT_ERR_METADATA, err, errlen, "training state needs the kernel path that ran (fused or reference), not auto");
    char lr[32], mom[32];
    fmt_float(lr, sizeof lr, s->cfg.lr);
    fmt_float(mom, sizeof mom, s->cfg.momentum);
    ckpt_kv kv[N_STATE_KEYS + N_STATE_OPTIONAL + 3];
    size_t n = 0;
#define KV(k, ...) (snprintf(kv[n].key, sizeof kv[n].key, "%s", k), snprintf(kv[n].value, sizeof kv[n].value, __VA_ARGS__), n++)
    KV("format", "%s", CKPT_STATE_FORMAT);
    KV("version", "1");
    KV("producer", "wgtrain");
    KV("epochs_done", "%u", s->epochs_done);
    KV("global_step", "%llu", (unsigned long long)s->global_step);
    KV("steps_per_epoch", "%u", s->steps_per_epoch);
    KV("train_samples", "%u", s->train_samples);
    KV("train_fingerprint", "%016llx", (unsigned long long)s->train_fingerprint);
    KV("model_fingerprint", "%016llx", (unsigned long long)s->model_fingerprint);
    KV("seed", "%llu", (unsigned long long)s->cfg.seed);
    char hidden[128];
    model_hidden_format(&s->cfg.arch, hidden, sizeof hidden);
    KV("hidden", "%s", hidden);
    KV("inputs", "%u", s->cfg.arch.inputs);
    KV("classes", "%u", s->cfg.arch.classes);
    KV("activation", "%s", model_activation_name(s->cfg.arch.activation));
    KV("init", "%s", model_init_name(s->cfg.init));
    char f[7][32];
    fmt_float(f[5], sizeof f[5], s->cfg.label_smoothing);
    fmt_float(f[6], sizeof f[6], s->cfg.dropout);
    KV("label_smoothing", "%s", f[5]);
    KV("dropout", "%s", f[6]);
    fmt_float(f[0], sizeof f[0], s->cfg.weight_decay);
    fmt_float(f[1], sizeof f[1], s->cfg.beta1);
    fmt_float(f[2], sizeof f[2], s->cfg.beta2);
    fmt_float(f[3], sizeof f[3], s->cfg.eps);
    fmt_float(f[4], sizeof f[4], s->cfg.clip_grad_norm);
    KV("optimizer", "%s", optim_name(s->cfg.optimizer));
    KV("weight_decay", "%s", f[0]);
    KV("beta1", "%s", f[1]);
    KV("beta2", "%s", f[2]);
    KV("eps", "%s", f[3]);
    KV("clip_grad_norm", "%s", f[4]);
    KV("warmup", "%u", s->cfg.warmup);
    KV("batch", "%u", s->cfg.batch);
    KV("epochs", "%u", s->cfg.epochs);
    KV("lr", "%s", lr);
    KV("momentum", "%s", mom);
    KV("schedule", "%s", (unsigned)s->cfg.schedule < 4 ? schedule_names[s->cfg.schedule] : "?");
    KV("save_every", "%u", s->save_every);
    KV("kernels", "%s", kernels_name(s->cfg.kernels));
    /* the live edits in effect (core/live.h): %.17g and %.9g give back the same bits; none
     * recorded (lr_scale 0) leaves the keys out, as a state written before edits existed */
    if (s->live.lr_scale != 0) {
        KV("edit_lr_scale", "%.17g", s->live.lr_scale);
        KV("edit_momentum", "%.9g", (double)s->live.momentum);
    }
    KV("rng", "splitmix64 seeded from (seed, epoch): seed and epochs_done are the whole RNG state");
    KV("data_order", "epoch e shuffles with mlp_epoch_order(seed, e); resume at the start of epoch epochs_done+1");
#undef KV
    ckpt_out_tensor t[OPTIM_MAX_SLOTS];
    char names[OPTIM_MAX_SLOTS][48];
    uint32_t slots = optim_slots(s->cfg.optimizer);
    for (uint32_t k = 0; k < slots; k++) {
        snprintf(names[k], sizeof names[k], "optimizer.%s", optim_slot_name(s->cfg.optimizer, k));
        t[k] = (ckpt_out_tensor){names[k], 1, {model_param_count(&s->cfg.arch), 0, 0, 0}, s->slot[k]};
    }
    return ckpt_serialize(t, slots, kv, n, out, out_len, err, errlen);
}

ckpt_status ckpt_state_decode(const ckpt_parsed *p, ckpt_state *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < p->nmeta; i++) {
        bool known = false;
        for (size_t k = 0; k < N_STATE_KEYS; k++) known |= !strcmp(p->meta[i].key, state_keys[k]);
        for (size_t k = 0; k < sizeof state_info_keys / sizeof *state_info_keys; k++)
            known |= !strcmp(p->meta[i].key, state_info_keys[k]);
        for (size_t k = 0; k < N_STATE_OPTIONAL; k++) known |= !strcmp(p->meta[i].key, state_optional_keys[k]);
        if (!known) return fail(CKPT_ERR_METADATA, err, errlen, "unknown training-state metadata key '%s'", p->meta[i].key);
    }
    const char *v[N_STATE_KEYS];
    for (size_t k = 0; k < N_STATE_KEYS; k++)
        if (!(v[k] = ckpt_meta_get(p, state_keys[k])))
            return fail(CKPT_ERR_METADATA, err, errlen, "training state lacks metadata '%s'%s", state_keys[k],
                        k == 0 ? " (not a training-state file)" : "");
    if (strcmp(v[0], CKPT_STATE_FORMAT) != 0)
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata format is '%s', expected '%s'", v[0], CKPT_STATE_FORMAT);
    if (strcmp(v[1], "1") != 0)
        return fail(CKPT_ERR_METADATA, err, errlen, "training-state version '%s' is not supported (this wgtrain reads 1)", v[1]);
    uint64_t epochs_done, global_step, spe, samples, seed, batch, epochs, save_every;
    struct {
        const char *key;
        uint64_t max, *dst;
    } ints[] = {
        {"epochs_done", 100000, &epochs_done}, {"global_step", UINT64_MAX, &global_step}, {"steps_per_epoch", UINT32_MAX, &spe},
        {"train_samples", UINT32_MAX, &samples}, {"seed", UINT64_MAX, &seed},
        {"batch", MLP_MAX_BATCH, &batch}, {"epochs", 100000, &epochs}, {"save_every", 100000, &save_every},
    };
    for (size_t k = 0; k < sizeof ints / sizeof *ints; k++) {
        const char *s = ckpt_meta_get(p, ints[k].key);
        if (!parse_meta_u64(s, ints[k].max, ints[k].dst))
            return fail(CKPT_ERR_METADATA, err, errlen, "metadata %s is '%s', not a whole number in 0..%llu", ints[k].key, s,
                        (unsigned long long)ints[k].max);
    }
    model_arch arch = model_arch_default();
    char why[256];
    const char *hidden_s = ckpt_meta_get(p, "hidden"), *act_s = ckpt_meta_get(p, "activation"), *init_s = ckpt_meta_get(p, "init");
    if (!model_hidden_parse(hidden_s, &arch, why, sizeof why))
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata hidden is '%s', not a list of widths 1..%d", hidden_s, MLP_MAX_HIDDEN);
    if (act_s && !model_activation_parse(act_s, &arch.activation))
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata activation '%s' is not relu, gelu, tanh, sigmoid or leaky_relu", act_s);
    /* the model's inputs and classes: a state written before they were data is MNIST's */
    const char *in_s = ckpt_meta_get(p, "inputs"), *cl_s = ckpt_meta_get(p, "classes");
    uint64_t in_v = arch.inputs, cl_v = arch.classes;
    if (in_s && (!parse_meta_u64(in_s, CKPT_MAX_INPUTS, &in_v) || in_v < 1))
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata inputs is '%s', not a whole number in 1..%d", in_s, CKPT_MAX_INPUTS);
    if (cl_s && (!parse_meta_u64(cl_s, CKPT_MAX_CLASSES, &cl_v) || cl_v < 2))
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata classes is '%s', not a whole number in 2..%d", cl_s, CKPT_MAX_CLASSES);
    arch.inputs = (uint32_t)in_v, arch.classes = (uint32_t)cl_v;
    model_init init = MODEL_INIT_TORCH;
    if (init_s && !model_init_parse(init_s, &init))
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata init '%s' is not torch, kaiming or xavier", init_s);
    if (!model_arch_check(&arch, why, sizeof why)) return fail(CKPT_ERR_METADATA, err, errlen, "metadata: %s", why);
    if (batch < 1 || epochs < 1 || samples < 1 || save_every < 1 || epochs_done < 1)
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata hidden, batch, epochs, train_samples, save_every and epochs_done must be >= 1");
    if (epochs_done > epochs)
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata epochs_done %llu is more than epochs %llu", (unsigned long long)epochs_done,
                    (unsigned long long)epochs);
    if (batch > samples)
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata batch %llu is larger than train_samples %llu", (unsigned long long)batch,
                    (unsigned long long)samples);
    uint64_t want_spe = (samples + batch - 1) / batch, want_step;
    if (spe != want_spe)
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata steps_per_epoch %llu does not match train_samples/batch (%llu)",
                    (unsigned long long)spe, (unsigned long long)want_spe);
    if (__builtin_mul_overflow(epochs_done, spe, &want_step) || global_step != want_step)
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata global_step %llu is not epochs_done x steps_per_epoch", (unsigned long long)global_step);
    float lr, momentum;
    if (!parse_meta_f32(v[12], &lr) || !(lr > 0.0f) || lr > 1000.0f)
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata lr '%s' is not a number in (0, 1000]", v[12]);
    if (!parse_meta_f32(v[13], &momentum) || momentum < 0.0f || momentum >= 1.0f)
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata momentum '%s' is not a number in [0, 1)", v[13]);
    int sched = -1;
    for (int k = 0; k < 4; k++)
        if (!strcmp(v[14], schedule_names[k])) sched = k;
    if (sched < 0)
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata schedule is '%s', not constant, cosine, step or onecycle", v[14]);
    /* the optimizer: files written before it was chosen ran SGD, with momentum when > 0 */
    optim_config o = {momentum > 0 ? OPTIM_MOMENTUM : OPTIM_SGD, momentum, 0.0f, 0.9f, 0.999f, 1e-8f, 0.0f};
    float smoothing = 0.0f, dropout = 0.0f;
    const char *opt_s = ckpt_meta_get(p, "optimizer");
    if (opt_s && !optim_parse(opt_s, &o.kind))
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata optimizer '%s' is not sgd, momentum, nesterov, adam or adamw", opt_s);
    struct {
        const char *key;
        float *dst;
    } floats[] = {{"weight_decay", &o.weight_decay}, {"beta1", &o.beta1}, {"beta2", &o.beta2}, {"eps", &o.eps},
                  {"clip_grad_norm", &o.clip_grad_norm}, {"label_smoothing", &smoothing}, {"dropout", &dropout}};
    for (size_t k = 0; k < sizeof floats / sizeof *floats; k++) {
        const char *fs = ckpt_meta_get(p, floats[k].key);
        if (fs && !parse_meta_f32(fs, floats[k].dst))
            return fail(CKPT_ERR_METADATA, err, errlen, "metadata %s '%s' is not a number", floats[k].key, fs);
    }
    if (!optim_check(&o, why, sizeof why)) return fail(CKPT_ERR_METADATA, err, errlen, "metadata: %s", why);
    if (!(smoothing >= 0.0f && smoothing < 1.0f) || !(dropout >= 0.0f && dropout < 1.0f))
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata label_smoothing and dropout must be in [0, 1)");
    uint64_t warmup = 0;
    const char *warm_s = ckpt_meta_get(p, "warmup");
    if (warm_s && !parse_meta_u64(warm_s, 10000000, &warmup))
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata warmup is '%s', not a whole number in 0..10000000", warm_s);
    mlp_kernels kernels;
    if (!strcmp(v[16], "fused")) kernels = MLP_KERNELS_FUSED;
    else if (!strcmp(v[16], "reference")) kernels = MLP_KERNELS_REFERENCE;
    else return fail(CKPT_ERR_METADATA, err, errlen, "metadata kernels is '%s', not fused or reference", v[16]);
    uint64_t train_fp, model_fp;
    if (!parse_meta_hex64(v[6], &train_fp) || !parse_meta_hex64(v[7], &model_fp))
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata train_fingerprint and model_fingerprint must be 16 lowercase hex digits");

    /* exactly the optimizer's state slots, each [P] */
    uint32_t slots = optim_slots(o.kind);
    char names[OPTIM_MAX_SLOTS][48], list[120] = "";
    for (uint32_t k = 0; k < slots; k++) {
        snprintf(names[k], sizeof names[k], "optimizer.%s", optim_slot_name(o.kind, k));
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? " and " : "", names[k]);
    }
    for (uint32_t i = 0; i < p->ntensors; i++) {
        bool known = false;
        for (uint32_t k = 0; k < slots; k++) known |= !strcmp(p->tensors[i].name, names[k]);
        if (!known)
            return fail(CKPT_ERR_TENSOR, err, errlen, "unexpected tensor '%s' in a training-state file (%s keeps only %s)",
                        p->tensors[i].name, optim_name(o.kind), list);
    }
    size_t pc = model_param_count(&arch);
    for (uint32_t k = 0; k < slots; k++) {
        const ckpt_tensor *t = ckpt_find_tensor(p, names[k]);
        if (!t) {
            ckpt_state_free(out);
            return fail(CKPT_ERR_TENSOR, err, errlen, "missing tensor '%s'", names[k]);
        }
        if (t->rank != 1 || t->shape[0] != pc) {
            char shape[160];
            format_shape(shape, sizeof shape, t);
            ckpt_state_free(out);
            return fail(CKPT_ERR_SHAPE, err, errlen, "tensor '%s' has shape %s, expected [%zu] for hidden %s", names[k], shape, pc,
                        hidden_s);
        }
        out->slot[k] = malloc(pc * sizeof(float));
        if (!out->slot[k]) {
            ckpt_state_free(out);
            return fail(CKPT_ERR_NOMEM, err, errlen, "out of memory for %zu floats", pc);
        }
        ckpt_status st = copy_finite(t, out->slot[k], err, errlen);
        if (st) {
            ckpt_state_free(out);
            return st;
        }
    }
    out->cfg.arch = arch;
    out->cfg.init = init;
    out->cfg.batch = (uint32_t)batch;
    out->cfg.epochs = (uint32_t)epochs;
    out->cfg.lr = lr;
    out->cfg.momentum = momentum;
    out->cfg.optimizer = o.kind;
    out->cfg.weight_decay = o.weight_decay;
    out->cfg.beta1 = o.beta1;
    out->cfg.beta2 = o.beta2;
    out->cfg.eps = o.eps;
    out->cfg.clip_grad_norm = o.clip_grad_norm;
    out->cfg.warmup = (uint32_t)warmup;
    out->cfg.label_smoothing = smoothing;
    out->cfg.dropout = dropout;
    out->cfg.schedule = (mlp_schedule)sched;
    out->cfg.kernels = kernels;
    out->cfg.seed = seed;
    out->epochs_done = (uint32_t)epochs_done;
    out->global_step = global_step;
    out->steps_per_epoch = (uint32_t)spe;
    out->train_samples = (uint32_t)samples;
    out->save_every = (uint32_t)save_every;
    out->train_fingerprint = train_fp;
    out->model_fingerprint = model_fp;
    /* the live edits in effect (core/live.h); a state written before they existed has none:
     * lr_scale 1 and the config's momentum, beta1 for the Adam family (mlp_live_initial). The
     * checks are done here with optim_check, so that this parser links without the engine. */
    bool adam = o.kind >= OPTIM_ADAM;
    out->live.lr_scale = 1.0;
    out->live.momentum = adam ? o.beta1 : momentum;
    const char *scale_s = ckpt_meta_get(p, "edit_lr_scale"), *mom_s = ckpt_meta_get(p, "edit_momentum");
    if ((scale_s && !parse_meta_f64(scale_s, &out->live.lr_scale)) || (mom_s && !parse_meta_f32(mom_s, &out->live.momentum))) {
        ckpt_state_free(out);
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata edit_lr_scale '%s' and edit_momentum '%s' must be numbers",
                    scale_s ? scale_s : "", mom_s ? mom_s : "");
    }
    if (!(out->live.lr_scale > 0) || !isfinite(out->live.lr_scale)) {
        ckpt_state_free(out);
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata edit_lr_scale must be a finite number > 0 (got %s)", scale_s);
    }
    optim_config edited = o;
    *(adam ? &edited.beta1 : &edited.momentum) = out->live.momentum;
    if (!optim_check(&edited, why, sizeof why)) {
        ckpt_state_free(out);
        return fail(CKPT_ERR_METADATA, err, errlen, "metadata edit_momentum: %s", why);
    }
    return CKPT_OK;
}

void ckpt_state_free(ckpt_state *s) {
    if (!s) return;
    for (int k = 0; k < OPTIM_MAX_SLOTS; k++) {
        free(s->slot[k]);
        s->slot[k] = NULL;
    }
}
