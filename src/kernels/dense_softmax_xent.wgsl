// The last layer and the loss in one dispatch, on the tiled (GPU) path where the classes fit in
// a tile (CLASSES <= TO): dense_forward_tiled.wgsl's function without an activation, then
// softmax_xent_backward.wgsl's, each workgroup on its own TS samples:
//   logits[b][c]  = bias[c] + sum_i inp[b][i] * w[c][i]
//   dlogits[b][c] = (softmax(logits[b])[c] - q[c]) / count, q the (smoothed) one-hot label
//   metrics[2 * (step.index * PARTS + g)]      = the loss summed over workgroup g's samples
//   metrics[2 * (step.index * PARTS + g) + 1]  = how many of them have the label as first argmax
// so the step has one dependent dispatch fewer: at batch 64 on the H200 each one costs about
// 5 us of launch and drain, a seventh of the per-layer step (bench/NOTES.md, experiment 21).
// Thread (s, c) of the workgroup computes the logit of sample b0 + s and class c over rounds of
// 4 * KC4 inputs staged through workgroup memory as vec4s; then one thread per sample takes the
// softmax of its row from workgroup memory, every thread writes its dlogit, and the first adds
// the TS samples' loss and count in order. PARTS = ceil(batch / TS) workgroups run every step
// (a short last batch too), so every metrics slot is written; the host adds them in order.

override WG: u32;   // TS * TO, from src/core/tiles.h
override TS: u32;   // samples per workgroup
override TO: u32;   // class slots per workgroup, at least CLASSES
override KC4: u32;  // vec4s of inputs per round
override ROW: u32 = KC4 + 1u;  // padded rows of vec4s, so rows start in different banks
override IN: u32 = 128;
override CLASSES: u32 = 10;
override SMOOTHING: f32 = 0.0;
override PARTS: u32 = 1;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> inp: array<f32>;             // [count][IN]
@group(0) @binding(2) var<storage, read> w: array<f32>;               // [CLASSES][IN]
@group(0) @binding(3) var<storage, read> bias: array<f32>;            // [CLASSES]
@group(0) @binding(4) var<storage, read_write> logits: array<f32>;    // [count][CLASSES]
@group(0) @binding(5) var<storage, read> labels: array<u32>;          // u8 labels, 4 per word
@group(0) @binding(6) var<storage, read> order: array<u32>;
@group(0) @binding(7) var<storage, read_write> dlogits: array<f32>;   // [count][CLASSES]
@group(0) @binding(8) var<storage, read_write> metrics: array<f32>;   // [steps][PARTS][2]

var<workgroup> xs: array<vec4f, TS * ROW>;
var<workgroup> ws: array<vec4f, TO * ROW>;
var<workgroup> z: array<f32, TS * TO>;      // the tile's logits
var<workgroup> rows: array<Softmax, TS>;    // each sample's softmax
var<workgroup> loss_s: array<f32, TS>;
var<workgroup> correct_s: array<u32, TS>;

// four consecutive inputs of sample b (or weights of class o) from k on, zero past the row's end
fn inp4(b: u32, k: u32) -> vec4f {
    var v = vec4f(0.0);
    for (var c = 0u; c < 4u; c++) {
        if (k + c < IN) {
            v[c] = inp[b * IN + k + c];
        }
    }
    return v;
}

fn w4(o: u32, k: u32) -> vec4f {
    var v = vec4f(0.0);
    for (var c = 0u; c < 4u; c++) {
        if (k + c < IN) {
            v[c] = w[o * IN + k + c];
        }
    }
    return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let b0 = wid.x * TS;
    let s = lid / TO;
    let c = lid % TO;
    let b = b0 + s;
    let live = b < step.count && c < CLASSES;
    var acc = 0.0;
    let rounds = (IN + 4u * KC4 - 1u) / (4u * KC4);
    for (var r = 0u; r < rounds; r++) {
        for (var q = lid; q < (TS + TO) * KC4; q += WG) {
            let row = q / KC4;
            let k = r * 4u * KC4 + (q % KC4) * 4u;
            var v = vec4f(0.0);
            if (row < TS) {
                if (b0 + row < step.count) {
                    v = inp4(b0 + row, k);
                }
                xs[row * ROW + q % KC4] = v;
            } else {
                if (row - TS < CLASSES) {
                    v = w4(row - TS, k);
                }
                ws[(row - TS) * ROW + q % KC4] = v;
            }
        }
        workgroupBarrier();
        for (var k4 = 0u; k4 < KC4; k4++) {
            acc += dot(xs[s * ROW + k4], ws[c * ROW + k4]);
        }
        workgroupBarrier(); // this round's reads are done before the next one's staging
    }
    var logit = 0.0;
    if (live) {
        logit = acc + bias[c];
        logits[b * CLASSES + c] = logit;
    }
    z[lid] = logit;
    workgroupBarrier();
    var label = 0u;
    if (b < step.count) {
        let sample = order[step.start + b];
        label = u8_at(labels[sample >> 2u], sample);
    }
    if (c == 0u) {
        var nll = 0.0;
        var hit = 0u;
        if (b < step.count) {
            let row = s * TO;
            var sm = softmax_first(z[row]);
            for (var k = 1u; k < CLASSES; k++) {
                sm = softmax_max(sm, z[row + k], k);
            }
            for (var k = 0u; k < CLASSES; k++) {
                sm.sum += softmax_exp(sm, z[row + k]);
            }
            nll = softmax_nll(sm, z[row + label]);
            if (SMOOTHING > 0.0) {
                var all = 0.0;
                for (var k = 0u; k < CLASSES; k++) {
                    all += softmax_nll(sm, z[row + k]);
                }
                nll = softmax_smoothed_nll(nll, all, SMOOTHING, CLASSES);
            }
            hit = select(0u, 1u, sm.best == label);
            rows[s] = sm;
        }
        loss_s[s] = nll;
        correct_s[s] = hit;
    }
    workgroupBarrier();
    if (live) {
        let p = softmax_prob(rows[s], logit);
        dlogits[b * CLASSES + c] = (p - softmax_target(c, label, SMOOTHING, CLASSES)) * (1.0 / f32(step.count));
    }
    if (lid == 0u) {
        var loss = 0.0;
        var correct = 0u;
        for (var k = 0u; k < TS; k++) {
            loss += loss_s[k];
            correct += correct_s[k];
        }
        let slot = 2u * (step.index * PARTS + wid.x);
        metrics[slot] = loss;
        metrics[slot + 1u] = f32(correct);
    }
}
