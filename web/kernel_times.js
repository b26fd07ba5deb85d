/* The Kernel times panel: the GPU time of each kernel of one training step per report, from
 * timestamp queries (src/host/kernel_times.h gives the payload both trainers send, in the state
 * as "kernel_times" and as "kernel_times" events). A bar per dispatch, in the order they run,
 * with its microseconds and its share of the step; where there is nothing to show, one line
 * that says why (the CPU engine, an adapter or browser without timestamp-query, off for the
 * run). The checkbox decides whether the next run times its kernels ("kernel_times" of POST
 * /api/train; ?kernel_times=0 unticks it).
 *
 *   window.WgKernelTimes.update(payload)  a state's or an event's payload (null: not known yet)
 *   window.WgKernelTimes.enabled()         the checkbox, for the train request
 */
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  let last = null;

  const micros = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(us < 10 ? 1 : 0)} µs`);

  // One line for each state without samples; null when there are samples to draw.
  function reason(p) {
    if (!p) return 'Waiting for the trainer…';
    if (!p.available) return `Not available: ${p.reason || 'no timestamp queries here'}.`;
    if (!p.enabled) return 'Off for this run: tick the box, then Train, to time each kernel.';
    if (!Array.isArray(p.kernels)) return 'The first report brings them: its last step runs each dispatch in a timed pass of its own.';
    return null;
  }

  function row(k, widest) {
    const li = document.createElement('li');
    li.dataset.kernel = k.kernel;
    li.title = `${k.kernel}${k.layer ? `, layer ${k.layer}` : ''}: ${micros(k.us)}, ${(100 * k.share).toFixed(1)}% of the step's GPU time`;
    const name = document.createElement('span');
    name.className = 'kt-name';
    name.textContent = k.label;
    const value = document.createElement('span');
    value.className = 'kt-value';
    value.textContent = `${micros(k.us)} · ${(100 * k.share).toFixed(k.share < 0.1 ? 1 : 0)}%`;
    const track = document.createElement('div');
    track.className = 'kt-track';
    const fill = document.createElement('div');
    fill.className = 'kt-fill';
    fill.style.width = `${widest > 0 ? Math.max(0.5, (100 * k.us) / widest).toFixed(1) : 0}%`;
    track.append(fill);
    li.append(name, value, track);
    return li;
  }

  function update(p) {
    last = p;
    const rows = $('kt-rows');
    const note = $('kt-note');
    const caption = $('kt-caption');
    if (!rows) return;
    const why = reason(p);
    if (why) {
      rows.replaceChildren();
      rows.hidden = true;
      note.textContent = why;
      note.hidden = false;
      caption.textContent = 'GPU time per kernel, one step per report';
      return;
    }
    const widest = Math.max(0, ...p.kernels.map((k) => k.us));
    rows.replaceChildren(...p.kernels.map((k) => row(k, widest)));
    rows.hidden = false;
    caption.textContent = `epoch ${p.epoch}, step ${p.step} · ${micros(p.step_us)} of GPU time in ${p.kernels.length} kernels`;
    note.hidden = !p.quantised;
    note.textContent = p.quantised ? 'Quantised: the timestamps are rounded to 65.5 µs (a browser\'s defence against timing ' +
      'attacks), so short kernels read 0; Chromium with --enable-webgpu-developer-features gives exact times.' : '';
  }

  function init() {
    const box = $('kt-on');
    if (box && new URLSearchParams(location.search).get('kernel_times') === '0') box.checked = false;
    update(null);
  }

  window.WgKernelTimes = {
    update,
    enabled: () => !$('kt-on') || $('kt-on').checked,
    get last() { return last; },
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
