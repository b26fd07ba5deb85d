#!/usr/bin/env bash
# device run 18 (2026-12-02, fifth session): bench/run_device.sh's speed and tta parts with main
# after experiments 21-22 and label smoothing on the fused path (the fastest recipe to 98%:
# 784-256-10, batch 128, lr 0.05 cosine over 3, label smoothing 0.1, wgtrain-fast), in one call.
# PyTorch's compile + CUDA graph figure at 4096 is run 14's (run14-final): its autotuning needs a
# call of its own. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
build/wgtrain check > $OUT/check.txt 2>&1; echo "check rc=$?: $(tail -1 $OUT/check.txt)" > $OUT/progress-check.log
PART=speed BUDGET_S=300 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
PART=tta BUDGET_S=240 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
cd $OUT && tar czf /tmp/run18.tgz . && rm -rf ./* && mv /tmp/run18.tgz .
