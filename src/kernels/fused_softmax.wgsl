// Fast path, dispatch 2 of 3 per step (where fused_update does not fold it in, a step of two):
// per sample, finish layer 2 and go back to the hidden layer.
//   logits[b][c]  = b2[c] + sum over hidden tiles of partial[tile][b][c]   (fixed order)
//   dlogits[b][c] = (softmax - q) / count; per-sample loss and correctness, with q the one-hot
//                   label or, with SMOOTHING, (1 - SMOOTHING) onehot + SMOOTHING / CLASSES (as
//                   softmax_xent_backward.wgsl, torch's CrossEntropyLoss(label_smoothing))
//   dhidden[b][j] = (sum_c dlogits[b][c] w2[c][j]) * [hidden[b][j] > 0]
// One workgroup per SB samples.
// After a forward split over the inputs (PRE_SPLITS > 0, fused_forward_wide's SPLITS), this
// also finishes the hidden layer and layer 2, from the splits' dot products:
//   hidden[b][j]  = relu(b1[j] + sum over splits, in order, of pre[s][b][j])   (stored)
//   logits[b][c]  = b2[c] + sum over LPARTS ranges of j, in order, of the range's sum of
//                   hidden[b][j] w2[c][j]                                    (j in order)
// HC units at a time: the chunk's hidden values go to workgroup memory as well as to acts, and
// layer 2 reads them there. Read back from acts, each a load from L2 after the storage barrier,
// the 43-long chains of products took 20-23 us at every batch from 1024 to 4096 on the H200,
// where the unsplit form's 10 (bench/NOTES.md, experiment 29); the range of a thread is then
// its share of each chunk, the chunks in order.

override HIDDEN: u32 = 128;
override OFF_W2: u32;
override OFF_B2: u32;
override A_HID: u32 = 0;
override A_DHID: u32;
override A_DLOG: u32;
override A_SAMP: u32;
override A_PART: u32;
override MAX_BATCH: u32;
override HTILES: u32;  // the forward's hidden tiles: partials per sample
override SMOOTHING: f32 = 0.0;
override PRE_SPLITS: u32 = 0;
override A_PRE: u32 = 0;
override OFF_B1: u32 = 0;
// set from src/core/tiles.h: SB samples per workgroup, HC hidden units a chunk (split form)
override WG: u32;
override SB: u32;
override HC: u32;
const CLASSES: u32 = 10u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> acts: array<f32>;

var<workgroup> logit: array<f32, SB * CLASSES>;
var<workgroup> dlogit: array<f32, SB * CLASSES>;
override LPARTS: u32 = WG / (SB * CLASSES);  // threads per (sample, class) in the split form's layer 2
var<workgroup> lsum: array<f32, WG>;
var<workgroup> hchunk: array<f32, SB * HC>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let b0 = wid.x * SB;
    if (PRE_SPLITS > 0u) {
        // layer 2: LPARTS threads per (sample, class), each over a range of each chunk's units
        // (one chain of HIDDEN products a thread was 25 us at 4096: bench/NOTES.md, experiment
        // 27), then the ranges added in order
        let pair = lid % (SB * CLASSES);
        let part = lid / (SB * CLASSES);
        let s = pair / CLASSES;
        let c = pair % CLASSES;
        var sum = 0.0;
        for (var j0 = 0u; j0 < HIDDEN; j0 += HC) {
            for (var i = lid; i < SB * HC; i += WG) {
                let b = b0 + i / HC;
                let j = j0 + i % HC;
                var hv = 0.0;
                if (b < step.count && j < HIDDEN) {
                    var pre = params[OFF_B1 + j];
                    for (var sp = 0u; sp < PRE_SPLITS; sp++) {
                        pre += acts[A_PRE + (sp * MAX_BATCH + b) * HIDDEN + j];
                    }
                    hv = max(pre, 0.0);
                    acts[A_HID + b * HIDDEN + j] = hv;
                }
                hchunk[i] = hv;
            }
            workgroupBarrier();
            let n = min(HC, HIDDEN - j0);
            if (part < LPARTS) {
                for (var j = part * n / LPARTS; j < (part + 1u) * n / LPARTS; j++) {
                    sum += hchunk[s * HC + j] * params[OFF_W2 + c * HIDDEN + j0 + j];
                }
            }
            workgroupBarrier();  // the chunk's reads are done before the next one's stores
        }
        if (part < LPARTS) {
            lsum[lid] = sum;
        }
        // the hidden values, some written by other threads of this workgroup, are read at the end
        storageBarrier();
        workgroupBarrier();
        if (lid < SB * CLASSES) {
            var logit_sum = params[OFF_B2 + lid % CLASSES];
            for (var q = 0u; q < LPARTS; q++) {
                logit_sum += lsum[q * SB * CLASSES + lid];
            }
            logit[lid] = logit_sum;
        }
    } else if (lid < SB * CLASSES) {
        let b = b0 + lid / CLASSES;
        let c = lid % CLASSES;
        var sum = params[OFF_B2 + c];
        if (b < step.count) {
            for (var t = 0u; t < HTILES; t++) {
                sum += acts[A_PART + (t * MAX_BATCH + b) * CLASSES + c];
            }
        }
        logit[lid] = sum;
    }
    workgroupBarrier();
    let scale = 1.0 / f32(step.count);
    if (lid < SB && b0 + lid < step.count) {
        let b = b0 + lid;
        let sample = order[step.start + b];
        let label = u8_at(labels[sample >> 2u], sample);
        let row = lid * CLASSES;
        var sm = softmax_first(logit[row]);
        for (var c = 1u; c < CLASSES; c++) {
            sm = softmax_max(sm, logit[row + c], c);
        }
        for (var c = 0u; c < CLASSES; c++) {
            sm.sum += softmax_exp(sm, logit[row + c]);
        }
        for (var c = 0u; c < CLASSES; c++) {
            let g = (softmax_prob(sm, logit[row + c]) - softmax_target(c, label, SMOOTHING, CLASSES)) * scale;
            dlogit[row + c] = g;
            acts[A_DLOG + b * CLASSES + c] = g;
        }
        var nll = softmax_nll(sm, logit[row + label]);
        if (SMOOTHING > 0.0) {
            var all = 0.0;
            for (var c = 0u; c < CLASSES; c++) {
                all += softmax_nll(sm, logit[row + c]);
            }
            nll = softmax_smoothed_nll(nll, all, SMOOTHING, CLASSES);
        }
        acts[A_SAMP + 2u * b] = nll;
        acts[A_SAMP + 2u * b + 1u] = select(0.0, 1.0, sm.best == label);
    }
    workgroupBarrier();
    for (var i = lid; i < SB * HIDDEN; i += WG) {
        let s = i / HIDDEN;
        let j = i % HIDDEN;
        let b = b0 + s;
        if (b < step.count) {
            var acc = 0.0;
            for (var c = 0u; c < CLASSES; c++) {
                acc += dlogit[s * CLASSES + c] * params[OFF_W2 + c * HIDDEN + j];
            }
            let h = acts[A_HID + b * HIDDEN + j];
            acts[A_DHID + b * HIDDEN + j] = select(0.0, acc, h > 0.0);
        }
    }
}
