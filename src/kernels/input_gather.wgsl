// The minibatch's inputs, gathered through the shuffled order and normalised once per step:
//   x[b][k] = pixel(images[order[step.start + b]][k])   ((byte / 255 - mean) / std: prelude.wgsl)
// The data set stays on the GPU as u8 bytes; every dense layer then reads plain floats.
// One invocation per (sample, input).

override WG: u32;  // set from src/core/tiles.h, as every tile size
override INPUTS: u32 = 784;

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
    x[t] = pixel(u8_at(images[i >> 2u], i));
}
