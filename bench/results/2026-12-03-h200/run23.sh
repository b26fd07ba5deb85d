#!/usr/bin/env bash
# device run 23 (2026-12-03): experiment 23c: fused_step.wgsl variants of its loops (build/dev/
# variants, made from the kernel by a script: named accumulators for arrays, loads per round), run
# through --kernels-dir at batch 64, two rounds; they train the same numbers;
# only the time per epoch matters. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
for r in 1 2; do
  for v in build/dev/variants/*; do
    build/wgtrain bench --data build/web/data --batches 64 --epochs 5 --json --kernels-dir $v | sed "s/^{/{\"variant\":\"$(basename $v)\",/" >> $OUT/ablation.jsonl 2>>$OUT/errors.log
  done
done
cd $OUT && tar czf /tmp/run23.tgz . && rm -rf ./* && mv /tmp/run23.tgz .
