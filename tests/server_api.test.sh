#!/usr/bin/env bash
# API tests of `wgtrain serve` over real HTTP on loopback: every bad input the dashboard API
# must refuse (foreign Host or Origin, unknown path, wrong method, oversized body, non-JSON
# content type, malformed or out-of-range parameters, train during a run), the run controls,
# 50 concurrent SSE clients receiving the same epoch event, a stalled client that loses
# intermediate updates but not the run, history for a client that connects mid-run, idle
# timeouts and the connection limit, and a port already in use.
#
# Each server runs on a free port (--port 0) with a small training set, and is killed when
# the test ends, however it ends. Node (installed by `make setup`) drives the requests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# the runs these servers train are recorded under build/, never in the user's home
export XDG_DATA_HOME="$root/build/test-home/share"
# WGTRAIN_BIN may name another build of wgtrain (e.g. one with sanitizers)
export WGTRAIN_BIN="${WGTRAIN_BIN:-$root/build/wgtrain}"
[ -x "$WGTRAIN_BIN" ] || { echo "$WGTRAIN_BIN is missing: run make"; exit 1; }
command -v node >/dev/null || { echo "node is missing: run make setup"; exit 1; }
exec timeout -k 5 420 node --input-type=module - <<'EOF'
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import assert from 'node:assert/strict';

const BIN = process.env.WGTRAIN_BIN;
const children = new Set();
const killAll = () => { for (const c of children) { try { c.kill('SIGKILL'); } catch {} } };
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(1); });

let checks = 0;
const check = (cond, msg) => { checks++; assert.ok(cond, msg); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log(...a);

async function until(what, fn, timeoutMs = 60000, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

function startServer(args) {
  const proc = spawn(BIN, ['serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  const srv = { proc, out: '', err: '', exited: null };
  proc.stdout.on('data', (d) => { srv.out += d; });
  proc.stderr.on('data', (d) => { srv.err += d; });
  proc.on('exit', (code, sig) => { srv.exited = code ?? sig; children.delete(proc); });
  return until('the server to listen', () => {
    if (srv.exited !== null) throw new Error(`server exited (${srv.exited}): ${srv.err}`);
    const m = srv.out.match(/^listening on http:\/\/127\.0\.0\.1:(\d+)\n/);
    if (m) srv.port = +m[1];
    return m ? srv : null;
  }, 90000);
}

async function stopServer(srv) {
  if (srv.exited !== null) return srv.exited;
  srv.proc.kill('SIGTERM');
  return until('the server to exit', () => (srv.exited !== null ? String(srv.exited) : null), 30000);
}

function request(port, { method = 'GET', path = '/', headers = {}, body = null, host } = {}) {
  return new Promise((resolve, reject) => {
    const h = { Host: host ?? `127.0.0.1:${port}`, ...headers };
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: h, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(data); } catch {}
        resolve({ status: res.statusCode, headers: res.headers, body: data, json });
      });
    });
    req.setTimeout(60000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.on('error', reject);
    if (body !== null) req.write(body);
    req.end();
  });
}

const postJson = (port, path, obj, extra = {}) => request(port, {
  method: 'POST', path, headers: { 'Content-Type': 'application/json', ...(extra.headers || {}) },
  body: typeof obj === 'string' ? obj : JSON.stringify(obj),
});

/* Raw bytes in, everything the server sends back until it closes (or timeoutMs). */
function raw(port, text, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    const t = setTimeout(() => { s.destroy(); resolve({ data, closed: false }); }, timeoutMs);
    s.on('connect', () => { if (text) s.write(text); });
    s.on('data', (d) => { data += d; });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(t); resolve({ data, closed: true }); });
  });
}

class SseClient {
  constructor(port, { paused = false } = {}) {
    this.events = [];
    this.open = false;
    this.ended = false;
    this.req = http.request({
      host: '127.0.0.1', port, path: '/api/events', agent: false,
      headers: { Host: `127.0.0.1:${port}`, Accept: 'text/event-stream' },
    }, (res) => {
      this.res = res;
      this.status = res.statusCode;
      this.contentType = res.headers['content-type'];
      this.open = true;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          const data = [];
          let comment = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comment = true;
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) this.events.push({ event, data: data.join('\n') });
          else if (comment) this.events.push({ event: ':comment', data: block });
        }
      });
      res.on('end', () => { this.ended = true; });
      res.on('error', () => { this.ended = true; });
      if (paused) res.pause();
    });
    this.req.on('error', () => { this.ended = true; });
    this.req.end();
  }
  of(name) {
    return this.events.filter((e) => e.event === name)
      .map((e) => ({ raw: e.data, json: name.startsWith(':') ? null : JSON.parse(e.data) }));
  }
  find(name, pred = () => true) { return this.of(name).find((e) => pred(e.json)); }
  close() { this.req.destroy(); }
}

const expectError = (r, status, field, what) => {
  check(r.status === status, `${what}: status ${r.status}, want ${status}: ${r.body}`);
  check(r.json && typeof r.json.error === 'string' && r.json.error.length > 0, `${what}: JSON error body: ${r.body}`);
  check(/application\/json/.test(r.headers['content-type'] || ''), `${what}: JSON content type`);
  if (field === '') check(!('field' in r.json), `${what}: names no field: ${r.body}`);
  else if (field !== undefined) {
    check(r.json.field === field, `${what}: field ${r.json && r.json.field}, want ${field}: ${r.body}`);
    if (field) check(r.json.error.includes(field), `${what}: the message names ${field}: ${r.json.error}`);
  }
};

async function state(port) {
  const r = await request(port, { path: '/api/state' });
  assert.equal(r.status, 200, r.body);
  return r.json;
}

// ------------------------------------------------------------------------------------------
const TRAIN = 1000;
// this server trains on the WGSL kernels (--device gpu: lavapipe here), as before the CPU engine
const srv = await startServer(['--device', 'gpu', '--train-limit', String(TRAIN), '--report-every', '2']);
const P = srv.port;
log(`server on port ${P}`);
{
  const d = (await state(P)).device;
  check(d.engine === 'gpu' && d.kernels !== 'cpu' && srv.out.includes(`wgtrain serve: ${d.name} (`), `--device gpu: the state names the GPU engine: ${JSON.stringify(d)}`);
  check(d.kernels === 'auto', `before any run the kernels are the server's setting, auto: ${d.kernels}`);
}

// the page and its files
{
  const r = await request(P, { path: '/' });
  check(r.status === 200 && /text\/html/.test(r.headers['content-type']), 'GET / serves the page');
  check(/default-src 'none'/.test(r.headers['content-security-policy'] || ''), 'the page has a CSP');
  check(r.headers['x-content-type-options'] === 'nosniff', 'nosniff');
  for (const f of ['/app.js', '/app.css', '/uPlot.iife.min.js', '/uPlot.min.css', '/index.html']) {
    const x = await request(P, { path: f });
    check(x.status === 200 && x.body.length > 100, `GET ${f}: ${x.status}`);
  }
  const h = await request(P, { method: 'HEAD', path: '/' });
  check(h.status === 200 && h.body === '', 'HEAD /');
}

// Host and Origin: DNS rebinding and cross-site requests
{
  for (const host of ['evil.example', `evil.example:${P}`, `127.0.0.1:${P + 1}`, `127.0.0.1.nip.io:${P}`, '127.0.0.1']) {
    expectError(await request(P, { path: '/api/state', host }), 403, undefined, `Host ${host}`);
  }
  expectError(await request(P, { path: '/', host: `attacker.test:${P}` }), 403, undefined, 'rebound page load');
  check((await request(P, { path: '/api/state', host: `localhost:${P}` })).status === 200, 'Host localhost:PORT');
  const noHost = await raw(P, 'GET /api/state HTTP/1.0\r\n\r\n');
  check(/^HTTP\/1\.[01] 403/.test(noHost.data), `HTTP/1.0 without Host: ${noHost.data.slice(0, 40)}`);
  for (const origin of ['http://evil.example', 'null', `https://127.0.0.1:${P}`, `http://127.0.0.1:${P + 1}`]) {
    expectError(await postJson(P, '/api/train', { epochs: 1 }, { headers: { Origin: origin } }), 403, undefined, `Origin ${origin}`);
    expectError(await request(P, { path: '/api/state', headers: { Origin: origin } }), 403, undefined, `GET with Origin ${origin}`);
  }
  const own = await request(P, { path: '/api/state', headers: { Origin: `http://127.0.0.1:${P}` } });
  check(own.status === 200, 'own Origin accepted');
  check((await state(P)).state.status === 'idle', 'refused requests changed nothing');
}

// unknown paths and wrong methods
{
  for (const path of ['/nope', '/api', '/api/', '/api/nope', '/api/state/x', '/index.html/x', '/../etc/passwd', '/README-section.md', '/%2e%2e/etc/passwd']) {
    expectError(await request(P, { path }), 404, undefined, `GET ${path}`);
  }
  for (const [method, path, allow] of [['GET', '/api/train', 'POST'], ['GET', '/api/stop', 'POST'], ['GET', '/api/predict', 'POST'],
    ['POST', '/api/state', 'GET, HEAD'], ['PUT', '/', 'GET, HEAD'], ['DELETE', '/api/stop', 'POST'], ['POST', '/', 'GET, HEAD'],
    ['PATCH', '/api/train', 'POST'], ['OPTIONS', '/api/train', 'POST']]) {
    const r = await request(P, { method, path, headers: method === 'POST' ? { 'Content-Type': 'application/json' } : {}, body: method === 'POST' ? '{}' : null });
    expectError(r, 405, undefined, `${method} ${path}`);
    check(r.headers.allow === allow, `${method} ${path}: Allow ${r.headers.allow}`);
  }
  check((await state(P)).state.status === 'idle', 'GET /api/train started nothing');
}

// content type, body size
{
  for (const ct of [null, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp']) {
    const headers = ct ? { 'Content-Type': ct } : {};
    expectError(await request(P, { method: 'POST', path: '/api/train', headers, body: '{"epochs":1}' }), 415, undefined, `Content-Type ${ct}`);
    expectError(await request(P, { method: 'POST', path: '/api/predict', headers, body: '{"indices":[1]}' }), 415, undefined, `predict with ${ct}`);
  }
  const big = JSON.stringify({ pixels: Array(784).fill(0), pad: 'x'.repeat(70 * 1024) });
  expectError(await postJson(P, '/api/predict', big), 413, undefined, 'body over 64 KiB');
  // the same without Content-Length (chunked): the cap holds while reading
  const chunked = await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: P, method: 'POST', path: '/api/train', agent: false,
      headers: { Host: `127.0.0.1:${P}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, (res) => {
      let d = '';
      res.on('data', (x) => { d += x; });
      res.on('end', () => resolve({ status: res.statusCode, body: d, json: JSON.parse(d), headers: res.headers }));
    });
    req.on('error', reject);
    for (let i = 0; i < 80; i++) req.write('x'.repeat(1024));
    req.end();
  });
  expectError(chunked, 413, undefined, 'chunked body over 64 KiB');
  check((await postJson(P, '/api/stop', '')).status === 409, 'an empty body is {} for the controls');
}

// bad parameters: 400 naming the field
{
  const cases = [
    [{ epochs: '3' }, 'epochs'], [{ epochs: true }, 'epochs'], [{ epochs: null }, 'epochs'], [{ epochs: [1] }, 'epochs'],
    [{ epochs: 0 }, 'epochs'], [{ epochs: 1001 }, 'epochs'], [{ epochs: 1.5 }, 'epochs'], [{ epochs: -1 }, 'epochs'],
    [{ batch: 0 }, 'batch'], [{ batch: TRAIN + 1 }, 'batch'], [{ batch: 'big' }, 'batch'], [{ batch: 64.5 }, 'batch'],
    [{ lr: 0 }, 'lr'], [{ lr: -1 }, 'lr'], [{ lr: 11 }, 'lr'], [{ lr: '0.1' }, 'lr'], [{ lr: {} }, 'lr'],
    [{ hidden: 0 }, 'hidden'], [{ hidden: 4097 }, 'hidden'], [{ hidden: 1e9 }, 'hidden'],
    [{ hidden: '256,,128' }, 'hidden'], [{ hidden: '256,abc' }, 'hidden'], [{ hidden: '1,2,3,4,5,6,7,8,9' }, 'hidden'],
    [{ hidden: [256, 128] }, 'hidden'], [{ activation: 'swish' }, 'activation'], [{ activation: 3 }, 'activation'],
    [{ optimizer: 'rmsprop' }, 'optimizer'], [{ optimizer: 'sgd', momentum: 0.9 }, 'optimizer'],
    [{ weight_decay: -0.1 }, 'weight_decay'], [{ weight_decay: 2 }, 'weight_decay'], [{ weight_decay: '0.1' }, 'weight_decay'],
    [{ momentum: 1 }, 'momentum'], [{ momentum: -0.5 }, 'momentum'], [{ momentum: false }, 'momentum'],
    [{ seed: -1 }, 'seed'], [{ seed: 9007199254740992 }, 'seed'], [{ seed: 0.5 }, 'seed'],
    [{ epochs: 1, learning_rate: 0.1 }, 'learning_rate'], [{ __proto__x: 1 }, '__proto__x'],
    [{ kernel_times: 1 }, 'kernel_times'], [{ kernel_times: 'yes' }, 'kernel_times'], [{ kernel_times: null }, 'kernel_times'],
  ];
  for (const [body, field] of cases) expectError(await postJson(P, '/api/train', body), 400, field, `train ${JSON.stringify(body)}`);
  const notJson = ['{"lr":NaN}', '{"lr":Infinity}', '{"lr":-Infinity}', '{"lr":1e999}', '{"epochs":1,"epochs":2}',
    '{"epochs":1} x', '{"epochs":1}{}', '{"epochs":', '[1]', '"x"', '{epochs:1}', "{'epochs':1}", '{"epochs":01}',
    '{"epochs":1,}', '\u00ef\u00bb\u00bf{}', '{"a":"\\u0000"}', '{"a":' + '['.repeat(40) + ']'.repeat(40) + '}'];
  for (const body of notJson) expectError(await postJson(P, '/api/train', body), 400, undefined, `train body ${body.slice(0, 30)}`);
  for (const [body, field] of [['{"lr":NaN}', 'lr'], ['{"lr":Infinity}', 'lr'], ['{"momentum":-Infinity}', 'momentum'],
    ['{"seed":1e999}', 'seed'], ['{"epochs":1,"epochs":2}', 'epochs'], ['{"epochs":1} x', ''], ['[1]', '']]) {
    expectError(await postJson(P, '/api/train', body), 400, field, `train body ${body}`);
  }
  const unknown = await postJson(P, '/api/train', { epochs: 1, bogus: 1 });
  check(/unknown key 'bogus'/.test(unknown.json.error), `unknown key message: ${unknown.json.error}`);

  for (const [body, field] of [[{ pixels: [1, 2, 3] }, 'pixels'], [{ pixels: Array(784).fill(256) }, 'pixels'],
    [{ pixels: Array(784).fill(-1) }, 'pixels'], [{ pixels: Array(784).fill(0.5) }, 'pixels'], [{ pixels: 'abc' }, 'pixels'],
    [{ indices: [10000] }, 'indices'], [{ indices: [] }, 'indices'], [{ indices: Array(101).fill(1) }, 'indices'],
    [{ indices: ['1'] }, 'indices'], [{}, 'pixels'], [{ image: [] }, 'image']]) {
    expectError(await postJson(P, '/api/predict', body), 400, field, `predict ${JSON.stringify(body).slice(0, 40)}`);
  }
  for (const path of ['/api/pause', '/api/resume', '/api/stop']) {
    expectError(await postJson(P, path, { now: true }), 400, 'now', `${path} with a key`);
    expectError(await postJson(P, path, '[]'), 400, '', `${path} with an array`);
  }
  for (const [path, field] of [['/api/digits', 'indices'], ['/api/digits?indices=', 'indices'], ['/api/digits?indices=abc', 'indices'],
    ['/api/digits?indices=10000', 'indices'], ['/api/digits?indices=1,,2', 'indices'], ['/api/digits?indices=-1', 'indices'],
    ['/api/digits?indices=1&x=2', 'x'], ['/api/digits?indices=1&indices=2', 'indices'], ['/api/state?debug=1', 'debug'],
    ['/api/confusion?label=10&pred=1', 'label'], ['/api/confusion?label=1&pred=x', 'pred'], ['/api/confusion?label=1', 'pred'],
    ['/api/confusion?label=1&pred=1&limit=0', 'limit'], ['/api/events?x=1', 'x']]) {
    expectError(await request(P, { path }), 400, field, `GET ${path}`);
  }
  check((await state(P)).state.status === 'idle', 'no bad request started a run');
}

// before any run: nothing to control, no model to ask
{
  for (const path of ['/api/pause', '/api/resume', '/api/stop']) expectError(await postJson(P, path, {}), 409, undefined, `${path} when idle`);
  expectError(await postJson(P, '/api/train/edit', { lr: 0.01 }), 409, undefined, 'an edit with no job running');
  // bad edits are refused before anything else, with the field named
  for (const [body, field] of [['{"lr":', undefined], ['[1]', ''], ['{}', ''], [{ lr: -1 }, 'lr'], [{ lr: 0 }, 'lr'], [{ lr: 11 }, 'lr'],
    [{ lr: '0.1' }, 'lr'], [{ momentum: 1 }, 'momentum'], [{ momentum: -0.5 }, 'momentum'], [{ lr: 0.1, beta: 1 }, 'beta']]) {
    expectError(await postJson(P, '/api/train/edit', body), 400, field, `edit ${typeof body === 'string' ? body : JSON.stringify(body)}`);
  }
  expectError(await postJson(P, '/api/predict', { indices: [1] }), 409, undefined, 'predict without a model');
  expectError(await request(P, { path: '/api/confusion?label=1&pred=1' }), 409, undefined, 'confusion before an epoch');
  const d = await request(P, { path: '/api/digits?indices=0,9999' });
  check(d.status === 200 && d.json.digits.length === 2 && d.json.digits[1].index === 9999, 'digits');
  check(Buffer.from(d.json.digits[0].pixels, 'base64').length === 784 && d.json.digits[0].pred === null, 'digit pixels, no prediction yet');
}

// 50 concurrent SSE clients receive the same epoch event; a second Train gets 409
{
  const clients = Array.from({ length: 50 }, () => new SseClient(P));
  await until('50 SSE streams with their first state event', () => clients.every((c) => c.find('state')), 30000);
  check(clients.every((c) => c.status === 200 && /text\/event-stream/.test(c.contentType)), 'SSE responses');
  check((await state(P)).clients >= 50, 'the server counts 50 clients');
  const r = await postJson(P, '/api/train', { epochs: 1, batch: 50, hidden: 16, lr: 0.1, momentum: 0.9, seed: 7 });
  check(r.status === 202 && r.json.run.id === 1 && r.json.run.steps_per_epoch === TRAIN / 50, `train accepted: ${r.body}`);
  expectError(await postJson(P, '/api/train', { epochs: 1 }), 409, undefined, 'train while a run is going');
  await until('the epoch event at all 50 clients', () => clients.every((c) => c.find('epoch')), 120000);
  const first = clients[0].of('epoch')[0];
  check(clients.every((c) => c.of('epoch').length === 1 && c.of('epoch')[0].raw === first.raw), 'all 50 got the same epoch event');
  const ep = first.json;
  check(ep.epoch === 1 && ep.test_accuracy > 0.5 && ep.confusion.flat().reduce((a, b) => a + b, 0) === 10000, `epoch event: ${first.raw.slice(0, 200)}`);
  await until('status done at all clients', () => clients.every((c) => c.find('status', (s) => s.status === 'done')), 60000);
  check(clients.every((c) => c.of('loss').length >= 1 && c.of('weights').length >= 1 && c.of('preview').length >= 1), 'loss, weights and previews streamed');
  // kernel times (on by default, lavapipe has timestamps): the run's status, then a sample per
  // report, the last of them kept in the state
  const kts = clients[0].of('kernel_times').map((e) => e.json);
  const ktState = (await state(P)).kernel_times;
  // auto on a CPU adapter trains on the per-layer kernels (seven of them, timed below): the state says so
  check((await state(P)).device.kernels === 'reference', `the run's kernels, resolved: ${(await state(P)).device.kernels}`);
  check(kts.length >= 2 && kts[0].available && kts[0].enabled && !kts[0].kernels && kts.slice(1).every((k) => k.kernels.length === 7 &&
    k.kernels.every((x) => x.us > 0 && Number.isFinite(x.us))) && JSON.stringify(kts.at(-1)) === JSON.stringify(ktState),
    `kernel_times events: ${kts.length}, the state's: ${JSON.stringify(ktState).slice(0, 160)}`);
  const w = clients[0].of('weights').at(-1).json;
  check(w.tiles === 16 && Buffer.from(w.data, 'base64').length === 16 * 784 && w.scales.length === 16, 'weights: 16 tiles of 784 bytes');
  const pv = clients[0].of('preview').at(-1).json;
  check(pv.items.length === 6 && Buffer.from(pv.pixels, 'base64').length === 6 * 784, 'preview: six digits');
  for (const c of clients) c.close();
  // the previews are the server's own predictions
  const again = await postJson(P, '/api/predict', { indices: pv.items.map((i) => i.index) });
  check(again.status === 200 && again.json.predictions.every((p, k) => p.pred === pv.items[k].pred), 'preview labels = predictions');
  const sum = again.json.predictions[0].probs.reduce((a, b) => a + b, 0);
  check(Math.abs(sum - 1) < 1e-4, `probabilities sum to 1 (${sum})`);
  const st = await state(P);
  check(st.state.status === 'done' && st.epochs.length === 1 && st.points.length === TRAIN / 50 / 2 && st.confusion.epoch === 1, 'state after the run');
  const cell = await request(P, { path: '/api/confusion?label=3&pred=3&limit=5' });
  check(cell.status === 200 && cell.json.count === st.confusion.matrix[3][3] && cell.json.digits.length === Math.min(5, cell.json.count), 'a confusion cell');
  const px = Array.from(Buffer.from((await request(P, { path: '/api/digits?indices=0' })).json.digits[0].pixels, 'base64'));
  const drawn = await postJson(P, '/api/predict', { pixels: px });
  check(drawn.status === 200 && drawn.json.predictions.length === 1 && drawn.json.predictions[0].probs.length === 10, 'predict from pixels');
  const byIndex = await postJson(P, '/api/predict', { indices: [0] });
  check(byIndex.status === 200 && JSON.stringify(byIndex.json.predictions[0].probs) === JSON.stringify(drawn.json.predictions[0].probs),
    'an image sent as pixels and the same test image by index get the same probabilities');
  log('50 SSE clients: ok');
}

// a stalled client loses intermediate updates, never the run; a late client gets the history
{
  const before = (await state(P)).dropped;
  const slow = new SseClient(P, { paused: true });
  const fast = new SseClient(P);
  await until('both streams open', () => slow.open && fast.find('state'), 30000);
  const t0 = Date.now();
  const r = await postJson(P, '/api/train', { epochs: 2, batch: 5, hidden: 128, lr: 0.05, seed: 3 });
  check(r.status === 202, `run 2 accepted: ${r.body}`);
  await until('epoch 1 of run 2', () => fast.find('epoch', (e) => e.epoch === 1), 180000);
  const late = new SseClient(P);
  await until('the late client\'s state', () => late.find('state'), 30000);
  const hist = late.find('state').json;
  check(hist.run.id === 2 && hist.epochs.length >= 1 && hist.points.length >= 100, `history for a late client: ${hist.points.length} points, ${hist.epochs.length} epochs`);
  check(late.of('weights').length + late.of('preview').length >= 1 || hist.state.status !== 'running', 'the late client gets the latest snapshots');
  await until('run 2 done at the fast client', () => fast.find('status', (s) => s.status === 'done' && s.run === 2), 240000);
  const seconds = (Date.now() - t0) / 1000;
  const after = (await state(P)).dropped;
  check(after > before, `the stalled client lost intermediate updates (${after - before} dropped)`);
  check(slow.events.length < fast.events.length, `the stalled client is behind (${slow.events.length} < ${fast.events.length})`);
  log(`run 2 took ${seconds.toFixed(1)} s with a stalled client; ${after - before} updates dropped`);
  slow.res.resume();
  await until('the stalled client catches up to the end of the run', () => slow.find('status', (s) => s.status === 'done' && s.run === 2), 60000);
  check(slow.of('epoch').filter((e) => e.json.epoch >= 1).length === 2, 'the stalled client got both epochs');
  check(fast.of('loss').length > slow.of('loss').length || fast.of('weights').length > slow.of('weights').length, 'it lost intermediate updates only');
  for (const c of [slow, fast, late]) c.close();
  log('stalled and late clients: ok');
}

// pause, predict while paused, resume, stop
{
  const es = new SseClient(P);
  await until('state', () => es.find('state'), 30000);
  const r = await postJson(P, '/api/train', { epochs: 200, batch: 10, hidden: 64 });
  check(r.status === 202, 'run 3 accepted');
  await until('run 3 running', () => es.find('status', (s) => s.status === 'running' && s.run === 3), 60000);
  // live edits: the answer names the step where the edit took effect, every page hears of it
  const other = new SseClient(P);
  await until('a second page', () => other.find('state'), 30000);
  const ed = await postJson(P, '/api/train/edit', { lr: 0.02, momentum: 0.5 });
  check(ed.status === 200 && ed.json.edit.event === 'edit' && ed.json.edit.lr === 0.02 && ed.json.edit.momentum === 0.5 &&
    Number.isInteger(ed.json.edit.step) && ed.json.edit.step > 0, `edit accepted with its step: ${ed.body}`);
  const steps3 = r.json.run.steps_per_epoch;
  check(ed.json.edit.epoch === Math.floor(ed.json.edit.step / steps3) + 1 && Math.abs(ed.json.edit.x - ed.json.edit.step / steps3) < 1e-6,
    `the edit's epoch and x follow from its step: ${ed.body}`);
  await until('the edit event at both pages', () => es.find('edit') && other.find('edit'), 30000);
  check(es.find('edit').raw === other.find('edit').raw && es.find('edit').json.step === ed.json.edit.step, 'both pages got the same edit event');
  expectError(await postJson(P, '/api/train/edit', { lr: 0.01 }, { headers: { Origin: 'http://attacker.test' } }), 403, undefined,
    'an edit from another site (not the page that controls the job)');
  const sgd = await postJson(P, '/api/train/edit', { momentum: 0.3 });
  check(sgd.status === 200 && sgd.json.edit.momentum === 0.3 && !('lr' in sgd.json.edit), `momentum-only edit: ${sgd.body}`);
  check((await state(P)).edits.length === 2, 'the state lists the run\'s edits for pages that connect later');
  other.close();
  expectError(await postJson(P, '/api/resume', {}), 409, undefined, 'resume when not paused');
  check((await postJson(P, '/api/pause', {})).status === 200, 'pause accepted');
  expectError(await postJson(P, '/api/pause', {}), 409, undefined, 'pause twice');
  await until('paused', () => es.find('status', (s) => s.status === 'paused'), 60000);
  const p1 = (await state(P)).points.length;
  await sleep(1200);
  const s2 = await state(P);
  check(s2.state.status === 'paused' && s2.points.length === p1, 'no training while paused');
  const pr = await postJson(P, '/api/predict', { indices: [5, 6] });
  check(pr.status === 200 && pr.json.predictions.length === 2, 'predict while paused');
  const pe = await postJson(P, '/api/train/edit', { lr: 0.005 });
  check(pe.status === 200 && pe.json.edit.lr === 0.005, `an edit while paused takes effect on resuming: ${pe.body}`);
  check((await postJson(P, '/api/resume', {})).status === 200, 'resume accepted');
  await until('points again', async () => (await state(P)).points.length > p1, 60000);
  check((await postJson(P, '/api/stop', {})).status === 200, 'stop accepted');
  expectError(await postJson(P, '/api/stop', {}), 409, undefined, 'stop twice');
  await until('stopped', () => es.find('status', (s) => s.status === 'stopped' && s.run === 3), 60000);
  check((await postJson(P, '/api/predict', { indices: [1] })).status === 200, 'the stopped model still answers');
  expectError(await postJson(P, '/api/train/edit', { lr: 0.01 }), 409, undefined, 'an edit after the run stopped');
  // stop while paused; plain sgd has no momentum to edit
  check((await postJson(P, '/api/train', { epochs: 200, batch: 10, hidden: 8, optimizer: 'sgd' })).status === 202, 'run 4');
  await until('run 4 running', () => es.find('status', (s) => s.status === 'running' && s.run === 4), 60000);
  check((await state(P)).edits.length === 0, 'a new run starts with no edits');
  expectError(await postJson(P, '/api/train/edit', { momentum: 0.9 }), 400, 'momentum', 'a momentum edit of an sgd run');
  check((await postJson(P, '/api/pause', {})).status === 200, 'pause run 4');
  await until('run 4 paused', () => es.find('status', (s) => s.status === 'paused' && s.run === 4), 60000);
  check((await postJson(P, '/api/stop', {})).status === 200, 'stop while paused');
  await until('run 4 stopped', () => es.find('status', (s) => s.status === 'stopped' && s.run === 4), 60000);
  es.close();
  log('pause/resume/stop: ok');
}

// a port in use is a clear error and exit 1; bad options exit 2
{
  const second = spawn(BIN, ['serve', '--port', String(P)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(second);
  let err = '';
  second.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => second.on('exit', (c) => { children.delete(second); resolve(c); }));
  check(code === 1 && /already in use/.test(err), `port in use: exit ${code}: ${err}`);
  for (const args of [['--port', '70000'], ['--port', 'x'], ['--bogus'], ['--timeout-s', '1'], ['--device', 'tpu'], ['--threads', '0'],
                      ['--device', 'cpu', '--kernels', 'fused'], ['--device', 'gpu', '--threads', '2']]) {
    const p = spawn(BIN, ['serve', ...args], { stdio: 'ignore' });
    children.add(p);
    const c = await new Promise((resolve) => p.on('exit', (x) => { children.delete(p); resolve(x); }));
    check(c === 2, `serve ${args.join(' ')}: exit ${c}`);
  }
}
{
  const code = await stopServer(srv);
  check(code === '0', `SIGTERM: clean exit 0, got ${code}: ${srv.err.slice(-3000)}`);
}

// the CPU engine: --device cpu (and --device auto where Dawn offers no real GPU) trains a run to
// the end; the state, the start line and the epoch event say which engine it was
{
  const s = await startServer(['--device', 'cpu', '--threads', '2', '--train-limit', String(TRAIN), '--report-every', '4']);
  const Q = s.port;
  const d = (await state(Q)).device;
  check(d.engine === 'cpu' && d.kernels === 'cpu' && /^cpu \((avx2\+fma|generic-[a-z0-9]+), 2 threads\)$/.test(d.name) && d.type === 'CPU',
    `--device cpu: the state names the CPU engine: ${JSON.stringify(d)}`);
  check(s.out.includes(`wgtrain serve: ${d.name}, ${TRAIN} train / 10000 test images`), `the start line names the CPU engine: ${s.out}`);
  const kt = (await state(Q)).kernel_times;
  check(kt && kt.available === false && kt.reason === 'the CPU engine runs no GPU kernels, so there are none to time',
    `--device cpu: kernel times say why there are none: ${JSON.stringify(kt)}`);
  const es = new SseClient(Q);
  const r = await postJson(Q, '/api/train', { epochs: 2, batch: 50, hidden: 32, lr: 0.1, momentum: 0.9, seed: 7 });
  check(r.status === 202, `train accepted on the CPU engine: ${r.body}`);
  await until('the CPU run done', () => es.find('status', (x) => x.status === 'done' && x.run === 1), 60000);
  const eps = es.of('epoch').map((e) => e.json);
  check(eps.length === 2 && eps[1].test_accuracy > 0.8 && eps[1].confusion.flat().reduce((a, b) => a + b, 0) === 10000,
    `the CPU engine learns: ${JSON.stringify(eps.map((e) => e.test_accuracy))}`);
  check(es.of('loss').length >= 2 && es.of('weights').length >= 1 && es.of('preview').length >= 1, 'loss, weights and previews stream from the CPU engine');
  const pr = await postJson(Q, '/api/predict', { indices: [0, 1] });
  check(pr.status === 200 && pr.json.predictions.length === 2 && pr.json.predictions[0].probs.length === 10, `predict on the CPU engine: ${pr.body}`);
  es.close();
  const auto = await startServer(['--train-limit', '200']);
  const a = (await state(auto.port)).device;
  const devs = JSON.parse(await new Promise((resolve) => {
    const p = spawn(BIN, ['devices', '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let o = ''; p.stdout.on('data', (x) => { o += x; }); p.on('exit', () => resolve(o));
  }));
  const want = devs.at(-1).auto ? 'cpu' : 'gpu';
  check(a.engine === want, `--device auto serves on the engine 'devices' names (${want}): ${JSON.stringify(a)}`);
  check((await stopServer(auto)) === '0' && (await stopServer(s)) === '0', 'the CPU-engine servers exit cleanly');
}

// idle timeouts and the connection limit
{
  const s = await startServer(['--train-limit', '200', '--timeout-s', '2', '--max-connections', '8']);
  const Q = s.port;
  let t = Date.now();
  const idle = await raw(Q, '', 15000);
  check(idle.closed && Date.now() - t < 8000, `an idle connection is closed (${Date.now() - t} ms)`);
  t = Date.now();
  const partial = await raw(Q, 'GET /api/state HTTP/1.1\r\nHost: 127', 15000);
  check(partial.closed && Date.now() - t < 8000, `a half-sent request is closed (${Date.now() - t} ms)`);
  const es = new SseClient(Q);
  await sleep(4500);
  check(!es.ended && es.of(':comment').length >= 2, `an SSE stream outlives the idle timeout with keep-alives (${es.of(':comment').length})`);
  const holders = Array.from({ length: 7 }, () => new SseClient(Q));
  await until('8 streams open', () => holders.every((h) => h.open), 10000);
  const refused = await raw(Q, `GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:${Q}\r\n\r\n`, 5000);
  check(refused.closed && !/^HTTP\/1\.1 200/.test(refused.data), `the connection over the limit is refused (${JSON.stringify(refused.data.slice(0, 30))})`);
  for (const h of holders) h.close();
  es.close();
  await until('a slot again', async () => {
    try { return (await request(Q, { path: '/api/state' })).status === 200; } catch { return false; }
  }, 10000, 200);
  check(true, 'connections are accepted again below the limit');
  const code = await stopServer(s);
  check(code === '0', `second server: clean exit 0, got ${code}: ${s.err.slice(-3000)}`);
}

// the run history: every dashboard run is recorded; GET /api/runs, GET and DELETE /api/runs/ID
// and their bad requests (the history lives under build/, never in the home folder)
{
  const fs = await import('node:fs');
  const dir = `${process.cwd()}/build/test-runs-api`;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const s = await startServer(['--train-limit', '1000', '--report-every', '4', '--runs-db', `${dir}/runs.db`]);
  const Q = s.port;
  const empty = await request(Q, { path: '/api/runs' });
  check(empty.status === 200 && empty.json.enabled === true && empty.json.runs.length === 0, `no runs yet: ${empty.body}`);
  check((await postJson(Q, '/api/train', { epochs: 1, batch: 50 })).status === 202, 'a run starts');
  // paused, the run is still being recorded when the DELETE comes: its 20 steps alone could end
  // first, and the DELETE would then take the run out of the history the checks below read
  await until('the pause to be taken', async () => (await postJson(Q, '/api/pause', {})).status === 200, 30000, 10);
  await until('the run to pause', async () => (await request(Q, { path: '/api/state' })).json.state.status === 'paused', 30000);
  await until('the run to be listed', async () => (await request(Q, { path: '/api/runs' })).json.runs.length === 1, 30000);
  const live = (await request(Q, { path: '/api/runs' })).json.runs[0];
  const del409 = await request(Q, { method: 'DELETE', path: `/api/runs/${live.id}` });
  check(del409.status === 409 && /is being recorded/.test(del409.json.error), `DELETE of the run being recorded: ${del409.status} ${del409.body}`);
  check((await postJson(Q, '/api/resume', {})).status === 200, 'the paused run resumes');
  await until('the run to end', async () => (await request(Q, { path: '/api/state' })).json.state.status === 'done', 60000);
  await until('the history to hold the end', async () => (await request(Q, { path: '/api/runs' })).json.runs[0].status === 'done', 10000);
  const list = (await request(Q, { path: '/api/runs' })).json.runs;
  const state = (await request(Q, { path: '/api/state' })).json;
  check(list.length === 1 && list[0].source === 'server' && list[0].model === '128' && list[0].epochs === 1 &&
    Math.abs(list[0].final_accuracy - state.epochs[0].test_accuracy) < 1e-6, `the list: ${JSON.stringify(list)}`);
  const one = await request(Q, { path: `/api/runs/${list[0].id}` });
  const kinds = (k) => one.json.records.filter((r) => r.kind === k);
  check(one.status === 200 && one.json.run.config.batch === 50 && kinds('progress').length === state.points.length &&
    kinds('epoch').length === 1 && one.json.weights && one.json.run.device.name === state.device.name,
    `GET /api/runs/ID: config, ${kinds('progress').length} reports (${state.points.length} in the state), an epoch, weights, device`);
  for (const [p, why] of [['/api/runs/abc', 'letters'], ['/api/runs/0', 'zero'], ['/api/runs/01', 'a leading zero'], ['/api/runs/', 'no id'],
    ['/api/runs/1/x', 'a sub-path'], ['/api/runs/99999999999', 'too large']]) {
    const r = await request(Q, { path: p });
    check(r.status === 400 && r.json.status === 400 && r.json.field === 'id' && /a run id is a whole number/.test(r.json.error), `GET ${p} (${why}): ${r.status} ${r.body}`);
  }
  const r404 = await request(Q, { path: '/api/runs/12345' });
  check(r404.status === 404 && /no run 12345/.test(r404.json.error), `unknown id: ${r404.status} ${r404.body}`);
  const d404 = await request(Q, { method: 'DELETE', path: '/api/runs/12345' });
  check(d404.status === 404, `DELETE of an unknown id: ${d404.status}`);
  const d400 = await request(Q, { method: 'DELETE', path: '/api/runs/x' });
  check(d400.status === 400, `DELETE of a bad id: ${d400.status}`);
  const put = await request(Q, { method: 'PUT', path: `/api/runs/${list[0].id}` });
  check(put.status === 405 && put.headers.allow === 'GET, HEAD, DELETE', `PUT /api/runs/ID: ${put.status}, Allow ${put.headers.allow}`);
  const post = await postJson(Q, '/api/runs', {});
  check(post.status === 405 && post.headers.allow === 'GET, HEAD', `POST /api/runs: ${post.status}, Allow ${post.headers.allow}`);
  const dl = await request(Q, { method: 'DELETE', path: '/api/runs' });
  check(dl.status === 405, `DELETE /api/runs (the list): ${dl.status}`);
  const q = await request(Q, { path: '/api/runs?limit=3' });
  check(q.status === 400 && q.json.field === 'limit', `an unknown query parameter: ${q.status}`);
  const gone = await request(Q, { method: 'DELETE', path: `/api/runs/${list[0].id}` });
  check(gone.status === 200 && gone.json.deleted === list[0].id, `DELETE /api/runs/ID: ${gone.status} ${gone.body}`);
  check((await request(Q, { path: `/api/runs/${list[0].id}` })).status === 404 && (await request(Q, { path: '/api/runs' })).json.runs.length === 0,
    'deleted: 404, and the list is empty');
  check(await stopServer(s) === '0', 'history server: clean exit');
  const off = await startServer(['--train-limit', '200', '--no-history']);
  const o1 = await request(off.port, { path: '/api/runs' });
  const o2 = await request(off.port, { path: '/api/runs/1' });
  check(o1.status === 200 && o1.json.enabled === false && o2.status === 404, `--no-history: ${o1.body} / ${o2.status}`);
  await stopServer(off);
  fs.writeFileSync(`${dir}/noise.db`, Buffer.from('not a database, not at all'.repeat(200)));
  const bad = spawn(BIN, ['serve', '--port', '0', '--runs-db', `${dir}/noise.db`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let berr = '';
  bad.stderr.on('data', (d) => { berr += d; });
  const bcode = await new Promise((r) => bad.on('exit', r));
  check(bcode === 1 && /^wgtrain: serve: .*noise\.db: not a wgtrain run history \(not an SQLite database\)/.test(berr) && berr.trim().split('\n').length === 1,
    `serve on a corrupt history: exit ${bcode}, ${berr.trim()}`);
}

console.log(`server_api: ${checks} checks passed`);
process.exit(0);
EOF
