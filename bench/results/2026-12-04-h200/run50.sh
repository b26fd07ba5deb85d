#!/usr/bin/env bash
# device run 50 (planned in the tenth session, 2026-12-04; not run: no device was lent after run
# 49): experiment 44, six rounds interleaved, `wgtrain bench --batches 64 --epochs 5`, SGD lr 0.1,
# 784-128-10 and 784-256-10, build/wgtrain with fused_step variants through --kernels-dir. The
# variants are patches of src/kernels/fused_step.wgsl as of 642562f (run50/kernels/NAME.patch).
# First, on this machine: `bash bench/results/2026-12-04-h200/run50.sh prep` makes
# build/dev/k/NAME (every kernel, the variant's fused_step.wgsl patched), then the device call
# runs this script with build/dev carried. The variants give one another's numbers to the bit (a
# checkpoint's sha256 on lavapipe), and ilpre, il4 and ildh had 0 failures in `wgtrain check` there.
#   main   the embedded kernels
#   ilpre  experiment 43's pre (the small gradients' parameter and velocity loaded with the
#          step's first loads), and the forward's slices interleaved: slice s takes words s,
#          s + 16, ..., so that the 16 threads of a slice group read 16 consecutive words of one
#          sample (one or two cache lines a load instruction, where a warp's 32 threads read 32
#          samples' words)
#   il2    ilpre, the forward's pixel words of 2 words of its slice issued together
#   il4    ... of 4 words
#   ildh   ilpre, and the dW1 loop reading its sample's dhidden as one vec4 (dh4, 1 KiB more
#          workgroup memory: 32,216 bytes, under lavapipe's 32,768), where it read 4 floats
#   ilsg   ilpre, and the forward's 16 slice sums added across the slice group's 16 lanes by a
#          subgroup butterfly (subgroupShuffleXor; levels of 8, 4, 2, 1 lanes, the 8 through
#          workgroup memory where a subgroup has fewer than 16 lanes, as lavapipe's 8), where
#          each thread stored its 16 sums to workgroup memory and a barrier later read them back:
#          experiment 45, added in the eleventh session (needs build/wgtrain at c88518d or later,
#          which requests the subgroups feature). Its own numbers, bit for bit, run after run
#   ildhsg ildh with ilsg's butterfly
# First `wgtrain check` with ilpre's, il4's, ilsg's and ildhsg's kernels on the card (the sg forms
# take the 16-lane path there, which lavapipe's 8-lane subgroups never run).
set -eu
if [ "${1:-}" = prep ]; then
  for v in ilpre il2 il4 ildh ilsg ildhsg; do
    rm -rf build/dev/k/$v && mkdir -p build/dev/k/$v && cp src/kernels/*.wgsl build/dev/k/$v/
    patch -s -o build/dev/k/$v/fused_step.wgsl src/kernels/fused_step.wgsl bench/results/2026-12-04-h200/run50/kernels/$v.patch
  done
  exit 0
fi
set +e
. bench/device_env.sh
for v in ilpre il4 ilsg ildhsg; do
  timeout 90 build/wgtrain check --kernels-dir build/dev/k/$v > $OUT/check-$v.txt 2>&1; echo "check $v rc=$?" >> $OUT/progress.log
done
for r in 1 2 3 4 5 6; do
  b main build/wgtrain 64
  b main-256 build/wgtrain 64 --hidden 256
  for v in ilpre il2 il4 ildh ilsg ildhsg; do
    b $v build/wgtrain 64 --kernels-dir build/dev/k/$v
  done
  for v in ilpre il4 ilsg; do
    b $v-256 build/wgtrain 64 --hidden 256 --kernels-dir build/dev/k/$v
  done
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run50.tgz . && rm -rf ./* && mv /tmp/run50.tgz .
