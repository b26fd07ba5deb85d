// dense_backward.wgsl's function, shaped for GPUs: the same constants and results (dw and db in one binding)
//   dw[o][i]    = sum_b dz[b][o] * inp[b][i]
//   db[o]       = sum_b dz[b][o]
//   dprev[b][i] = act'(prev_pre[b][i]) * sum_o dz[b][o] * w[o][i]   (HAS_PREV; dropout as there)
// in one dispatch whose workgroups split by index: the first ceil(OUT/TW) * ceil(IN/TI) compute a
// TW x TI tile of dw (those of the first input tile also db), the rest (HAS_PREV) a TW x TI tile
// of (sample, input) of dprev. Either way the sum runs KB terms a round through workgroup
// memory, as pairs, the next round's loads in flight (in registers) during this round's
// arithmetic, and each thread owns a 2 x 2 block, so two vec2 reads feed 4 multiply-adds.
// (dense_backward.wgsl's invocations each loop over the whole batch alone: on a GPU, at batch
// 1024, that was 20 times slower than this; bench/NOTES.md.) Every sum runs in a fixed order.
// Large batches split dw's and db's sum over the batch into SLICES slices of SLICE_ROWS samples,
// each its own workgroups, writing slice s's partial at grad[s * SLICE_STRIDE + ...] (the
// partial-gradient buffer); grad_slices_sum.wgsl then adds the slices in order. One slice
// summed 4096 samples 32 a round in one workgroup: 85 us a step on the H200 (bench/NOTES.md,
// experiment 16).

override WG: u32;   // TW * TI / 4, from src/core/tiles.h
override TW: u32;   // outputs (dw) or samples (dprev) per tile
override TI: u32;   // inputs per tile
override KB: u32;   // terms of the sum per round
override IN: u32 = 128;
override OUT: u32 = 10;
override PREV_ACT: u32 = 1;
override HAS_PREV: bool = true;
override PREV_DROPOUT: f32 = 0.0;
override PREV_LAYER: u32 = 0;
override SLICES: u32 = 1;
override SLICE_ROWS: u32 = 4294967295u;  // samples per slice (SLICES 1: all of them)
override SLICE_STRIDE: u32 = 0;          // floats between slices' partials in grad
override DB_OFF: u32;                    // db's place in grad, in floats after dw's

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> dz: array<f32>;              // [count][OUT]
@group(0) @binding(2) var<storage, read> inp: array<f32>;             // [count][IN]
@group(0) @binding(3) var<storage, read> w: array<f32>;               // [OUT][IN]
@group(0) @binding(4) var<storage, read> prev_pre: array<f32>;        // [count][IN], or unused
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;      // dw [OUT][IN], then db [OUT] at DB_OFF
@group(0) @binding(6) var<storage, read_write> dprev: array<f32>;     // [count][IN], or unused

var<workgroup> za: array<vec2f, KB * TW / 2u>;  // [term][pair of the TW side]
var<workgroup> xa: array<vec2f, KB * TI / 2u>;  // [term][pair of inputs]
const NQ: u32 = 4u;  // pairs a thread stages per round: KB * (TW + TI) / 2 <= NQ * WG (tiles.c)

fn dz_at(b: u32, o: u32) -> f32 {
    if (b < step.count && o < OUT) {
        return dz[b * OUT + o];
    }
    return 0.0;
}

fn inp_at(b: u32, i: u32) -> f32 {
    if (b < step.count && i < IN) {
        return inp[b * IN + i];
    }
    return 0.0;
}

fn w_at(o: u32, i: u32) -> f32 {
    if (o < OUT && i < IN) {
        return w[o * IN + i];
    }
    return 0.0;
}

// The q-th pair of a dw round over samples b0.. (none from end on): dz's (za) then the inputs' (xa).
fn stage_dw(q: u32, b0: u32, end: u32, o0: u32, i0: u32) -> vec2f {
    if (q < KB * TW / 2u) {
        let b = b0 + q / (TW / 2u);
        let o = o0 + 2u * (q % (TW / 2u));
        if (b >= end) {
            return vec2f(0.0);
        }
        return vec2f(dz_at(b, o), dz_at(b, o + 1u));
    }
    let r = q - KB * TW / 2u;
    let b = b0 + r / (TI / 2u);
    let i = i0 + 2u * (r % (TI / 2u));
    if (b >= end) {
        return vec2f(0.0);
    }
    return vec2f(inp_at(b, i), inp_at(b, i + 1u));
}

// The q-th pair of a dprev round over outputs k0..: dz's rows 2p, 2p + 1 at one output (za,
// transposed), then w's (xa).
fn stage_dprev(q: u32, k0: u32, b0: u32, i0: u32) -> vec2f {
    if (q < KB * TW / 2u) {
        let b = b0 + 2u * (q / KB);
        return vec2f(dz_at(b, k0 + q % KB), dz_at(b + 1u, k0 + q % KB));
    }
    let r = q - KB * TW / 2u;
    let o = k0 + r / (TI / 2u);
    let i = i0 + 2u * (r % (TI / 2u));
    return vec2f(w_at(o, i), w_at(o, i + 1u));
}

fn stage_store(q: u32, v: vec2f, transposed: bool) {
    if (q < KB * TW / 2u) {
        if (transposed) {
            za[(q % KB) * (TW / 2u) + q / KB] = v;
        } else {
            za[q] = v;
        }
    } else if (q < KB * (TW + TI) / 2u) {
        xa[q - KB * TW / 2u] = v;
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let itiles = (IN + TI - 1u) / TI;
    let n_w1 = ((OUT + TW - 1u) / TW) * itiles;  // one slice's dw tiles
    let n_w = n_w1 * SLICES;
    let tw = lid / (TI / 2u);  // rows 2 tw, + 1 of the tile's TW side
    let ti = lid % (TI / 2u);  // inputs 2 ti, + 1
    var a00 = 0.0;
    var a01 = 0.0;
    var a10 = 0.0;
    var a11 = 0.0;
    var next: array<vec2f, NQ>;
    if (wid.x < n_w) {
        let slice = wid.x / n_w1;
        let tile = wid.x % n_w1;
        let o0 = (tile / itiles) * TW;
        let i0 = (tile % itiles) * TI;
        let with_db = tile % itiles == 0u;
        // this slice's samples: [first, end), none past the batch (such a slice writes zeros)
        let first = min(slice * SLICE_ROWS, step.count);
        let end = min(first + min(SLICE_ROWS, step.count), step.count);
        let base = slice * SLICE_STRIDE;
        var sdb = vec2f(0.0);
        for (var j = 0u; j < NQ; j++) {
            next[j] = stage_dw(lid + j * WG, first, end, o0, i0);
        }
        for (var b0 = first; b0 < end; b0 += KB) {
            workgroupBarrier(); // the last round's reads are done
            for (var j = 0u; j < NQ; j++) {
                stage_store(lid + j * WG, next[j], false);
            }
            workgroupBarrier();
            if (b0 + KB < end) {
                for (var j = 0u; j < NQ; j++) {
                    next[j] = stage_dw(lid + j * WG, b0 + KB, end, o0, i0);
                }
            }
            for (var k = 0u; k < KB; k++) {
                let z = za[k * (TW / 2u) + tw];
                let x = xa[k * (TI / 2u) + ti];
                a00 += z.x * x.x;
                a01 += z.x * x.y;
                a10 += z.y * x.x;
                a11 += z.y * x.y;
                sdb += z;
            }
        }
        let acc = array<f32, 4>(a00, a01, a10, a11);
        for (var e = 0u; e < 4u; e++) {
            let o = o0 + 2u * tw + e / 2u;
            let i = i0 + 2u * ti + e % 2u;
            if (o < OUT && i < IN) {
                grad[base + o * IN + i] = acc[e];
            }
        }
        if (with_db && ti == 0u) {
            let o = o0 + 2u * tw;
            if (o < OUT) {
                grad[base + DB_OFF + o] = sdb.x;
            }
            if (o + 1u < OUT) {
                grad[base + DB_OFF + o + 1u] = sdb.y;
            }
        }
        return;
    }
    if (!HAS_PREV) {
        return;
    }
    let j = wid.x - n_w;
    let b0 = (j / itiles) * TW;
    let i0 = (j % itiles) * TI;
    if (b0 >= step.count) {
        return;
    }
    for (var jj = 0u; jj < NQ; jj++) {
        next[jj] = stage_dprev(lid + jj * WG, 0u, b0, i0);
    }
    for (var k0 = 0u; k0 < OUT; k0 += KB) {
        workgroupBarrier();
        for (var jj = 0u; jj < NQ; jj++) {
            stage_store(lid + jj * WG, next[jj], true);
        }
        workgroupBarrier();
        if (k0 + KB < OUT) {
            for (var jj = 0u; jj < NQ; jj++) {
                next[jj] = stage_dprev(lid + jj * WG, k0 + KB, b0, i0);
            }
        }
        for (var k = 0u; k < KB; k++) {
            let z = za[k * (TW / 2u) + tw];
            let wv = xa[k * (TI / 2u) + ti];
            a00 += z.x * wv.x;
            a01 += z.x * wv.y;
            a10 += z.y * wv.x;
            a11 += z.y * wv.y;
        }
    }
    let acc = array<f32, 4>(a00, a01, a10, a11);
    for (var e = 0u; e < 4u; e++) {
        let b = b0 + 2u * tw + e / 2u;
        let i = i0 + 2u * ti + e % 2u;
        if (b < step.count && i < IN) {
            let t = b * IN + i;
            dprev[t] = dropout_apply(acc[e] * activation_derivative(PREV_ACT, prev_pre[t]), step.noise, PREV_LAYER, t,
                                     PREV_DROPOUT);
        }
    }
}
