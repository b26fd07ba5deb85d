#!/usr/bin/env bash
# device run 34 (2026-12-03, eighth session): `wgtrain bench --epochs 5`, SGD lr 0.1:
#   head    main (ecc4507): fused_softmax's split form through workgroup memory (HC 128), the
#           wide, split forward from 1024, dense_forward_tiled's wide tiles where they fill the GPU
#   prev    14f61d7, the same without the fused_softmax change
#   g128    head splitting the wide forward to ~128 workgroups (TILE_FFW_GROUPS 128)
#   g512    ... to ~512
#   dbkb16  head with dense_backward_tiled's rounds of 16 terms (TILE_DBT_KB 16)
# 784-128-10 fused, three rounds interleaved; then 784-256-128-10 and 784-128-10's per-layer path
# (--kernels reference), two rounds. And `wgtrain check` of head on the card.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
timeout 90 build/wgtrain check > $OUT/check-head.txt 2>&1; echo "check head rc=$? $SECONDS s" >> $OUT/progress.log
for r in 1 2 3; do
  b head build/wgtrain 64,256,1024,2048,4096
  b prev build/dev/wgtrain-prev 1024,2048,4096
  b g128 build/dev/wgtrain-g128 1024,2048,4096
  b g512 build/dev/wgtrain-g512 1024,2048,4096
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
for r in 1 2; do
  b head-2l build/wgtrain 64,256,1024,4096 --hidden 256,128
  b dbkb16-2l build/dev/wgtrain-dbkb16 1024,4096 --hidden 256,128
  b head-1l build/wgtrain 64,256,1024,4096 --kernels reference
  echo "per-layer round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run34.tgz . && rm -rf ./* && mv /tmp/run34.tgz .
