#!/usr/bin/env bash
# device run 47 (2026-12-04, tenth session): the epoch's first chunk in growing command buffers
# (experiment 41). Binaries in build/dev:
#   main   fe1db13's behaviour (this tree built with -DSPLIT_FIRST_CHUNK=0): the epoch's first
#          chunk in one command buffer
#   seg    its units in command buffers of 1, 2, 4, ... units, the last with the readback
#   segt   seg, printing to stderr when each is encoded and submitted (timeline-*.txt;
#          run47/timeline.patch, on the tree of seg before its comments were written)
# First segt's timelines, then eight rounds of main and seg interleaved.
set -u
. bench/device_env.sh
for bs in 64 1024 4096; do
  timeout 60 build/dev/wgtrain-segt bench --data build/web/data --batches $bs --epochs 3 --json > $OUT/timeline-$bs.json 2> $OUT/timeline-$bs.txt
done
for r in 1 2 3 4 5 6 7 8; do
  for v in main seg; do
    b $v build/dev/wgtrain-$v 64,256,1024,4096
  done
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run47.tgz . && rm -rf ./* && mv /tmp/run47.tgz .
