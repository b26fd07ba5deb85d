#!/usr/bin/env bash
# device run 32 (2026-12-03, eighth session): fused_softmax's split-form layer 2 over three
# threads per (sample, class) (74ce4ba, unmeasured in session 7), `wgtrain bench --epochs 5`,
# 784-128-10, SGD lr 0.1, three rounds interleaved:
#   head         main (f61c4a3): wide, split forward from 2048, ~256 workgroups
#   min1024      head with the wide, split forward from batch 1024 (TILE_FFW_MIN_BATCH 1024)
#   g512         head splitting to ~512 workgroups (TILE_FFW_GROUPS 512)
#   min1024g512  both
# and the per-layer (generic) path on 784-256-128-10 (--hidden 256,128), two rounds:
#   head-2l      main
#   dft16x16     TILE_DFT 16x16 outputs a workgroup, 4 k-steps (dense_forward_tiled)
#   dft16x32     16 samples x 32 outputs
#   dft32x32     32 x 32
#   dbs1024      TILE_DBT_SLICE 1024 (the weight-gradient kernel's batch slice)
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
timeout 90 build/wgtrain check > $OUT/check-head.txt 2>&1; echo "check head rc=$?" >> $OUT/progress.log
for r in 1 2 3; do
  b head build/wgtrain 1024,2048,4096
  b min1024 build/dev/wgtrain-min1024 1024
  b g512 build/dev/wgtrain-g512 2048,4096
  b min1024g512 build/dev/wgtrain-min1024g512 1024
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
for r in 1 2; do
  b head-2l build/wgtrain 1024,4096 --hidden 256,128
  for v in dft16x16 dft16x32 dft32x32 dbs1024; do b $v build/dev/wgtrain-$v 1024,4096 --hidden 256,128; done
  echo "2l round $r done $SECONDS s" >> $OUT/progress.log
done
for v in dft16x32 dft32x32; do timeout 90 build/dev/wgtrain-$v check > $OUT/check-$v.txt 2>&1; echo "check $v rc=$?" >> $OUT/progress.log; done
timeout 90 build/dev/wgtrain-min1024g512 check > $OUT/check-min1024g512.txt 2>&1; echo "check min1024g512 rc=$?" >> $OUT/progress.log
cd $OUT && tar czf /tmp/run32.tgz . && rm -rf ./* && mv /tmp/run32.tgz .
