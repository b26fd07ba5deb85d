// A dense layer's forward with any activation (one kernel for every layer of the table):
//   pre[b][o] = bias[o] + sum_i inp[b][i] * w[o][i]   (kept when STORE_PRE: the backward's input)
//   out[b][o] = act(pre[b][o]), times keep[b][o] / (1 - DROPOUT) when training with dropout
// (inverted dropout: keep is 0 with probability DROPOUT, drawn from a hash of the step's noise
// seed, the layer and the element, so the backward and the CPU reference redraw the same mask)
// ACT: 0 none (the logits), 1 ReLU, 2 GELU (erf), 3 tanh, 4 sigmoid, 5 leaky ReLU (0.01), the
// values of model_activation in src/core/model.h (activation() and dropout_apply() are in
// prelude.wgsl). One invocation per 4x4 block of (sample, output): each input loaded serves
// four outputs and each weight four samples, so the loop does 16 multiply-adds for 8 loads (the
// invocations per layer: tiles_dense_forward_invocations). On CPU adapters (SwiftShader in the
// browser, lavapipe) the loads are most of the cost.

override WG: u32;  // set from src/core/tiles.h, as every tile size
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
                out[t] = dropout_apply(activation(ACT, z), step.noise, LAYER, t, DROPOUT);
            }
        }
    }
}
