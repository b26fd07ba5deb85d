/* See cpu_threads.h. One run: the caller publishes (fn, ctx, tasks) under a new generation,
 * every thread (the caller too) claims task indices from an atomic counter until none are
 * left, and the run ends when every thread has checked in for that generation, so no worker
 * can still be claiming from a run that has ended. */
#include "host/cpu_threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#define SPINS 20000

struct cpu_threads {
    uint32_t threads;
    pthread_t *tids;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_uint_fast64_t generation;
    atomic_uint next, pending;
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

static void work(cpu_threads *p, uint32_t worker) {
    for (;;) {
        uint32_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->tasks) break;
        p->fn(p->ctx, t, worker);
    }
    if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

static void *worker_main(void *arg) {
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    cpu_threads *p = a.p;
    uint64_t seen = 0;
    for (;;) {
        uint64_t g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && spins < SPINS) {
            relax();
            spins++;
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (atomic_load(&p->quit)) return NULL;
        work(p, a.index);
    }
}

static void run(void *impl, uint32_t tasks, cpu_task_fn fn, void *ctx) {
    cpu_threads *p = impl;
    p->fn = fn;
    p->ctx = ctx;
    p->tasks = tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->pending, p->threads, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p, 0);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0 && spins < SPINS) {
        relax();
        spins++;
    }
    if (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) pthread_cond_wait(&p->done, &p->mu);
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
    pthread_cond_init(&p->done, NULL);
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
    atomic_store(&p->quit, true);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 1; i < p->threads; i++) pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->tids);
    free(p);
}

cpu_pool cpu_threads_pool(cpu_threads *p) {
    cpu_pool pool = {p, p ? p->threads : 1, p ? run : NULL};
    return pool;
}
