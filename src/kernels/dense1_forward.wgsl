// Layer 1 forward for one minibatch (seed kernel 1, with the minibatch gather folded in):
//   hidden[b][j] = relu(b1[j] + sum_k x[b][k] * w1[j][k])
// where x[b] is training image order[step.start + b], its u8 pixels normalised here
// ((p/255 - mean) / std) so the data set stays on the GPU as bytes.
// One invocation per (sample, hidden unit).

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
@group(0) @binding(3) var<storage, read> w1: array<f32>;      // [HIDDEN][INPUTS]
@group(0) @binding(4) var<storage, read> b1: array<f32>;      // [HIDDEN]
@group(0) @binding(5) var<storage, read_write> hidden: array<f32>;  // [count][HIDDEN]

fn pixel(sample: u32, k: u32) -> f32 {
    let i = sample * INPUTS + k;
    let byte = (images[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
    return (f32(byte) * (1.0 / 255.0) - PIXEL_MEAN) / PIXEL_STD;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let t = gid.x;
    if (t >= step.count * HIDDEN) {
        return;
    }
    let b = t / HIDDEN;
    let j = t % HIDDEN;
    let sample = order[step.start + b];
    var acc = 0.0;
    for (var k = 0u; k < INPUTS; k++) {
        acc += pixel(sample, k) * w1[j * INPUTS + k];
    }
    hidden[b * HIDDEN + j] = max(acc + b1[j], 0.0);
}
