#!/usr/bin/env bash
# device run 40 (2026-12-04, ninth session), five rounds, `wgtrain bench --epochs 5`, SGD lr 0.1,
# 784-128-10 at batches 256 to 4096:
#   head     main (a090087): gradient slices of 256 samples, fused_softmax on 2 samples a workgroup
#   s128     slices of 128 (TILE_FUSED_SLICE; experiment 36)
#   fs1      fused_softmax on 1 sample a workgroup, 128 threads (TILE_FS_SB, TILE_FS_WG; 37)
#   fs1w64   ... 1 sample on 64 threads
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
for v in fs1 fs1w64; do
  timeout 90 build/dev/wgtrain-$v check > $OUT/check-$v.txt 2>&1; echo "check $v rc=$? $SECONDS s" >> $OUT/progress.log
done
for r in 1 2 3 4 5; do
  for v in head s128 fs1 fs1w64; do
    b $v build/dev/wgtrain-$v 256,512,1024,2048,4096
  done
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run40.tgz . && rm -rf ./* && mv /tmp/run40.tgz .
