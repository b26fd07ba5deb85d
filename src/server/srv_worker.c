/* The training thread: the only thread that calls mlp_*, cpu_* and gpu_* (through host_trainer).
 * It opens the engine (--device: the GPU, or the CPU engine's worker pool), then
 * waits for commands; a run trains epoch after epoch and, at every report of the engine's
 * progress callback, publishes a loss point, the first-layer weights and six fresh preview
 * predictions, answers queued predict requests, and holds still while paused. After each
 * epoch it evaluates the test set for the accuracy chart, the confusion matrix and the
 * per-digit predictions behind the matrix cells. See srv_server.h for the threading rules. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/edit.h"
#include "host/kernel_times.h"
#include "server/srv_server.h"
#include "host/health_json.h"

typedef struct worker {
    srv_state *s;
    host_runtime rt;
    host_trainer *tr;
    float *params;
    size_t param_cap;
    double epoch_start, paused;
} worker;

/* ---- the run history (host/runs_db.h): the worker's own connection, never under the mutex ---- */

static int64_t history_run; /* this thread's run being recorded, 0 when none */

static void history_record(srv_state *s, const char *kind, cJSON *data) {
    if (history_run && data && !runs_record(s->history_worker, history_run, kind, data)) {
        fprintf(stderr, "wgtrain serve: warning: %s: the run history stopped recording run %lld\n", runs_path(s->history_worker),
                (long long)history_run);
        history_run = 0;
    }
    cJSON_Delete(data);
}

static void history_begin(worker *w, const api_train_params *rp, const mlp_config *cfg) {
    srv_state *s = w->s;
    history_run = 0;
    if (!s->history_worker) return;
    pthread_mutex_lock(&s->mu);
    cJSON *c = srv_json_run(s);
    cJSON *d = srv_json_device(s); /* the run's kernels: set with has_model, before this */
    pthread_mutex_unlock(&s->mu);
    (void)rp;
    cJSON *sid = c ? cJSON_DetachItemFromObjectCaseSensitive(c, "id") : NULL; /* the server's own run number */
    cJSON_Delete(sid);
    bool ok = c && cJSON_IsObject(c) && json_add_string(c, "init", model_init_name(cfg->init)) &&
              json_add_string(c, "schedule", mlp_schedule_name(cfg->schedule)) &&
              json_add_integer(c, "rows", s->shape.rows) && json_add_integer(c, "cols", s->shape.cols) &&
              json_add_integer(c, "classes", s->shape.classes) && json_add_integer(c, "report_every", cfg->report_every);
    char err[512] = "out of memory";
    int64_t id = ok ? runs_begin(s->history_worker, "server", c, d, err, sizeof err) : 0;
    if (!id) fprintf(stderr, "wgtrain serve: warning: the run is not recorded: %s\n", err);
    cJSON_Delete(c);
    cJSON_Delete(d);
    history_run = id;
    pthread_mutex_lock(&s->mu);
    s->history_run = id;
    pthread_mutex_unlock(&s->mu);
    cJSON *e = cJSON_CreateObject();
    if (e && !json_add_string(e, "event", "start")) cJSON_Delete(e), e = NULL;
    history_record(s, "event", e);
}

static void history_end(worker *w, srv_status st, double accuracy, const char *msg) {
    srv_state *s = w->s;
    if (history_run) {
        cJSON *e = cJSON_CreateObject();
        if (e && !(json_add_string(e, "event", srv_status_name(st)) && json_add_string(e, "message", msg ? msg : "")))
            cJSON_Delete(e), e = NULL;
        history_record(s, "event", e);
    }
    if (history_run && w->tr && api_shape_tiles(&s->shape) && host_trainer_read_params(w->tr, w->params) == MLP_OK) {
        const mlp_config *cfg = host_trainer_config(w->tr);
        cJSON *j = api_json_weights(w->params, cfg->arch.hidden[0], &s->shape, s->model_epoch, s->model_step);
        if (j) runs_set_weights(s->history_worker, history_run, j);
        cJSON_Delete(j);
    }
    if (history_run) runs_finish(s->history_worker, history_run, srv_status_name(st), accuracy, NULL);
    history_run = 0;
    pthread_mutex_lock(&s->mu);
    s->history_run = 0;
    pthread_mutex_unlock(&s->mu);
}

/* ---- predict commands (called with the mutex held; returns with it held) ---- */

static void serve_predicts(worker *w) {
    srv_state *s = w->s;
    while (s->predict_head) {
        srv_predict *p = s->predict_head;
        s->predict_head = p->next;
        if (!s->predict_head) s->predict_tail = NULL;
        p->next = NULL;
        if (!w->tr || !s->has_model) {
            p->state = -1;
            snprintf(p->error, sizeof p->error, "no model: press Train first");
        } else {
            p->epoch = s->model_epoch;
            p->step = s->model_step;
            pthread_mutex_unlock(&s->mu);
            mlp_status st = host_trainer_predict(w->tr, p->images, p->n, p->probs);
            pthread_mutex_lock(&s->mu);
            p->state = st == MLP_OK ? 1 : -1;
            if (st != MLP_OK) snprintf(p->error, sizeof p->error, "%s", host_trainer_error(w->tr));
        }
        pthread_cond_broadcast(&s->predict_cond);
        srv_predict_unref(s, p);
    }
}

static void fail_predicts(srv_state *s, const char *why) {
    while (s->predict_head) {
        srv_predict *p = s->predict_head;
        s->predict_head = p->next;
        p->state = -1;
        snprintf(p->error, sizeof p->error, "%s", why);
        srv_predict_unref(s, p);
    }
    s->predict_tail = NULL;
    pthread_cond_broadcast(&s->predict_cond);
}

/* ---- live edits (called with the mutex held; returns with it held) ---- */

/* Applies the waiting edit at this point of the run, publishes it to every page, records it
 * in the history and answers the handler. */
static void apply_edit(worker *w) {
    srv_state *s = w->s;
    if (!s->edit_pending) return;
    mlp_edit e = s->edit;
    uint32_t steps = s->steps_per_epoch;
    pthread_mutex_unlock(&s->mu);
    mlp_edit_result r;
    mlp_status st = w->tr ? host_trainer_edit(w->tr, &e, &r) : MLP_ERR_CONFIG;
    cJSON *ev = st == MLP_OK ? host_edit_json(&e, &r, steps) : NULL;
    if (ev) history_record(s, "event", cJSON_Duplicate(ev, true));
    pthread_mutex_lock(&s->mu);
    s->edit_pending = false;
    s->edit_ok = ev != NULL;
    snprintf(s->edit_error, sizeof s->edit_error, "%s", st != MLP_OK && w->tr ? host_trainer_error(w->tr) : ev ? "" : "out of memory");
    if (ev) {
        host_buf b = {0};
        host_buf_json(&b, cJSON_Duplicate(ev, true));
        srv_publish(s, SRV_MSG_KEEP, "edit", &b);
        host_buf_free(&b);
        if (!s->edits) s->edits = cJSON_CreateArray();
        if (!s->edits || !cJSON_AddItemToArray(s->edits, cJSON_Duplicate(ev, true))) fprintf(stderr, "wgtrain serve: out of memory\n");
        char label[96];
        host_edit_label(&e, &r, label, sizeof label);
        printf("run %u: edit: %s from step %llu\n", s->run_id, label, (unsigned long long)r.step + 1);
        fflush(stdout);
    }
    cJSON_Delete(s->edit_event);
    s->edit_event = ev;
    s->edit_done_seq = s->edit_seq;
    pthread_cond_broadcast(&s->predict_cond);
}

/* The run is over: an edit still waiting never takes effect. */
static void fail_edit(srv_state *s, const char *why) {
    if (!s->edit_pending) return;
    s->edit_pending = false;
    s->edit_ok = false;
    snprintf(s->edit_error, sizeof s->edit_error, "%s", why);
    s->edit_done_seq = s->edit_seq;
    pthread_cond_broadcast(&s->predict_cond);
}

/* ---- snapshots: weights and previews ---- */

/* Reads the weights, predicts six random test digits, publishes both. */
static void publish_snapshots(worker *w, uint32_t epoch, uint32_t step) {
    srv_state *s = w->s;
    const mlp_config *cfg = host_trainer_config(w->tr);
    host_buf wj = {0}, pj = {0};
    /* weight tiles for square images only (the page hides them otherwise) */
    if (api_shape_tiles(&s->shape) && host_trainer_read_params(w->tr, w->params) == MLP_OK)
        host_buf_json(&wj, api_json_weights(w->params, cfg->arch.hidden[0], &s->shape, epoch, step));

    uint32_t idx[API_PREVIEWS];
    uint8_t labels[API_PREVIEWS];
    uint32_t inputs = api_shape_inputs(&s->shape);
    uint8_t *images = malloc((size_t)API_PREVIEWS * inputs);
    float *probs = malloc((size_t)API_PREVIEWS * s->shape.classes * sizeof *probs);
    if (images && probs) {
        api_preview_pick(&s->preview_rng, s->test->images, s->test->labels, s->test->count, inputs, idx, labels, images);
        if (host_trainer_predict(w->tr, images, API_PREVIEWS, probs) == MLP_OK)
            host_buf_json(&pj, api_json_preview(epoch, step, idx, labels, images, probs, API_PREVIEWS, &s->shape));
    }
    free(images);
    free(probs);
    pthread_mutex_lock(&s->mu);
    if (wj.len) srv_publish(s, SRV_MSG_WEIGHTS, "weights", &wj);
    if (pj.len) srv_publish(s, SRV_MSG_PREVIEW, "preview", &pj);
    pthread_mutex_unlock(&s->mu);
    host_buf_free(&wj);
    host_buf_free(&pj);
}

/* A "kernel_times" payload: published, and kept for the state snapshot. Takes j. */
static void publish_kernel_times(srv_state *s, srv_msg_kind kind, cJSON *j) {
    if (!j) return;
    host_buf b = {0};
    pthread_mutex_lock(&s->mu);
    cJSON_Delete(s->kernel_times);
    s->kernel_times = cJSON_Duplicate(j, true);
    host_buf_json(&b, j);
    srv_publish(s, kind, "kernel_times", &b);
    pthread_mutex_unlock(&s->mu);
    host_buf_free(&b);
}

/* ---- the progress callback: runs on this thread, inside mlp_train_epoch ---- */

static bool on_progress(void *user, const mlp_progress *p) {
    worker *w = user;
    srv_state *s = w->s;
    double elapsed = host_now() - w->epoch_start - w->paused;
    api_point pt = {(double)(p->epoch - 1) + (double)p->step / p->steps, p->loss, p->accuracy,
                    elapsed > 0 ? (double)p->samples / elapsed : 0, p->epoch, p->step};
    pthread_mutex_lock(&s->mu);
    s->model_epoch = p->epoch;
    s->model_step = p->step;
    if (s->npoints == s->cap_points) {
        size_t cap = s->cap_points ? s->cap_points * 2 : 256;
        api_point *np = realloc(s->points, cap * sizeof *np);
        if (np) s->points = np, s->cap_points = cap;
    }
    if (s->npoints < s->cap_points) s->points[s->npoints++] = pt;
    host_buf b = {0};
    host_buf_json(&b, api_json_loss(&pt, p->steps));
    srv_publish(s, SRV_MSG_DROP, "loss", &b);
    host_buf_free(&b);
    if (p->health) { /* the health panel (web/health.js): the latest replaces a queued one */
        host_buf hb = {0};
        host_buf_json(&hb, api_json_health(p->health));
        srv_publish(s, SRV_MSG_HEALTH, "health", &hb);
        host_buf_free(&hb);
    }
    pthread_mutex_unlock(&s->mu);
    history_record(s, "progress", api_json_loss(&pt, p->steps));
    /* the report's health panel and kernel times are the run's metrics too (wgtrain runs, the report) */
    if (p->health) history_record(s, "health", api_json_health(p->health));
    if (p->kernel_times) {
        cJSON *kt = api_json_kernel_times(p->kernel_times);
        history_record(s, "kernel_times", cJSON_Duplicate(kt, true));
        publish_kernel_times(s, SRV_MSG_DROP, kt);
    }

    publish_snapshots(w, p->epoch, p->step);

    pthread_mutex_lock(&s->mu);
    serve_predicts(w);
    apply_edit(w);
    if (s->pause_requested && !s->stop_requested && !s->shutdown) {
        srv_set_status(s, SRV_PAUSED, "");
        double t0 = host_now();
        while (s->pause_requested && !s->stop_requested && !s->shutdown) {
            if (s->predict_head) serve_predicts(w);
            else if (s->edit_pending) apply_edit(w); /* edits while paused take effect on resuming */
            else pthread_cond_wait(&s->work_cond, &s->mu);
        }
        w->paused += host_now() - t0;
        if (!s->stop_requested && !s->shutdown) srv_set_status(s, SRV_RUNNING, "");
    }
    bool go = !s->stop_requested && !s->shutdown;
    pthread_mutex_unlock(&s->mu);
    return go;
}

/* ---- one run ---- */

static void finish(worker *w, srv_status st, const char *msg) {
    srv_state *s = w->s;
    pthread_mutex_lock(&s->mu);
    uint32_t run = s->run_id;
    s->pause_requested = s->stop_requested = false;
    fail_edit(s, "the run ended before the edit could take effect");
    srv_set_status(s, st, msg); /* the last touch of the run's state: a new run may start now */
    pthread_mutex_unlock(&s->mu);
    printf("run %u: %s%s%s\n", run, srv_status_name(st), msg && *msg ? ": " : "", msg ? msg : "");
    fflush(stdout);
}

static void run_training(worker *w, const api_train_params *rp) {
    srv_state *s = w->s;
    host_trainer_destroy(w->tr);
    w->tr = NULL;

    mlp_config cfg = api_train_config(rp);
    cfg.arch.inputs = api_shape_inputs(&s->shape); /* on the server's data */
    cfg.arch.classes = s->shape.classes;
    cfg.report_every = s->report_every;
    cfg.kernels = s->kernels;
    cfg.health = true; /* the dashboard's health panel; a NaN stop names the layer and tensor */
    mlp_dataset dtrain = {s->train->images, s->train->labels, s->train->count};
    mlp_dataset dtest = {s->test->images, s->test->labels, s->test->count};
    char msg[512];
    pthread_mutex_lock(&s->mu);
    uint32_t run = s->run_id, steps = s->steps_per_epoch;
    pthread_mutex_unlock(&s->mu);
    char hidden[128];
    api_hidden_text(rp, hidden, sizeof hidden);
    printf("run %u: epochs %u, batch %u, lr %g, hidden %s, %s, %s, momentum %g, weight decay %g, seed %llu\n", run, cfg.epochs,
           cfg.batch, (double)cfg.lr, hidden, model_activation_name(cfg.arch.activation), optim_name(cfg.optimizer),
           (double)cfg.momentum, (double)cfg.weight_decay, (unsigned long long)cfg.seed);
    fflush(stdout);

    mlp_status st = host_trainer_create(&w->rt.dev, &cfg, &dtrain, &dtest, &w->tr);
    size_t n = mlp_param_count(&cfg.arch);
    if (st == MLP_OK && n > w->param_cap) {
        float *np = realloc(w->params, n * sizeof *np);
        if (np) w->params = np, w->param_cap = n;
        else st = MLP_ERR_GPU;
    }
    if (st != MLP_OK) {
        snprintf(msg, sizeof msg, "%s", host_trainer_error(w->tr));
        host_trainer_destroy(w->tr);
        w->tr = NULL;
        finish(w, SRV_ERROR, msg);
        return;
    }

    pthread_mutex_lock(&s->mu);
    s->has_model = true;
    s->run_kernels = host_trainer_config(w->tr)->kernels;
    s->model_epoch = s->model_step = 0;
    /* the kernels auto picked for this run, to the pages open now (a new one reads the state) */
    host_buf db = {0};
    host_buf_json(&db, srv_json_device(s));
    if (db.len) srv_publish(s, SRV_MSG_KEEP, "device", &db);
    host_buf_free(&db);
    bool stop = s->stop_requested || s->shutdown;
    if (!stop) srv_set_status(s, SRV_RUNNING, "");
    pthread_mutex_unlock(&s->mu);
    if (stop) {
        finish(w, SRV_STOPPED, "stopped before the first step");
        return;
    }
    publish_kernel_times(s, SRV_MSG_KEEP, host_kernel_times_begin(w->tr, &w->rt.dev, rp->kernel_times));
    publish_snapshots(w, 0, 0); /* the initial weights: features form from here */
    history_begin(w, rp, host_trainer_config(w->tr));

    srv_status final = SRV_DONE;
    msg[0] = 0;
    double last_acc = 0;
    for (uint32_t e = 1; e <= cfg.epochs; e++) {
        mlp_epoch_result r;
        w->epoch_start = host_now();
        w->paused = 0;
        st = host_trainer_train_epoch(w->tr, on_progress, w, &r);
        double seconds = host_now() - w->epoch_start - w->paused;
        /* stopped: the model is evaluated where it stopped, as after an epoch (the record is
         * partial when the stop came before the epoch's last step) */
        bool stopped = st == MLP_ERR_STOPPED;
        uint32_t at = steps;
        if (stopped) {
            pthread_mutex_lock(&s->mu);
            at = s->model_step;
            pthread_mutex_unlock(&s->mu);
            final = SRV_STOPPED;
            st = MLP_OK;
        }
        mlp_eval_result ev;
        if (st == MLP_OK) st = host_trainer_evaluate(w->tr, &ev);
        if (st != MLP_OK) {
            snprintf(msg, sizeof msg, "%s", host_trainer_error(w->tr));
            final = SRV_ERROR;
            break;
        }
        const uint8_t *pred = host_trainer_test_predictions(w->tr);
        const float *conf = host_trainer_test_confidences(w->tr);
        uint64_t samples = at < steps ? (uint64_t)at * cfg.batch : s->train->count;
        api_epoch rec = {e, r.loss, r.train_accuracy, ev.loss, ev.accuracy, seconds, seconds > 0 ? samples / seconds : 0,
                         at < steps, at < steps ? at : 0, (double)(e - 1) + (double)at / steps};
        last_acc = ev.accuracy;

        pthread_mutex_lock(&s->mu);
        if (s->nepochs == s->cap_epochs) {
            size_t cap = s->cap_epochs ? s->cap_epochs * 2 : 16;
            api_epoch *ne = realloc(s->epochs, cap * sizeof *ne);
            if (ne) s->epochs = ne, s->cap_epochs = cap;
        }
        if (s->nepochs < s->cap_epochs) s->epochs[s->nepochs++] = rec;
        memcpy(s->confusion, ev.confusion, (size_t)ev.classes * ev.classes * sizeof *s->confusion);
        memcpy(s->test_pred, pred, s->test->count);
        memcpy(s->test_conf, conf, (size_t)s->test->count * sizeof *conf);
        s->confusion_epoch = e;
        s->model_epoch = e;
        s->model_step = at;
        host_buf b = {0};
        host_buf_json(&b, api_json_epoch_event(&rec, ev.confusion, ev.classes, cfg.epochs));
        srv_publish(s, SRV_MSG_KEEP, "epoch", &b);
        host_buf_free(&b);
        pthread_mutex_unlock(&s->mu);
        history_record(s, "epoch", api_json_epoch_event(&rec, ev.confusion, ev.classes, cfg.epochs));
        printf("run %u: epoch %u: loss=%.4f train_acc=%.2f%% test_acc=%.2f%% time=%.2fs\n", run, e, r.loss,
               100 * r.train_accuracy, 100 * ev.accuracy, seconds);
        fflush(stdout);

        publish_snapshots(w, e, at);
        if (stopped) {
            if (at < steps)
                snprintf(msg, sizeof msg, "stopped in epoch %u at step %u of %u, test accuracy %.2f%% there", e, at, steps,
                         100 * ev.accuracy);
            else
                snprintf(msg, sizeof msg, "stopped after epoch %u, test accuracy %.2f%%", e, 100 * ev.accuracy);
            break;
        }

        pthread_mutex_lock(&s->mu);
        serve_predicts(w);
        stop = s->stop_requested || s->shutdown;
        pthread_mutex_unlock(&s->mu);
        if (stop && e < cfg.epochs) {
            snprintf(msg, sizeof msg, "stopped after epoch %u", e);
            final = SRV_STOPPED;
            break;
        }
    }
    if (final == SRV_DONE)
        snprintf(msg, sizeof msg, "test accuracy %.2f%% after %u epoch%s", 100 * last_acc, cfg.epochs,
                 cfg.epochs == 1 ? "" : "s");
    history_end(w, final, final == SRV_ERROR && last_acc == 0 ? -1 : last_acc, msg);
    finish(w, final, msg);
}

void *srv_worker_main(void *arg) {
    srv_state *s = arg;
    worker w = {0};
    w.s = s;
    bool opened = host_runtime_open(&s->dev_opts, &s->gpu_opts, &w.rt);
    pthread_mutex_lock(&s->mu);
    if (opened && w.rt.dev.gpu) {
        s->device = *gpu_info(w.rt.dev.gpu);
    } else if (opened) {
        memset(&s->device, 0, sizeof s->device);
        snprintf(s->device.name, sizeof s->device.name, "%s", w.rt.name);
        snprintf(s->device.description, sizeof s->device.description, "wgtrain's CPU engine");
        s->device.type = WGPUAdapterType_CPU;
    }
    s->engine = w.rt.dev.engine;
    if (opened) s->kernel_times = host_kernel_times_idle(&w.rt.dev);
    s->gpu_ready = opened ? 1 : -1;
    pthread_cond_broadcast(&s->predict_cond);
    if (!opened) {
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    while (!s->shutdown) {
        if (s->predict_head) {
            serve_predicts(&w);
            continue;
        }
        if (s->train_pending) {
            api_train_params p = s->pending;
            s->train_pending = false;
            pthread_mutex_unlock(&s->mu);
            run_training(&w, &p);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        pthread_cond_wait(&s->work_cond, &s->mu);
    }
    fail_predicts(s, "the server is shutting down");
    pthread_mutex_unlock(&s->mu);
    host_trainer_destroy(w.tr);
    host_runtime_close(&w.rt);
    free(w.params);
    return NULL;
}
