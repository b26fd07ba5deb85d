#!/usr/bin/env bash
# device run 11: fused_forward_wide v1 (T=64, T=32) and v3 (2-round prefetch, --kernels-dir k3); recipes for time to 98%
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
DATA=build/web/data
ms() { grep '"event":"speed"' | sed -E 's/.*"batch":([0-9]+).*"ms_per_epoch":([0-9.]+).*/\1:\2/' | tr '\n' ' '; }
B=1024,2048,4096,8192
for i in 1 2 3; do
  echo "$i base  fused $(timeout 100 ./build/dev/wgtrain-base bench --data $DATA --json --epochs 5 --batches $B 2>&1 | ms)"
  echo "$i n64   fused $(timeout 100 ./build/dev/wgtrain-n64 bench --data $DATA --json --epochs 5 --batches $B 2>&1 | ms)"
  echo "$i n32   fused $(timeout 100 ./build/dev/wgtrain-n32 bench --data $DATA --json --epochs 5 --batches $B 2>&1 | ms)"
  echo "$i v3-64 fused $(timeout 100 ./build/dev/wgtrain-n64 bench --kernels-dir build/dev/k3 --data $DATA --json --epochs 5 --batches $B 2>&1 | ms)"
done
echo "== per-kernel n64"; timeout 100 ./build/dev/wgtrain-n64 bench --data $DATA --json --epochs 3 --batches 1024,4096 2>&1 | grep speed
echo "== per-kernel v3-64"; timeout 100 ./build/dev/wgtrain-n64 bench --kernels-dir build/dev/k3 --data $DATA --json --epochs 3 --batches 1024,4096 2>&1 | grep speed
echo "== check n64 seeds"; for s in 1 2 3; do timeout 150 ./build/dev/wgtrain-n64 check --seed $s 2>&1 | grep -E "FAIL|wide|failures" | tail -8; done
echo "== check v3"; timeout 150 ./build/dev/wgtrain-n64 check --kernels-dir build/dev/k3 2>&1 | grep -E "FAIL|failures" | tail -3
echo "== speed by hidden width (n64)"
for h in 256 512 1024; do echo "h$h $(timeout 100 ./build/dev/wgtrain-n64 bench --data $DATA --json --epochs 3 --hidden $h --batches 128,256,512,1024 2>&1 | ms)"; done
echo "== time to 98% (n64)"
tta() { timeout 120 ./build/dev/wgtrain-n64 bench --data $DATA --skip-speed --json "$@" 2>&1 | grep -E 'time_to_accuracy"' ; }
tta
tta --hidden 256 --batch 256 --lr 0.1 --max-epochs 5
tta --hidden 512 --batch 256 --lr 0.1 --max-epochs 4
tta --hidden 512 --batch 512 --lr 0.2 --max-epochs 4
tta --hidden 1024 --batch 256 --lr 0.1 --max-epochs 3
