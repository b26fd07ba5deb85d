/* A pthread worker pool for the CPU engine (cpu/cpu_kernels.h's cpu_pool): host code, as the
 * engine itself creates no threads. threads - 1 workers plus the calling thread (worker 0);
 * workers spin briefly between runs (an epoch is thousands of short runs) and then sleep. */
#ifndef WGTRAIN_CPU_THREADS_H
#define WGTRAIN_CPU_THREADS_H

#include <stdint.h>

#include "cpu/cpu_kernels.h"

typedef struct cpu_threads cpu_threads;

/* NULL when threads is 0 or a thread cannot be started. */
cpu_threads *cpu_threads_create(uint32_t threads);
void cpu_threads_destroy(cpu_threads *p);
/* The pool to hand the engine (valid while p lives). */
cpu_pool cpu_threads_pool(cpu_threads *p);

#endif
