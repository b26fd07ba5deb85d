// The minibatch's inputs, gathered through the shuffled order and normalised once per step:
//   x[b][k] = (images[order[step.start + b]][k] / 255 - mean) / std
// The data set stays on the GPU as u8 bytes; every dense layer then reads plain floats.
// One invocation per (sample, input).

struct Step {
    start: u32,  // first position of this minibatch in `order`
    count: u32,  // samples in this minibatch (the last one of an epoch may be short)
    lr: f32,     // learning rate of this step
    index: u32,  // step number within the epoch: the metrics slot
}

override WG: u32 = 64;
override INPUTS: u32 = 784;
const PIXEL_MEAN: f32 = 0.1307;
const PIXEL_STD: f32 = 0.3081;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> images: array<u32>;  // u8 pixels, 4 per word
@group(0) @binding(2) var<storage, read> order: array<u32>;   // shuffled sample indices
@group(0) @binding(3) var<storage, read_write> x: array<f32>; // [count][INPUTS]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let t = gid.x;
    if (t >= step.count * INPUTS) {
        return;
    }
    let b = t / INPUTS;
    let k = t % INPUTS;
    let i = order[step.start + b] * INPUTS + k;
    let byte = (images[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
    x[t] = (f32(byte) * (1.0 / 255.0) - PIXEL_MEAN) / PIXEL_STD;
}
