/* wgtrain dashboard: watches and steers a training run on one of two trainers (trainers.js):
 * this browser's GPU, through the engine compiled to WebAssembly in a Worker, or the server's
 * GPU when `wgtrain serve` served the page. Both deliver the same events (first the whole state
 * so far, then live events) and answer the same requests. Charts are uPlot; digits and weights
 * are drawn on canvases. The URL's query holds the configuration (epochs, batch, lr, momentum,
 * hidden (a list: 256,128), activation, optimizer, weight_decay, seed, train_limit, trainer=browser|server, autostart=1, check=1), so a run can be
 * shared as a link. */
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const FIELDS = ['epochs', 'batch', 'lr', 'hidden', 'activation', 'optimizer', 'weight_decay', 'momentum', 'seed'];
  const ACTIVE = new Set(['starting', 'running', 'paused', 'stopping']);

  const state = {
    limits: null,
    run: null,
    status: { status: 'idle', message: '', pausing: false },
    points: [],      // {x, loss, accuracy, sps, epoch, step}
    epochs: [],      // {epoch, loss, train_accuracy, test_loss, test_accuracy, seconds, samples_per_second}
    confusion: null, // {epoch, matrix}
    preview: null,
    edits: [],       // the run's live edits: {event: 'edit', step, epoch, x, lr?, momentum?, lr_scale}
    inEffect: null,  // {lr, momentum}: what the run was started or last edited with
    formFilled: false,
    selectedCell: null,
  };

  // ---------------------------------------------------------------- helpers
  const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const fixed = (x, d = 4) => (num(x) === null ? '–' : x.toFixed(d));
  const pct = (x, d = 2) => (num(x) === null ? '–' : (100 * x).toFixed(d) + '%');
  const thousands = (x) => (num(x) === null ? '–' : Math.round(x).toLocaleString('en-US'));

  function b64bytes(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  // The data's image shape (the state's "data"): MNIST's 28x28 until the host says otherwise.
  const shape = () => state.shape || { rows: 28, cols: 28, classes: 10 };
  const imageCanvas = () => el('canvas', { width: shape().cols, height: shape().rows });

  function drawDigit(canvas, bytes, offset = 0) {
    const { rows, cols } = shape();
    if (canvas.width !== cols || canvas.height !== rows) { canvas.width = cols; canvas.height = rows; }
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(cols, rows);
    for (let i = 0; i < rows * cols; i++) {
      const v = bytes[offset + i];
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c);
    return e;
  }

  let trainer = null; // the active trainer (trainers.js)

  // The engine that trains, as the state's device says: the WGSL kernels on a GPU adapter, or
  // wgtrain's CPU engine (chosen where there is no real GPU); the page's words follow it.
  const onCpu = () => !!(state.device && state.device.engine === 'cpu');
  // the log's start line ends as the CLI's: "reference kernels", or "cpu engine"
  const kernelsText = (d) => (d.engine === 'cpu' ? 'cpu engine' : `${d.kernels} kernels`);
  function showWhere() {
    const server = trainer && trainer.kind === 'server';
    $('sub-how').textContent = onCpu() ? "every step on wgtrain's CPU engine" : 'every kernel a WGSL compute shader';
    $('sub-where').textContent = `run by ${server ? "the server's" : "this browser's"} ${onCpu() ? 'CPU' : 'GPU'}`;
    $('foot').textContent = server
      ? (onCpu() ? "wgtrain serve · training runs on the server's CPU engine, the same code as wgtrain train --device cpu; this page only watches and steers it."
        : 'wgtrain serve · training runs on the server through the same engine as wgtrain train; this page only watches and steers it.')
      : onCpu() ? 'Training runs in this browser: the wgtrain engine compiled to WebAssembly, in a Worker, on its CPU engine (WebAssembly SIMD, no WebGPU).'
        : 'Training runs in this browser: the wgtrain engine compiled to WebAssembly, in a Worker, on this browser\'s WebGPU.';
  }

  // a run's model as the CLI's start line writes it: "256,128 gelu, adam" (defaults left out)
  const modelText = (r) => `${r.hidden}${r.activation && r.activation !== 'relu' ? ' ' + r.activation : ''}` +
    `${r.optimizer && r.optimizer !== 'momentum' ? ', ' + r.optimizer : ''}`;
  const layersText = (r) => String(r.hidden).replace(/,/g, '-'); // 256-128

  // The subtitle's model, inputs-hidden...-classes from the data's shape: the running model
  // while a run goes, else the one the form would train (the last run's while the field is invalid).
  function updateSubtitle() {
    const { rows, cols, classes } = shape();
    let hidden = state.run && ACTIVE.has(state.status.status) ? state.run.hidden : null;
    if (hidden === null && state.limits) {
      const f = checkField('hidden', false);
      hidden = f.err ? (state.run ? state.run.hidden : null) : f.value.split(',').map((x) => Number(x)).join(',');
    }
    $('sub-model').textContent = hidden === null ? `${rows * cols}-…-${classes}` : `${rows * cols}-${layersText({ hidden })}-${classes}`;
  }
  const post = (path, body) => trainer.post(path, body);
  const query = new URLSearchParams(location.search);

  // ---------------------------------------------------------------- charts (uPlot)
  const axis = (label, values) => ({
    label, values, stroke: '#8d96a8', labelSize: 18, size: 46,
    grid: { stroke: 'rgba(255,255,255,0.06)', width: 1 },
    ticks: { stroke: 'rgba(255,255,255,0.14)', width: 1, size: 4 },
    font: '11px system-ui, sans-serif', labelFont: '12px system-ui, sans-serif',
  });
  const CHART_H = 250;

  function makePlot(container, opts, data) {
    const plot = new uPlot({ ...opts, width: Math.max(container.clientWidth, 200), height: CHART_H }, data, container);
    new ResizeObserver(() => {
      const w = container.clientWidth;
      if (w > 0 && Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height: CHART_H });
    }).observe(container);
    return plot;
  }

  // the run's live edits, as vertical annotations on both charts (marks.js)
  const editMarks = () => window.WgMarks.fromEdits(state.edits);
  const lossPlot = makePlot($('loss-chart'), {
    plugins: [window.WgMarks.plugin(editMarks)],
    scales: { x: { time: false }, y: { auto: true } },
    axes: [axis('epoch'), axis('loss', (u, v) => v.map((x) => x.toFixed(2)))],
    series: [
      { label: 'epoch', value: (u, v) => (v == null ? '–' : v.toFixed(3)) },
      { label: 'train loss', stroke: '#5b9bff', width: 2, spanGaps: true, value: (u, v) => fixed(v) },
      {
        label: 'test loss', stroke: '#f5b041', width: 2, spanGaps: true, value: (u, v) => fixed(v),
        points: { show: true, size: 7, fill: '#f5b041' },
      },
    ],
    cursor: { drag: { x: true, y: false } },
  }, [[], [], []]);

  const accPlot = makePlot($('acc-chart'), {
    plugins: [window.WgMarks.plugin(editMarks)],
    scales: { x: { time: false }, y: { auto: true } },
    axes: [axis('epoch'), axis('accuracy', (u, v) => v.map((x) => (100 * x).toFixed(x > 0.99 ? 1 : 0) + '%'))],
    series: [
      { label: 'epoch', value: (u, v) => (v == null ? '–' : v.toFixed(3)) },
      {
        label: 'train (per report)', stroke: '#5b9bff', width: 2, spanGaps: true, value: (u, v) => pct(v),
        points: { show: (u) => u.data[0].length < 30, size: 5, fill: '#5b9bff' },
      },
      {
        label: 'test (per epoch)', stroke: '#3ecf8e', width: 2, spanGaps: true, value: (u, v) => pct(v),
        points: { show: true, size: 7, fill: '#3ecf8e' },
      },
    ],
  }, [[], [], []]);

  // Report points and per-epoch values share one x axis; the last report of epoch e falls
  // exactly at x = e, where that epoch's test value goes (a run stopped mid-epoch is evaluated
  // at the fraction of the epoch it reached, e.x).
  function mergeSeries(report, epoch) {
    const rows = new Map();
    for (const p of state.points) rows.set(p.x, [report(p), null]);
    for (const e of state.epochs) {
      const x = e.partial ? e.x : e.epoch;
      const r = rows.get(x);
      if (r) r[1] = epoch(e);
      else rows.set(x, [null, epoch(e)]);
    }
    const xs = [...rows.keys()].sort((a, b) => a - b);
    return [xs, xs.map((x) => rows.get(x)[0]), xs.map((x) => rows.get(x)[1])];
  }

  // what an empty chart, preview row or weights box says: before any run, or before its first report
  const emptyText = (what) => (state.run ? `Waiting for the first report of run ${state.run.id}…` : `No run yet — press Train${what}`);
  function showEmpty(id, empty, what = '.') {
    $(id).hidden = !empty;
    if (empty) $(id).textContent = emptyText(what);
  }

  function updateLossChart() {
    const data = mergeSeries((p) => p.loss, (e) => e.test_loss);
    lossPlot.setData(data);
    showEmpty('loss-empty', data[0].length === 0);
  }

  // training accuracy at every report (over the steps since the previous one), test accuracy
  // after each epoch
  function updateAccChart() {
    const data = mergeSeries((p) => p.accuracy, (e) => e.test_accuracy);
    accPlot.setData(data);
    showEmpty('acc-empty', data[0].length === 0);
  }

  // ---------------------------------------------------------------- form
  const form = $('train-form');
  const fieldBox = (name) => form.querySelector(`.field[data-field="${name}"]`);
  const input = (name) => $('f-' + name);

  function limitText(name, l) {
    if (name === 'seed') return `integer, 0 – 2⁵³−1`;
    if (name === 'lr') return `> 0 and ≤ ${l.max}`;
    if (name === 'momentum') return `≥ 0 and < 1 (momentum, nesterov)`;
    if (name === 'hidden') return `widths ${l.min} – ${l.max}, up to ${l.layers} layers: 256,128`;
    if (name === 'weight_decay') return `≥ 0 and ≤ ${l.max} (adamw: decoupled)`;
    if (l.values) return l.values.join(' · ');
    return `integer, ${l.min} – ${l.max}`;
  }

  function setupForm(limits, run) {
    for (const name of FIELDS) {
      const l = limits[name];
      const box = fieldBox(name);
      const inp = input(name);
      box.querySelector('.limits').textContent = limitText(name, l);
      if (l.integer) { inp.min = l.min; inp.max = l.max; }
      if (l.values && !inp.options.length) for (const v of l.values) inp.append(el('option', { value: v }, v));
      // the link's query first (a shared run), then the current run, then the defaults
      if (!state.formFilled) inp.value = query.has(name) ? query.get(name) : String(run && run[name] !== undefined ? run[name] : l.default);
    }
    state.formFilled = true;
  }

  function checkField(name, show = true) {
    const l = state.limits && state.limits[name];
    const raw = input(name).value.trim();
    let err = '';
    let value = null;
    if (!l) return { value: null, err: '' };
    // a number field whose text is not a number ("1e") has the value '' too: say which it is
    if (raw === '' && input(name).validity && input(name).validity.badInput) err = 'not a valid number';
    else if (raw === '') err = 'required';
    else if (l.list) { // hidden: the CLI's --hidden rules (model_hidden_parse)
      const parts = raw.split(',');
      value = raw;
      if (parts.length > l.layers) err = `at most ${l.layers} layers`;
      else if (parts.some((p) => !/^[0-9]+$/.test(p.trim()))) err = 'widths separated by commas, e.g. 256,128';
      else if (parts.some((p) => Number(p) < l.min || Number(p) > l.max)) err = `each width must be ${l.min} – ${l.max}`;
    } else if (l.values) {
      value = raw;
      if (!l.values.includes(raw)) err = `one of ${l.values.join(', ')}`;
    } else {
      value = Number(raw);
      if (!Number.isFinite(value)) err = 'must be a number';
      else if (l.integer && !Number.isInteger(value)) err = 'must be a whole number';
      else if (l.min_exclusive ? value <= l.min : value < l.min) err = `must be ${l.min_exclusive ? '>' : '≥'} ${l.min}`;
      else if (l.max_exclusive ? value >= l.max : value > l.max) err = `must be ${l.max_exclusive ? '<' : '≤'} ${l.max}`;
      else if (name === 'seed' && !Number.isSafeInteger(value)) err = 'too large';
    }
    if (show) showFieldError(name, err);
    return { value, err };
  }

  function showFieldError(name, msg) {
    const box = fieldBox(name);
    if (!box) return;
    box.classList.toggle('invalid', !!msg);
    box.querySelector('.err').textContent = msg;
    input(name).setAttribute('aria-invalid', msg ? 'true' : 'false');
  }

  function setMsg(text, isError = false) {
    const m = $('form-msg');
    m.textContent = text;
    m.classList.toggle('error', isError);
  }

  for (const name of FIELDS) input(name).addEventListener('input', () => checkField(name));
  input('hidden').addEventListener('input', updateSubtitle);
  // the optimizer's companions, as the CLI's defaults: plain SGD has no momentum, AdamW decays 0.01
  input('optimizer').addEventListener('input', () => {
    const opt = input('optimizer').value, m = input('momentum'), wd = input('weight_decay');
    if (opt === 'sgd') m.value = '0';
    else if ((opt === 'momentum' || opt === 'nesterov') && Number(m.value) === 0) m.value = '0.9';
    if (opt === 'adamw' && Number(wd.value) === 0) wd.value = '0.01';
    else if (opt !== 'adamw' && wd.value === '0.01') wd.value = '0';
    checkField('momentum');
    checkField('weight_decay');
  });

  // ---- live edits: the lr and the momentum of the running job
  const LIVE = ['lr', 'momentum'];
  const editable = () => ['starting', 'running', 'paused'].includes(state.status.status);

  async function applyEdit() {
    if (!editable() || !state.inEffect) return;
    const body = {};
    let ok = true;
    for (const name of LIVE) {
      const r = checkField(name);
      if (r.err) ok = false;
      else if (r.value !== state.inEffect[name]) body[name] = r.value;
    }
    if (!ok) { setMsg('Fix the marked fields first.', true); return; }
    if (!Object.keys(body).length) { setMsg('The learning rate and momentum are the ones in effect: nothing to apply.'); return; }
    $('btn-apply').disabled = true;
    setMsg('Applying…');
    const r = await post('/api/train/edit', body);
    updateButtons();
    if (!r.ok) {
      if (r.data && r.data.field) showFieldError(r.data.field, r.data.error);
      setMsg((r.data && r.data.error) || `the server answered ${r.status}`, true);
      return;
    }
    const e = r.data.edit;
    onEdit(e);
    setMsg(`Applied: ${window.WgMarks.label(e)} from step ${e.step + 1} (epoch ${e.epoch}).`);
  }
  $('btn-apply').addEventListener('click', applyEdit);

  // an edit event (this page's or another's): kept once, marked on the charts
  function onEdit(e) {
    if (!e || typeof e.step !== 'number') return;
    if (!state.edits.some((x) => x.step === e.step && x.lr === e.lr && x.momentum === e.momentum && x.lr_scale === e.lr_scale)) {
      state.edits.push(e);
      if (state.inEffect) for (const name of LIVE) if (typeof e[name] === 'number') state.inEffect[name] = e[name];
    }
    lossPlot.redraw(false, false);
    accPlot.redraw(false, false);
    updateLog();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!state.limits) return;
    // Enter during a run applies the lr and momentum to it
    if (editable()) { applyEdit(); return; }
    const body = {};
    let ok = true;
    for (const name of FIELDS) {
      const r = checkField(name);
      if (r.err) ok = false;
      else body[name] = r.value;
    }
    if (!ok) { setMsg('Fix the marked fields first.', true); return; }
    setMsg('Starting…');
    $('btn-train').disabled = true;
    if (query.has('train_limit')) {
      const n = Number(query.get('train_limit'));
      if (!Number.isInteger(n) || n < 1) { setMsg(`train_limit must be a whole number ≥ 1 (got '${query.get('train_limit')}')`, true); updateButtons(); return; }
      body.trainLimit = n;
    }
    if (query.has('kernels')) body.kernels = query.get('kernels');
    if (window.WgKernelTimes) body.kernel_times = window.WgKernelTimes.enabled();
    const r = await post('/api/train', body);
    if (r.ok) { setMsg(''); return; }
    updateButtons();
    if (r.data && r.data.field) showFieldError(r.data.field, r.data.error);
    setMsg((r.data && r.data.error) || `the server answered ${r.status}`, true);
  });

  $('btn-pause').addEventListener('click', async () => {
    const st = state.status;
    const resume = st.status === 'paused' || st.pausing;
    const r = await post(resume ? '/api/resume' : '/api/pause');
    if (!r.ok) setMsg((r.data && r.data.error) || `the server answered ${r.status}`, true);
  });

  $('btn-stop').addEventListener('click', async () => {
    state.focusTrain = true; // Stop disables itself: focus goes to Train once the run has ended
    const r = await post('/api/stop');
    if (!r.ok) setMsg((r.data && r.data.error) || `the server answered ${r.status}`, true);
  });

  function updateButtons() {
    const st = state.status.status;
    const active = ACTIVE.has(st);
    const off = document.body.classList.contains('disconnected'); // nothing to send the requests to
    $('btn-train').disabled = active || !state.limits || off;
    const pause = $('btn-pause');
    pause.disabled = !(st === 'running' || st === 'paused') || off;
    pause.textContent = st === 'paused' || state.status.pausing ? 'Resume' : 'Pause';
    $('btn-stop').disabled = !active || st === 'stopping' || off;
    $('btn-apply').disabled = !editable() || off;
    form.classList.toggle('live', editable());
    if (state.focusTrain && !active) {
      state.focusTrain = false;
      const f = document.activeElement;
      if (!f || f === document.body || f.disabled || f.id === 'btn-stop') $('btn-train').focus();
    }
  }

  // ---------------------------------------------------------------- status and progress
  function setStatus(s) {
    state.status = s;
    const pill = $('status');
    const shown = s.status === 'running' && s.pausing ? 'pausing' : s.status;
    pill.textContent = shown;
    pill.dataset.status = s.status;
    pill.title = s.message || '';
    if (s.status === 'error') setMsg('Training failed: ' + s.message, true);
    else if (s.status === 'done' || s.status === 'stopped') setMsg(s.message ? cap(s.message) + '.' : '');
    else if (s.status === 'running' && $('form-msg').classList.contains('error') === false) setMsg('');
    updateButtons();
    updateProgress();
    updateLog();
    updateSubtitle();
    if (trainer) updateModelButtons();
  }

  const cap = (t) => t.charAt(0).toUpperCase() + t.slice(1);

  function updateProgress() {
    const run = state.run;
    const fill = $('progress-fill');
    const text = $('progress-text');
    if (!run) {
      fill.style.width = '0%';
      text.textContent = 'No run yet: press Train.';
      for (const id of ['st-epoch', 'st-loss', 'st-eloss', 'st-test', 'st-sps', 'st-elapsed', 'st-left']) $(id).textContent = '–';
      return;
    }
    const last = state.points[state.points.length - 1];
    const lastEpoch = state.epochs[state.epochs.length - 1];
    let done = 0;
    if (lastEpoch) done = lastEpoch.partial ? lastEpoch.x : lastEpoch.epoch;
    if (last && last.x > done) done = last.x;
    fill.style.width = `${Math.min(100, (100 * done) / run.epochs).toFixed(2)}%`;
    const st = state.status.status;
    if (st === 'starting') text.textContent = onCpu() ? 'Preparing the CPU engine: setting up the model and its buffers…'
      : 'Preparing the GPU: uploading data, compiling kernels…';
    else if (last) {
      const step = last.step === run.steps_per_epoch && lastEpoch && lastEpoch.epoch === last.epoch ? 'done' : `step ${last.step}/${run.steps_per_epoch}`;
      text.textContent = `Epoch ${last.epoch} of ${run.epochs} · ${step} · run ${run.id}`;
    } else text.textContent = `Epoch 1 of ${run.epochs} · run ${run.id}`;
    $('st-epoch').textContent = last ? `${last.epoch} / ${run.epochs}` : `0 / ${run.epochs}`;
    $('st-loss').textContent = last ? fixed(last.loss) : '–';
    $('st-eloss').textContent = lastEpoch ? fixed(lastEpoch.loss) : '–';
    $('st-test').textContent = lastEpoch ? pct(lastEpoch.test_accuracy) : '–';
    $('st-sps').textContent = last ? thousands(last.sps) : '–';
    const t = runTimes();
    $('st-elapsed').textContent = t ? clock(t.elapsed) : '–';
    $('st-left').textContent = !t ? '–' : ACTIVE.has(st) ? (t.left === null ? 'estimating…' : `about ${clock(t.left)}`)
      : st === 'done' ? 'none: done' : '–';
  }

  // 75 -> "1:15", 3725 -> "1:02:05"
  function clock(seconds) {
    const t = Math.max(0, Math.round(seconds));
    const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = String(t % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
  }

  // Training time so far and the time left, from the reports alone (so every page that opens
  // mid-run shows the same): the finished epochs' seconds, plus the current epoch's samples
  // at its reported samples/s; the time left at the run's mean seconds per step so far.
  // Pauses and test evaluations are not counted.
  function runTimes() {
    const run = state.run;
    const last = state.points[state.points.length - 1];
    if (!run || !last) return null;
    const full = state.epochs.filter((e) => !e.partial);
    let elapsed = full.reduce((a, e) => a + e.seconds, 0);
    const finished = full.length ? full[full.length - 1].epoch : 0;
    if (last.epoch > finished && last.sps > 0) elapsed += Math.min(last.step * run.batch, run.train_count) / last.sps;
    const done = (last.epoch - 1) * run.steps_per_epoch + last.step;
    const total = run.epochs * run.steps_per_epoch;
    return { elapsed, left: done > 0 && elapsed > 0 ? (elapsed / done) * (total - done) : null };
  }

  // ---------------------------------------------------------------- epoch log
  // The CLI's own lines (wgtrain train), so a run reads the same wherever it trained.
  function updateLog() {
    if (state.checked) return; // the log shows the kernel check instead
    const lines = [];
    const r = state.run;
    const d = state.device;
    if (r) {
      // as the CLI's: the CPU engine's name says it all ("cpu (avx2+fma, 2 threads)"), an adapter's its backend and type
      lines.push(`wgtrain: ${d ? (d.engine === 'cpu' ? `${d.name}, ` : `${d.name} (${d.backend}, ${d.type}), `) : ''}${r.train_count} train / ${r.test_count} test images, ` +
        `batch ${r.batch}, lr ${r.lr}, hidden ${modelText(r)}, ${r.epochs} epochs${d ? `, ${kernelsText(d)}` : ''}`);
    }
    for (const e of state.edits)
      lines.push(`Edit: ${window.WgMarks.label(e)} from step ${e.step + 1} (epoch ${e.epoch}, step ${e.epoch_step + 1} of ${r ? r.steps_per_epoch : '?'})`);
    let total = 0;
    for (const e of state.epochs) {
      total += e.seconds;
      if (e.partial) { // stopped mid-epoch, and evaluated there
        lines.push(`Stopped in epoch ${e.epoch} at step ${e.step}/${r ? r.steps_per_epoch : '?'}: loss=${fixed(e.loss)} ` +
          `train_acc=${pct(e.train_accuracy)} test_acc=${pct(e.test_accuracy)} time=${fixed(e.seconds, 2)}s`);
        continue;
      }
      lines.push(`Epoch ${e.epoch}: loss=${fixed(e.loss)} train_acc=${pct(e.train_accuracy)} ` +
        `test_acc=${pct(e.test_accuracy)} time=${fixed(e.seconds, 2)}s samples/s=${fixed(e.samples_per_second, 0)}`);
    }
    const st = state.status;
    const last = state.epochs[state.epochs.length - 1];
    if (r && st.status === 'done' && last)
      lines.push(`Done: test accuracy ${pct(last.test_accuracy)} after ${last.epoch} epochs, ${fixed(total, 1)}s of training ` +
        `(${fixed(total / state.epochs.length, 2)}s per epoch)`);
    else if (r && (st.status === 'stopped' || st.status === 'error'))
      lines.push(`${cap(st.status)}${st.message ? ': ' + st.message : ''}`);
    const log = $('log');
    const text = lines.join('\n');
    if (log.textContent !== text) {
      log.textContent = text;
      log.scrollTop = log.scrollHeight;
    }
  }

  // ---------------------------------------------------------------- previews
  function renderPreviews(p) {
    state.preview = p;
    const row = $('previews');
    row.replaceChildren();
    showEmpty('prev-empty', !p, ': six test images appear here, predicted at every report.');
    if (!p) {
      $('prev-caption').textContent = 'six random test images, predicted at each report';
      return;
    }
    const pixels = b64bytes(p.pixels);
    p.items.forEach((it, i) => {
      const right = it.pred === it.label;
      const canvas = imageCanvas();
      drawDigit(canvas, pixels, i * shape().rows * shape().cols);
      const fig = el('figure', {
        class: `preview ${right ? 'right' : 'wrong'}`,
        'data-index': it.index, 'data-label': it.label, 'data-pred': it.pred, 'data-conf': it.conf,
        title: `test image #${it.index}: label ${it.label}, predicted ${it.pred} (${pct(it.conf, 1)})`,
      }, canvas, el('figcaption', {},
        el('span', { class: 'pred', text: String(it.pred) }),
        el('span', { class: 'mark', text: right ? '✓' : '✗' }),
        el('span', { class: 'conf', text: pct(it.conf, 0) }),
        el('span', { class: 'truth', text: `label ${it.label} · #${it.index}` })));
      row.append(fig);
    });
    $('prev-caption').textContent = p.step === 0 && p.epoch === 0
      ? 'six random test images · untrained model'
      : `six random test images · epoch ${p.epoch}, step ${p.step}`;
  }

  // ---------------------------------------------------------------- weights
  function renderWeights(w) {
    const canvas = $('weights');
    const ctx = canvas.getContext('2d');
    canvas.hidden = !w;
    showEmpty('w-empty', !w, ": each hidden unit's weights appear here as a tile and form as it trains.");
    if (!w) {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      return;
    }
    // one tile per hidden unit, of the image's shape (the host sends square images only)
    const side = w.cols || 28;
    const n = side * (w.rows || 28);
    const cols = 16;
    const rows = Math.ceil(w.tiles / cols);
    const W = cols * (side + 1) + 1;
    const H = rows * ((w.rows || 28) + 1) + 1;
    if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; }
    const img = ctx.createImageData(W, H);
    const data = b64bytes(w.data);
    for (let t = 0; t < w.tiles; t++) {
      const ox = 1 + (t % cols) * (side + 1);
      const oy = 1 + Math.floor(t / cols) * ((w.rows || 28) + 1);
      for (let i = 0; i < n; i++) {
        const v = (data[t * n + i] - 127.5) / 127.5; // -1..1, scaled per tile
        const a = Math.pow(Math.abs(v), 0.8);
        const o = 4 * ((oy + Math.floor(i / side)) * W + ox + (i % side));
        if (v >= 0) { img.data[o] = 255 * a; img.data[o + 1] = 160 * a; img.data[o + 2] = 40 * a; }
        else { img.data[o] = 60 * a; img.data[o + 1] = 140 * a; img.data[o + 2] = 255 * a; }
        img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    $('w-caption').textContent = `${w.tiles} of ${w.hidden} hidden units · ` +
      (w.epoch === 0 ? 'initial weights' : `epoch ${w.epoch}, step ${w.step}`) + ' · orange +, blue −';
  }

  // ---------------------------------------------------------------- confusion matrix
  function renderConfusion(c) {
    state.confusion = c;
    const table = $('cm');
    table.replaceChildren();
    if (!c) {
      $('cm-caption').textContent = "test set, after each epoch · arrow keys, Enter or click: a cell's digits";
      table.removeAttribute('role');
      state.cmFocus = null;
      const tr = el('tr', {}, el('td', { class: 'empty', text: 'Fills in after the first epoch.' }));
      table.append(tr);
      closeCell();
      return;
    }
    const m = c.matrix;
    const K = m.length; // the model's classes
    const total = m.flat().reduce((a, b) => a + b, 0);
    // a run stopped mid-epoch was evaluated where it stopped
    const lastEpoch = state.epochs[state.epochs.length - 1];
    const at = lastEpoch && lastEpoch.partial && lastEpoch.epoch === c.epoch ? `, stopped at step ${lastEpoch.step}` : '';
    $('cm-caption').textContent = `test set (${total.toLocaleString('en-US')} images), epoch ${c.epoch}${at} · rows: label, columns: prediction · arrow keys, Enter or click: a cell's digits`;
    const head = el('tr', {}, el('th', { class: 'axis' }, 'label╲', el('wbr'), 'pred'));
    for (let j = 0; j < K; j++) head.append(el('th', { scope: 'col', text: String(j) }));
    head.append(el('th', { class: 'axis', text: 'acc' }));
    table.append(head);
    for (let i = 0; i < K; i++) {
      const rowTotal = m[i].reduce((a, b) => a + b, 0) || 1;
      const tr = el('tr', {}, el('th', { scope: 'row', text: String(i) }));
      for (let j = 0; j < K; j++) {
        const n = m[i][j];
        const f = n / rowTotal;
        const td = el('td', {
          class: 'cell' + (n === 0 ? ' zero' : ''), text: String(n), 'data-label': i, 'data-pred': j, 'data-count': n,
          title: `label ${i}, predicted ${j}: ${n} test images (${(100 * f).toFixed(1)}% of the ${i}s)`,
        });
        td.tabIndex = -1; // one tab stop for the whole matrix (focusCell), arrows between cells
        td.setAttribute('role', 'gridcell');
        if (n > 0) {
          td.style.background = i === j
            ? `rgba(62, 207, 142, ${(0.12 + 0.7 * f).toFixed(3)})`
            : `rgba(255, 107, 107, ${Math.min(0.85, 0.12 + 5 * f).toFixed(3)})`;
        }
        if (state.selectedCell && state.selectedCell[0] === i && state.selectedCell[1] === j) td.classList.add('selected');
        tr.append(td);
      }
      tr.append(el('td', { class: 'acc', text: pct(m[i][i] / rowTotal, 1) }));
      table.append(tr);
    }
    table.setAttribute('role', 'grid');
    const keep = state.cmFocus && cellAt(...state.cmFocus);
    const sel = state.selectedCell && cellAt(...state.selectedCell);
    (keep || sel || cellAt(0, 0)).tabIndex = 0;
    if (state.selectedCell) openCell(...state.selectedCell, false);
  }

  const cellAt = (label, pred) => $('cm').querySelector(`td.cell[data-label="${label}"][data-pred="${pred}"]`);
  // the roving tab stop: the one cell of the matrix that Tab reaches
  function focusCell(td) {
    if (!td) return;
    for (const c of $('cm').querySelectorAll('td.cell[tabindex="0"]')) c.tabIndex = -1;
    td.tabIndex = 0;
    state.cmFocus = [+td.dataset.label, +td.dataset.pred];
    td.focus();
  }

  async function openCell(label, pred, scroll = true) {
    state.selectedCell = [label, pred];
    for (const td of $('cm').querySelectorAll('td.cell')) {
      td.classList.toggle('selected', +td.dataset.label === label && +td.dataset.pred === pred);
    }
    const view = $('cell-view');
    view.hidden = false;
    $('cell-title').textContent = `label ${label}, predicted ${pred}: loading…`;
    const r = await trainer.get('/api/confusion', { label, pred, limit: 120 });
    if (!r.ok) {
      $('cell-title').textContent = `label ${label}, predicted ${pred}: ${(r.data && r.data.error) || r.status}`;
      return;
    }
    const data = r.data;
    const box = $('cell-digits');
    box.replaceChildren();
    for (const d of data.digits) {
      const canvas = imageCanvas();
      drawDigit(canvas, b64bytes(d.pixels));
      box.append(el('figure', { title: `test image #${d.index}, ${pct(d.conf, 1)} sure`, 'data-index': d.index },
        canvas, el('figcaption', { text: pct(d.conf, 0) })));
    }
    const shown = data.digits.length < data.count ? ` (showing ${data.digits.length})` : '';
    $('cell-title').textContent = `label ${label}, predicted ${pred}: ${data.count} test image${data.count === 1 ? '' : 's'}${shown} · epoch ${data.epoch}`;
    if (scroll) view.scrollIntoView({ block: 'nearest' });
  }

  function closeCell() {
    state.selectedCell = null;
    $('cell-view').hidden = true;
    for (const td of $('cm').querySelectorAll('td.selected')) td.classList.remove('selected');
  }

  $('cm').addEventListener('click', (ev) => {
    const td = ev.target.closest('td.cell');
    if (td) focusCell(td);
    if (td && !td.classList.contains('zero')) openCell(+td.dataset.label, +td.dataset.pred);
  });
  $('cm').addEventListener('keydown', (ev) => {
    const td = ev.target.closest('td.cell');
    if (!td) return;
    if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); td.click(); return; }
    const K = state.confusion ? state.confusion.matrix.length : 0;
    const l = +td.dataset.label, p = +td.dataset.pred;
    const to = { ArrowLeft: [l, p - 1], ArrowRight: [l, p + 1], ArrowUp: [l - 1, p], ArrowDown: [l + 1, p],
      Home: [l, 0], End: [l, K - 1] }[ev.key];
    if (!to) return;
    ev.preventDefault();
    focusCell(cellAt(Math.max(0, Math.min(K - 1, to[0])), Math.max(0, Math.min(K - 1, to[1]))));
  });
  $('cell-close').addEventListener('click', () => {
    const at = state.selectedCell;
    closeCell();
    if (at) focusCell(cellAt(...at));
  });
  // Escape closes the cell view, wherever focus is in the matrix's panel, and focus returns to its cell
  document.querySelector('section.card.confusion').addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape' || $('cell-view').hidden) return;
    ev.preventDefault();
    $('cell-close').click();
  });

  // ---------------------------------------------------------------- draw a digit
  const pad = $('draw');
  const pctx = pad.getContext('2d', { willReadFrequently: true });
  let drawing = false;
  let last = null;
  let inked = false;
  let timer = null;
  let inFlight = false;
  let again = false;

  function clearPad() {
    pctx.fillStyle = '#000';
    pctx.fillRect(0, 0, pad.width, pad.height);
    inked = false;
    $('draw-result').textContent = 'Draw 0–9 in the box';
    $('draw-result').dataset.pred = '';
    $('probs').replaceChildren();
    const small = $('draw-small');
    small.getContext('2d').clearRect(0, 0, small.width, small.height);
  }

  function padPos(ev) {
    const r = pad.getBoundingClientRect();
    return [((ev.clientX - r.left) * pad.width) / r.width, ((ev.clientY - r.top) * pad.height) / r.height];
  }

  function stroke(a, b) {
    pctx.strokeStyle = '#fff';
    pctx.lineWidth = 20;
    pctx.lineCap = 'round';
    pctx.lineJoin = 'round';
    pctx.beginPath();
    pctx.moveTo(a[0], a[1]);
    pctx.lineTo(b[0], b[1]);
    pctx.stroke();
    inked = true;
  }

  pad.addEventListener('pointerdown', (ev) => {
    ev.preventDefault();
    drawing = true;
    pad.setPointerCapture(ev.pointerId);
    last = padPos(ev);
    stroke(last, last);
    schedulePredict();
  });
  pad.addEventListener('pointermove', (ev) => {
    if (!drawing) return;
    const p = padPos(ev);
    stroke(last, p);
    last = p;
    schedulePredict();
  });
  const endStroke = () => {
    if (!drawing) return;
    drawing = false;
    clearTimeout(timer);
    timer = null;
    predictDrawing();
  };
  pad.addEventListener('pointerup', endStroke);
  pad.addEventListener('pointercancel', endStroke);
  $('btn-clear').addEventListener('click', clearPad);

  function schedulePredict() {
    if (!timer) timer = setTimeout(() => { timer = null; predictDrawing(); }, 150);
  }

  // MNIST's own preprocessing: the ink's bounding box scaled to fit 20x20, then shifted so
  // that its centre of mass sits at the centre of the 28x28 field.
  function toMnist() {
    const W = pad.width;
    const H = pad.height;
    const src = pctx.getImageData(0, 0, W, H).data;
    let x0 = W, y0 = H, x1 = -1, y1 = -1;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        if (src[4 * (y * W + x)] > 24) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    if (x1 < 0) return null;
    const bw = x1 - x0 + 1;
    const bh = y1 - y0 + 1;
    const s = 20 / Math.max(bw, bh);
    const dw = bw * s;
    const dh = bh * s;
    const small = document.createElement('canvas');
    small.width = small.height = 28;
    const sctx = small.getContext('2d', { willReadFrequently: true });
    const render = (dx, dy) => {
      sctx.fillStyle = '#000';
      sctx.fillRect(0, 0, 28, 28);
      sctx.imageSmoothingEnabled = true;
      sctx.imageSmoothingQuality = 'high';
      sctx.drawImage(pad, x0, y0, bw, bh, (28 - dw) / 2 + dx, (28 - dh) / 2 + dy, dw, dh);
      return sctx.getImageData(0, 0, 28, 28).data;
    };
    let d = render(0, 0);
    let sx = 0, sy = 0, sm = 0;
    for (let i = 0; i < 784; i++) {
      const v = d[4 * i];
      sx += v * (i % 28);
      sy += v * Math.floor(i / 28);
      sm += v;
    }
    if (sm > 0) d = render(Math.round(13.5 - sx / sm), Math.round(13.5 - sy / sm));
    const pixels = new Array(784);
    for (let i = 0; i < 784; i++) pixels[i] = d[4 * i];
    return pixels;
  }

  // A square image of another size than MNIST's: the whole pad scaled down as it is (the host
  // does the same for such models in `wgtrain predict`).
  function toSquare(side) {
    const small = document.createElement('canvas');
    small.width = small.height = side;
    const sctx = small.getContext('2d', { willReadFrequently: true });
    sctx.imageSmoothingEnabled = true;
    sctx.imageSmoothingQuality = 'high';
    sctx.drawImage(pad, 0, 0, side, side);
    const d = sctx.getImageData(0, 0, side, side).data;
    const pixels = new Array(side * side);
    for (let i = 0; i < side * side; i++) pixels[i] = d[4 * i];
    return pixels;
  }

  async function predictDrawing() {
    if (!inked) return;
    if (inFlight) { again = true; return; }
    const { rows, cols } = shape();
    if (rows !== cols) return; // the pad is hidden then
    const pixels = rows === 28 ? toMnist() : toSquare(rows);
    if (!pixels) return;
    drawDigit($('draw-small'), pixels);
    inFlight = true;
    const r = await post('/api/predict', { pixels });
    inFlight = false;
    if (r.ok) showProbs(r.data);
    else {
      $('draw-result').textContent = r.status === 409 ? 'No model yet: press Train first.' : ((r.data && r.data.error) || `error ${r.status}`);
      $('draw-result').dataset.pred = '';
      $('probs').replaceChildren();
    }
    if (again) { again = false; predictDrawing(); }
  }

  function showProbs(data) {
    if (!inked) return; // cleared meanwhile
    const p = data.predictions[0];
    const res = $('draw-result');
    res.replaceChildren(el('b', { text: String(p.pred) }), document.createTextNode(`${pct(p.conf, 1)} sure`),
      el('br'), el('small', { text: data.model.epoch === 0 ? 'untrained model' : `model at epoch ${data.model.epoch}, step ${data.model.step}` }));
    res.dataset.pred = p.pred;
    const list = $('probs');
    list.replaceChildren();
    p.probs.forEach((q, k) => {
      const fill = el('div', { class: 'fill' });
      fill.style.width = `${(100 * q).toFixed(1)}%`;
      list.append(el('li', { class: k === p.pred ? 'best' : '', 'data-digit': k, 'data-p': q },
        el('span', { text: String(k) }), el('div', { class: 'track' }, fill),
        el('span', { class: 'pct', text: pct(q, 1) })));
    });
  }

  // ---------------------------------------------------------------- the event stream
  function setConn(kind, text) {
    const c = $('conn');
    c.className = `pill conn-${kind}`;
    c.textContent = text;
    // a stream that was live and is no longer: every panel says it shows old data, the
    // controls wait, and the next "state" (the stream re-opened) clears what went stale
    if (kind === 'live') state.live = true;
    else if (state.live) {
      state.live = false;
      state.lost = true;
    }
    document.body.classList.toggle('disconnected', !!state.lost && kind !== 'live');
    $('conn-note').hidden = !(state.lost && kind !== 'live');
    updateButtons();
  }

  // After a reconnect: errors and captions of before the loss go (the state that follows is
  // the truth now; a restarted server may have no run at all).
  function clearStale() {
    state.lost = false;
    setMsg('');
    for (const name of FIELDS) showFieldError(name, '');
    setModelMsg(MODEL_MSG);
    closeCell();
    if (inked) predictDrawing();
    else clearPad();
  }

  // the device panel: the adapter, and the kernels (the run's once it has a model: a server
  // sends a "device" event when auto has picked them)
  function showDevice(dev) {
    state.device = dev;
    $('dev-name').textContent = dev.name;
    $('dev-name').title = dev.description;
    $('dev-backend').textContent = dev.backend;
    $('dev-type').textContent = dev.type;
    $('dev-kernels').textContent = dev.kernels;
    $('dev-kernels').title = onCpu() ? "wgtrain's CPU engine: the same training steps, computed on the CPU (no GPU kernels)"
      : dev.kernels === 'fused' ? 'fused WGSL kernels: few dispatches per step'
      : dev.kernels === 'auto' ? 'the next run picks: the fused WGSL kernels for one hidden ReLU layer with SGD or momentum, else the per-layer ones'
      : 'the per-layer WGSL kernels, one dispatch each';
    showWhere();
  }

  // device: the browser adapter's own info (vendor, architecture, fallback) when in the browser
  function applyState(d, device) {
    state.limits = d.limits;
    showDevice(d.device);
    $('dev-vendor').textContent = device ? (device.vendor || 'not reported') : '–';
    $('dev-arch').textContent = device ? (device.architecture || 'not reported') : '–';
    $('dev-fallback').textContent = device ? (device.isFallbackAdapter ? 'yes (software)' : 'no') : '–';
    for (const id of ['dev-vendor', 'dev-arch', 'dev-fallback']) $(id).parentElement.hidden = !device;
    if (state.lost) clearStale();
    state.run = d.run;
    state.edits = [];
    state.inEffect = d.run ? { lr: d.run.lr, momentum: d.run.momentum } : null;
    setupForm(d.limits, d.run);
    state.points = d.points.map((a) => ({ x: a[0], loss: a[1], accuracy: a[2], sps: a[3], epoch: a[4], step: a[5] }));
    state.epochs = d.epochs;
    state.dataCount = d.data;
    // the data's shape: previews and the draw pad follow it; the weight tiles and the pad need
    // square images (hidden otherwise)
    state.shape = { rows: d.data.rows || 28, cols: d.data.cols || 28, classes: d.data.classes || 10 };
    const square = state.shape.rows === state.shape.cols;
    document.querySelector('section.card.weights').hidden = !square;
    document.querySelector('section.card.draw').hidden = !square;
    $('h-draw').firstChild.textContent = state.shape.rows === 28 && state.shape.classes === 10 ? 'Draw a digit ' : 'Draw an image ';
    $('w-caption').textContent = `one ${state.shape.rows}×${state.shape.cols} tile per hidden unit · orange positive, blue negative`;
    updateLossChart();
    updateAccChart();
    renderConfusion(d.confusion);
    renderPreviews(null);
    renderWeights(null);
    for (const e of d.edits || []) onEdit(e);
    if (window.WgKernelTimes) window.WgKernelTimes.update(d.kernel_times || null);
    setStatus(d.state);
    updateModelButtons();
    if (!state.autostarted && query.get('autostart') === '1' && !ACTIVE.has(d.state.status)) {
      state.autostarted = true;
      form.requestSubmit();
    }
    if (!state.checked && query.get('check') === '1' && trainer.kind === 'browser') runCheck();
  }

  function onRun(d) {
    state.run = d.run;
    state.points = [];
    state.epochs = [];
    state.edits = [];
    state.inEffect = { lr: d.run.lr, momentum: d.run.momentum };
    updateLossChart();
    updateAccChart();
    closeCell();
    renderConfusion(null);
    renderPreviews(null);
    renderWeights(null);
    updateProgress();
    updateLog();
  }

  function onLoss(p) {
    state.points.push({ x: p.x, loss: p.loss, accuracy: p.accuracy, sps: p.samples_per_second, epoch: p.epoch, step: p.step });
    updateLossChart();
    updateAccChart();
    updateProgress();
  }

  function onEpoch(e) {
    state.epochs.push(e);
    updateLossChart();
    updateAccChart();
    renderConfusion({ epoch: e.epoch, matrix: e.confusion });
    updateProgress();
    updateLog();
  }

  // ---------------------------------------------------------------- choosing the trainer
  const handlers = {
    conn: setConn, state: applyState, device: (d) => { showDevice(d); updateLog(); }, run: onRun, status: setStatus, loss: onLoss, epoch: onEpoch, edit: onEdit,
    weights: renderWeights, preview: renderPreviews, check: onCheck, fatal: (msg) => showBanner(cantTrainHere(msg)),
    kernel_times: (d) => window.WgKernelTimes && window.WgKernelTimes.update(d),
    reopened: (d) => setMsg(`${$('form-msg').textContent} ${cap(d.message)}: press Train to start again.`, true),
  };

  // "the browser offers no WebGPU adapter" -> one sentence that says what to do instead
  function cantTrainHere(why) {
    const text = why.charAt(0).toUpperCase() + why.slice(1).replace(/\.$/, '');
    return `${text}, so this browser cannot train here.` + (state.serverAvailable ? ' Train on the server instead:'
      : ' Train on a server instead: run ./build/wgtrain serve and open its page.');
  }

  function showBanner(text) {
    const b = $('banner');
    b.hidden = !text;
    $('banner-text').textContent = text || '';
    $('banner-server').hidden = !(text && state.serverAvailable && trainer && trainer.kind === 'browser');
  }

  function use(kind) {
    if (trainer && trainer.kind === kind) return;
    if (trainer) trainer.close();
    showBanner('');
    state.formFilled = false;
    const T = kind === 'server' ? window.WgTrainers.ServerTrainer : window.WgTrainers.BrowserTrainer;
    trainer = new T();
    for (const el2 of document.querySelectorAll('input[name="trainer"]')) el2.checked = el2.value === kind;
    document.body.dataset.trainer = kind;
    state.device = null; // until the new trainer's state names its engine
    showWhere();
    updateModelButtons();
    if (kind === 'browser') {
      const why = window.WgTrainers.BrowserTrainer.unsupported();
      if (why) {
        setConn('lost', 'not available');
        showBanner(cantTrainHere(why));
        return;
      }
    }
    if (window.WgHistory) window.WgHistory.use(kind);
    const tapped = window.WgHistory ? window.WgHistory.tap(handlers) : handlers;
    trainer.connect(window.WgHealth ? window.WgHealth.tap(tapped) : tapped);
  }

  for (const r of document.querySelectorAll('input[name="trainer"]')) r.addEventListener('change', () => use(r.value));
  $('banner-server').addEventListener('click', () => use('server'));

  // ---------------------------------------------------------------- models and data (browser trainer)
  function updateModelButtons() {
    const browser = trainer && trainer.kind === 'browser';
    $('model-tools').hidden = !browser;
    const active = ACTIVE.has(state.status.status);
    $('btn-download').disabled = !browser || active || !(state.status.model && state.status.model.ready);
    $('btn-load').disabled = !browser || active;
  }

  const MODEL_MSG = 'Drop a .safetensors model, or four MNIST-style IDX files, anywhere on the page.';
  function setModelMsg(text, isError = false) {
    const m = $('model-msg');
    m.textContent = text;
    m.classList.toggle('error', isError);
  }

  $('btn-download').addEventListener('click', async () => {
    const r = await trainer.saveModel();
    if (!r.ok) return setModelMsg((r.data && r.data.error) || `could not save the model (${r.status})`, true);
    const url = URL.createObjectURL(new Blob([r.bytes], { type: 'application/octet-stream' }));
    const a = el('a', { href: url, download: `wgtrain-mnist-h${state.run ? layersText(state.run) : 'H'}.safetensors` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    setModelMsg(`Saved: ${r.bytes.length.toLocaleString('en-US')} bytes of safetensors (loads with wgtrain eval --model).`);
  });

  $('btn-load').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', () => {
    takeFiles([...$('file-input').files]);
    $('file-input').value = '';
  });
  document.addEventListener('dragover', (ev) => {
    if (trainer && trainer.kind === 'browser') ev.preventDefault();
  });
  document.addEventListener('drop', (ev) => {
    if (!trainer || trainer.kind !== 'browser') return;
    ev.preventDefault();
    takeFiles([...ev.dataTransfer.files]);
  });

  // One .safetensors file: a model. Four files: an IDX data set (raw or .gz), told apart by
  // their names (train/t10k or test, images/labels).
  async function takeFiles(files) {
    if (!files.length) return;
    if (files.length === 1 && /\.safetensors$/i.test(files[0].name)) {
      setModelMsg(`Loading ${files[0].name}…`);
      const r = await trainer.loadModel(new Uint8Array(await files[0].arrayBuffer()));
      if (!r.ok) return setModelMsg(`${files[0].name}: ${(r.data && r.data.error) || r.status}`, true);
      renderConfusion(r.data.confusion);
      setModelMsg(`Loaded ${files[0].name}: hidden ${r.data.hidden}, test accuracy ${pct(r.data.test_accuracy)} here.`);
      return;
    }
    const role = (f) => {
      const n = f.name.toLowerCase();
      const split = /t10k|test/.test(n) ? 2 : /train/.test(n) ? 0 : -1;
      const kind = /label/.test(n) ? 1 : /image/.test(n) ? 0 : -1;
      return split < 0 || kind < 0 ? -1 : split + kind;
    };
    const slots = [null, null, null, null];
    for (const f of files) if (role(f) >= 0) slots[role(f)] = f;
    if (files.length !== 4 || slots.includes(null))
      return setModelMsg('Drop one .safetensors model, or the four IDX files of a data set (train-images, train-labels, ' +
        't10k-images and t10k-labels, raw or .gz).', true);
    setModelMsg('Reading the four IDX files…');
    const r = await trainer.loadData(await Promise.all(slots.map((f) => f.arrayBuffer())));
    if (!r.ok) return setModelMsg((r.data && r.data.error) || `the files were refused (${r.status})`, true);
    applyState(r.data, trainer.device);
    setModelMsg(`Data set loaded: ${r.data.data.train.toLocaleString('en-US')} training and ${r.data.data.test.toLocaleString('en-US')} test images.`);
  }

  // ---------------------------------------------------------------- ?check=1: kernels against the CPU reference
  function onCheck(r) {
    state.checkResults.push(r);
    const line = r.error ? `FAIL ${r.kernel} ${r.shape} ${r.error}`
      : `${r.pass ? 'ok  ' : 'FAIL'} ${r.kernel} ${r.tensor} ${r.shape} rel ${Number(r.rel_error).toExponential(2)}${r.nan ? ' NaN!' : ''}`;
    state.checkLines.push(line);
    $('log').textContent = state.checkLines.join('\n');
  }

  async function runCheck() {
    state.checked = true;
    state.checkResults = [];
    state.checkLines = ['Checking every kernel against the CPU reference, in this browser…'];
    $('log').textContent = state.checkLines[0];
    const r = await trainer.check(1);
    const failures = r.ok ? r.data.failures : -1;
    state.checkLines.push(r.ok ? `${failures ? 'FAILED' : 'all kernels match the CPU reference'}: ${failures} failure${failures === 1 ? '' : 's'}`
      : `check failed: ${(r.data && r.data.error) || r.status}`);
    $('log').textContent = state.checkLines.join('\n');
    window.wgtrain.check = { done: true, failures, results: state.checkResults };
  }

  // ---------------------------------------------------------------- start
  for (const h of document.querySelectorAll('main .card h2'))
    h.append(el('span', { class: 'stale-tag', text: 'connection lost: last data received' }));
  state.checkResults = [];
  state.checkLines = [];
  clearPad();
  renderConfusion(null);
  updateButtons();
  // for the browser tests and the curious: the live objects behind the page
  window.wgtrain = { state, lossPlot, accPlot, check: null, get trainer() { return trainer; } };
  (async () => {
    state.serverAvailable = await window.WgTrainers.ServerTrainer.available();
    $('opt-server').disabled = !state.serverAvailable;
    $('opt-server').parentElement.title = state.serverAvailable ? "train on the GPU of the machine running wgtrain serve"
      : 'this page was not served by wgtrain serve';
    const asked = query.get('trainer');
    let kind = asked === 'browser' || asked === 'server' ? asked : state.serverAvailable ? 'server' : 'browser';
    if (kind === 'server' && !state.serverAvailable) {
      kind = 'browser';
      setMsg('trainer=server: this page was not served by wgtrain serve, so it trains in this browser.', true);
    }
    use(kind);
  })();
})();
