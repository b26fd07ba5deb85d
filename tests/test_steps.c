/* Test (c): GPU training steps through the engine equal CPU reference steps, for the
 * reference kernels and the fused ones: a full-batch step, and epochs with a short last batch,
 * with and without momentum; the per-layer kernels at depth with every activation; every
 * weight within 1e-5; the tiled dense kernels (the GPU shape) on this adapter too (two runs on CPU adapters, where
 * they compile slowly, one of them with dw summed in batch slices; four on GPUs); and both paths
 * at a batch on the fused forward's wide tiles (TILE_FFW_MIN_BATCH). */
#include "gpu_fixture.h"
#include "core/selfcheck.h"

static void report(void *user, const selfcheck_result *r) {
    CHECK(r->pass, "%s [%s]: rel %.3e max |d| %.3e%s %s", r->kernel, r->shape, r->rel_error, r->max_abs,
          r->has_nan ? " NaN" : "", r->error);
    CHECK(r->max_abs <= 1e-5, "%s: max |gpu - cpu| %.3e > 1e-5", r->shape, r->max_abs);
    (*(int *)user)++;
}

int main(void) {
    gpu_context *gpu = fixture_gpu();
    if (!gpu) return check_exit("test_steps");
    int results = 0;
    int failures = selfcheck_steps(gpu, 7, report, &results);
    CHECK(failures == 0, "%d step mismatches", failures);
    /* 32 on a CPU adapter (three tiled runs), 34 on a GPU (five); five of them wide batches: over
     * one and over two of fused_softmax's chunks of hidden units on each path, and the per-layer
     * path's wide tiles */
    int want = gpu_adapter_is_software(gpu_info(gpu)) ? 32 : 34;
    CHECK(results == want, "all %d step checks should report, got %d", want, results);
    gpu_context_destroy(gpu);
    return check_exit("test_steps");
}
