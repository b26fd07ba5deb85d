/* The health panel's reference computation; see health.h. */
#include "core/health.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

uint32_t health_bin(float v, float lo, float hi) {
    /* the kernel's arithmetic, operation for operation (health_stats.wgsl, bin_of) */
    float scale = hi > lo ? (float)HEALTH_BINS / (hi - lo) : 0.0f;
    float f = floorf((v - lo) * scale);
    if (!(f > 0.0f)) return 0;
    return f >= (float)(HEALTH_BINS - 1) ? HEALTH_BINS - 1 : (uint32_t)f;
}

typedef struct tensor_sums {
    double sq, sq_prev, sq_diff;
    uint32_t nonfinite;
    float lo, hi;
    bool any;
} tensor_sums;

static tensor_sums sums_of(const float *v, const float *prev, size_t n) {
    tensor_sums s = {0, 0, 0, 0, 0.0f, 0.0f, false};
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        if (!isfinite(x)) {
            s.nonfinite++;
        } else {
            s.sq += (double)x * x;
            if (!s.any || x < s.lo) s.lo = x;
            if (!s.any || x > s.hi) s.hi = x;
            s.any = true;
        }
        if (prev && isfinite(prev[i])) {
            s.sq_prev += (double)prev[i] * prev[i];
            if (isfinite(x)) s.sq_diff += ((double)x - prev[i]) * ((double)x - prev[i]);
        }
    }
    return s;
}

static void histogram(const float *v, size_t n, float lo, float hi, health_hist *h) {
    memset(h, 0, sizeof *h);
    h->lo = lo, h->hi = hi;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) h->counts[health_bin(v[i], lo, hi)]++;
}

void health_compute(const health_inputs *in, mlp_health *out) {
    const model_layout *lay = in->lay;
    memset(out, 0, sizeof *out);
    out->layers = lay->layers;
    out->samples = in->samples;
    for (uint32_t l = 0; l < lay->layers; l++) {
        health_layer *h = &out->layer[l];
        size_t ow = lay->offsets[2 * l], ob = lay->offsets[2 * l + 1], nw = lay->sizes[2 * l], nb = lay->sizes[2 * l + 1];
        h->fan_in = lay->fan_in[l], h->fan_out = lay->fan_out[l];
        tensor_sums w = sums_of(in->params + ow, in->prev ? in->prev + ow : NULL, nw);
        tensor_sums b = sums_of(in->params + ob, in->prev ? in->prev + ob : NULL, nb);
        tensor_sums gw = sums_of(in->grads + ow, NULL, nw);
        tensor_sums gb = sums_of(in->grads + ob, NULL, nb);
        h->sizes[HEALTH_WEIGHT] = h->sizes[HEALTH_GRAD_WEIGHT] = nw;
        h->sizes[HEALTH_BIAS] = h->sizes[HEALTH_GRAD_BIAS] = nb;
        h->nonfinite[HEALTH_WEIGHT] = w.nonfinite;
        h->nonfinite[HEALTH_BIAS] = b.nonfinite;
        h->nonfinite[HEALTH_GRAD_WEIGHT] = gw.nonfinite;
        h->nonfinite[HEALTH_GRAD_BIAS] = gb.nonfinite;
        h->grad_weight_norm = sqrt(gw.sq), h->grad_bias_norm = sqrt(gb.sq);
        if (in->prev) {
            h->weight_norm = sqrt(w.sq_prev), h->bias_norm = sqrt(b.sq_prev);
            h->update_weight_norm = sqrt(w.sq_diff), h->update_bias_norm = sqrt(b.sq_diff);
            h->update_ratio = h->weight_norm > 0 ? h->update_weight_norm / h->weight_norm : 0.0;
        } else {
            h->weight_norm = sqrt(w.sq), h->bias_norm = sqrt(b.sq);
            h->update_weight_norm = h->update_bias_norm = h->update_ratio = -1.0;
        }
        histogram(in->params + ow, nw, w.lo, w.hi, &h->weights);
        h->dead_fraction = -1.0;
        if (l + 1 < lay->layers && in->out[l]) {
            size_t n = (size_t)in->samples * h->fan_out;
            tensor_sums a = sums_of(in->out[l], NULL, n);
            h->has_output = true;
            h->sizes[HEALTH_OUTPUT] = n;
            h->nonfinite[HEALTH_OUTPUT] = a.nonfinite;
            histogram(in->out[l], n, a.lo, a.hi, &h->output);
            if (in->activation == MODEL_ACT_RELU && in->pre[l] && in->samples > 0) {
                uint32_t dead = 0;
                for (uint32_t j = 0; j < h->fan_out; j++) {
                    bool alive = false;
                    for (uint32_t i = 0; i < in->samples && !alive; i++) alive = in->pre[l][(size_t)i * h->fan_out + j] > 0.0f;
                    dead += !alive;
                }
                h->dead_fraction = (double)dead / h->fan_out;
            }
        }
    }
}

void health_tensor_name(uint32_t l, health_tensor k, char *buf, size_t cap) {
    static const char *const suffix[] = {"weight", "bias", "weight.grad", "bias.grad"};
    if (k == HEALTH_OUTPUT)
        snprintf(buf, cap, "%u.output", 2 * l + 1);
    else
        snprintf(buf, cap, "%u.%s", 2 * l, suffix[k]);
}

void health_where(const mlp_health *h, char *buf, size_t cap) {
    if (!health_nonfinite(h, buf, cap))
        snprintf(buf, cap, "every weight, gradient and hidden output was finite (the logits overflowed)");
}

bool health_nonfinite(const mlp_health *h, char *buf, size_t cap) {
    uint32_t found = 0;
    for (uint32_t l = 0; l < h->layers; l++)
        for (int k = 0; k < HEALTH_TENSORS; k++) {
            if (!h->layer[l].nonfinite[k]) continue;
            if (!found++) {
                char name[32];
                health_tensor_name(l, (health_tensor)k, name, sizeof name);
                snprintf(buf, cap, "layer %u, tensor %s (%u of %zu values non-finite)", l + 1, name,
                         h->layer[l].nonfinite[k], h->layer[l].sizes[k]);
            }
        }
    if (found > 1) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap > n ? cap - n : 0, ", and %u more non-finite tensor%s", found - 1, found > 2 ? "s" : "");
    }
    return found > 0;
}
