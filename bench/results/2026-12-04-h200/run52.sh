#!/usr/bin/env bash
# device run 52 (planned in the eleventh session, 2026-12-04; no device was lent that session):
# experiment 46, fused_step at 2 hidden units a workgroup (64 workgroups at 128 units, where 4
# units make 32) after experiments 44 and 45 made the forward's loads coalesced and its slice sums
# a subgroup butterfly. Experiment 23d measured 2 units slower before those (17.7-18.0 ms against
# 16.6-17.0): each workgroup's chains halve, but every workgroup adds 64 tiles' partial logits
# where it added 32. Six rounds interleaved, `wgtrain bench --batches 64 --epochs 5`, SGD lr 0.1,
# 784-128-10 (at 256 hidden units 2 a workgroup are 128 tiles, past TILE_FST_MAX_TILES):
#   main     build/wgtrain, the embedded kernels (4 units)
#   ilsg     build/wgtrain with run 50's ilsg (4 units)
#   th2      build/dev/wgtrain-th2: TILE_FST_TH 2 and the kernel's TH 2, main's kernels otherwise
#   th2il    wgtrain-th2 with run50's ilpre at TH 2 (run52/kernels/th2il.patch)
#   th2sg    wgtrain-th2, th2il with the butterfly for 8 values: lanes 4, 2, 1 apart halve them,
#            then lanes 8 apart add (run52/kernels/th2sg.patch)
# The patches are against src/kernels/fused_step.wgsl as of 642562f (unchanged at c88518d).
# th2, th2il and th2sg had 0 failures in `wgtrain check` on lavapipe; th2sg's last level takes
# the shuffle there only on the card (16 lanes or more), so check runs on the card first.
# First, on this machine: `bash bench/results/2026-12-04-h200/run52.sh prep` (builds
# build/dev/wgtrain-th2 in a git worktree and makes build/dev/k/NAME; run 50's prep makes ilsg),
# then the device call runs this script with build/wgtrain, build/dev, build/web/data, .gl and
# node_modules/bun-webgpu-linux-x64 carried.
set -eu
R=bench/results/2026-12-04-h200
if [ "${1:-}" = prep ]; then
  bash $R/run50.sh prep
  tree=build/dev/th2-tree
  rm -rf $tree && git worktree prune && git worktree add -q --detach $tree HEAD
  ln -s "$PWD/node_modules" $tree/node_modules && ln -s "$PWD/.deps" $tree/.deps
  sed -i 's/^const TH: u32 = 4u; /const TH: u32 = 2u; /' $tree/src/kernels/fused_step.wgsl
  grep -q '^const TH: u32 = 2u; ' $tree/src/kernels/fused_step.wgsl
  CFLAGS="-O2 -g -DTILE_FST_TH=2" make -C $tree --no-print-directory build/wgtrain >/dev/null
  cp $tree/build/wgtrain build/dev/wgtrain-th2
  git worktree remove --force $tree
  for v in th2il th2sg; do
    rm -rf build/dev/k/$v && mkdir -p build/dev/k/$v && cp src/kernels/*.wgsl build/dev/k/$v/
    patch -s -o build/dev/k/$v/fused_step.wgsl src/kernels/fused_step.wgsl $R/run52/kernels/$v.patch
  done
  exit 0
fi
set +e
. bench/device_env.sh
for v in th2il th2sg; do
  timeout 90 build/dev/wgtrain-th2 check --kernels-dir build/dev/k/$v > $OUT/check-$v.txt 2>&1
  echo "check $v rc=$?" >> $OUT/progress.log
done
for r in 1 2 3 4 5 6; do
  b main build/wgtrain 64
  b ilsg build/wgtrain 64 --kernels-dir build/dev/k/ilsg
  b th2 build/dev/wgtrain-th2 64
  b th2il build/dev/wgtrain-th2 64 --kernels-dir build/dev/k/th2il
  b th2sg build/dev/wgtrain-th2 64 --kernels-dir build/dev/k/th2sg
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run52.tgz . && rm -rf ./* && mv /tmp/run52.tgz .
