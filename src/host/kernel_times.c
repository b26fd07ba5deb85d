/* See kernel_times.h. */
#include "host/kernel_times.h"

#include <stdio.h>

static double step_ns(const mlp_kernel_times *kt) {
    double sum = 0;
    for (uint32_t i = 0; i < kt->count; i++) sum += kt->kernels[i].ns;
    return sum;
}

cJSON *api_json_kernel_times(const mlp_kernel_times *kt) {
    double sum = step_ns(kt);
    cJSON *o = cJSON_CreateObject(), *list = NULL;
    bool ok = o && json_add(o, "available", cJSON_CreateTrue()) && json_add(o, "enabled", cJSON_CreateTrue()) &&
              json_add_integer(o, "epoch", kt->epoch) && json_add_integer(o, "step", kt->step) &&
              json_add(o, "quantised", cJSON_CreateBool(kt->quantised)) && json_add_fixed(o, "step_us", sum / 1e3, 3) &&
              json_add_fixed(o, "span_us", kt->span_ns / 1e3, 3) && json_add(o, "kernels", (list = cJSON_CreateArray()));
    for (uint32_t i = 0; ok && i < kt->count; i++) {
        const mlp_kernel_sample *k = &kt->kernels[i];
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddItemToArray(list, e) && json_add_string(e, "label", k->label) &&
             json_add_string(e, "kernel", k->kernel) && json_add_integer(e, "layer", k->layer) &&
             json_add_fixed(e, "us", k->ns / 1e3, 3) && json_add_fixed(e, "share", sum > 0 ? k->ns / sum : 0, 4);
    }
    if (!ok) cJSON_Delete(o), o = NULL;
    return o;
}

cJSON *api_json_kernel_times_status(bool available, bool enabled, const char *reason) {
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add(o, "available", cJSON_CreateBool(available)) && json_add(o, "enabled", cJSON_CreateBool(enabled)) &&
              (!reason || json_add_string(o, "reason", reason));
    if (!ok) cJSON_Delete(o), o = NULL;
    return o;
}

void host_kernel_times_text(const mlp_kernel_times *kt, char *buf, size_t cap) {
    double sum = step_ns(kt);
    size_t n = 0;
#define PUT(...)                                                               \
    do {                                                                       \
        int w_ = n < cap ? snprintf(buf + n, cap - n, __VA_ARGS__) : 0;        \
        if (w_ > 0) n += (size_t)w_;                                           \
    } while (0)
    if (cap) buf[0] = 0;
    PUT("step %u:", kt->step);
    for (uint32_t i = 0; i < kt->count; i++)
        PUT("%s %s %.0f us (%.0f%%)", i ? "," : "", kt->kernels[i].label, kt->kernels[i].ns / 1e3,
            sum > 0 ? 100 * kt->kernels[i].ns / sum : 0);
    PUT(", %.0f us in all%s", sum / 1e3, kt->quantised ? " (timestamps quantised to 65.5 us)" : "");
#undef PUT
}

cJSON *host_kernel_times_begin(host_trainer *t, const host_device *d, bool wanted) {
    const char *unavailable = host_kernel_times_unavailable(d);
    const char *why = host_trainer_set_kernel_times(t, wanted && !unavailable);
    if (!why) why = unavailable ? unavailable : !wanted ? "turned off for this run" : NULL;
    return api_json_kernel_times_status(!unavailable, !why, why);
}

cJSON *host_kernel_times_idle(const host_device *d) {
    const char *unavailable = host_kernel_times_unavailable(d);
    return api_json_kernel_times_status(!unavailable, !unavailable, unavailable);
}
