#!/usr/bin/env bash
# device run 38 (2026-12-03, eighth session): bench/run_device.sh's speed part again, with main
# after experiment 33 (dense_backward_wide, fb6b8e4), for RESULTS.md's speed tables; its time to
# 98% and PyTorch's compile + CUDA graph at 4096 stay run 36's (the fused path and the tta
# recipes' kernels did not change). Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
PART=speed BUDGET_S=110 DATA=build/web/data OUT=$OUT bash bench/run_device.sh > /dev/null
cd $OUT && tar czf /tmp/run38.tgz . && rm -rf ./* && mv /tmp/run38.tgz .
