#!/usr/bin/env bash
# Checkpoints and inference end to end (issue 5): train --save -> eval -> predict; resume equals
# the uninterrupted run bit for bit, also after random SIGKILLs; a full disk keeps the previous
# file; and every bad input (flags, checkpoints, images) is one "wgtrain: ..." line with exit 2
# (usage) or 1 (everything else). Small runs (2000 images, hidden 32) keep it fast on lavapipe.
# These run the WGSL kernels (--device gpu); the CPU engine resumes bit for bit too, and a
# checkpoint of either engine resumes on the other (the section "across engines").
source "$(dirname "$0")/lib.sh"

make_set "$TMP/small" 2000
RUN=(--data "$TMP/small" --epochs 3 --hidden 32 --seed 7)

# ---- train -> save -> eval -> predict ----------------------------------------------------------
"$WGTRAIN" train --device gpu "${RUN[@]}" --save "$TMP/A.st" --json >"$TMP/a.json" 2>"$TMP/a.err"
rc=$?
if [ $rc -eq 0 ] && [ -s "$TMP/A.st" ] && grep -q '"event":"saved","epoch":3' "$TMP/a.json"; then ok "train --save writes the model"
else bad "train --save: rc=$rc $(cat "$TMP/a.err")"; fi
[ ! -s "$TMP/a.err" ] && ok "a saving run prints nothing on stderr" || bad "stderr: $(cat "$TMP/a.err")"
train_acc=$(grep '"event":"done"' "$TMP/a.json" | sed -E 's/.*"test_accuracy":([0-9.]+).*/\1/')

# a path with a quote, a backslash and a control character comes out of --json escaped: the
# line parses and gives the path back byte for byte
awkward="$TMP/q\"uote\\back"$'\t'"tab.st"
cp "$TMP/A.st" "$awkward"
"$WGTRAIN" eval --device gpu --model "$awkward" --data "$TMP/small" --json >"$TMP/awkward.json" 2>&1
node -e 'const fs = require("fs"); const e = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
if (e.model !== process.argv[2]) process.exit(1);' "$TMP/awkward.json" "$awkward" \
  && ok "--json escapes a path with a quote, a backslash and a tab" || bad "awkward path in --json: $(head -c 300 "$TMP/awkward.json")"

# the file is safetensors the way torch.nn.Sequential names it, with the metadata asked for
node -e '
const b = require("fs").readFileSync(process.argv[1]);
const n = Number(b.readBigUInt64LE(0)), h = JSON.parse(b.subarray(8, 8 + n).toString());
const t = Object.keys(h).filter(k => k !== "__metadata__").sort().join(",");
if (t !== "0.bias,0.weight,2.bias,2.weight") process.exit(1);
const want = {"0.weight": [32, 784], "0.bias": [32], "2.weight": [10, 32], "2.bias": [10]};
for (const k in want) if (h[k].dtype !== "F32" || JSON.stringify(h[k].shape) !== JSON.stringify(want[k])) process.exit(2);
if ((8 + n) % 8) process.exit(3);
const m = h.__metadata__;
for (const k of ["format","hidden","epoch","epochs","batch","lr","momentum","schedule","seed","dataset","train_samples","input_normalization","test_accuracy"])
  if (typeof m[k] !== "string") { console.log("missing metadata", k); process.exit(4); }
if (m.format !== "pt" || m.epoch !== "3" || m.seed !== "7" || m.hidden !== "32" || m.train_samples !== "2000") process.exit(5);
if (Math.abs(Number(m.test_accuracy) - Number(process.argv[2])) > 1e-6) process.exit(6);
let end = 0; for (const k in want) end = Math.max(end, h[k].data_offsets[1]);
if (8 + n + end !== b.length) process.exit(7);' "$TMP/A.st" "$train_acc" \
  && ok "A.st: exactly 0.weight [32,784], 0.bias, 2.weight [10,32], 2.bias (F32), metadata with epoch, seed, accuracy" \
  || bad "A.st layout or metadata wrong (node exit $?)"

"$WGTRAIN" eval --device gpu --model "$TMP/A.st" --data "$TMP/small" >"$TMP/eval.txt" 2>"$TMP/eval.err"
if [ $? -eq 0 ] && grep -Eq '^Test accuracy: [0-9.]+% \([0-9]+/10000\), loss [0-9.]+$' "$TMP/eval.txt" \
   && [ "$(grep -Ec '^ +[0-9]+: +[0-9.]+% \([0-9]+/[0-9]+\)$' "$TMP/eval.txt")" -eq 10 ] \
   && grep -q '^Confusion matrix' "$TMP/eval.txt" && [ "$(grep -Ec '^ +[0-9]+: +( +[0-9]+){10}$' "$TMP/eval.txt")" -eq 10 ]; then
  ok "eval prints accuracy, 10 per-class lines and a 10x10 confusion matrix"
else bad "eval text: $(cat "$TMP/eval.txt" "$TMP/eval.err")"; fi
"$WGTRAIN" eval --device gpu --model "$TMP/A.st" --data "$TMP/small" --json >"$TMP/eval.json" 2>&1
node -e '
const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (e.samples !== 10000 || e.per_class.length !== 10 || e.confusion.length !== 10) process.exit(1);
let sum = 0, diag = 0;
e.confusion.forEach((r, i) => { if (r.length !== 10) process.exit(2); r.forEach(v => sum += v); diag += r[i];
  if (e.per_class[i].samples !== r.reduce((a, b) => a + b, 0) || e.per_class[i].correct !== r[i]) process.exit(3); });
if (sum !== 10000 || diag !== e.correct || Math.abs(e.accuracy - diag / 10000) > 1e-9) process.exit(4);
if (Math.abs(e.accuracy - Number(process.argv[2])) > 1e-6) process.exit(5);
if (JSON.stringify(e.hidden) !== "[32]" || e.activation !== "relu" || e.epoch !== 3) process.exit(6);' "$TMP/eval.json" "$train_acc" \
  && ok "eval --json: confusion sums to 10000, per-class agrees, accuracy equals training's ($train_acc)" \
  || bad "eval --json (node exit $?): $(head -c 300 "$TMP/eval.json")"

# predict: the first ten test digits as PGM (cut out of the IDX file), and the same digits as
# PNG, inverted (dark on light), enlarged 4x and off-centre on a 200x150 RGB canvas
labels=(7 2 1 0 4 1 4 9 5 9)
for k in $(seq 0 9); do
  { printf 'P5\n28 28\n255\n'; tail -c +$((17 + 784 * k)) "$MNIST/t10k-images-idx3-ubyte" | head -c 784; } > "$TMP/digit$k.pgm"
done
node -e '
const fs = require("fs"), zlib = require("zlib");
const img = fs.readFileSync(process.argv[1]);
function crc(buf) { let c, t = []; for (let n = 0; n < 256; n++) { c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; t[n] = c >>> 0; }
  let x = 0xffffffff; for (const b of buf) x = t[(x ^ b) & 255] ^ (x >>> 8); return (x ^ 0xffffffff) >>> 0; }
function chunk(type, data) { const l = Buffer.alloc(4); l.writeUInt32BE(data.length); const td = Buffer.concat([Buffer.from(type), data]);
  const c = Buffer.alloc(4); c.writeUInt32BE(crc(td)); return Buffer.concat([l, td, c]); }
for (let k = 0; k < 10; k++) {
  const W = 200, H = 150, rows = [];
  for (let y = 0; y < H; y++) { const r = Buffer.alloc(1 + 3 * W, 255); r[0] = 0;
    for (let x = 0; x < W; x++) { const sy = y - 20, sx = x - 90;
      if (sy >= 0 && sy < 112 && sx >= 0 && sx < 112) { const v = 255 - img[16 + 784 * k + (sy >> 2) * 28 + (sx >> 2)]; r[1 + 3 * x] = r[2 + 3 * x] = r[3 + 3 * x] = v; } }
    rows.push(r); }
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(W, 0); ihdr.writeUInt32BE(H, 4); ihdr[8] = 8; ihdr[9] = 2;
  fs.writeFileSync(process.argv[2] + "/big" + k + ".png", Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0))]));
}' "$MNIST/t10k-images-idx3-ubyte" "$TMP"
pgms=(); pngs=(); for k in $(seq 0 9); do pgms+=("$TMP/digit$k.pgm"); pngs+=("$TMP/big$k.png"); done
"$WGTRAIN" predict --device gpu --model "$TMP/A.st" "${pgms[@]}" >"$TMP/pred.txt" 2>"$TMP/pred.err"
rc=$?
right=0
for k in $(seq 0 9); do
  got=$(grep -E "digit$k.pgm: " "$TMP/pred.txt" | sed -E 's/.*: ([0-9])  \(.*/\1/')
  [ "$got" = "${labels[$k]}" ] && right=$((right+1))
done
if [ $rc -eq 0 ] && [ "$(grep -Ec '^.*digit[0-9].pgm: [0-9]  \([0-9]: [0-9.]+%, [0-9]: [0-9.]+%, [0-9]: [0-9.]+%\)$' "$TMP/pred.txt")" -eq 10 ] \
   && [ $right -ge 8 ]; then ok "predict on 10 test digits (PGM): $right/10 right, label and top 3 per image"
else bad "predict PGM: rc=$rc right=$right $(cat "$TMP/pred.txt" "$TMP/pred.err")"; fi
"$WGTRAIN" predict --device gpu --model "$TMP/A.st" --json "${pgms[@]}" >"$TMP/pgm.json" 2>&1
"$WGTRAIN" predict --device gpu --model "$TMP/A.st" --json "${pngs[@]}" >"$TMP/png.json" 2>&1
node -e '
const fs = require("fs");
const a = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const b = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map(JSON.parse);
if (a.length !== 10 || b.length !== 10) process.exit(1);
for (let i = 0; i < 10; i++) {
  const t = a[i].top3;
  if (t.length !== 3 || t[0].label !== a[i].label || !(t[0].probability >= t[1].probability && t[1].probability >= t[2].probability)) process.exit(2);
  if (t[0].probability + t[1].probability + t[2].probability > 1.0001) process.exit(3);
  if (b[i].label !== a[i].label || Math.abs(b[i].top3[0].probability - t[0].probability) > 1e-6) process.exit(4);
}' "$TMP/pgm.json" "$TMP/png.json" \
  && ok "predict --json: top 3 sorted; an inverted, 4x, off-centre RGB PNG gives the same answer as the 28x28 digit" \
  || bad "predict JSON or PNG/PGM agreement (node exit $?): $(head -3 "$TMP/png.json")"
"$WGTRAIN" predict --device gpu --model "$TMP/A.st" --show "$TMP/digit0.pgm" >"$TMP/show.txt" 2>&1
[ "$(grep -c '^    |' "$TMP/show.txt")" -eq 28 ] && ok "predict --show draws the 28x28 input" || bad "--show: $(head -3 "$TMP/show.txt")"

# ---- resume equals the uninterrupted run, bit for bit ------------------------------------------
"$WGTRAIN" train --device gpu "${RUN[@]}" --stop-after 1 --checkpoint-dir "$TMP/D1" --json >"$TMP/d1.json" 2>&1
grep -q '"event":"checkpoint","epoch":1' "$TMP/d1.json" && [ -f "$TMP/D1/epoch-000001/model.safetensors" ] \
  && [ -f "$TMP/D1/epoch-000001/training_state.safetensors" ] && ok "--stop-after 1 --checkpoint-dir writes epoch-000001" \
  || bad "checkpoint dir: $(cat "$TMP/d1.json"; ls -R "$TMP/D1")"
cp -r "$TMP/D1" "$TMP/D3" # kept at epoch 1 for the error cases below
"$WGTRAIN" train --device gpu --data "$TMP/small" --resume "$TMP/D1" --save "$TMP/B.st" >"$TMP/b.txt" 2>&1
grep -q "resuming .*epoch-000001 after epoch 1 of 3" "$TMP/b.txt" && ok "resume says where it starts" || bad "resume text: $(cat "$TMP/b.txt")"
cmp -s "$TMP/A.st" "$TMP/B.st" && ok "stopped after epoch 1 and resumed: byte-identical to the uninterrupted run" \
  || bad "resumed model differs from the uninterrupted one"
cmp -s "$TMP/A.st" "$TMP/D1/epoch-000003/model.safetensors" && [ ! -e "$TMP/D1/epoch-000001" ] \
  && ok "the resumed run kept checkpointing into D1 (epoch 3 identical, epoch 1 pruned)" || bad "D1 after resume: $(ls "$TMP/D1")"
"$WGTRAIN" train --device gpu "${RUN[@]}" --checkpoint-dir "$TMP/D2" --save-every 2 --json >"$TMP/d2.json" 2>&1
[ "$(grep -c '"event":"checkpoint"' "$TMP/d2.json")" -eq 2 ] && grep -q '"event":"checkpoint","epoch":2' "$TMP/d2.json" \
  && [ "$(ls "$TMP/D2")" = epoch-000003 ] && ok "--save-every 2 over 3 epochs: checkpoints at 2 and at the end, latest kept" \
  || bad "--save-every: $(grep checkpoint "$TMP/d2.json"; ls -a "$TMP/D2")"
"$WGTRAIN" eval --device gpu --model "$TMP/D2" --data "$TMP/small" --json >"$TMP/d2eval.json" 2>&1 && grep -q 'epoch-000003/model.safetensors' "$TMP/d2eval.json" \
  && ok "eval --model DIR uses the latest checkpoint" || bad "eval on a checkpoint dir: $(cat "$TMP/d2eval.json")"

# a deeper model resumes bit for bit too, and flags that would change its layer table conflict
DEEP=(--data "$TMP/small" --epochs 2 --hidden 48,24 --activation leaky_relu --init kaiming --dropout 0.2 --label-smoothing 0.05 --seed 5)
"$WGTRAIN" train --device gpu "${DEEP[@]}" --save "$TMP/E.st" >/dev/null 2>&1
"$WGTRAIN" train --device gpu "${DEEP[@]}" --stop-after 1 --checkpoint-dir "$TMP/DE" >/dev/null 2>&1
cp -r "$TMP/DE" "$TMP/DE2" # kept at epoch 1 for the conflicts below
"$WGTRAIN" train --device gpu --data "$TMP/small" --resume "$TMP/DE" --save "$TMP/F.st" >"$TMP/f.txt" 2>&1
[ -s "$TMP/E.st" ] && cmp -s "$TMP/E.st" "$TMP/F.st" && ok "784-48-24-10 leaky ReLU, kaiming init, dropout 0.2, smoothing 0.05: resumed run byte-identical to the uninterrupted one" \
  || bad "deep resume differs: $(cat "$TMP/f.txt")"
expect_error 2 "--hidden 48 conflicts with the checkpoint.*hidden 48,24" -- train --data "$TMP/small" --resume "$TMP/DE2" --hidden 48
expect_error 2 "--activation relu conflicts with the checkpoint.*activation leaky_relu" -- train --data "$TMP/small" --resume "$TMP/DE2" --activation relu
expect_error 2 "--init torch conflicts with the checkpoint.*init kaiming" -- train --data "$TMP/small" --resume "$TMP/DE2" --init torch

# Adam's state (exp_avg, exp_avg_sq, the step count in the global step) resumes bit for bit too
ADAM=(--data "$TMP/small" --epochs 2 --hidden 32,16 --optimizer adam --lr 0.002 --weight-decay 0.001 --clip-grad-norm 1 --schedule onecycle --warmup 5 --seed 9)
"$WGTRAIN" train --device gpu "${ADAM[@]}" --save "$TMP/G.st" >/dev/null 2>&1
"$WGTRAIN" train --device gpu "${ADAM[@]}" --stop-after 1 --checkpoint-dir "$TMP/DA" >/dev/null 2>&1
cp -r "$TMP/DA" "$TMP/DA2"
"$WGTRAIN" train --device gpu --data "$TMP/small" --resume "$TMP/DA" --save "$TMP/H.st" >"$TMP/h.txt" 2>&1
[ -s "$TMP/G.st" ] && cmp -s "$TMP/G.st" "$TMP/H.st" && ok "Adam with weight decay, clipping, onecycle and warmup: resumed run byte-identical" \
  || bad "Adam resume differs: $(cat "$TMP/h.txt")"
expect_error 2 "--optimizer adamw conflicts with the checkpoint.*optimizer adam" -- train --data "$TMP/small" --resume "$TMP/DA2" --optimizer adamw
expect_error 2 "--warmup 6 conflicts with the checkpoint.*warmup 5" -- train --data "$TMP/small" --resume "$TMP/DA2" --warmup 6

# ---- across engines ----------------------------------------------------------------------------
# The CPU engine resumes its own checkpoints bit for bit; a checkpoint of one engine resumes on the
# other (the same state: weights, optimizer slots, epochs done), to a model as good as the
# uninterrupted run's (the engines' sums round differently, so not the same bits).
acc_of() { "$WGTRAIN" eval --device cpu --model "$1" --data "$TMP/small" --json 2>/dev/null | sed -E 's/.*"accuracy":([0-9.]+),"loss".*/\1/'; }
"$WGTRAIN" train --device cpu "${RUN[@]}" --save "$TMP/Ac.st" >/dev/null 2>&1
"$WGTRAIN" train --device cpu "${RUN[@]}" --stop-after 1 --checkpoint-dir "$TMP/C1" >/dev/null 2>&1
cp -r "$TMP/C1" "$TMP/C2"; cp -r "$TMP/D3" "$TMP/G1"
"$WGTRAIN" train --device cpu --data "$TMP/small" --resume "$TMP/C1" --save "$TMP/Bc.st" >"$TMP/bc.txt" 2>&1
[ -s "$TMP/Ac.st" ] && cmp -s "$TMP/Ac.st" "$TMP/Bc.st" && ok "CPU engine: stopped after epoch 1 and resumed, byte-identical to its uninterrupted run" \
  || bad "CPU-engine resume differs: $(cat "$TMP/bc.txt")"
"$WGTRAIN" train --device gpu --data "$TMP/small" --resume "$TMP/C2" --save "$TMP/Xg.st" --json >"$TMP/xg.json" 2>&1
"$WGTRAIN" train --device cpu --data "$TMP/small" --resume "$TMP/G1" --save "$TMP/Xc.st" --json >"$TMP/xc.json" 2>&1
a_gpu=$(acc_of "$TMP/A.st"); a_cpu=$(acc_of "$TMP/Ac.st"); x_gpu=$(acc_of "$TMP/Xg.st"); x_cpu=$(acc_of "$TMP/Xc.st")
grep -q '"event":"resume","epoch":1' "$TMP/xg.json" && grep -q '"engine":"gpu"' "$TMP/xg.json" && [ -n "$x_gpu" ] \
  && awk "BEGIN{d = $x_gpu - $a_cpu; exit !(d < 0.015 && d > -0.015 && $x_gpu > 0.85)}" \
  && ok "a CPU checkpoint resumed on the GPU (lavapipe): test accuracy $x_gpu, the CPU's uninterrupted run $a_cpu" \
  || bad "CPU -> GPU resume: accuracy '$x_gpu' vs '$a_cpu': $(tail -c 400 "$TMP/xg.json")"
grep -q '"event":"resume","epoch":1' "$TMP/xc.json" && grep -q '"engine":"cpu"' "$TMP/xc.json" && [ -n "$x_cpu" ] \
  && awk "BEGIN{d = $x_cpu - $a_gpu; exit !(d < 0.015 && d > -0.015 && $x_cpu > 0.85)}" \
  && ok "a GPU checkpoint resumed on the CPU engine: test accuracy $x_cpu, the GPU's uninterrupted run $a_gpu" \
  || bad "GPU -> CPU resume: accuracy '$x_cpu' vs '$a_gpu': $(tail -c 400 "$TMP/xc.json")"
! cmp -s "$TMP/Xc.st" "$TMP/A.st" && ! cmp -s "$TMP/Xg.st" "$TMP/Ac.st" && ok "(the engines round differently: cross-engine resumes are close, not identical)" \
  || bad "a cross-engine resume gave the other engine's exact bits: the engine was not switched"
node -e '
const fs = require("fs"), read = (f) => { const b = fs.readFileSync(f), n = Number(b.readBigUInt64LE(0)), h = JSON.parse(b.subarray(8, 8 + n).toString());
  const w = h["0.weight"]; return new Float32Array(b.buffer.slice(b.byteOffset + 8 + n + w.data_offsets[0], b.byteOffset + 8 + n + w.data_offsets[1])); };
const a = read(process.argv[1]), x = read(process.argv[2]);
let d = 0, s = 0; for (let i = 0; i < a.length; i++) { d += (a[i] - x[i]) ** 2; s += a[i] ** 2; }
if (!(Math.sqrt(d / s) < 0.05)) { console.error(Math.sqrt(d / s)); process.exit(1); }' "$TMP/A.st" "$TMP/Xc.st" \
  && ok "GPU -> CPU resume: the first layer within 5% (relative L2) of the uninterrupted GPU run's" || bad "GPU -> CPU resume: weights far from the GPU run's"

# SIGKILL at random moments, resuming each time from whatever is on disk: the end result is still
# the uninterrupted run, byte for byte, and no broken checkpoint is ever left in place
D="$TMP/K"; kills=0; attempts=0; broken=0
while [ $attempts -lt 15 ]; do
  attempts=$((attempts+1))
  if [ -d "$D" ] && ls "$D" | grep -q '^epoch-'; then args=(--data "$TMP/small" --resume "$D"); else args=("${RUN[@]}" --checkpoint-dir "$D"); fi
  ls "$D" 2>/dev/null | grep -q '^epoch-000003$' && break
  "$WGTRAIN" train --device gpu "${args[@]}" >/dev/null 2>"$TMP/k.err" &
  pid=$!
  sleep "$(awk -v s="$RANDOM" 'BEGIN{srand(s); printf "%.2f", 0.2 + rand() * 1.8}')"
  if kill -9 $pid 2>/dev/null; then kills=$((kills+1)); fi
  wait $pid 2>/dev/null
  if ls "$D" 2>/dev/null | grep -q '^epoch-'; then
    "$WGTRAIN" eval --device gpu --model "$D" --data "$TMP/small" >/dev/null 2>"$TMP/k.err" || { broken=$((broken+1)); echo "    broken: $(cat "$TMP/k.err")"; }
  fi
done
if ! ls "$D" 2>/dev/null | grep -q '^epoch-000003$'; then
  if ls "$D" 2>/dev/null | grep -q '^epoch-'; then "$WGTRAIN" train --device gpu --data "$TMP/small" --resume "$D" >/dev/null 2>&1
  else "$WGTRAIN" train --device gpu "${RUN[@]}" --checkpoint-dir "$D" >/dev/null 2>&1; fi
fi
[ $broken -eq 0 ] && ok "after each of $kills random kills the latest checkpoint loaded" || bad "$broken broken checkpoints after kills"
cmp -s "$TMP/A.st" "$D/epoch-000003/model.safetensors" && ok "killed $kills times and resumed: final model byte-identical to the uninterrupted run" \
  || bad "kill/resume cycle gave a different model ($(ls -a "$D"))"

# ---- a full disk keeps the previous file --------------------------------------------------------
# A real ENOSPC: a 160 KiB tmpfs in a private mount namespace (root: unshare -m; otherwise a user
# namespace, unshare -rm). (RLIMIT_FSIZE is no substitute here: it also caps the memfds that
# lavapipe maps, which then die of SIGBUS. test_checkpoint covers RLIMIT_FSIZE without the GPU.)
mkdir -p "$TMP/fs"
cat > "$TMP/full.sh" <<'SH'
set -u
fs=$1; out=$2; W=$3; data=$4; A=$5
mount -t tmpfs -o size=160k tmpfs "$fs" || exit 77
cp "$A" "$fs/keep.st"
"$W" train --data "$data" --epochs 1 --hidden 64 --save "$fs/keep.st" >/dev/null 2>"$out/save.err"; echo $? >"$out/save.rc"
cmp -s "$A" "$fs/keep.st"; echo $? >"$out/save.same"
ls -A "$fs" >"$out/save.ls"
"$W" train --data "$data" --epochs 1 --hidden 64 --checkpoint-dir "$fs/ck" >/dev/null 2>"$out/ck.err"; echo $? >"$out/ck.rc"
ls -A "$fs/ck" >"$out/ck.ls"
umount "$fs"
SH
if [ "$(id -u)" -eq 0 ]; then ns=(unshare -m --propagation private); else ns=(unshare -rm --propagation private); fi
"${ns[@]}" bash "$TMP/full.sh" "$TMP/fs" "$TMP" "$WGTRAIN" "$TMP/small" "$TMP/A.st" 2>"$TMP/ns.err"
rc=$?
if [ $rc -ne 0 ]; then
  echo "skip full-disk CLI case: cannot mount a tmpfs in a private namespace (${ns[*]}: rc=$rc $(head -1 "$TMP/ns.err")); test_checkpoint covers the save logic"
else
  err=$(cat "$TMP/save.err")
  if [ "$(cat "$TMP/save.rc")" = 1 ] && [ "$(printf '%s' "$err" | grep -c '')" -eq 1 ] \
     && printf '%s' "$err" | grep -q "^wgtrain: cannot save .*keep.st: no space left on device .*previous checkpoint is kept" \
     && [ "$(cat "$TMP/save.same")" = 0 ] && [ "$(cat "$TMP/save.ls")" = keep.st ]; then
    ok "--save onto a full disk: one clear line, exit 1, old file intact, no temp left ($err)"
  else bad "--save onto a full disk: rc=$(cat "$TMP/save.rc") same=$(cat "$TMP/save.same") ls=$(cat "$TMP/save.ls") err=$err"; fi
  if [ "$(cat "$TMP/ck.rc")" = 1 ] && grep -q "no space left on device" "$TMP/ck.err" && [ ! -s "$TMP/ck.ls" ]; then
    ok "--checkpoint-dir on a full disk: exit 1, nothing half-written left"
  else bad "checkpoint on a full disk: rc=$(cat "$TMP/ck.rc") $(cat "$TMP/ck.err") ls=$(cat "$TMP/ck.ls")"; fi
fi

# ---- bad flags ---------------------------------------------------------------------------------
mkdir -p "$TMP/emptydir"
expect_error 2 "--save-every needs --checkpoint-dir" -- train --save-every 2
expect_error 2 "--save-every must be between 1" -- train --save-every 0 --checkpoint-dir "$TMP/x"
expect_error 2 "--stop-after 5 is past --epochs 3" -- train --epochs 3 --stop-after 5
expect_error 2 "--stop-after: 'x' is not a whole number" -- train --stop-after x
expect_error 2 "--save needs a value" -- train --save
expect_error 2 "--resume needs a value" -- train --resume
expect_error 1 "cannot resume: .*nowhere: no such checkpoint folder" -- train --resume "$TMP/nowhere"
expect_error 1 "cannot resume: .*holds no checkpoint" -- train --resume "$TMP/emptydir"
expect_error 1 "cannot resume: .*not a folder" -- train --resume "$TMP/A.st"
expect_error 2 "--hidden 64 conflicts with the checkpoint.*hidden 32" -- train --data "$TMP/small" --resume "$TMP/D3" --hidden 64
expect_error 2 "--epochs 5 conflicts with the checkpoint.*epochs 3" -- train --data "$TMP/small" --resume "$TMP/D3" --epochs 5
expect_error 2 "--lr 0.3 conflicts with the checkpoint" -- train --data "$TMP/small" --resume "$TMP/D3" --lr 0.3
expect_error 2 "--seed 8 conflicts with the checkpoint" -- train --data "$TMP/small" --resume "$TMP/D3" --seed 8
expect_error 2 "--batch 32 conflicts with the checkpoint" -- train --data "$TMP/small" --resume "$TMP/D3" --batch 32
expect_error 2 "--schedule constant conflicts" -- train --data "$TMP/small" --resume "$TMP/D3" --schedule constant
expect_error 2 "--train-limit 1000 conflicts with the checkpoint.*2000 samples" -- train --data "$TMP/small" --resume "$TMP/D3" --train-limit 1000
expect_error 2 "--stop-after 1: the checkpoint .* is already at epoch 1" -- train --data "$TMP/small" --resume "$TMP/D3" --stop-after 1
expect_error 1 "already finished all 3 epochs" -- train --data "$TMP/small" --resume "$TMP/D2"
make_set "$TMP/other" 1000
expect_error 1 "cannot resume: the checkpoint trained on 2000 samples but .* has 1000" -- train --data "$TMP/other" --resume "$TMP/D3"
make_set "$TMP/changed" 2000; printf '\x05' | dd of="$TMP/changed/train-labels-idx1-ubyte" bs=1 seek=100 conv=notrunc 2>/dev/null
expect_error 1 "not the data the checkpoint was trained on" -- train --data "$TMP/changed" --resume "$TMP/D3"
expect_error 1 "--checkpoint-dir .*D2 already holds checkpoints \\(epoch 3\\)" -- train --data "$TMP/small" --checkpoint-dir "$TMP/D2"
expect_error 1 "--save .*: folder '.*nodir' does not exist" -- train --save "$TMP/nodir/m.st"
expect_error 1 "--save .*: is a folder" -- train --save "$TMP/emptydir"
expect_error 1 "cannot create checkpoint folder .*: its parent folder does not exist" -- train --checkpoint-dir "$TMP/a/b/c"
cp -r "$TMP/D3" "$TMP/D4"; truncate -s 100 "$TMP/D4/epoch-000001/training_state.safetensors"
expect_error 1 "cannot resume: .*training_state.safetensors: header length .* runs past the end" -- train --resume "$TMP/D4"
cp -r "$TMP/D3" "$TMP/D5"; cp "$TMP/D2/epoch-000003/model.safetensors" "$TMP/D5/epoch-000001/model.safetensors"
expect_error 1 "cannot resume: .*not from the same checkpoint" -- train --resume "$TMP/D5"

# ---- malformed model files: each a clear one-line error from eval (and predict) -----------------
mkbad() {
  node -e '
const fs = require("fs"), [kind, src, dst] = process.argv.slice(1);
const b = fs.readFileSync(src), n = Number(b.readBigUInt64LE(0));
const h = JSON.parse(b.subarray(8, 8 + n).toString());
let data = b.subarray(8 + n), hlen = null;
// a hostile file that is consistent with itself: its sha256 digest is made to match its data, so
// that the check under test (not the digest) is what refuses it
const out = (hdr, d) => { if (hdr.__metadata__) hdr.__metadata__.sha256 = require("crypto").createHash("sha256").update(d).digest("hex");
  const s = Buffer.from(JSON.stringify(hdr)); const L = Buffer.alloc(8);
  L.writeBigUInt64LE(BigInt(hlen === null ? s.length : hlen(s.length, d.length))); fs.writeFileSync(dst, Buffer.concat([L, s, d])); };
switch (kind) {
  case "tiny": fs.writeFileSync(dst, b.subarray(0, 5)); break;
  case "cut-header": fs.writeFileSync(dst, b.subarray(0, 8 + 40)); break;
  case "past-eof": hlen = (s, d) => s + d + 100; out(h, data); break;
  case "overlap": h["0.bias"].data_offsets = h["0.bias"].data_offsets.map(x => x - 4); out(h, data); break;
  case "size": h["0.bias"].shape = [33]; out(h, data); break;
  case "shape": h["2.weight"].shape = [32, 10]; out(h, data); break;
  case "dtype": h["0.weight"].dtype = "F16"; out(h, data); break;
  case "bf16": h["2.bias"].dtype = "BF16"; h["2.bias"].shape = [20]; out(h, data); break;
  case "missing": { const [b0, b1] = h["2.bias"].data_offsets; delete h["2.bias"];
    if (b1 !== data.length) process.exit(9); out(h, data.subarray(0, b0)); break; }
  case "extra": h["3.weight"] = {dtype: "F32", shape: [1], data_offsets: [data.length, data.length + 4]}; out(h, Buffer.concat([data, Buffer.alloc(4)])); break;
  case "trailing": out(h, Buffer.concat([data, Buffer.from([1, 2, 3])])); break;
  case "nonjson": { const s = Buffer.alloc(n, 32); s.write("{\"0.weight\": not json"); const L = Buffer.alloc(8); L.writeBigUInt64LE(BigInt(n));
    fs.writeFileSync(dst, Buffer.concat([L, s, data])); break; }
  case "nan": { const d = Buffer.from(data); d.writeFloatLE(NaN, 4 * 10); out(h, d); break; }
  case "dup": { const s = Buffer.from(JSON.stringify(h).replace("{", "{\"2.bias\":" + JSON.stringify(h["2.bias"]) + ","));
    const L = Buffer.alloc(8); L.writeBigUInt64LE(BigInt(s.length)); fs.writeFileSync(dst, Buffer.concat([L, s, data])); break; }
  case "huge-header": { const L = Buffer.alloc(8); L.writeBigUInt64LE(1n << 40n); fs.writeFileSync(dst, Buffer.concat([L, b.subarray(8)])); break; }
}' "$1" "$TMP/A.st" "$TMP/bad-$1.st"
}
while IFS='|' read -r kind pattern; do
  mkbad "$kind" || { bad "mkbad $kind failed"; continue; }
  expect_error 1 "bad-$kind.st: ($pattern)" -- eval --model "$TMP/bad-$kind.st" --data "$TMP/small"
done <<'EOF'
tiny|file is 5 bytes, too short
cut-header|header length [0-9]+ runs past the end of the file
past-eof|header length [0-9]+ runs past the end of the file
overlap|tensors '0.weight' and '0.bias' overlap
size|tensor '0.bias' has shape \[33\] \(132 bytes as F32\) but its data_offsets span 128 bytes
shape|tensor '2.weight' has shape \[32, 10\], expected \[classes, 32\]
dtype|tensor '0.weight' has dtype F16; only F32 is accepted
bf16|tensor '2.bias' has dtype BF16; only F32 is accepted
missing|missing tensor '2.bias'
extra|unexpected tensor '3.weight'
trailing|3 trailing bytes after the last tensor
nonjson|header is not valid JSON
nan|tensor '0.weight' holds NaN at index 10
dup|duplicate tensor '2.bias'
huge-header|header length [0-9]+ is over the 1048576-byte limit
EOF
expect_error 1 "bad-overlap.st: tensors '0.weight' and '0.bias' overlap" -- predict --model "$TMP/bad-overlap.st" "$TMP/digit0.pgm"
expect_error 1 "training_state.safetensors: unexpected tensor 'optimizer.velocity'.*training-state file" -- \
  eval --model "$TMP/D3/epoch-000001/training_state.safetensors" --data "$TMP/small"
expect_error 1 "nope.st: no such file" -- eval --model "$TMP/nope.st"
expect_error 1 "emptydir: folder holds no model.safetensors and no epoch-NNNNNN checkpoint" -- eval --model "$TMP/emptydir"
expect_error 2 "eval needs --model PATH" -- eval
expect_error 2 "unknown option '--bogus' for eval" -- eval --model "$TMP/A.st" --bogus
expect_error 2 "--model needs a value" -- eval --model
expect_error 1 "t10k-images-idx3-ubyte: not found" -- eval --model "$TMP/A.st" --data "$TMP/emptydir"

# ---- bad images --------------------------------------------------------------------------------
printf 'P5\n28 28\n255\n' > "$TMP/blank.pgm"; head -c 784 /dev/zero >> "$TMP/blank.pgm"
printf 'P5\n28 28\n255\nxyz' > "$TMP/short.pgm"
printf 'just text' > "$TMP/text.png"
head -c 60 "$TMP/big0.png" > "$TMP/cut.png"
printf '\xff\xd8\xff\xe0JFIF' > "$TMP/photo.jpg"
expect_error 2 "predict needs at least one IMAGE" -- predict --model "$TMP/A.st"
expect_error 2 "predict needs --model PATH" -- predict "$TMP/digit0.pgm"
expect_error 2 "unknown option '--bogus' for predict" -- predict --model "$TMP/A.st" --bogus "$TMP/digit0.pgm"
expect_error 1 "missing.png: no such file" -- predict --model "$TMP/A.st" "$TMP/digit0.pgm" "$TMP/missing.png"
expect_error 1 "text.png: not a PNG or PGM image" -- predict --model "$TMP/A.st" "$TMP/text.png"
expect_error 1 "photo.jpg: a JPEG image: only PNG and PGM are read" -- predict --model "$TMP/A.st" "$TMP/photo.jpg"
expect_error 1 "cut.png: PNG does not decode" -- predict --model "$TMP/A.st" "$TMP/cut.png"
expect_error 1 "short.pgm: PGM: truncated" -- predict --model "$TMP/A.st" "$TMP/short.pgm"
expect_error 1 "blank.pgm: no digit found" -- predict --model "$TMP/A.st" "$TMP/blank.pgm"
expect_error 1 "emptydir: is a folder, expected a file" -- predict --model "$TMP/A.st" "$TMP/emptydir"
cp "$TMP/digit0.pgm" "$TMP/-dash.pgm"
( cd "$TMP" && "$WGTRAIN" predict --device gpu --model A.st -- -dash.pgm ) 2>&1 | grep -q '^-dash.pgm: ' && ok "predict -- takes names that start with '-'" \
  || bad "predict -- -dash.pgm"

finish
