/* The CPU engine: the trainer of core/mlp.h computed on the CPU, for machines whose only WebGPU
 * adapter is a CPU emulator (lavapipe, SwiftShader), where WGSL pays for emulated barriers and
 * dispatches. It serves the same layer table and the same training semantics as the GPU path:
 * the same init (mlp_init_params), data order (mlp_epoch_order), per-step learning rate
 * (mlp_step_lr), Adam bias corrections, dropout noise (mlp_step_noise, reference.c's hash
 * mask), label smoothing, clip_grad_norm_, per-step metrics, evaluation and checkpoints state.
 * Its sums run in other orders than the GPU's, so runs agree with the GPU's (and the
 * reference's) to rounding, not to the bit; tests/test_cpu_engine.c holds them within 1e-5
 * per weight of the reference over 20 steps.
 *
 * The API is mlp_trainer's, function for function (cpu_X for mlp_X), so a host switches
 * engines with little code. Like mlp.c it touches no threads, files, clocks or terminal: the
 * host hands in a worker pool (cpu_kernels.h's cpu_pool) or none (serial). The results are the
 * same bits for any number of threads (fixed task split, fixed reduction order); they differ
 * between ISAs (AVX2's fused multiply-adds), which cpu_trainer_isa names.
 *
 * Statuses are mlp_status; out of memory is MLP_ERR_GPU "out of memory", as in mlp.c. */
#ifndef WGTRAIN_CPU_ENGINE_H
#define WGTRAIN_CPU_ENGINE_H

#include "core/mlp.h"
#include "cpu/cpu_kernels.h"

typedef struct cpu_trainer cpu_trainer;

/* As mlp_create: copies the data (the caller may free it after), initialises the weights from
 * config->seed and config->init. config->kernels and config->shape are ignored (there is one
 * CPU path); report_every still sets how often progress is called. pool may be NULL (serial)
 * and must outlive the trainer; isa CPU_ISA_AUTO picks AVX2 + FMA where present. test may be
 * NULL. On failure *out is still set (read cpu_error, then cpu_destroy). */
mlp_status cpu_create(const cpu_pool *pool, cpu_isa isa, const mlp_config *config, const mlp_dataset *train,
                      const mlp_dataset *test, cpu_trainer **out);
/* As mlp_model_create: an inference model of the layer table's weights (mlp_read_params
 * layout): evaluation, prediction, cpu_read_params; training refuses. */
mlp_status cpu_model_create(const cpu_pool *pool, cpu_isa isa, const model_arch *arch, const float *params,
                            const mlp_dataset *test, cpu_trainer **out);
void cpu_destroy(cpu_trainer *t);
const char *cpu_error(const cpu_trainer *t);
/* The kernels in use: "avx2+fma", "generic-sse2", "generic-simd128", ... */
const char *cpu_trainer_isa(const cpu_trainer *t);

/* As mlp_train_epoch: progress every config.report_every steps (and at the epoch's end) with
 * the loss and accuracy of the steps since the last report; false from it stops the run
 * after that report (MLP_ERR_STOPPED, the epoch counted done). A non-finite step loss stops
 * at once with MLP_ERR_DIVERGED, mlp.c's message. */
mlp_status cpu_train_epoch(cpu_trainer *t, mlp_progress_fn progress, void *user, mlp_epoch_result *out);
uint32_t cpu_epochs_done(const cpu_trainer *t);
/* As mlp_edit_hparams (core/live.h's rule): from the progress callback the edit takes effect
 * at the step after the one just reported, between epochs at the next epoch's first. */
mlp_status cpu_edit_hparams(cpu_trainer *t, const mlp_edit *e, mlp_edit_result *out);
mlp_live cpu_get_live(const cpu_trainer *t);
mlp_status cpu_set_live(cpu_trainer *t, const mlp_live *l);
/* config.health: the last report's statistics (as mlp_last_health), NULL before one. */
const mlp_health *cpu_last_health(const cpu_trainer *t);
void cpu_set_epochs_done(cpu_trainer *t, uint32_t epochs);
const mlp_config *cpu_get_config(const cpu_trainer *t);

/* As mlp_evaluate: loss, accuracy and the confusion matrix ([label * classes + predicted],
 * owned by the trainer, valid until the next cpu_evaluate or cpu_destroy); predictions and the
 * probability of each prediction per test image after it. */
mlp_status cpu_evaluate(cpu_trainer *t, mlp_eval_result *out);
const uint8_t *cpu_test_predictions(const cpu_trainer *t);
const float *cpu_test_confidences(const cpu_trainer *t);
/* As mlp_predict: probs gets n * classes softmax probabilities. */
mlp_status cpu_predict(cpu_trainer *t, const uint8_t *images, uint32_t n, float *probs);

/* As mlp_read_params & co: mlp_param_count floats in the torch layout (w0, b0, w1, ...);
 * state slot s of optim_slots(config.optimizer), the same layout. With cpu_set_epochs_done a
 * resumed run gives the same bits as the one that never stopped. */
mlp_status cpu_read_params(cpu_trainer *t, float *dst);
mlp_status cpu_write_params(cpu_trainer *t, const float *src);
mlp_status cpu_read_state(cpu_trainer *t, uint32_t slot, float *dst);
mlp_status cpu_write_state(cpu_trainer *t, uint32_t slot, const float *src);

#endif
