#!/usr/bin/env bash
# device run 42 (2026-12-04, ninth session): bench/run_device.sh's speed and tta parts with main
# at 88e750c, after experiments 36 and 38 (gradient slices of 128 up to batch 1024, the wide split
# forward from 256), the self-check, and PyTorch's compile +
# CUDA graph at 4096 for 784-128-10 in what is left of the call. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
timeout 90 build/wgtrain check > $OUT/check.txt 2>&1; echo "check rc=$?: $(tail -1 $OUT/check.txt)" > $OUT/progress-check.log
PART=speed BUDGET_S=200 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
PART=tta BUDGET_S=120 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
left=$((560 - SECONDS))
PART=compiled BUDGET_S=$left COMPILED_TIMEOUT=$((left - 5)) COMPILED_MODELS=128 COMPILED_BATCHES=4096 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
cd $OUT && tar czf /tmp/run42.tgz . && rm -rf ./* && mv /tmp/run42.tgz .
