/* The GPU runtime: wgtrain's WebGpu.js, in C, over webgpu.h.
 *
 * Owns instance, adapter and device; loads WGSL kernels (embedded at build time, or from a
 * caller-supplied loader), reads each kernel's declared bindings out of its WGSL, and binds
 * buffers by name. Every WebGPU error becomes a gpu_status plus a one-line message that names
 * the kernel or object involved: validation errors through error scopes, shader errors through
 * compilation info (with line and column), device loss through the lost callback. Every wait
 * is bounded by gpu_context_desc.timeout_ms.
 *
 * No files, threads, clocks or terminal here: the CLI supplies those. */
#ifndef WGTRAIN_GPU_H
#define WGTRAIN_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu/webgpu.h"

typedef enum gpu_status {
    GPU_OK = 0,
    GPU_ERR_NO_ADAPTER,      /* nothing matched --adapter/--backend */
    GPU_ERR_NULL_ADAPTER,    /* only Dawn's Null backend: it computes nothing */
    GPU_ERR_DEVICE,          /* device request failed */
    GPU_ERR_KERNEL_SOURCE,   /* no such kernel file */
    GPU_ERR_SHADER_COMPILE,  /* WGSL did not compile */
    GPU_ERR_BINDING,         /* a binding missing, extra, duplicated or of the wrong kind */
    GPU_ERR_VALIDATION,      /* a WebGPU validation error */
    GPU_ERR_OUT_OF_MEMORY,
    GPU_ERR_INTERNAL,
    GPU_ERR_DEVICE_LOST,
    GPU_ERR_TIMEOUT,         /* a wait passed timeout_ms (--timeout-ms): slow, hung or lost */
    GPU_ERR_MAP,             /* a buffer map failed */
    GPU_ERR_LIMIT,           /* the work exceeds an adapter limit */
} gpu_status;

const char *gpu_status_name(gpu_status s);

/* Returns the WGSL text of a kernel file, or NULL. Lets the CLI load kernels from disk. */
typedef const char *(*gpu_source_loader)(void *user, const char *name);

typedef struct gpu_context_desc {
    const char *adapter;       /* case-insensitive substring of the adapter name; NULL: any */
    WGPUBackendType backend;   /* Undefined: any */
    uint32_t timeout_ms;       /* bound on every wait; 0: 60000 */
    bool timestamps;           /* request timestamp queries when the adapter has them */
    gpu_source_loader loader;  /* NULL: the embedded kernels */
    void *loader_user;
    /* Dawn device toggles (names from Dawn's Toggles.cpp), for experiments and profiling */
    const char *const *enable_toggles;
    size_t enable_toggle_count;
    const char *const *disable_toggles;
    size_t disable_toggle_count;
} gpu_context_desc;

typedef struct gpu_adapter_info {
    char name[128];
    char description[256];
    WGPUBackendType backend;
    WGPUAdapterType type;
    uint32_t vendor_id, device_id;
    uint64_t max_buffer_size, max_storage_binding;
    uint32_t max_workgroup_storage, max_invocations, max_workgroups_per_dim;
    uint32_t min_storage_offset_alignment, min_uniform_offset_alignment;
    bool has_timestamps, has_subgroups, has_f16;
    uint32_t subgroup_min_size, subgroup_max_size; /* lanes a subgroup may have (0: not reported) */
} gpu_adapter_info;

const char *gpu_backend_name(WGPUBackendType b);
const char *gpu_adapter_type_name(WGPUAdapterType t);
/* A CPU that emulates a GPU (lavapipe/llvmpipe, SwiftShader): by type, or by name where the
 * backend reports none (GL). */
bool gpu_adapter_is_software(const gpu_adapter_info *i);
/* "vulkan", "gl", "gles", "metal", "d3d12", "d3d11", "null" -> backend; false if unknown. */
bool gpu_backend_parse(const char *s, WGPUBackendType *out);

/* Lists every adapter Dawn offers (one request per backend and power preference, duplicates
 * removed), the Null backend included. Returns the count written (<= max). */
int gpu_list_adapters(gpu_adapter_info *out, int max);

typedef struct gpu_context gpu_context;

gpu_status gpu_context_create(const gpu_context_desc *desc, gpu_context **out, char *err, size_t errlen);
void gpu_context_destroy(gpu_context *ctx);
const gpu_adapter_info *gpu_info(const gpu_context *ctx);
WGPUDevice gpu_device(const gpu_context *ctx);
WGPUQueue gpu_queue(const gpu_context *ctx);
/* Finishes enc, submits its command buffer to the queue and releases both. */
void gpu_submit(gpu_context *ctx, WGPUCommandEncoder enc);
bool gpu_has_timestamps(const gpu_context *ctx);
/* whether kernels may `enable subgroups;` (requested whenever the adapter offers it) */
bool gpu_has_subgroups(const gpu_context *ctx);
/* The message of the last failure on this context (one line). */
const char *gpu_error(const gpu_context *ctx);
/* Sticky: set once the device is lost or an uncaptured error arrived. */
gpu_status gpu_health(gpu_context *ctx);

/* ---- buffers ---- */
typedef struct gpu_buffer {
    WGPUBuffer handle;
    uint64_t size;
    WGPUBufferUsage usage;
    char label[48];
} gpu_buffer;

#define GPU_STORAGE (WGPUBufferUsage_Storage | WGPUBufferUsage_CopyDst | WGPUBufferUsage_CopySrc)
#define GPU_UNIFORM (WGPUBufferUsage_Uniform | WGPUBufferUsage_CopyDst)

gpu_status gpu_buffer_create(gpu_context *ctx, gpu_buffer *buf, const char *label, uint64_t size,
                             WGPUBufferUsage usage);
/* Grows the buffer to at least size bytes (contents are lost); bind groups that use it must be
 * made again. Returns true in *changed when a new buffer was made. */
gpu_status gpu_buffer_reserve(gpu_context *ctx, gpu_buffer *buf, uint64_t size, bool *changed);
void gpu_buffer_destroy(gpu_buffer *buf);
gpu_status gpu_buffer_write(gpu_context *ctx, gpu_buffer *buf, uint64_t offset, const void *data, size_t size);
/* Debug readback: copy through a staging buffer, map, wait (bounded), copy out. */
gpu_status gpu_buffer_read(gpu_context *ctx, gpu_buffer *buf, uint64_t offset, void *dst, size_t size);

/* Several reads with one staging buffer, one submit and one wait. */
typedef struct gpu_read {
    gpu_buffer *buffer;
    uint64_t offset; /* 4-byte aligned */
    void *dst;
    size_t size;
} gpu_read;
gpu_status gpu_buffers_read(gpu_context *ctx, const gpu_read *reads, int count);

/* ---- asynchronous readback: copy now, collect later without stalling the queue ---- */
typedef struct gpu_readback {
    WGPUBuffer staging;
    uint64_t capacity, size;
    WGPUFuture future;
    int state; /* 0 idle, 1 copy encoded, 2 map requested, 3 mapped, -1 failed */
    gpu_context *ctx;
    char message[160]; /* why the map failed, as the implementation said */
} gpu_readback;

gpu_status gpu_readback_init(gpu_context *ctx, gpu_readback *rb, uint64_t capacity);
void gpu_readback_release(gpu_readback *rb);
/* Encodes a copy of src[offset, offset+size) into the staging buffer. */
void gpu_readback_encode(gpu_readback *rb, WGPUCommandEncoder enc, gpu_buffer *src, uint64_t offset, uint64_t size);
/* After the encoder's command buffer is submitted: request the map. */
gpu_status gpu_readback_request(gpu_readback *rb);
/* Waits (bounded) for the map and copies out size bytes; leaves rb idle. */
gpu_status gpu_readback_collect(gpu_readback *rb, void *dst);

/* ---- kernels ---- */
typedef enum gpu_access { GPU_ACCESS_READ, GPU_ACCESS_READ_WRITE, GPU_ACCESS_UNIFORM } gpu_access;

typedef struct gpu_binding_decl {
    char name[48];
    uint32_t group, binding;
    gpu_access access;
} gpu_binding_decl;

#define GPU_MAX_BINDINGS 16

#define GPU_MAX_CONSTANTS 32 /* override constants per pipeline */

/* The WGSL the runtime puts in front of every kernel it compiles (src/kernels/prelude.wgsl):
 * the loader's file of this name when it has one, else the embedded one. */
#define GPU_PRELUDE "prelude.wgsl"

typedef struct gpu_constant {
    const char *name;
    double value;
} gpu_constant;

typedef struct gpu_kernel {
    char file[64];                  /* e.g. "dense1_forward.wgsl" */
    char key[640];                  /* file + constants: the cache key and pipeline label */
    gpu_binding_decl bindings[GPU_MAX_BINDINGS];
    int binding_count;
    uint32_t dynamic_offsets;       /* its uniform bindings: each takes a dynamic offset, in binding order */
    uint32_t workgroup_size;        /* from the WG override constant, or 64 */
    WGPUBindGroupLayout layout;
    WGPUPipelineLayout pipeline_layout;
    WGPUComputePipeline pipeline;
} gpu_kernel;

/* Drops every cached pipeline, so the next gpu_kernel_get compiles again: for a host whose
 * loader now returns other source. Kernels handed out before are freed: callers holding them
 * (a trainer) must be destroyed first. */
void gpu_kernels_forget(gpu_context *ctx);

/* Parses the @group/@binding declarations of WGSL source. Only group 0 is supported.
 * Returns GPU_ERR_BINDING with a message naming the file and binding for anything else. */
gpu_status gpu_parse_bindings(const char *file, const char *wgsl, gpu_binding_decl *out, int max,
                              int *count, char *err, size_t errlen);

/* Compiles (or returns the cached) pipeline for file with these override constants, the
 * prelude (GPU_PRELUDE) in front of its source. A constant named "WG" sets the workgroup size.
 * More than GPU_MAX_CONSTANTS is GPU_ERR_LIMIT, before any of them is read. Uniform bindings get dynamic offsets, so one
 * bind group can serve every step of an epoch. */
gpu_status gpu_kernel_get(gpu_context *ctx, const char *file, const gpu_constant *constants,
                          int constant_count, gpu_kernel **out);

/* One buffer bound to a declared binding, by the binding's WGSL name. size 0: to the end. */
typedef struct gpu_bind {
    const char *name;
    gpu_buffer *buffer;
    uint64_t offset, size;
} gpu_bind;

/* Makes a bind group: every declared binding must be given exactly once, nothing else, and the
 * buffer's usage must fit the declaration (storage or uniform). */
gpu_status gpu_bind_group(gpu_context *ctx, gpu_kernel *k, const gpu_bind *binds, int count,
                          WGPUBindGroup *out);

/* Workgroups for n invocations of a 1-D kernel; GPU_ERR_LIMIT above the adapter's limit. */
gpu_status gpu_groups_1d(gpu_context *ctx, const gpu_kernel *k, uint64_t n, uint32_t *groups);

/* ---- error scopes around a block of calls ---- */
void gpu_scope_push(gpu_context *ctx);
/* Pops the scopes pushed by gpu_scope_push; what names the operation in the message. */
gpu_status gpu_scope_pop(gpu_context *ctx, const char *what);

/* Waits (bounded) until the queue has finished everything submitted so far. */
gpu_status gpu_finish(gpu_context *ctx);

/* Bounded wait on one future; what names the operation in a timeout message. */
gpu_status gpu_wait(gpu_context *ctx, WGPUFuture f, const char *what);

#endif
