/* The gate in front of libmicrohttpd: wgtrain serve's own accept loop (srv_gate.c).
 *
 * Why: libmicrohttpd 0.9.75 gives slow or hostile clients too much. Its idle timeout restarts
 * on every byte, so a client that trickles its request headers (slowloris) holds a connection
 * for as long as it likes; with its per-address cap of 128, 128 such connections from
 * 127.0.0.1 lock every other local client out, and the refused ones get a reset (and a stderr
 * line each), never a reply. And the few requests it refuses itself (an HTTP/1.1 request with no
 * Host, a malformed Content-Length) get a 400 whose header block is sent twice.
 *
 * What: the listening socket belongs to the gate, not to libmicrohttpd (which runs with
 * MHD_USE_NO_LISTEN_SOCKET). One thread accepts every connection and holds it, unread, in an
 * epoll set (edge-triggered, so each arriving segment wakes it although nothing is consumed)
 * until its request headers are complete, looking at them with recv(MSG_PEEK) only. This is an
 * accept filter, like FreeBSD's accf_http or nginx's client_header_timeout:
 *   - the headers must be complete within a deadline counted from accept (SRV_HEADER_DEADLINE_S,
 *     at most the idle timeout): trickling cannot restart it; past it, 408 and close;
 *   - the gate checks the header block itself and answers 400 (two Host headers, an HTTP/1.1
 *     request without Host, a malformed or repeated Content-Length, Content-Length with
 *     Transfer-Encoding, a malformed request line or header line) and 431 (over 16 KiB),
 *     before libmicrohttpd could;
 *   - a complete, well-formed request is handed to libmicrohttpd (MHD_add_connection), which
 *     reads those same bytes; every response says "Connection: close", so every request on
 *     the server passes the gate;
 *   - caps, per client address (per_ip_limit) and in all (connection_limit), count the
 *     connections waiting here plus those libmicrohttpd serves (MHD_OPTION_NOTIFY_CONNECTION).
 *     A new connection over a cap takes the place of the oldest connection still waiting for
 *     its headers, if that one has waited SRV_GATE_GRACE_S (it gets 503): connections that have
 *     sent nothing useful yield to newcomers. Otherwise the newcomer waits in a reserve (half
 *     the connection limit again) and is served when its headers arrive if libmicrohttpd has a
 *     place then. So a legitimate request, whose headers come in milliseconds, gets in and is
 *     answered even from the address of a flood. Only when every counted connection is being
 *     served does it get 503 with Retry-After (when its headers arrive, or at once when even
 *     the reserve is full);
 *   - a flood of refusals writes one stderr line per minute, not one per connection. */
#ifndef WGTRAIN_SRV_GATE_H
#define WGTRAIN_SRV_GATE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_HEADER_DEADLINE_S 5.0  /* seconds from accept to complete request headers */
#define SRV_GATE_MAX_HEADER 16384  /* bytes of request line + headers accepted */
#define SRV_RETRY_AFTER_S 2        /* Retry-After of a 503 */
#define SRV_GATE_GRACE_S 1.0       /* a waiting connection younger than this is never pushed out */

typedef struct srv_gate srv_gate;

/* For listen_fd (non-blocking, listening), which the gate owns and closes once started (until
 * then, and when starting fails, it is still the caller's). NULL on failure. */
srv_gate *srv_gate_new(int listen_fd, uint32_t connection_limit, uint32_t per_ip_limit, double header_deadline_s);
/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback; cls is the gate. */
void srv_gate_notify(void *cls, struct MHD_Connection *c, void **socket_context, enum MHD_ConnectionNotificationCode code);
/* Starts the accept thread, which hands requests to d. 0 or an errno. */
int srv_gate_start(srv_gate *g, struct MHD_Daemon *d);
/* Stops the accept thread and closes the listening socket and every waiting connection. */
void srv_gate_stop(srv_gate *g);
/* Frees the gate: after MHD_stop_daemon (whose last notifications it counts). */
void srv_gate_free(srv_gate *g);

/* The header check, on its own (tests): buf holds a complete header block of len bytes (up to
 * and including the empty line). Returns 0 when the request may go on, else the status to
 * answer (400, 413) with a one-line reason in why. */
int srv_gate_check_headers(const char *buf, size_t len, char *why, size_t whylen);
/* Length of the header block in buf (through the empty line, CRLF or bare LF), 0 if incomplete. */
size_t srv_gate_header_end(const char *buf, size_t len);

#endif
