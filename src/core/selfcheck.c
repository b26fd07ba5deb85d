/* Kernel-versus-reference checks; see selfcheck.h. */
#include "core/selfcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/health.h"
#include "core/mlp.h"
#include "core/reference.h"
#include "core/tiles.h"

/* ---- random inputs ---- */

static uint64_t next(uint64_t *s) { return mlp_splitmix64(s); }

static float rnd(uint64_t *s, float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(next(s) >> 11) / 9007199254740992.0);
}

static void fill(uint64_t *s, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = rnd(s, lo, hi);
}

static void fill_bytes(uint64_t *s, uint8_t *x, size_t n, unsigned mod) {
    for (size_t i = 0; i < n; i++) x[i] = (uint8_t)(next(s) % mod);
}

static void permutation(uint64_t *s, uint32_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) p[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(next(s) % i), t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
}

/* ---- comparing ---- */

static void compare(selfcheck_result *r, const float *gpu, const float *ref, size_t n) {
    double diff = 0, norm = 0, max_abs = 0;
    bool nan = false;
    for (size_t i = 0; i < n; i++) {
        if (isnan(gpu[i]) || isinf(gpu[i])) nan = true;
        double d = (double)gpu[i] - (double)ref[i];
        diff += d * d;
        norm += (double)ref[i] * ref[i];
        if (fabs(d) > max_abs) max_abs = fabs(d);
    }
    r->has_nan = nan;
    r->max_abs = max_abs;
    r->rel_error = norm > 0 ? sqrt(diff / norm) : sqrt(diff);
    r->pass = !nan && r->rel_error < SELFCHECK_TOLERANCE;
}

typedef struct harness {
    gpu_context *gpu;
    selfcheck_report report;
    void *user;
    int failures;
    /* check the tiled dense kernels at every shape: on GPUs, where they train. On CPU adapters
     * (lavapipe, SwiftShader), where compiling one takes seconds (its staged rounds and
     * barriers), a few shapes that cover every bound and round case stand for the rest. */
    bool tiled_everywhere;
} harness;

static void emit(harness *h, selfcheck_result *r) {
    if (!r->pass) h->failures++;
    if (h->report) h->report(h->user, r);
}

static void emit_compare(harness *h, const char *kernel, const char *tensor, const char *shape, const float *gpu,
                         const float *ref, size_t n) {
    selfcheck_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.kernel, sizeof r.kernel, "%s", kernel);
    snprintf(r.tensor, sizeof r.tensor, "%s", tensor);
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    compare(&r, gpu, ref, n);
    emit(h, &r);
}

static void emit_exact(harness *h, const char *kernel, const char *tensor, const char *shape, const uint32_t *gpu,
                       const uint32_t *ref, size_t n) {
    selfcheck_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.kernel, sizeof r.kernel, "%s", kernel);
    snprintf(r.tensor, sizeof r.tensor, "%s", tensor);
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += gpu[i] != ref[i];
    r.max_abs = (double)wrong;
    r.rel_error = n ? (double)wrong / (double)n : 0;
    r.pass = wrong == 0;
    emit(h, &r);
}

static void emit_error(harness *h, const char *kernel, const char *shape, const char *msg) {
    selfcheck_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.kernel, sizeof r.kernel, "%s", kernel);
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    snprintf(r.error, sizeof r.error, "%s", msg);
    r.pass = false;
    emit(h, &r);
}

/* ---- one kernel run: buffers by name, NaN-poisoned outputs, one dispatch ---- */

enum { IN, OUT, INOUT, UNI }; /* OUT is poisoned before the run; OUT and INOUT are read back */

typedef struct arg {
    const char *name;
    void *host; /* data to upload, or to receive */
    size_t bytes;
    int kind;
} arg;

static bool run_kernel(harness *h, const char *file, const gpu_constant *consts, int nconst, arg *args, int nargs,
                       uint64_t invocations, const char *shape) {
    gpu_context *g = h->gpu;
    gpu_kernel *k;
    gpu_status s = tiles_kernel_get(g, file, consts, nconst, &k);
    gpu_buffer bufs[GPU_MAX_BINDINGS];
    gpu_bind binds[GPU_MAX_BINDINGS];
    memset(bufs, 0, sizeof bufs);
    int made = 0;
    for (int i = 0; s == GPU_OK && i < nargs; i++, made++) {
        s = gpu_buffer_create(g, &bufs[i], args[i].name, args[i].bytes, args[i].kind == UNI ? GPU_UNIFORM : GPU_STORAGE);
        if (s != GPU_OK) break;
        size_t padded = (args[i].bytes + 3) & ~(size_t)3;
        unsigned char *tmp = malloc(padded);
        if (!tmp) break;
        if (args[i].kind == OUT) memset(tmp, 0xff, padded); /* poison: NaN in every float, ~0 in every u32 */
        else {
            memset(tmp, 0, padded);
            memcpy(tmp, args[i].host, args[i].bytes);
        }
        s = gpu_buffer_write(g, &bufs[i], 0, tmp, padded);
        free(tmp);
        binds[i].name = args[i].name;
        binds[i].buffer = &bufs[i];
        binds[i].offset = 0;
        binds[i].size = args[i].kind == UNI ? args[i].bytes : 0;
    }
    WGPUBindGroup bg = NULL;
    uint32_t groups = 1;
    if (s == GPU_OK) s = gpu_bind_group(g, k, binds, nargs, &bg);
    if (s == GPU_OK) s = gpu_groups_1d(g, k, invocations, &groups);
    if (s == GPU_OK) {
        gpu_scope_push(g);
        WGPUCommandEncoder enc = wgpuDeviceCreateCommandEncoder(gpu_device(g), NULL);
        WGPUComputePassEncoder pass = wgpuCommandEncoderBeginComputePass(enc, NULL);
        uint32_t zero = 0;
        wgpuComputePassEncoderSetPipeline(pass, k->pipeline);
        wgpuComputePassEncoderSetBindGroup(pass, 0, bg, 1, &zero);
        wgpuComputePassEncoderDispatchWorkgroups(pass, groups, 1, 1);
        wgpuComputePassEncoderEnd(pass);
        wgpuComputePassEncoderRelease(pass);
        gpu_submit(g, enc);
        s = gpu_scope_pop(g, file);
    }
    for (int i = 0; s == GPU_OK && i < nargs; i++)
        if (args[i].kind == OUT || args[i].kind == INOUT) s = gpu_buffer_read(g, &bufs[i], 0, args[i].host, args[i].bytes);
    if (bg) wgpuBindGroupRelease(bg);
    for (int i = 0; i < made; i++) gpu_buffer_destroy(&bufs[i]);
    if (s != GPU_OK) {
        emit_error(h, file, shape, gpu_error(g));
        return false;
    }
    return true;
}

typedef struct step_params { /* the kernels' Step: most read the first four fields */
    uint32_t start, count;
    float lr;
    uint32_t index;
    float bc1, bc2;
    uint32_t noise;
    float momentum; /* the SGD family's momentum or Adam's beta1 */
    uint32_t health;
} step_params;

/* u8 arrays travel as packed words; pad a copy to whole words */
static uint8_t *padded_bytes(const uint8_t *src, size_t n) {
    uint8_t *p = calloc((n + 3) & ~(size_t)3, 1);
    if (p) memcpy(p, src, n);
    return p;
}

static float *alloc_floats(size_t n) { return malloc((n ? n : 1) * sizeof(float)); }

/* input_gather: B samples of D pixels gathered through a permutation of N = B + 5 images. */
static void check_gather(harness *h, uint64_t *rng, int B, int D) {
    char shape[48];
    snprintf(shape, sizeof shape, "B=%d D=%d", B, D);
    uint32_t N = (uint32_t)B + 5, start = 3;
    uint8_t *images = malloc((size_t)N * D), *gimages = NULL;
    uint32_t *order = malloc(N * 4);
    float *x = alloc_floats((size_t)B * D), *got = alloc_floats((size_t)B * D);
    if (images && order && x && got) {
        fill_bytes(rng, images, (size_t)N * D, 256);
        permutation(rng, order, N);
        gimages = padded_bytes(images, (size_t)N * D);
        input_gather_forward(x, images, order, start, B, D);
        step_params sp = {start, (uint32_t)B, 0.0f, 0, 0, 0, 0, 0, 0};
        gpu_constant cg[] = {{"INPUTS", D}};
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"images", gimages, ((size_t)N * D + 3) & ~(size_t)3, IN},
                   {"order", order, N * 4, IN}, {"x", got, (size_t)B * D * 4, OUT}};
        if (gimages && run_kernel(h, "input_gather.wgsl", cg, 1, a, 4, (uint64_t)B * D, shape))
            emit_compare(h, "input_gather.wgsl", "x", shape, got, x, (size_t)B * D);
    }
    free(images), free(gimages), free(order), free(x), free(got);
}

/* dense_forward with activation act, and dense_backward into a previous layer whose
 * activation is act (HAS_PREV) or into the data (no dprev), at B x I -> O. */
static void check_dense(harness *h, uint64_t *rng, int B, int I, int O, model_activation act, float drop, bool tiled_here) {
    int shapes = tiled_here || h->tiled_everywhere ? 2 : 1;
    char shape[64];
    snprintf(shape, sizeof shape, "B=%d %d->%d %s%s", B, I, O, model_activation_name(act), drop > 0 ? " dropout" : "");
    const uint32_t noise = (uint32_t)next(rng), layer = 1; /* this layer's mask; the previous one is layer 0 */
    size_t nin = (size_t)B * I, nout = (size_t)B * O, nw = (size_t)O * I;
    float *inp = alloc_floats(nin), *w = alloc_floats(nw), *bias = alloc_floats((size_t)O);
    float *pre = alloc_floats(nout), *out = alloc_floats(nout), *gpre = alloc_floats(nout), *gout = alloc_floats(nout);
    float *dz = alloc_floats(nout), *prev_pre = alloc_floats(nin), *dinp = alloc_floats(nin), *dprev = alloc_floats(nin);
    float *dw = alloc_floats(nw), *db = alloc_floats((size_t)O), *gdw = alloc_floats(nw), *gdb = alloc_floats((size_t)O);
    float *gdprev = alloc_floats(nin), dummy[4] = {0, 0, 0, 0};
    if (!inp || !w || !bias || !pre || !out || !gpre || !gout || !dz || !prev_pre || !dinp || !dprev || !dw || !db ||
        !gdw || !gdb || !gdprev) {
        emit_error(h, "dense", shape, "out of memory");
        goto done;
    }
    fill(rng, inp, nin, -1.5f, 1.5f);
    fill(rng, w, nw, -0.3f, 0.3f);
    fill(rng, bias, (size_t)O, -0.2f, 0.2f);
    dense_forward(pre, inp, w, bias, B, I, O);
    activation_forward(out, pre, (int)nout, act);
    if (drop > 0) dropout_forward(out, out, (int)nout, drop, noise, layer);
    /* both shapes of the kernels (mlp.h, mlp_shape): streaming and tiled, on any adapter, the
     * tiled forward on its small and its wide tiles (tiles_dense_forward_wide) */
    for (int run = 0; run < (shapes == 2 ? 3 : 1); run++) {
        bool tiled = run > 0, wide = run == 2;
        const char *file = tiled ? tiles_dense_forward_tiled_name(wide) : "dense_forward.wgsl";
        uint64_t inv = tiled ? (uint64_t)tiles_dense_forward_tiled_groups((uint32_t)B, (uint32_t)O, wide) *
                                   tiles_dense_forward_tiled_wg(wide)
                             : tiles_dense_forward_invocations((uint32_t)B, (uint32_t)O);
        step_params sp = {0, (uint32_t)B, 0.0f, 0, 0, 0, noise, 0, 0};
        gpu_constant cf[] = {{"IN", I}, {"OUT", O}, {"ACT", act}, {"STORE_PRE", 1}, {"DROPOUT", drop}, {"LAYER", layer}};
        /* the tiled kernel's GATHER bindings, unused here (check_gather_dense) */
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"inp", inp, nin * 4, IN}, {"w", w, nw * 4, IN},
                   {"bias", bias, (size_t)O * 4, IN}, {"pre", gpre, nout * 4, OUT}, {"out", gout, nout * 4, OUT},
                   {"images", dummy, 16, IN}, {"order", dummy, 16, IN}, {"x", dummy, 16, INOUT}};
        if (run_kernel(h, file, cf, 6, a, tiled ? 9 : 6, inv, shape)) {
            emit_compare(h, file, "pre", shape, gpre, pre, nout);
            emit_compare(h, file, "out", shape, gout, out, nout);
        }
    }
    fill(rng, dz, nout, -0.2f, 0.2f);
    fill(rng, prev_pre, nin, -2.0f, 2.0f);
    dense_backward(dinp, dw, db, dz, inp, w, B, I, O);
    activation_backward(dprev, prev_pre, dinp, (int)nin, act);
    if (drop > 0) dropout_forward(dprev, dprev, (int)nin, drop, noise, layer - 1);
    /* streaming, then tiled (dw and db in one binding) in one slice and in three slices of the
     * batch whose partials the host adds in order, as grad_slices_sum.wgsl does; then a first
     * layer's on the wide tiles (dense_backward_wide: no dprev), in one slice and in three */
    int runs = shapes == 2 ? 8 : 2;
    for (int run = 0; run < runs; run++) {
        int wide = run >= 6, has_prev = run % 2 == 0 && !wide, tiled = run >= 2;
        int slices = run >= 4 && run != 6 ? 3 : 1;
        const char *file = wide ? "dense_backward_wide.wgsl" : tiled ? "dense_backward_tiled.wgsl" : "dense_backward.wgsl";
        step_params sp = {0, (uint32_t)B, 0.0f, 0, 0, 0, noise, 0, 0};
        size_t stride = nw + (size_t)O, ngrad = (size_t)slices * stride;
        float *grad = tiled ? alloc_floats(ngrad) : NULL;
        if (tiled && !grad) break;
        gpu_constant cb[] = {{"IN", I}, {"OUT", O}, {"PREV_ACT", act}, {"HAS_PREV", has_prev}, {"PREV_DROPOUT", drop},
                             {"PREV_LAYER", layer - 1}, {"DB_OFF", (double)nw}, {"SLICES", slices},
                             {"SLICE_ROWS", (B + slices - 1) / slices}, {"SLICE_STRIDE", (double)stride}};
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"dz", dz, nout * 4, IN}, {"inp", inp, nin * 4, IN},
                   {"w", w, nw * 4, IN}, {"prev_pre", has_prev ? prev_pre : dummy, has_prev ? nin * 4 : 16, IN},
                   {"dprev", has_prev ? gdprev : dummy, has_prev ? nin * 4 : 16, OUT},
                   {"dw", gdw, nw * 4, OUT}, {"db", gdb, (size_t)O * 4, OUT}};
        if (tiled) a[6] = (arg){"grad", grad, ngrad * 4, OUT};
        uint64_t inv = tiled ? (uint64_t)tiles_dense_backward_tiled_groups((uint32_t)B, (uint32_t)I, (uint32_t)O, has_prev,
                                                                           (uint32_t)slices) * TILE_DBT_WG
                             : tiles_dense_backward_invocations((uint32_t)B, (uint32_t)I, (uint32_t)O, has_prev);
        /* dense_backward_wide's constants (the shape, db's place, the slices) and bindings (step,
         * dz, inp, grad) */
        gpu_constant cw[] = {{"IN", I}, {"OUT", O}, {"DB_OFF", (double)nw}, {"SLICES", slices},
                             {"SLICE_ROWS", (B + slices - 1) / slices}, {"SLICE_STRIDE", (double)stride}};
        int nargs = tiled ? 7 : 8;
        if (wide) {
            a[3] = a[6];
            nargs = 4;
            inv = (uint64_t)tiles_dense_backward_wide_groups((uint32_t)I, (uint32_t)O, (uint32_t)slices) * TILE_DBW_WG;
        }
        char what[80];
        snprintf(what, sizeof what, "%s%s", shape, slices > 1 ? " 3 slices" : "");
        if (run_kernel(h, file, wide ? cw : cb, wide ? 6 : tiled ? 10 : 6, a, nargs, inv, what)) {
            if (tiled) {
                for (size_t e = 0; e < stride; e++) {
                    float sum = 0;
                    for (int k = 0; k < slices; k++) sum += grad[(size_t)k * stride + e];
                    if (e < nw) gdw[e] = sum;
                    else gdb[e - nw] = sum;
                }
            }
            emit_compare(h, file, "dw", what, gdw, dw, nw);
            emit_compare(h, file, "db", what, gdb, db, (size_t)O);
            if (has_prev) emit_compare(h, file, "dprev", what, gdprev, dprev, nin);
        }
        free(grad);
    }
done:
    free(inp), free(w), free(bias), free(pre), free(out), free(gpre), free(gout), free(dz), free(prev_pre);
    free(dinp), free(dprev), free(dw), free(db), free(gdw), free(gdb), free(gdprev);
}

/* dense_forward_tiled as the first layer (GATHER, STORE_X), on its small or wide tiles: B
 * samples of I u8 pixels gathered through a permutation of N = B + 5 images, normalised, into O
 * outputs; and the x it stores. */
static void check_gather_dense(harness *h, uint64_t *rng, int B, int I, int O, bool wide) {
    char shape[64];
    snprintf(shape, sizeof shape, "B=%d %d->%d gather", B, I, O);
    const char *file = tiles_dense_forward_tiled_name(wide);
    uint32_t N = (uint32_t)B + 5, start = 3;
    size_t nin = (size_t)B * I, nout = (size_t)B * O, nw = (size_t)O * I;
    uint8_t *images = malloc((size_t)N * I), *gimages = NULL;
    uint32_t *order = malloc(N * 4);
    float *x = alloc_floats(nin), *gx = alloc_floats(nin), *w = alloc_floats(nw), *bias = alloc_floats((size_t)O);
    float *pre = alloc_floats(nout), *out = alloc_floats(nout), *gpre = alloc_floats(nout), *gout = alloc_floats(nout);
    if (images && order && x && gx && w && bias && pre && out && gpre && gout) {
        fill_bytes(rng, images, (size_t)N * I, 256);
        permutation(rng, order, N);
        fill(rng, w, nw, -0.3f, 0.3f);
        fill(rng, bias, (size_t)O, -0.2f, 0.2f);
        gimages = padded_bytes(images, (size_t)N * I);
        input_gather_forward(x, images, order, start, B, I);
        dense_forward(pre, x, w, bias, B, I, O);
        activation_forward(out, pre, (int)nout, MODEL_ACT_RELU);
        step_params sp = {start, (uint32_t)B, 0.0f, 0, 0, 0, 0, 0, 0};
        gpu_constant cf[] = {{"IN", I}, {"OUT", O}, {"ACT", MODEL_ACT_RELU}, {"STORE_PRE", 1}, {"GATHER", 1}, {"STORE_X", 1}};
        float dummy[4] = {0, 0, 0, 0};
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"inp", dummy, 16, IN}, {"w", w, nw * 4, IN},
                   {"bias", bias, (size_t)O * 4, IN}, {"pre", gpre, nout * 4, OUT}, {"out", gout, nout * 4, OUT},
                   {"images", gimages, ((size_t)N * I + 3) & ~(size_t)3, IN}, {"order", order, N * 4, IN},
                   {"x", gx, nin * 4, OUT}};
        uint64_t inv = (uint64_t)tiles_dense_forward_tiled_groups((uint32_t)B, (uint32_t)O, wide) *
                       tiles_dense_forward_tiled_wg(wide);
        if (gimages && run_kernel(h, file, cf, 6, a, 9, inv, shape)) {
            emit_compare(h, file, "pre", shape, gpre, pre, nout);
            emit_compare(h, file, "out", shape, gout, out, nout);
            emit_compare(h, file, "x", shape, gx, x, nin);
        }
    } else {
        emit_error(h, file, shape, "out of memory");
    }
    free(images), free(gimages), free(order), free(x), free(gx), free(w), free(bias), free(pre), free(out);
    free(gpre), free(gout);
}

/* The fused path's forward, fused_forward.wgsl or its wide tiles (fused_forward_wide.wgsl): B
 * samples of 784 u8 pixels gathered through a permutation of B + 5 images, H hidden ReLU units,
 * and the layer-2 partial sums of each hidden tile; the hidden layer, the partials and the
 * stored x against the CPU's. Split over the inputs (wide, splits > 1) the kernel stores each
 * split's dot products instead, and the hidden layer compared is relu(b1 + their sum). */
static void check_fused_forward(harness *h, uint64_t *rng, int B, int H, bool wide, uint32_t splits) {
    char shape[64];
    snprintf(shape, sizeof shape, "B=%d H=%d splits=%u", B, H, splits);
    const char *file = wide ? "fused_forward_wide.wgsl" : "fused_forward.wgsl";
    const int I = 784, C = 10;
    uint32_t N = (uint32_t)B + 5, start = 3, tile = wide ? TILE_FFW_T : TILE_FF_TH;
    uint32_t htiles = tiles_div_up((uint32_t)H, tile);
    size_t off_b1 = ((size_t)H * I + 63) & ~(size_t)63, off_w2 = (off_b1 + H + 63) & ~(size_t)63;
    size_t np = off_w2 + (size_t)C * H, a_part = (size_t)B * H, a_x = a_part + (size_t)htiles * B * C;
    size_t a_pre = a_x + (size_t)B * I, na = a_pre + (splits > 1 ? (size_t)splits * B * H : 0);
    uint8_t *images = malloc((size_t)N * I), *gimages = NULL;
    uint32_t *order = malloc(N * 4);
    float *params = alloc_floats(np), *x = alloc_floats((size_t)B * I), *pre = alloc_floats((size_t)B * H);
    float *hid = alloc_floats((size_t)B * H), *part = alloc_floats((size_t)htiles * B * C), *acts = alloc_floats(na);
    if (images && order && params && x && pre && hid && part && acts) {
        fill_bytes(rng, images, (size_t)N * I, 256);
        permutation(rng, order, N);
        memset(params, 0, np * 4);
        fill(rng, params, (size_t)H * I, -0.05f, 0.05f);
        fill(rng, params + off_b1, (size_t)H, -0.2f, 0.2f);
        fill(rng, params + off_w2, (size_t)C * H, -0.3f, 0.3f);
        gimages = padded_bytes(images, (size_t)N * I);
        input_gather_forward(x, images, order, start, B, I);
        dense_forward(pre, x, params, params + off_b1, B, I, H);
        activation_forward(hid, pre, B * H, MODEL_ACT_RELU);
        for (uint32_t t = 0; t < htiles; t++)
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++) {
                    double sum = 0;
                    for (uint32_t j = t * tile; j < (t + 1) * tile && j < (uint32_t)H; j++)
                        sum += (double)hid[(size_t)b * H + j] * params[off_w2 + (size_t)c * H + j];
                    part[((size_t)t * B + b) * C + c] = (float)sum;
                }
        step_params sp = {start, (uint32_t)B, 0.0f, 0, 0, 0, 0, 0, 0};
        gpu_constant cf[] = {{"HIDDEN", H},           {"OFF_W1", 0},         {"OFF_B1", (double)off_b1},
                             {"OFF_W2", (double)off_w2}, {"A_PART", (double)a_part}, {"A_X", (double)a_x},
                             {"MAX_BATCH", B},         {"SPLITS", splits},    {"A_PRE", (double)a_pre}};
        arg a[] = {{"step", &sp, sizeof sp, UNI},
                   {"images", gimages, ((size_t)N * I + 3) & ~(size_t)3, IN},
                   {"order", order, N * 4, IN},
                   {"params", params, np * 4, IN},
                   {"params4", params, np * 4, IN},
                   {"acts", acts, na * 4, OUT}};
        uint64_t inv = wide ? (uint64_t)tiles_div_up((uint32_t)B, TILE_FFW_T) * htiles * splits * TILE_FFW_WG
                            : tiles_fused_forward_groups((uint32_t)B, (uint32_t)H, 1) * TILE_FF_WG;
        if (gimages && run_kernel(h, file, cf, wide ? 9 : 7, a, 6, inv, shape)) {
            if (splits > 1) {
                /* the engine's fused_softmax adds the splits in order after the bias */
                for (size_t i = 0; i < (size_t)B * H; i++) {
                    float v = params[off_b1 + i % (size_t)H];
                    for (uint32_t s = 0; s < splits; s++) v += acts[a_pre + s * (size_t)B * H + i];
                    acts[i] = v > 0 ? v : 0;
                }
            }
            emit_compare(h, file, "hidden", shape, acts, hid, (size_t)B * H);
            if (splits == 1) emit_compare(h, file, "partials", shape, acts + a_part, part, (size_t)htiles * B * C);
            emit_compare(h, file, "x", shape, acts + a_x, x, (size_t)B * I);
        }
    } else {
        emit_error(h, file, shape, "out of memory");
    }
    free(images), free(gimages), free(order), free(params), free(x), free(pre), free(hid), free(part), free(acts);
}

/* softmax_xent_backward and classify at B samples of C classes. */
static void check_loss(harness *h, uint64_t *rng, int B, int C, float smoothing) {
    char shape[48];
    snprintf(shape, sizeof shape, "B=%d C=%d smoothing=%g", B, C, (double)smoothing);
    uint32_t N = (uint32_t)B + 5;
    uint32_t start = 3 < N - (uint32_t)B ? 3 : N - (uint32_t)B;
    uint8_t *labels = malloc(N), *glabels = NULL;
    uint32_t *order = malloc(N * 4), *correct = malloc((size_t)B * 4);
    float *logits = alloc_floats((size_t)B * C), *dlogits = alloc_floats((size_t)B * C);
    float *losses = alloc_floats((size_t)B), *out_a = alloc_floats((size_t)B * C);
    if (!labels || !order || !correct || !logits || !dlogits || !losses || !out_a) {
        emit_error(h, "setup", shape, "out of memory");
        goto done;
    }
    fill_bytes(rng, labels, N, (unsigned)C);
    permutation(rng, order, N);
    /* logits scaled up so the softmax is not flat */
    fill(rng, logits, (size_t)B * C, -3.0f, 3.0f);
    glabels = padded_bytes(labels, N);
    if (!glabels) goto done;
    step_params sp = {start, (uint32_t)B, 0.0f, 2, 0, 0, 0, 0, 0};
    gpu_constant cc[] = {{"CLASSES", C}};
    {
        uint8_t *batch_labels = malloc((size_t)B);
        if (!batch_labels) goto done;
        for (int b = 0; b < B; b++) batch_labels[b] = labels[order[start + b]];
        double mean = softmax_xent_smoothed(dlogits, losses, correct, logits, batch_labels, B, C, smoothing);
        free(batch_labels);
        uint32_t ref_correct = 0;
        for (int b = 0; b < B; b++) ref_correct += correct[b];
        float metrics_ref[2] = {(float)(mean * B), (float)ref_correct};
        /* step sp.index's PARTS partials, added in order as the engine does */
        uint32_t parts = tiles_xent_parts((uint32_t)B);
        size_t nm = (size_t)(sp.index + 1) * parts * 2;
        float *metrics = alloc_floats(nm);
        if (!metrics) goto done;
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"logits", logits, (size_t)B * C * 4, IN},
                   {"labels", glabels, (N + 3) & ~3u, IN}, {"order", order, N * 4, IN},
                   {"dlogits", out_a, (size_t)B * C * 4, OUT}, {"metrics", metrics, nm * 4, OUT}};
        gpu_constant cs[] = {{"CLASSES", C}, {"SMOOTHING", smoothing}, {"PARTS", parts}};
        if (run_kernel(h, "softmax_xent_backward.wgsl", cs, 3, a, 6, (uint64_t)B, shape)) {
            float loss_sum = 0, correct_sum = 0;
            for (uint32_t k = 0; k < parts; k++) {
                loss_sum += metrics[2 * (sp.index * parts + k)];
                correct_sum += metrics[2 * (sp.index * parts + k) + 1];
            }
            emit_compare(h, "softmax_xent_backward.wgsl", "dlogits", shape, out_a, dlogits, (size_t)B * C);
            emit_compare(h, "softmax_xent_backward.wgsl", "loss sum", shape, &loss_sum, &metrics_ref[0], 1);
            uint32_t got = (uint32_t)correct_sum, want = ref_correct;
            emit_exact(h, "softmax_xent_backward.wgsl", "correct", shape, &got, &want, 1);
        }
        free(metrics);
    }
    /* classify: probabilities, predictions and confusion counts of a labelled chunk */
    {
        size_t cc2 = (size_t)C * C;
        float *probs_ref = alloc_floats((size_t)B * C), *loss_ref = alloc_floats((size_t)B);
        uint32_t *pred_ref = malloc((size_t)B * 4), *pred = malloc((size_t)B * 4), *conf_ref = calloc(cc2, 4),
                 *conf = calloc(cc2, 4);
        uint8_t *lab = malloc((size_t)B);
        float *probs = alloc_floats((size_t)B * C), *loss = alloc_floats((size_t)B);
        if (probs_ref && loss_ref && pred_ref && pred && lab && probs && loss && conf_ref && conf) {
            memcpy(lab, labels, (size_t)B);
            softmax_xent_forward_backward(dlogits, loss_ref, correct, logits, lab, B, C);
            for (int b = 0; b < B; b++) {
                int best = 0;
                for (int c = 1; c < C; c++)
                    if (logits[b * C + c] > logits[b * C + best]) best = c;
                pred_ref[b] = (uint32_t)best;
                conf_ref[lab[b] * C + best]++;
                for (int c = 0; c < C; c++) probs_ref[b * C + c] = dlogits[b * C + c] * B + (c == lab[b] ? 1.0f : 0.0f);
            }
            uint8_t *glab = padded_bytes(lab, (size_t)B);
            step_params cp = {0, (uint32_t)B, 0.0f, 0, 0, 0, 0, 0, 0};
            arg a[] = {{"step", &cp, sizeof cp, UNI}, {"logits", logits, (size_t)B * C * 4, IN},
                       {"labels", glab, ((size_t)B + 3) & ~(size_t)3, IN},
                       {"probs", probs, (size_t)B * C * 4, OUT}, {"losses", loss, (size_t)B * 4, OUT},
                       {"predicted", pred, (size_t)B * 4, OUT}, {"confusion", conf, cc2 * 4, INOUT}};
            if (glab && run_kernel(h, "classify.wgsl", cc, 1, a, 7, (uint64_t)B, shape)) {
                emit_compare(h, "classify.wgsl", "probs", shape, probs, probs_ref, (size_t)B * C);
                emit_compare(h, "classify.wgsl", "losses", shape, loss, loss_ref, (size_t)B);
                emit_exact(h, "classify.wgsl", "predicted", shape, pred, pred_ref, (size_t)B);
                emit_exact(h, "classify.wgsl", "confusion", shape, conf, conf_ref, cc2);
            }
            free(glab);
        }
        free(probs_ref), free(loss_ref), free(pred_ref), free(pred), free(lab), free(probs), free(loss);
        free(conf_ref), free(conf);
    }
done:
    free(labels), free(glabels), free(order), free(correct), free(logits), free(dlogits), free(losses), free(out_a);
}

/* dense_softmax_xent (the last layer and the loss in one dispatch): B samples of I inputs into
 * C classes, the step's PARTS partials sized for a batch of B + extra (a short last batch when
 * extra > 0: the workgroups past it write zero partials). The logits are held to dense_forward;
 * the loss's values to softmax_xent_smoothed over the kernel's own logits, so that a near-tie
 * of two logits, within rounding, cannot make the counts differ. */
static void check_dense_softmax(harness *h, uint64_t *rng, int B, int I, int C, float smoothing, int extra) {
    char shape[64];
    snprintf(shape, sizeof shape, "B=%d %d->%d smoothing=%g%s", B, I, C, (double)smoothing, extra ? " short batch" : "");
    uint32_t N = (uint32_t)B + 5, start = 2, parts = tiles_dense_softmax_parts((uint32_t)(B + extra));
    size_t nin = (size_t)B * I, nout = (size_t)B * C, nw = (size_t)C * I;
    step_params sp = {start, (uint32_t)B, 0.0f, 1, 0, 0, 0, 0, 0};
    size_t nm = (size_t)(sp.index + 1) * parts * 2;
    float *inp = alloc_floats(nin), *w = alloc_floats(nw), *bias = alloc_floats((size_t)C), *logits = alloc_floats(nout);
    float *glogits = alloc_floats(nout), *dlogits = alloc_floats(nout), *gdlogits = alloc_floats(nout);
    float *losses = alloc_floats((size_t)B), *metrics = alloc_floats(nm);
    uint8_t *labels = malloc(N), *glabels = NULL, *batch_labels = malloc((size_t)B);
    uint32_t *order = malloc(N * 4), *correct = malloc((size_t)B * 4);
    if (!inp || !w || !bias || !logits || !glogits || !dlogits || !gdlogits || !losses || !metrics || !labels ||
        !batch_labels || !order || !correct) {
        emit_error(h, "dense_softmax_xent.wgsl", shape, "out of memory");
        goto done;
    }
    fill_bytes(rng, labels, N, (unsigned)C);
    if (!(glabels = padded_bytes(labels, N))) goto done;
    permutation(rng, order, N);
    for (int b = 0; b < B; b++) batch_labels[b] = labels[order[start + b]];
    fill(rng, inp, nin, -1.0f, 1.0f);
    fill(rng, w, nw, -0.5f, 0.5f);
    fill(rng, bias, (size_t)C, -0.3f, 0.3f);
    dense_forward(logits, inp, w, bias, B, I, C);
    gpu_constant cs[] = {{"IN", I}, {"CLASSES", C}, {"SMOOTHING", smoothing}, {"PARTS", parts}};
    arg a[] = {{"step", &sp, sizeof sp, UNI}, {"inp", inp, nin * 4, IN}, {"w", w, nw * 4, IN},
               {"bias", bias, (size_t)C * 4, IN}, {"logits", glogits, nout * 4, OUT},
               {"labels", glabels, (N + 3) & ~3u, IN}, {"order", order, N * 4, IN},
               {"dlogits", gdlogits, nout * 4, OUT}, {"metrics", metrics, nm * 4, OUT}};
    if (run_kernel(h, "dense_softmax_xent.wgsl", cs, 4, a, 9, (uint64_t)parts * TILE_DSX_WG, shape)) {
        emit_compare(h, "dense_softmax_xent.wgsl", "logits", shape, glogits, logits, nout);
        double mean = softmax_xent_smoothed(dlogits, losses, correct, glogits, batch_labels, B, C, smoothing);
        uint32_t want = 0;
        for (int b = 0; b < B; b++) want += correct[b];
        float loss_sum = 0, correct_sum = 0, loss_ref = (float)(mean * B);
        for (uint32_t k = 0; k < parts; k++) {
            loss_sum += metrics[2 * (sp.index * parts + k)];
            correct_sum += metrics[2 * (sp.index * parts + k) + 1];
        }
        emit_compare(h, "dense_softmax_xent.wgsl", "dlogits", shape, gdlogits, dlogits, nout);
        emit_compare(h, "dense_softmax_xent.wgsl", "loss sum", shape, &loss_sum, &loss_ref, 1);
        uint32_t got = (uint32_t)correct_sum;
        emit_exact(h, "dense_softmax_xent.wgsl", "correct", shape, &got, &want, 1);
    }
done:
    free(inp), free(w), free(bias), free(logits), free(glogits), free(dlogits), free(gdlogits), free(losses);
    free(metrics), free(labels), free(glabels), free(batch_labels), free(order), free(correct);
}

/* optimizer.wgsl against optimizer_update over n parameters, with the state slots the
 * optimizer keeps; clip < 1 stands for a clip_grad_norm_ factor read from its buffer. */
static void check_optimizer(harness *h, uint64_t *rng, size_t n, const optim_config *o, float clip) {
    char shape[64];
    snprintf(shape, sizeof shape, "n=%zu %s m=%g wd=%g clip=%g", n, optim_name(o->kind), (double)o->momentum,
             (double)o->weight_decay, (double)clip);
    uint32_t slots = optim_slots(o->kind);
    float *p = alloc_floats(n), *g = alloc_floats(n), *st = alloc_floats(slots * n), *p_ref = alloc_floats(n);
    float *st_ref = alloc_floats(slots * n);
    if (p && g && st && p_ref && st_ref) {
        fill(rng, p, n, -1, 1);
        fill(rng, g, n, -1, 1);
        fill(rng, st, n, -0.5f, 0.5f);
        if (slots > 1) fill(rng, st + n, n, 0.0f, 0.5f); /* exp_avg_sq >= 0 */
        memcpy(p_ref, p, n * 4);
        memcpy(st_ref, st, slots * n * 4);
        step_params sp = {0, 0, 0.01f, 0, 0, 0, 0, o->kind >= OPTIM_ADAM ? o->beta1 : o->momentum, 0};
        optim_bias_corrections(o, 7, &sp.bc1, &sp.bc2); /* the 7th step */
        optimizer_update(p_ref, st_ref, n, g, n, o, sp.lr, sp.bc1, sp.bc2, clip);
        float clip_buf[4] = {clip, 0, 0, 0};
        gpu_constant co[] = {{"OPT", optim_kernel_op(o->kind)}, {"WEIGHT_DECAY", o->weight_decay}, {"BETA2", o->beta2},
                             {"EPS", o->eps}, {"CLIP", clip < 1.0f}, {"PARAMS", (double)n}};
        arg a[] = {{"step", &sp, sizeof sp, UNI}, {"params", p, n * 4, INOUT}, {"grads", g, n * 4, IN},
                   {"state", st, slots * n * 4, INOUT}, {"clip", clip_buf, sizeof clip_buf, IN}};
        if (run_kernel(h, "optimizer.wgsl", co, 6, a, 5, n, shape)) {
            emit_compare(h, "optimizer.wgsl", "params", shape, p, p_ref, n);
            if (o->momentum != 0 || slots > 1) emit_compare(h, "optimizer.wgsl", "state", shape, st, st_ref, slots * n);
        }
    }
    free(p), free(g), free(st), free(p_ref), free(st_ref);
}

/* grad_norm.wgsl's two passes against clip_factor. */
static void check_grad_norm(harness *h, uint64_t *rng, size_t n, float max_norm) {
    char shape[48];
    snprintf(shape, sizeof shape, "n=%zu max_norm=%g", n, (double)max_norm);
    float *g = alloc_floats(n);
    if (g) {
        fill(rng, g, n, -0.1f, 0.1f);
        float want = clip_factor(g, n, max_norm), partial[TILE_NORM_GROUPS], clip[4] = {NAN, NAN, NAN, NAN};
        gpu_constant c0[] = {{"PASS", 0}, {"PARAMS", (double)n}, {"MAX_NORM", max_norm}};
        gpu_constant c1[] = {{"PASS", 1}, {"PARAMS", (double)n}, {"MAX_NORM", max_norm}};
        step_params sp = {0, 0, 0, 0, 0, 0, 0, 0, 0};
        arg a0[] = {{"step", &sp, sizeof sp, UNI}, {"grads", g, n * 4, IN}, {"partial", partial, sizeof partial, OUT},
                    {"clip", clip, sizeof clip, OUT}};
        if (run_kernel(h, "grad_norm.wgsl", c0, 3, a0, 4, (uint64_t)TILE_NORM_GROUPS * TILE_NORM_WG, shape)) {
            arg a1[] = {{"step", &sp, sizeof sp, UNI}, {"grads", g, n * 4, IN}, {"partial", partial, sizeof partial, IN},
                        {"clip", clip, sizeof clip, OUT}};
            if (run_kernel(h, "grad_norm.wgsl", c1, 3, a1, 4, TILE_NORM_WG, shape))
                emit_compare(h, "grad_norm.wgsl", "clip factor", shape, clip, &want, 1);
        }
    }
    free(g);
}

/* health_stats.wgsl: one job's words (see the kernel) as core/health.c computes them. */
#define HEALTH_REC (8 + HEALTH_BINS)
static void health_job_ref(uint32_t kind, const float *v, const float *p, const float *g, size_t n, const float *pre,
                           uint32_t units, uint32_t samples, float sums[3], float range[2], uint32_t counts[3 + HEALTH_BINS]) {
    double sq = 0, diff = 0, grad = 0;
    uint32_t bad = 0, bad_grad = 0, dead = 0;
    float lo = 0, hi = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            bad++;
        } else {
            if (!any || v[i] < lo) lo = v[i];
            if (!any || v[i] > hi) hi = v[i];
            any = true;
            if (kind) sq += (double)v[i] * v[i];
        }
        if (kind == 0) {
            if (isfinite(p[i])) {
                sq += (double)p[i] * p[i];
                if (isfinite(v[i])) diff += ((double)v[i] - p[i]) * ((double)v[i] - p[i]);
            }
            if (isfinite(g[i])) grad += (double)g[i] * g[i];
            else bad_grad++;
        }
    }
    memset(counts, 0, (3 + HEALTH_BINS) * sizeof *counts);
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) counts[3 + health_bin(v[i], lo, hi)]++;
    if (kind == 2)
        for (uint32_t j = 0; j < units; j++) {
            bool alive = false;
            for (uint32_t i = 0; i < samples && !alive; i++) alive = pre[(size_t)i * units + j] > 0.0f;
            dead += !alive;
        }
    sums[0] = (float)sq, sums[1] = (float)diff, sums[2] = (float)grad;
    range[0] = lo, range[1] = hi;
    counts[0] = bad, counts[1] = bad_grad, counts[2] = dead;
}

/* health_stats.wgsl's two passes against that reference: parameter tensors of 1, 257 and 1000
 * floats (one workgroup's stride and past it) and layer outputs of 13 samples x 37 units (ReLU:
 * dead units, one unit alive in one sample only, exact zeros), 13 x 1 and 13 x 37 tanh, with NaN
 * and infinities among the values; every output poisoned before its pass. */
static void check_health(harness *h, uint64_t *rng) {
    enum { SAMPLES = 13, U = 37, NP = 1 + 257 + 1000, NJOBS = 6 };
    const char *shape = "P=1,257,1000 out 13x37,13x1 relu 13x37";
    uint32_t jobs[NJOBS][8] = {{0, 0, 1}, {0, 1, 257}, {0, 258, 1000}};
    /* the snapshot: A out, A pre, B out, B pre, C out */
    const uint32_t a_out = 0, a_pre = SAMPLES * U, b_out = 2 * SAMPLES * U, b_pre = b_out + SAMPLES, c_out = b_pre + SAMPLES;
    const uint32_t nsnap = c_out + SAMPLES * U;
    uint32_t acts[3][8] = {{2, a_out, 0, U, a_pre}, {2, b_out, 0, 1, b_pre}, {1, c_out, 0, U, 0}};
    memcpy(jobs[3], acts, sizeof acts);
    float *params = alloc_floats(NP), *prev = alloc_floats(NP), *grads = alloc_floats(NP), *snap = alloc_floats(nsnap);
    uint32_t *out = malloc((size_t)NJOBS * HEALTH_REC * 4);
    if (!params || !prev || !grads || !snap || !out) goto done;
    fill(rng, prev, NP, -0.5f, 0.5f);
    fill(rng, grads, NP, -0.1f, 0.1f);
    for (int i = 0; i < NP; i++) params[i] = prev[i] + rnd(rng, -1e-3f, 1e-3f);
    fill(rng, snap, nsnap, -1.0f, 1.0f);
    for (uint32_t i = 0; i < SAMPLES; i++) {
        for (uint32_t j = 0; j < 5; j++) snap[a_pre + i * U + j] = -rnd(rng, 0.0f, 1.0f); /* dead */
        snap[a_pre + i * U + 5] = i == 7 ? 0.25f : -0.5f;                             /* alive in one sample */
        snap[a_pre + i * U + 6] = 0.0f;                                               /* exactly 0: dead */
        snap[b_pre + i] = -1.0f;
    }
    params[5] = NAN, params[300] = INFINITY, prev[301] = -INFINITY, grads[7] = -INFINITY, grads[1000] = NAN;
    snap[a_out + 3] = NAN, snap[c_out + 40] = INFINITY;
    step_params sp = {0, SAMPLES, 0, 0, 0, 0, 0, 0, 0};
    gpu_constant c0[] = {{"BINS", HEALTH_BINS}, {"PASS", 0}}, c1[] = {{"BINS", HEALTH_BINS}, {"PASS", 1}};
    arg a[] = {{"step", &sp, sizeof sp, UNI}, {"params", params, NP * 4, IN}, {"prev", prev, NP * 4, IN},
               {"grads", grads, NP * 4, IN}, {"snap", snap, nsnap * 4, IN}, {"jobs", jobs, sizeof jobs, IN},
               {"out", out, (size_t)NJOBS * HEALTH_REC * 4, OUT}};
    if (!run_kernel(h, "health_stats.wgsl", c0, 2, a, 7, (uint64_t)NJOBS * TILE_HEALTH_WG, shape)) goto done;
    /* pass 1 keeps pass 0's words and writes the rest: poison those */
    for (int j = 0; j < NJOBS; j++) memset(out + j * HEALTH_REC + 7, 0xff, (1 + HEALTH_BINS) * 4);
    a[6].kind = INOUT;
    if (!run_kernel(h, "health_stats.wgsl", c1, 2, a, 7, (uint64_t)NJOBS * TILE_HEALTH_WG, shape)) goto done;
    float gsums[NJOBS][3], rsums[NJOBS][3], grange[NJOBS][2], rrange[NJOBS][2];
    uint32_t gcounts[NJOBS][3 + HEALTH_BINS], rcounts[NJOBS][3 + HEALTH_BINS];
    for (int j = 0; j < NJOBS; j++) {
        const uint32_t *w = out + j * HEALTH_REC;
        memcpy(gsums[j], w, 12);
        memcpy(grange[j], w + 5, 8);
        gcounts[j][0] = w[3], gcounts[j][1] = w[4], gcounts[j][2] = w[7];
        memcpy(gcounts[j] + 3, w + 8, HEALTH_BINS * 4);
        uint32_t kind = jobs[j][0], off = jobs[j][1];
        size_t n = kind ? (size_t)SAMPLES * jobs[j][3] : jobs[j][2];
        const float *v = kind ? snap + off : params + off;
        health_job_ref(kind, v, prev + off, grads + off, n, snap + jobs[j][4], jobs[j][3], SAMPLES, rsums[j], rrange[j], rcounts[j]);
    }
    emit_compare(h, "health_stats.wgsl", "sums of squares", shape, gsums[0], rsums[0], NJOBS * 3);
    emit_compare(h, "health_stats.wgsl", "min, max", shape, grange[0], rrange[0], NJOBS * 2);
    emit_exact(h, "health_stats.wgsl", "counts, histograms", shape, gcounts[0], rcounts[0], NJOBS * (3 + HEALTH_BINS));
done:
    free(params), free(prev), free(grads), free(snap), free(out);
}

int selfcheck_kernels(gpu_context *gpu, uint64_t seed, selfcheck_report report, void *user) {
    harness h = {gpu, report, user, 0, !gpu_adapter_is_software(gpu_info(gpu))};
    uint64_t rng = seed;
    /* shapes tiny, odd, not multiples of any workgroup size, and the default model's */
    static const int gathers[][2] = {{1, 1}, {3, 7}, {17, 784}, {65, 100}};
    for (size_t i = 0; i < sizeof gathers / sizeof *gathers; i++) check_gather(&h, &rng, gathers[i][0], gathers[i][1]);
    /* (batch, in, out): every activation at an awkward shape, ReLU at the default model's too */
    static const int dense[][3] = {{1, 1, 1}, {3, 7, 5}, {17, 33, 10}, {65, 100, 37}};
    for (int act = MODEL_ACT_RELU; act <= MODEL_ACT_LEAKY_RELU; act++)
        for (size_t i = 0; i < sizeof dense / sizeof *dense; i++)
            check_dense(&h, &rng, dense[i][0], dense[i][1], dense[i][2], (model_activation)act, 0.0f, false);
    /* these three hold the tiled kernels on every adapter: one partial tile and round, several
     * of each with ragged edges, and the default model's first layer */
    check_dense(&h, &rng, 64, 784, 128, MODEL_ACT_RELU, 0.0f, true);
    check_dense(&h, &rng, 64, 128, 10, MODEL_ACT_RELU, 0.0f, false);
    check_health(&h, &rng);
    /* inverted dropout's mask, redrawn by the backward */
    check_dense(&h, &rng, 17, 33, 10, MODEL_ACT_GELU, 0.3f, true);
    check_dense(&h, &rng, 65, 100, 37, MODEL_ACT_RELU, 0.5f, true);
    /* the tiled first layer reading pixels itself: a row that is not whole words, and 784, on
     * both sizes of tile */
    for (int wide = 0; wide < 2; wide++) {
        check_gather_dense(&h, &rng, 17, 30, 5, wide);
        check_gather_dense(&h, &rng, 65, 784, 37, wide);
    }
    /* the fused forward's two tile shapes: partial sample and hidden tiles, and the default model */
    check_fused_forward(&h, &rng, 19, 20, false, 1);
    check_fused_forward(&h, &rng, 70, 70, true, 1);
    /* split over the inputs: rounds shared unevenly (49 over 3), and the most splits */
    check_fused_forward(&h, &rng, 70, 70, true, 3);
    if (h.tiled_everywhere) {
        check_fused_forward(&h, &rng, 64, 128, false, 1);
        check_fused_forward(&h, &rng, 130, 200, true, 1);
        check_fused_forward(&h, &rng, 256, 128, true, 1);
        check_fused_forward(&h, &rng, 130, 200, true, TILE_FFW_MAX_SPLITS);
    }
    static const int losses[][2] = {{1, 2}, {3, 10}, {17, 3}, {64, 10}, {300, 37}};
    for (size_t i = 0; i < sizeof losses / sizeof *losses; i++) check_loss(&h, &rng, losses[i][0], losses[i][1], 0.0f);
    check_loss(&h, &rng, 17, 3, 0.1f);
    check_loss(&h, &rng, 300, 37, 0.25f);
    /* the last layer with the loss: one sample, partial tiles and rounds (130 inputs), every
     * class slot (16), smoothing, a short last batch */
    check_dense_softmax(&h, &rng, 1, 1, 2, 0.0f, 0);
    check_dense_softmax(&h, &rng, 17, 33, 10, 0.0f, 0);
    check_dense_softmax(&h, &rng, 65, 130, 16, 0.0f, 0);
    check_dense_softmax(&h, &rng, 19, 128, 3, 0.1f, 13);
    check_dense_softmax(&h, &rng, 64, 128, 10, 0.0f, 0);
    /* every optimizer, with and without weight decay and clipping, at odd sizes */
    const optim_config sgd = {OPTIM_SGD, 0, 0, 0.9f, 0.999f, 1e-8f, 0};
    optim_config o = sgd;
    check_optimizer(&h, &rng, 1, &o, 1.0f);
    check_optimizer(&h, &rng, 1000, &o, 0.3f);
    o.kind = OPTIM_MOMENTUM, o.momentum = 0.9f;
    check_optimizer(&h, &rng, 101770, &o, 1.0f);
    o.weight_decay = 0.01f;
    check_optimizer(&h, &rng, 777, &o, 0.5f);
    o.kind = OPTIM_NESTEROV;
    check_optimizer(&h, &rng, 1001, &o, 1.0f);
    for (int k = OPTIM_ADAM; k <= OPTIM_ADAMW; k++)
        for (int wd = 0; wd < 2; wd++) {
            o = sgd;
            o.kind = (optim_kind)k;
            o.weight_decay = wd ? 0.05f : 0.0f;
            check_optimizer(&h, &rng, wd ? 4099 : 33, &o, wd ? 0.25f : 1.0f);
        }
    check_grad_norm(&h, &rng, 1, 1.0f);
    check_grad_norm(&h, &rng, 100000, 1.0f);
    check_grad_norm(&h, &rng, 5000, 100.0f);
    return h.failures;
}

/* ---- training steps through the engine ---- */

/* Trains one epoch of n random samples through the engine with config c (its seed drawn here)
 * and replays the same steps on the reference: ref_model_loss, clip_factor, optimizer_update,
 * with the engine's learning rate and bias corrections of every step. */
static void check_run_shifted(harness *h, uint64_t *rng, const char *shape, uint32_t n, const mlp_config *tmpl,
                              float bias_shift) {
    mlp_config c = *tmpl;
    const model_arch *arch = &c.arch;
    uint32_t batch = c.batch, slots = optim_slots(c.optimizer);
    uint8_t *images = malloc((size_t)n * arch->inputs), *labels = malloc(n);
    uint32_t *order = malloc(n * 4);
    size_t np = mlp_param_count(arch);
    float *p0 = malloc(np * 4), *gpu_p = malloc(np * 4), *grads = malloc(np * 4), *state = calloc(slots * np, 4);
    mlp_trainer *t = NULL;
    if (!images || !labels || !order || !p0 || !gpu_p || !grads || !state) {
        emit_error(h, "training step", shape, "out of memory");
        goto done;
    }
    fill_bytes(rng, images, (size_t)n * arch->inputs, 256);
    fill_bytes(rng, labels, n, arch->classes);
    c.epochs = 1;
    c.seed = next(rng);
    mlp_dataset d = {images, labels, n};
    bool shifted = bias_shift != 0;
    if (shifted && mlp_create(h->gpu, &c, &d, NULL, &t) == MLP_OK && mlp_read_params(t, p0) == MLP_OK) {
        model_layout lay;
        model_layout_make(arch, 1, &lay);
        for (size_t j = 0; j < lay.sizes[1]; j++) p0[lay.offsets[1] + j] += bias_shift;
        shifted = mlp_write_params(t, p0) != MLP_OK; /* still true: an error, reported below */
    }
    if (shifted || (!t && mlp_create(h->gpu, &c, &d, NULL, &t) != MLP_OK) || mlp_read_params(t, p0) != MLP_OK ||
        mlp_train_epoch(t, NULL, NULL, NULL) != MLP_OK || mlp_read_params(t, gpu_p) != MLP_OK) {
        emit_error(h, "training step", shape, t ? mlp_error(t) : "out of memory");
        goto done;
    }
    /* replay on the reference: same order, same steps */
    ref_model m;
    ref_model_point(&m, arch, p0);
    m.label_smoothing = c.label_smoothing;
    m.dropout = c.dropout;
    mlp_epoch_order(c.seed, 1, n, order);
    optim_config o = mlp_optim(&c);
    uint64_t steps = (n + batch - 1) / batch, s = 0;
    for (uint32_t start = 0; start < n; start += batch, s++) {
        uint32_t count = n - start < batch ? n - start : batch;
        m.noise = mlp_step_noise(c.seed, s);
        ref_model_loss(&m, grads, NULL, images, labels, order, start, (int)count);
        float clip = o.clip_grad_norm > 0 ? clip_factor(grads, np, o.clip_grad_norm) : 1.0f, bc1, bc2;
        optim_bias_corrections(&o, s + 1, &bc1, &bc2);
        optimizer_update(m.params, state, np, grads, np, &o, mlp_step_lr(&c, s, steps), bc1, bc2, clip);
    }
    selfcheck_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.kernel, sizeof r.kernel, "%s", c.kernels == MLP_KERNELS_FUSED ? "training step (fused)" : "training step");
    snprintf(r.tensor, sizeof r.tensor, "weights");
    snprintf(r.shape, sizeof r.shape, "%s", shape);
    compare(&r, gpu_p, p0, np);
    /* the bar for a step: every weight within 1e-5 of the CPU's */
    r.pass = r.pass && r.max_abs <= 1e-5;
    emit(h, &r);
done:
    mlp_destroy(t);
    free(images), free(labels), free(order), free(p0), free(gpu_p), free(grads), free(state);
}

static void check_run(harness *h, uint64_t *rng, const char *shape, uint32_t n, const mlp_config *tmpl) {
    check_run_shifted(h, rng, shape, n, tmpl, 0.0f);
}

static mlp_config run_config(const model_arch *a, uint32_t batch, float lr, float momentum, mlp_kernels kernels) {
    mlp_config c = mlp_config_default();
    c.arch = *a;
    c.batch = batch;
    c.lr = lr;
    c.momentum = momentum;
    c.optimizer = momentum ? OPTIM_MOMENTUM : OPTIM_SGD;
    c.schedule = MLP_SCHEDULE_CONSTANT;
    c.kernels = kernels;
    return c;
}

static model_arch arch_of(uint32_t inputs, uint32_t classes, model_activation act, uint32_t h0, uint32_t h1) {
    model_arch a = model_arch_default();
    a.inputs = inputs;
    a.classes = classes;
    a.activation = act;
    a.hidden[0] = h0;
    a.hidden[1] = h1;
    a.hidden_layers = h1 ? 2 : 1;
    return a;
}

int selfcheck_steps(gpu_context *gpu, uint64_t seed, selfcheck_report report, void *user) {
    harness h = {gpu, report, user, 0, !gpu_adapter_is_software(gpu_info(gpu))};
    uint64_t rng = seed ^ 0xABCDEF;
    for (int k = 0; k < 2; k++) {
        mlp_kernels kernels = k == 0 ? MLP_KERNELS_REFERENCE : MLP_KERNELS_FUSED;
        model_arch a128 = arch_of(784, 10, MODEL_ACT_RELU, 128, 0), a33 = arch_of(784, 10, MODEL_ACT_RELU, 33, 0);
        model_arch a20 = arch_of(784, 10, MODEL_ACT_RELU, 20, 0), a50 = arch_of(784, 10, MODEL_ACT_RELU, 50, 0);
        mlp_config c = run_config(&a128, 64, 0.05f, 0.0f, kernels);
        check_run(&h, &rng, "1 step, B=64 H=128", 64, &c);
        c = run_config(&a33, 40, 0.05f, 0.9f, kernels);
        check_run(&h, &rng, "3 steps, N=100 B=40 H=33 momentum 0.9", 100, &c);
        if (kernels == MLP_KERNELS_FUSED) {
            /* the fused step's other forms (above, the most fused that fits: one pipelined
             * dispatch a step where the adapter's workgroup memory holds fused_step's tile) */
            c.fused_form = MLP_FUSED_FOLDED;
            check_run(&h, &rng, "3 steps, N=100 B=40 H=33 momentum 0.9, two dispatches", 100, &c);
            c.fused_form = MLP_FUSED_THREE;
            check_run(&h, &rng, "3 steps, N=100 B=40 H=33 momentum 0.9, three dispatches", 100, &c);
            /* label smoothing, in every form */
            c.label_smoothing = 0.1f;
            check_run(&h, &rng, "3 steps, N=100 B=40 H=33 smoothing 0.1, three dispatches", 100, &c);
            c.fused_form = MLP_FUSED_FOLDED;
            check_run(&h, &rng, "3 steps, N=100 B=40 H=33 smoothing 0.1, two dispatches", 100, &c);
            c.fused_form = MLP_FUSED_AUTO;
            check_run(&h, &rng, "3 steps, N=100 B=40 H=33 smoothing 0.1", 100, &c);
        }
        c = run_config(&a20, 19, 0.05f, 0.0f, kernels);
        check_run(&h, &rng, "2 steps, N=37 B=19 H=20", 37, &c);
        /* below the wide tiles, two gradient slices (tiles_fused_slices) */
        c = run_config(&a50, 200, 0.05f, 0.5f, kernels);
        check_run(&h, &rng, "2 steps, N=400 B=200 H=50 momentum 0.5", 400, &c);
        /* a batch on the fused path's wide tiles (TILE_FFW_MIN_BATCH), with a short last step
         * and a hidden width that ends mid-tile, then one over two of fused_softmax's chunks of
         * units (TILE_FS_HC), the second partial. Their pre-activations would put some within
         * rounding of 0, where the GPU's and the CPU's ReLU can disagree and the step differs
         * for real (H200, seed 1, at 1030 x 70: 2.5e-5 on every fused forward); hidden biases
         * raised by 5 keep every unit active, so the run checks the arithmetic (the ReLU mask is
         * checked above and by the kernel checks) */
        static const int wide_hidden[] = {70, TILE_FS_HC + 22};
        for (int w = 0; w < 2; w++) {
            model_arch aw = arch_of(784, 10, MODEL_ACT_RELU, wide_hidden[w], 0);
            c = run_config(&aw, TILE_FFW_MIN_BATCH + 6, 0.05f, 0.9f, kernels);
            char wide[80];
            snprintf(wide, sizeof wide, "2 steps, N=%u B=%u H=%d momentum 0.9 b1+5", 2 * c.batch - 60, c.batch,
                     wide_hidden[w]);
            check_run_shifted(&h, &rng, wide, 2 * c.batch - 60, &c, 5.0f);
        }
    }
    /* the per-layer path at depth, every activation, and shapes other than MNIST's */
    for (int act = MODEL_ACT_RELU; act <= MODEL_ACT_LEAKY_RELU; act++) {
        model_arch a = arch_of(50, 7, (model_activation)act, 31, 17);
        char shape[64];
        snprintf(shape, sizeof shape, "3 steps, N=75 B=30 50-31-17-7 %s momentum 0.9", model_activation_name(a.activation));
        mlp_config c = run_config(&a, 30, 0.05f, 0.9f, MLP_KERNELS_REFERENCE);
        check_run(&h, &rng, shape, 75, &c);
    }
    model_arch deep = arch_of(784, 10, MODEL_ACT_TANH, 64, 40);
    deep.hidden_layers = 3;
    deep.hidden[2] = 20;
    mlp_config dc = run_config(&deep, 45, 0.05f, 0.0f, MLP_KERNELS_REFERENCE);
    check_run(&h, &rng, "2 steps, N=90 B=45 784-64-40-20-10 tanh", 90, &dc);
    /* a 20-step trajectory of every optimizer, with weight decay, clipping, warmup and a
     * schedule, against the CPU */
    model_arch small = arch_of(784, 10, MODEL_ACT_RELU, 24, 12);
    for (int k = OPTIM_SGD; k <= OPTIM_ADAMW; k++) {
        mlp_config c = run_config(&small, 16, k >= OPTIM_ADAM ? 1e-3f : 0.05f, k == OPTIM_SGD ? 0.0f : 0.9f,
                                  MLP_KERNELS_REFERENCE);
        c.optimizer = (optim_kind)k;
        c.weight_decay = k == OPTIM_SGD ? 0.0f : 0.01f;
        c.clip_grad_norm = k == OPTIM_NESTEROV || k == OPTIM_ADAMW ? 0.5f : 0.0f;
        c.schedule = k == OPTIM_ADAMW ? MLP_SCHEDULE_ONECYCLE : MLP_SCHEDULE_COSINE;
        c.warmup = k == OPTIM_ADAM ? 5 : 0;
        char shape[64];
        snprintf(shape, sizeof shape, "20 steps, B=16 784-24-12-10 %s wd %g clip %g", optim_name(c.optimizer),
                 (double)c.weight_decay, (double)c.clip_grad_norm);
        check_run(&h, &rng, shape, 320, &c);
    }
    /* dropout and label smoothing through the engine */
    mlp_config dr = run_config(&small, 16, 0.05f, 0.9f, MLP_KERNELS_REFERENCE);
    dr.arch.activation = MODEL_ACT_GELU;
    dr.dropout = 0.3f;
    dr.label_smoothing = 0.1f;
    check_run(&h, &rng, "20 steps, B=16 784-24-12-10 gelu dropout 0.3 smoothing 0.1", 320, &dr);
    /* the tiled dense kernels (the GPU shape) through the engine, whatever this adapter is */
    dr.shape = MLP_SHAPE_TILED;
    check_run(&h, &rng, "20 steps, B=16 784-24-12-10 gelu dropout 0.3 smoothing 0.1 tiled", 320, &dr);
    /* a batch past TILE_DBT_SLICE: dw summed in two slices of 150 and added by grad_slices_sum */
    mlp_config sc = run_config(&small, 300, 0.05f, 0.9f, MLP_KERNELS_REFERENCE);
    sc.shape = MLP_SHAPE_TILED;
    check_run(&h, &rng, "2 steps, N=540 B=300 784-24-12-10 momentum tiled, 2 slices", 540, &sc);
    /* a batch whose first layer takes the wide tiles both ways (tiles_dense_forward_wide,
     * tiles_dense_backward_wide: 52 tiles x 5 slices of dw), a short last step; hidden biases
     * raised by 5 as for the fused path's wide batch above */
    model_arch a256 = arch_of(784, 10, MODEL_ACT_RELU, 256, 0);
    mlp_config wc = run_config(&a256, 1030, 0.05f, 0.9f, MLP_KERNELS_REFERENCE);
    wc.shape = MLP_SHAPE_TILED;
    check_run_shifted(&h, &rng, "2 steps, N=2000 B=1030 784-256-10 wide tiles", 2000, &wc, 5.0f);
    if (h.tiled_everywhere) {
        dc.shape = MLP_SHAPE_TILED;
        check_run(&h, &rng, "2 steps, N=90 B=45 784-64-40-20-10 tanh tiled", 90, &dc);
        model_arch a128 = arch_of(784, 10, MODEL_ACT_RELU, 128, 0);
        mlp_config tc = run_config(&a128, 100, 0.05f, 0.9f, MLP_KERNELS_REFERENCE);
        tc.shape = MLP_SHAPE_TILED;
        check_run(&h, &rng, "3 steps, N=250 B=100 H=128 momentum 0.9 tiled", 250, &tc);
    }
    return h.failures;
}
