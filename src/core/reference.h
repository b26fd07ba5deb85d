/* CPU reference of the MLP: the oracle every GPU kernel is tested against.
 *
 * llm.c style: each layer is an <op>_forward / <op>_backward pair over plain pointers and
 * sizes; gradients are named d*. Storage is float32 as on the GPU; sums are accumulated in
 * double so the reference is closer to exact than the kernels it judges.
 *
 * Layouts (row-major, as torch.nn.Linear): weights w[out][in], bias b[out], activations
 * act[batch][features]. */
#ifndef WGTRAIN_REFERENCE_H
#define WGTRAIN_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "core/optim.h"

#define REF_PIXEL_MEAN 0.1307f
#define REF_PIXEL_STD 0.3081f

/* x[b][k] = (images[order[start + b]][k] / 255 - mean) / std, for b < count. */
void input_gather_forward(float *x, const uint8_t *images, const uint32_t *order, uint32_t start,
                          int count, int pixels);

/* out[b][o] = bias[o] + sum_i inp[b][i] * w[o][i] */
void dense_forward(float *out, const float *inp, const float *w, const float *bias, int B,
                   int C_in, int C_out);
/* dw[o][i] = sum_b dout[b][o] * inp[b][i]; dbias[o] = sum_b dout[b][o];
 * dinp[b][i] = sum_o dout[b][o] * w[o][i] (skipped when dinp is NULL). Overwrites, no +=. */
void dense_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                    const float *w, int B, int C_in, int C_out);

void relu_forward(float *out, const float *inp, int n);
/* dinp[i] = out[i] > 0 ? dout[i] : 0 (the mask is taken from the forward output). */
void relu_backward(float *dinp, const float *out, const float *dout, int n);

/* Any hidden activation (model.h's enum; MODEL_ACT_NONE is the identity). Derivatives are taken
 * at the pre-activation: dinp[i] = dout[i] * act'(pre[i]). GELU is the exact (erf) one. */
void activation_forward(float *out, const float *pre, int n, model_activation act);
void activation_backward(float *dpre, const float *pre, const float *dout, int n, model_activation act);

/* Softmax + cross-entropy for labels in [0, C). losses[b] = -log softmax(logits[b])[label];
 * correct[b] = 1 when the first maximum of logits[b] is the label;
 * dlogits[b][c] = (softmax[b][c] - [c == label]) / B (the gradient of the batch mean).
 * Returns the mean loss. */
double softmax_xent_forward_backward(float *dlogits, float *losses, uint32_t *correct,
                                     const float *logits, const uint8_t *labels, int B, int C);
/* The same with label smoothing s (torch's CrossEntropyLoss(label_smoothing=s)): the target
 * is q[c] = (1 - s) [c == label] + s / C, the loss -sum_c q[c] log softmax[c], dlogits
 * (softmax - q) / B. s = 0 is exactly softmax_xent_forward_backward. */
double softmax_xent_smoothed(float *dlogits, float *losses, uint32_t *correct, const float *logits,
                             const uint8_t *labels, int B, int C, float s);

/* Inverted dropout's mask, as dense_forward.wgsl draws it: element i (b * width + o) of hidden
 * layer `layer` is kept at this step's noise seed unless a hash of the three falls below p. */
int dropout_keep(uint32_t noise, uint32_t layer, uint32_t i, float p);
/* out[i] = keep ? inp[i] / (1 - p) : 0 (in place allowed); the backward is the same map. */
void dropout_forward(float *out, const float *inp, int n, float p, uint32_t noise, uint32_t layer);

/* SGD with optional momentum, as torch.optim.SGD (dampening 0, no Nesterov):
 * v = momentum * v + g; p -= lr * v. With momentum == 0, v is not touched (may be NULL). */
void sgd_update(float *p, float *v, const float *g, size_t n, float lr, float momentum);

/* Any optimizer of optim.h over n parameters, as optimizer.wgsl computes it in float (see its
 * comment for the formulas): state holds optim_slots(o->kind) slots of `stride` floats each
 * (slot k of parameter i at state[k * stride + i]); g is scaled by clip first (1: no clipping);
 * bc1, bc2 are Adam's bias corrections of this step (optim_bias_corrections). */
void optimizer_update(float *p, float *state, size_t stride, const float *g, size_t n, const optim_config *o,
                      float lr, float bc1, float bc2, float clip);
/* clip_grad_norm_'s factor: min(1, max_norm / (||g|| + 1e-6)), the norm accumulated in double. */
float clip_factor(const float *g, size_t n, float max_norm);

/* ---- the whole 784-H-10 model ---- */

typedef struct ref_mlp {
    int inputs, hidden, classes;
    /* views into one allocation carved by ref_param_sizes() */
    float *params, *w1, *b1, *w2, *b2;
    size_t num_params;
} ref_mlp;

/* The size table: w1, b1, w2, b2 element counts. */
void ref_param_sizes(size_t sizes[4], int inputs, int hidden, int classes);
/* Carves w1..b2 out of params (num_params floats, contiguous, in table order). */
void ref_mlp_point(ref_mlp *m, float *params, int inputs, int hidden, int classes);

typedef struct ref_step_result {
    double loss;      /* mean over the batch */
    uint32_t correct; /* argmax == label count */
} ref_step_result;

/* One SGD step on one batch, the exact sequence the GPU reference path runs:
 * gather -> dense1 -> relu -> dense2 -> softmax/xent -> dense2 backward -> relu backward
 * -> dense1 backward -> sgd. grads and velocity are num_params floats laid out as params
 * (velocity may be NULL when momentum == 0). */
ref_step_result ref_mlp_step(ref_mlp *m, float *grads, float *velocity, const uint8_t *images,
                             const uint8_t *labels, const uint32_t *order, uint32_t start,
                             int batch, float lr, float momentum);

/* Mean loss of the batch without updating anything (for the gradient check). When grads is
 * not NULL, also writes the gradient of that mean loss. */
double ref_mlp_loss(const ref_mlp *m, float *grads, const uint8_t *images, const uint8_t *labels,
                    const uint32_t *order, uint32_t start, int batch);

/* ---- any model of the layer table (model.h) ---- */

typedef struct ref_model {
    model_arch arch;
    model_layout layout;  /* packed: model_layout_make(arch, 1) */
    float *params;        /* layout.count floats: w0, b0, w1, b1, ... */
    /* training options, 0 after ref_model_point: label smoothing of the loss, and dropout on
     * the hidden layers with the mask of noise seed `noise` */
    float label_smoothing, dropout;
    uint32_t noise;
} ref_model;

void ref_model_point(ref_model *m, const model_arch *arch, float *params);

/* Mean loss of a batch (the images order[start..start+batch) of the data set); with grads
 * (layout.count floats) also the gradient of that mean, and *correct the argmax == label
 * count (may be NULL). Sequence: gather -> (dense -> act -> dropout) x hidden -> dense ->
 * softmax/xent (smoothed), then the backward in reverse. */
double ref_model_loss(const ref_model *m, float *grads, uint32_t *correct, const uint8_t *images,
                      const uint8_t *labels, const uint32_t *order, uint32_t start, int batch);
/* ref_model_loss with gradients, then sgd_update over every parameter. */
ref_step_result ref_model_step(ref_model *m, float *grads, float *velocity, const uint8_t *images,
                               const uint8_t *labels, const uint32_t *order, uint32_t start, int batch,
                               float lr, float momentum);

#endif
