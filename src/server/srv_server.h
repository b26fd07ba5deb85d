/* wgtrain serve: the live training dashboard.
 *
 * Threads: the gate (srv_gate.h) accepts every connection and holds it until its request
 * headers are complete; libmicrohttpd then runs one thread per connection; one worker
 * thread owns the GPU context and the trainer, and is the only thread that calls mlp_* or
 * gpu_*. They share srv_state under one mutex: HTTP handlers post commands (train, pause,
 * resume, stop, predict) and read snapshots; the worker publishes events (srv_hub.h) and
 * records the history that a client connecting mid-run receives first. No GPU work runs
 * while the mutex is held. */
#ifndef WGTRAIN_SRV_SERVER_H
#define WGTRAIN_SRV_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "host/host.h"
#include "core/mlp.h"
#include "host/api.h"
#include "server/srv_hosts.h"
#include "host/events.h"
#include "server/srv_hub.h"
#include "host/buf.h"
#include "host/runs_db.h"

#define SRV_KEEPALIVE_S 15        /* SSE comment at most this far apart on an idle stream */
#define SRV_PREDICT_WAIT_S 60     /* a predict request waits this long for the worker */

typedef struct srv_options {
    const char *host;
    uint16_t port;            /* 0: any free port (printed on the first line) */
    const char *data_dir;
    uint32_t train_limit;     /* 0: all training images */
    uint32_t report_every;    /* steps between reports (loss point, weights, previews) */
    uint32_t connection_timeout_s;
    uint32_t connection_limit;
    uint32_t per_ip_limit;
    mlp_kernels kernels;      /* which kernels train (as `wgtrain train --kernels`) */
    host_gpu_options gpu;
    host_device_options dev;  /* --device, --threads (as `wgtrain train`) */
    runs_options runs;        /* the run history (--runs-db, --no-history) */
} srv_options;

/* Runs the server until SIGINT or SIGTERM. Returns the process exit code. */
int srv_run(const srv_options *o);

typedef enum srv_status {
    SRV_IDLE,     /* nothing trained yet */
    SRV_STARTING, /* creating the trainer (uploading data, compiling kernels) */
    SRV_RUNNING,
    SRV_PAUSED,
    SRV_STOPPING,
    SRV_DONE,
    SRV_STOPPED,
    SRV_ERROR,
} srv_status;

const char *srv_status_name(srv_status s);
/* A run is in progress (train -> 409). */
bool srv_status_active(srv_status s);

/* A predict command: posted by a handler, run by the worker. */
typedef struct srv_predict {
    uint8_t *images; /* n * inputs */
    uint32_t n;
    float *probs;    /* n * classes */
    int state;       /* 0 queued, 1 done, -1 failed */
    char error[256];
    uint32_t epoch, step; /* where training was when the model was read */
    int refs;        /* handler + queue; under the mutex */
    struct srv_predict *next;
} srv_predict;

typedef struct srv_state {
    pthread_mutex_t mu;
    pthread_cond_t work_cond;    /* the worker waits here for commands */
    pthread_cond_t predict_cond; /* handlers wait here for predictions */
    srv_hub hub;
    bool shutdown;

    /* fixed before the server listens */
    const mnist_set *train, *test;
    api_shape shape; /* the data's: the model's inputs and classes */
    api_limits limits;
    uint32_t report_every;
    uint32_t keepalive_s; /* SSE comment this often on an idle stream: below the idle timeout */
    mlp_kernels kernels;
    srv_host_rules host;
    host_gpu_options gpu_opts;
    host_device_options dev_opts;
    host_engine engine;      /* what trains: set with device, before gpu_ready */
    gpu_adapter_info device; /* the adapter; for the CPU engine its name ("cpu (avx2+fma, 2 threads)"), type CPU */
    int gpu_ready; /* 0 opening, 1 ready, -1 failed */

    /* run state */
    srv_status status;
    char message[512];
    uint32_t run_id;
    api_train_params run;       /* valid when run_id > 0 */
    mlp_kernels run_kernels;    /* the kernels the run trains on: `kernels` resolved (auto is fused where
                                   the model and optimizer allow, else reference); set with has_model */
    uint32_t steps_per_epoch;
    bool train_pending;
    api_train_params pending;
    bool pause_requested, stop_requested;
    bool has_model;
    uint32_t model_epoch, model_step; /* training position of the current weights */

    /* history of the current run */
    api_point *points;
    size_t npoints, cap_points;
    api_epoch *epochs;
    size_t nepochs, cap_epochs;
    uint32_t *confusion;      /* classes x classes (allocated with the data) */
    uint32_t confusion_epoch; /* 0: none yet */
    uint8_t *test_pred;       /* test_count, valid when confusion_epoch > 0 */
    float *test_conf;
    srv_msg *latest_weights, *latest_preview, *latest_health;
    cJSON *kernel_times; /* the last "kernel_times" payload (host/kernel_times.h), for the state */

    srv_predict *predict_head, *predict_tail;
    uint64_t preview_rng;

    /* live edits (POST /api/train/edit, core/live.h): one waits at a time for the worker, which
     * applies it at its next progress report (or while paused) and answers through
     * predict_cond; edits is the run's applied ones (host/edit.h events), for new clients */
    bool edit_pending;
    mlp_edit edit;
    uint32_t edit_seq, edit_done_seq; /* requests made and answered */
    bool edit_ok;
    char edit_error[256];
    cJSON *edit_event; /* the answer's event, owned here until the handler takes it */
    cJSON *edits;      /* array, NULL before the first */

    /* the run history (host/runs_db.h), NULL under --no-history: the worker records on its own
     * connection; the HTTP handlers read and delete on theirs, under history_mu */
    runs_db *history_worker, *history_http;
    pthread_mutex_t history_mu;
    int64_t history_run; /* the run being recorded (under mu), 0 when none */
} srv_state;

/* ---- srv_state.c (callers hold mu unless noted) ---- */
int srv_state_init(srv_state *s);  /* 0 or errno */
void srv_state_destroy(srv_state *s);
/* The whole state as JSON: what GET /api/state returns and a new SSE client gets first. */
void srv_state_json(srv_state *s, host_buf *b);
/* Publishes a message built from json (kind and event name as in srv_hub.h). */
void srv_publish(srv_state *s, srv_msg_kind kind, const char *event, const host_buf *json);
/* Sets the status and publishes a "status" event. */
void srv_set_status(srv_state *s, srv_status st, const char *message);
void srv_predict_unref(srv_state *s, srv_predict *p);
/* JSON pieces shared by the state snapshot and the events. */
cJSON *srv_json_run(const srv_state *s);
cJSON *srv_json_status(const srv_state *s);
/* the adapter, "engine" and "kernels" (the run's, resolved, once it has a model) */
cJSON *srv_json_device(const srv_state *s);

/* ---- srv_data.c ---- */
/* data/NAME.gz: the training or test set the server holds, as a gzip'd IDX file; NULL for
 * any other name (or when compression fails). */
struct embedded_file;
const struct embedded_file *srv_data_file(const srv_state *s, const char *name);

/* ---- srv_worker.c ---- */
void *srv_worker_main(void *state);

/* ---- srv_http.c ---- */
struct MHD_Daemon;
struct MHD_Daemon *srv_http_start(srv_state *s, int listen_fd, bool ipv6, const srv_options *o);
void srv_http_stop(struct MHD_Daemon *d);

#endif
