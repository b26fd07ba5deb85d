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

/* SGD with optional momentum, as torch.optim.SGD (dampening 0, no Nesterov):
 * v = momentum * v + g; p -= lr * v. With momentum == 0, v is not touched (may be NULL). */
void sgd_update(float *p, float *v, const float *g, size_t n, float lr, float momentum);

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
} ref_model;

void ref_model_point(ref_model *m, const model_arch *arch, float *params);

/* Mean loss of a batch (the images order[start..start+batch) of the data set); with grads
 * (layout.count floats) also the gradient of that mean, and *correct the argmax == label
 * count (may be NULL). Sequence: gather -> (dense -> act) x hidden -> dense -> softmax/xent,
 * then the backward in reverse. */
double ref_model_loss(const ref_model *m, float *grads, uint32_t *correct, const uint8_t *images,
                      const uint8_t *labels, const uint32_t *order, uint32_t start, int batch);
/* ref_model_loss with gradients, then sgd_update over every parameter. */
ref_step_result ref_model_step(ref_model *m, float *grads, float *velocity, const uint8_t *images,
                               const uint8_t *labels, const uint32_t *order, uint32_t start, int batch,
                               float lr, float momentum);

#endif
