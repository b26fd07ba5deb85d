// Layer 1 forward for one minibatch (seed kernel 1, with the minibatch gather folded in):
//   hidden[b][j] = relu(b1[j] + sum_k x[b][k] * w1[j][k])
// where x[b] is training image order[step.start + b], its u8 pixels normalised here
// ((p/255 - mean) / std) so the data set stays on the GPU as bytes.
// One invocation per (sample, hidden unit). A word holds four pixels and meets four weights as
// one vec4, and the normalisation is taken out of the sum,
//   sum_k w[k] (p[k]/255 - mean) / std = (sum_k w[k] p[k]/255) / std - (mean / std) sum_k w[k],
// which leaves one multiply-add per pixel: on CPU adapters (SwiftShader in the browser, where
// this kernel trains) that is most of the time. INPUTS is a multiple of 4 (784).

struct Step {
    start: u32,  // first position of this minibatch in `order`
    count: u32,  // samples in this minibatch (the last one of an epoch may be short)
    lr: f32,     // learning rate of this step
    index: u32,  // step number within the epoch: the metrics slot
}

override WG: u32 = 64;
override HIDDEN: u32 = 128;
override INPUTS: u32 = 784;
const PIXEL_MEAN: f32 = 0.1307;
const PIXEL_STD: f32 = 0.3081;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> images: array<u32>;  // u8 pixels, 4 per word
@group(0) @binding(2) var<storage, read> order: array<u32>;   // shuffled sample indices
@group(0) @binding(3) var<storage, read> w1: array<vec4f>;    // [HIDDEN][INPUTS / 4]
@group(0) @binding(4) var<storage, read> b1: array<f32>;      // [HIDDEN]
@group(0) @binding(5) var<storage, read_write> hidden: array<f32>;  // [count][HIDDEN]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let t = gid.x;
    if (t >= step.count * HIDDEN) {
        return;
    }
    let b = t / HIDDEN;
    let j = t % HIDDEN;
    let words = INPUTS / 4u;
    let x = order[step.start + b] * words;
    let w = j * words;
    var dot = vec4f(0.0);
    var wsum = vec4f(0.0);
    for (var q = 0u; q < words; q++) {
        let wq = w1[w + q];
        dot += unpack4x8unorm(images[x + q]) * wq; // the word's bytes / 255, lowest byte first
        wsum += wq;
    }
    let acc = (dot.x + dot.y + dot.z + dot.w) / PIXEL_STD - (PIXEL_MEAN / PIXEL_STD) * (wsum.x + wsum.y + wsum.z + wsum.w);
    hidden[b * HIDDEN + j] = max(acc + b1[j], 0.0);
}
