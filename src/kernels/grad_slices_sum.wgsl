// Per-layer path, large batches only: adds the SLICES partial gradients that
// dense_backward_tiled.wgsl wrote, one slice of the batch each, in slice order (so every run sums
// in the same order), into the gradients the optimizer reads:
//   grads[i] = sum_s gpart[s * PARAMS + i]
// One invocation per parameter (the carve's padding included, which is zero in every slice).

override WG: u32;  // set from src/core/tiles.h, as every tile size
override SLICES: u32;
override PARAMS: u32;

@group(0) @binding(0) var<uniform> step: Step;  // bound as every kernel's; unused
@group(0) @binding(1) var<storage, read> gpart: array<f32>;        // [SLICES][PARAMS]
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;  // [PARAMS]

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
    grads[i] = g;
}
