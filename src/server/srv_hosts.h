/* Which Host headers and Origins the dashboard server answers to (unit-tested in
 * tests/test_server.c): the checks against DNS rebinding. */
#ifndef WGTRAIN_SRV_HOSTS_H
#define WGTRAIN_SRV_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which Host headers (and Origins) this server answers to. A bound name or address is
 * accepted with the bound port; a loopback bind also accepts localhost, 127.0.0.1 and [::1];
 * a wildcard bind (0.0.0.0, ::) accepts IP literals and localhost, never a DNS name, since
 * DNS rebinding needs a name that the attacker controls. */
typedef struct srv_host_rules {
    char host[256]; /* as bound, lower case, IPv6 without brackets */
    uint16_t port;
    bool loopback, wildcard;
} srv_host_rules;

void srv_host_rules_init(srv_host_rules *r, const char *host, uint16_t port);
bool srv_host_allowed(const srv_host_rules *r, const char *host_header);
/* No Origin header is fine (non-browser clients); otherwise it must be http://<allowed host>. */
bool srv_origin_allowed(const srv_host_rules *r, const char *origin);
/* The authority to print in URLs: host:port, with brackets for IPv6. */
void srv_host_authority(const srv_host_rules *r, char *out, size_t n);

#endif
