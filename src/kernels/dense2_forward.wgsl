// Layer 2 forward (seed kernel 2): logits[b][c] = b2[c] + sum_j hidden[b][j] * w2[c][j].
// One invocation per (sample, class).

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
@group(0) @binding(1) var<storage, read> hidden: array<f32>;  // [count][HIDDEN]
@group(0) @binding(2) var<storage, read> w2: array<f32>;      // [CLASSES][HIDDEN]
@group(0) @binding(3) var<storage, read> b2: array<f32>;      // [CLASSES]
@group(0) @binding(4) var<storage, read_write> logits: array<f32>;  // [count][CLASSES]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let t = gid.x;
    if (t >= step.count * CLASSES) {
        return;
    }
    let b = t / CLASSES;
    let c = t % CLASSES;
    var acc = 0.0;
    for (var j = 0u; j < HIDDEN; j++) {
        acc += hidden[b * HIDDEN + j] * w2[c * HIDDEN + j];
    }
    logits[b * CLASSES + c] = acc + b2[c];
}
