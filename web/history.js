/* The run history panel: the runs of the active trainer, listed, overlaid on two comparison
 * charts (loss and accuracy, one line per checked run), deleted, and exported as the
 * self-contained HTML report (report.html with the run's data inlined, as `wgtrain runs export
 * --format html` writes it).
 *
 *   server trainer   `wgtrain serve` records every run (SQLite): GET /api/runs, GET and
 *                    DELETE /api/runs/ID
 *   browser trainer  this page records its own runs in IndexedDB (database "wgtrain", stores
 *                    "runs" and "records"), from the same events the panels draw
 *
 * A run reads the same either way: {run: {id, created, source, status, model, optimizer,
 * epochs, final_accuracy, model_path, config, device}, records: [{kind, data}], weights}. */
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const SLOT = '__WGTRAIN_RUN_DATA__';
  const COLORS = ['#5b9bff', '#f5b041', '#3ecf8e', '#e74c8b', '#b08cff', '#4dd0e1', '#ff8a65', '#c5e1a5'];
  const pct = (x) => (typeof x === 'number' ? (100 * x).toFixed(2) + '%' : '–');
  const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

  // ---------------------------------------------------------------- stores
  class ServerRuns {
    async call(method, path) {
      try {
        const res = await fetch(path, { method });
        const data = await res.json().catch(() => null);
        return { ok: res.ok, status: res.status, data };
      } catch (e) {
        return { ok: false, status: 0, data: { error: 'the server cannot be reached' } };
      }
    }
    async list() {
      const r = await this.call('GET', '/api/runs');
      if (!r.ok) throw new Error((r.data && r.data.error) || `the server answered ${r.status}`);
      return { enabled: r.data.enabled, runs: r.data.runs };
    }
    async get(id) {
      const r = await this.call('GET', `/api/runs/${id}`);
      if (!r.ok) throw new Error((r.data && r.data.error) || `the server answered ${r.status}`);
      return r.data;
    }
    async remove(id) {
      const r = await this.call('DELETE', `/api/runs/${id}`);
      if (!r.ok) throw new Error((r.data && r.data.error) || `the server answered ${r.status}`);
    }
  }

  const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
  const done = (tx) => new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = tx.onabort = () => reject(tx.error); });

  class BrowserRuns {
    constructor() { this.db = null; }
    open() {
      if (!this.db) {
        const r = indexedDB.open('wgtrain', 1);
        r.onupgradeneeded = () => {
          const db = r.result;
          db.createObjectStore('runs', { keyPath: 'id', autoIncrement: true });
          db.createObjectStore('records', { autoIncrement: true }).createIndex('run', 'run');
        };
        this.db = req(r);
      }
      return this.db;
    }
    async list() {
      const db = await this.open();
      const runs = await req(db.transaction('runs').objectStore('runs').getAll());
      return { enabled: true, runs: runs.reverse().map(({ config, device, weights, ...row }) => row) };
    }
    async get(id) {
      const db = await this.open();
      const tx = db.transaction(['runs', 'records']);
      const run = await req(tx.objectStore('runs').get(id));
      if (!run) throw new Error(`no run ${id} in this browser's history`);
      const recs = await req(tx.objectStore('records').index('run').getAll(id));
      const { weights, ...head } = run;
      return { run: head, records: recs.map((r) => ({ kind: r.kind, data: r.data })), weights: weights || null };
    }
    async remove(id) {
      const db = await this.open();
      const tx = db.transaction(['runs', 'records'], 'readwrite');
      tx.objectStore('runs').delete(id);
      const idx = tx.objectStore('records').index('run');
      const keys = await req(idx.getAllKeys(id));
      for (const k of keys) tx.objectStore('records').delete(k);
      await done(tx);
    }
    async begin(config, device) {
      const db = await this.open();
      const tx = db.transaction('runs', 'readwrite');
      const id = await req(tx.objectStore('runs').add({ created: now(), source: 'browser', status: 'running', model: config.hidden,
        optimizer: config.optimizer, epochs: config.epochs, final_accuracy: null, model_path: null, config, device, finished: null }));
      await done(tx);
      return id;
    }
    async record(run, kind, data) {
      const db = await this.open();
      const tx = db.transaction('records', 'readwrite');
      tx.objectStore('records').add({ run, kind, data });
      await done(tx);
    }
    async finish(id, status, accuracy, weights) {
      const db = await this.open();
      const tx = db.transaction('runs', 'readwrite');
      const store = tx.objectStore('runs');
      const run = await req(store.get(id));
      if (run) store.put({ ...run, status, final_accuracy: accuracy, finished: now(), weights: weights || null });
      await done(tx);
    }
  }

  // ---------------------------------------------------------------- recording (browser trainer)
  // Events come in order; each write waits for the one before (the run's id first).
  const rec = { chain: Promise.resolve(), id: null, device: null, shape: null, weights: null, lastAcc: null, active: false };
  const later = (fn) => { rec.chain = rec.chain.then(fn).catch((e) => console.error('wgtrain history:', e)); return rec.chain; };

  function recordEvent(name, d) {
    if (name === 'state') {
      rec.device = d.device || null;
      rec.shape = d.data || null;
    } else if (name === 'run' && d.run) {
      const cfg = { ...d.run };
      delete cfg.id;
      if (rec.shape) Object.assign(cfg, { rows: rec.shape.rows, cols: rec.shape.cols, classes: rec.shape.classes });
      rec.active = true;
      rec.weights = null;
      rec.lastAcc = null;
      later(async () => { rec.id = await store.begin(cfg, rec.device); });
      later(() => store.record(rec.id, 'event', { event: 'start' }));
    } else if (!rec.active) {
      // nothing: no run being recorded
    } else if (name === 'loss') {
      later(() => store.record(rec.id, 'progress', d));
    } else if (name === 'epoch') {
      rec.lastAcc = d.test_accuracy;
      later(() => store.record(rec.id, 'epoch', d));
    } else if (name === 'edit') {
      later(() => store.record(rec.id, 'event', d)); /* a live edit: {event: 'edit', step, x, lr?, momentum?, ...} */
    } else if (name === 'health' || (name === 'kernel_times' && Array.isArray(d.kernels))) {
      later(() => store.record(rec.id, name, d)); /* the report's health panel, its timed step's kernels */
    } else if (name === 'weights') {
      rec.weights = d;
    } else if (name === 'status' && ['done', 'stopped', 'error'].includes(d.status)) {
      rec.active = false;
      const { lastAcc, weights } = rec;
      later(() => store.record(rec.id, 'event', { event: d.status, message: d.message || '' }));
      later(() => store.finish(rec.id, d.status, lastAcc, weights));
      later(refresh);
    }
  }

  // ---------------------------------------------------------------- the panel
  let store = null;
  let kind = null;
  const selected = new Map(); // id -> the run's full object
  let runs = [];

  const axis = (label, values) => ({ label, values, stroke: '#8d96a8', labelSize: 18, size: 46,
    grid: { stroke: 'rgba(255,255,255,0.06)', width: 1 }, ticks: { stroke: 'rgba(255,255,255,0.14)', width: 1, size: 4 },
    font: '11px system-ui, sans-serif', labelFont: '12px system-ui, sans-serif' });
  let lossPlot = null, accPlot = null;

  // both charts span the same epochs, from 0 to the furthest report of any run shown, so that a
  // run's per-epoch accuracy and its edits (made between epochs) line up with its loss curve
  function plot(container, prev, yAxis, series, tables, marks, xMax) {
    if (prev) prev.destroy();
    container.replaceChildren();
    if (!tables.length) return null;
    const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    return new uPlot({ width: Math.max(container.clientWidth, 240), height: 220,
      scales: { x: { time: false, range: () => [0, xMax > 0 ? xMax : 1] } },
      plugins: [window.WgMarks.plugin(() => marks)],
      axes: [axis('epoch'), yAxis], series: [{ label: 'epoch' }, ...series] }, data, container);
  }

  // one line per checked run: the training loss at every report, the test accuracy per epoch
  function drawCompare() {
    const chosen = [...selected.entries()];
    $('hist-compare').hidden = chosen.length === 0;
    const series = [], lossT = [], accS = [], accT = [], marks = [];
    chosen.forEach(([id, all], i) => {
      /* each run's live edits, labelled with the run when several are overlaid */
      marks.push(...window.WgMarks.fromRecords(all.records, chosen.length > 1 ? `run ${id}: ` : ''));
      const color = COLORS[i % COLORS.length];
      const prog = all.records.filter((r) => r.kind === 'progress').map((r) => r.data);
      const eps = all.records.filter((r) => r.kind === 'epoch').map((r) => r.data);
      lossT.push([prog.map((p) => p.x), prog.map((p) => p.loss)]);
      series.push({ label: `run ${id} loss`, stroke: color, width: 2, spanGaps: true });
      accT.push([eps.map((e) => (e.partial ? e.x : e.epoch)), eps.map((e) => e.test_accuracy)]);
      accS.push({ label: `run ${id} test acc`, stroke: color, width: 2, spanGaps: true, points: { show: true, size: 6, fill: color } });
    });
    const xMax = Math.max(0, ...lossT.flatMap((t) => t[0]), ...accT.flatMap((t) => t[0]));
    lossPlot = plot($('hist-loss'), lossPlot, axis('loss', (u, v) => v.map((x) => x.toFixed(2))), series, lossT, marks, xMax);
    accPlot = plot($('hist-acc'), accPlot, axis('test accuracy', (u, v) => v.map((x) => (100 * x).toFixed(1) + '%')), accS, accT, marks, xMax);
    api.lossPlot = lossPlot;
    api.accPlot = accPlot;
  }

  function setNote(text, isError = false) {
    const n = $('hist-note');
    n.textContent = text;
    n.classList.toggle('error', isError);
  }

  async function refresh() {
    if (!store) return;
    let r;
    try { r = await store.list(); } catch (e) { setNote(String(e.message || e), true); return; }
    runs = r.runs;
    for (const id of [...selected.keys()]) if (!runs.some((x) => x.id === id)) selected.delete(id);
    const body = $('hist-rows');
    body.replaceChildren();
    for (const run of runs) {
      const tr = document.createElement('tr');
      tr.dataset.id = run.id;
      const cb = document.createElement('input');
      cb.type = 'checkbox';
      cb.checked = selected.has(run.id);
      cb.setAttribute('aria-label', `overlay run ${run.id}`);
      cb.addEventListener('change', () => toggle(run.id, cb.checked));
      const cells = [cb, String(run.id), (run.created || '').replace('T', ' ').replace('Z', ''), run.model ?? '?', run.optimizer ?? '?',
        String(run.epochs ?? '?'), pct(run.final_accuracy), run.model_path || (run.status === 'done' ? '–' : run.status)];
      for (const c of cells) {
        const td = document.createElement('td');
        td.append(c);
        tr.append(td);
      }
      const actions = document.createElement('td');
      const rep = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Report', className: 'hist-report' });
      rep.addEventListener('click', () => downloadReport(run.id));
      const del = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Delete', className: 'hist-delete danger' });
      del.addEventListener('click', () => {
        if (del.dataset.armed !== '1') { del.dataset.armed = '1'; del.textContent = 'Delete?'; return; }
        remove(run.id);
      });
      actions.append(rep, ' ', del);
      tr.append(actions);
      body.append(tr);
    }
    $('hist-empty').hidden = runs.length > 0;
    $('hist-empty').textContent = r.enabled ? 'No run recorded yet: each run is recorded here as it trains.'
      : 'The server records no history (it runs with --no-history).';
    setNote(runs.length ? `${runs.length} run${runs.length === 1 ? '' : 's'} · check two or more to overlay them` : '');
    drawCompare();
  }

  async function toggle(id, on) {
    if (!on) selected.delete(id);
    else {
      try { selected.set(id, await store.get(id)); } catch (e) { setNote(String(e.message || e), true); return; }
    }
    drawCompare();
  }

  async function remove(id) {
    try { await store.remove(id); } catch (e) { setNote(String(e.message || e), true); return; }
    selected.delete(id);
    await refresh();
    setNote(`Deleted run ${id}.`);
  }

  // the run's report: report.html with its data inlined, as `wgtrain runs export --format html`
  async function reportHtml(id) {
    const [res, all] = await Promise.all([fetch('report.html'), store.get(id)]);
    if (!res.ok) throw new Error(`report.html: the server answered ${res.status}`);
    const template = await res.text();
    if (!template.includes(SLOT)) throw new Error('report.html has no place for the data');
    return template.replace(SLOT, () => JSON.stringify(all).replace(/</g, '\\u003c'));
  }

  async function downloadReport(id) {
    let html;
    try { html = await reportHtml(id); } catch (e) { setNote(String(e.message || e), true); return; }
    const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
    const a = Object.assign(document.createElement('a'), { href: url, download: `wgtrain-run-${kind}-${id}.html` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    setNote(`Report of run ${id} saved: one HTML file that opens offline.`);
  }

  const api = {
    // the trainer changed: its history is listed
    use(k) {
      kind = k;
      store = k === 'server' ? new ServerRuns() : new BrowserRuns();
      selected.clear();
      rec.active = false;
      $('hist-where').textContent = k === 'server' ? 'recorded by wgtrain serve' : "recorded in this browser (IndexedDB)";
      refresh();
    },
    // the trainer's event handlers, with the history listening in
    tap(handlers) {
      const out = { ...handlers };
      for (const name of ['state', 'run', 'loss', 'epoch', 'weights', 'status', 'edit', 'health', 'kernel_times']) {
        const h = handlers[name];
        out[name] = (d, ...rest) => {
          if (kind === 'browser') recordEvent(name, d);
          else if (name === 'status' && ['done', 'stopped', 'error'].includes(d.status)) setTimeout(refresh, 300);
          else if (name === 'run') setTimeout(refresh, 300);
          return h && h(d, ...rest);
        };
      }
      return out;
    },
    refresh, reportHtml, flush: () => rec.chain, selected, lossPlot: null, accPlot: null,
  };
  window.WgHistory = api;
})();
