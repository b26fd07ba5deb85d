#!/usr/bin/env bash
# device run 30 (2026-12-03, seventh session): experiment 25, an ablation of the inner loops of
# fused_forward_wide and fused_update (batch 4096) and of fused_step's forward pixel loads
# (batch 64): build/dev/variants from run30/make_variants.py, through --kernels-dir, two rounds.
# The ablations train wrong numbers by design; only the times count. Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > $OUT/card.txt 2>&1
for r in 1 2; do
  for v in base ffw-fma1 ffw-noload ffw-nostage ffw-nobar ffw-noxstore ffw-named ffw-named-fma fu-named-fma fu-fma1; do
    timeout 120 build/wgtrain bench --data build/web/data --batches 4096 --epochs 3 --json --kernels-dir build/dev/variants/$v | sed "s|^{|{\"v\":\"$v\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
  done
  timeout 120 build/wgtrain bench --data build/web/data --batches 4096 --epochs 3 --json --dawn-toggle disable_robustness | sed "s|^{|{\"v\":\"norobust\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
  for v in base fst-bcast; do
    timeout 120 build/wgtrain bench --data build/web/data --batches 64 --epochs 3 --json --kernels-dir build/dev/variants/$v | sed "s|^{|{\"v\":\"$v\",|" >> $OUT/speed.jsonl 2>>$OUT/errors.log
  done
done
for v in ffw-named-fma fu-named-fma; do
  timeout 200 build/wgtrain check --kernels-dir build/dev/variants/$v > $OUT/check-$v.txt 2>&1; echo "check $v rc=$?" >> $OUT/progress.log
done
cd $OUT && tar czf /tmp/run30.tgz . && rm -rf ./* && mv /tmp/run30.tgz .
