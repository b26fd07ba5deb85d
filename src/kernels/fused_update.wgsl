// Fast path, the last dispatch of a step: every gradient is a reduction over the batch, applied
// the moment it is complete, so gradients never go to memory. Workgroups, in order:
//   W1 tiles   dW1[j][k] = sum_b dhidden[b][j] xbatch[b][k]: a tiled matmul, TJW hidden units x
//              TK inputs per workgroup, staged through workgroup memory a round of samples at a
//              time, the next round's loads in flight during this round's arithmetic. Two
//              shapes (bench/NOTES.md, experiments 7 and 20; workgroup-memory reads bound this
//              loop): each thread 2 x 4 outputs of a 32-unit tile, one vec2 and one vec4 read
//              feeding 8 multiply-adds, TBATCH samples a round; or, at large batches (WIDE_W1),
//              4 x 4 of a 64-unit tile, two vec4 reads feeding 16, TBW samples a round: half the
//              tiles, which costs parallelism where a batch is one slice
//   small tiles for TJ hidden units: dW2[c][j] = sum_b dlogits[b][c] hidden[b][j],
//              db1[j] = sum_b dhidden[b][j]; the first also db2[c] = sum_b dlogits[b][c]
//   metrics    the batch's loss and hits into metrics[step.index]
// Update, as torch.optim.SGD: v = mu * v + g; p -= lr * v (plain p -= lr * g at 0), with the
// step's lr and mu = step.momentum (live edits change both).
//
// Large batches (SLICES > 1): the reductions are split over the batch, workgroup row y of the
// grid summing slice y only, and each writes its partial gradient to gpart[y][param] instead
// of applying it; fused_apply.wgsl then adds the slices in order and applies the update. This
// spreads a long serial reduction over SLICES times as many workgroups.
//
// FOLD (batches of one slice, where the adapter's workgroup memory holds the batch's dlogits):
// the step is two dispatches, fused_softmax's work folded in here. Every workgroup first
// computes the dlogits of the whole batch from the forward's partial logits (the same sums in
// the same order as fused_softmax), into workgroup memory, and its tile's dhidden from them as
// it stages each round; the metrics workgroup adds the per-sample losses as it goes. The small
// tiles update W2 and b2 while other workgroups still need their old values, so everyone reads
// those from the copy fused_forward made of them (A_W2, STORE_W2 there). A few thousand partial
// sums per workgroup are cheaper than a dependent dispatch (bench/NOTES.md, experiment 22).

override HIDDEN: u32 = 128;
override OFF_W1: u32 = 0;
override OFF_B1: u32;
override OFF_W2: u32;
override OFF_B2: u32;
override A_HID: u32 = 0;
override A_DHID: u32;
override A_DLOG: u32;
override A_SAMP: u32;
override A_X: u32;
override SLICES: u32 = 1;
override PARAMS: u32;  // floats in the parameter buffer (the stride of gpart)
// the tiles, set from src/core/tiles.h (TILE_FU_*), which also checks how they fit together
override WG: u32;
override TJ: u32;          // hidden units per small tile
override WIDE_W1: bool;    // the 4 x 4 W1 tiles (set with the model's constants, from the batch)
override TJW: u32;         // hidden units per W1 tile (32, or 64 when WIDE_W1)
override TK: u32;          // inputs per W1 tile (TK / 4 threads x 4)
override TBATCH: u32;      // samples staged per round (small tiles)
override TBW: u32;         // samples staged per round (W1 tiles)
override SCRATCH: u32;     // floats of `scratch`
override K_TILES: u32;     // ceil(INPUTS / TK), set with the model's constants
// the fold (see above), set with the model's constants
override FOLD: bool;
override A_PART: u32;      // the forward's partial logits [HTILES][MAX_BATCH][CLASSES]
override HTILES: u32;
override MAX_BATCH: u32;
override A_W2: u32;        // the step's W2 [CLASSES][HIDDEN] then b2, as the forward read them
override FOLD_FLOATS: u32; // CLASSES * TJW + CLASSES * MAX_BATCH (1 without the fold)
override SMOOTHING: f32 = 0.0;  // the fold's label smoothing, as fused_softmax's
const INPUTS: u32 = 784u;
const CLASSES: u32 = 10u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(3) var<storage, read> acts: array<f32>;
@group(0) @binding(4) var<storage, read_write> metrics: array<f32>;
@group(0) @binding(5) var<storage, read_write> gpart: array<f32>;  // [SLICES][PARAMS]; unused at 1
// the health panel's copy of the gradient, stored on a report's last step only (step.health,
// SLICES 1; fused_apply stores the sum otherwise): the update is the same either way
@group(0) @binding(6) var<storage, read_write> grads: array<f32>;
// the fold's labels, through the shuffled order (unread without it)
@group(0) @binding(7) var<storage, read> labels: array<u32>;
@group(0) @binding(8) var<storage, read> order: array<u32>;

// Workgroup memory, 16 KiB in all (WebGPU's guaranteed minimum): each kind of workgroup uses
// `scratch` its own way, and only W1 tiles use `x_tile`: [TBATCH][TK / 4] inputs, or for wide
// tiles [TBW][TK / 4] inputs then [TBW][TJW / 4] dhidden (DH4, in vec4s)
var<workgroup> scratch: array<f32, SCRATCH>;
var<workgroup> x_tile: array<vec4f, TBATCH * TK / 4u>;
override DH4: u32 = TBW * TK / 4u;
// (offsets into scratch, derived from the tiles: the host sets none of them)
const DH: u32 = 0u;                   // small tiles: dhidden [TBATCH][TJ]
override HH: u32 = TBATCH * TJ;       //              hidden [TBATCH][TJ]
override DL: u32 = 2u * TBATCH * TJ;  //              dlogits [TBATCH][CLASSES]
const LOSS: u32 = 0u;                 // metrics: per-thread loss and hits
override HITS: u32 = WG;
// the fold's workgroup memory: the tile's W2 columns [CLASSES][width], then the batch's dlogits
var<workgroup> fold: array<f32, FOLD_FLOATS>;
override FW_DL: u32 = CLASSES * TJW;

// The fold's prologue, in every workgroup: W2's columns [j0, j0 + width) of this step (the
// forward's copy) and the dlogits of samples [lo, count), as fused_softmax computes them:
//   logits[b][c]  = b2[c] + sum over hidden tiles of partial[tile][b][c]   (fixed order)
//   dlogits[b][c] = (softmax - q) / step.count, q the label, smoothed by SMOOTHING
// Returns this thread's sums of the per-sample loss and hits (samples lid, lid + WG, ...: the
// metrics workgroup's order).
fn fold_prologue(lid: u32, j0: u32, width: u32, lo: u32, count: u32) -> vec2f {
    for (var i = lid; i < CLASSES * width; i += WG) {
        let j = j0 + i % width;
        fold[i] = select(0.0, acts[A_W2 + (i / width) * HIDDEN + j], j < HIDDEN);
    }
    let n = count - lo;
    for (var i = lid; i < n * CLASSES; i += WG) {
        let b = lo + i / CLASSES;
        let c = i % CLASSES;
        var sum = acts[A_W2 + CLASSES * HIDDEN + c];
        for (var t = 0u; t < HTILES; t++) {
            sum += acts[A_PART + (t * MAX_BATCH + b) * CLASSES + c];
        }
        fold[FW_DL + i] = sum;
    }
    workgroupBarrier();
    let scale = 1.0 / f32(step.count);
    var sums = vec2f(0.0);
    for (var s = lid; s < n; s += WG) {
        let sample = order[step.start + lo + s];
        let label = u8_at(labels[sample >> 2u], sample);
        let row = FW_DL + s * CLASSES;
        var sm = softmax_first(fold[row]);
        for (var c = 1u; c < CLASSES; c++) {
            sm = softmax_max(sm, fold[row + c], c);
        }
        for (var c = 0u; c < CLASSES; c++) {
            sm.sum += softmax_exp(sm, fold[row + c]);
        }
        var nll = softmax_nll(sm, fold[row + label]);
        if (SMOOTHING > 0.0) {
            var all = 0.0;
            for (var c = 0u; c < CLASSES; c++) {
                all += softmax_nll(sm, fold[row + c]);
            }
            nll = softmax_smoothed_nll(nll, all, SMOOTHING, CLASSES);
        }
        sums += vec2f(nll, select(0.0, 1.0, sm.best == label));
        for (var c = 0u; c < CLASSES; c++) {
            fold[row + c] = (softmax_prob(sm, fold[row + c]) - softmax_target(c, label, SMOOTHING, CLASSES)) * scale;
        }
    }
    workgroupBarrier();
    return sums;
}

// dlogits[lo + s][c] from the prologue (0 past the batch)
fn fold_dl(s: u32, c: u32, count_in_slice: u32) -> f32 {
    if (s >= count_in_slice) {
        return 0.0;
    }
    return fold[FW_DL + s * CLASSES + c];
}

// dhidden of sample lo + s, tile column jj (of width), from its hidden value h, as fused_softmax:
//   (sum_c dlogits[b][c] w2[c][j]) * [h > 0]
fn fold_dh(h: f32, s: u32, jj: u32, width: u32, count_in_slice: u32) -> f32 {
    if (s >= count_in_slice) {
        return 0.0;
    }
    var acc = 0.0;
    for (var c = 0u; c < CLASSES; c++) {
        acc += fold[FW_DL + s * CLASSES + c] * fold[c * width + jj];
    }
    return select(0.0, acc, h > 0.0);
}

fn apply(i: u32, g: f32, slice: u32) {
    if (SLICES == 1u && step.health != 0u) {
        grads[i] = g;
    }
    if (SLICES > 1u) {
        gpart[slice * PARAMS + i] = g;
        return;
    }
    var d = g;
    let mu = step.momentum;
    if (mu != 0.0) {
        d = mu * velocity[i] + g;
        velocity[i] = d;
    }
    params[i] -= step.lr * d;
}

// Round loads, issued a round ahead: element i of a TBATCH x width tile is (b0 + i / width, i % width).
// Two elements of a TBATCH x TJ tile of one [count][HIDDEN] region (hidden or dhidden) of acts.
fn load_hidden2(region: u32, b0: u32, j0: u32, lid: u32, count: u32) -> vec2f {
    var v = vec2f(0.0);
    for (var q = 0u; q < 2u; q++) {
        let i = lid + q * WG;
        let b = b0 + i / TJ;
        let j = j0 + i % TJ;
        if (b < count && j < HIDDEN) {
            v[q] = acts[region + b * HIDDEN + j];
        }
    }
    return v;
}

// Four consecutive inputs of a TBATCH x TK tile, starting at element `first` (a multiple of 4).
fn load_x4(b0: u32, k0: u32, first: u32, count: u32) -> vec4f {
    var v = vec4f(0.0);
    let b = b0 + first / TK;
    for (var q = 0u; q < 4u; q++) {
        let k = k0 + first % TK + q;
        if (b < count && k < INPUTS) {
            v[q] = acts[A_X + b * INPUTS + k];
        }
    }
    return v;
}

// dhidden (or hidden) for a TBATCH x TJW tile: elements lid + q * WG, q < 4.
fn load_dhw4(region: u32, b0: u32, j0: u32, lid: u32, count: u32) -> vec4f {
    var v = vec4f(0.0);
    for (var q = 0u; q < 4u; q++) {
        let i = lid + q * WG;
        let b = b0 + i / TJW;
        let j = j0 + i % TJW;
        if (b < count && j < HIDDEN) {
            v[q] = acts[region + b * HIDDEN + j];
        }
    }
    return v;
}

// Four consecutive dhidden values of a TBW x TJW tile: vec4 lid of it.
fn load_dh4(b0: u32, j0: u32, lid: u32, count: u32) -> vec4f {
    var v = vec4f(0.0);
    let b = b0 + lid / (TJW / 4u);
    for (var q = 0u; q < 4u; q++) {
        let j = j0 + 4u * (lid % (TJW / 4u)) + q;
        if (b < count && j < HIDDEN) {
            v[q] = acts[A_DHID + b * HIDDEN + j];
        }
    }
    return v;
}

fn load_dl2(b0: u32, lid: u32, count: u32) -> vec2f {
    var v = vec2f(0.0);
    for (var q = 0u; q < 2u; q++) {
        let i = lid + q * WG;
        let b = b0 + i / CLASSES;
        if (i < TBATCH * CLASSES && b < count) {
            v[q] = acts[A_DLOG + b * CLASSES + i % CLASSES];
        }
    }
    return v;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    // this workgroup row's slice of the batch: samples [lo, count)
    let per_slice = (step.count + SLICES - 1u) / SLICES;
    let lo = min(wid.y * per_slice, step.count);
    let count = min(lo + per_slice, step.count);
    let slice = wid.y;
    let jtiles = (HIDDEN + TJ - 1u) / TJ;
    let w1_tiles = (HIDDEN + TJW - 1u) / TJW * K_TILES;

    if (wid.x < w1_tiles) {
        let j0 = (wid.x / K_TILES) * TJW;
        let k0 = (wid.x % K_TILES) * TK;
        if (WIDE_W1) {
            let tx = lid % (TK / 4u);  // this thread's inputs k0 + 4 tx .. + 3
            let ty = lid / (TK / 4u);  // and hidden units j0 + 4 ty .. + 3
            var dh = load_dh4(lo, j0, lid, count);
            var xv = load_x4(lo, k0, lid * 4u, count);
            var acc: array<vec4f, 4>;  // acc[i]: hidden unit j0 + 4 ty + i, the 4 inputs
            for (var i = 0u; i < 4u; i++) {
                acc[i] = vec4f(0.0);
            }
            for (var b0 = lo; b0 < count; b0 += TBW) {
                x_tile[lid] = xv;
                x_tile[DH4 + lid] = dh;
                workgroupBarrier();
                if (b0 + TBW < count) {
                    dh = load_dh4(b0 + TBW, j0, lid, count);
                    xv = load_x4(b0 + TBW, k0, lid * 4u, count);
                }
                for (var b = 0u; b < TBW; b++) {
                    let x = x_tile[b * (TK / 4u) + tx];
                    let d = x_tile[DH4 + b * (TJW / 4u) + ty];
                    acc[0] += d.x * x;
                    acc[1] += d.y * x;
                    acc[2] += d.z * x;
                    acc[3] += d.w * x;
                }
                workgroupBarrier();
            }
            for (var i = 0u; i < 4u; i++) {
                let j = j0 + 4u * ty + i;
                if (j < HIDDEN) {
                    for (var q = 0u; q < 4u; q++) {
                        let k = k0 + 4u * tx + q;
                        if (k < INPUTS) {
                            apply(OFF_W1 + j * INPUTS + k, acc[i][q], slice);
                        }
                    }
                }
            }
            return;
        }
        let tj = (lid / (TK / 4u)) * 2u;  // this thread's hidden units: j0 + tj, j0 + tj + 1
        let tk = lid % (TK / 4u);         // and inputs k0 + 4 tk .. + 3
        // (with the fold, dh holds hidden values until the round's staging turns them into dhidden)
        var dh = load_dhw4(select(A_DHID, A_HID, FOLD), lo, j0, lid, count);
        var x0 = load_x4(lo, k0, lid * 4u, count);
        var x1 = load_x4(lo, k0, (lid + WG) * 4u, count);
        if (FOLD) {
            fold_prologue(lid, j0, TJW, lo, count);
        }
        var acc0 = vec4f(0.0);
        var acc1 = vec4f(0.0);
        for (var b0 = lo; b0 < count; b0 += TBATCH) {
            for (var q = 0u; q < 4u; q++) {
                var d = dh[q];
                if (FOLD) {
                    let i = lid + q * WG;
                    d = fold_dh(d, b0 - lo + i / TJW, i % TJW, TJW, count - lo);
                }
                scratch[lid + q * WG] = d;
            }
            x_tile[lid] = x0;
            x_tile[lid + WG] = x1;
            workgroupBarrier();
            if (b0 + TBATCH < count) {
                dh = load_dhw4(select(A_DHID, A_HID, FOLD), b0 + TBATCH, j0, lid, count);
                x0 = load_x4(b0 + TBATCH, k0, lid * 4u, count);
                x1 = load_x4(b0 + TBATCH, k0, (lid + WG) * 4u, count);
            }
            for (var b = 0u; b < TBATCH; b++) {
                let x = x_tile[b * (TK / 4u) + tk];
                acc0 += scratch[b * TJW + tj] * x;
                acc1 += scratch[b * TJW + tj + 1u] * x;
            }
            workgroupBarrier();
        }
        for (var r = 0u; r < 2u; r++) {
            let j = j0 + tj + r;
            let acc = select(acc0, acc1, r == 1u);
            if (j < HIDDEN) {
                for (var q = 0u; q < 4u; q++) {
                    let k = k0 + 4u * tk + q;
                    if (k < INPUTS) {
                        apply(OFF_W1 + j * INPUTS + k, acc[q], slice);
                    }
                }
            }
        }
        return;
    }

    let small = wid.x - w1_tiles;
    if (small < jtiles) {
        let j0 = small * TJ;
        // threads [0, 160): dW2[c][j0 + jj]; [160, 176): db1[j0 + jj]; [176, 186) in tile 0: db2[c]
        var acc = 0.0;
        var dh = vec2f(0.0);
        var dl = vec2f(0.0);
        if (!FOLD) {
            dh = load_hidden2(A_DHID, lo, j0, lid, count);
            dl = load_dl2(lo, lid, count);
        }
        var h = load_hidden2(A_HID, lo, j0, lid, count);
        if (FOLD) {
            fold_prologue(lid, j0, TJ, lo, count);
        }
        for (var b0 = lo; b0 < count; b0 += TBATCH) {
            for (var q = 0u; q < 2u; q++) {
                let i = lid + q * WG;
                var d = dh[q];
                if (FOLD) {
                    d = fold_dh(h[q], b0 - lo + i / TJ, i % TJ, TJ, count - lo);
                }
                scratch[DH + i] = d;
                scratch[HH + i] = h[q];
                if (i < TBATCH * CLASSES) {
                    var g = dl[q];
                    if (FOLD) {
                        g = fold_dl(b0 - lo + i / CLASSES, i % CLASSES, count - lo);
                    }
                    scratch[DL + i] = g;
                }
            }
            workgroupBarrier();
            if (b0 + TBATCH < count) {
                if (!FOLD) {
                    dh = load_hidden2(A_DHID, b0 + TBATCH, j0, lid, count);
                    dl = load_dl2(b0 + TBATCH, lid, count);
                }
                h = load_hidden2(A_HID, b0 + TBATCH, j0, lid, count);
            }
            if (lid < CLASSES * TJ) {
                let c = lid / TJ;
                let jj = lid % TJ;
                for (var b = 0u; b < TBATCH; b++) {
                    acc += scratch[DL + b * CLASSES + c] * scratch[HH + b * TJ + jj];
                }
            } else if (lid < CLASSES * TJ + TJ) {
                let jj = lid - CLASSES * TJ;
                for (var b = 0u; b < TBATCH; b++) {
                    acc += scratch[DH + b * TJ + jj];
                }
            } else if (lid < CLASSES * TJ + TJ + CLASSES) {
                let c = lid - CLASSES * TJ - TJ;
                for (var b = 0u; b < TBATCH; b++) {
                    acc += scratch[DL + b * CLASSES + c];
                }
            }
            workgroupBarrier();
        }
        if (lid < CLASSES * TJ) {
            let c = lid / TJ;
            let j = j0 + lid % TJ;
            if (j < HIDDEN) {
                apply(OFF_W2 + c * HIDDEN + j, acc, slice);
            }
        } else if (lid < CLASSES * TJ + TJ) {
            let j = j0 + lid - CLASSES * TJ;
            if (j < HIDDEN) {
                apply(OFF_B1 + j, acc, slice);
            }
        } else if (lid < CLASSES * TJ + TJ + CLASSES && small == 0u) {
            apply(OFF_B2 + lid - CLASSES * TJ - TJ, acc, slice);
        }
        return;
    }

    // the metrics workgroup (row 0 only: it sums the whole batch)
    if (slice != 0u) {
        return;
    }
    let all = step.count;
    var loss = 0.0;
    var hits = 0.0;
    if (FOLD) {
        let sums = fold_prologue(lid, 0u, 0u, 0u, all);
        loss = sums.x;
        hits = sums.y;
    } else {
        for (var b = lid; b < all; b += WG) {
            loss += acts[A_SAMP + 2u * b];
            hits += acts[A_SAMP + 2u * b + 1u];
        }
    }
    scratch[LOSS + lid] = loss;
    scratch[HITS + lid] = hits;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            scratch[LOSS + lid] += scratch[LOSS + lid + stride];
            scratch[HITS + lid] += scratch[HITS + lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        metrics[2u * step.index] = scratch[LOSS];
        metrics[2u * step.index + 1u] = scratch[HITS];
    }
}
