#!/usr/bin/env bash
# device run 20 (2026-12-03): experiment 23, the pipelined one-dispatch step (fused_step.wgsl),
# against main before it (build/dev/wgtrain-base), three interleaved rounds; the self-check on
# the card. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
build/wgtrain check > $OUT/check.txt 2>&1; echo "check rc=$?: $(tail -1 $OUT/check.txt)" >> $OUT/progress.log
for r in 1 2 3; do
  for bin in build/wgtrain build/dev/wgtrain-base; do
    tag=$(basename $bin)
    $bin bench --data build/web/data --batches 64,128 --epochs 5 --json >> $OUT/speed-$tag.jsonl 2>>$OUT/errors.log
    $bin bench --data build/web/data --batches 64 --hidden 256 --epochs 5 --json >> $OUT/speed256-$tag.jsonl 2>>$OUT/errors.log
  done
  echo "round $r done $(date -u +%T)" >> $OUT/progress.log
done
build/wgtrain train --data build/web/data --epochs 3 --seed 1 > $OUT/train-default.txt 2>&1
build/dev/wgtrain-base train --data build/web/data --epochs 3 --seed 1 > $OUT/train-default-base.txt 2>&1
cd $OUT && tar czf /tmp/run20.tgz . && rm -rf ./* && mv /tmp/run20.tgz .
