/* The "kernel_times" payload: per-kernel GPU time of one training step per report
 * (mlp_kernel_times), as the server's stream, the browser's worker and `wgtrain train --json
 * --kernel-times` write it, so the dashboard draws it with one code:
 *
 *   {"available":true,"enabled":true,"epoch":1,"step":50,"quantised":false,
 *    "step_us":812.4,"span_us":905.1,
 *    "kernels":[{"label":"dense_forward layer 1","kernel":"dense_forward.wgsl","layer":1,
 *                "us":301.2,"share":0.3707},...]}
 *
 * step_us is the kernels' sum (share is of it); span_us runs from the first pass's beginning to
 * the last one's end (the gaps between passes included). Without samples (before the first
 * report, off for the run, or not available here):
 *
 *   {"available":false,"enabled":false,"reason":"the CPU engine runs no GPU kernels, ..."}
 *
 * Portable (no threads, files or clocks). */
#ifndef WGTRAIN_HOST_KERNEL_TIMES_H
#define WGTRAIN_HOST_KERNEL_TIMES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/mlp.h"
#include "host/trainer.h"
#include "util/json.h"

cJSON *api_json_kernel_times(const mlp_kernel_times *kt);
/* No samples: available (the engine can time kernels here), enabled (for this run), and why not
 * (NULL when there is nothing to say). */
cJSON *api_json_kernel_times_status(bool available, bool enabled, const char *reason);
/* A run's start: kernel times on for t if wanted and d can time kernels, off otherwise; returns
 * the status payload the run begins with (available, enabled, and why not). */
cJSON *host_kernel_times_begin(host_trainer *t, const host_device *d, bool wanted);
/* The status before any run on d (enabled: a run will time its kernels unless told not to). */
cJSON *host_kernel_times_idle(const host_device *d);
/* One line for a terminal: "step 50: fused_forward 301 us (37%), ..., 812 us in all". */
void host_kernel_times_text(const mlp_kernel_times *kt, char *buf, size_t cap);

#endif
