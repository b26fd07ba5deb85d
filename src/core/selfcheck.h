/* The GPU kernels judged against the CPU reference (src/core/reference.c), on the caller's
 * adapter: `wgtrain check` and the test suite run the same code.
 *
 * Each kernel runs on fresh random inputs at several shapes, sizes that are not multiples of
 * the workgroup size included, with outputs poisoned (NaN) before every run; a tensor passes
 * when ||gpu - ref|| / ||ref|| < SELFCHECK_TOLERANCE and it holds no NaN. The step check trains
 * real steps through the engine and replays them on the reference. */
#ifndef WGTRAIN_SELFCHECK_H
#define WGTRAIN_SELFCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "gpu/gpu.h"

#define SELFCHECK_TOLERANCE 1e-5

typedef struct selfcheck_result {
    char kernel[48];  /* kernel file, or "training step" */
    char tensor[24];  /* output compared */
    char shape[48];   /* e.g. "B=17 H=33" */
    double rel_error; /* ||gpu - ref|| / ||ref|| */
    double max_abs;   /* max |gpu - ref| */
    bool has_nan;
    bool pass;
    char error[256];  /* set when the kernel could not run at all */
} selfcheck_result;

typedef void (*selfcheck_report)(void *user, const selfcheck_result *r);

/* Every reference-path kernel at several shapes. Returns the number of failures. */
int selfcheck_kernels(gpu_context *gpu, uint64_t seed, selfcheck_report report, void *user);
/* GPU training steps through the engine, both kernel paths, against ref_mlp_step: one
 * full-batch step, then short epochs with a short last batch, with and without momentum.
 * Returns the number of failures. */
int selfcheck_steps(gpu_context *gpu, uint64_t seed, selfcheck_report report, void *user);

#endif
