#!/usr/bin/env bash
# device run 28 (2026-12-03, sixth session): bench/run_device.sh's speed and tta parts with main
# after experiment 23 (fused_step: one pipelined dispatch a step at batches up to 64), in one
# call, and the self-check. PyTorch's compile + CUDA graph figure at 4096 is run 14's
# (2026-12-02-h200/run14-final): its autotuning needs a call of its own. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
build/wgtrain check > $OUT/check.txt 2>&1; echo "check rc=$?: $(tail -1 $OUT/check.txt)" > $OUT/progress-check.log
PART=speed BUDGET_S=260 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
PART=tta BUDGET_S=220 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
cd $OUT && tar czf /tmp/run28.tgz . && rm -rf ./* && mv /tmp/run28.tgz .
