#!/usr/bin/env bash
# device run 39 (2026-12-04, ninth session), three rounds, `wgtrain bench --epochs 5`, SGD lr 0.1,
# 784-128-10:
#   experiment 35: what fused_step's pixel conversion costs at batch 64: main's kernels (base)
#     and variants with pixel4 in the forward, the update or both replaced by the bytes as
#     floats / 255 (cvt) or unpack4x8unorm (unorm), through --kernels-dir (make_variants39.py;
#     they train on unnormalised pixels: only the time counts)
#   experiment 36: gradient slices of 128 samples (TILE_FUSED_SLICE, s128) against 256 (head) at
#     batches 1024 and 4096 (experiment 32 measured it once, within the noise)
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
for r in 1 2 3; do
  b head build/dev/wgtrain-head 64
  for v in base cvt-fwd cvt-upd cvt-both unorm-fwd unorm-upd unorm-both; do
    b $v build/dev/wgtrain-head 64 --kernels-dir build/dev/kd/$v
  done
  b head-l build/dev/wgtrain-head 1024,4096
  b s128-l build/dev/wgtrain-s128 1024,4096
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run39.tgz . && rm -rf ./* && mv /tmp/run39.tgz .
