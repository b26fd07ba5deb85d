// Fast path, dispatch 1 of 3 per step: layer 1 for a tile of TS samples x TH hidden units,
// plus layer 2's partial sums for those hidden units.
//
// The tile's inputs (u8 pixels gathered through the shuffled order, normalised here) are
// staged once into workgroup memory; the weights are read straight from memory as vec4s, each
// row shared by the TS samples' threads through the cache. Each output's dot product is split
// between KS threads (a KS-th of the inputs each, four independent partial sums), so the
// dependent chain is short: at small batches this kernel is latency-bound, not arithmetic-bound.
//   hidden[b][j]        = relu(b1[j] + sum_k x[b][k] w1[j][k])
//   partial[tile][b][c] = sum over its j of hidden[b][j] w2[c][j]   (summed in a fixed order
//                         by dispatch 2, so runs are bit-for-bit repeatable)
//   xbatch[b][k]        = the normalised inputs, for the weight gradient in dispatch 3
//                         (written by the workgroups of hidden tile 0)

struct Step {
    start: u32,
    count: u32,
    lr: f32,
    index: u32,
}

override HIDDEN: u32 = 128;
override TS: u32 = 8;      // samples per tile: 8, or 4 where workgroup memory is small
override OFF_W1: u32 = 0;  // a multiple of 4 (the engine aligns every tensor to 64 floats)
override OFF_B1: u32;
override OFF_W2: u32;
override A_HID: u32 = 0;
override A_PART: u32;
override A_X: u32;
override MAX_BATCH: u32;
const WG: u32 = 256u;
const TH: u32 = 16u;     // hidden units per tile
const INPUTS: u32 = 784u;
const WORDS: u32 = 196u; // u32 words (and vec4s) per image
const CLASSES: u32 = 10u;
const PIXEL_MEAN: f32 = 0.1307;
const PIXEL_STD: f32 = 0.3081;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read> params4: array<vec4f>;  // the same buffer, 16 bytes at a time
@group(0) @binding(5) var<storage, read_write> acts: array<f32>;  // carved: see mlp.c

var<workgroup> xs: array<vec4f, TS * WORDS>;
var<workgroup> part: array<f32, WG>;
var<workgroup> hs: array<f32, TS * TH>;
var<workgroup> sample_of: array<u32, TS>;

fn normalise(word: u32) -> vec4f {
    let bytes = vec4f(f32(word & 0xffu), f32((word >> 8u) & 0xffu), f32((word >> 16u) & 0xffu), f32(word >> 24u));
    return (bytes * (1.0 / 255.0) - PIXEL_MEAN) / PIXEL_STD;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let htiles = (HIDDEN + TH - 1u) / TH;
    let ht = wid.x % htiles;
    let b0 = (wid.x / htiles) * TS;
    let j0 = ht * TH;
    let outputs = TS * TH;
    let ks = WG / outputs;       // threads per output
    let o = lid % outputs;
    let s = o / TH;
    let jj = o % TH;
    let part_k = lid / outputs;  // which share of the inputs this thread sums
    if (lid < TS) {
        sample_of[lid] = order[step.start + min(b0 + lid, step.count - 1u)];
    }
    workgroupBarrier();
    for (var i = lid; i < TS * WORDS; i += WG) {
        let r = i / WORDS;
        let w = i % WORDS;
        var v = vec4f(0.0);
        if (b0 + r < step.count) {
            v = normalise(images[sample_of[r] * WORDS + w]);
            if (ht == 0u) {
                let x = A_X + (b0 + r) * INPUTS + 4u * w;
                acts[x] = v.x;
                acts[x + 1u] = v.y;
                acts[x + 2u] = v.z;
                acts[x + 3u] = v.w;
            }
        }
        xs[i] = v;
    }
    workgroupBarrier();

    let j = j0 + jj;
    let per = WORDS / ks;
    var a = vec4f(0.0);
    if (j < HIDDEN) {
        let wrow = OFF_W1 / 4u + j * WORDS + part_k * per;
        let xrow = s * WORDS + part_k * per;
        for (var k = 0u; k < per; k++) {
            a += xs[xrow + k] * params4[wrow + k];
        }
    }
    part[lid] = a.x + a.y + a.z + a.w;
    workgroupBarrier();
    let b = b0 + s;
    if (part_k == 0u) {
        var h = 0.0;
        if (b < step.count && j < HIDDEN) {
            var sum = params[OFF_B1 + j];
            for (var q = 0u; q < ks; q++) {
                sum += part[o + q * outputs];
            }
            h = max(sum, 0.0);
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
