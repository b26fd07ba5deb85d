// clip_grad_norm_'s global norm, on the GPU: two dispatches of this kernel.
//   PASS 0: workgroup w sums grads[i]^2 over its grid-stride share into partial[w]
//   PASS 1: one workgroup sums the partials: norm = sqrt(sum), and writes the factor the
//           optimizer scales every gradient by: clip[0] = min(1, MAX_NORM / (norm + 1e-6))
// (torch.nn.utils.clip_grad_norm_ with norm_type 2). The padding between tensors of the
// carved gradient buffer is zero and adds nothing.

override WG: u32;      // set from src/core/tiles.h, as every tile size
override GROUPS: u32;  // workgroups of pass 0: the partials pass 1 sums
override PASS: u32 = 0;
override PARAMS: u32 = 1;
override MAX_NORM: f32 = 1.0;

// the step uniform is bound like every kernel's (the engine encodes each dispatch with the
// step's dynamic offset), though the norm needs none of it
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;  // [GROUPS]
@group(0) @binding(3) var<storage, read_write> clip: array<f32>;     // [1]

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
    var acc = 0.0;
    if (PASS == 0u) {
        for (var i = wid.x * WG + lid; i < PARAMS; i += GROUPS * WG) {
            let g = grads[i];
            acc += g * g;
        }
    } else {
        for (var i = lid; i < GROUPS; i += WG) {
            acc += partial[i];
        }
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            part[lid] += part[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        if (PASS == 0u) {
            partial[wid.x] = part[0];
        } else {
            clip[0] = min(1.0, MAX_NORM / (sqrt(part[0]) + 1e-6));
        }
    }
}
