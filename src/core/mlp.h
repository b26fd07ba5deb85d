/* The training engine: any MLP of the layer table (core/model.h) trained by WGSL kernels
 * through the GPU runtime.
 *
 * Portable core: data comes in as memory, progress goes out through a callback, and nothing
 * here touches files, threads, clocks or the terminal (the CLI and the server do). */
#ifndef WGTRAIN_MLP_H
#define WGTRAIN_MLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/live.h"
#include "core/health.h"
#include "core/model.h"
#include "core/optim.h"
#include "gpu/gpu.h"

/* The shape the fused kernels are written for (src/kernels/fused_*.wgsl): MNIST's 28x28
 * inputs and 10 classes. Every other model takes its inputs and classes from its data. */
#define MLP_FUSED_INPUTS 784
#define MLP_FUSED_CLASSES 10
#define MLP_MAX_BATCH 8192
#define MLP_MAX_HIDDEN MODEL_MAX_WIDTH

typedef enum mlp_status {
    MLP_OK = 0,
    MLP_ERR_CONFIG,   /* a bad hyperparameter (message names it) */
    MLP_ERR_DATA,     /* data set unusable for this model */
    MLP_ERR_GPU,      /* the GPU runtime failed: see the message */
    MLP_ERR_DIVERGED, /* the loss became NaN or infinite */
    MLP_ERR_STOPPED,  /* the progress callback asked to stop */
} mlp_status;

/* The learning rate of step s of S (0-based over the whole run), as PyTorch's schedulers
 * stepped once per step: constant; cosine = CosineAnnealingLR(T_max=S, eta_min=0); step =
 * StepLR(step_size = max(1, epochs / 3) epochs, gamma = 0.1); onecycle = OneCycleLR(max_lr=lr,
 * total_steps=S, pct_start=0.3, cos, div_factor=25, final_div_factor=1e4, cycle_momentum=False).
 * --warmup N multiplies any of them by min(1, (s + 1) / N). */
typedef enum mlp_schedule { MLP_SCHEDULE_CONSTANT, MLP_SCHEDULE_COSINE, MLP_SCHEDULE_STEP, MLP_SCHEDULE_ONECYCLE } mlp_schedule;
const char *mlp_schedule_name(mlp_schedule s);
bool mlp_schedule_parse(const char *s, mlp_schedule *out);

/* Which kernels train: the readable per-layer kernels (input_gather, dense_forward and
 * dense_backward per layer, softmax_xent_backward, sgd_update: one dispatch each), which train
 * any model of the layer table, or the fused ones (src/kernels/fused_*.wgsl: one to three
 * dependent dispatches per step, mlp_fused_form), which cover the seed's shape: 784 inputs, one hidden ReLU layer, 10
 * classes. Where both apply they compute the same function; tests hold them to the same
 * trajectory. */
typedef enum mlp_kernels {
    MLP_KERNELS_AUTO,      /* wgtrain's choice: fused where it applies on a real GPU, else per-layer */
    MLP_KERNELS_FUSED,
    MLP_KERNELS_REFERENCE, /* the per-layer kernels */
} mlp_kernels;

/* The per-layer dense kernels come in two shapes that compute the same function (not the same
 * bits: their sums run in different orders): streaming, one 4x4 block of outputs per invocation
 * reading its operands from memory (dense_forward.wgsl, dense_backward.wgsl), the fast shape on
 * CPU adapters; and tiled, a workgroup per tile staged through workgroup memory
 * (dense_*_tiled.wgsl), the fast shape on GPUs. */
typedef enum mlp_shape {
    MLP_SHAPE_AUTO,   /* streaming on CPU adapters (gpu_adapter_is_software), tiled on GPUs */
    MLP_SHAPE_STREAM,
    MLP_SHAPE_TILED,
} mlp_shape;

/* How the fused path lays a step out. AUTO, the default, is the most fused form that the batch
 * and the adapter's workgroup memory allow; a form below it holds the path to that form or a
 * less fused one (the self-check and the tests train each form). */
typedef enum mlp_fused_form {
    MLP_FUSED_AUTO,
    MLP_FUSED_PIPELINED, /* one dispatch a step: fused_step.wgsl, steps pipelined (tiles_fused_step) */
    MLP_FUSED_FOLDED,    /* two: fused_forward, fused_update with the softmax folded in (tiles_fused_fold) */
    MLP_FUSED_THREE,     /* three: fused_forward, fused_softmax, fused_update (and fused_apply when sliced) */
} mlp_fused_form;

typedef struct mlp_config {
    model_arch arch;       /* the layer table: inputs, hidden widths, classes, activation */
    model_init init;       /* initial weights' scheme */
    uint32_t batch;        /* samples per step */
    uint32_t epochs;       /* epochs the schedule spans */
    float lr;              /* peak learning rate */
    float momentum;        /* SGD family (0: plain SGD) */
    optim_kind optimizer;  /* the update: SGD, momentum, Nesterov, Adam, AdamW (optim.h) */
    float weight_decay;    /* L2 (SGD, Adam) or decoupled (AdamW) */
    float beta1, beta2, eps; /* Adam family */
    float clip_grad_norm;  /* > 0: clip_grad_norm_(max_norm) before every step */
    mlp_schedule schedule; /* learning rate over the run */
    uint32_t warmup;       /* steps of linear warmup */
    float label_smoothing; /* of the cross-entropy's target, in [0, 1) */
    float dropout;         /* inverted dropout on the hidden layers while training, in [0, 1) */
    uint64_t seed;         /* initial weights and every epoch's shuffle */
    uint32_t report_every; /* steps between progress reports (metrics readback) */
    mlp_kernels kernels;
    mlp_shape shape;       /* of the per-layer dense kernels (training and evaluation) */
    /* the health panel (core/health.h): statistics of every report's last step, handed to the
     * progress callback, and a non-finite tensor stops the run naming it. Off by default (it
     * costs two dispatches and a copy of the parameters per report); the numbers trained are
     * the same bits either way. */
    bool health;
    /* the fused step's form, at most this fused: the self-check trains every form */
    mlp_fused_form fused_form;
} mlp_config;

/* The defaults `wgtrain train` uses; they reach >= 98% test accuracy on MNIST. */
mlp_config mlp_config_default(void);
/* Checks a config against the limits; writes a one-line message that starts with the name of
 * the field at fault, as mlp_config names it ("label_smoothing must be in [0, 1) (got 2)"): the
 * engine speaks of its config, never of a host's flags (host/args.h turns it into one). */
mlp_status mlp_config_check(const mlp_config *c, uint32_t train_count, char *err, size_t errlen);

typedef struct mlp_dataset {
    const uint8_t *images; /* count * arch.inputs bytes (an HxW image row-major: MNIST's 28x28 = 784) */
    const uint8_t *labels; /* count bytes, each < arch.classes */
    uint32_t count;
} mlp_dataset;

/* Live GPU time per kernel (mlp_set_kernel_times): the last step of each report is encoded with
 * each of its dispatches in a compute pass of its own that writes timestamps, the same
 * dispatches in the same order (so the same numbers); the times come back with the report's
 * metrics. One step per report, because separate passes cost a little each. */
#define MLP_MAX_STEP_DISPATCHES (2 * MODEL_MAX_LAYERS + 6) /* the per-layer path with clipping */
typedef struct mlp_kernel_sample {
    const char *kernel; /* the kernel file, as its pipeline's label begins ("dense_forward.wgsl") */
    uint32_t layer;     /* the dense layer (1-based) of a per-layer kernel; 0 for the others */
    char label[40];     /* "dense_forward layer 1", "grad_norm pass 2", "fused_update" */
    double ns;          /* GPU time of its pass, beginning to end */
} mlp_kernel_sample;
typedef struct mlp_kernel_times {
    uint32_t epoch, step; /* the step timed: 1-based, of its epoch */
    uint32_t count;       /* its dispatches, in order */
    mlp_kernel_sample kernels[MLP_MAX_STEP_DISPATCHES];
    double span_ns;       /* the first pass's beginning to the last one's end: kernels and gaps */
    /* every timestamp a multiple of 65,536 ns: rounded by the implementation (a browser's
     * defence against timing attacks; Dawn's timestamp_quantization toggle), so short kernels
     * read as 0 or 65.5 us */
    bool quantised;
} mlp_kernel_times;

typedef struct mlp_progress {
    uint32_t epoch;           /* 1-based */
    uint32_t step;            /* steps done in this epoch */
    uint32_t steps;           /* steps in an epoch */
    uint64_t samples;         /* samples done in this epoch */
    double loss;              /* mean loss over the steps since the last report */
    double accuracy;          /* training accuracy over the same steps */
    /* the GPU time of this report's last step per dispatch, NULL unless mlp_set_kernel_times
     * is on (valid during the callback) */
    const mlp_kernel_times *kernel_times;
    /* config.health: the report's last step's statistics (owned by the trainer, valid during
     * the callback); NULL when health is off */
    const mlp_health *health;
} mlp_progress;

/* Return false to stop training (MLP_ERR_STOPPED). */
typedef bool (*mlp_progress_fn)(void *user, const mlp_progress *p);

typedef struct mlp_epoch_result {
    uint32_t epoch;
    double loss;           /* mean training loss over the epoch */
    double train_accuracy; /* over the epoch, as trained (weights moving) */
} mlp_epoch_result;

typedef struct mlp_eval_result {
    uint32_t count;
    double loss;
    double accuracy;
    uint32_t classes;
    /* classes x classes, [label * classes + predicted]: owned by the trainer, valid until its
     * next mlp_evaluate or mlp_destroy */
    const uint32_t *confusion;
} mlp_eval_result;

typedef struct mlp_trainer mlp_trainer;

/* Uploads the data once, initialises the weights from config->seed and config->init
 * (model_init_params), compiles the kernels.
 * test may be NULL. */
mlp_status mlp_create(gpu_context *gpu, const mlp_config *config, const mlp_dataset *train,
                      const mlp_dataset *test, mlp_trainer **out);
/* An inference model: a layer table's weights (mlp_read_params layout) on the GPU with the
 * forward kernels only, no training set, optimizer state or training buffers. It serves
 * evaluation (of test, which may be NULL) and prediction: mlp_evaluate, mlp_predict,
 * mlp_test_predictions, mlp_read_params, mlp_error and mlp_destroy work on it; training and
 * profiling refuse. */
mlp_status mlp_model_create(gpu_context *gpu, const model_arch *arch, const float *params, const mlp_dataset *test,
                            mlp_trainer **out);
void mlp_destroy(mlp_trainer *t);
/* One-line message of the last failure. */
const char *mlp_error(const mlp_trainer *t);

/* The kernels `k` means for this config on this adapter (resolves MLP_KERNELS_AUTO). */
mlp_kernels mlp_resolve_kernels(gpu_context *gpu, const mlp_config *c, mlp_kernels k);
/* Whether the tiled dense kernels serve this config on this adapter (resolves MLP_SHAPE_AUTO). */
bool mlp_uses_tiled(gpu_context *gpu, const mlp_config *c);
/* Whether the fused kernels compute this config's model and update. */
bool mlp_fused_applies(const mlp_config *c);

/* Compiles (and caches in the gpu context) every kernel this config needs, so a caller can
 * time pipeline compilation apart from data upload. mlp_create does it too when not done. */
mlp_status mlp_prepare_kernels(gpu_context *gpu, const mlp_config *config, char *err, size_t errlen);

/* GPU time per kernel from timestamp queries (the context needs timestamps): runs `steps`
 * training steps of the current epoch's order with each dispatch in its own timed pass.
 * Writes up to max entries; returns the count, or -1 (see mlp_error). Changes the weights. */
typedef struct mlp_kernel_time {
    char name[80];      /* the kernel file, and fused_step's part where it runs one ("fused_step.wgsl update"),
                         * a per-layer dispatch's layer ("dense_forward_tiled.wgsl layer 2") or
                         * grad_norm's pass */
    double mean_ns;     /* per dispatch */
    uint32_t dispatches_per_step;
} mlp_kernel_time;
int mlp_profile_kernels(mlp_trainer *t, uint32_t steps, mlp_kernel_time *out, int max);

/* Turns live per-kernel GPU time on or off for the next training steps (off when created). On
 * needs timestamps: MLP_ERR_CONFIG otherwise, with mlp_kernel_times_unavailable's reason. */
mlp_status mlp_set_kernel_times(mlp_trainer *t, bool on);
/* Why this context cannot time kernels (a one-line reason), or NULL when it can. */
const char *mlp_kernel_times_unavailable(gpu_context *gpu);

/* Trains the next epoch. progress may be NULL. With config.health, a NaN or infinity in a
 * tensor at a report (or a non-finite step loss) stops with MLP_ERR_DIVERGED and a message that
 * names the first non-finite step, the layer and the tensor (health_nonfinite). */
mlp_status mlp_train_epoch(mlp_trainer *t, mlp_progress_fn progress, void *user, mlp_epoch_result *out);
uint32_t mlp_epochs_done(const mlp_trainer *t);

/* Evaluates the test set on the GPU. */
mlp_status mlp_evaluate(mlp_trainer *t, mlp_eval_result *out);
/* Per-sample predictions of the last mlp_evaluate (test set order): label and probability. */
const uint8_t *mlp_test_predictions(const mlp_trainer *t);
const float *mlp_test_confidences(const mlp_trainer *t);

/* Classifies n images (n * arch.inputs bytes, MNIST-style) on the GPU: probs gets n * arch.classes. */
mlp_status mlp_predict(mlp_trainer *t, const uint8_t *images, uint32_t n, float *probs);

/* Parameters in the layout of the layer table's torch.nn.Sequential: w0 [h0][inputs], b0 [h0],
 * w1 [h1][h0], b1 [h1], ..., concatenated (model_layout_make(arch, 1)). mlp_param_count()
 * floats. */
size_t mlp_param_count(const model_arch *arch);
mlp_status mlp_read_params(mlp_trainer *t, float *dst);
mlp_status mlp_write_params(mlp_trainer *t, const float *src);

/* Optimizer state for checkpoints: its slots (optim_slots: the momentum buffer, or Adam's
 * exp_avg and exp_avg_sq; each mlp_param_count floats in the parameter layout) and the number of
 * epochs done, which with the seed fixes the data order, learning rate and Adam step count of
 * every later step. Resuming from these gives the same weights, bit for bit, as the run that
 * never stopped. */
mlp_status mlp_read_state(mlp_trainer *t, uint32_t slot, float *dst);
mlp_status mlp_write_state(mlp_trainer *t, uint32_t slot, const float *src);
/* The optimizer of a config, as optim.h describes it. */
optim_config mlp_optim(const mlp_config *c);
void mlp_set_epochs_done(mlp_trainer *t, uint32_t epochs);
const mlp_config *mlp_get_config(const mlp_trainer *t);

/* Live edits (core/live.h has the rule). mlp_edit_hparams may be called from the progress
 * callback or between epochs: the edit takes effect at the first step not yet encoded (in
 * the callback, the report interval after the one already submitted), whose global 0-based
 * index out->step gets; the steps' parameters of the rest of the epoch are uploaded again.
 * A bad value is MLP_ERR_CONFIG with mlp_error naming the field, and changes nothing.
 * mlp_get_live / mlp_set_live read and restore the edits in effect (checkpoints). */
mlp_status mlp_edit_hparams(mlp_trainer *t, const mlp_edit *e, mlp_edit_result *out);
mlp_live mlp_get_live(const mlp_trainer *t);
mlp_status mlp_set_live(mlp_trainer *t, const mlp_live *l);

/* config.health: the last report's statistics (NULL before one), and for tests the tensors they
 * came from, as that report's last step left them, in the mlp_read_params layout: prev (the
 * parameters before the step) and grads (its gradient), mlp_param_count floats each; out and pre,
 * [samples][fan_out] floats per hidden layer, concatenated (pre: empty on the fused kernels,
 * whose hidden layer is a ReLU's output, so out stands for it). Any of them may be NULL. */
const mlp_health *mlp_last_health(const mlp_trainer *t);
mlp_status mlp_read_health_tensors(mlp_trainer *t, float *prev, float *grads, float *out, float *pre);

/* The engine's random numbers (splitmix64): the same sequence on every machine. */
uint64_t mlp_splitmix64(uint64_t *state);

/* The sample order of an epoch (1-based) for this seed: a Fisher-Yates shuffle. Pure CPU, so
 * tests and the reference can replay exactly what the GPU trained on. */
void mlp_epoch_order(uint64_t seed, uint32_t epoch, uint32_t n, uint32_t *order);
/* Dropout's noise seed of a step (0-based over the whole run): with the seed it fixes the
 * masks, so runs (and resumed runs) are reproducible. */
uint32_t mlp_step_noise(uint64_t seed, uint64_t step);
/* The learning rate of a step (0-based over the whole run). */
float mlp_step_lr(const mlp_config *c, uint64_t step, uint64_t total_steps);
/* The initial parameters of a config (what mlp_create uploads), in mlp_read_params layout. */
void mlp_init_params(const mlp_config *c, float *dst);

#endif
