/* See trainer.h: a tagged union and one forwarding line per call. */
#include "host/trainer.h"

#include <stdlib.h>

struct host_trainer {
    host_engine engine;
    mlp_trainer *gpu;
    cpu_trainer *cpu;
};

static host_trainer *wrap(host_engine e) {
    host_trainer *t = calloc(1, sizeof *t);
    if (t) t->engine = e;
    return t;
}

mlp_status host_trainer_create(const host_device *d, const mlp_config *config, const mlp_dataset *train,
                               const mlp_dataset *test, host_trainer **out) {
    host_trainer *t = *out = wrap(d->engine);
    if (!t) return MLP_ERR_GPU;
    if (d->engine == HOST_ENGINE_GPU) return mlp_create(d->gpu, config, train, test, &t->gpu);
    mlp_config c = *config;
    if (c.kernels == MLP_KERNELS_AUTO) c.kernels = MLP_KERNELS_REFERENCE;
    return cpu_create(d->pool, CPU_ISA_AUTO, &c, train, test, &t->cpu);
}

mlp_status host_trainer_model_create(const host_device *d, const model_arch *arch, const float *params,
                                     const mlp_dataset *test, host_trainer **out) {
    host_trainer *t = *out = wrap(d->engine);
    if (!t) return MLP_ERR_GPU;
    if (d->engine == HOST_ENGINE_GPU) return mlp_model_create(d->gpu, arch, params, test, &t->gpu);
    return cpu_model_create(d->pool, CPU_ISA_AUTO, arch, params, test, &t->cpu);
}

void host_trainer_destroy(host_trainer *t) {
    if (!t) return;
    mlp_destroy(t->gpu);
    cpu_destroy(t->cpu);
    free(t);
}

const char *host_trainer_error(const host_trainer *t) {
    if (t && t->gpu) return mlp_error(t->gpu);
    if (t && t->cpu) return cpu_error(t->cpu);
    return "out of memory";
}

host_engine host_trainer_engine(const host_trainer *t) { return t->engine; }
const char *host_trainer_isa(const host_trainer *t) { return t->cpu ? cpu_trainer_isa(t->cpu) : NULL; }

mlp_trainer *host_trainer_gpu(host_trainer *t) { return t->gpu; }

#define CPU_NO_KERNEL_TIMES "the CPU engine runs no GPU kernels, so there are none to time"

const char *host_kernel_times_unavailable(const host_device *d) {
    return d->engine == HOST_ENGINE_CPU ? CPU_NO_KERNEL_TIMES : mlp_kernel_times_unavailable(d->gpu);
}

const char *host_trainer_set_kernel_times(host_trainer *t, bool on) {
    if (t->engine == HOST_ENGINE_CPU) return on ? CPU_NO_KERNEL_TIMES : NULL;
    return mlp_set_kernel_times(t->gpu, on) == MLP_OK ? NULL : mlp_error(t->gpu);
}

#define FORWARD(gpu_call, cpu_call) return t->engine == HOST_ENGINE_GPU ? gpu_call : cpu_call

mlp_status host_trainer_train_epoch(host_trainer *t, mlp_progress_fn progress, void *user, mlp_epoch_result *out) {
    FORWARD(mlp_train_epoch(t->gpu, progress, user, out), cpu_train_epoch(t->cpu, progress, user, out));
}
uint32_t host_trainer_epochs_done(const host_trainer *t) { FORWARD(mlp_epochs_done(t->gpu), cpu_epochs_done(t->cpu)); }
const mlp_health *host_trainer_last_health(const host_trainer *t) { FORWARD(mlp_last_health(t->gpu), cpu_last_health(t->cpu)); }
void host_trainer_set_epochs_done(host_trainer *t, uint32_t epochs) {
    if (t->engine == HOST_ENGINE_GPU) mlp_set_epochs_done(t->gpu, epochs);
    else cpu_set_epochs_done(t->cpu, epochs);
}
const mlp_config *host_trainer_config(const host_trainer *t) { FORWARD(mlp_get_config(t->gpu), cpu_get_config(t->cpu)); }
mlp_status host_trainer_edit(host_trainer *t, const mlp_edit *e, mlp_edit_result *out) {
    FORWARD(mlp_edit_hparams(t->gpu, e, out), cpu_edit_hparams(t->cpu, e, out));
}
mlp_live host_trainer_live(const host_trainer *t) { FORWARD(mlp_get_live(t->gpu), cpu_get_live(t->cpu)); }
mlp_status host_trainer_set_live(host_trainer *t, const mlp_live *l) {
    FORWARD(mlp_set_live(t->gpu, l), cpu_set_live(t->cpu, l));
}
mlp_status host_trainer_evaluate(host_trainer *t, mlp_eval_result *out) {
    FORWARD(mlp_evaluate(t->gpu, out), cpu_evaluate(t->cpu, out));
}
const uint8_t *host_trainer_test_predictions(const host_trainer *t) {
    FORWARD(mlp_test_predictions(t->gpu), cpu_test_predictions(t->cpu));
}
const float *host_trainer_test_confidences(const host_trainer *t) {
    FORWARD(mlp_test_confidences(t->gpu), cpu_test_confidences(t->cpu));
}
mlp_status host_trainer_predict(host_trainer *t, const uint8_t *images, uint32_t n, float *probs) {
    FORWARD(mlp_predict(t->gpu, images, n, probs), cpu_predict(t->cpu, images, n, probs));
}
mlp_status host_trainer_read_params(host_trainer *t, float *dst) {
    FORWARD(mlp_read_params(t->gpu, dst), cpu_read_params(t->cpu, dst));
}
mlp_status host_trainer_write_params(host_trainer *t, const float *src) {
    FORWARD(mlp_write_params(t->gpu, src), cpu_write_params(t->cpu, src));
}
mlp_status host_trainer_read_state(host_trainer *t, uint32_t slot, float *dst) {
    FORWARD(mlp_read_state(t->gpu, slot, dst), cpu_read_state(t->cpu, slot, dst));
}
mlp_status host_trainer_write_state(host_trainer *t, uint32_t slot, const float *src) {
    FORWARD(mlp_write_state(t->gpu, slot, src), cpu_write_state(t->cpu, slot, src));
}
