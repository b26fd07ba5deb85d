#!/usr/bin/env bash
# device run 43 (2026-12-04, ninth session), five rounds, `wgtrain bench --batches 64 --epochs 5`,
# SGD lr 0.1, 784-128-10 and 784-256-10 (experiment 39):
#   main     main (f88bc46)
#   met      fused_step's loss and hit sums on a thread the gradients leave idle, not between
#            two barriers of tile 0
#   lab      ... and the update's labels from a bank its forward filled (one load, issued with
#            the indices) instead of through order and labels after the first barrier
# and `wgtrain check` of lab on the card.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
timeout 90 build/dev/wgtrain-lab check > $OUT/check-lab.txt 2>&1; echo "check lab rc=$? $SECONDS s" >> $OUT/progress.log
for r in 1 2 3 4 5; do
  for v in main met lab; do
    b $v-128 build/dev/wgtrain-$v 64
    b $v-256 build/dev/wgtrain-$v 64 --hidden 256
  done
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run43.tgz . && rm -rf ./* && mv /tmp/run43.tgz .
