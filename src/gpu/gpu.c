/* GPU runtime; see gpu.h. */
#include "gpu/gpu.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/embedded.h"

#define MAX_KERNELS 1024 /* variants: every (file, constants) pair a process uses; the self-checks use ~150 */

struct gpu_context {
    WGPUInstance instance;
    WGPUAdapter adapter;
    WGPUDevice device;
    WGPUQueue queue;
    gpu_adapter_info info;
    uint64_t timeout_ns;
    gpu_source_loader loader;
    void *loader_user;
    bool timestamps;
    bool subgroups;            /* the device has the subgroups feature: kernels may enable it */
    gpu_status sticky;         /* device lost or uncaptured error */
    char error[1024];
    char sticky_error[1024];
    gpu_kernel *kernels[MAX_KERNELS];
    int kernel_count;
    gpu_buffer finish_src;
    gpu_readback finish_rb;
};

static const char *status_names[] = {
    "ok", "no adapter", "null adapter", "device", "kernel source", "shader compile", "binding",
    "validation", "out of memory", "internal", "device lost", "timeout", "map", "limit",
};

const char *gpu_status_name(gpu_status s) {
    return (unsigned)s < sizeof status_names / sizeof *status_names ? status_names[s] : "?";
}

static gpu_status fail(gpu_context *ctx, gpu_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
    va_end(ap);
    /* one line: messages from Dawn can hold newlines */
    for (char *p = ctx->error; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return s;
}

static WGPUStringView sv(const char *s) {
    WGPUStringView v = {s, s ? WGPU_STRLEN : 0};
    return v;
}

static void sv_copy(char *dst, size_t cap, WGPUStringView v) {
    size_t n = 0;
    if (v.data) n = v.length == WGPU_STRLEN ? strlen(v.data) : v.length;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, v.data, n);
    dst[n] = 0;
    for (char *p = dst; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

const char *gpu_backend_name(WGPUBackendType b) {
    switch (b) {
    case WGPUBackendType_Null: return "null";
    case WGPUBackendType_WebGPU: return "webgpu";
    case WGPUBackendType_D3D11: return "d3d11";
    case WGPUBackendType_D3D12: return "d3d12";
    case WGPUBackendType_Metal: return "metal";
    case WGPUBackendType_Vulkan: return "vulkan";
    case WGPUBackendType_OpenGL: return "gl";
    case WGPUBackendType_OpenGLES: return "gles";
    default: return "undefined";
    }
}

const char *gpu_adapter_type_name(WGPUAdapterType t) {
    switch (t) {
    case WGPUAdapterType_DiscreteGPU: return "discrete GPU";
    case WGPUAdapterType_IntegratedGPU: return "integrated GPU";
    case WGPUAdapterType_CPU: return "CPU";
    default: return "unknown";
    }
}

bool gpu_backend_parse(const char *s, WGPUBackendType *out) {
    static const struct { const char *name; WGPUBackendType b; } names[] = {
        {"vulkan", WGPUBackendType_Vulkan}, {"gl", WGPUBackendType_OpenGL},
        {"opengl", WGPUBackendType_OpenGL}, {"gles", WGPUBackendType_OpenGLES},
        {"opengles", WGPUBackendType_OpenGLES}, {"metal", WGPUBackendType_Metal},
        {"d3d12", WGPUBackendType_D3D12}, {"d3d11", WGPUBackendType_D3D11},
        {"null", WGPUBackendType_Null},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(s, names[i].name)) {
            *out = names[i].b;
            return true;
        }
    return false;
}

/* ---- waiting ---- */

static gpu_status wait_future(WGPUInstance instance, WGPUFuture f, uint64_t timeout_ns) {
    WGPUFutureWaitInfo w = {f, 0};
    WGPUWaitStatus s = wgpuInstanceWaitAny(instance, 1, &w, timeout_ns);
    if (s == WGPUWaitStatus_Success && w.completed) return GPU_OK;
    return s == WGPUWaitStatus_TimedOut ? GPU_ERR_TIMEOUT : GPU_ERR_INTERNAL;
}

gpu_status gpu_wait(gpu_context *ctx, WGPUFuture f, const char *what) {
    gpu_status s = wait_future(ctx->instance, f, ctx->timeout_ns);
    if (s == GPU_ERR_TIMEOUT)
        return fail(ctx, s, "%s did not finish within %llu ms: the wait exceeded --timeout-ms (a slow device needs a larger one)", what,
                    (unsigned long long)(ctx->timeout_ns / 1000000));
    if (s != GPU_OK) return fail(ctx, s, "waiting for %s failed", what);
    if (ctx->sticky != GPU_OK) return fail(ctx, ctx->sticky, "%s", ctx->sticky_error);
    return GPU_OK;
}

/* ---- adapters ---- */

typedef struct adapter_request {
    WGPUAdapter adapter;
    char message[256];
} adapter_request;

static void on_adapter(WGPURequestAdapterStatus status, WGPUAdapter adapter, WGPUStringView message,
                       void *u1, void *u2) {
    adapter_request *r = u1;
    if (status == WGPURequestAdapterStatus_Success) r->adapter = adapter;
    else sv_copy(r->message, sizeof r->message, message);
}

static WGPUAdapter request_adapter(WGPUInstance instance, WGPUBackendType backend,
                                   WGPUPowerPreference power, char *msg, size_t msglen) {
    WGPURequestAdapterOptions o;
    memset(&o, 0, sizeof o);
    o.backendType = backend;
    o.powerPreference = power;
    /* GL backends exist only at the compatibility feature level */
    o.featureLevel = (backend == WGPUBackendType_OpenGL || backend == WGPUBackendType_OpenGLES)
                         ? WGPUFeatureLevel_Compatibility : WGPUFeatureLevel_Core;
    adapter_request r = {0};
    WGPURequestAdapterCallbackInfo cb = {0};
    cb.mode = WGPUCallbackMode_WaitAnyOnly;
    cb.callback = on_adapter;
    cb.userdata1 = &r;
    WGPUFuture f = wgpuInstanceRequestAdapter(instance, &o, cb);
    if (wait_future(instance, f, 30ull * 1000000000ull) != GPU_OK) return NULL;
    if (msg && !r.adapter) snprintf(msg, msglen, "%s", r.message);
    return r.adapter;
}

/* Limits and info structs get spare room: a newer Dawn may write fields we do not declare. */
typedef union limits_room {
    WGPULimits limits;
    unsigned char room[sizeof(WGPULimits) + 512];
} limits_room;

typedef union info_room {
    WGPUAdapterInfo info;
    unsigned char room[sizeof(WGPUAdapterInfo) + 256];
} info_room;

static void describe_adapter(WGPUAdapter a, gpu_adapter_info *out) {
    memset(out, 0, sizeof *out);
    info_room ir;
    memset(&ir, 0, sizeof ir);
    if (wgpuAdapterGetInfo(a, &ir.info) == WGPUStatus_Success) {
        sv_copy(out->name, sizeof out->name, ir.info.device);
        sv_copy(out->description, sizeof out->description, ir.info.description);
        out->backend = ir.info.backendType;
        out->type = ir.info.adapterType;
        out->vendor_id = ir.info.vendorID;
        out->device_id = ir.info.deviceID;
        out->subgroup_min_size = ir.info.subgroupMinSize;
        out->subgroup_max_size = ir.info.subgroupMaxSize;
        wgpuAdapterInfoFreeMembers(ir.info);
    }
    limits_room lr;
    memset(&lr, 0, sizeof lr);
    if (wgpuAdapterGetLimits(a, &lr.limits) == WGPUStatus_Success) {
        out->max_buffer_size = lr.limits.maxBufferSize;
        out->max_storage_binding = lr.limits.maxStorageBufferBindingSize;
        out->max_workgroup_storage = lr.limits.maxComputeWorkgroupStorageSize;
        out->max_invocations = lr.limits.maxComputeInvocationsPerWorkgroup;
        out->max_workgroups_per_dim = lr.limits.maxComputeWorkgroupsPerDimension;
        out->min_storage_offset_alignment = lr.limits.minStorageBufferOffsetAlignment;
        out->min_uniform_offset_alignment = lr.limits.minUniformBufferOffsetAlignment;
    }
    out->has_timestamps = wgpuAdapterHasFeature(a, WGPUFeatureName_TimestampQuery);
    out->has_subgroups = wgpuAdapterHasFeature(a, WGPUFeatureName_Subgroups);
    out->has_f16 = wgpuAdapterHasFeature(a, WGPUFeatureName_ShaderF16);
}

static const WGPUBackendType probe_order[] = {
    WGPUBackendType_Vulkan, WGPUBackendType_Metal, WGPUBackendType_D3D12,
    WGPUBackendType_OpenGLES, WGPUBackendType_OpenGL, WGPUBackendType_Null,
};
#define PROBE_COUNT (int)(sizeof probe_order / sizeof *probe_order)

static WGPUInstance make_instance(void) {
    WGPUInstanceDescriptor d;
    memset(&d, 0, sizeof d);
    d.capabilities.timedWaitAnyEnable = 1; /* bounded waits need timed WaitAny */
    return wgpuCreateInstance(&d);
}

static bool same_adapter(const gpu_adapter_info *a, const gpu_adapter_info *b) {
    return a->backend == b->backend && a->vendor_id == b->vendor_id && a->device_id == b->device_id &&
           !strcmp(a->name, b->name);
}

/* Collects distinct adapters: each backend, high-performance and low-power preference. */
static int collect_adapters(WGPUInstance inst, WGPUBackendType only, WGPUAdapter *handles,
                            gpu_adapter_info *infos, int max) {
    int n = 0;
    for (int i = 0; i < PROBE_COUNT; i++) {
        WGPUBackendType b = probe_order[i];
        if (only != WGPUBackendType_Undefined && b != only) continue;
        WGPUPowerPreference prefs[] = {WGPUPowerPreference_HighPerformance, WGPUPowerPreference_LowPower};
        for (int p = 0; p < 2 && n < max; p++) {
            WGPUAdapter a = request_adapter(inst, b, prefs[p], NULL, 0);
            if (!a) continue;
            gpu_adapter_info info;
            describe_adapter(a, &info);
            bool dup = false;
            for (int j = 0; j < n; j++) dup |= same_adapter(&infos[j], &info);
            if (dup) {
                wgpuAdapterRelease(a);
                continue;
            }
            handles[n] = a;
            infos[n] = info;
            n++;
        }
    }
    return n;
}

int gpu_list_adapters(gpu_adapter_info *out, int max) {
    WGPUInstance inst = make_instance();
    if (!inst) return 0;
    WGPUAdapter handles[32];
    if (max > 32) max = 32;
    int n = collect_adapters(inst, WGPUBackendType_Undefined, handles, out, max);
    for (int i = 0; i < n; i++) wgpuAdapterRelease(handles[i]);
    wgpuInstanceRelease(inst);
    return n;
}

static bool contains_ci(const char *hay, const char *needle);
static int adapter_class(const gpu_adapter_info *i);

/* Higher is better: real GPUs first, then backends in probe order. GL adapters report their
 * type as unknown, so software rasterisers are recognised by name. */
static int adapter_rank(const gpu_adapter_info *i) {
    int backend = 0;
    for (int b = 0; b < PROBE_COUNT; b++)
        if (probe_order[b] == i->backend) backend = PROBE_COUNT - b;
    return 16 * adapter_class(i) + backend;
}

bool gpu_adapter_is_software(const gpu_adapter_info *i) {
    return i->type == WGPUAdapterType_CPU || contains_ci(i->name, "llvmpipe") || contains_ci(i->name, "swiftshader") ||
           contains_ci(i->name, "lavapipe");
}

static int adapter_class(const gpu_adapter_info *i) {
    if (gpu_adapter_is_software(i)) return 1;
    switch (i->type) {
    case WGPUAdapterType_DiscreteGPU: return 4;
    case WGPUAdapterType_IntegratedGPU: return 3;
    case WGPUAdapterType_Unknown: return 2;
    default: return 1; /* CPU */
    }
}

static bool contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n)) return true;
    return false;
}

/* ---- device ---- */

static void on_device(WGPURequestDeviceStatus status, WGPUDevice device, WGPUStringView message,
                      void *u1, void *u2) {
    gpu_context *ctx = u1;
    if (status == WGPURequestDeviceStatus_Success) ctx->device = device;
    else sv_copy(ctx->error, sizeof ctx->error, message);
}

static void on_device_lost(WGPUDevice const *device, WGPUDeviceLostReason reason,
                           WGPUStringView message, void *u1, void *u2) {
    gpu_context *ctx = u1;
    if (reason == WGPUDeviceLostReason_Destroyed || reason == WGPUDeviceLostReason_CallbackCancelled)
        return; /* our own shutdown */
    char m[512];
    sv_copy(m, sizeof m, message);
    ctx->sticky = GPU_ERR_DEVICE_LOST;
    snprintf(ctx->sticky_error, sizeof ctx->sticky_error, "GPU device lost: %s", m);
}

static void on_uncaptured_error(WGPUDevice const *device, WGPUErrorType type, WGPUStringView message,
                                void *u1, void *u2) {
    gpu_context *ctx = u1;
    if (ctx->sticky != GPU_OK) return; /* keep the first */
    char m[768];
    sv_copy(m, sizeof m, message);
    ctx->sticky = type == WGPUErrorType_OutOfMemory ? GPU_ERR_OUT_OF_MEMORY
                  : type == WGPUErrorType_Validation ? GPU_ERR_VALIDATION
                                                     : GPU_ERR_INTERNAL;
    snprintf(ctx->sticky_error, sizeof ctx->sticky_error, "WebGPU error: %s", m);
}

gpu_status gpu_context_create(const gpu_context_desc *desc, gpu_context **out, char *err, size_t errlen) {
    gpu_context_desc d = {0};
    if (desc) d = *desc;
    *out = NULL;
    gpu_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return GPU_ERR_OUT_OF_MEMORY;
    }
    ctx->timeout_ns = (uint64_t)(d.timeout_ms ? d.timeout_ms : 60000) * 1000000ull;
    ctx->loader = d.loader;
    ctx->loader_user = d.loader_user;
    gpu_status s = GPU_OK;

    ctx->instance = make_instance();
    if (!ctx->instance) {
        s = fail(ctx, GPU_ERR_NO_ADAPTER, "could not create a WebGPU instance");
        goto done;
    }

    WGPUAdapter handles[32];
    gpu_adapter_info infos[32];
    int n = collect_adapters(ctx->instance, d.backend, handles, infos, 32);
    int best = -1, matched = 0, null_only = 1;
    for (int i = 0; i < n; i++) {
        if (d.adapter && !contains_ci(infos[i].name, d.adapter) && !contains_ci(infos[i].description, d.adapter))
            continue;
        matched++;
        if (infos[i].backend == WGPUBackendType_Null) continue; /* never train on nothing */
        null_only = 0;
        if (best < 0 || adapter_rank(&infos[i]) > adapter_rank(&infos[best])) best = i;
    }
    for (int i = 0; i < n; i++)
        if (i != best) wgpuAdapterRelease(handles[i]);
    if (best < 0) {
        if (matched && null_only)
            s = fail(ctx, GPU_ERR_NULL_ADAPTER,
                     "only Dawn's Null backend is available, which computes nothing: install a Vulkan "
                     "driver (on a machine without a GPU, Mesa >= 23 lavapipe: run 'make setup')");
        else
            s = fail(ctx, GPU_ERR_NO_ADAPTER, "no adapter matches%s%s%s%s (see 'wgtrain devices')",
                     d.adapter ? " --adapter " : "", d.adapter ? d.adapter : "",
                     d.backend ? " --backend " : "", d.backend ? gpu_backend_name(d.backend) : "");
        goto done;
    }
    ctx->adapter = handles[best];
    ctx->info = infos[best];

    /* Ask for the adapter's own storage and buffer limits instead of the defaults; every other
     * limit stays "undefined" (all bits set). */
    limits_room req;
    memset(&req, 0xff, sizeof req);
    req.limits.nextInChain = NULL;
    req.limits.maxBufferSize = ctx->info.max_buffer_size;
    req.limits.maxStorageBufferBindingSize = ctx->info.max_storage_binding;
    req.limits.maxComputeWorkgroupStorageSize = ctx->info.max_workgroup_storage;
    req.limits.maxComputeInvocationsPerWorkgroup = ctx->info.max_invocations;
    req.limits.maxComputeWorkgroupSizeX = ctx->info.max_invocations;

    WGPUFeatureName features[2];
    size_t feature_count = 0;
    if (d.timestamps && ctx->info.has_timestamps) features[feature_count++] = WGPUFeatureName_TimestampQuery;
    ctx->timestamps = feature_count > 0;
    /* subgroups costs nothing unless a kernel enables it (`enable subgroups;`), and a kernel
     * loaded through --kernels-dir may */
    if (ctx->info.has_subgroups) features[feature_count++] = WGPUFeatureName_Subgroups;
    ctx->subgroups = ctx->info.has_subgroups;

    WGPUDawnTogglesDescriptor toggles;
    memset(&toggles, 0, sizeof toggles);
    toggles.chain.sType = WGPUSType_DawnTogglesDescriptor;
    toggles.enabledToggleCount = d.enable_toggle_count;
    toggles.enabledToggles = d.enable_toggles;
    toggles.disabledToggleCount = d.disable_toggle_count;
    toggles.disabledToggles = d.disable_toggles;
    WGPUDeviceDescriptor dd;
    memset(&dd, 0, sizeof dd);
    if (d.enable_toggle_count || d.disable_toggle_count) dd.nextInChain = &toggles.chain;
    dd.label = sv("wgtrain");
    dd.requiredFeatureCount = feature_count;
    dd.requiredFeatures = features;
    dd.requiredLimits = &req.limits;
    dd.deviceLostCallbackInfo.mode = WGPUCallbackMode_AllowSpontaneous;
    dd.deviceLostCallbackInfo.callback = on_device_lost;
    dd.deviceLostCallbackInfo.userdata1 = ctx;
    dd.uncapturedErrorCallbackInfo.callback = on_uncaptured_error;
    dd.uncapturedErrorCallbackInfo.userdata1 = ctx;
    WGPURequestDeviceCallbackInfo cb = {0};
    cb.mode = WGPUCallbackMode_WaitAnyOnly;
    cb.callback = on_device;
    cb.userdata1 = ctx;
    WGPUFuture f = wgpuAdapterRequestDevice(ctx->adapter, &dd, cb);
    if (wait_future(ctx->instance, f, ctx->timeout_ns) != GPU_OK || !ctx->device) {
        char m[1024];
        snprintf(m, sizeof m, "%s", ctx->error);
        s = fail(ctx, GPU_ERR_DEVICE, "could not create a device on %s: %s", ctx->info.name, m);
        goto done;
    }
    ctx->queue = wgpuDeviceGetQueue(ctx->device);

    s = gpu_buffer_create(ctx, &ctx->finish_src, "finish-marker", 4, GPU_STORAGE);
    if (s == GPU_OK) s = gpu_readback_init(ctx, &ctx->finish_rb, 4);

done:
    if (s != GPU_OK) {
        snprintf(err, errlen, "%s", ctx->error);
        gpu_context_destroy(ctx);
        return s;
    }
    *out = ctx;
    return GPU_OK;
}

void gpu_kernels_forget(gpu_context *ctx) {
    for (int i = 0; i < ctx->kernel_count; i++) {
        gpu_kernel *k = ctx->kernels[i];
        if (k->pipeline) wgpuComputePipelineRelease(k->pipeline);
        if (k->pipeline_layout) wgpuPipelineLayoutRelease(k->pipeline_layout);
        if (k->layout) wgpuBindGroupLayoutRelease(k->layout);
        free(k);
    }
    ctx->kernel_count = 0;
}

void gpu_context_destroy(gpu_context *ctx) {
    if (!ctx) return;
    gpu_kernels_forget(ctx);
    gpu_readback_release(&ctx->finish_rb);
    gpu_buffer_destroy(&ctx->finish_src);
    if (ctx->queue) wgpuQueueRelease(ctx->queue);
    if (ctx->device) {
        wgpuDeviceDestroy(ctx->device);
        wgpuDeviceRelease(ctx->device);
    }
    if (ctx->adapter) wgpuAdapterRelease(ctx->adapter);
    if (ctx->instance) {
        wgpuInstanceProcessEvents(ctx->instance); /* deliver the cancelled callbacks */
        wgpuInstanceRelease(ctx->instance);
    }
    free(ctx);
}

const gpu_adapter_info *gpu_info(const gpu_context *ctx) { return &ctx->info; }
WGPUDevice gpu_device(const gpu_context *ctx) { return ctx->device; }
WGPUQueue gpu_queue(const gpu_context *ctx) { return ctx->queue; }

void gpu_submit(gpu_context *ctx, WGPUCommandEncoder enc) {
    WGPUCommandBuffer cmd = wgpuCommandEncoderFinish(enc, NULL);
    wgpuQueueSubmit(ctx->queue, 1, &cmd);
    wgpuCommandBufferRelease(cmd);
    wgpuCommandEncoderRelease(enc);
}

bool gpu_has_timestamps(const gpu_context *ctx) { return ctx->timestamps; }
bool gpu_has_subgroups(const gpu_context *ctx) { return ctx->subgroups; }
const char *gpu_error(const gpu_context *ctx) { return ctx->error; }

gpu_status gpu_health(gpu_context *ctx) {
    wgpuInstanceProcessEvents(ctx->instance);
    if (ctx->sticky != GPU_OK) return fail(ctx, ctx->sticky, "%s", ctx->sticky_error);
    return GPU_OK;
}

/* ---- error scopes ---- */

typedef struct scope_result {
    WGPUErrorType type;
    char message[768];
} scope_result;

static void on_pop(WGPUPopErrorScopeStatus status, WGPUErrorType type, WGPUStringView message,
                   void *u1, void *u2) {
    scope_result *r = u1;
    r->type = status == WGPUPopErrorScopeStatus_Success ? type : WGPUErrorType_Unknown;
    sv_copy(r->message, sizeof r->message, message);
}

void gpu_scope_push(gpu_context *ctx) {
    wgpuDevicePushErrorScope(ctx->device, WGPUErrorFilter_Internal);
    wgpuDevicePushErrorScope(ctx->device, WGPUErrorFilter_OutOfMemory);
    wgpuDevicePushErrorScope(ctx->device, WGPUErrorFilter_Validation);
}

gpu_status gpu_scope_pop(gpu_context *ctx, const char *what) {
    gpu_status first = GPU_OK;
    char msg[768] = "";
    for (int i = 0; i < 3; i++) {
        scope_result r = {WGPUErrorType_NoError, ""};
        WGPUPopErrorScopeCallbackInfo cb = {0};
        cb.mode = WGPUCallbackMode_WaitAnyOnly;
        cb.callback = on_pop;
        cb.userdata1 = &r;
        WGPUFuture f = wgpuDevicePopErrorScope(ctx->device, cb);
        gpu_status ws = wait_future(ctx->instance, f, ctx->timeout_ns);
        if (ws != GPU_OK && first == GPU_OK) {
            first = ws;
            snprintf(msg, sizeof msg, "error scope did not resolve");
        }
        if (r.type != WGPUErrorType_NoError && first == GPU_OK) {
            first = r.type == WGPUErrorType_Validation ? GPU_ERR_VALIDATION
                    : r.type == WGPUErrorType_OutOfMemory ? GPU_ERR_OUT_OF_MEMORY
                                                          : GPU_ERR_INTERNAL;
            snprintf(msg, sizeof msg, "%s", r.message);
        }
    }
    if (first != GPU_OK) return fail(ctx, first, "%s: %s", what, msg);
    if (ctx->sticky != GPU_OK) return fail(ctx, ctx->sticky, "%s: %s", what, ctx->sticky_error);
    return GPU_OK;
}

/* ---- buffers ---- */

gpu_status gpu_buffer_create(gpu_context *ctx, gpu_buffer *buf, const char *label, uint64_t size,
                             WGPUBufferUsage usage) {
    memset(buf, 0, sizeof *buf);
    snprintf(buf->label, sizeof buf->label, "%s", label);
    size = (size + 3) & ~3ull; /* copies and clears work in 4-byte units */
    if (size == 0) size = 4;
    if (size > ctx->info.max_buffer_size)
        return fail(ctx, GPU_ERR_LIMIT, "buffer %s needs %llu bytes, over this adapter's limit of %llu",
                    label, (unsigned long long)size, (unsigned long long)ctx->info.max_buffer_size);
    WGPUBufferDescriptor d;
    memset(&d, 0, sizeof d);
    d.label = sv(buf->label);
    d.usage = usage;
    d.size = size;
    gpu_scope_push(ctx);
    buf->handle = wgpuDeviceCreateBuffer(ctx->device, &d);
    char what[96];
    snprintf(what, sizeof what, "creating buffer %s (%llu bytes)", label, (unsigned long long)size);
    gpu_status s = gpu_scope_pop(ctx, what);
    if (s != GPU_OK) {
        gpu_buffer_destroy(buf);
        return s;
    }
    buf->size = size;
    buf->usage = usage;
    return GPU_OK;
}

gpu_status gpu_buffer_reserve(gpu_context *ctx, gpu_buffer *buf, uint64_t size, bool *changed) {
    if (changed) *changed = false;
    if (buf->handle && buf->size >= size) return GPU_OK;
    char label[48];
    snprintf(label, sizeof label, "%s", buf->label);
    WGPUBufferUsage usage = buf->usage;
    gpu_buffer_destroy(buf);
    if (changed) *changed = true;
    return gpu_buffer_create(ctx, buf, label, size, usage);
}

void gpu_buffer_destroy(gpu_buffer *buf) {
    if (buf->handle) {
        wgpuBufferDestroy(buf->handle);
        wgpuBufferRelease(buf->handle);
    }
    buf->handle = NULL;
    buf->size = 0;
}

gpu_status gpu_buffer_write(gpu_context *ctx, gpu_buffer *buf, uint64_t offset, const void *data, size_t size) {
    if (offset + size > buf->size || (offset & 3) || (size & 3))
        return fail(ctx, GPU_ERR_VALIDATION, "write of %zu bytes at %llu does not fit buffer %s (%llu bytes, 4-byte units)",
                    size, (unsigned long long)offset, buf->label, (unsigned long long)buf->size);
    wgpuQueueWriteBuffer(ctx->queue, buf->handle, offset, data, size);
    return gpu_health(ctx);
}

static void on_map(WGPUMapAsyncStatus status, WGPUStringView message, void *u1, void *u2) {
    gpu_readback *rb = u1;
    rb->state = status == WGPUMapAsyncStatus_Success ? 3 : -1;
    if (status != WGPUMapAsyncStatus_Success) sv_copy(rb->message, sizeof rb->message, message);
}

gpu_status gpu_readback_init(gpu_context *ctx, gpu_readback *rb, uint64_t capacity) {
    memset(rb, 0, sizeof *rb);
    rb->ctx = ctx;
    gpu_buffer b;
    gpu_status s = gpu_buffer_create(ctx, &b, "readback-staging", capacity,
                                     WGPUBufferUsage_MapRead | WGPUBufferUsage_CopyDst);
    if (s != GPU_OK) return s;
    rb->staging = b.handle;
    rb->capacity = b.size;
    return GPU_OK;
}

void gpu_readback_release(gpu_readback *rb) {
    if (rb->staging) {
        wgpuBufferDestroy(rb->staging);
        wgpuBufferRelease(rb->staging);
    }
    rb->staging = NULL;
}

void gpu_readback_encode(gpu_readback *rb, WGPUCommandEncoder enc, gpu_buffer *src, uint64_t offset, uint64_t size) {
    size = (size + 3) & ~3ull;
    if (size > rb->capacity) size = rb->capacity;
    wgpuCommandEncoderCopyBufferToBuffer(enc, src->handle, offset, rb->staging, 0, size);
    rb->size = size;
    rb->state = 1;
}

gpu_status gpu_readback_request(gpu_readback *rb) {
    WGPUBufferMapCallbackInfo cb = {0};
    cb.mode = WGPUCallbackMode_AllowProcessEvents;
    cb.callback = on_map;
    cb.userdata1 = rb;
    rb->state = 2;
    rb->future = wgpuBufferMapAsync(rb->staging, WGPUMapMode_Read, 0, rb->size, cb);
    return GPU_OK;
}

gpu_status gpu_readback_collect(gpu_readback *rb, void *dst) {
    gpu_context *ctx = rb->ctx;
    if (rb->state == 2) {
        gpu_status s = gpu_wait(ctx, rb->future, "reading results back from the GPU");
        if (s != GPU_OK) return s;
    }
    if (rb->state != 3) {
        rb->state = 0;
        if (ctx->sticky != GPU_OK) return fail(ctx, ctx->sticky, "%s", ctx->sticky_error);
        return fail(ctx, GPU_ERR_MAP, "mapping a readback buffer failed%s%s", rb->message[0] ? ": " : "", rb->message);
    }
    const void *p = wgpuBufferGetConstMappedRange(rb->staging, 0, rb->size);
    if (!p) {
        wgpuBufferUnmap(rb->staging);
        rb->state = 0;
        return fail(ctx, GPU_ERR_MAP, "mapped range of a readback buffer is unavailable");
    }
    if (dst) memcpy(dst, p, rb->size);
    wgpuBufferUnmap(rb->staging);
    rb->state = 0;
    return GPU_OK;
}

gpu_status gpu_buffers_read(gpu_context *ctx, const gpu_read *reads, int count) {
    uint64_t total = 0;
    for (int i = 0; i < count; i++) {
        const gpu_read *r = &reads[i];
        if (r->offset + r->size > r->buffer->size || (r->offset & 3))
            return fail(ctx, GPU_ERR_VALIDATION, "read of %zu bytes at %llu does not fit buffer %s (4-byte aligned)",
                        r->size, (unsigned long long)r->offset, r->buffer->label);
        total += (r->size + 3) & ~(size_t)3;
    }
    /* one staging buffer, one submit and one wait for all of them */
    gpu_buffer staging;
    gpu_status s = gpu_buffer_create(ctx, &staging, "readback-staging", total,
                                     WGPUBufferUsage_MapRead | WGPUBufferUsage_CopyDst);
    if (s != GPU_OK) return s;
    gpu_scope_push(ctx);
    WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(ctx->device, NULL);
    uint64_t at = 0;
    for (int i = 0; i < count; i++) {
        size_t padded = (reads[i].size + 3) & ~(size_t)3;
        if (padded) wgpuCommandEncoderCopyBufferToBuffer(enc, reads[i].buffer->handle, reads[i].offset, staging.handle, at, padded);
        at += padded;
    }
    gpu_submit(ctx, enc);
    char what[96];
    snprintf(what, sizeof what, "reading buffer %s%s", reads[0].buffer->label, count > 1 ? " and others" : "");
    s = gpu_scope_pop(ctx, what);
    gpu_readback rb = {.staging = staging.handle, .capacity = staging.size, .size = staging.size, .ctx = ctx};
    if (s == GPU_OK) s = gpu_readback_request(&rb);
    if (s == GPU_OK && rb.state == 2) s = gpu_wait(ctx, rb.future, "reading results back from the GPU");
    if (s == GPU_OK && rb.state != 3)
        s = fail(ctx, GPU_ERR_MAP, "mapping a readback buffer failed%s%s", rb.message[0] ? ": " : "", rb.message);
    if (s == GPU_OK) {
        const unsigned char *p = wgpuBufferGetConstMappedRange(staging.handle, 0, staging.size);
        if (!p) s = fail(ctx, GPU_ERR_MAP, "mapped range of a readback buffer is unavailable");
        for (int i = 0; p && i < count; p += (reads[i].size + 3) & ~(size_t)3, i++) memcpy(reads[i].dst, p, reads[i].size);
        wgpuBufferUnmap(staging.handle);
    }
    gpu_buffer_destroy(&staging);
    return s;
}

gpu_status gpu_buffer_read(gpu_context *ctx, gpu_buffer *buf, uint64_t offset, void *dst, size_t size) {
    gpu_read r = {buf, offset, dst, size};
    return gpu_buffers_read(ctx, &r, 1);
}

gpu_status gpu_finish(gpu_context *ctx) {
    WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(ctx->device, NULL);
    gpu_readback_encode(&ctx->finish_rb, enc, &ctx->finish_src, 0, 4);
    gpu_submit(ctx, enc);
    gpu_readback_request(&ctx->finish_rb);
    return gpu_readback_collect(&ctx->finish_rb, NULL);
}

/* ---- WGSL binding declarations ---- */

/* Copies WGSL with comments blanked out (newlines kept, so line numbers still match). */
static char *strip_comments(const char *src) {
    size_t n = strlen(src);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (depth == 0 && src[i] == '/' && src[i + 1] == '/') {
            while (i < n && src[i] != '\n') out[i++] = ' ';
            if (i < n) out[i] = '\n';
            continue;
        }
        if (src[i] == '/' && src[i + 1] == '*') {
            depth++;
            out[i] = out[i + 1] = ' ';
            i++;
            continue;
        }
        if (depth && src[i] == '*' && src[i + 1] == '/') {
            depth--;
            out[i] = out[i + 1] = ' ';
            i++;
            continue;
        }
        out[i] = depth && src[i] != '\n' ? ' ' : src[i];
    }
    out[n] = 0;
    return out;
}

static const char *skip_ws(const char *p) {
    while (*p && isspace((unsigned char)*p)) p++;
    return p;
}

static int line_of(const char *start, const char *p) {
    int line = 1;
    for (const char *q = start; q < p; q++) line += *q == '\n';
    return line;
}

gpu_status gpu_parse_bindings(const char *file, const char *wgsl, gpu_binding_decl *out, int max,
                              int *count, char *err, size_t errlen) {
    *count = 0;
    char *text = strip_comments(wgsl);
    if (!text) {
        snprintf(err, errlen, "%s: out of memory", file);
        return GPU_ERR_BINDING;
    }
    gpu_status s = GPU_OK;
    for (const char *p = text; (p = strchr(p, '@'));) {
        /* an attribute run: @group(N) @binding(M) in either order, then "var" */
        const char *start = p;
        long group = -1, binding = -1;
        while (*p == '@') {
            const char *name = p + 1;
            const char *q = name;
            while (isalnum((unsigned char)*q) || *q == '_') q++;
            size_t len = (size_t)(q - name);
            q = skip_ws(q);
            long value = -1;
            if (*q == '(') {
                char *end;
                value = strtol(q + 1, &end, 10);
                q = strchr(q, ')');
                if (!q) break;
                q++;
                (void)end;
            }
            if (len == 5 && !strncmp(name, "group", 5)) group = value;
            if (len == 7 && !strncmp(name, "binding", 7)) binding = value;
            p = skip_ws(q);
        }
        if (group < 0 && binding < 0) {
            p = start + 1;
            continue;
        }
        int line = line_of(text, start);
        if (group < 0 || binding < 0 || strncmp(p, "var", 3)) {
            snprintf(err, errlen, "%s:%d: a resource needs both @group and @binding on a var", file, line);
            s = GPU_ERR_BINDING;
            break;
        }
        p = skip_ws(p + 3);
        gpu_access access;
        if (*p != '<') {
            snprintf(err, errlen, "%s:%d: only var<storage> and var<uniform> buffers are supported", file, line);
            s = GPU_ERR_BINDING;
            break;
        }
        const char *close = strchr(p, '>');
        if (!close) {
            snprintf(err, errlen, "%s:%d: unterminated address space", file, line);
            s = GPU_ERR_BINDING;
            break;
        }
        char space[64] = "";
        size_t sl = 0;
        for (const char *q = p + 1; q < close && sl < sizeof space - 1; q++)
            if (!isspace((unsigned char)*q)) space[sl++] = *q;
        space[sl] = 0;
        if (!strcmp(space, "uniform")) access = GPU_ACCESS_UNIFORM;
        else if (!strcmp(space, "storage") || !strcmp(space, "storage,read")) access = GPU_ACCESS_READ;
        else if (!strcmp(space, "storage,read_write")) access = GPU_ACCESS_READ_WRITE;
        else {
            snprintf(err, errlen, "%s:%d: unsupported address space <%s>", file, line, space);
            s = GPU_ERR_BINDING;
            break;
        }
        p = skip_ws(close + 1);
        char name[48];
        size_t nl = 0;
        while ((isalnum((unsigned char)*p) || *p == '_') && nl < sizeof name - 1) name[nl++] = *p++;
        name[nl] = 0;
        if (!nl) {
            snprintf(err, errlen, "%s:%d: binding without a name", file, line);
            s = GPU_ERR_BINDING;
            break;
        }
        if (group != 0) {
            snprintf(err, errlen, "%s:%d: binding '%s' is in group %ld; kernels use group 0 only", file, line, name, group);
            s = GPU_ERR_BINDING;
            break;
        }
        for (int i = 0; i < *count; i++) {
            if (out[i].binding == (uint32_t)binding || !strcmp(out[i].name, name)) {
                snprintf(err, errlen, "%s:%d: binding '%s' (@binding(%ld)) is declared twice", file, line, name, binding);
                s = GPU_ERR_BINDING;
                break;
            }
        }
        if (s != GPU_OK) break;
        if (*count >= max) {
            snprintf(err, errlen, "%s:%d: more than %d bindings", file, line, max);
            s = GPU_ERR_BINDING;
            break;
        }
        gpu_binding_decl *b = &out[(*count)++];
        snprintf(b->name, sizeof b->name, "%s", name);
        b->group = (uint32_t)group;
        b->binding = (uint32_t)binding;
        b->access = access;
    }
    free(text);
    return s;
}

/* ---- kernels ---- */

static const char *kernel_source(gpu_context *ctx, const char *file) {
    if (ctx->loader) return ctx->loader(ctx->loader_user, file);
    const embedded_file *f = embedded_find(kernels_files, file);
    return f ? f->data : NULL;
}

/* The prelude (src/kernels/prelude.wgsl: see its comment) comes from the loader when it has
 * one, so --kernels-dir and the browser's setKernel reach it as they reach any kernel, and
 * from the binary otherwise, so a loader may supply only the kernels it changes. */
static const char *prelude_source(gpu_context *ctx) {
    const char *p = ctx->loader ? ctx->loader(ctx->loader_user, GPU_PRELUDE) : NULL;
    if (!p) {
        const embedded_file *f = embedded_find(kernels_files, GPU_PRELUDE);
        p = f ? f->data : NULL;
    }
    return p;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* WGSL's directives (enable, requires, diagnostic) must come before every declaration, so a
 * kernel's own (its first lines, after comments) go in front of the prelude. They are moved
 * onto the prelude's first line and blanked where they were, so that no line number changes.
 * Returns the length of the directives written to out (0 if none). */
static size_t hoist_directives(char *kernel, char *out, size_t size) {
    size_t used = 0;
    out[0] = 0;
    char *line = kernel;
    while (*line) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        char *end = strchr(p, '\n');
        if (!end) end = p + strlen(p);
        bool directive = !strncmp(p, "enable ", 7) || !strncmp(p, "requires ", 9) || !strncmp(p, "diagnostic", 10);
        if (directive) {
            char *semi = memchr(p, ';', (size_t)(end - p));
            size_t n = semi ? (size_t)(semi - p) + 1 : 0;
            if (!n || used + n + 2 > size) break; /* left in place: the compiler names the line */
            memcpy(out + used, p, n);
            used += n;
            out[used++] = ' ';
            out[used] = 0;
            memset(p, ' ', n);
        } else if (p != end && strncmp(p, "//", 2)) {
            break; /* the first declaration */
        }
        line = *end ? end + 1 : end;
    }
    return used;
}

typedef struct compile_result {
    int errors;
    char message[768];
} compile_result;

typedef struct compile_request {
    compile_result *r;
    const char *file;
    int prelude_lines; /* lines of the prelude in front of the kernel's own */
} compile_request;

static void on_compilation_info(WGPUCompilationInfoRequestStatus status, WGPUCompilationInfo const *info,
                                void *u1, void *u2) {
    compile_request *req = u1;
    if (status != WGPUCompilationInfoRequestStatus_Success || !info) return;
    for (size_t i = 0; i < info->messageCount; i++) {
        const WGPUCompilationMessage *m = &info->messages[i];
        if (m->type != WGPUCompilationMessageType_Error) continue;
        if (req->r->errors++ == 0) {
            char text[512];
            sv_copy(text, sizeof text, m->message);
            /* a line of the prelude, or one of the kernel's own, counted from its own first */
            bool in_prelude = m->lineNum >= 1 && m->lineNum <= (uint64_t)req->prelude_lines;
            uint64_t line = in_prelude || m->lineNum == 0 ? m->lineNum : m->lineNum - (uint64_t)req->prelude_lines;
            snprintf(req->r->message, sizeof req->r->message, "%s:%llu:%llu: error: %s",
                     in_prelude ? GPU_PRELUDE : req->file, (unsigned long long)line,
                     (unsigned long long)m->linePos, text);
        }
    }
}

/* The default of `override WG: u32 = N;`, or 64 (a WG with no default is always set) */
static uint32_t default_workgroup_size(const char *wgsl) {
    const char *p = strstr(wgsl, "override WG:");
    if (!p) return 64;
    const char *end = strchr(p, ';'), *eq = strchr(p, '=');
    long v = eq && (!end || eq < end) ? strtol(eq + 1, NULL, 10) : 64;
    return v > 0 ? (uint32_t)v : 64;
}

/* The cache key and pipeline label: the file and every constant, exactly (%.17g round-trips a
 * double, so two variants never share a key). False when it does not fit. */
static bool kernel_key(char *key, size_t size, const char *file, const gpu_constant *constants, int count) {
    int kl = snprintf(key, size, "%s", file);
    for (int i = 0; i < count && kl >= 0 && (size_t)kl < size; i++)
        kl += snprintf(key + kl, size - (size_t)kl, " %s=%.17g", constants[i].name, constants[i].value);
    return kl >= 0 && (size_t)kl < size;
}

gpu_status gpu_kernel_get(gpu_context *ctx, const char *file, const gpu_constant *constants,
                          int constant_count, gpu_kernel **out) {
    char key[sizeof((gpu_kernel *)0)->key];
    if (constant_count > GPU_MAX_CONSTANTS)
        return fail(ctx, GPU_ERR_LIMIT, "%s: %d override constants, more than the %d a pipeline may have here", file,
                    constant_count, GPU_MAX_CONSTANTS);
    if (!kernel_key(key, sizeof key, file, constants, constant_count))
        return fail(ctx, GPU_ERR_LIMIT, "%s: its override constants do not fit the %zu-byte pipeline key", file,
                    sizeof key);
    for (int i = 0; i < ctx->kernel_count; i++)
        if (!strcmp(ctx->kernels[i]->key, key)) {
            *out = ctx->kernels[i];
            return GPU_OK;
        }
    if (ctx->kernel_count >= MAX_KERNELS) return fail(ctx, GPU_ERR_LIMIT, "too many kernel variants");

    const char *own = kernel_source(ctx, file);
    if (!own) return fail(ctx, GPU_ERR_KERNEL_SOURCE, "kernel %s not found", file);
    const char *prelude = strcmp(file, GPU_PRELUDE) ? prelude_source(ctx) : NULL;
    if (!prelude) prelude = "";

    gpu_kernel *k = calloc(1, sizeof *k);
    if (!k) return fail(ctx, GPU_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(k->file, sizeof k->file, "%s", file);
    snprintf(k->key, sizeof k->key, "%s", key);
    char err[512];
    /* the prelude declares no bindings: each kernel's interface is its own file */
    int prelude_bindings = 0;
    gpu_status s = gpu_parse_bindings(GPU_PRELUDE, prelude, k->bindings, GPU_MAX_BINDINGS, &prelude_bindings, err,
                                      sizeof err);
    if (s == GPU_OK && prelude_bindings) {
        snprintf(err, sizeof err, "%s declares binding '%.47s': bindings belong in each kernel's own file", GPU_PRELUDE,
                 k->bindings[0].name);
        s = GPU_ERR_BINDING;
    }
    if (s == GPU_OK)
        s = gpu_parse_bindings(file, own, k->bindings, GPU_MAX_BINDINGS, &k->binding_count, err, sizeof err);
    if (s != GPU_OK) {
        free(k);
        return fail(ctx, s, "%s", err);
    }
    k->workgroup_size = default_workgroup_size(own);
    for (int i = 0; i < constant_count; i++)
        if (!strcmp(constants[i].name, "WG")) k->workgroup_size = (uint32_t)constants[i].value;

    /* the kernel's directives, the prelude, then the kernel: WGSL declarations may come in any
     * order */
    size_t pl = strlen(prelude), ol = strlen(own);
    bool newline = pl && prelude[pl - 1] != '\n';
    char directives[256];
    char *src = malloc(sizeof directives + pl + newline + ol + 1);
    if (!src) {
        free(k);
        return fail(ctx, GPU_ERR_OUT_OF_MEMORY, "out of memory");
    }
    char *kernel_part = src + sizeof directives + pl + newline;
    memcpy(kernel_part, own, ol + 1);
    size_t dl = hoist_directives(kernel_part, directives, sizeof directives);
    memcpy(src, directives, dl);
    memcpy(src + dl, prelude, pl);
    if (newline) src[dl + pl] = '\n';
    memmove(src + dl + pl + newline, kernel_part, ol + 1);
    int prelude_lines = count_lines(prelude) + newline;

    /* compile, with errors reported against the file's own lines */
    WGPUShaderSourceWGSL wgsl;
    memset(&wgsl, 0, sizeof wgsl);
    wgsl.chain.sType = WGPUSType_ShaderSourceWGSL;
    wgsl.code = sv(src);
    WGPUShaderModuleDescriptor md;
    memset(&md, 0, sizeof md);
    md.nextInChain = &wgsl.chain;
    md.label = sv(file);
    gpu_scope_push(ctx);
    WGPUShaderModule module = wgpuDeviceCreateShaderModule(ctx->device, &md);
    compile_result cr = {0, ""};
    compile_request req = {&cr, file, prelude_lines};
    WGPUCompilationInfoCallbackInfo ci = {0};
    ci.mode = WGPUCallbackMode_WaitAnyOnly;
    ci.callback = on_compilation_info;
    ci.userdata1 = &req;
    gpu_status ws = wait_future(ctx->instance, wgpuShaderModuleGetCompilationInfo(module, ci), ctx->timeout_ns);
    char what[sizeof k->key + 64];
    snprintf(what, sizeof what, "compiling %s", file);
    s = gpu_scope_pop(ctx, what);
    if (cr.errors) s = fail(ctx, GPU_ERR_SHADER_COMPILE, "%s", cr.message);
    else if (s != GPU_OK) s = GPU_ERR_SHADER_COMPILE;
    else if (ws != GPU_OK) s = fail(ctx, GPU_ERR_TIMEOUT, "compiling %s did not finish", file);
    free(src);
    if (s != GPU_OK) {
        wgpuShaderModuleRelease(module);
        free(k);
        return s;
    }

    /* explicit layout from the declarations, so bindings the entry point does not use still
     * have to be bound, and names map to slots the same way for every kernel */
    WGPUBindGroupLayoutEntry entries[GPU_MAX_BINDINGS];
    memset(entries, 0, sizeof entries);
    for (int i = 0; i < k->binding_count; i++) {
        entries[i].binding = k->bindings[i].binding;
        entries[i].visibility = WGPUShaderStage_Compute;
        entries[i].buffer.type = k->bindings[i].access == GPU_ACCESS_UNIFORM ? WGPUBufferBindingType_Uniform
                                 : k->bindings[i].access == GPU_ACCESS_READ ? WGPUBufferBindingType_ReadOnlyStorage
                                                                            : WGPUBufferBindingType_Storage;
        entries[i].buffer.hasDynamicOffset = k->bindings[i].access == GPU_ACCESS_UNIFORM;
        k->dynamic_offsets += k->bindings[i].access == GPU_ACCESS_UNIFORM;
    }
    WGPUBindGroupLayoutDescriptor ld;
    memset(&ld, 0, sizeof ld);
    ld.label = sv(k->key);
    ld.entryCount = (size_t)k->binding_count;
    ld.entries = entries;
    WGPUConstantEntry ce[GPU_MAX_CONSTANTS];
    memset(ce, 0, sizeof ce);
    int cc = constant_count;
    for (int i = 0; i < cc; i++) {
        ce[i].key = sv(constants[i].name);
        ce[i].value = constants[i].value;
    }
    gpu_scope_push(ctx);
    k->layout = wgpuDeviceCreateBindGroupLayout(ctx->device, &ld);
    WGPUPipelineLayoutDescriptor pld;
    memset(&pld, 0, sizeof pld);
    pld.label = sv(k->key);
    pld.bindGroupLayoutCount = 1;
    pld.bindGroupLayouts = &k->layout;
    k->pipeline_layout = wgpuDeviceCreatePipelineLayout(ctx->device, &pld);
    WGPUComputePipelineDescriptor pd;
    memset(&pd, 0, sizeof pd);
    pd.label = sv(k->key);
    pd.layout = k->pipeline_layout;
    pd.compute.module = module;
    pd.compute.entryPoint = sv("main");
    pd.compute.constantCount = (size_t)cc;
    pd.compute.constants = ce;
    k->pipeline = wgpuDeviceCreateComputePipeline(ctx->device, &pd);
    snprintf(what, sizeof what, "creating the pipeline for %s", k->key);
    s = gpu_scope_pop(ctx, what);
    wgpuShaderModuleRelease(module);
    if (s != GPU_OK) {
        if (k->pipeline) wgpuComputePipelineRelease(k->pipeline);
        if (k->pipeline_layout) wgpuPipelineLayoutRelease(k->pipeline_layout);
        if (k->layout) wgpuBindGroupLayoutRelease(k->layout);
        free(k);
        return s;
    }
    ctx->kernels[ctx->kernel_count++] = k;
    *out = k;
    return GPU_OK;
}

gpu_status gpu_bind_group(gpu_context *ctx, gpu_kernel *k, const gpu_bind *binds, int count, WGPUBindGroup *out) {
    *out = NULL;
    WGPUBindGroupEntry entries[GPU_MAX_BINDINGS];
    memset(entries, 0, sizeof entries);
    bool given[GPU_MAX_BINDINGS] = {0};
    for (int i = 0; i < count; i++) {
        int d = -1;
        for (int j = 0; j < k->binding_count; j++)
            if (!strcmp(k->bindings[j].name, binds[i].name)) d = j;
        if (d < 0)
            return fail(ctx, GPU_ERR_BINDING, "%s declares no binding named '%s'", k->file, binds[i].name);
        if (given[d])
            return fail(ctx, GPU_ERR_BINDING, "%s: binding '%s' is given twice", k->file, binds[i].name);
        given[d] = true;
        gpu_buffer *b = binds[i].buffer;
        if (!b || !b->handle)
            return fail(ctx, GPU_ERR_BINDING, "%s: binding '%s' has no buffer", k->file, binds[i].name);
        bool uniform = k->bindings[d].access == GPU_ACCESS_UNIFORM;
        if (uniform && !(b->usage & WGPUBufferUsage_Uniform))
            return fail(ctx, GPU_ERR_BINDING, "%s: binding '%s' is var<uniform> but buffer %s is not a uniform buffer",
                        k->file, binds[i].name, b->label);
        if (!uniform && !(b->usage & WGPUBufferUsage_Storage))
            return fail(ctx, GPU_ERR_BINDING, "%s: binding '%s' is var<storage> but buffer %s is not a storage buffer",
                        k->file, binds[i].name, b->label);
        entries[i].binding = k->bindings[d].binding;
        entries[i].buffer = b->handle;
        entries[i].offset = binds[i].offset;
        entries[i].size = binds[i].size ? binds[i].size : WGPU_WHOLE_SIZE;
    }
    for (int j = 0; j < k->binding_count; j++)
        if (!given[j])
            return fail(ctx, GPU_ERR_BINDING, "%s: binding '%s' (@binding(%u)) was not given a buffer", k->file,
                        k->bindings[j].name, k->bindings[j].binding);
    WGPUBindGroupDescriptor d;
    memset(&d, 0, sizeof d);
    d.label = sv(k->file);
    d.layout = k->layout;
    d.entryCount = (size_t)count;
    d.entries = entries;
    gpu_scope_push(ctx);
    *out = wgpuDeviceCreateBindGroup(ctx->device, &d);
    char what[256];
    snprintf(what, sizeof what, "binding buffers to %s", k->file);
    gpu_status s = gpu_scope_pop(ctx, what);
    if (s != GPU_OK && *out) {
        wgpuBindGroupRelease(*out);
        *out = NULL;
    }
    return s;
}

gpu_status gpu_groups_1d(gpu_context *ctx, const gpu_kernel *k, uint64_t n, uint32_t *groups) {
    uint64_t g = (n + k->workgroup_size - 1) / k->workgroup_size;
    if (g == 0) g = 1;
    if (g > ctx->info.max_workgroups_per_dim)
        return fail(ctx, GPU_ERR_LIMIT, "%s needs %llu workgroups, over this adapter's limit of %u", k->file,
                    (unsigned long long)g, ctx->info.max_workgroups_per_dim);
    *groups = (uint32_t)g;
    return GPU_OK;
}
