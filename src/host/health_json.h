/* The health panel (core/health.h) as the hosts publish it: the "health" member of a `train
 * --json` progress line, of the dashboard's "loss" event and of the browser worker's reports
 * (one writer, so every host prints the same JSON), and the one-line text summary of `train
 * --health`. Portable (no I/O). docs/health.md describes the fields. */
#ifndef WGTRAIN_HOST_HEALTH_JSON_H
#define WGTRAIN_HOST_HEALTH_JSON_H

#include <stddef.h>

#include "core/health.h"
#include "util/json.h"

/* {"epoch","step","samples","bins","layers":[{"layer" (1-based), "weight" ("0.weight"), "fan_in",
 * "fan_out", "weight_norm", "grad_norm", "grad_norm_bias", "update_norm", "update_ratio" (null:
 * not measured), "dead_fraction" (null: not a ReLU hidden layer), "nonfinite" (values in all of
 * its tensors), "weights":{"lo","hi","counts"[bins]}, "output": the same or null (output layer)}]};
 * NULL when out of memory. */
cJSON *api_json_health(const mlp_health *h);

/* "health at step 50: L1 grad 0.412 update 1.1e-03 dead 2.3% | L2 grad 0.305 update 2.3e-03" */
void host_health_line(const mlp_health *h, char *buf, size_t cap);

#endif
