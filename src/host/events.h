/* The dashboard's event payloads as JSON: loss points, epochs, confusion matrices, first-layer
 * weight tiles and test-digit previews. Portable (no threads, files or clocks), so that the
 * server's worker and the browser build (src/web/) publish exactly the same events and the
 * page draws them with the same code. */
#ifndef WGTRAIN_HOST_EVENTS_H
#define WGTRAIN_HOST_EVENTS_H

#include <stdint.h>

#include "core/mlp.h"
#include "host/buf.h"
#include "util/json.h"

#define API_PREVIEWS 6
#define API_TILES_MAX 128 /* first-layer weight vectors sent as tiles (square images only) */

typedef struct api_point {
    double x; /* epochs, fractional: (epoch - 1) + step / steps */
    double loss, accuracy, samples_per_second;
    uint32_t epoch, step;
} api_point;

typedef struct api_epoch {
    uint32_t epoch;
    double loss, train_accuracy, test_loss, test_accuracy, seconds, samples_per_second;
    /* a run stopped mid-epoch is evaluated where it stopped: partial, after step steps of
     * epoch, at x = (epoch - 1) + step / steps (loss and train_accuracy over those steps) */
    bool partial;
    uint32_t step;
    double x;
} api_epoch;

/* Each payload is a cJSON tree (util/json.h: every string escaped, numbers rounded to the
 * digits shown); NULL when out of memory. host_buf_json prints one into a buffer. */
cJSON *api_json_epoch(const api_epoch *e);
/* [x, loss, accuracy, samples/s, epoch, step]: the compact form of the state snapshot */
cJSON *api_json_point(const api_point *p);
/* The parts of the state snapshot (GET /api/state, the first SSE event) that both hosts write:
 * "device":{name, description, backend, type, kernels}, and "points":[...], "epochs":[...],
 * "confusion":{"epoch","matrix"} or null, added to the snapshot object. */
cJSON *api_json_device(const gpu_adapter_info *info, const char *kernels);
bool api_json_history(cJSON *snapshot, const api_point *points, size_t npoints, const api_epoch *epochs, size_t nepochs,
                      const uint32_t *confusion, uint32_t classes, uint32_t confusion_epoch);
/* The "loss" event: {"x":..,"loss":..,"accuracy":..,"samples_per_second":..,"epoch","step","steps"} */
cJSON *api_json_loss(const api_point *p, uint32_t steps);
/* A classes x classes matrix m[label * classes + predicted] as rows of a JSON array. */
cJSON *api_json_confusion(const uint32_t *m, uint32_t classes);
/* The "epoch" event: the epoch record plus its confusion matrix and the run's epoch count. */
cJSON *api_json_epoch_event(const api_epoch *e, const uint32_t *m, uint32_t classes, uint32_t epochs);

/* The shape of the data a host trains on: images rows x cols (the model's inputs), classes. */
typedef struct api_shape {
    uint32_t rows, cols, classes;
} api_shape;
static inline uint32_t api_shape_inputs(const api_shape *s) { return s->rows * s->cols; }
/* The weight tiles are drawn for square images only (the page hides them otherwise). */
static inline bool api_shape_tiles(const api_shape *s) { return s->rows == s->cols; }
/* "data":{"train","test","rows","cols","classes"} of the state snapshot */
cJSON *api_json_data(uint32_t train, uint32_t test, const api_shape *shape);

/* The "weights" event: the first-layer weight vectors as 28x28 tiles, each scaled by its own
 * largest magnitude into a byte (128 = 0), base64. w1 is [hidden][inputs] (tiles of the data's rows x cols). */
cJSON *api_json_weights(const float *w1, uint32_t hidden, const api_shape *shape, uint32_t epoch, uint32_t step);
/* The "preview" event: n test digits (indices, their labels, their images of inputs bytes in order)
 * with the model's probabilities (n * 10). */
cJSON *api_json_preview(uint32_t epoch, uint32_t step, const uint32_t *indices, const uint8_t *labels,
                        const uint8_t *images, const float *probs, int n, const api_shape *shape);
/* Draws API_PREVIEWS random test digits (from the engine's splitmix64 stream in *rng): their
 * indices, labels and images. */
void api_preview_pick(uint64_t *rng, const uint8_t *test_images, const uint8_t *test_labels, uint32_t test_count,
                      uint32_t inputs, uint32_t *indices, uint8_t *labels, uint8_t *images);
/* The answer to a predict request: {"model":{"run","epoch","step"},"predictions":[{"index",
 * "label" (when indices is not NULL), "pred", "conf", "probs"}]}. labels[i] is the label of
 * indices[i]. */
cJSON *api_json_predictions(uint32_t run, uint32_t epoch, uint32_t step, const uint32_t *indices, const uint8_t *labels,
                            const float *probs, uint32_t n, uint32_t classes);
/* One test digit: {"index", "label" (when label >= 0), "pred", "conf" (null without
 * predictions), "pixels": base64 of its inputs bytes}. */
cJSON *api_json_digit(uint32_t index, int label, bool has_pred, uint32_t pred, float conf, const uint8_t *image, uint32_t inputs);
/* Ten probabilities as a JSON array. */
cJSON *api_json_probs(const float *p, uint32_t classes);
/* {"error": message, "field": field (when not NULL), "status": status}: an API error. */
cJSON *api_json_error(const char *message, const char *field, unsigned status);
/* The run status both hosts publish: {"status","message","pausing","run","model":{"ready",
 * "epoch","step"},"epochs_done"}. */
cJSON *api_json_status_of(const char *status, const char *message, bool pausing, uint32_t run, bool model_ready,
                          uint32_t model_epoch, uint32_t model_step, size_t epochs_done);
/* A run's configuration: {"id","epochs","batch","lr","hidden" ("256,128"),"activation",
 * "optimizer","weight_decay","momentum","seed","steps_per_epoch","train_count","test_count"},
 * or null before the first run (id 0). */
struct api_train_params;
cJSON *api_json_run_of(uint32_t id, const struct api_train_params *r, uint32_t steps_per_epoch, uint32_t train_count,
                       uint32_t test_count);
/* Appends item printed without spaces, then deletes it; a NULL item (an allocation that
 * failed) marks the buffer out of memory. */
void host_buf_json(host_buf *b, cJSON *item);
/* The index of the largest of classes probabilities. */
int api_argmax(const float *p, uint32_t classes);

#endif
