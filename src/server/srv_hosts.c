/* Host and Origin checks against DNS rebinding; see srv_hosts.h. */
#include "server/srv_hosts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "host/api.h"


static void lower(char *s) {
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

static bool is_ipv4(const char *s) {
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

static bool is_ipv6(const char *s) {
    struct in6_addr a;
    return inet_pton(AF_INET6, s, &a) == 1;
}

void srv_host_rules_init(srv_host_rules *r, const char *host, uint16_t port) {
    memset(r, 0, sizeof *r);
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') snprintf(r->host, sizeof r->host, "%.*s", (int)(n - 2), host + 1);
    else snprintf(r->host, sizeof r->host, "%s", host);
    lower(r->host);
    r->port = port;
    r->loopback = !strcmp(r->host, "localhost") || !strcmp(r->host, "::1") ||
                  (is_ipv4(r->host) && !strncmp(r->host, "127.", 4));
    r->wildcard = !strcmp(r->host, "0.0.0.0") || !strcmp(r->host, "::");
}

void srv_host_authority(const srv_host_rules *r, char *out, size_t n) {
    if (strchr(r->host, ':')) snprintf(out, n, "[%s]:%u", r->host, r->port);
    else snprintf(out, n, "%s:%u", r->host, r->port);
}

/* Splits "name:port", "[v6]:port", "name" or "[v6]" into a lower-case name and a port
 * (-1 when absent). */
static bool split_authority(const char *a, char *name, size_t n, long *port) {
    const char *port_at;
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (!close || (size_t)(close - a - 1) >= n) return false;
        snprintf(name, n, "%.*s", (int)(close - a - 1), a + 1);
        if (!is_ipv6(name)) return false;
        port_at = close + 1;
        if (*port_at && *port_at != ':') return false;
    } else {
        port_at = strchr(a, ':');
        size_t len = port_at ? (size_t)(port_at - a) : strlen(a);
        if (len == 0 || len >= n) return false;
        if (port_at && strchr(port_at + 1, ':')) return false; /* a bare IPv6 address */
        snprintf(name, n, "%.*s", (int)len, a);
        if (!port_at) port_at = a + len;
    }
    lower(name);
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == ':')) return false;
    *port = -1;
    if (*port_at == ':') {
        uint32_t v;
        if (!api_parse_uint(port_at + 1, 1, 65535, &v)) return false;
        *port = v;
    }
    return true;
}

bool srv_host_allowed(const srv_host_rules *r, const char *host_header) {
    if (!host_header || !*host_header) return false;
    char name[256];
    long port;
    if (!split_authority(host_header, name, sizeof name, &port)) return false;
    if (!(port == r->port || (port == -1 && r->port == 80))) return false;
    if (!strcmp(name, r->host) && !r->wildcard) return true;
    if (r->loopback || r->wildcard)
        if (!strcmp(name, "localhost") || !strcmp(name, "127.0.0.1") || !strcmp(name, "::1")) return true;
    if (r->wildcard) return is_ipv4(name) || is_ipv6(name);
    return false;
}

bool srv_origin_allowed(const srv_host_rules *r, const char *origin) {
    if (!origin) return true;
    if (strncmp(origin, "http://", 7)) return false; /* "null", https, other schemes */
    const char *auth = origin + 7;
    if (strchr(auth, '/')) return false;
    return srv_host_allowed(r, auth);
}
