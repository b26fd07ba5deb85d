#!/usr/bin/env bash
# device run 33 (2026-12-03, eighth session): the per-layer (generic) path's tiles, after run 32
# showed dense_forward_tiled at 16 samples x 32 outputs (KS 2, KC4 14) well ahead of 8 x 16 at
# batches 1024 and 4096 on 784-256-128-10. `wgtrain bench --epochs 5`, SGD lr 0.1, two rounds:
#   head         main (TILE_DFT 8 x 16, KS 4, KC4 28; TILE_DBT 32 x 32, KB 32, slice 256)
#   dft16x32     TILE_DFT 16 x 32, KS 2, KC4 14
#   dft32x16     32 x 16, KS 2, KC4 14
#   dft8x32      8 x 32, KS 4, KC4 16
#   dbs128       dft16x32 with dense_backward_tiled's batch slice at 128 samples
#   dbkb16       dft16x32 with dense_backward_tiled's rounds of 16 terms
# on 784-256-128-10 (--hidden 256,128) at 64 to 4096, and head and dft16x32 on 784-128-10's
# per-layer path (--kernels reference), which a 1-hidden model takes off the fused path's terms.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
for r in 1 2; do
  b head build/wgtrain 64,256,1024,4096 --hidden 256,128
  for v in dft16x32 dft32x16 dft8x32 dbs128 dbkb16; do
    b $v build/dev/wgtrain-$v 64,256,1024,4096 --hidden 256,128
  done
  b head-1l build/wgtrain 64,256,1024,4096 --kernels reference
  b dft16x32-1l build/dev/wgtrain-dft16x32 64,256,1024,4096 --kernels reference
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run33.tgz . && rm -rf ./* && mv /tmp/run33.tgz .
