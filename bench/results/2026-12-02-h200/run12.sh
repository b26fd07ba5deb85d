#!/usr/bin/env bash
# device run 12: is the B=1030 H=70 training-step mismatch of the wide tiles a bug or ReLU-boundary flips?
for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
export LD_LIBRARY_PATH=$PWD/.gl/lib
export DBG_WIDE=1
for s in 1 2 3; do for b in dbg64 dbg32 dbgnarrow; do
  echo "== $b seed $s"; timeout 100 ./build/dev/wgtrain-$b check --seed $s 2>&1 | grep -E "dbg|B=1030|failures" | grep -v "^ok   training step  "
done; done
