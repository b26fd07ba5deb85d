/* Unit tests of the dashboard server's pure parts (src/server): the strict JSON parser, the
 * request-body rules of every endpoint, query values, the Host/Origin checks against DNS
 * rebinding, and the SSE queue policy (what a slow client loses and what it never loses).
 * The HTTP behaviour end to end is tests/server_api.test.sh. */
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mlp.h"
#include "host/api.h"
#include "host/edit.h"
#include "server/srv_hosts.h"
#include "server/srv_gate.h"
#include "server/srv_hub.h"
#include "host/events.h"
#include "host/buf.h"

/* The strict parser itself is tests/test_json.c; here, what the server writes: an adapter-ish
 * string with quotes, a backslash and control characters comes out escaped and reads back the
 * same; non-finite numbers are null; base64. */
static void test_json(void) {
    const char *awkward = "llvmpipe \"LLVM\" C:\\gpu\n\t\x01\x7f \xff end";
    gpu_adapter_info info = {0};
    snprintf(info.name, sizeof info.name, "%s", awkward);
    snprintf(info.description, sizeof info.description, "desc");
    host_buf b = {0};
    host_buf_json(&b, api_json_device(&info, "fused"));
    CHECK(b.data && strstr(b.data, "\"name\":\"llvmpipe \\\"LLVM\\\" C:\\\\gpu\\n\\t\\u0001\x7f \xef\xbf\xbd end\""),
          "device name escaped: %s", b.data);
    json_error je;
    cJSON *back = b.data ? json_parse_strict(b.data, b.len, &(json_rules){16, false, false, false}, &je) : NULL;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(back, "name");
    CHECK(cJSON_IsString(name) && !strcmp(name->valuestring, "llvmpipe \"LLVM\" C:\\gpu\n\t\x01\x7f \xef\xbf\xbd end"),
          "reads back as strict JSON: %s", back ? "" : je.reason);
    cJSON_Delete(back);
    host_buf_reset(&b);
    host_buf_json(&b, api_json_error("bad \"x\"", "a\\b", 400));
    CHECK(b.data && !strcmp(b.data, "{\"error\":\"bad \\\"x\\\"\",\"field\":\"a\\\\b\",\"status\":400}"), "error: %s", b.data);
    api_epoch ep = {3, NAN, INFINITY, -0.0, 0.25, 1.5, 1000, false, 0, 0};
    host_buf_reset(&b);
    host_buf_json(&b, api_json_epoch(&ep));
    CHECK(b.data && !strcmp(b.data, "{\"epoch\":3,\"loss\":null,\"train_accuracy\":null,\"test_loss\":0,\"test_accuracy\":0.25,"
                                    "\"seconds\":1.5,\"samples_per_second\":1000}"),
          "non-finite numbers: %s", b.data);
    /* a run stopped mid-epoch, evaluated where it stopped: the record says so */
    api_epoch part = {2, 0.5, 0.875, 0.25, 0.9, 2, 100, true, 40, 1.16};
    host_buf_reset(&b);
    host_buf_json(&b, api_json_epoch(&part));
    CHECK(b.data && strstr(b.data, ",\"samples_per_second\":100,\"partial\":true,\"step\":40,\"x\":1.16}"), "partial epoch: %s", b.data);
    const char *b64[][2] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}};
    for (int i = 0; i < 5; i++) {
        host_buf_reset(&b);
        host_buf_base64(&b, (const uint8_t *)b64[i][0], strlen(b64[i][0]));
        CHECK(!strcmp(b.data ? b.data : "", b64[i][1]), "base64 of '%s': %s", b64[i][0], b.data);
    }
    host_buf_free(&b);
}

static api_limits limits(void) {
    api_limits l = {2000, MLP_MAX_HIDDEN, 10000, 28, 28};
    return l;
}

static bool train_fails(const char *body, const char *field) {
    api_limits l = limits();
    api_train_params p;
    api_error e;
    bool ok = api_parse_train(body, strlen(body), &l, &p, &e);
    if (ok) {
        fprintf(stderr, "accepted: %s\n", body);
        return false;
    }
    if (strcmp(e.field, field)) {
        fprintf(stderr, "body %s: field '%s' (want '%s'): %s\n", body, e.field, field, e.message);
        return false;
    }
    if (*field && !strstr(e.message, field)) {
        fprintf(stderr, "message does not name %s: %s\n", field, e.message);
        return false;
    }
    return true;
}

static void test_train_params(void) {
    api_limits l = limits();
    api_train_params p, d = api_train_defaults(&l);
    api_error e;
    CHECK(api_parse_train("", 0, &l, &p, &e) && p.epochs == d.epochs && p.batch == d.batch, "empty body: defaults");
    const char *full = "{\"epochs\":3,\"batch\":64,\"lr\":0.1,\"hidden\":32,\"momentum\":0.5,\"seed\":9007199254740991}";
    CHECK(api_parse_train(full, strlen(full), &l, &p, &e), "full body: %s", e.message);
    CHECK(p.epochs == 3 && p.batch == 64 && p.lr == 0.1 && p.arch.hidden_layers == 1 && p.arch.hidden[0] == 32 &&
              p.momentum == 0.5 && p.seed == 9007199254740991ull,
          "values");
    /* the model and optimizer fields, with the CLI's rules (model_hidden_parse, optim_parse, ...) */
    const char *two = "{\"hidden\":\"256,128\",\"activation\":\"gelu\",\"optimizer\":\"adam\",\"weight_decay\":0.001}";
    CHECK(api_parse_train(two, strlen(two), &l, &p, &e) && p.arch.hidden_layers == 2 && p.arch.hidden[0] == 256 &&
              p.arch.hidden[1] == 128 && p.arch.activation == MODEL_ACT_GELU && p.optimizer == OPTIM_ADAM &&
              p.weight_decay == 0.001,
          "two layers, gelu, adam: %s", e.message);
    mlp_config c = api_train_config(&p);
    CHECK(c.arch.hidden_layers == 2 && c.arch.hidden[1] == 128 && c.optimizer == OPTIM_ADAM && c.weight_decay == 0.001f &&
              c.arch.inputs == 784,
          "the engine's configuration");
    const char *adamw = "{\"optimizer\":\"adamw\",\"lr\":0.001}", *sgd = "{\"optimizer\":\"sgd\"}";
    CHECK(api_parse_train(adamw, strlen(adamw), &l, &p, &e) && fabs(p.weight_decay - 0.01) < 1e-12, "adamw: decay 0.01 as the CLI's");
    CHECK(api_parse_train(sgd, strlen(sgd), &l, &p, &e) && p.momentum == 0, "sgd: no momentum unless given: %s", e.message);
    CHECK(train_fails("{\"hidden\":\"256,,128\"}", "hidden"), "empty width in the list");
    CHECK(train_fails("{\"hidden\":\"256,abc\"}", "hidden"), "a width that is not a number");
    CHECK(train_fails("{\"hidden\":\"1,2,3,4,5,6,7,8,9\"}", "hidden"), "nine layers");
    CHECK(train_fails("{\"hidden\":\"256,0\"}", "hidden"), "a zero width");
    CHECK(train_fails("{\"hidden\":\"5000\"}", "hidden"), "a width over the limit");
    CHECK(train_fails("{\"hidden\":[256]}", "hidden"), "an array");
    CHECK(train_fails("{\"activation\":\"swish\"}", "activation"), "unknown activation");
    CHECK(train_fails("{\"activation\":1}", "activation"), "activation not a string");
    CHECK(train_fails("{\"optimizer\":\"rmsprop\"}", "optimizer"), "unknown optimizer");
    CHECK(train_fails("{\"weight_decay\":-0.1}", "weight_decay"), "negative weight decay");
    CHECK(train_fails("{\"weight_decay\":1.5}", "weight_decay"), "weight decay above 1");
    CHECK(train_fails("{\"weight_decay\":\"0.1\"}", "weight_decay"), "weight decay as a string");
    CHECK(train_fails("{\"optimizer\":\"sgd\",\"momentum\":0.9}", "optimizer"), "sgd with momentum, as the engine refuses it");
    CHECK(train_fails("{\"optimizer\":\"nesterov\",\"momentum\":0}", "optimizer"), "nesterov without momentum");
    api_parse_train("{\"activation\":\"swish\"}", 22, &l, &p, &e);
    CHECK(strstr(e.message, "relu, gelu, tanh, sigmoid, leaky_relu") && strstr(e.message, "'swish'"), "names listed: %s", e.message);
    CHECK(api_parse_train("{\"epochs\":1e1}", 14, &l, &p, &e) && p.epochs == 10, "1e1 is the integer 10");

    {
        /* a body that is not strict JSON: the byte, the member and the reason */
        const char *nan = "{\"lr\": NaN}", *dup = "{\"seed\":1,\"seed\":2}", *deep = "{\"a\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}";
        CHECK(!api_parse_train(nan, strlen(nan), &l, &p, &e) && !strcmp(e.field, "lr") &&
                  !strcmp(e.message, "invalid JSON at byte 7, in the value of 'lr': NaN and Infinity are not JSON numbers"),
              "NaN: %s", e.message);
        CHECK(!api_parse_train(dup, strlen(dup), &l, &p, &e) && !strcmp(e.field, "seed") && strstr(e.message, "duplicate key 'seed'"),
              "duplicate: %s", e.message);
        CHECK(!api_parse_train(deep, strlen(deep), &l, &p, &e) && !strcmp(e.field, "a") && strstr(e.message, "nested too deeply"),
              "depth: %s", e.message);
    }
    CHECK(train_fails("{\"epochs\":\"3\"}", "epochs"), "string epochs");
    CHECK(train_fails("{\"epochs\":true}", "epochs"), "bool epochs");
    CHECK(train_fails("{\"epochs\":null}", "epochs"), "null epochs");
    CHECK(train_fails("{\"epochs\":[1]}", "epochs"), "array epochs");
    CHECK(train_fails("{\"epochs\":0}", "epochs"), "zero epochs");
    CHECK(train_fails("{\"epochs\":1001}", "epochs"), "too many epochs");
    CHECK(train_fails("{\"epochs\":1.5}", "epochs"), "fractional epochs");
    CHECK(train_fails("{\"batch\":2001}", "batch"), "batch above the training set");
    CHECK(train_fails("{\"batch\":-1}", "batch"), "negative batch");
    CHECK(train_fails("{\"hidden\":4097}", "hidden"), "hidden too large");
    CHECK(train_fails("{\"lr\":0}", "lr"), "lr 0");
    CHECK(train_fails("{\"lr\":-0.1}", "lr"), "negative lr");
    CHECK(train_fails("{\"lr\":10.5}", "lr"), "lr too large");
    CHECK(train_fails("{\"lr\":\"0.1\"}", "lr"), "string lr");
    CHECK(train_fails("{\"momentum\":1}", "momentum"), "momentum 1");
    CHECK(train_fails("{\"momentum\":-0.1}", "momentum"), "negative momentum");
    CHECK(train_fails("{\"seed\":9007199254740992}", "seed"), "seed above 2^53-1");
    CHECK(train_fails("{\"seed\":-1}", "seed"), "negative seed");
    CHECK(train_fails("{\"epochs\":3,\"bogus\":1}", "bogus"), "unknown key");
    CHECK(train_fails("{\"lr\":NaN}", "lr"), "NaN is not JSON");
    CHECK(train_fails("{\"lr\":Infinity}", "lr"), "Infinity is not JSON");
    CHECK(train_fails("{\"lr\":-Infinity}", "lr"), "-Infinity is not JSON");
    CHECK(train_fails("{\"lr\":1e999}", "lr"), "overflow");
    CHECK(train_fails("{\"epochs\":3,\"epochs\":4}", "epochs"), "duplicate key");
    CHECK(train_fails("{\"epochs\":3} trailing", ""), "trailing garbage");
    CHECK(train_fails("[1,2]", ""), "not an object");
    CHECK(train_fails("{\"epochs\":", "epochs"), "truncated in a value");
    CHECK(train_fails("{\"epochs\":1", ""), "truncated object");

    CHECK(api_parse_empty("", 0, &e) && api_parse_empty(" {} ", 4, &e), "empty control bodies");
    CHECK(!api_parse_empty("{\"now\":1}", 9, &e) && !strcmp(e.field, "now"), "control body with a key");
    CHECK(!api_parse_empty("[]", 2, &e), "control body not an object");
}

static void test_predict_params(void) {
    api_limits l = limits();
    api_predict_input in;
    api_error e;
    host_buf b = {0};
    host_buf_puts(&b, "{\"pixels\":[");
    for (int i = 0; i < 28 * 28; i++) host_buf_printf(&b, "%s%d", i ? "," : "", i % 256);
    host_buf_puts(&b, "]}");
    CHECK(api_parse_predict(b.data, b.len, &l, &in, &e), "784 pixels: %s", e.message);
    CHECK(in.n == 1 && in.pixels && in.pixels[300] == 300 % 256 && !in.indices, "pixels copied");
    api_predict_input_free(&in);

    b.len -= strlen("15]}"); /* the last pixel (783 % 256 = 15) becomes 256 */
    host_buf_puts(&b, "256]}");
    CHECK(!api_parse_predict(b.data, b.len, &l, &in, &e) && !strcmp(e.field, "pixels") && strstr(e.message, "pixels[783]"),
          "pixel 256: %s", e.message);
    host_buf_free(&b);

    const char *ok = "{\"indices\":[0,9999,5]}";
    CHECK(api_parse_predict(ok, strlen(ok), &l, &in, &e) && in.n == 3 && in.indices[1] == 9999, "indices");
    api_predict_input_free(&in);

    const char *bad[][2] = {{"{\"pixels\":[1,2,3]}", "pixels"},     {"{\"pixels\":\"abc\"}", "pixels"},
                            {"{\"indices\":[10000]}", "indices"},    {"{\"indices\":[-1]}", "indices"},
                            {"{\"indices\":[1.5]}", "indices"},      {"{\"indices\":[]}", "indices"},
                            {"{\"indices\":\"1\"}", "indices"},      {"{}", "pixels"},
                            {"{\"indices\":[1],\"pixels\":[]}", ""}, {"{\"image\":[1]}", "image"},
                            {"", ""},                                {"null", ""}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bool accepted = api_parse_predict(bad[i][0], strlen(bad[i][0]), &l, &in, &e);
        CHECK(!accepted, "accepted %s", bad[i][0]);
        if (*bad[i][1]) CHECK(!strcmp(e.field, bad[i][1]), "%s: field '%s', want '%s'", bad[i][0], e.field, bad[i][1]);
        if (accepted) api_predict_input_free(&in);
    }
    char many[1024] = "{\"indices\":[";
    for (int i = 0; i <= API_INDICES_MAX; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d", i ? "," : "", i);
    strcat(many, "]}");
    CHECK(!api_parse_predict(many, strlen(many), &l, &in, &e) && !strcmp(e.field, "indices"), "too many indices");
}

static void test_query_values(void) {
    uint32_t v, idx[8], n;
    CHECK(api_parse_uint("0", 0, 9, &v) && v == 0, "0");
    CHECK(api_parse_uint("9", 0, 9, &v) && v == 9, "9");
    const char *bad[] = {"", "10", "-1", "+1", "01", " 1", "1 ", "1a", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(!api_parse_uint(bad[i], 0, 9, &v), "accepted '%s'", bad[i]);
    CHECK(api_parse_index_list("1,2,9999", 8, 10000, idx, &n) && n == 3 && idx[2] == 9999, "index list");
    const char *badl[] = {"", ",", "1,", ",1", "1,,2", "10000", "a", "1,2,3,4,5,6,7,8,9"};
    for (size_t i = 0; i < sizeof badl / sizeof *badl; i++)
        CHECK(!api_parse_index_list(badl[i], 8, 10000, idx, &n), "accepted list '%s'", badl[i]);

    CHECK(api_content_type_is_json("application/json"), "json");
    CHECK(api_content_type_is_json("Application/JSON; charset=utf-8"), "json with charset");
    const char *notjson[] = {NULL, "", "text/plain", "application/jsonp", "application/x-www-form-urlencoded",
                             "multipart/form-data", "text/json"};
    for (size_t i = 0; i < sizeof notjson / sizeof *notjson; i++)
        CHECK(!api_content_type_is_json(notjson[i]), "accepted content type '%s'", notjson[i] ? notjson[i] : "(none)");
}

static void test_host_rules(void) {
    srv_host_rules r;
    srv_host_rules_init(&r, "127.0.0.1", 2020);
    CHECK(r.loopback && !r.wildcard, "loopback bind");
    const char *ok[] = {"127.0.0.1:2020", "localhost:2020", "LOCALHOST:2020", "[::1]:2020"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) CHECK(srv_host_allowed(&r, ok[i]), "refused Host %s", ok[i]);
    const char *bad[] = {NULL, "", "evil.com:2020", "evil.com", "127.0.0.1", "127.0.0.1:2021", "localhost",
                         "127.0.0.1.nip.io:2020", "localhost.:2020", "127.0.0.2:2020", "::1:2020",
                         "127.0.0.1:2020:1", "127.0.0.1:02020", "[::1]", "127.0.0.1:", "a b:2020", "[evil]:2020"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(!srv_host_allowed(&r, bad[i]), "allowed Host %s", bad[i] ? bad[i] : "(none)");
    CHECK(srv_origin_allowed(&r, NULL), "no Origin is fine");
    CHECK(srv_origin_allowed(&r, "http://127.0.0.1:2020") && srv_origin_allowed(&r, "http://localhost:2020"), "own origins");
    const char *bad_origins[] = {"null", "http://evil.com", "http://evil.com:2020", "https://127.0.0.1:2020",
                                 "http://127.0.0.1:2021", "http://127.0.0.1:2020/x", "file://", ""};
    for (size_t i = 0; i < sizeof bad_origins / sizeof *bad_origins; i++)
        CHECK(!srv_origin_allowed(&r, bad_origins[i]), "allowed Origin %s", bad_origins[i]);

    srv_host_rules_init(&r, "0.0.0.0", 8080);
    CHECK(r.wildcard, "wildcard bind");
    CHECK(srv_host_allowed(&r, "192.168.1.5:8080") && srv_host_allowed(&r, "[fe80::1]:8080") &&
              srv_host_allowed(&r, "localhost:8080"),
          "IP literals on a wildcard bind");
    CHECK(!srv_host_allowed(&r, "attacker.example:8080") && !srv_host_allowed(&r, "192.168.1.5:80"),
          "names and other ports on a wildcard bind");

    srv_host_rules_init(&r, "myhost.lan", 80);
    CHECK(srv_host_allowed(&r, "myhost.lan") && srv_host_allowed(&r, "MyHost.lan:80"), "port 80 may be omitted");
    CHECK(!srv_host_allowed(&r, "localhost:80"), "named bind: not localhost");

    srv_host_rules_init(&r, "[::1]", 9000);
    char auth[300];
    srv_host_authority(&r, auth, sizeof auth);
    CHECK(!strcmp(auth, "[::1]:9000") && srv_host_allowed(&r, "[::1]:9000"), "IPv6 authority: %s", auth);
}

static srv_msg *msg(srv_msg_kind k, const char *event) { return srv_msg_new(k, event, "{}", 2); }

static void test_hub(void) {
    srv_msg *m = srv_msg_new(SRV_MSG_KEEP, "epoch", "{\"a\":1}", 7);
    CHECK(m && !strcmp(m->data, "event: epoch\ndata: {\"a\":1}\n\n") && m->len == strlen(m->data), "SSE frame");
    srv_msg_unref(m);

    /* snapshots: a newer one replaces a queued one and goes to the end, in publish order */
    srv_client *c = srv_client_new();
    srv_msg *w1 = msg(SRV_MSG_WEIGHTS, "w1"), *l1 = msg(SRV_MSG_DROP, "l1"), *w2 = msg(SRV_MSG_WEIGHTS, "w2");
    srv_client_push(c, w1);
    srv_client_push(c, l1);
    srv_client_push(c, w2);
    CHECK(c->count == 2 && c->queue[0] == l1 && c->queue[1] == w2 && c->dropped == 1, "weights coalesced");
    srv_msg_unref(w1), srv_msg_unref(l1), srv_msg_unref(w2);
    srv_client_free(c);

    /* a full queue drops loss points, never epochs */
    c = srv_client_new();
    for (int i = 0; i < SRV_CLIENT_QUEUE; i++) {
        srv_msg *x = msg(i % 2 ? SRV_MSG_KEEP : SRV_MSG_DROP, "x");
        srv_client_push(c, x);
        srv_msg_unref(x);
    }
    CHECK(c->count == SRV_CLIENT_QUEUE && !c->overflow, "full");
    srv_msg *loss = msg(SRV_MSG_DROP, "loss"), *epoch = msg(SRV_MSG_KEEP, "epoch");
    srv_client_push(c, loss);
    CHECK(c->dropped == 1 && c->queue[SRV_CLIENT_QUEUE - 1] != loss, "a loss point is dropped when full");
    srv_client_push(c, epoch);
    CHECK(c->queue[SRV_CLIENT_QUEUE - 1] == epoch && c->dropped == 2 && !c->overflow, "an epoch evicts a loss point");
    unsigned keeps = 0;
    for (unsigned i = 0; i < c->count; i++) keeps += c->queue[i]->kind == SRV_MSG_KEEP;
    CHECK(keeps == SRV_CLIENT_QUEUE / 2 + 1, "every kept message is still there (%u)", keeps);
    /* fill the rest with kept messages: the client overflows (to be disconnected) */
    for (int i = 0; i < SRV_CLIENT_QUEUE && !c->overflow; i++) srv_client_push(c, epoch);
    CHECK(c->overflow, "overflow when only kept messages remain");
    srv_msg *first = srv_client_pop(c);
    CHECK(first && first->kind == SRV_MSG_KEEP, "pop in order");
    srv_msg_unref(first);
    srv_msg_unref(loss), srv_msg_unref(epoch);
    srv_client_free(c);

    /* the hub publishes once, to every client, with shared references */
    srv_hub h = {0};
    srv_client *a = srv_client_new(), *b2 = srv_client_new();
    srv_hub_add(&h, a);
    srv_hub_add(&h, b2);
    srv_msg *e = msg(SRV_MSG_KEEP, "e");
    srv_msg_ref(e);
    srv_hub_publish(&h, e);
    CHECK(a->count == 1 && b2->count == 1 && a->queue[0] == e && atomic_load(&e->refs) == 3, "fan-out");
    srv_hub_remove(&h, a);
    srv_hub_remove(&h, a); /* twice is harmless */
    CHECK(h.count == 1 && h.clients == b2, "remove");
    srv_client_free(a);
    srv_hub_remove(&h, b2);
    srv_client_free(b2);
    CHECK(atomic_load(&e->refs) == 1, "references released");
    srv_msg_unref(e);
}

/* The gate's header check (srv_gate.c): what it answers itself, before libmicrohttpd could. */
static void test_gate_headers(void) {
    static const struct {
        const char *req;
        int want;
        const char *why;
    } cases[] = {
        {"GET /api/state HTTP/1.1\r\nHost: a:1\r\n\r\n", 0, ""},
        {"GET / HTTP/1.0\r\n\r\n", 0, ""}, /* HTTP/1.0 needs no Host (the Host rules then say 403) */
        {"GET / HTTP/1.1\nHost: a\n\n", 0, ""},
        {"POST /api/stop HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n", 0, ""},
        {"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400, "2 Host headers"},
        {"GET / HTTP/1.1\r\n\r\n", 400, "must have a Host header"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400, "malformed Content-Length"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "malformed Content-Length"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, "malformed Content-Length"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 413, "larger"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", 400, "2 Content-Length"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both"},
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request line"},
        {"GET / x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request line"},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1"},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "header name"},
        {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, "folding"},
        {"GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", 400, "without ':'"},
        {"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400, "control character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *r = cases[i].req;
        size_t len = strlen(r), end = srv_gate_header_end(r, len);
        char why[200] = "";
        CHECK(end == len, "header end of case %zu: %zu of %zu", i, end, len);
        int got = srv_gate_check_headers(r, end, why, sizeof why);
        CHECK(got == cases[i].want && strstr(why, cases[i].why), "case %zu: %d '%s', want %d '%s'", i, got, why, cases[i].want,
              cases[i].why);
    }
    CHECK(srv_gate_header_end("GET / HTTP/1.1\r\nHost: a\r\n", 25) == 0, "incomplete headers");
    CHECK(srv_gate_header_end("GET / HTTP/1.1\r\n\r\nbody", 22) == 18, "the header block ends before the body");
}

/* POST /api/train/edit's body and `train --control`'s lines (host/edit.h), and the edit event. */
static void test_edit_params(void) {
    api_error e;
    mlp_edit ed;
    mlp_config run = mlp_config_default();
    const char *ok1 = "{\"lr\":0.01}", *ok2 = "{\"momentum\":0.5,\"lr\":0.2}";
    CHECK(api_parse_edit(ok1, strlen(ok1), &run, &ed, &e) && ed.set_lr && !ed.set_momentum && ed.lr == 0.01f, "lr edit");
    CHECK(api_parse_edit(ok2, strlen(ok2), &run, &ed, &e) && ed.set_lr && ed.set_momentum && ed.momentum == 0.5f, "both");
    struct {
        const char *body, *field;
    } bad[] = {{"", ""},           {"{}", ""},           {"[]", ""},          {"{\"lr\":0}", "lr"},
               {"{\"lr\":-1}", "lr"}, {"{\"lr\":11}", "lr"}, {"{\"lr\":1e-50}", "lr"}, {"{\"lr\":\"1\"}", "lr"},
               {"{\"momentum\":1}", "momentum"}, {"{\"momentum\":-0.1}", "momentum"}, {"{\"beta1\":0.5}", "beta1"},
               {"{\"lr\":0.1,\"lr\":0.2}", "lr"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(!api_parse_edit(bad[i].body, strlen(bad[i].body), &run, &ed, &e) && !strcmp(e.field, bad[i].field),
              "edit body %s refused naming '%s' (got '%s': %s)", bad[i].body, bad[i].field, e.field, e.message);
    run.optimizer = OPTIM_SGD, run.momentum = 0;
    const char *m = "{\"momentum\":0.9}";
    CHECK(!api_parse_edit(m, strlen(m), &run, &ed, &e) && !strcmp(e.field, "momentum") && strstr(e.message, "sgd"),
          "sgd: no momentum to edit (%s)", e.message);
    CHECK(api_parse_edit(m, strlen(m), NULL, &ed, &e), "without a run, only the values are checked");

    char err[256];
    CHECK(host_edit_parse_line("lr 0.01", &ed, err, sizeof err) == 1 && ed.set_lr && ed.lr == 0.01f && !ed.set_momentum, "lr line");
    CHECK(host_edit_parse_line("  momentum=0.8\r\n", &ed, err, sizeof err) == 1 && ed.set_momentum && ed.momentum == 0.8f, "= form");
    CHECK(host_edit_parse_line("lr 0.1, momentum 0.5", &ed, err, sizeof err) == 1 && ed.set_lr && ed.set_momentum, "both on a line");
    CHECK(host_edit_parse_line("", &ed, err, sizeof err) == 0 && host_edit_parse_line("  # note", &ed, err, sizeof err) == 0,
          "blank lines and comments");
    struct {
        const char *line, *says;
    } badl[] = {{"speed 2", "unknown control 'speed'"}, {"lr", "lr needs a value"}, {"lr abc", "lr must be a number (got 'abc')"},
                {"lr 1 lr 2", "given twice"}, {"lr nan", "must be a number"}, {"momentum 0.5x", "must be a number"}};
    for (size_t i = 0; i < sizeof badl / sizeof *badl; i++)
        CHECK(host_edit_parse_line(badl[i].line, &ed, err, sizeof err) == -1 && strstr(err, badl[i].says) && !strchr(err, '\n'),
              "line '%s': '%s' (got '%s')", badl[i].line, badl[i].says, err);

    mlp_edit both = {true, true, 0.01f, 0.8f};
    mlp_edit_result r = {469, 0.01f, 0.25, 0.8f};
    cJSON *j = host_edit_json(&both, &r, 469);
    char *text = json_print(j);
    CHECK(text && !strcmp(text, "{\"event\":\"edit\",\"step\":469,\"epoch\":2,\"epoch_step\":0,\"x\":1,\"lr\":0.01,"
                                "\"momentum\":0.8,\"lr_scale\":0.25}"),
          "the edit event: %s", text ? text : "(null)");
    cJSON_free(text);
    cJSON_Delete(j);
    char label[96];
    host_edit_label(&both, &r, label, sizeof label);
    CHECK(!strcmp(label, "lr 0.01, momentum 0.8"), "label: %s", label);
}

int main(void) {
    test_gate_headers();
    test_edit_params();
    test_json();
    test_train_params();
    test_predict_params();
    test_query_values();
    test_host_rules();
    test_hub();
    return check_exit("test_server");
}
