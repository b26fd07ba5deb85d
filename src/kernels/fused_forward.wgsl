// Fast path, dispatch 1 of 3 per step: layer 1 as a tiled matmul, plus layer 2's partial sums.
// A workgroup owns a tile of TS samples x TH hidden units. It stages the tile's inputs (u8
// pixels gathered through the shuffled order, normalised here) and weights through workgroup
// memory KC inputs at a time. The loop is latency-bound, not arithmetic-bound, so: the next
// round's loads are issued into registers before this round's arithmetic; each output's dot
// product is split between two threads (half the inputs each); and each thread keeps four
// independent partial sums. Then, for its TH hidden units:
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
const KC: u32 = 128u;  // inputs staged per round
const KPAD: u32 = 129u; // padded row: the 16 weight rows fall in different banks
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

// Four x elements of a round, lid + q * WG for q < 4: row i / KC of the tile, input k0 + i % KC.
fn load_x4(k0: u32, b0: u32, lid: u32) -> vec4f {
    var v = vec4f(0.0);
    for (var q = 0u; q < 4u; q++) {
        let i = lid + q * WG;
        let r = i / KC;
        let k = k0 + i % KC;
        if (k < INPUTS && b0 + r < step.count) {
            let byte = (images[sample_of[r] * WORDS + (k >> 2u)] >> ((k & 3u) * 8u)) & 0xffu;
            v[q] = (f32(byte) * (1.0 / 255.0) - PIXEL_MEAN) / PIXEL_STD;
        }
    }
    return v;
}

// Four w1 elements of a round, first + q * WG for q < 4: hidden unit j0 + i / KC, input k0 + i % KC.
fn load_w4(k0: u32, j0: u32, first: u32) -> vec4f {
    var v = vec4f(0.0);
    for (var q = 0u; q < 4u; q++) {
        let i = first + q * WG;
        let r = i / KC;
        let k = k0 + i % KC;
        if (k < INPUTS && j0 + r < HIDDEN) {
            v[q] = params[OFF_W1 + (j0 + r) * INPUTS + k];
        }
    }
    return v;
}

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

    // this thread's share of each round: x elements lid + q * WG (q < 4), w1 elements lid + q * WG (q < 8)
    var xr = vec4f(0.0);
    var wr0 = vec4f(0.0);
    var wr1 = vec4f(0.0);
    xr = load_x4(0u, b0, lid);
    wr0 = load_w4(0u, j0, lid);
    wr1 = load_w4(0u, j0, lid + 4u * WG);
    var a = vec4f(0.0);
    for (var k0 = 0u; k0 < INPUTS; k0 += KC) {
        for (var q = 0u; q < 4u; q++) {
            let i = lid + q * WG;
            xs[(i / KC) * KPAD + i % KC] = xr[q];
            if (ht == 0u && k0 + i % KC < INPUTS && b0 + i / KC < step.count) {
                acts[A_X + (b0 + i / KC) * INPUTS + k0 + i % KC] = xr[q];
            }
            let i0 = lid + q * WG;
            ws[(i0 / KC) * KPAD + i0 % KC] = wr0[q];
            let i1 = lid + (q + 4u) * WG;
            ws[(i1 / KC) * KPAD + i1 % KC] = wr1[q];
        }
        workgroupBarrier();
        if (k0 + KC < INPUTS) {
            xr = load_x4(k0 + KC, b0, lid);
            wr0 = load_w4(k0 + KC, j0, lid);
            wr1 = load_w4(k0 + KC, j0, lid + 4u * WG);
        }
        let xrow = s * KPAD + half * (KC / 2u);
        let wrow = jj * KPAD + half * (KC / 2u);
        for (var kk = 0u; kk < KC / 2u; kk += 4u) {
            a += vec4f(xs[xrow + kk], xs[xrow + kk + 1u], xs[xrow + kk + 2u], xs[xrow + kk + 3u]) *
                 vec4f(ws[wrow + kk], ws[wrow + kk + 1u], ws[wrow + kk + 2u], ws[wrow + kk + 3u]);
        }
        workgroupBarrier();
    }
    let acc = a.x + a.y + a.z + a.w;
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
