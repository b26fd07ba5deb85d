// The optimizer pass: one update over every parameter at once. The model's weights and biases
// live in one buffer carved by the layer table's size table, their gradients in a second one
// of the same layout, and the optimizer's state slots in a third: slot k of parameter i at
// state[k * PARAMS + i]. Semantics are PyTorch's (torch.optim.SGD with dampening 0, Adam,
// AdamW; clip_grad_norm_ before the step):
//   g = grads[i] * clip                    (clip = min(1, max_norm / (norm + 1e-6)), see grad_norm.wgsl)
//   OPT 0 SGD / heavy ball: g += wd * p; v = mu * v + g (if mu); p -= lr * v
//   OPT 1 Nesterov:         g += wd * p; v = mu * v + g; p -= lr * (g + mu * v)
//   OPT 2 Adam:             g += wd * p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//                           p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
//   OPT 3 AdamW:            p *= 1 - lr * wd, then Adam without the wd term
// bc1 = 1 - b1^t and bc2 = 1 - b2^t for the 1-based global step t come in the Step uniform
// (computed on the host in double: the step counter is the run's, not a tensor's), and so do
// lr and mu = step.momentum, the momentum or, for Adam, b1: live edits change them between
// steps (src/core/live.h), so they are no override constants.

override WG: u32;  // set from src/core/tiles.h, as every tile size
override OPT: u32 = 0;
override WEIGHT_DECAY: f32 = 0.0;
override BETA2: f32 = 0.999;
override EPS: f32 = 1e-8;
override CLIP: bool = false;
override PARAMS: u32 = 1;  // floats of the carved allocation: the stride of a state slot

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;
@group(0) @binding(4) var<storage, read> clip: array<f32>;  // [1], or unused

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.x;
    if (i >= PARAMS) {
        return;
    }
    var g = grads[i];
    if (CLIP) {
        g *= clip[0];
    }
    if (OPT <= 1u) {
        if (WEIGHT_DECAY != 0.0) {
            g += WEIGHT_DECAY * params[i];
        }
        let mu = step.momentum;
        if (mu != 0.0) {
            let v = mu * state[i] + g;
            state[i] = v;
            if (OPT == 1u) {
                g = g + mu * v;
            } else {
                g = v;
            }
        }
        params[i] -= step.lr * g;
        return;
    }
    var p = params[i];
    if (OPT == 3u) {
        p *= 1.0 - step.lr * WEIGHT_DECAY;
    } else if (WEIGHT_DECAY != 0.0) {
        g += WEIGHT_DECAY * p;
    }
    let b1 = step.momentum;
    let m = b1 * state[i] + (1.0 - b1) * g;
    let v = BETA2 * state[PARAMS + i] + (1.0 - BETA2) * g * g;
    state[i] = m;
    state[PARAMS + i] = v;
    let denom = sqrt(v) / sqrt(step.bc2) + EPS;
    params[i] = p - (step.lr / step.bc1) * (m / denom);
}
