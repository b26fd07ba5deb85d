// The health panel (core/health.h, docs/health.md): statistics of one training step's tensors,
// dispatched once per report after that report's last step, never on an ordinary step. One
// workgroup per job; a job is one tensor:
//   kind 0, a parameter tensor: floats [off, off + count) of params (after the step), prev (a
//          copy taken before it) and grads (its loss gradient)
//   kind 1, a hidden layer's output: snap[off ..] of [step.count][units] floats; kind 2 also
//          counts dead units from the pre-activation at snap[dead_off ..] (ReLU layers)
// Two passes, two dispatches (the second needs the first's min and max):
//   PASS 0  sums of squares (prev, after - prev and grads for a parameter; the values for an
//           output), non-finite counts, the finite values' min and max
//   PASS 1  the BINS-bin histogram over [min, max] (integer counts: atomics give the same
//           numbers in any order) and, kind 2, the units whose pre-activation was <= 0 (not > 0)
//           for every sample of the batch
// Sums, min and max cover the finite values only; the others are counted. Each thread sums its
// grid-stride share (compensated), then a tree adds the threads in a fixed order, so a report
// gives the same numbers run after run.
// out[job * REC ..]: 0 sum_sq (prev | values), 1 sum_sq(after - prev), 2 sum_sq(grads),
// 3 non-finite values (after | values), 4 non-finite grads, 5 min, 6 max (f32 bits), 7 dead
// units, then BINS counts.

override WG: u32;    // a power of two (tiles.h)
override BINS: u32;
override PASS: u32;
override REC: u32 = 8u + BINS;

struct Job {
    kind: u32,
    off: u32,
    count: u32,  // kind 0: floats
    units: u32,  // kinds 1, 2: floats per sample
    dead_off: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> params: array<f32>;
@group(0) @binding(2) var<storage, read> prev: array<f32>;
@group(0) @binding(3) var<storage, read> grads: array<f32>;
@group(0) @binding(4) var<storage, read> snap: array<f32>;
@group(0) @binding(5) var<storage, read> jobs: array<Job>;
@group(0) @binding(6) var<storage, read_write> out: array<u32>;

var<workgroup> s_sq: array<f32, WG>;
var<workgroup> s_diff: array<f32, WG>;
var<workgroup> s_grad: array<f32, WG>;
var<workgroup> s_bad: array<u32, WG>;
var<workgroup> s_bad_grad: array<u32, WG>;
var<workgroup> s_lo: array<f32, WG>;
var<workgroup> s_hi: array<f32, WG>;
var<workgroup> hist: array<atomic<u32>, BINS>;
var<workgroup> dead: atomic<u32>;

// WGSL has no isinf/isnan: an all-ones exponent is NaN or infinity
fn finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// core/health.c's health_bin, operation for operation
fn bin_of(v: f32, lo: f32, hi: f32) -> u32 {
    var scale = 0.0;
    if (hi > lo) {
        scale = f32(BINS) / (hi - lo);
    }
    let f = floor((v - lo) * scale);
    if (!(f > 0.0)) {
        return 0u;
    }
    if (f >= f32(BINS - 1u)) {
        return BINS - 1u;
    }
    return u32(f);
}

// compensated running sum: (sum, carry)
fn kahan(acc: vec2f, x: f32) -> vec2f {
    let y = x - acc.y;
    let t = acc.x + y;
    return vec2f(t, (t - acc.x) - y);
}

fn value(job: Job, i: u32) -> f32 {
    if (job.kind == 0u) {
        return params[job.off + i];
    }
    return snap[job.off + i];
}

fn elements(job: Job) -> u32 {
    if (job.kind == 0u) {
        return job.count;
    }
    return step.count * job.units;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
    let job = jobs[wid.x];
    let n = elements(job);
    let base = wid.x * REC;
    if (PASS == 0u) {
        var sq = vec2f(0.0);
        var diff = vec2f(0.0);
        var grad = vec2f(0.0);
        var bad = 0u;
        var bad_grad = 0u;
        var lo = 0x1.fffffep+127f;  // the largest float: no finite value is above it
        var hi = -lo;
        for (var i = lid; i < n; i += WG) {
            let v = value(job, i);
            if (finite(v)) {
                lo = min(lo, v);
                hi = max(hi, v);
            } else {
                bad += 1u;
            }
            if (job.kind == 0u) {
                let p = prev[job.off + i];
                let g = grads[job.off + i];
                if (finite(p)) {
                    sq = kahan(sq, p * p);
                    if (finite(v)) {
                        diff = kahan(diff, (v - p) * (v - p));
                    }
                }
                if (finite(g)) {
                    grad = kahan(grad, g * g);
                } else {
                    bad_grad += 1u;
                }
            } else if (finite(v)) {
                sq = kahan(sq, v * v);
            }
        }
        s_sq[lid] = sq.x;
        s_diff[lid] = diff.x;
        s_grad[lid] = grad.x;
        s_bad[lid] = bad;
        s_bad_grad[lid] = bad_grad;
        s_lo[lid] = lo;
        s_hi[lid] = hi;
        workgroupBarrier();
        for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
            if (lid < stride) {
                s_sq[lid] += s_sq[lid + stride];
                s_diff[lid] += s_diff[lid + stride];
                s_grad[lid] += s_grad[lid + stride];
                s_bad[lid] += s_bad[lid + stride];
                s_bad_grad[lid] += s_bad_grad[lid + stride];
                s_lo[lid] = min(s_lo[lid], s_lo[lid + stride]);
                s_hi[lid] = max(s_hi[lid], s_hi[lid + stride]);
            }
            workgroupBarrier();
        }
        if (lid == 0u) {
            var l = s_lo[0];
            var h = s_hi[0];
            if (l > h) {  // no finite value
                l = 0.0;
                h = 0.0;
            }
            out[base] = bitcast<u32>(s_sq[0]);
            out[base + 1u] = bitcast<u32>(s_diff[0]);
            out[base + 2u] = bitcast<u32>(s_grad[0]);
            out[base + 3u] = s_bad[0];
            out[base + 4u] = s_bad_grad[0];
            out[base + 5u] = bitcast<u32>(l);
            out[base + 6u] = bitcast<u32>(h);
        }
        return;
    }

    // PASS 1
    for (var b = lid; b < BINS; b += WG) {
        atomicStore(&hist[b], 0u);
    }
    if (lid == 0u) {
        atomicStore(&dead, 0u);
    }
    workgroupBarrier();
    let lo = bitcast<f32>(out[base + 5u]);
    let hi = bitcast<f32>(out[base + 6u]);
    for (var i = lid; i < n; i += WG) {
        let v = value(job, i);
        if (finite(v)) {
            atomicAdd(&hist[bin_of(v, lo, hi)], 1u);
        }
    }
    if (job.kind == 2u) {
        for (var j = lid; j < job.units; j += WG) {
            var alive = false;
            for (var s = 0u; s < step.count && !alive; s++) {
                alive = snap[job.dead_off + s * job.units + j] > 0.0;
            }
            if (!alive) {
                atomicAdd(&dead, 1u);
            }
        }
    }
    workgroupBarrier();
    for (var b = lid; b < BINS; b += WG) {
        out[base + 8u + b] = atomicLoad(&hist[b]);
    }
    if (lid == 0u) {
        out[base + 7u] = atomicLoad(&dead);
    }
}
