// Fast path, large batches only: adds the SLICES partial gradients that fused_update.wgsl
// wrote, in slice order (so every run sums in the same order), and applies the update, as
// torch.optim.SGD: v = mu * v + g; p -= lr * v, with the step's lr and mu = step.momentum (live
// edits change both). One invocation per parameter.

override WG: u32;  // set from src/core/tiles.h, as every tile size
override SLICES: u32;
override PARAMS: u32;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(3) var<storage, read> gpart: array<f32>;  // [SLICES][PARAMS]
@group(0) @binding(4) var<storage, read_write> grads: array<f32>;  // the health panel's copy (step.health)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.x;
    if (i >= PARAMS) {
        return;
    }
    var g = 0.0;
    for (var s = 0u; s < SLICES; s++) {
        g += gpart[s * PARAMS + i];
    }
    if (step.health != 0u) {
        grads[i] = g;
    }
    let mu = step.momentum;
    if (mu != 0.0) {
        g = mu * velocity[i] + g;
        velocity[i] = g;
    }
    params[i] -= step.lr * g;
}
