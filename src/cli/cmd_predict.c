/* wgtrain predict: classifies PNG or PGM images with a saved model. For a model of MNIST's
 * 784 (28x28) inputs each image is brought to MNIST form (src/image: grayscale, white digit on
 * black, fitted in 20x20 and centred by mass in 28x28); any other model gets the picture resized
 * as it is to its rows x cols (recorded in the file; a square when not). The whole batch runs on
 * the GPU through the training kernels. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/ckpt.h"
#include "host/args.h"
#include "cli/cli.h"
#include "image/image.h"

#define PREDICT_MAX_IMAGES 100000

static const char *predict_help =
    "usage: wgtrain predict --model PATH [options] IMAGE...\n"
    "Classifies images (PNG or PGM, any size) with a saved model and prints each image's label\n"
    "and its three most probable classes. A 784-input (28x28, MNIST) model reads digits of either\n"
    "polarity, cropped and centred as MNIST was; any other model gets the whole picture resized\n"
    "as it is (no inversion or centring) to its image shape (rows x cols, from the model file).\n"
    "\n"
    "  --model PATH      a .safetensors model (train --save), a checkpoint folder, or a\n"
    "                    --checkpoint-dir (its latest epoch)\n"
    "  --json            one JSON object per image instead of text\n"
    "  --show            also print each image as the model sees it (text art)\n"
    "  --device D        auto (the default: a real GPU, else the CPU engine), gpu or cpu\n"
    "  --threads N       the CPU engine's threads (default: the machine's cores)\n"
    "  --adapter NAME    use the adapter whose name contains NAME (see 'wgtrain devices')\n"
    "  --backend B       vulkan, gl, gles, metal or d3d12\n"
    "  --kernels-dir DIR load the .wgsl kernels from DIR instead of the binary (development)\n"
    "  --timeout-ms N    bound on every GPU wait (default 60000)\n"
    "  --                every later argument is an image, even one starting with '-'\n";


static void show(const uint8_t *img, uint32_t rows, uint32_t cols) {
    static const char ramp[] = " .:-=+*#%@";
    for (uint32_t y = 0; y < rows; y++) {
        fputs("    |", stdout);
        for (uint32_t x = 0; x < cols; x++) {
            char ch = ramp[img[y * cols + x] * 9 / 255];
            putchar(ch), putchar(ch);
        }
        fputs("|\n", stdout);
    }
}

int cmd_predict(int argc, char **argv) {
    host_gpu_options gpu_opts = {0};
    host_device_options dev_opts = {0};
    const char *model_path = NULL;
    bool json = false, show_input = false, only_images = false;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    if (!paths) return runtime_error("out of memory");
    uint32_t n = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (only_images || a[0] != '-' || !strcmp(a, "-")) {
            if (n >= PREDICT_MAX_IMAGES) {
                free(paths);
                return usage_error("predict takes at most %d images at a time", PREDICT_MAX_IMAGES);
            }
            paths[n++] = a;
            continue;
        }
        int g = host_gpu_flag(argc, argv, &i, &gpu_opts);
        if (g == 0) g = host_device_flag(argc, argv, &i, &dev_opts);
        if (g < 0) return free(paths), EXIT_USAGE;
        if (g > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(predict_help, stdout);
            free(paths);
            return 0;
        } else if (!strcmp(a, "--")) {
            only_images = true;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--show")) {
            show_input = true;
        } else if (flag_is(a, "--model")) {
            if (!(v = flag_value(argc, argv, &i, "--model"))) return free(paths), EXIT_USAGE;
            if (!*v) return free(paths), usage_error("--model needs a file name");
            model_path = v;
        } else {
            free(paths);
            return usage_error("unknown option '%s' for predict", a);
        }
    }
    if (!host_device_check(&dev_opts, &gpu_opts)) return free(paths), EXIT_USAGE;
    if (!model_path) return free(paths), usage_error("predict needs --model PATH");
    if (n == 0) return free(paths), usage_error("predict needs at least one IMAGE (PNG or PGM)");

    char err[1024];
    ckpt_model model;
    if (ckpt_load_model(model_path, &model, NULL, NULL, 0, err, sizeof err) != CKPT_OK) {
        free(paths);
        return runtime_error("%s", err);
    }
    /* every image is read and converted before the GPU starts: a bad one stops the run */
    int rc = 0;
    const uint32_t inputs_n = model.arch.inputs, K = model.arch.classes;
    /* MNIST's preprocessing is for 28x28 digits; other models see the picture resized */
    const bool mnist_style = inputs_n == IMG_MNIST_SIDE * IMG_MNIST_SIDE && model.rows == IMG_MNIST_SIDE;
    uint8_t *inputs = malloc((size_t)n * inputs_n);
    float *probs = malloc((size_t)n * K * sizeof(float));
    host_runtime rt = {0};
    host_trainer *tr = NULL;
    if (!inputs || !probs) {
        rc = runtime_error("out of memory");
        goto out;
    }
    for (uint32_t k = 0; k < n; k++) {
        img_gray im;
        char msg[512];
        if (img_load(paths[k], &im, err, sizeof err) != IMG_OK) {
            rc = runtime_error("%s", err);
            goto out;
        }
        uint8_t *dst = inputs + (size_t)k * inputs_n;
        img_status ist = mnist_style ? img_to_mnist(&im, dst, msg, sizeof msg) : img_resize(&im, model.cols, model.rows, dst, msg, sizeof msg);
        img_free(&im);
        if (ist != IMG_OK) {
            rc = runtime_error("%s: %s", paths[k], msg);
            goto out;
        }
    }
    if (!host_runtime_open(&dev_opts, &gpu_opts, &rt)) {
        rc = 1;
        goto out;
    }
    mlp_status st = host_trainer_model_create(&rt.dev, &model.arch, model.params, NULL, &tr);
    if (st == MLP_OK) st = host_trainer_predict(tr, inputs, n, probs);
    if (st != MLP_OK) {
        rc = runtime_error("%s", host_trainer_error(tr));
        goto out;
    }
    for (uint32_t k = 0; k < n; k++) {
        const float *p = probs + (size_t)k * K;
        int top[3] = {-1, -1, -1};
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < (int)K; c++) {
                if (c == top[0] || c == top[1]) continue;
                if (top[r] < 0 || p[c] > p[top[r]]) top[r] = c;
            }
        if (json) {
            cJSON *j = cJSON_CreateObject(), *top3 = NULL;
            bool ok = j && json_add_string(j, "image", paths[k]) && json_add_integer(j, "label", (unsigned)top[0]) &&
                      json_add(j, "top3", (top3 = cJSON_CreateArray()));
            for (int r = 0; ok && r < 3; r++) {
                cJSON *t = cJSON_CreateObject();
                ok = cJSON_AddItemToArray(top3, t) && json_add_integer(t, "label", (unsigned)top[r]) &&
                     json_add_fixed(t, "probability", p[top[r]], 6);
            }
            if (!ok) cJSON_Delete(j), j = NULL;
            cli_json_line(j);
        } else {
            printf("%s: %d  (%d: %.2f%%, %d: %.2f%%, %d: %.2f%%)\n", paths[k], top[0], top[0], 100.0 * p[top[0]], top[1],
                   100.0 * p[top[1]], top[2], 100.0 * p[top[2]]);
        }
        if (show_input && !json) show(inputs + (size_t)k * inputs_n, model.rows, model.cols);
    }
out:
    host_trainer_destroy(tr);
    host_runtime_close(&rt);
    free(inputs);
    free(probs);
    free(paths);
    ckpt_model_free(&model);
    return rc;
}
