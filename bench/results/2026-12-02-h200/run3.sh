#!/usr/bin/env bash
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
W=./build/wgtrain
echo "== bench reference (tiled)"; timeout 100 $W bench --data $DATA --json --epochs 3 --kernels reference 2>&1 | head -6
echo "== bench fused"; timeout 100 $W bench --data $DATA --json --epochs 3 2>&1 | head -6
echo "== 784-256-128-10 sgd lr 0.1 tiled"
for b in 64 256 1024 4096; do
  echo "batch $b $(timeout 60 $W train --data $DATA --hidden 256,128 --optimizer sgd --lr 0.1 --schedule constant --batch $b --epochs 3 --json | grep '"event":"epoch"' | sed -E 's/.*"test_accuracy":([0-9.]+).*"seconds":([0-9.]+).*/\1 \2/' | tr '\n' ' ')"
done
echo "== check"; timeout 200 $W check 2>&1 | tail -2
