/* Strict JSON on cJSON. cJSON (Debian's libcjson; the browser build compiles the same source)
 * builds the tree and writes every JSON this program prints. It is lenient where RFC 8259 is
 * not: it accepts leading zeros and "1.", raw control characters and invalid UTF-8 in strings,
 * a byte order mark, control bytes as whitespace, numbers that overflow to infinity, duplicate
 * keys, and it truncates a string at \u0000. Everything read here is untrusted, so
 * json_parse_strict first runs a lexical pass that enforces those rules (with a one-line reason
 * and the byte at fault) and bounds the nesting depth, then lets cJSON parse, then checks the
 * tree for duplicate keys. */
#ifndef WGTRAIN_JSON_H
#define WGTRAIN_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

typedef struct json_rules {
    int max_depth;          /* containers nested deeper than this are refused */
    bool allow_duplicates;  /* leave duplicate keys to the caller (its own schema messages) */
    bool allow_nul;         /* accept \u0000 (cJSON cuts the string there): nul_at says where */
    bool number_text;       /* each number item gets its source text in valuestring, for
                               exact 64-bit integers (a double holds 53 bits) */
} json_rules;

typedef enum json_fault {
    JSON_FAULT_NONE = 0,
    JSON_FAULT_SYNTAX,    /* not strict JSON */
    JSON_FAULT_DEPTH,     /* nested deeper than max_depth */
    JSON_FAULT_DUPLICATE, /* a key repeated in one object */
    JSON_FAULT_NOMEM,
} json_fault;

#define JSON_NO_OFFSET ((size_t)-1)

typedef struct json_error {
    json_fault fault;
    size_t offset;     /* byte at fault, JSON_NO_OFFSET when not known */
    char reason[128];  /* e.g. "leading zero in a number" */
    char member[64];   /* key of the top-level object's member whose value holds the fault
                          (or the repeated key itself, at the top level), else "" */
    size_t nul_at;     /* with allow_nul, on success too: the first \u0000, or JSON_NO_OFFSET */
} json_error;

/* Parses text[0..len) (not necessarily NUL-terminated) as exactly one JSON value. Returns the
 * tree (cJSON_Delete it) or NULL with err filled in. */
cJSON *json_parse_strict(const char *text, size_t len, const json_rules *rules, json_error *err);

/* "a number", "a string", "an object", ...: for messages about a value of the wrong type. */
const char *json_type_name(const cJSON *v);

/* A number item as an exact unsigned 64-bit integer: digits only in its source text (no sign,
 * fraction or exponent) and below 2^64. Needs rules.number_text. */
bool json_get_u64(const cJSON *item, unsigned long long *out);

/* A number rounded to `digits` significant digits (as "%.*g" prints it), so that cJSON, which
 * prints the shortest text that reads back as the same double, writes 0.2394 and not
 * 0.23939999938011169 for a float widened to double. Not finite: JSON null. */
cJSON *json_number(double v, int digits);
/* A whole number, exactly: cJSON prints numbers with 15 significant digits when that reads
 * back within an epsilon, which would turn a 16-digit seed into 9.00719925474099e+15. */
cJSON *json_integer(unsigned long long v);
bool json_add_integer(cJSON *obj, const char *key, unsigned long long v);
/* cJSON_AddItemToObject with json_number; false when out of memory. */
bool json_add_number(cJSON *obj, const char *key, double v, int digits);
/* A number rounded to `decimals` places (as "%.*f"), printed in its shortest form. */
cJSON *json_fixed(double v, int decimals);
bool json_add_fixed(cJSON *obj, const char *key, double v, int decimals);
/* A string item. Invalid UTF-8 bytes become U+FFFD, so that what is printed is valid JSON
 * whatever the input (cJSON copies bytes >= 0x80 as they are; it escapes '"', '\\' and
 * control characters). json_add_string cleans the key the same way. */
cJSON *json_string(const char *s);
bool json_add_string(cJSON *obj, const char *key, const char *s);
/* Adds item under key (cleaned as above); deletes item and returns false on failure. */
bool json_add(cJSON *obj, const char *key, cJSON *item);
/* cJSON_PrintUnformatted into a malloc'd string (free with cJSON_free), NULL when out of
 * memory. A NULL item (an earlier allocation failed) gives NULL too. */
char *json_print(const cJSON *item);

#endif
