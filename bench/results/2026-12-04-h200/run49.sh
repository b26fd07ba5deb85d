#!/usr/bin/env bash
# device run 49 (2026-12-04, tenth session), eight rounds interleaved, `wgtrain bench --batches 64
# --epochs 5`, 784-128-10, SGD lr 0.1, main at 3b39300 (build/dev/wgtrain-head) with fused_step
# variants through --kernels-dir (experiment 43; the variants as patches of fused_step.wgsl in
# run49/kernels/):
#   main   the embedded kernels
#   pre    the small gradients' threads (dW2, db1, db2) load their parameter and velocity with
#          the step's first loads, not after their sums
#   fw0    the forward's first word of its slice, for its 4 samples, loaded after the first
#          barrier and held across the update
#   both   pre and fw0
#   nofwd  ablation: the forward's 13-word loop left out (wrong numbers; its time is what counts)
#   nodw1  ablation: the dW1 loop left out
# First `wgtrain check` with both's kernels.
set -u
. bench/device_env.sh
timeout 90 build/dev/wgtrain-head check --kernels-dir build/dev/k/both > $OUT/check-both.txt 2>&1; echo "check both rc=$?" >> $OUT/progress.log
for r in 1 2 3 4 5 6 7 8; do
  b main build/dev/wgtrain-head 64
  for v in pre fw0 both nofwd nodw1; do
    b $v build/dev/wgtrain-head 64 --kernels-dir build/dev/k/$v
  done
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run49.tgz . && rm -rf ./* && mv /tmp/run49.tgz .
