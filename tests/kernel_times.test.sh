#!/usr/bin/env bash
# train --kernel-times on lavapipe: a kernel_times event per report with --json (one entry per
# dispatch, named as the pipelines are, positive times), the same run as without the flag, a
# line per epoch in text mode, and the usage error where there is no GPU engine to time.
source "$(dirname "$0")/lib.sh"

common=(train --device gpu --epochs 1 --train-limit 640 --batch 64 --report-every 4 --seed 9 --no-history)
"$WGTRAIN" "${common[@]}" --kernel-times --json >"$TMP/timed.json" 2>"$TMP/timed.err"; rc=$?
[ $rc -eq 0 ] && [ ! -s "$TMP/timed.err" ] && ok "--kernel-times --json runs cleanly" || bad "rc=$rc: $(head -3 "$TMP/timed.err")"
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const kt = lines.filter((l) => l.event === "kernel_times"), progress = lines.filter((l) => l.event === "progress");
const names = ["input_gather", "dense_forward layer 1", "dense_forward layer 2", "softmax_xent_backward", "dense_backward layer 2",
  "dense_backward layer 1", "optimizer"];
const fail = (m) => { console.error(m); process.exit(1); };
if (kt.length !== 3 || progress.length !== 3) fail(`${kt.length} kernel_times and ${progress.length} progress events, want 3 each`);
kt.forEach((k, i) => {
  if (k.step !== progress[i].step || k.epoch !== 1) fail(`sample ${i} is of step ${k.step}, its report of ${progress[i].step}`);
  if (k.kernels.map((x) => x.label).join() !== names.join()) fail(`labels ${k.kernels.map((x) => x.label)}`);
  if (!k.kernels.every((x) => x.us > 0 && Number.isFinite(x.us) && x.kernel.endsWith(".wgsl") && x.share > 0)) fail(`times ${JSON.stringify(k.kernels)}`);
  if (k.quantised !== false || !(k.span_us >= k.step_us * 0.99)) fail(`quantised ${k.quantised}, span ${k.span_us} for ${k.step_us}`);
  if (k.kernels[1].layer !== 1 || k.kernels[4].layer !== 2 || k.kernels[0].layer !== 0) fail("layers");
});
console.log(`steps ${kt.map((k) => k.step)}: ${kt[2].kernels.map((x) => `${x.label} ${x.us}`).join(", ")}`);' "$TMP/timed.json" \
  && ok "a kernel_times event per report: seven per-layer kernels, named and timed" || bad "kernel_times events: $(grep kernel_times "$TMP/timed.json" | head -2)"

# timing one step per report does not change the run
"$WGTRAIN" "${common[@]}" --json >"$TMP/plain.json" 2>/dev/null
strip() { grep -v '"event":"kernel_times"' "$1" | sed -E 's/"(seconds|samples_per_second|train_seconds|device_seconds|setup_seconds)":[0-9.e+-]+//g'; }
if [ "$(strip "$TMP/timed.json")" = "$(strip "$TMP/plain.json")" ] && grep -q '"event":"progress"' "$TMP/plain.json"; then
  ok "with and without --kernel-times: the same losses, accuracies and test result"
else bad "--kernel-times changed the run"; diff <(strip "$TMP/timed.json") <(strip "$TMP/plain.json") | head; fi
! grep -q kernel_times "$TMP/plain.json" && ok "no kernel_times events unless asked" || bad "kernel_times without the flag"

# the fused kernels, in text mode: one line per epoch, the last report's step (one pipelined
# dispatch a step at this batch on lavapipe: the step timed alone is fused_step's forward, then
# its update)
"$WGTRAIN" "${common[@]}" --kernels fused --kernel-times >"$TMP/text.out" 2>&1
grep -Eq '^Kernel times of epoch 1, step 10: fused_step forward [0-9]+ us \([0-9]+%\), fused_step update [0-9]+ us \([0-9]+%\), [0-9]+ us in all$' "$TMP/text.out" \
  && ok "text mode: $(grep '^Kernel times' "$TMP/text.out")" || bad "text mode line: $(cat "$TMP/text.out")"

# nothing to time: one line
expect_error 2 "--kernel-times is for the GPU engine; --device cpu trains on the CPU engine" -- train --device cpu --kernel-times
finish
