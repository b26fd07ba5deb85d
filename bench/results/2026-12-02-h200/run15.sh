#!/usr/bin/env bash
# device run 15, PREPARED 2026-12-02 (fourth session) AND NOT YET RUN: the session's device time
# was spent before it started. It measures experiment 21 (bench/NOTES.md): dense_softmax_xent
# (the per-layer path's last layer and loss in one dispatch) and the gather fold threshold.
# Binaries, built on the CPU machine and carried in build/dev (with .gl, the Dawn library and
# build/web/data):
#   build/wgtrain                 main (dense_softmax_xent; the gather folded at every batch)
#   build/dev/wgtrain-base        main before dense_softmax_xent (commit 5ca9a8b)
#   build/dev/wgtrain-unfold      main built with CC="cc -DTILE_GATHER_FOLD_MIN_BATCH=128"
# Writes under $OUT: progress.log, check.txt, speed-{base,head,unfold,fused}.jsonl,
# speed2-*.jsonl (784-256-128-10), tta.jsonl, torch-tta.jsonl. About 6 minutes.
set -u
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig; export LD_LIBRARY_PATH=$PWD/.gl/lib
D=build/web/data; O=${OUT:-/tmp/o}; mkdir -p $O
P=$O/progress.log
t0=$SECONDS
log() { echo "$(( SECONDS - t0 ))s $*" >> $P; }
nvidia-smi -L > $O/card.txt 2>&1
timeout 150 build/wgtrain check > $O/check.txt 2>&1; log "check rc=$?"; tail -1 $O/check.txt >> $P
for r in 1 2 3; do
  for v in base head unfold; do
    case $v in base) B=build/dev/wgtrain-base;; head) B=build/wgtrain;; unfold) B=build/dev/wgtrain-unfold;; esac
    timeout 60 $B bench --data $D --json --epochs 5 --kernels reference >> $O/speed-$v.jsonl 2>>$O/err.log; log "speed $v r$r rc=$?"
  done
  timeout 60 build/wgtrain bench --data $D --json --epochs 5 --kernels fused >> $O/speed-fused.jsonl 2>>$O/err.log; log "fused r$r rc=$?"
done
for v in base head unfold; do
  case $v in base) B=build/dev/wgtrain-base;; head) B=build/wgtrain;; unfold) B=build/dev/wgtrain-unfold;; esac
  timeout 60 $B bench --data $D --json --epochs 5 --hidden 256,128 >> $O/speed2-$v.jsonl 2>>$O/err.log; log "2-layer $v rc=$?"
done
timeout 90 build/wgtrain bench --data $D --json --skip-speed --time-to-accuracy --seeds 5 >> $O/tta.jsonl 2>>$O/err.log; log "tta defaults rc=$?"
timeout 90 build/wgtrain bench --data $D --json --skip-speed --time-to-accuracy --seeds 5 --hidden 256 --batch 256 --lr 0.1 --max-epochs 5 >> $O/tta.jsonl 2>>$O/err.log; log "tta fast rc=$?"
left=$(( 540 - (SECONDS - t0) ))
[ $left -gt 60 ] && { timeout $left python3 bench/torch_reference.py --data $D --skip-speed --time-to-accuracy --seeds 5 --recipes wgtrain-default >> $O/torch-tta.jsonl 2>>$O/err.log; log "torch tta rc=$?"; }
log done
