#!/usr/bin/env bash
# The whole benchmark in one device run: wgtrain (fused and reference kernels) and PyTorch
# (eager, CUDA graph, compile + CUDA graph) on the same GPU, then bench/RESULTS.md.
# Run from the repository root on the GPU machine, with build/wgtrain built and MNIST at
# $DATA (raw or .gz). Writes everything under $OUT (default bench/out).
set -u
DATA=${DATA:-.data/mnist}
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
card=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
cat > "$OUT/commands.txt" <<CMDS
./build/wgtrain bench --data $DATA --json --time-to-accuracy > wgtrain-fused.jsonl
./build/wgtrain bench --data $DATA --json --kernels reference --batches 64,256,1024 > wgtrain-reference.jsonl
python3 bench/torch_reference.py --data $DATA --modes eager,graph > torch.jsonl
python3 bench/torch_reference.py --data $DATA --modes compiled >> torch.jsonl
python3 bench/torch_reference.py --data $DATA --skip-speed --time-to-accuracy >> torch.jsonl
CMDS
./build/wgtrain bench --data "$DATA" --json --time-to-accuracy > "$OUT/wgtrain-fused.jsonl" 2>> "$OUT/errors.log"
./build/wgtrain bench --data "$DATA" --json --kernels reference --batches 64,256,1024 > "$OUT/wgtrain-reference.jsonl" 2>> "$OUT/errors.log"
export PYTHONUNBUFFERED=1 TORCHINDUCTOR_CACHE_DIR=/tmp/inductor
python3 bench/torch_reference.py --data "$DATA" --modes eager,graph > "$OUT/torch.jsonl" 2>> "$OUT/errors.log"
timeout 360 python3 bench/torch_reference.py --data "$DATA" --modes compiled >> "$OUT/torch.jsonl" 2>> "$OUT/errors.log"
python3 bench/torch_reference.py --data "$DATA" --skip-speed --time-to-accuracy >> "$OUT/torch.jsonl" 2>> "$OUT/errors.log"
python3 bench/make_results.py --fused "$OUT/wgtrain-fused.jsonl" --reference "$OUT/wgtrain-reference.jsonl" \
  --torch "$OUT/torch.jsonl" --card "${card:-unknown}" --date "$(date -u +%Y-%m-%d)" \
  --commands "$OUT/commands.txt" > "$OUT/RESULTS.md"
cat "$OUT/RESULTS.md"
