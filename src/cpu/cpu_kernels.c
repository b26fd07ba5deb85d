/* The CPU kernels' ISA-independent half: the execution context, the task split of every op,
 * and the elementwise ops (see cpu_kernels.h). The products and the optimizer's loop are in
 * cpu_simd.inc, built once per ISA. */
#include "cpu/cpu_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/reference.h"

struct cpu_exec {
    cpu_pool pool;
    bool has_pool;
    uint32_t threads;
    cpu_isa isa;
    const cpu_isa_ops *ops;
    void *scratch_mem;
    float *scratch; /* threads x scratch_stride floats, 64-byte aligned */
    size_t scratch_stride;
};

bool cpu_isa_available(cpu_isa isa) {
    switch (isa) {
    case CPU_ISA_AUTO:
    case CPU_ISA_GENERIC: return true;
    case CPU_ISA_AVX2:
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
        return false;
#endif
    }
    return false;
}

static const cpu_isa_ops *isa_ops(cpu_isa isa) {
#if defined(__x86_64__) || defined(__i386__)
    if (isa == CPU_ISA_AVX2) return &cpu_ops_avx2;
#endif
    (void)isa;
    return &cpu_ops_generic;
}

static cpu_isa resolve(cpu_isa isa) {
    if (isa == CPU_ISA_AUTO) return cpu_isa_available(CPU_ISA_AVX2) ? CPU_ISA_AVX2 : CPU_ISA_GENERIC;
    return isa;
}

const char *cpu_isa_name(cpu_isa isa) {
    isa = resolve(isa);
    return isa == CPU_ISA_AVX2 ? "avx2+fma" : cpu_ops_generic.name;
}

cpu_exec *cpu_exec_create(const cpu_pool *pool, cpu_isa isa) {
    isa = resolve(isa);
    if (!cpu_isa_available(isa)) return NULL;
    cpu_exec *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->isa = isa;
    e->ops = isa_ops(isa);
    e->has_pool = pool && pool->run;
    if (e->has_pool) e->pool = *pool;
    e->threads = e->has_pool && pool->threads > 1 ? pool->threads : 1;
    e->scratch_stride = (e->ops->scratch_floats + 15) & ~(size_t)15;
    e->scratch_mem = malloc(e->threads * e->scratch_stride * sizeof(float) + 64);
    if (!e->scratch_mem) {
        free(e);
        return NULL;
    }
    e->scratch = (float *)(((uintptr_t)e->scratch_mem + 63) & ~(uintptr_t)63);
    return e;
}

void cpu_exec_destroy(cpu_exec *e) {
    if (!e) return;
    free(e->scratch_mem);
    free(e);
}

cpu_isa cpu_exec_isa(const cpu_exec *e) { return e->isa; }
uint32_t cpu_exec_threads(const cpu_exec *e) { return e->threads; }

void cpu_exec_run(cpu_exec *e, uint32_t tasks, cpu_task_fn fn, void *ctx) {
    if (tasks == 0) return;
    if (e->has_pool && e->threads > 1 && tasks > 1) {
        e->pool.run(e->pool.impl, tasks, fn, ctx);
        return;
    }
    for (uint32_t t = 0; t < tasks; t++) fn(ctx, t, 0);
}

/* ---- products ---- */

typedef struct gemm_job {
    cpu_exec *e;
    const cpu_gemm *g;
    int count;
    uint32_t first[8 + 1]; /* task index where product i starts */
} gemm_job;

static int tiles_n(const cpu_gemm *g) { return (g->N + CPU_TILE_N - 1) / CPU_TILE_N; }
static uint32_t tiles(const cpu_gemm *g) {
    if (g->M <= 0 || g->N <= 0 || g->K <= 0) return 0;
    return (uint32_t)((g->M + CPU_TILE_M - 1) / CPU_TILE_M) * (uint32_t)tiles_n(g);
}

static void gemm_task(void *ctx, uint32_t task, uint32_t worker) {
    gemm_job *j = ctx;
    int i = 0;
    while (task >= j->first[i + 1]) i++;
    const cpu_gemm *g = &j->g[i];
    uint32_t t = task - j->first[i];
    int tn = tiles_n(g);
    j->e->ops->gemm_tile(g, (int)(t / (uint32_t)tn), (int)(t % (uint32_t)tn),
                         j->e->scratch + (size_t)worker * j->e->scratch_stride);
}

void cpu_gemm_run(cpu_exec *e, const cpu_gemm *g, int count) {
    for (int base = 0; base < count; base += 8) {
        gemm_job j = {e, g + base, count - base < 8 ? count - base : 8, {0}};
        for (int i = 0; i < j.count; i++) {
            const cpu_gemm *x = &j.g[i];
            if (x->K <= 0 && !x->accumulate)
                for (int m = 0; m < x->M; m++) memset(x->c + (ptrdiff_t)m * x->ldc, 0, (size_t)(x->N > 0 ? x->N : 0) * 4);
            j.first[i + 1] = j.first[i] + tiles(x);
        }
        cpu_exec_run(e, j.first[j.count], gemm_task, &j);
    }
}

void cpu_dense_forward(cpu_exec *e, float *out, const float *inp, const float *w, const float *bias, int B, int C_in,
                       int C_out) {
    for (int b = 0; b < B; b++) memcpy(out + (size_t)b * C_out, bias, (size_t)C_out * sizeof(float));
    /* out[b][o] += sum_i inp[b][i] w[o][i]: A = inp, B(k, n) = w[n][k] */
    cpu_gemm g = {B, C_out, C_in, inp, C_in, 1, w, 1, C_in, out, C_out, true};
    cpu_gemm_run(e, &g, 1);
}

void cpu_dense_backward(cpu_exec *e, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                        const float *w, int B, int C_in, int C_out) {
    cpu_gemm g[2] = {
        /* dw[o][i] = sum_b dout[b][o] inp[b][i]: A(m, k) = dout[k][m], B = inp */
        {C_out, C_in, B, dout, 1, C_out, inp, C_in, 1, dw, C_in, false},
        /* dinp[b][i] = sum_o dout[b][o] w[o][i]: A = dout, B = w */
        {B, C_in, C_out, dout, C_out, 1, w, C_in, 1, dinp, C_in, false},
    };
    cpu_gemm_run(e, g, dinp ? 2 : 1);
    /* dbias[o] = sum_b dout[b][o], in b order */
    memset(dbias, 0, (size_t)C_out * sizeof(float));
    for (int b = 0; b < B; b++) {
        const float *d = dout + (size_t)b * C_out;
        for (int o = 0; o < C_out; o++) dbias[o] += d[o];
    }
}

/* ---- elementwise ---- */

typedef struct gather_job {
    float *x;
    const uint8_t *images;
    const uint32_t *order;
    uint32_t start;
    int count, pixels;
} gather_job;

#define GATHER_ROWS 16

static void gather_task(void *ctx, uint32_t task, uint32_t worker) {
    (void)worker;
    const gather_job *j = ctx;
    int b0 = (int)task * GATHER_ROWS, b1 = b0 + GATHER_ROWS < j->count ? b0 + GATHER_ROWS : j->count;
    for (int b = b0; b < b1; b++) {
        const uint8_t *img = j->images + (size_t)j->order[j->start + (uint32_t)b] * (size_t)j->pixels;
        float *xb = j->x + (size_t)b * (size_t)j->pixels;
        /* the reference's expression, so the same bits */
        for (int k = 0; k < j->pixels; k++) xb[k] = ((float)img[k] * (1.0f / 255.0f) - REF_PIXEL_MEAN) / REF_PIXEL_STD;
    }
}

void cpu_input_gather(cpu_exec *e, float *x, const uint8_t *images, const uint32_t *order, uint32_t start, int count,
                      int pixels) {
    gather_job j = {x, images, order, start, count, pixels};
    cpu_exec_run(e, (uint32_t)((count + GATHER_ROWS - 1) / GATHER_ROWS), gather_task, &j);
}

void cpu_activation_forward(float *out, const float *pre, int n, model_activation act) {
    switch (act) {
    case MODEL_ACT_RELU:
        for (int i = 0; i < n; i++) out[i] = pre[i] > 0.0f ? pre[i] : 0.0f;
        break;
    case MODEL_ACT_GELU:
        for (int i = 0; i < n; i++) out[i] = 0.5f * pre[i] * (1.0f + erff(pre[i] * 0.70710678118654752f));
        break;
    case MODEL_ACT_TANH:
        for (int i = 0; i < n; i++) out[i] = tanhf(pre[i]);
        break;
    case MODEL_ACT_SIGMOID:
        for (int i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-pre[i]));
        break;
    case MODEL_ACT_LEAKY_RELU:
        for (int i = 0; i < n; i++) out[i] = pre[i] > 0.0f ? pre[i] : 0.01f * pre[i];
        break;
    default:
        if (out != pre) memmove(out, pre, (size_t)n * sizeof(float));
        break;
    }
}

void cpu_activation_backward(float *dpre, const float *pre, const float *dout, int n, model_activation act) {
    switch (act) {
    case MODEL_ACT_RELU:
        for (int i = 0; i < n; i++) dpre[i] = pre[i] > 0.0f ? dout[i] : 0.0f;
        break;
    case MODEL_ACT_GELU:
        for (int i = 0; i < n; i++) {
            float x = pre[i];
            float d = 0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * expf(-0.5f * x * x) * 0.3989422804014327f;
            dpre[i] = dout[i] * d;
        }
        break;
    case MODEL_ACT_TANH:
        for (int i = 0; i < n; i++) {
            float t = tanhf(pre[i]);
            dpre[i] = dout[i] * (1.0f - t * t);
        }
        break;
    case MODEL_ACT_SIGMOID:
        for (int i = 0; i < n; i++) {
            float s = 1.0f / (1.0f + expf(-pre[i]));
            dpre[i] = dout[i] * (s * (1.0f - s));
        }
        break;
    case MODEL_ACT_LEAKY_RELU:
        for (int i = 0; i < n; i++) dpre[i] = pre[i] > 0.0f ? dout[i] : 0.01f * dout[i];
        break;
    default:
        if (dpre != dout) memmove(dpre, dout, (size_t)n * sizeof(float));
        break;
    }
}

void cpu_dropout(float *out, const float *inp, int n, float p, uint32_t noise, uint32_t layer) {
    float scale = 1.0f / (1.0f - p);
    for (int i = 0; i < n; i++) out[i] = dropout_keep(noise, layer, (uint32_t)i, p) ? inp[i] * scale : 0.0f;
}

double cpu_softmax_xent(float *dlogits, float *losses, uint32_t *correct, const float *logits, const uint8_t *labels,
                        int B, int C, float smoothing) {
    double loss_sum = 0.0;
    const float s = smoothing, inv_b = 1.0f / (float)B;
    for (int b = 0; b < B; b++) {
        const float *row = logits + (size_t)b * C;
        int label = labels[b], argmax = 0;
        float maxv = row[0];
        for (int c = 1; c < C; c++)
            if (row[c] > maxv) maxv = row[c], argmax = c;
        float sum = 0.0f;
        for (int c = 0; c < C; c++) sum += expf(row[c] - maxv);
        float lsum = logf(sum), loss = lsum - (row[label] - maxv);
        if (s > 0.0f) {
            float all = 0.0f;
            for (int c = 0; c < C; c++) all += lsum - (row[c] - maxv);
            loss = (1.0f - s) * loss + s * all / (float)C;
        }
        loss_sum += loss;
        if (losses) losses[b] = loss;
        if (correct) correct[b] = argmax == label;
        if (dlogits) {
            float *d = dlogits + (size_t)b * C, inv = 1.0f / sum;
            for (int c = 0; c < C; c++) {
                float y = c == label ? 1.0f : 0.0f;
                if (s > 0.0f) y = (1.0f - s) * y + s / (float)C;
                d[c] = (expf(row[c] - maxv) * inv - y) * inv_b;
            }
        }
    }
    return loss_sum;
}

void cpu_classify(float *probs, uint32_t *predicted, float *losses, const float *logits, const uint8_t *labels, int B,
                  int C) {
    for (int b = 0; b < B; b++) {
        const float *row = logits + (size_t)b * C;
        int argmax = 0;
        float maxv = row[0];
        for (int c = 1; c < C; c++)
            if (row[c] > maxv) maxv = row[c], argmax = c;
        float sum = 0.0f;
        for (int c = 0; c < C; c++) sum += expf(row[c] - maxv);
        if (probs)
            for (int c = 0; c < C; c++) probs[(size_t)b * C + c] = expf(row[c] - maxv) / sum;
        if (predicted) predicted[b] = (uint32_t)argmax;
        if (losses) losses[b] = labels && labels[b] < C ? logf(sum) - (row[labels[b]] - maxv) : 0.0f;
    }
}

typedef struct opt_job {
    const cpu_isa_ops *ops;
    float *p, *state;
    size_t stride, n;
    const float *g;
    const optim_config *o;
    float lr, bc1, bc2, clip;
} opt_job;

static void opt_task(void *ctx, uint32_t task, uint32_t worker) {
    (void)worker;
    const opt_job *j = ctx;
    size_t i = (size_t)task * CPU_CHUNK, n = j->n - i < CPU_CHUNK ? j->n - i : CPU_CHUNK;
    j->ops->optimizer(j->p + i, j->state ? j->state + i : NULL, j->stride, j->g + i, n, j->o, j->lr, j->bc1, j->bc2,
                      j->clip);
}

void cpu_optimizer_update(cpu_exec *e, float *p, float *state, size_t stride, const float *g, size_t n,
                          const optim_config *o, float lr, float bc1, float bc2, float clip) {
    opt_job j = {e->ops, p, state, stride, n, g, o, lr, bc1, bc2, clip};
    cpu_exec_run(e, (uint32_t)((n + CPU_CHUNK - 1) / CPU_CHUNK), opt_task, &j);
}
