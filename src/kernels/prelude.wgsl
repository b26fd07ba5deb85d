// The prelude: what every kernel would otherwise repeat. WGSL has no #include, so the runtime
// (gpu_kernel_get in src/gpu/gpu.c) puts this file in front of every kernel it compiles, from
// wherever the kernel itself comes: the binary's embedded copy, --kernels-dir DIR (DIR's
// prelude.wgsl when it has one) or, in the browser, setKernel('prelude.wgsl', source). It
// declares no bindings and no overrides (a pipeline may only set overrides its kernel has), so
// each kernel's interface stays in its own file. Compile errors name the file and line they are
// in: dense_forward.wgsl:12:5 for a kernel's line, prelude.wgsl:40:3 for one of these.

// The per-step uniform, one 256-byte slot per step (STEP_STRIDE in mlp.c, step_params in C):
// every kernel binds it as `step`, with the step's dynamic offset, and reads what it needs.
struct Step {
    start: u32,  // first position of this minibatch in `order` (evaluation: of the set's chunk)
    count: u32,  // samples in this minibatch (the last one of an epoch may be short)
    lr: f32,     // learning rate of this step
    index: u32,  // step number within the epoch: the metrics slot
    bc1: f32,    // Adam's bias corrections of this step
    bc2: f32,
    noise: u32,  // dropout's seed of this step
    momentum: f32,  // the SGD family's momentum, or Adam's beta1, at this step (live edits change it)
    health: u32, // 1 on a report's last step when the health panel is on (fused_update, fused_apply store the gradients)
}

// u8 values (pixels, labels) are packed four to a u32 word: value i is byte i % 4 of word i / 4
fn u8_at(word: u32, i: u32) -> u32 {
    return (word >> ((i & 3u) * 8u)) & 0xffu;
}

// Pixel normalisation, as torchvision's MNIST recipe: (byte / 255 - mean) / std
const PIXEL_MEAN: f32 = 0.1307;
const PIXEL_STD: f32 = 0.3081;

fn pixel(byte: u32) -> f32 {
    return (f32(byte) * (1.0 / 255.0) - PIXEL_MEAN) / PIXEL_STD;
}

// the four pixels of one word, as a vec4 (the same arithmetic as pixel(), lane by lane)
fn pixel4(word: u32) -> vec4f {
    let bytes = vec4f(f32(word & 0xffu), f32((word >> 8u) & 0xffu), f32((word >> 16u) & 0xffu), f32(word >> 24u));
    return (bytes * (1.0 / 255.0) - PIXEL_MEAN) / PIXEL_STD;
}

// Softmax and cross-entropy of one row of logits. The caller runs the loops over its own row
// (a storage buffer in one kernel, workgroup memory in another: WGSL cannot pass a pointer to
// both), and these keep the arithmetic one and the same everywhere, as the CPU reference has it:
//   top = max_c l[c], best its first argmax     softmax_max, over c = 1.. from softmax_first
//   sum = sum_c exp(l[c] - top)                 softmax_exp
//   p[c] = exp(l[c] - top) / sum                softmax_prob
//   nll  = log(sum) + top - l[label]            softmax_nll
struct Softmax {
    top: f32,
    best: u32,
    sum: f32,
}

fn softmax_first(l0: f32) -> Softmax {
    return Softmax(l0, 0u, 0.0);
}

fn softmax_max(s: Softmax, l: f32, c: u32) -> Softmax {
    if (l > s.top) {
        return Softmax(l, c, s.sum);
    }
    return s;
}

fn softmax_exp(s: Softmax, l: f32) -> f32 {
    return exp(l - s.top);
}

fn softmax_prob(s: Softmax, l: f32) -> f32 {
    return exp(l - s.top) / s.sum;
}

fn softmax_nll(s: Softmax, l_label: f32) -> f32 {
    return log(s.sum) + s.top - l_label;
}

// The cross-entropy's target for class c, torch's CrossEntropyLoss(label_smoothing):
//   q[c] = (1 - smoothing) [c == label] + smoothing / classes   (the one-hot label at 0, exactly)
fn softmax_target(c: u32, label: u32, smoothing: f32, classes: u32) -> f32 {
    let q = select(0.0, 1.0, c == label);
    if (smoothing > 0.0) {
        return (1.0 - smoothing) * q + smoothing / f32(classes);
    }
    return q;
}

// ... and its loss, from the label's nll and the sum of every class's (the caller's loop over
// its row; with smoothing 0 the loss is the label's nll and the caller need not sum):
//   (1 - smoothing) nll + smoothing * all / classes
fn softmax_smoothed_nll(nll: f32, all: f32, smoothing: f32, classes: u32) -> f32 {
    return (1.0 - smoothing) * nll + smoothing * all / f32(classes);
}

// The activations and their derivatives, by model_activation (src/core/model.h): 0 none (the
// logits), 1 ReLU, 2 GELU (erf), 3 tanh, 4 sigmoid, 5 leaky ReLU (0.01); reference.c has the same.
// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): WGSL has no erf
fn erf_approx(x: f32) -> f32 {
    let a = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return sign(x) * (1.0 - poly * exp(-a * a));
}

fn activation(kind: u32, z: f32) -> f32 {
    switch kind {
        case 1u: { return max(z, 0.0); }
        case 2u: { return 0.5 * z * (1.0 + erf_approx(z * 0.70710678)); }
        case 3u: { return tanh(clamp(z, -15.0, 15.0)); }
        case 4u: { return 1.0 / (1.0 + exp(-z)); }
        case 5u: { return select(0.01 * z, z, z > 0.0); }
        default: { return z; }
    }
}

fn activation_derivative(kind: u32, z: f32) -> f32 {
    switch kind {
        case 1u: { return select(0.0, 1.0, z > 0.0); }
        case 2u: { return 0.5 * (1.0 + erf_approx(z * 0.70710678)) + z * exp(-0.5 * z * z) * 0.39894228; }
        case 3u: {
            let y = tanh(clamp(z, -15.0, 15.0));
            return 1.0 - y * y;
        }
        case 4u: {
            let s = 1.0 / (1.0 + exp(-z));
            return s * (1.0 - s);
        }
        case 5u: { return select(0.01, 1.0, z > 0.0); }
        default: { return 1.0; }
    }
}

// Inverted dropout's mask: element i of layer `layer` is kept with probability 1 - p, drawn
// from a hash of the step's noise seed, the layer and the element, so the forward, the
// backward and the CPU reference (dropout_keep in reference.c) draw the same mask.
// lowbias32 (Wellons): a cheap, well-mixed 32-bit hash
fn hash32(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

fn dropout_keep(noise: u32, layer: u32, i: u32, p: f32) -> bool {
    let h = hash32(i ^ hash32(noise ^ (layer * 0x9e3779b9u)));
    return f32(h >> 8u) * (1.0 / 16777216.0) >= p;
}

// Inverted dropout applied to v, element i of layer `layer`: 0 where the mask drops it, else
// scaled by 1 / (1 - p); v itself when p is 0. The forward applies it to a layer's outputs and
// the backward, with the same mask, to the gradient flowing into them.
fn dropout_apply(v: f32, noise: u32, layer: u32, i: u32, p: f32) -> f32 {
    if (p > 0.0) {
        return select(0.0, v * (1.0 / (1.0 - p)), dropout_keep(noise, layer, i, p));
    }
    return v;
}
