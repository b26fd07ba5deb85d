#!/usr/bin/env bash
# The CPU engine as the browser would run it: tests/test_cpu_engine.c built for wasm32-wasi
# with the simd128 kernels (the ops, trajectories and API checks; no threads, no MNIST there),
# run under Node's WASI, which is V8's wasm as in Chromium.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
if out=$(make --no-print-directory build/wasm-tests/test_cpu_engine.wasm 2>&1); then
  ok "the CPU engine's test builds for wasm32 with -msimd128"
else
  bad "building build/wasm-tests/test_cpu_engine.wasm: $out"
fi
out=$(node --no-warnings tools/run_wasi.mjs build/wasm-tests/test_cpu_engine.wasm 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 25
if [ $rc -eq 0 ] && printf '%s' "$out" | grep -q 'test_cpu_engine: [0-9]* checks, 0 failed'; then
  ok "test_cpu_engine passes in wasm"
else
  bad "test_cpu_engine in wasm exited $rc"
fi
if printf '%s' "$out" | grep -q '^  generic-simd128 *20 steps'; then ok "it ran the simd128 kernels"; else bad "no simd128 trajectories in the output"; fi
echo "$checks checks, $failures failed"
[ $failures -eq 0 ]
