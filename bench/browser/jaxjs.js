// jax-js side of bench/browser_race.mjs: window.race(opts) trains wgtrain's model with jax-js
// (npm @jax-js/jax, pinned by the race) on one device ('wasm' by default) and resolves with the
// timed epoch's figures. The same recipe as tfjs.js: 784-128-10 MLP (ReLU), softmax
// cross-entropy averaged over the batch, init uniform in +-1/sqrt(fan_in) (mulberry32 seeded with
// opts.seed, the stream tfjs.js draws), SGD momentum v = 0.9 v + g; p -= lr v with lr on
// wgtrain's cosine schedule over the epoch, batches of 128 from a fresh shuffle (the last one the
// remainder), pixels (x/255 - 0.1307)/0.3081. The step (gather, forward, valueAndGrad, update)
// is one jit()-compiled function; the training set lives on the device and each batch is
// gathered there (np.take) by an int32 index array uploaded per step.
// Timing: performance.now() around the epoch, ending after the final parameters and the summed
// loss are read back; a warm-up first (10 full batches and the remainder batch, so both step
// shapes are compiled), then the parameters and velocities are reset.
import { init, defaultDevice, jit, valueAndGrad, numpy as np, nn, blockUntilReady } from '/deps/@jax-js/jax/dist/index.js';

const log = (...a) => {
  console.log('[jaxjs]', ...a);
  const el = document.getElementById('log');
  if (el) el.textContent += a.join(' ') + '\n';
};

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function inflate(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: the server answered ${res.status}`);
  return new Uint8Array(await new Response(res.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
}
const images = (b) => b.subarray(16);
const labels = (b) => b.subarray(8);
const toFloat = (u8) => { const f = new Float32Array(u8.length); for (let i = 0; i < u8.length; i++) f[i] = (u8[i] / 255 - 0.1307) / 0.3081; return f; };
const oneHot = (lab) => { const f = new Float32Array(lab.length * 10); for (let i = 0; i < lab.length; i++) f[i * 10 + lab[i]] = 1; return f; };

const KEYS = ['W1', 'b1', 'W2', 'b2'];
// ownership: every argument is consumed once; .ref where a value is used again
const forward = (p, x) => np.matmul(nn.relu(np.matmul(x, p.W1).add(p.b1)), p.W2).add(p.b2);
const lossFn = (p, x, y) => { const k = -1 / x.shape[0]; return np.sum(nn.logSoftmax(forward(p, x), -1).mul(y)).mul(k); };

window.race = async function race(opts) {
  const o = { device: 'wasm', trainLimit: 0, batch: 128, lr: 0.05, momentum: 0.9, hidden: 128, seed: 1, warmupSteps: 10, ...opts };
  const got = await init(o.device);
  if (!got.includes(o.device)) return { ok: false, error: `jax-js init('${o.device}') gave [${got.join(', ')}]` };
  defaultDevice(o.device);
  const info = { device: o.device, crossOriginIsolated: self.crossOriginIsolated, sharedArrayBuffer: typeof SharedArrayBuffer !== 'undefined',
    hardwareConcurrency: navigator.hardwareConcurrency };
  log('device', JSON.stringify(info));

  const [ti, tl, vi, vl] = await Promise.all(['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
    .map((f) => inflate(`/web/data/${f}.gz`)));
  const nAll = labels(tl).length;
  const n = o.trainLimit > 0 ? Math.min(o.trainLimit, nAll) : nAll;
  const X = np.array(toFloat(images(ti).subarray(0, n * 784))).reshape([n, 784]);
  const Y = np.array(oneHot(labels(tl).subarray(0, n))).reshape([n, 10]);
  const yTest = labels(vl);
  const nTest = yTest.length;
  const XT = np.array(toFloat(images(vi))).reshape([nTest, 784]);

  const H = o.hidden;
  const rnd = mulberry32(o.seed);
  const uniform = (count, bound) => { const a = new Float32Array(count); for (let i = 0; i < count; i++) a[i] = (2 * rnd() - 1) * bound; return a; };
  const b1Bound = 1 / Math.sqrt(784), b2Bound = 1 / Math.sqrt(H);
  const init0 = { W1: uniform(784 * H, b1Bound), b1: uniform(H, b1Bound), W2: uniform(H * 10, b2Bound), b2: uniform(10, b2Bound) };
  const shapes = { W1: [784, H], b1: [H], W2: [H, 10], b2: [10] };
  const fresh = () => Object.fromEntries(KEYS.map((k) => [k, np.array(init0[k]).reshape(shapes[k])]));
  const zeros = () => Object.fromEntries(KEYS.map((k) => [k, np.zeros(shapes[k])]));

  const m = o.momentum;
  const step = jit((p, v, xAll, yAll, ix, lr) => {
    const pr = Object.fromEntries(KEYS.map((k) => [k, p[k].ref]));
    const x = np.take(xAll, ix.ref, 0), y = np.take(yAll, ix, 0);
    const [loss, g] = valueAndGrad(lossFn)(pr, x, y);
    const nv = {}, nw = {};
    for (const k of KEYS) {
      nv[k] = v[k].mul(m).add(g[k]);
      nw[k] = p[k].sub(nv[k].ref.mul(lr.ref));
    }
    lr.dispose();
    return [loss, nw, nv];
  });

  const steps = Math.ceil(n / o.batch);
  const order = new Int32Array(n);
  const shuffle = () => {
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); const t = order[i]; order[i] = order[j]; order[j] = t; }
  };
  const cosine = (t) => o.lr * 0.5 * (1 + Math.cos(Math.PI * t / steps));
  const run = async (sizes, lrOf) => {
    let p = fresh(), v = zeros(), lossSum = np.zeros([]);
    let at = 0;
    for (let s = 0; s < sizes.length; s++) {
      const ix = np.array(order.subarray(at, at + sizes[s]), { dtype: np.int32 });
      at = (at + sizes[s]) % n;
      const [loss, np2, nv2] = step(p, v, X.ref, Y.ref, ix, np.array(lrOf(s)));
      p = np2; v = nv2;
      lossSum = lossSum.add(loss);
      if ((s + 1) % 50 === 0) await blockUntilReady(lossSum);
    }
    const sum = (await lossSum.data())[0];
    await blockUntilReady(p);
    return { p, v, sum };
  };

  { // warm-up: both step shapes compiled
    const tw = performance.now();
    shuffle();
    const sizes = Array(Math.min(o.warmupSteps, steps)).fill(Math.min(o.batch, n));
    if (n % o.batch) sizes.push(n % o.batch);
    const r = await run(sizes, () => o.lr);
    for (const k of KEYS) { r.p[k].dispose(); r.v[k].dispose(); }
    log(`warm-up: ${sizes.length} steps in ${((performance.now() - tw) / 1000).toFixed(2)} s`);
  }

  shuffle();
  const sizes = Array.from({ length: steps }, (_, s) => Math.min(o.batch, n - s * o.batch));
  const start = performance.now();
  const r = await run(sizes, cosine);
  const seconds = (performance.now() - start) / 1000;

  // test set, after the clock
  const logits = forward(r.p, XT);
  const pred = await np.argmax(logits, 1).data();
  let correct = 0;
  for (let i = 0; i < nTest; i++) if (pred[i] === yTest[i]) correct++;
  for (const k of KEYS) r.v[k].dispose();
  X.dispose(); Y.dispose();
  const testAccuracy = correct / nTest;
  log(`epoch: ${seconds.toFixed(3)} s, ${Math.round(n / seconds)} samples/s, train loss ${(r.sum / steps).toFixed(4)}, test accuracy ${testAccuracy}`);
  return { ok: true, info, trainCount: n, steps,
    epoch: { seconds, samples_per_second: n / seconds, loss: r.sum / steps, test_accuracy: testAccuracy } };
};
window.raceReady = true;
