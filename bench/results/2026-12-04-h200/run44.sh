#!/usr/bin/env bash
# device run 44 (2026-12-04, ninth session), five rounds, `wgtrain bench --epochs 5`, SGD lr 0.1,
# 784-128-10 at batches 1024, 2048 and 4096 (experiment 40):
#   main     main (2927c46): the wide forward split to ~256 workgroups (TILE_FFW_GROUPS)
#   g384     ... to ~384
#   g512     ... to ~512 (experiment 30 measured it once: 4096 perhaps faster, 1024 slower)
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
for r in 1 2 3 4 5; do
  for v in main g384 g512; do
    b $v build/dev/wgtrain-$v 1024,2048,4096
  done
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run44.tgz . && rm -rf ./* && mv /tmp/run44.tgz .
