#!/usr/bin/env bash
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
W=./build/wgtrain
acc() { grep '"event":"done"' | sed -E 's/.*"test_accuracy":([0-9.]+).*"train_seconds":([0-9.]+).*/\1 \2/'; }
echo "== bench reference (tiled on this GPU), 784-128-10"
timeout 120 $W bench --data $DATA --json --epochs 3 --kernels reference 2>&1 | head -6
echo "== 784-256-128-10 sgd lr 0.1, ms/epoch (3 epochs, median of the last 2) tiled vs stream"
for sh in tiled stream; do for b in 64 256 1024 4096; do
  echo "$sh batch $b $(timeout 60 $W train --data $DATA --hidden 256,128 --optimizer sgd --lr 0.1 --schedule constant --batch $b --epochs 3 --kernel-shape $sh --json | grep '"event":"epoch"' | sed -E 's/.*"test_accuracy":([0-9.]+).*"seconds":([0-9.]+).*/\1 \2/' | tr '\n' ' ')"
done; done
echo "== R2 recipe 5 seeds (tiled)"
R2="--hidden 512,256 --dropout 0.2 --optimizer adamw --lr 0.001 --weight-decay 0.05 --epochs 20 --label-smoothing 0.1"
for s in 1 2 3 4 5; do echo "R2 seed $s $(timeout 60 $W train --data $DATA $R2 --seed $s --json | acc)"; done
echo "== issue command on GPU"
$W train --data $DATA --hidden 256,128 --optimizer adamw --lr 0.001 --epochs 1 --train-limit 10000 --json | acc
echo "== check on the GPU"
timeout 200 $W check 2>&1 | tail -3
