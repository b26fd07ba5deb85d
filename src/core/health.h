/* The health panel's numbers: per dense layer, for one training step (the last step of a
 * report), the norms of its gradients, the size of its update against its weights, the
 * fraction of dead ReLU units, histograms of its weights and of its output, and a count of the
 * non-finite values in each tensor. The GPU engine computes them in health_stats.wgsl, the CPU
 * engine with health_compute below (which is also the reference that the GPU's are checked
 * against); docs/health.md defines each.
 *
 * Portable core: no I/O. */
#ifndef WGTRAIN_HEALTH_H
#define WGTRAIN_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"

#define HEALTH_BINS 32

/* The tensors a layer's health names, in the order a divergence message looks for the first
 * non-finite one: its weight and bias (after the step), their gradients, its output. */
typedef enum health_tensor {
    HEALTH_WEIGHT,
    HEALTH_BIAS,
    HEALTH_GRAD_WEIGHT,
    HEALTH_GRAD_BIAS,
    HEALTH_OUTPUT,
    HEALTH_TENSORS
} health_tensor;

/* HEALTH_BINS equal bins over [lo, hi], the finite values' min and max: value v falls in bin
 * floor((v - lo) * (HEALTH_BINS / (hi - lo))), clamped to the last bin (so hi is counted in
 * it); all in bin 0 when hi == lo. Non-finite values are counted nowhere. */
typedef struct health_hist {
    float lo, hi;
    uint32_t counts[HEALTH_BINS];
} health_hist;

/* Norms, ranges and histograms cover a tensor's finite values; the others are counted in
 * nonfinite (an update term needs both of its values finite). */
typedef struct health_layer {
    uint32_t fan_in, fan_out;
    double weight_norm, bias_norm;               /* ||W||, ||b|| before the step */
    double grad_weight_norm, grad_bias_norm;     /* of the step's loss gradient (before clipping and weight decay) */
    double update_weight_norm, update_bias_norm; /* ||W_after - W_before||, the same for b; < 0: not measured */
    double update_ratio;                         /* update_weight_norm / weight_norm; < 0: not measured */
    double dead_fraction;                        /* ReLU hidden layers; < 0: not applicable */
    health_hist weights;                         /* of W after the step */
    bool has_output;                             /* hidden layers: their output's histogram */
    health_hist output;
    uint32_t nonfinite[HEALTH_TENSORS]; /* NaN or infinite values in each tensor */
    size_t sizes[HEALTH_TENSORS];       /* values in each (output: samples x fan_out; 0 for none) */
} health_layer;

typedef struct mlp_health {
    uint32_t layers;
    uint32_t epoch, step; /* the step it describes: epoch 1-based, step 1-based within it */
    uint32_t samples;     /* in that step's batch */
    health_layer layer[MODEL_MAX_LAYERS];
} mlp_health;

/* One step's tensors. params, prev and grads are in lay's layout (offsets[2l] is layer l's W,
 * offsets[2l + 1] its b); prev (the parameters before the step) may be NULL: the update is then
 * not measured. out[l] and pre[l] for hidden layers are [samples][fan_out]: the layer's output
 * as the next layer reads it (after activation and dropout) and its pre-activation, which the
 * dead-unit count reads (pre[l] may be out[l] for ReLU without dropout: relu(z) <= 0 iff z <= 0). */
typedef struct health_inputs {
    const model_layout *lay;
    model_activation activation;
    const float *params, *prev, *grads;
    const float *out[MODEL_MAX_LAYERS], *pre[MODEL_MAX_LAYERS];
    uint32_t samples;
} health_inputs;

/* The reference: sums in double, then the same binning arithmetic as health_stats.wgsl (in
 * float). Sets every field but epoch and step. */
void health_compute(const health_inputs *in, mlp_health *out);

/* A bin of health_hist for v (finite) given lo, hi: the one formula the CPU and the kernel share. */
uint32_t health_bin(float v, float lo, float hi);

/* The checkpoint-style name of a tensor of dense layer l: "0.weight", "0.bias", "0.weight.grad",
 * "0.bias.grad", "1.output" (the output of activation module 2l + 1 of the torch.nn.Sequential). */
void health_tensor_name(uint32_t l, health_tensor k, char *buf, size_t cap);

/* Whether any tensor holds a non-finite value; if so, buf gets "layer 1, tensor 0.weight.grad
 * (12 of 100352 values non-finite), and 3 more non-finite tensors": the first in layer order and
 * then health_tensor order. */
bool health_nonfinite(const mlp_health *h, char *buf, size_t cap);
/* What a divergence message says of the tensors: health_nonfinite's text, or, when every one is
 * finite, that the loss overflowed in the logits (which the panel does not hold). */
void health_where(const mlp_health *h, char *buf, size_t cap);

#endif
