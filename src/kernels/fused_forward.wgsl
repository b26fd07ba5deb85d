// Fast path, the first dispatch of a step: layer 1 for a tile of TS samples x TH hidden units,
// plus layer 2's partial sums for those hidden units.
//
// The tile's inputs (u8 pixels gathered through the shuffled order, normalised here) and
// weights are staged through workgroup memory KC inputs per round, as vec4s, the next round's
// loads in flight during this round's arithmetic. Each thread owns 2 samples x 2 hidden units
// over a KS-th of each round's inputs: four vec4 reads feed 16 multiply-adds, because reads
// from workgroup memory, not arithmetic, bound this loop. The KS partial sums of every output
// are then added in a fixed order.
//   hidden[b][j]        = relu(b1[j] + sum_k x[b][k] w1[j][k])
//   partial[tile][b][c] = sum over its j of hidden[b][j] w2[c][j]   (summed in a fixed order
//                         by dispatch 2, so runs are bit-for-bit repeatable)
//   xbatch[b][k]        = the normalised inputs, for the weight gradient in dispatch 3
//                         (written by the workgroups of hidden tile 0)
//   w2copy, b2copy      = W2 and b2 as this step reads them, where fused_update folds the
//                         softmax in (STORE_W2; written by the workgroups of sample tile 0):
//                         its small tiles update them while its other workgroups need them

override HIDDEN: u32 = 128;
override OFF_W1: u32 = 0;  // a multiple of 4: the engine aligns every tensor to 64 floats
override OFF_B1: u32;
override OFF_W2: u32;
override OFF_B2: u32 = 0;
override A_HID: u32 = 0;
override A_PART: u32;
override A_X: u32;
override MAX_BATCH: u32;
override STORE_W2: bool = false;
override A_W2: u32 = 0;  // [CLASSES][HIDDEN] then CLASSES
// the tile, set from src/core/tiles.h (TILE_FF_*), which also checks how they fit together
override TS: u32;          // samples per tile
override TH: u32;          // hidden units per tile
override KS: u32;          // threads sharing each output's dot product
override WG: u32;          // (TS / 2) x (TH / 2) x KS
override KC4: u32;         // vec4s of inputs per round (28: 112 inputs, 7 rounds of 784)
override ROW: u32 = KC4 + 1u;  // padded row of vec4s, so rows start in different banks
const INPUTS: u32 = 784u;
const WORDS: u32 = 196u;   // u32 words (and vec4s) per image
const CLASSES: u32 = 10u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read> params4: array<vec4f>;  // the same buffer, as vec4s
@group(0) @binding(5) var<storage, read_write> acts: array<f32>;  // carved: see mlp.c

var<workgroup> xs: array<vec4f, TS * ROW>;
var<workgroup> ws: array<vec4f, TH * ROW>;
var<workgroup> part: array<f32, TS * TH * KS>;
var<workgroup> hs: array<f32, TS * TH>;
var<workgroup> sample_of: array<u32, TS>;

// This thread's staging share of round r: one vec4 of inputs (row lid / KC4) ...
fn load_x(r: u32, b0: u32, lid: u32) -> vec4f {
    let row = lid / KC4;
    if (b0 + row >= step.count) {
        return vec4f(0.0);
    }
    return pixel4(images[sample_of[row] * WORDS + r * KC4 + lid % KC4]);
}

// ... and two vec4s of weights (rows i / KC4 for i = lid and lid + WG).
fn load_w(r: u32, j0: u32, i: u32) -> vec4f {
    let row = i / KC4;
    if (j0 + row >= HIDDEN) {
        return vec4f(0.0);
    }
    return params4[OFF_W1 / 4u + (j0 + row) * WORDS + r * KC4 + i % KC4];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let htiles = (HIDDEN + TH - 1u) / TH;
    let ht = wid.x % htiles;
    let b0 = (wid.x / htiles) * TS;
    let j0 = ht * TH;
    let ks = lid % KS;               // this thread's share of the inputs: vec4s ks, ks + KS, ...
    let hp = (lid / KS) % (TH / 2u); // hidden units j0 + 2 hp, + 1
    let sp = lid / (KS * TH / 2u);   // samples b0 + 2 sp, + 1
    if (lid < TS) {
        sample_of[lid] = order[step.start + min(b0 + lid, step.count - 1u)];
    }
    workgroupBarrier();

    var xr = load_x(0u, b0, lid);
    var wr0 = load_w(0u, j0, lid);
    var wr1 = load_w(0u, j0, lid + WG);
    var a00 = vec4f(0.0);  // sample 2sp, unit 2hp
    var a01 = vec4f(0.0);  // sample 2sp, unit 2hp + 1
    var a10 = vec4f(0.0);
    var a11 = vec4f(0.0);
    for (var r = 0u; r < WORDS / KC4; r++) {
        xs[(lid / KC4) * ROW + lid % KC4] = xr;
        if (ht == 0u && b0 + lid / KC4 < step.count) {
            let x = A_X + (b0 + lid / KC4) * INPUTS + 4u * (r * KC4 + lid % KC4);
            acts[x] = xr.x;
            acts[x + 1u] = xr.y;
            acts[x + 2u] = xr.z;
            acts[x + 3u] = xr.w;
        }
        ws[(lid / KC4) * ROW + lid % KC4] = wr0;
        ws[((lid + WG) / KC4) * ROW + (lid + WG) % KC4] = wr1;
        workgroupBarrier();
        if (r + 1u < WORDS / KC4) {
            xr = load_x(r + 1u, b0, lid);
            wr0 = load_w(r + 1u, j0, lid);
            wr1 = load_w(r + 1u, j0, lid + WG);
        }
        for (var k = ks; k < KC4; k += KS) {
            let x0 = xs[(2u * sp) * ROW + k];
            let x1 = xs[(2u * sp + 1u) * ROW + k];
            let w0 = ws[(2u * hp) * ROW + k];
            let w1 = ws[(2u * hp + 1u) * ROW + k];
            a00 += x0 * w0;
            a01 += x0 * w1;
            a10 += x1 * w0;
            a11 += x1 * w1;
        }
        workgroupBarrier();
    }
    // outputs o = s * TH + j (within the tile); KS partial sums each
    let o00 = (2u * sp) * TH + 2u * hp;
    part[o00 * KS + ks] = a00.x + a00.y + a00.z + a00.w;
    part[(o00 + 1u) * KS + ks] = a01.x + a01.y + a01.z + a01.w;
    part[(o00 + TH) * KS + ks] = a10.x + a10.y + a10.z + a10.w;
    part[(o00 + TH + 1u) * KS + ks] = a11.x + a11.y + a11.z + a11.w;
    workgroupBarrier();
    for (var o = lid; o < TS * TH; o += WG) {
        let b = b0 + o / TH;
        let j = j0 + o % TH;
        var h = 0.0;
        if (b < step.count && j < HIDDEN) {
            var sum = params[OFF_B1 + j];
            for (var q = 0u; q < KS; q++) {
                sum += part[o * KS + q];
            }
            h = max(sum, 0.0);
            acts[A_HID + b * HIDDEN + j] = h;
        }
        hs[o] = h;
    }
    workgroupBarrier();
    if (STORE_W2 && b0 == 0u) {
        for (var i = lid; i < CLASSES * TH; i += WG) {
            let j = j0 + i % TH;
            if (j < HIDDEN) {
                acts[A_W2 + (i / TH) * HIDDEN + j] = params[OFF_W2 + (i / TH) * HIDDEN + j];
            }
        }
        if (ht == 0u && lid < CLASSES) {
            acts[A_W2 + CLASSES * HIDDEN + lid] = params[OFF_B2 + lid];
        }
    }
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
