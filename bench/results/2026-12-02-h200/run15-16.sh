#!/usr/bin/env bash
# device runs 15 and 16 in one call (2026-12-02, fifth session): run15.sh's measurements of
# experiment 21 (per-layer path: base, head, unfold) and run16.sh's of experiment 22 (the fused
# step in two dispatches: fold, nofold), then PyTorch's time to 98% on the new defaults if time is
# left. Binaries as those scripts say (build/wgtrain is main at 10ec0e0). Writes under $OUT.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
D=build/web/data; O=${OUT:-/tmp/o}; mkdir -p $O
P=$O/progress.log
t0=$SECONDS
log() { echo "$(( SECONDS - t0 ))s $*" >> $P; }
nvidia-smi -L > $O/card.txt 2>&1
build/wgtrain devices --json > $O/devices.json 2>&1
timeout 150 build/wgtrain check > $O/check.txt 2>&1; log "check rc=$?"; tail -1 $O/check.txt >> $P
bin() { case $1 in base) echo build/dev/wgtrain-base;; head|fold) echo build/wgtrain;; unfold) echo build/dev/wgtrain-unfold;; nofold) echo build/dev/wgtrain-nofold;; esac; }
# experiment 22: fused, two dispatches against three
for r in 1 2 3; do
  for v in fold nofold; do
    timeout 60 $(bin $v) bench --data $D --json --epochs 5 --batches 64,128,256 >> $O/speed-$v.jsonl 2>>$O/err.log; log "fused $v r$r rc=$?"
  done
done
for v in fold nofold; do
  timeout 60 $(bin $v) bench --data $D --json --epochs 5 --batches 1024,4096 >> $O/speed-$v.jsonl 2>>$O/err.log; log "fused large $v rc=$?"
  timeout 60 $(bin $v) bench --data $D --json --epochs 5 --batches 64,256 --hidden 256 >> $O/speed256-$v.jsonl 2>>$O/err.log; log "fused 256 $v rc=$?"
done
# experiment 21: the per-layer path (nofold's per-layer kernels are main's)
for r in 1 2 3; do
  for v in base head unfold; do
    timeout 60 $(bin $v) bench --data $D --json --epochs 5 --kernels reference >> $O/speed-ref-$v.jsonl 2>>$O/err.log; log "reference $v r$r rc=$?"
  done
done
for v in base head; do
  timeout 60 $(bin $v) bench --data $D --json --epochs 5 --hidden 256,128 >> $O/speed2-$v.jsonl 2>>$O/err.log; log "2-layer $v rc=$?"
done
# time to 98%
for v in fold nofold; do
  timeout 90 $(bin $v) bench --data $D --json --skip-speed --time-to-accuracy --seeds 5 --hidden 256 --batch 256 --lr 0.1 --max-epochs 5 >> $O/tta-$v.jsonl 2>>$O/err.log; log "tta fast $v rc=$?"
done
timeout 90 build/wgtrain bench --data $D --json --skip-speed --time-to-accuracy --seeds 5 >> $O/tta-fold.jsonl 2>>$O/err.log; log "tta defaults fold rc=$?"
left=$(( 560 - (SECONDS - t0) ))
[ $left -gt 90 ] && { timeout $left python3 bench/torch_reference.py --data $D --skip-speed --time-to-accuracy --seeds 5 --recipes wgtrain-default >> $O/torch-tta.jsonl 2>>$O/err.log; log "torch tta rc=$?"; }
log done
