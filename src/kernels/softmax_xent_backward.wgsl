// Softmax + cross-entropy and its gradient w.r.t. the logits (seed kernel 3), plus the
// step's metrics, reduced on the GPU so training never reads back per-sample values:
//   dlogits[b][c] = (softmax(logits[b])[c] - q[c]) / count
//   metrics[2 * (step.index * PARTS + g)]     = sum over workgroup g's samples of -sum_c q[c] log softmax[c]
// with q = (1 - SMOOTHING) [c == label] + SMOOTHING / CLASSES, torch's CrossEntropyLoss with
// label_smoothing (SMOOTHING 0: the one-hot label, computed exactly as without smoothing)
//   metrics[2 * (step.index * PARTS + g) + 1] = number of those samples whose first argmax is the label
// The grid is PARTS workgroups of WG samples (PARTS = ceil(batch / WG), all of them dispatched
// every step, so every slot is written); each reduces its own samples in workgroup memory and
// the host adds a step's PARTS partials in order (mlp.c, finish_chunk). One workgroup for the
// whole batch was a serial loop of batch / WG samples per thread: 33 us a step at batch 4096 on
// the H200 (bench/NOTES.md, experiment 15).

override WG: u32;  // set from src/core/tiles.h, as every tile size
override CLASSES: u32 = 10;
override SMOOTHING: f32 = 0.0;
override PARTS: u32 = 1;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> logits: array<f32>;  // [count][CLASSES]
@group(0) @binding(2) var<storage, read> labels: array<u32>;  // u8 labels, 4 per word
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;  // [count][CLASSES]
@group(0) @binding(5) var<storage, read_write> metrics: array<f32>;  // [steps][PARTS][2]

var<workgroup> loss_part: array<f32, WG>;
var<workgroup> correct_part: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    var loss = 0.0;
    var correct = 0u;
    let scale = 1.0 / f32(step.count);
    for (var b = wid.x * WG + lid; b < step.count; b += PARTS * WG) {
        let sample = order[step.start + b];
        let label = u8_at(labels[sample >> 2u], sample);
        let row = b * CLASSES;
        var sm = softmax_first(logits[row]);
        for (var c = 1u; c < CLASSES; c++) {
            sm = softmax_max(sm, logits[row + c], c);
        }
        for (var c = 0u; c < CLASSES; c++) {
            sm.sum += softmax_exp(sm, logits[row + c]);
        }
        for (var c = 0u; c < CLASSES; c++) {
            let p = softmax_prob(sm, logits[row + c]);
            dlogits[row + c] = (p - softmax_target(c, label, SMOOTHING, CLASSES)) * scale;
        }
        var nll = softmax_nll(sm, logits[row + label]);
        if (SMOOTHING > 0.0) {
            var all = 0.0;
            for (var c = 0u; c < CLASSES; c++) {
                all += softmax_nll(sm, logits[row + c]);
            }
            nll = softmax_smoothed_nll(nll, all, SMOOTHING, CLASSES);
        }
        loss += nll;
        correct += select(0u, 1u, sm.best == label);
    }
    loss_part[lid] = loss;
    correct_part[lid] = correct;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            loss_part[lid] += loss_part[lid + stride];
            correct_part[lid] += correct_part[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        let slot = 2u * (step.index * PARTS + wid.x);
        metrics[slot] = loss_part[0];
        metrics[slot + 1u] = f32(correct_part[0]);
    }
}
