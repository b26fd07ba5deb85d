/* Exercises every entry point declared in src/gpu/webgpu.h once against Dawn, checking that
 * what comes back makes sense. Our declarations are hand-written from the ABI facts; a wrong
 * enum value, struct layout or callback signature shows up here as a failed check instead of
 * as memory corruption later. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host/dawn_library.h"
#include "gpu/webgpu.h"

static WGPUInstance inst;
static const uint64_t SECOND = 1000000000ull;

static WGPUStringView sv(const char *s) { return (WGPUStringView){s, WGPU_STRLEN}; }

static int wait(WGPUFuture f) {
    WGPUFutureWaitInfo w = {f, 0};
    return wgpuInstanceWaitAny(inst, 1, &w, 10 * SECOND) == WGPUWaitStatus_Success && w.completed;
}

static bool printable(WGPUStringView v) {
    if (!v.data) return false;
    size_t n = v.length == WGPU_STRLEN ? strlen(v.data) : v.length;
    if (n == 0 || n > 4096) return false;
    for (size_t i = 0; i < n; i++)
        if (!isprint((unsigned char)v.data[i]) && v.data[i] != '\n') return false;
    return true;
}

static void on_adapter(WGPURequestAdapterStatus s, WGPUAdapter a, WGPUStringView m, void *u1, void *u2) {
    CHECK(u2 == (void *)0x2222, "userdata2 should arrive intact");
    if (s == WGPURequestAdapterStatus_Success) *(WGPUAdapter *)u1 = a;
}
static void on_device(WGPURequestDeviceStatus s, WGPUDevice d, WGPUStringView m, void *u1, void *u2) {
    if (s == WGPURequestDeviceStatus_Success) *(WGPUDevice *)u1 = d;
}
static int lost_reason = 0;
static void on_lost(WGPUDevice const *d, WGPUDeviceLostReason r, WGPUStringView m, void *u1, void *u2) {
    CHECK(u1 == (void *)0x1111, "device-lost userdata1 should arrive intact");
    lost_reason = (int)r;
}
static int uncaptured = 0;
static void on_uncaptured(WGPUDevice const *d, WGPUErrorType t, WGPUStringView m, void *u1, void *u2) { uncaptured++; }

typedef struct pop_result { WGPUErrorType type; char msg[512]; int status; } pop_result;
static void on_pop(WGPUPopErrorScopeStatus s, WGPUErrorType t, WGPUStringView m, void *u1, void *u2) {
    pop_result *r = u1;
    r->status = (int)s;
    r->type = t;
    snprintf(r->msg, sizeof r->msg, "%.*s", m.data ? (int)(m.length == WGPU_STRLEN ? strlen(m.data) : m.length) : 0,
             m.data ? m.data : "");
}
typedef struct comp_result { int errors; uint64_t line, col; int called; } comp_result;
static void on_compile(WGPUCompilationInfoRequestStatus s, WGPUCompilationInfo const *info, void *u1, void *u2) {
    comp_result *r = u1;
    r->called = 1;
    for (size_t i = 0; info && i < info->messageCount; i++)
        if (info->messages[i].type == WGPUCompilationMessageType_Error && r->errors++ == 0) {
            r->line = info->messages[i].lineNum;
            r->col = info->messages[i].linePos;
        }
}
static int map_status = 0;
static void on_map(WGPUMapAsyncStatus s, WGPUStringView m, void *u1, void *u2) { map_status = (int)s; }

static pop_result pop(WGPUDevice dev) {
    pop_result r = {0, "", 0};
    WGPUPopErrorScopeCallbackInfo cb = {NULL, WGPUCallbackMode_WaitAnyOnly, on_pop, &r, NULL};
    CHECK(wait(wgpuDevicePopErrorScope(dev, cb)), "PopErrorScope future should complete");
    return r;
}

static const char *KERNEL =
    "override SCALE: f32 = 1.0;\n"
    "struct P { add: f32, pad0: f32, pad1: f32, pad2: f32 }\n"
    "@group(0) @binding(0) var<uniform> p: P;\n"
    "@group(0) @binding(1) var<storage, read> src: array<f32>;\n"
    "@group(0) @binding(2) var<storage, read_write> dst: array<f32>;\n"
    "@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {\n"
    "  if (g.x < arrayLength(&dst)) { dst[g.x] = src[g.x] * SCALE + p.add; }\n"
    "}\n";

int main(void) {
    char err[512];
    if (!dawn_library_open(err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    WGPUInstanceDescriptor idesc;
    memset(&idesc, 0, sizeof idesc);
    idesc.capabilities.timedWaitAnyEnable = 1;
    inst = wgpuCreateInstance(&idesc);
    CHECK(inst != NULL, "wgpuCreateInstance");

    WGPURequestAdapterOptions opts;
    memset(&opts, 0, sizeof opts);
    opts.backendType = WGPUBackendType_Vulkan;
    opts.powerPreference = WGPUPowerPreference_HighPerformance;
    WGPUAdapter adapter = NULL;
    WGPURequestAdapterCallbackInfo acb = {NULL, WGPUCallbackMode_WaitAnyOnly, on_adapter, &adapter, (void *)0x2222};
    CHECK(wait(wgpuInstanceRequestAdapter(inst, &opts, acb)), "RequestAdapter future");
    CHECK(adapter != NULL, "a Vulkan adapter (lavapipe or a GPU) is needed");
    if (!adapter) return check_exit("test_abi");

    struct { WGPUAdapterInfo info; unsigned char room[256]; } ai;
    memset(&ai, 0, sizeof ai);
    CHECK(wgpuAdapterGetInfo(adapter, &ai.info) == WGPUStatus_Success, "GetInfo");
    CHECK(printable(ai.info.device), "adapter device name should be printable text");
    CHECK(printable(ai.info.description), "adapter description should be printable text");
    CHECK(ai.info.backendType == WGPUBackendType_Vulkan, "backendType %d should be Vulkan", ai.info.backendType);
    CHECK(ai.info.adapterType >= WGPUAdapterType_DiscreteGPU && ai.info.adapterType <= WGPUAdapterType_Unknown,
          "adapterType %d in range", ai.info.adapterType);
    CHECK(ai.info.subgroupMinSize >= 1 && ai.info.subgroupMinSize <= ai.info.subgroupMaxSize &&
              ai.info.subgroupMaxSize <= 128,
          "subgroup sizes %u..%u (the last fields of AdapterInfo)", ai.info.subgroupMinSize, ai.info.subgroupMaxSize);
    wgpuAdapterInfoFreeMembers(ai.info);

    struct { WGPULimits l; unsigned char room[512]; } lim;
    memset(&lim, 0, sizeof lim);
    CHECK(wgpuAdapterGetLimits(adapter, &lim.l) == WGPUStatus_Success, "GetLimits");
    CHECK(lim.l.maxBindGroups >= 4 && lim.l.maxBindGroups <= 64, "maxBindGroups %u", lim.l.maxBindGroups);
    CHECK(lim.l.maxStorageBufferBindingSize >= (128u << 20), "maxStorageBufferBindingSize %llu",
          (unsigned long long)lim.l.maxStorageBufferBindingSize);
    CHECK(lim.l.minStorageBufferOffsetAlignment >= 4 && lim.l.minStorageBufferOffsetAlignment <= 256 &&
              !(lim.l.minStorageBufferOffsetAlignment & (lim.l.minStorageBufferOffsetAlignment - 1)),
          "minStorageBufferOffsetAlignment %u is a power of two", lim.l.minStorageBufferOffsetAlignment);
    CHECK(lim.l.maxBufferSize >= (256u << 20), "maxBufferSize %llu", (unsigned long long)lim.l.maxBufferSize);
    CHECK(lim.l.maxComputeWorkgroupSizeX >= 256 && lim.l.maxComputeInvocationsPerWorkgroup >= 256 &&
              lim.l.maxComputeWorkgroupsPerDimension >= 65535,
          "compute limits %u %u %u", lim.l.maxComputeWorkgroupSizeX, lim.l.maxComputeInvocationsPerWorkgroup,
          lim.l.maxComputeWorkgroupsPerDimension);
    CHECK(lim.l.maxComputeWorkgroupStorageSize >= 16384, "workgroup storage %u", lim.l.maxComputeWorkgroupStorageSize);
    bool has_ts = wgpuAdapterHasFeature(adapter, WGPUFeatureName_TimestampQuery);
    CHECK(!wgpuAdapterHasFeature(adapter, (WGPUFeatureName)0x7FFFFFF0), "a made-up feature is not supported");

    /* device, with a toggles descriptor chained, every callback's userdata checked */
    const char *toggles[] = {"disable_symbol_renaming"};
    WGPUDawnTogglesDescriptor td;
    memset(&td, 0, sizeof td);
    td.chain.sType = WGPUSType_DawnTogglesDescriptor;
    td.enabledToggleCount = 1;
    td.enabledToggles = toggles;
    WGPUFeatureName feats[1] = {WGPUFeatureName_TimestampQuery};
    WGPUDeviceDescriptor dd;
    memset(&dd, 0, sizeof dd);
    dd.nextInChain = &td.chain;
    dd.label = sv("abi-test");
    dd.requiredFeatureCount = has_ts ? 1 : 0;
    dd.requiredFeatures = feats;
    dd.deviceLostCallbackInfo = (WGPUDeviceLostCallbackInfo){NULL, WGPUCallbackMode_AllowProcessEvents, on_lost,
                                                             (void *)0x1111, NULL};
    dd.uncapturedErrorCallbackInfo = (WGPUUncapturedErrorCallbackInfo){NULL, on_uncaptured, NULL, NULL};
    WGPUDevice dev = NULL;
    WGPURequestDeviceCallbackInfo dcb = {NULL, WGPUCallbackMode_WaitAnyOnly, on_device, &dev, NULL};
    CHECK(wait(wgpuAdapterRequestDevice(adapter, &dd, dcb)), "RequestDevice future");
    CHECK(dev != NULL, "device");
    if (!dev) return check_exit("test_abi");
    CHECK(wgpuDeviceHasFeature(dev, WGPUFeatureName_TimestampQuery) == (WGPUBool)has_ts, "device feature matches request");
    WGPUQueue q = wgpuDeviceGetQueue(dev);

    /* a shader error reports its line and column through compilation info */
    WGPUShaderSourceWGSL bad_src = {{NULL, WGPUSType_ShaderSourceWGSL}, sv("@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = undefined_thing;\n}\n")};
    WGPUShaderModuleDescriptor bad_md = {&bad_src.chain, sv("bad")};
    wgpuDevicePushErrorScope(dev, WGPUErrorFilter_Validation);
    WGPUShaderModule bad = wgpuDeviceCreateShaderModule(dev, &bad_md);
    comp_result cr = {0, 0, 0, 0};
    WGPUCompilationInfoCallbackInfo ccb = {NULL, WGPUCallbackMode_WaitAnyOnly, on_compile, &cr, NULL};
    CHECK(wait(wgpuShaderModuleGetCompilationInfo(bad, ccb)), "GetCompilationInfo future");
    CHECK(cr.called && cr.errors >= 1, "a compile error is reported");
    CHECK(cr.line == 3 && cr.col == 16, "error at line 3 column 16, got %llu:%llu", (unsigned long long)cr.line,
          (unsigned long long)cr.col);
    pop_result pr = pop(dev);
    CHECK(pr.status == WGPUPopErrorScopeStatus_Success && pr.type == WGPUErrorType_Validation && pr.msg[0],
          "the bad module is a validation error with a message (status %d type %d)", pr.status, pr.type);
    wgpuShaderModuleRelease(bad);

    /* a working kernel: explicit layout (uniform with dynamic offset + two storage buffers),
     * an override constant, and a dispatch whose result proves every layout was read right */
    WGPUShaderSourceWGSL src = {{NULL, WGPUSType_ShaderSourceWGSL}, sv(KERNEL)};
    WGPUShaderModuleDescriptor md = {&src.chain, sv("abi-kernel")};
    wgpuDevicePushErrorScope(dev, WGPUErrorFilter_Validation);
    WGPUShaderModule mod = wgpuDeviceCreateShaderModule(dev, &md);
    WGPUBindGroupLayoutEntry e[3];
    memset(e, 0, sizeof e);
    for (int i = 0; i < 3; i++) {
        e[i].binding = (uint32_t)i;
        e[i].visibility = WGPUShaderStage_Compute;
    }
    e[0].buffer.type = WGPUBufferBindingType_Uniform;
    e[0].buffer.hasDynamicOffset = 1;
    e[1].buffer.type = WGPUBufferBindingType_ReadOnlyStorage;
    e[2].buffer.type = WGPUBufferBindingType_Storage;
    WGPUBindGroupLayoutDescriptor bld = {NULL, sv("abi-bgl"), 3, e};
    WGPUBindGroupLayout bgl = wgpuDeviceCreateBindGroupLayout(dev, &bld);
    WGPUPipelineLayoutDescriptor pld = {NULL, sv("abi-pl"), 1, &bgl, 0};
    WGPUPipelineLayout pl = wgpuDeviceCreatePipelineLayout(dev, &pld);
    WGPUConstantEntry ce = {NULL, sv("SCALE"), 3.0};
    WGPUComputePipelineDescriptor cpd;
    memset(&cpd, 0, sizeof cpd);
    cpd.label = sv("abi-pipeline");
    cpd.layout = pl;
    cpd.compute.module = mod;
    cpd.compute.entryPoint = sv("main");
    cpd.compute.constantCount = 1;
    cpd.compute.constants = &ce;
    WGPUComputePipeline pipe = wgpuDeviceCreateComputePipeline(dev, &cpd);
    enum { N = 100 };
    WGPUBufferDescriptor ud = {NULL, sv("uniform"), WGPUBufferUsage_Uniform | WGPUBufferUsage_CopyDst, 512, 0};
    WGPUBufferDescriptor sd = {NULL, sv("src"), WGPUBufferUsage_Storage | WGPUBufferUsage_CopyDst, N * 4, 0};
    WGPUBufferDescriptor od = {NULL, sv("dst"), WGPUBufferUsage_Storage | WGPUBufferUsage_CopySrc | WGPUBufferUsage_CopyDst, N * 4, 0};
    WGPUBufferDescriptor rd = {NULL, sv("read"), WGPUBufferUsage_MapRead | WGPUBufferUsage_CopyDst, N * 4 + 64, 0};
    WGPUBuffer ub = wgpuDeviceCreateBuffer(dev, &ud), sb = wgpuDeviceCreateBuffer(dev, &sd);
    WGPUBuffer ob = wgpuDeviceCreateBuffer(dev, &od), rb = wgpuDeviceCreateBuffer(dev, &rd);
    CHECK(wgpuBufferGetSize(sb) == N * 4, "GetSize %llu", (unsigned long long)wgpuBufferGetSize(sb));
    float host[N], add[64] = {0};
    for (int i = 0; i < N; i++) host[i] = (float)i;
    add[0] = 100.0f;  /* offset 0 */
    float add2[4] = {7.0f, 0, 0, 0};
    wgpuQueueWriteBuffer(q, ub, 0, add, 16);
    wgpuQueueWriteBuffer(q, ub, 256, add2, 16); /* the dynamic offset picks this one */
    wgpuQueueWriteBuffer(q, sb, 0, host, sizeof host);
    WGPUBindGroupEntry be[3];
    memset(be, 0, sizeof be);
    be[0] = (WGPUBindGroupEntry){NULL, 0, ub, 0, 16, NULL, NULL};
    be[1] = (WGPUBindGroupEntry){NULL, 1, sb, 0, WGPU_WHOLE_SIZE, NULL, NULL};
    be[2] = (WGPUBindGroupEntry){NULL, 2, ob, 0, WGPU_WHOLE_SIZE, NULL, NULL};
    WGPUBindGroupDescriptor bgd = {NULL, sv("abi-bg"), bgl, 3, be};
    WGPUBindGroup bg = wgpuDeviceCreateBindGroup(dev, &bgd);
    WGPUQuerySet qs = NULL;
    WGPUBuffer qb = NULL;
    if (has_ts) {
        WGPUQuerySetDescriptor qd = {NULL, sv("ts"), WGPUQueryType_Timestamp, 2};
        qs = wgpuDeviceCreateQuerySet(dev, &qd);
        WGPUBufferDescriptor qbd = {NULL, sv("ts-resolve"), WGPUBufferUsage_QueryResolve | WGPUBufferUsage_CopySrc, 256, 0};
        qb = wgpuDeviceCreateBuffer(dev, &qbd);
    }
    WGPUCommandEncoderDescriptor ced = {NULL, sv("abi-encoder")};
    WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(dev, &ced);
    wgpuCommandEncoderClearBuffer(enc, ob, 0, N * 4);
    WGPUPassTimestampWrites tw = {NULL, qs, 0, 1};
    WGPUComputePassDescriptor cpd2 = {NULL, sv("abi-pass"), has_ts ? &tw : NULL};
    WGPUComputePassEncoder pass = wgpuCommandEncoderBeginComputePass(enc, &cpd2);
    wgpuComputePassEncoderSetPipeline(pass, pipe);
    uint32_t dyn = 256;
    wgpuComputePassEncoderSetBindGroup(pass, 0, bg, 1, &dyn);
    wgpuComputePassEncoderDispatchWorkgroups(pass, 2, 1, 1);
    wgpuComputePassEncoderEnd(pass);
    wgpuComputePassEncoderRelease(pass);
    if (has_ts) wgpuCommandEncoderResolveQuerySet(enc, qs, 0, 2, qb, 0);
    wgpuCommandEncoderCopyBufferToBuffer(enc, ob, 0, rb, 0, N * 4);
    if (has_ts) wgpuCommandEncoderCopyBufferToBuffer(enc, qb, 0, rb, N * 4, 16);
    WGPUCommandBufferDescriptor cbd = {NULL, sv("abi-commands")};
    WGPUCommandBuffer cmd = wgpuCommandEncoderFinish(enc, &cbd);
    wgpuQueueSubmit(q, 1, &cmd);
    wgpuCommandBufferRelease(cmd);
    wgpuCommandEncoderRelease(enc);
    WGPUBufferMapCallbackInfo mcb = {NULL, WGPUCallbackMode_AllowProcessEvents, on_map, NULL, NULL};
    WGPUFuture mf = wgpuBufferMapAsync(rb, WGPUMapMode_Read, 0, N * 4 + 64, mcb);
    CHECK(wait(mf), "MapAsync future");
    wgpuInstanceProcessEvents(inst);
    CHECK(map_status == WGPUMapAsyncStatus_Success, "map status %d", map_status);
    const float *out = wgpuBufferGetConstMappedRange(rb, 0, N * 4 + 64);
    CHECK(out != NULL, "GetConstMappedRange");
    if (out) {
        int wrong = 0;
        for (int i = 0; i < N; i++) wrong += out[i] != (float)i * 3.0f + 7.0f;
        CHECK(wrong == 0, "dst = src * SCALE(3) + add(7 at dynamic offset 256): %d wrong, dst[5] = %g", wrong, out[5]);
        if (has_ts) {
            const uint64_t *ts = (const uint64_t *)(out + N);
            CHECK(ts[1] >= ts[0], "timestamps in order: %llu %llu", (unsigned long long)ts[0], (unsigned long long)ts[1]);
        }
    }
    wgpuBufferUnmap(rb);
    pr = pop(dev);
    CHECK(pr.type == WGPUErrorType_NoError, "the working kernel raised no error: %s", pr.msg);

    /* an invalid call is caught by an error scope, not by the uncaptured callback */
    wgpuDevicePushErrorScope(dev, WGPUErrorFilter_Validation);
    WGPUBufferDescriptor badbuf = {NULL, sv("too-big"), WGPUBufferUsage_MapRead | WGPUBufferUsage_Storage, 16, 0};
    WGPUBuffer bb = wgpuDeviceCreateBuffer(dev, &badbuf);
    pr = pop(dev);
    CHECK(pr.type == WGPUErrorType_Validation && strlen(pr.msg) > 0, "MapRead|Storage is a validation error: type %d", pr.type);
    CHECK(uncaptured == 0, "no uncaptured errors");
    if (bb) wgpuBufferRelease(bb);

    if (qs) {
        wgpuQuerySetDestroy(qs);
        wgpuQuerySetRelease(qs);
        wgpuBufferRelease(qb);
    }
    wgpuBindGroupRelease(bg);
    wgpuComputePipelineRelease(pipe);
    wgpuPipelineLayoutRelease(pl);
    wgpuBindGroupLayoutRelease(bgl);
    wgpuShaderModuleRelease(mod);
    wgpuBufferDestroy(ub);
    wgpuBufferRelease(ub);
    wgpuBufferRelease(sb);
    wgpuBufferRelease(ob);
    wgpuBufferRelease(rb);
    wgpuQueueRelease(q);
    wgpuDeviceDestroy(dev);
    wgpuInstanceProcessEvents(inst);
    CHECK(lost_reason == WGPUDeviceLostReason_Destroyed, "Destroy reports reason Destroyed, got %d", lost_reason);
    wgpuDeviceRelease(dev);
    wgpuAdapterRelease(adapter);
    wgpuInstanceRelease(inst);
    return check_exit("test_abi");
}
