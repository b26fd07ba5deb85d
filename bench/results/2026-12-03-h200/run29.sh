#!/usr/bin/env bash
# device run 29 (2026-12-03): experiment 24, fused_forward_wide with 32 inputs a round (KC = T / 2:
# two staged vec4s of inputs and of weights per thread, 25 rounds, the last half zeros) where it
# had 16 (49 rounds): build/dev/variants/kc32 (kc16: the same text at 16) through --kernels-dir,
# at 1024 (with the wide tiles from 1024: build/dev/wgtrain-wide1024), 2048 and 4096; three
# rounds; the self-check of kc32. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
build/wgtrain check --kernels-dir build/dev/variants/kc32 > $OUT/check-kc32.txt 2>&1; echo "check kc32 rc=$?: $(tail -1 $OUT/check-kc32.txt)" >> $OUT/progress.log
for r in 1 2 3; do
  for v in head kc16 kc32; do
    kd=""; [ $v != head ] && kd="--kernels-dir build/dev/variants/$v"
    build/wgtrain bench --data build/web/data --batches 1024,2048,4096 --epochs 5 --json $kd | sed "s|^{|{\"v\":\"$v\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
    build/dev/wgtrain-wide1024 bench --data build/web/data --batches 1024 --epochs 5 --json $kd | sed "s|^{|{\"v\":\"$v-wide1024\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
  done
done
cd $OUT && tar czf /tmp/run29.tgz . && rm -rf ./* && mv /tmp/run29.tgz .
