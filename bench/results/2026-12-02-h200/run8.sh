#!/usr/bin/env bash
# device run C (2026-12-02, session 2): dw summed in batch slices (split over workgroups) + balanced x stores
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
ms() { grep '"event":"speed"' | sed -E 's/.*"batch":([0-9]+).*"ms_per_epoch":([0-9.]+).*/\1:\2/' | tr '\n' ' '; }
for i in 1 2 3; do
  echo "$i gather-fold reference $(timeout 100 ./build/dev/wgtrain-new bench --data $DATA --json --epochs 5 --kernels reference 2>&1 | ms)"
  echo "$i slices      reference $(timeout 100 ./build/dev/wgtrain-slices bench --data $DATA --json --epochs 5 --kernels reference 2>&1 | ms)"
  echo "$i slices      fused     $(timeout 100 ./build/dev/wgtrain-slices bench --data $DATA --json --epochs 5 2>&1 | ms)"
done
echo "== slices, per-kernel"
timeout 100 ./build/dev/wgtrain-slices bench --data $DATA --json --epochs 5 --kernels reference 2>&1 | grep speed
echo "== 784-256-128-10 sgd tiled, slices"
for b in 64 256 1024 4096; do
  echo "batch $b $(timeout 60 ./build/dev/wgtrain-slices train --data $DATA --hidden 256,128 --optimizer sgd --lr 0.1 --schedule constant --batch $b --epochs 3 --json | grep '"event":"epoch"' | sed -E 's/.*"test_accuracy":([0-9.]+).*"seconds":([0-9.]+).*/\1 \2/' | tr '\n' ' ')"
done
echo "== R2 recipe seed 1, slices"; timeout 60 ./build/dev/wgtrain-slices train --data $DATA --hidden 512,256 --dropout 0.2 --optimizer adamw --lr 0.001 --weight-decay 0.05 --epochs 20 --label-smoothing 0.1 --json | grep '"event":"done"'
echo "== check, slices"; timeout 200 ./build/dev/wgtrain-slices check 2>&1 | grep -E "FAIL|failures" | tail -5
