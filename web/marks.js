/* Vertical annotation lines on uPlot charts: the live edits of a run (POST /api/train/edit, or
 * `wgtrain train --control`), each drawn at the step where it took effect and labelled with its
 * value ("lr 0.01", "momentum 0.8"). The lines and labels are DOM elements over the plot (class
 * "chart-mark", in uPlot's over layer), so that they are readable text, not pixels.
 *
 *   WgMarks.plugin(() => [{x, label}])   a uPlot plugin; the list is read at every redraw
 *   WgMarks.label(edit)                  an edit event's label
 *   WgMarks.fromRecords(records)         the marks of a recorded run's edit events */
'use strict';
(() => {
  const fmt = (v) => String(Number(v.toPrecision(6)));
  function label(e) {
    const parts = [];
    if (typeof e.lr === 'number') parts.push(`lr ${fmt(e.lr)}`);
    if (typeof e.momentum === 'number') parts.push(`momentum ${fmt(e.momentum)}`);
    return parts.join(', ');
  }
  const fromEdits = (edits, prefix = '') => edits.filter((e) => typeof e.x === 'number')
    .map((e) => ({ x: e.x, label: prefix + label(e), step: e.step }));
  const fromRecords = (records, prefix = '') =>
    fromEdits(records.filter((r) => r.kind === 'event' && r.data && r.data.event === 'edit').map((r) => r.data), prefix);

  function plugin(marks) {
    let layer = null;
    const draw = (u) => {
      if (!layer) {
        layer = document.createElement('div');
        layer.className = 'chart-marks';
        u.over.append(layer);
      }
      layer.replaceChildren();
      const [x0, x1] = [u.scales.x.min, u.scales.x.max];
      for (const m of marks()) {
        if (!(m.x >= x0 && m.x <= x1)) continue;
        const left = u.valToPos(m.x, 'x');
        const line = document.createElement('div');
        line.className = 'chart-mark';
        line.style.left = `${left}px`;
        line.dataset.x = String(m.x);
        line.title = `${m.label} from step ${m.step !== undefined ? m.step + 1 : '?'}`;
        const text = document.createElement('span');
        text.className = 'chart-mark-label';
        text.textContent = m.label;
        line.append(text);
        layer.append(line);
      }
    };
    return { hooks: { draw } };
  }

  window.WgMarks = { plugin, label, fromEdits, fromRecords };
})();
