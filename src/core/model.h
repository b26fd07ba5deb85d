/* The model as data: a layer table (inputs, hidden widths, classes, activation) from which
 * everything else is derived: the size table of the one parameter allocation, the activation
 * buffers, the kernels dispatched, the checkpoint tensor names and the CPU reference.
 *
 * The network is torch.nn.Sequential(Linear(inputs, h0), Act(), Linear(h0, h1), Act(), ...,
 * Linear(h_last, classes)): dense layer l has fan_in = width(l), fan_out = width(l + 1), where
 * width(0) = inputs, width(l) = hidden[l - 1], width(depth + 1) = classes. Its tensors are
 * w [fan_out][fan_in] and b [fan_out] (row-major, as torch.nn.Linear), in layer order. */
#ifndef WGTRAIN_MODEL_H
#define WGTRAIN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_MAX_HIDDEN_LAYERS 8
#define MODEL_MAX_LAYERS (MODEL_MAX_HIDDEN_LAYERS + 1) /* dense layers, output included */
#define MODEL_MAX_TENSORS (2 * MODEL_MAX_LAYERS)
#define MODEL_MAX_WIDTH 4096
/* parameters of a model: 128 MiB of floats, the storage-binding size WebGPU guarantees */
#define MODEL_MAX_PARAMS ((size_t)1 << 25)

/* The values are the ACT override constant of dense_forward.wgsl / dense_backward.wgsl. */
typedef enum model_activation {
    MODEL_ACT_NONE = 0, /* the output layer */
    MODEL_ACT_RELU = 1,
    MODEL_ACT_GELU = 2, /* exact (erf) GELU, torch.nn.GELU() */
    MODEL_ACT_TANH = 3,
    MODEL_ACT_SIGMOID = 4,
    MODEL_ACT_LEAKY_RELU = 5, /* negative slope 0.01, torch.nn.LeakyReLU() */
} model_activation;

/* Weight initialisation schemes (biases: torch's U(-1/sqrt(fan_in), ..) for torch, 0 else). */
typedef enum model_init {
    MODEL_INIT_TORCH = 0,   /* torch.nn.Linear's default: w, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    MODEL_INIT_KAIMING = 1, /* kaiming_uniform_(nonlinearity='relu'): U(+-sqrt(6 / fan_in)), b = 0 */
    MODEL_INIT_XAVIER = 2,  /* xavier_uniform_: U(+-sqrt(6 / (fan_in + fan_out))), b = 0 */
} model_init;

typedef struct model_arch {
    uint32_t inputs;        /* features of a sample (pixels) */
    uint32_t classes;       /* outputs */
    uint32_t hidden_layers; /* 1..MODEL_MAX_HIDDEN_LAYERS */
    uint32_t hidden[MODEL_MAX_HIDDEN_LAYERS];
    model_activation activation; /* of every hidden layer */
} model_arch;

/* The size table: tensor t (2l = w of dense layer l, 2l+1 = its b) has sizes[t] floats. */
typedef struct model_layout {
    uint32_t layers;  /* dense layers: hidden_layers + 1 */
    uint32_t tensors; /* 2 * layers */
    uint32_t fan_in[MODEL_MAX_LAYERS], fan_out[MODEL_MAX_LAYERS];
    size_t sizes[MODEL_MAX_TENSORS];
    size_t offsets[MODEL_MAX_TENSORS]; /* in floats, in the carved allocation */
    size_t count;                      /* parameters: sum of sizes (the packed, file layout) */
    size_t carved;                     /* floats of the carved allocation (offsets aligned) */
} model_layout;

/* The seed's model: 784-128-10, ReLU. */
model_arch model_arch_default(void);
/* align: floats each tensor's offset is rounded up to (1: packed; 64: 256-byte GPU offsets). */
void model_layout_make(const model_arch *a, size_t align, model_layout *out);
size_t model_param_count(const model_arch *a);
/* True, or a one-line message that starts with the field at fault ("hidden ..."). */
bool model_arch_check(const model_arch *a, char *err, size_t errlen);
bool model_arch_equal(const model_arch *a, const model_arch *b);

const char *model_activation_name(model_activation a);       /* "relu", "gelu", ... */
bool model_activation_parse(const char *s, model_activation *out); /* hidden activations only */
const char *model_activation_module(model_activation a);     /* "ReLU()", "GELU()", ... */
const char *model_init_name(model_init i);
bool model_init_parse(const char *s, model_init *out);

/* "128" or "256,128": widths 1..MODEL_MAX_WIDTH, at most MODEL_MAX_HIDDEN_LAYERS. */
bool model_hidden_parse(const char *s, model_arch *a, char *err, size_t errlen);
/* "256,128" */
void model_hidden_format(const model_arch *a, char *buf, size_t cap);
/* "torch.nn.Sequential(Linear(784, 256), ReLU(), Linear(256, 10))" */
void model_describe(const model_arch *a, char *buf, size_t cap);

/* The initial parameters for a seed in the packed layout (model_layout_make(a, 1)): one
 * splitmix64 stream drawn tensor by tensor, so a 784-H-10 torch init is the seed's. */
void model_init_params(const model_arch *a, model_init init, uint64_t seed, float *dst);
/* The engine's random numbers (splitmix64): the same sequence on every machine. */
uint64_t model_splitmix64(uint64_t *state);

#endif
