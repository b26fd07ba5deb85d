#!/usr/bin/env bash
# device run 46 (2026-12-04, ninth session): the spread of main's (fd5a477) epoch times between
# processes: `wgtrain bench --batches 64,1024,4096 --epochs 5` eight times in a row (run 45, the
# RESULTS.md run, measured 2.39 ms at 4096 where run 44's five rounds of the same build gave
# 1.98-2.23).
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
for r in 1 2 3 4 5 6 7 8; do
  timeout 60 build/wgtrain bench --data build/web/data --batches 64,1024,4096 --epochs 5 --json | sed "s|^{|{\"v\":\"main\",\"round\":$r,|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
done
cd $OUT && tar czf /tmp/run46.tgz . && rm -rf ./* && mv /tmp/run46.tgz .
