/* host_trainer: one handle over the two engines, so that a host (the CLI commands, the server's
 * worker, the browser build) writes each call once. It holds either core/mlp.h's mlp_trainer
 * (the WGSL kernels on a gpu_context) or cpu/cpu_engine.h's cpu_trainer (the CPU engine on a
 * host's worker pool) and forwards to it; nothing more. Portable (no threads, files or clocks):
 * the host opens the GPU or the pool (host/host.h's host_device_open natively). */
#ifndef WGTRAIN_HOST_TRAINER_H
#define WGTRAIN_HOST_TRAINER_H

#include "core/mlp.h"
#include "cpu/cpu_engine.h"

typedef enum host_engine { HOST_ENGINE_GPU, HOST_ENGINE_CPU } host_engine;

/* What a trainer runs on: the GPU engine on gpu, or the CPU engine on pool (NULL: serial).
 * Neither is owned by the trainer; both must outlive it. */
typedef struct host_device {
    host_engine engine;
    gpu_context *gpu;
    const cpu_pool *pool;
} host_device;

typedef struct host_trainer host_trainer;

/* As mlp_create / cpu_create. On the CPU engine config->kernels auto is recorded as reference
 * (the CPU engine computes the per-layer ops), so that checkpoints name a kernel path as the
 * GPU's do. On failure *out may be set (read host_trainer_error, then destroy) or NULL (out of
 * memory). */
mlp_status host_trainer_create(const host_device *d, const mlp_config *config, const mlp_dataset *train,
                               const mlp_dataset *test, host_trainer **out);
/* As mlp_model_create / cpu_model_create: an inference model. */
mlp_status host_trainer_model_create(const host_device *d, const model_arch *arch, const float *params,
                                     const mlp_dataset *test, host_trainer **out);
void host_trainer_destroy(host_trainer *t);
/* The last failure's one-line message; "out of memory" for NULL. */
const char *host_trainer_error(const host_trainer *t);
host_engine host_trainer_engine(const host_trainer *t);
/* The CPU engine's kernels ("avx2+fma", "generic-simd128"); NULL on the GPU engine. */
const char *host_trainer_isa(const host_trainer *t);

/* The GPU engine's own trainer, for what only it has (mlp_profile_kernels); NULL on the CPU engine. */
mlp_trainer *host_trainer_gpu(host_trainer *t);

/* Live per-kernel GPU time of one step per report (mlp_set_kernel_times), delivered in
 * mlp_progress.kernel_times. Returns NULL when it is on or off as asked, else the one-line
 * reason it cannot be on here (the CPU engine; a device without timestamp queries); training
 * works the same either way. */
const char *host_trainer_set_kernel_times(host_trainer *t, bool on);
/* Why a trainer on d cannot time its kernels (one line), or NULL when it can. */
const char *host_kernel_times_unavailable(const host_device *d);

mlp_status host_trainer_train_epoch(host_trainer *t, mlp_progress_fn progress, void *user, mlp_epoch_result *out);
uint32_t host_trainer_epochs_done(const host_trainer *t);
/* config.health: the last report's statistics (also handed to the progress callback as
 * mlp_progress.health); NULL before the first report or with health off. */
const mlp_health *host_trainer_last_health(const host_trainer *t);
void host_trainer_set_epochs_done(host_trainer *t, uint32_t epochs);
const mlp_config *host_trainer_config(const host_trainer *t);
/* Live edits of the learning rate and momentum (core/live.h): from the progress callback or
 * between epochs; out->step is the global 0-based step where it took effect. */
mlp_status host_trainer_edit(host_trainer *t, const mlp_edit *e, mlp_edit_result *out);
mlp_live host_trainer_live(const host_trainer *t);
mlp_status host_trainer_set_live(host_trainer *t, const mlp_live *l);

mlp_status host_trainer_evaluate(host_trainer *t, mlp_eval_result *out);
const uint8_t *host_trainer_test_predictions(const host_trainer *t);
const float *host_trainer_test_confidences(const host_trainer *t);
mlp_status host_trainer_predict(host_trainer *t, const uint8_t *images, uint32_t n, float *probs);

mlp_status host_trainer_read_params(host_trainer *t, float *dst);
mlp_status host_trainer_write_params(host_trainer *t, const float *src);
mlp_status host_trainer_read_state(host_trainer *t, uint32_t slot, float *dst);
mlp_status host_trainer_write_state(host_trainer *t, uint32_t slot, const float *src);

#endif
