#!/usr/bin/env bash
# The benchmark against PyTorch on one GPU: wgtrain (fused and per-layer kernels) and PyTorch
# (eager, CUDA graph, compile + CUDA graph) on the same card, then RESULTS.md.
# Run from the repository root on the GPU machine, with build/wgtrain built and MNIST at $DATA
# (raw or .gz). Writes everything under $OUT (default bench/out): a JSON-lines file per
# command group, commands-PART.txt (the exact commands, as run), progress-PART.log (each
# command's seconds and exit status), errors.log (stderr), card.txt, and RESULTS.md made from
# every *.jsonl there.
#
# PART picks what to run, so that each part fits a device call of 10 minutes:
#   speed     (~2-3 min) wgtrain speed: 784-128-10 fused and per-layer, 784-256-128-10 (the
#             per-layer kernels); PyTorch eager and CUDA graph for both models
#   compiled  PyTorch compile (max-autotune) + CUDA graph: one command per model and batch, each
#             bounded by COMPILED_TIMEOUT; autotuning takes ~200 s per batch size, so give a
#             call 2 of them: COMPILED_MODELS (default "128 256,128": hidden lists, space-separated)
#             and COMPILED_BATCHES (default 64,256,1024,4096)
#   tta       (~1-2 min) time to 98%: wgtrain's default recipe, its fast one and PyTorch's best;
#             PyTorch's presets (torch_reference.py --recipes, default all: wgtrain-default,
#             plain-sgd-b64, wgtrain-fast, wgtrain-fast-b256, torch-best, torch-b512), CUDA graph
#   all       (default) speed, tta, compiled in turn; under ~9 min with COMPILED_BATCHES=64
#             COMPILED_MODELS=128
#   results   only RESULTS.md, from the *.jsonl and commands-*.txt of the folders in RESULTS_FROM
#             (default $OUT): the parts' folders of several device calls, brought together
# A part stops starting commands when fewer than 30 s of BUDGET_S (default 570) are left, and
# bounds each command by what is left, so a part ends inside one device call and what it
# measured comes back.
#
# Other knobs: DATE (of RESULTS.md, default today, UTC), WGTRAIN (default ./build/wgtrain), PYTHON (python3), PER_LAYER_KERNELS (the
# name `wgtrain bench --kernels` takes for the per-layer path, default reference), EPOCHS
# (timed epochs per speed figure, default 5), SEEDS (default 5), TORCH_RECIPES (presets for
# PyTorch's time to accuracy, default all), TORCH_EXTRA (more torch_reference.py arguments for
# the tta part, e.g. "--recipe name:hidden=512,batch=1024,lr=0.4,epochs=6").
set -u
PART=${PART:-all}
DATA=${DATA:-.data/mnist}
OUT=${OUT:-bench/out}
W=${WGTRAIN:-./build/wgtrain}
PY=${PYTHON:-python3}
PER_LAYER=${PER_LAYER_KERNELS:-reference}
EPOCHS=${EPOCHS:-5}
SEEDS=${SEEDS:-5}
COMPILED_MODELS=${COMPILED_MODELS:-128 256,128}
COMPILED_BATCHES=${COMPILED_BATCHES:-64,256,1024,4096}
COMPILED_TIMEOUT=${COMPILED_TIMEOUT:-300}
TORCH_RECIPES=${TORCH_RECIPES:-}
TORCH_EXTRA=${TORCH_EXTRA:-}
BUDGET_S=${BUDGET_S:-570}
DATE=${DATE:-$(date -u +%Y-%m-%d)}
case "$PART" in speed|compiled|tta|all|results) ;; *) echo "run_device: PART must be speed, compiled, tta, all or results (got '$PART')" >&2; exit 2;; esac
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-/tmp/inductor}
start=$SECONDS

# step FILE LIMIT CMD...: runs CMD with its stdout appended to $OUT/FILE, bounded by LIMIT
# seconds and by what is left of BUDGET_S; records the command and how it ended
step() {
  local file=$1 limit=$2; shift 2
  local left=$((BUDGET_S - (SECONDS - start)))
  if [ "$left" -lt 30 ]; then
    echo "skipped (budget spent): $*" >> "$OUT/progress-$PART.log"; return
  fi
  [ "$limit" -gt $((left - 10)) ] && limit=$((left - 10))  # -k 10: a command that ignores TERM ends 10 s later
  echo "timeout -k 10 $limit $* >> $file" >> "$OUT/commands-$PART.txt"
  local t0=$SECONDS
  timeout -k 10 "$limit" "$@" >> "$OUT/$file" 2>> "$OUT/errors.log"
  echo "exit $? after $((SECONDS - t0)) s: $*" >> "$OUT/progress-$PART.log"
}

# tag FILE HIDDEN: adds "hidden" to the JSON lines of FILE that have none (a wgtrain bench
# that does not print it), so that make_results.py puts them in the right model's table
tag() {
  "$PY" - "$1" "$2" <<'PYTAG'
import json, sys
path, hidden = sys.argv[1], sys.argv[2]
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    sys.exit(0)
out = []
for line in lines:
    try:
        row = json.loads(line)
    except ValueError:
        out.append(line)
        continue
    if isinstance(row, dict) and "hidden" not in row:
        row["hidden"] = hidden
    out.append(json.dumps(row))
open(path, "w").write("\n".join(out) + ("\n" if out else ""))
PYTAG
}

part_speed() {
  step wgtrain-speed-128.jsonl 120 "$W" bench --data "$DATA" --json --epochs "$EPOCHS"
  step wgtrain-speed-128.jsonl 120 "$W" bench --data "$DATA" --json --epochs "$EPOCHS" --kernels "$PER_LAYER"
  tag "$OUT/wgtrain-speed-128.jsonl" 128
  step wgtrain-speed-256-128.jsonl 120 "$W" bench --data "$DATA" --json --epochs "$EPOCHS" --hidden 256,128
  tag "$OUT/wgtrain-speed-256-128.jsonl" 256,128
  step torch-speed.jsonl 200 "$PY" bench/torch_reference.py --data "$DATA" --modes eager,graph --epochs "$EPOCHS" --hidden 128
  step torch-speed.jsonl 200 "$PY" bench/torch_reference.py --data "$DATA" --modes eager,graph --epochs "$EPOCHS" --hidden 256,128
}

part_compiled() {
  local m b
  for m in $COMPILED_MODELS; do
    for b in ${COMPILED_BATCHES//,/ }; do
      step "torch-compiled-${m//,/-}-$b.jsonl" "$COMPILED_TIMEOUT" "$PY" bench/torch_reference.py --data "$DATA" \
        --modes compiled --epochs "$EPOCHS" --hidden "$m" --batches "$b" --compiled-batches "$b"
    done
  done
}

part_tta() {
  step wgtrain-tta.jsonl 120 "$W" bench --data "$DATA" --json --skip-speed --time-to-accuracy --seeds "$SEEDS"
  # the fastest recipe found (torch_reference.py's wgtrain-fast) and the one before it (wgtrain-fast-b256)
  step wgtrain-tta.jsonl 120 "$W" bench --data "$DATA" --json --skip-speed --time-to-accuracy --seeds "$SEEDS" \
    --hidden 256 --batch 128 --lr 0.05 --max-epochs 3 --label-smoothing 0.1
  step wgtrain-tta.jsonl 120 "$W" bench --data "$DATA" --json --skip-speed --time-to-accuracy --seeds "$SEEDS" \
    --hidden 256 --batch 256 --lr 0.1 --max-epochs 5
  # PyTorch's best recipe (torch_reference.py's torch-best) on wgtrain too
  step wgtrain-tta.jsonl 120 "$W" bench --data "$DATA" --json --skip-speed --time-to-accuracy --seeds "$SEEDS" \
    --hidden 1024 --batch 1024 --lr 0.4 --max-epochs 4
  local recipes=()
  [ -n "$TORCH_RECIPES" ] && recipes=(--recipes "$TORCH_RECIPES")
  # shellcheck disable=SC2086  # TORCH_EXTRA is a list of arguments
  step torch-tta.jsonl 300 "$PY" bench/torch_reference.py --data "$DATA" --skip-speed --time-to-accuracy \
    --seeds "$SEEDS" "${recipes[@]}" $TORCH_EXTRA
}

results() {
  local dirs=${RESULTS_FROM:-$OUT} files=() commands=() card="" d f
  for d in $dirs; do
    for f in "$d"/*.jsonl; do [ -f "$f" ] && files+=("$f"); done
    for f in "$d"/commands-*.txt; do [ -f "$f" ] && commands+=(--commands "$f"); done
    [ -z "$card" ] && [ -s "$d/card.txt" ] && card=$(cat "$d/card.txt")
  done
  if [ ${#files[@]} -eq 0 ] || [ ${#commands[@]} -eq 0 ]; then
    echo "run_device: no *.jsonl and commands-*.txt in $dirs" >&2; return 1
  fi
  "$PY" bench/make_results.py --card "${card:-unknown}" --date "$DATE" "${commands[@]}" "${files[@]}" \
    > "$OUT/RESULTS.md" && cat "$OUT/RESULTS.md"
}

if [ "$PART" != results ]; then
  echo "# PART=$PART DATA=$DATA EPOCHS=$EPOCHS SEEDS=$SEEDS COMPILED_MODELS='$COMPILED_MODELS' COMPILED_BATCHES=$COMPILED_BATCHES bash bench/run_device.sh" \
    >> "$OUT/commands-$PART.txt"
  card=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
  [ -n "$card" ] && echo "$card" > "$OUT/card.txt"
fi
case "$PART" in
  speed) part_speed ;;
  compiled) part_compiled ;;
  tta) part_tta ;;
  all) part_speed; part_tta; part_compiled ;;
esac
results
