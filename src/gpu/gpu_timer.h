/* GPU time of compute passes, from timestamp queries (WebGPU's timestamp-query feature).
 *
 * A pass begun with gpu_timer_begin_pass writes a timestamp where it begins and one where it
 * ends; gpu_timer_encode_read resolves them and copies them into one of a few staging slots in
 * the same command encoder, so that they come back with whatever else that submission reads
 * (the training chunk's metrics), without a wait of their own. Values are nanoseconds as the
 * implementation gives them: a browser (and Dawn unless its timestamp_quantization toggle is
 * off) rounds them down to multiples of 65,536 ns. The context must have timestamps
 * (gpu_has_timestamps). */
#ifndef WGTRAIN_GPU_TIMER_H
#define WGTRAIN_GPU_TIMER_H

#include "gpu/gpu.h"

#define GPU_TIMER_SLOTS 4

typedef struct gpu_timer {
    gpu_context *ctx;
    WGPUQuerySet set;
    gpu_buffer resolved;
    gpu_readback slots[GPU_TIMER_SLOTS];
    uint32_t passes; /* the most passes one read covers */
    int slot_count;
} gpu_timer;

/* A timer for up to `passes` passes per read, with `slots` (<= GPU_TIMER_SLOTS) reads in flight. */
gpu_status gpu_timer_init(gpu_context *ctx, gpu_timer *t, uint32_t passes, int slots);
void gpu_timer_release(gpu_timer *t);
/* Begins a compute pass on enc that writes timestamps 2 * pass (beginning) and 2 * pass + 1 (end). */
WGPUComputePassEncoder gpu_timer_begin_pass(gpu_timer *t, WGPUCommandEncoder enc, uint32_t pass);
/* Resolves the first `passes` passes' timestamps and copies them into slot's staging buffer. */
void gpu_timer_encode_read(gpu_timer *t, WGPUCommandEncoder enc, uint32_t passes, int slot);
/* After the encoder's command buffer is submitted: request the slot's map. */
gpu_status gpu_timer_request(gpu_timer *t, int slot);
/* Waits (bounded) for the slot and writes 2 * passes timestamps (begin, end of each pass) to ts. */
gpu_status gpu_timer_collect(gpu_timer *t, int slot, uint64_t *ts);

/* Whether every timestamp is a multiple of 65,536 ns: the sign of quantised timestamps (Dawn's
 * timestamp_quantization masks the low 16 bits; exact ones all end in 16 zero bits with
 * probability 2^-16 each). */
bool gpu_timestamps_quantised(const uint64_t *ts, size_t n);

#endif
