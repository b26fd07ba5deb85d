// Layer 1 gradients (seed kernel 5), re-gathering the minibatch through `order`:
//   dw1[j][k] = sum_b dhidden[b][j] * x[b][k]
//   db1[j]    = sum_b dhidden[b][j]
// Invocations [0, ceil(HIDDEN/4) * INPUTS/4) each take four hidden units and the four inputs
// of one word of pixels (a 4x4 block of dw1: every pixel unpacked once serves four units),
// then HIDDEN more take the biases. The normalisation is taken out of the sum as in
// dense1_forward:
//   sum_b d[b] (p[b]/255 - mean) / std = (sum_b d[b] p[b]/255) / std - (mean / std) sum_b d[b].

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
@group(0) @binding(4) var<storage, read_write> dw1: array<vec4f>;  // [HIDDEN][INPUTS / 4]
@group(0) @binding(5) var<storage, read_write> db1: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let t = gid.x;
    let words = INPUTS / 4u;
    let groups = (HIDDEN + 3u) / 4u;
    let n_w = groups * words;
    if (t < n_w) {
        let j0 = (t / words) * 4u;
        let q = t % words;
        let last = step.count * HIDDEN - 1u; // keeps the loads of units past HIDDEN in bounds
        var acc: array<vec4f, 4>;
        var dsum = vec4f(0.0);
        for (var b = 0u; b < step.count; b++) {
            let p = unpack4x8unorm(images[order[step.start + b] * words + q]);
            let row = b * HIDDEN + j0;
            let d = vec4f(dhidden[min(row, last)], dhidden[min(row + 1u, last)], dhidden[min(row + 2u, last)],
                          dhidden[min(row + 3u, last)]);
            acc[0] += d.x * p;
            acc[1] += d.y * p;
            acc[2] += d.z * p;
            acc[3] += d.w * p;
            dsum += d;
        }
        for (var i = 0u; i < 4u; i++) {
            if (j0 + i < HIDDEN) {
                dw1[(j0 + i) * words + q] = acc[i] / PIXEL_STD - (PIXEL_MEAN / PIXEL_STD) * dsum[i];
            }
        }
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
