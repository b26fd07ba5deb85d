// A dense layer's forward with any activation (one kernel for every layer of the table):
//   pre[b][o] = bias[o] + sum_i inp[b][i] * w[o][i]   (kept when STORE_PRE: the backward's input)
//   out[b][o] = act(pre[b][o]), times keep[b][o] / (1 - DROPOUT) when training with dropout
// (inverted dropout: keep is 0 with probability DROPOUT, drawn from a hash of the step's noise
// seed, the layer and the element, so the backward and the CPU reference redraw the same mask)
// ACT: 0 none (the logits), 1 ReLU, 2 GELU (erf), 3 tanh, 4 sigmoid, 5 leaky ReLU (0.01), the
// values of model_activation in src/core/model.h. One invocation per 4x4 block of (sample,
// output): each input loaded serves four outputs and each weight four samples, so the loop does
// 16 multiply-adds for 8 loads (the invocations per layer: mlp_dense_forward_invocations). On CPU
// adapters (SwiftShader in the browser, lavapipe) the loads are most of the cost.

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

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let groups = (OUT + 3u) / 4u;
    let b0 = (gid.x / groups) * 4u;
    let o0 = (gid.x % groups) * 4u;
    if (b0 >= step.count) {
        return;
    }
    // rows past the batch or the layer repeat the last one (in bounds), and are not stored
    let xr = vec4u(min(b0, step.count - 1u), min(b0 + 1u, step.count - 1u), min(b0 + 2u, step.count - 1u),
                   min(b0 + 3u, step.count - 1u)) * IN;
    let wr = vec4u(min(o0, OUT - 1u), min(o0 + 1u, OUT - 1u), min(o0 + 2u, OUT - 1u), min(o0 + 3u, OUT - 1u)) * IN;
    var acc: array<vec4f, 4>; // acc[r][c]: sample b0 + r, output o0 + c
    for (var i = 0u; i < IN; i++) {
        let wv = vec4f(w[wr.x + i], w[wr.y + i], w[wr.z + i], w[wr.w + i]);
        acc[0] += inp[xr.x + i] * wv;
        acc[1] += inp[xr.y + i] * wv;
        acc[2] += inp[xr.z + i] * wv;
        acc[3] += inp[xr.w + i] * wv;
    }
    for (var r = 0u; r < 4u; r++) {
        for (var c = 0u; c < 4u; c++) {
            let b = b0 + r;
            let o = o0 + c;
            if (b < step.count && o < OUT) {
                let t = b * OUT + o;
                let z = acc[r][c] + bias[o];
                if (STORE_PRE) {
                    pre[t] = z;
                }
                var y = act(z);
                if (DROPOUT > 0.0) {
                    y = select(0.0, y * (1.0 / (1.0 - DROPOUT)), keep(LAYER, t));
                }
                out[t] = y;
            }
        }
    }
}
