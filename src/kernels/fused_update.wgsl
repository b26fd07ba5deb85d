// Fast path, dispatch 2 of 2 per step: every gradient is a reduction over the batch, and
// each is applied the moment it is complete, so gradients never go to memory:
//   W1 tiles (workgroups [0, W1_TILES)): dW1 = dhidden^T x as a tiled matmul, staged through
//       workgroup memory TBATCH samples at a time; thread (tj, tk) owns 1 x 4 outputs.
//   then flat workgroups: one thread per element of b1, W2, b2:
//       db1[j] = sum_b dhidden[b][j];  dW2[c][j] = sum_b dlogits[b][c] hidden[b][j];
//       db2[c] = sum_b dlogits[b][c]
//   the last workgroup sums the per-sample losses and hits into metrics[step.index].
// Update, as torch.optim.SGD: v = MOMENTUM * v + g; p -= lr * v (plain p -= lr * g at 0).

struct Step {
    start: u32,
    count: u32,
    lr: f32,
    index: u32,
}

override HIDDEN: u32 = 128;
override MOMENTUM: f32 = 0.0;
override OFF_W1: u32 = 0;
override OFF_B1: u32;
override OFF_W2: u32;
override OFF_B2: u32;
override A_HID: u32 = 0;
override A_DHID: u32;
override A_DLOG: u32;
override A_SAMP: u32;
override W1_TILES: u32;   // ceil(HIDDEN / TJ) * K_TILES
override FLAT_GROUPS: u32;  // ceil((HIDDEN + CLASSES * HIDDEN + CLASSES) / WG)
const WG: u32 = 256u;
const TJ: u32 = 16u;       // hidden units per W1 tile
const TK: u32 = 64u;       // inputs per W1 tile (16 threads x 4)
const K_TILES: u32 = 13u;  // ceil(784 / 64)
const TBATCH: u32 = 32u;   // samples staged per round
const INPUTS: u32 = 784u;
const WORDS: u32 = 196u;
const CLASSES: u32 = 10u;
const PIXEL_MEAN: f32 = 0.1307;
const PIXEL_STD: f32 = 0.3081;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(5) var<storage, read> acts: array<f32>;  // carved as in fused_forward_backward
@group(0) @binding(6) var<storage, read_write> metrics: array<f32>;

var<workgroup> dh_tile: array<f32, TBATCH * TJ>;
var<workgroup> x_tile: array<f32, TBATCH * TK>;
var<workgroup> loss_part: array<f32, WG>;
var<workgroup> hit_part: array<f32, WG>;

fn apply(i: u32, g: f32) {
    var d = g;
    if (MOMENTUM != 0.0) {
        d = MOMENTUM * velocity[i] + g;
        velocity[i] = d;
    }
    params[i] -= step.lr * d;
}

fn pixel(sample: u32, k: u32) -> f32 {
    let byte = (images[sample * WORDS + (k >> 2u)] >> ((k & 3u) * 8u)) & 0xffu;
    return (f32(byte) * (1.0 / 255.0) - PIXEL_MEAN) / PIXEL_STD;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let count = step.count;
    if (wid.x < W1_TILES) {
        let j0 = (wid.x / K_TILES) * TJ;
        let k0 = (wid.x % K_TILES) * TK;
        let tj = lid / 16u;
        let tk = (lid % 16u) * 4u;
        var acc = vec4f(0.0);
        for (var b0 = 0u; b0 < count; b0 += TBATCH) {
            for (var i = lid; i < TBATCH * TJ; i += WG) {
                let b = b0 + i / TJ;
                let j = j0 + i % TJ;
                var v = 0.0;
                if (b < count && j < HIDDEN) {
                    v = acts[A_DHID + b * HIDDEN + j];
                }
                dh_tile[i] = v;
            }
            for (var i = lid; i < TBATCH * TK; i += WG) {
                let b = b0 + i / TK;
                let k = k0 + i % TK;
                var v = 0.0;
                if (b < count && k < INPUTS) {
                    v = pixel(order[step.start + b], k);
                }
                x_tile[i] = v;
            }
            workgroupBarrier();
            for (var b = 0u; b < TBATCH; b++) {
                let d = dh_tile[b * TJ + tj];
                let xs = vec4f(x_tile[b * TK + tk], x_tile[b * TK + tk + 1u], x_tile[b * TK + tk + 2u],
                               x_tile[b * TK + tk + 3u]);
                acc += d * xs;
            }
            workgroupBarrier();
        }
        let j = j0 + tj;
        if (j < HIDDEN) {
            for (var q = 0u; q < 4u; q++) {
                let k = k0 + tk + q;
                if (k < INPUTS) {
                    apply(OFF_W1 + j * INPUTS + k, acc[q]);
                }
            }
        }
        return;
    }

    let flat = wid.x - W1_TILES;
    if (flat < FLAT_GROUPS) {
        let e = flat * WG + lid;
        if (e < HIDDEN) {
            var g = 0.0;
            for (var b = 0u; b < count; b++) {
                g += acts[A_DHID + b * HIDDEN + e];
            }
            apply(OFF_B1 + e, g);
        } else if (e < HIDDEN + CLASSES * HIDDEN) {
            let i = e - HIDDEN;
            let c = i / HIDDEN;
            let j = i % HIDDEN;
            var g = 0.0;
            for (var b = 0u; b < count; b++) {
                g += acts[A_DLOG + b * CLASSES + c] * acts[A_HID + b * HIDDEN + j];
            }
            apply(OFF_W2 + i, g);
        } else if (e < HIDDEN + CLASSES * HIDDEN + CLASSES) {
            let c = e - HIDDEN - CLASSES * HIDDEN;
            var g = 0.0;
            for (var b = 0u; b < count; b++) {
                g += acts[A_DLOG + b * CLASSES + c];
            }
            apply(OFF_B2 + c, g);
        }
        return;
    }

    // the metrics workgroup
    var loss = 0.0;
    var hits = 0.0;
    for (var b = lid; b < count; b += WG) {
        loss += acts[A_SAMP + 2u * b];
        hits += acts[A_SAMP + 2u * b + 1u];
    }
    loss_part[lid] = loss;
    hit_part[lid] = hits;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            loss_part[lid] += loss_part[lid + stride];
            hit_part[lid] += hit_part[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        metrics[2u * step.index] = loss_part[0];
        metrics[2u * step.index + 1u] = hit_part[0];
    }
}
