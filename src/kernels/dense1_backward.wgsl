// Layer 1 gradients (seed kernel 5), re-gathering the minibatch through `order`:
//   [0, HIDDEN*INPUTS)    dw1[j][k] = sum_b dhidden[b][j] * x[b][k]
//   [.., + HIDDEN)        db1[j]    = sum_b dhidden[b][j]

struct Step {
    start: u32,
    count: u32,
    lr: f32,
    index: u32,
}

override WG: u32 = 64;
override HIDDEN: u32 = 128;
override INPUTS: u32 = 784;
const PIXEL_MEAN: f32 = 0.1307;
const PIXEL_STD: f32 = 0.3081;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> dhidden: array<f32>;  // [count][HIDDEN], ReLU-masked
@group(0) @binding(4) var<storage, read_write> dw1: array<f32>;
@group(0) @binding(5) var<storage, read_write> db1: array<f32>;

fn pixel(sample: u32, k: u32) -> f32 {
    let i = sample * INPUTS + k;
    let byte = (images[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
    return (f32(byte) * (1.0 / 255.0) - PIXEL_MEAN) / PIXEL_STD;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let t = gid.x;
    let n_w = HIDDEN * INPUTS;
    if (t < n_w) {
        let j = t / INPUTS;
        let k = t % INPUTS;
        var acc = 0.0;
        for (var b = 0u; b < step.count; b++) {
            acc += dhidden[b * HIDDEN + j] * pixel(order[step.start + b], k);
        }
        dw1[t] = acc;
        return;
    }
    if (t < n_w + HIDDEN) {
        let j = t - n_w;
        var acc = 0.0;
        for (var b = 0u; b < step.count; b++) {
            acc += dhidden[b * HIDDEN + j];
        }
        db1[j] = acc;
    }
}
