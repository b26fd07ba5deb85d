// Fast path, dispatch 1 of 2 per step: everything that is per sample, fused.
// For its TB samples a workgroup gathers and normalises the u8 pixels into workgroup memory,
// then computes
//   hidden  = relu(x W1^T + b1)                      (kept for dispatch 2: dW1, dW2)
//   logits  = hidden W2^T + b2, softmax, cross-entropy
//   dlogits = (softmax - onehot) / count             (kept for dispatch 2: dW2, db2)
//   dhidden = (dlogits W2) * [hidden > 0]            (kept for dispatch 2: dW1, db1)
//   per-sample loss and correctness                  (summed by dispatch 2)
// Each thread owns hidden units and walks all TB samples at once, so a weight loaded from
// memory serves TB multiply-adds, while the samples' pixels are broadcast from workgroup memory.
// Parameters are one buffer carved by the engine's size table (offsets as override constants).

struct Step {
    start: u32,
    count: u32,
    lr: f32,
    index: u32,
}

override WG: u32 = 128;
override HIDDEN: u32 = 128;
override TB: u32 = 8;  // samples per workgroup, at most MAX_TB
override OFF_W1: u32 = 0;
override OFF_B1: u32;
override OFF_W2: u32;
override OFF_B2: u32;
override A_HID: u32 = 0;
override A_DHID: u32;
override A_DLOG: u32;
override A_SAMP: u32;
const MAX_TB: u32 = 8u;
const INPUTS: u32 = 784u;
const WORDS: u32 = 196u;  // u32 words per image (784 bytes)
const CLASSES: u32 = 10u;
const PIXEL_MEAN: f32 = 0.1307;
const PIXEL_STD: f32 = 0.3081;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read> params: array<f32>;
// Activations for dispatch 2, one buffer carved like the parameters:
//   hidden [count][HIDDEN] at A_HID, dhidden [count][HIDDEN] at A_DHID,
//   dlogits [count][CLASSES] at A_DLOG, per-sample (loss, correct) [count][2] at A_SAMP
@group(0) @binding(5) var<storage, read_write> acts: array<f32>;

var<workgroup> x: array<f32, TB * INPUTS>;
var<workgroup> logit: array<f32, TB * CLASSES>;
var<workgroup> dlogit: array<f32, TB * CLASSES>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let first = wid.x * TB;
    let n = min(TB, step.count - first);  // the grid never starts past count

    // gather this workgroup's samples, normalised, into workgroup memory
    for (var i = lid; i < n * WORDS; i += WG) {
        let b = i / WORDS;
        let w = i - b * WORDS;
        let word = images[order[step.start + first + b] * WORDS + w];
        for (var q = 0u; q < 4u; q++) {
            let byte = (word >> (8u * q)) & 0xffu;
            x[b * INPUTS + w * 4u + q] = (f32(byte) * (1.0 / 255.0) - PIXEL_MEAN) / PIXEL_STD;
        }
    }
    workgroupBarrier();

    // layer 1: each thread owns hidden units j and computes them for all n samples
    for (var j = lid; j < HIDDEN; j += WG) {
        var acc: array<f32, MAX_TB>;
        let row = OFF_W1 + j * INPUTS;
        for (var k = 0u; k < INPUTS; k++) {
            let w = params[row + k];
            for (var b = 0u; b < n; b++) {
                acc[b] += x[b * INPUTS + k] * w;
            }
        }
        let bias = params[OFF_B1 + j];
        for (var b = 0u; b < n; b++) {
            acts[A_HID + (first + b) * HIDDEN + j] = max(acc[b] + bias, 0.0);
        }
    }
    storageBarrier();
    workgroupBarrier();

    // layer 2: one thread per (sample, class)
    for (var o = lid; o < n * CLASSES; o += WG) {
        let b = o / CLASSES;
        let c = o - b * CLASSES;
        var acc = 0.0;
        let h = (first + b) * HIDDEN;
        let w = OFF_W2 + c * HIDDEN;
        for (var j = 0u; j < HIDDEN; j++) {
            acc += acts[A_HID + h + j] * params[w + j];
        }
        logit[o] = acc + params[OFF_B2 + c];
    }
    workgroupBarrier();

    // softmax, loss, dlogits: one thread per sample
    let scale = 1.0 / f32(step.count);
    for (var b = lid; b < n; b += WG) {
        let s = step.start + first + b;
        let sample = order[s];
        let label = (labels[sample >> 2u] >> ((sample & 3u) * 8u)) & 0xffu;
        let row = b * CLASSES;
        var best = 0u;
        var top = logit[row];
        for (var c = 1u; c < CLASSES; c++) {
            if (logit[row + c] > top) {
                top = logit[row + c];
                best = c;
            }
        }
        var sum = 0.0;
        for (var c = 0u; c < CLASSES; c++) {
            sum += exp(logit[row + c] - top);
        }
        for (var c = 0u; c < CLASSES; c++) {
            let g = (exp(logit[row + c] - top) / sum - select(0.0, 1.0, c == label)) * scale;
            dlogit[row + c] = g;
            acts[A_DLOG + (first + b) * CLASSES + c] = g;
        }
        acts[A_SAMP + 2u * (first + b)] = log(sum) + top - logit[row + label];
        acts[A_SAMP + 2u * (first + b) + 1u] = select(0.0, 1.0, best == label);
    }
    workgroupBarrier();

    // back into the hidden layer, through the ReLU
    for (var j = lid; j < HIDDEN; j += WG) {
        for (var b = 0u; b < n; b++) {
            var acc = 0.0;
            for (var c = 0u; c < CLASSES; c++) {
                acc += dlogit[b * CLASSES + c] * params[OFF_W2 + c * HIDDEN + j];
            }
            let i = (first + b) * HIDDEN + j;
            acts[A_DHID + i] = select(0.0, acc, acts[A_HID + i] > 0.0);  // this thread wrote hidden[i]
        }
    }
}
