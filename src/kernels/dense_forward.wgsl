// A dense layer's forward with any activation (one kernel for every layer of the table):
//   pre[b][o] = bias[o] + sum_i inp[b][i] * w[o][i]   (kept when STORE_PRE: the backward's input)
//   out[b][o] = act(pre[b][o]), times keep[b][o] / (1 - DROPOUT) when training with dropout
// (inverted dropout: keep is 0 with probability DROPOUT, drawn from a hash of the step's noise
// seed, the layer and the element, so the backward and the CPU reference redraw the same mask)
// ACT: 0 none (the logits), 1 ReLU, 2 GELU (erf), 3 tanh, 4 sigmoid, 5 leaky ReLU (0.01), the
// values of model_activation in src/core/model.h. One invocation per (sample, output).

struct Step {
    start: u32,
    count: u32,
    lr: f32,
    index: u32,
    bc1: f32,
    bc2: f32,
    noise: u32,  // dropout's seed of this step
    pad: u32,
}

override WG: u32 = 64;
override IN: u32 = 784;
override OUT: u32 = 128;
override ACT: u32 = 1;
override STORE_PRE: bool = true;
override DROPOUT: f32 = 0.0;
override LAYER: u32 = 0;  // this layer's index: its own dropout mask

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> inp: array<f32>;         // [count][IN]
@group(0) @binding(2) var<storage, read> w: array<f32>;           // [OUT][IN]
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // [OUT]
@group(0) @binding(4) var<storage, read_write> pre: array<f32>;   // [count][OUT], or unused
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // [count][OUT]

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): WGSL has no erf
fn erf_approx(x: f32) -> f32 {
    let a = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return sign(x) * (1.0 - poly * exp(-a * a));
}

// lowbias32 (Wellons): a cheap, well-mixed 32-bit hash; dropout_keep in reference.c is the same
fn hash32(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn keep(layer: u32, i: u32) -> bool {
    let h = hash32(i ^ hash32(step.noise ^ (layer * 0x9e3779b9u)));
    return f32(h >> 8u) * (1.0 / 16777216.0) >= DROPOUT;
}

fn act(z: f32) -> f32 {
    switch ACT {
        case 1u: { return max(z, 0.0); }
        case 2u: { return 0.5 * z * (1.0 + erf_approx(z * 0.70710678)); }
        case 3u: { return tanh(clamp(z, -15.0, 15.0)); }
        case 4u: { return 1.0 / (1.0 + exp(-z)); }
        case 5u: { return select(0.01 * z, z, z > 0.0); }
        default: { return z; }
    }
}

// Each invocation computes a block of TB samples x TO outputs (DENSE_TILE in src/core/mlp.c,
// which sizes the grid): 8 loads feed 16 multiply-adds where one output per invocation needs 2
// per 1. Every output is still one sequential sum over i, so the block changes no result.
const TB: u32 = 4u;
const TO: u32 = 4u;

fn store(b: u32, o: u32, acc: f32) {
    if (b >= step.count || o >= OUT) {
        return;
    }
    let z = acc + bias[o];
    let t = b * OUT + o;
    if (STORE_PRE) {
        pre[t] = z;
    }
    var y = act(z);
    if (DROPOUT > 0.0) {
        y = select(0.0, y * (1.0 / (1.0 - DROPOUT)), keep(LAYER, t));
    }
    out[t] = y;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let blocks_o = (OUT + TO - 1u) / TO;
    let b0 = (gid.x / blocks_o) * TB;
    let o0 = (gid.x % blocks_o) * TO;
    if (b0 >= step.count) {
        return;
    }
    // rows past the batch or the layer read row 0 (in bounds) and are never stored
    let n = step.count;
    let r0 = select(0u, b0 * IN, b0 < n);
    let r1 = select(0u, (b0 + 1u) * IN, b0 + 1u < n);
    let r2 = select(0u, (b0 + 2u) * IN, b0 + 2u < n);
    let r3 = select(0u, (b0 + 3u) * IN, b0 + 3u < n);
    let q0 = select(0u, o0 * IN, o0 < OUT);
    let q1 = select(0u, (o0 + 1u) * IN, o0 + 1u < OUT);
    let q2 = select(0u, (o0 + 2u) * IN, o0 + 2u < OUT);
    let q3 = select(0u, (o0 + 3u) * IN, o0 + 3u < OUT);
    var a0 = vec4f(0.0);  // sample b0 + k, outputs o0 .. o0 + 3
    var a1 = vec4f(0.0);
    var a2 = vec4f(0.0);
    var a3 = vec4f(0.0);
    for (var i = 0u; i < IN; i++) {
        let wv = vec4f(w[q0 + i], w[q1 + i], w[q2 + i], w[q3 + i]);
        a0 += inp[r0 + i] * wv;
        a1 += inp[r1 + i] * wv;
        a2 += inp[r2 + i] * wv;
        a3 += inp[r3 + i] * wv;
    }
    for (var j = 0u; j < TO; j++) {
        store(b0, o0 + j, a0[j]);
        store(b0 + 1u, o0 + j, a1[j]);
        store(b0 + 2u, o0 + j, a2[j]);
        store(b0 + 3u, o0 + j, a3[j]);
    }
}
