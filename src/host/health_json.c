/* The health panel's JSON and text; see health_json.h. */
#include "host/health_json.h"

#include <stdio.h>
#include <string.h>

static cJSON *hist_json(const health_hist *h) {
    cJSON *o = cJSON_CreateObject(), *counts = cJSON_CreateArray();
    bool ok = o && counts && json_add_number(o, "lo", h->lo, 6) && json_add_number(o, "hi", h->hi, 6);
    for (int i = 0; ok && i < HEALTH_BINS; i++) ok = cJSON_AddItemToArray(counts, json_integer(h->counts[i]));
    if (ok) return json_add(o, "counts", counts) ? o : (cJSON_Delete(o), NULL);
    cJSON_Delete(counts), cJSON_Delete(o);
    return NULL;
}

/* a quantity that is not measured (< 0) is null */
static bool add_measured(cJSON *o, const char *key, double v) {
    return v < 0 ? cJSON_AddNullToObject(o, key) != NULL : json_add_number(o, key, v, 6);
}

static cJSON *layer_json(const health_layer *y, uint32_t l) {
    cJSON *o = cJSON_CreateObject();
    char name[32];
    health_tensor_name(l, HEALTH_WEIGHT, name, sizeof name);
    unsigned long long bad = 0;
    for (int k = 0; k < HEALTH_TENSORS; k++) bad += y->nonfinite[k];
    bool ok = o && json_add_integer(o, "layer", l + 1) && json_add_string(o, "weight", name) &&
              json_add_integer(o, "fan_in", y->fan_in) && json_add_integer(o, "fan_out", y->fan_out) &&
              json_add_number(o, "weight_norm", y->weight_norm, 6) && json_add_number(o, "grad_norm", y->grad_weight_norm, 6) &&
              json_add_number(o, "grad_norm_bias", y->grad_bias_norm, 6) && add_measured(o, "update_norm", y->update_weight_norm) &&
              add_measured(o, "update_ratio", y->update_ratio) && add_measured(o, "dead_fraction", y->dead_fraction) &&
              json_add_integer(o, "nonfinite", bad) && json_add(o, "weights", hist_json(&y->weights)) &&
              (y->has_output ? json_add(o, "output", hist_json(&y->output)) : cJSON_AddNullToObject(o, "output") != NULL);
    if (!ok) cJSON_Delete(o), o = NULL;
    return o;
}

cJSON *api_json_health(const mlp_health *h) {
    cJSON *o = cJSON_CreateObject(), *layers = cJSON_CreateArray();
    bool ok = o && layers && json_add_integer(o, "epoch", h->epoch) && json_add_integer(o, "step", h->step) &&
              json_add_integer(o, "samples", h->samples) && json_add_integer(o, "bins", HEALTH_BINS);
    for (uint32_t l = 0; ok && l < h->layers; l++) {
        cJSON *y = layer_json(&h->layer[l], l);
        ok = y && cJSON_AddItemToArray(layers, y);
        if (!ok) cJSON_Delete(y);
    }
    if (ok) return json_add(o, "layers", layers) ? o : (cJSON_Delete(o), NULL);
    cJSON_Delete(layers), cJSON_Delete(o);
    return NULL;
}

void host_health_line(const mlp_health *h, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "health at step %u:", h->step);
    for (uint32_t l = 0; l < h->layers && n < cap; l++) {
        const health_layer *y = &h->layer[l];
        n += (size_t)snprintf(buf + n, cap - n, "%s L%u grad %.3g", l ? " |" : "", l + 1, y->grad_weight_norm);
        if (n < cap && y->update_ratio >= 0) n += (size_t)snprintf(buf + n, cap - n, " update %.1e", y->update_ratio);
        if (n < cap && y->dead_fraction >= 0) n += (size_t)snprintf(buf + n, cap - n, " dead %.1f%%", 100.0 * y->dead_fraction);
    }
}
