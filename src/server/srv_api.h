/* The dashboard API's input rules, as pure functions (unit-tested in tests/test_server.c):
 * request-body validation, query values, and the Host/Origin checks against DNS rebinding. */
#ifndef WGTRAIN_SRV_API_H
#define WGTRAIN_SRV_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_BODY_MAX (64 * 1024)  /* request bodies above this: 413 */
#define SRV_SEED_MAX 9007199254740991ull /* 2^53 - 1: exact in a JSON (double) number */
#define SRV_EPOCHS_MAX 1000
#define SRV_LR_MAX 10.0
#define SRV_JSON_MAX_DEPTH 16    /* containers nested in a request body */
#define SRV_INDICES_MAX 100       /* test digits per /api/digits or /api/predict request */

typedef struct srv_limits {
    uint32_t batch_max;  /* min(MLP_MAX_BATCH, training images) */
    uint32_t hidden_max; /* MLP_MAX_HIDDEN */
    uint32_t test_count; /* test images: indices are below this */
} srv_limits;

typedef struct srv_train_params {
    uint32_t epochs, batch, hidden;
    double lr, momentum;
    uint64_t seed;
} srv_train_params;

/* The engine's defaults (mlp_config_default), batch capped by the limits. */
srv_train_params srv_train_defaults(const srv_limits *lim);
/* The limits as JSON: {"epochs":{"min":1,"max":1000,"default":12,"integer":true},...}. */
struct cJSON;
struct cJSON *srv_limits_json(const srv_limits *lim);

/* A parse failure: the field at fault ("" for the body as a whole) and a one-line message. */
typedef struct srv_error {
    char field[64];
    char message[256];
} srv_error;

/* POST /api/train: a JSON object whose keys are a subset of epochs, batch, lr, hidden,
 * momentum, seed (missing keys take the defaults); an empty body is {}. */
bool srv_parse_train(const char *body, size_t len, const srv_limits *lim, srv_train_params *out, srv_error *e);
/* POST /api/pause, /api/resume, /api/stop: an empty body or {}. */
bool srv_parse_empty(const char *body, size_t len, srv_error *e);

/* POST /api/predict: exactly one of
 *   {"pixels": [784 integers 0..255]}   one 28x28 image, row-major, white ink on black
 *   {"indices": [test indices]}          1..SRV_INDICES_MAX test images
 * On success *pixels (784 bytes) or *indices (malloc'd) is set; the caller frees it. */
typedef struct srv_predict_input {
    uint8_t *pixels;   /* n * 784 bytes when given as pixels */
    uint32_t *indices; /* n indices when given as indices */
    uint32_t n;
} srv_predict_input;
bool srv_parse_predict(const char *body, size_t len, const srv_limits *lim, srv_predict_input *out, srv_error *e);
void srv_predict_input_free(srv_predict_input *in);

/* A decimal integer in [min, max] with nothing else (no sign, spaces or leading zeros). */
bool srv_parse_uint(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* "1,2,3": 1..max_count integers, each < limit. */
bool srv_parse_index_list(const char *s, uint32_t max_count, uint32_t limit, uint32_t *out, uint32_t *n);

/* Content-Type of a JSON endpoint: application/json, optionally with parameters. */
bool srv_content_type_is_json(const char *ct);

/* Which Host headers (and Origins) this server answers to. A bound name or address is
 * accepted with the bound port; a loopback bind also accepts localhost, 127.0.0.1 and [::1];
 * a wildcard bind (0.0.0.0, ::) accepts IP literals and localhost, never a DNS name, since
 * DNS rebinding needs a name that the attacker controls. */
typedef struct srv_host_rules {
    char host[256]; /* as bound, lower case, IPv6 without brackets */
    uint16_t port;
    bool loopback, wildcard;
} srv_host_rules;

void srv_host_rules_init(srv_host_rules *r, const char *host, uint16_t port);
bool srv_host_allowed(const srv_host_rules *r, const char *host_header);
/* No Origin header is fine (non-browser clients); otherwise it must be http://<allowed host>. */
bool srv_origin_allowed(const srv_host_rules *r, const char *origin);
/* The authority to print in URLs: host:port, with brackets for IPv6. */
void srv_host_authority(const srv_host_rules *r, char *out, size_t n);

#endif
