// dense_forward.wgsl's function, shaped for GPUs: the same bindings, constants and results
//   pre[b][o] = bias[o] + sum_i inp[b][i] * w[o][i],  out[b][o] = act(pre[b][o]) (dropout as there)
// (dense_forward.wgsl, one 4x4 block per invocation that streams its inputs from memory, is
// the better shape for CPU adapters; on a GPU its serial 784-long loop of uncached loads is
// latency bound: bench/NOTES.md). Here a workgroup computes a TS x TO tile of (sample, output)
// and stages the inputs and weights through workgroup memory KC at a time, as vec4s; each thread
// owns 2 samples x 2 outputs, so four vec4 reads from workgroup memory feed 16 multiply-adds.
// The order of every sum is fixed, so runs repeat bit for bit.

override WG: u32;   // TS * TO / 4, from src/core/tiles.h
override TS: u32;   // samples per tile
override TO: u32;   // outputs per tile
override KC4: u32;  // vec4s of inputs per round
override ROW: u32 = KC4 + 1u;  // padded rows of vec4s, so rows start in different banks
override IN: u32 = 784;
override OUT: u32 = 128;
override ACT: u32 = 1;
override STORE_PRE: bool = true;
override DROPOUT: f32 = 0.0;
override LAYER: u32 = 0;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> inp: array<f32>;         // [count][IN]
@group(0) @binding(2) var<storage, read> w: array<f32>;           // [OUT][IN]
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // [OUT]
@group(0) @binding(4) var<storage, read_write> pre: array<f32>;   // [count][OUT], or unused
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // [count][OUT]

var<workgroup> xs: array<vec4f, TS * ROW>;
var<workgroup> ws: array<vec4f, TO * ROW>;

// four consecutive elements of a row from k on, zero past the row's end (IN need not be a
// multiple of 4, so the loads are scalar)
fn inp4(base: u32, k: u32) -> vec4f {
    var v = vec4f(0.0);
    for (var c = 0u; c < 4u; c++) {
        if (k + c < IN) {
            v[c] = inp[base + k + c];
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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let otiles = (OUT + TO - 1u) / TO;
    let b0 = (wid.x / otiles) * TS;
    let o0 = (wid.x % otiles) * TO;
    if (b0 >= step.count) {
        return;
    }
    let tb = lid / (TO / 2u);  // samples b0 + 2 tb, + 1
    let to = lid % (TO / 2u);  // outputs o0 + 2 to, + 1
    var a00 = 0.0;
    var a01 = 0.0;
    var a10 = 0.0;
    var a11 = 0.0;
    let rounds = (IN + 4u * KC4 - 1u) / (4u * KC4);
    for (var r = 0u; r < rounds; r++) {
        let k0 = r * 4u * KC4;
        // stage the round: TS rows of inputs, TO rows of weights, KC4 vec4s each
        for (var q = lid; q < (TS + TO) * KC4; q += WG) {
            let row = q / KC4;
            let k = k0 + (q % KC4) * 4u;
            var v = vec4f(0.0);
            if (row < TS) {
                let b = b0 + row;
                if (b < step.count) {
                    v = inp4(b * IN, k);
                }
                xs[row * ROW + q % KC4] = v;
            } else {
                let o = o0 + row - TS;
                if (o < OUT) {
                    v = w4(o * IN, k);
                }
                ws[(row - TS) * ROW + q % KC4] = v;
            }
        }
        workgroupBarrier();
        for (var k4 = 0u; k4 < KC4; k4++) {
            let x0 = xs[(2u * tb) * ROW + k4];
            let x1 = xs[(2u * tb + 1u) * ROW + k4];
            let w0 = ws[(2u * to) * ROW + k4];
            let w1 = ws[(2u * to + 1u) * ROW + k4];
            a00 += dot(x0, w0);
            a01 += dot(x0, w1);
            a10 += dot(x1, w0);
            a11 += dot(x1, w1);
        }
        workgroupBarrier();
    }
    let acc = array<f32, 4>(a00, a01, a10, a11);
    for (var e = 0u; e < 4u; e++) {
        let b = b0 + 2u * tb + e / 2u;
        let o = o0 + 2u * to + e % 2u;
        if (b < step.count && o < OUT) {
            let t = b * OUT + o;
            let z = acc[e] + bias[o];
            if (STORE_PRE) {
                pre[t] = z;
            }
            var y = activation(ACT, z);
            if (DROPOUT > 0.0) {
                y = select(0.0, y * (1.0 / (1.0 - DROPOUT)), dropout_keep(step.noise, LAYER, t, DROPOUT));
            }
            out[t] = y;
        }
    }
}
