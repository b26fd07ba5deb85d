#!/usr/bin/env bash
# device run 51 (planned in the tenth session, 2026-12-04; not run: no device was lent after run
# 49): the RESULTS.md run for main after experiments 41 and 42 (the epoch's first chunk in
# growing command buffers; the next epoch's order uploaded during this one), which run 48
# measured for wgtrain alone: bench/run_device.sh's speed and tta parts after `wgtrain check` on
# the card, then PyTorch's compile + CUDA graph at 4096 (784-128-10) with what is left of the
# call, as run 42 did (~400 s in all). The last part leaves RESULTS.md (all parts) in $OUT: it
# becomes bench/RESULTS.md, and README's performance table is made from it.
set -u
. bench/device_env.sh
timeout 90 build/wgtrain check > $OUT/check.txt 2>&1; echo "check rc=$?: $(tail -1 $OUT/check.txt)" > $OUT/progress-check.log
PART=speed BUDGET_S=200 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
PART=tta BUDGET_S=120 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
left=$((560 - SECONDS))
PART=compiled BUDGET_S=$left COMPILED_TIMEOUT=$((left - 5)) COMPILED_MODELS=128 COMPILED_BATCHES=4096 DATA=build/web/data OUT=$OUT bash bench/run_device.sh
cd $OUT && tar czf /tmp/run51.tgz . && rm -rf ./* && mv /tmp/run51.tgz .
