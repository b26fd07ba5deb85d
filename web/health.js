/* The dashboard's health panel: per layer, at each report (the report's last step), the
 * gradient norm, the update/weight ratio, the fraction of dead ReLUs and histograms of the
 * weights and of the layer's output, as the engine computes them on the GPU (health_stats.wgsl)
 * or in the CPU engine; docs/health.md defines each. Both trainers deliver the same "health"
 * event (host/health_json.c writes it). A run that stops on a NaN or an infinity says here
 * which layer, tensor and step.
 *
 * Wired in by app.js through WgHealth.tap(handlers), as history.js is: it adds a "health"
 * handler and watches run, state and status to reset the panel and show a divergence. */
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  // update/weight per step: about 1e-3 is the usual scale; far above, training is unstable,
  // far below, the layer barely learns
  const RATIO_HIGH = 1e-2, RATIO_LOW = 1e-4;
  let last = null; // the panel's report, redrawn on resize

  function fmt(v) {
    if (v === null || v === undefined) return 'n/a';
    if (v === 0) return '0';
    const a = Math.abs(v);
    return a >= 1e4 || a < 1e-2 ? v.toExponential(2) : v.toPrecision(3);
  }

  function ratioKind(r) {
    if (r === null || r === undefined) return '';
    return r > RATIO_HIGH ? 'high' : r < RATIO_LOW ? 'low' : 'ok';
  }

  // bars of a histogram, height by the square root of the count so that a spike (a ReLU's
  // zeros) leaves the rest visible
  function drawHist(canvas, h, color) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round((canvas.clientWidth || 240) * dpr));
    const ht = Math.max(1, Math.round((canvas.clientHeight || 44) * dpr));
    if (canvas.width !== w || canvas.height !== ht) canvas.width = w, canvas.height = ht;
    const g = canvas.getContext('2d');
    g.clearRect(0, 0, w, ht);
    const n = h.counts.length, top = Math.sqrt(Math.max(1, ...h.counts));
    const bw = w / n;
    g.fillStyle = color;
    h.counts.forEach((c, i) => {
      if (!c) return;
      const bh = Math.max(1, Math.round((Math.sqrt(c) / top) * (ht - 1)));
      g.fillRect(Math.floor(i * bw), ht - bh, Math.max(1, Math.ceil(bw) - 1), bh);
    });
    // zero, when the range holds it
    if (h.lo < 0 && h.hi > 0) {
      g.fillStyle = 'rgba(255,255,255,.35)';
      g.fillRect(Math.round(((0 - h.lo) / (h.hi - h.lo)) * w), 0, 1, ht);
    }
    canvas.dataset.bins = String(n);
    canvas.dataset.total = String(h.counts.reduce((s, x) => s + x, 0));
  }

  function histBlock(title, h, color, label) {
    const box = document.createElement('figure');
    box.className = 'health-hist';
    const cap = document.createElement('figcaption');
    cap.textContent = title;
    box.append(cap);
    if (!h) {
      const na = document.createElement('div');
      na.className = 'health-na';
      na.textContent = 'n/a (output layer: logits)';
      box.append(na);
      return { box, draw: () => {} };
    }
    const c = document.createElement('canvas');
    c.setAttribute('role', 'img');
    c.setAttribute('aria-label', `${label}: ${h.counts.length} bins from ${fmt(h.lo)} to ${fmt(h.hi)}`);
    const range = document.createElement('div');
    range.className = 'health-range';
    const lo = document.createElement('span'), hi = document.createElement('span');
    lo.textContent = fmt(h.lo);
    hi.textContent = fmt(h.hi);
    range.append(lo, hi);
    box.append(c, range);
    return { box, draw: () => drawHist(c, h, color) };
  }

  function stat(name, value, kind, hint) {
    const d = document.createElement('div');
    if (kind) d.dataset.kind = kind;
    const dt = document.createElement('dt'), dd = document.createElement('dd');
    dt.textContent = name;
    dd.textContent = value;
    if (hint) d.title = hint;
    d.append(dt, dd);
    return d;
  }

  function render(h) {
    const rows = $('health-rows');
    if (!rows) return;
    last = h;
    $('health-empty').hidden = true;
    $('health-caption').textContent = `epoch ${h.epoch}, step ${h.step} (${h.samples} samples) · update/weight ≈ 1e-3 is the usual scale`;
    const draws = [];
    const items = h.layers.map((y) => {
      const row = document.createElement('article');
      row.className = 'health-layer';
      row.dataset.layer = String(y.layer);
      const head = document.createElement('h3');
      head.textContent = `Layer ${y.layer} · ${y.fan_in}→${y.fan_out} · ${y.weight}`;
      const dl = document.createElement('dl');
      dl.className = 'health-stats';
      dl.append(
        stat('grad norm', fmt(y.grad_norm), '', `||dL/dW|| of ${y.weight} at this step (bias: ${fmt(y.grad_norm_bias)})`),
        stat('update/weight', fmt(y.update_ratio), ratioKind(y.update_ratio),
          '||ΔW|| / ||W|| of this step; about 1e-3 is the usual scale'),
        stat('dead ReLU', y.dead_fraction === null ? 'n/a' : `${(100 * y.dead_fraction).toFixed(1)}%`,
          y.dead_fraction > 0.5 ? 'high' : '', 'hidden units whose pre-activation was ≤ 0 for every sample of the batch'),
      );
      if (y.nonfinite) dl.append(stat('non-finite', String(y.nonfinite), 'high', 'NaN or infinite values in this layer\'s tensors'));
      const hists = document.createElement('div');
      hists.className = 'health-hists';
      const wb = histBlock('weights', y.weights, '#5b9bff', `${y.weight} histogram`);
      const ob = histBlock('output', y.output, '#3ecf8e', `layer ${y.layer} output histogram`);
      hists.append(wb.box, ob.box);
      draws.push(wb.draw, ob.draw);
      row.append(head, dl, hists);
      return row;
    });
    rows.replaceChildren(...items);
    for (const d of draws) d(); // after layout: the canvases know their width
  }

  function clear(text) {
    const rows = $('health-rows');
    if (!rows) return;
    last = null;
    rows.replaceChildren();
    $('health-empty').hidden = false;
    $('health-empty').textContent = text ||
      'No run yet — press Train: per-layer gradient norms, update sizes, dead ReLUs and histograms appear at the first report.';
    $('health-caption').textContent = 'per layer, at each report · update/weight ≈ 1e-3 is the usual scale';
  }

  function showAlert(message) {
    const a = $('health-alert');
    if (!a) return;
    a.hidden = !message;
    a.textContent = message ? `Training stopped: ${message}` : '';
  }

  // a divergence: the engine's message names the step, and with the panel the layer and tensor
  const diverged = (m) => /loss became|non-finite value/.test(m || '');

  const api = {
    tap(handlers) {
      const out = { ...handlers };
      out.health = (d, ...rest) => {
        render(d);
        return handlers.health && handlers.health(d, ...rest);
      };
      out.run = (d, ...rest) => {
        showAlert('');
        clear('Waiting for the first report…');
        return handlers.run && handlers.run(d, ...rest);
      };
      out.status = (d, ...rest) => {
        if (d && d.status === 'error' && diverged(d.message)) showAlert(d.message);
        return handlers.status && handlers.status(d, ...rest);
      };
      out.state = (d, ...rest) => {
        // a snapshot without points: no run to show (the latest health event follows one that has)
        if (d && (!d.points || !d.points.length)) clear();
        const st = d && d.state; // the run status: {status, message, ...}
        showAlert(st && st.status === 'error' && diverged(st.message) ? st.message : '');
        return handlers.state && handlers.state(d, ...rest);
      };
      return out;
    },
    render, clear, showAlert,
  };
  window.WgHealth = api;
  // redraw the histograms at a new width (phone rotation, window resize)
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => last && render(last), 150);
  });
})();
