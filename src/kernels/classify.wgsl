// Evaluation (test set, or images to predict): turns logits into a prediction, its
// probability, the sample's loss, and a count in the confusion matrix.
//   confusion[label * CLASSES + predicted] += 1   (atomic: integer counts are exact)
// Labels of predict-only inputs are >= CLASSES and count nowhere. The set is evaluated in
// chunks: sample step.start + b of the set is row b of this chunk's logits.

override WG: u32;  // set from src/core/tiles.h, as every tile size
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
    var sm = softmax_first(logits[row]);
    for (var c = 1u; c < CLASSES; c++) {
        sm = softmax_max(sm, logits[row + c], c);
    }
    for (var c = 0u; c < CLASSES; c++) {
        sm.sum += softmax_exp(sm, logits[row + c]);
    }
    for (var c = 0u; c < CLASSES; c++) {
        probs[s * CLASSES + c] = softmax_prob(sm, logits[row + c]);
    }
    predicted[s] = sm.best;
    let label = u8_at(labels[s >> 2u], s);
    if (label < CLASSES) {
        losses[s] = softmax_nll(sm, logits[row + label]);
        atomicAdd(&confusion[label * CLASSES + sm.best], 1u);
    } else {
        losses[s] = 0.0;
    }
}
