#!/usr/bin/env bash
# device run A (2026-12-02, session 2): which --init default; default and two-layer recipes, 5 seeds each
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
W=./build/wgtrain
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
acc() { grep '"event":"done"' | sed -E 's/.*"test_accuracy":([0-9.]+).*"train_seconds":([0-9.]+).*/\1 \2/'; }
echo "== default recipe (784-128-10 momentum, 12 epochs), seeds 1-5, per init"
for i in torch xavier kaiming; do for s in 1 2 3 4 5; do echo "default init $i seed $s $($W train --data $DATA --init $i --seed $s --json | acc)"; done; done
echo "== R2 two-layer adamw recipe, seeds 1-5, per init"
R2="--hidden 512,256 --dropout 0.2 --optimizer adamw --lr 0.001 --weight-decay 0.05 --epochs 20 --label-smoothing 0.1"
for i in torch xavier; do for s in 1 2 3 4 5; do echo "R2 init $i seed $s $(timeout 60 $W train --data $DATA $R2 --init $i --seed $s --json | acc)"; done; done
echo "== issue command, per init, seeds 1-5"
for i in torch xavier kaiming; do for s in 1 2 3 4 5; do echo "cmd init $i seed $s $($W train --data $DATA --hidden 256,128 --optimizer adamw --lr 0.001 --epochs 1 --train-limit 10000 --init $i --seed $s --json | acc)"; done; done
