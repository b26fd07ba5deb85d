/* Dashboard event payloads; see srv_events.h. */
#include "server/srv_events.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void srv_json_epoch(srv_buf *b, const srv_epoch *e) {
    srv_buf_printf(b, "{\"epoch\":%u,\"loss\":", e->epoch);
    srv_buf_json_number(b, e->loss, 7);
    srv_buf_puts(b, ",\"train_accuracy\":");
    srv_buf_json_number(b, e->train_accuracy, 7);
    srv_buf_puts(b, ",\"test_loss\":");
    srv_buf_json_number(b, e->test_loss, 7);
    srv_buf_puts(b, ",\"test_accuracy\":");
    srv_buf_json_number(b, e->test_accuracy, 7);
    srv_buf_puts(b, ",\"seconds\":");
    srv_buf_json_number(b, e->seconds, 6);
    srv_buf_puts(b, ",\"samples_per_second\":");
    srv_buf_json_number(b, e->samples_per_second, 6);
    srv_buf_puts(b, "}");
}

void srv_json_point(srv_buf *b, const srv_point *p) {
    srv_buf_puts(b, "[");
    srv_buf_json_number(b, p->x, 7);
    srv_buf_puts(b, ",");
    srv_buf_json_number(b, p->loss, 7);
    srv_buf_puts(b, ",");
    srv_buf_json_number(b, p->accuracy, 7);
    srv_buf_puts(b, ",");
    srv_buf_json_number(b, p->samples_per_second, 6);
    srv_buf_printf(b, ",%u,%u]", p->epoch, p->step);
}

void srv_json_loss(srv_buf *b, const srv_point *p, uint32_t steps) {
    srv_buf_puts(b, "{\"x\":");
    srv_buf_json_number(b, p->x, 7);
    srv_buf_puts(b, ",\"loss\":");
    srv_buf_json_number(b, p->loss, 7);
    srv_buf_puts(b, ",\"accuracy\":");
    srv_buf_json_number(b, p->accuracy, 7);
    srv_buf_puts(b, ",\"samples_per_second\":");
    srv_buf_json_number(b, p->samples_per_second, 6);
    srv_buf_printf(b, ",\"epoch\":%u,\"step\":%u,\"steps\":%u}", p->epoch, p->step, steps);
}

void srv_json_confusion(srv_buf *b, const uint32_t m[MLP_CLASSES][MLP_CLASSES]) {
    srv_buf_puts(b, "[");
    for (int i = 0; i < MLP_CLASSES; i++) {
        srv_buf_puts(b, i ? ",[" : "[");
        for (int j = 0; j < MLP_CLASSES; j++) srv_buf_printf(b, j ? ",%u" : "%u", m[i][j]);
        srv_buf_puts(b, "]");
    }
    srv_buf_puts(b, "]");
}

void srv_json_epoch_event(srv_buf *b, const srv_epoch *e, const uint32_t m[MLP_CLASSES][MLP_CLASSES], uint32_t epochs) {
    srv_json_epoch(b, e);
    if (b->oom || !b->len) return;
    b->len--; /* reopen the object */
    srv_buf_puts(b, ",\"confusion\":");
    srv_json_confusion(b, m);
    srv_buf_printf(b, ",\"epochs\":%u}", epochs);
}

int srv_argmax10(const float *p) {
    int best = 0;
    for (int k = 1; k < MLP_CLASSES; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

void srv_json_weights(srv_buf *b, const float *w1, uint32_t hidden, uint32_t epoch, uint32_t step) {
    uint32_t tiles = hidden < SRV_TILES_MAX ? hidden : SRV_TILES_MAX;
    uint8_t *q = malloc((size_t)tiles * MLP_INPUTS);
    if (!q) {
        b->oom = true;
        return;
    }
    srv_buf_printf(b, "{\"epoch\":%u,\"step\":%u,\"hidden\":%u,\"tiles\":%u,\"scales\":[", epoch, step, hidden, tiles);
    for (uint32_t t = 0; t < tiles; t++) {
        const float *v = w1 + (size_t)t * MLP_INPUTS;
        float m = 0;
        for (int i = 0; i < MLP_INPUTS; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
        for (int i = 0; i < MLP_INPUTS; i++) {
            float x = m > 0 && isfinite(m) ? 127.5f + 127.5f * v[i] / m : 128.0f;
            q[(size_t)t * MLP_INPUTS + i] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : lrintf(x));
        }
        if (t) srv_buf_puts(b, ",");
        srv_buf_json_number(b, m, 4);
    }
    srv_buf_puts(b, "],\"data\":\"");
    srv_buf_base64(b, q, (size_t)tiles * MLP_INPUTS);
    srv_buf_puts(b, "\"}");
    free(q);
}

void srv_json_probs(srv_buf *b, const float *p) {
    srv_buf_puts(b, "[");
    for (int k = 0; k < MLP_CLASSES; k++) {
        if (k) srv_buf_puts(b, ",");
        srv_buf_json_number(b, p[k], 7);
    }
    srv_buf_puts(b, "]");
}

void srv_json_preview(srv_buf *b, uint32_t epoch, uint32_t step, const uint32_t *indices, const uint8_t *labels,
                      const uint8_t *images, const float *probs, int n) {
    srv_buf_printf(b, "{\"epoch\":%u,\"step\":%u,\"items\":[", epoch, step);
    for (int i = 0; i < n; i++) {
        const float *p = probs + i * MLP_CLASSES;
        int k = srv_argmax10(p);
        srv_buf_printf(b, "%s{\"index\":%u,\"label\":%u,\"pred\":%d,\"conf\":", i ? "," : "", indices[i], labels[i], k);
        srv_buf_json_number(b, p[k], 7);
        srv_buf_puts(b, ",\"probs\":");
        srv_json_probs(b, p);
        srv_buf_puts(b, "}");
    }
    srv_buf_puts(b, "],\"pixels\":\"");
    srv_buf_base64(b, images, (size_t)n * MLP_INPUTS);
    srv_buf_puts(b, "\"}");
}

void srv_preview_pick(uint64_t *rng, const uint8_t *test_images, const uint8_t *test_labels, uint32_t test_count,
                      uint32_t *indices, uint8_t *labels, uint8_t *images) {
    for (int i = 0; i < SRV_PREVIEWS; i++) {
        indices[i] = (uint32_t)(((unsigned __int128)mlp_splitmix64(rng) * test_count) >> 64);
        labels[i] = test_labels[indices[i]];
        memcpy(images + (size_t)i * MLP_INPUTS, test_images + (size_t)indices[i] * MLP_INPUTS, MLP_INPUTS);
    }
}

void srv_json_predictions(srv_buf *b, uint32_t run, uint32_t epoch, uint32_t step, const uint32_t *indices,
                          const uint8_t *labels, const float *probs, uint32_t n) {
    srv_buf_printf(b, "{\"model\":{\"run\":%u,\"epoch\":%u,\"step\":%u},\"predictions\":[", run, epoch, step);
    for (uint32_t i = 0; i < n; i++) {
        const float *pr = probs + (size_t)i * MLP_CLASSES;
        int k = srv_argmax10(pr);
        srv_buf_puts(b, i ? ",{" : "{");
        if (indices) srv_buf_printf(b, "\"index\":%u,\"label\":%u,", indices[i], labels[i]);
        srv_buf_printf(b, "\"pred\":%d,\"conf\":", k);
        srv_buf_json_number(b, pr[k], 7);
        srv_buf_puts(b, ",\"probs\":");
        srv_json_probs(b, pr);
        srv_buf_puts(b, "}");
    }
    srv_buf_puts(b, "]}");
}

void srv_json_digit(srv_buf *b, uint32_t index, int label, bool has_pred, uint32_t pred, float conf,
                    const uint8_t *image) {
    srv_buf_printf(b, "{\"index\":%u", index);
    if (label >= 0) srv_buf_printf(b, ",\"label\":%d", label);
    if (has_pred) {
        srv_buf_printf(b, ",\"pred\":%u,\"conf\":", pred);
        srv_buf_json_number(b, conf, 7);
    } else
        srv_buf_puts(b, ",\"pred\":null,\"conf\":null");
    srv_buf_puts(b, ",\"pixels\":\"");
    srv_buf_base64(b, image, MLP_INPUTS);
    srv_buf_puts(b, "\"}");
}

void srv_json_device(srv_buf *b, const gpu_adapter_info *info, const char *kernels) {
    srv_buf_puts(b, "\"device\":{\"name\":");
    srv_buf_json_string(b, info->name);
    srv_buf_puts(b, ",\"description\":");
    srv_buf_json_string(b, info->description);
    srv_buf_printf(b, ",\"backend\":\"%s\",\"type\":\"%s\",\"kernels\":\"%s\"}", gpu_backend_name(info->backend),
                   gpu_adapter_type_name(info->type), kernels);
}

void srv_json_history(srv_buf *b, const srv_point *points, size_t npoints, const srv_epoch *epochs, size_t nepochs,
                      const uint32_t confusion[MLP_CLASSES][MLP_CLASSES], uint32_t confusion_epoch) {
    srv_buf_puts(b, ",\"points\":[");
    for (size_t i = 0; i < npoints; i++) {
        if (i) srv_buf_puts(b, ",");
        srv_json_point(b, &points[i]);
    }
    srv_buf_puts(b, "],\"epochs\":[");
    for (size_t i = 0; i < nepochs; i++) {
        if (i) srv_buf_puts(b, ",");
        srv_json_epoch(b, &epochs[i]);
    }
    srv_buf_puts(b, "],\"confusion\":");
    if (confusion_epoch) {
        srv_buf_printf(b, "{\"epoch\":%u,\"matrix\":", confusion_epoch);
        srv_json_confusion(b, confusion);
        srv_buf_puts(b, "}");
    } else
        srv_buf_puts(b, "null");
}
