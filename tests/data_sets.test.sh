#!/usr/bin/env bash
# Data sets other than MNIST: the model's inputs and classes come from the data.
#   - scikit-learn's 8x8 digits (Debian python3-sklearn, written as IDX by tools/digits_idx.mjs):
#     64 inputs, trained with the defaults, its accuracy, shape and classes asserted, and the
#     saved model evaluated and used for predict;
#   - a non-square, 3-class cut of it (8x6): no weight tiles, a 3x3 confusion matrix;
#   - Fashion-MNIST (Debian dataset-fashion-mnist), as installed, on a few images;
#   - the mismatches: a model of another input size, a test label past the model's classes.
. "$(dirname "$0")/lib.sh"

D8="$TMP/digits8x8" D6="$TMP/digits8x6-3" D6ALL="$TMP/digits8x6"
node "$ROOT/tools/digits_idx.mjs" "$D8" >/dev/null && node "$ROOT/tools/digits_idx.mjs" --classes 3 --cols 6 "$D6" >/dev/null \
  && node "$ROOT/tools/digits_idx.mjs" --cols 6 "$D6ALL" >/dev/null \
  || { bad "tools/digits_idx.mjs could not write the digits (is python3-sklearn installed? make setup)"; finish; }
node "$ROOT/tools/digits_idx.mjs" --classes 11 "$TMP/x" 2>"$TMP/err"; rc=$?
[ $rc -ne 0 ] && grep -q -- "--classes must be 2..10" "$TMP/err" && ok "digits_idx: a bad --classes is one line and exit $rc" \
  || bad "digits_idx --classes 11: rc $rc, $(cat "$TMP/err")"

# 8x8 digits, the defaults (12 epochs, batch 64, momentum, cosine)
"$WGTRAIN" train --device gpu --data "$D8" --json --save "$TMP/d8.st" >"$TMP/d8.json" 2>"$TMP/d8.err"; rc=$?
node -e '
const ev = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const start = ev.find(e => e.event === "start"), done = ev.find(e => e.event === "done");
if (!start || start.rows !== 8 || start.cols !== 8 || start.inputs !== 64 || start.classes !== 10) process.exit(1);
if (start.train_samples !== 1438 || start.test_samples !== 359 || start.epochs !== 12) process.exit(2);
if (!done || !(done.test_accuracy >= 0.93)) process.exit(3);
console.log(done.test_accuracy);' "$TMP/d8.json" >"$TMP/d8.acc"; nrc=$?
d8_acc=$(cat "$TMP/d8.acc")
[ $rc -eq 0 ] && [ $nrc -eq 0 ] && ok "8x8 digits with the defaults: 64 inputs, 10 classes, 1438/359 images, test accuracy $d8_acc >= 0.93" \
  || bad "8x8 digits train (rc $rc, check $nrc): $(tail -3 "$TMP/d8.json") $(cat "$TMP/d8.err")"

# the model file: shapes [128,64] .. [10,128], and the data's shape in its metadata
node -e '
const b = require("fs").readFileSync(process.argv[1]);
const n = Number(b.readBigUInt64LE(0)), h = JSON.parse(b.subarray(8, 8 + n).toString());
const m = h.__metadata__;
if (String(h["0.weight"].shape) !== "128,64" || String(h["2.weight"].shape) !== "10,128") process.exit(1);
if (m.rows !== "8" || m.cols !== "8" || m.classes !== "10" || m.layers !== "64,128,10" || m.dataset !== "digits8x8") process.exit(2);
if (!/^8x8 grayscale/.test(m.input)) process.exit(3);' "$TMP/d8.st" \
  && ok "the 8x8 model: 0.weight [128,64], 2.weight [10,128]; metadata rows 8, cols 8, classes 10, dataset digits8x8" \
  || bad "8x8 model file (node exit $?)"

"$WGTRAIN" eval --device gpu --model "$TMP/d8.st" --data "$D8" --json >"$TMP/e8.json" 2>"$TMP/e8.err"
node -e '
const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (e.inputs !== 64 || e.rows !== 8 || e.cols !== 8 || e.classes !== 10 || e.samples !== 359) process.exit(1);
if (e.confusion.length !== 10 || e.confusion.some(r => r.length !== 10) || e.per_class.length !== 10) process.exit(2);
if (Math.abs(e.accuracy - Number(process.argv[2])) > 1e-6) process.exit(3);' "$TMP/e8.json" "$d8_acc" \
  && ok "eval of the 8x8 model: 10x10 confusion, the accuracy training reported ($d8_acc)" \
  || bad "eval 8x8 (node exit $?): $(head -c 300 "$TMP/e8.json") $(cat "$TMP/e8.err")"

# predict: an 8x8 model gets the picture resized as it is (a 32x32 PGM of test image 0, 4x)
node -e '
const fs = require("fs"), b = fs.readFileSync(process.argv[1] + "/t10k-images-idx3-ubyte");
const px = Buffer.alloc(32 * 32);
for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) px[y * 32 + x] = b[16 + (y >> 2) * 8 + (x >> 2)];
fs.writeFileSync(process.argv[2], Buffer.concat([Buffer.from("P5\n32 32\n255\n"), px]));
console.log(fs.readFileSync(process.argv[1] + "/t10k-labels-idx1-ubyte")[8]);' "$D8" "$TMP/d0.pgm" >"$TMP/label0"
"$WGTRAIN" predict --model "$TMP/d8.st" --show "$TMP/d0.pgm" >"$TMP/p8.txt" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -Eq "d0.pgm: $(cat "$TMP/label0")  \(" "$TMP/p8.txt" && [ "$(grep -c '^    |' "$TMP/p8.txt")" -eq 8 ] \
  && ok "predict with the 8x8 model: a 4x enlarged test image reads as its label $(cat "$TMP/label0"); --show draws 8 rows" \
  || bad "predict 8x8 (rc $rc): $(cat "$TMP/p8.txt")"

# a non-square, 3-class set: 48 inputs, a 3x3 confusion matrix
"$WGTRAIN" train --device gpu --data "$D6" --epochs 5 --batch 32 --json --save "$TMP/d6.st" >"$TMP/d6.json" 2>"$TMP/d6.err"; rc=$?
"$WGTRAIN" eval --device gpu --model "$TMP/d6.st" --data "$D6" --json >"$TMP/e6.json" 2>>"$TMP/d6.err"
node -e '
const fs = require("fs");
const ev = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const start = ev.find(e => e.event === "start"), done = ev.find(e => e.event === "done");
if (start.rows !== 8 || start.cols !== 6 || start.inputs !== 48 || start.classes !== 3) process.exit(1);
if (!(done.test_accuracy >= 0.95)) process.exit(2);
const e = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
if (e.classes !== 3 || e.rows !== 8 || e.cols !== 6 || e.confusion.length !== 3 || e.confusion[0].length !== 3) process.exit(3);
if (e.confusion.flat().reduce((a, b) => a + b, 0) !== e.samples || Math.abs(e.accuracy - done.test_accuracy) > 1e-6) process.exit(4);' \
  "$TMP/d6.json" "$TMP/e6.json" \
  && ok "8x6 images of 3 classes: 48 inputs, accuracy >= 0.95, eval's 3x3 confusion matrix agrees" \
  || bad "8x6 3-class (rc $rc, node exit $?): $(tail -2 "$TMP/d6.json") $(cat "$TMP/d6.err")"

# mismatches between a model and the data: one line each, exit 1
expect_error 1 "the model takes 48 inputs but the test set in .*digits8x8 holds 8x8 images \(64 pixels\)" -- \
  eval --model "$TMP/d6.st" --data "$D8"
expect_error 1 "the test set in .*digits8x6 has label [3-9] at index [0-9]+, past the model's 3 classes \(0 to 2\)" -- \
  eval --model "$TMP/d6.st" --data "$D6ALL"
expect_error 1 "the model takes 64 inputs but the test set in .* holds 28x28 images \(784 pixels\)" -- \
  eval --model "$TMP/d8.st" --data "$MNIST"
mkdir -p "$TMP/resume" && "$WGTRAIN" train --device gpu --data "$D6" --epochs 2 --batch 32 --stop-after 1 --checkpoint-dir "$TMP/resume" >/dev/null 2>&1
expect_error 1 "the model takes 48 inputs but the training set in .*digits8x8 holds 8x8 images" -- \
  train --data "$D8" --epochs 2 --batch 32 --resume "$TMP/resume"
"$WGTRAIN" train --device gpu --data "$D6" --epochs 2 --batch 32 --resume "$TMP/resume" --json >"$TMP/res.json" 2>&1 \
  && grep -q '"event":"done"' "$TMP/res.json" && ok "a 48-input, 3-class checkpoint resumes on its own data" \
  || bad "resume 8x6: $(tail -2 "$TMP/res.json")"

# Fashion-MNIST as Debian installs it: the same IDX layout, 28x28, 10 classes
FASHION=/usr/share/datasets/fashion-mnist
if [ -f "$FASHION/train-images-idx3-ubyte.gz" ]; then
  "$WGTRAIN" train --device gpu --data "$FASHION" --train-limit 3000 --epochs 1 --json >"$TMP/f.json" 2>"$TMP/f.err"; rc=$?
  facc=$(grep '"event":"done"' "$TMP/f.json" | sed -E 's/.*"test_accuracy":([0-9.]+).*/\1/')
  [ $rc -eq 0 ] && grep -q '"test_samples":10000' "$TMP/f.json" && awk "BEGIN{exit !(${facc:-0} >= 0.65)}" \
    && ok "Fashion-MNIST from $FASHION: one epoch on 3000 images, test accuracy $facc >= 0.65" \
    || bad "Fashion-MNIST (rc $rc): $(tail -2 "$TMP/f.json") $(cat "$TMP/f.err")"
else
  bad "$FASHION is missing: make setup installs Debian's dataset-fashion-mnist"
fi
finish
