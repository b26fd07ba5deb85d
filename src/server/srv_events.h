/* The dashboard's event payloads as JSON: loss points, epochs, confusion matrices, first-layer
 * weight tiles and test-digit previews. Portable (no threads, files or clocks), so that the
 * server's worker and the browser build (src/web/) publish exactly the same events and the
 * page draws them with the same code. */
#ifndef WGTRAIN_SRV_EVENTS_H
#define WGTRAIN_SRV_EVENTS_H

#include <stdint.h>

#include "core/mlp.h"
#include "server/srv_util.h"

#define SRV_PREVIEWS 6
#define SRV_TILES_MAX 128 /* first-layer weight vectors sent as 28x28 tiles */

typedef struct srv_point {
    double x; /* epochs, fractional: (epoch - 1) + step / steps */
    double loss, accuracy, samples_per_second;
    uint32_t epoch, step;
} srv_point;

typedef struct srv_epoch {
    uint32_t epoch;
    double loss, train_accuracy, test_loss, test_accuracy, seconds, samples_per_second;
} srv_epoch;

void srv_json_epoch(srv_buf *b, const srv_epoch *e);
/* [x, loss, accuracy, samples/s, epoch, step]: the compact form of the state snapshot */
void srv_json_point(srv_buf *b, const srv_point *p);
/* The parts of the state snapshot (GET /api/state, the first SSE event) that both hosts write:
 * "device":{name, description, backend, type, kernels} and, after it,
 * ,"points":[...],"epochs":[...],"confusion":{"epoch","matrix"} or null. */
void srv_json_device(srv_buf *b, const gpu_adapter_info *info, const char *kernels);
void srv_json_history(srv_buf *b, const srv_point *points, size_t npoints, const srv_epoch *epochs, size_t nepochs,
                      const uint32_t confusion[MLP_CLASSES][MLP_CLASSES], uint32_t confusion_epoch);
/* The "loss" event: {"x":..,"loss":..,"accuracy":..,"samples_per_second":..,"epoch","step","steps"} */
void srv_json_loss(srv_buf *b, const srv_point *p, uint32_t steps);
void srv_json_confusion(srv_buf *b, const uint32_t m[MLP_CLASSES][MLP_CLASSES]);
/* The "epoch" event: the epoch record plus its confusion matrix and the run's epoch count. */
void srv_json_epoch_event(srv_buf *b, const srv_epoch *e, const uint32_t m[MLP_CLASSES][MLP_CLASSES], uint32_t epochs);
/* The "weights" event: the first-layer weight vectors as 28x28 tiles, each scaled by its own
 * largest magnitude into a byte (128 = 0), base64. w1 is [hidden][784]. */
void srv_json_weights(srv_buf *b, const float *w1, uint32_t hidden, uint32_t epoch, uint32_t step);
/* The "preview" event: n test digits (indices, their labels, their 784-byte images in order)
 * with the model's probabilities (n * 10). */
void srv_json_preview(srv_buf *b, uint32_t epoch, uint32_t step, const uint32_t *indices, const uint8_t *labels,
                      const uint8_t *images, const float *probs, int n);
/* Draws SRV_PREVIEWS random test digits (from the engine's splitmix64 stream in *rng): their
 * indices, labels and images. */
void srv_preview_pick(uint64_t *rng, const uint8_t *test_images, const uint8_t *test_labels, uint32_t test_count,
                      uint32_t *indices, uint8_t *labels, uint8_t *images);
/* The answer to a predict request: {"model":{"run","epoch","step"},"predictions":[{"index",
 * "label" (when indices is not NULL), "pred", "conf", "probs"}]}. labels[i] is the label of
 * indices[i]. */
void srv_json_predictions(srv_buf *b, uint32_t run, uint32_t epoch, uint32_t step, const uint32_t *indices,
                          const uint8_t *labels, const float *probs, uint32_t n);
/* One test digit: {"index", "label" (when with_label), "pred", "conf" (null without
 * predictions), "pixels": base64 of its 784 bytes}. */
void srv_json_digit(srv_buf *b, uint32_t index, int label, bool has_pred, uint32_t pred, float conf,
                    const uint8_t *image);
/* Ten probabilities as a JSON array. */
void srv_json_probs(srv_buf *b, const float *p);
int srv_argmax10(const float *p);

#endif
