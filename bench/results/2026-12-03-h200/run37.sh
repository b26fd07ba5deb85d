#!/usr/bin/env bash
# device run 37 (2026-12-03, eighth session): dense_backward_wide, a first layer's weight and bias
# gradients on 64 x 64 tiles, 4 x 4 a thread (experiment 33), `wgtrain bench --epochs 5`, SGD
# lr 0.1, on 784-256-128-10 and 784-128-10's per-layer path (--kernels reference), two rounds:
#   head     main (6fa0610 + docs): dense_backward_tiled for every layer
#   dbw      the worktree: dense_backward_wide for a first layer where its grid (tiles x slices)
#            has at least 256 workgroups (TILE_DBW_MIN_GROUPS)
#   dbwall   ... at every batch (TILE_DBW_MIN_GROUPS 1)
# and `wgtrain check` of dbw on the card.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
timeout 90 build/dev/wgtrain-dbw check > $OUT/check-dbw.txt 2>&1; echo "check dbw rc=$? $SECONDS s" >> $OUT/progress.log
for r in 1 2; do
  for v in head dbw dbwall; do
    bin=build/dev/wgtrain-$v; [ $v = head ] && bin=build/wgtrain
    b $v-2l $bin 64,256,1024,4096 --hidden 256,128
    b $v-1l $bin 64,256,1024,4096 --kernels reference
  done
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run37.tgz . && rm -rf ./* && mv /tmp/run37.tgz .
