// Fast path, dispatch 1 of 3 per step: layer 1 as a tiled matmul, plus layer 2's partial sums.
// A workgroup owns a tile of TS samples x TH hidden units. It stages the tile's inputs (u8
// pixels gathered through the shuffled order, normalised here) and weights through workgroup
// memory KC inputs at a time, with each output's dot product split between two threads (half
// the inputs each) to halve the dependent chain. Then, for its TH hidden units:
//   hidden[b][j]            = relu(b1[j] + sum_k x[b][k] w1[j][k])
//   partial[tile][b][c]     = sum over its j of hidden[b][j] w2[c][j]   (summed in a fixed
//                             order by dispatch 2, so runs are bit-for-bit repeatable)
//   xbatch[b][k]            = the normalised inputs, for the weight gradient in dispatch 3
//                             (written by the hidden-tile-0 workgroups only)

struct Step {
    start: u32,
    count: u32,
    lr: f32,
    index: u32,
}

override HIDDEN: u32 = 128;
override OFF_W1: u32 = 0;
override OFF_B1: u32;
override OFF_W2: u32;
override A_HID: u32 = 0;
override A_PART: u32;
override A_X: u32;
override MAX_BATCH: u32;
const WG: u32 = 256u;
const TS: u32 = 8u;    // samples per tile
const TH: u32 = 16u;   // hidden units per tile
const KC: u32 = 64u;   // inputs staged per round
const KPAD: u32 = 65u; // padded row: the 16 weight rows fall in different banks
const INPUTS: u32 = 784u;
const WORDS: u32 = 196u;
const CLASSES: u32 = 10u;
const PIXEL_MEAN: f32 = 0.1307;
const PIXEL_STD: f32 = 0.3081;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read_write> acts: array<f32>;  // carved: see mlp.c

var<workgroup> xs: array<f32, TS * KPAD>;
var<workgroup> ws: array<f32, TH * KPAD>;
var<workgroup> part: array<f32, WG>;
var<workgroup> hs: array<f32, TS * TH>;
var<workgroup> sample_of: array<u32, TS>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let htiles = (HIDDEN + TH - 1u) / TH;
    let ht = wid.x % htiles;
    let b0 = (wid.x / htiles) * TS;
    let j0 = ht * TH;
    let o = lid % (TS * TH);
    let s = o / TH;
    let jj = o % TH;
    let half = lid / (TS * TH);  // which half of each staged round this thread sums
    if (lid < TS) {
        sample_of[lid] = order[step.start + min(b0 + lid, step.count - 1u)];
    }
    workgroupBarrier();

    var acc = 0.0;
    for (var k0 = 0u; k0 < INPUTS; k0 += KC) {
        for (var i = lid; i < TS * KC; i += WG) {
            let r = i / KC;
            let k = k0 + i % KC;
            var v = 0.0;
            if (k < INPUTS && b0 + r < step.count) {
                let byte = (images[sample_of[r] * WORDS + (k >> 2u)] >> ((k & 3u) * 8u)) & 0xffu;
                v = (f32(byte) * (1.0 / 255.0) - PIXEL_MEAN) / PIXEL_STD;
                if (ht == 0u) {
                    acts[A_X + (b0 + r) * INPUTS + k] = v;
                }
            }
            xs[r * KPAD + i % KC] = v;
        }
        for (var i = lid; i < TH * KC; i += WG) {
            let r = i / KC;
            let k = k0 + i % KC;
            var v = 0.0;
            if (k < INPUTS && j0 + r < HIDDEN) {
                v = params[OFF_W1 + (j0 + r) * INPUTS + k];
            }
            ws[r * KPAD + i % KC] = v;
        }
        workgroupBarrier();
        let kb = half * (KC / 2u);
        for (var kk = kb; kk < kb + KC / 2u; kk++) {
            acc += xs[s * KPAD + kk] * ws[jj * KPAD + kk];
        }
        workgroupBarrier();
    }
    part[lid] = acc;
    workgroupBarrier();
    let b = b0 + s;
    let j = j0 + jj;
    if (half == 0u) {
        var h = 0.0;
        if (b < step.count && j < HIDDEN) {
            h = max(part[lid] + part[lid + TS * TH] + params[OFF_B1 + j], 0.0);
            acts[A_HID + b * HIDDEN + j] = h;
        }
        hs[o] = h;
    }
    workgroupBarrier();
    // layer 2, this tile's share: TS x CLASSES partial dot products over its TH hidden units
    if (lid < TS * CLASSES) {
        let ps = lid / CLASSES;
        let c = lid % CLASSES;
        if (b0 + ps < step.count) {
            var sum = 0.0;
            for (var q = 0u; q < TH; q++) {
                if (j0 + q < HIDDEN) {
                    sum += hs[ps * TH + q] * params[OFF_W2 + c * HIDDEN + j0 + q];
                }
            }
            acts[A_PART + (ht * MAX_BATCH + b0 + ps) * CLASSES + c] = sum;
        }
    }
}
