// Fast path, dispatch 1 of 3 per step, at large batches: the same function as fused_forward.wgsl
// on larger tiles. fused_forward's 8 x 16 tile re-reads the weights from L2 for every 8 samples
// and feeds 16 multiply-adds with 4 vec4 reads of workgroup memory; at batch 4096 it ran at
// 4.4 TFLOP/s (bench/NOTES.md, experiment 16). Here a workgroup owns T samples x T hidden units
// (64 x 64), each thread a 4 x 4 block of it, and every round stages KC = T / 4 inputs of the
// tile's samples and weights transposed (input-major), so one vec4 read of 4 samples and one of
// 4 hidden units feed 16 multiply-adds: half the reads per multiply-add, and a quarter of the
// weight traffic per sample. Each output's dot product runs over k in order in one thread.
//   hidden[b][j]        = relu(b1[j] + sum_k x[b][k] w1[j][k])
//   partial[tile][b][c] = sum over its j of hidden[b][j] w2[c][j]   (its T units, added in a
//                         fixed order; fused_softmax adds the tiles in order)
//   xbatch[b][k]        = the normalised inputs, for the weight gradient in dispatch 3 (round r
//                         written by the workgroups of hidden tile r % tiles, so no tile stores
//                         them all)
// Split over the inputs (SPLITS > 1, where the batch's tiles are too few to fill the GPU): each
// tile's rounds are shared by SPLITS workgroups, split s taking rounds [s R / SPLITS,
// (s + 1) R / SPLITS), and each stores its raw dot products
//   pre[s][b][j]        = sum over its rounds' k of x[b][k] w1[j][k]
// for fused_softmax (PRE_SPLITS) to add in split order, with the bias, the ReLU and layer 2.
// One workgroup a tile runs its 49 rounds in sequence at ~1.4 us each whatever the load on the
// card (bench/NOTES.md, experiment 17): splitting puts the rounds side by side.

override HIDDEN: u32 = 128;
override OFF_W1: u32 = 0;  // a multiple of 4: the engine aligns every tensor to 64 floats
override OFF_B1: u32;
override OFF_W2: u32;
override A_HID: u32 = 0;
override A_PART: u32;
override A_X: u32;
override MAX_BATCH: u32;
override SPLITS: u32 = 1;
override A_PRE: u32 = 0;  // pre [SPLITS][MAX_BATCH][HIDDEN] (SPLITS > 1)
// the tile, set from src/core/tiles.h (TILE_FFW_*), which checks how they fit together
override T: u32;           // samples and hidden units per tile
override WG: u32;          // (T / 4) x (T / 4) threads
override KC: u32 = T / 4u; // inputs per round: the T x KC inputs and weights are WG / 2 blocks of 4 x 4
override R4: u32 = T / 4u + 1u;  // a staged row of T values, as vec4s, padded against bank conflicts
const INPUTS: u32 = 784u;
const WORDS: u32 = 196u;   // u32 words (and vec4s) per image
const CLASSES: u32 = 10u;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> images: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> params: array<f32>;
@group(0) @binding(4) var<storage, read> params4: array<vec4f>;  // the same buffer, as vec4s
@group(0) @binding(5) var<storage, read_write> acts: array<f32>;  // carved: see mlp.c

// rows k of the round's inputs (xs, T samples) then of its weights (ws, T hidden units), each
// row T / 4 vec4s (+1 of padding against bank conflicts); after the loop the same memory holds
// the layer-2 partials of two classes per thread
var<workgroup> smem: array<vec4f, 2u * KC * R4>;
var<workgroup> sample_of: array<u32, T>;

// this thread's word of round r's inputs: sample lid / (KC / 4), inputs 4 (lid % (KC / 4)) ..
fn load_x(r: u32, b0: u32, lid: u32) -> vec4f {
    let s = lid / (KC / 4u);
    if (b0 + s >= step.count) {
        return vec4f(0.0);
    }
    return pixel4(images[sample_of[s] * WORDS + r * (KC / 4u) + lid % (KC / 4u)]);
}

// ... and its vec4 of round r's weights: hidden unit lid / (KC / 4), the same inputs
fn load_w(r: u32, j0: u32, lid: u32) -> vec4f {
    let j = lid / (KC / 4u);
    if (j0 + j >= HIDDEN) {
        return vec4f(0.0);
    }
    return params4[OFF_W1 / 4u + (j0 + j) * WORDS + r * (KC / 4u) + lid % (KC / 4u)];
}

// stores a staged vec4 (4 consecutive inputs of row `row`) input-major into region `base`:
// lane row % 4 of 4 vec4s (each thread writes its own lane; no thread reads them before the
// barrier)
fn stage(base: u32, row: u32, kq: u32, v: vec4f) {
    let col = row / 4u;
    let lane = row % 4u;
    smem[base + (4u * kq) * R4 + col][lane] = v.x;
    smem[base + (4u * kq + 1u) * R4 + col][lane] = v.y;
    smem[base + (4u * kq + 2u) * R4 + col][lane] = v.z;
    smem[base + (4u * kq + 3u) * R4 + col][lane] = v.w;
}

// round r: stage the loaded inputs and weights, keep the inputs for dispatch 3 (round r by the
// workgroups of hidden tile r % htiles, so that no tile stores them all)
fn stage_round(r: u32, b0: u32, ht: u32, htiles: u32, lid: u32, xv: vec4f, wv: vec4f) {
    let row = lid / (KC / 4u);
    let kq = lid % (KC / 4u);
    stage(0u, row, kq, xv);
    stage(KC * R4, row, kq, wv);
    if (r % htiles == ht && b0 + row < step.count) {
        let x = A_X + (b0 + row) * INPUTS + r * KC + 4u * kq;
        acts[x] = xv.x;
        acts[x + 1u] = xv.y;
        acts[x + 2u] = xv.z;
        acts[x + 3u] = xv.w;
    }
}

// round r's multiply-adds: 4 samples (4 ty ..) x 4 hidden units (4 tx ..) per thread
fn accumulate(tx: u32, ty: u32, acc: ptr<function, array<vec4f, 4>>) {
    for (var k = 0u; k < KC; k++) {
        let xv = smem[k * R4 + ty];            // 4 samples at input k
        let wv = smem[KC * R4 + k * R4 + tx];  // 4 hidden units at input k
        (*acc)[0] += xv.x * wv;
        (*acc)[1] += xv.y * wv;
        (*acc)[2] += xv.z * wv;
        (*acc)[3] += xv.w * wv;
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let htiles = (HIDDEN + T - 1u) / T;
    let split = wid.x % SPLITS;
    let tile = wid.x / SPLITS;
    let ht = tile % htiles;
    let b0 = (tile / htiles) * T;
    let j0 = ht * T;
    let tx = lid % (T / 4u);  // hidden units j0 + 4 tx .. + 3
    let ty = lid / (T / 4u);  // samples b0 + 4 ty .. + 3
    let all_rounds = INPUTS / KC;
    let first = split * all_rounds / SPLITS;
    let end = (split + 1u) * all_rounds / SPLITS;
    if (lid < T) {
        sample_of[lid] = order[step.start + min(b0 + lid, step.count - 1u)];
    }
    workgroupBarrier();

    var acc: array<vec4f, 4>;
    for (var i = 0u; i < 4u; i++) {
        acc[i] = vec4f(0.0);
    }
    // the next round's loads in flight during this round's arithmetic
    var xr = load_x(first, b0, lid);
    var wr = load_w(first, j0, lid);
    for (var r = first; r < end; r++) {
        stage_round(r, b0, ht, htiles, lid, xr, wr);
        workgroupBarrier();
        if (r + 1u < end) {
            xr = load_x(r + 1u, b0, lid);
            wr = load_w(r + 1u, j0, lid);
        }
        accumulate(tx, ty, &acc);
        workgroupBarrier();
    }
    if (SPLITS > 1u) {
        for (var i = 0u; i < 4u; i++) {
            let b = b0 + 4u * ty + i;
            for (var q = 0u; q < 4u; q++) {
                let j = j0 + 4u * tx + q;
                if (b < step.count && j < HIDDEN) {
                    acts[A_PRE + (split * MAX_BATCH + b) * HIDDEN + j] = acc[i][q];
                }
            }
        }
        return;
    }
    let acc0 = acc[0];
    let acc1 = acc[1];
    let acc2 = acc[2];
    let acc3 = acc[3];

    // bias and ReLU; units past HIDDEN and samples past the batch stay 0 (their weights were 0)
    var bias = vec4f(0.0);
    var w2_ok = vec4<bool>(false);
    for (var q = 0u; q < 4u; q++) {
        let j = j0 + 4u * tx + q;
        if (j < HIDDEN) {
            bias[q] = params[OFF_B1 + j];
            w2_ok[q] = true;
        }
    }
    var h: array<vec4f, 4>;
    h[0] = max(acc0 + bias, vec4f(0.0));
    h[1] = max(acc1 + bias, vec4f(0.0));
    h[2] = max(acc2 + bias, vec4f(0.0));
    h[3] = max(acc3 + bias, vec4f(0.0));
    for (var i = 0u; i < 4u; i++) {
        let b = b0 + 4u * ty + i;
        if (b < step.count) {
            for (var q = 0u; q < 4u; q++) {
                let j = j0 + 4u * tx + q;
                if (j < HIDDEN) {
                    acts[A_HID + b * HIDDEN + j] = h[i][q];
                }
            }
        } else {
            h[i] = vec4f(0.0);
        }
    }

    // layer 2, this tile's share, two classes at a time: each thread's 4 samples x 4 units,
    // then the T / 4 threads of each sample row added in order of their units
    for (var c = 0u; c < CLASSES; c += 2u) {
        var w2a = vec4f(0.0);
        var w2b = vec4f(0.0);
        for (var q = 0u; q < 4u; q++) {
            if (w2_ok[q]) {
                let j = j0 + 4u * tx + q;
                w2a[q] = params[OFF_W2 + c * HIDDEN + j];
                w2b[q] = params[OFF_W2 + (c + 1u) * HIDDEN + j];
            }
        }
        smem[lid] = vec4f(dot(h[0], w2a), dot(h[1], w2a), dot(h[2], w2a), dot(h[3], w2a));
        smem[WG + lid] = vec4f(dot(h[0], w2b), dot(h[1], w2b), dot(h[2], w2b), dot(h[3], w2b));
        workgroupBarrier();
        if (lid < 2u * T) {
            let half = lid / T;
            let s = lid % T;
            let b = b0 + s;
            if (b < step.count) {
                var sum = 0.0;
                for (var t = 0u; t < T / 4u; t++) {
                    sum += smem[half * WG + (s / 4u) * (T / 4u) + t][s % 4u];
                }
                acts[A_PART + (ht * MAX_BATCH + b) * CLASSES + c + half] = sum;
            }
        }
        workgroupBarrier();
    }
}
