/* The CPU engine's kernels: the reference's ops (core/reference.h) rewritten for speed, cache
 * blocked and SIMD (AVX2 + FMA natively, chosen at run time; SSE2 / NEON / wasm simd128 through
 * the compiler's generic vectors elsewhere), their work split into tasks a host's worker pool
 * runs.
 *
 * Like the rest of the engine this touches no threads, files, clocks or terminal: the host
 * hands in a cpu_pool (or none: every task then runs in order on the caller's thread).
 *
 * Determinism: every op splits its work into tasks by the shape alone (never by the number of
 * threads), each output element is summed by one task in a fixed order, and every reduction
 * across tasks is added in task order. So results are the same bits for any thread count, on
 * one ISA (AVX2's fused multiply-adds round differently from the generic kernels). */
#ifndef WGTRAIN_CPU_KERNELS_H
#define WGTRAIN_CPU_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "core/optim.h"

/* fn(ctx, task, worker) for one task; worker < the pool's threads, so fn may use per-worker
 * scratch. Tasks of one run are independent and may run in any order, on any worker. */
typedef void (*cpu_task_fn)(void *ctx, uint32_t task, uint32_t worker);

/* A worker pool the host fills: run() calls fn(ctx, t, w) once for every t < tasks, each with
 * some w < threads, and returns when all are done. Never called concurrently by the engine. */
typedef struct cpu_pool {
    void *impl;
    uint32_t threads; /* workers; 0 counts as 1 */
    void (*run)(void *impl, uint32_t tasks, cpu_task_fn fn, void *ctx);
} cpu_pool;

/* Which kernels: CPU_ISA_AUTO picks AVX2 + FMA where the CPU has them, else generic. */
typedef enum cpu_isa { CPU_ISA_AUTO = 0, CPU_ISA_GENERIC, CPU_ISA_AVX2 } cpu_isa;
bool cpu_isa_available(cpu_isa isa);
const char *cpu_isa_name(cpu_isa isa); /* "generic-sse2", "generic-simd128", "avx2+fma", ... */

/* Task sizes: a task owns a CPU_TILE_M x CPU_TILE_N tile of a product's output and sums its K
 * in blocks of at most CPU_TILE_K. Fixed here, so partitions never depend on the ISA. */
#define CPU_TILE_M 48
#define CPU_TILE_N 64
#define CPU_TILE_K 256
#define CPU_CHUNK 8192 /* elements per task of an elementwise pass */

/* The execution context: the pool, the kernels, per-worker packing scratch. */
typedef struct cpu_exec cpu_exec;
/* pool may be NULL (serial) and is copied. NULL when out of memory or isa unavailable. */
cpu_exec *cpu_exec_create(const cpu_pool *pool, cpu_isa isa);
void cpu_exec_destroy(cpu_exec *e);
cpu_isa cpu_exec_isa(const cpu_exec *e);
uint32_t cpu_exec_threads(const cpu_exec *e);
/* Runs fn over tasks through the pool (or in order when there is none). */
void cpu_exec_run(cpu_exec *e, uint32_t tasks, cpu_task_fn fn, void *ctx);

/* C[m][n] = (accumulate ? C[m][n] : 0) + sum_k A(m, k) B(k, n), with
 * A(m, k) = a[m * a_rs + k * a_cs], B(k, n) = b[k * b_rs + n * b_cs], C at c[m * ldc + n]. */
typedef struct cpu_gemm {
    int M, N, K;
    const float *a;
    ptrdiff_t a_rs, a_cs;
    const float *b;
    ptrdiff_t b_rs, b_cs;
    float *c;
    ptrdiff_t ldc;
    bool accumulate;
} cpu_gemm;
/* count independent products (no output shared, none reading another's output), one pool run. */
void cpu_gemm_run(cpu_exec *e, const cpu_gemm *g, int count);

/* The reference's contracts (reference.h), same layouts. */
void cpu_input_gather(cpu_exec *e, float *x, const uint8_t *images, const uint32_t *order, uint32_t start, int count,
                      int pixels);
void cpu_dense_forward(cpu_exec *e, float *out, const float *inp, const float *w, const float *bias, int B, int C_in,
                       int C_out);
/* dinp may be NULL (skipped). Overwrites dw, dbias, dinp. */
void cpu_dense_backward(cpu_exec *e, float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                        const float *w, int B, int C_in, int C_out);
void cpu_activation_forward(float *out, const float *pre, int n, model_activation act);
void cpu_activation_backward(float *dpre, const float *pre, const float *dout, int n, model_activation act);
/* reference.c's dropout_forward: element i of the batch's [B][width] block, its hash mask. */
void cpu_dropout(float *out, const float *inp, int n, float p, uint32_t noise, uint32_t layer);
/* softmax_xent_smoothed's per-sample results (dlogits, losses, correct may be NULL); returns
 * the SUM of the batch's losses (the reference returns the mean); dlogits are scaled by
 * 1 / B as there. */
double cpu_softmax_xent(float *dlogits, float *losses, uint32_t *correct, const float *logits, const uint8_t *labels,
                        int B, int C, float smoothing);
/* Evaluation: per sample the softmax (probs, may be NULL), the first argmax, and the loss of
 * its label (0 for a label >= C). */
void cpu_classify(float *probs, uint32_t *predicted, float *losses, const float *logits, const uint8_t *labels, int B,
                  int C);
/* optimizer_update, the same float expression per parameter (the same bits as the
 * reference), split into CPU_CHUNK tasks. */
void cpu_optimizer_update(cpu_exec *e, float *p, float *state, size_t stride, const float *g, size_t n,
                          const optim_config *o, float lr, float bc1, float bc2, float clip);

/* ---- internal: what each ISA's file provides ---- */
typedef struct cpu_isa_ops {
    const char *name;
    /* the floats of one worker's packing scratch */
    size_t scratch_floats;
    /* output tile (ti, tj) of g */
    void (*gemm_tile)(const cpu_gemm *g, int ti, int tj, float *scratch);
    void (*optimizer)(float *p, float *state, size_t stride, const float *g, size_t n, const optim_config *o, float lr,
                      float bc1, float bc2, float clip);
} cpu_isa_ops;
extern const cpu_isa_ops cpu_ops_generic;
#if defined(__x86_64__) || defined(__i386__)
extern const cpu_isa_ops cpu_ops_avx2;
#endif

#endif
