/* Training engine; see mlp.h. */
#include "core/mlp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/tiles.h"
#include "gpu/gpu_timer.h"

#define STEP_STRIDE 256   /* dynamic uniform offsets must be 256-byte aligned */
#define EVAL_CHUNK 2048   /* samples per evaluation dispatch: keeps grids under the limits */
/* 0 puts an epoch's first chunk in one command buffer, as later chunks (for A/B runs: bench/NOTES.md,
 * experiment 41) */
#ifndef SPLIT_FIRST_CHUNK
#define SPLIT_FIRST_CHUNK 1
#endif
#define READBACK_SLOTS 2  /* metrics of chunk k are read while chunk k+1 runs */
/* per-layer path: gather, L forward, loss, L backward, 2 gradient-norm passes, update */
#define MAX_DISPATCHES MLP_MAX_STEP_DISPATCHES

typedef struct step_params { /* matches `struct Step` in the kernels (most read the first four) */
    uint32_t start, count;
    float lr;
    uint32_t index;
    float bc1, bc2; /* Adam's bias corrections of this step */
    uint32_t noise; /* dropout's seed of this step */
    float momentum; /* the SGD family's momentum or Adam's beta1 at this step (live edits change it) */
    uint32_t health; /* a report's last step with the health panel on: the fused kernels store the gradient */
} step_params;

/* the fused kernels' tensors: the seed's model, whose layer table has exactly these four */
enum { T_W1, T_B1, T_W2, T_B2 };

typedef struct eval_set {
    gpu_buffer images, labels, order, steps, x, out[MODEL_MAX_LAYERS], probs, losses, predicted;
    uint32_t count, chunks;
    WGPUBindGroup gather, fwd[MODEL_MAX_LAYERS], cls;
} eval_set;

struct mlp_trainer {
    gpu_context *gpu;
    mlp_config cfg;
    uint32_t train_count, steps_per_epoch, epochs_done;
    bool inference; /* an mlp_model_create model: evaluation and prediction only */
    mlp_live live;        /* the edits in effect (core/live.h) */
    bool in_epoch;        /* inside mlp_train_epoch (its progress callback) */
    uint32_t next_encode; /* in an epoch: its first step not yet encoded */
    char error[1024];

    /* parameters: one allocation carved by the layer table's size table, tensors 256-byte
     * aligned; the gradients (per-layer path) are carved the same way, and so is each of the
     * optimizer's state slots in `state` (slot k at k * lay.carved floats) */
    model_layout lay;
    uint32_t slots;
    gpu_buffer params, grads, state;

    gpu_buffer train_images, train_labels, order, steps, metrics, confusion;
    /* per-layer path: the gathered inputs, each layer's pre-activation, output and dz (the
     * loss gradient at its pre-activation; the last layer's is dlogits); dummies stand in for
     * the bindings a layer does not use (a read one and a written one: never the same buffer) */
    gpu_buffer x, pre[MODEL_MAX_LAYERS], out[MODEL_MAX_LAYERS], dz[MODEL_MAX_LAYERS], dummy_r, dummy_w;
    gpu_kernel *k_gather, *k_fwd[MODEL_MAX_LAYERS], *k_efwd[MODEL_MAX_LAYERS], *k_bwd[MODEL_MAX_LAYERS];
    gpu_kernel *k_sx, *k_opt, *k_norm[2], *k_cls;
    WGPUBindGroup bg_gather, bg_fwd[MODEL_MAX_LAYERS], bg_bwd[MODEL_MAX_LAYERS], bg_sx, bg_opt, bg_norm[2];
    gpu_buffer norm_partial, clip; /* clip_grad_norm_: per-workgroup sums, the factor */
    uint32_t groups_opt;
    bool tiled; /* the dense kernels' shape: mlp_uses_tiled (tiled: the GPU shapes, dense_*_tiled.wgsl) */
    /* tiled: which layers' forwards (training, evaluation) take the wide tiles (tiles_dense_forward_wide) */
    bool fwd_wide[MODEL_MAX_LAYERS], efwd_wide[MODEL_MAX_LAYERS];
    bool bwd_wide[MODEL_MAX_LAYERS]; /* tiled: which layers' backwards are dense_backward_wide */
    bool gather_fold; /* training: tiled, and the batch at least TILE_GATHER_FOLD_MIN_BATCH */
    uint32_t metric_parts; /* partial (loss, correct) pairs per step in `metrics`, added by the host */
    uint32_t dw_slices;    /* tiled, large batches: the batch slices of dw's sum, added by k_gsum */
    gpu_kernel *k_gsum;
    WGPUBindGroup bg_gsum;
    /* tiled, classes that fit its tile: the last layer's forward and the loss in one dispatch
     * (dense_softmax_xent), in place of k_fwd[L - 1] and k_sx */
    gpu_kernel *k_head;
    WGPUBindGroup bg_head;
    gpu_buffer dw_part;    /* [dw_slices][lay.carved] partial gradients */
    uint32_t groups_gsum;
    /* fast path */
    gpu_kernel *k_ffw, *k_fsm, *k_fup, *k_fap;
    WGPUBindGroup bg_ffw, bg_fsm, bg_fup, bg_fap;
    gpu_buffer gpart; /* per-slice partial gradients, large batches */
    uint32_t slices;
    bool fold; /* fused_update folds fused_softmax in: two dispatches a step (tiles_fused_fold) */
    /* one dispatch a step, steps pipelined (tiles_fused_step): fused_step.wgsl forward only (a
     * run's first dispatch), update and forward, update only (its last) */
    bool pipelined;
    gpu_kernel *k_fst[3];
    WGPUBindGroup bg_fst[3];
    uint32_t groups_fst;
    size_t acts_floats;
    gpu_buffer acts; /* carved: hidden, dhidden, dlogits, per-sample metrics, layer-2 partial
                      * sums, the gathered inputs (offsets in load_kernels) */
    uint32_t groups_fup;
    gpu_readback readback[READBACK_SLOTS];
    uint32_t *order_host;
    /* the next epoch's order, shuffled on the host while the GPU runs this epoch's first chunk
     * (a shuffle of 60,000 takes 0.3-0.8 ms, an eighth of an epoch at batch 4096 on the H200);
     * order_next_epoch says which epoch it is for (0: none) */
    uint32_t *order_next;
    uint32_t order_next_epoch;
    unsigned char *steps_upload;

    /* live per-kernel GPU time (mlp_set_kernel_times): the timer's slots pair with readback's */
    gpu_timer *timer;
    bool time_kernels;
    mlp_kernel_times ktimes;
    /* the health panel (config.health): after a report's last step, prev holds the parameters
     * before it (a buffer copy), grads its gradient (the fused kernels store it into hgrads on
     * that step), snap each hidden layer's output and pre-activation (copies), laid out by
     * hjob; health_stats.wgsl's two passes write hout, read back with the chunk's metrics */
    gpu_kernel *k_health[2];
    WGPUBindGroup bg_health[2];
    gpu_buffer hprev, hgrads, hsnap, hjobs, hout;
    uint32_t hjob_count;
    size_t snap_out[MODEL_MAX_LAYERS], snap_pre[MODEL_MAX_LAYERS]; /* floats into hsnap */
    gpu_readback health_rb[READBACK_SLOTS];
    mlp_health health;
    bool has_health;

    eval_set test;
    bool has_test;
    uint8_t *test_pred;
    uint32_t *confusion_host; /* classes x classes: the last evaluation's (mlp_eval_result) */
    float *test_conf;
};

static mlp_status fail(mlp_trainer *t, mlp_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof t->error, fmt, ap);
    va_end(ap);
    return s;
}

static mlp_status gpu_fail(mlp_trainer *t, gpu_status s) {
    return s == GPU_OK ? MLP_OK : fail(t, MLP_ERR_GPU, "%s", gpu_error(t->gpu));
}

#define TRY_GPU(expr)                                   \
    do {                                                \
        gpu_status s_ = (expr);                         \
        if (s_ != GPU_OK) return gpu_fail(t, s_);       \
    } while (0)

const char *mlp_error(const mlp_trainer *t) { return t->error; }
uint32_t mlp_epochs_done(const mlp_trainer *t) { return t->epochs_done; }

mlp_config mlp_config_default(void) {
    mlp_config c;
    memset(&c, 0, sizeof c);
    /* batch 64, the seed's and PyTorch's MNIST example's, at lr 0.025 (batch 128's 0.05 of
     * bench/sweep.sh, scaled with the batch). Seeds 1-5 in 12 epochs: 98.10-98.31%, median
     * 98.20% (CPU engine); batch 128 at 0.05 gave median 98.22%, lowest 98.05% (H200). Runs of
     * one epoch on a few thousand images get twice the steps (README, "Models") */
    c.arch = model_arch_default();
    c.init = MODEL_INIT_TORCH;
    c.batch = 64;
    c.epochs = 12;
    c.lr = 0.025f;
    c.momentum = 0.9f;
    c.optimizer = OPTIM_MOMENTUM;
    c.beta1 = 0.9f; /* torch.optim.Adam's defaults */
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.schedule = MLP_SCHEDULE_COSINE;
    c.seed = 1;
    c.report_every = 50;
    c.kernels = MLP_KERNELS_AUTO;
    return c;
}

mlp_status mlp_config_check(const mlp_config *c, uint32_t train_count, char *err, size_t errlen) {
    if (!model_arch_check(&c->arch, err, errlen)) return MLP_ERR_CONFIG;
    if (c->init != MODEL_INIT_TORCH && c->init != MODEL_INIT_KAIMING && c->init != MODEL_INIT_XAVIER) {
        snprintf(err, errlen, "init %d is not an initialisation scheme", (int)c->init);
        return MLP_ERR_CONFIG;
    }
    if (c->batch < 1 || c->batch > MLP_MAX_BATCH) {
        snprintf(err, errlen, "batch must be between 1 and %d (got %u)", MLP_MAX_BATCH, c->batch);
        return MLP_ERR_CONFIG;
    }
    if (train_count && c->batch > train_count) {
        snprintf(err, errlen, "batch %u is larger than the training set (%u samples)", c->batch, train_count);
        return MLP_ERR_CONFIG;
    }
    if (c->epochs < 1 || c->epochs > 100000) {
        snprintf(err, errlen, "epochs must be between 1 and 100000 (got %u)", c->epochs);
        return MLP_ERR_CONFIG;
    }
    if (!isfinite(c->lr) || c->lr <= 0.0f || c->lr > 1000.0f) {
        snprintf(err, errlen, "lr must be a finite number > 0 and <= 1000 (got %g)", (double)c->lr);
        return MLP_ERR_CONFIG;
    }
    optim_config o = mlp_optim(c);
    if (!optim_check(&o, err, errlen)) return MLP_ERR_CONFIG;
    if (c->schedule > MLP_SCHEDULE_ONECYCLE) {
        snprintf(err, errlen, "unknown schedule %d", (int)c->schedule);
        return MLP_ERR_CONFIG;
    }
    if (!isfinite(c->label_smoothing) || c->label_smoothing < 0.0f || c->label_smoothing >= 1.0f) {
        snprintf(err, errlen, "label_smoothing must be in [0, 1) (got %g)", (double)c->label_smoothing);
        return MLP_ERR_CONFIG;
    }
    if (!isfinite(c->dropout) || c->dropout < 0.0f || c->dropout >= 1.0f) {
        snprintf(err, errlen, "dropout must be in [0, 1) (got %g)", (double)c->dropout);
        return MLP_ERR_CONFIG;
    }
    if (c->warmup > 10000000) {
        snprintf(err, errlen, "warmup must be at most 10000000 steps (got %u)", c->warmup);
        return MLP_ERR_CONFIG;
    }
    if (c->report_every < 1) {
        snprintf(err, errlen, "report_every must be at least 1 step");
        return MLP_ERR_CONFIG;
    }
    if (c->kernels == MLP_KERNELS_FUSED && !mlp_fused_applies(c)) {
        snprintf(err, errlen, "kernels fused covers one hidden ReLU layer on 784 inputs and 10 classes, trained by SGD "
                              "or momentum without weight decay, clipping or dropout; use kernels auto or reference here");
        return MLP_ERR_CONFIG;
    }
    return MLP_OK;
}

/* ---- deterministic randomness (splitmix64): same seed, same run, on any machine ---- */

uint64_t mlp_splitmix64(uint64_t *state) { return model_splitmix64(state); }

void mlp_epoch_order(uint64_t seed, uint32_t epoch, uint32_t n, uint32_t *order) {
    uint64_t state = seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(epoch + 1));
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(((unsigned __int128)mlp_splitmix64(&state) * i) >> 64);
        uint32_t tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
}

static const char *const schedule_names[] = {"constant", "cosine", "step", "onecycle"};

const char *mlp_schedule_name(mlp_schedule s) { return (unsigned)s < 4 ? schedule_names[s] : "?"; }

bool mlp_schedule_parse(const char *s, mlp_schedule *out) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, schedule_names[i])) {
            *out = (mlp_schedule)i;
            return true;
        }
    return false;
}

/* OneCycleLR's two phases with cos annealing (torch.optim.lr_scheduler.OneCycleLR, three_phase
 * False): up from lr / 25 to lr until step 0.3 * S - 1, then down to lr / 25 / 1e4 at S - 1. */
static double onecycle(double lr, uint64_t step, uint64_t total) {
    double initial = lr / 25.0, min_lr = initial / 1e4;
    double end1 = 0.3 * (double)total - 1.0, end2 = (double)total - 1.0, s = (double)step;
    double start, end, pct;
    if (s <= end1) {
        start = initial, end = lr, pct = end1 > 0 ? s / end1 : 1.0;
    } else {
        start = lr, end = min_lr, pct = end2 > end1 ? (s - end1) / (end2 - end1) : 1.0;
    }
    return end + (start - end) / 2.0 * (cos(M_PI * pct) + 1.0);
}

float mlp_step_lr(const mlp_config *c, uint64_t step, uint64_t total_steps) {
    float lr = c->lr;
    if (total_steps > 0) {
        if (c->schedule == MLP_SCHEDULE_COSINE) {
            double x = (double)step / (double)total_steps;
            lr = (float)(c->lr * 0.5 * (1.0 + cos(M_PI * x)));
        } else if (c->schedule == MLP_SCHEDULE_STEP) {
            uint64_t per_epoch = total_steps / (c->epochs ? c->epochs : 1), every = c->epochs / 3 ? c->epochs / 3 : 1;
            uint64_t epoch = per_epoch ? step / per_epoch : 0;
            lr = (float)(c->lr * pow(0.1, (double)(epoch / every)));
        } else if (c->schedule == MLP_SCHEDULE_ONECYCLE) {
            lr = (float)onecycle(c->lr, step, total_steps);
        }
    }
    if (c->warmup && step < c->warmup) lr = (float)((double)lr * (double)(step + 1) / (double)c->warmup);
    return lr;
}

uint32_t mlp_step_noise(uint64_t seed, uint64_t step) {
    uint64_t state = seed ^ 0xD6E8FEB86659FD93ull ^ (step * 0x9E3779B97F4A7C15ull);
    return (uint32_t)(mlp_splitmix64(&state) >> 32);
}

optim_config mlp_optim(const mlp_config *c) {
    optim_config o = {c->optimizer, c->momentum, c->weight_decay, c->beta1, c->beta2, c->eps, c->clip_grad_norm};
    return o;
}

size_t mlp_param_count(const model_arch *arch) { return model_param_count(arch); }

void mlp_init_params(const mlp_config *c, float *dst) { model_init_params(&c->arch, c->init, c->seed, dst); }

/* ---- layout ---- */

static void carve(mlp_trainer *t) { model_layout_make(&t->cfg.arch, 64, &t->lay); /* 64 floats = 256 bytes */ }

static gpu_bind tensor(const char *name, gpu_buffer *b, mlp_trainer *t, uint32_t which) {
    gpu_bind x = {name, b, t->lay.offsets[which] * 4, t->lay.sizes[which] * 4};
    return x;
}

static uint32_t layers(const mlp_trainer *t) { return t->lay.layers; }
static model_activation layer_act(const mlp_trainer *t, uint32_t l) {
    return l + 1 < t->lay.layers ? t->cfg.arch.activation : MODEL_ACT_NONE;
}

static gpu_status upload_bytes(gpu_context *gpu, gpu_buffer *buf, const char *label, const uint8_t *bytes,
                               size_t n, WGPUBufferUsage usage) {
    gpu_status s = gpu_buffer_create(gpu, buf, label, n, usage);
    if (s != GPU_OK) return s;
    size_t whole = n & ~(size_t)3;
    if (whole) s = gpu_buffer_write(gpu, buf, 0, bytes, whole);
    if (s == GPU_OK && n > whole) {
        uint8_t tail[4] = {0, 0, 0, 0};
        memcpy(tail, bytes + whole, n - whole);
        s = gpu_buffer_write(gpu, buf, whole, tail, 4);
    }
    return s;
}

static mlp_status make_eval_bind_groups(mlp_trainer *t, eval_set *e) {
    gpu_bind step = {"step", &e->steps, 0, sizeof(step_params)};
    gpu_bind gather[] = {step, {"images", &e->images, 0, 0}, {"order", &e->order, 0, 0}, {"x", &e->x, 0, 0}};
    TRY_GPU(gpu_bind_group(t->gpu, t->k_gather, gather, 4, &e->gather));
    for (uint32_t l = 0; l < layers(t); l++) {
        gpu_bind fwd[] = {step, {"inp", l ? &e->out[l - 1] : t->tiled ? &t->dummy_r : &e->x, 0, 0},
                          tensor("w", &t->params, t, 2 * l), tensor("bias", &t->params, t, 2 * l + 1),
                          {"pre", &t->dummy_w, 0, 0}, {"out", &e->out[l], 0, 0}, {"images", &e->images, 0, 0},
                          {"order", &e->order, 0, 0}, {"x", &e->x, 0, 0}}; /* x: unused (no STORE_X) */
        TRY_GPU(gpu_bind_group(t->gpu, t->k_efwd[l], fwd, t->tiled ? 9 : 6, &e->fwd[l]));
    }
    gpu_bind cls[] = {
        step, {"logits", &e->out[layers(t) - 1], 0, 0}, {"labels", &e->labels, 0, 0},
        {"probs", &e->probs, 0, 0}, {"losses", &e->losses, 0, 0}, {"predicted", &e->predicted, 0, 0},
        {"confusion", &t->confusion, 0, 0},
    };
    TRY_GPU(gpu_bind_group(t->gpu, t->k_cls, cls, 7, &e->cls));
    return MLP_OK;
}

/* labels may be NULL (prediction): they are then 255, which counts nowhere. */
static mlp_status eval_set_create(mlp_trainer *t, eval_set *e, const char *name, const uint8_t *images,
                                  const uint8_t *labels, uint32_t count) {
    memset(e, 0, sizeof *e);
    e->count = count;
    e->chunks = (count + EVAL_CHUNK - 1) / EVAL_CHUNK;
    uint32_t chunk = count < EVAL_CHUNK ? count : EVAL_CHUNK;
    uint32_t inputs = t->cfg.arch.inputs, classes = t->cfg.arch.classes;
    gpu_context *g = t->gpu;
    char label[48];
    snprintf(label, sizeof label, "%s-images", name);
    TRY_GPU(upload_bytes(g, &e->images, label, images, (size_t)count * inputs, GPU_STORAGE));
    uint8_t *lab = malloc(count);
    uint32_t *ord = malloc((size_t)count * 4);
    unsigned char *steps = calloc(e->chunks, STEP_STRIDE);
    if (!lab || !ord || !steps) {
        free(lab), free(ord), free(steps);
        return fail(t, MLP_ERR_GPU, "out of memory");
    }
    for (uint32_t i = 0; i < count; i++) {
        lab[i] = labels ? labels[i] : 255;
        ord[i] = i;
    }
    for (uint32_t c = 0; c < e->chunks; c++) {
        step_params p = {c * EVAL_CHUNK, 0, 0.0f, c, 0, 0, 0, 0, 0};
        p.count = count - p.start < EVAL_CHUNK ? count - p.start : EVAL_CHUNK;
        memcpy(steps + (size_t)c * STEP_STRIDE, &p, sizeof p);
    }
    snprintf(label, sizeof label, "%s-labels", name);
    gpu_status s = upload_bytes(g, &e->labels, label, lab, count, GPU_STORAGE);
    if (s == GPU_OK) s = gpu_buffer_create(g, &e->order, "eval-order", (size_t)count * 4, GPU_STORAGE);
    if (s == GPU_OK) s = gpu_buffer_write(g, &e->order, 0, ord, (size_t)count * 4);
    if (s == GPU_OK) s = gpu_buffer_create(g, &e->steps, "eval-steps", (size_t)e->chunks * STEP_STRIDE, GPU_UNIFORM);
    if (s == GPU_OK) s = gpu_buffer_write(g, &e->steps, 0, steps, (size_t)e->chunks * STEP_STRIDE);
    free(lab), free(ord), free(steps);
    if (s != GPU_OK) return gpu_fail(t, s);
    TRY_GPU(gpu_buffer_create(g, &e->x, "eval-inputs", (size_t)chunk * inputs * 4, GPU_STORAGE));
    for (uint32_t l = 0; l < layers(t); l++)
        TRY_GPU(gpu_buffer_create(g, &e->out[l], l + 1 < layers(t) ? "eval-hidden" : "eval-logits",
                                  (size_t)chunk * t->lay.fan_out[l] * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(g, &e->probs, "eval-probs", (size_t)count * classes * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(g, &e->losses, "eval-losses", (size_t)count * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(g, &e->predicted, "eval-predicted", (size_t)count * 4, GPU_STORAGE));
    return make_eval_bind_groups(t, e);
}

static void eval_set_destroy(eval_set *e) {
    if (e->gather) wgpuBindGroupRelease(e->gather);
    for (int l = 0; l < MODEL_MAX_LAYERS; l++) {
        if (e->fwd[l]) wgpuBindGroupRelease(e->fwd[l]);
        gpu_buffer_destroy(&e->out[l]);
    }
    if (e->cls) wgpuBindGroupRelease(e->cls);
    gpu_buffer *bufs[] = {&e->images, &e->labels, &e->order, &e->steps, &e->x, &e->probs, &e->losses, &e->predicted};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) gpu_buffer_destroy(bufs[i]);
    memset(e, 0, sizeof *e);
}

bool mlp_fused_applies(const mlp_config *c) {
    const model_arch *a = &c->arch;
    return a->inputs == MLP_FUSED_INPUTS && a->classes == MLP_FUSED_CLASSES && a->hidden_layers == 1 &&
           a->activation == MODEL_ACT_RELU && (c->optimizer == OPTIM_SGD || c->optimizer == OPTIM_MOMENTUM) &&
           c->weight_decay == 0.0f && c->clip_grad_norm == 0.0f && c->dropout == 0.0f;
}

mlp_kernels mlp_resolve_kernels(gpu_context *gpu, const mlp_config *c, mlp_kernels k) {
    if (k != MLP_KERNELS_AUTO) return k;
    /* the fused kernels are the faster path on real GPUs wherever they apply (bench/NOTES.md:
     * the H100), the per-layer kernels, in 4x4 blocks without workgroup barriers, on CPU
     * adapters: 5.8 s per epoch against 10.9 s on lavapipe, and 1,200 to 1,500 samples/s against
     * 150 to 190 on SwiftShader in headless Chromium (bench/RESULTS.md, "In the browser") */
    return mlp_fused_applies(c) && !gpu_adapter_is_software(gpu_info(gpu)) ? MLP_KERNELS_FUSED : MLP_KERNELS_REFERENCE;
}

bool mlp_uses_tiled(gpu_context *gpu, const mlp_config *c) {
    return c->shape == MLP_SHAPE_TILED || (c->shape == MLP_SHAPE_AUTO && !gpu_adapter_is_software(gpu_info(gpu)));
}

/* Workgroups of layer l's forward (on the wide tiles or not) and backward for count samples, in
 * the trainer's shape. */
static uint32_t fwd_groups(const mlp_trainer *t, const gpu_kernel *k, uint32_t l, uint32_t count, bool wide) {
    uint32_t out = t->lay.fan_out[l];
    if (t->tiled) return tiles_dense_forward_tiled_groups(count, out, wide);
    return (uint32_t)((tiles_dense_forward_invocations(count, out) + k->workgroup_size - 1) / k->workgroup_size);
}

static uint32_t bwd_groups(const mlp_trainer *t, uint32_t l, uint32_t count) {
    uint32_t in = t->lay.fan_in[l], out = t->lay.fan_out[l], wg = t->k_bwd[l]->workgroup_size;
    if (t->bwd_wide[l]) return tiles_dense_backward_wide_groups(in, out, t->dw_slices);
    if (t->tiled) return tiles_dense_backward_tiled_groups(count, in, out, l > 0, t->dw_slices);
    return (uint32_t)((tiles_dense_backward_invocations(count, in, out, l > 0) + wg - 1) / wg);
}

/* Every kernel this trainer's config needs, from the context's pipeline cache. */
static gpu_status load_kernels(mlp_trainer *t) {
    gpu_context *gpu = t->gpu;
    t->tiled = mlp_uses_tiled(gpu, &t->cfg);
    const char *bwd_file = t->tiled ? "dense_backward_tiled.wgsl" : "dense_backward.wgsl";
    uint32_t b = t->cfg.batch, classes = t->cfg.arch.classes;
#define TRY(expr)                          \
    do {                                   \
        gpu_status s_ = (expr);            \
        if (s_ != GPU_OK) return s_;       \
    } while (0)
    /* evaluation always runs the per-layer forward kernels; training runs one path or the other */
    gpu_constant c_gather[] = {{"INPUTS", t->cfg.arch.inputs}};
    TRY(tiles_kernel_get(gpu, "input_gather.wgsl", c_gather, 1, &t->k_gather));
    for (uint32_t l = 0; l < layers(t); l++) {
        gpu_constant c_fwd[] = {{"IN", t->lay.fan_in[l]}, {"OUT", t->lay.fan_out[l]}, {"ACT", layer_act(t, l)},
                                {"STORE_PRE", 0}, {"GATHER", l == 0}};
        t->efwd_wide[l] = t->tiled && tiles_dense_forward_wide(EVAL_CHUNK, t->lay.fan_out[l]);
        const char *fwd = t->tiled ? tiles_dense_forward_tiled_name(t->efwd_wide[l]) : "dense_forward.wgsl";
        TRY(tiles_kernel_get(gpu, fwd, c_fwd, t->tiled ? 5 : 4, &t->k_efwd[l]));
    }
    gpu_constant c_classes[] = {{"CLASSES", classes}};
    TRY(tiles_kernel_get(gpu, "classify.wgsl", c_classes, 1, &t->k_cls));
    if (t->inference) return GPU_OK;
    if (t->cfg.kernels == MLP_KERNELS_REFERENCE) {
        t->dw_slices = t->tiled ? tiles_dense_backward_slices(b) : 1;
        /* the last layer and the loss in one dispatch where they fit (dense_softmax_xent; layer
         * 0 is never the last: a model has a hidden layer) */
        bool head = t->tiled && tiles_dense_softmax_fits(classes);
        t->gather_fold = t->tiled && b >= TILE_GATHER_FOLD_MIN_BATCH;
        for (uint32_t l = 0; l < layers(t); l++) {
            bool hidden = l + 1 < layers(t);
            float drop = t->cfg.dropout;
            gpu_constant c_fwd[] = {{"IN", t->lay.fan_in[l]}, {"OUT", t->lay.fan_out[l]}, {"ACT", layer_act(t, l)},
                                    {"STORE_PRE", hidden}, {"DROPOUT", hidden ? drop : 0.0f}, {"LAYER", l},
                                    {"GATHER", l == 0 && t->gather_fold}, {"STORE_X", l == 0 && t->gather_fold}};
            t->fwd_wide[l] = t->tiled && tiles_dense_forward_wide(b, t->lay.fan_out[l]);
            const char *fwd = t->tiled ? tiles_dense_forward_tiled_name(t->fwd_wide[l]) : "dense_forward.wgsl";
            if (hidden || !head) TRY(tiles_kernel_get(gpu, fwd, c_fwd, t->tiled ? 8 : 6, &t->k_fwd[l]));
            gpu_constant c_bwd[] = {{"IN", t->lay.fan_in[l]}, {"OUT", t->lay.fan_out[l]},
                                    {"PREV_ACT", l ? t->cfg.arch.activation : MODEL_ACT_NONE}, {"HAS_PREV", l > 0},
                                    {"PREV_DROPOUT", l ? drop : 0.0f}, {"PREV_LAYER", l ? l - 1 : 0},
                                    {"DB_OFF", (double)(t->lay.offsets[2 * l + 1] - t->lay.offsets[2 * l])},
                                    {"SLICES", t->dw_slices}, {"SLICE_ROWS", tiles_dense_backward_slice_rows(b)},
                                    {"SLICE_STRIDE", (double)t->lay.carved}};
            t->bwd_wide[l] = t->tiled && tiles_dense_backward_wide(b, t->lay.fan_in[l], t->lay.fan_out[l], l > 0);
            if (t->bwd_wide[l]) {
                /* the shape, db's place and the slices: it has no previous layer to send dz to */
                gpu_constant c_bw[] = {{"IN", t->lay.fan_in[l]}, {"OUT", t->lay.fan_out[l]},
                                       {"DB_OFF", (double)(t->lay.offsets[2 * l + 1] - t->lay.offsets[2 * l])},
                                       {"SLICES", t->dw_slices}, {"SLICE_ROWS", tiles_dense_backward_slice_rows(b)},
                                       {"SLICE_STRIDE", (double)t->lay.carved}};
                TRY(tiles_kernel_get(gpu, "dense_backward_wide.wgsl", c_bw, 6, &t->k_bwd[l]));
            } else {
                TRY(tiles_kernel_get(gpu, bwd_file, c_bwd, t->tiled ? 10 : 6, &t->k_bwd[l]));
            }
        }
        if (t->dw_slices > 1) {
            gpu_constant c_gs[] = {{"SLICES", t->dw_slices}, {"PARAMS", (double)t->lay.carved}};
            TRY(tiles_kernel_get(gpu, "grad_slices_sum.wgsl", c_gs, 2, &t->k_gsum));
        }
        const mlp_config *c = &t->cfg;
        bool clip = c->clip_grad_norm > 0;
        /* the momentum (Adam's beta1) comes with each step, so that live edits reach it */
        gpu_constant c_opt[] = {{"OPT", optim_kernel_op(c->optimizer)}, {"WEIGHT_DECAY", c->weight_decay},
                                {"BETA2", c->beta2}, {"EPS", c->eps}, {"CLIP", clip}, {"PARAMS", (double)t->lay.carved}};
        t->metric_parts = head ? tiles_dense_softmax_parts(b) : tiles_xent_parts(b);
        gpu_constant c_sx[] = {{"CLASSES", classes}, {"SMOOTHING", c->label_smoothing}, {"PARTS", t->metric_parts},
                               {"IN", t->lay.fan_in[layers(t) - 1]}};
        if (head) TRY(tiles_kernel_get(gpu, "dense_softmax_xent.wgsl", c_sx, 4, &t->k_head));
        else TRY(tiles_kernel_get(gpu, "softmax_xent_backward.wgsl", c_sx, 3, &t->k_sx));
        TRY(tiles_kernel_get(gpu, "optimizer.wgsl", c_opt, 6, &t->k_opt));
        for (int pass = 0; clip && pass < 2; pass++) {
            gpu_constant c_norm[] = {{"PASS", pass}, {"PARAMS", (double)t->lay.carved}, {"MAX_NORM", c->clip_grad_norm}};
            TRY(tiles_kernel_get(gpu, "grad_norm.wgsl", c_norm, 3, &t->k_norm[pass]));
        }
    } else {
        uint32_t h = t->cfg.arch.hidden[0];
        const size_t *off = t->lay.offsets;
        uint32_t storage = gpu_info(gpu)->max_workgroup_storage;
        mlp_fused_form form = t->cfg.fused_form;
        t->pipelined = form <= MLP_FUSED_PIPELINED && tiles_fused_step(b, h, storage);
        if (t->pipelined) {
            /* two banks each of the hidden values, the partial logits, b2 and the labels (fused_step.wgsl) */
            t->groups_fst = tiles_fused_step_groups(h);
            double a_part = 2.0 * TILE_FST_MAX_BATCH * h,
                   a_b2 = a_part + 2.0 * t->groups_fst * TILE_FST_MAX_BATCH * MLP_FUSED_CLASSES,
                   a_lab = a_b2 + 2.0 * MLP_FUSED_CLASSES;
            t->acts_floats = (size_t)a_lab + 2 * TILE_FST_MAX_BATCH;
            t->slices = 1;
            t->metric_parts = 1; /* tile 0 adds the batch */
            for (int kind = 0; kind < 3; kind++) {
                gpu_constant c_st[] = {{"HIDDEN", h}, {"OFF_W1", (double)off[T_W1]}, {"OFF_B1", (double)off[T_B1]},
                                       {"OFF_W2", (double)off[T_W2]}, {"OFF_B2", (double)off[T_B2]},
                                       {"A_PART", a_part}, {"A_B2", a_b2}, {"A_LAB", a_lab}, {"HTILES", t->groups_fst},
                                       {"UPDATE", kind > 0}, {"FORWARD", kind < 2},
                                       {"SMOOTHING", t->cfg.label_smoothing}};
                TRY(tiles_kernel_get(gpu, "fused_step.wgsl", c_st, 12, &t->k_fst[kind]));
            }
        } else {
            /* the activation buffer's carve, shared by the fused kernels */
            uint32_t htiles = tiles_fused_htiles(h, b);
            double bh = (double)b * h, a_dlog = 2 * bh, a_samp = a_dlog + (double)b * MLP_FUSED_CLASSES,
                   a_part = a_samp + 2.0 * b, a_x = a_part + (double)htiles * b * MLP_FUSED_CLASSES,
                   a_w2 = a_x + (double)b * MLP_FUSED_INPUTS, a_pre = a_w2 + (double)(h + 1) * MLP_FUSED_CLASSES;
            /* the wide forward's splits of the inputs: their dot products at a_pre */
            uint32_t splits = tiles_fused_forward_splits(h, b);
            t->fold = form <= MLP_FUSED_FOLDED && tiles_fused_fold(b, storage);
            gpu_constant c_fw[] = {{"HIDDEN", h}, {"OFF_W1", (double)off[T_W1]}, {"OFF_B1", (double)off[T_B1]},
                                   {"OFF_W2", (double)off[T_W2]}, {"A_PART", a_part}, {"A_X", a_x},
                                   {"MAX_BATCH", b}, {"OFF_B2", (double)off[T_B2]}, {"STORE_W2", t->fold},
                                   {"A_W2", a_w2}};
            gpu_constant c_fww[] = {{"HIDDEN", h}, {"OFF_W1", (double)off[T_W1]}, {"OFF_B1", (double)off[T_B1]},
                                    {"OFF_W2", (double)off[T_W2]}, {"A_PART", a_part}, {"A_X", a_x},
                                    {"MAX_BATCH", b}, {"SPLITS", splits}, {"A_PRE", a_pre}};
            gpu_constant c_sm[] = {{"HIDDEN", h}, {"OFF_W2", (double)off[T_W2]}, {"OFF_B2", (double)off[T_B2]},
                                   {"A_DHID", bh}, {"A_DLOG", a_dlog}, {"A_SAMP", a_samp}, {"A_PART", a_part},
                                   {"MAX_BATCH", b}, {"HTILES", htiles}, {"SMOOTHING", t->cfg.label_smoothing},
                                   {"PRE_SPLITS", splits > 1 ? splits : 0}, {"A_PRE", a_pre}, {"OFF_B1", (double)off[T_B1]}};
            t->slices = tiles_fused_slices(b);
            t->metric_parts = 1; /* fused_update's metrics workgroup adds the batch */
            gpu_constant c_up[] = {{"HIDDEN", h}, {"OFF_W1", (double)off[T_W1]},
                                   {"OFF_B1", (double)off[T_B1]}, {"OFF_W2", (double)off[T_W2]},
                                   {"OFF_B2", (double)off[T_B2]}, {"A_DHID", bh}, {"A_DLOG", a_dlog},
                                   {"A_SAMP", a_samp}, {"A_X", a_x}, {"SLICES", t->slices},
                                   {"PARAMS", (double)t->lay.carved}, {"K_TILES", tiles_fused_k_tiles(t->cfg.arch.inputs)},
                                   {"WIDE_W1", tiles_fused_update_wide(b)}, {"TJW", tiles_fused_update_tjw(b)},
                                   {"FOLD", t->fold}, {"A_PART", a_part}, {"HTILES", htiles}, {"MAX_BATCH", b},
                                   {"A_W2", a_w2}, {"FOLD_FLOATS", t->fold ? tiles_fused_fold_floats(b) : 1},
                                   {"SMOOTHING", t->cfg.label_smoothing}};
            gpu_constant c_ap[] = {{"SLICES", t->slices}, {"PARAMS", (double)t->lay.carved}};
            /* (the wide forward never meets the fold: it starts at batches of several slices) */
            bool wide = tiles_fused_wide(b);
            if (wide) TRY(tiles_kernel_get(gpu, "fused_forward_wide.wgsl", c_fww, 9, &t->k_ffw));
            else TRY(tiles_kernel_get(gpu, "fused_forward.wgsl", c_fw, 10, &t->k_ffw));
            if (!t->fold) TRY(tiles_kernel_get(gpu, "fused_softmax.wgsl", c_sm, 13, &t->k_fsm));
            TRY(tiles_kernel_get(gpu, "fused_update.wgsl", c_up, 21, &t->k_fup));
            if (t->slices > 1) TRY(tiles_kernel_get(gpu, "fused_apply.wgsl", c_ap, 2, &t->k_fap));
            t->acts_floats = (size_t)a_pre + (splits > 1 ? (size_t)splits * b * h : 0);
            t->groups_fup = tiles_fused_update_groups(h, t->cfg.arch.inputs, b);
            if (tiles_fused_forward_groups(b, h, b) > gpu_info(gpu)->max_workgroups_per_dim) {
                fail(t, MLP_ERR_CONFIG, "batch %u with hidden width %u needs more workgroups than this adapter allows", b, h);
                return GPU_ERR_LIMIT;
            }
        }
    }
    for (int pass = 0; t->cfg.health && pass < 2; pass++) {
        gpu_constant c_h[] = {{"BINS", HEALTH_BINS}, {"PASS", pass}};
        TRY(tiles_kernel_get(gpu, "health_stats.wgsl", c_h, 2, &t->k_health[pass]));
    }
#undef TRY
    return GPU_OK;
}

mlp_status mlp_prepare_kernels(gpu_context *gpu, const mlp_config *config, char *err, size_t errlen) {
    mlp_trainer *t = calloc(1, sizeof *t);
    if (!t) return MLP_ERR_GPU;
    t->gpu = gpu;
    t->cfg = *config;
    t->cfg.kernels = mlp_resolve_kernels(gpu, config, config->kernels);
    carve(t);
    gpu_status s = load_kernels(t);
    if (s != GPU_OK) snprintf(err, errlen, "%s", t->error[0] ? t->error : gpu_error(gpu));
    free(t);
    return s == GPU_OK ? MLP_OK : MLP_ERR_GPU;
}

static mlp_status check_dataset(mlp_trainer *t, const mlp_dataset *d, const char *name) {
    if (!d->images || !d->labels || d->count == 0) return fail(t, MLP_ERR_DATA, "the %s set is empty", name);
    uint32_t classes = t->cfg.arch.classes;
    for (uint32_t i = 0; i < d->count; i++)
        if (d->labels[i] >= classes)
            return fail(t, MLP_ERR_DATA, "%s label %u is %u, past the model's %u classes (0-%u)", name, i, d->labels[i],
                        classes, classes - 1);
    return MLP_OK;
}

/* The per-layer kernels: one buffer per activation and a gradient buffer carved like the
 * parameters, bound by name once; every step reuses the bind groups with its own offset. */
static mlp_status setup_reference_path(mlp_trainer *t) {
    gpu_context *gpu = t->gpu;
    uint32_t b = t->cfg.batch, L = layers(t), unused;
    TRY_GPU(gpu_groups_1d(gpu, t->k_gather, (uint64_t)b * t->cfg.arch.inputs, &unused));
    for (uint32_t l = 0; l < L; l++) {
        if (t->k_fwd[l])
            TRY_GPU(gpu_groups_1d(gpu, t->k_fwd[l], (uint64_t)fwd_groups(t, t->k_fwd[l], l, b, t->fwd_wide[l]) * t->k_fwd[l]->workgroup_size, &unused));
        TRY_GPU(gpu_groups_1d(gpu, t->k_bwd[l], (uint64_t)bwd_groups(t, l, b) * t->k_bwd[l]->workgroup_size, &unused));
    }
    TRY_GPU(gpu_groups_1d(gpu, t->k_opt, t->lay.carved, &t->groups_opt));
    TRY_GPU(gpu_buffer_create(gpu, &t->grads, "grads", t->lay.carved * 4, GPU_STORAGE));
    if (t->dw_slices > 1)
        TRY_GPU(gpu_buffer_create(gpu, &t->dw_part, "partial-gradients", (size_t)t->dw_slices * t->lay.carved * 4,
                                  GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->x, "inputs", (size_t)b * t->cfg.arch.inputs * 4, GPU_STORAGE));
    for (uint32_t l = 0; l < L; l++) {
        size_t n = (size_t)b * t->lay.fan_out[l] * 4;
        bool hidden = l + 1 < L;
        if (hidden) TRY_GPU(gpu_buffer_create(gpu, &t->pre[l], "pre-activation", n, GPU_STORAGE));
        TRY_GPU(gpu_buffer_create(gpu, &t->out[l], hidden ? "hidden" : "logits", n, GPU_STORAGE));
        TRY_GPU(gpu_buffer_create(gpu, &t->dz[l], hidden ? "dhidden" : "dlogits", n, GPU_STORAGE));
    }
    gpu_bind step = {"step", &t->steps, 0, sizeof(step_params)};
    gpu_bind gather[] = {step, {"images", &t->train_images, 0, 0}, {"order", &t->order, 0, 0}, {"x", &t->x, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_gather, gather, 4, &t->bg_gather));
    for (uint32_t l = 0; l < L; l++) {
        bool hidden = l + 1 < L;
        gpu_buffer *inp = l ? &t->out[l - 1] : &t->x;
        /* the tiled layer 0 reads the pixels and writes x itself (GATHER, STORE_X) at large batches */
        gpu_bind fwd[] = {step, {"inp", l || !t->gather_fold ? inp : &t->dummy_r, 0, 0}, tensor("w", &t->params, t, 2 * l),
                          tensor("bias", &t->params, t, 2 * l + 1), {"pre", hidden ? &t->pre[l] : &t->dummy_w, 0, 0},
                          {"out", &t->out[l], 0, 0}, {"images", &t->train_images, 0, 0}, {"order", &t->order, 0, 0},
                          {"x", l || !t->gather_fold ? &t->dummy_w : &t->x, 0, 0}}; /* x: written by layer 0 only */
        if (t->k_fwd[l]) TRY_GPU(gpu_bind_group(gpu, t->k_fwd[l], fwd, t->tiled ? 9 : 6, &t->bg_fwd[l]));
        gpu_bind bwd[] = {step, {"dz", &t->dz[l], 0, 0}, {"inp", inp, 0, 0}, tensor("w", &t->params, t, 2 * l),
                          {"prev_pre", l ? &t->pre[l - 1] : &t->dummy_r, 0, 0},
                          {"dprev", l ? &t->dz[l - 1] : &t->dummy_w, 0, 0},
                          tensor("dw", &t->grads, t, 2 * l), tensor("db", &t->grads, t, 2 * l + 1)};
        if (t->tiled) {
            /* dw then db, one binding: slice s of the batch at s * carved floats of the partials */
            size_t off = t->lay.offsets[2 * l], span = (size_t)(t->dw_slices - 1) * t->lay.carved +
                                                       (t->lay.offsets[2 * l + 1] - off) + t->lay.sizes[2 * l + 1];
            bwd[6] = (gpu_bind){"grad", t->dw_slices > 1 ? &t->dw_part : &t->grads, off * 4, span * 4};
        }
        if (t->bwd_wide[l]) {
            /* dense_backward_wide: dz, the inputs and the gradient only (a first layer: no dprev) */
            bwd[3] = bwd[6];
            TRY_GPU(gpu_bind_group(gpu, t->k_bwd[l], bwd, 4, &t->bg_bwd[l]));
        } else {
            TRY_GPU(gpu_bind_group(gpu, t->k_bwd[l], bwd, t->tiled ? 7 : 8, &t->bg_bwd[l]));
        }
    }
    gpu_bind sx[] = {step, {"logits", &t->out[L - 1], 0, 0}, {"labels", &t->train_labels, 0, 0},
                     {"order", &t->order, 0, 0}, {"dlogits", &t->dz[L - 1], 0, 0}, {"metrics", &t->metrics, 0, 0},
                     {"inp", &t->out[L - 2], 0, 0}, tensor("w", &t->params, t, 2 * (L - 1)),
                     tensor("bias", &t->params, t, 2 * (L - 1) + 1)};
    if (t->k_head) TRY_GPU(gpu_bind_group(gpu, t->k_head, sx, 9, &t->bg_head));
    else TRY_GPU(gpu_bind_group(gpu, t->k_sx, sx, 6, &t->bg_sx));
    if (t->dw_slices > 1) {
        TRY_GPU(gpu_groups_1d(gpu, t->k_gsum, t->lay.carved, &t->groups_gsum));
        gpu_bind gs[] = {step, {"gpart", &t->dw_part, 0, 0}, {"grads", &t->grads, 0, 0}};
        TRY_GPU(gpu_bind_group(gpu, t->k_gsum, gs, 3, &t->bg_gsum));
    }
    bool clip = t->cfg.clip_grad_norm > 0;
    if (clip) {
        TRY_GPU(gpu_buffer_create(gpu, &t->norm_partial, "grad-norm-partials", TILE_NORM_GROUPS * 4, GPU_STORAGE));
        TRY_GPU(gpu_buffer_create(gpu, &t->clip, "grad-clip", 16, GPU_STORAGE));
        for (int pass = 0; pass < 2; pass++) {
            gpu_bind norm[] = {step, {"grads", &t->grads, 0, 0}, {"partial", &t->norm_partial, 0, 0}, {"clip", &t->clip, 0, 0}};
            TRY_GPU(gpu_bind_group(gpu, t->k_norm[pass], norm, 4, &t->bg_norm[pass]));
        }
    }
    gpu_bind opt[] = {step, {"params", &t->params, 0, 0}, {"grads", &t->grads, 0, 0},
                      {"state", &t->state, 0, 0}, {"clip", clip ? &t->clip : &t->dummy_r, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_opt, opt, 5, &t->bg_opt));
    return MLP_OK;
}

/* The fused kernels: one carved activation buffer (see load_kernels), partial gradients for
 * large batches, bound by name once. */
static mlp_status setup_fused_path(mlp_trainer *t) {
    gpu_context *gpu = t->gpu;
    TRY_GPU(gpu_buffer_create(gpu, &t->acts, "activations", t->acts_floats * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->gpart, "partial-gradients", (size_t)t->slices * t->lay.carved * 4,
                              GPU_STORAGE));
    /* the gradient, stored on a report's last step for the health panel (step.health) */
    if (t->cfg.health) TRY_GPU(gpu_buffer_create(gpu, &t->hgrads, "health-gradients", t->lay.carved * 4, GPU_STORAGE));
    gpu_buffer *grads = t->cfg.health ? &t->hgrads : &t->dummy_w;
    gpu_bind step = {"step", &t->steps, 0, sizeof(step_params)};
    if (t->pipelined) {
        gpu_bind st[] = {step, {"next", &t->steps, 0, sizeof(step_params)}, {"images", &t->train_images, 0, 0},
                         {"order", &t->order, 0, 0}, {"labels", &t->train_labels, 0, 0},
                         {"params", &t->params, 0, 0}, {"velocity", &t->state, 0, 0},
                         {"acts", &t->acts, 0, 0}, {"metrics", &t->metrics, 0, 0}, {"grads", grads, 0, 0}};
        for (int kind = 0; kind < 3; kind++) TRY_GPU(gpu_bind_group(gpu, t->k_fst[kind], st, 10, &t->bg_fst[kind]));
        return MLP_OK;
    }
    gpu_bind fw[] = {step, {"images", &t->train_images, 0, 0}, {"order", &t->order, 0, 0},
                     {"params", &t->params, 0, 0}, {"params4", &t->params, 0, 0}, {"acts", &t->acts, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_ffw, fw, 6, &t->bg_ffw));
    gpu_bind sm[] = {step, {"labels", &t->train_labels, 0, 0}, {"order", &t->order, 0, 0},
                     {"params", &t->params, 0, 0}, {"acts", &t->acts, 0, 0}};
    if (!t->fold) TRY_GPU(gpu_bind_group(gpu, t->k_fsm, sm, 5, &t->bg_fsm));
    gpu_bind up[] = {step, {"params", &t->params, 0, 0}, {"velocity", &t->state, 0, 0},
                     {"acts", &t->acts, 0, 0}, {"metrics", &t->metrics, 0, 0}, {"gpart", &t->gpart, 0, 0},
                     {"grads", grads, 0, 0}, {"labels", &t->train_labels, 0, 0}, {"order", &t->order, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_fup, up, 9, &t->bg_fup));
    if (t->slices > 1) {
        gpu_bind ap[] = {step, {"params", &t->params, 0, 0}, {"velocity", &t->state, 0, 0},
                         {"gpart", &t->gpart, 0, 0}, {"grads", grads, 0, 0}};
        TRY_GPU(gpu_bind_group(gpu, t->k_fap, ap, 5, &t->bg_fap));
    }
    return MLP_OK;
}

/* health_stats.wgsl's jobs (one per tensor; see the kernel), in the order decode_health reads
 * them: per layer its W, its b, then for a hidden layer its output. */
typedef struct health_job {
    uint32_t kind, off, count, units, dead_off, pad[3];
} health_job;

/* The health panel's buffers: the parameters' copy, the activation snapshot, the jobs, the
 * results and their readbacks. */
static mlp_status setup_health(mlp_trainer *t) {
    gpu_context *gpu = t->gpu;
    uint32_t b = t->cfg.batch, L = layers(t);
    bool fused = t->cfg.kernels == MLP_KERNELS_FUSED, relu = t->cfg.arch.activation == MODEL_ACT_RELU;
    health_job jobs[3 * MODEL_MAX_LAYERS];
    uint32_t n = 0;
    size_t snap = 0;
    for (uint32_t l = 0; l < L; l++) {
        for (uint32_t k = 0; k < 2; k++)
            jobs[n++] = (health_job){0, (uint32_t)t->lay.offsets[2 * l + k], (uint32_t)t->lay.sizes[2 * l + k], 0, 0, {0}};
        if (l + 1 == L) continue;
        size_t per = (size_t)b * t->lay.fan_out[l];
        t->snap_out[l] = snap, snap += per;
        /* the fused path keeps only relu(pre): <= 0 exactly where pre is */
        if (!fused) t->snap_pre[l] = snap, snap += per;
        else t->snap_pre[l] = t->snap_out[l];
        jobs[n++] = (health_job){relu ? 2u : 1u, (uint32_t)t->snap_out[l], 0, t->lay.fan_out[l], (uint32_t)t->snap_pre[l], {0}};
    }
    t->hjob_count = n;
    TRY_GPU(gpu_buffer_create(gpu, &t->hprev, "health-prev-params", t->lay.carved * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->hsnap, "health-activations", (snap ? snap : 1) * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->hjobs, "health-jobs", n * sizeof(health_job), GPU_STORAGE));
    TRY_GPU(gpu_buffer_write(gpu, &t->hjobs, 0, jobs, n * sizeof(health_job)));
    uint64_t out_bytes = (uint64_t)n * (8 + HEALTH_BINS) * 4;
    TRY_GPU(gpu_buffer_create(gpu, &t->hout, "health-stats", out_bytes, GPU_STORAGE));
    for (int i = 0; i < READBACK_SLOTS; i++) TRY_GPU(gpu_readback_init(gpu, &t->health_rb[i], out_bytes));
    gpu_bind step = {"step", &t->steps, 0, sizeof(step_params)};
    for (int pass = 0; pass < 2; pass++) {
        gpu_bind hb[] = {step, {"params", &t->params, 0, 0}, {"prev", &t->hprev, 0, 0},
                         {"grads", fused ? &t->hgrads : &t->grads, 0, 0}, {"snap", &t->hsnap, 0, 0},
                         {"jobs", &t->hjobs, 0, 0}, {"out", &t->hout, 0, 0}};
        TRY_GPU(gpu_bind_group(gpu, t->k_health[pass], hb, 7, &t->bg_health[pass]));
    }
    return MLP_OK;
}

/* The copies that feed health_stats after step s (a report's last): each hidden layer's output
 * and pre-activation into the snapshot. */
static void encode_health_snapshot(mlp_trainer *t, WGPUCommandEncoder enc, uint32_t s) {
    uint32_t b = t->cfg.batch;
    for (uint32_t l = 0; l + 1 < layers(t); l++) {
        uint64_t bytes = (uint64_t)b * t->lay.fan_out[l] * 4;
        if (t->cfg.kernels == MLP_KERNELS_FUSED) {
            /* fused_step keeps a step's hidden values in the bank of its parity */
            uint64_t from = t->pipelined ? (uint64_t)(s % 2) * TILE_FST_MAX_BATCH * t->lay.fan_out[l] * 4 : 0;
            wgpuCommandEncoderCopyBufferToBuffer(enc, t->acts.handle, from, t->hsnap.handle, t->snap_out[l] * 4, bytes);
        } else {
            wgpuCommandEncoderCopyBufferToBuffer(enc, t->out[l].handle, 0, t->hsnap.handle, t->snap_out[l] * 4, bytes);
            wgpuCommandEncoderCopyBufferToBuffer(enc, t->pre[l].handle, 0, t->hsnap.handle, t->snap_pre[l] * 4, bytes);
        }
    }
}

static float word_f32(const uint32_t *w) {
    float f;
    memcpy(&f, w, 4);
    return f;
}

/* health_stats' results (hout) into t->health; the order of setup_health's jobs. */
static void decode_health(mlp_trainer *t, const uint32_t *rec, uint32_t epoch, uint32_t step, uint32_t samples) {
    mlp_health *h = &t->health;
    memset(h, 0, sizeof *h);
    h->layers = layers(t), h->epoch = epoch, h->step = step, h->samples = samples;
    const uint32_t R = 8 + HEALTH_BINS;
    for (uint32_t l = 0; l < layers(t); l++) {
        health_layer *y = &h->layer[l];
        const uint32_t *w = rec, *bs = rec + R;
        rec += 2 * R;
        y->fan_in = t->lay.fan_in[l], y->fan_out = t->lay.fan_out[l];
        y->weight_norm = sqrt((double)word_f32(w)), y->bias_norm = sqrt((double)word_f32(bs));
        y->update_weight_norm = sqrt((double)word_f32(w + 1)), y->update_bias_norm = sqrt((double)word_f32(bs + 1));
        y->grad_weight_norm = sqrt((double)word_f32(w + 2)), y->grad_bias_norm = sqrt((double)word_f32(bs + 2));
        y->update_ratio = y->weight_norm > 0 ? y->update_weight_norm / y->weight_norm : 0.0;
        y->nonfinite[HEALTH_WEIGHT] = w[3], y->nonfinite[HEALTH_GRAD_WEIGHT] = w[4];
        y->nonfinite[HEALTH_BIAS] = bs[3], y->nonfinite[HEALTH_GRAD_BIAS] = bs[4];
        y->sizes[HEALTH_WEIGHT] = y->sizes[HEALTH_GRAD_WEIGHT] = t->lay.sizes[2 * l];
        y->sizes[HEALTH_BIAS] = y->sizes[HEALTH_GRAD_BIAS] = t->lay.sizes[2 * l + 1];
        y->weights.lo = word_f32(w + 5), y->weights.hi = word_f32(w + 6);
        memcpy(y->weights.counts, w + 8, sizeof y->weights.counts);
        y->dead_fraction = -1.0;
        if (l + 1 == layers(t)) continue;
        const uint32_t *a = rec;
        rec += R;
        y->has_output = true;
        y->sizes[HEALTH_OUTPUT] = (size_t)samples * y->fan_out;
        y->nonfinite[HEALTH_OUTPUT] = a[3];
        y->output.lo = word_f32(a + 5), y->output.hi = word_f32(a + 6);
        memcpy(y->output.counts, a + 8, sizeof y->output.counts);
        if (t->cfg.arch.activation == MODEL_ACT_RELU) y->dead_fraction = (double)a[7] / y->fan_out;
    }
    t->has_health = true;
}

const mlp_health *mlp_last_health(const mlp_trainer *t) { return t->has_health ? &t->health : NULL; }

/* Evaluation's share of mlp_create: the eval kernels and their limits, the confusion matrix,
 * the unused-binding stand-ins and the parameters. */
static mlp_status setup_model(mlp_trainer *t) {
    gpu_context *gpu = t->gpu;
    uint32_t classes = t->cfg.arch.classes, unused;
    TRY_GPU(gpu_groups_1d(gpu, t->k_gather, (uint64_t)EVAL_CHUNK * t->cfg.arch.inputs, &unused));
    for (uint32_t l = 0; l < layers(t); l++)
        TRY_GPU(gpu_groups_1d(gpu, t->k_efwd[l], (uint64_t)fwd_groups(t, t->k_efwd[l], l, EVAL_CHUNK, t->efwd_wide[l]) * t->k_efwd[l]->workgroup_size,
                              &unused));
    TRY_GPU(gpu_buffer_create(gpu, &t->confusion, "confusion", (size_t)classes * classes * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->dummy_r, "unused-input", 16, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->dummy_w, "unused-output", 16, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->params, "params", t->lay.carved * 4, GPU_STORAGE));
    return MLP_OK;
}

static mlp_status setup_test_set(mlp_trainer *t, const mlp_dataset *test) {
    mlp_status ms = eval_set_create(t, &t->test, "test", test->images, test->labels, test->count);
    if (ms != MLP_OK) return ms;
    t->has_test = true;
    t->test_pred = calloc(test->count, 1);
    t->test_conf = calloc(test->count, sizeof(float));
    if (!t->test_pred || !t->test_conf) return fail(t, MLP_ERR_GPU, "out of memory");
    return MLP_OK;
}

mlp_status mlp_create(gpu_context *gpu, const mlp_config *config, const mlp_dataset *train,
                      const mlp_dataset *test, mlp_trainer **out) {
    *out = NULL;
    mlp_trainer *t = calloc(1, sizeof *t);
    if (!t) return MLP_ERR_GPU;
    *out = t; /* so the caller can read mlp_error() and must mlp_destroy() on failure too */
    t->gpu = gpu;
    t->cfg = *config;
    t->cfg.kernels = mlp_resolve_kernels(gpu, config, config->kernels);
    t->live = mlp_live_initial(config);
    char err[256];
    if (mlp_config_check(config, train->count, err, sizeof err) != MLP_OK) return fail(t, MLP_ERR_CONFIG, "%s", err);
    mlp_status ms = check_dataset(t, train, "training");
    if (ms == MLP_OK && test) ms = check_dataset(t, test, "test");
    if (ms != MLP_OK) return ms;

    uint32_t b = config->batch, inputs = config->arch.inputs;
    t->train_count = train->count;
    t->steps_per_epoch = (train->count + b - 1) / b;
    carve(t);

    gpu_status ks = load_kernels(t);
    if (ks != GPU_OK) return t->error[0] ? MLP_ERR_GPU : gpu_fail(t, ks);
    ms = setup_model(t);
    if (ms != MLP_OK) return ms;

    /* data, once */
    TRY_GPU(upload_bytes(gpu, &t->train_images, "train-images", train->images, (size_t)train->count * inputs, GPU_STORAGE));
    TRY_GPU(upload_bytes(gpu, &t->train_labels, "train-labels", train->labels, train->count, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->order, "order", (size_t)train->count * 8, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->steps, "steps", (size_t)t->steps_per_epoch * STEP_STRIDE, GPU_UNIFORM));
    TRY_GPU(gpu_buffer_create(gpu, &t->metrics, "metrics", (size_t)t->steps_per_epoch * t->metric_parts * 8, GPU_STORAGE));

    /* the optimizer's state slots: one allocation, carved by the size table as the parameters */
    t->slots = optim_slots(config->optimizer);
    TRY_GPU(gpu_buffer_create(gpu, &t->state, "optimizer-state", (size_t)t->slots * t->lay.carved * 4, GPU_STORAGE));
    float *init = malloc(t->lay.count * sizeof(float));
    if (!init) return fail(t, MLP_ERR_GPU, "out of memory");
    mlp_init_params(config, init);
    ms = mlp_write_params(t, init);
    free(init);
    if (ms != MLP_OK) return ms;

    for (int i = 0; i < READBACK_SLOTS; i++)
        TRY_GPU(gpu_readback_init(gpu, &t->readback[i], (uint64_t)config->report_every * t->metric_parts * 8));
    t->order_host = malloc((size_t)train->count * 4);
    t->order_next = malloc((size_t)train->count * 4);
    t->steps_upload = calloc(t->steps_per_epoch, STEP_STRIDE);
    if (!t->order_host || !t->order_next || !t->steps_upload) return fail(t, MLP_ERR_GPU, "out of memory");

    ms = t->cfg.kernels == MLP_KERNELS_REFERENCE ? setup_reference_path(t) : setup_fused_path(t);
    if (ms == MLP_OK && t->cfg.health) ms = setup_health(t);
    if (ms != MLP_OK) return ms;

    return test ? setup_test_set(t, test) : MLP_OK;
}

mlp_status mlp_model_create(gpu_context *gpu, const model_arch *arch, const float *params, const mlp_dataset *test,
                            mlp_trainer **out) {
    *out = NULL;
    mlp_trainer *t = calloc(1, sizeof *t);
    if (!t) return MLP_ERR_GPU;
    *out = t; /* as mlp_create: the caller reads mlp_error() and must mlp_destroy() */
    t->gpu = gpu;
    t->inference = true;
    t->cfg = mlp_config_default();
    t->cfg.arch = *arch;
    t->cfg.kernels = MLP_KERNELS_REFERENCE;
    char err[256];
    if (!model_arch_check(arch, err, sizeof err)) return fail(t, MLP_ERR_CONFIG, "%s", err);
    if (test) {
        if (!test->images || !test->labels || test->count == 0) return fail(t, MLP_ERR_DATA, "the test set is empty");
        for (uint32_t i = 0; i < test->count; i++)
            if (test->labels[i] >= arch->classes)
                return fail(t, MLP_ERR_DATA, "test label %u is %u, past the model's %u classes (0-%u)", i, test->labels[i],
                            arch->classes, arch->classes - 1);
    }
    carve(t);
    gpu_status ks = load_kernels(t);
    if (ks != GPU_OK) return t->error[0] ? MLP_ERR_GPU : gpu_fail(t, ks);
    mlp_status ms = setup_model(t);
    if (ms == MLP_OK) ms = mlp_write_params(t, params);
    if (ms == MLP_OK && test) ms = setup_test_set(t, test);
    return ms;
}

void mlp_destroy(mlp_trainer *t) {
    if (!t) return;
    WGPUBindGroup groups[] = {t->bg_gather, t->bg_sx, t->bg_head, t->bg_opt, t->bg_norm[0], t->bg_norm[1],
                              t->bg_ffw, t->bg_fsm, t->bg_fup, t->bg_fap, t->bg_gsum,
                              t->bg_health[0], t->bg_health[1], t->bg_fst[0], t->bg_fst[1], t->bg_fst[2]};
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++)
        if (groups[i]) wgpuBindGroupRelease(groups[i]);
    for (int l = 0; l < MODEL_MAX_LAYERS; l++) {
        if (t->bg_fwd[l]) wgpuBindGroupRelease(t->bg_fwd[l]);
        if (t->bg_bwd[l]) wgpuBindGroupRelease(t->bg_bwd[l]);
        gpu_buffer_destroy(&t->pre[l]);
        gpu_buffer_destroy(&t->out[l]);
        gpu_buffer_destroy(&t->dz[l]);
    }
    gpu_buffer *bufs[] = {&t->params, &t->grads, &t->state, &t->train_images, &t->train_labels,
                          &t->order, &t->steps, &t->metrics, &t->confusion, &t->x, &t->dummy_r,
                          &t->dummy_w, &t->acts, &t->gpart, &t->norm_partial, &t->clip, &t->dw_part,
                          &t->hprev, &t->hgrads, &t->hsnap, &t->hjobs, &t->hout};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) gpu_buffer_destroy(bufs[i]);
    for (int i = 0; i < READBACK_SLOTS; i++) gpu_readback_release(&t->readback[i]), gpu_readback_release(&t->health_rb[i]);
    if (t->timer) gpu_timer_release(t->timer);
    free(t->timer);
    eval_set_destroy(&t->test);
    free(t->order_host);
    free(t->order_next);
    free(t->steps_upload);
    free(t->test_pred);
    free(t->confusion_host);
    free(t->test_conf);
    free(t);
}

/* ---- training ---- */

/* The dispatches of training step s, in order. Grids are sized for this step's batch: the
 * last batch of an epoch can be short. */
typedef struct dispatch {
    gpu_kernel *k;
    WGPUBindGroup bg;
    uint32_t groups, rows; /* a groups x rows grid */
    /* fused_step's second uniform, `next`: the step whose forward it runs (the first, `step`,
     * is the one it updates); 0 for kernels of one */
    uint32_t next_offset;
    const char *part; /* fused_step's "forward" or "update" where it runs one alone; NULL */
} dispatch;

static uint32_t div_up(uint64_t n, uint32_t d) { return (uint32_t)((n + d - 1) / d); }

static int step_dispatches(const mlp_trainer *t, uint32_t s, dispatch out[MAX_DISPATCHES]) {
    const step_params *p = (const step_params *)(t->steps_upload + (size_t)s * STEP_STRIDE);
    if (t->pipelined) { /* a step alone: its forward, then its update (encode_units pipelines runs) */
        out[0] = (dispatch){t->k_fst[0], t->bg_fst[0], t->groups_fst, 1, s * STEP_STRIDE, "forward"};
        out[1] = (dispatch){t->k_fst[2], t->bg_fst[2], t->groups_fst, 1, s * STEP_STRIDE, "update"};
        return 2;
    }
    if (t->cfg.kernels == MLP_KERNELS_FUSED) {
        uint32_t h = t->cfg.arch.hidden[0];
        out[0] = (dispatch){t->k_ffw, t->bg_ffw, (uint32_t)tiles_fused_forward_groups(p->count, h, t->cfg.batch), 1, 0, NULL};
        int n = 1;
        if (!t->fold) out[n++] = (dispatch){t->k_fsm, t->bg_fsm, tiles_fused_softmax_groups(p->count), 1, 0, NULL};
        out[n++] = (dispatch){t->k_fup, t->bg_fup, t->groups_fup, t->slices, 0, NULL};
        if (t->slices > 1) out[n++] = (dispatch){t->k_fap, t->bg_fap, tiles_fused_apply_groups(t->lay.carved), 1, 0, NULL};
        return n;
    }
    int n = 0;
    uint32_t L = layers(t);
    if (!t->gather_fold)
        out[n++] = (dispatch){t->k_gather, t->bg_gather, div_up((uint64_t)p->count * t->cfg.arch.inputs, t->k_gather->workgroup_size), 1, 0, NULL};
    for (uint32_t l = 0; l < L; l++)
        if (t->k_fwd[l]) out[n++] = (dispatch){t->k_fwd[l], t->bg_fwd[l], fwd_groups(t, t->k_fwd[l], l, p->count, t->fwd_wide[l]), 1, 0, NULL};
    if (t->k_head) out[n++] = (dispatch){t->k_head, t->bg_head, t->metric_parts, 1, 0, NULL};
    else out[n++] = (dispatch){t->k_sx, t->bg_sx, t->metric_parts, 1, 0, NULL};
    for (uint32_t l = L; l-- > 0;) {
        out[n++] = (dispatch){t->k_bwd[l], t->bg_bwd[l], bwd_groups(t, l, p->count), 1, 0, NULL};
    }
    if (t->dw_slices > 1) out[n++] = (dispatch){t->k_gsum, t->bg_gsum, t->groups_gsum, 1, 0, NULL};
    if (t->cfg.clip_grad_norm > 0) {
        out[n++] = (dispatch){t->k_norm[0], t->bg_norm[0], TILE_NORM_GROUPS, 1, 0, NULL};
        out[n++] = (dispatch){t->k_norm[1], t->bg_norm[1], 1, 1, 0, NULL};
    }
    out[n++] = (dispatch){t->k_opt, t->bg_opt, t->groups_opt, 1, 0, NULL};
    return n;
}

static void encode_dispatch(WGPUComputePassEncoder pass, const dispatch *d, uint32_t offset) {
    uint32_t offsets[2] = {offset, d->next_offset}; /* the step's, and fused_step's next */
    wgpuComputePassEncoderSetPipeline(pass, d->k->pipeline);
    wgpuComputePassEncoderSetBindGroup(pass, 0, d->bg, d->k->dynamic_offsets, offsets);
    wgpuComputePassEncoderDispatchWorkgroups(pass, d->groups, d->rows, 1);
}

/* Steps [first, end) as a sequence of units, each encoded on its own: pipelined (fused_step),
 * dispatch i runs the update of step i - 1 and the forward of step i, so n steps are n + 1
 * units (the first forward only, the last update only); otherwise a unit is a step's
 * dispatches in turn. */
static uint32_t step_units(const mlp_trainer *t, uint32_t first, uint32_t end) {
    if (end <= first) return 0;
    return t->pipelined ? end - first + 1 : end - first;
}

/* Units [u0, u1) of steps [first, end) into one pass: a run of steps may be split over command
 * buffers at any unit, since whatever crosses a unit lives in buffers (fused_step's banks). */
static void encode_units(mlp_trainer *t, WGPUComputePassEncoder pass, uint32_t first, uint32_t end, uint32_t u0,
                         uint32_t u1) {
    if (!t->pipelined) {
        dispatch d[MAX_DISPATCHES];
        for (uint32_t s = first + u0; s < first + u1; s++) {
            int n = step_dispatches(t, s, d);
            for (int i = 0; i < n; i++) encode_dispatch(pass, &d[i], s * STEP_STRIDE);
        }
        return;
    }
    for (uint32_t s = first + u0; s < first + u1; s++) {
        int kind = s == first ? 0 : s == end ? 2 : 1;
        uint32_t updated = s == first ? s : s - 1, forward = s == end ? s - 1 : s;
        dispatch d = {t->k_fst[kind], t->bg_fst[kind], t->groups_fst, 1, forward * STEP_STRIDE, NULL};
        encode_dispatch(pass, &d, updated * STEP_STRIDE);
    }
}

/* Units [u0, u1) of steps [first, end), as encode_units, in a compute pass of their own on enc. */
static void encode_units_pass(mlp_trainer *t, WGPUCommandEncoder enc, uint32_t first, uint32_t end, uint32_t u0,
                              uint32_t u1) {
    WGPUComputePassEncoder pass = wgpuCommandEncoderBeginComputePass(enc, NULL);
    encode_units(t, pass, first, end, u0, u1);
    wgpuComputePassEncoderEnd(pass);
    wgpuComputePassEncoderRelease(pass);
}

/* Step s as encode_units encodes it alone, but each dispatch in a pass of its own that writes
 * timestamps, read back into the timer's slot. Returns the dispatches timed. */
static uint32_t encode_timed_step(mlp_trainer *t, WGPUCommandEncoder enc, uint32_t s, int slot) {
    dispatch d[MAX_DISPATCHES];
    int n = step_dispatches(t, s, d);
    for (int i = 0; i < n; i++) {
        WGPUComputePassEncoder pass = gpu_timer_begin_pass(t->timer, enc, (uint32_t)i);
        encode_dispatch(pass, &d[i], s * STEP_STRIDE);
        wgpuComputePassEncoderEnd(pass);
        wgpuComputePassEncoderRelease(pass);
    }
    gpu_timer_encode_read(t->timer, enc, (uint32_t)n, slot);
    return (uint32_t)n;
}

/* Where a dispatch of a step sits, for its label: the per-layer dispatch's layer (1-based, by its
 * bind group: one per layer, where kernels of equal constants could be one cached pipeline), or
 * grad_norm's pass (1-based); 0 for neither. */
static void dispatch_place(const mlp_trainer *t, const dispatch *d, uint32_t *layer, uint32_t *pass) {
    *layer = 0, *pass = 0;
    for (uint32_t l = 0; l < layers(t); l++)
        if (d->bg == t->bg_fwd[l] || d->bg == t->bg_bwd[l]) *layer = l + 1;
    if (d->bg && d->bg == t->bg_head) *layer = layers(t);
    for (uint32_t p = 0; p < 2; p++)
        if (d->bg && d->bg == t->bg_norm[p]) *pass = p + 1;
}

/* t->ktimes from the timestamps of step s (0-based, of the current epoch): n passes. */
static void fill_kernel_times(mlp_trainer *t, uint32_t s, uint32_t n, const uint64_t *ts) {
    dispatch d[MAX_DISPATCHES];
    uint32_t nd = (uint32_t)step_dispatches(t, s, d);
    mlp_kernel_times *kt = &t->ktimes;
    memset(kt, 0, sizeof *kt);
    kt->epoch = t->epochs_done + 1;
    kt->step = s + 1;
    kt->count = n < nd ? n : nd;
    for (uint32_t i = 0; i < kt->count; i++) {
        mlp_kernel_sample *k = &kt->kernels[i];
        const char *file = d[i].k->file, *dot = strstr(file, ".wgsl");
        int stem = dot ? (int)(dot - file) : (int)strlen(file);
        uint32_t pass;
        dispatch_place(t, &d[i], &k->layer, &pass);
        k->kernel = file;
        if (d[i].part) snprintf(k->label, sizeof k->label, "%.*s %s", stem, file, d[i].part);
        else if (k->layer) snprintf(k->label, sizeof k->label, "%.*s layer %u", stem, file, k->layer);
        else if (pass) snprintf(k->label, sizeof k->label, "%.*s pass %u", stem, file, pass);
        else snprintf(k->label, sizeof k->label, "%.*s", stem, file);
        uint64_t begin = ts[2 * i], end = ts[2 * i + 1];
        k->ns = end > begin ? (double)(end - begin) : 0.0; /* a clock that steps back reads as 0 */
    }
    if (kt->count) kt->span_ns = ts[2 * kt->count - 1] > ts[0] ? (double)(ts[2 * kt->count - 1] - ts[0]) : 0.0;
    kt->quantised = gpu_timestamps_quantised(ts, 2 * (size_t)kt->count);
}

/* After a report's last step with the health panel (its parameters copied to hprev before it,
 * the step in a pass, or passes, of its own): the activations copied, then health_stats' two
 * passes. The step's numbers are those of encode_units in the one pass: copies and extra reads
 * change none. */
static void encode_health_after_step(mlp_trainer *t, WGPUCommandEncoder enc, uint32_t s) {
    encode_health_snapshot(t, enc, s);
    WGPUComputePassEncoder pass = wgpuCommandEncoderBeginComputePass(enc, NULL);
    for (int p = 0; p < 2; p++) {
        dispatch d = {t->k_health[p], t->bg_health[p], t->hjob_count, 1, 0, NULL};
        encode_dispatch(pass, &d, s * STEP_STRIDE);
    }
    wgpuComputePassEncoderEnd(pass);
    wgpuComputePassEncoderRelease(pass);
}

typedef struct chunk {
    uint32_t first, count; /* steps */
    int slot;
    uint32_t timed; /* dispatches of its last step timed in passes of their own (0: none) */
} chunk;

typedef struct epoch_totals {
    double loss, correct;
    uint64_t samples;
} epoch_totals;

/* The order buffer holds two epochs' shuffles, odd epochs in its first half and even in its
 * second, so that the next epoch's can be uploaded while this one's steps read theirs: the
 * byte offset of epoch's half (a step's start counts from there). */
static uint64_t order_half(const mlp_trainer *t, uint32_t epoch) { return (uint64_t)(epoch % 2 ? 0 : t->train_count) * 4; }

/* The parameters of steps from..steps_per_epoch-1 of an epoch (1-based) into steps_upload,
 * with the edits in effect (t->live). */
static void fill_steps(mlp_trainer *t, uint32_t epoch, uint32_t from) {
    uint32_t steps = t->steps_per_epoch, b = t->cfg.batch, base = order_half(t, epoch) / 4;
    uint64_t total_steps = (uint64_t)steps * t->cfg.epochs;
    optim_config o = mlp_live_optim(&t->cfg, &t->live);
    float momentum = t->cfg.optimizer >= OPTIM_ADAM ? o.beta1 : o.momentum;
    for (uint32_t s = from; s < steps; s++) {
        step_params p = {base + s * b, 0, 0.0f, s, 0, 0, 0, momentum, 0};
        p.count = t->train_count - s * b < b ? t->train_count - s * b : b;
        uint64_t global = (uint64_t)(epoch - 1) * steps + s;
        p.lr = mlp_live_step_lr(&t->cfg, &t->live, global, total_steps);
        optim_bias_corrections(&o, global + 1, &p.bc1, &p.bc2);
        p.noise = mlp_step_noise(t->cfg.seed, global);
        p.health = t->cfg.health && ((s + 1) % t->cfg.report_every == 0 || s + 1 == steps);
        memcpy(t->steps_upload + (size_t)s * STEP_STRIDE, &p, sizeof p);
    }
}

mlp_status mlp_edit_hparams(mlp_trainer *t, const mlp_edit *e, mlp_edit_result *out) {
    if (t->inference) return fail(t, MLP_ERR_CONFIG, "an inference model has no training to edit");
    uint32_t steps = t->steps_per_epoch, local = t->in_epoch ? t->next_encode : 0;
    /* in an epoch, the chunks already encoded keep what they were encoded with */
    uint64_t next = (uint64_t)t->epochs_done * steps + local;
    char err[256];
    if (!mlp_live_apply(&t->cfg, &t->live, e, next, (uint64_t)steps * t->cfg.epochs, out, err, sizeof err))
        return fail(t, MLP_ERR_CONFIG, "%s", err);
    if (t->in_epoch && local < steps) {
        /* queue writes are ordered before the next submit: the rest of the epoch runs edited */
        fill_steps(t, t->epochs_done + 1, local);
        TRY_GPU(gpu_buffer_write(t->gpu, &t->steps, (uint64_t)local * STEP_STRIDE, t->steps_upload + (size_t)local * STEP_STRIDE,
                                 (size_t)(steps - local) * STEP_STRIDE));
    }
    return MLP_OK;
}

mlp_live mlp_get_live(const mlp_trainer *t) { return t->live; }

mlp_status mlp_set_live(mlp_trainer *t, const mlp_live *l) {
    char err[256];
    if (!mlp_live_check(&t->cfg, l, err, sizeof err)) return fail(t, MLP_ERR_CONFIG, "%s", err);
    t->live = *l;
    return MLP_OK;
}

/* Reads a finished chunk's metrics, checks them, reports progress. */
static mlp_status finish_chunk(mlp_trainer *t, const chunk *c, epoch_totals *tot, mlp_progress_fn progress,
                               void *user, bool *stop) {
    float m[2 * 4096];
    const mlp_kernel_times *kt = NULL;
    gpu_status timer_status = GPU_OK;
    if (c->timed) { /* the same submission as the metrics: no wait of its own */
        uint64_t ts[2 * MAX_DISPATCHES];
        timer_status = gpu_timer_collect(t->timer, c->slot, ts);
        if (timer_status == GPU_OK) fill_kernel_times(t, c->first + c->count - 1, c->timed, ts), kt = &t->ktimes;
    }
    size_t parts = t->metric_parts, floats = (size_t)c->count * parts * 2;
    float *metrics = floats <= 2 * 4096 ? m : malloc(floats * sizeof(float));
    if (!metrics) return fail(t, MLP_ERR_GPU, "out of memory");
    gpu_status gs = gpu_readback_collect(&t->readback[c->slot], metrics);
    if (gs == GPU_OK) gs = timer_status;
    if (gs != GPU_OK) {
        if (metrics != m) free(metrics);
        return gpu_fail(t, gs);
    }
    const step_params *last = (const step_params *)(t->steps_upload + (size_t)(c->first + c->count - 1) * STEP_STRIDE);
    if (t->cfg.health) {
        uint32_t rec[3 * MODEL_MAX_LAYERS * (8 + HEALTH_BINS)];
        gs = gpu_readback_collect(&t->health_rb[c->slot], rec);
        if (gs != GPU_OK) {
            if (metrics != m) free(metrics);
            return gpu_fail(t, gs);
        }
        decode_health(t, rec, t->epochs_done + 1, c->first + c->count, last->count);
    }
    double loss = 0, correct = 0;
    uint64_t samples = 0;
    mlp_status st = MLP_OK;
    char where[256];
    for (uint32_t i = 0; i < c->count; i++) {
        const step_params *p = (const step_params *)(t->steps_upload + (size_t)(c->first + i) * STEP_STRIDE);
        /* the step's partials, added in order (softmax_xent_backward.wgsl), into its slot */
        float step_loss = 0, step_correct = 0;
        for (size_t k = 0; k < parts; k++) {
            step_loss += metrics[2 * (i * parts + k)];
            step_correct += metrics[2 * (i * parts + k) + 1];
        }
        metrics[2 * i] = step_loss;
        metrics[2 * i + 1] = step_correct;
        if (!isfinite(metrics[2 * i])) {
            if (t->cfg.health) {
                health_where(&t->health, where, sizeof where);
                st = fail(t, MLP_ERR_DIVERGED,
                          "the loss became %s at epoch %u, step %u of %u; at step %u, %s: lower the learning rate (%g at that step, of --lr %g)",
                          isnan(metrics[2 * i]) ? "NaN" : "infinite", t->epochs_done + 1, c->first + i + 1,
                          t->steps_per_epoch, t->health.step, where, (double)p->lr, (double)t->cfg.lr);
            } else {
                st = fail(t, MLP_ERR_DIVERGED,
                          "the loss became %s at epoch %u, step %u of %u: lower the learning rate (%g at that step, of --lr %g)",
                          isnan(metrics[2 * i]) ? "NaN" : "infinite", t->epochs_done + 1, c->first + i + 1,
                          t->steps_per_epoch, (double)p->lr, (double)t->cfg.lr);
            }
            break;
        }
        loss += metrics[2 * i];
        correct += metrics[2 * i + 1];
        samples += p->count;
    }
    if (metrics != m) free(metrics);
    if (st != MLP_OK) return st;
    /* a finite loss over a non-finite gradient or output: stop at the report that saw it */
    if (t->cfg.health && health_nonfinite(&t->health, where, sizeof where))
        return fail(t, MLP_ERR_DIVERGED, "a non-finite value at epoch %u, step %u of %u: %s: lower the learning rate (%g at that step, of --lr %g)",
                    t->epochs_done + 1, t->health.step, t->steps_per_epoch, where, (double)last->lr, (double)t->cfg.lr);
    tot->loss += loss;
    tot->correct += correct;
    tot->samples += samples;
    if (progress) {
        mlp_progress pr = {t->epochs_done + 1, c->first + c->count, t->steps_per_epoch, tot->samples,
                           samples ? loss / (double)samples : 0, samples ? correct / (double)samples : 0, kt,
                           t->cfg.health ? &t->health : NULL};
        if (!progress(user, &pr)) *stop = true;
    }
    return MLP_OK;
}

mlp_status mlp_train_epoch(mlp_trainer *t, mlp_progress_fn progress, void *user, mlp_epoch_result *out) {
    if (t->inference) return fail(t, MLP_ERR_CONFIG, "an inference model cannot train");
    gpu_context *g = t->gpu;
    uint32_t epoch = t->epochs_done + 1, steps = t->steps_per_epoch;

    /* one upload of the epoch's order (unless the epoch before uploaded it: below) and every
     * step's parameters; no per-step writes (a live edit uploads the steps not yet encoded again:
     * mlp_edit_hparams) */
    if (t->order_next_epoch == epoch) {
        uint32_t *o = t->order_host;
        t->order_host = t->order_next;
        t->order_next = o;
    } else {
        mlp_epoch_order(t->cfg.seed, epoch, t->train_count, t->order_host);
        TRY_GPU(gpu_buffer_write(g, &t->order, order_half(t, epoch), t->order_host, (size_t)t->train_count * 4));
    }
    t->order_next_epoch = 0;
    fill_steps(t, epoch, 0);
    TRY_GPU(gpu_buffer_write(g, &t->steps, 0, t->steps_upload, (size_t)steps * STEP_STRIDE));
    t->in_epoch = true;
    t->next_encode = 0;

    epoch_totals tot = {0, 0, 0};
    chunk pending = {0, 0, -1, 0};
    bool stop = false;
    mlp_status st = MLP_OK;
    int slot = 0;
    for (uint32_t first = 0; first < steps && !stop && st == MLP_OK; first += t->cfg.report_every) {
        chunk c = {first, steps - first < t->cfg.report_every ? steps - first : t->cfg.report_every, slot, 0};
        slot = (slot + 1) % READBACK_SLOTS;
        gpu_scope_push(g);
        /* the chunk's last step alone where it is timed (a pass per dispatch) or watched by the
         * health panel (the parameters copied before it, the activations after it) */
        uint32_t last = c.first + c.count - 1;
        bool health = t->cfg.health, alone = health || t->time_kernels;
        uint32_t main_end = alone ? last : last + 1, units = step_units(t, c.first, main_end), done = 0;
        /* The epoch's first chunk finds the GPU idle, and encoding and submitting takes the host
         * longer than a small step takes the GPU (the H200's host: ~22 us a step of four
         * dispatches, 8 to encode and 13 in Dawn's submit; the step 50 us at batch 1024): in one
         * command buffer, 59 steps kept the card idle ~1.3 ms an epoch. So it goes in command
         * buffers of 1, 2, 4, ... units, the GPU on each while the host encodes the next, and
         * the last, with the readback, holds the rest (bench/NOTES.md, experiment 41). Later
         * chunks are encoded while the one before runs. */
        if (first == 0 && SPLIT_FIRST_CHUNK)
            for (uint32_t seg = 1; units - done > seg; seg *= 2) {
                WGPUCommandEncoder part = wgpuDeviceCreateCommandEncoder(gpu_device(g), NULL);
                encode_units_pass(t, part, c.first, main_end, done, done + seg);
                gpu_submit(g, part);
                done += seg;
            }
        WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(gpu_device(g), NULL);
        if (units > done) encode_units_pass(t, enc, c.first, main_end, done, units);
        if (health) wgpuCommandEncoderCopyBufferToBuffer(enc, t->params.handle, 0, t->hprev.handle, 0, t->lay.carved * 4);
        if (t->time_kernels) {
            c.timed = encode_timed_step(t, enc, last, c.slot);
        } else if (health) {
            encode_units_pass(t, enc, last, last + 1, 0, step_units(t, last, last + 1));
        }
        if (health) encode_health_after_step(t, enc, last);
        t->next_encode = c.first + c.count;
        uint64_t pair = (uint64_t)t->metric_parts * 8; /* one step's (loss, correct) partials */
        gpu_readback_encode(&t->readback[c.slot], enc, &t->metrics, c.first * pair, c.count * pair);
        if (health) gpu_readback_encode(&t->health_rb[c.slot], enc, &t->hout, 0, t->hout.size);
        gpu_submit(g, enc);
        gpu_status gs = gpu_scope_pop(g, "encoding training steps");
        if (gs != GPU_OK) {
            st = gpu_fail(t, gs);
            break;
        }
        gpu_readback_request(&t->readback[c.slot]);
        if (c.timed) gpu_timer_request(t->timer, c.slot);
        if (health) gpu_readback_request(&t->health_rb[c.slot]);
        /* the GPU is busy with the first chunk: shuffle for the next epoch meanwhile, and
         * upload it to the other half of the order, which no step of this epoch reads */
        if (first == 0 && epoch < t->cfg.epochs) {
            mlp_epoch_order(t->cfg.seed, epoch + 1, t->train_count, t->order_next);
            st = gpu_fail(t, gpu_buffer_write(g, &t->order, order_half(t, epoch + 1), t->order_next, (size_t)t->train_count * 4));
            t->order_next_epoch = st == MLP_OK ? epoch + 1 : 0;
        }
        if (pending.slot >= 0 && st == MLP_OK) st = finish_chunk(t, &pending, &tot, progress, user, &stop);
        pending = c;
    }
    /* always drain the last chunk so no staging buffer stays mapped or pending */
    if (pending.slot >= 0) {
        mlp_status s2 = finish_chunk(t, &pending, &tot, st == MLP_OK ? progress : NULL, user, &stop);
        if (st == MLP_OK) st = s2;
    }
    t->in_epoch = false;
    if (st != MLP_OK) return st;
    t->epochs_done++;
    if (out) {
        out->epoch = epoch;
        out->loss = tot.samples ? tot.loss / (double)tot.samples : 0;
        out->train_accuracy = tot.samples ? tot.correct / (double)tot.samples : 0;
    }
    if (stop) return fail(t, MLP_ERR_STOPPED, "training stopped at epoch %u", epoch);
    return MLP_OK;
}

/* ---- evaluation ---- */

static mlp_status run_eval(mlp_trainer *t, eval_set *e) {
    gpu_context *g = t->gpu;
    gpu_scope_push(g);
    WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(gpu_device(g), NULL);
    wgpuCommandEncoderClearBuffer(enc, t->confusion.handle, 0, t->confusion.size);
    WGPUComputePassEncoder pass = wgpuCommandEncoderBeginComputePass(enc, NULL);
    for (uint32_t c = 0; c < e->chunks; c++) {
        uint32_t off = c * STEP_STRIDE;
        uint32_t n = e->count - c * EVAL_CHUNK < EVAL_CHUNK ? e->count - c * EVAL_CHUNK : EVAL_CHUNK;
        dispatch d = {t->k_gather, e->gather, div_up((uint64_t)n * t->cfg.arch.inputs, t->k_gather->workgroup_size), 1, 0, NULL};
        if (!t->tiled) encode_dispatch(pass, &d, off); /* the tiled layer 0 gathers itself */
        for (uint32_t l = 0; l < layers(t); l++) {
            d = (dispatch){t->k_efwd[l], e->fwd[l], fwd_groups(t, t->k_efwd[l], l, n, t->efwd_wide[l]), 1, 0, NULL};
            encode_dispatch(pass, &d, off);
        }
        d = (dispatch){t->k_cls, e->cls, div_up(n, t->k_cls->workgroup_size), 1, 0, NULL};
        encode_dispatch(pass, &d, off);
    }
    wgpuComputePassEncoderEnd(pass);
    wgpuComputePassEncoderRelease(pass);
    gpu_submit(g, enc);
    TRY_GPU(gpu_scope_pop(g, "encoding evaluation"));
    return MLP_OK;
}

mlp_status mlp_evaluate(mlp_trainer *t, mlp_eval_result *out) {
    memset(out, 0, sizeof *out);
    if (!t->has_test) return fail(t, MLP_ERR_DATA, "no test set was given");
    eval_set *e = &t->test;
    mlp_status st = run_eval(t, e);
    if (st != MLP_OK) return st;
    uint32_t n = e->count, C = t->cfg.arch.classes;
    float *losses = malloc((size_t)n * 4), *probs = malloc((size_t)n * C * 4);
    uint32_t *pred = malloc((size_t)n * 4);
    if (!losses || !probs || !pred) {
        free(losses), free(probs), free(pred);
        return fail(t, MLP_ERR_GPU, "out of memory");
    }
    if (!t->confusion_host) t->confusion_host = malloc((size_t)C * C * 4);
    uint32_t *conf = t->confusion_host;
    if (!conf) {
        free(losses), free(probs), free(pred);
        return fail(t, MLP_ERR_GPU, "out of memory");
    }
    gpu_read reads[] = {{&t->confusion, 0, conf, (size_t)C * C * 4},
                        {&e->losses, 0, losses, (size_t)n * 4},
                        {&e->predicted, 0, pred, (size_t)n * 4},
                        {&e->probs, 0, probs, (size_t)n * C * 4}};
    gpu_status gs = gpu_buffers_read(t->gpu, reads, 4);
    if (gs == GPU_OK) {
        double loss = 0;
        uint64_t correct = 0;
        for (uint32_t i = 0; i < n; i++) {
            loss += losses[i];
            t->test_pred[i] = (uint8_t)(pred[i] < C ? pred[i] : 0);
            t->test_conf[i] = probs[(size_t)i * C + t->test_pred[i]];
        }
        for (uint32_t c = 0; c < C; c++) correct += conf[(size_t)c * C + c];
        out->count = n;
        out->loss = loss / n;
        out->accuracy = (double)correct / n;
        out->classes = C;
        out->confusion = conf;
    }
    free(losses), free(probs), free(pred);
    return gpu_fail(t, gs);
}

const uint8_t *mlp_test_predictions(const mlp_trainer *t) { return t->test_pred; }
const float *mlp_test_confidences(const mlp_trainer *t) { return t->test_conf; }

mlp_status mlp_predict(mlp_trainer *t, const uint8_t *images, uint32_t n, float *probs) {
    if (n == 0) return MLP_OK;
    eval_set e;
    mlp_status st = eval_set_create(t, &e, "predict", images, NULL, n);
    if (st == MLP_OK) st = run_eval(t, &e);
    if (st == MLP_OK) st = gpu_fail(t, gpu_buffer_read(t->gpu, &e.probs, 0, probs, (size_t)n * t->cfg.arch.classes * 4));
    eval_set_destroy(&e);
    return st;
}

/* ---- parameters ---- */

/* Reads one carved copy of the parameter layout (at float `base` of buf) packed into dst. */
static mlp_status read_carved(mlp_trainer *t, gpu_buffer *buf, size_t base, float *dst) {
    float *all = malloc(t->lay.carved * 4);
    if (!all) return fail(t, MLP_ERR_GPU, "out of memory");
    gpu_status s = gpu_buffer_read(t->gpu, buf, base * 4, all, t->lay.carved * 4);
    if (s == GPU_OK) {
        size_t o = 0;
        for (uint32_t i = 0; i < t->lay.tensors; i++) {
            memcpy(dst + o, all + t->lay.offsets[i], t->lay.sizes[i] * 4);
            o += t->lay.sizes[i];
        }
    }
    free(all);
    return gpu_fail(t, s);
}

static mlp_status write_carved(mlp_trainer *t, gpu_buffer *buf, size_t base, const float *src) {
    float *all = calloc(t->lay.carved, 4);
    if (!all) return fail(t, MLP_ERR_GPU, "out of memory");
    size_t o = 0;
    for (uint32_t i = 0; i < t->lay.tensors; i++) {
        memcpy(all + t->lay.offsets[i], src + o, t->lay.sizes[i] * 4);
        o += t->lay.sizes[i];
    }
    gpu_status s = gpu_buffer_write(t->gpu, buf, base * 4, all, t->lay.carved * 4);
    free(all);
    return gpu_fail(t, s);
}

mlp_status mlp_read_params(mlp_trainer *t, float *dst) { return read_carved(t, &t->params, 0, dst); }
mlp_status mlp_write_params(mlp_trainer *t, const float *src) { return write_carved(t, &t->params, 0, src); }

mlp_status mlp_read_state(mlp_trainer *t, uint32_t slot, float *dst) {
    if (slot >= t->slots) return fail(t, MLP_ERR_CONFIG, "the optimizer has no state slot %u", slot);
    return read_carved(t, &t->state, (size_t)slot * t->lay.carved, dst);
}

mlp_status mlp_write_state(mlp_trainer *t, uint32_t slot, const float *src) {
    if (slot >= t->slots) return fail(t, MLP_ERR_CONFIG, "the optimizer has no state slot %u", slot);
    return write_carved(t, &t->state, (size_t)slot * t->lay.carved, src);
}
mlp_status mlp_read_health_tensors(mlp_trainer *t, float *prev, float *grads, float *out, float *pre) {
    if (!t->cfg.health || !t->has_health) return fail(t, MLP_ERR_CONFIG, "no health report to read the tensors of");
    mlp_status st = MLP_OK;
    if (prev) st = read_carved(t, &t->hprev, 0, prev);
    if (st == MLP_OK && grads) st = read_carved(t, t->cfg.kernels == MLP_KERNELS_FUSED ? &t->hgrads : &t->grads, 0, grads);
    if (st != MLP_OK || (!out && !pre)) return st;
    float *snap = malloc(t->hsnap.size);
    if (!snap) return fail(t, MLP_ERR_GPU, "out of memory");
    st = gpu_fail(t, gpu_buffer_read(t->gpu, &t->hsnap, 0, snap, t->hsnap.size));
    bool fused = t->cfg.kernels == MLP_KERNELS_FUSED;
    for (uint32_t l = 0; st == MLP_OK && l + 1 < layers(t); l++) {
        size_t n = (size_t)t->health.samples * t->lay.fan_out[l];
        if (out) memcpy(out, snap + t->snap_out[l], n * 4), out += n;
        if (pre && !fused) memcpy(pre, snap + t->snap_pre[l], n * 4), pre += n;
    }
    free(snap);
    return st;
}

void mlp_set_epochs_done(mlp_trainer *t, uint32_t epochs) { t->epochs_done = epochs; }
const mlp_config *mlp_get_config(const mlp_trainer *t) { return &t->cfg; }

/* ---- profiling ---- */

int mlp_profile_kernels(mlp_trainer *t, uint32_t steps, mlp_kernel_time *out, int max) {
    gpu_context *g = t->gpu;
    if (t->inference) {
        fail(t, MLP_ERR_CONFIG, "an inference model has no training kernels to profile");
        return -1;
    }
    if (!gpu_has_timestamps(g)) {
        fail(t, MLP_ERR_GPU, "this adapter or device has no timestamp queries");
        return -1;
    }
    dispatch d[MAX_DISPATCHES];
    int kps = step_dispatches(t, 0, d);
    if (steps > t->steps_per_epoch) steps = t->steps_per_epoch;
    if (steps * (uint32_t)kps * 2 > 4096) steps = 4096 / ((uint32_t)kps * 2); /* queries per set */
    if (steps == 0) steps = 1;
    uint32_t nq = steps * (uint32_t)kps * 2;
    gpu_buffer resolve = {0};
    gpu_readback rb;
    memset(&rb, 0, sizeof rb);
    uint64_t *ts = malloc((size_t)nq * 8);
    WGPUQuerySetDescriptor qd;
    memset(&qd, 0, sizeof qd);
    qd.type = WGPUQueryType_Timestamp;
    qd.count = nq;
    gpu_scope_push(g);
    WGPUQuerySet qs = wgpuDeviceCreateQuerySet(gpu_device(g), &qd);
    gpu_status st = gpu_scope_pop(g, "creating a timestamp query set");
    if (st == GPU_OK) st = gpu_buffer_create(g, &resolve, "timestamps", (uint64_t)nq * 8,
                                            WGPUBufferUsage_QueryResolve | WGPUBufferUsage_CopySrc);
    if (st == GPU_OK) st = gpu_readback_init(g, &rb, (uint64_t)nq * 8);
    if (st == GPU_OK && ts) {
        gpu_scope_push(g);
        WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(gpu_device(g), NULL);
        uint32_t q = 0;
        for (uint32_t s = 0; s < steps; s++) {
            int n = step_dispatches(t, s, d);
            for (int i = 0; i < n; i++, q += 2) {
                WGPUPassTimestampWrites tw = {NULL, qs, q, q + 1};
                WGPUComputePassDescriptor pd;
                memset(&pd, 0, sizeof pd);
                pd.timestampWrites = &tw;
                WGPUComputePassEncoder pass = wgpuCommandEncoderBeginComputePass(enc, &pd);
                encode_dispatch(pass, &d[i], s * STEP_STRIDE);
                wgpuComputePassEncoderEnd(pass);
                wgpuComputePassEncoderRelease(pass);
            }
        }
        wgpuCommandEncoderResolveQuerySet(enc, qs, 0, nq, resolve.handle, 0);
        gpu_readback_encode(&rb, enc, &resolve, 0, (uint64_t)nq * 8);
        gpu_submit(g, enc);
        st = gpu_scope_pop(g, "profiling kernels");
        if (st == GPU_OK) st = gpu_readback_request(&rb);
        if (st == GPU_OK) st = gpu_readback_collect(&rb, ts);
    }
    int count = -1;
    if (st == GPU_OK && ts) {
        count = kps < max ? kps : max;
        for (int i = 0; i < count; i++) {
            double sum = 0;
            for (uint32_t s = 0; s < steps; s++) {
                uint32_t q = (s * (uint32_t)kps + (uint32_t)i) * 2;
                sum += ts[q + 1] > ts[q] ? (double)(ts[q + 1] - ts[q]) : 0.0;
            }
            /* named as the live kernel times label them, so a model's layers stay apart */
            uint32_t layer, pass;
            dispatch_place(t, &d[i], &layer, &pass);
            const char *file = d[i].k->file;
            if (d[i].part) snprintf(out[i].name, sizeof out[i].name, "%.60s %.15s", file, d[i].part);
            else if (layer) snprintf(out[i].name, sizeof out[i].name, "%.60s layer %u", file, layer);
            else if (pass) snprintf(out[i].name, sizeof out[i].name, "%.60s pass %u", file, pass);
            else snprintf(out[i].name, sizeof out[i].name, "%.60s", file);
            out[i].mean_ns = sum / steps;
            out[i].dispatches_per_step = 1;
        }
    } else if (st != GPU_OK) {
        gpu_fail(t, st);
    } else {
        fail(t, MLP_ERR_GPU, "out of memory");
    }
    free(ts);
    gpu_readback_release(&rb);
    gpu_buffer_destroy(&resolve);
    if (qs) {
        wgpuQuerySetDestroy(qs);
        wgpuQuerySetRelease(qs);
    }
    return count;
}

/* ---- live kernel times ---- */

const char *mlp_kernel_times_unavailable(gpu_context *gpu) {
    if (gpu_has_timestamps(gpu)) return NULL;
    if (!gpu_info(gpu)->has_timestamps) return "the adapter offers no timestamp queries (WebGPU's timestamp-query feature)";
    return "the device was opened without timestamp queries";
}

mlp_status mlp_set_kernel_times(mlp_trainer *t, bool on) {
    if (!on) {
        t->time_kernels = false;
        return MLP_OK;
    }
    if (t->inference) return fail(t, MLP_ERR_CONFIG, "an inference model has no training kernels to time");
    const char *why = mlp_kernel_times_unavailable(t->gpu);
    if (why) return fail(t, MLP_ERR_CONFIG, "%s", why);
    if (!t->timer) {
        gpu_timer *timer = calloc(1, sizeof *timer);
        if (!timer) return fail(t, MLP_ERR_GPU, "out of memory");
        gpu_status s = gpu_timer_init(t->gpu, timer, MAX_DISPATCHES, READBACK_SLOTS);
        if (s != GPU_OK) {
            free(timer);
            return gpu_fail(t, s);
        }
        t->timer = timer;
    }
    t->time_kernels = true;
    return MLP_OK;
}
