/* Dashboard event payloads; see events.h. Each builder returns a cJSON tree; a failed
 * allocation anywhere makes cJSON's adds fail quietly, so builders check with `ok`. */
#include "host/events.h"

#include "host/api.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void host_buf_json(host_buf *b, cJSON *item) {
    char *text = json_print(item);
    cJSON_Delete(item);
    if (!text) {
        b->oom = true;
        return;
    }
    host_buf_puts(b, text);
    cJSON_free(text);
}

/* base64 of n bytes as a string item */
static cJSON *base64_string(const uint8_t *p, size_t n) {
    host_buf b = {0};
    host_buf_base64(&b, p, n);
    cJSON *item = b.oom ? NULL : cJSON_CreateString(b.data ? b.data : "");
    host_buf_free(&b);
    return item;
}

static cJSON *finish(cJSON *obj, bool ok) {
    if (ok) return obj;
    cJSON_Delete(obj);
    return NULL;
}

cJSON *api_json_epoch(const api_epoch *e) {
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add_integer(o, "epoch", e->epoch) && json_add_number(o, "loss", e->loss, 7) &&
              json_add_number(o, "train_accuracy", e->train_accuracy, 7) && json_add_number(o, "test_loss", e->test_loss, 7) &&
              json_add_number(o, "test_accuracy", e->test_accuracy, 7) && json_add_number(o, "seconds", e->seconds, 6) &&
              json_add_number(o, "samples_per_second", e->samples_per_second, 6) &&
              (!e->partial || (json_add(o, "partial", cJSON_CreateBool(true)) && json_add_integer(o, "step", e->step) &&
                               json_add_number(o, "x", e->x, 7)));
    return finish(o, ok);
}

cJSON *api_json_point(const api_point *p) {
    cJSON *a = cJSON_CreateArray();
    bool ok = a && cJSON_AddItemToArray(a, json_number(p->x, 7)) && cJSON_AddItemToArray(a, json_number(p->loss, 7)) &&
              cJSON_AddItemToArray(a, json_number(p->accuracy, 7)) &&
              cJSON_AddItemToArray(a, json_number(p->samples_per_second, 6)) &&
              cJSON_AddItemToArray(a, json_integer(p->epoch)) && cJSON_AddItemToArray(a, json_integer(p->step));
    return finish(a, ok);
}

cJSON *api_json_loss(const api_point *p, uint32_t steps) {
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add_number(o, "x", p->x, 7) && json_add_number(o, "loss", p->loss, 7) &&
              json_add_number(o, "accuracy", p->accuracy, 7) &&
              json_add_number(o, "samples_per_second", p->samples_per_second, 6) && json_add_integer(o, "epoch", p->epoch) &&
              json_add_integer(o, "step", p->step) && json_add_integer(o, "steps", steps);
    return finish(o, ok);
}

cJSON *api_json_confusion(const uint32_t *m, uint32_t classes) {
    cJSON *rows = cJSON_CreateArray();
    bool ok = rows != NULL;
    for (uint32_t i = 0; ok && i < classes; i++) {
        cJSON *row = cJSON_CreateArray();
        ok = cJSON_AddItemToArray(rows, row);
        for (uint32_t j = 0; ok && j < classes; j++) ok = cJSON_AddItemToArray(row, json_integer(m[(size_t)i * classes + j]));
    }
    return finish(rows, ok);
}

cJSON *api_json_epoch_event(const api_epoch *e, const uint32_t *m, uint32_t classes, uint32_t epochs) {
    cJSON *o = api_json_epoch(e);
    bool ok = o && json_add(o, "confusion", api_json_confusion(m, classes)) && json_add_integer(o, "epochs", epochs);
    return finish(o, ok);
}

cJSON *api_json_data(uint32_t train, uint32_t test, const api_shape *shape) {
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add_integer(o, "train", train) && json_add_integer(o, "test", test) &&
              json_add_integer(o, "rows", shape->rows) && json_add_integer(o, "cols", shape->cols) &&
              json_add_integer(o, "classes", shape->classes);
    return finish(o, ok);
}

int api_argmax(const float *p, uint32_t classes) {
    int best = 0;
    for (int k = 1; k < (int)classes; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

cJSON *api_json_weights(const float *w1, uint32_t hidden, const api_shape *shape, uint32_t epoch, uint32_t step) {
    uint32_t tiles = hidden < API_TILES_MAX ? hidden : API_TILES_MAX, inputs = api_shape_inputs(shape);
    uint8_t *q = malloc((size_t)tiles * inputs);
    cJSON *o = cJSON_CreateObject(), *scales = NULL;
    bool ok = q && o && json_add_integer(o, "epoch", epoch) && json_add_integer(o, "step", step) &&
              json_add_integer(o, "hidden", hidden) && json_add_integer(o, "tiles", tiles) &&
              json_add_integer(o, "rows", shape->rows) && json_add_integer(o, "cols", shape->cols) &&
              json_add(o, "scales", (scales = cJSON_CreateArray()));
    for (uint32_t t = 0; ok && t < tiles; t++) {
        const float *v = w1 + (size_t)t * inputs;
        float m = 0;
        for (uint32_t i = 0; i < inputs; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
        for (uint32_t i = 0; i < inputs; i++) {
            float x = m > 0 && isfinite(m) ? 127.5f + 127.5f * v[i] / m : 128.0f;
            q[(size_t)t * inputs + i] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : lrintf(x));
        }
        ok = cJSON_AddItemToArray(scales, json_number(m, 4));
    }
    ok = ok && json_add(o, "data", base64_string(q, (size_t)tiles * inputs));
    free(q);
    return finish(o, ok);
}

cJSON *api_json_probs(const float *p, uint32_t classes) {
    cJSON *a = cJSON_CreateArray();
    bool ok = a != NULL;
    for (uint32_t k = 0; ok && k < classes; k++) ok = cJSON_AddItemToArray(a, json_number(p[k], 7));
    return finish(a, ok);
}

/* {"index","label" (when labels),"pred","conf","probs"}: one digit's prediction */
static cJSON *prediction(const uint32_t *index, const uint8_t *label, const float *p, uint32_t classes) {
    int k = api_argmax(p, classes);
    cJSON *o = cJSON_CreateObject();
    bool ok = o && (!index || (json_add_integer(o, "index", *index) && json_add_integer(o, "label", *label))) &&
              json_add_integer(o, "pred", (unsigned)k) && json_add_number(o, "conf", p[k], 7) &&
              json_add(o, "probs", api_json_probs(p, classes));
    return finish(o, ok);
}

cJSON *api_json_preview(uint32_t epoch, uint32_t step, const uint32_t *indices, const uint8_t *labels,
                        const uint8_t *images, const float *probs, int n, const api_shape *shape) {
    cJSON *o = cJSON_CreateObject(), *items = NULL;
    bool ok = o && json_add_integer(o, "epoch", epoch) && json_add_integer(o, "step", step) &&
              json_add_integer(o, "rows", shape->rows) && json_add_integer(o, "cols", shape->cols) &&
              json_add(o, "items", (items = cJSON_CreateArray()));
    for (int i = 0; ok && i < n; i++)
        ok = cJSON_AddItemToArray(items, prediction(&indices[i], &labels[i], probs + (size_t)i * shape->classes, shape->classes));
    ok = ok && json_add(o, "pixels", base64_string(images, (size_t)n * api_shape_inputs(shape)));
    return finish(o, ok);
}

void api_preview_pick(uint64_t *rng, const uint8_t *test_images, const uint8_t *test_labels, uint32_t test_count,
                      uint32_t inputs, uint32_t *indices, uint8_t *labels, uint8_t *images) {
    for (int i = 0; i < API_PREVIEWS; i++) {
        indices[i] = (uint32_t)(((unsigned __int128)mlp_splitmix64(rng) * test_count) >> 64);
        labels[i] = test_labels[indices[i]];
        memcpy(images + (size_t)i * inputs, test_images + (size_t)indices[i] * inputs, inputs);
    }
}

cJSON *api_json_predictions(uint32_t run, uint32_t epoch, uint32_t step, const uint32_t *indices, const uint8_t *labels,
                            const float *probs, uint32_t n, uint32_t classes) {
    cJSON *o = cJSON_CreateObject(), *model = NULL, *list = NULL;
    bool ok = o && json_add(o, "model", (model = cJSON_CreateObject())) && json_add_integer(model, "run", run) &&
              json_add_integer(model, "epoch", epoch) && json_add_integer(model, "step", step) &&
              json_add(o, "predictions", (list = cJSON_CreateArray()));
    for (uint32_t i = 0; ok && i < n; i++)
        ok = cJSON_AddItemToArray(list, prediction(indices ? &indices[i] : NULL, indices ? &labels[i] : NULL,
                                                   probs + (size_t)i * classes, classes));
    return finish(o, ok);
}

cJSON *api_json_digit(uint32_t index, int label, bool has_pred, uint32_t pred, float conf, const uint8_t *image, uint32_t inputs) {
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add_integer(o, "index", index) && (label < 0 || json_add_integer(o, "label", (unsigned)label)) &&
              json_add(o, "pred", has_pred ? json_integer(pred) : cJSON_CreateNull()) &&
              json_add(o, "conf", has_pred ? json_number(conf, 7) : cJSON_CreateNull()) &&
              json_add(o, "pixels", base64_string(image, inputs));
    return finish(o, ok);
}

cJSON *api_json_device(const gpu_adapter_info *info, const char *kernels) {
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add_string(o, "name", info->name) && json_add_string(o, "description", info->description) &&
              json_add_string(o, "backend", gpu_backend_name(info->backend)) &&
              json_add_string(o, "type", gpu_adapter_type_name(info->type)) && json_add_string(o, "kernels", kernels);
    return finish(o, ok);
}

bool api_json_history(cJSON *snapshot, const api_point *points, size_t npoints, const api_epoch *epochs, size_t nepochs,
                      const uint32_t *confusion, uint32_t classes, uint32_t confusion_epoch) {
    cJSON *pts = NULL, *eps = NULL;
    bool ok = json_add(snapshot, "points", (pts = cJSON_CreateArray())) && json_add(snapshot, "epochs", (eps = cJSON_CreateArray()));
    for (size_t i = 0; ok && i < npoints; i++) ok = cJSON_AddItemToArray(pts, api_json_point(&points[i]));
    for (size_t i = 0; ok && i < nepochs; i++) ok = cJSON_AddItemToArray(eps, api_json_epoch(&epochs[i]));
    cJSON *conf = NULL;
    if (!ok) return false;
    if (confusion_epoch) {
        conf = cJSON_CreateObject();
        if (!json_add_integer(conf, "epoch", confusion_epoch) || !json_add(conf, "matrix", api_json_confusion(confusion, classes))) {
            cJSON_Delete(conf);
            conf = NULL;
        }
    } else
        conf = cJSON_CreateNull();
    return json_add(snapshot, "confusion", conf);
}

cJSON *api_json_error(const char *message, const char *field, unsigned status) {
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add_string(o, "error", message) && (!field || !*field || json_add_string(o, "field", field)) &&
              json_add_integer(o, "status", status);
    return finish(o, ok);
}

cJSON *api_json_status_of(const char *status, const char *message, bool pausing, uint32_t run, bool model_ready,
                          uint32_t model_epoch, uint32_t model_step, size_t epochs_done) {
    cJSON *o = cJSON_CreateObject(), *model = NULL;
    bool ok = o && json_add_string(o, "status", status) && json_add_string(o, "message", message) &&
              json_add(o, "pausing", cJSON_CreateBool(pausing)) && json_add_integer(o, "run", run) &&
              json_add(o, "model", (model = cJSON_CreateObject())) && json_add(model, "ready", cJSON_CreateBool(model_ready)) &&
              json_add_integer(model, "epoch", model_epoch) && json_add_integer(model, "step", model_step) &&
              json_add_integer(o, "epochs_done", epochs_done);
    return finish(o, ok);
}

cJSON *api_json_run_of(uint32_t id, const api_train_params *r, uint32_t steps_per_epoch, uint32_t train_count,
                       uint32_t test_count) {
    if (!id) return cJSON_CreateNull();
    char hidden[128];
    api_hidden_text(r, hidden, sizeof hidden);
    cJSON *o = cJSON_CreateObject();
    /* lr and momentum as the engine's floats, shown as typed */
    bool ok = o && json_add_integer(o, "id", id) && json_add_integer(o, "epochs", r->epochs) &&
              json_add_integer(o, "batch", r->batch) && json_add_number(o, "lr", (float)r->lr, 7) &&
              json_add_string(o, "hidden", hidden) && json_add_string(o, "activation", model_activation_name(r->arch.activation)) &&
              json_add_string(o, "optimizer", optim_name(r->optimizer)) &&
              json_add_number(o, "weight_decay", (float)r->weight_decay, 7) && json_add_number(o, "momentum", (float)r->momentum, 7) &&
              json_add_integer(o, "seed", r->seed) && json_add_integer(o, "steps_per_epoch", steps_per_epoch) &&
              json_add_integer(o, "train_count", train_count) && json_add_integer(o, "test_count", test_count);
    return finish(o, ok);
}
