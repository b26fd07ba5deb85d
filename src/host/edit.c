/* Live edits as the hosts show and take them; see edit.h. */
#include "host/edit.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *host_edit_json(const mlp_edit *e, const mlp_edit_result *r, uint32_t steps_per_epoch) {
    uint32_t spe = steps_per_epoch ? steps_per_epoch : 1;
    cJSON *j = cJSON_CreateObject();
    bool ok = j && json_add_string(j, "event", "edit") && json_add_integer(j, "step", r->step) &&
              json_add_integer(j, "epoch", r->step / spe + 1) && json_add_integer(j, "epoch_step", r->step % spe) &&
              json_add_number(j, "x", (double)r->step / spe, 9) && (!e->set_lr || json_add_number(j, "lr", r->lr, 7)) &&
              (!e->set_momentum || json_add_number(j, "momentum", r->momentum, 7)) &&
              json_add_number(j, "lr_scale", r->lr_scale, 9);
    if (!ok) cJSON_Delete(j);
    return ok ? j : NULL;
}

void host_edit_label(const mlp_edit *e, const mlp_edit_result *r, char *buf, size_t cap) {
    int n = 0;
    buf[0] = 0;
    if (e->set_lr) n = snprintf(buf, cap, "lr %.7g", (double)r->lr);
    if (e->set_momentum && n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "%smomentum %.7g", n ? ", " : "", (double)r->momentum);
}

/* the next word of s (letters, digits and the characters of numbers), or NULL at the end */
static const char *word(const char **s, char *buf, size_t cap) {
    const char *p = *s;
    while (*p == ' ' || *p == '\t' || *p == ',' || *p == '=') p++;
    if (!*p) return NULL;
    size_t n = 0;
    while (*p && *p != ' ' && *p != '\t' && *p != ',' && *p != '=') {
        if (n + 1 < cap) buf[n++] = *p;
        p++;
    }
    buf[n] = 0;
    *s = p;
    return buf;
}

int host_edit_parse_line(const char *line, mlp_edit *out, char *err, size_t errlen) {
    char copy[256];
    size_t len = strcspn(line, "\r\n");
    if (len >= sizeof copy) {
        snprintf(err, errlen, "a control line must be under %zu characters", sizeof copy);
        return -1;
    }
    memcpy(copy, line, len);
    copy[len] = 0;
    const char *s = copy;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s || *s == '#') return 0;
    mlp_edit e = {false, false, 0, 0};
    char key[64], value[64];
    while (word(&s, key, sizeof key)) {
        bool lr = !strcmp(key, "lr"), mom = !strcmp(key, "momentum");
        if (!lr && !mom) {
            snprintf(err, errlen, "unknown control '%.40s': a line is 'lr X' and/or 'momentum M'", key);
            return -1;
        }
        if ((lr && e.set_lr) || (mom && e.set_momentum)) {
            snprintf(err, errlen, "%s is given twice on one line", key);
            return -1;
        }
        if (!word(&s, value, sizeof value)) {
            snprintf(err, errlen, "%s needs a value, e.g. '%s'", key, lr ? "lr 0.01" : "momentum 0.8");
            return -1;
        }
        char *end;
        double v = strtod(value, &end);
        if (*end || end == value || !isfinite(v)) {
            snprintf(err, errlen, "%s must be a number (got '%.40s')", key, value);
            return -1;
        }
        if (lr) e.set_lr = true, e.lr = (float)v;
        else e.set_momentum = true, e.momentum = (float)v;
    }
    *out = e;
    return 1;
}
