// Live edits on the dashboard in a real browser (Debian's chromium, playwright-core), against
// `wgtrain serve` on a free loopback port: during a run the learning rate is changed in its
// field and applied with the keyboard (Tab to Apply, Enter), and the test finds
//   - the edit's annotation ("lr 0.01") on the loss chart and on the accuracy chart, at the x
//     of the step the server reports, and the edit in the log;
//   - a second page, open on the same server, that got the same annotation from the event;
//   - the edit as an event of the run in the history view: the run's overlay on the history's
//     charts carries the annotation, and so does the report exported from it;
//   - the same on the browser's own trainer (the wasm engine in its Worker, CPU engine here):
//     an edit applied during an in-page run is annotated and recorded in IndexedDB.
// Saves build/test-artifacts/live_edit.png. Skipped by tests/run.sh when WGTRAIN_SKIP_BROWSER=1.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(root, 'build/wgtrain');
process.env.XDG_DATA_HOME = path.join(root, 'build/test-home/share');
const CHROMIUM = '/usr/bin/chromium';
const SHOT = path.join(root, 'build/test-artifacts/live_edit.png');
const RUNS_DIR = path.join(root, 'build/test-runs-live-edit');

let server = null, context = null, profile = null, checks = 0;
const check = (cond, msg) => { checks++; assert.ok(cond, msg); };
const log = (...a) => console.log('live_edit_dashboard:', ...a);
async function cleanup() {
  if (context) await context.close().catch(() => {});
  context = null;
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  profile = null;
}
process.on('exit', () => { if (server && server.exitCode === null) server.kill('SIGKILL'); });
const watchdog = setTimeout(async () => { console.error('live_edit_dashboard: timed out after 240 s'); await cleanup(); process.exit(1); }, 240000);

function startServer() {
  return new Promise((resolve, reject) => {
    // the WGSL kernels on lavapipe, as the dashboard test: a run long enough to edit, reports the page keeps up with
    server = spawn(BIN, ['serve', '--device', 'gpu', '--port', '0', '--train-limit', '4000', '--report-every', '5',
      '--runs-db', path.join(RUNS_DIR, 'runs.db')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const t = setTimeout(() => reject(new Error(`the server did not start in 90 s: ${err}`)), 90000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^listening on (http:\/\/127\.0\.0\.1:(\d+))\n/);
      if (m) { clearTimeout(t); resolve(m[1]); }
    });
    server.stderr.on('data', (d) => { err += d; process.stderr.write(d); });
    server.on('exit', (code) => { clearTimeout(t); reject(new Error(`the server exited (${code}): ${err}`)); });
  });
}

// the annotations a page shows on a chart: [{label, x, visible}] of its .chart-mark elements
// (queried inside the page in one go: a redraw replaces the elements)
const marksOf = (page, sel) => page.evaluate((sel) => [...document.querySelectorAll(`${sel} .chart-mark`)].map((m) => ({
  label: m.querySelector('.chart-mark-label').textContent, x: Number(m.dataset.x), visible: m.offsetParent !== null })), sel);

async function editDuringRun(page, what) {
  await page.waitForFunction(() => window.wgtrain.state.status.status === 'running' && window.wgtrain.state.points.length >= 2,
    null, { timeout: 120000, polling: 50 });
  check(await page.isEnabled('#btn-apply'), `${what}: Apply is enabled during the run`);
  // by keyboard: the lr field, then Tab on to Apply, then Enter
  await page.fill('#f-lr', '0.01');
  await page.focus('#f-lr');
  let tabs = 0;
  while (tabs++ < 20 && await page.evaluate(() => document.activeElement.id) !== 'btn-apply') await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.id) === 'btn-apply', `${what}: Apply is reachable with Tab`);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /^Applied: lr 0.01 from step \d+/.test(document.getElementById('form-msg').textContent), null,
    { timeout: 60000, polling: 50 }).catch(async (e) => {
    throw new Error(`${what}: no "Applied" message: '${await page.textContent('#form-msg')}' (${await page.evaluate(() => window.wgtrain.state.status.status)})`);
  });
  const edit = await page.evaluate(() => window.wgtrain.state.edits.at(-1));
  check(edit && edit.lr === 0.01 && Number.isInteger(edit.step) && !('momentum' in edit), `${what}: the edit: ${JSON.stringify(edit)}`);
  for (const chart of ['#loss-chart', '#acc-chart']) {
    await page.waitForFunction((sel) => document.querySelectorAll(`${sel} .chart-mark`).length === 1, chart, { timeout: 30000 });
    const m = await marksOf(page, chart);
    check(m.length === 1 && m[0].label === 'lr 0.01' && m[0].visible && Math.abs(m[0].x - edit.x) < 1e-9,
      `${what}: ${chart} carries the annotation "lr 0.01" at x ${edit.x}: ${JSON.stringify(m)}`);
  }
  check((await page.textContent('#log')).includes(`Edit: lr 0.01 from step ${edit.step + 1}`), `${what}: the log lists the edit`);
  // nothing to apply when nothing changed
  await page.click('#btn-apply');
  check(/nothing to apply/.test(await page.textContent('#form-msg')), `${what}: the same values again are nothing to apply`);
  return edit;
}

try {
  assert.ok(fs.existsSync(BIN), `${BIN} is missing: run make`);
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run make setup (or set WGTRAIN_SKIP_BROWSER=1)`);
  fs.rmSync(RUNS_DIR, { recursive: true, force: true });
  fs.mkdirSync(RUNS_DIR, { recursive: true });
  const url = await startServer();
  log(`server at ${url}`);
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wgtrain-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1440, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic', '--no-first-run'],
  });
  const problems = [];
  const watch = (p) => {
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    p.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  };
  const page = context.pages()[0] || await context.newPage();
  watch(page);
  await page.goto(`${url}/?trainer=server`);
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'live', null, { timeout: 30000 });
  check(await page.isDisabled('#btn-apply'), 'Apply waits for a run');
  const other = await context.newPage();
  watch(other);
  await other.goto(`${url}/?trainer=server`);
  await other.waitForFunction(() => document.getElementById('conn').textContent === 'live', null, { timeout: 30000 });

  // a long run on the server, edited by keyboard
  await page.fill('#f-epochs', '1000');
  await page.fill('#f-batch', '32');
  await page.fill('#f-hidden', '64');
  await page.fill('#f-lr', '0.05');
  await page.click('#btn-train');
  const edit = await editDuringRun(page, 'server');
  // the other page heard of it
  await other.waitForFunction(() => document.querySelectorAll('#loss-chart .chart-mark').length === 1, null, { timeout: 30000 });
  check((await marksOf(other, '#loss-chart'))[0].label === 'lr 0.01', 'the other page shows the same annotation');
  fs.mkdirSync(path.dirname(SHOT), { recursive: true });
  await page.locator('section.card.charts, #loss-chart').first().screenshot({ path: SHOT }).catch(() => page.screenshot({ path: SHOT }));
  await page.click('#btn-stop');
  await page.waitForFunction(() => window.wgtrain.state.status.status === 'stopped', null, { timeout: 60000 });
  check((await marksOf(page, '#loss-chart')).length === 1, 'the annotation stays after the run');

  // the history view: the edit is an event of the run, drawn on its overlay and in its report
  await page.waitForFunction(() => document.querySelectorAll('#hist-rows tr').length === 1 &&
    /stopped/.test(document.querySelector('#hist-rows tr').textContent), null, { timeout: 30000 });
  const id = await page.$eval('#hist-rows tr', (tr) => +tr.dataset.id);
  await page.check(`#hist-rows tr[data-id="${id}"] input[type=checkbox]`);
  await page.waitForFunction(() => document.querySelectorAll('#hist-loss .chart-mark').length === 1 &&
    document.querySelectorAll('#hist-acc .chart-mark').length === 1, null, { timeout: 30000 }).catch(() => {});
  const hm = await marksOf(page, '#hist-loss');
  const ha = await marksOf(page, '#hist-acc');
  check(hm[0].label === 'lr 0.01' && Math.abs(hm[0].x - edit.x) < 1e-9, `the history's loss overlay carries the edit: ${JSON.stringify(hm)}`);
  check(ha.length === 1 && ha[0].label === 'lr 0.01', `and its accuracy overlay: ${JSON.stringify(ha)}`);
  const rec = await page.evaluate(async (runId) => {
    const html = await window.WgHistory.reportHtml(runId);
    const m = /<script id="run-data" type="application\/json">([^<]*)<\/script>/.exec(html);
    return { events: JSON.parse(m[1]).records.filter((r) => r.kind === 'event' && r.data.event === 'edit').map((r) => r.data), html };
  }, id);
  check(rec.events.length === 1 && rec.events[0].step === edit.step && rec.events[0].lr === 0.01,
    `the server's history records the edit as an event of the run: ${JSON.stringify(rec.events)}`);
  const rfile = path.join(root, 'build/test-artifacts/live_edit_report.html');
  fs.writeFileSync(rfile, rec.html);
  const rpage = await context.newPage();
  watch(rpage);
  await rpage.goto(`file://${rfile}`);
  await rpage.waitForFunction(() => window.wgtrainReport && window.wgtrainReport.drawn, null, { timeout: 30000 });
  const rmarks = await rpage.evaluate(() => ({ labels: window.wgtrainReport.marks,
    drawn: [...document.querySelectorAll('svg g.mark text')].map((t) => t.textContent) }));
  check(rmarks.labels.join() === 'lr 0.01' && rmarks.drawn.join() === 'lr 0.01,lr 0.01,lr 0.01',
    `the report from file:// draws the edit on its three charts (loss, accuracy, gradient norm): ${JSON.stringify(rmarks)}`);
  await rpage.close();
  await other.close();

  // the browser's own trainer: the wasm engine (the CPU engine here), edited during its run
  const bpage = await context.newPage();
  watch(bpage);
  await bpage.goto(`${url}/?trainer=browser&device=cpu&epochs=1000&batch=128&hidden=128&lr=0.05&train_limit=2000&autostart=1`);
  const bedit = await editDuringRun(bpage, 'browser');
  await bpage.click('#btn-stop');
  await bpage.waitForFunction(() => window.wgtrain.state.status.status === 'stopped', null, { timeout: 60000 });
  await bpage.waitForFunction(() => document.querySelectorAll('#hist-rows tr').length >= 1, null, { timeout: 30000 });
  await bpage.evaluate(() => window.WgHistory.flush());
  const stored = await bpage.evaluate(async () => {
    const id = +document.querySelector('#hist-rows tr').dataset.id;
    const html = await window.WgHistory.reportHtml(id);
    const all = JSON.parse(/<script id="run-data" type="application\/json">([^<]*)<\/script>/.exec(html)[1]);
    return { source: all.run.source, edits: all.records.filter((r) => r.kind === 'event' && r.data.event === 'edit').map((r) => r.data),
      progress: all.records.filter((r) => r.kind === 'progress').length,
      health: all.records.filter((r) => r.kind === 'health' && r.data.layers && r.data.layers.length === 2).length };
  });
  check(stored.progress >= 2 && stored.health === stored.progress, `the browser's run keeps a health panel per report: ${stored.health} of ${stored.progress}`);
  check(stored.source === 'browser' && stored.edits.length === 1 && stored.edits[0].step === bedit.step && stored.edits[0].lr === 0.01,
    `the browser's run keeps the edit in IndexedDB: ${JSON.stringify(stored)}`);
  check(problems.length === 0, `no page errors: ${problems.join('; ')}`);
  await cleanup();
  clearTimeout(watchdog);
  console.log(`live_edit_dashboard: ${checks} checks passed`);
} catch (err) {
  console.error(err);
  await cleanup();
  process.exit(1);
}
