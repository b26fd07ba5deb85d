// dense_forward.wgsl's function, shaped for GPUs: the same bindings, constants and results
//   pre[b][o] = bias[o] + sum_i inp[b][i] * w[o][i],  out[b][o] = act(pre[b][o]) (dropout as there)
// (dense_forward.wgsl, one 4x4 block per invocation that streams its inputs from memory, is
// the better shape for CPU adapters; on a GPU its serial 784-long loop of uncached loads is
// latency bound: bench/NOTES.md). Here a workgroup computes a TS x TO tile of (sample, output)
// and stages the inputs and weights through workgroup memory 4 * KC4 at a time, as vec4s, the
// next round's loads in flight (in registers) during this round's arithmetic. Each thread owns
// 2 samples x 2 outputs over a KS-th of each round, so four vec4 reads from workgroup memory feed
// 16 multiply-adds; the KS partial sums of each output are then added in a fixed order, so runs
// repeat bit for bit.
// GATHER (the first layer when training or evaluating on a GPU): the inputs are the data set's
// u8 pixels, read through the shuffled order and normalised while staged, in place of a
// separate input_gather.wgsl dispatch (which the streaming kernels keep: bench/NOTES.md,
// experiment 15). The workgroups also store what they staged to x, for the layer's backward
// (STORE_X: training), each round by one of the output tiles.

override WG: u32;   // TS * TO / 4 * KS, from src/core/tiles.h
override TS: u32;   // samples per tile
override TO: u32;   // outputs per tile
override KS: u32;   // threads sharing each output's dot product
override KC4: u32;  // vec4s of inputs per round
override ROW: u32 = KC4 + 1u;  // padded rows of vec4s, so rows start in different banks
override IN: u32 = 784;
override OUT: u32 = 128;
override ACT: u32 = 1;
override STORE_PRE: bool = true;
override DROPOUT: f32 = 0.0;
override LAYER: u32 = 0;
override GATHER: bool = false;
override STORE_X: bool = false;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> inp: array<f32>;         // [count][IN], or unused (GATHER)
@group(0) @binding(2) var<storage, read> w: array<f32>;           // [OUT][IN]
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // [OUT]
@group(0) @binding(4) var<storage, read_write> pre: array<f32>;   // [count][OUT], or unused
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // [count][OUT]
@group(0) @binding(6) var<storage, read> images: array<u32>;      // GATHER: u8 pixels, 4 per word
@group(0) @binding(7) var<storage, read> order: array<u32>;       // GATHER: shuffled sample indices
@group(0) @binding(8) var<storage, read_write> x: array<f32>;     // STORE_X: [count][IN] normalised inputs

var<workgroup> xs: array<vec4f, TS * ROW>;
var<workgroup> ws: array<vec4f, TO * ROW>;
var<workgroup> part: array<f32, TS * TO * KS>;
const NQ: u32 = 6u;  // vec4s a thread stages per round: (TS + TO) * KC4 <= NQ * WG (tiles.c)

// four consecutive inputs of batch row b from k on, zero past the row's end (IN need not be a
// multiple of 4, so the float loads are scalar; whole words of pixels when it is)
fn inp4(b: u32, k: u32) -> vec4f {
    var v = vec4f(0.0);
    if (k >= IN) {
        return v;
    }
    if (GATHER) {
        let base = order[step.start + b] * IN;
        if (IN % 4u == 0u) {
            return pixel4(images[(base + k) >> 2u]);
        }
        for (var c = 0u; c < 4u; c++) {
            if (k + c < IN) {
                let i = base + k + c;
                v[c] = pixel(u8_at(images[i >> 2u], i));
            }
        }
        return v;
    }
    for (var c = 0u; c < 4u; c++) {
        if (k + c < IN) {
            v[c] = inp[b * IN + k + c];
        }
    }
    return v;
}

fn w4(base: u32, k: u32) -> vec4f {
    var v = vec4f(0.0);
    for (var c = 0u; c < 4u; c++) {
        if (k + c < IN) {
            v[c] = w[base + k + c];
        }
    }
    return v;
}

// The q-th vec4 of round r's staging: rows 0..TS-1 are inputs, the rest weights.
fn stage_load(q: u32, r: u32, b0: u32, o0: u32) -> vec4f {
    let row = q / KC4;
    let k = r * 4u * KC4 + (q % KC4) * 4u;
    if (row < TS) {
        if (b0 + row < step.count) {
            return inp4(b0 + row, k);
        }
    } else if (row < TS + TO) {
        if (o0 + row - TS < OUT) {
            return w4((o0 + row - TS) * IN, k);
        }
    }
    return vec4f(0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let otiles = (OUT + TO - 1u) / TO;
    let b0 = (wid.x / otiles) * TS;
    let o0 = (wid.x % otiles) * TO;
    if (b0 >= step.count) {
        return;
    }
    let ks = lid % KS;               // this thread's share of a round: vec4s ks, ks + KS, ...
    let tb = (lid / KS) / (TO / 2u); // samples b0 + 2 tb, + 1
    let to = (lid / KS) % (TO / 2u); // outputs o0 + 2 to, + 1
    var a00 = 0.0;
    var a01 = 0.0;
    var a10 = 0.0;
    var a11 = 0.0;
    let rounds = (IN + 4u * KC4 - 1u) / (4u * KC4);
    let total = (TS + TO) * KC4;
    var next: array<vec4f, NQ>;
    for (var j = 0u; j < NQ; j++) {
        next[j] = stage_load(lid + j * WG, 0u, b0, o0);
    }
    for (var r = 0u; r < rounds; r++) {
        workgroupBarrier(); // the last round's reads are done
        for (var j = 0u; j < NQ; j++) {
            let q = lid + j * WG;
            if (q < total) {
                let row = q / KC4;
                if (row < TS) {
                    xs[row * ROW + q % KC4] = next[j];
                    // each round's x stored by one of the output tiles, in turn, so none does all of it
                    if (STORE_X && r % otiles == wid.x % otiles && b0 + row < step.count) {
                        let k = r * 4u * KC4 + (q % KC4) * 4u;
                        for (var c = 0u; c < 4u; c++) {
                            if (k + c < IN) {
                                x[(b0 + row) * IN + k + c] = next[j][c];
                            }
                        }
                    }
                } else {
                    ws[(row - TS) * ROW + q % KC4] = next[j];
                }
            }
        }
        workgroupBarrier();
        if (r + 1u < rounds) {
            for (var j = 0u; j < NQ; j++) {
                next[j] = stage_load(lid + j * WG, r + 1u, b0, o0);
            }
        }
        for (var k4 = ks; k4 < KC4; k4 += KS) {
            let x0 = xs[(2u * tb) * ROW + k4];
            let x1 = xs[(2u * tb + 1u) * ROW + k4];
            let w0 = ws[(2u * to) * ROW + k4];
            let w1 = ws[(2u * to + 1u) * ROW + k4];
            a00 += dot(x0, w0);
            a01 += dot(x0, w1);
            a10 += dot(x1, w0);
            a11 += dot(x1, w1);
        }
    }
    // the KS partial sums of each output, added in order ks = 0, 1, ...
    let p = (lid / KS) * 4u;
    part[(p + 0u) * KS + ks] = a00;
    part[(p + 1u) * KS + ks] = a01;
    part[(p + 2u) * KS + ks] = a10;
    part[(p + 3u) * KS + ks] = a11;
    workgroupBarrier();
    if (ks != 0u) {
        return;
    }
    for (var e = 0u; e < 4u; e++) {
        var sum = 0.0;
        for (var k = 0u; k < KS; k++) {
            sum += part[(p + e) * KS + k];
        }
        let b = b0 + 2u * tb + e / 2u;
        let o = o0 + 2u * to + e % 2u;
        if (b < step.count && o < OUT) {
            let t = b * OUT + o;
            let z = sum + bias[o];
            if (STORE_PRE) {
                pre[t] = z;
            }
            out[t] = dropout_apply(activation(ACT, z), step.noise, LAYER, t, DROPOUT);
        }
    }
}
