#!/usr/bin/env bash
# device run B (2026-12-02, session 2): tiled first layer reads pixels itself + softmax_xent over workgroups
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
ms() { grep '"event":"speed"' | sed -E 's/.*"batch":([0-9]+).*"ms_per_epoch":([0-9.]+).*/\1:\2/' | tr '\n' ' '; }
for i in 1 2 3; do
for W in ./build/dev/wgtrain-old ./build/dev/wgtrain-new; do
  echo "$i $W reference $(timeout 100 $W bench --data $DATA --json --epochs 5 --kernels reference 2>&1 | ms)"
  echo "$i $W fused     $(timeout 100 $W bench --data $DATA --json --epochs 5 2>&1 | ms)"
done; done
echo "== new, per-kernel"
timeout 100 ./build/dev/wgtrain-new bench --data $DATA --json --epochs 5 --kernels reference 2>&1 | grep speed
echo "== 784-256-128-10 sgd tiled, new"
for b in 64 256 1024 4096; do
  echo "batch $b $(timeout 60 ./build/dev/wgtrain-new train --data $DATA --hidden 256,128 --optimizer sgd --lr 0.1 --schedule constant --batch $b --epochs 3 --json | grep '"event":"epoch"' | sed -E 's/.*"test_accuracy":([0-9.]+).*"seconds":([0-9.]+).*/\1 \2/' | tr '\n' ' ')"
done
echo "== check, new"; timeout 200 ./build/dev/wgtrain-new check 2>&1 | grep -E "FAIL|failures" | tail -5
