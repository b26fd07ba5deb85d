/* The browser host: the engine compiled to wasm32, driven by a dedicated Worker
 * (web/engine_worker.js) over the browser's WebGPU (web/webgpu_bridge.js implements webgpu.h).
 *
 * It is to the page what src/server/srv_worker.c is to `wgtrain serve`: it owns the GPU context
 * and the trainer, runs one training run at a time, and publishes the same dashboard events
 * (srv_events.h), so the page draws both trainers with the same code. Like every host it owns
 * the clock and the I/O, here through imports from the Worker:
 *
 *   host_event(name, json, len)   publish one event to the page (never blocks)
 *   host_poll(block)              JSPI-suspending: give the Worker's event loop a turn (block=1:
 *                                 wait for the next message); returns the requests queued
 *   host_request(...)             pops the next queued request; 0 when none
 *   host_reply(id, status, j, n)  answers a request with JSON: the answer (200) or an error
 *   host_reply_bytes(id, p, n)    answers WEB_SAVE_MODEL with the model file's bytes
 *   host_now()                    milliseconds, for the epoch times the page shows
 *
 * Blocking style is kept: the engine waits on the GPU through wgpuInstanceWaitAny, which the
 * bridge wraps in WebAssembly.Suspending. Only one top-level export that may suspend runs at a
 * time (the Worker queues them); requests that arrive during a run are answered from inside
 * the run, at each progress report, as the server's worker does. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/ckpt.h"
#include "core/mlp.h"
#include "core/selfcheck.h"
#include "data/idx.h"
#include "gpu/embedded.h"
#include "gpu/gpu.h"
#include "host/api.h"
#include "host/edit.h"
#include "host/events.h"
#include "host/health_json.h"
#include "host/kernel_times.h"
#include "host/buf.h"
#include "host/trainer.h"

#define WEB_EXPORT(name) __attribute__((export_name(#name)))
#define WEB_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

/* what the page asks for; the Worker fills it in host_request() */
enum web_op {
    WEB_PREDICT_PIXELS = 1, /* n bytes in pixels: images of the data's rows x cols */
    WEB_PREDICT_INDICES,    /* n test indices */
    WEB_CONFUSION_CELL,     /* label, pred, limit */
    WEB_DIGITS,             /* n test indices */
    WEB_SAVE_MODEL,         /* the current model as safetensors bytes */
    WEB_LOAD_MODEL,         /* bytes, len: a safetensors model to load (not during a run) */
    WEB_EDIT,               /* bytes, len: POST /api/train/edit's JSON body, a live edit of the run */
};

/* bytes of pixels a predict request carries: the largest image (IDX_MAX_PIXELS), or 8 MNIST ones */
#define WEB_PIXELS_BYTES IDX_MAX_PIXELS
#define WEB_MAX_PIXELS_IMAGES 8
/* steps between progress reports: a browser's software adapter runs a few steps a second, and
 * the page should move more often than the CLI's every 50 */
#define WEB_REPORT_EVERY 10

typedef struct web_request {
    uint32_t head[6]; /* op, id, label, pred, limit, n */
    uint32_t indices[API_INDICES_MAX];
    uint8_t pixels[WEB_PIXELS_BYTES];
    uint8_t *bytes; /* WEB_LOAD_MODEL: malloc'd by the Worker, freed here */
    uint32_t len;
} web_request;
#define R_OP(r) ((r)->head[0])
#define R_ID(r) ((r)->head[1])
#define R_LABEL(r) ((r)->head[2])
#define R_PRED(r) ((r)->head[3])
#define R_LIMIT(r) ((r)->head[4])
#define R_N(r) ((r)->head[5])

WEB_IMPORT(host_event) void host_event(const char *name, const char *json, size_t len);
WEB_IMPORT(host_poll) int host_poll(int block);
/* Pops the next request: head gets op, id, label, pred, limit, n; indices (up to
 * API_INDICES_MAX), pixels (up to WEB_MAX_PIXELS_IMAGES images) and *bytes, *len (a file)
 * as the op needs. Separate pointers, so that no struct layout is shared with JavaScript. */
WEB_IMPORT(host_request) int host_request(uint32_t *head, uint32_t *indices, uint8_t *pixels, uint8_t **bytes, uint32_t *len);
WEB_IMPORT(host_reply) void host_reply(uint32_t id, int status, const char *json, size_t len);
WEB_IMPORT(host_reply_bytes) void host_reply_bytes(uint32_t id, const uint8_t *data, size_t len);
WEB_IMPORT(host_now) double host_now(void);

typedef enum web_status { WEB_IDLE, WEB_STARTING, WEB_RUNNING, WEB_PAUSED, WEB_STOPPING, WEB_DONE, WEB_STOPPED, WEB_ERROR } web_status;
static const char *const status_names[] = {"idle", "starting", "running", "paused", "stopping", "done", "stopped", "error"};

typedef struct web_set {
    uint8_t *images, *labels; /* malloc'd copies */
    uint32_t count, rows, cols, classes; /* classes: largest label + 1 */
} web_set;

static struct {
    gpu_context *gpu;
    bool cpu; /* the CPU engine (wg_open_cpu): serial, simd128; gpu stays NULL */
    char error[1024];
    web_set train, test;
    api_shape shape; /* the training set's: the inputs and classes of the models trained here */
    api_limits limits;

    host_trainer *tr;
    float *params;
    size_t param_cap;
    bool has_model;
    uint32_t model_epoch, model_step;
    double model_accuracy; /* test accuracy of the current model, < 0 when unknown */
    uint32_t model_train_samples;

    web_status status;
    char message[512];
    bool pause_requested, stop_requested, in_run;
    uint32_t run_id, steps_per_epoch, train_count;
    api_train_params run;
    double epoch_start, paused_ms;

    api_point *points;
    size_t npoints, cap_points;
    api_epoch *epochs;
    size_t nepochs, cap_epochs;
    uint32_t *confusion;       /* confusion_classes x confusion_classes */
    uint32_t confusion_classes;
    uint32_t confusion_epoch;
    uint8_t *test_pred;
    float *test_conf;
    uint64_t preview_rng;
    cJSON *kernel_times; /* the last "kernel_times" payload, for the state (NULL: the idle one) */

    host_buf result; /* the JSON answer of the last export that returns one */
    cJSON *edits;    /* the run's applied live edits (host/edit.h events), for the state */
} W;

static void set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(W.error, sizeof W.error, fmt, ap);
    va_end(ap);
}

static void emit(const char *name, host_buf *b) {
    if (!b->oom && b->data) host_event(name, b->data, b->len);
    host_buf_free(b);
}

static void reply_json(uint32_t id, host_buf *b) {
    if (b->oom || !b->data) host_reply(id, 500, "{\"error\":\"out of memory\"}", 25);
    else host_reply(id, 200, b->data, b->len);
    host_buf_free(b);
}

static void reply_error(uint32_t id, int status, const char *message) {
    host_buf b = {0};
    host_buf_json(&b, api_json_error(message, NULL, (unsigned)status));
    if (!b.oom && b.data) host_reply(id, status, b.data, b.len);
    host_buf_free(&b);
}

/* ---- state as JSON, in the server's shapes (srv_state.c) ---- */

static cJSON *json_status(void) {
    return api_json_status_of(status_names[W.status], W.message, W.pause_requested && W.status == WEB_RUNNING, W.run_id,
                              W.has_model, W.model_epoch, W.model_step, W.nepochs);
}

static void set_status(web_status st, const char *message) {
    W.status = st;
    if (message != W.message) snprintf(W.message, sizeof W.message, "%s", message ? message : "");
    host_buf b = {0};
    host_buf_json(&b, json_status());
    emit("status", &b);
}

static cJSON *json_run(void) { return api_json_run_of(W.run_id, &W.run, W.steps_per_epoch, W.train_count, W.test.count); }

/* ---- exports: set-up ---- */

WEB_EXPORT(wg_error) const char *wg_error(void) { return W.error; }
WEB_EXPORT(wg_result) const char *wg_result(void) { return W.result.data ? W.result.data : ""; }
WEB_EXPORT(wg_result_len) size_t wg_result_len(void) { return W.result.len; }

/* Kernel sources set from the page (wgtrain.trainer.setKernel(name, wgsl) on the console),
 * the browser's --kernels-dir: they replace the embedded file of the same name. */
#define WEB_MAX_OVERRIDES 16
static struct {
    char name[64];
    char *source;
} overrides[WEB_MAX_OVERRIDES];

static const char *kernel_source(void *user, const char *name) {
    (void)user;
    for (int i = 0; i < WEB_MAX_OVERRIDES; i++)
        if (overrides[i].source && !strcmp(overrides[i].name, name)) return overrides[i].source;
    const embedded_file *f = embedded_find(kernels_files, name);
    return f ? f->data : NULL;
}

/* Replaces (or, with source NULL, restores) one kernel's WGSL; the current model is dropped
 * and every pipeline compiles again from the new source. 0 on success. */
WEB_EXPORT(wg_set_kernel) int wg_set_kernel(const char *name, const char *source) {
    if (W.in_run) return set_error("a run is in progress: stop it before changing a kernel"), -1;
    if (!embedded_find(kernels_files, name)) return set_error("there is no kernel named %s", name), -1;
    int slot = -1;
    for (int i = 0; i < WEB_MAX_OVERRIDES; i++)
        if ((overrides[i].source && !strcmp(overrides[i].name, name)) || (slot < 0 && !overrides[i].source)) slot = i;
    if (slot < 0) return set_error("too many kernels replaced"), -1;
    char *copy = source ? strdup(source) : NULL;
    if (source && !copy) return set_error("out of memory"), -1;
    free(overrides[slot].source);
    snprintf(overrides[slot].name, sizeof overrides[slot].name, "%s", name);
    overrides[slot].source = copy;
    host_trainer_destroy(W.tr);
    W.tr = NULL;
    W.has_model = false;
    if (W.gpu) gpu_kernels_forget(W.gpu);
    return 0;
}

/* Closes the device (after it was lost, so that wg_open can start again on a new one). */
WEB_EXPORT(wg_close) void wg_close(void) {
    host_trainer_destroy(W.tr);
    W.tr = NULL;
    W.has_model = false;
    gpu_context_destroy(W.gpu);
    W.gpu = NULL;
}

/* The engine the trainers run on: the GPU (wg_open) or the CPU engine (wg_open_cpu). */
static host_device engine(void) {
    host_device d = {W.cpu ? HOST_ENGINE_CPU : HOST_ENGINE_GPU, W.gpu, NULL};
    return d;
}
static bool engine_open(void) { return W.gpu || W.cpu; }

/* Trains on the CPU engine instead of WebGPU (no navigator.gpu, no adapter, a software adapter,
 * or ?device=cpu): serially, with the simd128 kernels. 0 on success. */
WEB_EXPORT(wg_open_cpu) int wg_open_cpu(void) {
    if (W.gpu) return set_error("WebGPU is open: the engine is chosen once"), -1;
    W.cpu = true;
    W.preview_rng = 0x243F6A8885A308D3ull ^ (uint64_t)host_now();
    W.model_accuracy = -1;
    return 0;
}

/* Opens the browser's adapter and device (through the bridge). 0 on success. */
WEB_EXPORT(wg_open) int wg_open(void) {
    if (W.gpu) return 0;
    if (W.cpu) return set_error("the CPU engine is open: the engine is chosen once"), -1;
    gpu_context_desc d = {0};
    d.timeout_ms = 60000;
    d.loader = kernel_source;
    d.timestamps = true; /* the Kernel times panel, where the browser offers timestamp-query */
    char err[1024];
    if (gpu_context_create(&d, &W.gpu, err, sizeof err) != GPU_OK) {
        set_error("%s", err);
        return -1;
    }
    W.preview_rng = 0x243F6A8885A308D3ull ^ (uint64_t)host_now();
    W.model_accuracy = -1;
    return 0;
}

static bool take_set(web_set *set, const char *what, uint8_t *images, size_t ilen, uint8_t *labels, size_t llen) {
    idx_array im, lb;
    char err[512];
    if (idx_parse(images, ilen, &im, err, sizeof err) != IDX_OK) return set_error("%s images: %s", what, err), false;
    if (idx_parse(labels, llen, &lb, err, sizeof err) != IDX_OK) return set_error("%s labels: %s", what, err), false;
    if (im.rank != 3) return set_error("%s images: an IDX file of rank 3 (images) was expected, got rank %u", what, im.rank), false;
    if (lb.rank != 1) return set_error("%s labels: an IDX file of rank 1 (labels) was expected, got rank %u", what, lb.rank), false;
    if (im.dims[1] == 0 || im.dims[2] == 0 || (uint64_t)im.dims[1] * im.dims[2] > IDX_MAX_PIXELS)
        return set_error("%s images are %ux%u, expected 1 to %d pixels each", what, im.dims[1], im.dims[2], IDX_MAX_PIXELS), false;
    if (im.dims[0] != lb.dims[0])
        return set_error("%s set: %u images but %u labels", what, im.dims[0], lb.dims[0]), false;
    if (im.dims[0] == 0) return set_error("%s set holds no images", what), false;
    uint32_t classes = 0;
    for (uint32_t i = 0; i < lb.dims[0]; i++)
        if (lb.data[i] + 1u > classes) classes = lb.data[i] + 1u;
    uint8_t *ci = malloc(im.count), *cl = malloc(lb.count);
    if (!ci || !cl) {
        free(ci), free(cl);
        return set_error("out of memory"), false;
    }
    memcpy(ci, im.data, im.count);
    memcpy(cl, lb.data, lb.count);
    free(set->images), free(set->labels);
    set->images = ci, set->labels = cl, set->count = im.dims[0];
    set->rows = im.dims[1], set->cols = im.dims[2], set->classes = classes;
    return true;
}

/* The four IDX files, inflated by the Worker. Takes ownership of the four buffers (malloc'd in
 * wasm memory by the Worker) and frees them. 0 on success; the model is reset. */
WEB_EXPORT(wg_set_data) int wg_set_data(uint8_t *train_images, size_t til, uint8_t *train_labels, size_t tll,
                                        uint8_t *test_images, size_t tsi, uint8_t *test_labels, size_t tsl) {
    web_set train = {0}, test = {0};
    bool ok = !W.in_run;
    if (!ok) set_error("a run is in progress: stop it before loading other data");
    ok = ok && take_set(&train, "training", train_images, til, train_labels, tll);
    ok = ok && take_set(&test, "test", test_images, tsi, test_labels, tsl);
    free(train_images), free(train_labels), free(test_images), free(test_labels);
    /* the same checks as the CLI's (mnist_check_test), on the same fields */
    if (ok) {
        mnist_set tr = {train.images, train.labels, train.count, train.rows, train.cols, train.classes};
        mnist_set ts = {test.images, test.labels, test.count, test.rows, test.cols, test.classes};
        char err[512];
        if (mnist_check_test(&tr, &ts, "the data", err, sizeof err) != IDX_OK) ok = false, set_error("%s", err);
    }
    uint32_t *confusion = ok ? calloc((size_t)train.classes * train.classes, sizeof *confusion) : NULL;
    if (ok && !confusion) ok = false, set_error("out of memory");
    if (!ok) {
        free(train.images), free(train.labels), free(test.images), free(test.labels);
        return -1;
    }
    host_trainer_destroy(W.tr);
    W.tr = NULL;
    W.has_model = false;
    W.confusion_epoch = 0;
    free(W.train.images), free(W.train.labels), free(W.test.images), free(W.test.labels);
    W.train = train, W.test = test;
    W.shape = (api_shape){train.rows, train.cols, train.classes};
    free(W.confusion);
    W.confusion = confusion;
    W.confusion_classes = train.classes;
    free(W.test_pred), free(W.test_conf);
    W.test_pred = calloc(test.count, 1);
    W.test_conf = calloc(test.count, sizeof(float));
    W.limits.batch_max = train.count < MLP_MAX_BATCH ? train.count : MLP_MAX_BATCH;
    W.limits.hidden_max = MLP_MAX_HIDDEN;
    W.limits.test_count = test.count;
    W.limits.rows = train.rows;
    W.limits.cols = train.cols;
    if (!W.test_pred || !W.test_conf) return set_error("out of memory"), -1;
    return 0;
}

/* The whole state, as GET /api/state answers it (srv_state_json), into wg_result(). */
WEB_EXPORT(wg_state_json) const char *wg_state_json(void) {
    host_buf *b = &W.result;
    host_buf_reset(b);
    host_device dev = engine();
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add(o, "state", json_status());
    if (ok && W.gpu) { /* open before any data arrives: the Worker calls wg_open first */
        mlp_config dflt = mlp_config_default(); /* the dashboard trains the default model */
        cJSON *d = api_json_device(gpu_info(W.gpu), mlp_resolve_kernels(W.gpu, &dflt, MLP_KERNELS_AUTO) ==
                                                        MLP_KERNELS_REFERENCE ? "reference" : "fused");
        ok = json_add(o, "device", d) && json_add_string(d, "engine", "gpu");
    } else if (ok && W.cpu) { /* the same fields, as the server gives for its CPU engine */
        gpu_adapter_info info;
        memset(&info, 0, sizeof info);
        snprintf(info.name, sizeof info.name, "cpu (%s, 1 thread)", cpu_isa_name(CPU_ISA_GENERIC));
        snprintf(info.description, sizeof info.description, "wgtrain's CPU engine");
        info.type = WGPUAdapterType_CPU;
        cJSON *d = api_json_device(&info, "cpu");
        ok = json_add(o, "device", d) && json_add_string(d, "engine", "cpu");
    }
    ok = ok && json_add(o, "data", api_json_data(W.train.count, W.test.count, &W.shape)) &&
         json_add_integer(o, "report_every", WEB_REPORT_EVERY) &&
         json_add_integer(o, "tiles_max", API_TILES_MAX) && json_add_integer(o, "previews", API_PREVIEWS) &&
         json_add(o, "limits", api_limits_json(&W.limits)) && json_add(o, "run", json_run()) &&
         json_add(o, "kernel_times", W.kernel_times ? cJSON_Duplicate(W.kernel_times, true)
                                     : engine_open() ? host_kernel_times_idle(&dev)
                                                     : cJSON_CreateNull()) &&
         api_json_history(o, W.points, W.npoints, W.epochs, W.nepochs, W.confusion, W.confusion_classes,
                          W.confusion_epoch) &&
         json_add(o, "edits", W.edits ? cJSON_Duplicate(W.edits, true) : cJSON_CreateArray());
    if (!ok) cJSON_Delete(o), o = NULL;
    host_buf_json(b, o);
    return wg_result();
}

/* ---- requests: answered between runs (wg_serve) and at every report of a run ---- */

static bool ensure_params(size_t n) {
    if (n <= W.param_cap) return true;
    float *p = realloc(W.params, n * sizeof *p);
    if (!p) return false;
    W.params = p, W.param_cap = n;
    return true;
}

static void serve_predict(const web_request *r) {
    if (!W.tr || !W.has_model) return reply_error(R_ID(r), 409, "no model yet: press Train first");
    const mlp_config *cfg = host_trainer_config(W.tr);
    uint32_t inputs = cfg->arch.inputs, classes = cfg->arch.classes;
    bool by_index = R_OP(r) == WEB_PREDICT_INDICES;
    /* pixels: n is the byte count, whole images of the model's inputs */
    if (!by_index && (R_N(r) == 0 || R_N(r) > WEB_PIXELS_BYTES || R_N(r) % inputs))
        return reply_error(R_ID(r), 400, "pixels must hold whole images of the model's inputs");
    uint32_t n = by_index ? R_N(r) : R_N(r) / inputs;
    if (n == 0 || n > (by_index ? API_INDICES_MAX : WEB_MAX_PIXELS_IMAGES))
        return reply_error(R_ID(r), 400, "a predict request takes 1 to 100 test indices or up to 8 images");
    uint8_t *images = by_index ? malloc((size_t)n * inputs) : NULL;
    uint8_t labels[API_INDICES_MAX];
    float *probs = malloc((size_t)n * classes * sizeof(float));
    if ((by_index && !images) || !probs) {
        free(images), free(probs);
        return reply_error(R_ID(r), 500, "out of memory");
    }
    for (uint32_t i = 0; by_index && i < n; i++) {
        if (r->indices[i] >= W.test.count) {
            free(images), free(probs);
            return reply_error(R_ID(r), 400, "a test index is past the test set");
        }
        memcpy(images + (size_t)i * inputs, W.test.images + (size_t)r->indices[i] * inputs, inputs);
        labels[i] = W.test.labels[r->indices[i]];
    }
    if (host_trainer_predict(W.tr, by_index ? images : r->pixels, n, probs) != MLP_OK) {
        reply_error(R_ID(r), 500, host_trainer_error(W.tr));
    } else {
        host_buf b = {0};
        host_buf_json(&b, api_json_predictions(W.run_id, W.model_epoch, W.model_step, by_index ? r->indices : NULL, labels, probs, n, classes));
        reply_json(R_ID(r), &b);
    }
    free(images), free(probs);
}

static void serve_digits(const web_request *r, bool cell) {
    if (cell && !W.confusion_epoch)
        return reply_error(R_ID(r), 409, "no confusion matrix yet: it is computed on the test set after each epoch");
    host_buf b = {0};
    cJSON *o = cJSON_CreateObject(), *digits = NULL;
    bool ok = o;
    if (cell) {
        uint32_t count = 0;
        ok = ok && json_add_integer(o, "label", R_LABEL(r)) && json_add_integer(o, "pred", R_PRED(r)) &&
             json_add_integer(o, "epoch", W.confusion_epoch) && json_add(o, "digits", (digits = cJSON_CreateArray()));
        for (uint32_t i = 0; ok && i < W.test.count; i++) {
            if (W.test.labels[i] != R_LABEL(r) || W.test_pred[i] != R_PRED(r)) continue;
            if (count < R_LIMIT(r))
                ok = cJSON_AddItemToArray(digits, api_json_digit(i, -1, true, W.test_pred[i], W.test_conf[i],
                                                                 W.test.images + (size_t)i * api_shape_inputs(&W.shape),
                                                                 api_shape_inputs(&W.shape)));
            count++;
        }
        ok = ok && json_add_integer(o, "count", count);
    } else {
        ok = ok && json_add_integer(o, "epoch", W.confusion_epoch) && json_add(o, "digits", (digits = cJSON_CreateArray()));
        for (uint32_t i = 0; ok && i < R_N(r) && i < API_INDICES_MAX; i++) {
            uint32_t k = r->indices[i];
            if (k >= W.test.count) {
                cJSON_Delete(o);
                return reply_error(R_ID(r), 400, "a test index is past the test set");
            }
            ok = cJSON_AddItemToArray(digits, api_json_digit(k, W.test.labels[k], W.confusion_epoch != 0, W.test_pred[k],
                                                             W.test_conf[k], W.test.images + (size_t)k * api_shape_inputs(&W.shape),
                                                             api_shape_inputs(&W.shape)));
        }
    }
    if (!ok) cJSON_Delete(o), o = NULL;
    host_buf_json(&b, o);
    reply_json(R_ID(r), &b);
}

/* The model file, byte for byte what `wgtrain train --save` writes for the same weights. */
static void serve_save(const web_request *r) {
    if (!W.tr || !W.has_model) return reply_error(R_ID(r), 409, "no model yet: press Train first");
    const mlp_config *cfg = host_trainer_config(W.tr);
    size_t n = mlp_param_count(&cfg->arch);
    if (!ensure_params(n)) return reply_error(R_ID(r), 500, "out of memory");
    if (host_trainer_read_params(W.tr, W.params) != MLP_OK) return reply_error(R_ID(r), 500, host_trainer_error(W.tr));
    ckpt_model_info info = {*cfg, W.model_epoch, W.model_train_samples, W.test.count, W.model_accuracy,
                            W.shape.rows, W.shape.cols, "the browser's data"};
    ckpt_kv meta[CKPT_MAX_META];
    size_t nmeta = ckpt_model_metadata(&info, meta);
    uint8_t *bytes = NULL;
    size_t len = 0;
    char err[512];
    if (ckpt_model_encode(&cfg->arch, W.params, meta, nmeta, &bytes, &len, err, sizeof err) != CKPT_OK)
        return reply_error(R_ID(r), 500, err);
    host_reply_bytes(R_ID(r), bytes, len);
    free(bytes);
}

static void publish_snapshots(uint32_t epoch, uint32_t step);
static mlp_status evaluate(mlp_eval_result *ev);

/* A safetensors model, through the same strict parser as `wgtrain eval`; the test set is
 * evaluated with it, so the page shows what the file scores here. */
static void serve_load(const web_request *r) {
    if (W.in_run) return reply_error(R_ID(r), 409, "a run is in progress: stop it before loading a model");
    ckpt_parsed *parsed = malloc(sizeof *parsed);
    ckpt_model m = {0};
    char err[512];
    if (!parsed) return reply_error(R_ID(r), 500, "out of memory");
    if (ckpt_parse(r->bytes, r->len, parsed, err, sizeof err) != CKPT_OK ||
        ckpt_model_decode(parsed, &m, err, sizeof err) != CKPT_OK) {
        free(parsed);
        return reply_error(R_ID(r), 400, err);
    }
    if (m.arch.inputs != api_shape_inputs(&W.shape)) {
        char msg[256];
        snprintf(msg, sizeof msg, "this model takes %u inputs (%ux%u) but the loaded data's images are %ux%u (%u pixels)",
                 m.arch.inputs, m.rows, m.cols, W.shape.rows, W.shape.cols, api_shape_inputs(&W.shape));
        ckpt_model_free(&m);
        free(parsed);
        return reply_error(R_ID(r), 400, msg);
    }
    const char *epoch_meta = ckpt_meta_get(parsed, "epoch");
    uint32_t file_epoch = epoch_meta ? (uint32_t)strtoul(epoch_meta, NULL, 10) : 0;
    free(parsed);
    host_trainer_destroy(W.tr);
    W.tr = NULL;
    W.has_model = false;
    /* an inference model: the file's weights and the forward kernels, no training buffers */
    mlp_dataset dtest = {W.test.images, W.test.labels, W.test.count};
    host_device dev = engine();
    mlp_status st = host_trainer_model_create(&dev, &m.arch, m.params, &dtest, &W.tr);
    model_arch arch = m.arch;
    ckpt_model_free(&m);
    mlp_eval_result ev;
    if (st == MLP_OK) st = evaluate(&ev);
    if (st != MLP_OK) {
        /* a model that does not fit the data (a test label past its classes) is the file's
         * fault, as a parse error is; the rest (GPU, memory) is ours */
        int status = st == MLP_ERR_DATA || st == MLP_ERR_CONFIG ? 400 : 500;
        reply_error(R_ID(r), status, host_trainer_error(W.tr));
        return;
    }
    W.has_model = true;
    W.model_epoch = file_epoch;
    W.model_step = 0;
    W.run_id = 0;
    W.npoints = W.nepochs = 0;
    host_buf b = {0};
    cJSON *o = cJSON_CreateObject(), *conf = NULL;
    bool ok = o && json_add_integer(o, "hidden", arch.hidden[0]) && json_add_integer(o, "epoch", file_epoch) &&
              json_add_number(o, "test_accuracy", ev.accuracy, 7) && json_add_number(o, "test_loss", ev.loss, 7) &&
              json_add(o, "confusion", (conf = cJSON_CreateObject())) && json_add_integer(conf, "epoch", file_epoch) &&
              json_add(conf, "matrix", api_json_confusion(ev.confusion, ev.classes));
    if (!ok) cJSON_Delete(o), o = NULL;
    host_buf_json(&b, o);
    reply_json(R_ID(r), &b);
    publish_snapshots(file_epoch, 0);
}

/* A live edit (core/live.h), as the server's POST /api/train/edit: served at a report of the
 * run (inside the engine's progress callback, or while paused), so it takes effect at the
 * engine's next step not yet handed to the GPU; answered with the edit event, which every
 * listener of the page also gets. */
static void serve_edit(const web_request *r) {
    bool active = W.in_run && W.tr && (W.status == WEB_RUNNING || W.status == WEB_PAUSED || W.status == WEB_STARTING);
    if (!active || W.stop_requested) return reply_error(R_ID(r), 409, "no job is running: start one with Train");
    mlp_edit e;
    api_error err;
    const mlp_config *cfg = host_trainer_config(W.tr);
    if (!api_parse_edit((const char *)r->bytes, r->len, cfg, &e, &err)) {
        host_buf b = {0};
        host_buf_json(&b, api_json_error(err.message, err.field, 400));
        if (!b.oom && b.data) host_reply(R_ID(r), 400, b.data, b.len);
        host_buf_free(&b);
        return;
    }
    mlp_edit_result res;
    if (host_trainer_edit(W.tr, &e, &res) != MLP_OK) return reply_error(R_ID(r), 400, host_trainer_error(W.tr));
    cJSON *ev = host_edit_json(&e, &res, W.steps_per_epoch);
    if (!ev) return reply_error(R_ID(r), 500, "out of memory");
    if (!W.edits) W.edits = cJSON_CreateArray();
    if (W.edits) cJSON_AddItemToArray(W.edits, cJSON_Duplicate(ev, true));
    host_buf b = {0};
    host_buf_json(&b, cJSON_Duplicate(ev, true));
    emit("edit", &b);
    cJSON *o = cJSON_CreateObject();
    if (o && !json_add(o, "edit", ev)) cJSON_Delete(o), o = NULL;
    else if (!o) cJSON_Delete(ev);
    host_buf_json(&b, o);
    reply_json(R_ID(r), &b);
}

static void serve(web_request *r) {
    switch (R_OP(r)) {
    case WEB_PREDICT_PIXELS:
    case WEB_PREDICT_INDICES: serve_predict(r); break;
    case WEB_CONFUSION_CELL: serve_digits(r, true); break;
    case WEB_DIGITS: serve_digits(r, false); break;
    case WEB_SAVE_MODEL: serve_save(r); break;
    case WEB_LOAD_MODEL: serve_load(r); break;
    case WEB_EDIT: serve_edit(r); break;
    default: reply_error(R_ID(r), 400, "unknown request");
    }
    free(r->bytes);
    r->bytes = NULL;
}

static void serve_queued(void) {
    web_request r;
    memset(&r, 0, sizeof r);
    while (host_request(r.head, r.indices, r.pixels, &r.bytes, &r.len)) {
        serve(&r);
        memset(&r, 0, sizeof r);
    }
}

/* Answers every queued request (the Worker calls it when no run is active). */
WEB_EXPORT(wg_serve) void wg_serve(void) { serve_queued(); }

/* Pause, resume and stop: flags only, safe to call while a run is suspended in host_poll. */
WEB_EXPORT(wg_control) int wg_control(int op) {
    bool active = W.status == WEB_STARTING || W.status == WEB_RUNNING || W.status == WEB_PAUSED;
    if (!active) return -1;
    if (op == 1) W.pause_requested = true;
    else if (op == 2) W.pause_requested = false;
    else if (op == 3) W.stop_requested = true;
    else return -1;
    if (op == 3 && W.status != WEB_STOPPING) set_status(WEB_STOPPING, "");
    else if (op != 3) set_status(W.status, W.message);
    return 0;
}

/* ---- a training run ---- */

static void publish_snapshots(uint32_t epoch, uint32_t step) {
    const mlp_config *cfg = host_trainer_config(W.tr);
    host_buf wj = {0}, pj = {0};
    if (ensure_params(mlp_param_count(&cfg->arch)) && host_trainer_read_params(W.tr, W.params) == MLP_OK)
    {
        if (api_shape_tiles(&W.shape)) host_buf_json(&wj, api_json_weights(W.params, cfg->arch.hidden[0], &W.shape, epoch, step));
    }
    uint32_t idx[API_PREVIEWS];
    uint8_t labels[API_PREVIEWS];
    /* the model's classes may exceed the data's (a loaded model): previews use the model's */
    api_shape shape = {W.shape.rows, W.shape.cols, cfg->arch.classes};
    uint32_t inputs = api_shape_inputs(&shape);
    uint8_t *images = malloc((size_t)API_PREVIEWS * inputs);
    float *probs = malloc((size_t)API_PREVIEWS * shape.classes * sizeof *probs);
    if (images && probs) {
        api_preview_pick(&W.preview_rng, W.test.images, W.test.labels, W.test.count, inputs, idx, labels, images);
        if (host_trainer_predict(W.tr, images, API_PREVIEWS, probs) == MLP_OK)
            host_buf_json(&pj, api_json_preview(epoch, step, idx, labels, images, probs, API_PREVIEWS, &shape));
    }
    free(images);
    free(probs);
    emit("weights", &wj);
    emit("preview", &pj);
}

/* Gives the page its turn: requests are answered, and a pause holds here (its time is not
 * counted in the epoch's). Returns false when the run should stop. */
static bool page_turn(void) {
    for (;;) {
        if (host_poll(0)) serve_queued();
        if (W.stop_requested) return false;
        if (!W.pause_requested) break;
        if (W.status != WEB_PAUSED) set_status(WEB_PAUSED, "");
        double t0 = host_now();
        while (W.pause_requested && !W.stop_requested)
            if (host_poll(1)) serve_queued();
        W.paused_ms += host_now() - t0;
    }
    if (W.status == WEB_PAUSED) set_status(WEB_RUNNING, "");
    return true;
}

/* A "kernel_times" payload: emitted, and kept for the state. Takes j. */
static void emit_kernel_times(cJSON *j) {
    if (!j) return;
    cJSON_Delete(W.kernel_times);
    W.kernel_times = cJSON_Duplicate(j, true);
    host_buf b = {0};
    host_buf_json(&b, j);
    emit("kernel_times", &b);
}

static bool on_progress(void *user, const mlp_progress *p) {
    (void)user;
    if (p->kernel_times) emit_kernel_times(api_json_kernel_times(p->kernel_times));
    double elapsed = (host_now() - W.epoch_start - W.paused_ms) / 1000.0;
    api_point pt = {(double)(p->epoch - 1) + (double)p->step / p->steps, p->loss, p->accuracy,
                    elapsed > 0 ? (double)p->samples / elapsed : 0, p->epoch, p->step};
    W.model_epoch = p->epoch;
    W.model_step = p->step;
    if (W.npoints == W.cap_points) {
        size_t cap = W.cap_points ? W.cap_points * 2 : 256;
        api_point *np = realloc(W.points, cap * sizeof *np);
        if (np) W.points = np, W.cap_points = cap;
    }
    if (W.npoints < W.cap_points) W.points[W.npoints++] = pt;
    host_buf b = {0};
    host_buf_json(&b, api_json_loss(&pt, p->steps));
    emit("loss", &b);
    if (p->health) { /* the health panel (web/health.js) */
        host_buf hb = {0};
        host_buf_json(&hb, api_json_health(p->health));
        emit("health", &hb);
        host_buf_free(&hb);
    }
    publish_snapshots(p->epoch, p->step);
    return page_turn();
}

static mlp_status evaluate(mlp_eval_result *ev) {
    mlp_status st = host_trainer_evaluate(W.tr, ev);
    if (st != MLP_OK) return st;
    if (ev->classes != W.confusion_classes) { /* a loaded model of more classes than the data's */
        uint32_t *m = realloc(W.confusion, (size_t)ev->classes * ev->classes * sizeof *m);
        if (!m) return MLP_ERR_GPU;
        W.confusion = m, W.confusion_classes = ev->classes;
    }
    memcpy(W.confusion, ev->confusion, (size_t)ev->classes * ev->classes * sizeof *W.confusion);
    memcpy(W.test_pred, host_trainer_test_predictions(W.tr), W.test.count);
    memcpy(W.test_conf, host_trainer_test_confidences(W.tr), (size_t)W.test.count * sizeof(float));
    W.confusion_epoch = W.model_epoch ? W.model_epoch : 1;
    W.model_accuracy = ev->accuracy;
    return MLP_OK;
}

static void finish_run(web_status st, const char *msg) {
    W.in_run = false;
    W.pause_requested = W.stop_requested = false;
    set_status(st, msg);
}

/* One whole run: config as POST /api/train's body (same rules, same messages), on the first
 * train_limit training images (0: all), with kernels 0 auto, 1 fused, 2 reference. Events flow through host_event; returns 0 when the run
 * ended (done, stopped or failed: the last status event says which), -1 when it could not
 * start (a bad config: wg_error() names the field's problem; wg_result() holds {"error","field"}). */
WEB_EXPORT(wg_train) int wg_train(const char *body, size_t len, uint32_t train_limit, int kernels) {
    if (W.in_run || W.status == WEB_STARTING || W.status == WEB_RUNNING || W.status == WEB_PAUSED) {
        set_error("a run is in progress: stop it first");
        return -1;
    }
    if (!engine_open() || !W.train.count) {
        set_error(!engine_open() ? "no engine is open" : "no data loaded");
        return -1;
    }
    uint32_t count = train_limit && train_limit < W.train.count ? train_limit : W.train.count;
    api_limits lim = W.limits;
    lim.batch_max = count < MLP_MAX_BATCH ? count : MLP_MAX_BATCH;
    api_train_params p;
    api_error e;
    if (!api_parse_train(body, len, &lim, &p, &e)) {
        set_error("%s", e.message);
        host_buf_reset(&W.result);
        cJSON *o = cJSON_CreateObject();
        if (o && !(json_add_string(o, "error", e.message) && json_add_string(o, "field", e.field))) cJSON_Delete(o), o = NULL;
        host_buf_json(&W.result, o);
        return -1;
    }
    W.in_run = true;
    W.pause_requested = W.stop_requested = false;
    W.run = p;
    W.run_id++;
    W.train_count = count;
    W.steps_per_epoch = (count + p.batch - 1) / p.batch;
    W.npoints = W.nepochs = 0;
    W.confusion_epoch = 0;
    W.model_epoch = W.model_step = 0;
    W.model_accuracy = -1;
    W.model_train_samples = count;
    cJSON_Delete(W.edits);
    W.edits = NULL;
    host_buf b = {0};
    cJSON *o = cJSON_CreateObject();
    if (o && !json_add(o, "run", json_run())) cJSON_Delete(o), o = NULL;
    host_buf_json(&b, o);
    emit("run", &b);
    set_status(WEB_STARTING, "");
    if (!page_turn()) return finish_run(WEB_STOPPED, "stopped before the first step"), 0;

    mlp_config cfg = api_train_config(&p);
    cfg.arch.inputs = api_shape_inputs(&W.shape); /* on the loaded data */
    cfg.arch.classes = W.shape.classes;
    cfg.report_every = WEB_REPORT_EVERY;
    cfg.health = true; /* the health panel; a NaN stop names the layer and tensor */
    cfg.kernels = kernels == 1 ? MLP_KERNELS_FUSED : kernels == 2 ? MLP_KERNELS_REFERENCE : MLP_KERNELS_AUTO;
    host_trainer_destroy(W.tr);
    W.tr = NULL;
    W.has_model = false;
    mlp_dataset dtrain = {W.train.images, W.train.labels, count};
    mlp_dataset dtest = {W.test.images, W.test.labels, W.test.count};
    host_device dev = engine();
    mlp_status st = host_trainer_create(&dev, &cfg, &dtrain, &dtest, &W.tr);
    if (st != MLP_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", host_trainer_error(W.tr));
        host_trainer_destroy(W.tr);
        W.tr = NULL;
        return finish_run(WEB_ERROR, msg), 0;
    }
    W.has_model = true;
    emit_kernel_times(host_kernel_times_begin(W.tr, &dev, p.kernel_times));
    set_status(WEB_RUNNING, "");
    publish_snapshots(0, 0);

    web_status final = WEB_DONE;
    char msg[512] = "";
    double last_acc = 0;
    for (uint32_t ep = 1; ep <= cfg.epochs; ep++) {
        mlp_epoch_result r;
        W.epoch_start = host_now();
        W.paused_ms = 0;
        st = host_trainer_train_epoch(W.tr, on_progress, NULL, &r);
        double seconds = (host_now() - W.epoch_start - W.paused_ms) / 1000.0;
        /* stopped: the model is evaluated where it stopped, as after an epoch (the record is
         * partial when the stop came before the epoch's last step), as the server does */
        bool stopped = st == MLP_ERR_STOPPED;
        uint32_t at = stopped ? W.model_step : W.steps_per_epoch;
        if (stopped) final = WEB_STOPPED, st = MLP_OK;
        W.model_epoch = ep;
        W.model_step = at;
        mlp_eval_result ev;
        if (st == MLP_OK) st = evaluate(&ev);
        if (st != MLP_OK) {
            snprintf(msg, sizeof msg, "%s", host_trainer_error(W.tr));
            final = WEB_ERROR;
            break;
        }
        bool partial = at < W.steps_per_epoch;
        uint64_t samples = partial ? (uint64_t)at * cfg.batch : count;
        api_epoch rec = {ep, r.loss, r.train_accuracy, ev.loss, ev.accuracy, seconds, seconds > 0 ? samples / seconds : 0,
                         partial, partial ? at : 0, (double)(ep - 1) + (double)at / W.steps_per_epoch};
        last_acc = ev.accuracy;
        if (W.nepochs == W.cap_epochs) {
            size_t cap = W.cap_epochs ? W.cap_epochs * 2 : 16;
            api_epoch *ne = realloc(W.epochs, cap * sizeof *ne);
            if (ne) W.epochs = ne, W.cap_epochs = cap;
        }
        if (W.nepochs < W.cap_epochs) W.epochs[W.nepochs++] = rec;
        W.confusion_epoch = ep;
        host_buf eb = {0};
        host_buf_json(&eb, api_json_epoch_event(&rec, ev.confusion, ev.classes, cfg.epochs));
        emit("epoch", &eb);
        publish_snapshots(ep, at);
        if (stopped) {
            if (partial)
                snprintf(msg, sizeof msg, "stopped in epoch %u at step %u of %u, test accuracy %.2f%% there", ep, at,
                         W.steps_per_epoch, 100 * ev.accuracy);
            else
                snprintf(msg, sizeof msg, "stopped after epoch %u, test accuracy %.2f%%", ep, 100 * ev.accuracy);
            break;
        }
        if (!page_turn() && ep < cfg.epochs) {
            snprintf(msg, sizeof msg, "stopped after epoch %u", ep);
            final = WEB_STOPPED;
            break;
        }
    }
    if (final == WEB_DONE)
        snprintf(msg, sizeof msg, "test accuracy %.2f%% after %u epoch%s", 100 * last_acc, cfg.epochs,
                 cfg.epochs == 1 ? "" : "s");
    finish_run(final, msg);
    return 0;
}

/* ---- ?check=1: what `wgtrain check` runs, inside the browser ---- */

static void on_check(void *user, const selfcheck_result *r) {
    (void)user;
    host_buf b = {0};
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add_string(o, "kernel", r->kernel) && json_add_string(o, "tensor", r->tensor) &&
              json_add_string(o, "shape", r->shape) && json_add_number(o, "rel_error", r->rel_error, 4) &&
              json_add_number(o, "max_abs", r->max_abs, 4) && json_add(o, "nan", cJSON_CreateBool(r->has_nan)) &&
              json_add(o, "pass", cJSON_CreateBool(r->pass)) && json_add_string(o, "error", r->error);
    if (!ok) cJSON_Delete(o), o = NULL;
    host_buf_json(&b, o);
    emit("check", &b);
}

/* Every kernel against the CPU reference, then GPU steps against CPU steps. Returns the
 * number of failures (each result is a "check" event). */
WEB_EXPORT(wg_check) int wg_check(uint32_t seed) {
    if (!W.gpu) return set_error(W.cpu ? "the kernel check runs the WGSL kernels: it needs WebGPU, and this page trains on the CPU engine" : "WebGPU is not open"), -1;
    if (W.in_run) return set_error("a run is in progress"), -1;
    int failures = selfcheck_kernels(W.gpu, seed, on_check, NULL);
    failures += selfcheck_steps(W.gpu, seed, on_check, NULL);
    return failures;
}
