// dense_backward_tiled's weight and bias gradients on wide tiles, for a layer with no previous
// layer to send dz on to (the first) at batches whose grid of these tiles fills the GPU:
//   dw[o][i] = sum_b dz[b][o] * inp[b][i]
//   db[o]    = sum_b dz[b][o]
// A workgroup owns T outputs x T inputs (64 x 64) of one batch slice, each thread a 4 x 4 block
// of it, and each round stages KB samples' dz (T outputs) and inputs (T inputs) as vec4s, so one
// vec4 read of 4 outputs' dz and one of 4 inputs feed 16 multiply-adds (dense_backward_tiled's
// 2 x 2 blocks: two vec2 reads feed 4; at batch 4096 its first-layer weight gradient of
// 784-256-128-10 was the step's largest kernel, bench/NOTES.md, experiment 33). The next round's
// loads are in flight (in registers) during this round's arithmetic; every sum runs over the
// samples in order. Slices as in dense_backward_tiled: slice s's partial at grad[s *
// SLICE_STRIDE + ...], added in order by grad_slices_sum.wgsl.

override WG: u32;  // (T / 4) x (T / 4), from src/core/tiles.h
override T: u32;   // outputs and inputs per tile
override KB: u32;  // samples per round
override IN: u32 = 784;
override OUT: u32 = 128;
override SLICES: u32 = 1;
override SLICE_ROWS: u32 = 4294967295u;  // samples per slice (SLICES 1: all of them)
override SLICE_STRIDE: u32 = 0;          // floats between slices' partials in grad
override DB_OFF: u32;                    // db's place in grad, in floats after dw's

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> dz: array<f32>;          // [count][OUT]
@group(0) @binding(2) var<storage, read> inp: array<f32>;         // [count][IN]
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;  // dw [OUT][IN], then db [OUT] at DB_OFF

var<workgroup> zs: array<vec4f, KB * T / 4u>;  // [sample][4 outputs]
var<workgroup> xs: array<vec4f, KB * T / 4u>;  // [sample][4 inputs]
const NQ: u32 = 2u;  // vec4s a thread stages per round: KB * T / 2 <= NQ * WG (tiles.c)

// four consecutive values of row b of a [count][n] array from c on, zero past the slice's end
// and past the row's (n need not be a multiple of 4, so the loads are scalar)
fn dz4(b: u32, end: u32, c: u32) -> vec4f {
    var v = vec4f(0.0);
    if (b < end) {
        for (var e = 0u; e < 4u; e++) {
            if (c + e < OUT) {
                v[e] = dz[b * OUT + c + e];
            }
        }
    }
    return v;
}

fn inp4(b: u32, end: u32, c: u32) -> vec4f {
    var v = vec4f(0.0);
    if (b < end) {
        for (var e = 0u; e < 4u; e++) {
            if (c + e < IN) {
                v[e] = inp[b * IN + c + e];
            }
        }
    }
    return v;
}

// the q-th vec4 of the round over samples b0..: dz's (zs), then the inputs' (xs)
fn stage_load(q: u32, b0: u32, end: u32, o0: u32, i0: u32) -> vec4f {
    let per = KB * T / 4u;
    if (q < per) {
        return dz4(b0 + q / (T / 4u), end, o0 + 4u * (q % (T / 4u)));
    }
    let r = q - per;
    return inp4(b0 + r / (T / 4u), end, i0 + 4u * (r % (T / 4u)));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let itiles = (IN + T - 1u) / T;
    let n_w1 = ((OUT + T - 1u) / T) * itiles;  // one slice's tiles
    let slice = wid.x / n_w1;
    let tile = wid.x % n_w1;
    let o0 = (tile / itiles) * T;
    let i0 = (tile % itiles) * T;
    let tx = lid % (T / 4u);  // inputs i0 + 4 tx .. + 3
    let ty = lid / (T / 4u);  // outputs o0 + 4 ty .. + 3
    // this slice's samples: [first, end), none past the batch (such a slice writes zeros)
    let first = min(slice * SLICE_ROWS, step.count);
    let end = min(first + min(SLICE_ROWS, step.count), step.count);
    let per = KB * T / 4u;
    var acc: array<vec4f, 4>;  // acc[r][c]: output 4 ty + r, input 4 tx + c
    for (var r = 0u; r < 4u; r++) {
        acc[r] = vec4f(0.0);
    }
    var sdb = vec4f(0.0);
    var next: array<vec4f, NQ>;
    for (var j = 0u; j < NQ; j++) {
        next[j] = stage_load(lid + j * WG, first, end, o0, i0);
    }
    for (var b0 = first; b0 < end; b0 += KB) {
        workgroupBarrier();  // the last round's reads are done
        for (var j = 0u; j < NQ; j++) {
            let q = lid + j * WG;
            if (q < per) {
                zs[q] = next[j];
            } else if (q < 2u * per) {
                xs[q - per] = next[j];
            }
        }
        workgroupBarrier();
        if (b0 + KB < end) {
            for (var j = 0u; j < NQ; j++) {
                next[j] = stage_load(lid + j * WG, b0 + KB, end, o0, i0);
            }
        }
        for (var k = 0u; k < KB; k++) {
            let z = zs[k * (T / 4u) + ty];
            let x = xs[k * (T / 4u) + tx];
            acc[0] += z.x * x;
            acc[1] += z.y * x;
            acc[2] += z.z * x;
            acc[3] += z.w * x;
            sdb += z;
        }
    }
    let base = slice * SLICE_STRIDE;
    for (var r = 0u; r < 4u; r++) {
        let o = o0 + 4u * ty + r;
        for (var c = 0u; c < 4u; c++) {
            let i = i0 + 4u * tx + c;
            if (o < OUT && i < IN) {
                grad[base + o * IN + i] = acc[r][c];
            }
        }
        // db by the threads of the first input tile's first column
        if (i0 == 0u && tx == 0u && o < OUT) {
            grad[base + DB_OFF + o] = sdb[r];
        }
    }
}
