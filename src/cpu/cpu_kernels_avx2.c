/* The AVX2 + FMA kernels: built with -mavx2 -mfma (Makefile) and only called where
 * cpu_isa_available(CPU_ISA_AVX2) found both at run time, so the binary runs anywhere. */
#include "cpu/cpu_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#if !defined(__AVX2__) || !defined(__FMA__)
#error "cpu_kernels_avx2.c must be built with -mavx2 -mfma"
#endif
#define CPU_OPS_NAME "avx2+fma"
#define CPU_OPS cpu_ops_avx2
#include "cpu/cpu_simd.inc"
#endif
