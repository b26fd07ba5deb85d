/* Tests of the checkpoint module (src/checkpoint): the safetensors parser and writer, the model
 * and training-state codecs, and the atomic file and folder saves.
 *
 * Every malformed case asserts the exact ckpt_status and a one-line message. The crash cases
 * fork a child that saves in a loop and SIGKILL it at random moments: whatever is left must be
 * the old checkpoint or the new one, and must load. The full-disk cases run a child under
 * RLIMIT_FSIZE (and, where this process may mount, on a tiny tmpfs for a real ENOSPC). */
#include "check.h"
#include "checkpoint/ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_root[] = "/tmp/wgtrain_test_ckpt.XXXXXX";

/* the seed's model with h hidden units */
#define ARCH(h) (&(model_arch){784, 10, 1, {(h)}, MODEL_ACT_RELU})

static size_t pcount(uint32_t h) { return (size_t)h * 784 + h + (size_t)10 * h + 10; }

static float *random_params(uint32_t h, uint32_t seed) {
    size_t n = pcount(h);
    float *p = malloc(n * sizeof *p);
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.2f;
    }
    return p;
}

static bool one_line(const char *s) { return *s && !strchr(s, '\n') && !strchr(s, '\r'); }

/* ---- building files by hand ---- */

typedef struct buf {
    uint8_t *p;
    size_t n;
} buf;

/* header JSON (as given) + data bytes of the given length (filled with small floats) */
static buf make_file(const char *json, size_t data_len) {
    size_t hl = strlen(json);
    buf b = {malloc(8 + hl + data_len + 1), 8 + hl + data_len};
    for (int k = 0; k < 8; k++) b.p[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    memcpy(b.p + 8, json, hl);
    for (size_t i = 0; i < data_len; i++) b.p[8 + hl + i] = (i % 4 == 3) ? 0x3c : 0; /* 0.0078125-ish floats */
    return b;
}

static ckpt_status parse_buf(buf b, ckpt_parsed *p, char *err, size_t errlen) { return ckpt_parse(b.p, b.n, p, err, errlen); }

static void expect_parse(const char *what, buf b, ckpt_status want, const char *needle) {
    ckpt_parsed *p = malloc(sizeof *p);
    char err[512] = "";
    ckpt_status st = parse_buf(b, p, err, sizeof err);
    CHECK(st == want, "%s: got %s (%s), want %s", what, ckpt_status_name(st), err, ckpt_status_name(want));
    if (st != CKPT_OK) CHECK(one_line(err), "%s: message not one line: '%s'", what, err);
    if (needle) CHECK(strstr(err, needle) != NULL, "%s: message '%s' lacks '%s'", what, err, needle);
    free(p);
    free(b.p);
}

/* parses OK, then the model decoder must fail with want */
static void expect_model(const char *what, buf b, ckpt_status want, const char *needle) {
    ckpt_parsed *p = malloc(sizeof *p);
    char err[512] = "";
    ckpt_status st = parse_buf(b, p, err, sizeof err);
    CHECK(st == CKPT_OK, "%s: parse failed: %s", what, err);
    if (st == CKPT_OK) {
        ckpt_model m;
        st = ckpt_model_decode(p, &m, err, sizeof err);
        CHECK(st == want, "%s: got %s (%s), want %s", what, ckpt_status_name(st), err, ckpt_status_name(want));
        if (st != CKPT_OK) CHECK(one_line(err), "%s: message not one line", what);
        if (needle) CHECK(strstr(err, needle) != NULL, "%s: message '%s' lacks '%s'", what, err, needle);
        ckpt_model_free(&m);
    }
    free(p);
    free(b.p);
}

/* A valid model header for hidden h with the data_offsets of the 4 tensors. */
static char *model_json(uint32_t h, const char *dtype0, const char *shape0, const char *extra) {
    static char j[4096];
    uint64_t s0 = (uint64_t)h * 784 * 4, s1 = h * 4ull, s2 = 10ull * h * 4, s3 = 40;
    snprintf(j, sizeof j,
             "{\"0.weight\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[0,%llu]},"
             "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[%u],\"data_offsets\":[%llu,%llu]},"
             "\"2.weight\":{\"dtype\":\"F32\",\"shape\":[10,%u],\"data_offsets\":[%llu,%llu]},"
             "\"2.bias\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[%llu,%llu]}%s}",
             dtype0, shape0, (unsigned long long)s0, h, (unsigned long long)s0, (unsigned long long)(s0 + s1), h,
             (unsigned long long)(s0 + s1), (unsigned long long)(s0 + s1 + s2), (unsigned long long)(s0 + s1 + s2),
             (unsigned long long)(s0 + s1 + s2 + s3), extra);
    return j;
}
static size_t model_bytes(uint32_t h) { return pcount(h) * 4; }

/* A file of n F32 tensors with the given names and shapes (rank 1 when dims[k][1] == 0) and
 * consecutive, consistent data_offsets: only the model-level checks can object to it. */
static buf custom_file_meta(int n, const char *const names[], const uint64_t dims[][2], const char *meta) {
    static char j[4096];
    size_t o = (size_t)snprintf(j, sizeof j, "{%s%s", meta ? meta : "", meta ? "," : "");
    uint64_t off = 0;
    for (int k = 0; k < n; k++) {
        uint64_t bytes = dims[k][0] * (dims[k][1] ? dims[k][1] : 1) * 4;
        char shape[64];
        if (dims[k][1]) snprintf(shape, sizeof shape, "[%llu,%llu]", (unsigned long long)dims[k][0], (unsigned long long)dims[k][1]);
        else snprintf(shape, sizeof shape, "[%llu]", (unsigned long long)dims[k][0]);
        o += (size_t)snprintf(j + o, sizeof j - o, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%llu,%llu]}", k ? "," : "",
                              names[k], shape, (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
    }
    snprintf(j + o, sizeof j - o, "}");
    return make_file(j, (size_t)off);
}
static buf custom_file(int n, const char *const names[], const uint64_t dims[][2]) { return custom_file_meta(n, names, dims, NULL); }
static const char *const MODEL_NAMES[4] = {"0.weight", "0.bias", "2.weight", "2.bias"};

/* ---- round trips ---- */

static void test_round_trip(void) {
    uint32_t h = 7;
    float *params = random_params(h, 1);
    params[0] = -0.0f;
    params[1] = 1e-45f; /* a denormal survives bit for bit */
    ckpt_model_info info = {mlp_config_default(), 3, 2000, 10000, 0.9123, 28, 28, NULL};
    info.cfg.arch.hidden[0] = h;
    ckpt_kv meta[CKPT_MAX_META];
    size_t nmeta = ckpt_model_metadata(&info, meta);
    uint8_t *bytes;
    size_t len;
    char err[512];
    CHECK(ckpt_model_encode(ARCH(h), params, meta, nmeta, &bytes, &len, err, sizeof err) == CKPT_OK, "encode: %s", err);
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--) hl = hl << 8 | bytes[k];
    CHECK((8 + hl) % 8 == 0, "data section 8-byte aligned (header %llu)", (unsigned long long)hl);
    CHECK(len == 8 + hl + pcount(h) * 4, "file length %zu", len);
    ckpt_parsed *p = malloc(sizeof *p);
    CHECK(ckpt_parse(bytes, len, p, err, sizeof err) == CKPT_OK, "parse own file: %s", err);
    CHECK(p->ntensors == 4, "4 tensors, got %u", p->ntensors);
    const ckpt_tensor *w1 = ckpt_find_tensor(p, "0.weight");
    CHECK(w1 && w1->rank == 2 && w1->shape[0] == h && w1->shape[1] == 784, "0.weight shape");
    CHECK(ckpt_meta_get(p, "format") && !strcmp(ckpt_meta_get(p, "format"), "pt"), "format pt");
    CHECK(ckpt_meta_get(p, "epoch") && !strcmp(ckpt_meta_get(p, "epoch"), "3"), "epoch 3");
    CHECK(ckpt_meta_get(p, "test_accuracy") && !strcmp(ckpt_meta_get(p, "test_accuracy"), "0.912300"), "test_accuracy");
    CHECK(ckpt_meta_get(p, "input_normalization") && strstr(ckpt_meta_get(p, "input_normalization"), "0.1307"), "normalisation");
    CHECK(ckpt_meta_get(p, "seed") && ckpt_meta_get(p, "lr") && ckpt_meta_get(p, "batch") && ckpt_meta_get(p, "dataset"), "hyperparameters");
    ckpt_model m;
    CHECK(ckpt_model_decode(p, &m, err, sizeof err) == CKPT_OK, "decode: %s", err);
    CHECK(m.arch.hidden_layers == 1 && m.arch.hidden[0] == h && m.arch.activation == MODEL_ACT_RELU, "hidden %u", m.arch.hidden[0]);
    CHECK(m.params && !memcmp(m.params, params, pcount(h) * 4), "parameters bit for bit");
    ckpt_model_free(&m);

    /* through a file, atomically */
    char path[256];
    snprintf(path, sizeof path, "%s/rt.safetensors", g_root);
    CHECK(ckpt_write_atomic(path, bytes, len, err, sizeof err) == CKPT_OK, "write_atomic: %s", err);
    char resolved[512];
    CHECK(ckpt_load_model(path, &m, p, resolved, sizeof resolved, err, sizeof err) == CKPT_OK, "load_model: %s", err);
    CHECK(m.params && !memcmp(m.params, params, pcount(h) * 4), "file round trip bit for bit");
    CHECK(!strcmp(resolved, path), "resolved path");
    CHECK(ckpt_meta_get(p, "epoch") != NULL, "metadata comes back with the model");
    ckpt_model_free(&m);
    /* no temp left behind */
    DIR *d = opendir(g_root);
    int temps = 0;
    for (struct dirent *e; (e = readdir(d));) temps += strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    CHECK(temps == 0, "no temp files after a save (%d)", temps);
    free(bytes);

    /* training state */
    ckpt_state s;
    memset(&s, 0, sizeof s);
    s.cfg = info.cfg;
    s.cfg.epochs = 5;
    s.cfg.lr = 0.1f;
    s.cfg.momentum = 0.9f;
    s.cfg.kernels = MLP_KERNELS_REFERENCE;
    s.epochs_done = 3;
    s.train_samples = 2000;
    s.steps_per_epoch = (2000 + s.cfg.batch - 1) / s.cfg.batch;
    s.global_step = 3ull * s.steps_per_epoch;
    s.save_every = 2;
    s.train_fingerprint = 0x0123456789abcdefull;
    s.model_fingerprint = ckpt_params_fingerprint(params, pcount(h));
    s.slot[0] = random_params(h, 2);
    s.live.lr_scale = 1.0 / 3.0, s.live.momentum = 0.123456789f; /* live edits in effect (core/live.h) */
    CHECK(ckpt_state_encode(&s, &bytes, &len, err, sizeof err) == CKPT_OK, "state encode: %s", err);
    CHECK(ckpt_parse(bytes, len, p, err, sizeof err) == CKPT_OK, "state parse: %s", err);
    ckpt_state s2;
    CHECK(ckpt_state_decode(p, &s2, err, sizeof err) == CKPT_OK, "state decode: %s", err);
    CHECK(s2.epochs_done == 3 && s2.global_step == s.global_step && s2.cfg.arch.hidden[0] == h && s2.cfg.arch.hidden_layers == 1 && s2.cfg.batch == s.cfg.batch &&
              s2.cfg.epochs == 5 && s2.cfg.seed == s.cfg.seed && s2.save_every == 2 && s2.train_samples == 2000,
          "state fields");
    CHECK(s2.cfg.lr == 0.1f && s2.cfg.momentum == 0.9f && s2.cfg.schedule == s.cfg.schedule, "floats exactly");
    CHECK(s2.cfg.kernels == MLP_KERNELS_REFERENCE, "kernel path");
    CHECK(s2.live.lr_scale == 1.0 / 3.0 && s2.live.momentum == 0.123456789f, "the live edits in effect, bit for bit");
    CHECK(ckpt_meta_get(p, "lr") && !strcmp(ckpt_meta_get(p, "lr"), "0.1"), "lr written as the shortest exact decimal: %s",
          ckpt_meta_get(p, "lr"));
    CHECK(s2.train_fingerprint == s.train_fingerprint && s2.model_fingerprint == s.model_fingerprint, "fingerprints");
    CHECK(s2.slot[0] && !memcmp(s2.slot[0], s.slot[0], pcount(h) * 4), "velocity bit for bit");
    CHECK(ckpt_model_decode(p, &m, err, sizeof err) == CKPT_ERR_TENSOR && strstr(err, "training-state"),
          "a training-state file is not a model: %s", err);
    ckpt_state_free(&s2);
    free(bytes);

    /* Adam's two slots and its hyperparameters round-trip too; velocity is then refused */
    {
        ckpt_state sa = s;
        sa.cfg.optimizer = OPTIM_ADAMW;
        sa.cfg.weight_decay = 0.01f, sa.cfg.beta1 = 0.8f, sa.cfg.beta2 = 0.99f, sa.cfg.eps = 1e-7f;
        sa.cfg.clip_grad_norm = 2.5f, sa.cfg.warmup = 40, sa.cfg.schedule = MLP_SCHEDULE_ONECYCLE;
        sa.slot[1] = random_params(h, 3);
        CHECK(ckpt_state_encode(&sa, &bytes, &len, err, sizeof err) == CKPT_OK, "adamw state encode: %s", err);
        CHECK(ckpt_parse(bytes, len, p, err, sizeof err) == CKPT_OK && p->ntensors == 2 && ckpt_find_tensor(p, "optimizer.exp_avg") &&
                  ckpt_find_tensor(p, "optimizer.exp_avg_sq"),
              "adamw state holds optimizer.exp_avg and optimizer.exp_avg_sq: %s", err);
        CHECK(ckpt_state_decode(p, &s2, err, sizeof err) == CKPT_OK, "adamw state decode: %s", err);
        CHECK(s2.cfg.optimizer == OPTIM_ADAMW && s2.cfg.weight_decay == 0.01f && s2.cfg.beta1 == 0.8f && s2.cfg.beta2 == 0.99f &&
                  s2.cfg.eps == 1e-7f && s2.cfg.clip_grad_norm == 2.5f && s2.cfg.warmup == 40 &&
                  s2.cfg.schedule == MLP_SCHEDULE_ONECYCLE,
              "adamw hyperparameters exactly");
        CHECK(!memcmp(s2.slot[0], sa.slot[0], pcount(h) * 4) && !memcmp(s2.slot[1], sa.slot[1], pcount(h) * 4),
              "exp_avg and exp_avg_sq bit for bit");
        ckpt_state_free(&s2);
        free(bytes);
        /* the same metadata over a momentum buffer: the file does not hold what adamw keeps */
        ckpt_kv kv[CKPT_MAX_META];
        for (uint32_t i = 0; i < p->nmeta; i++) kv[i] = p->meta[i];
        ckpt_out_tensor vt = {CKPT_VELOCITY_TENSOR, 1, {pcount(h), 0, 0, 0}, sa.slot[0]};
        ckpt_serialize(&vt, 1, kv, p->nmeta, &bytes, &len, err, sizeof err);
        CHECK(ckpt_parse(bytes, len, p, err, sizeof err) == CKPT_OK, "parse: %s", err);
        CHECK(ckpt_state_decode(p, &s2, err, sizeof err) == CKPT_ERR_TENSOR && strstr(err, "adamw keeps only optimizer.exp_avg"),
              "velocity in an adamw state: %s", err);
        free(bytes);
        free(sa.slot[1]);
    }

    /* a folder checkpoint and resume loading */
    char dir[256], saved[512], folder[512];
    snprintf(dir, sizeof dir, "%s/ckdir", g_root);
    CHECK(ckpt_dir_prepare(dir, err, sizeof err) == CKPT_OK, "prepare: %s", err);
    uint8_t *mb, *sb;
    size_t ml, sl;
    ckpt_model_encode(ARCH(h), params, meta, nmeta, &mb, &ml, err, sizeof err);
    ckpt_state_encode(&s, &sb, &sl, err, sizeof err);
    CHECK(ckpt_dir_save(dir, 3, mb, ml, sb, sl, saved, sizeof saved, err, sizeof err) == CKPT_OK, "dir save: %s", err);
    CHECK(strstr(saved, "epoch-000003") != NULL, "saved to %s", saved);
    ckpt_state s3;
    CHECK(ckpt_load_resume(dir, &m, &s3, folder, sizeof folder, err, sizeof err) == CKPT_OK, "load_resume: %s", err);
    CHECK(!strcmp(folder, saved), "resume folder %s", folder);
    CHECK(m.params && !memcmp(m.params, params, pcount(h) * 4) && s3.slot[0] && !memcmp(s3.slot[0], s.slot[0], pcount(h) * 4),
          "resume data");
    ckpt_model_free(&m), ckpt_state_free(&s3);
    /* also straight from the epoch folder, and eval-style from the root */
    CHECK(ckpt_load_resume(saved, &m, &s3, folder, sizeof folder, err, sizeof err) == CKPT_OK, "resume from epoch folder: %s", err);
    ckpt_model_free(&m), ckpt_state_free(&s3);
    CHECK(ckpt_load_model(dir, &m, NULL, resolved, sizeof resolved, err, sizeof err) == CKPT_OK && strstr(resolved, "epoch-000003/model"),
          "model from a checkpoint dir: %s", err);
    ckpt_model_free(&m);
    /* a newer epoch replaces the older folder */
    s.epochs_done = 4;
    s.global_step = 4ull * s.steps_per_epoch;
    free(sb), free(mb);
    ckpt_state_encode(&s, &sb, &sl, err, sizeof err);
    info.epoch = 4;
    nmeta = ckpt_model_metadata(&info, meta);
    ckpt_model_encode(ARCH(h), params, meta, nmeta, &mb, &ml, err, sizeof err);
    CHECK(ckpt_dir_save(dir, 4, mb, ml, sb, sl, saved, sizeof saved, err, sizeof err) == CKPT_OK, "dir save 4: %s", err);
    uint32_t latest = 0;
    CHECK(ckpt_dir_latest(dir, &latest, folder, sizeof folder, err, sizeof err) == CKPT_OK && latest == 4, "latest is 4");
    char old[512];
    snprintf(old, sizeof old, "%s/epoch-000003", dir);
    CHECK(access(old, F_OK) != 0, "epoch 3 pruned after epoch 4 was durable");
    /* saving the same epoch again swaps it in atomically */
    CHECK(ckpt_dir_save(dir, 4, mb, ml, sb, sl, saved, sizeof saved, err, sizeof err) == CKPT_OK, "dir save 4 again: %s", err);
    CHECK(ckpt_load_resume(dir, &m, &s3, folder, sizeof folder, err, sizeof err) == CKPT_OK && s3.epochs_done == 4, "resume 4: %s", err);
    ckpt_model_free(&m), ckpt_state_free(&s3);

    /* model and state that do not belong together */
    char mix[256], f1[300];
    snprintf(mix, sizeof mix, "%s/mix", g_root);
    mkdir(mix, 0755);
    float *other = random_params(h, 9);
    uint8_t *ob;
    size_t ol;
    ckpt_model_encode(ARCH(h), other, NULL, 0, &ob, &ol, err, sizeof err);
    snprintf(f1, sizeof f1, "%s/%s", mix, CKPT_MODEL_FILE);
    ckpt_write_atomic(f1, ob, ol, err, sizeof err);
    snprintf(f1, sizeof f1, "%s/%s", mix, CKPT_STATE_FILE);
    ckpt_write_atomic(f1, sb, sl, err, sizeof err);
    CHECK(ckpt_load_resume(mix, &m, &s3, folder, sizeof folder, err, sizeof err) == CKPT_ERR_MISMATCH && strstr(err, "not from the same"),
          "mismatched model and state: %s", err);
    /* a model file whose metadata epoch disagrees with the state */
    free(ob);
    info.epoch = 3;
    nmeta = ckpt_model_metadata(&info, meta);
    ckpt_model_encode(ARCH(h), params, meta, nmeta, &ob, &ol, err, sizeof err); /* epoch 3 in meta; state says 4 */
    snprintf(f1, sizeof f1, "%s/%s", mix, CKPT_MODEL_FILE);
    ckpt_write_atomic(f1, ob, ol, err, sizeof err);
    CHECK(ckpt_load_resume(mix, &m, &s3, folder, sizeof folder, err, sizeof err) == CKPT_ERR_MISMATCH && strstr(err, "epoch"),
          "epoch mismatch: %s", err);
    CHECK(ckpt_load_resume(g_root, &m, &s3, folder, sizeof folder, err, sizeof err) == CKPT_ERR_MISSING, "no checkpoint: %s", err);
    snprintf(f1, sizeof f1, "%s/nonexistent", g_root);
    CHECK(ckpt_load_resume(f1, &m, &s3, folder, sizeof folder, err, sizeof err) == CKPT_ERR_MISSING, "missing folder: %s", err);
    free(ob), free(other), free(mb), free(sb), free(s.slot[0]), free(params), free(p);
}

/* ---- malformed files ---- */

static void test_malformed(void) {
    uint32_t h = 3;
    char j[4096];
    /* the baseline is valid */
    expect_parse("valid", make_file(model_json(h, "F32", "[3,784]", ""), model_bytes(h)), CKPT_OK, NULL);
    expect_model("valid model", make_file(model_json(h, "F32", "[3,784]", ""), model_bytes(h)), CKPT_OK, NULL);

    /* header length */
    buf b = {calloc(1, 5), 5};
    expect_parse("5-byte file", b, CKPT_ERR_TRUNCATED, "too short");
    b = (buf){calloc(1, 8), 8};
    expect_parse("header length 0", b, CKPT_ERR_HEADER_SIZE, "is 0");
    b = make_file("{}", 0);
    b.p[0] = 0xff, b.p[1] = 0xff, b.p[2] = 0xff, b.p[7] = 0x7f;
    expect_parse("header length huge", b, CKPT_ERR_HEADER_SIZE, "limit");
    b = make_file("{}", 0);
    b.p[0] = 0xff, b.p[1] = 0xff, b.p[2] = 0xff, b.p[3] = 0xff, b.p[4] = 0xff, b.p[5] = 0xff, b.p[6] = 0xff, b.p[7] = 0xff;
    expect_parse("header length 2^64-1", b, CKPT_ERR_HEADER_SIZE, "limit");
    b = make_file(model_json(h, "F32", "[3,784]", ""), model_bytes(h));
    {
        uint64_t n = b.n - 8 + 1000; /* under the cap, past the end */
        for (int k = 0; k < 8; k++) b.p[k] = (uint8_t)(n >> (8 * k));
    }
    expect_parse("header length past end of file", b, CKPT_ERR_TRUNCATED, "past the end");
    b = make_file(model_json(h, "F32", "[3,784]", ""), model_bytes(h));
    b.n = 8 + 20; /* truncated inside the header */
    expect_parse("truncated header", b, CKPT_ERR_TRUNCATED, "runs past the end");
    b = make_file(model_json(h, "F32", "[3,784]", ""), model_bytes(h));
    b.n -= 40; /* truncated inside the data */
    expect_parse("truncated data", b, CKPT_ERR_OFFSETS, "past its end");

    /* non-JSON and strictness */
    const struct {
        const char *json, *what;
        ckpt_status st;
    } bad_json[] = {
        {"hello world", "not JSON", CKPT_ERR_JSON},
        {"[1,2]", "an array", CKPT_ERR_JSON},
        {"{", "unterminated object", CKPT_ERR_JSON},
        {"{\"a\":1,}", "trailing comma", CKPT_ERR_JSON},
        {"{'a':1}", "single quotes", CKPT_ERR_JSON},
        {"{\"a\":NaN}", "NaN", CKPT_ERR_JSON},
        {"{\"a\":01}", "leading zero", CKPT_ERR_JSON},
        {"{\"a\":1.}", "bare dot", CKPT_ERR_JSON},
        {"{\"a\":\"x\ty\"}", "raw tab in string", CKPT_ERR_JSON},
        {"{\"a\":\"\\x41\"}", "bad escape", CKPT_ERR_JSON},
        {"{\"a\":\"\\ud800\"}", "lone high surrogate", CKPT_ERR_JSON},
        {"{\"a\":\"\\udc00\"}", "lone low surrogate", CKPT_ERR_JSON},
        {"{\"a\":\"\xc0\xaf\"}", "overlong UTF-8", CKPT_ERR_JSON},
        {"{\"a\":\"\xed\xa0\x80\"}", "UTF-8 surrogate", CKPT_ERR_JSON},
        {"{\"a\":\"\xff\"}", "invalid byte", CKPT_ERR_JSON},
        {"{\"a\":tru}", "bad literal", CKPT_ERR_JSON},
        {"{} {}", "two objects", CKPT_ERR_JSON},
        {"{}\n", "JSON whitespace after the object", CKPT_OK},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "one 2-float tensor", CKPT_OK},
        {"{\"__metadata__\":{\"a\":1}}", "metadata number", CKPT_ERR_SCHEMA},
        {"{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "duplicate metadata key", CKPT_ERR_SCHEMA},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", "duplicate __metadata__", CKPT_ERR_SCHEMA},
        {"{\"__metadata__\":[]}", "metadata array", CKPT_ERR_SCHEMA},
        {"{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", "NUL in metadata", CKPT_ERR_SCHEMA},
        {"{\"x\":1}", "tensor entry not object", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", "no data_offsets", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "no shape", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "no dtype", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", "unknown field", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "negative dim", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", "fractional dim", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", "exponent dim", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}", "dim >= 2^64", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "one offset", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "three offsets", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", "negative offset", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", "dtype number", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "two dtypes", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         "duplicate tensor", CKPT_ERR_SCHEMA},
        {"{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "empty name", CKPT_ERR_SCHEMA},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", "rank 5", CKPT_ERR_SHAPE},
        {"{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", "F16", CKPT_ERR_DTYPE},
        {"{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", "BF16", CKPT_ERR_DTYPE},
        {"{\"x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", "F64", CKPT_ERR_DTYPE},
        {"{\"x\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", "unknown dtype", CKPT_ERR_DTYPE},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", "shape overflow", CKPT_ERR_SIZE},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", "bytes overflow", CKPT_ERR_SIZE},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "shape/size mismatch", CKPT_ERR_SIZE},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", "end before begin", CKPT_ERR_OFFSETS},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551612,18446744073709551615]}}", "offsets near 2^64",
         CKPT_ERR_SIZE},
        {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[18446744073709551611,18446744073709551615]}}", "offsets out of bounds",
         CKPT_ERR_OFFSETS},
    };
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        /* 8 data bytes: enough for the one-float cases, so only the intended fault shows */
        size_t data = strncmp(bad_json[i].json, "{}", 2) ? 8 : 0;
        expect_parse(bad_json[i].what, make_file(bad_json[i].json, data), bad_json[i].st, NULL);
    }
    /* deep nesting is refused without recursion trouble */
    char *deep = malloc(200001);
    strcpy(deep, "{\"a\":");
    size_t dl = strlen(deep);
    for (int k = 0; k < 100000; k++) deep[dl++] = '[';
    deep[dl] = 0;
    expect_parse("100000-deep nesting", make_file(deep, 0), CKPT_ERR_JSON, "nested too deeply");
    free(deep);
    /* a header just at and just over the cap */
    char *big = malloc(CKPT_MAX_HEADER + 2);
    memset(big, ' ', CKPT_MAX_HEADER + 1);
    big[0] = '{', big[1] = '}';
    big[CKPT_MAX_HEADER] = 0;
    expect_parse("header at the cap (space padded)", make_file(big, 0), CKPT_OK, NULL);
    big[CKPT_MAX_HEADER] = ' ', big[CKPT_MAX_HEADER + 1] = 0;
    expect_parse("header over the cap", make_file(big, 0), CKPT_ERR_HEADER_SIZE, "limit");
    free(big);

    /* byte ranges */
    expect_parse("overlapping offsets",
                 make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                           12),
                 CKPT_ERR_OFFSETS, "overlap");
    expect_parse("same range twice",
                 make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                           4),
                 CKPT_ERR_OFFSETS, "overlap");
    expect_parse("gap between tensors",
                 make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                           12),
                 CKPT_ERR_OFFSETS, "belong to no tensor");
    expect_parse("gap at the start", make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), CKPT_ERR_OFFSETS,
                 "belong to no tensor");
    expect_parse("trailing bytes", make_file(model_json(h, "F32", "[3,784]", ""), model_bytes(h) + 3), CKPT_ERR_TRAILING, "trailing");
    expect_parse("data but no tensors", make_file("{}", 4), CKPT_ERR_TRAILING, "trailing");
    expect_parse("out-of-order offsets are fine",
                 make_file("{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                           8),
                 CKPT_OK, NULL);
    expect_parse("empty file of tensors", make_file("{}", 0), CKPT_OK, NULL);
    /* too many tensors / metadata entries */
    size_t o = 0;
    o += (size_t)snprintf(j + o, sizeof j - o, "{");
    for (int k = 0; k <= CKPT_MAX_TENSORS; k++)
        o += (size_t)snprintf(j + o, sizeof j - o, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[%d,%d]}", k ? "," : "", k,
                              4 * k, 4 * k + 4);
    snprintf(j + o, sizeof j - o, "}");
    expect_parse("17 tensors", make_file(j, 4 * (CKPT_MAX_TENSORS + 1)), CKPT_ERR_SCHEMA, "more than");
    o = (size_t)snprintf(j, sizeof j, "{\"__metadata__\":{");
    for (int k = 0; k <= CKPT_MAX_META; k++) o += (size_t)snprintf(j + o, sizeof j - o, "%s\"k%d\":\"v\"", k ? "," : "", k);
    snprintf(j + o, sizeof j - o, "}}");
    expect_parse("49 metadata entries", make_file(j, 0), CKPT_ERR_SCHEMA, "more than");
    char longkey[700];
    memset(longkey, 'k', 600);
    longkey[600] = 0;
    snprintf(j, sizeof j, "{\"__metadata__\":{\"a\":\"%s\"}}", longkey);
    expect_parse("metadata value too long", make_file(j, 0), CKPT_ERR_SCHEMA, "longer than");
    snprintf(j, sizeof j, "{\"__metadata__\":{\"%s\":\"a\"}}", longkey);
    expect_parse("metadata key too long", make_file(j, 0), CKPT_ERR_SCHEMA, "longer than");
    /* escapes decode: a name spelled with \u escapes is the same name */
    expect_model("escaped names",
                 make_file("{\"\\u0030.weight\":{\"dtype\":\"F32\",\"shape\":[1,784],\"data_offsets\":[0,3136]},"
                           "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[3136,3140]},"
                           "\"2.weight\":{\"dtype\":\"F32\",\"shape\":[10,1],\"data_offsets\":[3140,3180]},"
                           "\"2.bias\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[3180,3220]}}",
                           3220),
                 CKPT_OK, NULL);

    /* the model's own checks */
    expect_parse("wrong dtype F16 in a model", make_file(model_json(h, "F16", "[3,784]", ""), model_bytes(h)), CKPT_ERR_DTYPE,
                 "only F32");
    {
        const uint64_t in783[4][2] = {{3, 783}, {3, 0}, {10, 3}, {10, 0}};
        const uint64_t in0[4][2] = {{3, 0}, {3, 0}, {10, 3}, {10, 0}};
        expect_model("0.weight of rank 1", custom_file(4, MODEL_NAMES, in0), CKPT_ERR_SHAPE, "expected [H, inputs] with 1..65536 inputs");
        const uint64_t inbig[4][2] = {{1, 65537}, {1, 0}, {10, 1}, {10, 0}};
        expect_model("65537 inputs", custom_file(4, MODEL_NAMES, inbig), CKPT_ERR_SHAPE, "expected [H, inputs] with 1..65536 inputs");
        const uint64_t c1[4][2] = {{3, 64}, {3, 0}, {1, 3}, {1, 0}};
        expect_model("1 class", custom_file(4, MODEL_NAMES, c1), CKPT_ERR_SHAPE, "1 classes is outside 2..256");
        const uint64_t c257[4][2] = {{3, 64}, {3, 0}, {257, 3}, {257, 0}};
        expect_model("257 classes", custom_file(4, MODEL_NAMES, c257), CKPT_ERR_SHAPE, "257 classes is outside 2..256");
        const uint64_t d64[4][2] = {{5, 48}, {5, 0}, {3, 5}, {3, 0}};
        expect_model("8x6 image metadata of 40 pixels", custom_file_meta(4, MODEL_NAMES, d64, "\"__metadata__\":{\"rows\":\"8\",\"cols\":\"5\"}"),
                     CKPT_ERR_METADATA, "metadata rows '8' and cols '5' are not an image of the model's 48 inputs");
        expect_model("rows without cols", custom_file_meta(4, MODEL_NAMES, d64, "\"__metadata__\":{\"rows\":\"8\"}"),
                     CKPT_ERR_METADATA, "not an image");
        /* any chain of shapes: inputs from 0.weight, classes from the last layer, the image shape
         * from the metadata, else a square where the inputs are one, else one row */
        struct {
            const char *what, *meta;
            uint64_t dims[4][2];
            uint32_t inputs, classes, rows, cols;
        } shapes[] = {
            {"783 inputs, 10 classes: one row", NULL, {{3, 783}, {3, 0}, {10, 3}, {10, 0}}, 783, 10, 1, 783},
            {"64 inputs, 5 classes: 8x8", NULL, {{4, 64}, {4, 0}, {5, 4}, {5, 0}}, 64, 5, 8, 8},
            {"48 inputs, 3 classes, metadata 8x6", "\"__metadata__\":{\"rows\":\"8\",\"cols\":\"6\"}", {{5, 48}, {5, 0}, {3, 5}, {3, 0}}, 48, 3, 8, 6},
            {"784 inputs, 256 classes", NULL, {{2, 784}, {2, 0}, {256, 2}, {256, 0}}, 784, 256, 28, 28},
        };
        for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
            buf f = custom_file_meta(4, MODEL_NAMES, shapes[k].dims, shapes[k].meta);
            ckpt_parsed *p = malloc(sizeof *p);
            char err[512] = "";
            ckpt_model m = {0};
            ckpt_status st = parse_buf(f, p, err, sizeof err);
            if (st == CKPT_OK) st = ckpt_model_decode(p, &m, err, sizeof err);
            CHECK(st == CKPT_OK && m.arch.inputs == shapes[k].inputs && m.arch.classes == shapes[k].classes &&
                      m.rows == shapes[k].rows && m.cols == shapes[k].cols,
                  "%s: %s, %u inputs %u classes %ux%u", shapes[k].what, err, m.arch.inputs, m.arch.classes, m.rows, m.cols);
            ckpt_model_free(&m);
            free(p);
            free(f.p);
        }
        const uint64_t bias4[4][2] = {{3, 784}, {4, 0}, {10, 3}, {10, 0}};
        expect_model("shape mismatch: 0.bias", custom_file(4, MODEL_NAMES, bias4), CKPT_ERR_SHAPE, "0.bias");
        const uint64_t w2t[4][2] = {{3, 784}, {3, 0}, {3, 10}, {10, 0}};
        expect_model("shape mismatch: 2.weight transposed", custom_file(4, MODEL_NAMES, w2t), CKPT_ERR_SHAPE, "2.weight");
        const uint64_t w1t[4][2] = {{784, 3}, {3, 0}, {10, 3}, {10, 0}};
        expect_model("shape mismatch: 0.weight transposed", custom_file(4, MODEL_NAMES, w1t), CKPT_ERR_SHAPE, "0.weight");
        const uint64_t b2[4][2] = {{3, 784}, {3, 0}, {10, 3}, {9, 0}};
        expect_model("shape mismatch: 2.bias", custom_file(4, MODEL_NAMES, b2), CKPT_ERR_SHAPE, "2.bias");
        const uint64_t b1r2[4][2] = {{3, 784}, {3, 1}, {10, 3}, {10, 0}};
        expect_model("shape mismatch: 0.bias rank 2", custom_file(4, MODEL_NAMES, b1r2), CKPT_ERR_SHAPE, "0.bias");
        const uint64_t h0[4][2] = {{0, 784}, {0, 0}, {10, 0}, {10, 0}};
        expect_model("hidden 0", custom_file(4, MODEL_NAMES, h0), CKPT_ERR_SHAPE, "outside");
        const uint64_t hbig[4][2] = {{4097, 784}, {4097, 0}, {10, 4097}, {10, 0}};
        expect_model("hidden 4097", custom_file(4, MODEL_NAMES, hbig), CKPT_ERR_SHAPE, "outside");
        const uint64_t three[3][2] = {{3, 784}, {3, 0}, {10, 3}};
        expect_model("missing tensor", custom_file(3, MODEL_NAMES, three), CKPT_ERR_TENSOR, "missing tensor '2.bias'");
        const char *const five_names[5] = {"0.weight", "0.bias", "2.weight", "2.bias", "extra"};
        const uint64_t five[5][2] = {{3, 784}, {3, 0}, {10, 3}, {10, 0}, {1, 0}};
        expect_model("extra tensor", custom_file(5, five_names, five), CKPT_ERR_TENSOR, "unexpected tensor 'extra'");
        const char *const renamed[4] = {"layer1.weight", "0.bias", "2.weight", "2.bias"};
        expect_model("renamed tensor", custom_file(4, renamed, in783), CKPT_ERR_TENSOR, "layer1.weight");
    }
    {
        buf nb = make_file(model_json(h, "F32", "[3,784]", ""), model_bytes(h));
        size_t hl = strlen(model_json(h, "F32", "[3,784]", ""));
        uint8_t nan[4] = {0x00, 0x00, 0xc0, 0x7f};
        memcpy(nb.p + 8 + hl + 4 * 100, nan, 4);
        expect_model("NaN weight", nb, CKPT_ERR_VALUE, "NaN at index 100");
        nb = make_file(model_json(h, "F32", "[3,784]", ""), model_bytes(h));
        uint8_t inf[4] = {0x00, 0x00, 0x80, 0xff};
        memcpy(nb.p + 8 + hl + model_bytes(h) - 4, inf, 4);
        expect_model("infinite bias", nb, CKPT_ERR_VALUE, "2.bias");
    }
}

/* The training-state decoder: every key, every consistency rule. */
static void test_state_validation(void) {
    uint32_t h = 2;
    size_t pc = pcount(h);
    float *vel = calloc(pc, 4);
    struct {
        const char *key, *value, *needle;
    } cases[] = {
        {"format", "something", "format"},
        {"version", "2", "version"},
        {"epochs_done", "0", ">= 1"},
        {"epochs_done", "6", "more than epochs"},
        {"epochs_done", "-1", "not a whole number"},
        {"epochs_done", "01", "not a whole number"},
        {"epochs_done", " 1", "not a whole number"},
        {"global_step", "17", "global_step"},
        {"steps_per_epoch", "99", "steps_per_epoch"},
        {"batch", "0", ">= 1"},
        {"batch", "9000", "not a whole number in 0..8192"},
        {"batch", "3000", "larger than train_samples"},
        {"hidden", "3", NULL}, /* velocity shape no longer fits */
        {"hidden", "5000", "1..4096"},
        {"hidden", "64,0", "1..4096"},
        {"hidden", "1,2,3,4,5,6,7,8,9", "1..4096"},
        {"activation", "swish", "activation 'swish'"},
        {"init", "he", "init 'he'"},
        {"lr", "nan", "lr"},
        {"lr", "0", "lr"},
        {"lr", "1e999", "lr"},
        {"lr", " 0.1", "lr"},
        {"momentum", "1", "momentum"},
        {"schedule", "linear", "schedule"},
        {"kernels", "fast", "kernels"},
        {"kernels", "auto", "kernels"},
        {"kernels", NULL, "lacks metadata 'kernels'"},
        {"train_fingerprint", "xyz", "fingerprint"},
        {"model_fingerprint", "0123456789ABCDEF", "fingerprint"},
        {"surprise", "1", "unknown training-state metadata key"},
        {"edit_lr_scale", "0", "edit_lr_scale must be"},
        {"edit_lr_scale", "-2", "edit_lr_scale must be"},
        {"edit_lr_scale", "nan", "edit_lr_scale"},
        {"edit_lr_scale", "1e999", "edit_lr_scale"},
        {"edit_momentum", "1", "edit_momentum: momentum must be in [0, 1)"},
        {"edit_momentum", "x", "edit_momentum"},
        {"seed", NULL, "lacks metadata 'seed'"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        ckpt_kv kv[CKPT_MAX_META];
        size_t n = 0;
        const char *base[][2] = {
            {"format", CKPT_STATE_FORMAT}, {"version", "1"}, {"epochs_done", "2"}, {"global_step", "32"}, {"steps_per_epoch", "16"},
            {"train_samples", "2000"}, {"train_fingerprint", "0123456789abcdef"}, {"model_fingerprint", "0000000000000001"},
            {"seed", "7"}, {"hidden", "2"}, {"batch", "128"}, {"epochs", "5"}, {"lr", "0.05"}, {"momentum", "0.9"},
            {"schedule", "cosine"}, {"save_every", "1"}, {"kernels", "fused"},
        };
        bool replaced = false;
        for (size_t k = 0; k < sizeof base / sizeof *base; k++) {
            const char *v = base[k][1];
            if (!strcmp(base[k][0], cases[c].key)) {
                replaced = true;
                if (!cases[c].value) continue;
                v = cases[c].value;
            }
            snprintf(kv[n].key, sizeof kv[n].key, "%s", base[k][0]);
            snprintf(kv[n].value, sizeof kv[n].value, "%s", v);
            n++;
        }
        if (!replaced) {
            snprintf(kv[n].key, sizeof kv[n].key, "%s", cases[c].key);
            snprintf(kv[n].value, sizeof kv[n].value, "%s", cases[c].value);
            n++;
        }
        ckpt_out_tensor t = {CKPT_VELOCITY_TENSOR, 1, {pc, 0, 0, 0}, vel};
        uint8_t *bytes;
        size_t len;
        char err[512] = "";
        ckpt_serialize(&t, 1, kv, n, &bytes, &len, err, sizeof err);
        ckpt_parsed *p = malloc(sizeof *p);
        CHECK(ckpt_parse(bytes, len, p, err, sizeof err) == CKPT_OK, "state case %zu parses: %s", c, err);
        ckpt_state s;
        ckpt_status st = ckpt_state_decode(p, &s, err, sizeof err);
        CHECK(st != CKPT_OK, "state %s=%s must be refused", cases[c].key, cases[c].value ? cases[c].value : "(missing)");
        CHECK(one_line(err), "state message one line");
        if (cases[c].needle) CHECK(strstr(err, cases[c].needle) != NULL, "state %s: '%s' lacks '%s'", cases[c].key, err, cases[c].needle);
        if (st == CKPT_OK) ckpt_state_free(&s);
        free(p), free(bytes);
    }
    /* the baseline itself decodes (so the cases above fail for their own reason) */
    ckpt_state s;
    memset(&s, 0, sizeof s);
    s.cfg = mlp_config_default();
    s.cfg.kernels = MLP_KERNELS_FUSED;
    s.cfg.arch.hidden[0] = h, s.cfg.batch = 128, s.cfg.epochs = 5;
    s.epochs_done = 2, s.steps_per_epoch = 16, s.global_step = 32, s.train_samples = 2000, s.save_every = 1;
    s.slot[0] = vel;
    uint8_t *bytes;
    size_t len;
    char err[512];
    ckpt_state_encode(&s, &bytes, &len, err, sizeof err);
    ckpt_parsed *p = malloc(sizeof *p);
    ckpt_parse(bytes, len, p, err, sizeof err);
    ckpt_state s2;
    CHECK(ckpt_state_decode(p, &s2, err, sizeof err) == CKPT_OK, "baseline state: %s", err);
    /* written before live edits existed (no edit_* keys): no edits in effect */
    CHECK(!ckpt_meta_get(p, "edit_lr_scale") && s2.live.lr_scale == 1.0 && s2.live.momentum == s.cfg.momentum,
          "a state without edit keys has no edits in effect");
    ckpt_state_free(&s2);
    free(bytes);
    s.cfg.kernels = MLP_KERNELS_AUTO;
    CHECK(ckpt_state_encode(&s, &bytes, &len, err, sizeof err) == CKPT_ERR_METADATA, "a state must name the kernels that ran");
    /* a velocity of the wrong length */
    ckpt_out_tensor t = {CKPT_VELOCITY_TENSOR, 1, {pc - 1, 0, 0, 0}, vel};
    ckpt_kv kv[CKPT_MAX_META];
    size_t n = 0;
    for (uint32_t i = 0; i < p->nmeta; i++) kv[n++] = p->meta[i];
    ckpt_serialize(&t, 1, kv, n, &bytes, &len, err, sizeof err);
    ckpt_parse(bytes, len, p, err, sizeof err);
    CHECK(ckpt_state_decode(p, &s2, err, sizeof err) == CKPT_ERR_SHAPE, "short velocity: %s", err);
    free(bytes);
    ckpt_out_tensor t2[2] = {{CKPT_VELOCITY_TENSOR, 1, {pc, 0, 0, 0}, vel}, {"0.weight", 1, {1, 0, 0, 0}, vel}};
    ckpt_serialize(t2, 2, kv, n, &bytes, &len, err, sizeof err);
    ckpt_parse(bytes, len, p, err, sizeof err);
    CHECK(ckpt_state_decode(p, &s2, err, sizeof err) == CKPT_ERR_TENSOR, "extra tensor in state: %s", err);
    free(bytes);
    ckpt_serialize(NULL, 0, kv, n, &bytes, &len, err, sizeof err);
    ckpt_parse(bytes, len, p, err, sizeof err);
    CHECK(ckpt_state_decode(p, &s2, err, sizeof err) == CKPT_ERR_TENSOR, "no velocity: %s", err);
    free(bytes);
    free(p), free(vel);
}

/* The "sha256" digest: the hash itself (FIPS 180-2 vectors), what the writer records, and what
 * a load does with a file whose tensor data changed, whose digest is malformed, or that has none. */
static void test_digest(void) {
    static const struct {
        const char *in, *hex;
    } vec[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t v = 0; v < sizeof vec / sizeof *vec; v++) {
        uint8_t d[32];
        char hex[65];
        ckpt_sha256(vec[v].in, strlen(vec[v].in), d);
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
        CHECK(!strcmp(hex, vec[v].hex), "sha256('%s') = %s, want %s", vec[v].in, hex, vec[v].hex);
    }

    ckpt_model_info info = {mlp_config_default(), 2, 1000, 10000, 0.5, 28, 28, NULL};
    info.cfg.arch.hidden[0] = 16;
    size_t n = mlp_param_count(&info.cfg.arch);
    float *params = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) params[i] = (float)i * 0.001f - 0.5f;
    ckpt_kv meta[CKPT_MAX_META];
    size_t nmeta = ckpt_model_metadata(&info, meta);
    uint8_t *bytes;
    size_t len;
    char err[1024];
    CHECK(ckpt_model_encode(&info.cfg.arch, params, meta, nmeta, &bytes, &len, err, sizeof err) == CKPT_OK, "encode: %s", err);
    ckpt_parsed *p = malloc(sizeof *p);
    CHECK(ckpt_parse(bytes, len, p, err, sizeof err) == CKPT_OK, "parse: %s", err);
    const char *rec = ckpt_meta_get(p, CKPT_DIGEST_KEY);
    uint8_t d[32];
    char hex[65] = "";
    ckpt_sha256(bytes + 8 + p->header_len, len - 8 - (size_t)p->header_len, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    CHECK(rec && !strcmp(rec, hex), "the writer records the sha256 of the data section (%s, want %s)", rec ? rec : "none", hex);
    bool present = false;
    CHECK(ckpt_verify_digest(bytes, len, p, &present, err, sizeof err) == CKPT_OK && present, "intact file verifies: %s", err);

    char path[1024];
    snprintf(path, sizeof path, "%s/digest.safetensors", g_root);
    /* one exponent bit of one weight: still a finite number, so only the digest can tell */
    bytes[len - 4 * 100 + 3] ^= 0x10;
    CHECK(ckpt_write_atomic(path, bytes, len, err, sizeof err) == CKPT_OK, "write: %s", err);
    ckpt_model m;
    ckpt_status st = ckpt_load_model(path, &m, NULL, NULL, 0, err, sizeof err);
    CHECK(st == CKPT_ERR_DIGEST && strstr(err, path) && strstr(err, "does not match the file's sha256 digest"),
          "a flipped bit is refused, naming the file: %s %s", ckpt_status_name(st), err);
    bytes[len - 4 * 100 + 3] ^= 0x10;
    /* re-encoding a file that has a digest replaces it in place (no second key) */
    uint8_t *again;
    size_t again_len;
    CHECK(ckpt_model_encode(&info.cfg.arch, params, p->meta, p->nmeta, &again, &again_len, err, sizeof err) == CKPT_OK, "re-encode: %s", err);
    CHECK(again_len == len && !memcmp(again, bytes, len), "re-encoding with the recorded digest gives the same bytes");
    free(again);
    free(bytes), free(p), free(params);
}

/* The writer escapes what it is given, and its output always re-parses. */
static void test_writer_escaping(void) {
    ckpt_kv kv[3];
    snprintf(kv[0].key, sizeof kv[0].key, "quote\"back\\slash");
    snprintf(kv[0].value, sizeof kv[0].value, "line\nbreak\ttab\x01");
    snprintf(kv[1].key, sizeof kv[1].key, "utf8");
    snprintf(kv[1].value, sizeof kv[1].value, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    snprintf(kv[2].key, sizeof kv[2].key, "bad-utf8");
    snprintf(kv[2].value, sizeof kv[2].value, "a\xff" "b");
    uint8_t *bytes;
    size_t len;
    char err[512];
    CHECK(ckpt_serialize(NULL, 0, kv, 3, &bytes, &len, err, sizeof err) == CKPT_OK, "serialize: %s", err);
    ckpt_parsed *p = malloc(sizeof *p);
    CHECK(ckpt_parse(bytes, len, p, err, sizeof err) == CKPT_OK, "escaped header parses: %s", err);
    const char *v = ckpt_meta_get(p, "quote\"back\\slash");
    CHECK(v && !strcmp(v, "line\nbreak\ttab\x01"), "escapes round-trip");
    v = ckpt_meta_get(p, "utf8");
    CHECK(v && !strcmp(v, "caf\xc3\xa9 \xf0\x9f\x98\x80"), "UTF-8 round-trips");
    v = ckpt_meta_get(p, "bad-utf8");
    CHECK(v && !strcmp(v, "a\xef\xbf\xbd" "b"), "invalid UTF-8 becomes U+FFFD");
    free(bytes), free(p);
}

/* ---- files ---- */

static bool same_file(const char *path, const uint8_t *bytes, size_t len) {
    uint8_t *got;
    size_t n;
    if (ckpt_read_file(path, &got, &n, NULL, 0) != CKPT_OK) return false;
    bool same = n == len && !memcmp(got, bytes, len);
    free(got);
    return same;
}

static int count_temps(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp-") != NULL || strstr(e->d_name, ".trash-") != NULL;
    closedir(d);
    return n;
}

static void test_file_errors(void) {
    char path[512], err[512];
    uint8_t *b;
    size_t n;
    snprintf(path, sizeof path, "%s/none.safetensors", g_root);
    CHECK(ckpt_read_file(path, &b, &n, err, sizeof err) == CKPT_ERR_MISSING && strstr(err, path), "missing file: %s", err);
    CHECK(ckpt_read_file(g_root, &b, &n, err, sizeof err) == CKPT_ERR_IO && strstr(err, "folder"), "folder: %s", err);
    snprintf(path, sizeof path, "%s/huge.safetensors", g_root);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)ckpt_max_file_size() + 1) == 0, "sparse file");
    close(fd);
    CHECK(ckpt_read_file(path, &b, &n, err, sizeof err) == CKPT_ERR_TOO_LARGE, "huge file: %s", err);
    unlink(path);
    ckpt_model m;
    snprintf(path, sizeof path, "%s/garbage.safetensors", g_root);
    FILE *f = fopen(path, "wb");
    fputs("this is not a model at all", f);
    fclose(f);
    CHECK(ckpt_load_model(path, &m, NULL, NULL, 0, err, sizeof err) != CKPT_OK && !strncmp(err, path, strlen(path)),
          "errors name the file: %s", err);
    snprintf(path, sizeof path, "%s/no/such/dir/m.safetensors", g_root);
    uint8_t x[8] = {0};
    CHECK(ckpt_write_atomic(path, x, 8, err, sizeof err) == CKPT_ERR_MISSING && strstr(err, "does not exist"), "save into missing folder: %s",
          err);
    CHECK(ckpt_write_atomic(g_root, x, 8, err, sizeof err) != CKPT_OK, "save over a folder: %s", err);
    snprintf(path, sizeof path, "%s/a/b", g_root);
    CHECK(ckpt_dir_prepare(path, err, sizeof err) == CKPT_ERR_MISSING && strstr(err, "parent"), "prepare without parent: %s", err);
    snprintf(path, sizeof path, "%s/garbage.safetensors", g_root);
    CHECK(ckpt_dir_prepare(path, err, sizeof err) == CKPT_ERR_IO && strstr(err, "not a folder"), "prepare on a file: %s", err);
    /* a stale temp from a dead writer is cleaned by the next save; a live one is not */
    char stale[600], live[600], target[512];
    snprintf(target, sizeof target, "%s/clean.safetensors", g_root);
    pid_t dead = fork();
    if (dead == 0) _exit(0);
    waitpid(dead, NULL, 0);
    snprintf(stale, sizeof stale, "%s/.clean.safetensors.tmp-%d-1", g_root, (int)dead);
    snprintf(live, sizeof live, "%s/.clean.safetensors.tmp-%d-1", g_root, (int)getppid());
    fclose(fopen(stale, "w"));
    fclose(fopen(live, "w"));
    CHECK(ckpt_write_atomic(target, x, 8, err, sizeof err) == CKPT_OK, "save: %s", err);
    CHECK(access(stale, F_OK) != 0, "stale temp of a dead writer removed");
    CHECK(access(live, F_OK) == 0, "temp of a live writer kept");
    unlink(live);
}

/* A child saves forever, alternating two contents; it is killed at random moments. What is
 * left at the path must always be one of the two, complete and loadable. */
static void test_kill_during_save(void) {
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/killed.safetensors", g_root);
    uint32_t h = 256;
    float *pa = random_params(h, 11), *pb = random_params(h, 12);
    uint8_t *a, *b;
    size_t la, lb;
    ckpt_model_encode(ARCH(h), pa, NULL, 0, &a, &la, err, sizeof err);
    ckpt_model_encode(ARCH(h), pb, NULL, 0, &b, &lb, err, sizeof err);
    CHECK(ckpt_write_atomic(path, a, la, err, sizeof err) == CKPT_OK, "first save: %s", err);
    srand((unsigned)time(NULL));
    int rounds = 40, old_or_new = 0, mid_write = 0;
    for (int r = 0; r < rounds; r++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (unsigned k = 0;; k++) {
                char e2[256];
                if (ckpt_write_atomic(path, k % 2 ? a : b, k % 2 ? la : lb, e2, sizeof e2) != CKPT_OK) _exit(3);
            }
        }
        struct timespec ts = {0, (long)(rand() % 40000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status), "round %d: the writer was killed, not failed (status %d)", r, status);
        mid_write += count_temps(g_root) > 0; /* killed between creating its temp and the rename */
        ckpt_model m;
        ckpt_status st = ckpt_load_model(path, &m, NULL, NULL, 0, err, sizeof err);
        CHECK(st == CKPT_OK, "round %d: file loads after a kill: %s", r, err);
        bool is_a = same_file(path, a, la), is_b = same_file(path, b, lb);
        CHECK(is_a || is_b, "round %d: the file is exactly the old or the new one", r);
        old_or_new += is_a || is_b;
        ckpt_model_free(&m);
    }
    printf("kill during save: %d/%d rounds left a complete old-or-new file (%d kills landed mid-write)\n", old_or_new, rounds,
           mid_write);
    CHECK(mid_write > 0, "some kills must land inside a save for this test to mean anything");
    /* the leftovers of killed writers go away with the next save */
    CHECK(ckpt_write_atomic(path, a, la, err, sizeof err) == CKPT_OK, "save after the kills: %s", err);
    CHECK(count_temps(g_root) == 0, "no temps left after a later save (%d)", count_temps(g_root));

    /* the same for checkpoint folders: after a kill the latest checkpoint resumes */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/killdir", g_root);
    ckpt_dir_prepare(dir, err, sizeof err);
    ckpt_state s;
    memset(&s, 0, sizeof s);
    s.cfg = mlp_config_default();
    s.cfg.kernels = MLP_KERNELS_FUSED;
    s.cfg.arch.hidden[0] = h, s.cfg.batch = 100, s.cfg.epochs = 100000;
    s.train_samples = 1000, s.steps_per_epoch = 10, s.save_every = 1;
    s.slot[0] = pb;
    s.model_fingerprint = ckpt_params_fingerprint(pa, pcount(h));
    bool resumed = false; /* a round found a checkpoint: every later one must */
    for (int r = 0; r < 25; r++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (uint32_t e = (uint32_t)r * 1000 + 1;; e++) {
                uint8_t *sb;
                size_t sl;
                char e2[256];
                s.epochs_done = e, s.global_step = (uint64_t)e * 10;
                if (ckpt_state_encode(&s, &sb, &sl, e2, sizeof e2) != CKPT_OK) _exit(4);
                if (ckpt_dir_save(dir, e, a, la, sb, sl, NULL, 0, e2, sizeof e2) != CKPT_OK) _exit(3);
                free(sb);
            }
        }
        struct timespec ts = {0, (long)(rand() % 60000 + 5000) * 1000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status), "dir round %d: killed (status %d)", r, status);
        ckpt_model m;
        ckpt_state s2;
        char folder[512];
        ckpt_status st = ckpt_load_resume(dir, &m, &s2, folder, sizeof folder, err, sizeof err);
        /* on a loaded machine the first rounds may be killed before any save completes */
        CHECK(st == CKPT_OK || (!resumed && st == CKPT_ERR_MISSING), "dir round %d: the latest checkpoint resumes: %s", r,
              err);
        resumed = resumed || st == CKPT_OK;
        ckpt_model_free(&m), ckpt_state_free(&s2);
    }
    CHECK(resumed, "some of the 25 rounds saved a checkpoint before the kill");
    free(a), free(b), free(pa), free(pb);
}

/* A save that hits a file-size limit or a full disk fails clearly and keeps the old file. */
static void test_full_disk(void) {
    char path[1024], dir[512], err[512];
    uint32_t h = 64;
    float *p = random_params(h, 21);
    uint8_t *small, *big, *state;
    size_t ls, lb, lst;
    ckpt_model_encode(ARCH(1), p, NULL, 0, &small, &ls, err, sizeof err);
    ckpt_model_encode(ARCH(h), p, NULL, 0, &big, &lb, err, sizeof err);
    ckpt_state s;
    memset(&s, 0, sizeof s);
    s.cfg = mlp_config_default();
    s.cfg.kernels = MLP_KERNELS_FUSED;
    s.cfg.arch.hidden[0] = h, s.cfg.batch = 10, s.cfg.epochs = 10;
    s.train_samples = 100, s.steps_per_epoch = 10, s.save_every = 1, s.epochs_done = 2, s.global_step = 20;
    s.slot[0] = p;
    s.model_fingerprint = ckpt_params_fingerprint(p, pcount(h));
    ckpt_state_encode(&s, &state, &lst, err, sizeof err);
    snprintf(path, sizeof path, "%s/limit.safetensors", g_root);
    snprintf(dir, sizeof dir, "%s/limitdir", g_root);
    CHECK(ckpt_write_atomic(path, small, ls, err, sizeof err) == CKPT_OK, "small save: %s", err);
    ckpt_dir_prepare(dir, err, sizeof err);
    CHECK(ckpt_dir_save(dir, 1, small, ls, small, ls, NULL, 0, err, sizeof err) == CKPT_OK, "small dir save: %s", err);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {50000, 50000};
        setrlimit(RLIMIT_FSIZE, &rl);
        char e1[512] = "", e2[512] = "";
        ckpt_status s1 = ckpt_write_atomic(path, big, lb, e1, sizeof e1);
        ckpt_status s2 = ckpt_dir_save(dir, 2, big, lb, state, lst, NULL, 0, e2, sizeof e2);
        dprintf(pipefd[1], "%d\n%s\n%d\n%s\n", (int)s1, e1, (int)s2, e2);
        _exit(0);
    }
    close(pipefd[1]);
    char out[2048] = "";
    ssize_t got = read(pipefd[0], out, sizeof out - 1);
    out[got > 0 ? got : 0] = 0;
    close(pipefd[0]);
    waitpid(pid, NULL, 0);
    int s1 = -1, s2 = -1;
    char e1[600] = "", e2[600] = "";
    sscanf(out, "%d\n%599[^\n]\n%d\n%599[^\n]", &s1, e1, &s2, e2);
    CHECK(s1 == CKPT_ERR_NOSPACE && strstr(e1, "file size limit") && strstr(e1, "previous checkpoint is kept"), "file over the limit: %d %s", s1, e1);
    CHECK(s2 == CKPT_ERR_NOSPACE && strstr(e2, "file size limit"), "folder over the limit: %d %s", s2, e2);
    CHECK(same_file(path, small, ls), "the previous file is intact");
    uint32_t latest = 0;
    char folder[512];
    CHECK(ckpt_dir_latest(dir, &latest, folder, sizeof folder, err, sizeof err) == CKPT_OK && latest == 1, "previous checkpoint stays latest");
    CHECK(count_temps(g_root) == 0 && count_temps(dir) == 0, "failed saves leave no temp behind");

    /* a real ENOSPC on a small tmpfs, where this process may mount one */
    char mnt[512];
    snprintf(mnt, sizeof mnt, "%s/tmpfs", g_root);
    mkdir(mnt, 0755);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        printf("skip: real ENOSPC case (cannot mount a tmpfs here: %s); RLIMIT_FSIZE case ran\n", strerror(errno));
    } else {
        snprintf(path, sizeof path, "%s/m.safetensors", mnt);
        CHECK(ckpt_write_atomic(path, small, ls, err, sizeof err) == CKPT_OK, "small save on tmpfs: %s", err);
        ckpt_status st = ckpt_write_atomic(path, big, lb, err, sizeof err);
        CHECK(st == CKPT_ERR_NOSPACE && strstr(err, "no space left"), "ENOSPC: %s %s", ckpt_status_name(st), err);
        CHECK(same_file(path, small, ls), "the previous file survives ENOSPC");
        CHECK(count_temps(mnt) == 0, "no temp left on the full disk");
        char d2[600];
        snprintf(d2, sizeof d2, "%s/ck", mnt);
        ckpt_dir_prepare(d2, err, sizeof err);
        st = ckpt_dir_save(d2, 1, big, lb, state, lst, NULL, 0, err, sizeof err);
        CHECK(st == CKPT_ERR_NOSPACE, "ENOSPC on a folder save: %s", err);
        CHECK(count_temps(d2) == 0, "no temp folder left on the full disk");
        umount(mnt);
        printf("real ENOSPC on a 64k tmpfs: checked\n");
    }
    free(small), free(big), free(state), free(p);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(void) {
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 2;
    }
    test_round_trip();
    test_malformed();
    test_state_validation();
    test_writer_escaping();
    test_digest();
    test_file_errors();
    test_kill_during_save();
    test_full_disk();
    nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_exit("test_checkpoint");
}
