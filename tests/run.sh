#!/usr/bin/env bash
# Runs every test: each build/tests/test_* binary and each tests/*.test.sh script.
# Prints PASS/FAIL per test, the failing test's output, and a closing "N passed, N failed".
# Usage: tests/run.sh [NAME_FILTER]
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
filter=${1:-}
pass=0; fail=0; failed=()
logdir=build/test-logs; mkdir -p "$logdir"
# a run recorded by a test goes to a history under build/, never to the user's home (tests of
# the history itself pass --runs-db)
export XDG_DATA_HOME="$root/build/test-home/share"
run_one() {
  local name=$1; shift
  [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && return
  local log="$logdir/$name.log" start=$SECONDS
  if "$@" >"$log" 2>&1; then
    pass=$((pass+1)); printf 'PASS %-32s %3ds\n' "$name" $((SECONDS-start))
  else
    fail=$((fail+1)); failed+=("$name"); printf 'FAIL %-32s %3ds\n' "$name" $((SECONDS-start))
    sed 's/^/    | /' "$log" | tail -n 40
  fi
}
for t in build/tests/test_*; do
  [ -x "$t" ] || continue
  run_one "$(basename "$t")" "$t"
done
for s in tests/*.test.sh; do
  [ -f "$s" ] || continue
  run_one "$(basename "$s" .test.sh)" bash "$s"
done
for s in tests/*.test.mjs; do
  [ -f "$s" ] || continue
  [ "${WGTRAIN_SKIP_BROWSER:-0}" = 1 ] && continue
  run_one "$(basename "$s" .test.mjs)" node "$s"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
