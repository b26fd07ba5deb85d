// Fast path at small batches: a training step in ONE dispatch per step, by pipelining steps.
// Dispatch i of a run of steps does the update of step i - 1 (UPDATE) and then the forward of
// step i (FORWARD): the first dispatch of a run is forward only, the last update only, so n
// steps take n + 1 dispatches instead of 2n (bench/NOTES.md, experiment 23).
//
// This works because a workgroup owns TH hidden units whole: their rows of W1 (every input),
// their columns of W2 and their b1. Everything the update of those units needs from other
// workgroups is the batch's logits, and those cross a dispatch boundary anyway:
//   update (step = the previous step):
//     logits[b][c]  = b2[c] + sum over tiles of partial[tile][b][c]   (fixed order, every
//                     workgroup the whole batch; the same sums as fused_softmax)
//     dlogits       = (softmax - q) / count, q the label, smoothed by SMOOTHING
//     dhidden[b][j] = (sum_c dlogits[b][c] w2[c][j]) * [hidden[b][j] > 0]   (own units)
//     W1 rows, W2 columns, b1 of own units (and b2 in tile 0) updated as torch.optim.SGD
//   forward (step = next):
//     hidden[b][j]        = relu(b1[j] + sum_k x[b][k] w1[j][k])   (the updated rows)
//     partial[tile][b][c] = sum over own j of hidden[b][j] w2[c][j] (the updated columns)
// Pixels are gathered from the u8 images through the shuffled order in both halves (the
// update's inputs are the previous step's), never stored as floats.
//
// Values that cross a dispatch are in two banks by the step's parity (step.index % 2): while
// one workgroup still reads the previous step's partial logits, hidden values, b2 and labels,
// another may already write the next step's. b2 is read from its bank, never from params, for
// the same reason: tile 0 updates it while every workgroup still needs the old value.

override HIDDEN: u32 = 128;
override OFF_W1: u32 = 0;
override OFF_B1: u32;
override OFF_W2: u32;
override OFF_B2: u32;
override A_HID: u32 = 0;  // hidden values, 2 banks of [MB][HIDDEN]
override A_PART: u32;     // partial logits, 2 banks of [HTILES][MB][CLASSES]
override A_B2: u32;       // b2 as the step's forward saw it, 2 banks of [CLASSES]
override A_LAB: u32;      // the step's labels (as f32), 2 banks of [MB], stored by its forward
override HTILES: u32;     // ceil(HIDDEN / TH): the workgroups
override UPDATE: bool;
override FORWARD: bool;
override SMOOTHING: f32 = 0.0;
// the tile; src/core/tiles.h (TILE_FST_*) has the same numbers and the workgroup memory they take
const WG: u32 = 256u;
const TH: u32 = 4u;       // hidden units per workgroup
const MB: u32 = 64u;      // samples the mapping covers (the batch may be smaller)
const KSL: u32 = 16u;     // the forward's slices of the inputs, 13 words each, x 16 groups of 4 samples
const INPUTS: u32 = 784u;
const WORDS: u32 = 196u;  // u32 words of 4 pixels per image
const CLASSES: u32 = 10u;
const SLICE_WORDS: u32 = (WORDS + KSL - 1u) / KSL;
override PART_BANK: u32 = HTILES * MB * CLASSES;

@group(0) @binding(0) var<uniform> step: Step;   // the step updated (UPDATE)
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> params: array<f32>;
@group(0) @binding(5) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(6) var<storage, read_write> acts: array<f32>;
@group(0) @binding(7) var<storage, read_write> metrics: array<f32>;
@group(0) @binding(8) var<uniform> next: Step;   // the step whose forward runs (FORWARD)
// the health panel's copy of the gradient, stored on a report's last step only (step.health)
@group(0) @binding(9) var<storage, read_write> grads: array<f32>;

var<workgroup> prev_sample: array<u32, MB>;
var<workgroup> next_sample: array<u32, MB>;
// used twice: by the update for the logits, then dlogits [b][c], dhidden [b][u] (from DH) and
// the previous step's hidden values [b][u] (from HP); then by the forward for its slices'
// partial sums [sl][b][u]
const DH: u32 = MB * CLASSES;
const HP: u32 = DH + MB * TH;
const SHARED: u32 = max(KSL * MB * TH, HP + MB * TH);
var<workgroup> shared_f: array<f32, SHARED>;
var<workgroup> w1_rows: array<vec4f, TH * WORDS>;  // own rows of W1 [u][word], as the forward reads them
var<workgroup> hidden_t: array<f32, MB * TH>;       // the forward's hidden values, own units
var<workgroup> w2_cols: array<f32, CLASSES * TH>;   // [c][u], old then updated
var<workgroup> b1_t: array<f32, TH>;
var<workgroup> b2_t: array<f32, CLASSES>;
var<workgroup> loss_hit: array<vec2f, MB>;

// p -= lr * (momentum-averaged g), as torch.optim.SGD (v is the velocity, loaded before);
// returns (new p, new v)
fn sgd_step(p: f32, v: f32, g: f32) -> vec2f {
    var d = g;
    if (step.momentum != 0.0) {
        d = step.momentum * v + g;
    }
    return vec2f(p - step.lr * d, d);
}

fn sgd_pre(i: u32, p: f32, v: f32, g: f32) -> f32 {
    if (step.health != 0u) {
        grads[i] = g;
    }
    let r = sgd_step(p, v, g);
    params[i] = r.x;
    if (step.momentum != 0.0) {
        velocity[i] = r.y;
    }
    return r.x;
}

fn sgd(i: u32, g: f32) -> f32 {
    if (step.health != 0u) {
        grads[i] = g;
    }
    var v = 0.0;
    if (step.momentum != 0.0) {
        v = velocity[i];
    }
    let r = sgd_step(params[i], v, g);
    params[i] = r.x;
    if (step.momentum != 0.0) {
        velocity[i] = r.y;
    }
    return r.x;
}

// Latency, not arithmetic, bounds this kernel (bench/NOTES.md, experiment 23): so global loads
// are issued as early as their addresses are known, and few wait on others: the samples'
// indices first; then everything else (the partial logits, own parameters and velocities, the
// update's pixels); the forward's pixels a word at a time (a whole slice held in registers
// was slower: experiment 23c).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let tile = wid.x;
    let j0 = tile * TH;
    let pair = lid < MB * TH;  // a thread per (sample, unit) in those phases:
    let jj = lid % TH;         // its unit
    let bs = min(lid / TH, MB - 1u);  // and sample
    let w = lid;               // its word of inputs in the W1 update (w < WORDS)
    let n = step.count;
    let bank = step.index % 2u;
    let mu = step.momentum;

    // the samples' indices (past the batch: its last sample, masked later); the update's labels
    // from the bank its forward stored them in (through order and labels they would be one load
    // after the indices, and the softmax would wait on them), and in tile 0 the next step's
    var prev_label = 0u;
    if (UPDATE && lid < MB) {
        prev_sample[lid] = order[step.start + min(lid, n - 1u)];
        prev_label = u32(acts[A_LAB + bank * MB + lid]);
    }
    var next_label = 0u;
    if (FORWARD && lid >= WG - MB) {
        let sample = order[next.start + min(lid - (WG - MB), next.count - 1u)];
        next_sample[lid - (WG - MB)] = sample;
        if (tile == 0u) {
            next_label = u8_at(labels[sample >> 2u], sample);
        }
    }
    // alongside: own W1 rows and their velocities, W2 columns, biases, hidden values, logits
    var p1: array<vec4f, TH>;  // p1[u]: W1[j0 + u][4w .. 4w + 3]
    var v1: array<vec4f, TH>;
    if (w < WORDS) {
        for (var u = 0u; u < TH; u++) {
            let i = OFF_W1 + min(j0 + u, HIDDEN - 1u) * INPUTS + 4u * w;
            p1[u] = vec4f(params[i], params[i + 1u], params[i + 2u], params[i + 3u]);
            if (UPDATE && mu != 0.0) {
                v1[u] = vec4f(velocity[i], velocity[i + 1u], velocity[i + 2u], velocity[i + 3u]);
            }
        }
    }
    if (lid < CLASSES * TH) {
        let j = j0 + lid % TH;
        w2_cols[lid] = select(0.0, params[OFF_W2 + (lid / TH) * HIDDEN + min(j, HIDDEN - 1u)], j < HIDDEN);
    } else if (lid < CLASSES * TH + TH) {
        let u = lid - CLASSES * TH;
        b1_t[u] = select(0.0, params[OFF_B1 + min(j0 + u, HIDDEN - 1u)], j0 + u < HIDDEN);
    } else if (tile == 0u && lid < CLASSES * TH + TH + CLASSES) {
        let c = lid - CLASSES * TH - TH;
        b2_t[c] = params[OFF_B2 + c];
    }
    // the small gradients' parameter and velocity (threads past WORDS), loaded now rather than
    // after their sums
    var small_i = 0u;
    var small_p = 0.0;
    var small_v = 0.0;
    var small_ok = false;
    if (UPDATE && lid >= WORDS) {
        let t = lid - WORDS;
        if (t < CLASSES * TH) {
            small_ok = j0 + t % TH < HIDDEN;
            small_i = OFF_W2 + (t / TH) * HIDDEN + min(j0 + t % TH, HIDDEN - 1u);
        } else if (t < CLASSES * TH + TH) {
            small_ok = j0 + t - CLASSES * TH < HIDDEN;
            small_i = OFF_B1 + min(j0 + t - CLASSES * TH, HIDDEN - 1u);
        } else if (t < CLASSES * TH + TH + CLASSES && tile == 0u) {
            small_ok = true;
            small_i = OFF_B2 + t - CLASSES * TH - TH;
        }
        if (small_ok) {
            small_p = params[small_i];
            if (mu != 0.0) {
                small_v = velocity[small_i];
            }
        }
    }
    if (UPDATE) {
        if (pair) {
            let j = j0 + jj;
            shared_f[HP + lid] = select(0.0, acts[A_HID + bank * MB * HIDDEN + bs * HIDDEN + min(j, HIDDEN - 1u)],
                                        bs < n && j < HIDDEN);
        }
        // the previous step's logits: b2 as its forward saw it plus every tile's partial sums
        for (var i = lid; i < n * CLASSES; i += WG) {
            let b = i / CLASSES;
            let c = i % CLASSES;
            var sum = acts[A_B2 + bank * CLASSES + c];
            for (var t = 0u; t < HTILES; t++) {
                sum += acts[A_PART + bank * PART_BANK + (t * MB + b) * CLASSES + c];
            }
            shared_f[i] = sum;
        }
    }
    workgroupBarrier();

    if (UPDATE) {
        // the update's pixels, word w of every sample: issued now, consumed after the softmax
        var xu: array<u32, MB>;
        if (w < WORDS) {
            for (var b = 0u; b < MB; b++) {
                xu[b] = images[prev_sample[b] * WORDS + w];
            }
        }
        let scale = 1.0 / f32(n);
        if (lid < n) {
            let label = prev_label;
            let row = lid * CLASSES;
            var sm = softmax_first(shared_f[row]);
            for (var c = 1u; c < CLASSES; c++) {
                sm = softmax_max(sm, shared_f[row + c], c);
            }
            for (var c = 0u; c < CLASSES; c++) {
                sm.sum += softmax_exp(sm, shared_f[row + c]);
            }
            var nll = softmax_nll(sm, shared_f[row + label]);
            if (SMOOTHING > 0.0) {
                var all = 0.0;
                for (var c = 0u; c < CLASSES; c++) {
                    all += softmax_nll(sm, shared_f[row + c]);
                }
                nll = softmax_smoothed_nll(nll, all, SMOOTHING, CLASSES);
            }
            loss_hit[lid] = vec2f(nll, select(0.0, 1.0, sm.best == label));
            for (var c = 0u; c < CLASSES; c++) {
                shared_f[row + c] = (softmax_prob(sm, shared_f[row + c]) - softmax_target(c, label, SMOOTHING, CLASSES)) * scale;
            }
        }
        workgroupBarrier();
        if (tile == 0u && lid == 0u) {
            var sums = vec2f(0.0);
            for (var b = 0u; b < n; b++) {
                sums += loss_hit[b];
            }
            metrics[2u * step.index] = sums.x;
            metrics[2u * step.index + 1u] = sums.y;
        }
        // dhidden of own units (0 past the batch, so the constant-length loop below adds nothing)
        if (pair) {
            var acc = 0.0;
            for (var c = 0u; c < CLASSES; c++) {
                acc += shared_f[min(bs, n - 1u) * CLASSES + c] * w2_cols[c * TH + jj];
            }
            shared_f[DH + lid] = select(0.0, acc, bs < n && shared_f[HP + lid] > 0.0);
        }
        workgroupBarrier();
        if (w < WORDS) {
            // dW1[j0 + u][4w .. 4w + 3] = sum_b dhidden[b][u] x[b][4w ..], then SGD
            var g: array<vec4f, TH>;
            for (var u = 0u; u < TH; u++) {
                g[u] = vec4f(0.0);
            }
            for (var b = 0u; b < MB; b++) {
                let x = pixel4(xu[b]);
                for (var u = 0u; u < TH; u++) {
                    g[u] += shared_f[DH + b * TH + u] * x;
                }
            }
            for (var u = 0u; u < TH; u++) {
                let j = j0 + u;
                var dv = g[u];
                if (mu != 0.0) {
                    dv = mu * v1[u] + g[u];
                }
                let row = p1[u] - step.lr * dv;
                if (j < HIDDEN) {
                    let i = OFF_W1 + j * INPUTS + 4u * w;
                    for (var q = 0u; q < 4u; q++) {
                        if (step.health != 0u) {
                            grads[i + q] = g[u][q];
                        }
                        params[i + q] = row[q];
                        if (mu != 0.0) {
                            velocity[i + q] = dv[q];
                        }
                    }
                    p1[u] = row;
                }
            }
        } else {
            // the small gradients, one thread each: dW2[c][u], db1[u], and in tile 0 db2[c]
            let t = lid - WORDS;
            if (t < CLASSES * TH) {
                let c = t / TH;
                let u = t % TH;
                var acc = 0.0;
                for (var b = 0u; b < n; b++) {
                    acc += shared_f[b * CLASSES + c] * shared_f[HP + b * TH + u];
                }
                var v = 0.0;
                if (j0 + u < HIDDEN) {
                    v = sgd_pre(OFF_W2 + c * HIDDEN + j0 + u, small_p, small_v, acc);
                }
                w2_cols[t] = v;
            } else if (t < CLASSES * TH + TH) {
                let u = t - CLASSES * TH;
                var acc = 0.0;
                for (var b = 0u; b < n; b++) {
                    acc += shared_f[DH + b * TH + u];
                }
                var v = 0.0;
                if (j0 + u < HIDDEN) {
                    v = sgd_pre(OFF_B1 + j0 + u, small_p, small_v, acc);
                }
                b1_t[u] = v;
            } else if (t < CLASSES * TH + TH + CLASSES && tile == 0u) {
                let c = t - CLASSES * TH - TH;
                var acc = 0.0;
                for (var b = 0u; b < n; b++) {
                    acc += shared_f[b * CLASSES + c];
                }
                b2_t[c] = sgd_pre(OFF_B2 + c, small_p, small_v, acc);
            }
        }
        workgroupBarrier();
    }

    if (FORWARD) {
        let nn = next.count;
        let nbank = next.index % 2u;
        // own W1 rows into workgroup memory: each thread's slice reads every unit's
        if (w < WORDS) {
            for (var u = 0u; u < TH; u++) {
                w1_rows[u * WORDS + w] = select(vec4f(0.0), p1[u], j0 + u < HIDDEN);
            }
        }
        workgroupBarrier();
        // slice sl of the inputs (words sl, sl + KSL, ...: the 16 threads of a slice group read
        // 16 consecutive words of one sample), samples 4 bg .. 4 bg + 3
        let sl = lid % KSL;
        let bg = lid / KSL;
        var acc: array<f32, 4u * TH>;  // [sample i][unit u]
        for (var q = 0u; q < SLICE_WORDS; q++) {
            let wd = sl + KSL * q;
            if (wd < WORDS) {
                var r: array<vec4f, TH>;
                for (var u = 0u; u < TH; u++) {
                    r[u] = w1_rows[u * WORDS + wd];
                }
                for (var i = 0u; i < 4u; i++) {
                    let x = pixel4(images[next_sample[4u * bg + i] * WORDS + wd]);
                    for (var u = 0u; u < TH; u++) {
                        acc[i * TH + u] += dot(x, r[u]);
                    }
                }
            }
        }
        for (var i = 0u; i < 4u * TH; i++) {
            shared_f[(sl * MB + 4u * bg) * TH + i] = acc[i];
        }
        workgroupBarrier();
        // hidden[b][j0 + jj] = relu(b1 + the slices' sums, in slice order)
        if (pair) {
            var h = b1_t[jj];
            for (var s = 0u; s < KSL; s++) {
                h += shared_f[s * MB * TH + lid];
            }
            h = max(h, 0.0);
            let j = j0 + jj;
            if (bs < nn && j < HIDDEN) {
                acts[A_HID + nbank * MB * HIDDEN + bs * HIDDEN + j] = h;
            }
            hidden_t[lid] = select(0.0, h, j < HIDDEN);
        }
        if (tile == 0u && lid < CLASSES) {
            acts[A_B2 + nbank * CLASSES + lid] = b2_t[lid];
        }
        if (tile == 0u && lid >= WG - MB && lid - (WG - MB) < nn) {
            acts[A_LAB + nbank * MB + lid - (WG - MB)] = f32(next_label);
        }
        workgroupBarrier();
        for (var i = lid; i < nn * CLASSES; i += WG) {
            let b = i / CLASSES;
            let c = i % CLASSES;
            var sum = 0.0;
            for (var u = 0u; u < TH; u++) {
                sum += hidden_t[b * TH + u] * w2_cols[c * TH + u];
            }
            acts[A_PART + nbank * PART_BANK + (tile * MB + b) * CLASSES + c] = sum;
        }
    }
}
