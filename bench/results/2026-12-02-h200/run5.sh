#!/usr/bin/env bash
# issue 11 idea: Dawn's skip_validation and disable_robustness toggles, fused and per-layer paths
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
W=./build/wgtrain
ms() { grep '"event":"speed"' | sed -E 's/.*"batch":([0-9]+).*"ms_per_epoch":([0-9.]+).*/\1:\2/' | tr '\n' ' '; }
for k in fused reference; do
  for t in "" "--dawn-toggle skip_validation" "--dawn-toggle disable_robustness" "--dawn-toggle skip_validation --dawn-toggle disable_robustness"; do
    echo "$k [$t] $(timeout 100 $W bench --data $DATA --json --epochs 5 --kernels $k $t 2>&1 | ms)"
  done
done
