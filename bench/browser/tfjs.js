// TensorFlow.js side of bench/browser_race.mjs: window.race(opts) trains wgtrain's model with
// TF.js on one backend and resolves with the timed epoch's figures.
//
// Model and recipe, chosen to be wgtrain's (src/core/mlp.c) as closely as TF.js allows:
//   784-128-10 MLP: Dense(128) + ReLU, Dense(10), softmax cross-entropy averaged over the batch
//   (tf.losses.softmaxCrossEntropy with one-hot labels);
//   init: PyTorch's nn.Linear default, every weight and bias uniform in +-1/sqrt(fan_in)
//   (wgtrain's mlp_init_params; a different random stream, mulberry32 seeded with opts.seed);
//   optimizer: tf.train.momentum(lr, 0.9), i.e. v = 0.9 v + g; p -= lr v (torch.optim.SGD's rule,
//   which wgtrain's kernels use), lr set every step to wgtrain's cosine schedule over the run:
//   lr_t = 0.05 * 0.5 * (1 + cos(pi * t / steps)), t = 0 .. steps-1 (the browser engine has no
//   constant schedule, so both use this one);
//   batches of 128 drawn from a fresh shuffle of the first N training images (the last batch is
//   the remainder, as wgtrain's); pixels x / 255 normalised as wgtrain's kernels do,
//   (x / 255 - 0.1307) / 0.3081 (opts.pixels 'unit': plain x / 255 in [0, 1]), as float32
//   resident on the backend, each batch
//   gathered there (tf.gather) by an int32 index tensor uploaded per step.
// Timing: performance.now() around the epoch's steps, ending after reading back the final b2
// and the epoch's summed loss (so every queued kernel has run); a loss read-back every 50 steps
// as wgtrain's report_every. A warm-up before the clock (10 full batches and one remainder
// batch, so that every shader and program of the epoch is compiled) on the same variables,
// which are then reset to the seed's initial values with a fresh optimizer.

const log = (...a) => {
  console.log('[tfjs]', ...a);
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
  const stream = res.body.pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function idx(bytes, magic, what) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0) !== magic) throw new Error(`${what}: not an IDX file (magic ${dv.getUint32(0)})`);
  const count = dv.getUint32(4);
  if (magic === 2051) {
    if (dv.getUint32(8) !== 28 || dv.getUint32(12) !== 28) throw new Error(`${what}: not 28x28 images`);
    return { count, data: bytes.subarray(16, 16 + count * 784) };
  }
  return { count, data: bytes.subarray(8, 8 + count) };
}

async function loadMnist(base) {
  const names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const [ti, tl, vi, vl] = await Promise.all(names.map((n) => inflate(`${base}${n}.gz`)));
  return {
    trainImages: idx(ti, 2051, names[0]), trainLabels: idx(tl, 2049, names[1]),
    testImages: idx(vi, 2051, names[2]), testLabels: idx(vl, 2049, names[3]),
  };
}

// Pixels as wgtrain's kernels see them (PIXEL_MEAN, PIXEL_STD in src/kernels/*.wgsl):
// (x / 255 - 0.1307) / 0.3081; with opts.pixels 'unit', x / 255 in [0, 1].
function toFloat(u8, mode) {
  const f = new Float32Array(u8.length);
  if (mode === 'unit') for (let i = 0; i < u8.length; i++) f[i] = u8[i] / 255;
  else for (let i = 0; i < u8.length; i++) f[i] = (u8[i] / 255 - 0.1307) / 0.3081;
  return f;
}

function backendInfo(name) {
  const info = { backend: tf.getBackend() };
  try {
    const b = tf.backend();
    if (name === 'webgpu' && b.adapterInfo) {
      info.adapter = { vendor: b.adapterInfo.vendor || '', architecture: b.adapterInfo.architecture || '' };
    } else if (name === 'webgl' && b.gpgpu && b.gpgpu.gl) {
      const gl = b.gpgpu.gl;
      const ext = gl.getExtension('WEBGL_debug_renderer_info');
      info.renderer = ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
      info.webglVersion = tf.env().get('WEBGL_VERSION');
    } else if (name === 'wasm') {
      info.hardwareConcurrency = navigator.hardwareConcurrency;
      info.crossOriginIsolated = self.crossOriginIsolated;
    } else if (name === 'cpu') {
      info.hardwareConcurrency = navigator.hardwareConcurrency;
    }
  } catch (e) {
    info.infoError = String(e.message || e);
  }
  return info;
}

window.race = async function race(opts) {
  const o = { backend: 'webgpu', trainLimit: 0, batch: 128, lr: 0.05, momentum: 0.9, hidden: 128, seed: 1,
    warmupSteps: 10, progressEvery: 50, pixels: 'wgtrain', ...opts };
  if (typeof tf === 'undefined') throw new Error(`TF.js did not load: ${window.tfLoadErrors.join('; ')}`);
  const warnings = [];
  const warn = console.warn;
  console.warn = (...a) => { warnings.push(a.map(String).join(' ')); warn.apply(console, a); };
  let ok = false;
  try {
    // the wasm backend fetches its .wasm files (plain, simd, threaded-simd) from the pinned package
    if (o.backend === 'wasm' && tf.wasm) tf.wasm.setWasmPaths('/deps/@tensorflow/tfjs-backend-wasm/dist/');
    ok = await tf.setBackend(o.backend);
    await tf.ready();
  } catch (e) {
    warnings.push(String(e.message || e));
  }
  console.warn = warn;
  const ran = tf.getBackend();
  const versions = { tfjs: tf.version?.tfjs, core: tf.version_core, webgpu: tf.version_webgpu ?? null };
  if (!ok || ran !== o.backend) {
    const why = [...window.tfLoadErrors, ...warnings].join('; ') || 'tf.setBackend returned false';
    return { ok: false, requested: o.backend, backend: ran || null, versions, error: `backend ${o.backend} did not initialize: ${why}` };
  }
  tf.enableProdMode();
  const info = backendInfo(o.backend);
  log(`backend ${ran}`, JSON.stringify(info));

  const t0 = performance.now();
  const m = await loadMnist('/web/data/');
  const n = o.trainLimit > 0 ? Math.min(o.trainLimit, m.trainImages.count) : m.trainImages.count;
  const nTest = m.testImages.count;
  const xTrain = tf.tensor2d(toFloat(m.trainImages.data.subarray(0, n * 784), o.pixels), [n, 784]);
  const yTrain = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(m.trainLabels.data.subarray(0, n)), 'int32'), 10).toFloat());
  const xTest = tf.tensor2d(toFloat(m.testImages.data, o.pixels), [nTest, 784]);
  const yTest = Int32Array.from(m.testLabels.data);
  log(`data: ${n} training and ${nTest} test images in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const H = o.hidden;
  const rnd = mulberry32(o.seed);
  const uniform = (count, bound) => { const a = new Float32Array(count); for (let i = 0; i < count; i++) a[i] = (2 * rnd() - 1) * bound; return a; };
  const b1Bound = 1 / Math.sqrt(784), b2Bound = 1 / Math.sqrt(H);
  const init = { W1: uniform(784 * H, b1Bound), b1: uniform(H, b1Bound), W2: uniform(H * 10, b2Bound), b2: uniform(10, b2Bound) };
  const W1 = tf.variable(tf.tensor2d(init.W1, [784, H]), true, 'W1');
  const b1 = tf.variable(tf.tensor1d(init.b1), true, 'b1');
  const W2 = tf.variable(tf.tensor2d(init.W2, [H, 10]), true, 'W2');
  const b2 = tf.variable(tf.tensor1d(init.b2), true, 'b2');
  const vars = [W1, b1, W2, b2];
  const reset = () => tf.tidy(() => {
    W1.assign(tf.tensor2d(init.W1, [784, H])); b1.assign(tf.tensor1d(init.b1));
    W2.assign(tf.tensor2d(init.W2, [H, 10])); b2.assign(tf.tensor1d(init.b2));
  });

  const forward = (x) => tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, W1), b1)), W2), b2);
  const step = (opt, indices, lr) => {
    opt.setLearningRate(lr);
    return tf.tidy(() => {
      const ix = tf.tensor1d(indices, 'int32');
      const xb = tf.gather(xTrain, ix), yb = tf.gather(yTrain, ix);
      return opt.minimize(() => tf.losses.softmaxCrossEntropy(yb, forward(xb)), true, vars);
    });
  };
  const steps = Math.ceil(n / o.batch);
  const order = new Int32Array(n);
  const shuffle = () => {
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); const t = order[i]; order[i] = order[j]; order[j] = t; }
  };
  const cosine = (t) => o.lr * 0.5 * (1 + Math.cos(Math.PI * t / steps));

  // warm-up: every program of the epoch compiled, full batches and the remainder batch
  {
    const tw = performance.now();
    const opt = tf.train.momentum(o.lr, o.momentum);
    shuffle();
    const sizes = Array(Math.min(o.warmupSteps, steps)).fill(Math.min(o.batch, n));
    if (n % o.batch) sizes.push(n % o.batch);
    let cost = null;
    for (const s of sizes) { if (cost) cost.dispose(); cost = step(opt, order.slice(0, s), o.lr); }
    await cost.data();
    cost.dispose();
    opt.dispose();
    reset();
    await b2.data();
    log(`warm-up: ${sizes.length} steps in ${((performance.now() - tw) / 1000).toFixed(2)} s`);
  }

  // the timed epoch
  const opt = tf.train.momentum(o.lr, o.momentum);
  shuffle();
  let lossSum = tf.scalar(0);
  let lastLog = 0;
  const start = performance.now();
  for (let s = 0; s < steps; s++) {
    const cost = step(opt, order.slice(s * o.batch, Math.min(n, (s + 1) * o.batch)), cosine(s));
    const next = tf.add(lossSum, cost);
    lossSum.dispose();
    lossSum = next;
    if ((s + 1) % o.progressEvery === 0) {
      const v = (await cost.data())[0];
      const now = performance.now();
      if (now - lastLog > 10000) {
        lastLog = now;
        log(`step ${s + 1}/${steps} loss ${v.toFixed(4)} ${Math.round(((s + 1) * o.batch) / ((now - start) / 1000))} samples/s`);
      }
    }
    cost.dispose();
  }
  await b2.data();
  const trainLoss = (await lossSum.data())[0] / steps;
  const seconds = (performance.now() - start) / 1000;
  lossSum.dispose();
  opt.dispose();

  // test set, after the clock
  let correct = 0, lossTotal = 0;
  for (let i = 0; i < nTest; i += 1000) {
    const c = Math.min(1000, nTest - i);
    const labels = yTest.subarray(i, i + c);
    const [pred, loss] = tf.tidy(() => {
      const logits = forward(xTest.slice([i, 0], [c, 784]));
      const oh = tf.oneHot(tf.tensor1d(labels, 'int32'), 10).toFloat();
      return [tf.argMax(logits, 1), tf.losses.softmaxCrossEntropy(oh, logits)];
    });
    const p = await pred.data();
    lossTotal += (await loss.data())[0] * c;
    pred.dispose(); loss.dispose();
    for (let k = 0; k < c; k++) if (p[k] === labels[k]) correct++;
  }
  const testAccuracy = correct / nTest;
  log(`epoch: ${seconds.toFixed(3)} s, ${Math.round(n / seconds)} samples/s, train loss ${trainLoss.toFixed(4)}, test accuracy ${testAccuracy}`);
  const memory = tf.memory();
  tf.dispose([xTrain, yTrain, xTest, ...vars]);
  return {
    ok: true, requested: o.backend, backend: ran, versions, info, trainCount: n, steps,
    epoch: { seconds, samples_per_second: n / seconds, loss: trainLoss, test_loss: lossTotal / nTest, test_accuracy: testAccuracy },
    numTensors: memory.numTensors, pixels: o.pixels,
  };
};
window.raceReady = true;
