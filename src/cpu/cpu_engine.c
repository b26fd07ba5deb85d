/* The CPU engine; see cpu_engine.h. One training step is the reference's sequence
 * (ref_model_loss, clip_factor, optimizer_update as selfcheck.c replays the GPU's steps) on
 * cpu_kernels.h's blocked, SIMD, pooled ops. */
#include "cpu/cpu_engine.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/reference.h"

#define EVAL_CHUNK 1024 /* samples per forward pass of evaluation and prediction */

struct cpu_trainer {
    cpu_exec *ex;
    mlp_config cfg;
    bool inference;
    uint32_t train_count, steps_per_epoch, epochs_done;
    char error[1024];
    mlp_live live;      /* the edits in effect (core/live.h) */
    bool in_epoch;      /* inside cpu_train_epoch (its progress callback) */
    uint32_t next_step; /* in an epoch: its next step to run */

    model_layout lay; /* packed: the mlp_read_params layout, so params & co copy as they are */
    uint32_t slots;
    float *params, *grads, *state; /* state: slot k at k * lay.count */
    float *prev;                   /* config.health: the parameters before a report's last step */
    mlp_health health;
    bool has_health;

    uint8_t *train_images, *train_labels;
    uint32_t *order;
    /* one step's activations: x [B][inputs]; per layer pre [B][fan_out] (the last layer's is
     * the logits), out (hidden layers: after activation and dropout), dz (the loss gradient at
     * pre); dinp [B][widest fan_in] */
    float *x, *pre[MODEL_MAX_LAYERS], *out[MODEL_MAX_LAYERS], *dz[MODEL_MAX_LAYERS], *dinp;
    uint8_t *batch_labels;
    uint32_t *batch_correct;

    /* evaluation and prediction: EVAL_CHUNK-sample buffers */
    float *ex_x, *ex_act[MODEL_MAX_LAYERS], *ex_probs, *ex_losses;
    uint32_t *ex_pred;
    uint8_t *test_images, *test_labels;
    uint32_t test_count;
    uint8_t *test_pred;
    float *test_conf;
    uint32_t *confusion;
};

static mlp_status fail(cpu_trainer *t, mlp_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof t->error, fmt, ap);
    va_end(ap);
    return s;
}

static mlp_status oom(cpu_trainer *t) { return fail(t, MLP_ERR_GPU, "out of memory"); }

const char *cpu_error(const cpu_trainer *t) { return t->error; }
const char *cpu_trainer_isa(const cpu_trainer *t) { return t->ex ? cpu_isa_name(cpu_exec_isa(t->ex)) : "none"; }
uint32_t cpu_epochs_done(const cpu_trainer *t) { return t->epochs_done; }
void cpu_set_epochs_done(cpu_trainer *t, uint32_t epochs) { t->epochs_done = epochs; }
const mlp_config *cpu_get_config(const cpu_trainer *t) { return &t->cfg; }
const uint8_t *cpu_test_predictions(const cpu_trainer *t) { return t->test_pred; }
const float *cpu_test_confidences(const cpu_trainer *t) { return t->test_conf; }

static uint32_t layers(const cpu_trainer *t) { return t->lay.layers; }

static void *dup_bytes(const void *src, size_t n) {
    void *p = malloc(n ? n : 1);
    if (p) memcpy(p, src, n);
    return p;
}

static mlp_status check_labels(cpu_trainer *t, const mlp_dataset *d, const char *name) {
    if (!d->images || !d->labels || d->count == 0) return fail(t, MLP_ERR_DATA, "the %s set is empty", name);
    uint32_t classes = t->cfg.arch.classes;
    for (uint32_t i = 0; i < d->count; i++)
        if (d->labels[i] >= classes)
            return fail(t, MLP_ERR_DATA, "%s label %u is %u, past the model's %u classes (0-%u)", name, i, d->labels[i],
                        classes, classes - 1);
    return MLP_OK;
}

/* What evaluation needs: the exec, the layout, the parameters, the eval buffers, the test set. */
static mlp_status setup_model(cpu_trainer *t, const cpu_pool *pool, cpu_isa isa, const mlp_dataset *test) {
    if (!cpu_isa_available(isa)) return fail(t, MLP_ERR_CONFIG, "this CPU has no %s", isa == CPU_ISA_AVX2 ? "AVX2 and FMA" : "such kernels");
    t->ex = cpu_exec_create(pool, isa);
    if (!t->ex) return oom(t);
    model_layout_make(&t->cfg.arch, 1, &t->lay);
    t->params = calloc(t->lay.count, sizeof(float));
    t->ex_x = malloc((size_t)EVAL_CHUNK * t->cfg.arch.inputs * sizeof(float));
    t->ex_probs = malloc((size_t)EVAL_CHUNK * t->cfg.arch.classes * sizeof(float));
    t->ex_losses = malloc((size_t)EVAL_CHUNK * sizeof(float));
    t->ex_pred = malloc((size_t)EVAL_CHUNK * sizeof(uint32_t));
    t->confusion = calloc((size_t)t->cfg.arch.classes * t->cfg.arch.classes, sizeof(uint32_t));
    if (!t->params || !t->ex_x || !t->ex_probs || !t->ex_losses || !t->ex_pred || !t->confusion) return oom(t);
    for (uint32_t l = 0; l < layers(t); l++)
        if (!(t->ex_act[l] = malloc((size_t)EVAL_CHUNK * t->lay.fan_out[l] * sizeof(float)))) return oom(t);
    if (test) {
        mlp_status s = check_labels(t, test, "test");
        if (s != MLP_OK) return s;
        t->test_count = test->count;
        t->test_images = dup_bytes(test->images, (size_t)test->count * t->cfg.arch.inputs);
        t->test_labels = dup_bytes(test->labels, test->count);
        t->test_pred = calloc(test->count, 1);
        t->test_conf = calloc(test->count, sizeof(float));
        if (!t->test_images || !t->test_labels || !t->test_pred || !t->test_conf) return oom(t);
    }
    return MLP_OK;
}

mlp_status cpu_create(const cpu_pool *pool, cpu_isa isa, const mlp_config *config, const mlp_dataset *train,
                      const mlp_dataset *test, cpu_trainer **out) {
    *out = NULL;
    cpu_trainer *t = calloc(1, sizeof *t);
    if (!t) return MLP_ERR_GPU;
    *out = t;
    t->cfg = *config;
    t->live = mlp_live_initial(config);
    char err[256];
    if (mlp_config_check(config, train->count, err, sizeof err) != MLP_OK) return fail(t, MLP_ERR_CONFIG, "%s", err);
    mlp_status s = check_labels(t, train, "training");
    if (s != MLP_OK) return s;
    if ((s = setup_model(t, pool, isa, test)) != MLP_OK) return s;

    uint32_t B = config->batch, inputs = config->arch.inputs;
    t->train_count = train->count;
    t->steps_per_epoch = (train->count + B - 1) / B;
    t->train_images = dup_bytes(train->images, (size_t)train->count * inputs);
    t->train_labels = dup_bytes(train->labels, train->count);
    t->order = malloc((size_t)train->count * sizeof(uint32_t));
    t->slots = optim_slots(config->optimizer);
    t->grads = calloc(t->lay.count, sizeof(float));
    if (config->health && !(t->prev = malloc(t->lay.count * sizeof(float)))) return oom(t);
    t->state = calloc((size_t)t->slots * t->lay.count, sizeof(float));
    t->x = malloc((size_t)B * inputs * sizeof(float));
    t->batch_labels = malloc(B);
    t->batch_correct = malloc((size_t)B * sizeof(uint32_t));
    uint32_t widest = 0;
    for (uint32_t l = 0; l < layers(t); l++) {
        size_t n = (size_t)B * t->lay.fan_out[l] * sizeof(float);
        t->pre[l] = malloc(n);
        t->dz[l] = malloc(n);
        t->out[l] = l + 1 < layers(t) ? malloc(n) : NULL;
        if (!t->pre[l] || !t->dz[l] || (l + 1 < layers(t) && !t->out[l])) return oom(t);
        if (l > 0 && t->lay.fan_in[l] > widest) widest = t->lay.fan_in[l];
    }
    t->dinp = malloc((size_t)B * (widest ? widest : 1) * sizeof(float));
    if (!t->train_images || !t->train_labels || !t->order || !t->grads || !t->state || !t->x || !t->batch_labels || !t->batch_correct ||
        !t->dinp)
        return oom(t);
    mlp_init_params(config, t->params);
    return MLP_OK;
}

mlp_status cpu_model_create(const cpu_pool *pool, cpu_isa isa, const model_arch *arch, const float *params,
                            const mlp_dataset *test, cpu_trainer **out) {
    *out = NULL;
    cpu_trainer *t = calloc(1, sizeof *t);
    if (!t) return MLP_ERR_GPU;
    *out = t;
    t->inference = true;
    t->cfg = mlp_config_default();
    t->cfg.arch = *arch;
    char err[256];
    if (!model_arch_check(arch, err, sizeof err)) return fail(t, MLP_ERR_CONFIG, "%s", err);
    mlp_status s = setup_model(t, pool, isa, test);
    if (s == MLP_OK) memcpy(t->params, params, t->lay.count * sizeof(float));
    return s;
}

void cpu_destroy(cpu_trainer *t) {
    if (!t) return;
    cpu_exec_destroy(t->ex);
    for (int l = 0; l < MODEL_MAX_LAYERS; l++) free(t->pre[l]), free(t->out[l]), free(t->dz[l]), free(t->ex_act[l]);
    free(t->params), free(t->grads), free(t->prev), free(t->state), free(t->train_images), free(t->train_labels), free(t->order);
    free(t->x), free(t->dinp), free(t->batch_labels), free(t->batch_correct), free(t->ex_x), free(t->ex_probs), free(t->ex_losses);
    free(t->ex_pred), free(t->test_images), free(t->test_labels), free(t->test_pred), free(t->test_conf);
    free(t->confusion);
    free(t);
}

/* ---- training ---- */

static const float *W(const cpu_trainer *t, uint32_t l) { return t->params + t->lay.offsets[2 * l]; }
static const float *Bias(const cpu_trainer *t, uint32_t l) { return t->params + t->lay.offsets[2 * l + 1]; }

/* One step on samples order[start .. start + count): forward, loss, backward, clip, update.
 * *loss_sum gets the sum of the samples' losses, *correct the first-argmax == label count. */
static void train_step(cpu_trainer *t, uint32_t start, int count, float lr, float bc1, float bc2, uint32_t noise,
                       double *loss_sum, uint32_t *correct) {
    const model_layout *L = &t->lay;
    const int nl = (int)layers(t), C = (int)t->cfg.arch.classes;
    const float drop = t->cfg.dropout;
    const model_activation act = t->cfg.arch.activation;
    cpu_input_gather(t->ex, t->x, t->train_images, t->order, start, count, (int)t->cfg.arch.inputs);
    const float *inp = t->x;
    for (int l = 0; l < nl; l++) {
        int n = count * (int)L->fan_out[l];
        cpu_dense_forward(t->ex, t->pre[l], inp, W(t, (uint32_t)l), Bias(t, (uint32_t)l), count, (int)L->fan_in[l],
                          (int)L->fan_out[l]);
        if (l + 1 < nl) {
            cpu_activation_forward(t->out[l], t->pre[l], n, act);
            if (drop > 0) cpu_dropout(t->out[l], t->out[l], n, drop, noise, (uint32_t)l);
            inp = t->out[l];
        }
    }
    for (int b = 0; b < count; b++) t->batch_labels[b] = t->train_labels[t->order[start + (uint32_t)b]];
    uint32_t *corr = t->batch_correct;
    *loss_sum = cpu_softmax_xent(t->dz[nl - 1], NULL, corr, t->pre[nl - 1], t->batch_labels, count, C,
                                 t->cfg.label_smoothing);
    uint32_t k = 0;
    for (int b = 0; b < count; b++) k += corr[b];
    *correct = k;
    for (int l = nl - 1; l >= 0; l--) {
        const float *in = l ? t->out[l - 1] : t->x;
        cpu_dense_backward(t->ex, l ? t->dinp : NULL, t->grads + L->offsets[2 * l], t->grads + L->offsets[2 * l + 1],
                           t->dz[l], in, W(t, (uint32_t)l), count, (int)L->fan_in[l], (int)L->fan_out[l]);
        if (l > 0) {
            int n = count * (int)L->fan_in[l];
            cpu_activation_backward(t->dz[l - 1], t->pre[l - 1], t->dinp, n, act);
            if (drop > 0) cpu_dropout(t->dz[l - 1], t->dz[l - 1], n, drop, noise, (uint32_t)(l - 1));
        }
    }
    optim_config o = mlp_live_optim(&t->cfg, &t->live);
    float clip = o.clip_grad_norm > 0 ? clip_factor(t->grads, L->count, o.clip_grad_norm) : 1.0f;
    cpu_optimizer_update(t->ex, t->params, t->state, L->count, t->grads, L->count, &o, lr, bc1, bc2, clip);
}

/* The health panel of the step just trained (core/health.h); prev NULL: the update unmeasured. */
static void compute_health(cpu_trainer *t, const float *prev, uint32_t epoch, uint32_t step, uint32_t count) {
    health_inputs in = {&t->lay, t->cfg.arch.activation, t->params, prev, t->grads, {NULL}, {NULL}, count};
    for (uint32_t l = 0; l + 1 < layers(t); l++) in.out[l] = t->out[l], in.pre[l] = t->pre[l];
    health_compute(&in, &t->health);
    t->health.epoch = epoch, t->health.step = step;
    t->has_health = true;
}

const mlp_health *cpu_last_health(const cpu_trainer *t) { return t->has_health ? &t->health : NULL; }

mlp_status cpu_train_epoch(cpu_trainer *t, mlp_progress_fn progress, void *user, mlp_epoch_result *out) {
    if (t->inference) return fail(t, MLP_ERR_CONFIG, "an inference model cannot train");
    uint32_t epoch = t->epochs_done + 1, steps = t->steps_per_epoch, B = t->cfg.batch;
    uint64_t total_steps = (uint64_t)steps * t->cfg.epochs;
    mlp_epoch_order(t->cfg.seed, epoch, t->train_count, t->order);
    double tot_loss = 0, tot_correct = 0, part_loss = 0, part_correct = 0;
    uint64_t tot_samples = 0, part_samples = 0;
    bool stop = false;
    t->in_epoch = true;
    for (uint32_t s = 0; s < steps && !stop; s++) {
        uint32_t start = s * B, count = t->train_count - start < B ? t->train_count - start : B;
        uint64_t global = (uint64_t)(epoch - 1) * steps + s;
        float bc1, bc2;
        optim_config o = mlp_live_optim(&t->cfg, &t->live); /* a live edit may change it between steps */
        optim_bias_corrections(&o, global + 1, &bc1, &bc2);
        double loss;
        uint32_t correct;
        bool report = (s + 1) % t->cfg.report_every == 0 || s + 1 == steps, health = t->cfg.health;
        if (health && report) memcpy(t->prev, t->params, t->lay.count * sizeof(float));
        t->next_step = s + 1;
        float lr = mlp_live_step_lr(&t->cfg, &t->live, global, total_steps);
        train_step(t, start, (int)count, lr, bc1, bc2,
                   mlp_step_noise(t->cfg.seed, global), &loss, &correct);
        char where[256];
        if (!isfinite(loss)) {
            t->in_epoch = false;
            /* this engine stops at the step itself: its tensors name what overflowed */
            if (health) {
                compute_health(t, report ? t->prev : NULL, epoch, s + 1, count);
                health_where(&t->health, where, sizeof where);
                return fail(t, MLP_ERR_DIVERGED,
                            "the loss became %s at epoch %u, step %u of %u; at step %u, %s: lower the learning rate (%g at that step, of --lr %g)",
                            isnan(loss) ? "NaN" : "infinite", epoch, s + 1, steps, s + 1, where, (double)lr, (double)t->cfg.lr);
            }
            return fail(t, MLP_ERR_DIVERGED, "the loss became %s at epoch %u, step %u of %u: lower the learning rate (%g at that step, of --lr %g)",
                        isnan(loss) ? "NaN" : "infinite", epoch, s + 1, steps, (double)lr, (double)t->cfg.lr);
        }
        part_loss += loss, part_correct += correct, part_samples += count;
        if (report) {
            if (health) {
                compute_health(t, t->prev, epoch, s + 1, count);
                if (health_nonfinite(&t->health, where, sizeof where)) {
                    t->in_epoch = false;
                    return fail(t, MLP_ERR_DIVERGED, "a non-finite value at epoch %u, step %u of %u: %s: lower the learning rate (%g at that step, of --lr %g)",
                                epoch, s + 1, steps, where, (double)lr, (double)t->cfg.lr);
                }
            }
            tot_loss += part_loss, tot_correct += part_correct, tot_samples += part_samples;
            if (progress) {
                mlp_progress pr = {epoch, s + 1, steps, tot_samples, part_samples ? part_loss / (double)part_samples : 0,
                                   part_samples ? part_correct / (double)part_samples : 0, NULL, health ? &t->health : NULL};
                if (!progress(user, &pr)) stop = true;
            }
            part_loss = part_correct = 0, part_samples = 0;
        }
    }
    t->in_epoch = false;
    t->epochs_done++;
    if (out) {
        out->epoch = epoch;
        out->loss = tot_samples ? tot_loss / (double)tot_samples : 0;
        out->train_accuracy = tot_samples ? tot_correct / (double)tot_samples : 0;
    }
    if (stop) return fail(t, MLP_ERR_STOPPED, "training stopped at epoch %u", epoch);
    return MLP_OK;
}

mlp_status cpu_edit_hparams(cpu_trainer *t, const mlp_edit *e, mlp_edit_result *out) {
    if (t->inference) return fail(t, MLP_ERR_CONFIG, "an inference model has no training to edit");
    /* one step at a time: the next one is the first to run with the edit */
    uint64_t next = (uint64_t)t->epochs_done * t->steps_per_epoch + (t->in_epoch ? t->next_step : 0);
    char err[256];
    if (!mlp_live_apply(&t->cfg, &t->live, e, next, (uint64_t)t->steps_per_epoch * t->cfg.epochs, out, err, sizeof err))
        return fail(t, MLP_ERR_CONFIG, "%s", err);
    return MLP_OK;
}

mlp_live cpu_get_live(const cpu_trainer *t) { return t->live; }

mlp_status cpu_set_live(cpu_trainer *t, const mlp_live *l) {
    char err[256];
    if (!mlp_live_check(&t->cfg, l, err, sizeof err)) return fail(t, MLP_ERR_CONFIG, "%s", err);
    t->live = *l;
    return MLP_OK;
}

/* ---- evaluation ---- */

/* Logits of n <= EVAL_CHUNK images (identity order) into ex_act[last]. */
static const float *forward_chunk(cpu_trainer *t, const uint8_t *images, uint32_t n) {
    const model_layout *L = &t->lay;
    /* images are the chunk's own: gather them in order through a local identity */
    uint32_t ident[EVAL_CHUNK];
    for (uint32_t i = 0; i < n; i++) ident[i] = i;
    cpu_input_gather(t->ex, t->ex_x, images, ident, 0, (int)n, (int)t->cfg.arch.inputs);
    const float *inp = t->ex_x;
    for (uint32_t l = 0; l < layers(t); l++) {
        cpu_dense_forward(t->ex, t->ex_act[l], inp, W(t, l), Bias(t, l), (int)n, (int)L->fan_in[l], (int)L->fan_out[l]);
        if (l + 1 < layers(t))
            cpu_activation_forward(t->ex_act[l], t->ex_act[l], (int)(n * L->fan_out[l]), t->cfg.arch.activation);
        inp = t->ex_act[l];
    }
    return inp;
}

mlp_status cpu_evaluate(cpu_trainer *t, mlp_eval_result *out) {
    memset(out, 0, sizeof *out);
    if (!t->test_count) return fail(t, MLP_ERR_DATA, "no test set was given");
    uint32_t C = t->cfg.arch.classes, inputs = t->cfg.arch.inputs;
    memset(t->confusion, 0, (size_t)C * C * sizeof(uint32_t));
    double loss = 0;
    for (uint32_t s = 0; s < t->test_count; s += EVAL_CHUNK) {
        uint32_t n = t->test_count - s < EVAL_CHUNK ? t->test_count - s : EVAL_CHUNK;
        const float *logits = forward_chunk(t, t->test_images + (size_t)s * inputs, n);
        cpu_classify(t->ex_probs, t->ex_pred, t->ex_losses, logits, t->test_labels + s, (int)n, (int)C);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t p = t->ex_pred[i];
            loss += t->ex_losses[i];
            t->test_pred[s + i] = (uint8_t)p;
            t->test_conf[s + i] = t->ex_probs[(size_t)i * C + p];
            t->confusion[(size_t)t->test_labels[s + i] * C + p]++;
        }
    }
    uint64_t correct = 0;
    for (uint32_t c = 0; c < C; c++) correct += t->confusion[(size_t)c * C + c];
    out->count = t->test_count;
    out->loss = loss / t->test_count;
    out->accuracy = (double)correct / t->test_count;
    out->classes = C;
    out->confusion = t->confusion;
    return MLP_OK;
}

mlp_status cpu_predict(cpu_trainer *t, const uint8_t *images, uint32_t n, float *probs) {
    uint32_t C = t->cfg.arch.classes, inputs = t->cfg.arch.inputs;
    for (uint32_t s = 0; s < n; s += EVAL_CHUNK) {
        uint32_t m = n - s < EVAL_CHUNK ? n - s : EVAL_CHUNK;
        const float *logits = forward_chunk(t, images + (size_t)s * inputs, m);
        cpu_classify(probs + (size_t)s * C, NULL, NULL, logits, NULL, (int)m, (int)C);
    }
    return MLP_OK;
}

/* ---- parameters and state ---- */

mlp_status cpu_read_params(cpu_trainer *t, float *dst) {
    memcpy(dst, t->params, t->lay.count * sizeof(float));
    return MLP_OK;
}

mlp_status cpu_write_params(cpu_trainer *t, const float *src) {
    memcpy(t->params, src, t->lay.count * sizeof(float));
    return MLP_OK;
}

mlp_status cpu_read_state(cpu_trainer *t, uint32_t slot, float *dst) {
    if (slot >= t->slots) return fail(t, MLP_ERR_CONFIG, "the optimizer has no state slot %u", slot);
    memcpy(dst, t->state + (size_t)slot * t->lay.count, t->lay.count * sizeof(float));
    return MLP_OK;
}

mlp_status cpu_write_state(cpu_trainer *t, uint32_t slot, const float *src) {
    if (slot >= t->slots) return fail(t, MLP_ERR_CONFIG, "the optimizer has no state slot %u", slot);
    memcpy(t->state + (size_t)slot * t->lay.count, src, t->lay.count * sizeof(float));
    return MLP_OK;
}
