/* The GPU the engine tests run on: Dawn opened, a Vulkan adapter (lavapipe here, a GPU on a
 * workstation). A failure is a failed check, so a machine without a driver fails the test. */
#ifndef WGTRAIN_GPU_FIXTURE_H
#define WGTRAIN_GPU_FIXTURE_H

#include "check.h"
#include "host/dawn_library.h"
#include "gpu/gpu.h"

static inline gpu_context *fixture_gpu(void) {
    char err[1024];
    CHECK(dawn_library_open(err, sizeof err), "%s", err);
    gpu_context *gpu = NULL;
    gpu_context_desc d = {0};
    d.backend = WGPUBackendType_Vulkan;
    /* lavapipe compiles a pipeline at its first dispatch: with a cold shader cache (a fresh
     * clone) on a busy 2-core machine the tiled kernels' first wait passed the default 60 s
     * (test_health, 2026-12-03); these tests time nothing, so they wait as long as it takes */
    d.timeout_ms = 600000;
    CHECK(gpu_context_create(&d, &gpu, err, sizeof err) == GPU_OK, "%s", err);
    return gpu;
}

#endif
