// SGD update (seed kernel 6) over every parameter at once: the model's weights and biases
// live in one buffer carved by a size table, and their gradients in a second buffer with
// the same layout. With MOMENTUM > 0 it is torch.optim.SGD's heavy ball:
//   v = MOMENTUM * v + g;  p -= lr * v

struct Step {
    start: u32,
    count: u32,
    lr: f32,
    index: u32,
}

override WG: u32 = 256;
override MOMENTUM: f32 = 0.0;

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> velocity: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let i = gid.x;
    if (i >= arrayLength(&params)) {
        return;
    }
    var g = grads[i];
    if (MOMENTUM != 0.0) {
        g = MOMENTUM * velocity[i] + g;
        velocity[i] = g;
    }
    params[i] -= step.lr * g;
}
