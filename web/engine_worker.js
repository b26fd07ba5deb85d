// The browser trainer: the wgtrain engine compiled to wasm32 (src/web/web_host.c), running in
// this dedicated Worker so that the page never freezes, on the browser's WebGPU through
// webgpu_bridge.js. The page talks to it with messages (web/trainers.js):
//
//   page -> worker  {type: 'init', data}                 open WebGPU, load the four IDX files
//                   {type: 'data', files}                the user's own four IDX files (raw or .gz)
//                   {type: 'call', id, op, ...}          train, control, predict, confusion, digits,
//                                                        save, load, edit (a live edit), check, state
//   worker -> page  {type: 'event', name, data}          the dashboard events, in the server's shapes
//                   {type: 'reply', id, status, data}    the answer to a call
//                   {type: 'ready', state, device}       after init
//                   {type: 'fatal', message}             WebGPU or the engine cannot run here
//
// JSPI: exports that may wait on the GPU are called through WebAssembly.promising, and the
// imports that wait (wgpuInstanceWaitAny, host_poll) are WebAssembly.Suspending. One such call
// runs at a time (the queue below); requests that arrive during a training run are answered by
// the run itself, at its next progress report (host_poll), as `wgtrain serve` does.
import { createBridge } from './webgpu_bridge.js';

const OPS = { predict_pixels: 1, predict_indices: 2, confusion: 3, digits: 4, save: 5, load: 6, edit: 7 };
const CONTROL = { pause: 1, resume: 2, stop: 3 };
// bytes of pixels a predict request carries (web_host.c WEB_PIXELS_BYTES: the largest image)
const PIXELS_BYTES = 65536;

let wasm = null;     // instance exports
let calls = null;    // the promising exports
let bridge = null;
let busy = Promise.resolve(); // the one top-level engine call at a time
let inRun = false;
let pendingTrain = null; // the id of a train call not answered yet
const queue = [];    // requests waiting for the engine: {id, op, args}
let wake = null;     // resolves host_poll(block=1)
const utf8 = new TextEncoder();
const text = new TextDecoder();

const post = (msg, transfer) => self.postMessage(msg, transfer || []);
const reply = (id, status, data, transfer) => post({ type: 'reply', id, status, data }, transfer);

function cString(ptr) {
  const m = new Uint8Array(wasm.memory.buffer);
  let e = ptr;
  while (m[e]) e++;
  return text.decode(m.subarray(ptr, e));
}
const lastError = () => cString(wasm.wg_error());
const result = () => text.decode(new Uint8Array(wasm.memory.buffer, wasm.wg_result(), wasm.wg_result_len()));

function copyIn(bytes) {
  const p = wasm.malloc(Math.max(1, bytes.length));
  new Uint8Array(wasm.memory.buffer).set(bytes, p);
  return p;
}

// ---- WASI: wasi-libc needs a few imports (stdout/stderr writes, closes, seeks) ----
function wasiShim() {
  const lines = { 1: '', 2: '' };
  return {
    fd_write(fd, iovs, count, written) {
      const dv = new DataView(wasm.memory.buffer);
      let n = 0;
      for (let i = 0; i < count; i++) {
        const p = dv.getUint32(iovs + 8 * i, true);
        const len = dv.getUint32(iovs + 8 * i + 4, true);
        lines[fd] = (lines[fd] ?? '') + text.decode(new Uint8Array(wasm.memory.buffer, p, len));
        n += len;
      }
      const parts = lines[fd].split('\n');
      lines[fd] = parts.pop();
      for (const line of parts) (fd === 2 ? console.error : console.log)('wgtrain:', line);
      dv.setUint32(written, n, true);
      return 0;
    },
    fd_close: () => 0,
    fd_seek: () => 70, // ESPIPE: stdout and stderr are not seekable
    fd_fdstat_get: () => 8, // EBADF: no files here
  };
}

// ---- the host's imports (src/web/web_host.c) ----
const host = {
  host_event(namePtr, json, len) {
    const name = cString(namePtr);
    const data = text.decode(new Uint8Array(wasm.memory.buffer, json, len));
    post({ type: 'event', name, data });
    if (name === 'status') runFailed = /"status":"error"/.test(data);
    // the run's first event answers the train call (202), as POST /api/train does
    if (name === 'run' && pendingTrain !== null) {
      reply(pendingTrain, 202, { ok: true });
      pendingTrain = null;
    }
  },
  host_now: () => performance.now(),
  // SHA-256 of saved and loaded models (ckpt_sha256), by WebCrypto: suspending, its answer is a Promise
  async host_sha256(data, len, out) {
    const digest = await crypto.subtle.digest('SHA-256', new Uint8Array(wasm.memory.buffer, data, len).slice());
    new Uint8Array(wasm.memory.buffer, out, 32).set(new Uint8Array(digest));
  },
  // Gives the event loop a turn (a macrotask, so that messages are delivered); with block set,
  // waits for the next message. Returns how many requests wait.
  host_poll(block) {
    if (queue.length) return Promise.resolve(queue.length);
    return new Promise((resolve) => {
      if (block) wake = () => resolve(queue.length);
      else {
        const ch = new MessageChannel();
        ch.port1.onmessage = () => resolve(queue.length);
        ch.port2.postMessage(0);
      }
    });
  },
  host_request(head, indices, pixels, bytesOut, lenOut) {
    const rq = queue.shift();
    if (!rq) return 0;
    const items = rq.indices ?? [];
    const fields = [rq.op, rq.id, rq.label ?? 0, rq.pred ?? 0, rq.limit ?? 100, rq.pixels ? Math.min(rq.pixels.length, PIXELS_BYTES) : items.length];
    const file = rq.bytes ? copyIn(rq.bytes) : 0; // before the views: malloc may grow the memory
    const dv = new DataView(wasm.memory.buffer);
    fields.forEach((v, i) => dv.setUint32(head + 4 * i, v, true));
    items.forEach((v, i) => dv.setUint32(indices + 4 * i, v, true));
    if (rq.pixels) new Uint8Array(wasm.memory.buffer).set(rq.pixels.slice(0, PIXELS_BYTES), pixels);
    dv.setUint32(bytesOut, file, true);
    dv.setUint32(lenOut, rq.bytes ? rq.bytes.length : 0, true);
    return 1;
  },
  host_reply(id, status, json, len) {
    reply(id, status, JSON.parse(text.decode(new Uint8Array(wasm.memory.buffer, json, len))));
  },
  host_reply_bytes(id, data, len) {
    const bytes = new Uint8Array(wasm.memory.buffer, data, len).slice();
    reply(id, 200, bytes.buffer, [bytes.buffer]);
  },
};

function enqueue(fn) {
  const p = busy.then(fn);
  busy = p.catch(() => {});
  return p;
}

async function inflate(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function setData(files) {
  const parts = await Promise.all(files.map(inflate));
  const ptrs = parts.map(copyIn);
  const rc = wasm.wg_set_data(ptrs[0], parts[0].length, ptrs[1], parts[1].length, ptrs[2], parts[2].length, ptrs[3], parts[3].length);
  if (rc !== 0) throw new Error(lastError());
  return JSON.parse(cString(wasm.wg_state_json()));
}

// A CPU that emulates a GPU (SwiftShader, lavapipe/llvmpipe): by the adapter's own word
// (isFallbackAdapter) or by its name, as gpu_adapter_is_software does natively.
const isSoftware = (info) => !!info.isFallbackAdapter ||
  /swiftshader|llvmpipe|lavapipe|software/i.test([info.vendor, info.architecture, info.device, info.description].join(' '));

// The engine (msg.device: 'auto', the default, 'gpu' or 'cpu', from ?device=): auto trains on
// the CPU engine when there is no WebGPU, no adapter, or only a software adapter, where the
// WGSL kernels pay for emulated dispatches. Returns { engine, adapter, device } or throws the
// page's one-line reason.
async function chooseEngine(choice) {
  const cpu = (why) => ({ engine: 'cpu', adapter: null, device: { engine: 'cpu', why, vendor: '', architecture: '', isFallbackAdapter: false, description: '' } });
  if (choice === 'cpu') return cpu('chosen (?device=cpu)');
  if (!self.navigator.gpu) {
    if (choice === 'gpu') throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
    return cpu('this browser has no WebGPU');
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) {
    if (choice === 'gpu') throw new Error('the browser offers no WebGPU adapter (WebGPU is disabled, or no GPU or software adapter is available)');
    return cpu('the browser offers no WebGPU adapter');
  }
  const info = adapter.info || {};
  const device = { engine: 'gpu', vendor: info.vendor || '', architecture: info.architecture || '', isFallbackAdapter: !!info.isFallbackAdapter,
    description: info.description || '' };
  if (choice !== 'gpu' && isSoftware(info)) return { ...cpu(`the only WebGPU adapter is a software one (${info.architecture || info.vendor || 'fallback'})`), softwareAdapter: device };
  return { engine: 'gpu', adapter, device };
}

async function init(msg) {
  if (typeof WebAssembly.Suspending !== 'function' || typeof WebAssembly.promising !== 'function')
    throw new Error('this browser lacks WebAssembly JSPI (WebAssembly.Suspending), which the engine needs');
  const choice = msg.device || 'auto';
  if (!['auto', 'gpu', 'cpu'].includes(choice)) throw new Error(`?device= must be auto, gpu or cpu (got '${choice}')`);
  const { engine, adapter, device } = await chooseEngine(choice);
  bridge = createBridge({ adapter, onError: (e) => console.error('wgtrain bridge:', e) });
  const env = { ...bridge.imports, ...host };
  env.wgpuInstanceWaitAny = new WebAssembly.Suspending(bridge.imports.wgpuInstanceWaitAny);
  env.host_poll = new WebAssembly.Suspending(host.host_poll);
  env.host_sha256 = new WebAssembly.Suspending(host.host_sha256);
  const module = await WebAssembly.compileStreaming(fetch(msg.wasm || 'wgtrain.wasm'));
  const instance = await WebAssembly.instantiate(module, { env, wasi_snapshot_preview1: wasiShim() });
  wasm = instance.exports;
  bridge.bind(wasm);
  wasm._initialize();
  self.wgtrainBridge = bridge; // for the browser tests and the curious, as window.wgtrain on the page
  calls = {
    open: WebAssembly.promising(wasm.wg_open),
    train: WebAssembly.promising(wasm.wg_train),
    serve: WebAssembly.promising(wasm.wg_serve),
    check: WebAssembly.promising(wasm.wg_check),
  };
  if (engine === 'cpu' ? wasm.wg_open_cpu() !== 0 : (await enqueue(() => calls.open())) !== 0) throw new Error(lastError());
  post({ type: 'progress', message: 'loading MNIST…' });
  const base = msg.data || 'data/';
  const names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const files = await Promise.all(names.map(async (n) => {
    const res = await fetch(`${base}${n}.gz`);
    if (!res.ok) throw new Error(`${base}${n}.gz: the server answered ${res.status}`);
    return res.arrayBuffer();
  }));
  const state = await enqueue(() => setData(files));
  post({ type: 'ready', state, device });
}

function serveQueued() {
  if (!inRun && queue.length) enqueue(() => calls.serve());
}

async function train(msg) {
  if (inRun) return reply(msg.id, 409, { error: 'a run is in progress: stop it first', status: 409 });
  const body = utf8.encode(JSON.stringify(msg.body || {}));
  inRun = true;
  pendingTrain = msg.id;
  enqueue(async () => {
    const p = copyIn(body);
    try {
      const rc = await calls.train(p, body.length, msg.trainLimit || 0, { fused: 1, reference: 2 }[msg.kernels] || 0);
      if (rc !== 0) {
        const r = JSON.parse(result() || '{}');
        reply(msg.id, r.field ? 400 : 409, { error: r.error || lastError(), field: r.field || undefined, status: r.field ? 400 : 409 });
      }
    } catch (e) {
      post({ type: 'event', name: 'status', data: JSON.stringify({ status: 'error', message: String(e.message || e), pausing: false }) });
    } finally {
      wasm.free(p);
      inRun = false;
      if (runFailed) await reopenIfLost();
      serveQueued();
    }
  });
}

// After the device is lost, a new adapter and device, so that the page stays usable: the next
// Train starts on them (the data stays loaded).
let runFailed = false;
async function reopenIfLost() {
  runFailed = false;
  const device = bridge.devices.at(-1);
  const lost = device && await Promise.race([device.lost, new Promise((r) => setTimeout(() => r(null), 500))]);
  if (!lost) return;
  wasm.wg_close();
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return post({ type: 'fatal', message: 'the WebGPU device was lost, and the browser offers no adapter any more' });
  bridge.setAdapter(adapter);
  if ((await calls.open()) !== 0) return post({ type: 'fatal', message: lastError() });
  post({ type: 'event', name: 'reopened', data: JSON.stringify({ message: `the WebGPU device was lost (${lost.message || lost.reason}); a new one is ready` }) });
}

function onMessage(msg) {
  switch (msg.type) {
    case 'init':
      return init(msg).catch((e) => post({ type: 'fatal', message: String(e.message || e) }));
    case 'data':
      return enqueue(() => setData(msg.files)).then(
        (state) => reply(msg.id, 200, state),
        (e) => reply(msg.id, 400, { error: String(e.message || e), status: 400 }));
    case 'train':
      return train(msg);
    case 'control': {
      const rc = wasm ? wasm.wg_control(CONTROL[msg.op] || 0) : -1;
      return rc === 0 ? reply(msg.id, 200, { ok: true }) : reply(msg.id, 409, { error: `nothing to ${msg.op}`, status: 409 });
    }
    case 'kernel':
      return enqueue(async () => {
        const n = copyIn(utf8.encode(msg.name + '\0'));
        const src = msg.source == null ? 0 : copyIn(utf8.encode(msg.source + '\0'));
        const rc = wasm.wg_set_kernel(n, src);
        wasm.free(n);
        if (src) wasm.free(src);
        reply(msg.id, rc === 0 ? 200 : 400, rc === 0 ? { ok: true } : { error: lastError(), status: 400 });
      });
    case 'state':
      return reply(msg.id, 200, JSON.parse(cString(wasm.wg_state_json())));
    case 'check':
      return enqueue(async () => {
        const failures = await calls.check(msg.seed ?? 1);
        reply(msg.id, failures < 0 ? 409 : 200, failures < 0 ? { error: lastError() } : { failures });
      });
    default: {
      const op = OPS[msg.type];
      if (!op) return reply(msg.id, 400, { error: `unknown call ${msg.type}`, status: 400 });
      queue.push({ ...msg, op });
      if (wake) { const w = wake; wake = null; w(); }
      return serveQueued();
    }
  }
}

self.onmessage = (ev) => {
  const msg = ev.data;
  if (wake && msg.type === 'control') { const w = wake; wake = null; setTimeout(w, 0); }
  try {
    onMessage(msg);
  } catch (e) {
    if (msg.id !== undefined) reply(msg.id, 500, { error: String(e.message || e), status: 500 });
  }
};
