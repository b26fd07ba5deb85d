/* See gpu_timer.h. */
#include "gpu/gpu_timer.h"

#include <string.h>

gpu_status gpu_timer_init(gpu_context *ctx, gpu_timer *t, uint32_t passes, int slots) {
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->passes = passes;
    t->slot_count = slots < 1 ? 1 : slots > GPU_TIMER_SLOTS ? GPU_TIMER_SLOTS : slots;
    WGPUQuerySetDescriptor qd;
    memset(&qd, 0, sizeof qd);
    qd.type = WGPUQueryType_Timestamp;
    qd.count = 2 * passes;
    gpu_scope_push(ctx);
    t->set = wgpuDeviceCreateQuerySet(gpu_device(ctx), &qd);
    gpu_status s = gpu_scope_pop(ctx, "creating a timestamp query set");
    uint64_t bytes = (uint64_t)passes * 16;
    if (s == GPU_OK)
        s = gpu_buffer_create(ctx, &t->resolved, "timestamps", bytes, WGPUBufferUsage_QueryResolve | WGPUBufferUsage_CopySrc);
    for (int i = 0; s == GPU_OK && i < t->slot_count; i++) s = gpu_readback_init(ctx, &t->slots[i], bytes);
    if (s != GPU_OK) gpu_timer_release(t);
    return s;
}

void gpu_timer_release(gpu_timer *t) {
    for (int i = 0; i < GPU_TIMER_SLOTS; i++) gpu_readback_release(&t->slots[i]);
    gpu_buffer_destroy(&t->resolved);
    if (t->set) {
        wgpuQuerySetDestroy(t->set);
        wgpuQuerySetRelease(t->set);
    }
    t->set = NULL;
}

WGPUComputePassEncoder gpu_timer_begin_pass(gpu_timer *t, WGPUCommandEncoder enc, uint32_t pass) {
    WGPUPassTimestampWrites tw = {NULL, t->set, 2 * pass, 2 * pass + 1};
    WGPUComputePassDescriptor pd;
    memset(&pd, 0, sizeof pd);
    pd.timestampWrites = &tw;
    return wgpuCommandEncoderBeginComputePass(enc, &pd);
}

void gpu_timer_encode_read(gpu_timer *t, WGPUCommandEncoder enc, uint32_t passes, int slot) {
    if (passes > t->passes) passes = t->passes;
    wgpuCommandEncoderResolveQuerySet(enc, t->set, 0, 2 * passes, t->resolved.handle, 0);
    gpu_readback_encode(&t->slots[slot], enc, &t->resolved, 0, (uint64_t)passes * 16);
}

gpu_status gpu_timer_request(gpu_timer *t, int slot) { return gpu_readback_request(&t->slots[slot]); }

gpu_status gpu_timer_collect(gpu_timer *t, int slot, uint64_t *ts) { return gpu_readback_collect(&t->slots[slot], ts); }

bool gpu_timestamps_quantised(const uint64_t *ts, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ts[i] & 0xFFFFu) return false;
    return n > 0;
}
