/* Shared server state: history, snapshots and event publishing; see srv_server.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/srv_server.h"

const char *srv_status_name(srv_status s) {
    switch (s) {
    case SRV_IDLE: return "idle";
    case SRV_STARTING: return "starting";
    case SRV_RUNNING: return "running";
    case SRV_PAUSED: return "paused";
    case SRV_STOPPING: return "stopping";
    case SRV_DONE: return "done";
    case SRV_STOPPED: return "stopped";
    case SRV_ERROR: return "error";
    }
    return "?";
}

bool srv_status_active(srv_status s) {
    return s == SRV_STARTING || s == SRV_RUNNING || s == SRV_PAUSED || s == SRV_STOPPING;
}

int srv_state_init(srv_state *s) {
    memset(s, 0, sizeof *s);
    int rc = pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!rc) rc = pthread_cond_init(&s->work_cond, &attr);
    if (!rc) rc = pthread_cond_init(&s->predict_cond, &attr);
    pthread_condattr_destroy(&attr);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->preview_rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
    return rc;
}

void srv_state_destroy(srv_state *s) {
    while (s->hub.clients) {
        srv_client *c = s->hub.clients;
        srv_hub_remove(&s->hub, c);
        srv_client_free(c);
    }
    free(s->points);
    free(s->epochs);
    free(s->test_pred);
    free(s->test_conf);
    free(s->confusion);
    srv_msg_unref(s->latest_weights);
    srv_msg_unref(s->latest_preview);
    cJSON_Delete(s->edit_event);
    cJSON_Delete(s->edits);
    cJSON_Delete(s->kernel_times);
    srv_msg_unref(s->latest_health);
    pthread_cond_destroy(&s->work_cond);
    pthread_cond_destroy(&s->predict_cond);
    pthread_mutex_destroy(&s->mu);
}

cJSON *srv_json_run(const srv_state *s) {
    return api_json_run_of(s->run_id, &s->run, s->steps_per_epoch, s->train->count, s->test->count);
}

/* The adapter and kernels, and "engine": "gpu" or "cpu". The kernels are those of the run that
 * has (or had) a model; before the first, the server's setting ("auto": fused where it applies). */
cJSON *srv_json_device(const srv_state *s) {
    bool cpu = s->engine == HOST_ENGINE_CPU;
    mlp_kernels k = s->has_model ? s->run_kernels : s->kernels;
    const char *kernels = cpu ? "cpu" : k == MLP_KERNELS_REFERENCE ? "reference" : k == MLP_KERNELS_FUSED ? "fused" : "auto";
    cJSON *d = api_json_device(&s->device, kernels);
    if (d && !json_add_string(d, "engine", cpu ? "cpu" : "gpu")) cJSON_Delete(d), d = NULL;
    return d;
}

cJSON *srv_json_status(const srv_state *s) {
    return api_json_status_of(srv_status_name(s->status), s->message, s->pause_requested, s->run_id, s->has_model,
                              s->model_epoch, s->model_step, s->nepochs);
}

void srv_state_json(srv_state *s, host_buf *b) {
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add(o, "state", srv_json_status(s)) &&
              json_add(o, "device", srv_json_device(s)) &&
              json_add(o, "data", api_json_data(s->train->count, s->test->count, &s->shape)) &&
              json_add_integer(o, "report_every", s->report_every) &&
              json_add_integer(o, "tiles_max", API_TILES_MAX) && json_add_integer(o, "previews", API_PREVIEWS) &&
              json_add(o, "limits", api_limits_json(&s->limits)) && json_add(o, "run", srv_json_run(s)) &&
              api_json_history(o, s->points, s->npoints, s->epochs, s->nepochs,
                               s->confusion, s->shape.classes, s->confusion_epoch) &&
              json_add(o, "edits", s->edits ? cJSON_Duplicate(s->edits, true) : cJSON_CreateArray()) &&
              json_add(o, "kernel_times", s->kernel_times ? cJSON_Duplicate(s->kernel_times, true) : cJSON_CreateNull()) &&
              json_add_integer(o, "clients", s->hub.count) && json_add_integer(o, "dropped", s->hub.dropped);
    if (!ok) cJSON_Delete(o), o = NULL;
    host_buf_json(b, o);
}

void srv_publish(srv_state *s, srv_msg_kind kind, const char *event, const host_buf *json) {
    if (json->oom || !json->data) return;
    srv_msg *m = srv_msg_new(kind, event, json->data, json->len);
    if (!m) return;
    if (kind == SRV_MSG_WEIGHTS) {
        srv_msg_unref(s->latest_weights);
        s->latest_weights = srv_msg_ref(m);
    } else if (kind == SRV_MSG_PREVIEW) {
        srv_msg_unref(s->latest_preview);
        s->latest_preview = srv_msg_ref(m);
    } else if (kind == SRV_MSG_HEALTH) {
        srv_msg_unref(s->latest_health);
        s->latest_health = srv_msg_ref(m);
    }
    srv_hub_publish(&s->hub, m);
}

void srv_set_status(srv_state *s, srv_status st, const char *message) {
    s->status = st;
    if (message != s->message) snprintf(s->message, sizeof s->message, "%s", message ? message : "");
    host_buf b = {0};
    host_buf_json(&b, srv_json_status(s));
    srv_publish(s, SRV_MSG_KEEP, "status", &b);
    host_buf_free(&b);
}

void srv_predict_unref(srv_state *s, srv_predict *p) {
    (void)s;
    if (--p->refs > 0) return;
    free(p->images);
    free(p->probs);
    free(p);
}
