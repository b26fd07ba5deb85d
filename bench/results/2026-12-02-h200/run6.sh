#!/usr/bin/env bash
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
ms() { grep '"event":"speed"' | sed -E 's/.*"batch":([0-9]+).*"ms_per_epoch":([0-9.]+).*"input_gather.wgsl":([0-9.]+).*/\1:\2 (gather \3us)/' | tr '\n' ' '; }
for i in 1 2; do
for W in ./build/wgtrain ./build/dev/wgtrain-gather; do echo "$W $(timeout 100 $W bench --data $DATA --json --epochs 5 --kernels reference 2>&1 | ms)"; done
done
