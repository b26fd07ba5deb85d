#!/usr/bin/env bash
# device run 25 (2026-12-03): experiment 23e, the forward's pixels of a slice issued together
# before the W1 rows are staged (build/dev/variants/f3 through --kernels-dir) against the
# committed word-at-a-time loads and main before fused_step; batch 64 and 128, three rounds;
# and the self-check. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
build/wgtrain check > $OUT/check.txt 2>&1; echo "check rc=$?: $(tail -1 $OUT/check.txt)" >> $OUT/progress.log
for r in 1 2 3; do
  build/wgtrain bench --data build/web/data --batches 64 --epochs 5 --json | sed 's|^{|{"v":"head",|' >> $OUT/speed.jsonl
  build/wgtrain bench --data build/web/data --batches 64 --epochs 5 --json --kernels-dir build/dev/variants/f3 | sed 's|^{|{"v":"f3",|' >> $OUT/speed.jsonl
  build/dev/wgtrain-base bench --data build/web/data --batches 64 --epochs 5 --json | sed 's|^{|{"v":"base",|' >> $OUT/speed.jsonl
done 2>>$OUT/errors.log
cd $OUT && tar czf /tmp/run25.tgz . && rm -rf ./* && mv /tmp/run25.tgz .
