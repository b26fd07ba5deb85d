#!/usr/bin/env bash
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
W=./build/wgtrain
acc() { grep '"event":"done"' | sed -E 's/.*"test_accuracy":([0-9.]+).*"train_seconds":([0-9.]+).*/\1 \2/'; }
R2="--hidden 512,256 --dropout 0.2 --optimizer adamw --lr 0.001 --weight-decay 0.05 --epochs 20 --label-smoothing 0.1"
for s in 1 2 3 4 5; do echo "R2 seed $s $(timeout 60 $W train --data $DATA $R2 --seed $s --json | acc)"; done
echo "default $($W train --data $DATA --json | acc)"
