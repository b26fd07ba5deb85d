/* Server-Sent Events fan-out. The training thread publishes each event once, as one
 * reference-counted message; every client has a bounded queue of references. Publishing
 * never blocks and never waits for a client: a client that falls behind loses intermediate
 * updates (loss points are dropped; a newer weights or preview snapshot replaces the queued
 * one), never the run (epoch, status and run events are kept). A client so far behind that
 * even those do not fit is disconnected; its EventSource reconnects and receives the whole
 * history again.
 *
 * The hub has no lock of its own: callers hold the server mutex around every call. */
#ifndef WGTRAIN_SRV_HUB_H
#define WGTRAIN_SRV_HUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum srv_msg_kind {
    SRV_MSG_KEEP,    /* never dropped (state, run, status, epoch) */
    SRV_MSG_DROP,    /* may be dropped when the queue is full (loss points) */
    SRV_MSG_WEIGHTS, /* a snapshot: a newer one replaces a queued one */
    SRV_MSG_PREVIEW, /* a snapshot: a newer one replaces a queued one */
    SRV_MSG_HEALTH,  /* a snapshot: a newer one replaces a queued one */
} srv_msg_kind;

typedef struct srv_msg {
    atomic_int refs;
    srv_msg_kind kind;
    size_t len;
    char data[]; /* "event: NAME\ndata: JSON\n\n" */
} srv_msg;

/* A message of one event; json must not contain a newline. NULL when out of memory. */
srv_msg *srv_msg_new(srv_msg_kind kind, const char *event, const char *json, size_t json_len);
srv_msg *srv_msg_ref(srv_msg *m);
void srv_msg_unref(srv_msg *m);

#define SRV_CLIENT_QUEUE 256

typedef struct srv_client {
    srv_msg *queue[SRV_CLIENT_QUEUE];
    unsigned count;
    srv_msg *current; /* being written */
    size_t offset;    /* bytes of current already written */
    bool overflow;    /* fell too far behind: the stream is ended */
    uint64_t dropped; /* messages this client lost */
    uint64_t sent;    /* messages written */
    double last_write;
    pthread_cond_t cond;
    struct srv_client *prev, *next;
} srv_client;

typedef struct srv_hub {
    srv_client *clients;
    unsigned count;
    uint64_t published;
    uint64_t dropped; /* messages lost by slow clients, all clients together */
} srv_hub;

srv_client *srv_client_new(void);
/* Adds m to this client's queue under the policy above (takes its own reference). */
void srv_client_push(srv_client *c, srv_msg *m);
/* Pops the oldest queued message (the caller owns the reference), or NULL. */
srv_msg *srv_client_pop(srv_client *c);
void srv_client_free(srv_client *c);

void srv_hub_add(srv_hub *h, srv_client *c);
void srv_hub_remove(srv_hub *h, srv_client *c);
/* Pushes m to every client and wakes them; drops the caller's reference. */
void srv_hub_publish(srv_hub *h, srv_msg *m);
/* Wakes every client (shutdown). */
void srv_hub_wake_all(srv_hub *h);

#endif
