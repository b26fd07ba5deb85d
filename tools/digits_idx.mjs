// Writes scikit-learn's 8x8 handwritten digits (the UCI optdigits test set that Debian's
// python3-sklearn ships as sklearn/datasets/data/digits.csv.gz: 1797 rows of 64 pixels 0..16
// and a label 0..9) as the four IDX files of a wgtrain data folder.
//
//   node tools/digits_idx.mjs [--src digits.csv.gz] [--classes K] [--cols C] OUTDIR
//
// The split is fixed, so every machine trains on the same sets: sample i (file order) goes to
// the test set when i % 5 == 4, else to the training set (1438 train / 359 test). Pixels are
// scaled to 0..255 as round(v * 255 / 16). --classes K keeps the samples of labels 0..K-1
// only; --cols C keeps the first C columns of each image (8xC): both make small fixtures of
// another class count or a non-square shape.
import { gunzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
let src = '/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz', classes = 10, cols = 8, out = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--src') src = args[++i];
  else if (a === '--classes') classes = Number(args[++i]);
  else if (a === '--cols') cols = Number(args[++i]);
  else if (!a.startsWith('--') && !out) out = a;
  else fail(`unknown argument '${a}'`);
}
if (!out) fail('usage: node tools/digits_idx.mjs [--src digits.csv.gz] [--classes K] [--cols C] OUTDIR');
if (!Number.isInteger(classes) || classes < 2 || classes > 10) fail(`--classes must be 2..10 (got ${classes})`);
if (!Number.isInteger(cols) || cols < 1 || cols > 8) fail(`--cols must be 1..8 (got ${cols})`);

function fail(msg) {
  console.error(`digits_idx: ${msg}`);
  process.exit(1);
}

let text;
try {
  text = gunzipSync(readFileSync(src)).toString('ascii');
} catch (e) {
  fail(`${src}: ${e.message} (install Debian's python3-sklearn: make setup)`);
}
const rows = text.split('\n').filter((l) => l.trim());
const sets = { train: { images: [], labels: [] }, test: { images: [], labels: [] } };
rows.forEach((line, i) => {
  const v = line.split(',').map(Number);
  if (v.length !== 65 || v.some((x) => !Number.isInteger(x) || x < 0 || x > 16)) fail(`${src}: row ${i + 1} is not 64 pixels 0..16 and a label`);
  const label = v[64];
  if (label >= classes) return;
  const set = i % 5 === 4 ? sets.test : sets.train;
  for (let y = 0; y < 8; y++) for (let x = 0; x < cols; x++) set.images.push(Math.round((v[y * 8 + x] * 255) / 16));
  set.labels.push(label);
});

function idx(magic, dims, bytes) {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(magic, 0);
  dims.forEach((d, k) => head.writeUInt32BE(d, 4 + 4 * k));
  return Buffer.concat([head, Buffer.from(bytes)]);
}
mkdirSync(out, { recursive: true });
for (const [name, prefix] of [['train', 'train'], ['test', 't10k']]) {
  const s = sets[name];
  writeFileSync(join(out, `${prefix}-images-idx3-ubyte`), idx(0x803, [s.labels.length, 8, cols], s.images));
  writeFileSync(join(out, `${prefix}-labels-idx1-ubyte`), idx(0x801, [s.labels.length], s.labels));
}
console.log(`digits_idx: ${out}: ${sets.train.labels.length} train / ${sets.test.labels.length} test images of 8x${cols}, ${classes} classes`);
