#!/usr/bin/env bash
# The health panel through `wgtrain train` (docs/health.md): every --json progress line carries
# it per layer, on the WGSL kernels (both paths) and on the CPU engine; it changes no number
# trained (--no-health, another report interval); --health prints a line per report in text
# mode; a loss that overflows stops with one line naming the step, the layer and the tensor.
source "$(dirname "$0")/lib.sh"
make_set "$TMP/small" 2000

check_json() { # FILE WHAT LAYERS
  node -e '
const [file, layers] = [process.argv[1], +process.argv[2]];
const lines = require("fs").readFileSync(file, "utf8").trim().split("\n").map(JSON.parse);
const prog = lines.filter(l => l.event === "progress");
if (!prog.length) { console.error("no progress lines"); process.exit(1); }
for (const p of prog) {
  const h = p.health;
  if (!h || h.step !== p.step || h.epoch !== p.epoch || h.layers.length !== layers || h.bins !== 32) { console.error("health header", JSON.stringify(h)); process.exit(2); }
  h.layers.forEach((y, i) => {
    const sum = a => a.reduce((s, x) => s + x, 0);
    const fail = m => { console.error(`step ${p.step} layer ${i + 1}: ${m}`, JSON.stringify(y)); process.exit(3); };
    if (y.layer !== i + 1 || y.weight !== `${2 * i}.weight`) fail("names");
    if (!(y.grad_norm > 0) || !(y.weight_norm > 0) || !(y.update_ratio > 0 && y.update_ratio < 1)) fail("norms");
    if (Math.abs(y.update_ratio - y.update_norm / y.weight_norm) > 1e-4 * y.update_ratio) fail("ratio");
    if (y.weights.counts.length !== 32 || sum(y.weights.counts) !== y.fan_in * y.fan_out || !(y.weights.lo < y.weights.hi)) fail("weight histogram");
    const hidden = i + 1 < layers;
    if (hidden !== (y.output !== null)) fail("output histogram presence");
    if (hidden && sum(y.output.counts) !== h.samples * y.fan_out) fail("output histogram");
    if (hidden ? !(y.dead_fraction >= 0 && y.dead_fraction <= 1) : y.dead_fraction !== null) fail("dead fraction");
    if (y.nonfinite !== 0) fail("non-finite");
  });
}' "$1" "$3" && ok "$2: every progress line has the health panel of every layer" || bad "$2: health in --json: $(head -c 600 "$1")"
}

"$WGTRAIN" train --device gpu --kernels fused --data "$TMP/small" --epochs 1 --report-every 5 --json >"$TMP/fused.json" 2>"$TMP/err" \
  && check_json "$TMP/fused.json" "gpu, fused kernels" 2 || bad "gpu fused run: $(cat "$TMP/err")"
"$WGTRAIN" train --device gpu --kernels reference --hidden 40,24 --data "$TMP/small" --epochs 1 --report-every 5 --json >"$TMP/ref.json" 2>"$TMP/err" \
  && check_json "$TMP/ref.json" "gpu, per-layer kernels, 784-40-24-10" 3 || bad "gpu per-layer run: $(cat "$TMP/err")"
"$WGTRAIN" train --device cpu --hidden 40,24 --data "$TMP/small" --epochs 1 --report-every 5 --json >"$TMP/cpu.json" 2>"$TMP/err" \
  && check_json "$TMP/cpu.json" "cpu engine, 784-40-24-10" 3 || bad "cpu run: $(cat "$TMP/err")"
node -e '
const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse).filter(x => x.event === "progress");
if (l.some(p => p.health.layers[0].dead_fraction !== null)) process.exit(1);' <("$WGTRAIN" train --device cpu --activation tanh --data "$TMP/small" --epochs 1 --report-every 10 --json 2>/dev/null) \
  && ok "tanh: the dead-ReLU fraction is not applicable (null)" || bad "tanh: dead fraction should be null"

# the panel changes no number trained
strip() { grep -v '"event":"start"' "$1" | sed -E 's/,"health":\{.*\}\}$/}/; s/"(seconds|samples_per_second|train_seconds|device_seconds|setup_seconds)":[0-9.e+-]+//g'; }
for dev in "gpu --kernels fused" "gpu --kernels reference" "cpu"; do
  "$WGTRAIN" train --device $dev --data "$TMP/small" --epochs 2 --report-every 5 --json >"$TMP/on.json" 2>/dev/null
  "$WGTRAIN" train --device $dev --data "$TMP/small" --epochs 2 --report-every 5 --json --no-health >"$TMP/off.json" 2>/dev/null
  if [ "$(strip "$TMP/on.json")" = "$(strip "$TMP/off.json")" ] && grep -q '"event":"epoch","epoch":2' "$TMP/on.json" && ! grep -q '"health"' "$TMP/off.json"; then
    ok "$dev: --no-health prints no panel and the same losses, accuracies and test figures"
  else bad "$dev: health changed the numbers"; diff <(strip "$TMP/on.json") <(strip "$TMP/off.json") | head -4; fi
  "$WGTRAIN" train --device $dev --data "$TMP/small" --epochs 2 --report-every 3 --json >"$TMP/r3.json" 2>/dev/null
  if [ "$(strip "$TMP/on.json" | grep '"event":"epoch"')" = "$(strip "$TMP/r3.json" | grep '"event":"epoch"')" ]; then
    ok "$dev: another report interval trains the same epochs"
  else bad "$dev: the report interval changed the epochs"; fi
done

# text mode: --health adds one line per report
"$WGTRAIN" train --device cpu --data "$TMP/small" --epochs 1 --batch 128 --report-every 8 --health >"$TMP/text.out" 2>&1
n=$(grep -Ec '^  health at step [0-9]+: L1 grad [0-9.e+-]+ update [0-9.e+-]+ dead [0-9.]+% \| L2 grad [0-9.e+-]+ update [0-9.e+-]+$' "$TMP/text.out")
[ "$n" = 2 ] && grep -q '^Epoch 1: loss=' "$TMP/text.out" && ok "--health: a line per report (steps 8 and 16 of 16)" || bad "--health text: $(cat "$TMP/text.out")"
"$WGTRAIN" train --device cpu --data "$TMP/small" --epochs 1 --batch 128 --report-every 8 >"$TMP/plain.out" 2>&1
! grep -q "health at step" "$TMP/plain.out" && ok "text mode without --health shows no panel" || bad "text mode shows the panel unasked"
expect_error 2 "--health shows what --no-health turns off" -- train --health --no-health

# a loss that overflows: the first non-finite step, and at the report the layer and tensor
named="loss became (NaN|infinite) at epoch 1, step [0-9]+ of 32; at step [0-9]+, layer [12], tensor [0-9]+\.(weight|bias|weight\.grad|bias\.grad|output) \([0-9]+ of [0-9]+ values non-finite\)"
expect_error 1 "$named" -- train --device gpu --kernels fused --data "$TMP/small" --lr 500 --momentum 0 --batch 64 --epochs 1 --report-every 4
expect_error 1 "$named" -- train --device gpu --kernels reference --data "$TMP/small" --lr 500 --momentum 0 --batch 64 --epochs 1
expect_error 1 "$named" -- train --device cpu --data "$TMP/small" --lr 500 --momentum 0 --batch 64 --epochs 1
# without the panel the stop still names the step
expect_error 1 "loss became (NaN|infinite) at epoch 1, step [0-9]+ of 32: lower" -- train --device cpu --data "$TMP/small" --lr 500 --momentum 0 --batch 64 --epochs 1 --no-health
finish
