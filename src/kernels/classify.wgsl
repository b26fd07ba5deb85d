// Evaluation (test set, or images to predict): turns logits into a prediction, its
// probability, the sample's loss, and a count in the confusion matrix.
//   confusion[label * CLASSES + predicted] += 1   (atomic: integer counts are exact)
// Labels of predict-only inputs are >= CLASSES and count nowhere. The set is evaluated in
// chunks: sample step.start + b of the set is row b of this chunk's logits.

struct Step {
    start: u32,
    count: u32,
    lr: f32,
    index: u32,
}

override WG: u32 = 64;
override CLASSES: u32 = 10;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> logits: array<f32>;  // [chunk][CLASSES]
@group(0) @binding(2) var<storage, read> labels: array<u32>;  // u8, 4 per word
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;    // [set][CLASSES]
@group(0) @binding(4) var<storage, read_write> losses: array<f32>;   // [set]
@group(0) @binding(5) var<storage, read_write> predicted: array<u32>; // [set]
@group(0) @binding(6) var<storage, read_write> confusion: array<atomic<u32>>;  // [CLASSES][CLASSES]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let b = gid.x;
    if (b >= step.count) {
        return;
    }
    let s = step.start + b;
    let row = b * CLASSES;
    var best = 0u;
    var top = logits[row];
    for (var c = 1u; c < CLASSES; c++) {
        if (logits[row + c] > top) {
            top = logits[row + c];
            best = c;
        }
    }
    var sum = 0.0;
    for (var c = 0u; c < CLASSES; c++) {
        sum += exp(logits[row + c] - top);
    }
    for (var c = 0u; c < CLASSES; c++) {
        probs[s * CLASSES + c] = exp(logits[row + c] - top) / sum;
    }
    predicted[s] = best;
    let label = (labels[s >> 2u] >> ((s & 3u) * 8u)) & 0xffu;
    if (label < CLASSES) {
        losses[s] = log(sum) + top - logits[row + label];
        atomicAdd(&confusion[label * CLASSES + best], 1u);
    } else {
        losses[s] = 0.0;
    }
}
