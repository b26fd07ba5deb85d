/* The two trainers behind the dashboard, with one interface:
 *
 *   BrowserTrainer  this browser's GPU: the wgtrain engine compiled to wasm32, in a dedicated
 *                   Worker (engine_worker.js), on navigator.gpu
 *   ServerTrainer   the server's GPU: `wgtrain serve`'s SSE stream and JSON API
 *
 * Both deliver the same events (state, run, status, loss, epoch, weights, preview) in the same
 * shapes, and answer the same requests (post('/api/train', body), get('/api/confusion', query),
 * ...) with {ok, status, data}, so every panel of app.js works with either. */
'use strict';
(() => {
  const EVENTS = ['state', 'device', 'run', 'status', 'loss', 'epoch', 'weights', 'preview', 'check', 'reopened', 'edit', 'kernel_times', 'health'];

  class ServerTrainer {
    constructor() {
      this.kind = 'server';
      this.es = null;
      this.retry = null;
    }

    // Is this page served by `wgtrain serve`? (A static server answers 404 or HTML.)
    static async available() {
      try {
        const res = await fetch('/api/state', { headers: { Accept: 'application/json' } });
        return res.ok && (res.headers.get('Content-Type') || '').startsWith('application/json');
      } catch (err) {
        return false;
      }
    }

    connect(on) {
      this.on = on;
      const open = () => {
        on.conn('connecting', 'connecting…');
        const es = new EventSource('/api/events');
        this.es = es;
        es.onopen = () => on.conn('live', 'live');
        es.onerror = () => {
          if (es.readyState === EventSource.CLOSED) {
            on.conn('lost', 'disconnected, retrying…');
            this.retry = setTimeout(open, 3000);
          } else on.conn('connecting', 'reconnecting…');
        };
        for (const name of EVENTS) es.addEventListener(name, (ev) => on[name] && on[name](JSON.parse(ev.data)));
      };
      open();
    }

    close() {
      clearTimeout(this.retry);
      if (this.es) this.es.close();
      this.es = null;
    }

    async request(method, path, body) {
      let res;
      try {
        res = await fetch(path, method === 'GET' ? {} : {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}),
        });
      } catch (err) {
        return { ok: false, status: 0, data: { error: 'the server cannot be reached' } };
      }
      let data = null;
      try { data = await res.json(); } catch (err) { data = null; }
      return { ok: res.ok, status: res.status, data };
    }

    post(path, body) {
      const { trainLimit, kernels, ...rest } = body || {};
      return this.request('POST', path, rest);
    }

    get(path, query) {
      return this.request('GET', `${path}?${new URLSearchParams(query)}`);
    }
  }

  class BrowserTrainer {
    constructor() {
      this.kind = 'browser';
      this.worker = null;
      this.nextId = 1;
      this.pending = new Map();
      this.device = null;
      this.ready = null;
    }

    // A one-line reason why this browser cannot run the engine, or '' when it can.
    static unsupported() {
      // without WebGPU the engine trains on the CPU (engine_worker.js), unless ?device=gpu asks for it
      if (!('gpu' in navigator) && BrowserTrainer.deviceChoice() === 'gpu') return 'this browser has no WebGPU (navigator.gpu is missing)';
      if (typeof WebAssembly !== 'object' || typeof WebAssembly.Suspending !== 'function' ||
          typeof WebAssembly.promising !== 'function')
        return 'this browser lacks WebAssembly JSPI (WebAssembly.Suspending), which the engine needs (Chromium 137 or later has it)';
      return '';
    }

    // ?device=auto|gpu|cpu: the engine (auto: the CPU engine without WebGPU or on a software adapter)
    static deviceChoice() { return new URLSearchParams(location.search).get('device') || 'auto'; }

    connect(on) {
      this.on = on;
      on.conn('connecting', BrowserTrainer.deviceChoice() === 'cpu' ? 'starting the CPU engine…' : 'starting WebGPU…');
      this.worker = new Worker('engine_worker.js', { type: 'module' });
      this.ready = new Promise((resolve) => { this.resolveReady = resolve; });
      this.worker.onerror = (ev) => {
        ev.preventDefault();
        this.fail(`the engine's worker failed to start: ${ev.message || 'see the console'}`);
      };
      this.worker.onmessage = (ev) => this.receive(ev.data);
      this.worker.postMessage({ type: 'init', data: 'data/', device: BrowserTrainer.deviceChoice() });
    }

    fail(message) {
      this.on.conn('lost', 'not available');
      this.on.fatal(message);
      for (const resolve of this.pending.values()) resolve({ ok: false, status: 503, data: { error: message } });
      this.pending.clear();
      this.resolveReady(false);
    }

    receive(m) {
      if (m.type === 'event') {
        const fn = this.on[m.name];
        if (fn) fn(JSON.parse(m.data));
      } else if (m.type === 'reply') {
        const resolve = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (resolve) resolve({ ok: m.status >= 200 && m.status < 300, status: m.status, data: m.data });
      } else if (m.type === 'progress') {
        this.on.conn('connecting', m.message);
      } else if (m.type === 'ready') {
        this.device = m.device;
        this.on.conn('live', 'this browser');
        this.on.state(m.state, m.device);
        this.resolveReady(true);
      } else if (m.type === 'fatal') {
        this.fail(m.message);
      }
    }

    close() {
      if (this.worker) this.worker.terminate();
      this.worker = null;
    }

    call(type, fields = {}, transfer = []) {
      if (!this.worker) return Promise.resolve({ ok: false, status: 503, data: { error: 'the browser trainer is not running' } });
      const id = this.nextId++;
      return new Promise((resolve) => {
        this.pending.set(id, resolve);
        this.worker.postMessage({ type, id, ...fields }, transfer);
      });
    }

    post(path, body = {}) {
      switch (path) {
        case '/api/train': {
          const { trainLimit, kernels, ...rest } = body;
          return this.call('train', { body: rest, trainLimit: trainLimit || 0, kernels });
        }
        case '/api/pause': return this.call('control', { op: 'pause' });
        case '/api/resume': return this.call('control', { op: 'resume' });
        case '/api/stop': return this.call('control', { op: 'stop' });
        // a live edit: answered at the run's next report (web_host.c's serve_edit), as the server does
        case '/api/train/edit': return this.call('edit', { bytes: new TextEncoder().encode(JSON.stringify(body)) });
        case '/api/predict':
          return body.pixels ? this.call('predict_pixels', { pixels: Uint8Array.from(body.pixels) })
            : this.call('predict_indices', { indices: body.indices });
        default: return Promise.resolve({ ok: false, status: 404, data: { error: `no such request: ${path}` } });
      }
    }

    get(path, query = {}) {
      if (path === '/api/confusion')
        return this.call('confusion', { label: +query.label, pred: +query.pred, limit: +(query.limit || 100) });
      if (path === '/api/digits')
        return this.call('digits', { indices: String(query.indices).split(',').map(Number) });
      return Promise.resolve({ ok: false, status: 404, data: { error: `no such request: ${path}` } });
    }

    // safetensors bytes of the current model, as `wgtrain train --save` writes them
    async saveModel() {
      const r = await this.call('save');
      return r.ok ? { ok: true, bytes: new Uint8Array(r.data) } : r;
    }

    loadModel(bytes) { return this.call('load', { bytes }); }

    // four IDX files (raw or gzip), in the order train images, train labels, test images, test labels
    loadData(buffers) { return this.call('data', { files: buffers }, buffers); }

    check(seed = 1) { return this.call('check', { seed }); }

    // The browser's --kernels-dir: replace one kernel's WGSL (null restores the embedded one),
    // e.g. wgtrain.trainer.setKernel('dense_forward.wgsl', source) on the console.
    setKernel(name, source) { return this.call('kernel', { name, source }); }
  }

  window.WgTrainers = { ServerTrainer, BrowserTrainer };
})();
