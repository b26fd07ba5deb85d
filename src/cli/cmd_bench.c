/* wgtrain bench: training speed per batch size, GPU time per kernel, time to accuracy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/args.h"
#include "host/recipe_flags.h"
#include "cli/cli.h"

static const char *bench_help =
    "usage: wgtrain bench [options]\n"
    "Times training on full MNIST per batch size: ms per epoch (median of the timed epochs, after one\n"
    "warm-up epoch; --json adds their fastest and slowest), samples/s, and the GPU time of each\n"
    "kernel from timestamp queries. The model is the 784-128-10 MLP (or --hidden's) with plain SGD\n"
    "(lr 0.1), as in bench/torch_reference.py.\n"
    "\n"
    "  --batches LIST       comma-separated batch sizes (default 64,256,1024,4096)\n"
    "  --epochs N           timed epochs per batch size (default 5)\n"
    "  --kernels K          fused or reference (default: fused where it applies, else reference)\n"
    "  --report-every N     steps per command buffer and metrics readback (default 100)\n"
    "  --time-to-accuracy   also train with the recipe until the test accuracy reaches --target\n"
    "                       (default 0.98), for --seeds seeds (default 5), at most --max-epochs\n"
    "                       epochs (default 12; the schedule runs over them)\n"
    "  --batch, --lr, --optimizer, --momentum, --schedule, --warmup, --hidden, --activation, ...\n"
    "                       the time-to-accuracy recipe, as for train (default: train's defaults);\n"
    "                       --hidden and --activation also make the speed part's model\n"
    "  --skip-speed         only the time-to-accuracy part\n"
    "  --json               one JSON object per line\n"
    "  --device D, --threads N  the engine, as for train (default auto: a real GPU, else the CPU engine)\n"
    "  --data DIR, --adapter NAME, --backend B, --kernels-dir DIR, --timeout-ms N, --dawn-toggle T as for train\n";

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct bench_opts {
    uint32_t batches[16];
    int batch_count;
    uint32_t epochs, report_every, seeds, max_epochs;
    float target;
    mlp_kernels kernels;
    bool kernels_given, json, tta, skip_speed;
    mlp_config recipe; /* the time-to-accuracy recipe; its model is also the speed part's */
    host_recipe_given given;
} bench_opts;

static int bench_speed(const host_runtime *rt, const bench_opts *o, const mlp_dataset *train) {
    gpu_context *gpu = rt->dev.gpu; /* NULL on the CPU engine */
    if (!o->json)
        printf("%-6s %-7s %-10s %-12s %s\n", "batch", "steps", "ms/epoch", "samples/s",
               !gpu ? "" : gpu_has_timestamps(gpu) ? "GPU time per dispatch (timestamp queries)" : "(no timestamp queries on this adapter)");
    for (int bi = 0; bi < o->batch_count; bi++) {
        mlp_config c = mlp_config_default();
        c.arch = o->recipe.arch;
        c.batch = o->batches[bi];
        c.lr = 0.1f;
        c.momentum = 0.0f;
        c.schedule = MLP_SCHEDULE_CONSTANT;
        c.epochs = o->epochs + 1;
        c.report_every = o->report_every;
        c.kernels = o->kernels_given ? o->kernels : mlp_fused_applies(&c) ? MLP_KERNELS_FUSED : MLP_KERNELS_REFERENCE;
        host_trainer *t = NULL;
        if (host_trainer_create(&rt->dev, &c, train, NULL, &t) != MLP_OK) {
            int rc = runtime_error("batch %u: %s", c.batch, host_trainer_error(t));
            host_trainer_destroy(t);
            return rc;
        }
        double times[64];
        uint32_t timed = o->epochs < 64 ? o->epochs : 64;
        for (uint32_t e = 0; e <= timed; e++) {
            double t0 = host_now();
            if (host_trainer_train_epoch(t, NULL, NULL, NULL) != MLP_OK) {
                int rc = runtime_error("batch %u: %s", c.batch, host_trainer_error(t));
                host_trainer_destroy(t);
                return rc;
            }
            if (e > 0) times[e - 1] = host_now() - t0; /* epoch 0 warms up */
        }
        double ms = 1000.0 * median(times, (int)timed); /* sorts times: their range is its ends */
        double ms_min = 1000.0 * times[0], ms_max = 1000.0 * times[timed - 1];
        const char *kernels_name = !gpu ? "cpu" : c.kernels == MLP_KERNELS_FUSED ? "fused" : "reference";
        uint32_t steps = (train->count + c.batch - 1) / c.batch;
        mlp_kernel_time kt[MLP_MAX_STEP_DISPATCHES]; /* every dispatch of a step */
        int nk = 0;
        const char *profile_error = NULL;
        if (gpu && gpu_has_timestamps(gpu) &&
            (nk = mlp_profile_kernels(host_trainer_gpu(t), 64, kt, MLP_MAX_STEP_DISPATCHES)) < 0)
            profile_error = mlp_error(host_trainer_gpu(t));
        if (o->json) {
            cJSON *j = cJSON_CreateObject(), *per = NULL;
            bool ok = j && json_add_string(j, "event", "speed") && json_add_string(j, "adapter", rt->name) &&
                      json_add_string(j, "backend", gpu ? gpu_backend_name(gpu_info(gpu)->backend) : "cpu") &&
                      host_runtime_json(rt, j) && json_add_string(j, "kernels", kernels_name) &&
                      json_add_integer(j, "batch", c.batch) && json_add_integer(j, "steps_per_epoch", steps) &&
                      json_add_fixed(j, "ms_per_epoch", ms, 4) && json_add_fixed(j, "ms_per_epoch_min", ms_min, 4) &&
                      json_add_fixed(j, "ms_per_epoch_max", ms_max, 4) &&
                      json_add_fixed(j, "samples_per_second", train->count / (ms / 1000.0), 0) &&
                      json_add_integer(j, "timed_epochs", timed) && json_add(j, "gpu_us_per_dispatch", (per = cJSON_CreateObject()));
            for (int k = 0; ok && k < nk; k++) ok = json_add_fixed(per, kt[k].name, kt[k].mean_ns / 1000.0, 3);
            if (!ok) cJSON_Delete(j), j = NULL;
            cli_json_line(j);
        } else {
            printf("%-6u %-7u %-10.3f %-12.0f", c.batch, steps, ms, train->count / (ms / 1000.0));
            double step_us = 0;
            for (int k = 0; k < nk; k++) {
                printf(" %s %.1fus", kt[k].name, kt[k].mean_ns / 1000.0);
                step_us += kt[k].mean_ns / 1000.0;
            }
            if (nk > 0) printf(" | %.1fus/step, %.2f ms/epoch on the GPU", step_us, step_us * steps / 1000.0);
            if (nk < 0) printf(" (profiling failed: %s)", profile_error ? profile_error : "out of memory");
            printf("\n");
        }
        fflush(stdout);
        host_trainer_destroy(t);
    }
    return 0;
}

static int bench_time_to_accuracy(const host_runtime *rt, const bench_opts *o, const mlp_dataset *train,
                                  const mlp_dataset *test, double device_s) {
    double reached[64];
    int n_reached = 0;
    double compile_s = 0, upload_first = 0;
    uint32_t seeds = o->seeds < 64 ? o->seeds : 64;
    for (uint32_t seed = 1; seed <= seeds; seed++) {
        mlp_config c = o->recipe;
        c.seed = seed;
        c.kernels = o->kernels_given ? o->kernels : MLP_KERNELS_AUTO;
        c.epochs = o->max_epochs;
        char err[512];
        double t0 = host_now();
        if (rt->dev.gpu && mlp_prepare_kernels(rt->dev.gpu, &c, err, sizeof err) != MLP_OK) return runtime_error("%s", err);
        if (seed == 1) compile_s = host_now() - t0;
        host_trainer *t = NULL;
        t0 = host_now();
        if (host_trainer_create(&rt->dev, &c, train, test, &t) != MLP_OK) {
            int rc = runtime_error("%s", host_trainer_error(t));
            host_trainer_destroy(t);
            return rc;
        }
        if (seed == 1) upload_first = host_now() - t0;
        double start = host_now(), at = -1;
        uint32_t epoch = 0;
        double acc = 0;
        for (epoch = 1; epoch <= c.epochs; epoch++) {
            mlp_eval_result ev;
            if (host_trainer_train_epoch(t, NULL, NULL, NULL) != MLP_OK || host_trainer_evaluate(t, &ev) != MLP_OK) {
                int rc = runtime_error("%s", host_trainer_error(t));
                host_trainer_destroy(t);
                return rc;
            }
            acc = ev.accuracy;
            if (acc >= o->target) {
                at = host_now() - start;
                break;
            }
        }
        if (at >= 0) reached[n_reached++] = at;
        if (o->json) {
            cJSON *j = cJSON_CreateObject();
            bool ok = j && json_add_string(j, "event", "time_to_accuracy_seed") && json_add_integer(j, "seed", seed) &&
                      json_add(j, "reached", cJSON_CreateBool(at >= 0)) &&
                      json_add_fixed(j, "seconds", at >= 0 ? at : host_now() - start, 4) &&
                      json_add_integer(j, "epochs", epoch > c.epochs ? c.epochs : epoch) && json_add_fixed(j, "test_accuracy", acc, 4);
            if (!ok) cJSON_Delete(j), j = NULL;
            cli_json_line(j);
        } else
            printf("seed %u: %s %.4f after %u epochs, %.3f s\n", seed, at >= 0 ? "reached" : "did not reach", acc,
                   epoch > c.epochs ? c.epochs : epoch, at >= 0 ? at : host_now() - start);
        fflush(stdout);
        host_trainer_destroy(t);
    }
    double med = n_reached ? median(reached, n_reached) : -1;
    const mlp_config *d = &o->recipe;
    char hidden[128];
    model_hidden_format(&d->arch, hidden, sizeof hidden);
    char smoothing[48] = "";
    if (d->label_smoothing > 0) snprintf(smoothing, sizeof smoothing, ", label smoothing %g", (double)d->label_smoothing);
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        bool ok = j && json_add_string(j, "event", "time_to_accuracy") && json_add_fixed(j, "target", o->target, 4) &&
                  json_add_integer(j, "seeds", seeds) && json_add_integer(j, "reached", (unsigned)n_reached) &&
                  json_add_fixed(j, "median_seconds", med, 4) && json_add_fixed(j, "device_seconds", device_s, 4) &&
                  json_add_fixed(j, "compile_seconds", compile_s, 4) && json_add_fixed(j, "upload_seconds", upload_first, 4) &&
                  json_add_string(j, "hidden", hidden) && json_add_string(j, "optimizer", optim_name(d->optimizer)) &&
                  json_add_integer(j, "batch", d->batch) && json_add_number(j, "lr", d->lr, 6) &&
                  json_add_number(j, "momentum", d->momentum, 6) && json_add_string(j, "schedule", mlp_schedule_name(d->schedule)) &&
                  json_add_integer(j, "warmup", d->warmup) && json_add_integer(j, "schedule_epochs", o->max_epochs) &&
                  json_add_number(j, "label_smoothing", d->label_smoothing, 6) &&
                  json_add_number(j, "weight_decay", d->weight_decay, 6) && json_add_number(j, "dropout", d->dropout, 6);
        if (!ok) cJSON_Delete(j), j = NULL;
        cli_json_line(j);
    } else
        printf("time to %.1f%%: median %.3f s over the %d of %u seeds that reached it (training and per-epoch "
               "evaluation, from the first dispatch); device creation %.3f s, pipeline compilation %.3f s, data "
               "upload %.3f s; recipe: 784-%s-10, %s, batch %u, lr %g, %s over %u epochs%s\n",
               100 * o->target, med, n_reached, seeds, device_s, compile_s, upload_first, hidden,
               optim_name(d->optimizer), d->batch, d->lr, mlp_schedule_name(d->schedule), o->max_epochs, smoothing);
    return 0;
}

int cmd_bench(int argc, char **argv) {
    bench_opts o;
    memset(&o, 0, sizeof o);
    uint32_t defaults[] = {64, 256, 1024, 4096};
    memcpy(o.batches, defaults, sizeof defaults);
    o.batch_count = 4;
    o.epochs = 5;
    o.report_every = 100;
    o.seeds = 5;
    o.max_epochs = 12;
    o.target = 0.98f;
    o.kernels = MLP_KERNELS_FUSED;
    o.recipe = mlp_config_default();
    host_gpu_options g = {0};
    g.timestamps = true;
    host_device_options dev = {0};
    const char *data = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        int r = host_gpu_flag(argc, argv, &i, &g);
        if (r == 0) r = host_device_flag(argc, argv, &i, &dev);
        if (r == 0) r = host_recipe_flag(argc, argv, &i, &o.recipe, &o.given);
        if (r < 0) return EXIT_USAGE;
        if (r > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(bench_help, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) o.json = true;
        else if (!strcmp(a, "--time-to-accuracy")) o.tta = true;
        else if (!strcmp(a, "--skip-speed")) o.skip_speed = o.tta = true;
        else if (flag_is(a, "--epochs")) {
            if (!(v = flag_value(argc, argv, &i, "--epochs")) || !parse_u32("--epochs", v, 1, 64, &o.epochs)) return EXIT_USAGE;
        } else if (flag_is(a, "--report-every")) {
            if (!(v = flag_value(argc, argv, &i, "--report-every")) || !parse_u32("--report-every", v, 1, 4096, &o.report_every)) return EXIT_USAGE;
        } else if (flag_is(a, "--seeds")) {
            if (!(v = flag_value(argc, argv, &i, "--seeds")) || !parse_u32("--seeds", v, 1, 64, &o.seeds)) return EXIT_USAGE;
        } else if (flag_is(a, "--max-epochs")) {
            if (!(v = flag_value(argc, argv, &i, "--max-epochs")) || !parse_u32("--max-epochs", v, 1, 1000, &o.max_epochs)) return EXIT_USAGE;
        } else if (flag_is(a, "--target")) {
            if (!(v = flag_value(argc, argv, &i, "--target")) || !parse_float("--target", v, &o.target)) return EXIT_USAGE;
            if (o.target <= 0 || o.target > 1) return usage_error("--target must be in (0, 1] (got %s)", v);
        } else if (flag_is(a, "--kernels")) {
            if (!(v = flag_value(argc, argv, &i, "--kernels")) || !host_parse_kernels(v, false, &o.kernels))
                return EXIT_USAGE;
            o.kernels_given = true;
            dev.implies = "--kernels";
        } else if (flag_is(a, "--batches")) {
            if (!(v = flag_value(argc, argv, &i, "--batches"))) return EXIT_USAGE;
            o.batch_count = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (o.batch_count >= 16) return usage_error("--batches takes at most 16 sizes");
                if (!parse_u32("--batches", tok, 1, MLP_MAX_BATCH, &o.batches[o.batch_count++])) return EXIT_USAGE;
            }
            if (o.batch_count == 0) return usage_error("--batches needs at least one size");
        } else if (flag_is(a, "--data")) {
            if (!(data = flag_value(argc, argv, &i, "--data"))) return EXIT_USAGE;
        } else return usage_error("unknown option '%s' for bench", a);
    }
    if (!host_device_check(&dev, &g) || !host_recipe_finish(&o.recipe, &o.given)) return EXIT_USAGE;
    if (!data) data = host_default_data_dir();
    mnist_set train = {0}, test = {0};
    if (!host_load_mnist(data, MNIST_TRAIN, &train) || !host_load_mnist(data, MNIST_TEST, &test)) {
        mnist_free(&train);
        return 1;
    }
    double t0 = host_now();
    host_runtime rt;
    bool opened = host_runtime_open(&dev, &g, &rt);
    double device_s = host_now() - t0;
    int rc = 1;
    if (opened) {
        if (!o.json && rt.dev.gpu) {
            const gpu_adapter_info *info = gpu_info(rt.dev.gpu);
            printf("adapter: %s (%s, %s); kernels: %s\n", info->name, gpu_backend_name(info->backend),
                   gpu_adapter_type_name(info->type), o.kernels == MLP_KERNELS_FUSED ? "fused" : "reference");
        } else if (!o.json)
            printf("engine: %s\n", rt.name);
        mlp_dataset dtrain = {train.images, train.labels, train.count}, dtest = {test.images, test.labels, test.count};
        rc = o.skip_speed ? 0 : bench_speed(&rt, &o, &dtrain);
        if (rc == 0 && o.tta) rc = bench_time_to_accuracy(&rt, &o, &dtrain, &dtest, device_s);
        host_runtime_close(&rt);
    }
    mnist_free(&train);
    mnist_free(&test);
    return rc;
}
