#!/usr/bin/env bash
# device run 35 (2026-12-03, eighth session): the fused path's gradient slices and fused_softmax's
# samples a workgroup, `wgtrain bench --epochs 5`, 784-128-10, SGD lr 0.1, three rounds interleaved:
#   head     main (TILE_FUSED_SLICE 256: 4 slices at 1024, 16 at 4096, added by fused_apply)
#   fs128    slices of 128 samples (8 at 1024, 32 at 4096)
#   fs512    of 512 (2 at 1024, 8 at 4096)
#   fs1024   of 1024 (none at 1024: fused_update applies the step itself, no fused_apply; 4 at 4096)
#   sb8      fused_softmax on 8 samples a workgroup of 256 threads (TILE_FS_SB 8, TILE_FS_WG 256)
#   sb2      on 2 samples a workgroup of 128 (6 threads per (sample, class) in the split form)
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
b() { # label binary batches [args]
  local l=$1 bin=$2 bs=$3; shift 3
  timeout 100 $bin bench --data build/web/data --batches $bs --epochs 5 --json "$@" | sed "s|^{|{\"v\":\"$l\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
}
for r in 1 2 3; do
  b head build/wgtrain 256,1024,2048,4096
  for v in fs128 fs512 fs1024; do b $v build/dev/wgtrain-$v 1024,2048,4096; done
  for v in sb8 sb2; do b $v build/dev/wgtrain-$v 256,1024,2048,4096; done
  echo "round $r done $SECONDS s" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run35.tgz . && rm -rf ./* && mv /tmp/run35.tgz .
