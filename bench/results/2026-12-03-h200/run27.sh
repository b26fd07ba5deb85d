#!/usr/bin/env bash
# device run 27 (2026-12-03): experiment 23g, fused_step's pixel loads double-buffered (the next
# word's, or the next four samples', in flight while this one's are used) in the forward (dbf)
# and in the update too (dbfu, no 64-word array), against head (build/dev/variants/*, through
# --kernels-dir); batch 64, three rounds; each variant's self-check. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
for v in dbf dbfu; do build/wgtrain check --kernels-dir build/dev/variants/$v > $OUT/check-$v.txt 2>&1; echo "check $v rc=$?: $(tail -1 $OUT/check-$v.txt)" >> $OUT/progress.log; done
for r in 1 2 3; do
  for v in head dbf dbfu; do
    build/wgtrain bench --data build/web/data --batches 64 --epochs 5 --json --kernels-dir build/dev/variants/$v | sed "s|^{|{\"v\":\"$v\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
  done
done
cd $OUT && tar czf /tmp/run27.tgz . && rm -rf ./* && mv /tmp/run27.tgz .
