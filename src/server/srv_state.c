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
    srv_msg_unref(s->latest_weights);
    srv_msg_unref(s->latest_preview);
    pthread_cond_destroy(&s->work_cond);
    pthread_cond_destroy(&s->predict_cond);
    pthread_mutex_destroy(&s->mu);
}

void srv_json_run(srv_buf *b, const srv_state *s) {
    if (!s->run_id) {
        srv_buf_puts(b, "null");
        return;
    }
    const srv_train_params *r = &s->run;
    srv_buf_printf(b, "{\"id\":%u,\"epochs\":%u,\"batch\":%u,\"lr\":", s->run_id, r->epochs, r->batch);
    srv_buf_json_number(b, (float)r->lr, 7); /* the engine's float, shown as typed */
    srv_buf_printf(b, ",\"hidden\":%u,\"momentum\":", r->hidden);
    srv_buf_json_number(b, (float)r->momentum, 7);
    srv_buf_printf(b, ",\"seed\":%llu,\"steps_per_epoch\":%u,\"train_count\":%u,\"test_count\":%u}",
                   (unsigned long long)r->seed, s->steps_per_epoch, s->train->count, s->test->count);
}

void srv_json_status(srv_buf *b, const srv_state *s) {
    srv_buf_printf(b, "{\"status\":\"%s\",\"message\":", srv_status_name(s->status));
    srv_buf_json_string(b, s->message);
    srv_buf_printf(b, ",\"pausing\":%s,\"run\":%u,\"model\":{\"ready\":%s,\"epoch\":%u,\"step\":%u},\"epochs_done\":%zu}",
                   s->pause_requested ? "true" : "false", s->run_id, s->has_model ? "true" : "false", s->model_epoch,
                   s->model_step, s->nepochs);
}

void srv_state_json(srv_state *s, srv_buf *b) {
    srv_buf_puts(b, "{\"state\":");
    srv_json_status(b, s);
    srv_buf_puts(b, ",");
    srv_json_device(b, &s->device, s->kernels == MLP_KERNELS_REFERENCE ? "reference" : "fused");
    srv_buf_printf(b, ",\"data\":{\"train\":%u,\"test\":%u},\"report_every\":%u,\"tiles_max\":%d,\"previews\":%d",
                   s->train->count, s->test->count, s->report_every, SRV_TILES_MAX, SRV_PREVIEWS);
    srv_buf_puts(b, ",\"limits\":");
    srv_limits_json(b, &s->limits);
    srv_buf_puts(b, ",\"run\":");
    srv_json_run(b, s);
    srv_json_history(b, s->points, s->npoints, s->epochs, s->nepochs, (const uint32_t(*)[MLP_CLASSES])s->confusion,
                     s->confusion_epoch);
    srv_buf_printf(b, ",\"clients\":%u,\"dropped\":%llu}", s->hub.count, (unsigned long long)s->hub.dropped);
}

void srv_publish(srv_state *s, srv_msg_kind kind, const char *event, const srv_buf *json) {
    if (json->oom || !json->data) return;
    srv_msg *m = srv_msg_new(kind, event, json->data, json->len);
    if (!m) return;
    if (kind == SRV_MSG_WEIGHTS) {
        srv_msg_unref(s->latest_weights);
        s->latest_weights = srv_msg_ref(m);
    } else if (kind == SRV_MSG_PREVIEW) {
        srv_msg_unref(s->latest_preview);
        s->latest_preview = srv_msg_ref(m);
    }
    srv_hub_publish(&s->hub, m);
}

void srv_set_status(srv_state *s, srv_status st, const char *message) {
    s->status = st;
    if (message != s->message) snprintf(s->message, sizeof s->message, "%s", message ? message : "");
    srv_buf b = {0};
    srv_json_status(&b, s);
    srv_publish(s, SRV_MSG_KEEP, "status", &b);
    srv_buf_free(&b);
}

void srv_predict_unref(srv_state *s, srv_predict *p) {
    (void)s;
    if (--p->refs > 0) return;
    free(p->images);
    free(p->probs);
    free(p);
}
