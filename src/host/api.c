/* Input rules of the dashboard API; see api.h. */
#include "host/api.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mlp.h"
#include "host/buf.h"
#include "util/json.h"

api_train_params api_train_defaults(const api_limits *lim) {
    mlp_config d = mlp_config_default();
    api_train_params p = {d.epochs, d.batch, d.arch.hidden[0], (double)d.lr, (double)d.momentum, d.seed};
    if (p.epochs > API_EPOCHS_MAX) p.epochs = API_EPOCHS_MAX;
    if (p.batch > lim->batch_max) p.batch = lim->batch_max;
    if (p.hidden > lim->hidden_max) p.hidden = lim->hidden_max;
    return p;
}

/* {"min","max","default","integer"} plus the exclusive bounds where they apply */
static cJSON *limit(double min, bool min_exclusive, double max, bool max_exclusive, double dflt, bool integer) {
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add_number(o, "min", min, 17) && (!min_exclusive || json_add(o, "min_exclusive", cJSON_CreateTrue())) &&
              json_add(o, "max", integer ? json_integer((unsigned long long)max) : json_number(max, 17)) &&
              (!max_exclusive || json_add(o, "max_exclusive", cJSON_CreateTrue())) &&
              json_add(o, "default", integer ? json_integer((unsigned long long)dflt) : json_number(dflt, 7)) &&
              (!integer || json_add(o, "integer", cJSON_CreateTrue()));
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

cJSON *api_limits_json(const api_limits *lim) {
    api_train_params d = api_train_defaults(lim);
    cJSON *o = cJSON_CreateObject();
    bool ok = o && json_add(o, "epochs", limit(1, false, API_EPOCHS_MAX, false, d.epochs, true)) &&
              json_add(o, "batch", limit(1, false, lim->batch_max, false, d.batch, true)) &&
              json_add(o, "lr", limit(0, true, API_LR_MAX, false, d.lr, false)) &&
              json_add(o, "hidden", limit(1, false, lim->hidden_max, false, d.hidden, true)) &&
              json_add(o, "momentum", limit(0, false, 1, true, d.momentum, false)) &&
              json_add(o, "seed", limit(0, false, (double)API_SEED_MAX, false, (double)d.seed, true));
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

static bool set_error(api_error *e, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool set_error(api_error *e, const char *field, const char *fmt, ...) {
    snprintf(e->field, sizeof e->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return false;
}

/* Parses the body as a JSON object (empty body: NULL object, allowed when empty_ok). */
static bool parse_object(const char *body, size_t len, bool empty_ok, cJSON **out, api_error *e) {
    static const json_rules rules = {API_JSON_MAX_DEPTH, false, false, false};
    *out = NULL;
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) i++;
    if (i == len) {
        if (empty_ok) return true;
        return set_error(e, "", "the request body is empty; a JSON object is expected");
    }
    json_error je;
    cJSON *v = json_parse_strict(body, len, &rules, &je);
    if (!v) {
        char at[32] = "", in[96] = "";
        if (je.offset != JSON_NO_OFFSET) snprintf(at, sizeof at, " at byte %zu", je.offset);
        if (je.member[0]) snprintf(in, sizeof in, ", in the value of '%s'", je.member);
        return set_error(e, je.member, "invalid JSON%s%s: %s", at, in, je.reason);
    }
    if (!cJSON_IsObject(v)) {
        set_error(e, "", "the body must be a JSON object, not %s", json_type_name(v));
        cJSON_Delete(v);
        return false;
    }
    *out = v;
    return true;
}

static bool check_keys(const cJSON *obj, const char *const *known, api_error *e) {
    for (const cJSON *m = obj ? obj->child : NULL; m; m = m->next) {
        bool ok = false;
        for (const char *const *k = known; *k; k++) ok = ok || !strcmp(m->string, *k);
        if (!ok) {
            char shown[48];
            snprintf(shown, sizeof shown, "%s", m->string);
            host_buf list = {0};
            for (const char *const *k = known; *k; k++) host_buf_printf(&list, "%s%s", k == known ? "" : ", ", *k);
            set_error(e, shown, "unknown key '%s' (known: %s)", shown, list.data ? list.data : "none");
            host_buf_free(&list);
            return false;
        }
    }
    return true;
}

static void show_value(const cJSON *v, char *out, size_t n) {
    if (cJSON_IsNumber(v)) snprintf(out, n, "%.17g", v->valuedouble);
    else snprintf(out, n, "%s", json_type_name(v));
}

/* a member by its exact key (cJSON_GetObjectItem ignores case) */
static const cJSON *member(const cJSON *obj, const char *key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }

static bool get_integer(const cJSON *obj, const char *key, uint64_t min, uint64_t max, uint64_t *out, api_error *e) {
    const cJSON *v = member(obj, key);
    if (!v) return true;
    if (!cJSON_IsNumber(v))
        return set_error(e, key, "%s must be an integer from %llu to %llu, not %s", key, (unsigned long long)min,
                         (unsigned long long)max, json_type_name(v));
    double x = v->valuedouble;
    if (x != floor(x) || x < (double)min || x > (double)max) {
        char got[40];
        show_value(v, got, sizeof got);
        return set_error(e, key, "%s must be an integer from %llu to %llu (got %s)", key, (unsigned long long)min,
                         (unsigned long long)max, got);
    }
    *out = (uint64_t)x;
    return true;
}

static bool get_number(const cJSON *obj, const char *key, double *out, api_error *e, const char *rule) {
    const cJSON *v = member(obj, key);
    if (!v) return true;
    if (!cJSON_IsNumber(v))
        return set_error(e, key, "%s must be a number %s, not %s", key, rule, json_type_name(v));
    *out = v->valuedouble;
    return true;
}

bool api_parse_train(const char *body, size_t len, const api_limits *lim, api_train_params *out, api_error *e) {
    static const char *const known[] = {"epochs", "batch", "lr", "hidden", "momentum", "seed", NULL};
    cJSON *obj;
    if (!parse_object(body, len, true, &obj, e)) return false;
    api_train_params p = api_train_defaults(lim);
    uint64_t epochs = p.epochs, batch = p.batch, hidden = p.hidden, seed = p.seed;
    bool ok = check_keys(obj, known, e) && get_integer(obj, "epochs", 1, API_EPOCHS_MAX, &epochs, e) &&
              get_integer(obj, "batch", 1, lim->batch_max, &batch, e) &&
              get_integer(obj, "hidden", 1, lim->hidden_max, &hidden, e) &&
              get_integer(obj, "seed", 0, API_SEED_MAX, &seed, e) &&
              get_number(obj, "lr", &p.lr, e, "in (0, 10]") &&
              get_number(obj, "momentum", &p.momentum, e, "in [0, 1)");
    if (ok && !(p.lr > 0 && p.lr <= API_LR_MAX)) {
        char got[40];
        show_value(member(obj, "lr"), got, sizeof got);
        ok = set_error(e, "lr", "lr must be a number in (0, %g] (got %s)", API_LR_MAX, got);
    }
    if (ok && !(p.momentum >= 0 && p.momentum < 1)) {
        char got[40];
        show_value(member(obj, "momentum"), got, sizeof got);
        ok = set_error(e, "momentum", "momentum must be a number in [0, 1) (got %s)", got);
    }
    cJSON_Delete(obj);
    if (!ok) return false;
    p.epochs = (uint32_t)epochs, p.batch = (uint32_t)batch, p.hidden = (uint32_t)hidden, p.seed = seed;
    *out = p;
    return true;
}

bool api_parse_empty(const char *body, size_t len, api_error *e) {
    static const char *const known[] = {NULL};
    cJSON *obj;
    if (!parse_object(body, len, true, &obj, e)) return false;
    bool ok = check_keys(obj, known, e);
    cJSON_Delete(obj);
    return ok;
}

void api_predict_input_free(api_predict_input *in) {
    free(in->pixels);
    free(in->indices);
    memset(in, 0, sizeof *in);
}

bool api_parse_predict(const char *body, size_t len, const api_limits *lim, api_predict_input *out, api_error *e) {
    static const char *const known[] = {"pixels", "indices", NULL};
    memset(out, 0, sizeof *out);
    cJSON *obj;
    if (!parse_object(body, len, false, &obj, e)) return false;
    bool ok = check_keys(obj, known, e);
    const cJSON *px = member(obj, "pixels"), *ix = member(obj, "indices");
    if (ok && !px == !ix) ok = set_error(e, px ? "indices" : "pixels", "give exactly one of pixels and indices");
    if (ok && px) {
        size_t count = cJSON_IsArray(px) ? (size_t)cJSON_GetArraySize(px) : 0;
        if (!cJSON_IsArray(px))
            ok = set_error(e, "pixels", "pixels must be an array of %d integers 0..255 (28x28, row-major), not %s",
                           MLP_INPUTS, json_type_name(px));
        else if (count != MLP_INPUTS)
            ok = set_error(e, "pixels", "pixels must hold %d integers 0..255 (28x28, row-major), not %zu", MLP_INPUTS,
                           count);
        if (ok && !(out->pixels = malloc(MLP_INPUTS))) ok = set_error(e, "", "out of memory");
        size_t i = 0;
        for (const cJSON *v = ok ? px->child : NULL; ok && v; v = v->next, i++) {
            double x = v->valuedouble;
            if (!cJSON_IsNumber(v) || x != floor(x) || x < 0 || x > 255) {
                char got[40];
                show_value(v, got, sizeof got);
                ok = set_error(e, "pixels", "pixels[%zu] must be an integer 0..255 (got %s)", i, got);
            } else
                out->pixels[i] = (uint8_t)x;
        }
        out->n = 1;
    }
    if (ok && ix) {
        size_t count = cJSON_IsArray(ix) ? (size_t)cJSON_GetArraySize(ix) : 0;
        if (!cJSON_IsArray(ix))
            ok = set_error(e, "indices", "indices must be an array of test indices, not %s", json_type_name(ix));
        else if (count < 1 || count > API_INDICES_MAX)
            ok = set_error(e, "indices", "indices must hold 1 to %d test indices (got %zu)", API_INDICES_MAX, count);
        if (ok && !(out->indices = malloc(count * sizeof *out->indices))) ok = set_error(e, "", "out of memory");
        size_t i = 0;
        for (const cJSON *v = ok ? ix->child : NULL; ok && v; v = v->next, i++) {
            double x = v->valuedouble;
            if (!cJSON_IsNumber(v) || x != floor(x) || x < 0 || x >= (double)lim->test_count) {
                char got[40];
                show_value(v, got, sizeof got);
                ok = set_error(e, "indices", "indices[%zu] must be an integer from 0 to %u (got %s)", i,
                               lim->test_count ? lim->test_count - 1 : 0, got);
            } else
                out->indices[i] = (uint32_t)x;
        }
        out->n = (uint32_t)count;
    }
    cJSON_Delete(obj);
    if (!ok) api_predict_input_free(out);
    return ok;
}

bool api_parse_uint(const char *s, uint32_t min, uint32_t max, uint32_t *out) {
    if (!s || !*s || (s[0] == '0' && s[1])) return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > max) return false;
    }
    if (v < min) return false;
    *out = (uint32_t)v;
    return true;
}

bool api_parse_index_list(const char *s, uint32_t max_count, uint32_t limit, uint32_t *out, uint32_t *n) {
    *n = 0;
    if (!s || !*s || !limit) return false;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char tmp[16];
        if (len == 0 || len >= sizeof tmp || *n >= max_count) return false;
        memcpy(tmp, p, len);
        tmp[len] = 0;
        if (!api_parse_uint(tmp, 0, limit - 1, &out[*n])) return false;
        (*n)++;
        if (!comma) return true;
        p = comma + 1;
    }
}

bool api_content_type_is_json(const char *ct) {
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t') ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n)) return false;
    const char *rest = ct + n;
    while (*rest == ' ' || *rest == '\t') rest++;
    return *rest == 0 || *rest == ';';
}
