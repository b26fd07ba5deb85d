// End-to-end test of the training dashboard in a real browser: Debian's chromium, driven by
// playwright-core, against `wgtrain serve` on a free loopback port. It presses Train for one
// short epoch and checks what a person would see: both charts hold points, the six previews
// show the server's own predictions for those images, a digit drawn with the mouse gets ten
// probabilities summing to 1, the confusion matrix adds up to the test set and opens a cell,
// the weight tiles are drawn. It saves a screenshot to build/test-artifacts/dashboard.png
// (`make screenshots` copies it to docs/ for the README; tests never write tracked files).
//
// Skipped by tests/run.sh when WGTRAIN_SKIP_BROWSER=1.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(root, 'build/wgtrain');
// any run the wgtrain processes of this test record goes under build/, never to the user's home
process.env.XDG_DATA_HOME = path.join(root, 'build/test-home/share');
const CHROMIUM = '/usr/bin/chromium';
const SHOT = path.join(root, 'build/test-artifacts/dashboard.png');
const TRAIN_IMAGES = 8000;
const STOP_BATCH = 8, STOP_STEPS = TRAIN_IMAGES / STOP_BATCH; // the run that is stopped mid-epoch
// the server's run history: under build/, fresh for each test run, kept across its restart
const RUNS_DIR = path.join(root, 'build/test-runs-dashboard');
const REPORT = path.join(root, 'build/test-artifacts/report.html');

let server = null;
let context = null;
let profile = null;
let checks = 0;
const check = (cond, msg) => { checks++; assert.ok(cond, msg); };
const log = (...a) => console.log('dashboard:', ...a);

async function cleanup() {
  if (context) await context.close().catch(() => {});
  context = null;
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  profile = null;
}
process.on('exit', () => { if (server && server.exitCode === null) server.kill('SIGKILL'); });
const watchdog = setTimeout(async () => {
  console.error('dashboard: timed out after 300 s');
  await cleanup();
  process.exit(1);
}, 300000);

function startServer(port = 0) {
  return new Promise((resolve, reject) => {
    server = spawn(BIN, ['serve', '--device', 'gpu', '--port', String(port), '--train-limit', String(TRAIN_IMAGES), '--report-every', '5',
      '--runs-db', path.join(RUNS_DIR, 'runs.db')], {
      cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const t = setTimeout(() => reject(new Error(`the server did not start in 90 s: ${err}`)), 90000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^listening on (http:\/\/127\.0\.0\.1:(\d+))\n/);
      if (m) { clearTimeout(t); resolve({ url: m[1], port: +m[2] }); }
    });
    server.stderr.on('data', (d) => { err += d; process.stderr.write(d); });
    server.on('exit', (code) => { clearTimeout(t); reject(new Error(`the server exited (${code}): ${err}`)); });
  });
}

function api(port, method, p, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port, method, path: p, agent: false,
      headers: { Host: `127.0.0.1:${port}`, ...(data ? { 'Content-Type': 'application/json' } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        try { resolve({ status: res.statusCode, json: JSON.parse(text) }); } catch (e) { reject(new Error(`${p}: ${text}`)); }
      });
    });
    req.setTimeout(60000, () => req.destroy(new Error(`${p}: no answer`)));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

try {
  assert.ok(fs.existsSync(BIN), `${BIN} is missing: run make`);
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run make setup (or set WGTRAIN_SKIP_BROWSER=1)`);
  fs.rmSync(RUNS_DIR, { recursive: true, force: true });
  fs.mkdirSync(RUNS_DIR, { recursive: true });
  const { url, port } = await startServer();
  log(`server at ${url}`);

  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wgtrain-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-quic', '--no-first-run', '--enable-unsafe-webgpu'],
    viewport: { width: 1440, height: 1000 },
  });
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('requestfailed', (r) => { if (!r.url().endsWith('/api/events')) problems.push(`request failed: ${r.url()}`); });

  await page.goto(url);
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'live', null, { timeout: 30000 });
  const device = await page.textContent('#dev-name');
  const backend = await page.textContent('#dev-backend');
  check(device.length > 0 && device !== '…' && backend.length > 0, `device panel: ${device} (${backend})`);
  check(await page.isEnabled('#btn-train'), 'Train is enabled');
  check(/integer, 1 – 1000/.test(await page.textContent('.field[data-field="epochs"] .limits')), 'limits shown');

  // before any run, every panel says what it is waiting for, and the subtitle names the model
  // the form would train, on the server's data (784 inputs, 10 classes)
  const empty = await page.evaluate(() => {
    const shown = (id) => { const e = document.getElementById(id); return e.offsetParent !== null ? e.textContent : null; };
    return { loss: shown('loss-empty'), acc: shown('acc-empty'), prev: shown('prev-empty'), w: shown('w-empty'),
      weightsBox: document.getElementById('weights').offsetParent !== null, cm: document.getElementById('cm').textContent,
      sub: document.getElementById('sub-model').textContent };
  });
  for (const k of ['loss', 'acc', 'prev', 'w']) check(/^No run yet — press Train/.test(empty[k] || ''), `empty ${k}: ${empty[k]}`);
  check(!empty.weightsBox, 'no black weights box before a run');
  check(/Fills in after the first epoch/.test(empty.cm), `empty confusion matrix: ${empty.cm}`);
  check(empty.sub === '784-128-10', `subtitle before a run: ${empty.sub}`);
  await page.fill('#f-hidden', '256, 128');
  check(await page.textContent('#sub-model') === '784-256-128-10', `the subtitle follows the hidden field: ${await page.textContent('#sub-model')}`);
  await page.fill('#f-hidden', '128');

  // a bad value is caught on the page before it reaches the server
  await page.fill('#f-batch', '0');
  await page.click('#btn-train');
  check(/≥ 1/.test(await page.textContent('.field[data-field="batch"] .err')), 'batch 0 is marked');
  check((await api(port, 'GET', '/api/state')).json.state.status === 'idle', 'nothing started');

  // visible text that is no number ("1e") is called invalid, not "required" (its value is '')
  await page.click('#f-lr', { clickCount: 3 });
  await page.keyboard.type('1e');
  await page.click('#btn-train');
  const lrErr = await page.textContent('.field[data-field="lr"] .err');
  check(lrErr === 'not a valid number', `"1e" in the learning rate: "${lrErr}"`);
  await page.fill('#f-lr', '');
  check(await page.textContent('.field[data-field="lr"] .err') === 'required', 'an empty field is required');
  await page.fill('#f-lr', '0.05');

  // one short epoch
  await page.fill('#f-epochs', '1');
  await page.fill('#f-batch', '32');
  await page.fill('#f-hidden', '128');
  check(await page.textContent('#dev-kernels') === 'auto', `before a run the kernels are auto's to pick: ${await page.textContent('#dev-kernels')}`);
  const clicked = Date.now();
  await page.click('#btn-train');
  // the accuracy chart moves at every report, long before the epoch ends: one training-accuracy
  // point per loss event, each the event's own accuracy
  await page.waitForFunction(() => window.wgtrain.state.points.length >= 2, null, { timeout: 180000, polling: 50 });
  const early = await page.evaluate(() => {
    const { state, accPlot } = window.wgtrain;
    const xs = accPlot.data[0], train = accPlot.data[1];
    const shown = xs.map((x, i) => [x, train[i]]).filter(([, v]) => v !== null && v !== undefined);
    return { epochs: state.epochs.length, points: state.points.map((p) => [p.x, p.accuracy]), shown,
      drawn: accPlot.series[1].show && accPlot.width > 0 };
  });
  check(early.epochs === 0, `still in the first epoch: ${early.epochs} epochs done`);
  check(await page.evaluate(() => ['loss-empty', 'acc-empty', 'prev-empty', 'w-empty'].every((id) => document.getElementById(id).hidden)),
    'the empty notes go at the first report');
  // training time and time left, from the reports
  const secs = (t) => { const m = /^(?:about )?(?:(\d+):)?(\d+):(\d\d)$/.exec(t); return m ? 3600 * (+m[1] || 0) + 60 * +m[2] + +m[3] : NaN; };
  await page.waitForFunction(() => /^about \d/.test(document.getElementById('st-left').textContent), null, { timeout: 60000 });
  const times = { elapsed: await page.textContent('#st-elapsed'), left: await page.textContent('#st-left'), wall: (Date.now() - clicked) / 1000 };
  check(secs(times.elapsed) <= times.wall + 1 && secs(times.left) >= 0, `mid-run: training time and time left: ${JSON.stringify(times)}`);
  check(early.shown.length >= 2 && early.shown.length === early.points.length && early.drawn,
    `accuracy chart points before the epoch ends: ${early.shown.length} for ${early.points.length} reports`);
  check(early.points.every(([x, a], i) => early.shown[i][0] === x && early.shown[i][1] === a && a >= 0 && a <= 1),
    `each point is its report's training accuracy: ${JSON.stringify(early.shown.slice(0, 3))}`);
  await page.waitForFunction(() => window.wgtrain.state.epochs.length >= 1, null, { timeout: 180000 });
  log('epoch event received');
  await page.waitForFunction(() => window.wgtrain.state.status.status === 'done', null, { timeout: 60000 });
  // what auto picked (the per-layer kernels on a CPU adapter) reaches the open page, in the panel and the log
  const picked = { panel: await page.textContent('#dev-kernels'), log: (await page.textContent('#log')).split('\n')[0] };
  check(picked.panel === 'reference' && / reference kernels$/.test(picked.log), `the run's kernels: ${JSON.stringify(picked)}`);

  // both charts hold points
  const charts = await page.evaluate(() => {
    const { lossPlot, accPlot } = window.wgtrain;
    const n = (a) => a.filter((v) => v !== null && v !== undefined).length;
    return { loss: n(lossPlot.data[1]), testLoss: n(lossPlot.data[2]), train: n(accPlot.data[1]), test: n(accPlot.data[2]),
      canvases: document.querySelectorAll('#loss-chart canvas, #acc-chart canvas').length };
  });
  check(charts.loss >= 10 && charts.testLoss === 1, `loss chart points: ${JSON.stringify(charts)}`);
  check(charts.train === charts.loss && charts.test === 1 && charts.canvases === 2, `accuracy chart points: ${JSON.stringify(charts)}`);

  // the Kernel times panel: a bar per dispatch of the last report's timed step, as the server's
  // state has it (lavapipe has timestamps; the per-layer kernels of 784-128-10: seven)
  const ktPage = () => page.evaluate(() => ({
    rows: [...document.querySelectorAll('#kt-rows li')].map((li) => ({ name: li.querySelector('.kt-name').textContent,
      value: li.querySelector('.kt-value').textContent, width: parseFloat(li.querySelector('.kt-fill').style.width) })),
    caption: document.getElementById('kt-caption').textContent, note: document.getElementById('kt-note'),
    noteText: document.getElementById('kt-note').textContent, noteShown: !document.getElementById('kt-note').hidden }));
  const ktFirst = await ktPage();
  const ktApi = (await api(port, 'GET', '/api/state')).json.kernel_times;
  const perLayer = (n) => ['input_gather', ...Array.from({ length: n }, (_, i) => `dense_forward layer ${i + 1}`), 'softmax_xent_backward',
    ...Array.from({ length: n }, (_, i) => `dense_backward layer ${n - i}`), 'optimizer'];
  check(ktApi && ktApi.available && ktApi.enabled && !ktApi.quantised && ktApi.kernels.length === 7 &&
    ktApi.kernels.every((k) => Number.isFinite(k.us) && k.us > 0) && ktApi.kernels.map((k) => k.label).join() === perLayer(2).join(),
    `the state's kernel times: ${JSON.stringify(ktApi).slice(0, 300)}`);
  check(ktFirst.rows.map((r) => r.name).join() === perLayer(2).join() &&
    ktFirst.rows.every((r) => /^\d[\d.]* (µs|ms) · [\d.]+%$/.test(r.value) && r.width > 0),
    `the panel's rows: ${JSON.stringify(ktFirst.rows).slice(0, 300)}`);
  check(ktFirst.caption.includes(`epoch 1, step ${ktApi.step}`) && ktApi.step === 250 && !ktFirst.noteShown,
    `the panel's caption: ${ktFirst.caption} (exact timestamps: no note)`);

  // at the end: the training time is the epoch's, nothing is left; the two losses are told apart
  const fin = await page.evaluate(() => ({ elapsed: document.getElementById('st-elapsed').textContent,
    left: document.getElementById('st-left').textContent, seconds: window.wgtrain.state.epochs[0].seconds,
    labels: [...document.querySelectorAll('.stats dt')].map((d) => d.textContent),
    report: document.getElementById('st-loss').textContent, epoch: document.getElementById('st-eloss').textContent,
    last: window.wgtrain.state.points.at(-1).loss.toFixed(4), mean: window.wgtrain.state.epochs[0].loss.toFixed(4),
    log: document.getElementById('log').textContent }));
  check(Math.abs(secs(fin.elapsed) - fin.seconds) <= 1 && fin.left === 'none: done', `done: training time ${fin.elapsed} for ${fin.seconds} s, left ${fin.left}`);
  check(fin.labels.includes('Loss, last report') && fin.labels.includes('Loss, last epoch'), `the losses are labelled: ${fin.labels}`);
  check(fin.report === fin.last && fin.epoch === fin.mean && fin.log.includes(`loss=${fin.epoch} `),
    `last report's loss ${fin.report}, the epoch's ${fin.epoch} (as the log's)`);

  // the six previews show the server's predictions for those images
  let previews = null;
  let predicted = null;
  for (let attempt = 0; attempt < 50; attempt++) {
    previews = await page.$$eval('#previews figure.preview', (figs) => figs.map((f) => ({
      index: +f.dataset.index, label: +f.dataset.label, shown: f.querySelector('.pred').textContent,
      right: f.classList.contains('right'),
    })));
    if (previews.length === 6) {
      predicted = (await api(port, 'POST', '/api/predict', { indices: previews.map((p) => p.index) })).json.predictions;
      if (previews.every((p, k) => p.shown === String(predicted[k].pred))) break;
    }
    await page.waitForTimeout(100);
  }
  check(previews.length === 6, `six previews (${previews.length})`);
  previews.forEach((p, k) => {
    check(p.shown === String(predicted[k].pred), `preview ${k} (#${p.index}) shows ${p.shown}, the server predicts ${predicted[k].pred}`);
    check(p.label === predicted[k].label && p.right === (predicted[k].pred === p.label), `preview ${k} marked right/wrong`);
  });

  // a digit drawn with the mouse: ten probabilities summing to 1
  const box = await page.locator('#draw').boundingBox();
  const at = (fx, fy) => [box.x + box.width * fx, box.y + box.height * fy];
  await page.mouse.move(...at(0.3, 0.22));
  await page.mouse.down();
  await page.mouse.move(...at(0.7, 0.22), { steps: 10 });
  await page.mouse.move(...at(0.45, 0.85), { steps: 12 });
  await page.mouse.up();
  await page.waitForFunction(() => document.querySelectorAll('#probs li').length === 10 && document.getElementById('draw-result').dataset.pred !== '', null, { timeout: 30000 });
  const probs = await page.$$eval('#probs li', (lis) => lis.map((li) => +li.dataset.p));
  const sum = probs.reduce((a, b) => a + b, 0);
  check(probs.length === 10 && probs.every((p) => p >= 0 && p <= 1), `ten probabilities: ${probs}`);
  check(Math.abs(sum - 1) < 1e-3, `the probabilities sum to 1 (${sum})`);
  const drawnPred = +(await page.getAttribute('#draw-result', 'data-pred'));
  check(drawnPred === probs.indexOf(Math.max(...probs)), 'the shown digit is the most probable');
  log(`drawn digit classified as ${drawnPred} (${(100 * Math.max(...probs)).toFixed(1)}%)`);

  // the confusion matrix adds up to the test set; a cell opens its digits
  const testCount = (await api(port, 'GET', '/api/state')).json.data.test;
  const counts = await page.$$eval('#cm td.cell', (tds) => tds.map((td) => +td.dataset.count));
  check(counts.length === 100, `100 cells (${counts.length})`);
  check(counts.reduce((a, b) => a + b, 0) === testCount, `the confusion matrix sums to ${testCount}`);
  const cells = await page.$$eval('#cm td.cell', (tds) => tds.map((td) => ({ l: +td.dataset.label, p: +td.dataset.pred, n: +td.dataset.count })));
  const wrong = cells.filter((c) => c.l !== c.p && c.n > 0).sort((a, b) => b.n - a.n)[0] || cells.find((c) => c.n > 0);
  await page.click(`#cm td.cell[data-label="${wrong.l}"][data-pred="${wrong.p}"]`);
  await page.waitForFunction((n) => document.querySelectorAll('#cell-digits figure').length === n, Math.min(wrong.n, 120), { timeout: 30000 });
  check(new RegExp(`label ${wrong.l}, predicted ${wrong.p}: ${wrong.n} test image`).test(await page.textContent('#cell-title')), 'the cell view names its cell');

  // the matrix is one tab stop; arrow keys move, Enter opens a cell, Escape closes its view
  await page.click('#cell-close');
  check(await page.$$eval('#cm [tabindex]', (c) => c.filter((e) => e.tabIndex >= 0).length) === 1, 'the matrix is one tab stop');
  await page.focus('#btn-clear');
  await page.keyboard.press('Tab');
  const inCm = () => page.evaluate(() => { const a = document.activeElement; return a.closest('#cm') ? [+a.dataset.label, +a.dataset.pred] : a.id || a.tagName; });
  check(Array.isArray(await inCm()), `Tab reaches the matrix: ${await inCm()}`);
  await page.keyboard.press('Tab');
  check(!Array.isArray(await inCm()), `one more Tab leaves it: ${await inCm()}`);
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Home');
  for (let i = 0; i < 9; i++) await page.keyboard.press('ArrowUp');
  check(JSON.stringify(await inCm()) === '[0,0]', 'Home and ArrowUp: cell 0,0');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  check(JSON.stringify(await inCm()) === '[1,1]', `ArrowRight, ArrowDown: cell 1,1 (${JSON.stringify(await inCm())})`);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /^label 1, predicted 1: \d+ test image/.test(document.getElementById('cell-title').textContent), null, { timeout: 30000 });
  await page.keyboard.press('Escape');
  check(await page.isHidden('#cell-view') && JSON.stringify(await inCm()) === '[1,1]', 'Escape closes the cell view, focus stays on the cell');

  // the weight tiles are drawn
  const tiles = await page.evaluate(() => {
    const c = document.getElementById('weights');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 30) lit++;
    return { w: c.width, h: c.height, lit, caption: document.getElementById('w-caption').textContent };
  });
  check(tiles.w === 16 * 29 + 1 && tiles.h === 8 * 29 + 1 && tiles.lit > 10000, `weight tiles drawn: ${JSON.stringify(tiles)}`);
  check(/128 of 128 hidden units/.test(tiles.caption), tiles.caption);

  // the epoch log
  const logText = await page.textContent('#log');
  check(/Epoch 1: loss=\d/.test(logText) && /Done: test accuracy/.test(logText), `epoch log: ${logText}`);
  check(problems.length === 0, `no page errors: ${problems.join('; ')}`);

  fs.mkdirSync(path.dirname(SHOT), { recursive: true });
  await page.screenshot({ path: SHOT, fullPage: true });
  log(`screenshot: ${path.relative(root, SHOT)}`);

  // at phone width (390 px) nothing is wider than the viewport, and no text spills out of its
  // box (the previews go three across); scroll containers and ellipsis boxes clip on purpose
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const phone = await page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const name = (e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className && typeof e.className === 'string' ? '.' + e.className.trim().replace(/\s+/g, '.') : ''}`;
    const past = [], spill = [];
    for (const e of document.querySelectorAll('body *')) {
      const r = e.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.right > vw + 0.5) past.push(`${name(e)} right ${r.right.toFixed(0)}`);
      const cs = getComputedStyle(e);
      if (cs.overflowX === 'visible' && cs.display !== 'inline' && e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0)
        spill.push(`${name(e)} ${e.scrollWidth} > ${e.clientWidth}`);
    }
    const cols = getComputedStyle(document.getElementById('previews')).gridTemplateColumns.split(' ').length;
    return { scrollWidth: document.documentElement.scrollWidth, vw, past, spill, cols };
  });
  check(phone.scrollWidth <= phone.vw, `390 px: the page is ${phone.scrollWidth} px wide`);
  check(phone.past.length === 0, `390 px: no element past the right edge: ${phone.past.slice(0, 8).join('; ')}`);
  check(phone.spill.length === 0, `390 px: no text spills out of its box: ${phone.spill.slice(0, 8).join('; ')}`);
  check(phone.cols <= 3, `390 px: previews ${phone.cols} across`);
  fs.mkdirSync(path.dirname(SHOT), { recursive: true });
  await page.screenshot({ path: path.join(path.dirname(SHOT), 'dashboard-phone.png'), fullPage: true });

  // between 800 and 1250 px the controls sit beside the charts: both charts start above the fold
  for (const [width, height] of [[1024, 768], [1280, 800]]) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(300);
    const tops = await page.evaluate(() => {
      window.scrollTo(0, 0);
      return ['loss-chart', 'acc-chart'].map((id) => document.getElementById(id).getBoundingClientRect().top);
    });
    check(tops.every((t) => t >= 0 && t < height - 100), `${width}x${height}: the charts start above the fold (tops ${tops.map(Math.round)})`);
  }
  await page.setViewportSize({ width: 1440, height: 1000 });

  // the model fields: a bad hidden list is marked on the page (the CLI's --hidden rules), and
  // a two-layer Adam run from the form trains and shows its configuration
  await page.fill('#f-hidden', '256,,128');
  await page.click('#btn-train');
  check(/widths separated by commas/.test(await page.textContent('.field[data-field="hidden"] .err')), 'a bad hidden list is marked');
  check((await api(port, 'GET', '/api/state')).json.state.status === 'done', 'the bad list started nothing');
  await page.fill('#f-hidden', '64,32');
  await page.selectOption('#f-activation', 'tanh');
  await page.selectOption('#f-optimizer', 'adam');
  await page.fill('#f-lr', '0.003');
  await page.fill('#f-weight_decay', '0.0001');
  await page.click('#btn-train');
  await page.waitForFunction(() => { const s = window.wgtrain.state; return s.run && s.run.hidden === '64,32' && s.status.status === 'done'; },
    null, { timeout: 180000, polling: 250 });
  const deep = (await api(port, 'GET', '/api/state')).json;
  check(deep.run.hidden === '64,32' && deep.run.activation === 'tanh' && deep.run.optimizer === 'adam' &&
    Math.abs(deep.run.weight_decay - 0.0001) < 1e-9, `the run's configuration: ${JSON.stringify(deep.run)}`);
  check(deep.epochs.length === 1 && deep.epochs[0].test_accuracy > 0.7, `the two-layer Adam run trains: ${JSON.stringify(deep.epochs)}`);
  check(await page.textContent('#sub-model') === '784-64-32-10', `subtitle: ${await page.textContent('#sub-model')}`);
  const ktDeep = await ktPage();
  check(ktDeep.rows.map((r) => r.name).join() === perLayer(3).join(), `kernel times per layer of 784-64-32-10: ${ktDeep.rows.map((r) => r.name)}`);
  check(/hidden 64,32 tanh, adam/.test(await page.textContent('#log')), 'the log names the model');

  // Stop mid-epoch: the model is evaluated where it stopped (test accuracy, confusion matrix,
  // the log's line), and focus, lost with the Stop button, comes back to Train
  await page.fill('#f-hidden', '128');
  await page.selectOption('#f-activation', 'relu');
  await page.selectOption('#f-optimizer', 'momentum');
  await page.fill('#f-lr', '0.01');
  await page.fill('#f-momentum', '0.9');
  await page.fill('#f-weight_decay', '0');
  // batch 8 (lr 0.01 for it): an epoch of 1000 steps, so that the Stop below lands inside it on a fast machine too
  await page.fill('#f-batch', String(STOP_BATCH));
  await page.uncheck('#kt-on'); // this run does not time its kernels
  await page.click('#btn-train');
  await page.waitForFunction(() => { const s = window.wgtrain.state; return s.run.hidden === '128' && s.points.length >= 20 && s.status.status === 'running'; },
    null, { timeout: 120000, polling: 50 });
  // paused at once from here (the page and the server share two cores with lavapipe: a Stop sent
  // after the checks below could arrive after the epoch's last step), then stopped while paused
  const pausedAt = await api(port, 'POST', '/api/pause', {});
  check(pausedAt.status === 200 || pausedAt.status === 202, `pause: ${JSON.stringify(pausedAt)}`);
  await page.waitForFunction(() => window.wgtrain.state.status.status === 'paused', null, { timeout: 60000, polling: 50 });
  const ktOff = await ktPage();
  const ktOffApi = (await api(port, 'GET', '/api/state')).json.kernel_times;
  check(ktOff.rows.length === 0 && ktOff.noteShown && /^Off for this run/.test(ktOff.noteText) && ktOffApi.available && !ktOffApi.enabled &&
    !ktOffApi.kernels, `kernel times off for a run: "${ktOff.noteText}", ${JSON.stringify(ktOffApi)}`);
  await page.check('#kt-on');
  await page.focus('#btn-stop');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.wgtrain.state.status.status === 'stopped', null, { timeout: 120000, polling: 100 }).catch(async () => {
    throw new Error(`Stop did not stop the run: ${JSON.stringify(await page.evaluate(() => window.wgtrain.state.status))}`);
  });
  const stopped = await page.evaluate(() => ({ msg: window.wgtrain.state.status.message, epochs: window.wgtrain.state.epochs,
    focus: document.activeElement.id, test: document.getElementById('st-test').textContent, log: document.getElementById('log').textContent,
    cm: [...document.querySelectorAll('#cm td.cell')].reduce((a, td) => a + +td.dataset.count, 0), caption: document.getElementById('cm-caption').textContent }));
  const ev = stopped.epochs.at(-1);
  const sApi = (await api(port, 'GET', '/api/state')).json;
  check(stopped.epochs.length === 1 && ev.partial && ev.step > 0 && ev.step < STOP_STEPS && ev.test_accuracy > 0.5,
    `stopped mid-epoch, evaluated there: ${JSON.stringify({ ...ev, confusion: undefined })}`);
  check(new RegExp(`^stopped in epoch 1 at step ${ev.step} of ${STOP_STEPS}, test accuracy ${(100 * ev.test_accuracy).toFixed(2)}% there$`).test(stopped.msg), stopped.msg);
  check(stopped.test === `${(100 * ev.test_accuracy).toFixed(2)}%` && stopped.cm === testCount && new RegExp(`stopped at step ${ev.step}`).test(stopped.caption),
    `the stats and the confusion matrix show it: ${stopped.test}, ${stopped.cm}, ${stopped.caption}`);
  check(new RegExp(`^Stopped in epoch 1 at step ${ev.step}/${STOP_STEPS}: loss=`, 'm').test(stopped.log), `the log's line: ${stopped.log}`);
  check(sApi.epochs.length === 1 && sApi.epochs[0].partial === true && sApi.epochs[0].step === ev.step, 'the server keeps it in the state a new page gets');
  check(stopped.focus === 'btn-train', `focus after Stop: #${stopped.focus}`);

  // the run history: the three runs are listed (newest first) as the server recorded them; two
  // are overlaid on the comparison charts; one is deleted; the report of one downloads and
  // opens from file:// with its charts drawn and no request made
  await page.waitForFunction(() => document.querySelectorAll('#hist-rows tr').length === 3 &&
    /stopped/.test(document.querySelector('#hist-rows tr').textContent), null, { timeout: 30000 });
  const listed = await page.$$eval('#hist-rows tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  const apiRuns = (await api(port, 'GET', '/api/runs')).json.runs;
  check(listed.map((c) => +c[1]).join() === apiRuns.map((r) => r.id).join() && apiRuns.length === 3,
    `the history lists the server's runs: ${listed.map((c) => c.slice(1, 7).join(' ')).join(' | ')}`);
  check(listed[1][3] === '64,32' && listed[1][4] === 'adam' && listed[1][6] === `${(100 * apiRuns[1].final_accuracy).toFixed(2)}%`,
    `a row shows model, optimizer and accuracy: ${listed[1].join(' ')}`);
  const [idA, idB, idC] = apiRuns.map((r) => r.id);
  await page.check(`#hist-rows tr[data-id="${idB}"] input[type=checkbox]`);
  await page.check(`#hist-rows tr[data-id="${idC}"] input[type=checkbox]`);
  await page.waitForFunction(() => window.WgHistory.selected.size === 2 && window.WgHistory.lossPlot && window.WgHistory.lossPlot.series.length === 3,
    null, { timeout: 30000 });
  const overlay = await page.evaluate(() => {
    const { lossPlot, accPlot } = window.WgHistory;
    const n = (a) => a.filter((v) => v !== null && v !== undefined).length;
    return { loss: [1, 2].map((i) => n(lossPlot.data[i])), acc: [1, 2].map((i) => n(accPlot.data[i])),
      labels: lossPlot.series.slice(1).map((s) => s.label), visible: !document.getElementById('hist-compare').hidden,
      canvases: document.querySelectorAll('#hist-loss canvas, #hist-acc canvas').length };
  });
  const recordsB = (await api(port, 'GET', `/api/runs/${idB}`)).json.records;
  const recB = recordsB.filter((r) => r.kind === 'progress').length;
  // the run's health panels and kernel times are recorded with its reports
  const healthB = recordsB.filter((r) => r.kind === 'health'), ktB = recordsB.filter((r) => r.kind === 'kernel_times' && r.data.kernels);
  check(healthB.length === recB && healthB.every((r) => r.data.layers.length === 3) && ktB.length >= 1 && ktB.length <= recB &&
    ktB.at(-1).data.kernels.map((k) => k.label).join() === perLayer(3).join(),
    `run ${idB} recorded a health panel per report (${healthB.length} of ${recB}) and ${ktB.length} kernel-time samples`);
  check(overlay.visible && overlay.canvases === 2 && overlay.loss[0] > 0 && overlay.loss[1] > 0 && overlay.loss[0] === recB &&
    overlay.acc.every((k) => k === 1) && overlay.labels.join() === `run ${idB} loss,run ${idC} loss`,
    `two runs overlaid on the loss and accuracy charts: ${JSON.stringify(overlay)} (${recB} reports of run ${idB})`);
  await page.click(`#hist-rows tr[data-id="${idA}"] .hist-delete`);
  check((await api(port, 'GET', '/api/runs')).json.runs.length === 3, 'one click only arms Delete');
  await page.click(`#hist-rows tr[data-id="${idA}"] .hist-delete`);
  await page.waitForFunction((id) => !document.querySelector(`#hist-rows tr[data-id="${id}"]`) && document.querySelectorAll('#hist-rows tr').length === 2,
    idA, { timeout: 30000 });
  const afterDel = (await api(port, 'GET', '/api/runs')).json.runs.map((r) => r.id);
  check(afterDel.join() === [idB, idC].join() && (await api(port, 'GET', `/api/runs/${idA}`)).status === 404, `deleted run ${idA}: ${afterDel}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#hist-rows tr[data-id="${idB}"] .hist-report`)]);
  fs.mkdirSync(path.dirname(REPORT), { recursive: true });
  await download.saveAs(REPORT);
  const rpage = await context.newPage();
  const requests = [];
  rpage.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url()); });
  rpage.on('pageerror', (e) => problems.push(`report page error: ${e.message}`));
  await rpage.goto(`file://${REPORT}`);
  await rpage.waitForFunction(() => window.wgtrainReport && window.wgtrainReport.drawn, null, { timeout: 30000 });
  const rep = await rpage.evaluate(() => {
    const lines = [...document.querySelectorAll('svg.chart polyline')].map((p) => p.getAttribute('points').trim().split(/\s+/).length);
    const c = document.getElementById('tiles');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 60) lit++;
    return { lines, lit, tiles: !c.hidden, cm: [...document.querySelectorAll('table.cm td[data-count]')].reduce((a, td) => a + +td.dataset.count, 0),
      title: document.getElementById('title').textContent, config: document.getElementById('config').textContent,
      device: document.getElementById('device').textContent,
      kt: [...document.querySelectorAll('#kt tr')].slice(1).map((tr) => tr.cells[0].textContent),
      health: [...document.querySelectorAll('#health tr')].slice(1).map((tr) => [...tr.cells].map((td) => td.textContent)) };
  });
  // loss and accuracy (two lines each), then the gradient norm of each of the three layers
  check(rep.lines.length === 7 && rep.lines[0] === recB && rep.lines.slice(4).every((n) => n === healthB.length) && rep.lines.every((n) => n >= 1),
    `the report's SVG charts are drawn: ${rep.lines}`);
  check(rep.kt.join() === perLayer(3).join() && rep.health.length === 3 && rep.health.every((c) => /^\d+ · \d+→\d+$/.test(c[0]) && Number.isFinite(+c[1])),
    `the report's kernel times and health table: ${rep.kt.join(', ')} | ${JSON.stringify(rep.health)}`);
  check(rep.tiles && rep.lit > 1000 && rep.cm === testCount, `the report's weight tiles and confusion matrix (${rep.lit} lit pixels, ${rep.cm} test images)`);
  check(/64,32/.test(rep.title) && /adam/.test(rep.config) && rep.device.includes(device), `the report's configuration and device: ${rep.title}`);
  check(requests.length === 0, `the report made no request: ${requests.join(', ')}`);
  await rpage.close();

  // the same site trains in the browser too: `wgtrain serve` serves the wasm engine (CSP allows
  // it) and its own data set as the gzip IDX files the browser trainer fetches
  check(await page.isEnabled('#opt-browser') && await page.isEnabled('#opt-server'), 'served by wgtrain serve: both trainers offered');
  check(!(await page.isVisible('#model-tools')), "the browser's model tools are not shown for the server's trainer");
  const bpage = await context.newPage();
  bpage.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await bpage.goto(`${url}/?trainer=browser&epochs=1&train_limit=2000&autostart=1`);
  await bpage.waitForFunction(() => window.wgtrain && ['done', 'error'].includes(window.wgtrain.state.status.status), null,
    { timeout: 180000, polling: 500 });
  const brun = await bpage.evaluate(() => ({ status: window.wgtrain.state.status, kind: window.wgtrain.trainer.kind,
    train: window.wgtrain.state.run && window.wgtrain.state.run.train_count }));
  check(brun.kind === 'browser' && brun.status.status === 'done' && brun.train === 2000,
    `the served page trains in the browser on the server's data: ${JSON.stringify(brun.status.message)}`);
  // the browser trainer keeps its own history, in IndexedDB, and exports the same report
  await bpage.waitForFunction(() => document.querySelectorAll('#hist-rows tr').length === 1 && /%/.test(document.querySelector('#hist-rows tr').cells[6].textContent),
    null, { timeout: 30000 });
  const brow = await bpage.evaluate(async () => {
    const tr = document.querySelector('#hist-rows tr');
    const html = await window.WgHistory.reportHtml(+tr.dataset.id);
    const m = /<script id="run-data" type="application\/json">([^<]*)<\/script>/.exec(html);
    const all = JSON.parse(m[1]);
    return { cells: [...tr.cells].map((td) => td.textContent), source: all.run.source, reports: all.records.filter((r) => r.kind === 'progress').length,
      points: window.wgtrain.state.points.length, epochs: all.records.filter((r) => r.kind === 'epoch').length, weights: !!all.weights,
      acc: all.run.final_accuracy, shown: window.wgtrain.state.epochs[0].test_accuracy };
  });
  check(brow.source === 'browser' && brow.reports === brow.points && brow.epochs === 1 && brow.weights && brow.acc === brow.shown &&
    brow.cells[6] === `${(100 * brow.shown).toFixed(2)}%`, `the browser's run is in IndexedDB with every report: ${JSON.stringify(brow)}`);
  const jspi = await context.newPage();
  await jspi.addInitScript(() => { delete WebAssembly.Suspending; });
  await jspi.goto(`${url}/?trainer=browser`);
  await jspi.waitForFunction(() => !document.getElementById('banner').hidden, null, { timeout: 30000 });
  check(await jspi.isVisible('#banner-server'), 'without JSPI, the served page offers training on the server');
  await jspi.click('#banner-server');
  await jspi.waitForFunction(() => window.wgtrain.trainer.kind === 'server' && document.getElementById('conn').textContent === 'live',
    null, { timeout: 30000 });
  check(true, 'one click switches to the server\'s GPU');
  check(problems.length === 0, `no page errors: ${problems.join('; ')}`);

  // the server goes away and comes back on the same port: while the stream is lost, every
  // panel says so and the controls wait; errors of that time (a drawn digit nobody could
  // classify) and the old run's captions are gone once the stream re-opens on the new server
  const panels = () => page.$$eval('main .card h2 .stale-tag', (tags) => tags.filter((t) => t.offsetParent !== null).length);
  const cardCount = await page.$$eval('main .card', (c) => c.length);
  check(await panels() === 0, 'connected: no panel is marked lost');
  check(/^Stopped in epoch 1/.test(await page.textContent('#form-msg')), `the last run's caption: ${await page.textContent('#form-msg')}`);
  const old = server;
  const gone = new Promise((r) => old.on('exit', r));
  old.kill('SIGKILL');
  await gone;
  await page.waitForFunction(() => document.getElementById('conn').textContent !== 'live', null, { timeout: 30000 });
  await page.waitForFunction(() => document.body.classList.contains('disconnected'), null, { timeout: 30000 });
  check(await panels() === cardCount && await page.isVisible('#conn-note'), `lost: all ${cardCount} panels and the page say so`);
  check(await page.isDisabled('#btn-train'), 'lost: Train waits for the connection');
  await page.click('#btn-clear');
  await page.locator('#draw').scrollIntoViewIfNeeded();
  const pad = await page.locator('#draw').boundingBox();
  await page.mouse.move(pad.x + pad.width / 2, pad.y + pad.height * 0.2);
  await page.mouse.down();
  await page.mouse.move(pad.x + pad.width / 2, pad.y + pad.height * 0.8, { steps: 8 });
  await page.mouse.up();
  await page.waitForFunction(() => /cannot be reached/.test(document.getElementById('draw-result').textContent), null, { timeout: 30000 });
  check(true, 'lost: a drawn digit says the server cannot be reached');
  await startServer(port);
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'live' && window.wgtrain.state.status.status === 'idle',
    null, { timeout: 60000 });
  // the drawing is asked again, of the new server, which has no model yet
  await page.waitForFunction(() => /No model yet/.test(document.getElementById('draw-result').textContent), null, { timeout: 30000 });
  const after = await page.evaluate(() => ({
    form: document.getElementById('form-msg').textContent, draw: document.getElementById('draw-result').textContent,
    prev: document.getElementById('prev-caption').textContent, cm: document.getElementById('cm-caption').textContent,
    lost: document.body.classList.contains('disconnected'), note: !document.getElementById('conn-note').hidden,
    train: !document.getElementById('btn-train').disabled,
  }));
  check(await panels() === 0 && !after.lost && !after.note, 'reconnected: no panel is marked lost');
  check(after.form === '' && !/cannot be reached/.test(after.draw) && after.train,
    `reconnected: stale errors cleared, the drawing asked again, Train enabled: ${JSON.stringify(after)}`);
  check(await page.evaluate(() => /^No run yet/.test(document.getElementById('loss-empty').textContent) && !document.getElementById('loss-empty').hidden),
    'reconnected to a new server: its empty charts say so');
  check(!/epoch \d/.test(after.prev) && !/epoch \d/.test(after.cm), `reconnected: no caption of the old run: ${after.prev} / ${after.cm}`);

  await cleanup();
  clearTimeout(watchdog);
  console.log(`dashboard: ${checks} checks passed`);
} catch (err) {
  console.error(err);
  await cleanup();
  process.exit(1);
}
