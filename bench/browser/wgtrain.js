// wgtrain in the browser, for bench/browser_race.mjs: window.race(opts) starts the engine's Worker
// (/web/engine_worker.js, exactly what `make web` ships), runs a short warm-up run, then one timed
// run of one epoch, and resolves with the ready message's device and the timed epoch's event.
//
//   opts: {kernels: 'auto'|'fused'|'reference', device: 'gpu'|'cpu'|'auto' (the engine, as ?device=), trainLimit, warmupLimit, batch, lr, momentum,
//          hidden, seed, timeoutMs}
//
// The epoch event's `seconds` is the engine's own training time for that epoch (host_now around
// mlp_train_epoch: no set-up, no test evaluation), so the race reports it as is.

const log = (...a) => {
  console.log('[wgtrain]', ...a);
  const el = document.getElementById('log');
  if (el) el.textContent += a.join(' ') + '\n';
};

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: no answer in ${ms / 1000} s`)), ms); }),
  ]);
}

// One whole run on the worker: resolves with {epochs: [epoch events], status: final status event}.
function trainRun(w, id, body, trainLimit, kernels, label) {
  return new Promise((resolve, reject) => {
    const epochs = [];
    let lastLossLog = 0;
    const onMessage = (ev) => {
      const m = ev.data;
      if (m.type === 'reply' && m.id === id && m.status !== 202) {
        w.removeEventListener('message', onMessage);
        reject(new Error(`train call answered ${m.status}: ${JSON.stringify(m.data)}`));
      } else if (m.type === 'fatal') {
        w.removeEventListener('message', onMessage);
        reject(new Error(`worker fatal: ${m.message}`));
      } else if (m.type === 'event') {
        let d;
        try { d = JSON.parse(m.data); } catch { d = {}; }
        if (m.name === 'loss') {
          const now = performance.now();
          if (now - lastLossLog > 10000) { // a progress line every 10 s at most
            lastLossLog = now;
            log(`${label}: step ${d.step ?? '?'}/${d.steps ?? '?'} loss ${typeof d.loss === 'number' ? d.loss.toFixed(4) : '?'}`);
          }
        } else if (m.name === 'epoch') {
          epochs.push(d);
          log(`${label}: epoch ${d.epoch} ${d.seconds?.toFixed?.(3)} s, ${Math.round(d.samples_per_second)} samples/s, test accuracy ${d.test_accuracy}`);
        } else if (m.name === 'status' && ['done', 'error', 'stopped'].includes(d.status)) {
          w.removeEventListener('message', onMessage);
          if (d.status === 'done') resolve({ epochs, status: d });
          else reject(new Error(`run ended ${d.status}: ${d.message || ''}`));
        }
      }
    };
    w.addEventListener('message', onMessage);
    w.postMessage({ type: 'train', id, body, trainLimit, kernels });
  });
}

window.race = async function race(opts) {
  const o = { kernels: 'auto', device: 'gpu', trainLimit: 0, warmupLimit: 1280, batch: 128, lr: 0.05, momentum: 0.9, hidden: 128, seed: 1,
    timeoutMs: 600000, ...opts };
  const w = new Worker('/web/engine_worker.js', { type: 'module' });
  w.addEventListener('error', (e) => log('worker error event:', e.message || String(e)));
  const t0 = performance.now();
  const ready = await withTimeout(new Promise((resolve, reject) => {
    const onMessage = (ev) => {
      const m = ev.data;
      if (m.type === 'progress') log('init:', m.message);
      else if (m.type === 'ready') { w.removeEventListener('message', onMessage); resolve(m); }
      else if (m.type === 'fatal') { w.removeEventListener('message', onMessage); reject(new Error(`worker fatal: ${m.message}`)); }
    };
    w.addEventListener('message', onMessage);
    w.postMessage({ type: 'init', device: o.device });
  }), 120000, 'worker init');
  const initSeconds = (performance.now() - t0) / 1000;
  log(`ready in ${initSeconds.toFixed(1)} s on`, JSON.stringify(ready.device));
  const body = { epochs: 1, batch: o.batch, lr: o.lr, momentum: o.momentum, hidden: o.hidden, seed: o.seed };
  let warm = null;
  if (o.warmupLimit > 0) {
    const r = await withTimeout(trainRun(w, 1, body, o.warmupLimit, o.kernels, `warm-up ${o.kernels}`), o.timeoutMs, 'warm-up run');
    warm = r.epochs[0] || null;
  }
  const r = await withTimeout(trainRun(w, 2, body, o.trainLimit, o.kernels, `timed ${o.kernels}`), o.timeoutMs, 'timed run');
  w.terminate();
  const ep = r.epochs[r.epochs.length - 1];
  if (!ep) throw new Error('the timed run ended without an epoch event');
  return {
    device: ready.device,
    stateDevice: ready.state?.device ?? null,
    trainCount: ready.state?.run?.train_count ?? null,
    initSeconds,
    warmup: warm && { seconds: warm.seconds, samples_per_second: warm.samples_per_second },
    epoch: { epoch: ep.epoch, loss: ep.loss, train_accuracy: ep.train_accuracy, test_loss: ep.test_loss,
      test_accuracy: ep.test_accuracy, seconds: ep.seconds, samples_per_second: ep.samples_per_second },
    status: r.status,
  };
};
window.raceReady = true;
