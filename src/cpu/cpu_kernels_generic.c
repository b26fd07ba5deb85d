/* The generic kernels: 4-float vectors of whatever the target has (SSE2 on x86-64, simd128 in
 * the wasm build with -msimd128, NEON on arm64), multiply then add. */
#include "cpu/cpu_kernels.h"

#if defined(__wasm_simd128__)
#define CPU_OPS_NAME "generic-simd128"
#elif defined(__SSE2__)
#define CPU_OPS_NAME "generic-sse2"
#elif defined(__ARM_NEON)
#define CPU_OPS_NAME "generic-neon"
#else
#define CPU_OPS_NAME "generic"
#endif
#define CPU_OPS cpu_ops_generic
#include "cpu/cpu_simd.inc"
