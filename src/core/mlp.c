/* Training engine; see mlp.h. */
#include "core/mlp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STEP_STRIDE 256   /* dynamic uniform offsets must be 256-byte aligned */
#define EVAL_CHUNK 2048   /* samples per evaluation dispatch: keeps grids under the limits */
#define READBACK_SLOTS 2  /* metrics of chunk k are read while chunk k+1 runs */

typedef struct step_params { /* matches `struct Step` in the kernels */
    uint32_t start, count;
    float lr;
    uint32_t index;
} step_params;

enum { T_W1, T_B1, T_W2, T_B2, T_COUNT };

typedef struct eval_set {
    gpu_buffer images, labels, order, steps, hidden, logits, probs, losses, predicted;
    uint32_t count, chunks;
    WGPUBindGroup d1f, d2f, cls;
} eval_set;

struct mlp_trainer {
    gpu_context *gpu;
    mlp_config cfg;
    uint32_t train_count, steps_per_epoch, epochs_done;
    char error[1024];

    /* parameters: one allocation carved by a size table, tensors 256-byte aligned; the
     * momentum buffer and (reference path) the gradients are carved the same way */
    size_t sizes[T_COUNT], offsets[T_COUNT], param_floats;
    gpu_buffer params, grads, velocity;

    gpu_buffer train_images, train_labels, order, steps, metrics, confusion;
    gpu_buffer hidden, logits, dlogits, dhidden;
    gpu_kernel *k_d1f, *k_d2f, *k_sx, *k_d2b, *k_d1b, *k_sgd, *k_cls;
    WGPUBindGroup bg_d1f, bg_d2f, bg_sx, bg_d2b, bg_d1b, bg_sgd;
    uint32_t groups_d1b, groups_sgd;
    /* fast path */
    gpu_kernel *k_ffw, *k_fsm, *k_fup, *k_fap;
    WGPUBindGroup bg_ffw, bg_fsm, bg_fup, bg_fap;
    gpu_buffer gpart; /* per-slice partial gradients, large batches */
    uint32_t slices;
    size_t acts_floats;
    gpu_buffer acts; /* carved: hidden, dhidden, dlogits, per-sample metrics, layer-2 partial
                      * sums, the gathered inputs (offsets in load_kernels) */
    uint32_t groups_fup;
    gpu_readback readback[READBACK_SLOTS];
    uint32_t *order_host;
    unsigned char *steps_upload;

    eval_set test;
    bool has_test;
    uint8_t *test_pred;
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
    /* chosen by bench/sweep.sh on the H100 (bench/results/sweep-h100-2026-11-27.txt): of the
     * configurations tried, the one whose worst of 5 seeds was best (98.08%, mean 98.17%), and
     * with half the steps of batch 64 it is also the fastest per epoch */
    c.hidden = 128;
    c.batch = 128;
    c.epochs = 12;
    c.lr = 0.05f;
    c.momentum = 0.9f;
    c.schedule = MLP_SCHEDULE_COSINE;
    c.seed = 1;
    c.report_every = 50;
    c.kernels = MLP_KERNELS_AUTO;
    return c;
}

mlp_status mlp_config_check(const mlp_config *c, uint32_t train_count, char *err, size_t errlen) {
    if (c->hidden < 1 || c->hidden > MLP_MAX_HIDDEN) {
        snprintf(err, errlen, "--hidden must be between 1 and %d (got %u)", MLP_MAX_HIDDEN, c->hidden);
        return MLP_ERR_CONFIG;
    }
    if (c->batch < 1 || c->batch > MLP_MAX_BATCH) {
        snprintf(err, errlen, "--batch must be between 1 and %d (got %u)", MLP_MAX_BATCH, c->batch);
        return MLP_ERR_CONFIG;
    }
    if (train_count && c->batch > train_count) {
        snprintf(err, errlen, "--batch %u is larger than the training set (%u samples)", c->batch, train_count);
        return MLP_ERR_CONFIG;
    }
    if (c->epochs < 1 || c->epochs > 100000) {
        snprintf(err, errlen, "--epochs must be between 1 and 100000 (got %u)", c->epochs);
        return MLP_ERR_CONFIG;
    }
    if (!isfinite(c->lr) || c->lr <= 0.0f || c->lr > 1000.0f) {
        snprintf(err, errlen, "--lr must be a finite number > 0 and <= 1000 (got %g)", (double)c->lr);
        return MLP_ERR_CONFIG;
    }
    if (!isfinite(c->momentum) || c->momentum < 0.0f || c->momentum >= 1.0f) {
        snprintf(err, errlen, "--momentum must be in [0, 1) (got %g)", (double)c->momentum);
        return MLP_ERR_CONFIG;
    }
    if (c->report_every < 1) {
        snprintf(err, errlen, "report interval must be at least 1 step");
        return MLP_ERR_CONFIG;
    }
    return MLP_OK;
}

/* ---- deterministic randomness (splitmix64): same seed, same run, on any machine ---- */

uint64_t mlp_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uniform_pm(uint64_t *state, float bound) {
    double u = (double)(mlp_splitmix64(state) >> 11) * (1.0 / 9007199254740992.0); /* [0,1) */
    return (float)((2.0 * u - 1.0) * bound);
}

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

float mlp_step_lr(const mlp_config *c, uint64_t step, uint64_t total_steps) {
    if (c->schedule == MLP_SCHEDULE_CONSTANT || total_steps == 0) return c->lr;
    double x = (double)step / (double)total_steps;
    return (float)(c->lr * 0.5 * (1.0 + cos(M_PI * x)));
}

size_t mlp_param_count(uint32_t hidden) {
    return (size_t)hidden * MLP_INPUTS + hidden + (size_t)MLP_CLASSES * hidden + MLP_CLASSES;
}

void mlp_init_params(uint64_t seed, uint32_t hidden, float *dst) {
    uint64_t state = seed ^ 0x5DEECE66Dull;
    float bound1 = 1.0f / sqrtf((float)MLP_INPUTS), bound2 = 1.0f / sqrtf((float)hidden);
    size_t n1 = (size_t)hidden * MLP_INPUTS + hidden;
    size_t n = mlp_param_count(hidden);
    for (size_t i = 0; i < n; i++) dst[i] = uniform_pm(&state, i < n1 ? bound1 : bound2);
}

/* ---- layout ---- */

static void carve(mlp_trainer *t) {
    uint32_t h = t->cfg.hidden;
    t->sizes[T_W1] = (size_t)h * MLP_INPUTS;
    t->sizes[T_B1] = h;
    t->sizes[T_W2] = (size_t)MLP_CLASSES * h;
    t->sizes[T_B2] = MLP_CLASSES;
    size_t off = 0;
    for (int i = 0; i < T_COUNT; i++) {
        t->offsets[i] = off;
        off += (t->sizes[i] + 63) & ~(size_t)63; /* 64 floats = 256 bytes */
    }
    t->param_floats = off;
}

static gpu_bind tensor(const char *name, gpu_buffer *b, mlp_trainer *t, int which) {
    gpu_bind x = {name, b, t->offsets[which] * 4, t->sizes[which] * 4};
    return x;
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
    gpu_bind d1f[] = {
        {"step", &e->steps, 0, sizeof(step_params)}, {"images", &e->images, 0, 0}, {"order", &e->order, 0, 0},
        tensor("w1", &t->params, t, T_W1), tensor("b1", &t->params, t, T_B1), {"hidden", &e->hidden, 0, 0},
    };
    TRY_GPU(gpu_bind_group(t->gpu, t->k_d1f, d1f, 6, &e->d1f));
    gpu_bind d2f[] = {
        {"step", &e->steps, 0, sizeof(step_params)}, {"hidden", &e->hidden, 0, 0},
        tensor("w2", &t->params, t, T_W2), tensor("b2", &t->params, t, T_B2), {"logits", &e->logits, 0, 0},
    };
    TRY_GPU(gpu_bind_group(t->gpu, t->k_d2f, d2f, 5, &e->d2f));
    gpu_bind cls[] = {
        {"step", &e->steps, 0, sizeof(step_params)}, {"logits", &e->logits, 0, 0}, {"labels", &e->labels, 0, 0},
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
    gpu_context *g = t->gpu;
    char label[48];
    snprintf(label, sizeof label, "%s-images", name);
    TRY_GPU(upload_bytes(g, &e->images, label, images, (size_t)count * MLP_INPUTS, GPU_STORAGE));
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
        step_params p = {c * EVAL_CHUNK, 0, 0.0f, c};
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
    TRY_GPU(gpu_buffer_create(g, &e->hidden, "eval-hidden", (size_t)chunk * t->cfg.hidden * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(g, &e->logits, "eval-logits", (size_t)chunk * MLP_CLASSES * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(g, &e->probs, "eval-probs", (size_t)count * MLP_CLASSES * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(g, &e->losses, "eval-losses", (size_t)count * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(g, &e->predicted, "eval-predicted", (size_t)count * 4, GPU_STORAGE));
    return make_eval_bind_groups(t, e);
}

static void eval_set_destroy(eval_set *e) {
    if (e->d1f) wgpuBindGroupRelease(e->d1f);
    if (e->d2f) wgpuBindGroupRelease(e->d2f);
    if (e->cls) wgpuBindGroupRelease(e->cls);
    gpu_buffer *bufs[] = {&e->images, &e->labels, &e->order, &e->steps, &e->hidden,
                          &e->logits, &e->probs, &e->losses, &e->predicted};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) gpu_buffer_destroy(bufs[i]);
    memset(e, 0, sizeof *e);
}

mlp_kernels mlp_resolve_kernels(gpu_context *gpu, mlp_kernels k) {
    if (k != MLP_KERNELS_AUTO) return k;
    /* the fused kernels are the faster path on every adapter measured (bench/NOTES.md: the
     * H100, and lavapipe at 6.2 s per epoch against 13.3 s) but SwiftShader, the browsers'
     * software adapter, which pays dearly for their workgroup barriers: 12.5 s against 18.9 s
     * for 5,000 images in headless Chromium (bench/RESULTS.md, "In the browser") */
    const gpu_adapter_info *info = gpu_info(gpu);
    bool swiftshader = false;
    for (const char *p = info->name; *p && !swiftshader; p++) swiftshader = !strncasecmp(p, "swiftshader", 11);
    return swiftshader ? MLP_KERNELS_REFERENCE : MLP_KERNELS_FUSED;
}

/* Every kernel this trainer's config needs, from the context's pipeline cache. */
static gpu_status load_kernels(mlp_trainer *t) {
    gpu_context *gpu = t->gpu;
    uint32_t h = t->cfg.hidden, b = t->cfg.batch;
#define TRY(expr)                          \
    do {                                   \
        gpu_status s_ = (expr);            \
        if (s_ != GPU_OK) return s_;       \
    } while (0)
    /* evaluation always runs the seed's forward kernels; training runs one path or the other */
    gpu_constant c_hidden[] = {{"HIDDEN", h}};
    TRY(gpu_kernel_get(gpu, "dense1_forward.wgsl", c_hidden, 1, &t->k_d1f));
    TRY(gpu_kernel_get(gpu, "dense2_forward.wgsl", c_hidden, 1, &t->k_d2f));
    TRY(gpu_kernel_get(gpu, "classify.wgsl", NULL, 0, &t->k_cls));
    if (t->cfg.kernels == MLP_KERNELS_REFERENCE) {
        gpu_constant c_sgd[] = {{"MOMENTUM", t->cfg.momentum}};
        TRY(gpu_kernel_get(gpu, "softmax_xent_backward.wgsl", NULL, 0, &t->k_sx));
        TRY(gpu_kernel_get(gpu, "dense2_backward.wgsl", c_hidden, 1, &t->k_d2b));
        TRY(gpu_kernel_get(gpu, "dense1_backward.wgsl", c_hidden, 1, &t->k_d1b));
        TRY(gpu_kernel_get(gpu, "sgd_update.wgsl", c_sgd, 1, &t->k_sgd));
    } else {
        /* the activation buffer's carve, shared by the three fused kernels */
        uint32_t htiles = (h + 15) / 16;
        double bh = (double)b * h, a_dlog = 2 * bh, a_samp = a_dlog + (double)b * MLP_CLASSES,
               a_part = a_samp + 2.0 * b, a_x = a_part + (double)htiles * b * MLP_CLASSES;
        gpu_constant c_fw[] = {{"HIDDEN", h}, {"OFF_W1", (double)t->offsets[T_W1]}, {"OFF_B1", (double)t->offsets[T_B1]},
                               {"OFF_W2", (double)t->offsets[T_W2]}, {"A_PART", a_part}, {"A_X", a_x},
                               {"MAX_BATCH", b}};
        gpu_constant c_sm[] = {{"HIDDEN", h}, {"OFF_W2", (double)t->offsets[T_W2]}, {"OFF_B2", (double)t->offsets[T_B2]},
                               {"A_DHID", bh}, {"A_DLOG", a_dlog}, {"A_SAMP", a_samp}, {"A_PART", a_part},
                               {"MAX_BATCH", b}};
        /* batches beyond 256 samples split the gradient reductions over slices of the batch
         * (bench/NOTES.md: a serial reduction over 1024 samples was the slowest part) */
        t->slices = b > 256 ? (b + 255) / 256 : 1;
        if (t->slices > 64) t->slices = 64;
        gpu_constant c_up[] = {{"HIDDEN", h}, {"MOMENTUM", t->cfg.momentum}, {"OFF_W1", (double)t->offsets[T_W1]},
                               {"OFF_B1", (double)t->offsets[T_B1]}, {"OFF_W2", (double)t->offsets[T_W2]},
                               {"OFF_B2", (double)t->offsets[T_B2]}, {"A_DHID", bh}, {"A_DLOG", a_dlog},
                               {"A_SAMP", a_samp}, {"A_X", a_x}, {"SLICES", t->slices},
                               {"PARAMS", (double)t->param_floats}};
        gpu_constant c_ap[] = {{"MOMENTUM", t->cfg.momentum}, {"SLICES", t->slices}, {"PARAMS", (double)t->param_floats}};
        TRY(gpu_kernel_get(gpu, "fused_forward.wgsl", c_fw, 7, &t->k_ffw));
        TRY(gpu_kernel_get(gpu, "fused_softmax.wgsl", c_sm, 8, &t->k_fsm));
        TRY(gpu_kernel_get(gpu, "fused_update.wgsl", c_up, 12, &t->k_fup));
        if (t->slices > 1) TRY(gpu_kernel_get(gpu, "fused_apply.wgsl", c_ap, 3, &t->k_fap));
        t->acts_floats = (size_t)a_x + (size_t)b * MLP_INPUTS;
        t->groups_fup = (h + 31) / 32 * 13 + htiles + 1; /* W1 tiles, small tiles, metrics */
        if ((uint64_t)((b + 7) / 8) * htiles > gpu_info(gpu)->max_workgroups_per_dim) {
            fail(t, MLP_ERR_CONFIG, "--batch %u with --hidden %u needs more workgroups than this adapter allows", b, h);
            return GPU_ERR_LIMIT;
        }
    }
#undef TRY
    return GPU_OK;
}

mlp_status mlp_prepare_kernels(gpu_context *gpu, const mlp_config *config, char *err, size_t errlen) {
    mlp_trainer *t = calloc(1, sizeof *t);
    if (!t) return MLP_ERR_GPU;
    t->gpu = gpu;
    t->cfg = *config;
    t->cfg.kernels = mlp_resolve_kernels(gpu, config->kernels);
    carve(t);
    gpu_status s = load_kernels(t);
    if (s != GPU_OK) snprintf(err, errlen, "%s", t->error[0] ? t->error : gpu_error(gpu));
    free(t);
    return s == GPU_OK ? MLP_OK : MLP_ERR_GPU;
}

static mlp_status check_dataset(mlp_trainer *t, const mlp_dataset *d, const char *name) {
    if (!d->images || !d->labels || d->count == 0) return fail(t, MLP_ERR_DATA, "the %s set is empty", name);
    for (uint32_t i = 0; i < d->count; i++)
        if (d->labels[i] >= MLP_CLASSES)
            return fail(t, MLP_ERR_DATA, "%s label %u is %u, not a digit 0-9", name, i, d->labels[i]);
    return MLP_OK;
}

/* The seed's six kernels: one buffer per activation and a gradient buffer carved like the
 * parameters, bound by name once; every step reuses the bind groups with its own offset. */
static mlp_status setup_reference_path(mlp_trainer *t) {
    gpu_context *gpu = t->gpu;
    uint32_t h = t->cfg.hidden, b = t->cfg.batch, unused;
    TRY_GPU(gpu_groups_1d(gpu, t->k_d1f, (uint64_t)b * h, &unused));
    TRY_GPU(gpu_groups_1d(gpu, t->k_d2f, (uint64_t)b * MLP_CLASSES, &unused));
    TRY_GPU(gpu_groups_1d(gpu, t->k_d2b, (uint64_t)MLP_CLASSES * h + MLP_CLASSES + (uint64_t)b * h, &unused));
    /* dense1_backward: one invocation per 4x4 block of dw1 (four units, four inputs), one per bias */
    TRY_GPU(gpu_groups_1d(gpu, t->k_d1b, (uint64_t)(h + 3) / 4 * (MLP_INPUTS / 4) + h, &t->groups_d1b));
    TRY_GPU(gpu_groups_1d(gpu, t->k_sgd, t->param_floats, &t->groups_sgd));
    TRY_GPU(gpu_buffer_create(gpu, &t->grads, "grads", t->param_floats * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->hidden, "hidden", (size_t)b * h * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->dhidden, "dhidden", (size_t)b * h * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->logits, "logits", (size_t)b * MLP_CLASSES * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->dlogits, "dlogits", (size_t)b * MLP_CLASSES * 4, GPU_STORAGE));
    gpu_bind step = {"step", &t->steps, 0, sizeof(step_params)};
    gpu_bind d1f[] = {step, {"images", &t->train_images, 0, 0}, {"order", &t->order, 0, 0},
                      tensor("w1", &t->params, t, T_W1), tensor("b1", &t->params, t, T_B1),
                      {"hidden", &t->hidden, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_d1f, d1f, 6, &t->bg_d1f));
    gpu_bind d2f[] = {step, {"hidden", &t->hidden, 0, 0}, tensor("w2", &t->params, t, T_W2),
                      tensor("b2", &t->params, t, T_B2), {"logits", &t->logits, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_d2f, d2f, 5, &t->bg_d2f));
    gpu_bind sx[] = {step, {"logits", &t->logits, 0, 0}, {"labels", &t->train_labels, 0, 0},
                     {"order", &t->order, 0, 0}, {"dlogits", &t->dlogits, 0, 0}, {"metrics", &t->metrics, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_sx, sx, 6, &t->bg_sx));
    gpu_bind d2b[] = {step, {"dlogits", &t->dlogits, 0, 0}, {"hidden", &t->hidden, 0, 0},
                      tensor("w2", &t->params, t, T_W2), tensor("dw2", &t->grads, t, T_W2),
                      tensor("db2", &t->grads, t, T_B2), {"dhidden", &t->dhidden, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_d2b, d2b, 7, &t->bg_d2b));
    gpu_bind d1b[] = {step, {"images", &t->train_images, 0, 0}, {"order", &t->order, 0, 0},
                      {"dhidden", &t->dhidden, 0, 0}, tensor("dw1", &t->grads, t, T_W1),
                      tensor("db1", &t->grads, t, T_B1)};
    TRY_GPU(gpu_bind_group(gpu, t->k_d1b, d1b, 6, &t->bg_d1b));
    gpu_bind sgd[] = {step, {"params", &t->params, 0, 0}, {"grads", &t->grads, 0, 0},
                      {"velocity", &t->velocity, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_sgd, sgd, 4, &t->bg_sgd));
    return MLP_OK;
}

/* The fused kernels: one carved activation buffer (see load_kernels), partial gradients for
 * large batches, bound by name once. */
static mlp_status setup_fused_path(mlp_trainer *t) {
    gpu_context *gpu = t->gpu;
    TRY_GPU(gpu_buffer_create(gpu, &t->acts, "activations", t->acts_floats * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->gpart, "partial-gradients", (size_t)t->slices * t->param_floats * 4,
                              GPU_STORAGE));
    gpu_bind step = {"step", &t->steps, 0, sizeof(step_params)};
    gpu_bind fw[] = {step, {"images", &t->train_images, 0, 0}, {"order", &t->order, 0, 0},
                     {"params", &t->params, 0, 0}, {"params4", &t->params, 0, 0}, {"acts", &t->acts, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_ffw, fw, 6, &t->bg_ffw));
    gpu_bind sm[] = {step, {"labels", &t->train_labels, 0, 0}, {"order", &t->order, 0, 0},
                     {"params", &t->params, 0, 0}, {"acts", &t->acts, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_fsm, sm, 5, &t->bg_fsm));
    gpu_bind up[] = {step, {"params", &t->params, 0, 0}, {"velocity", &t->velocity, 0, 0},
                     {"acts", &t->acts, 0, 0}, {"metrics", &t->metrics, 0, 0}, {"gpart", &t->gpart, 0, 0}};
    TRY_GPU(gpu_bind_group(gpu, t->k_fup, up, 6, &t->bg_fup));
    if (t->slices > 1) {
        gpu_bind ap[] = {step, {"params", &t->params, 0, 0}, {"velocity", &t->velocity, 0, 0},
                         {"gpart", &t->gpart, 0, 0}};
        TRY_GPU(gpu_bind_group(gpu, t->k_fap, ap, 4, &t->bg_fap));
    }
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
    t->cfg.kernels = mlp_resolve_kernels(gpu, config->kernels);
    char err[256];
    if (mlp_config_check(config, train->count, err, sizeof err) != MLP_OK) return fail(t, MLP_ERR_CONFIG, "%s", err);
    mlp_status ms = check_dataset(t, train, "training");
    if (ms == MLP_OK && test) ms = check_dataset(t, test, "test");
    if (ms != MLP_OK) return ms;

    uint32_t h = config->hidden, b = config->batch;
    t->train_count = train->count;
    t->steps_per_epoch = (train->count + b - 1) / b;
    carve(t);

    gpu_status ks = load_kernels(t);
    if (ks != GPU_OK) return t->error[0] ? MLP_ERR_GPU : gpu_fail(t, ks);
    uint32_t unused;
    TRY_GPU(gpu_groups_1d(gpu, t->k_d1f, (uint64_t)EVAL_CHUNK * h, &unused));

    /* data, once */
    TRY_GPU(upload_bytes(gpu, &t->train_images, "train-images", train->images, (size_t)train->count * MLP_INPUTS, GPU_STORAGE));
    TRY_GPU(upload_bytes(gpu, &t->train_labels, "train-labels", train->labels, train->count, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->order, "order", (size_t)train->count * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->steps, "steps", (size_t)t->steps_per_epoch * STEP_STRIDE, GPU_UNIFORM));
    TRY_GPU(gpu_buffer_create(gpu, &t->metrics, "metrics", (size_t)t->steps_per_epoch * 8, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->confusion, "confusion", MLP_CLASSES * MLP_CLASSES * 4, GPU_STORAGE));

    /* parameters and momentum: one allocation each, carved by the size table */
    TRY_GPU(gpu_buffer_create(gpu, &t->params, "params", t->param_floats * 4, GPU_STORAGE));
    TRY_GPU(gpu_buffer_create(gpu, &t->velocity, "velocity", t->param_floats * 4, GPU_STORAGE));
    float *init = malloc(mlp_param_count(h) * sizeof(float));
    if (!init) return fail(t, MLP_ERR_GPU, "out of memory");
    mlp_init_params(config->seed, h, init);
    ms = mlp_write_params(t, init);
    free(init);
    if (ms != MLP_OK) return ms;

    for (int i = 0; i < READBACK_SLOTS; i++)
        TRY_GPU(gpu_readback_init(gpu, &t->readback[i], (uint64_t)config->report_every * 8));
    t->order_host = malloc((size_t)train->count * 4);
    t->steps_upload = calloc(t->steps_per_epoch, STEP_STRIDE);
    if (!t->order_host || !t->steps_upload) return fail(t, MLP_ERR_GPU, "out of memory");

    ms = t->cfg.kernels == MLP_KERNELS_REFERENCE ? setup_reference_path(t) : setup_fused_path(t);
    if (ms != MLP_OK) return ms;

    if (test) {
        ms = eval_set_create(t, &t->test, "test", test->images, test->labels, test->count);
        if (ms != MLP_OK) return ms;
        t->has_test = true;
        t->test_pred = calloc(test->count, 1);
        t->test_conf = calloc(test->count, sizeof(float));
        if (!t->test_pred || !t->test_conf) return fail(t, MLP_ERR_GPU, "out of memory");
    }
    return MLP_OK;
}

void mlp_destroy(mlp_trainer *t) {
    if (!t) return;
    WGPUBindGroup groups[] = {t->bg_d1f, t->bg_d2f, t->bg_sx, t->bg_d2b, t->bg_d1b, t->bg_sgd, t->bg_ffw, t->bg_fsm, t->bg_fup, t->bg_fap};
    for (size_t i = 0; i < sizeof groups / sizeof *groups; i++)
        if (groups[i]) wgpuBindGroupRelease(groups[i]);
    gpu_buffer *bufs[] = {&t->params, &t->grads, &t->velocity, &t->train_images, &t->train_labels,
                          &t->order, &t->steps, &t->metrics, &t->confusion, &t->hidden,
                          &t->logits, &t->dlogits, &t->dhidden, &t->acts, &t->gpart};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) gpu_buffer_destroy(bufs[i]);
    for (int i = 0; i < READBACK_SLOTS; i++) gpu_readback_release(&t->readback[i]);
    eval_set_destroy(&t->test);
    free(t->order_host);
    free(t->steps_upload);
    free(t->test_pred);
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
} dispatch;

static uint32_t div_up(uint64_t n, uint32_t d) { return (uint32_t)((n + d - 1) / d); }

static int step_dispatches(const mlp_trainer *t, uint32_t s, dispatch out[6]) {
    /* at most 6: the reference path */
    const step_params *p = (const step_params *)(t->steps_upload + (size_t)s * STEP_STRIDE);
    uint32_t h = t->cfg.hidden;
    if (t->cfg.kernels == MLP_KERNELS_FUSED) {
        uint32_t htiles = div_up(h, 16);
        out[0] = (dispatch){t->k_ffw, t->bg_ffw, div_up(p->count, 8) * htiles, 1};
        out[1] = (dispatch){t->k_fsm, t->bg_fsm, div_up(p->count, 4), 1};
        out[2] = (dispatch){t->k_fup, t->bg_fup, t->groups_fup, t->slices};
        if (t->slices == 1) return 3;
        out[3] = (dispatch){t->k_fap, t->bg_fap, div_up(t->param_floats, 256), 1};
        return 4;
    }
    out[0] = (dispatch){t->k_d1f, t->bg_d1f, div_up((uint64_t)p->count * h, t->k_d1f->workgroup_size), 1};
    out[1] = (dispatch){t->k_d2f, t->bg_d2f, div_up((uint64_t)p->count * MLP_CLASSES, t->k_d2f->workgroup_size), 1};
    out[2] = (dispatch){t->k_sx, t->bg_sx, 1, 1};
    out[3] = (dispatch){t->k_d2b, t->bg_d2b,
                        div_up((uint64_t)MLP_CLASSES * h + MLP_CLASSES + (uint64_t)p->count * h, t->k_d2b->workgroup_size), 1};
    out[4] = (dispatch){t->k_d1b, t->bg_d1b, t->groups_d1b, 1};
    out[5] = (dispatch){t->k_sgd, t->bg_sgd, t->groups_sgd, 1};
    return 6;
}

static void encode_dispatch(WGPUComputePassEncoder pass, const dispatch *d, uint32_t offset) {
    wgpuComputePassEncoderSetPipeline(pass, d->k->pipeline);
    wgpuComputePassEncoderSetBindGroup(pass, 0, d->bg, 1, &offset);
    wgpuComputePassEncoderDispatchWorkgroups(pass, d->groups, d->rows, 1);
}

static void encode_step(mlp_trainer *t, WGPUComputePassEncoder pass, uint32_t s) {
    dispatch d[6];
    int n = step_dispatches(t, s, d);
    for (int i = 0; i < n; i++) encode_dispatch(pass, &d[i], s * STEP_STRIDE);
}

typedef struct chunk {
    uint32_t first, count; /* steps */
    int slot;
} chunk;

typedef struct epoch_totals {
    double loss, correct;
    uint64_t samples;
} epoch_totals;

/* Reads a finished chunk's metrics, checks them, reports progress. */
static mlp_status finish_chunk(mlp_trainer *t, const chunk *c, epoch_totals *tot, mlp_progress_fn progress,
                               void *user, bool *stop) {
    float m[2 * 4096];
    float *metrics = c->count * 2 <= 2 * 4096 ? m : malloc((size_t)c->count * 8);
    if (!metrics) return fail(t, MLP_ERR_GPU, "out of memory");
    gpu_status gs = gpu_readback_collect(&t->readback[c->slot], metrics);
    if (gs != GPU_OK) {
        if (metrics != m) free(metrics);
        return gpu_fail(t, gs);
    }
    double loss = 0, correct = 0;
    uint64_t samples = 0;
    mlp_status st = MLP_OK;
    for (uint32_t i = 0; i < c->count; i++) {
        const step_params *p = (const step_params *)(t->steps_upload + (size_t)(c->first + i) * STEP_STRIDE);
        if (!isfinite(metrics[2 * i])) {
            st = fail(t, MLP_ERR_DIVERGED,
                      "the loss became %s at epoch %u, step %u of %u: lower --lr (now %g)",
                      isnan(metrics[2 * i]) ? "NaN" : "infinite", t->epochs_done + 1, c->first + i + 1,
                      t->steps_per_epoch, (double)t->cfg.lr);
            break;
        }
        loss += metrics[2 * i];
        correct += metrics[2 * i + 1];
        samples += p->count;
    }
    if (metrics != m) free(metrics);
    if (st != MLP_OK) return st;
    tot->loss += loss;
    tot->correct += correct;
    tot->samples += samples;
    if (progress) {
        mlp_progress pr = {t->epochs_done + 1, c->first + c->count, t->steps_per_epoch, tot->samples,
                           samples ? loss / (double)samples : 0, samples ? correct / (double)samples : 0};
        if (!progress(user, &pr)) *stop = true;
    }
    return MLP_OK;
}

mlp_status mlp_train_epoch(mlp_trainer *t, mlp_progress_fn progress, void *user, mlp_epoch_result *out) {
    gpu_context *g = t->gpu;
    uint32_t epoch = t->epochs_done + 1, steps = t->steps_per_epoch, b = t->cfg.batch;
    uint64_t total_steps = (uint64_t)steps * t->cfg.epochs;

    /* one upload of the epoch's order and every step's parameters; no per-step writes */
    mlp_epoch_order(t->cfg.seed, epoch, t->train_count, t->order_host);
    TRY_GPU(gpu_buffer_write(g, &t->order, 0, t->order_host, (size_t)t->train_count * 4));
    for (uint32_t s = 0; s < steps; s++) {
        step_params p = {s * b, 0, 0.0f, s};
        p.count = t->train_count - p.start < b ? t->train_count - p.start : b;
        p.lr = mlp_step_lr(&t->cfg, (uint64_t)(epoch - 1) * steps + s, total_steps);
        memcpy(t->steps_upload + (size_t)s * STEP_STRIDE, &p, sizeof p);
    }
    TRY_GPU(gpu_buffer_write(g, &t->steps, 0, t->steps_upload, (size_t)steps * STEP_STRIDE));

    epoch_totals tot = {0, 0, 0};
    chunk pending = {0, 0, -1};
    bool stop = false;
    mlp_status st = MLP_OK;
    int slot = 0;
    for (uint32_t first = 0; first < steps && !stop && st == MLP_OK; first += t->cfg.report_every) {
        chunk c = {first, steps - first < t->cfg.report_every ? steps - first : t->cfg.report_every, slot};
        slot = (slot + 1) % READBACK_SLOTS;
        gpu_scope_push(g);
        WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(gpu_device(g), NULL);
        WGPUComputePassEncoder pass = wgpuCommandEncoderBeginComputePass(enc, NULL);
        for (uint32_t s = c.first; s < c.first + c.count; s++) encode_step(t, pass, s);
        wgpuComputePassEncoderEnd(pass);
        wgpuComputePassEncoderRelease(pass);
        gpu_readback_encode(&t->readback[c.slot], enc, &t->metrics, (uint64_t)c.first * 8, (uint64_t)c.count * 8);
        WGPUCommandBuffer cmd = wgpuCommandEncoderFinish(enc, NULL);
        wgpuQueueSubmit(gpu_queue(g), 1, &cmd);
        wgpuCommandBufferRelease(cmd);
        wgpuCommandEncoderRelease(enc);
        gpu_status gs = gpu_scope_pop(g, "encoding training steps");
        if (gs != GPU_OK) {
            st = gpu_fail(t, gs);
            break;
        }
        gpu_readback_request(&t->readback[c.slot]);
        if (pending.slot >= 0) st = finish_chunk(t, &pending, &tot, progress, user, &stop);
        pending = c;
    }
    /* always drain the last chunk so no staging buffer stays mapped or pending */
    if (pending.slot >= 0) {
        mlp_status s2 = finish_chunk(t, &pending, &tot, st == MLP_OK ? progress : NULL, user, &stop);
        if (st == MLP_OK) st = s2;
    }
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
    uint32_t h = t->cfg.hidden;
    for (uint32_t c = 0; c < e->chunks; c++) {
        uint32_t off = c * STEP_STRIDE;
        uint32_t n = e->count - c * EVAL_CHUNK < EVAL_CHUNK ? e->count - c * EVAL_CHUNK : EVAL_CHUNK;
        wgpuComputePassEncoderSetPipeline(pass, t->k_d1f->pipeline);
        wgpuComputePassEncoderSetBindGroup(pass, 0, e->d1f, 1, &off);
        wgpuComputePassEncoderDispatchWorkgroups(pass, (n * h + t->k_d1f->workgroup_size - 1) / t->k_d1f->workgroup_size, 1, 1);
        wgpuComputePassEncoderSetPipeline(pass, t->k_d2f->pipeline);
        wgpuComputePassEncoderSetBindGroup(pass, 0, e->d2f, 1, &off);
        wgpuComputePassEncoderDispatchWorkgroups(pass, (n * MLP_CLASSES + t->k_d2f->workgroup_size - 1) / t->k_d2f->workgroup_size, 1, 1);
        wgpuComputePassEncoderSetPipeline(pass, t->k_cls->pipeline);
        wgpuComputePassEncoderSetBindGroup(pass, 0, e->cls, 1, &off);
        wgpuComputePassEncoderDispatchWorkgroups(pass, (n + t->k_cls->workgroup_size - 1) / t->k_cls->workgroup_size, 1, 1);
    }
    wgpuComputePassEncoderEnd(pass);
    wgpuComputePassEncoderRelease(pass);
    WGPUCommandBuffer cmd = wgpuCommandEncoderFinish(enc, NULL);
    wgpuQueueSubmit(gpu_queue(g), 1, &cmd);
    wgpuCommandBufferRelease(cmd);
    wgpuCommandEncoderRelease(enc);
    TRY_GPU(gpu_scope_pop(g, "encoding evaluation"));
    return MLP_OK;
}

mlp_status mlp_evaluate(mlp_trainer *t, mlp_eval_result *out) {
    memset(out, 0, sizeof *out);
    if (!t->has_test) return fail(t, MLP_ERR_DATA, "no test set was given");
    eval_set *e = &t->test;
    mlp_status st = run_eval(t, e);
    if (st != MLP_OK) return st;
    uint32_t n = e->count;
    float *losses = malloc((size_t)n * 4), *probs = malloc((size_t)n * MLP_CLASSES * 4);
    uint32_t *pred = malloc((size_t)n * 4);
    if (!losses || !probs || !pred) {
        free(losses), free(probs), free(pred);
        return fail(t, MLP_ERR_GPU, "out of memory");
    }
    gpu_read reads[] = {{&t->confusion, 0, out->confusion, sizeof out->confusion},
                        {&e->losses, 0, losses, (size_t)n * 4},
                        {&e->predicted, 0, pred, (size_t)n * 4},
                        {&e->probs, 0, probs, (size_t)n * MLP_CLASSES * 4}};
    gpu_status gs = gpu_buffers_read(t->gpu, reads, 4);
    if (gs == GPU_OK) {
        double loss = 0;
        uint64_t correct = 0;
        for (uint32_t i = 0; i < n; i++) {
            loss += losses[i];
            t->test_pred[i] = (uint8_t)(pred[i] < MLP_CLASSES ? pred[i] : 0);
            t->test_conf[i] = probs[(size_t)i * MLP_CLASSES + t->test_pred[i]];
        }
        for (int c = 0; c < MLP_CLASSES; c++) correct += out->confusion[c][c];
        out->count = n;
        out->loss = loss / n;
        out->accuracy = (double)correct / n;
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
    if (st == MLP_OK) st = gpu_fail(t, gpu_buffer_read(t->gpu, &e.probs, 0, probs, (size_t)n * MLP_CLASSES * 4));
    eval_set_destroy(&e);
    return st;
}

/* ---- parameters ---- */

static mlp_status read_carved(mlp_trainer *t, gpu_buffer *buf, float *dst) {
    float *all = malloc(t->param_floats * 4);
    if (!all) return fail(t, MLP_ERR_GPU, "out of memory");
    gpu_status s = gpu_buffer_read(t->gpu, buf, 0, all, t->param_floats * 4);
    if (s == GPU_OK) {
        size_t o = 0;
        for (int i = 0; i < T_COUNT; i++) {
            memcpy(dst + o, all + t->offsets[i], t->sizes[i] * 4);
            o += t->sizes[i];
        }
    }
    free(all);
    return gpu_fail(t, s);
}

static mlp_status write_carved(mlp_trainer *t, gpu_buffer *buf, const float *src) {
    float *all = calloc(t->param_floats, 4);
    if (!all) return fail(t, MLP_ERR_GPU, "out of memory");
    size_t o = 0;
    for (int i = 0; i < T_COUNT; i++) {
        memcpy(all + t->offsets[i], src + o, t->sizes[i] * 4);
        o += t->sizes[i];
    }
    gpu_status s = gpu_buffer_write(t->gpu, buf, 0, all, t->param_floats * 4);
    free(all);
    return gpu_fail(t, s);
}

mlp_status mlp_read_params(mlp_trainer *t, float *dst) { return read_carved(t, &t->params, dst); }
mlp_status mlp_write_params(mlp_trainer *t, const float *src) { return write_carved(t, &t->params, src); }
mlp_status mlp_read_velocity(mlp_trainer *t, float *dst) { return read_carved(t, &t->velocity, dst); }
mlp_status mlp_write_velocity(mlp_trainer *t, const float *src) { return write_carved(t, &t->velocity, src); }
void mlp_set_epochs_done(mlp_trainer *t, uint32_t epochs) { t->epochs_done = epochs; }
const mlp_config *mlp_get_config(const mlp_trainer *t) { return &t->cfg; }

/* ---- profiling ---- */

int mlp_profile_kernels(mlp_trainer *t, uint32_t steps, mlp_kernel_time *out, int max) {
    gpu_context *g = t->gpu;
    if (!gpu_has_timestamps(g)) {
        fail(t, MLP_ERR_GPU, "this adapter or device has no timestamp queries");
        return -1;
    }
    dispatch d[6];
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
        WGPUCommandBuffer cmd = wgpuCommandEncoderFinish(enc, NULL);
        wgpuQueueSubmit(gpu_queue(g), 1, &cmd);
        wgpuCommandBufferRelease(cmd);
        wgpuCommandEncoderRelease(enc);
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
            out[i].kernel = d[i].k->file;
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
