// A dense layer's backward, given dz = dLoss/dpre of its outputs. One dispatch, three
// outputs, split by invocation index:
//   [0, ceil(OUT/4)*ceil(IN/4))  dw[o][i] = sum_b dz[b][o] * inp[b][i], one 4x4 block of dw each
//                          (each dz loaded serves four inputs, each input four outputs)
//   [.., + OUT)            db[o]    = sum_b dz[b][o]
//   [.., + count*IN)       dprev[b][i] = act'(prev_pre[b][i]) * sum_o dz[b][o] * w[o][i]
// The last part (only when HAS_PREV: layer 0's input is the data) is the previous layer's dz,
// its activation's derivative folded in so no activation needs a backward kernel of its own.
// PREV_ACT takes the values of ACT in dense_forward.wgsl; with PREV_DROPOUT the previous
// layer's dropout mask (redrawn as dense_forward.wgsl drew it) scales dprev too.

override WG: u32;  // set from src/core/tiles.h, as every tile size
override IN: u32 = 128;
override OUT: u32 = 10;
override PREV_ACT: u32 = 1;
override HAS_PREV: bool = true;
override PREV_DROPOUT: f32 = 0.0;
override PREV_LAYER: u32 = 0;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> dz: array<f32>;              // [count][OUT]
@group(0) @binding(2) var<storage, read> inp: array<f32>;             // [count][IN]
@group(0) @binding(3) var<storage, read> w: array<f32>;               // [OUT][IN]
@group(0) @binding(4) var<storage, read> prev_pre: array<f32>;        // [count][IN], or unused
@group(0) @binding(5) var<storage, read_write> dw: array<f32>;        // [OUT][IN]
@group(0) @binding(6) var<storage, read_write> db: array<f32>;        // [OUT]
@group(0) @binding(7) var<storage, read_write> dprev: array<f32>;     // [count][IN], or unused

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let t = gid.x;
    let in_groups = (IN + 3u) / 4u;
    let n_w = ((OUT + 3u) / 4u) * in_groups;
    if (t < n_w) {
        let o0 = (t / in_groups) * 4u;
        let i0 = (t % in_groups) * 4u;
        // columns past the layer repeat the last one (in bounds), and are not stored
        let oc = vec4u(min(o0, OUT - 1u), min(o0 + 1u, OUT - 1u), min(o0 + 2u, OUT - 1u), min(o0 + 3u, OUT - 1u));
        let ic = vec4u(min(i0, IN - 1u), min(i0 + 1u, IN - 1u), min(i0 + 2u, IN - 1u), min(i0 + 3u, IN - 1u));
        var acc: array<vec4f, 4>; // acc[r][c]: output o0 + r, input i0 + c
        for (var b = 0u; b < step.count; b++) {
            let zrow = b * OUT;
            let xrow = b * IN;
            let x = vec4f(inp[xrow + ic.x], inp[xrow + ic.y], inp[xrow + ic.z], inp[xrow + ic.w]);
            acc[0] += dz[zrow + oc.x] * x;
            acc[1] += dz[zrow + oc.y] * x;
            acc[2] += dz[zrow + oc.z] * x;
            acc[3] += dz[zrow + oc.w] * x;
        }
        for (var r = 0u; r < 4u; r++) {
            for (var c = 0u; c < 4u; c++) {
                if (o0 + r < OUT && i0 + c < IN) {
                    dw[(o0 + r) * IN + i0 + c] = acc[r][c];
                }
            }
        }
        return;
    }
    if (t < n_w + OUT) {
        let o = t - n_w;
        var acc = 0.0;
        for (var b = 0u; b < step.count; b++) {
            acc += dz[b * OUT + o];
        }
        db[o] = acc;
        return;
    }
    let k = t - n_w - OUT;
    if (!HAS_PREV || k >= step.count * IN) {
        return;
    }
    let b = k / IN;
    let i = k % IN;
    var acc = 0.0;
    for (var o = 0u; o < OUT; o++) {
        acc += dz[b * OUT + o] * w[o * IN + i];
    }
    dprev[k] = dropout_apply(acc * activation_derivative(PREV_ACT, prev_pre[k]), step.noise, PREV_LAYER, k, PREV_DROPOUT);
}
