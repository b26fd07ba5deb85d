#include "host/args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("wgtrain: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see 'wgtrain --help')\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

int config_usage_error(const char *engine_message) {
    size_t n = strspn(engine_message, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (n == 0 || engine_message[n] != ' ') return usage_error("%s", engine_message);
    char flag[64];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof flag; i++) flag[k++] = engine_message[i] == '_' ? '-' : engine_message[i];
    flag[k] = 0;
    return usage_error("--%s%s", flag, engine_message + n);
}

int runtime_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("wgtrain: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

bool flag_is(const char *arg, const char *flag) {
    size_t n = strlen(flag);
    return !strncmp(arg, flag, n) && (arg[n] == 0 || arg[n] == '=');
}

const char *flag_value(int argc, char **argv, int *i, const char *flag) {
    const char *eq = strchr(argv[*i], '=');
    if (eq) return eq + 1;
    if (*i + 1 >= argc) {
        usage_error("%s needs a value", flag);
        return NULL;
    }
    return argv[++*i];
}

bool parse_u64(const char *flag, const char *s, uint64_t *out) {
    if (!*s || *s == '-' || *s == '+' || *s == ' ') {
        usage_error("%s: '%s' is not a whole number", flag, s);
        return false;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) {
        usage_error("%s: '%s' is not a whole number%s", flag, s, errno == ERANGE ? " in range" : "");
        return false;
    }
    *out = v;
    return true;
}

bool parse_u32(const char *flag, const char *s, uint32_t min, uint32_t max, uint32_t *out) {
    uint64_t v;
    if (!parse_u64(flag, s, &v)) return false;
    if (v < min || v > max) {
        usage_error("%s must be between %u and %u (got %s)", flag, min, max, s);
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

bool parse_float(const char *flag, const char *s, float *out) {
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || end == s || errno == ERANGE) {
        usage_error("%s: '%s' is not a number", flag, s);
        return false;
    }
    if (!isfinite(v)) {
        usage_error("%s must be finite (got %s)", flag, s);
        return false;
    }
    *out = (float)v;
    return true;
}
