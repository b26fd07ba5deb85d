#!/usr/bin/env bash
# device run 45 (2026-12-04, ninth session): bench/run_device.sh's speed and tta parts with main
# at fd5a477, after experiments 39 and 40 (fused_step's labels' bank, the wide forward split to
# ~512 workgroups from 4096), and the self-check first. PyTorch's compile + CUDA graph at 4096
# is run 42's (its own call: the autotuning takes ~250 s, more than this session's device time
# left beside the rest). Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
timeout 90 build/wgtrain check > $OUT/check.txt 2>&1; echo "check rc=$?: $(tail -1 $OUT/check.txt)" > $OUT/progress-check.log
PART=speed BUDGET_S=200 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
PART=tta BUDGET_S=120 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
cd $OUT && tar czf /tmp/run45.tgz . && rm -rf ./* && mv /tmp/run45.tgz .
