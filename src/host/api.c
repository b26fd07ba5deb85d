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
    api_train_params p = {d.epochs, d.batch, d.arch, d.optimizer, (double)d.lr, (double)d.momentum, (double)d.weight_decay, d.seed, true};
    if (p.epochs > API_EPOCHS_MAX) p.epochs = API_EPOCHS_MAX;
    if (p.batch > lim->batch_max) p.batch = lim->batch_max;
    for (uint32_t l = 0; l < p.arch.hidden_layers; l++)
        if (p.arch.hidden[l] > lim->hidden_max) p.arch.hidden[l] = lim->hidden_max;
    return p;
}

mlp_config api_train_config(const api_train_params *p) {
    mlp_config c = mlp_config_default();
    c.epochs = p->epochs;
    c.batch = p->batch;
    c.arch = p->arch;
    c.optimizer = p->optimizer;
    c.lr = (float)p->lr;
    c.momentum = (float)p->momentum;
    c.weight_decay = (float)p->weight_decay;
    c.seed = p->seed;
    return c;
}

void api_hidden_text(const api_train_params *p, char *buf, size_t cap) { model_hidden_format(&p->arch, buf, cap); }

/* the names a choice accepts, for messages and for the page: "relu, gelu, ..." */
static const model_activation activations[] = {MODEL_ACT_RELU, MODEL_ACT_GELU, MODEL_ACT_TANH, MODEL_ACT_SIGMOID, MODEL_ACT_LEAKY_RELU};
static const optim_kind optimizers[] = {OPTIM_SGD, OPTIM_MOMENTUM, OPTIM_NESTEROV, OPTIM_ADAM, OPTIM_ADAMW};
#define COUNT(a) (sizeof a / sizeof *a)

static cJSON *choice(const char *const *names, size_t n, const char *dflt) {
    cJSON *o = cJSON_CreateObject(), *values = NULL;
    bool ok = o && json_add(o, "values", (values = cJSON_CreateArray())) && json_add_string(o, "default", dflt);
    for (size_t i = 0; ok && i < n; i++) ok = cJSON_AddItemToArray(values, json_string(names[i]));
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
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
    const char *act_names[COUNT(activations)], *opt_names[COUNT(optimizers)];
    for (size_t i = 0; i < COUNT(activations); i++) act_names[i] = model_activation_name(activations[i]);
    for (size_t i = 0; i < COUNT(optimizers); i++) opt_names[i] = optim_name(optimizers[i]);
    char hidden[128];
    api_hidden_text(&d, hidden, sizeof hidden);
    cJSON *o = cJSON_CreateObject(), *h = NULL;
    /* hidden: a list of widths, each in [min, max], at most `layers` of them */
    bool ok = o && json_add(o, "epochs", limit(1, false, API_EPOCHS_MAX, false, d.epochs, true)) &&
              json_add(o, "batch", limit(1, false, lim->batch_max, false, d.batch, true)) &&
              json_add(o, "lr", limit(0, true, API_LR_MAX, false, d.lr, false)) &&
              json_add(o, "hidden", (h = cJSON_CreateObject())) && json_add_integer(h, "min", 1) &&
              json_add_integer(h, "max", lim->hidden_max) && json_add_integer(h, "layers", MODEL_MAX_HIDDEN_LAYERS) &&
              json_add_string(h, "default", hidden) && json_add(h, "list", cJSON_CreateTrue()) &&
              json_add(o, "activation", choice(act_names, COUNT(act_names), model_activation_name(d.arch.activation))) &&
              json_add(o, "optimizer", choice(opt_names, COUNT(opt_names), optim_name(d.optimizer))) &&
              json_add(o, "weight_decay", limit(0, false, 1, false, d.weight_decay, false)) &&
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

static bool get_bool(const cJSON *obj, const char *key, bool *out, api_error *e) {
    const cJSON *v = member(obj, key);
    if (!v) return true;
    if (!cJSON_IsBool(v)) return set_error(e, key, "%s must be true or false, not %s", key, json_type_name(v));
    *out = cJSON_IsTrue(v);
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

/* hidden: a width or a list "256,128", as the CLI's --hidden, each width within the limits */
static bool get_hidden(const cJSON *obj, const api_limits *lim, model_arch *arch, api_error *e) {
    const cJSON *v = member(obj, "hidden");
    if (!v) return true;
    char text[64], why[160];
    if (cJSON_IsNumber(v)) {
        uint64_t w;
        if (!get_integer(obj, "hidden", 1, lim->hidden_max, &w, e)) return false;
        snprintf(text, sizeof text, "%llu", (unsigned long long)w);
    } else if (cJSON_IsString(v)) {
        if (strlen(v->valuestring) >= sizeof text)
            return set_error(e, "hidden", "hidden must be a list of widths like \"256,128\" (got %zu characters)", strlen(v->valuestring));
        snprintf(text, sizeof text, "%s", v->valuestring);
    } else
        return set_error(e, "hidden", "hidden must be a width or a list of widths like \"256,128\", not %s", json_type_name(v));
    model_arch a = *arch;
    if (!model_hidden_parse(text, &a, why, sizeof why)) return set_error(e, "hidden", "%s", why);
    for (uint32_t l = 0; l < a.hidden_layers; l++)
        if (a.hidden[l] > lim->hidden_max)
            return set_error(e, "hidden", "hidden widths must be 1 to %u (got %u)", lim->hidden_max, a.hidden[l]);
    arch->hidden_layers = a.hidden_layers;
    memcpy(arch->hidden, a.hidden, sizeof a.hidden);
    return true;
}

/* a name, parsed by the engine's own parser (as the CLI's flag is); the message lists names */
static bool get_name(const cJSON *obj, const char *key, const char *const *names, size_t n, bool (*parse)(const char *, void *),
                     void *out, api_error *e) {
    const cJSON *v = member(obj, key);
    if (!v) return true;
    char list[160] = "";
    for (size_t i = 0; i < n; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    if (!cJSON_IsString(v)) return set_error(e, key, "%s must be one of %s, not %s", key, list, json_type_name(v));
    if (!parse(v->valuestring, out)) return set_error(e, key, "%s must be one of %s (got '%.40s')", key, list, v->valuestring);
    return true;
}

static bool parse_activation(const char *s, void *out) { return model_activation_parse(s, out); }
static bool parse_optimizer(const char *s, void *out) { return optim_parse(s, out); }

bool api_parse_train(const char *body, size_t len, const api_limits *lim, api_train_params *out, api_error *e) {
    static const char *const known[] = {"epochs", "batch", "lr", "hidden", "activation", "optimizer", "weight_decay",
                                        "momentum", "seed", "kernel_times", NULL};
    const char *act_names[COUNT(activations)], *opt_names[COUNT(optimizers)];
    for (size_t i = 0; i < COUNT(activations); i++) act_names[i] = model_activation_name(activations[i]);
    for (size_t i = 0; i < COUNT(optimizers); i++) opt_names[i] = optim_name(optimizers[i]);
    cJSON *obj;
    if (!parse_object(body, len, true, &obj, e)) return false;
    api_train_params p = api_train_defaults(lim);
    uint64_t epochs = p.epochs, batch = p.batch, seed = p.seed;
    bool ok = check_keys(obj, known, e) && get_integer(obj, "epochs", 1, API_EPOCHS_MAX, &epochs, e) &&
              get_integer(obj, "batch", 1, lim->batch_max, &batch, e) && get_hidden(obj, lim, &p.arch, e) &&
              get_name(obj, "activation", act_names, COUNT(act_names), parse_activation, &p.arch.activation, e) &&
              get_name(obj, "optimizer", opt_names, COUNT(opt_names), parse_optimizer, &p.optimizer, e) &&
              get_integer(obj, "seed", 0, API_SEED_MAX, &seed, e) &&
              get_number(obj, "lr", &p.lr, e, "in (0, 10]") &&
              get_number(obj, "momentum", &p.momentum, e, "in [0, 1)") &&
              get_number(obj, "weight_decay", &p.weight_decay, e, "in [0, 1]") &&
              get_bool(obj, "kernel_times", &p.kernel_times, e);
    /* as the CLI: plain SGD has no momentum unless given, and AdamW's decoupled decay is 0.01
     * unless given (torch.optim.AdamW's default) */
    if (ok && p.optimizer == OPTIM_SGD && !member(obj, "momentum")) p.momentum = 0;
    if (ok && p.optimizer == OPTIM_ADAMW && !member(obj, "weight_decay")) p.weight_decay = 0.01;
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
    if (ok && !(p.weight_decay >= 0 && p.weight_decay <= 1)) {
        char got[40];
        show_value(member(obj, "weight_decay"), got, sizeof got);
        ok = set_error(e, "weight_decay", "weight_decay must be a number in [0, 1] (got %s)", got);
    }
    cJSON_Delete(obj);
    if (!ok) return false;
    p.epochs = (uint32_t)epochs, p.batch = (uint32_t)batch, p.seed = seed;
    /* the engine's own rules on the whole configuration (sgd with momentum, nesterov without):
     * its message starts with the field at fault */
    char why[256];
    mlp_config cfg = api_train_config(&p);
    if (mlp_config_check(&cfg, 0, why, sizeof why) != MLP_OK) {
        char field[32];
        size_t n = strcspn(why, " ");
        snprintf(field, sizeof field, "%.*s", (int)(n < sizeof field ? n : sizeof field - 1), why);
        return set_error(e, field, "%s", why);
    }
    *out = p;
    return true;
}

bool api_parse_edit(const char *body, size_t len, const mlp_config *run, mlp_edit *out, api_error *e) {
    static const char *const known[] = {"lr", "momentum", NULL};
    cJSON *obj;
    if (!parse_object(body, len, false, &obj, e)) return false;
    double lr = 0, momentum = 0;
    bool ok = check_keys(obj, known, e) && get_number(obj, "lr", &lr, e, "in (0, 10]") &&
              get_number(obj, "momentum", &momentum, e, "in [0, 1)");
    mlp_edit ed = {member(obj, "lr") != NULL, member(obj, "momentum") != NULL, (float)lr, (float)momentum};
    if (ok && !ed.set_lr && !ed.set_momentum) ok = set_error(e, "", "an edit needs lr or momentum, e.g. {\"lr\":0.01}");
    if (ok && ed.set_lr && !(lr > 0 && lr <= API_LR_MAX && ed.lr > 0)) {
        char got[40];
        show_value(member(obj, "lr"), got, sizeof got);
        ok = set_error(e, "lr", "lr must be a number in (0, %g] (got %s)", API_LR_MAX, got);
    }
    if (ok && ed.set_momentum && !(momentum >= 0 && momentum < 1 && ed.momentum < 1)) {
        char got[40];
        show_value(member(obj, "momentum"), got, sizeof got);
        ok = set_error(e, "momentum", "momentum must be a number in [0, 1) (got %s)", got);
    }
    cJSON_Delete(obj);
    if (!ok) return false;
    /* the engine's rules for this run's optimizer (sgd has no momentum, nesterov needs some) */
    if (run) {
        mlp_live l = mlp_live_initial(run);
        mlp_edit_result r;
        char why[256];
        if (!mlp_live_apply(run, &l, &ed, 0, 1, &r, why, sizeof why)) {
            char field[32];
            size_t n = strcspn(why, " :");
            snprintf(field, sizeof field, "%.*s", (int)(n < sizeof field ? n : sizeof field - 1), why);
            return set_error(e, field, "%s", why);
        }
    }
    *out = ed;
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
        uint32_t inputs = lim->rows * lim->cols;
        if (!cJSON_IsArray(px))
            ok = set_error(e, "pixels", "pixels must be an array of %u integers 0..255 (%ux%u, row-major), not %s", inputs,
                           lim->rows, lim->cols, json_type_name(px));
        else if (count != inputs)
            ok = set_error(e, "pixels", "pixels must hold %u integers 0..255 (%ux%u, row-major), not %zu", inputs, lim->rows,
                           lim->cols, count);
        if (ok && !(out->pixels = malloc(inputs))) ok = set_error(e, "", "out of memory");
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
