#!/usr/bin/env bash
# device run 24 (2026-12-03): experiment 23d, fused_step with its loops generic in TH (units per
# workgroup) and the forward's pixels loaded a word at a time: TH 4 (build/wgtrain), 2 and 1
# (build/dev/wgtrain-th2, -th1: the kernel's TH and TILE_FST_TH edited), main before fused_step
# (build/dev/wgtrain-base); 784-128-10 and 784-256-10 at batch 64, two rounds. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
for r in 1 2; do
  for bin in build/wgtrain build/dev/wgtrain-th2 build/dev/wgtrain-th1 build/dev/wgtrain-base; do
    for h in 128 256; do
      $bin bench --data build/web/data --batches 64 --hidden $h --epochs 5 --json | sed "s|^{|{\"bin\":\"$(basename $bin)\",\"hidden\":$h,|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
    done
  done
done
build/dev/wgtrain-th2 check > $OUT/check-th2.txt 2>&1
build/dev/wgtrain-th1 check > $OUT/check-th1.txt 2>&1
cd $OUT && tar czf /tmp/run24.tgz . && rm -rf ./* && mv /tmp/run24.tgz .
