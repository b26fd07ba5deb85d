/* The gate in front of libmicrohttpd: accepts, holds each connection until its request headers
 * are complete, checks them, then hands the connection over (see srv_gate.h for why and how).
 *
 * Threads: the gate thread owns the listening socket and every waiting connection (the list,
 * the epoll set); nothing else touches them. The counts of connections libmicrohttpd serves are
 * kept by srv_gate_notify, called on libmicrohttpd's threads, under mu. Only the gate thread
 * adds connections, so a count it reads can only have gone down since. */
#include "server/srv_gate.h"

#include "host/events.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct ip_key {
    uint8_t fam; /* 4 or 6; an IPv4-mapped IPv6 address counts as IPv4 */
    uint8_t a[16];
} ip_key;

typedef struct ip_count {
    ip_key ip;
    uint32_t n;
} ip_count;

typedef struct waiting {
    int fd;
    ip_key ip;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    double since; /* accept time: the header deadline counts from here */
} waiting;

struct srv_gate {
    int listen_fd, ep, wake_fd;
    uint32_t limit, per_ip, reserve;
    double deadline;
    struct MHD_Daemon *d;
    pthread_t thread;
    bool running, owns_listen;

    pthread_mutex_t mu; /* guards served* */
    ip_count *served;
    size_t nserved, cap_served;
    uint32_t served_total;

    waiting **wait; /* gate thread only */
    size_t nwait, cap_wait;

    double log_at;             /* when the last refusal line was written */
    unsigned long unlogged;    /* refusals since then */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static ip_key key_of(const struct sockaddr *sa) {
    ip_key k;
    memset(&k, 0, sizeof k);
    if (!sa) return k;
    if (sa->sa_family == AF_INET) {
        k.fam = 4;
        memcpy(k.a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (!memcmp(a, mapped, 12)) {
            k.fam = 4;
            memcpy(k.a, a + 12, 4);
        } else {
            k.fam = 6;
            memcpy(k.a, a, 16);
        }
    }
    return k;
}

static bool key_eq(const ip_key *a, const ip_key *b) { return a->fam == b->fam && !memcmp(a->a, b->a, 16); }

/* ---- counts of served connections (any thread, under mu) ---- */

static uint32_t served_for(srv_gate *g, const ip_key *ip) {
    for (size_t i = 0; i < g->nserved; i++)
        if (key_eq(&g->served[i].ip, ip)) return g->served[i].n;
    return 0;
}

void srv_gate_notify(void *cls, struct MHD_Connection *c, void **socket_context, enum MHD_ConnectionNotificationCode code) {
    srv_gate *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        ip_key *k = malloc(sizeof *k);
        if (!k) return; /* not counted: the cap is then one looser, nothing worse */
        *k = key_of(ci ? ci->client_addr : NULL);
        pthread_mutex_lock(&g->mu);
        size_t i = 0;
        while (i < g->nserved && !key_eq(&g->served[i].ip, k)) i++;
        if (i == g->nserved) {
            if (g->nserved == g->cap_served) {
                size_t ncap = g->cap_served ? 2 * g->cap_served : 16;
                ip_count *n = realloc(g->served, ncap * sizeof *n);
                if (!n) {
                    pthread_mutex_unlock(&g->mu);
                    free(k);
                    return;
                }
                g->served = n, g->cap_served = ncap;
            }
            g->served[g->nserved].ip = *k;
            g->served[g->nserved].n = 0;
            g->nserved++;
        }
        g->served[i].n++;
        g->served_total++;
        pthread_mutex_unlock(&g->mu);
        *socket_context = k;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        ip_key *k = *socket_context;
        pthread_mutex_lock(&g->mu);
        for (size_t i = 0; i < g->nserved; i++)
            if (key_eq(&g->served[i].ip, k)) {
                g->served_total--;
                if (--g->served[i].n == 0) g->served[i] = g->served[--g->nserved];
                break;
            }
        pthread_mutex_unlock(&g->mu);
        free(k);
        *socket_context = NULL;
    }
}

/* ---- the header check (pure) ---- */

size_t srv_gate_header_end(const char *buf, size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n') continue;
        if (buf[i + 1] == '\n') return i + 2;
        if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n') return i + 3;
    }
    return 0;
}

static bool is_tchar(unsigned char ch) {
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

#define REFUSE(code, ...) (snprintf(why, whylen, __VA_ARGS__), (code))

int srv_gate_check_headers(const char *buf, size_t len, char *why, size_t whylen) {
    size_t i = 0;
    int hosts = 0, lengths = 0;
    bool te = false, http11 = false, first = true;
    while (i < len) {
        size_t start = i;
        while (i < len && buf[i] != '\n') i++;
        if (i == len) return REFUSE(400, "the request headers do not end with an empty line");
        size_t end = i++; /* buf[end] == '\n' */
        if (end > start && buf[end - 1] == '\r') end--;
        const char *s = buf + start;
        size_t n = end - start;
        for (size_t k = 0; k < n; k++) {
            unsigned char ch = (unsigned char)s[k];
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                return REFUSE(400, "a control character (0x%02x) in the request %s", ch, first ? "line" : "headers");
        }
        if (first) {
            first = false;
            const char *sp1 = memchr(s, ' ', n);
            const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(s + n - sp1 - 1)) : NULL;
            if (!sp1 || !sp2 || sp1 == s || sp2 == sp1 + 1 || memchr(sp2 + 1, ' ', (size_t)(s + n - sp2 - 1)))
                return REFUSE(400, "malformed request line: expected 'METHOD TARGET HTTP/1.1'");
            for (const char *p = s; p < sp1; p++)
                if (!is_tchar((unsigned char)*p)) return REFUSE(400, "malformed request method");
            size_t vl = (size_t)(s + n - sp2 - 1);
            const char *v = sp2 + 1;
            if (vl == 8 && !memcmp(v, "HTTP/1.1", 8)) http11 = true;
            else if (!(vl == 8 && !memcmp(v, "HTTP/1.0", 8))) {
                if (vl >= 5 && !memcmp(v, "HTTP/", 5)) return REFUSE(505, "only HTTP/1.0 and HTTP/1.1 are served");
                return REFUSE(400, "malformed request line: expected 'METHOD TARGET HTTP/1.1'");
            }
            continue;
        }
        if (n == 0) break; /* the empty line: end of the headers */
        if (s[0] == ' ' || s[0] == '\t') return REFUSE(400, "obsolete line folding in the request headers");
        const char *colon = memchr(s, ':', n);
        if (!colon) return REFUSE(400, "a request header line without ':'");
        if (colon == s) return REFUSE(400, "a request header with an empty name");
        for (const char *p = s; p < colon; p++)
            if (!is_tchar((unsigned char)*p)) return REFUSE(400, "whitespace or an invalid character in a header name");
        size_t nl = (size_t)(colon - s);
        const char *v = colon + 1, *ve = s + n;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        if (nl == 4 && !strncasecmp(s, "Host", 4)) hosts++;
        else if (nl == 17 && !strncasecmp(s, "Transfer-Encoding", 17)) te = true;
        else if (nl == 14 && !strncasecmp(s, "Content-Length", 14)) {
            lengths++;
            size_t dl = (size_t)(ve - v);
            if (dl == 0) return REFUSE(400, "malformed Content-Length: empty");
            for (const char *p = v; p < ve; p++)
                if (*p < '0' || *p > '9') return REFUSE(400, "malformed Content-Length: not a whole number of bytes");
            if (dl > 18) return REFUSE(413, "the request body is larger than the server accepts");
        }
    }
    if (hosts > 1) return REFUSE(400, "%d Host headers: a request must have exactly one (RFC 9110)", hosts);
    if (http11 && hosts == 0) return REFUSE(400, "an HTTP/1.1 request must have a Host header (RFC 9112)");
    if (lengths > 1) return REFUSE(400, "%d Content-Length headers: at most one is allowed", lengths);
    if (lengths && te) return REFUSE(400, "a request must not have both Content-Length and Transfer-Encoding");
    return 0;
}

/* ---- replies written by the gate itself ---- */

#define STR_(x) #x
#define STR(x) STR_(x)
#define RETRY_AFTER STR(SRV_RETRY_AFTER_S)

static const char *reason(int code) {
    switch (code) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    }
    return "Error";
}

/* Answers and closes: a short JSON error in the API's own shape, then a lingering close (what
 * the client sent is read first, so that closing does not reset the reply away). why is the
 * gate's own text, never a byte of the request. */
static void reply_and_close(int fd, int code, const char *why) {
    char msg[1024];
    cJSON *err = api_json_error(why, NULL, (unsigned)code);
    char *body = json_print(err);
    cJSON_Delete(err);
    int bl = body && strlen(body) < 512 ? (int)strlen(body) : 0;
    int ml = snprintf(msg, sizeof msg,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n"
                      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%sConnection: close\r\n\r\n%s",
                      code, reason(code), bl, code == 503 ? "Retry-After: " RETRY_AFTER "\r\n" : "", bl ? body : "");
    cJSON_free(body);
    if (ml > 0 && (size_t)ml < sizeof msg) (void)!send(fd, msg, (size_t)ml, MSG_NOSIGNAL | MSG_DONTWAIT);
    char scratch[4096];
    for (int k = 0; k < 16 && recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) > 0; k++) {
    }
    shutdown(fd, SHUT_WR);
    close(fd);
}

/* One stderr line per minute at most, however many connections are refused. */
static void log_refusal(srv_gate *g, const char *what) {
    double t = now_s();
    g->unlogged++;
    if (g->log_at > 0 && t - g->log_at < 60) return;
    fprintf(stderr,
            "wgtrain serve: %s: answering 503 with Retry-After (%lu refused since the last such line; at most one "
            "line a minute)\n",
            what, g->unlogged);
    g->log_at = t;
    g->unlogged = 0;
}

/* ---- the waiting list (gate thread) ---- */

static void forget(srv_gate *g, waiting *w) {
    for (size_t i = 0; i < g->nwait; i++)
        if (g->wait[i] == w) {
            g->wait[i] = g->wait[--g->nwait];
            break;
        }
    free(w);
}

static void refuse(srv_gate *g, waiting *w, int code, const char *why) {
    reply_and_close(w->fd, code, why); /* close() also takes it out of the epoll set */
    forget(g, w);
}

static void drop(srv_gate *g, waiting *w) {
    close(w->fd);
    forget(g, w);
}

/* The connection that has waited longest, of one address (ip) or of any, if it has waited at
 * least SRV_GATE_GRACE_S: a connection accepted a moment ago has had no time to send its headers
 * yet, and must not be pushed out by a burst of newcomers behind it. */
static waiting *oldest(srv_gate *g, const ip_key *ip, double now) {
    waiting *best = NULL;
    for (size_t i = 0; i < g->nwait; i++)
        if ((!ip || key_eq(&g->wait[i]->ip, ip)) && (!best || g->wait[i]->since < best->since)) best = g->wait[i];
    return best && now - best->since >= SRV_GATE_GRACE_S ? best : NULL;
}

static void admit(srv_gate *g, int fd, const struct sockaddr_storage *ss, socklen_t sl) {
    ip_key ip = key_of((const struct sockaddr *)ss);
    pthread_mutex_lock(&g->mu);
    uint32_t served_ip = served_for(g, &ip), served_all = g->served_total;
    pthread_mutex_unlock(&g->mu);
    uint32_t wait_ip = 0;
    for (size_t i = 0; i < g->nwait; i++) wait_ip += key_eq(&g->wait[i]->ip, &ip);
    bool ip_full = wait_ip + served_ip >= g->per_ip, all_full = g->nwait + served_all >= g->limit;
    if (ip_full || all_full) {
        /* the oldest connection still without complete headers yields its place */
        waiting *v = oldest(g, ip_full ? &ip : NULL, now_s());
        if (v) {
            log_refusal(g, "connection limit reached; the oldest connections still sending their headers make room");
            refuse(g, v, 503, "the server is busy and this request was the slowest to arrive: try again");
        } else if (g->nwait >= g->limit + g->reserve) {
            log_refusal(g, "connection limit reached, and the gate's reserve is full too");
            reply_and_close(fd, 503, "too many connections: try again in a moment");
            return;
        }
        /* else it waits in the reserve: when its headers arrive it is served if libmicrohttpd
         * has a place for it then, and gets 503 otherwise */
    }
    waiting *w = calloc(1, sizeof *w);
    if (w && g->nwait == g->cap_wait) {
        size_t ncap = g->cap_wait ? 2 * g->cap_wait : 64;
        waiting **n = realloc(g->wait, ncap * sizeof *n);
        if (n) g->wait = n, g->cap_wait = ncap;
    }
    if (!w || g->nwait == g->cap_wait) {
        free(w);
        reply_and_close(fd, 503, "out of memory: try again");
        return;
    }
    w->fd = fd;
    w->ip = ip;
    memcpy(&w->addr, ss, sl);
    w->addrlen = sl;
    w->since = now_s();
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET; /* edge-triggered: woken by each new segment */
    ev.data.ptr = w;
    if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        free(w);
        reply_and_close(fd, 503, "the server cannot take this connection now: try again");
        return;
    }
    g->wait[g->nwait++] = w;
}

/* Something arrived on a waiting connection: are its headers complete, and good? */
static void examine(srv_gate *g, waiting *w, bool hangup) {
    static char buf[SRV_GATE_MAX_HEADER];
    ssize_t n = recv(w->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        drop(g, w); /* gone before its request was complete */
        return;
    }
    if (n < 0) return;
    size_t end = srv_gate_header_end(buf, (size_t)n);
    if (!end) {
        if ((size_t)n >= sizeof buf)
            refuse(g, w, 431, "the request line and headers are larger than 16 KiB");
        else if (hangup)
            drop(g, w);
        return;
    }
    char why[200];
    int code = srv_gate_check_headers(buf, end, why, sizeof why);
    if (code) {
        refuse(g, w, code, why);
        return;
    }
    pthread_mutex_lock(&g->mu);
    bool full = served_for(g, &w->ip) >= g->per_ip || g->served_total >= g->limit;
    pthread_mutex_unlock(&g->mu);
    if (full) {
        log_refusal(g, "connection limit reached and every connection is being served");
        refuse(g, w, 503, "too many connections: try again in a moment");
        return;
    }
    epoll_ctl(g->ep, EPOLL_CTL_DEL, w->fd, NULL);
    int fd = w->fd;
    struct sockaddr_storage addr = w->addr;
    socklen_t addrlen = w->addrlen;
    forget(g, w);
    /* libmicrohttpd now owns fd (and closes it even when this fails) */
    MHD_add_connection(g->d, fd, (const struct sockaddr *)&addr, addrlen);
}

static void *gate_main(void *arg) {
    srv_gate *g = arg;
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(g->ep, evs, 64, 250);
        if (n < 0 && errno != EINTR) break;
        bool stop = false, incoming = false;
        for (int k = 0; k < n; k++) {
            if (evs[k].data.ptr == &g->listen_fd) {
                incoming = true;
            } else if (evs[k].data.ptr == &g->wake_fd) {
                stop = true;
            } else {
                /* frees at most its own entry, which no other event of this batch names */
                examine(g, evs[k].data.ptr, (evs[k].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
            }
        }
        if (stop) break;
        /* accepting may push waiting connections out (and free them): only after the batch's
         * events, which point at them, have been handled */
        if (incoming) {
            for (;;) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof ss;
                int fd = accept4(g->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                    if (errno == EINTR || errno == ECONNABORTED) continue;
                    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        log_refusal(g, "out of file descriptors");
                        struct timespec ts = {0, 50 * 1000000L};
                        nanosleep(&ts, NULL); /* the backlog waits; no busy loop */
                    }
                    break;
                }
                admit(g, fd, &ss, sl);
            }
        }
        double t = now_s();
        for (size_t i = 0; i < g->nwait;) {
            waiting *w = g->wait[i];
            if (t - w->since > g->deadline) {
                char why[160];
                snprintf(why, sizeof why, "the request headers were not complete within %.0f s", g->deadline);
                refuse(g, w, 408, why); /* moves the last entry to i */
            } else {
                i++;
            }
        }
    }
    return NULL;
}

/* ---- lifecycle ---- */

srv_gate *srv_gate_new(int listen_fd, uint32_t connection_limit, uint32_t per_ip_limit, double header_deadline_s) {
    srv_gate *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->listen_fd = listen_fd;
    g->limit = connection_limit;
    g->per_ip = per_ip_limit < connection_limit ? per_ip_limit : connection_limit;
    g->reserve = connection_limit / 2 > 16 ? connection_limit / 2 : 16;
    g->deadline = header_deadline_s;
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g->ep < 0 || g->wake_fd < 0 || pthread_mutex_init(&g->mu, NULL) != 0) {
        if (g->ep >= 0) close(g->ep);
        if (g->wake_fd >= 0) close(g->wake_fd);
        free(g);
        return NULL;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &g->listen_fd;
    int a = epoll_ctl(g->ep, EPOLL_CTL_ADD, listen_fd, &ev);
    ev.data.ptr = &g->wake_fd;
    int b = epoll_ctl(g->ep, EPOLL_CTL_ADD, g->wake_fd, &ev);
    if (a || b) {
        close(g->ep), close(g->wake_fd);
        pthread_mutex_destroy(&g->mu);
        free(g);
        return NULL;
    }
    return g;
}

int srv_gate_start(srv_gate *g, struct MHD_Daemon *d) {
    g->d = d;
    int rc = pthread_create(&g->thread, NULL, gate_main, g);
    g->running = g->owns_listen = rc == 0;
    return rc;
}

void srv_gate_stop(srv_gate *g) {
    if (!g) return;
    if (g->running) {
        uint64_t one = 1;
        (void)!write(g->wake_fd, &one, sizeof one);
        pthread_join(g->thread, NULL);
        g->running = false;
    }
    while (g->nwait) drop(g, g->wait[0]);
    if (g->owns_listen && g->listen_fd >= 0) close(g->listen_fd);
    g->listen_fd = -1;
}

void srv_gate_free(srv_gate *g) {
    if (!g) return;
    srv_gate_stop(g);
    close(g->ep);
    close(g->wake_fd);
    pthread_mutex_destroy(&g->mu);
    free(g->served);
    free(g->wait);
    free(g);
}
