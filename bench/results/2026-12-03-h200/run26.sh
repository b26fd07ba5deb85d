#!/usr/bin/env bash
# device run 26 (2026-12-03): experiment 23f, fused_step on 1,024 threads a workgroup (short
# chains: a thread per (word, unit) of the W1 update, per (slice, sample) of the forward) against
# the 256-thread form (build/dev/wgtrain-wg256, run 25's head) and main before fused_step
# (build/dev/wgtrain-base); 784-128-10 and 784-256-10 at batch 64, three rounds; the self-check.
# Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
build/wgtrain check > $OUT/check.txt 2>&1; echo "check rc=$?: $(tail -1 $OUT/check.txt)" >> $OUT/progress.log
for r in 1 2 3; do
  for bin in build/wgtrain build/dev/wgtrain-wg256 build/dev/wgtrain-base; do
    for h in 128 256; do
      $bin bench --data build/web/data --batches 64 --hidden $h --epochs 5 --json | sed "s|^{|{\"bin\":\"$(basename $bin)\",\"hidden\":$h,|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
    done
  done
done
cd $OUT && tar czf /tmp/run26.tgz . && rm -rf ./* && mv /tmp/run26.tgz .
