// Layer 2 gradients (seed kernel 4). One dispatch, three outputs, split by invocation index:
//   [0, CLASSES*HIDDEN)             dw2[c][j] = sum_b dlogits[b][c] * hidden[b][j]
//   [.., + CLASSES)                 db2[c]    = sum_b dlogits[b][c]
//   [.., + count*HIDDEN)            dhidden[b][j] = hidden[b][j] > 0
//                                       ? sum_c dlogits[b][c] * w2[c][j] : 0
// dhidden already carries the ReLU mask, so layer 1 needs no activation of its own.

struct Step {
    start: u32,
    count: u32,
    lr: f32,
    index: u32,
}

override WG: u32 = 64;
override HIDDEN: u32 = 128;
override CLASSES: u32 = 10;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> dlogits: array<f32>;  // [count][CLASSES]
@group(0) @binding(2) var<storage, read> hidden: array<f32>;   // [count][HIDDEN]
@group(0) @binding(3) var<storage, read> w2: array<f32>;       // [CLASSES][HIDDEN]
@group(0) @binding(4) var<storage, read_write> dw2: array<f32>;
@group(0) @binding(5) var<storage, read_write> db2: array<f32>;
@group(0) @binding(6) var<storage, read_write> dhidden: array<f32>;  // [count][HIDDEN]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let t = gid.x;
    let n_w = CLASSES * HIDDEN;
    if (t < n_w) {
        let c = t / HIDDEN;
        let j = t % HIDDEN;
        var acc = 0.0;
        for (var b = 0u; b < step.count; b++) {
            acc += dlogits[b * CLASSES + c] * hidden[b * HIDDEN + j];
        }
        dw2[t] = acc;
        return;
    }
    if (t < n_w + CLASSES) {
        let c = t - n_w;
        var acc = 0.0;
        for (var b = 0u; b < step.count; b++) {
            acc += dlogits[b * CLASSES + c];
        }
        db2[c] = acc;
        return;
    }
    let i = t - n_w - CLASSES;
    if (i >= step.count * HIDDEN) {
        return;
    }
    let b = i / HIDDEN;
    let j = i % HIDDEN;
    var acc = 0.0;
    for (var c = 0u; c < CLASSES; c++) {
        acc += dlogits[b * CLASSES + c] * w2[c * HIDDEN + j];
    }
    dhidden[i] = select(0.0, acc, hidden[i] > 0.0);
}
