// The dashboard's health panel (web/health.js) in Debian's chromium, driven by playwright-core:
//  1. against `wgtrain serve --device gpu` at phone width (390 px): the empty state before a
//     run; the server streams a "health" event per report (read here from /api/events too);
//     after the first report the panel has a row per layer with its gradient norm,
//     update/weight ratio, dead-ReLU fraction and two histograms drawn on canvas (their
//     counts add up to the layer's weights and outputs); nothing is wider than the viewport;
//     a run whose loss overflows stops and the panel names the step, the layer and the tensor;
//  2. the in-page trainer (a static build/web, no server): the same rows after its first report.
// Saves build/test-artifacts/health.png. Skipped by tests/run.sh when WGTRAIN_SKIP_BROWSER=1.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(root, 'build/wgtrain');
const SITE = path.join(root, 'build/web');
process.env.XDG_DATA_HOME = path.join(root, 'build/test-home/share');
const SHOT = path.join(root, 'build/test-artifacts/health.png');
const RUNS_DIR = path.join(root, 'build/test-runs-health');
const ARGS = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run', '--enable-unsafe-webgpu'];

const children = [];
const contexts = [];
const profiles = [];
let checks = 0;
const check = (cond, msg) => { checks++; assert.ok(cond, msg); console.log(`ok   ${msg}`); };

async function cleanup() {
  for (const c of contexts.splice(0)) await c.close().catch(() => {});
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const p of profiles.splice(0)) fs.rmSync(p, { recursive: true, force: true });
}
process.on('exit', () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });
const watchdog = setTimeout(async () => {
  console.error('health_panel: timed out after 480 s');
  await cleanup();
  process.exit(1);
}, 480000);

function startServer() {
  fs.rmSync(RUNS_DIR, { recursive: true, force: true });
  fs.mkdirSync(RUNS_DIR, { recursive: true });
  return new Promise((resolve, reject) => {
    const s = spawn(BIN, ['serve', '--device', 'gpu', '--port', '0', '--train-limit', '2000', '--report-every', '5',
      '--runs-db', path.join(RUNS_DIR, 'runs.db')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(s);
    let out = '', err = '';
    const t = setTimeout(() => reject(new Error(`the server did not start in 90 s: ${err}`)), 90000);
    s.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^listening on (http:\/\/127\.0\.0\.1:(\d+))\n/);
      if (m) { clearTimeout(t); resolve({ url: m[1], port: +m[2] }); }
    });
    s.stderr.on('data', (d) => { err += d; });
    s.on('exit', (code) => { clearTimeout(t); reject(new Error(`the server exited (${code}): ${err}`)); });
  });
}

function api(port, method, p, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false,
      headers: { Host: `127.0.0.1:${port}`, ...(data ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, json: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

// The first "health" event of the SSE stream (resolves with its data), read as a dashboard would.
function firstHealthEvent(port) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/api/events', agent: false,
      headers: { Host: `127.0.0.1:${port}`, Accept: 'text/event-stream' } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        for (let i; (i = buf.indexOf('\n\n')) >= 0;) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = (block.match(/^event: (.*)$/m) || [])[1];
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (ev === 'health') { req.destroy(); resolve(JSON.parse(data)); return; }
        }
      });
    });
    req.on('error', (e) => { if (e.code !== 'ECONNRESET') reject(e); });
  });
}

async function browser(width, height) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wgtrain-chromium-'));
  profiles.push(profile);
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: ARGS, viewport: { width, height }, deviceScaleFactor: 1,
  });
  contexts.push(ctx);
  return ctx;
}

async function open(ctx, url) {
  const page = await ctx.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(m.text()); });
  await page.goto(url);
  return { page, problems };
}

// What the panel shows, per layer row: its title, stats and the histograms' drawn totals.
const panel = () => [...document.querySelectorAll('#health-rows .health-layer')].map((row) => ({
  title: row.querySelector('h3').textContent,
  stats: Object.fromEntries([...row.querySelectorAll('.health-stats div')].map((d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent])),
  hists: [...row.querySelectorAll('.health-hist')].map((f) => {
    const c = f.querySelector('canvas');
    if (!c) return null;
    // a drawn canvas has lit pixels
    const g = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 3; i < g.length; i += 4) lit += g[i] > 0;
    return { bins: +c.dataset.bins, total: +c.dataset.total, lit, width: c.getBoundingClientRect().width };
  }),
}));

const widest = () => Math.max(...[...document.querySelectorAll('body *')].filter((e) => e.offsetParent !== null || e.tagName === 'CANVAS')
  .map((e) => e.getBoundingClientRect().right));

function checkRows(rows, samplesMax, where) {
  check(rows.length === 2, `${where}: a row per layer (${rows.length})`);
  const [l1, l2] = rows;
  check(/^Layer 1 · 784→128 · 0\.weight$/.test(l1.title) && /^Layer 2 · 128→10 · 2\.weight$/.test(l2.title), `${where}: rows name the layers and tensors`);
  for (const r of rows) {
    check(Number(r.stats['grad norm']) > 0, `${where}: ${r.title}: grad norm ${r.stats['grad norm']}`);
    const ratio = Number(r.stats['update/weight']);
    check(ratio > 0 && ratio < 1, `${where}: ${r.title}: update/weight ${r.stats['update/weight']}`);
  }
  check(/^\d+(\.\d)?%$/.test(l1.stats['dead ReLU']) && l2.stats['dead ReLU'] === 'n/a', `${where}: dead ReLU ${l1.stats['dead ReLU']} (hidden), n/a (output)`);
  check(l1.hists[0].bins === 32 && l1.hists[0].total === 784 * 128 && l1.hists[0].lit > 0, `${where}: layer 1 weight histogram drawn (${l1.hists[0].total} values)`);
  check(l1.hists[1].total > 0 && l1.hists[1].total <= samplesMax * 128 && l1.hists[1].total % 128 === 0 && l1.hists[1].lit > 0,
    `${where}: layer 1 output histogram drawn (${l1.hists[1].total} values)`);
  check(l2.hists[0].total === 128 * 10 && l2.hists[1] === null, `${where}: layer 2 weights drawn, its output (logits) not applicable`);
}

try {
  // ---- 1. the server's dashboard at phone width ----
  const { url, port } = await startServer();
  const ctx = await browser(390, 844);
  const { page, problems } = await open(ctx, url);
  await page.waitForFunction(() => window.wgtrain && window.wgtrain.state.limits && window.WgHealth, null, { timeout: 60000 });
  check(await page.isVisible('#health-empty') && (await page.$$('#health-rows .health-layer')).length === 0 &&
    /No run yet/.test(await page.textContent('#health-empty')), 'before a run: the empty state, no rows');
  const sse = firstHealthEvent(port);
  let r = await api(port, 'POST', '/api/train', { epochs: 1, batch: 128, seed: 3 });
  check(r.status === 202, `POST /api/train: ${r.status}`);
  const ev = await sse;
  check(ev.layers.length === 2 && ev.bins === 32 && ev.layers[0].weights.counts.length === 32 && ev.layers[0].weight === '0.weight' &&
    ev.layers[0].update_ratio > 0 && ev.layers[1].dead_fraction === null && ev.layers[1].output === null,
    `the server streams a "health" event per report (step ${ev.step})`);
  await page.waitForFunction(() => document.querySelectorAll('#health-rows .health-layer').length === 2, null, { timeout: 120000, polling: 200 });
  checkRows(await page.evaluate(panel), 128, 'server');
  check(/epoch 1, step \d+/.test(await page.textContent('#health-caption')) && /1e-3/.test(await page.textContent('#health-caption')),
    'the caption names the step and the usual update/weight scale');
  await page.waitForFunction(() => ['done', 'stopped', 'error'].includes(window.wgtrain.state.status.status), null, { timeout: 180000, polling: 500 });
  const w = await page.evaluate(widest);
  check(w <= 390.5, `390 px: nothing wider than the viewport (rightmost edge ${w.toFixed(1)})`);
  await page.$eval('section.card.health', (e) => e.scrollIntoView());
  fs.mkdirSync(path.dirname(SHOT), { recursive: true });
  await (await page.$('section.card.health')).screenshot({ path: SHOT });
  check(fs.statSync(SHOT).size > 2000, `screenshot of the panel: ${path.relative(root, SHOT)}`);

  // a loss that overflows: the panel says where
  r = await api(port, 'POST', '/api/train', { epochs: 1, batch: 64, lr: 10, activation: 'leaky_relu' });
  check(r.status === 202, `POST /api/train (lr 10, leaky_relu): ${r.status}`);
  await page.waitForFunction(() => !document.getElementById('health-alert').hidden, null, { timeout: 180000, polling: 200 });
  const alert = await page.textContent('#health-alert');
  check(/^Training stopped: the loss became (NaN|infinite) at epoch 1, step \d+ of 32; at step \d+, layer \d+, tensor \d+\.\w+/.test(alert),
    `the NaN stop is named in the panel: ${alert}`);
  const st = await api(port, 'GET', '/api/state');
  check(st.json.state.status === 'error' && st.json.state.message === alert.replace(/^Training stopped: /, ''),
    'the server reports the same one-line message');
  check(problems.length === 0, `no page errors (${problems.join('; ')})`);
  await page.close();
  for (const c of children.splice(0)) c.kill('SIGKILL');

  // ---- 2. the in-page trainer (static site) ----
  const sitePort = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  const stat = spawn('python3', ['-m', 'http.server', String(sitePort), '--bind', '127.0.0.1', '--directory', SITE], { stdio: 'ignore' });
  children.push(stat);
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((res) => { const c = net.connect(sitePort, '127.0.0.1', () => { c.end(); res(true); }).on('error', () => res(false)); });
    if (up) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const b = await open(ctx, `http://127.0.0.1:${sitePort}/?epochs=1&train_limit=1000&batch=100&autostart=1`);
  await b.page.waitForFunction(() => document.querySelectorAll('#health-rows .health-layer').length === 2, null, { timeout: 180000, polling: 200 });
  checkRows(await b.page.evaluate(panel), 100, 'in-page trainer');
  await b.page.waitForFunction(() => ['done', 'stopped', 'error'].includes(window.wgtrain.state.status.status), null, { timeout: 180000, polling: 500 });
  check(await b.page.evaluate(() => window.wgtrain.state.status.status) === 'done', 'the in-page run finishes');
  check(b.problems.length === 0, `in-page trainer: no page errors (${b.problems.join('; ')})`);
  console.log(`health_panel: ${checks} checks passed`);
  clearTimeout(watchdog);
  await cleanup();
} catch (e) {
  console.error(`health_panel: FAILED: ${e.stack || e}`);
  await cleanup();
  process.exit(1);
}
