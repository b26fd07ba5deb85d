#!/usr/bin/env bash
# device run 38 (2026-12-04, ninth session): fused_step's logits from the previous step's hidden
# values (every workgroup, 64 x HIDDEN loads) in place of per-workgroup partial logits, so
# that fewer units a workgroup spread the step over more SMs (experiment 34); `wgtrain bench
# --batches 64 --epochs 5`, SGD lr 0.1, 784-128-10 and 784-256-10, three rounds:
#   head     main (a090087): 4 units a workgroup, partial logits
#   th1/2/4  the worktree: 1, 2 or 4 units a workgroup (TILE_FST_TH), the logits from hidden
#   th1e/2e  ... with the forward's pixels issued at the first barrier and held (EARLY)
# and `wgtrain check` of th1 and th2 on the card.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
for v in th2 th1; do
  timeout 90 build/dev/wgtrain-$v check > $OUT/check-$v.txt 2>&1; echo "check $v rc=$? $SECONDS s" >> $OUT/progress.log
done
for r in 1 2 3; do
  for v in head th1 th2 th4 th1e th2e; do
    b $v-128 build/dev/wgtrain-$v 64
    b $v-256 build/dev/wgtrain-$v 64 --hidden 256
  done
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run38.tgz . && rm -rf ./* && mv /tmp/run38.tgz .
