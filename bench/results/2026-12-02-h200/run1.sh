#!/usr/bin/env bash
# device run 1 (2026-12-02): default-batch question, two-layer 98.5% recipes, PyTorch trajectory, generic vs fused speed
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
W=./build/wgtrain
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
$W devices 2>&1 | head -5
acc() { grep '"event":"done"' | sed -E 's/.*"test_accuracy":([0-9.]+).*"train_seconds":([0-9.]+).*/\1 \2/'; }
echo "== default recipe, batch 128 vs 64, seeds 1-5"
for b in 128 64; do for s in 1 2 3 4 5; do echo "batch $b seed $s $($W train --data $DATA --batch $b --seed $s --json | acc)"; done; done
echo "== trajectory vs torch (cuda)"
timeout 120 python3 bench/torch_trajectory.py --data $DATA --wgtrain $W 2>&1 | tail -6
timeout 60 python3 bench/torch_trajectory.py --data $DATA --wgtrain $W --hidden 128 --cases sgd,momentum 2>&1 | tail -2
echo "== speed: fused vs reference, 784-128-10"
timeout 90 $W bench --data $DATA --json --epochs 3 2>&1 | head -12
timeout 90 $W bench --data $DATA --json --epochs 3 --kernels reference 2>&1 | head -12
echo "== two-layer recipes, 5 seeds"
R1="--hidden 1024,512 --dropout 0.2 --optimizer momentum --lr 0.05 --epochs 30 --label-smoothing 0.1"
R2="--hidden 512,256 --dropout 0.2 --optimizer adamw --lr 0.001 --weight-decay 0.05 --epochs 20 --label-smoothing 0.1"
R3="--hidden 1024,1024 --dropout 0.3 --optimizer momentum --lr 0.1 --epochs 40 --warmup 500"
R4="--hidden 800,800 --dropout 0.2 --optimizer nesterov --lr 0.05 --epochs 30 --schedule onecycle"
for r in R1 R2 R3 R4; do for s in 1 2 3 4 5; do echo "$r seed $s $(timeout 60 $W train --data $DATA ${!r} --seed $s --json | acc)"; done; done
