#!/usr/bin/env bash
# device run 13: fused_update W1 tiles of 64 x 64, 4 x 4 per thread (u) against main (wide forward landed)
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
ms() { grep '"event":"speed"' | sed -E 's/.*"batch":([0-9]+).*"ms_per_epoch":([0-9.]+).*/\1:\2/' | tr '\n' ' '; }
for i in 1 2 3; do
  echo "$i main fused $(timeout 100 ./build/dev/wgtrain-main bench --data $DATA --json --epochs 5 --batches 64,256,1024,2048,4096 2>&1 | ms)"
  echo "$i u    fused $(timeout 100 ./build/dev/wgtrain-u bench --data $DATA --json --epochs 5 --batches 64,256,1024,2048,4096 2>&1 | ms)"
done
echo "== per-kernel u"; timeout 100 ./build/dev/wgtrain-u bench --data $DATA --json --epochs 3 --batches 64,1024,4096 2>&1 | grep speed
echo "== check u"; for s in 1 2; do timeout 150 ./build/dev/wgtrain-u check --seed $s 2>&1 | grep -E "FAIL|failures" | tail -4; done
