/* The HTTP side of wgtrain serve, on libmicrohttpd (one thread per connection), behind the
 * gate (srv_gate.h), which accepts every connection, enforces the header deadline and the
 * connection caps, answers malformed requests itself and hands libmicrohttpd only complete,
 * well-formed request headers. Every response closes its connection, so every request passes
 * the gate.
 *
 * Every request passes, in order: the Host check and the Origin check (403: DNS rebinding
 * and cross-site requests), the route (404), the method (405), the declared body size (413),
 * the content type of JSON endpoints (415), then the body itself, collected here and parsed
 * by srv_api.c (400 naming the field), then the state (409). GET and HEAD never change state.
 *
 *   GET  /  /index.html  /app.js  /app.css  /uPlot.*   the page (embedded by tools/embed.c)
 *   GET  /data/NAME.gz   the data set the server holds, as gzip IDX (srv_data.c), for the
 *                        page's browser trainer
 *   GET  /api/state                  everything so far (the same as the first SSE event)
 *   GET  /api/events                 Server-Sent Events: state, run, status, loss, epoch,
 *                                    weights, preview
 *   GET  /api/digits?indices=1,2     test images (base64 bytes), labels, last predictions
 *   GET  /api/confusion?label=3&pred=5[&limit=N]   the test digits in one confusion cell
 *   POST /api/train     {"epochs","batch","lr","hidden","momentum","seed"} -> 202 | 409
 *   POST /api/pause | /api/resume | /api/stop      {} -> 200 | 409
 *   POST /api/train/edit {"lr":X,"momentum":M} (either or both) -> 200 {"edit":{event}} once the
 *                        worker applied it (host/edit.h; broadcast as the "edit" event) | 400 |
 *                        409 (no running job, or an edit already waiting) | 503 (no answer)
 *   POST /api/predict   {"pixels":[rows*cols]} | {"indices":[...]} -> probabilities, by the worker
 *   GET  /api/runs                   the run history (host/runs_db.h): {"enabled","runs":[...]}
 *   GET  /api/runs/ID                one run with every record -> 200 | 400 (bad id) | 404
 *   DELETE /api/runs/ID              -> 200 | 400 | 404 | 409 (the run being recorded) */
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "gpu/embedded.h"
#include "server/srv_gate.h"
#include "server/srv_server.h"

#define SSE_BLOCK (64 * 1024)
#define SSE_PROBE_S 0.5 /* a stream checks this often whether its client has gone */
#define HTTP_413 413 /* named PAYLOAD_TOO_LARGE or CONTENT_TOO_LARGE by libmicrohttpd version */
#define HTTP_415 415

enum route {
    R_NONE,
    R_STATIC,
    R_STATE,
    R_EVENTS,
    R_DIGITS,
    R_CONFUSION,
    R_TRAIN,
    R_PAUSE,
    R_RESUME,
    R_STOP,
    R_EDIT,
    R_PREDICT,
    R_RUNS,
    R_RUN, /* /api/runs/ID: GET, HEAD, DELETE */
};

typedef struct route_def {
    const char *path;
    enum route route;
    bool post;
    const char *const *query; /* accepted query keys (GET) */
} route_def;

static const char *const q_none[] = {NULL};
static const char *const q_digits[] = {"indices", NULL};
static const char *const q_confusion[] = {"label", "pred", "limit", NULL};

static const route_def routes[] = {
    {"/api/state", R_STATE, false, q_none},
    {"/api/events", R_EVENTS, false, q_none},
    {"/api/digits", R_DIGITS, false, q_digits},
    {"/api/confusion", R_CONFUSION, false, q_confusion},
    {"/api/train", R_TRAIN, true, NULL},
    {"/api/pause", R_PAUSE, true, NULL},
    {"/api/resume", R_RESUME, true, NULL},
    {"/api/stop", R_STOP, true, NULL},
    {"/api/train/edit", R_EDIT, true, NULL},
    {"/api/predict", R_PREDICT, true, NULL},
    {"/api/runs", R_RUNS, false, q_none},
};
static const route_def run_route = {"/api/runs/", R_RUN, false, q_none};

typedef struct request {
    const route_def *route;
    const embedded_file *file;
    host_buf body;
    bool too_large, responded;
    size_t discarded;
} request;

/* ---- responses ---- */

static void common_headers(struct MHD_Response *r) {
    /* one request per connection: the next one comes through the gate again (srv_gate.h) */
    MHD_add_response_header(r, "Connection", "close");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned code, struct MHD_Response *r) {
    if (!r) return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, const host_buf *b) {
    if (b->oom) return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(b->len, b->data ? b->data : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    common_headers(r);
    MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    return queue(c, code, r);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *field, const char *allow,
                                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned code, const char *field, const char *allow,
                                  const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    host_buf b = {0};
    host_buf_json(&b, api_json_error(msg, field, code));
    struct MHD_Response *r = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
    host_buf_free(&b);
    if (!r) return MHD_NO;
    common_headers(r);
    MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (allow) MHD_add_response_header(r, "Allow", allow);
    return queue(c, code, r);
}

static const char *mime_type(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".wasm")) return "application/wasm";
    return "application/octet-stream";
}

static enum MHD_Result send_static(struct MHD_Connection *c, const embedded_file *f) {
    struct MHD_Response *r = MHD_create_response_from_buffer(f->size, (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    common_headers(r);
    MHD_add_response_header(r, "Content-Type", mime_type(f->name));
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    if (strstr(f->name, ".html"))
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'");
    return queue(c, MHD_HTTP_OK, r);
}

/* ---- GET handlers ---- */

static enum MHD_Result get_state(srv_state *s, struct MHD_Connection *c) {
    host_buf b = {0};
    pthread_mutex_lock(&s->mu);
    srv_state_json(s, &b);
    pthread_mutex_unlock(&s->mu);
    enum MHD_Result r = send_json(c, MHD_HTTP_OK, &b);
    host_buf_free(&b);
    return r;
}

typedef struct sse_stream {
    srv_state *s;
    srv_client *client;
    int fd; /* the connection's socket (libmicrohttpd's), -1 if unknown */
} sse_stream;

/* Whether the client of an event stream has gone: it sends nothing after its request, so an
 * end of file, a hang-up or an error on the socket means it closed or vanished. Without this a
 * dead client would hold its connection until the next keep-alive write failed. */
static bool client_gone(int fd) {
    if (fd < 0) return false;
    struct pollfd p = {fd, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
    char ch;
    return (p.revents & POLLIN) && recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void deadline_after(struct timespec *ts, double from, double seconds) {
    double t = from + seconds;
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec >= 1000000000L) ts->tv_sec++, ts->tv_nsec -= 1000000000L;
    if (ts->tv_nsec < 0) ts->tv_nsec = 0;
}

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* libmicrohttpd asks for the next bytes of the stream; in thread-per-connection mode this
 * may block, so it waits (bounded) for the next event and sends a comment line every
 * keepalive_s seconds while nothing happens, which keeps the stream inside the idle timeout.
 * It waits in slices of SSE_PROBE_S and ends the stream as soon as its client has gone. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    sse_stream *st = cls;
    srv_state *s = st->s;
    srv_client *c = st->client;
    size_t n = 0;
    if (pos == 0) {
        static const char hello[] = "retry: 2000\n\n";
        if (max < sizeof hello) return 0;
        memcpy(buf, hello, sizeof hello - 1);
        n = sizeof hello - 1;
    }
    pthread_mutex_lock(&s->mu);
    while (!n && !c->current && !c->count && !s->shutdown && !c->overflow) {
        double t = mono_now(), due = c->last_write + s->keepalive_s;
        if (t >= due) {
            static const char ka[] = ": keep-alive\n\n";
            if (max >= sizeof ka) {
                memcpy(buf, ka, sizeof ka - 1);
                n = sizeof ka - 1;
            }
            c->last_write = t;
            break;
        }
        struct timespec ts;
        deadline_after(&ts, t, due - t < SSE_PROBE_S ? due - t : SSE_PROBE_S);
        pthread_cond_timedwait(&c->cond, &s->mu, &ts);
        if (client_gone(st->fd)) {
            pthread_mutex_unlock(&s->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    if (c->overflow || (s->shutdown && !n)) {
        bool overflow = c->overflow;
        pthread_mutex_unlock(&s->mu);
        return overflow ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    }
    while (n < max) {
        if (!c->current) {
            c->current = srv_client_pop(c);
            c->offset = 0;
            if (!c->current) break;
        }
        size_t k = c->current->len - c->offset;
        if (k > max - n) k = max - n;
        memcpy(buf + n, c->current->data + c->offset, k);
        n += k;
        c->offset += k;
        if (c->offset == c->current->len) {
            srv_msg_unref(c->current);
            c->current = NULL;
            c->sent++;
        }
    }
    c->last_write = mono_now();
    pthread_mutex_unlock(&s->mu);
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    sse_stream *st = cls;
    pthread_mutex_lock(&st->s->mu);
    srv_hub_remove(&st->s->hub, st->client);
    pthread_mutex_unlock(&st->s->mu);
    srv_client_free(st->client);
    free(st);
}

static enum MHD_Result get_events(srv_state *s, struct MHD_Connection *c, bool head) {
    struct MHD_Response *r;
    if (head) {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        sse_stream *st = calloc(1, sizeof *st);
        srv_client *cl = srv_client_new();
        host_buf b = {0};
        if (!st || !cl) {
            free(st);
            srv_client_free(cl);
            return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, NULL, "out of memory");
        }
        st->s = s;
        st->client = cl;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        st->fd = ci ? ci->connect_fd : -1;
        /* The history and the registration happen under one lock: nothing is missed or doubled. */
        pthread_mutex_lock(&s->mu);
        srv_state_json(s, &b);
        srv_msg *m = b.oom ? NULL : srv_msg_new(SRV_MSG_KEEP, "state", b.data, b.len);
        if (m) {
            srv_client_push(cl, m);
            srv_msg_unref(m);
            if (s->latest_weights) srv_client_push(cl, s->latest_weights);
            if (s->latest_preview) srv_client_push(cl, s->latest_preview);
            if (s->latest_health) srv_client_push(cl, s->latest_health);
            cl->last_write = mono_now();
            srv_hub_add(&s->hub, cl);
        }
        pthread_mutex_unlock(&s->mu);
        host_buf_free(&b);
        if (!m) {
            srv_client_free(cl);
            free(st);
            return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, NULL, "out of memory");
        }
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, st, sse_free);
        if (!r) {
            sse_free(st);
            return MHD_NO;
        }
    }
    common_headers(r);
    MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return queue(c, MHD_HTTP_OK, r);
}

static cJSON *digit_json(const srv_state *s, uint32_t i, bool with_label) {
    return (api_json_digit(i, with_label ? s->test->labels[i] : -1, s->confusion_epoch != 0,
                   s->confusion_epoch ? s->test_pred[i] : 0, s->confusion_epoch ? s->test_conf[i] : 0,
                   s->test->images + (size_t)i * api_shape_inputs(&s->shape), api_shape_inputs(&s->shape)));
}

static enum MHD_Result get_digits(srv_state *s, struct MHD_Connection *c) {
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "indices");
    uint32_t idx[API_INDICES_MAX], n;
    if (!api_parse_index_list(q, API_INDICES_MAX, s->test->count, idx, &n))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "indices", NULL,
                          "indices must be 1 to %d comma-separated test indices from 0 to %u", API_INDICES_MAX,
                          s->test->count - 1);
    host_buf b = {0};
    pthread_mutex_lock(&s->mu);
    cJSON *o = cJSON_CreateObject(), *digits = NULL;
    bool ok = o && json_add_integer(o, "epoch", s->confusion_epoch) && json_add(o, "digits", (digits = cJSON_CreateArray()));
    for (uint32_t k = 0; ok && k < n; k++) ok = cJSON_AddItemToArray(digits, digit_json(s, idx[k], true));
    if (!ok) cJSON_Delete(o), o = NULL;
    host_buf_json(&b, o);
    pthread_mutex_unlock(&s->mu);
    enum MHD_Result r = send_json(c, MHD_HTTP_OK, &b);
    host_buf_free(&b);
    return r;
}

static enum MHD_Result get_confusion(srv_state *s, struct MHD_Connection *c) {
    const char *qs[3] = {MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "label"),
                         MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pred"),
                         MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit")};
    uint32_t label, pred, limit = 100;
    if (!api_parse_uint(qs[0], 0, 9, &label))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "label", NULL, "label must be a digit 0-9");
    if (!api_parse_uint(qs[1], 0, 9, &pred))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "pred", NULL, "pred must be a digit 0-9");
    if (qs[2] && !api_parse_uint(qs[2], 1, 500, &limit))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "limit", NULL, "limit must be an integer from 1 to 500");
    host_buf b = {0};
    pthread_mutex_lock(&s->mu);
    if (!s->confusion_epoch) {
        pthread_mutex_unlock(&s->mu);
        return send_error(c, MHD_HTTP_CONFLICT, NULL, NULL,
                          "no confusion matrix yet: it is computed on the test set after each epoch");
    }
    uint32_t count = 0;
    cJSON *o = cJSON_CreateObject(), *digits = NULL;
    bool ok = o && json_add_integer(o, "label", label) && json_add_integer(o, "pred", pred) &&
              json_add_integer(o, "epoch", s->confusion_epoch) && json_add(o, "digits", (digits = cJSON_CreateArray()));
    for (uint32_t i = 0; ok && i < s->test->count; i++) {
        if (s->test->labels[i] != label || s->test_pred[i] != pred) continue;
        if (count < limit) ok = cJSON_AddItemToArray(digits, digit_json(s, i, false));
        count++;
    }
    ok = ok && json_add_integer(o, "count", count);
    if (!ok) cJSON_Delete(o), o = NULL;
    host_buf_json(&b, o);
    pthread_mutex_unlock(&s->mu);
    enum MHD_Result r = send_json(c, MHD_HTTP_OK, &b);
    host_buf_free(&b);
    return r;
}

/* ---- the run history ---- */

static enum MHD_Result get_runs(srv_state *s, struct MHD_Connection *c) {
    host_buf b = {0};
    cJSON *o = cJSON_CreateObject(), *list = NULL;
    char err[PATH_MAX + 256] = "";
    if (s->history_http) {
        pthread_mutex_lock(&s->history_mu);
        list = runs_list(s->history_http, err, sizeof err);
        pthread_mutex_unlock(&s->history_mu);
        if (!list) {
            cJSON_Delete(o);
            return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "%s", err);
        }
    } else
        list = cJSON_CreateArray();
    if (o && !(json_add(o, "enabled", cJSON_CreateBool(s->history_http != NULL)) && json_add(o, "runs", list))) cJSON_Delete(o), o = NULL;
    host_buf_json(&b, o);
    enum MHD_Result r = send_json(c, MHD_HTTP_OK, &b);
    host_buf_free(&b);
    return r;
}

static enum MHD_Result run_request(srv_state *s, struct MHD_Connection *c, const char *url, bool del) {
    const char *text = url + strlen(run_route.path);
    uint32_t id;
    if (!api_parse_uint(text, 1, UINT32_MAX, &id))
        return send_error(c, MHD_HTTP_BAD_REQUEST, "id", NULL, "a run id is a whole number from 1 (got '%.40s')", text);
    if (!s->history_http)
        return send_error(c, MHD_HTTP_NOT_FOUND, NULL, NULL, "no run %u: the run history is off (serve --no-history)", id);
    char err[PATH_MAX + 256] = "";
    if (del) {
        pthread_mutex_lock(&s->mu);
        bool recording = s->history_run == (int64_t)id;
        pthread_mutex_unlock(&s->mu);
        if (recording) return send_error(c, MHD_HTTP_CONFLICT, NULL, NULL, "run %u is being recorded: stop it first", id);
        pthread_mutex_lock(&s->history_mu);
        int rc = runs_delete(s->history_http, id, err, sizeof err);
        pthread_mutex_unlock(&s->history_mu);
        if (rc < 0) return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "%s", err);
        if (rc == 0) return send_error(c, MHD_HTTP_NOT_FOUND, NULL, NULL, "no run %u in the history", id);
        host_buf b = {0};
        cJSON *o = cJSON_CreateObject();
        if (o && !json_add_integer(o, "deleted", id)) cJSON_Delete(o), o = NULL;
        host_buf_json(&b, o);
        enum MHD_Result r = send_json(c, MHD_HTTP_OK, &b);
        host_buf_free(&b);
        return r;
    }
    bool found;
    pthread_mutex_lock(&s->history_mu);
    cJSON *all = runs_get(s->history_http, id, &found, err, sizeof err);
    pthread_mutex_unlock(&s->history_mu);
    if (!all && !found && !err[0]) return send_error(c, MHD_HTTP_NOT_FOUND, NULL, NULL, "no run %u in the history", id);
    if (!all) return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL, "%s", err[0] ? err : "out of memory");
    host_buf b = {0};
    host_buf_json(&b, all);
    enum MHD_Result r = send_json(c, MHD_HTTP_OK, &b);
    host_buf_free(&b);
    return r;
}

/* ---- POST handlers ---- */

static enum MHD_Result bad_request(struct MHD_Connection *c, const api_error *e) {
    return send_error(c, MHD_HTTP_BAD_REQUEST, e->field, NULL, "%s", e->message);
}

static enum MHD_Result post_train(srv_state *s, struct MHD_Connection *c, const request *rq) {
    api_train_params p;
    api_error e;
    if (!api_parse_train(rq->body.data, rq->body.len, &s->limits, &p, &e)) return bad_request(c, &e);
    host_buf b = {0};
    pthread_mutex_lock(&s->mu);
    if (srv_status_active(s->status) || s->train_pending || s->shutdown) {
        srv_status st = s->status;
        pthread_mutex_unlock(&s->mu);
        return send_error(c, MHD_HTTP_CONFLICT, NULL, NULL, "a run is in progress (status %s): stop it first",
                          srv_status_name(st));
    }
    /* a new run: its history starts empty, and everyone hears of it now */
    s->run_id++;
    s->run = p;
    s->steps_per_epoch = (s->train->count + p.batch - 1) / p.batch;
    s->pending = p;
    s->train_pending = true;
    s->pause_requested = s->stop_requested = false;
    s->has_model = false;
    s->model_epoch = s->model_step = 0;
    s->npoints = s->nepochs = 0;
    s->confusion_epoch = 0;
    cJSON_Delete(s->edits);
    s->edits = NULL;
    srv_msg_unref(s->latest_weights);
    srv_msg_unref(s->latest_preview);
    srv_msg_unref(s->latest_health);
    s->latest_weights = s->latest_preview = s->latest_health = NULL;
    srv_set_status(s, SRV_STARTING, "");
    cJSON *o = cJSON_CreateObject();
    if (o && !json_add(o, "run", srv_json_run(s))) cJSON_Delete(o), o = NULL;
    host_buf_json(&b, o);
    srv_publish(s, SRV_MSG_KEEP, "run", &b);
    pthread_cond_signal(&s->work_cond);
    pthread_mutex_unlock(&s->mu);
    enum MHD_Result r = send_json(c, MHD_HTTP_ACCEPTED, &b);
    host_buf_free(&b);
    return r;
}

static enum MHD_Result post_control(srv_state *s, struct MHD_Connection *c, const request *rq) {
    api_error e;
    if (!api_parse_empty(rq->body.data, rq->body.len, &e)) return bad_request(c, &e);
    enum route what = rq->route->route;
    pthread_mutex_lock(&s->mu);
    srv_status st = s->status;
    const char *conflict = NULL;
    if (what == R_PAUSE) {
        if (st != SRV_RUNNING) conflict = "nothing to pause";
        else if (s->pause_requested) conflict = "already pausing";
        else s->pause_requested = true;
    } else if (what == R_RESUME) {
        if (!(st == SRV_PAUSED || (st == SRV_RUNNING && s->pause_requested))) conflict = "nothing to resume";
        else s->pause_requested = false;
    } else {
        if (!srv_status_active(st) || st == SRV_STOPPING) conflict = "nothing to stop";
        else {
            s->stop_requested = true;
            s->pause_requested = false;
            srv_set_status(s, SRV_STOPPING, "");
        }
    }
    if (!conflict && what != R_STOP) srv_set_status(s, s->status, s->message); /* tells every page "pausing" */
    pthread_cond_broadcast(&s->work_cond);
    host_buf b = {0};
    if (!conflict) {
        cJSON *o = cJSON_CreateObject();
        if (o && !json_add_string(o, "status", what == R_PAUSE ? "pausing" : what == R_RESUME ? "running" : "stopping"))
            cJSON_Delete(o), o = NULL;
        host_buf_json(&b, o);
    }
    pthread_mutex_unlock(&s->mu);
    if (conflict)
        return send_error(c, MHD_HTTP_CONFLICT, NULL, NULL, "%s (status %s)", conflict, srv_status_name(st));
    enum MHD_Result r = send_json(c, MHD_HTTP_OK, &b);
    host_buf_free(&b);
    return r;
}

/* A live edit of the running job: checked here (400 naming the field), applied by the worker at
 * its next report, answered with the step where it took effect. Any page of the server's own
 * origin may edit, as it may pause and stop: the Host and Origin checks gate all three. */
static enum MHD_Result post_edit(srv_state *s, struct MHD_Connection *c, const request *rq) {
    mlp_edit e;
    api_error err;
    if (!api_parse_edit(rq->body.data, rq->body.len, NULL, &e, &err)) return bad_request(c, &err);
    pthread_mutex_lock(&s->mu);
    srv_status st = s->status;
    const char *conflict = NULL;
    if (!(st == SRV_STARTING || st == SRV_RUNNING || st == SRV_PAUSED) || s->stop_requested || s->shutdown)
        conflict = "no job is running: start one with POST /api/train";
    else if (s->edit_pending)
        conflict = "an edit is still waiting for the next step: send this one after it";
    if (conflict) {
        pthread_mutex_unlock(&s->mu);
        return send_error(c, MHD_HTTP_CONFLICT, NULL, NULL, "%s (status %s)", conflict, srv_status_name(st));
    }
    /* the job's optimizer rules: sgd has no momentum to edit, nesterov needs some */
    mlp_config run = api_train_config(&s->run);
    if (!api_parse_edit(rq->body.data, rq->body.len, &run, &e, &err)) {
        pthread_mutex_unlock(&s->mu);
        return bad_request(c, &err);
    }
    s->edit = e;
    s->edit_pending = true;
    uint32_t seq = ++s->edit_seq;
    pthread_cond_broadcast(&s->work_cond);
    struct timespec ts;
    deadline_after(&ts, mono_now(), SRV_PREDICT_WAIT_S);
    while (s->edit_done_seq < seq && !s->shutdown)
        if (pthread_cond_timedwait(&s->predict_cond, &s->mu, &ts) == ETIMEDOUT) break;
    host_buf b = {0};
    unsigned code = MHD_HTTP_OK;
    if (s->edit_done_seq < seq) {
        code = MHD_HTTP_SERVICE_UNAVAILABLE;
        host_buf_json(&b, api_json_error("the trainer did not take the edit in time; it still will, at its next report", NULL, code));
    } else if (!s->edit_ok) {
        code = MHD_HTTP_CONFLICT;
        host_buf_json(&b, api_json_error(s->edit_error, NULL, code));
    } else {
        cJSON *o = cJSON_CreateObject();
        if (o && !json_add(o, "edit", cJSON_Duplicate(s->edit_event, true))) cJSON_Delete(o), o = NULL;
        host_buf_json(&b, o);
    }
    pthread_mutex_unlock(&s->mu);
    enum MHD_Result r = send_json(c, code, &b);
    host_buf_free(&b);
    return r;
}

static enum MHD_Result post_predict(srv_state *s, struct MHD_Connection *c, const request *rq) {
    api_predict_input in;
    api_error e;
    if (!api_parse_predict(rq->body.data, rq->body.len, &s->limits, &in, &e)) return bad_request(c, &e);
    srv_predict *p = calloc(1, sizeof *p);
    uint32_t inputs = api_shape_inputs(&s->shape);
    if (p) p->probs = malloc((size_t)in.n * s->shape.classes * sizeof(float));
    if (p && in.pixels) p->images = in.pixels, in.pixels = NULL;
    else if (p) {
        p->images = malloc((size_t)in.n * inputs);
        for (uint32_t i = 0; p->images && i < in.n; i++)
            memcpy(p->images + (size_t)i * inputs, s->test->images + (size_t)in.indices[i] * inputs, inputs);
    }
    if (!p || !p->probs || !p->images) {
        if (p) free(p->probs), free(p->images), free(p);
        api_predict_input_free(&in);
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, NULL, "out of memory");
    }
    p->n = in.n;
    p->refs = 2;
    pthread_mutex_lock(&s->mu);
    if (!s->has_model || s->shutdown) {
        bool down = s->shutdown;
        p->refs = 1;
        srv_predict_unref(s, p);
        pthread_mutex_unlock(&s->mu);
        api_predict_input_free(&in);
        if (down) return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, NULL, "the server is shutting down");
        return send_error(c, MHD_HTTP_CONFLICT, NULL, NULL, "no model yet: press Train first");
    }
    if (s->predict_tail) s->predict_tail->next = p;
    else s->predict_head = p;
    s->predict_tail = p;
    pthread_cond_signal(&s->work_cond);
    struct timespec ts;
    deadline_after(&ts, mono_now(), SRV_PREDICT_WAIT_S);
    while (p->state == 0 && !s->shutdown)
        if (pthread_cond_timedwait(&s->predict_cond, &s->mu, &ts) == ETIMEDOUT) break;
    host_buf b = {0};
    unsigned code = MHD_HTTP_OK;
    if (p->state == 1) {
        uint8_t labels[API_INDICES_MAX];
        for (uint32_t i = 0; in.indices && i < p->n && i < API_INDICES_MAX; i++) labels[i] = s->test->labels[in.indices[i]];
        host_buf_json(&b, api_json_predictions(s->run_id, p->epoch, p->step, in.indices, labels, p->probs, p->n, s->shape.classes));
    } else {
        code = p->state == 0 ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_CONFLICT;
        host_buf_json(&b, api_json_error(p->state == 0 ? "the trainer did not answer in time; try again" : p->error, NULL, code));
    }
    srv_predict_unref(s, p);
    pthread_mutex_unlock(&s->mu);
    api_predict_input_free(&in);
    enum MHD_Result r = send_json(c, code, &b);
    host_buf_free(&b);
    return r;
}

/* ---- dispatch ---- */

typedef struct query_check {
    const char *const *known;
    char bad[64];
    int seen[4];
} query_check;

static enum MHD_Result check_query_key(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    query_check *q = cls;
    for (int i = 0; q->known[i]; i++)
        if (!strcmp(key, q->known[i])) {
            if (++q->seen[i] > 1) {
                snprintf(q->bad, sizeof q->bad, "%s", key);
                return MHD_NO;
            }
            return MHD_YES;
        }
    snprintf(q->bad, sizeof q->bad, "%s", key);
    return MHD_NO;
}

static const route_def *find_route(const srv_state *s, const char *url, const embedded_file **file) {
    *file = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (!strcmp(url, routes[i].path)) return &routes[i];
    if (!strncmp(url, run_route.path, strlen(run_route.path))) return &run_route;
    static const route_def static_route = {"", R_STATIC, false, NULL};
    if (!strcmp(url, "/")) url = "/index.html";
    if (url[0] == '/' && url[1] && !strchr(url + 1, '/'))
        *file = embedded_find(web_files, url + 1);
    else if (!strncmp(url, "/data/", 6) && !strchr(url + 6, '/'))
        *file = srv_data_file(s, url + 6);
    return *file ? &static_route : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    srv_state *s = cls;
    request *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        rq->responded = true; /* every early return below answers the request */

        const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
        if (!srv_host_allowed(&s->host, host)) {
            char expect[300];
            srv_host_authority(&s->host, expect, sizeof expect);
            return send_error(c, MHD_HTTP_FORBIDDEN, NULL, NULL,
                              "the Host header '%.100s' does not name this server (%s): request refused",
                              host ? host : "", expect);
        }
        const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
        if (!srv_origin_allowed(&s->host, origin))
            return send_error(c, MHD_HTTP_FORBIDDEN, NULL, NULL,
                              "cross-origin request from '%.100s' refused", origin);

        rq->route = find_route(s, url, &rq->file);
        if (!rq->route) return send_error(c, MHD_HTTP_NOT_FOUND, NULL, NULL, "no such resource: %.200s", url);
        bool is_get = !strcmp(method, MHD_HTTP_METHOD_GET), is_head = !strcmp(method, MHD_HTTP_METHOD_HEAD);
        bool is_post = !strcmp(method, MHD_HTTP_METHOD_POST);
        bool is_delete = !strcmp(method, MHD_HTTP_METHOD_DELETE);
        if (rq->route->route == R_RUN && !(is_get || is_head || is_delete))
            return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, "GET, HEAD, DELETE",
                              "%s is not allowed on %s (allowed: GET, HEAD, DELETE)", method, url);
        if (rq->route->route == R_RUN) is_get = true; /* DELETE takes no body: answered at once, as a GET */
        if (rq->route->post ? !is_post : !(is_get || is_head))
            return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, rq->route->post ? "POST" : "GET, HEAD",
                              "%s is not allowed on %s (allowed: %s)", method, url,
                              rq->route->post ? "POST" : "GET, HEAD");

        if (!rq->route->post) {
            if (rq->route->route == R_STATIC) return send_static(c, rq->file);
            query_check q = {rq->route->query, "", {0}};
            MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_query_key, &q);
            if (q.bad[0])
                return send_error(c, MHD_HTTP_BAD_REQUEST, q.bad, NULL, "unknown or repeated query parameter '%s'",
                                  q.bad);
            switch (rq->route->route) {
            case R_STATE: return get_state(s, c);
            case R_EVENTS: return get_events(s, c, is_head);
            case R_DIGITS: return get_digits(s, c);
            case R_CONFUSION: return get_confusion(s, c);
            case R_RUNS: return get_runs(s, c);
            case R_RUN: return run_request(s, c, url, is_delete);
            default: return MHD_NO;
            }
        }

        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (len) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(len, &end, 10);
            if (errno || *end || n > API_BODY_MAX)
                return send_error(c, HTTP_413, NULL, NULL,
                                  "the request body is larger than %d bytes", API_BODY_MAX);
        }
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (!api_content_type_is_json(ct))
            return send_error(c, HTTP_415, NULL, NULL,
                              "%s takes a JSON body: send Content-Type: application/json (got '%.100s')", url,
                              ct ? ct : "none");
        rq->responded = false;
        return MHD_YES; /* the body comes in the next calls */
    }

    if (*upload_data_size) {
        if (!rq->responded && !rq->too_large) {
            if (rq->body.len + *upload_data_size > API_BODY_MAX) rq->too_large = true;
            else if (!host_buf_append(&rq->body, upload_data, *upload_data_size)) return MHD_NO;
        }
        if (rq->too_large) {
            rq->discarded += *upload_data_size;
            if (rq->discarded > 16 * API_BODY_MAX) return MHD_NO; /* stop reading a flood: close */
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->responded) return MHD_YES;
    rq->responded = true;
    if (rq->too_large)
        return send_error(c, HTTP_413, NULL, NULL, "the request body is larger than %d bytes",
                          API_BODY_MAX);
    switch (rq->route->route) {
    case R_TRAIN: return post_train(s, c, rq);
    case R_PAUSE:
    case R_RESUME:
    case R_STOP: return post_control(s, c, rq);
    case R_EDIT: return post_edit(s, c, rq);
    case R_PREDICT: return post_predict(s, c, rq);
    default: return MHD_NO;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    request *rq = *con_cls;
    if (!rq) return;
    host_buf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
}

static void on_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* a browser that went away while its event stream was ending: nothing to act on */
    if (strstr(msg, "no longer available for sending")) return;
    /* a flood must not become a flood of lines: libmicrohttpd's refusals, one line a minute */
    if (strstr(msg, "connection limit") || strstr(msg, "Closing inbound connection")) {
        static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        static double last = -1;
        static unsigned long quiet = 0;
        pthread_mutex_lock(&mu);
        double t = mono_now();
        bool say = last < 0 || t - last >= 60;
        if (say) last = t;
        unsigned long n = quiet;
        quiet = say ? 0 : quiet + 1;
        pthread_mutex_unlock(&mu);
        if (!say) return;
        fprintf(stderr, "wgtrain serve: libmicrohttpd refused connections over its limit (%lu more since the last such "
                        "line; at most one line a minute)\n", n);
        return;
    }
    size_t n = strlen(msg);
    fprintf(stderr, "wgtrain serve: %s%s", msg, n && msg[n - 1] == '\n' ? "" : "\n");
}

static srv_gate *g_gate; /* one server per process */

struct MHD_Daemon *srv_http_start(srv_state *s, int listen_fd, bool ipv6, const srv_options *o) {
    (void)ipv6; /* the gate owns the socket, whatever its family */
    double deadline = SRV_HEADER_DEADLINE_S;
    if (deadline > o->connection_timeout_s) deadline = o->connection_timeout_s;
    srv_gate *g = srv_gate_new(listen_fd, o->connection_limit, o->per_ip_limit, deadline);
    if (!g) return NULL;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    /* The gate keeps libmicrohttpd's connections within connection_limit; its own limit is a
     * backstop with slack, since a connection leaves the gate's count a moment before it leaves
     * libmicrohttpd's. Per address the gate counts alone. */
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                         MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL, /* first, so that it takes every message */
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->connection_timeout_s,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned int)(o->connection_limit + o->connection_limit / 4 + 8),
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                         MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
                         MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                         MHD_OPTION_NOTIFY_CONNECTION, srv_gate_notify, g,
                         MHD_OPTION_END);
    if (!d) {
        srv_gate_free(g); /* listen_fd stays the caller's */
        return NULL;
    }
    if (srv_gate_start(g, d) != 0) {
        MHD_stop_daemon(d);
        srv_gate_free(g);
        return NULL;
    }
    g_gate = g;
    return d;
}

void srv_http_stop(struct MHD_Daemon *d) {
    srv_gate_stop(g_gate); /* no new connections */
    if (d) MHD_stop_daemon(d);
    srv_gate_free(g_gate);
    g_gate = NULL;
}
