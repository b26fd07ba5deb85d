#!/usr/bin/env bash
# device run 36 (2026-12-03, eighth session): bench/run_device.sh's speed and tta parts with main
# after experiments 29-32 (fused_softmax's split form through workgroup memory, the wide split
# forward from 1024, dense_forward_tiled's wide tiles), the self-check, and PyTorch's compile +
# CUDA graph at 4096 for 784-128-10 in what is left of the call. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
timeout 90 build/wgtrain check > $OUT/check.txt 2>&1; echo "check rc=$?: $(tail -1 $OUT/check.txt)" > $OUT/progress-check.log
PART=speed BUDGET_S=200 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
PART=tta BUDGET_S=120 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
left=$((560 - SECONDS))
PART=compiled BUDGET_S=$left COMPILED_TIMEOUT=$((left - 5)) COMPILED_MODELS=128 COMPILED_BATCHES=4096 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
cd $OUT && tar czf /tmp/run36.tgz . && rm -rf ./* && mv /tmp/run36.tgz .
