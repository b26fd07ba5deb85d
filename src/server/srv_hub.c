/* SSE fan-out; see srv_hub.h. */
#include "server/srv_hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

srv_msg *srv_msg_new(srv_msg_kind kind, const char *event, const char *json, size_t json_len) {
    size_t elen = strlen(event);
    size_t len = 7 + elen + 7 + json_len + 2; /* "event: " NAME "\ndata: " JSON "\n\n" */
    srv_msg *m = malloc(sizeof *m + len + 1);
    if (!m) return NULL;
    atomic_init(&m->refs, 1);
    m->kind = kind;
    char *p = m->data;
    memcpy(p, "event: ", 7), p += 7;
    memcpy(p, event, elen), p += elen;
    memcpy(p, "\ndata: ", 7), p += 7;
    memcpy(p, json, json_len), p += json_len;
    memcpy(p, "\n\n", 2), p += 2;
    *p = 0;
    m->len = len;
    return m;
}

srv_msg *srv_msg_ref(srv_msg *m) {
    if (m) atomic_fetch_add(&m->refs, 1);
    return m;
}

void srv_msg_unref(srv_msg *m) {
    if (m && atomic_fetch_sub(&m->refs, 1) == 1) free(m);
}

srv_client *srv_client_new(void) {
    srv_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &attr);
    pthread_condattr_destroy(&attr);
    return c;
}

void srv_client_free(srv_client *c) {
    if (!c) return;
    for (unsigned i = 0; i < c->count; i++) srv_msg_unref(c->queue[i]);
    srv_msg_unref(c->current);
    pthread_cond_destroy(&c->cond);
    free(c);
}

static void remove_at(srv_client *c, unsigned i) {
    srv_msg_unref(c->queue[i]);
    memmove(&c->queue[i], &c->queue[i + 1], (c->count - i - 1) * sizeof c->queue[0]);
    c->count--;
}

/* Frees one slot by evicting the oldest message that may be lost: a loss point first, then a
 * snapshot (a newer one will follow). False when every queued message must be kept. */
static bool evict_one(srv_client *c) {
    for (unsigned i = 0; i < c->count; i++)
        if (c->queue[i]->kind == SRV_MSG_DROP) {
            remove_at(c, i);
            c->dropped++;
            return true;
        }
    for (unsigned i = 0; i < c->count; i++)
        if (c->queue[i]->kind != SRV_MSG_KEEP) {
            remove_at(c, i);
            c->dropped++;
            return true;
        }
    return false;
}

void srv_client_push(srv_client *c, srv_msg *m) {
    if (c->overflow) return;
    if (m->kind == SRV_MSG_WEIGHTS || m->kind == SRV_MSG_PREVIEW || m->kind == SRV_MSG_HEALTH) {
        /* the newest snapshot makes a queued (not yet started) one of its kind stale */
        for (unsigned i = 0; i < c->count; i++)
            if (c->queue[i]->kind == m->kind) {
                remove_at(c, i);
                c->dropped++;
                break;
            }
    }
    if (c->count == SRV_CLIENT_QUEUE) {
        if (m->kind == SRV_MSG_DROP) {
            c->dropped++;
            return;
        }
        if (!evict_one(c)) {
            c->overflow = true;
            return;
        }
    }
    c->queue[c->count++] = srv_msg_ref(m);
}

srv_msg *srv_client_pop(srv_client *c) {
    if (!c->count) return NULL;
    srv_msg *m = c->queue[0];
    memmove(&c->queue[0], &c->queue[1], (c->count - 1) * sizeof c->queue[0]);
    c->count--;
    return m;
}

void srv_hub_add(srv_hub *h, srv_client *c) {
    c->prev = NULL;
    c->next = h->clients;
    if (h->clients) h->clients->prev = c;
    h->clients = c;
    h->count++;
}

void srv_hub_remove(srv_hub *h, srv_client *c) {
    if (c->prev) c->prev->next = c->next;
    else if (h->clients == c) h->clients = c->next;
    else return; /* not in the list */
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    h->count--;
}

void srv_hub_publish(srv_hub *h, srv_msg *m) {
    if (!m) return;
    for (srv_client *c = h->clients; c; c = c->next) {
        uint64_t before = c->dropped;
        srv_client_push(c, m);
        h->dropped += c->dropped - before;
        pthread_cond_signal(&c->cond);
    }
    h->published++;
    srv_msg_unref(m);
}

void srv_hub_wake_all(srv_hub *h) {
    for (srv_client *c = h->clients; c; c = c->next) pthread_cond_signal(&c->cond);
}
