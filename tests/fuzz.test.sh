#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/build.sh: clang, ASan, UBSan) and runs each briefly from
# its committed seed corpus: the checkpoint parser, the IDX parser + gzip, and the image
# decoders. Any crash, sanitizer report, leak or timeout fails the test. The time per target is
# WGTRAIN_FUZZ_SECONDS (default 20). Without clang it prints why and passes (skip).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${WGTRAIN_FUZZ_SECONDS:-20}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
fuzz/build.sh >"$log/build" 2>&1
rc=$?
if [ $rc -eq 3 ]; then
  echo "SKIP fuzz: $(tail -1 "$log/build") -- add clang to the setup packages to run the fuzzers in CI"
  exit 0
elif [ $rc -ne 0 ]; then
  echo "FAIL fuzz/build.sh:"; cat "$log/build"; exit 1
fi
failures=0
for t in checkpoint idx image; do
  fuzz/run.sh "$t" "$seconds" >"$log/$t" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log/$t")
  if [ $rc -eq 0 ] && [ -n "$runs" ] && [ "$runs" -gt 0 ]; then
    echo "ok   fuzz_$t: $runs executions in ${seconds}s, no crash"
  else
    failures=$((failures+1))
    echo "FAIL fuzz_$t (exit $rc):"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written|deadly signal' "$log/$t" | head -20
    tail -5 "$log/$t"
  fi
done
[ $failures -eq 0 ]
