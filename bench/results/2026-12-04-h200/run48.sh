#!/usr/bin/env bash
# device run 48 (2026-12-04, tenth session), eight rounds interleaved, `wgtrain bench --epochs 5`,
# SGD lr 0.1 (experiments 41 and 42). Binaries in build/dev:
#   main     fe1db13's behaviour (built with -DSPLIT_FIRST_CHUNK=0, the order in one half): the
#            epoch's first chunk in one command buffer
#   seg      its units in command buffers of 1, 2, 4, ... units, the last with the readback (41)
#   segord   seg, and the next epoch's order uploaded during this one's first chunk, into the
#            other half of a two-epoch order buffer (42)
# 784-128-10 fused at 64, 256, 1024, 4096; 784-256-128-10 (per-layer kernels) at 64, 1024, 4096.
set -u
. bench/device_env.sh
for r in 1 2 3 4 5 6 7 8; do
  for v in main seg segord; do
    b $v build/dev/wgtrain-$v 64,256,1024,4096
    b $v-2l build/dev/wgtrain-$v 64,1024,4096 --hidden 256,128
  done
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run48.tgz . && rm -rf ./* && mv /tmp/run48.tgz .
