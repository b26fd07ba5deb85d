/* The layer table and what is derived from it; see model.h. */
#include "core/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


model_arch model_arch_default(void) {
    model_arch a;
    memset(&a, 0, sizeof a);
    a.inputs = 784;
    a.classes = 10;
    a.hidden_layers = 1;
    a.hidden[0] = 128;
    a.activation = MODEL_ACT_RELU;
    return a;
}

static uint32_t width(const model_arch *a, uint32_t i) {
    return i == 0 ? a->inputs : i <= a->hidden_layers ? a->hidden[i - 1] : a->classes;
}

void model_layout_make(const model_arch *a, size_t align, model_layout *out) {
    memset(out, 0, sizeof *out);
    out->layers = a->hidden_layers + 1;
    out->tensors = 2 * out->layers;
    size_t off = 0;
    for (uint32_t l = 0; l < out->layers; l++) {
        out->fan_in[l] = width(a, l);
        out->fan_out[l] = width(a, l + 1);
        out->sizes[2 * l] = (size_t)out->fan_out[l] * out->fan_in[l];
        out->sizes[2 * l + 1] = out->fan_out[l];
    }
    for (uint32_t t = 0; t < out->tensors; t++) {
        out->offsets[t] = off;
        off += (out->sizes[t] + align - 1) / align * align;
        out->count += out->sizes[t];
    }
    out->carved = off;
}

size_t model_param_count(const model_arch *a) {
    model_layout l;
    model_layout_make(a, 1, &l);
    return l.count;
}

bool model_arch_check(const model_arch *a, char *err, size_t errlen) {
    if (a->inputs < 1 || a->inputs > 65536) {
        snprintf(err, errlen, "the model's inputs must be 1..65536 (got %u)", a->inputs);
        return false;
    }
    if (a->classes < 2 || a->classes > 256) {
        snprintf(err, errlen, "the model's classes must be 2..256 (got %u)", a->classes);
        return false;
    }
    if (a->hidden_layers < 1 || a->hidden_layers > MODEL_MAX_HIDDEN_LAYERS) {
        snprintf(err, errlen, "hidden must list 1 to %d layer widths (got %u)", MODEL_MAX_HIDDEN_LAYERS, a->hidden_layers);
        return false;
    }
    for (uint32_t i = 0; i < a->hidden_layers; i++)
        if (a->hidden[i] < 1 || a->hidden[i] > MODEL_MAX_WIDTH) {
            snprintf(err, errlen, "hidden must be between 1 and %d (got %u)", MODEL_MAX_WIDTH, a->hidden[i]);
            return false;
        }
    if (model_param_count(a) > MODEL_MAX_PARAMS) {
        snprintf(err, errlen, "the model has %zu parameters, more than the %zu allowed", model_param_count(a),
                 (size_t)MODEL_MAX_PARAMS);
        return false;
    }
    if (a->activation < MODEL_ACT_RELU || a->activation > MODEL_ACT_LEAKY_RELU) {
        snprintf(err, errlen, "unknown activation %d", (int)a->activation);
        return false;
    }
    return true;
}

bool model_arch_equal(const model_arch *a, const model_arch *b) {
    if (a->inputs != b->inputs || a->classes != b->classes || a->hidden_layers != b->hidden_layers ||
        a->activation != b->activation)
        return false;
    for (uint32_t i = 0; i < a->hidden_layers; i++)
        if (a->hidden[i] != b->hidden[i]) return false;
    return true;
}

static const char *const act_names[] = {"none", "relu", "gelu", "tanh", "sigmoid", "leaky_relu"};
static const char *const act_modules[] = {"Identity()", "ReLU()", "GELU()", "Tanh()", "Sigmoid()", "LeakyReLU()"};

const char *model_activation_name(model_activation a) {
    return (unsigned)a < sizeof act_names / sizeof *act_names ? act_names[a] : "?";
}

const char *model_activation_module(model_activation a) {
    return (unsigned)a < sizeof act_modules / sizeof *act_modules ? act_modules[a] : "?";
}

bool model_activation_parse(const char *s, model_activation *out) {
    for (int i = MODEL_ACT_RELU; i <= MODEL_ACT_LEAKY_RELU; i++)
        if (!strcmp(s, act_names[i])) {
            *out = (model_activation)i;
            return true;
        }
    return false;
}

static const char *const init_names[] = {"torch", "kaiming", "xavier"};

const char *model_init_name(model_init i) { return (unsigned)i < 3 ? init_names[i] : "?"; }

bool model_init_parse(const char *s, model_init *out) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, init_names[i])) {
            *out = (model_init)i;
            return true;
        }
    return false;
}

bool model_hidden_parse(const char *s, model_arch *a, char *err, size_t errlen) {
    uint32_t n = 0, w[MODEL_MAX_HIDDEN_LAYERS];
    const char *p = s;
    for (;;) {
        if (*p < '0' || *p > '9') {
            snprintf(err, errlen, "hidden must be a width or a comma-separated list of widths, like 256,128 (got '%s')", s);
            return false;
        }
        uint64_t v = 0;
        while (*p >= '0' && *p <= '9' && v <= MODEL_MAX_WIDTH) v = v * 10 + (uint64_t)(*p++ - '0');
        if (*p >= '0' && *p <= '9') v = MODEL_MAX_WIDTH + 1;
        if (v < 1 || v > MODEL_MAX_WIDTH) {
            snprintf(err, errlen, "hidden must be between 1 and %d for every layer (got '%s')", MODEL_MAX_WIDTH, s);
            return false;
        }
        if (n == MODEL_MAX_HIDDEN_LAYERS) {
            snprintf(err, errlen, "hidden lists at most %d layers (got '%s')", MODEL_MAX_HIDDEN_LAYERS, s);
            return false;
        }
        w[n++] = (uint32_t)v;
        if (*p == 0) break;
        if (*p != ',') {
            snprintf(err, errlen, "hidden must be a width or a comma-separated list of widths, like 256,128 (got '%s')", s);
            return false;
        }
        p++;
    }
    a->hidden_layers = n;
    memset(a->hidden, 0, sizeof a->hidden);
    memcpy(a->hidden, w, n * sizeof *w);
    return true;
}

void model_hidden_format(const model_arch *a, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < a->hidden_layers && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%u" : "%u", a->hidden[i]);
}

void model_describe(const model_arch *a, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "torch.nn.Sequential(");
    for (uint32_t l = 0; l <= a->hidden_layers && n < cap; l++) {
        n += (size_t)snprintf(buf + n, cap - n, "Linear(%u, %u)", width(a, l), width(a, l + 1));
        if (l < a->hidden_layers && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, ", %s, ", model_activation_module(a->activation));
    }
    if (n < cap) snprintf(buf + n, cap - n, ")");
}

uint64_t model_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uniform_pm(uint64_t *state, double bound) {
    double u = (double)(model_splitmix64(state) >> 11) * (1.0 / 9007199254740992.0); /* [0,1) */
    return (float)((2.0 * u - 1.0) * bound);
}

void model_init_params(const model_arch *a, model_init init, uint64_t seed, float *dst) {
    model_layout lay;
    model_layout_make(a, 1, &lay);
    uint64_t state = seed ^ 0x5DEECE66Dull;
    for (uint32_t l = 0; l < lay.layers; l++) {
        double fi = lay.fan_in[l], fo = lay.fan_out[l];
        /* torch's bound is computed in float, as the seed's init did */
        double wb = init == MODEL_INIT_KAIMING ? sqrt(6.0 / fi)
                    : init == MODEL_INIT_XAVIER ? sqrt(6.0 / (fi + fo))
                                                : (double)(1.0f / sqrtf((float)fi));
        float *w = dst + lay.offsets[2 * l], *b = dst + lay.offsets[2 * l + 1];
        for (size_t i = 0; i < lay.sizes[2 * l]; i++) w[i] = uniform_pm(&state, wb);
        for (size_t i = 0; i < lay.sizes[2 * l + 1]; i++)
            b[i] = init == MODEL_INIT_TORCH ? uniform_pm(&state, wb) : 0.0f;
    }
}
