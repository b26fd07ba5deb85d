/* Kernel-versus-reference checks; see selfcheck.h. */
#include "core/selfcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mlp.h"
#include "core/reference.h"

/* ---- random inputs ---- */

static uint64_t next(uint64_t *s) { return mlp_splitmix64(s); }

static float rnd(uint64_t *s, float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(next(s) >> 11) / 9007199254740992.0);
}

static void fill(uint64_t *s, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = rnd(s, lo, hi);
}

static void fill_bytes(uint64_t *s, uint8_t *x, size_t n, unsigned mod) {
    for (size_t i = 0; i < n; i++) x[i] = (uint8_t)(next(s) % mod);
}

static void permutation(uint64_t *s, uint32_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) p[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(next(s) % i), t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
}

/* ---- comparing ---- */

static void compare(selfcheck_result *r, const float *gpu, const float *ref, size_t n) {
    double diff = 0, norm = 0, max_abs = 0;
    bool nan = false;
    for (size_t i = 0; i < n; i++) {
        if (isnan(gpu[i]) || isinf(gpu[i])) nan = true;
        double d = (double)gpu[i] - (double)ref[i];
        diff += d * d;
        norm += (double)ref[i] * ref[i];
        if (fabs(d) > max_abs) max_abs = fabs(d);
    }
    r->has_nan = nan;
    r->max_abs = max_abs;
    r->rel_error = norm > 0 ? sqrt(diff / norm) : sqrt(diff);
    r->pass = !nan && r->rel_error < SELFCHECK_TOLERANCE;
}

typedef struct harness {
    gpu_context *gpu;
    selfcheck_report report;
    void *user;
    int failures;
} harness;

static void emit(harness *h, selfcheck_result *r) {
    if (!r->pass) h->failures++;
    if (h->report) h->report(h->user, r);
}

static void emit_compare(harness *h, const char *kernel, const char *tensor, const char *shape, const float *gpu,
                         const float *ref, size_t n) {
    selfcheck_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.kernel, sizeof r.kernel, "%s", kernel);
    snprintf(r.tensor, sizeof r.tensor, "%s", tensor);
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    compare(&r, gpu, ref, n);
    emit(h, &r);
}

static void emit_exact(harness *h, const char *kernel, const char *tensor, const char *shape, const uint32_t *gpu,
                       const uint32_t *ref, size_t n) {
    selfcheck_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.kernel, sizeof r.kernel, "%s", kernel);
    snprintf(r.tensor, sizeof r.tensor, "%s", tensor);
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += gpu[i] != ref[i];
    r.max_abs = (double)wrong;
    r.rel_error = n ? (double)wrong / (double)n : 0;
    r.pass = wrong == 0;
    emit(h, &r);
}

static void emit_error(harness *h, const char *kernel, const char *shape, const char *msg) {
    selfcheck_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.kernel, sizeof r.kernel, "%s", kernel);
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    snprintf(r.error, sizeof r.error, "%s", msg);
    r.pass = false;
    emit(h, &r);
}

/* ---- one kernel run: buffers by name, NaN-poisoned outputs, one dispatch ---- */

enum { IN, OUT, INOUT, UNI }; /* OUT is poisoned before the run; OUT and INOUT are read back */

typedef struct arg {
    const char *name;
    void *host; /* data to upload, or to receive */
    size_t bytes;
    int kind;
} arg;

static bool run_kernel(harness *h, const char *file, const gpu_constant *consts, int nconst, arg *args, int nargs,
                       uint64_t invocations, const char *shape) {
    gpu_context *g = h->gpu;
    gpu_kernel *k;
    gpu_status s = gpu_kernel_get(g, file, consts, nconst, &k);
    gpu_buffer bufs[GPU_MAX_BINDINGS];
    gpu_bind binds[GPU_MAX_BINDINGS];
    memset(bufs, 0, sizeof bufs);
    int made = 0;
    for (int i = 0; s == GPU_OK && i < nargs; i++, made++) {
        s = gpu_buffer_create(g, &bufs[i], args[i].name, args[i].bytes, args[i].kind == UNI ? GPU_UNIFORM : GPU_STORAGE);
        if (s != GPU_OK) break;
        size_t padded = (args[i].bytes + 3) & ~(size_t)3;
        unsigned char *tmp = malloc(padded);
        if (!tmp) break;
        if (args[i].kind == OUT) memset(tmp, 0xff, padded); /* poison: NaN in every float, ~0 in every u32 */
        else {
            memset(tmp, 0, padded);
            memcpy(tmp, args[i].host, args[i].bytes);
        }
        s = gpu_buffer_write(g, &bufs[i], 0, tmp, padded);
        free(tmp);
        binds[i].name = args[i].name;
        binds[i].buffer = &bufs[i];
        binds[i].offset = 0;
        binds[i].size = args[i].kind == UNI ? 16 : 0;
    }
    WGPUBindGroup bg = NULL;
    uint32_t groups = 1;
    if (s == GPU_OK) s = gpu_bind_group(g, k, binds, nargs, &bg);
    if (s == GPU_OK) s = gpu_groups_1d(g, k, invocations, &groups);
    if (s == GPU_OK) {
        gpu_scope_push(g);
        WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(gpu_device(g), NULL);
        WGPUComputePassEncoder pass = wgpuCommandEncoderBeginComputePass(enc, NULL);
        uint32_t zero = 0;
        wgpuComputePassEncoderSetPipeline(pass, k->pipeline);
        wgpuComputePassEncoderSetBindGroup(pass, 0, bg, 1, &zero);
        wgpuComputePassEncoderDispatchWorkgroups(pass, groups, 1, 1);
        wgpuComputePassEncoderEnd(pass);
        wgpuComputePassEncoderRelease(pass);
        WGPUCommandBuffer cmd = wgpuCommandEncoderFinish(enc, NULL);
        wgpuQueueSubmit(gpu_queue(g), 1, &cmd);
        wgpuCommandBufferRelease(cmd);
        wgpuCommandEncoderRelease(enc);
        s = gpu_scope_pop(g, file);
    }
    for (int i = 0; s == GPU_OK && i < nargs; i++)
        if (args[i].kind == OUT || args[i].kind == INOUT) s = gpu_buffer_read(g, &bufs[i], 0, args[i].host, args[i].bytes);
    if (bg) wgpuBindGroupRelease(bg);
    for (int i = 0; i < made; i++) gpu_buffer_destroy(&bufs[i]);
    if (s != GPU_OK) {
        emit_error(h, file, shape, gpu_error(g));
        return false;
    }
    return true;
}

typedef struct step_params {
    uint32_t start, count;
    float lr;
    uint32_t index;
} step_params;

/* u8 arrays travel as packed words; pad a copy to whole words */
static uint8_t *padded_bytes(const uint8_t *src, size_t n) {
    uint8_t *p = calloc((n + 3) & ~(size_t)3, 1);
    if (p) memcpy(p, src, n);
    return p;
}

static void check_shape(harness *h, uint64_t *rng, int B, int H) {
    const int D = MLP_INPUTS, C = MLP_CLASSES;
    char shape[48];
    snprintf(shape, sizeof shape, "B=%d H=%d", B, H);
    uint32_t N = (uint32_t)B + 5; /* a few more images than the batch, gathered through a permutation */
    uint32_t start = 3 < N - (uint32_t)B ? 3 : N - (uint32_t)B;
    size_t nw1 = (size_t)H * D, nw2 = (size_t)C * H;
    uint8_t *images = malloc((size_t)N * D), *labels = malloc(N);
    uint32_t *order = malloc(N * 4);
    float *w1 = malloc(nw1 * 4), *b1 = malloc((size_t)H * 4), *w2 = malloc(nw2 * 4), *b2 = malloc(C * 4);
    float *x = malloc((size_t)B * D * 4), *pre = malloc((size_t)B * H * 4), *hid = malloc((size_t)B * H * 4);
    float *logits = malloc((size_t)B * C * 4), *dlogits = malloc((size_t)B * C * 4), *losses = malloc((size_t)B * 4);
    uint32_t *correct = malloc((size_t)B * 4);
    float *dh_raw = malloc((size_t)B * H * 4), *dh = malloc((size_t)B * H * 4);
    float *dw1 = malloc(nw1 * 4), *db1 = malloc((size_t)H * 4), *dw2 = malloc(nw2 * 4), *db2 = malloc(C * 4);
    float *out_a = malloc(nw1 * 4 + (size_t)B * H * 4), *out_b = malloc((size_t)B * H * 4 + 64), *out_c = malloc((size_t)B * H * 4 + 64);
    uint8_t *gimages = NULL, *glabels = NULL;
    gpu_constant ch[] = {{"HIDDEN", H}};
    if (!images || !labels || !order || !w1 || !b1 || !w2 || !b2 || !x || !pre || !hid || !logits || !dlogits ||
        !losses || !correct || !dh_raw || !dh || !dw1 || !db1 || !dw2 || !db2 || !out_a || !out_b || !out_c) {
        emit_error(h, "setup", shape, "out of memory");
        goto done;
    }
    fill_bytes(rng, images, (size_t)N * D, 256);
    fill_bytes(rng, labels, N, C);
    permutation(rng, order, N);
    fill(rng, w1, nw1, -0.05f, 0.05f);
    fill(rng, b1, (size_t)H, -0.1f, 0.1f);
    fill(rng, w2, nw2, -0.3f, 0.3f);
    fill(rng, b2, C, -0.1f, 0.1f);
    gimages = padded_bytes(images, (size_t)N * D);
    glabels = padded_bytes(labels, N);
    if (!gimages || !glabels) goto done;
    step_params sp = {start, (uint32_t)B, 0.0f, 2};

    /* dense1_forward: gather, normalise, matmul, bias, ReLU */
    input_gather_forward(x, images, order, start, B, D);
    dense_forward(pre, x, w1, b1, B, D, H);
    relu_forward(hid, pre, B * H);
    {
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"images", gimages, ((size_t)N * D + 3) & ~3u, IN},
                   {"order", order, N * 4, IN}, {"w1", w1, nw1 * 4, IN},
                   {"b1", b1, (size_t)H * 4, IN}, {"hidden", out_a, (size_t)B * H * 4, OUT}};
        if (run_kernel(h, "dense1_forward.wgsl", ch, 1, a, 6, (uint64_t)B * H, shape))
            emit_compare(h, "dense1_forward.wgsl", "hidden", shape, out_a, hid, (size_t)B * H);
    }
    /* dense2_forward */
    dense_forward(logits, hid, w2, b2, B, H, C);
    {
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"hidden", hid, (size_t)B * H * 4, IN},
                   {"w2", w2, nw2 * 4, IN}, {"b2", b2, C * 4, IN},
                   {"logits", out_a, (size_t)B * C * 4, OUT}};
        if (run_kernel(h, "dense2_forward.wgsl", ch, 1, a, 5, (uint64_t)B * C, shape))
            emit_compare(h, "dense2_forward.wgsl", "logits", shape, out_a, logits, (size_t)B * C);
    }
    /* softmax + cross-entropy: logits scaled up so the softmax is not flat */
    for (int i = 0; i < B * C; i++) logits[i] *= 3.0f;
    {
        uint8_t *batch_labels = malloc((size_t)B);
        if (!batch_labels) goto done;
        for (int b = 0; b < B; b++) batch_labels[b] = labels[order[start + b]];
        double mean = softmax_xent_forward_backward(dlogits, losses, correct, logits, batch_labels, B, C);
        free(batch_labels);
        uint32_t ref_correct = 0;
        for (int b = 0; b < B; b++) ref_correct += correct[b];
        float metrics_ref[2] = {(float)(mean * B), (float)ref_correct};
        float metrics[8];
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"logits", logits, (size_t)B * C * 4, IN},
                   {"labels", glabels, (N + 3) & ~3u, IN}, {"order", order, N * 4, IN},
                   {"dlogits", out_a, (size_t)B * C * 4, OUT}, {"metrics", metrics, sizeof metrics, OUT}};
        if (run_kernel(h, "softmax_xent_backward.wgsl", NULL, 0, a, 6, 1, shape)) {
            emit_compare(h, "softmax_xent_backward.wgsl", "dlogits", shape, out_a, dlogits, (size_t)B * C);
            emit_compare(h, "softmax_xent_backward.wgsl", "loss sum", shape, &metrics[2 * sp.index], &metrics_ref[0], 1);
            uint32_t got = (uint32_t)metrics[2 * sp.index + 1], want = ref_correct;
            emit_exact(h, "softmax_xent_backward.wgsl", "correct", shape, &got, &want, 1);
        }
    }
    /* dense2_backward: dW2, db2 and the ReLU-masked dHidden; hidden with some exact zeros */
    fill(rng, hid, (size_t)B * H, -1.0f, 1.0f);
    for (int i = 0; i < B * H; i++)
        if (hid[i] < 0) hid[i] = 0;
    fill(rng, dlogits, (size_t)B * C, -0.2f, 0.2f);
    dense_backward(dh_raw, dw2, db2, dlogits, hid, w2, B, H, C);
    relu_backward(dh, hid, dh_raw, B * H);
    {
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"dlogits", dlogits, (size_t)B * C * 4, IN},
                   {"hidden", hid, (size_t)B * H * 4, IN}, {"w2", w2, nw2 * 4, IN},
                   {"dw2", out_a, nw2 * 4, OUT}, {"db2", out_b, C * 4, OUT},
                   {"dhidden", out_c, (size_t)B * H * 4, OUT}};
        if (run_kernel(h, "dense2_backward.wgsl", ch, 1, a, 7, (uint64_t)C * H + C + (uint64_t)B * H, shape)) {
            emit_compare(h, "dense2_backward.wgsl", "dw2", shape, out_a, dw2, nw2);
            emit_compare(h, "dense2_backward.wgsl", "db2", shape, out_b, db2, C);
            emit_compare(h, "dense2_backward.wgsl", "dhidden", shape, out_c, dh, (size_t)B * H);
        }
    }
    /* dense1_backward: dW1 from re-gathered inputs, db1 */
    dense_backward(NULL, dw1, db1, dh, x, w1, B, D, H);
    {
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"images", gimages, ((size_t)N * D + 3) & ~3u, IN},
                   {"order", order, N * 4, IN}, {"dhidden", dh, (size_t)B * H * 4, IN},
                   {"dw1", out_a, nw1 * 4, OUT}, {"db1", out_b, (size_t)H * 4, OUT}};
        if (run_kernel(h, "dense1_backward.wgsl", ch, 1, a, 6, (uint64_t)(H + 3) / 4 * (D / 4) + (uint64_t)H, shape)) { /* 4x4 blocks */
            emit_compare(h, "dense1_backward.wgsl", "dw1", shape, out_a, dw1, nw1);
            emit_compare(h, "dense1_backward.wgsl", "db1", shape, out_b, db1, (size_t)H);
        }
    }
    /* classify: probabilities, predictions and confusion counts of a labelled chunk */
    {
        float *probs_ref = malloc((size_t)B * C * 4), *loss_ref = malloc((size_t)B * 4);
        uint32_t *pred_ref = malloc((size_t)B * 4), *pred = malloc((size_t)B * 4), conf_ref[100] = {0}, conf[100];
        uint8_t *lab = malloc((size_t)B);
        float *probs = malloc((size_t)B * C * 4), *loss = malloc((size_t)B * 4);
        if (probs_ref && loss_ref && pred_ref && pred && lab && probs && loss) {
            memcpy(lab, labels, (size_t)B);
            softmax_xent_forward_backward(dlogits, loss_ref, correct, logits, lab, B, C);
            for (int b = 0; b < B; b++) {
                int best = 0;
                for (int c = 1; c < C; c++)
                    if (logits[b * C + c] > logits[b * C + best]) best = c;
                pred_ref[b] = (uint32_t)best;
                conf_ref[lab[b] * C + best]++;
                for (int c = 0; c < C; c++) probs_ref[b * C + c] = dlogits[b * C + c] * B + (c == lab[b] ? 1.0f : 0.0f);
            }
            uint8_t *glab = padded_bytes(lab, (size_t)B);
            step_params cp = {0, (uint32_t)B, 0.0f, 0};
            memset(conf, 0, sizeof conf);
            arg a[] = {{"step", &cp, sizeof cp, UNI}, {"logits", logits, (size_t)B * C * 4, IN},
                       {"labels", glab, ((size_t)B + 3) & ~(size_t)3, IN},
                       {"probs", probs, (size_t)B * C * 4, OUT}, {"losses", loss, (size_t)B * 4, OUT},
                       {"predicted", pred, (size_t)B * 4, OUT}, {"confusion", conf, sizeof conf, INOUT}};
            if (glab && run_kernel(h, "classify.wgsl", NULL, 0, a, 7, (uint64_t)B, shape)) {
                emit_compare(h, "classify.wgsl", "probs", shape, probs, probs_ref, (size_t)B * C);
                emit_compare(h, "classify.wgsl", "losses", shape, loss, loss_ref, (size_t)B);
                emit_exact(h, "classify.wgsl", "predicted", shape, pred, pred_ref, (size_t)B);
                emit_exact(h, "classify.wgsl", "confusion", shape, conf, conf_ref, 100);
            }
            free(glab);
        }
        free(probs_ref), free(loss_ref), free(pred_ref), free(pred), free(lab), free(probs), free(loss);
    }
done:
    free(images), free(labels), free(order), free(w1), free(b1), free(w2), free(b2), free(x), free(pre), free(hid);
    free(logits), free(dlogits), free(losses), free(correct), free(dh_raw), free(dh), free(dw1), free(db1), free(dw2);
    free(db2), free(out_a), free(out_b), free(out_c), free(gimages), free(glabels);
}

static void check_sgd(harness *h, uint64_t *rng, size_t n, float momentum) {
    char shape[48];
    snprintf(shape, sizeof shape, "n=%zu momentum=%g", n, (double)momentum);
    float *p = malloc(n * 4), *g = malloc(n * 4), *v = malloc(n * 4), *p_ref = malloc(n * 4), *v_ref = malloc(n * 4);
    if (p && g && v && p_ref && v_ref) {
        fill(rng, p, n, -1, 1);
        fill(rng, g, n, -1, 1);
        fill(rng, v, n, -1, 1);
        memcpy(p_ref, p, n * 4);
        memcpy(v_ref, v, n * 4);
        step_params sp = {0, 0, 0.05f, 0};
        sgd_update(p_ref, v_ref, g, n, sp.lr, momentum);
        gpu_constant cm[] = {{"MOMENTUM", momentum}};
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"params", p, n * 4, INOUT}, {"grads", g, n * 4, IN},
                   {"velocity", v, n * 4, INOUT}};
        if (run_kernel(h, "sgd_update.wgsl", cm, 1, a, 4, n, shape)) {
            emit_compare(h, "sgd_update.wgsl", "params", shape, p, p_ref, n);
            if (momentum != 0) emit_compare(h, "sgd_update.wgsl", "velocity", shape, v, v_ref, n);
        }
    }
    free(p), free(g), free(v), free(p_ref), free(v_ref);
}

int selfcheck_kernels(gpu_context *gpu, uint64_t seed, selfcheck_report report, void *user) {
    harness h = {gpu, report, user, 0};
    uint64_t rng = seed;
    /* (batch, hidden): tiny, odd, not multiples of any workgroup size, and the default model */
    static const int shapes[][2] = {{1, 1}, {3, 7}, {17, 33}, {64, 128}, {65, 100}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) check_shape(&h, &rng, shapes[i][0], shapes[i][1]);
    check_sgd(&h, &rng, 1, 0.0f);
    check_sgd(&h, &rng, 1000, 0.0f);
    check_sgd(&h, &rng, 101770, 0.9f);
    return h.failures;
}

/* ---- training steps through the engine ---- */

static void check_run(harness *h, uint64_t *rng, const char *shape, uint32_t n, uint32_t batch, uint32_t hidden,
                      float momentum, mlp_kernels kernels) {
    uint8_t *images = malloc((size_t)n * MLP_INPUTS), *labels = malloc(n);
    uint32_t *order = malloc(n * 4);
    size_t np = mlp_param_count(hidden);
    float *p0 = malloc(np * 4), *gpu_p = malloc(np * 4), *grads = malloc(np * 4), *vel = calloc(np, 4);
    mlp_trainer *t = NULL;
    if (!images || !labels || !order || !p0 || !gpu_p || !grads || !vel) {
        emit_error(h, "training step", shape, "out of memory");
        goto done;
    }
    fill_bytes(rng, images, (size_t)n * MLP_INPUTS, 256);
    fill_bytes(rng, labels, n, MLP_CLASSES);
    mlp_config c = mlp_config_default();
    c.hidden = hidden;
    c.batch = batch;
    c.epochs = 1;
    c.lr = 0.05f;
    c.momentum = momentum;
    c.schedule = MLP_SCHEDULE_CONSTANT;
    c.seed = next(rng);
    c.kernels = kernels;
    mlp_dataset d = {images, labels, n};
    if (mlp_create(h->gpu, &c, &d, NULL, &t) != MLP_OK || mlp_read_params(t, p0) != MLP_OK ||
        mlp_train_epoch(t, NULL, NULL, NULL) != MLP_OK || mlp_read_params(t, gpu_p) != MLP_OK) {
        emit_error(h, "training step", shape, t ? mlp_error(t) : "out of memory");
        goto done;
    }
    /* replay on the reference: same order, same steps */
    ref_mlp m;
    ref_mlp_point(&m, p0, MLP_INPUTS, (int)hidden, MLP_CLASSES);
    mlp_epoch_order(c.seed, 1, n, order);
    for (uint32_t start = 0; start < n; start += batch) {
        uint32_t count = n - start < batch ? n - start : batch;
        ref_mlp_step(&m, grads, momentum != 0 ? vel : NULL, images, labels, order, start, (int)count, c.lr, momentum);
    }
    selfcheck_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.kernel, sizeof r.kernel, "%s", kernels == MLP_KERNELS_FUSED ? "training step (fused)" : "training step");
    snprintf(r.tensor, sizeof r.tensor, "weights");
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    compare(&r, gpu_p, p0, np);
    /* the bar for a step: every weight within 1e-5 of the CPU's */
    r.pass = r.pass && r.max_abs <= 1e-5;
    emit(h, &r);
done:
    mlp_destroy(t);
    free(images), free(labels), free(order), free(p0), free(gpu_p), free(grads), free(vel);
}

int selfcheck_steps(gpu_context *gpu, uint64_t seed, selfcheck_report report, void *user) {
    harness h = {gpu, report, user, 0};
    uint64_t rng = seed ^ 0xABCDEF;
    for (int k = 0; k < 2; k++) {
        mlp_kernels kernels = k == 0 ? MLP_KERNELS_REFERENCE : MLP_KERNELS_FUSED;
        check_run(&h, &rng, "1 step, B=64 H=128", 64, 64, 128, 0.0f, kernels);
        check_run(&h, &rng, "3 steps, N=100 B=40 H=33 momentum 0.9", 100, 40, 33, 0.9f, kernels);
        check_run(&h, &rng, "2 steps, N=37 B=19 H=20", 37, 19, 20, 0.0f, kernels);
        check_run(&h, &rng, "2 steps, N=600 B=300 H=50 momentum 0.5", 600, 300, 50, 0.5f, kernels);
    }
    return h.failures;
}
