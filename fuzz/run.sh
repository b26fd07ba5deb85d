#!/usr/bin/env bash
# Runs one fuzz target for SECONDS from the committed seed corpus (fuzz/corpus/TARGET, never
# modified: new inputs go to build/fuzz/corpus-TARGET) and prints libFuzzer's final stats.
# A crash, leak or sanitizer report exits non-zero and leaves the input in build/fuzz/artifacts/.
#   fuzz/run.sh checkpoint|idx|image SECONDS [extra libFuzzer flags, e.g. -jobs=2 -workers=2]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${1:?usage: fuzz/run.sh checkpoint|idx|image SECONDS}
seconds=${2:-20}
shift 2 || shift $#
bin=build/fuzz/fuzz_$target
[ -x "$bin" ] || { echo "fuzz/run.sh: $bin missing: run fuzz/build.sh first"; exit 2; }
[ -d "fuzz/corpus/$target" ] || { echo "fuzz/run.sh: no corpus fuzz/corpus/$target"; exit 2; }
mkdir -p "build/fuzz/corpus-$target" build/fuzz/artifacts
dict=()
[ -f "fuzz/$target.dict" ] && dict=(-dict="fuzz/$target.dict")
maxlen=()
[ "$target" = image ] && maxlen=(-max_len=32768)
exec "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix=build/fuzz/artifacts/"$target"- "${dict[@]}" "${maxlen[@]}" "$@" \
  "build/fuzz/corpus-$target" "fuzz/corpus/$target"
