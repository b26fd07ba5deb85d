#!/usr/bin/env node
// The browser race: wgtrain's WebGPU engine (build/web, `make web`) against TensorFlow.js
// (npm @tensorflow/tfjs 4.22.0 on its WebGPU, WebGL and CPU backends) in the same headless
// chromium on this machine, plus native wgtrain (build/wgtrain) on lavapipe as the yardstick.
// Same model (784-128-10 MLP), batch 128, SGD with momentum 0.9, lr 0.05 on wgtrain's cosine
// schedule, the same MNIST files (build/web/data/*.gz), a fresh shuffle each epoch. Each
// trainer is warmed up, then one epoch on --train-limit images is timed (training only), then
// tested on the 10,000 test images.
//
//   node bench/browser_race.mjs [--train-limit N] [--only a,b,...] [--timeout S] [--warmup-limit N]
//        [--seed N] [--tfjs-pixels wgtrain|unit] [--commit REV] [--section browser|nogpu] [--repeat N]
//        [--fast-s S] [--write-results]
//
// --train-limit: train on the first N images (default all 60,000); --timeout: seconds per trainer
// (default 600); --commit: race a build of that commit, made apart from the working tree (in
// build/bench/race-src), instead of this tree's build/web and build/wgtrain.
// Trainers (--only takes these names): wgtrain-auto, wgtrain-fused, wgtrain-reference (the
// browser build on WebGPU, ?device=gpu), wgtrain-cpu (its CPU engine, ?device=cpu), tfjs-webgpu,
// tfjs-webgl, tfjs-cpu, tfjs-wasm (@tensorflow/tfjs-backend-wasm), jaxjs-wasm (@jax-js/jax on its
// wasm device), native-auto, native-reference (build/wgtrain --device gpu, lavapipe here),
// native-cpu, native-cpu1 (--device cpu, 2 threads and 1), torch-cpu (bench/torch_reference.py
// --train --device cpu on Debian's /usr/bin/python3 with python3-torch, 2 threads).
//
// --section nogpu: the trainers of the "With no GPU" comparison (the default --only there:
// native-cpu, native-cpu1, native-gpu, torch-cpu, wgtrain-cpu, wgtrain-gpu, jaxjs-wasm,
// tfjs-wasm, tfjs-webgl, tfjs-cpu), each trainer whose first timed epoch took under --fast-s
// seconds (default 5) run --repeat times in all (default 3), and --write-results writes the
// section "## With no GPU: ..." of bench/RESULTS.md instead. jaxjs-wasm and tfjs-wasm get a
// cross-origin-isolated page (COOP/COEP headers), so that SharedArrayBuffer and their threads
// are there; every other page is served as before.
// Output: a markdown table on stdout, JSON lines appended to build/bench/browser-race.jsonl, and with
// --write-results the section "## In the browser: ..." of bench/RESULTS.md (replaced if there).
//
// Pages: bench/browser/wgtrain.html (+ .js) drives build/web/engine_worker.js; bench/browser/
// tfjs.html (+ .js) runs TF.js. A small http server here serves /web/ = build/web, /deps/ =
// build/bench-deps/node_modules (npm-installed here when missing) and /bench/ = bench/browser.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, createReadStream, statSync, rmSync, cpSync, copyFileSync, symlinkSync, appendFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { dirname, extname, join, normalize, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let WEB_BUILD = join(ROOT, 'build/web');
const WEB = join(ROOT, 'build/bench/browser-race-web'); // a copy of build/web taken at the start
const DEPS = join(ROOT, 'build/bench-deps');
const PAGES = join(ROOT, 'bench/browser');
const OUT = join(ROOT, 'build/bench/browser-race.jsonl');
const RESULTS = process.env.RACE_RESULTS || join(ROOT, 'bench/RESULTS.md'); // RACE_RESULTS: another file, for trying the script
let NATIVE_BUILD = join(ROOT, 'build/wgtrain');
const NATIVE = join(ROOT, 'build/bench/browser-race-wgtrain'); // a copy taken at the start
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TFJS_VERSION = '4.22.0';
const JAXJS_VERSION = '0.1.25';
const SECTION = '## In the browser: wgtrain vs TensorFlow.js (headless chromium, this machine)';
const NOGPU_SECTION = '## With no GPU: wgtrain\'s CPU engine vs PyTorch, TF.js and jax-js (this 2-core machine)';
const ALL = ['wgtrain-auto', 'wgtrain-fused', 'wgtrain-reference', 'wgtrain-cpu', 'wgtrain-gpu', 'tfjs-webgpu', 'tfjs-webgl', 'tfjs-cpu', 'tfjs-wasm',
  'jaxjs-wasm', 'native-auto', 'native-reference', 'native-cpu', 'native-cpu1', 'native-gpu', 'torch-cpu'];
const NOGPU = ['native-cpu', 'native-cpu1', 'native-gpu', 'torch-cpu', 'wgtrain-cpu', 'wgtrain-gpu', 'jaxjs-wasm', 'tfjs-wasm', 'tfjs-webgl', 'tfjs-cpu'];
const TORCH_PYTHON = process.env.TORCH_PYTHON || '/usr/bin/python3';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic', '--no-first-run', '--enable-unsafe-webgpu',
  // lets WebGL run on SwiftShader (recent Chromium withdraws that software fallback without it),
  // for the TF.js WebGL row; added for that row, not measured with and without
  '--enable-unsafe-swiftshader'];

// ---- arguments ----
function usage(msg) {
  if (msg) console.error(`browser_race: ${msg}`);
  console.error('usage: node bench/browser_race.mjs [--train-limit N] [--only NAMES] [--timeout S] [--warmup-limit N] [--seed N] [--tfjs-pixels wgtrain|unit] [--commit REV] [--section browser|nogpu] [--repeat N] [--fast-s S] [--write-results]');
  console.error(`  NAMES: comma-separated, of ${ALL.join(', ')}`);
  console.error('  --commit REV: race a build of that commit (git archive into build/bench/race-src, make web build/wgtrain there)');
  console.error('               instead of this tree\'s build/web and build/wgtrain');
  console.error('  --tfjs-pixels: TF.js inputs as wgtrain normalises them, (x/255 - 0.1307)/0.3081 (default), or unit: x/255');
  process.exit(2);
}
const opts = { trainLimit: 60000, only: null, timeoutS: 600, warmupLimit: 1280, seed: 1, writeResults: false, tfjsPixels: 'wgtrain', commit: null,
  section: 'browser', repeat: null, fastS: 5 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
  const int = (v, lo) => { const n = Number(v); if (!Number.isInteger(n) || n < lo) usage(`${a} must be an integer >= ${lo} (got ${v})`); return n; };
  if (a === '--train-limit') opts.trainLimit = int(val(), 1);
  else if (a === '--only') { opts.only = val().split(',').map((s) => s.trim()).filter(Boolean); for (const n of opts.only) if (!ALL.includes(n)) usage(`unknown trainer ${n}`); }
  else if (a === '--timeout') opts.timeoutS = int(val(), 1);
  else if (a === '--warmup-limit') opts.warmupLimit = int(val(), 0);
  else if (a === '--seed') opts.seed = int(val(), 0);
  else if (a === '--write-results') opts.writeResults = true;
  else if (a === '--commit') opts.commit = val();
  else if (a === '--section') { opts.section = val(); if (!['browser', 'nogpu'].includes(opts.section)) usage('--section is browser or nogpu'); }
  else if (a === '--repeat') opts.repeat = int(val(), 1);
  else if (a === '--fast-s') opts.fastS = Number(val());
  else if (a === '--tfjs-pixels') { opts.tfjsPixels = val(); if (!['wgtrain', 'unit'].includes(opts.tfjsPixels)) usage('--tfjs-pixels is wgtrain or unit'); }
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown argument ${a}`);
}
if (!opts.only) opts.only = opts.section === 'nogpu' ? NOGPU : ALL.filter((n) => !NOGPU.includes(n) && n !== 'native-gpu');
if (opts.repeat === null) opts.repeat = opts.section === 'nogpu' ? 3 : 1;
let command = ['node', 'bench/browser_race.mjs', ...argv].join(' ');
const t0 = Date.now();
const say = (...a) => console.error(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s]`, ...a);

// ---- prerequisites: the web build and the pinned TF.js packages ----
let commitId = null;
if (opts.commit) {
  // a build of one commit, apart from the working tree (which may be mid-edit)
  const src = join(ROOT, 'build/bench/race-src');
  try {
    commitId = execFileSync('git', ['rev-parse', '--verify', `${opts.commit}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch { console.error(`browser_race: --commit ${opts.commit}: not a commit`); process.exit(2); }
  say(`building ${commitId.slice(0, 10)} in build/bench/race-src (make web build/wgtrain)`);
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  const ar = spawnSync('sh', ['-c', `git archive ${commitId} | tar -x -C '${src}'`], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (ar.status !== 0) { console.error('browser_race: git archive failed'); process.exit(1); }
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
  const mk = spawnSync('make', ['-j2', 'web', 'build/wgtrain'], { cwd: src, stdio: ['ignore', 'pipe', 2] });
  if (mk.status !== 0) { console.error('browser_race: make web build/wgtrain failed in build/bench/race-src'); process.exit(1); }
  // the command as recorded names the commit, not a ref that moves (HEAD)
  command = ['node', 'bench/browser_race.mjs', ...argv.map((v, i) => (i > 0 && argv[i - 1] === '--commit' ? commitId.slice(0, 7) : v))].join(' ');
  WEB_BUILD = join(src, 'build/web');
  NATIVE_BUILD = join(src, 'build/wgtrain');
}
if (!opts.commit && (!existsSync(join(WEB_BUILD, 'engine_worker.js')) || !existsSync(join(WEB_BUILD, 'wgtrain.wasm')))) {
  say('build/web is missing: make web');
  const r = spawnSync('make', ['web'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) { console.error('browser_race: make web failed'); process.exit(1); }
}
// The race runs on copies of build/web and build/wgtrain taken now, so that a rebuild while it
// runs (make web, make) cannot mix two builds in one table.
// Copied only when the copy is consistent: every wasm.<export> that engine_worker.js uses is in
// wgtrain.wasm, and nothing in build/web changed in the last 10 s (a rebuild under way);
// waits up to 5 minutes for that.
function webProblem(dir) {
  try {
    const exported = new Set(WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(join(dir, 'wgtrain.wasm')))).map((e) => e.name));
    const used = new Set([...readFileSync(join(dir, 'engine_worker.js'), 'utf8').matchAll(/\bwasm\.(\w+)/g)].map((m) => m[1]));
    const missing = [...used].filter((n) => !exported.has(n));
    return missing.length ? `engine_worker.js calls ${missing.join(', ')}, which wgtrain.wasm does not export` : null;
  } catch (e) {
    return String(e.message || e);
  }
}
const newest = (dir) => Math.max(...readdirSync(dir, { recursive: true }).map((f) => statSync(join(dir, f)).mtimeMs));
for (let waited = 0; ; waited += 10) {
  const problem = !opts.commit && Date.now() - newest(WEB_BUILD) < 10000 ? 'build/web changed in the last 10 s' : null;
  if (!problem) {
    rmSync(WEB, { recursive: true, force: true });
    mkdirSync(dirname(WEB), { recursive: true });
    cpSync(WEB_BUILD, WEB, { recursive: true });
    if (existsSync(NATIVE_BUILD)) copyFileSync(NATIVE_BUILD, NATIVE); else rmSync(NATIVE, { force: true });
  }
  const bad = problem || webProblem(WEB);
  if (!bad) break;
  if (waited >= 300) { console.error(`browser_race: build/web is not usable: ${bad} (make web)`); process.exit(1); }
  say(`waiting for a consistent build/web: ${bad}`);
  await new Promise((r) => setTimeout(r, 10000));
}
const pkgVersion = (name) => {
  try { return JSON.parse(readFileSync(join(DEPS, 'node_modules', name, 'package.json'), 'utf8')).version; } catch { return null; }
};
// build/bench-deps holds its own playwright-core too (the version package.json pins), used
// when the project's node_modules has none (e.g. while npm ci reinstalls it); all in one
// npm call, as a later --no-save install would prune what an earlier one put there.
const PLAYWRIGHT_VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies['playwright-core'];
const PINNED = { '@tensorflow/tfjs': TFJS_VERSION, '@tensorflow/tfjs-backend-webgpu': TFJS_VERSION, '@tensorflow/tfjs-backend-wasm': TFJS_VERSION,
  '@jax-js/jax': JAXJS_VERSION, 'playwright-core': PLAYWRIGHT_VERSION };
if (Object.entries(PINNED).some(([p, v]) => pkgVersion(p) !== v)) {
  const specs = Object.entries(PINNED).map(([p, v]) => `${p}@${v}`);
  say(`installing ${specs.join(' ')} into build/bench-deps`);
  mkdirSync(DEPS, { recursive: true });
  const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', DEPS, ...specs], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) say('npm install failed: the TF.js rows will say so');
}
const tfVersions = Object.fromEntries(['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu',
  '@tensorflow/tfjs-backend-webgl', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@jax-js/jax'].map((p) => [p, pkgVersion(p)]));

// ---- the server: /web/ build/web, /deps/ build/bench-deps/node_modules, /bench/ bench/browser ----
const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json', '.map': 'application/json', '.gz': 'application/octet-stream' };
const MOUNTS = [['/web/', WEB], ['/deps/', join(DEPS, 'node_modules')], ['/bench/', PAGES]];
const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const mount = MOUNTS.find(([p]) => path.startsWith(p));
  const file = mount && normalize(join(mount[1], path.slice(mount[0].length)));
  if (!file || !(file + sep).startsWith(mount[1] + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    return res.end('not found');
  }
  // .gz files go as bytes (no content-encoding): the pages inflate them with DecompressionStream
  const headers = { 'content-type': MIME[extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' };
  // ?isolated=1 on a page: cross-origin isolated (SharedArrayBuffer, wasm threads); all it loads is same-origin
  if (new URL(req.url, 'http://x').searchParams.get('isolated') === '1') {
    headers['cross-origin-opener-policy'] = 'same-origin';
    headers['cross-origin-embedder-policy'] = 'require-corp';
  }
  res.writeHead(200, headers);
  createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const BASE = `http://127.0.0.1:${server.address().port}`;

// ---- the browser ----
let chromiumVersion = '';
try { chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { }
const PW = [join(ROOT, 'node_modules/playwright-core/index.mjs'), join(DEPS, 'node_modules/playwright-core/index.mjs')].find(existsSync);
if (!PW) { console.error('browser_race: no playwright-core (make setup, or let this script install it into build/bench-deps)'); process.exit(1); }
const { chromium } = await import(PW);
const profile = mkdtempSync(join(tmpdir(), 'wgtrain-race-'));
let browser = null;
async function context() {
  if (!browser) {
    browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
      handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false });
  }
  return browser;
}
async function closeBrowser() {
  if (browser) { await browser.close().catch(() => {}); browser = null; }
}

function timeout(ms, what) {
  let t;
  const p = new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms); });
  p.cancel = () => clearTimeout(t);
  return p;
}

// Runs window.race(args) in a fresh tab of `page` (bench/browser/<page>.html).
async function inPage(pageName, args, tag, query = '') {
  const ctx = await context();
  const page = await ctx.newPage();
  page.on('console', (m) => {
    const t = m.text();
    if (t.startsWith('[wgtrain]') || t.startsWith('[tfjs]') || t.startsWith('[jaxjs]') || m.type() === 'error') say(`${tag}:`, t.replace(/^\[\w+\] /, ''));
  });
  page.on('pageerror', (e) => say(`${tag}: page error:`, String(e.message || e)));
  page.on('crash', () => say(`${tag}: the page crashed`));
  const limit = timeout(opts.timeoutS * 1000, tag);
  try {
    await page.goto(`${BASE}/bench/${pageName}.html${query}`);
    await page.waitForFunction(() => window.raceReady === true, null, { timeout: 60000 });
    return await Promise.race([page.evaluate((a) => window.race(a), args), limit]);
  } finally {
    limit.cancel();
    await page.close().catch(() => {});
  }
}

async function runWgtrain(kernels, device = 'gpu') {
  const r = await inPage('wgtrain', { kernels, device, trainLimit: opts.trainLimit, warmupLimit: opts.warmupLimit, batch: 128, lr: 0.05,
    momentum: 0.9, hidden: 128, seed: opts.seed, timeoutMs: opts.timeoutS * 1000 }, `wgtrain ${device} ${kernels}`);
  const d = r.device || {};
  const cpu = d.engine === 'cpu';
  return {
    ok: true, place: 'browser', backend: cpu ? 'wgtrain CPU engine (wasm simd128, serial)' : 'WebGPU (wgtrain engine, wasm32)',
    kernels: cpu ? 'cpu' : kernels === 'auto' ? 'auto (fused)' : kernels, requested_device: device,
    adapter: cpu ? `CPU engine: ${d.why || ''}` : [d.vendor, d.architecture, d.description].filter(Boolean).join(' / ') + (d.isFallbackAdapter ? ' (fallback adapter)' : ''),
    device: d, train_count: r.trainCount ?? Math.min(opts.trainLimit, 60000),
    ms_per_epoch: r.epoch.seconds * 1000, samples_per_second: r.epoch.samples_per_second, test_accuracy: r.epoch.test_accuracy,
    train_loss: r.epoch.loss, test_loss: r.epoch.test_loss, warmup: r.warmup, init_seconds: r.initSeconds,
  };
}

async function runTfjs(backend) {
  const r = await inPage('tfjs', { backend, trainLimit: opts.trainLimit, batch: 128, lr: 0.05, momentum: 0.9, hidden: 128, seed: opts.seed,
    pixels: opts.tfjsPixels },
    `tfjs ${backend}`, backend === 'wasm' ? '?isolated=1' : '');
  const base = { place: 'browser', requested: backend, backend_ran: r.backend, tfjs: r.versions?.tfjs ?? r.versions?.['tfjs'] ?? null };
  if (!r.ok) return { ok: false, ...base, error: r.error };
  const i = r.info || {};
  const adapter = i.adapter ? [i.adapter.vendor, i.adapter.architecture].filter(Boolean).join(' / ')
    : i.renderer ? `${i.renderer} (WebGL ${i.webglVersion})` : backend === 'cpu' ? `plain JS, ${i.hardwareConcurrency} logical cores`
    : backend === 'wasm' ? `${i.hardwareConcurrency} logical cores, crossOriginIsolated ${i.crossOriginIsolated}` : '';
  return {
    ok: true, ...base, backend: `TF.js ${r.backend}`, adapter, info: i, train_count: r.trainCount, steps: r.steps,
    ms_per_epoch: r.epoch.seconds * 1000, samples_per_second: r.epoch.samples_per_second, test_accuracy: r.epoch.test_accuracy,
    train_loss: r.epoch.loss, test_loss: r.epoch.test_loss, tensors_left: r.numTensors,
  };
}

async function runJaxjs(device) {
  const r = await inPage('jaxjs', { device, trainLimit: opts.trainLimit, batch: 128, lr: 0.05, momentum: 0.9, hidden: 128, seed: opts.seed },
    `jaxjs ${device}`, '?isolated=1');
  if (!r.ok) return { ok: false, place: 'browser', error: r.error };
  const i = r.info || {};
  return {
    ok: true, place: 'browser', backend: `jax-js ${device}`, info: i,
    adapter: `${i.hardwareConcurrency} logical cores, crossOriginIsolated ${i.crossOriginIsolated}`, train_count: r.trainCount, steps: r.steps,
    ms_per_epoch: r.epoch.seconds * 1000, samples_per_second: r.epoch.samples_per_second, test_accuracy: r.epoch.test_accuracy, train_loss: r.epoch.loss,
  };
}

let child = null; // the native run under way
// playwright's own SIGINT/SIGTERM handlers close the browser but keep node alive: end the race
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true; // the race loop starts no further trainer, nothing is written
    say(`${sig}: stopping`);
    if (child) child.kill('SIGTERM');
    const done = () => {
      try { rmSync(profile, { recursive: true, force: true }); } catch { } // chromium may still be writing there
      process.exit(130);
    };
    (browser ? browser.close().catch(() => {}) : Promise.resolve()).then(done, done);
    setTimeout(done, 5000);
  });
}

function runProcess(args, ms, exe = NATIVE, env = process.env) {
  return new Promise((resolvePromise) => {
    const p = spawn(exe, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = p;
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGTERM'), ms);
    p.on('close', (code, signal) => { clearTimeout(t); child = null; resolvePromise({ code, signal, out, err }); });
    p.on('error', (e) => { clearTimeout(t); resolvePromise({ code: -1, out, err: String(e) }); });
  });
}

// PyTorch on the CPU: Debian's python3-torch 1.13 (OpenBLAS), OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
// taken out of this command's environment, 2 threads, 20 warm-up steps in the process first.
let torchVersion = null;
async function runTorch() {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE; delete env.OPENBLAS_L2_SIZE;
  const args = ['bench/torch_reference.py', '--train', '--device', 'cpu', '--threads', '2', '--warm-steps', '20', '--train-epochs', '1',
    '--batch', '128', '--lr', '0.05', '--momentum', '0.9', '--optimizer', 'momentum', '--schedule', 'cosine', '--hidden', '128',
    '--seed', String(opts.seed), '--train-limit', String(opts.trainLimit), '--data', relative(ROOT, join(WEB, 'data'))];
  say(`torch cpu: ${TORCH_PYTHON} ${args.join(' ')}`);
  const r = await runProcess(args, opts.timeoutS * 1000, TORCH_PYTHON, env);
  const lines = r.out.split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l); } catch { return {}; } });
  const ep = lines.find((l) => l.event === 'epoch');
  const st = lines.find((l) => l.event === 'start') || {};
  if (st.torch) torchVersion = st.torch;
  if (r.code !== 0 || !ep) return { ok: false, place: 'native', error: `exit ${r.code ?? r.signal}: ${(r.err || r.out).trim().slice(-400)}` };
  const n = Math.min(opts.trainLimit, 60000);
  const s = ep.train_seconds ?? ep.seconds;
  return {
    ok: true, place: 'native', backend: `PyTorch ${st.torch || ''} CPU`, adapter: `torch.get_num_threads() = ${st.threads}`, train_count: n,
    ms_per_epoch: s * 1000, samples_per_second: n / s, test_accuracy: ep.test_accuracy, train_loss: ep.loss,
    command: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ${TORCH_PYTHON} ${args.join(' ')}`,
  };
}

async function runNative(kernels) {
  if (!existsSync(NATIVE)) return { ok: false, place: 'native', error: 'build/wgtrain is missing (make)' };
  // native-auto/-reference/-gpu: the WGSL path (--device gpu, lavapipe here); native-cpu: the CPU
  // engine on 2 threads, native-cpu1 on 1
  const dev = kernels === 'cpu' ? ['--device', 'cpu', '--threads', '2'] : kernels === 'cpu1' ? ['--device', 'cpu', '--threads', '1']
    : ['--device', 'gpu', '--kernels', kernels === 'gpu' ? 'auto' : kernels];
  const common = ['train', '--epochs', '1', '--batch', '128', '--lr', '0.05', '--momentum', '0.9', '--hidden', '128', '--seed', String(opts.seed),
    ...dev, '--data', relative(ROOT, join(WEB, 'data')), '--json'];
  if (opts.warmupLimit > 0) await runProcess([...common, '--train-limit', String(opts.warmupLimit)], opts.timeoutS * 1000);
  const args = [...common, '--train-limit', String(opts.trainLimit)];
  say(`native ${kernels}: build/wgtrain ${args.join(' ')}`);
  const r = await runProcess(args, opts.timeoutS * 1000);
  const lines = r.out.split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l); } catch { return {}; } });
  const start = lines.find((l) => l.event === 'start') || {};
  const ep = lines.find((l) => l.event === 'epoch');
  if (r.code !== 0 || !ep) return { ok: false, place: 'native', error: `exit ${r.code ?? r.signal}: ${(r.err || r.out).trim().slice(-400)}` };
  return {
    ok: true, place: 'native', backend: kernels.startsWith('cpu') ? 'native wgtrain, CPU engine' : `native wgtrain, Dawn ${start.backend || ''}`.trim(),
    kernels: kernels === 'auto' ? `auto (${start.kernels})` : start.kernels, start,
    adapter: kernels.startsWith('cpu') ? `--threads ${kernels === 'cpu' ? 2 : 1}${start.device ? `; ${JSON.stringify(start.device)}` : ''}` : start.adapter || '', adapter_type: start.adapter_type, train_count: start.train_samples,
    ms_per_epoch: ep.seconds * 1000, samples_per_second: ep.samples_per_second, test_accuracy: ep.test_accuracy,
    train_loss: ep.loss, test_loss: ep.test_loss, command: `build/wgtrain ${args.join(' ')}`,
  };
}

// ---- the race ----
const rows = [];
say(`train limit ${opts.trainLimit}, trainers ${opts.only.join(', ')}, ${opts.timeoutS} s each at most; ${chromiumVersion}`);
for (const name of opts.only) {
  if (stopping) await new Promise(() => {}); // the signal handler exits
  const [kind, variant] = [name.slice(0, name.indexOf('-')), name.slice(name.indexOf('-') + 1)];
  const outside = kind === 'native' || kind === 'torch';
  // a trainer whose first timed epoch is under --fast-s seconds runs --repeat times in all
  for (let rep = 1; rep <= opts.repeat; rep++) {
    if (stopping) await new Promise(() => {});
    say(`--- ${name}${opts.repeat > 1 ? ` run ${rep}` : ''} (1-minute load average ${loadavg()[0].toFixed(2)})`);
    const loadBefore = loadavg()[0];
    let row;
    try {
      row = kind === 'wgtrain' ? await (variant === 'cpu' || variant === 'gpu' ? runWgtrain('auto', variant) : runWgtrain(variant))
        : kind === 'tfjs' ? await runTfjs(variant) : kind === 'jaxjs' ? await runJaxjs(variant) : kind === 'torch' ? await runTorch()
        : await runNative(variant);
    } catch (e) {
      row = { ok: false, place: outside ? 'native' : 'browser', error: String(e.message || e).split('\n')[0] };
      if (!outside) await closeBrowser(); // a fresh browser for the next trainer after a timeout or crash
    }
    if (stopping) await new Promise(() => {});
    row = { trainer: name, run: rep, ...row, load_before: +loadBefore.toFixed(2), load_after: +loadavg()[0].toFixed(2), at: new Date().toISOString() };
    if (row.ok) say(`${name}: ${row.ms_per_epoch.toFixed(0)} ms per epoch, ${Math.round(row.samples_per_second)} samples/s, test accuracy ${(100 * row.test_accuracy).toFixed(2)}%`);
    else say(`${name}: FAILED: ${row.error}`);
    rows.push(row);
    if (!row.ok || row.ms_per_epoch >= opts.fastS * 1000) break;
  }
}
await closeBrowser();
server.close();
try { rmSync(profile, { recursive: true, force: true }); } catch { }

// ---- output ----
const date = new Date().toISOString().slice(0, 10);
const sha = (f) => { try { return createHash('sha256').update(readFileSync(f)).digest('hex').slice(0, 12); } catch { return null; } };
let gitHead = commitId && commitId.slice(0, 7), gitDirty = commitId ? false : null;
if (!commitId) try {
  gitHead = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  gitDirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
} catch { }
const build = { git_head: gitHead, tree_modified: gitDirty, wgtrain_wasm_sha256: sha(join(WEB, 'wgtrain.wasm')),
  engine_worker_sha256: sha(join(WEB, 'engine_worker.js')), native_sha256: sha(NATIVE) };
const meta = { kind: 'meta', date, command, build, chromium: chromiumVersion, chromium_args: CHROMIUM_ARGS, tfjs_versions: tfVersions, train_limit: opts.trainLimit,
  warmup_limit: opts.warmupLimit, seed: opts.seed, batch: 128, lr: 0.05, momentum: 0.9, hidden: 128, schedule: 'cosine over the one epoch', tfjs_pixels: opts.tfjsPixels };
mkdirSync(dirname(OUT), { recursive: true });
appendFileSync(OUT, [meta, ...rows].map((r) => JSON.stringify(r)).join('\n') + '\n'); // one meta line, then a line per trainer, per run

const native = rows.find((r) => r.trainer === 'native-auto' && r.ok);
const fmtInt = (x) => Math.round(x).toLocaleString('en-US');
const LABEL = {
  'wgtrain-auto': 'wgtrain, kernels auto', 'wgtrain-fused': 'wgtrain, kernels fused', 'wgtrain-reference': 'wgtrain, kernels reference',
  'tfjs-webgpu': 'TF.js, webgpu backend', 'tfjs-webgl': 'TF.js, webgl backend', 'tfjs-cpu': 'TF.js, cpu backend',
  'native-auto': 'native wgtrain (lavapipe), kernels auto', 'native-reference': 'native wgtrain (lavapipe), kernels reference',
  'wgtrain-cpu': 'wgtrain browser build, CPU engine (?device=cpu)', 'wgtrain-gpu': 'wgtrain browser build, WebGPU (?device=gpu)',
  'tfjs-wasm': 'TF.js, wasm backend', 'jaxjs-wasm': 'jax-js, wasm device', 'native-cpu': 'native wgtrain, --device cpu --threads 2',
  'native-cpu1': 'native wgtrain, --device cpu --threads 1', 'native-gpu': 'native wgtrain, --device gpu (lavapipe)',
  'torch-cpu': 'PyTorch CPU, 2 threads',
};
const table = ['| trainer | where | backend that ran / adapter | ms per epoch | samples/s | test accuracy | ms ÷ native lavapipe (auto) |', '|---|---|---|---|---|---|---|'];
for (const r of rows) {
  if (!r.ok) {
    table.push(`| ${LABEL[r.trainer]} | ${r.place} | ${r.backend_ran ? `requested ${r.requested}, tf.getBackend() = ${r.backend_ran}` : '—'} | failed | — | — | ${String(r.error).replace(/\|/g, '\\|').slice(0, 300)} |`);
    continue;
  }
  const what = r.trainer.startsWith('tfjs') ? `tf.getBackend() = ${r.backend_ran}; ${r.adapter}` : r.adapter;
  const ratio = native ? `${(r.ms_per_epoch / native.ms_per_epoch).toFixed(1)}×` : '—';
  table.push(`| ${LABEL[r.trainer]} | ${r.place} | ${what.replace(/\|/g, '\\|')} | ${fmtInt(r.ms_per_epoch)} ms | ${fmtInt(r.samples_per_second)} | ${(100 * r.test_accuracy).toFixed(2)}% | ${ratio} |`);
}
let tableText = table.join('\n');
if (opts.section === 'nogpu') tableText = nogpuTable();
console.log(tableText);

// The "With no GPU" table: a line per trainer, its runs' seconds per epoch (median, and every run
// when there are several), samples/s of the median, test accuracy of each run, the load averages.
function nogpuTable() {
  const t = ['| trainer | where | what ran | s per epoch (median; runs) | samples/s (median) | test accuracy | 1-min load avg (start→end of each run) |', '|---|---|---|---|---|---|---|'];
  for (const name of opts.only) {
    const rs = rows.filter((r) => r.trainer === name);
    const good = rs.filter((r) => r.ok);
    const loads = rs.map((r) => `${r.load_before.toFixed(1)}→${r.load_after.toFixed(1)}`).join(', ');
    if (!good.length) {
      const e = rs[0] ? String(rs[0].error) : 'not run';
      t.push(`| ${LABEL[name]} | ${rs[0]?.place ?? '—'} | failed: ${e.replace(/\|/g, '\\|').replace(/\s+/g, ' ').slice(0, 300)} | — | — | — | ${loads} |`);
      continue;
    }
    const secs = good.map((r) => r.ms_per_epoch / 1000);
    const sorted = [...secs].sort((a, b) => a - b);
    const med = sorted[(sorted.length - 1) >> 1];
    const spread = secs.length > 1 ? `; ${secs.map((x) => x.toFixed(2)).join(', ')} (${sorted[0].toFixed(2)}–${sorted.at(-1).toFixed(2)})` : '';
    const what = name.startsWith('tfjs') ? `tf.getBackend() = ${good[0].backend_ran}; ${good[0].adapter}` : good[0].adapter;
    const accs = [...new Set(good.map((r) => (100 * r.test_accuracy).toFixed(2) + '%'))].join(', ');
    t.push(`| ${LABEL[name]} | ${good[0].place} | ${String(what).replace(/\|/g, '\\|')} | ${med.toFixed(2)}${spread} | ${fmtInt(good[0].train_count / med)} | ${accs} | ${loads} |`);
  }
  return t.join('\n');
}

if (opts.writeResults && opts.section === 'nogpu') {
  const cpuInfo = (() => { try { return (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1] || ''; } catch { return ''; } })();
  const section = `${NOGPU_SECTION}

Made by \`bench/browser_race.mjs --section nogpu\` on ${date} (UTC ${rows[0]?.at?.slice(11, 16) ?? ''}–${rows.at(-1)?.at?.slice(11, 16) ?? ''}): ${cpuInfo}, ${cpus().length} logical cores, no GPU, shared with other engineers' test runs while it ran (the load averages are in the table; a load above 2 means the trainers had less than the whole machine). Workload: the 784-128-10 MLP (ReLU), batch 128, SGD momentum 0.9 (v = 0.9 v + g; p -= lr v), lr 0.05 on wgtrain's cosine schedule over the epoch, PyTorch's nn.Linear init, one warm 60,000-image epoch (\`--train-limit ${opts.trainLimit}\`), training time only, then test accuracy on the 10,000 test images. Warm-ups: wgtrain a short run first (${opts.warmupLimit} images; natively a separate process), PyTorch 20 steps on a throw-away copy, TF.js and jax-js 10 batches and the remainder batch, then the weights are reset. A trainer whose first epoch took under ${opts.fastS} s ran ${opts.repeat} times; the column lists every run.

Versions: ${chromiumVersion} (headless, playwright-core ${pkgVersion('playwright-core') || PLAYWRIGHT_VERSION}, \`${CHROMIUM_ARGS.join(' ')}\`, a fresh profile); TF.js ${tfVersions['@tensorflow/tfjs']} (tfjs-backend-wasm ${tfVersions['@tensorflow/tfjs-backend-wasm']}, tfjs-backend-webgl ${tfVersions['@tensorflow/tfjs-backend-webgl']}, tfjs-backend-cpu ${tfVersions['@tensorflow/tfjs-backend-cpu']}); jax-js (@jax-js/jax) ${tfVersions['@jax-js/jax']}; PyTorch ${torchVersion || '(did not run)'} from Debian (${TORCH_PYTHON}, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for it, 2 threads); wgtrain ${commitId ? `commit ${gitHead}` : `git ${gitHead}${gitDirty ? ' with uncommitted changes' : ''}`}, build/web/wgtrain.wasm sha256 ${build.wgtrain_wasm_sha256}…, build/wgtrain sha256 ${build.native_sha256}…. The wgtrain browser build's CPU engine is serial (no threads in the browser build); jax-js's and TF.js's wasm pages are served cross-origin isolated (COOP/COEP), so their threads may run (the "what ran" column says whether the page was isolated).

${tableText}

Command: \`${command}\` (JSON lines appended to build/bench/browser-race.jsonl).
`;
  let text = readFileSync(RESULTS, 'utf8');
  const at = text.indexOf(NOGPU_SECTION);
  if (at >= 0) {
    const next = text.indexOf('\n## ', at + NOGPU_SECTION.length);
    text = text.slice(0, at) + section + (next >= 0 ? '\n' + text.slice(next + 1) : '');
  } else text = text.replace(/\n*$/, '\n\n') + section;
  writeFileSync(RESULTS, text);
  say('bench/RESULTS.md: section "With no GPU" written');
} else if (opts.writeResults) {
  // The section: a common description, then one "### N training images" part per train size
  // measured; a run replaces the part of its own size and keeps the others.
  const wg = rows.find((r) => r.trainer.startsWith('wgtrain') && r.ok);
  const adapter = wg ? JSON.stringify(wg.device) : 'no wgtrain browser run succeeded';
  const nText = opts.trainLimit >= 60000 ? 'all 60,000 training images' : `the first ${opts.trainLimit.toLocaleString('en-US')} training images`;
  const intro = `${SECTION}

Made by \`bench/browser_race.mjs\` (pages in bench/browser/). Workload: the 784-128-10 MLP (Dense(128) + ReLU, Dense(10), softmax cross-entropy), batch 128, SGD with momentum 0.9 (v = 0.9 v + g; p -= lr v, torch.optim.SGD's rule; tf.train.momentum in TF.js), lr 0.05 peak on wgtrain's cosine schedule over the one epoch (the browser engine has no constant schedule, so the TF.js page sets the same lr every step), weights and biases uniform in ±1/sqrt(fan_in) (PyTorch's nn.Linear default, which wgtrain uses; TF.js draws them from its own random stream), MNIST from build/web/data/*.gz (inflated in the page with DecompressionStream; TF.js gets the pixels as wgtrain's kernels normalise them, (x/255 - 0.1307)/0.3081, unless \`--tfjs-pixels unit\` says x/255 in [0, 1]), a fresh shuffle for the epoch, the last batch the remainder; test accuracy on the 10,000 test images after that one epoch. ms per epoch is training time only, after a warm-up: wgtrain, a short run (\`--warmup-limit\` images, default 1,280) in the same Worker first, then the epoch event's \`seconds\` of a fresh one-epoch run; TF.js, 10 batches and one remainder batch first (then the weights are reset and the optimizer is new), then performance.now() around the epoch until the last update is read back; native, a short process first, then the "epoch" line's \`seconds\`. The last column divides each row's ms per epoch by native wgtrain's on lavapipe (kernels auto). One timed epoch per row on a shared 2-core machine. On SwiftShader and lavapipe (CPU adapters) kernels auto picks the per-layer kernels (the reference row), so the gap between those two rows is run-to-run noise.
`;
  const part = `### ${nText}

Date: ${date}. ${chromiumVersion}, headless, launched by playwright-core with \`${CHROMIUM_ARGS.join(' ')}\` and a fresh profile. WebGPU adapter (the wgtrain worker's ready.device): \`${adapter}\`. TensorFlow.js ${tfVersions['@tensorflow/tfjs']} (tfjs-backend-webgpu ${tfVersions['@tensorflow/tfjs-backend-webgpu']}, tfjs-backend-webgl ${tfVersions['@tensorflow/tfjs-backend-webgl']}, tfjs-backend-cpu ${tfVersions['@tensorflow/tfjs-backend-cpu']}) from npm; TF.js pixels: ${opts.tfjsPixels === 'unit' ? 'x/255' : '(x/255 - 0.1307)/0.3081'}. Native: build/wgtrain on ${native ? native.adapter : 'lavapipe'} (Vulkan), same machine, same files. Build: ${commitId ? `commit ${gitHead} (\`--commit\`: git archive, make web build/wgtrain apart from the working tree)` : `this tree's build/, git ${gitHead}${gitDirty ? ' with uncommitted changes' : ''}`}, build/web/wgtrain.wasm sha256 ${build.wgtrain_wasm_sha256}…, build/wgtrain sha256 ${build.native_sha256}….

${tableText}

1-minute load average at the start and end of each row (this machine has 2 cores and is shared): ${rows.map((r) => `${r.trainer} ${r.load_before}→${r.load_after}`).join(', ')}.

Command: \`${command}\` (JSON lines appended to build/bench/browser-race.jsonl).
`;
  let text = readFileSync(RESULTS, 'utf8');
  const at = text.indexOf(SECTION);
  let before = text, after = '', parts = [];
  if (at >= 0) {
    const next = text.indexOf('\n## ', at + SECTION.length);
    const old = text.slice(at, next >= 0 ? next + 1 : text.length);
    before = text.slice(0, at);
    after = next >= 0 ? text.slice(next + 1) : '';
    parts = old.split(/\n(?=### )/).slice(1).map((p) => p.replace(/\n+$/, '\n'));
  }
  const key = (p) => p.split('\n')[0];
  parts = parts.filter((p) => key(p) !== key(part));
  parts.push(part);
  const size = (p) => (/all 60,000/.test(key(p)) ? 60000 : Number((key(p).match(/first ([\d,]+)/) || [0, '0'])[1].replace(/,/g, '')));
  parts.sort((a, b) => size(b) - size(a));
  const section = [intro, ...parts].join('\n');
  text = (at >= 0 ? before : before.replace(/\n*$/, '\n\n')) + section + (after ? '\n' + after : '');
  writeFileSync(RESULTS, text);
  say('bench/RESULTS.md: section written');
}
