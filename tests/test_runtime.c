/* The GPU runtime's error paths: binding declarations read from WGSL, bindings by name (missing,
 * extra, repeated, wrong kind), shader compile errors with file, line and column, validation
 * errors through error scopes, buffer growth, and readback. Each failure must be the exact
 * gpu_status with a one-line message naming the kernel file and the binding. */
#include <string.h>

#include "check.h"
#include "host/dawn_library.h"
#include "gpu/gpu.h"

static const char *GOOD =
    "// a kernel for the tests\n"
    "struct P { n: u32, a: u32, b: u32, c: u32 }\n"
    "@group(0) @binding(0) var<uniform> p: P;\n"
    "/* a comment with @group(0) @binding(9) var<storage> ghost: array<f32>; inside */\n"
    "@binding(1) @group(0) var<storage, read> src: array<f32>;\n"
    "@group(0) @binding(2)\n  var<storage, read_write> dst: array<f32>;\n"
    "override WG: u32 = 32;\n"
    "@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) g: vec3u) {\n"
    "  if (g.x < p.n) { dst[g.x] = 2.0 * src[g.x]; }\n"
    "}\n";

static const char *BROKEN =
    "@group(0) @binding(0) var<storage, read_write> dst: array<f32>;\n"
    "@compute @workgroup_size(1) fn main() {\n"
    "  dst[0] = undefined_name;\n"
    "}\n";

/* GOOD with a prelude function and a float override: dst = SCALE * twice(src) */
static const char *USES_PRELUDE =
    "struct P { n: u32, a: u32, b: u32, c: u32 }\n"
    "@group(0) @binding(0) var<uniform> p: P;\n"
    "@group(0) @binding(1) var<storage, read> src: array<f32>;\n"
    "@group(0) @binding(2) var<storage, read_write> dst: array<f32>;\n"
    "override WG: u32 = 32;\n"
    "override SCALE: f32 = 1.0;\n"
    "@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) g: vec3u) {\n"
    "  if (g.x < p.n) { dst[g.x] = SCALE * twice(src[g.x]); }\n"
    "}\n";

/* a kernel with a directive: it must reach the compiler in front of the prelude. dst = the
 * subgroup's size, and its sum over the subgroup of ones */
static const char *SUBGROUP_SIZE =
    "// a kernel using subgroups\n"
    "enable subgroups;\n"
    "@group(0) @binding(0) var<storage, read_write> dst: array<f32>;\n"
    "@compute @workgroup_size(32) fn main(@builtin(local_invocation_index) i: u32,\n"
    "                                     @builtin(subgroup_size) sg: u32) {\n"
    "  let lanes = subgroupAdd(1.0);\n"
    "  dst[2u * i] = f32(sg);\n"
    "  dst[2u * i + 1u] = lanes;\n"
    "}\n";

/* ... and an error after a directive: still its own line (4) */
static const char *BROKEN_AFTER_DIRECTIVE =
    "enable subgroups;\n"
    "@group(0) @binding(0) var<storage, read_write> dst: array<f32>;\n"
    "@compute @workgroup_size(1) fn main() {\n"
    "  dst[0] = undefined_name;\n"
    "}\n";

/* the loader's prelude.wgsl; NULL: it has none, and the embedded one applies */
static const char *test_prelude;

static const char *loader(void *user, const char *name) {
    if (!strcmp(name, "good.wgsl")) return GOOD;
    if (!strcmp(name, "broken.wgsl")) return BROKEN;
    if (!strcmp(name, "uses_prelude.wgsl")) return USES_PRELUDE;
    if (!strcmp(name, "prelude.wgsl")) return test_prelude;
    if (!strcmp(name, "subgroup_size.wgsl")) return SUBGROUP_SIZE;
    if (!strcmp(name, "broken_sg.wgsl")) return BROKEN_AFTER_DIRECTIVE;
    return NULL;
}

/* Binds p, src, dst to kernel k, runs n invocations and reads dst back into out. */
static void run_kernel(gpu_context *g, gpu_kernel *k, gpu_buffer *u, gpu_buffer *src, gpu_buffer *dst, uint32_t n,
                       float *out) {
    WGPUBindGroup bg = NULL;
    gpu_bind ok[] = {{"p", u, 0, 16}, {"src", src, 0, 0}, {"dst", dst, 0, 0}};
    CHECK(gpu_bind_group(g, k, ok, 3, &bg) == GPU_OK, "%s", gpu_error(g));
    uint32_t params[4] = {n, 0, 0, 0}, groups = 0;
    CHECK(gpu_buffer_write(g, u, 0, params, sizeof params) == GPU_OK, "%s", gpu_error(g));
    CHECK(gpu_groups_1d(g, k, n, &groups) == GPU_OK, "%s", gpu_error(g));
    if (!bg) return;
    WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(gpu_device(g), NULL);
    WGPUComputePassEncoder pass = wgpuCommandEncoderBeginComputePass(enc, NULL);
    uint32_t zero = 0;
    wgpuComputePassEncoderSetPipeline(pass, k->pipeline);
    wgpuComputePassEncoderSetBindGroup(pass, 0, bg, 1, &zero);
    wgpuComputePassEncoderDispatchWorkgroups(pass, groups, 1, 1);
    wgpuComputePassEncoderEnd(pass);
    wgpuComputePassEncoderRelease(pass);
    WGPUCommandBuffer cmd = wgpuCommandEncoderFinish(enc, NULL);
    wgpuQueueSubmit(gpu_queue(g), 1, &cmd);
    wgpuCommandBufferRelease(cmd);
    wgpuCommandEncoderRelease(enc);
    CHECK(gpu_finish(g) == GPU_OK, "%s", gpu_error(g));
    CHECK(gpu_buffer_read(g, dst, 0, out, (size_t)n * 4) == GPU_OK, "%s", gpu_error(g));
    wgpuBindGroupRelease(bg);
}

static bool one_line(const char *s) { return s && *s && !strchr(s, '\n'); }

static void parse_case(const char *wgsl, gpu_status want, const char *needle) {
    gpu_binding_decl d[GPU_MAX_BINDINGS];
    int n = 0;
    char err[256] = "";
    gpu_status s = gpu_parse_bindings("case.wgsl", wgsl, d, GPU_MAX_BINDINGS, &n, err, sizeof err);
    CHECK(s == want, "parse status %d, want %d (%s) for: %s", s, want, err, wgsl);
    if (needle) CHECK(strstr(err, needle) && strstr(err, "case.wgsl") && one_line(err), "message '%s' should name case.wgsl and contain '%s'", err, needle);
}

int main(void) {
    /* declarations, no GPU needed */
    gpu_binding_decl d[GPU_MAX_BINDINGS];
    int n = 0;
    char err[256];
    CHECK(gpu_parse_bindings("good.wgsl", GOOD, d, GPU_MAX_BINDINGS, &n, err, sizeof err) == GPU_OK, "%s", err);
    CHECK(n == 3, "three bindings (the commented one ignored), got %d", n);
    if (n == 3) {
        CHECK(!strcmp(d[0].name, "p") && d[0].access == GPU_ACCESS_UNIFORM && d[0].binding == 0, "p uniform at 0");
        CHECK(!strcmp(d[1].name, "src") && d[1].access == GPU_ACCESS_READ && d[1].binding == 1, "src read at 1 (attributes in either order)");
        CHECK(!strcmp(d[2].name, "dst") && d[2].access == GPU_ACCESS_READ_WRITE && d[2].binding == 2, "dst read_write at 2 (across lines)");
    }
    parse_case("@group(0) var<storage> x: array<f32>;", GPU_ERR_BINDING, "needs both @group and @binding");
    parse_case("@group(1) @binding(0) var<storage> x: array<f32>;", GPU_ERR_BINDING, "group 1");
    parse_case("@group(0) @binding(0) var<storage> x: array<f32>;\n@group(0) @binding(0) var<storage> y: array<f32>;",
               GPU_ERR_BINDING, "declared twice");
    parse_case("@group(0) @binding(0) var<private> x: f32;", GPU_ERR_BINDING, "unsupported address space");
    parse_case("@group(0) @binding(0) var t: texture_2d<f32>;", GPU_ERR_BINDING, "only var<storage> and var<uniform>");
    parse_case("@group(0) @binding(3) var<storage, read> x: array<f32>;", GPU_OK, NULL);

    CHECK(dawn_library_open(err, sizeof err), "%s", err);
    gpu_context_desc desc = {0};
    desc.backend = WGPUBackendType_Vulkan;
    desc.loader = loader;
    desc.timeout_ms = 20000;
    gpu_context *g = NULL;
    char cerr[1024];
    CHECK(gpu_context_create(&desc, &g, cerr, sizeof cerr) == GPU_OK, "%s", cerr);
    if (!g) return check_exit("test_runtime");

    /* a missing kernel file, and a WGSL error with its line and column */
    gpu_kernel *k = NULL;
    CHECK(gpu_kernel_get(g, "absent.wgsl", NULL, 0, &k) == GPU_ERR_KERNEL_SOURCE, "absent kernel");
    CHECK(strstr(gpu_error(g), "absent.wgsl") != NULL, "names the file: %s", gpu_error(g));
    CHECK(gpu_kernel_get(g, "broken.wgsl", NULL, 0, &k) == GPU_ERR_SHADER_COMPILE, "broken kernel: %s", gpu_error(g));
    CHECK(!strncmp(gpu_error(g), "broken.wgsl:3:", 14) && strstr(gpu_error(g), "error") && one_line(gpu_error(g)),
          "compile error at broken.wgsl:3:col: %s", gpu_error(g));

    /* a good kernel, cached by file and constants */
    gpu_constant wg64[] = {{"WG", 64}};
    gpu_kernel *k2 = NULL, *k3 = NULL;
    CHECK(gpu_kernel_get(g, "good.wgsl", NULL, 0, &k) == GPU_OK, "%s", gpu_error(g));
    CHECK(gpu_kernel_get(g, "good.wgsl", NULL, 0, &k2) == GPU_OK && k2 == k, "cached pipeline reused");
    CHECK(gpu_kernel_get(g, "good.wgsl", wg64, 1, &k3) == GPU_OK && k3 != k && k3->workgroup_size == 64 &&
              k->workgroup_size == 32, "constants make a new pipeline; WG read from the override (%u, %u)",
          k ? k->workgroup_size : 0, k3 ? k3->workgroup_size : 0);

    gpu_buffer u, src, dst;
    CHECK(gpu_buffer_create(g, &u, "params", 256, GPU_UNIFORM) == GPU_OK, "%s", gpu_error(g));
    CHECK(gpu_buffer_create(g, &src, "src", 400, GPU_STORAGE) == GPU_OK, "%s", gpu_error(g));
    CHECK(gpu_buffer_create(g, &dst, "dst", 400, GPU_STORAGE) == GPU_OK, "%s", gpu_error(g));
    WGPUBindGroup bg = NULL;
    gpu_bind missing[] = {{"p", &u, 0, 16}, {"src", &src, 0, 0}};
    CHECK(gpu_bind_group(g, k, missing, 2, &bg) == GPU_ERR_BINDING && strstr(gpu_error(g), "good.wgsl") &&
              strstr(gpu_error(g), "'dst'") && strstr(gpu_error(g), "not given"), "missing: %s", gpu_error(g));
    gpu_bind extra[] = {{"p", &u, 0, 16}, {"src", &src, 0, 0}, {"dst", &dst, 0, 0}, {"bias", &src, 0, 0}};
    CHECK(gpu_bind_group(g, k, extra, 4, &bg) == GPU_ERR_BINDING && strstr(gpu_error(g), "no binding named 'bias'"),
          "extra: %s", gpu_error(g));
    gpu_bind twice[] = {{"p", &u, 0, 16}, {"src", &src, 0, 0}, {"src", &src, 0, 0}};
    CHECK(gpu_bind_group(g, k, twice, 3, &bg) == GPU_ERR_BINDING && strstr(gpu_error(g), "given twice"),
          "twice: %s", gpu_error(g));
    gpu_bind wrong[] = {{"p", &src, 0, 16}, {"src", &src, 0, 0}, {"dst", &dst, 0, 0}};
    CHECK(gpu_bind_group(g, k, wrong, 3, &bg) == GPU_ERR_BINDING && strstr(gpu_error(g), "'p' is var<uniform>") &&
              strstr(gpu_error(g), "src"), "wrong kind: %s", gpu_error(g));
    gpu_bind wrong2[] = {{"p", &u, 0, 16}, {"src", &u, 0, 0}, {"dst", &dst, 0, 0}};
    CHECK(gpu_bind_group(g, k, wrong2, 3, &bg) == GPU_ERR_BINDING && strstr(gpu_error(g), "'src' is var<storage>"),
          "storage given a uniform buffer: %s", gpu_error(g));
    /* a range WebGPU rejects: caught by an error scope, reported as validation */
    gpu_bind past_end[] = {{"p", &u, 0, 16}, {"src", &src, 512, 64}, {"dst", &dst, 0, 0}};
    CHECK(gpu_bind_group(g, k, past_end, 3, &bg) == GPU_ERR_VALIDATION && strstr(gpu_error(g), "good.wgsl") &&
              one_line(gpu_error(g)), "out of range: %s", gpu_error(g));
    CHECK(gpu_health(g) == GPU_OK, "scoped errors do not poison the context: %s", gpu_error(g));

    /* a real dispatch, the result read back */
    float in[100], out[100];
    for (int i = 0; i < 100; i++) in[i] = (float)i - 7.5f;
    CHECK(gpu_buffer_write(g, &src, 0, in, sizeof in) == GPU_OK, "%s", gpu_error(g));
    uint32_t groups = 0;
    CHECK(gpu_groups_1d(g, k, 100, &groups) == GPU_OK && groups == 4, "100 invocations of 32: %u groups", groups);
    memset(out, 0, sizeof out);
    run_kernel(g, k, &u, &src, &dst, 100, out);
    int wrong_values = 0;
    for (int i = 0; i < 100; i++) wrong_values += out[i] != 2.0f * in[i];
    CHECK(wrong_values == 0, "dst = 2 src: %d wrong", wrong_values);

    /* the prelude: the loader's own, in front of every kernel; errors in it name prelude.wgsl,
     * errors after it the kernel's own line */
    test_prelude = "// a test prelude\nfn twice(x: f32) -> f32 {\n    return 2.0 * x;\n}\n";
    gpu_kernels_forget(g);
    gpu_constant scale[] = {{"SCALE", 1.5}};
    CHECK(gpu_kernel_get(g, "uses_prelude.wgsl", scale, 1, &k) == GPU_OK, "a kernel calling the prelude: %s",
          gpu_error(g));
    memset(out, 0, sizeof out);
    run_kernel(g, k, &u, &src, &dst, 100, out);
    wrong_values = 0;
    for (int i = 0; i < 100; i++) wrong_values += out[i] != 3.0f * in[i];
    CHECK(wrong_values == 0, "dst = 1.5 twice(src): %d wrong", wrong_values);
    CHECK(gpu_kernel_get(g, "broken.wgsl", NULL, 0, &k2) == GPU_ERR_SHADER_COMPILE &&
              !strncmp(gpu_error(g), "broken.wgsl:3:", 14), "its own line after a 4-line prelude: %s", gpu_error(g));
    /* subgroups: requested whenever the adapter offers it (lavapipe does); a kernel's `enable`
     * goes in front of the prelude */
    CHECK(gpu_has_subgroups(g) == gpu_info(g)->has_subgroups, "subgroups requested as offered");
    if (gpu_has_subgroups(g)) {
        gpu_kernel *ks = NULL;
        WGPUBindGroup sbg = NULL;
        gpu_bind sb[] = {{"dst", &dst, 0, 0}};
        CHECK(gpu_kernel_get(g, "subgroup_size.wgsl", NULL, 0, &ks) == GPU_OK, "enable before a prelude: %s",
              gpu_error(g));
        if (ks) CHECK(gpu_bind_group(g, ks, sb, 1, &sbg) == GPU_OK, "%s", gpu_error(g));
        if (sbg) {
            WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(gpu_device(g), NULL);
            WGPUComputePassEncoder pass = wgpuCommandEncoderBeginComputePass(enc, NULL);
            wgpuComputePassEncoderSetPipeline(pass, ks->pipeline);
            wgpuComputePassEncoderSetBindGroup(pass, 0, sbg, 0, NULL);
            wgpuComputePassEncoderDispatchWorkgroups(pass, 1, 1, 1);
            wgpuComputePassEncoderEnd(pass);
            wgpuComputePassEncoderRelease(pass);
            gpu_submit(g, enc);
            wgpuBindGroupRelease(sbg);
            CHECK(gpu_finish(g) == GPU_OK, "%s", gpu_error(g));
            CHECK(gpu_buffer_read(g, &dst, 0, out, 64 * 4) == GPU_OK, "%s", gpu_error(g));
            uint32_t lo = gpu_info(g)->subgroup_min_size, hi = gpu_info(g)->subgroup_max_size;
            int bad = 0;
            for (int i = 0; i < 32; i++)
                bad += out[2 * i] != out[2 * i + 1] || out[2 * i] < (float)lo || out[2 * i] > (float)hi;
            CHECK(bad == 0, "subgroup_size %g lanes (adapter: %u..%u), subgroupAdd(1) %g: %d wrong", out[0], lo, hi,
                  out[1], bad);
        }
        CHECK(gpu_kernel_get(g, "broken_sg.wgsl", NULL, 0, &k2) == GPU_ERR_SHADER_COMPILE &&
                  !strncmp(gpu_error(g), "broken_sg.wgsl:4:", 17) && one_line(gpu_error(g)),
              "after a hoisted directive, its own line: %s", gpu_error(g));
    }
    test_prelude = "fn twice(x: f32) -> f32 { return 2.0 * x; }"; /* no newline at its end */
    gpu_kernels_forget(g);
    CHECK(gpu_kernel_get(g, "broken.wgsl", NULL, 0, &k2) == GPU_ERR_SHADER_COMPILE &&
              !strncmp(gpu_error(g), "broken.wgsl:3:", 14), "after a prelude with no final newline: %s", gpu_error(g));
    /* override values that %g would print alike are two pipelines, and the same value one */
    gpu_constant near_a[] = {{"SCALE", 1.0000001}}, near_b[] = {{"SCALE", 1.0000002}};
    CHECK(gpu_kernel_get(g, "uses_prelude.wgsl", near_a, 1, &k) == GPU_OK &&
              gpu_kernel_get(g, "uses_prelude.wgsl", near_b, 1, &k2) == GPU_OK && k != k2,
          "SCALE 1.0000001 and 1.0000002 are two pipelines: %s / %s", k ? k->key : "", k2 ? k2->key : "");
    CHECK(gpu_kernel_get(g, "uses_prelude.wgsl", near_a, 1, &k3) == GPU_OK && k3 == k, "the same value, cached");
    test_prelude = "fn twice(x: f32) -> f32 {\n    return 2.0 * not_declared;\n}\n";
    gpu_kernels_forget(g);
    CHECK(gpu_kernel_get(g, "uses_prelude.wgsl", NULL, 0, &k) == GPU_ERR_SHADER_COMPILE &&
              !strncmp(gpu_error(g), "prelude.wgsl:2:", 15) && one_line(gpu_error(g)),
          "an error in the prelude names its line: %s", gpu_error(g));
    test_prelude = "@group(0) @binding(5) var<storage, read> stray: array<f32>;\nfn twice(x: f32) -> f32 { return x; }\n";
    gpu_kernels_forget(g);
    CHECK(gpu_kernel_get(g, "uses_prelude.wgsl", NULL, 0, &k) == GPU_ERR_BINDING &&
              strstr(gpu_error(g), "prelude.wgsl") && strstr(gpu_error(g), "'stray'"),
          "a binding in the prelude: %s", gpu_error(g));
    test_prelude = NULL;
    gpu_kernels_forget(g);
    gpu_constant many[GPU_MAX_CONSTANTS + 1];
    for (int i = 0; i <= GPU_MAX_CONSTANTS; i++) many[i] = (gpu_constant){"WG", 64};
    CHECK(gpu_kernel_get(g, "good.wgsl", many, GPU_MAX_CONSTANTS + 1, &k) == GPU_ERR_LIMIT &&
              strstr(gpu_error(g), "good.wgsl"), "too many constants: %s", gpu_error(g));
    CHECK(gpu_kernel_get(g, "good.wgsl", NULL, 0, &k) == GPU_OK, "%s", gpu_error(g));

    /* a write past the end, and growth */
    CHECK(gpu_buffer_write(g, &src, 396, in, 8) == GPU_ERR_VALIDATION && strstr(gpu_error(g), "src"),
          "write past the end: %s", gpu_error(g));
    bool changed = false;
    CHECK(gpu_buffer_reserve(g, &src, 200, &changed) == GPU_OK && !changed && src.size == 400, "big enough: kept");
    CHECK(gpu_buffer_reserve(g, &src, 4000, &changed) == GPU_OK && changed && src.size >= 4000 &&
              !strcmp(src.label, "src") && (src.usage & WGPUBufferUsage_Storage), "grown, same label and usage");
    CHECK(gpu_groups_1d(g, k, (uint64_t)gpu_info(g)->max_workgroups_per_dim * 32 + 1, &groups) == GPU_ERR_LIMIT &&
              strstr(gpu_error(g), "good.wgsl"), "too many workgroups: %s", gpu_error(g));

    /* a device that goes away mid-run: the next wait ends with an error, not a hang */
    wgpuDeviceDestroy(gpu_device(g));
    gpu_status lost = gpu_buffer_read(g, &dst, 0, out, sizeof out);
    CHECK(lost != GPU_OK && one_line(gpu_error(g)), "reading from a destroyed device fails: %s (%s)",
          gpu_status_name(lost), gpu_error(g));

    gpu_buffer_destroy(&u);
    gpu_buffer_destroy(&src);
    gpu_buffer_destroy(&dst);
    gpu_context_destroy(g);
    return check_exit("test_runtime");
}
