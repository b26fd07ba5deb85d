#!/usr/bin/env bash
# device run 31 (2026-12-03, seventh session; cut to two rounds by the session's end):
# experiments 26-28, `wgtrain bench --epochs 5`, 784-128-10, SGD lr 0.1:
#   pre      main before this session (aace3f3)
#   shuffle  + the next epoch's order shuffled on the host during the epoch's first chunk (26)
#   head     + the wide forward split over the inputs, fused_softmax adding the splits (27)
#   min1024  head with the wide, split forward from batch 1024
#   fst-il   head with fused_step's forward slices interleaved (coalesced pixel loads; 28)
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
for r in 1 2; do
  b pre build/dev/wgtrain-pre 64,1024,2048,4096
  b shuffle build/dev/wgtrain-shuffle 64,1024,4096
  b head build/wgtrain 64,1024,2048,4096
  b fst-il build/wgtrain 64 --kernels-dir build/dev/variants/fst-il
  b min1024 build/dev/wgtrain-min1024 1024
done
timeout 90 build/wgtrain check > $OUT/check-head.txt 2>&1; echo "check head rc=$?" >> $OUT/progress.log
cd $OUT && tar czf /tmp/run31.tgz . && rm -rf ./* && mv /tmp/run31.tgz .
