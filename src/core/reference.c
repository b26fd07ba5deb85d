/* CPU reference of the MLP (see reference.h for the contract of every function).
 *
 * llm.c style: <op>_forward / <op>_backward over plain pointers and sizes, gradients named
 * d*. Storage is float32; every sum (dot products, bias-gradient sums, the softmax
 * normaliser, the loss) is accumulated in double and rounded to float once at the end. */
#include "core/reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- layers ---- */

void input_gather_forward(float *x, const uint8_t *images, const uint32_t *order, uint32_t start,
                          int count, int pixels) {
    for (int b = 0; b < count; b++) {
        const uint8_t *img = images + (size_t)order[start + (uint32_t)b] * (size_t)pixels;
        float *xb = x + (size_t)b * (size_t)pixels;
        for (int k = 0; k < pixels; k++) {
            xb[k] = ((float)img[k] * (1.0f / 255.0f) - REF_PIXEL_MEAN) / REF_PIXEL_STD;
        }
    }
}

void dense_forward(float *out, const float *inp, const float *w, const float *bias, int B,
                   int C_in, int C_out) {
    for (int b = 0; b < B; b++) {
        const float *inp_b = inp + (size_t)b * (size_t)C_in;
        float *out_b = out + (size_t)b * (size_t)C_out;
        for (int o = 0; o < C_out; o++) {
            const float *w_o = w + (size_t)o * (size_t)C_in;
            double acc = (double)bias[o];
            for (int i = 0; i < C_in; i++) {
                acc += (double)inp_b[i] * (double)w_o[i];
            }
            out_b[o] = (float)acc;
        }
    }
}

void dense_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                    const float *w, int B, int C_in, int C_out) {
    /* dw[o][i] = sum_b dout[b][o] * inp[b][i]; dbias[o] = sum_b dout[b][o] */
    for (int o = 0; o < C_out; o++) {
        double db = 0.0;
        for (int b = 0; b < B; b++) {
            db += (double)dout[(size_t)b * (size_t)C_out + (size_t)o];
        }
        dbias[o] = (float)db;
        float *dw_o = dw + (size_t)o * (size_t)C_in;
        for (int i = 0; i < C_in; i++) {
            double acc = 0.0;
            for (int b = 0; b < B; b++) {
                acc += (double)dout[(size_t)b * (size_t)C_out + (size_t)o] *
                       (double)inp[(size_t)b * (size_t)C_in + (size_t)i];
            }
            dw_o[i] = (float)acc;
        }
    }
    /* dinp[b][i] = sum_o dout[b][o] * w[o][i] */
    if (dinp != NULL) {
        for (int b = 0; b < B; b++) {
            const float *dout_b = dout + (size_t)b * (size_t)C_out;
            float *dinp_b = dinp + (size_t)b * (size_t)C_in;
            for (int i = 0; i < C_in; i++) {
                double acc = 0.0;
                for (int o = 0; o < C_out; o++) {
                    acc += (double)dout_b[o] * (double)w[(size_t)o * (size_t)C_in + (size_t)i];
                }
                dinp_b[i] = (float)acc;
            }
        }
    }
}

void relu_forward(float *out, const float *inp, int n) {
    for (int i = 0; i < n; i++) {
        out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
    }
}

void relu_backward(float *dinp, const float *out, const float *dout, int n) {
    for (int i = 0; i < n; i++) {
        dinp[i] = out[i] > 0.0f ? dout[i] : 0.0f;
    }
}

/* dlogits, losses and correct may each be NULL (skipped); the mean loss is always returned. */
double softmax_xent_smoothed(float *dlogits, float *losses, uint32_t *correct, const float *logits,
                             const uint8_t *labels, int B, int C, float smoothing) {
    const double s = smoothing;
    double loss_sum = 0.0;
    for (int b = 0; b < B; b++) {
        const float *row = logits + (size_t)b * (size_t)C;
        int label = labels[b];
        /* first maximum (strict >), also the shift for a stable softmax */
        int argmax = 0;
        float maxv = row[0];
        for (int c = 1; c < C; c++) {
            if (row[c] > maxv) {
                maxv = row[c];
                argmax = c;
            }
        }
        double sum = 0.0;
        for (int c = 0; c < C; c++) {
            sum += exp((double)row[c] - (double)maxv);
        }
        /* -log(exp(z_label - max) / sum), in log form so it never takes log(0) */
        double loss_b = log(sum) - ((double)row[label] - (double)maxv);
        if (s > 0) {
            double all = 0.0;
            for (int c = 0; c < C; c++) all += log(sum) - ((double)row[c] - (double)maxv);
            loss_b = (1.0 - s) * loss_b + s * all / C;
        }
        loss_sum += loss_b;
        if (losses != NULL) {
            losses[b] = (float)loss_b;
        }
        if (correct != NULL) {
            correct[b] = argmax == label ? 1u : 0u;
        }
        if (dlogits != NULL) {
            float *drow = dlogits + (size_t)b * (size_t)C;
            for (int c = 0; c < C; c++) {
                double p = exp((double)row[c] - (double)maxv) / sum;
                double y = c == label ? 1.0 : 0.0;
                if (s > 0) y = (1.0 - s) * y + s / C;
                drow[c] = (float)((p - y) / (double)B);
            }
        }
    }
    return loss_sum / (double)B;
}

double softmax_xent_forward_backward(float *dlogits, float *losses, uint32_t *correct,
                                     const float *logits, const uint8_t *labels, int B, int C) {
    return softmax_xent_smoothed(dlogits, losses, correct, logits, labels, B, C, 0.0f);
}

static uint32_t hash32(uint32_t x) { /* lowbias32, as prelude.wgsl */
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

int dropout_keep(uint32_t noise, uint32_t layer, uint32_t i, float p) {
    uint32_t h = hash32(i ^ hash32(noise ^ (layer * 0x9e3779b9u)));
    return (float)(h >> 8) * (1.0f / 16777216.0f) >= p;
}

void dropout_forward(float *out, const float *inp, int n, float p, uint32_t noise, uint32_t layer) {
    float scale = 1.0f / (1.0f - p);
    for (int i = 0; i < n; i++) out[i] = dropout_keep(noise, layer, (uint32_t)i, p) ? inp[i] * scale : 0.0f;
}

void sgd_update(float *p, float *v, const float *g, size_t n, float lr, float momentum) {
    if (momentum != 0.0f) {
        for (size_t i = 0; i < n; i++) {
            v[i] = momentum * v[i] + g[i];
            p[i] -= lr * v[i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            p[i] -= lr * g[i];
        }
    }
}

/* ---- the whole model ---- */

void ref_param_sizes(size_t sizes[4], int inputs, int hidden, int classes) {
    sizes[0] = (size_t)hidden * (size_t)inputs;
    sizes[1] = (size_t)hidden;
    sizes[2] = (size_t)classes * (size_t)hidden;
    sizes[3] = (size_t)classes;
}

void ref_mlp_point(ref_mlp *m, float *params, int inputs, int hidden, int classes) {
    size_t sizes[4];
    ref_param_sizes(sizes, inputs, hidden, classes);
    m->inputs = inputs;
    m->hidden = hidden;
    m->classes = classes;
    m->params = params;
    m->w1 = params;
    m->b1 = m->w1 + sizes[0];
    m->w2 = m->b1 + sizes[1];
    m->b2 = m->w2 + sizes[2];
    m->num_params = sizes[0] + sizes[1] + sizes[2] + sizes[3];
}

/* The reference's scratch buffers: calloc that records a failure in *oom instead of ending the
 * process (the engine never aborts: a host may be a browser tab). A function that saw *oom set
 * frees what it got and returns a NaN loss, which every check treats as a failure. */
static void *scratch(bool *oom, size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) *oom = true;
    return p;
}

/* Forward, and when grads != NULL the whole backward, of one batch. Returns the mean loss;
 * *correct_out (when not NULL) gets the argmax == label count. */
static double mlp_forward_backward(const ref_mlp *m, float *grads, uint32_t *correct_out,
                                   const uint8_t *images, const uint8_t *labels,
                                   const uint32_t *order, uint32_t start, int B) {
    const int I = m->inputs, H = m->hidden, C = m->classes;
    const size_t nx = (size_t)B * (size_t)I, nh = (size_t)B * (size_t)H;
    const size_t nl = (size_t)B * (size_t)C;
    bool oom = false;
    float *x = scratch(&oom, nx, sizeof(float));
    float *pre = scratch(&oom, nh, sizeof(float));
    float *h = scratch(&oom, nh, sizeof(float));
    float *logits = scratch(&oom, nl, sizeof(float));
    float *losses = scratch(&oom, (size_t)B, sizeof(float));
    uint32_t *correct = scratch(&oom, (size_t)B, sizeof(uint32_t));
    float *dlogits = grads != NULL ? scratch(&oom, nl, sizeof(float)) : NULL;
    uint8_t *batch_labels = scratch(&oom, (size_t)B, 1);
    float *dh = grads != NULL ? scratch(&oom, nh, sizeof(float)) : NULL;
    float *dpre = grads != NULL ? scratch(&oom, nh, sizeof(float)) : NULL;
    double loss = NAN;
    if (oom) goto done;

    input_gather_forward(x, images, order, start, B, I);
    dense_forward(pre, x, m->w1, m->b1, B, I, H);
    relu_forward(h, pre, (int)nh);
    dense_forward(logits, h, m->w2, m->b2, B, H, C);
    /* labels are the data set's: gather this batch's through the same order as the images */
    for (int b = 0; b < B; b++) batch_labels[b] = labels[order[start + (uint32_t)b]];
    loss = softmax_xent_forward_backward(dlogits, losses, correct, logits, batch_labels, B, C);

    if (grads != NULL) {
        size_t sizes[4];
        ref_param_sizes(sizes, I, H, C);
        float *dw1 = grads;
        float *db1 = dw1 + sizes[0];
        float *dw2 = db1 + sizes[1];
        float *db2 = dw2 + sizes[2];
        dense_backward(dh, dw2, db2, dlogits, h, m->w2, B, H, C);
        relu_backward(dpre, h, dh, (int)nh);
        dense_backward(NULL, dw1, db1, dpre, x, m->w1, B, I, H);
    }

    if (correct_out != NULL) {
        uint32_t n = 0;
        for (int b = 0; b < B; b++) {
            n += correct[b];
        }
        *correct_out = n;
    }
done:
    free(dpre);
    free(dh);
    free(batch_labels);
    free(dlogits);
    free(correct);
    free(losses);
    free(logits);
    free(h);
    free(pre);
    free(x);
    return loss;
}

ref_step_result ref_mlp_step(ref_mlp *m, float *grads, float *velocity, const uint8_t *images,
                             const uint8_t *labels, const uint32_t *order, uint32_t start,
                             int batch, float lr, float momentum) {
    ref_step_result r;
    r.correct = 0;
    r.loss = mlp_forward_backward(m, grads, &r.correct, images, labels, order, start, batch);
    if (!isnan(r.loss)) sgd_update(m->params, velocity, grads, m->num_params, lr, momentum);
    return r;
}

double ref_mlp_loss(const ref_mlp *m, float *grads, const uint8_t *images, const uint8_t *labels,
                    const uint32_t *order, uint32_t start, int batch) {
    return mlp_forward_backward(m, grads, NULL, images, labels, order, start, batch);
}

/* ---- activations ---- */

static double act_value(double x, model_activation act) {
    switch (act) {
    case MODEL_ACT_RELU: return x > 0 ? x : 0;
    case MODEL_ACT_GELU: return 0.5 * x * (1.0 + erf(x * M_SQRT1_2));
    case MODEL_ACT_TANH: return tanh(x);
    case MODEL_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case MODEL_ACT_LEAKY_RELU: return x > 0 ? x : 0.01 * x;
    default: return x;
    }
}

static double act_derivative(double x, model_activation act) {
    switch (act) {
    case MODEL_ACT_RELU: return x > 0 ? 1 : 0;
    case MODEL_ACT_GELU: return 0.5 * (1.0 + erf(x * M_SQRT1_2)) + x * exp(-0.5 * x * x) * 0.3989422804014327;
    case MODEL_ACT_TANH: {
        double t = tanh(x);
        return 1 - t * t;
    }
    case MODEL_ACT_SIGMOID: {
        double s = 1.0 / (1.0 + exp(-x));
        return s * (1 - s);
    }
    case MODEL_ACT_LEAKY_RELU: return x > 0 ? 1 : 0.01;
    default: return 1;
    }
}

void activation_forward(float *out, const float *pre, int n, model_activation act) {
    for (int i = 0; i < n; i++) out[i] = (float)act_value((double)pre[i], act);
}

void activation_backward(float *dpre, const float *pre, const float *dout, int n, model_activation act) {
    for (int i = 0; i < n; i++) dpre[i] = (float)((double)dout[i] * act_derivative((double)pre[i], act));
}

/* ---- any model ---- */

void ref_model_point(ref_model *m, const model_arch *arch, float *params) {
    m->label_smoothing = m->dropout = 0.0f;
    m->noise = 0;
    m->arch = *arch;
    model_layout_make(arch, 1, &m->layout);
    m->params = params;
}

double ref_model_loss(const ref_model *m, float *grads, uint32_t *correct_out, const uint8_t *images,
                      const uint8_t *labels, const uint32_t *order, uint32_t start, int B) {
    const model_layout *L = &m->layout;
    const int layers = (int)L->layers, C = (int)m->arch.classes;
    /* acts[0] = x; for hidden layer l: pre[l] (before the activation), acts[l + 1] (after);
     * the last dense layer's output is the logits */
    float *acts[MODEL_MAX_LAYERS + 1] = {0}, *pre[MODEL_MAX_LAYERS] = {0};
    bool oom = false;
    acts[0] = scratch(&oom, (size_t)B * L->fan_in[0], sizeof(float));
    for (int l = 0; l < layers; l++) {
        pre[l] = scratch(&oom, (size_t)B * L->fan_out[l], sizeof(float));
        acts[l + 1] = scratch(&oom, (size_t)B * L->fan_out[l], sizeof(float));
    }
    uint8_t *batch_labels = scratch(&oom, (size_t)B, 1);
    uint32_t *correct = scratch(&oom, (size_t)B, sizeof(uint32_t));
    float *dz = grads ? scratch(&oom, (size_t)B * (size_t)C, sizeof(float)) : NULL, *dinp = NULL;
    double loss = NAN;
    if (oom) goto done;
    input_gather_forward(acts[0], images, order, start, B, (int)L->fan_in[0]);
    for (int l = 0; l < layers; l++) {
        size_t n = (size_t)B * L->fan_out[l];
        dense_forward(pre[l], acts[l], m->params + L->offsets[2 * l], m->params + L->offsets[2 * l + 1], B,
                      (int)L->fan_in[l], (int)L->fan_out[l]);
        activation_forward(acts[l + 1], pre[l], (int)n, l < layers - 1 ? m->arch.activation : MODEL_ACT_NONE);
        if (m->dropout > 0 && l < layers - 1) dropout_forward(acts[l + 1], acts[l + 1], (int)n, m->dropout, m->noise, (uint32_t)l);
    }
    for (int b = 0; b < B; b++) batch_labels[b] = labels[order[start + (uint32_t)b]];
    loss = softmax_xent_smoothed(dz, NULL, correct, acts[layers], batch_labels, B, C, m->label_smoothing);
    if (grads) {
        /* dz: the gradient at layer l's pre-activation, walking back */
        for (int l = layers - 1; l >= 0; l--) {
            size_t nin = (size_t)B * L->fan_in[l];
            dinp = l > 0 ? scratch(&oom, nin, sizeof(float)) : NULL;
            if (oom) {
                loss = NAN;
                goto done;
            }
            dense_backward(dinp, grads + L->offsets[2 * l], grads + L->offsets[2 * l + 1], dz, acts[l],
                           m->params + L->offsets[2 * l], B, (int)L->fan_in[l], (int)L->fan_out[l]);
            free(dz);
            dz = NULL;
            if (l > 0) {
                dz = scratch(&oom, nin, sizeof(float));
                if (oom) {
                    loss = NAN;
                    goto done;
                }
                activation_backward(dz, pre[l - 1], dinp, (int)nin, m->arch.activation);
                if (m->dropout > 0) dropout_forward(dz, dz, (int)nin, m->dropout, m->noise, (uint32_t)(l - 1));
                free(dinp);
                dinp = NULL;
            }
        }
    }
    if (correct_out) {
        uint32_t n = 0;
        for (int b = 0; b < B; b++) n += correct[b];
        *correct_out = n;
    }
done:
    free(dinp);
    free(dz);
    free(correct);
    free(batch_labels);
    for (int l = 0; l < layers; l++) free(pre[l]), free(acts[l + 1]);
    free(acts[0]);
    return loss;
}

ref_step_result ref_model_step(ref_model *m, float *grads, float *velocity, const uint8_t *images,
                               const uint8_t *labels, const uint32_t *order, uint32_t start, int batch,
                               float lr, float momentum) {
    ref_step_result r = {0, 0};
    r.loss = ref_model_loss(m, grads, &r.correct, images, labels, order, start, batch);
    if (!isnan(r.loss)) sgd_update(m->params, velocity, grads, m->layout.count, lr, momentum);
    return r;
}

/* ---- optimizers ---- */

void optimizer_update(float *p, float *state, size_t stride, const float *g, size_t n, const optim_config *o,
                      float lr, float bc1, float bc2, float clip) {
    const float wd = o->weight_decay, mom = o->momentum, b1 = o->beta1, b2 = o->beta2;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * clip;
        if (o->kind <= OPTIM_NESTEROV) {
            if (wd != 0.0f) gi += wd * p[i];
            if (mom != 0.0f) {
                float v = mom * state[i] + gi;
                state[i] = v;
                gi = o->kind == OPTIM_NESTEROV ? gi + mom * v : v;
            }
            p[i] -= lr * gi;
            continue;
        }
        float pi = p[i];
        if (o->kind == OPTIM_ADAMW) pi *= 1.0f - lr * wd;
        else if (wd != 0.0f) gi += wd * pi;
        float m = b1 * state[i] + (1.0f - b1) * gi;
        float v = b2 * state[stride + i] + (1.0f - b2) * gi * gi;
        state[i] = m;
        state[stride + i] = v;
        float denom = sqrtf(v) / sqrtf(bc2) + o->eps;
        p[i] = pi - (lr / bc1) * (m / denom);
    }
}

float clip_factor(const float *g, size_t n, float max_norm) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)g[i] * (double)g[i];
    double f = (double)max_norm / (sqrt(sum) + 1e-6);
    return (float)(f < 1.0 ? f : 1.0);
}
