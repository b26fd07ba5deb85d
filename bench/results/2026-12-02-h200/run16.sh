#!/usr/bin/env bash
# device run 16 (2026-12-02, fifth session): experiment 22 (bench/NOTES.md), the fused step in
# two dispatches (fused_update folds fused_softmax in) against three, at the batches of one slice.
# Binaries, built on the CPU machine and carried in build/dev (with .gl, the Dawn library and
# build/web/data):
#   build/wgtrain               main at 10ec0e0 (the fold wherever it fits: batches up to 256)
#   build/dev/wgtrain-nofold    the same built with CC="cc -DTILE_FU_FOLD_MAX_BATCH=0" (three dispatches)
# Writes under $OUT: progress.log, check.txt, speed-{fold,nofold}.jsonl (784-128-10),
# speed256-{fold,nofold}.jsonl (784-256-10), tta-{fold,nofold}.jsonl. About 5 minutes.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
D=build/web/data; O=${OUT:-/tmp/o}; mkdir -p $O
P=$O/progress.log
t0=$SECONDS
log() { echo "$(( SECONDS - t0 ))s $*" >> $P; }
nvidia-smi -L > $O/card.txt 2>&1
build/wgtrain devices --json > $O/devices.json 2>&1
timeout 150 build/wgtrain check > $O/check.txt 2>&1; log "check rc=$?"; tail -1 $O/check.txt >> $P
bin() { case $1 in fold) echo build/wgtrain;; nofold) echo build/dev/wgtrain-nofold;; esac; }
for r in 1 2 3; do
  for v in fold nofold; do
    timeout 60 $(bin $v) bench --data $D --json --epochs 5 --batches 64,128,256 >> $O/speed-$v.jsonl 2>>$O/err.log; log "speed $v r$r rc=$?"
  done
done
for v in fold nofold; do
  timeout 60 $(bin $v) bench --data $D --json --epochs 5 --batches 1024,4096 >> $O/speed-$v.jsonl 2>>$O/err.log; log "speed large $v rc=$?"
  timeout 60 $(bin $v) bench --data $D --json --epochs 5 --batches 64,256 --hidden 256 >> $O/speed256-$v.jsonl 2>>$O/err.log; log "speed 256 $v rc=$?"
done
for v in fold nofold; do
  timeout 90 $(bin $v) bench --data $D --json --skip-speed --time-to-accuracy --seeds 5 --hidden 256 --batch 256 --lr 0.1 --max-epochs 5 >> $O/tta-$v.jsonl 2>>$O/err.log; log "tta fast $v rc=$?"
done
timeout 90 build/wgtrain bench --data $D --json --skip-speed --time-to-accuracy --seeds 5 >> $O/tta-fold.jsonl 2>>$O/err.log; log "tta defaults fold rc=$?"
log done
