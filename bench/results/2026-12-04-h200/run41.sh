#!/usr/bin/env bash
# device run 41 (2026-12-04, ninth session), five rounds, `wgtrain bench --epochs 5`, SGD lr 0.1,
# 784-128-10 at batches 256 to 4096:
#   head     main (a090087)
#   sl       the worktree: gradient slices of 128 samples at batches up to 1024 (experiment 36)
#   slw512   ... and fused_forward_wide (split over the inputs) from batch 512 (TILE_FFW_MIN_BATCH; 38)
#   slw256   ... from batch 256
# and `wgtrain check` of slw256 on the card.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
timeout 90 build/dev/wgtrain-slw256 check > $OUT/check-slw256.txt 2>&1; echo "check slw256 rc=$? $SECONDS s" >> $OUT/progress.log
for r in 1 2 3 4 5; do
  for v in head sl slw512 slw256; do
    b $v build/dev/wgtrain-$v 256,512,1024,2048,4096
  done
  b head-h256 build/dev/wgtrain-head 128,256,512 --hidden 256
  b slw256-h256 build/dev/wgtrain-slw256 128,256,512 --hidden 256
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run41.tgz . && rm -rf ./* && mv /tmp/run41.tgz .
