/* The strict JSON layer on cJSON (src/util/json.c): what RFC 8259 refuses and cJSON alone
 * would accept, the byte and top-level member a fault is reported at, exact 64-bit integers,
 * and the writer's escaping and number formatting. */
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

static const json_rules strict = {16, false, false, false};

static bool parses(const char *text, size_t len) {
    json_error e;
    cJSON *v = json_parse_strict(text, len, &strict, &e);
    cJSON_Delete(v);
    return v != NULL;
}

static void test_grammar(void) {
    const char *good[] = {"{}", "[]", "0", "-0.5e+3", "\"a\\u00e9\\ud83d\\ude00\"", " {\"a\": [1, 2, {\"b\": null}]} ",
                          "true", "false", "null", "\"\xc3\xa9\"", "1E2", "{\"a\":1,\"b\":2}", "{\"a\":{\"a\":1}}",
                          "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) CHECK(parses(good[i], strlen(good[i])), "should parse: %s", good[i]);
    /* each of these cJSON alone accepts or reads wrongly, or is not JSON at all */
    const char *bad[] = {"", " ", "NaN", "nan", "Infinity", "-Infinity", "{\"a\":NaN}", "01", "1.", ".5", "+1",
                         "1e", "1e999", "-1e400", "0x10", "{\"a\":1,}", "[1,]", "{a:1}", "{'a':1}",
                         "{\"a\":1} x", "{\"a\":1}{}", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00x\"", "\"\x01\"",
                         "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"abc", "\"\\x\"", "tru", "nul",
                         "{\"a\":1,\"a\":2}", "\xef\xbb\xbf{}", "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
                         "{\x01\"a\":1}", "\"x\ty\"", "[1 2]", "{\"a\" 1}", "[1}", "{\"a\":[{\"b\":1,\"b\":2}]}",
                         "12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(!parses(bad[i], strlen(bad[i])), "should not parse: %s", bad[i]);
    /* a NUL byte ends nothing: the length does */
    CHECK(!parses("{\"a\":1}\0", 8), "a NUL byte after the value");
    CHECK(!parses("\"a\0b\"", 5), "a raw NUL in a string");
}

static void test_faults(void) {
    json_error e;
    cJSON *v = json_parse_strict("{\"a\":1,\"a\":2}", 13, &strict, &e);
    CHECK(!v && e.fault == JSON_FAULT_DUPLICATE && strstr(e.reason, "duplicate key 'a'") && !strcmp(e.member, "a"),
          "duplicate: %s (member %s)", e.reason, e.member);
    v = json_parse_strict("{\"a\":{\"b\":[{\"c\":1,\"c\":2}]}}", 27, &strict, &e);
    CHECK(!v && e.fault == JSON_FAULT_DUPLICATE && !strcmp(e.member, "a"), "nested duplicate names its member: %s", e.member);
    v = json_parse_strict("{\"lr\": NaN}", 11, &strict, &e);
    CHECK(!v && !strcmp(e.member, "lr") && strstr(e.reason, "NaN and Infinity") && e.offset == 7, "NaN: %s at %zu (member %s)",
          e.reason, e.offset, e.member);
    v = json_parse_strict("{\"a\":{\"b\":[1,}}", 15, &strict, &e);
    CHECK(!v && !strcmp(e.member, "a") && e.fault == JSON_FAULT_SYNTAX, "a structural fault names the member: %s (member %s)",
          e.reason, e.member);
    v = json_parse_strict("{\"a\":1,\"b\" 2}", 13, &strict, &e);
    CHECK(!v && !strcmp(e.member, ""), "a fault between members names none (member %s, %s)", e.member, e.reason);
    v = json_parse_strict("{\"a\":1} x", 9, &strict, &e);
    CHECK(!v && !strcmp(e.member, "") && strstr(e.reason, "after the JSON value") && e.offset == 8, "trailing: %s at %zu",
          e.reason, e.offset);
    v = json_parse_strict("{\"a\":01}", 8, &strict, &e);
    CHECK(!v && strstr(e.reason, "leading zero") && e.offset == 5, "leading zero: %s at %zu", e.reason, e.offset);
    v = json_parse_strict("{\"seed\":1e999}", 14, &strict, &e);
    CHECK(!v && strstr(e.reason, "out of range") && !strcmp(e.member, "seed"), "overflow: %s (member %s)", e.reason, e.member);
    char *deep = malloc(200001);
    memset(deep, '[', 200000);
    v = json_parse_strict(deep, 200000, &(json_rules){64, false, false, false}, &e);
    CHECK(!v && e.fault == JSON_FAULT_DEPTH && e.offset == 64 && strstr(e.reason, "nested too deeply"), "depth: %s at %zu", e.reason,
          e.offset);
    free(deep);
    v = json_parse_strict("{\"a\":", 5, &strict, &e);
    CHECK(!v && strstr(e.reason, "end of input") && e.offset == 5, "truncated: %s at %zu", e.reason, e.offset);

    /* allowed on request: duplicates (a schema names them itself) and \u0000 (reported) */
    json_rules lax = {64, true, true, true};
    v = json_parse_strict("{\"a\":\"x\\u0000y\",\"a\":2}", 22, &lax, &e);
    CHECK(v && e.nul_at == 7, "lax: NUL at %zu", e.nul_at);
    cJSON_Delete(v);
}

static void test_integers(void) {
    json_rules r = {8, false, false, true};
    json_error e;
    const char *t = "[\"1\",18446744073709551615,18446744073709551616,9007199254740993,1.0,1e0,-1,0,{\"x\":[7]}]";
    cJSON *v = json_parse_strict(t, strlen(t), &r, &e);
    CHECK(v && cJSON_GetArraySize(v) == 9, "array of 9: %s", e.reason);
    unsigned long long u = 0;
    CHECK(json_get_u64(cJSON_GetArrayItem(v, 1), &u) && u == 18446744073709551615ull, "2^64-1 exactly: %llu", u);
    CHECK(!json_get_u64(cJSON_GetArrayItem(v, 2), &u), "2^64 refused");
    CHECK(json_get_u64(cJSON_GetArrayItem(v, 3), &u) && u == 9007199254740993ull, "2^53+1 exactly: %llu", u);
    CHECK(!json_get_u64(cJSON_GetArrayItem(v, 4), &u) && !json_get_u64(cJSON_GetArrayItem(v, 5), &u) &&
              !json_get_u64(cJSON_GetArrayItem(v, 6), &u) && !json_get_u64(cJSON_GetArrayItem(v, 0), &u),
          "fraction, exponent, sign and strings refused");
    CHECK(json_get_u64(cJSON_GetArrayItem(v, 7), &u) && u == 0, "zero");
    CHECK(json_get_u64(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(v, 8), "x"), 0), &u) && u == 7,
          "nested numbers keep their order");
    cJSON_Delete(v);
}

static void test_writer(void) {
    /* an adapter name or path can hold anything: quotes, backslashes, control characters */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", "GPU \"x\"\\y\n\t\x01\x1f end");
    json_add_number(o, "loss", (double)0.2394f, 7);
    json_add_number(o, "nan", NAN, 7);
    json_add_number(o, "inf", -INFINITY, 7);
    json_add_number(o, "neg0", -0.0, 7);
    json_add_integer(o, "seed", 9007199254740991ull);
    json_add_integer(o, "epoch", 12);
    char *s = json_print(o);
    const char *want = "{\"name\":\"GPU \\\"x\\\"\\\\y\\n\\t\\u0001\\u001f end\",\"loss\":0.2394,\"nan\":null,\"inf\":null,"
                       "\"neg0\":0,\"seed\":9007199254740991,\"epoch\":12}";
    CHECK(s && !strcmp(s, want), "printed: %s", s ? s : "(null)");
    /* and it reads back as the same string through the strict parser */
    json_error e;
    cJSON *back = s ? json_parse_strict(s, strlen(s), &strict, &e) : NULL;
    CHECK(back && !strcmp(cJSON_GetObjectItem(back, "name")->valuestring, "GPU \"x\"\\y\n\t\x01\x1f end"), "round trip");
    cJSON_Delete(back);
    cJSON_free(s);
    cJSON_Delete(o);
}

int main(void) {
    test_grammar();
    test_faults();
    test_integers();
    test_writer();
    return check_exit("test_json");
}
