/* The dashboard API's input rules, as pure functions (unit-tested in tests/test_server.c):
 * request-body validation and query values. Portable (no threads, files, sockets or clocks):
 * the server (src/server) and the browser host (src/web) apply exactly the same rules. */
#ifndef WGTRAIN_HOST_API_H
#define WGTRAIN_HOST_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mlp.h"

#define API_BODY_MAX (64 * 1024)  /* request bodies above this: 413 */
#define API_SEED_MAX 9007199254740991ull /* 2^53 - 1: exact in a JSON (double) number */
#define API_EPOCHS_MAX 1000
#define API_LR_MAX 10.0
#define API_JSON_MAX_DEPTH 16    /* containers nested in a request body */
#define API_INDICES_MAX 100       /* test digits per /api/digits or /api/predict request */

typedef struct api_limits {
    uint32_t batch_max;  /* min(MLP_MAX_BATCH, training images) */
    uint32_t hidden_max; /* MLP_MAX_HIDDEN */
    uint32_t test_count; /* test images: indices are below this */
    uint32_t rows, cols; /* the data's image shape: a predict request's pixels are rows * cols */
} api_limits;

/* What the dashboard's train form sets; everything else is the engine's default, as for
 * `wgtrain train` without flags. */
typedef struct api_train_params {
    uint32_t epochs, batch;
    model_arch arch;        /* hidden widths and activation; inputs and classes as the engine's */
    optim_kind optimizer;
    double lr, momentum, weight_decay;
    uint64_t seed;
    bool kernel_times; /* time each kernel on one step per report (host/kernel_times.h); default on */
} api_train_params;

/* The engine's defaults (mlp_config_default), batch capped by the limits. */
api_train_params api_train_defaults(const api_limits *lim);
/* The engine's configuration for a run: mlp_config_default() with the form's fields set. */
mlp_config api_train_config(const api_train_params *p);
/* "256,128" */
void api_hidden_text(const api_train_params *p, char *buf, size_t cap);
/* The limits as JSON: {"epochs":{"min":1,"max":1000,"default":12,"integer":true},...}. */
struct cJSON;
struct cJSON *api_limits_json(const api_limits *lim);

/* A parse failure: the field at fault ("" for the body as a whole) and a one-line message. */
typedef struct api_error {
    char field[64];
    char message[256];
} api_error;

/* POST /api/train: a JSON object whose keys are a subset of epochs, batch, lr, hidden,
 * activation, optimizer, weight_decay, momentum, seed, kernel_times (missing keys take the defaults); an
 * empty body is {}. hidden is a width (128) or a list ("256,128"), checked as the CLI's
 * --hidden; activation and optimizer are names as the CLI's; weight_decay is in [0, 1] and
 * defaults, as the CLI's, to 0.01 for adamw and 0 otherwise; kernel_times is true (the default)
 * or false. */
bool api_parse_train(const char *body, size_t len, const api_limits *lim, api_train_params *out, api_error *e);
/* POST /api/train/edit: a live edit of the running job (core/live.h), {"lr": X} and/or
 * {"momentum": M}: lr in (0, API_LR_MAX] as the train form's, momentum in [0, 1); run (may be
 * NULL) is the job's config, whose optimizer's rules apply too (sgd has no momentum to edit,
 * nesterov needs momentum > 0). */
bool api_parse_edit(const char *body, size_t len, const mlp_config *run, mlp_edit *out, api_error *e);
/* POST /api/pause, /api/resume, /api/stop: an empty body or {}. */
bool api_parse_empty(const char *body, size_t len, api_error *e);

/* POST /api/predict: exactly one of
 *   {"pixels": [rows*cols integers 0..255]}   one image of the data's shape, row-major
 *                                             (MNIST: 28x28, white ink on black)
 *   {"indices": [test indices]}          1..API_INDICES_MAX test images
 * On success *pixels (rows*cols bytes) or *indices (malloc'd) is set; the caller frees it. */
typedef struct api_predict_input {
    uint8_t *pixels;   /* rows * cols bytes when given as pixels */
    uint32_t *indices; /* n indices when given as indices */
    uint32_t n;
} api_predict_input;
bool api_parse_predict(const char *body, size_t len, const api_limits *lim, api_predict_input *out, api_error *e);
void api_predict_input_free(api_predict_input *in);

/* A decimal integer in [min, max] with nothing else (no sign, spaces or leading zeros). */
bool api_parse_uint(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* "1,2,3": 1..max_count integers, each < limit. */
bool api_parse_index_list(const char *s, uint32_t max_count, uint32_t limit, uint32_t *out, uint32_t *n);

/* Content-Type of a JSON endpoint: application/json, optionally with parameters. */
bool api_content_type_is_json(const char *ct);

#endif
