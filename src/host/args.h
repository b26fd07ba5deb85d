/* Strict command-line parsing: every malformed value is a one-line usage error (exit 2). */
#ifndef WGTRAIN_ARGS_H
#define WGTRAIN_ARGS_H
#include <stdbool.h>
#include <stdint.h>

#define EXIT_USAGE 2

/* Prints "wgtrain: <message>" and a hint to stderr; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The engine's validation messages start with the name of the config field at fault, as
 * mlp_config and the server's JSON name it ("label_smoothing must be in [0, 1) (got 2)"): the
 * engine knows no flags. This prints such a message as the command line's usage error, naming
 * the flag ("--label-smoothing must be ..."); returns EXIT_USAGE. */
int config_usage_error(const char *engine_message);
/* Prints "wgtrain: <message>" to stderr; returns 1. */
int runtime_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse whole values; false (after printing the usage error) on anything malformed. */
bool parse_u32(const char *flag, const char *s, uint32_t min, uint32_t max, uint32_t *out);
bool parse_u64(const char *flag, const char *s, uint64_t *out);
bool parse_float(const char *flag, const char *s, float *out);

/* Splits "--flag=value" or takes the next argument as the value. Returns the value or NULL
 * (after a usage error) when it is missing. *i is advanced past what was consumed. */
const char *flag_value(int argc, char **argv, int *i, const char *flag);
/* True when argv[i] is flag itself or "flag=...". */
bool flag_is(const char *arg, const char *flag);
#endif
