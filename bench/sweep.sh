#!/usr/bin/env bash
# Hyperparameter sweep used to choose `wgtrain train`'s defaults: each configuration over
# several seeds, reporting the final test accuracy and the first epoch at >= 98.0%.
# Usage: bench/sweep.sh OUTDIR [DATA_DIR] ; configurations are the CONFIGS lines below.
set -u
out=${1:?usage: bench/sweep.sh OUTDIR [DATA_DIR]}; data=${2:-}
mkdir -p "$out"
root=$(cd "$(dirname "$0")/.." && pwd)
CONFIGS=(
  "default|"
  "cosine-15|--epochs 15"
  "mom0.9-lr0.01|--momentum 0.9 --lr 0.01"
  "mom0.9-lr0.02-15|--momentum 0.9 --lr 0.02 --epochs 15"
  "b128-mom0.9-lr0.05|--batch 128 --momentum 0.9 --lr 0.05"
)
printf '%-22s %-6s %-9s %-12s %-8s\n' config seed final first98 seconds
for c in "${CONFIGS[@]}"; do
  name=${c%%|*}; args=${c#*|}
  for seed in 1 2 3 4 5; do
    f="$out/$name-$seed.json"
    "$root/build/wgtrain" train --json --seed $seed ${data:+--data "$data"} $args > "$f" 2>"$out/$name-$seed.err"
    final=$(grep '"event":"done"' "$f" | sed -E 's/.*"test_accuracy":([0-9.]+).*/\1/')
    first=$(grep '"event":"epoch"' "$f" | awk -F'"test_accuracy":' '{split($2,a,","); split($0,e,"\"epoch\":"); split(e[2],n,","); if (a[1]>=0.98) {print n[1]; exit}}')
    secs=$(grep '"event":"done"' "$f" | sed -E 's/.*"train_seconds":([0-9.]+).*/\1/')
    printf '%-22s %-6s %-9s %-12s %-8s\n' "$name" "$seed" "${final:-ERR}" "${first:--}" "${secs:-}"
  done
done
