/* See cpu_threads.h. One run: the caller publishes (fn, ctx) and then one atomic word,
 * generation << 32 | tasks left; every thread (the caller too) claims a task by decrementing
 * the count with a compare-and-swap that also checks the generation, so a worker that wakes
 * late can never claim from a later run, and the caller never waits for a worker that has not
 * claimed anything: on a loaded machine it simply runs the tasks itself. The run ends when
 * the tasks done reach the tasks published. */
#include "host/cpu_threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#define SPINS 4000 /* pauses before a wait sleeps: ~0.1 ms */

struct cpu_threads {
    uint32_t threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t wake, done_cv;
    _Atomic uint64_t word; /* generation << 32 | tasks left to claim */
    atomic_uint done;       /* tasks of this run finished */
    atomic_uint sleepers;   /* the caller waits on done_cv when 1 */
    cpu_task_fn fn;
    void *ctx;
    uint32_t tasks;
    atomic_bool quit;
};

typedef struct worker_arg {
    cpu_threads *p;
    uint32_t index;
} worker_arg;

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims and runs tasks of generation gen until none are left. */
static void work(cpu_threads *p, uint32_t gen, uint32_t worker) {
    uint64_t w = atomic_load_explicit(&p->word, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(w >> 32) != gen || (uint32_t)w == 0) return;
        if (!atomic_compare_exchange_weak_explicit(&p->word, &w, w - 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        /* claimed task (left - 1) of this run, which cannot end before it is done: fn and ctx
         * are still this run's */
        uint32_t tasks = p->tasks;
        p->fn(p->ctx, (uint32_t)w - 1, worker);
        /* seq_cst with the caller's store to sleepers and load of done: one sees the other */
        if (atomic_fetch_add(&p->done, 1) + 1 == tasks && atomic_load(&p->sleepers)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
        w = atomic_load_explicit(&p->word, memory_order_acquire);
    }
}

static void *worker_main(void *arg) {
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    cpu_threads *p = a.p;
    uint32_t seen = 0;
    for (;;) {
        uint32_t g;
        int spins = 0;
        while ((g = (uint32_t)(atomic_load_explicit(&p->word, memory_order_acquire) >> 32)) == seen && spins < SPINS) {
            relax();
            spins++;
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = (uint32_t)(atomic_load_explicit(&p->word, memory_order_acquire) >> 32)) == seen &&
                   !atomic_load(&p->quit))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) return NULL;
        seen = g;
        work(p, g, a.index);
    }
}

static void run(void *impl, uint32_t tasks, cpu_task_fn fn, void *ctx) {
    cpu_threads *p = impl;
    if (tasks == 0) return;
    p->fn = fn;
    p->ctx = ctx;
    p->tasks = tasks;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    uint32_t gen = (uint32_t)(atomic_load_explicit(&p->word, memory_order_relaxed) >> 32) + 1;
    atomic_store_explicit(&p->word, (uint64_t)gen << 32 | tasks, memory_order_release);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p, gen, 0);
    int spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) != tasks && spins < SPINS) {
        relax();
        spins++;
    }
    if (atomic_load_explicit(&p->done, memory_order_acquire) != tasks) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->sleepers, 1);
        while (atomic_load_explicit(&p->done, memory_order_acquire) != tasks) pthread_cond_wait(&p->done_cv, &p->mu);
        atomic_store(&p->sleepers, 0);
        pthread_mutex_unlock(&p->mu);
    }
}

cpu_threads *cpu_threads_create(uint32_t threads) {
    if (threads == 0) return NULL;
    cpu_threads *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->tids = calloc(threads, sizeof *p->tids);
    if (!p->tids) {
        free(p);
        return NULL;
    }
    for (uint32_t i = 1; i < threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a || (a->p = p, a->index = i, pthread_create(&p->tids[i], NULL, worker_main, a)) != 0) {
            free(a);
            p->threads = i; /* the ones started: destroy joins them */
            cpu_threads_destroy(p);
            return NULL;
        }
    }
    return p;
}

void cpu_threads_destroy(cpu_threads *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 1; i < p->threads; i++) pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->tids);
    free(p);
}

cpu_pool cpu_threads_pool(cpu_threads *p) {
    cpu_pool pool = {p, p ? p->threads : 1, p ? run : NULL};
    return pool;
}
