/* The optimizers as data; see optim.h. */
#include "core/optim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const names[] = {"sgd", "momentum", "nesterov", "adam", "adamw"};

uint32_t optim_slots(optim_kind k) { return k >= OPTIM_ADAM ? 2 : 1; }

const char *optim_slot_name(optim_kind k, uint32_t s) {
    if (k >= OPTIM_ADAM) return s == 0 ? "exp_avg" : "exp_avg_sq";
    return "velocity";
}

uint32_t optim_kernel_op(optim_kind k) { return k <= OPTIM_MOMENTUM ? 0u : (uint32_t)k - 1u; }

void optim_bias_corrections(const optim_config *o, uint64_t t, float *bc1, float *bc2) {
    *bc1 = (float)(1.0 - pow((double)o->beta1, (double)t));
    *bc2 = (float)(1.0 - pow((double)o->beta2, (double)t));
}

const char *optim_name(optim_kind k) { return (unsigned)k < 5 ? names[k] : "?"; }

bool optim_parse(const char *s, optim_kind *out) {
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) {
            *out = (optim_kind)i;
            return true;
        }
    return false;
}

bool optim_check(const optim_config *o, char *err, size_t errlen) {
    if ((unsigned)o->kind > OPTIM_ADAMW) {
        snprintf(err, errlen, "unknown optimizer %d", (int)o->kind);
        return false;
    }
    if (!isfinite(o->momentum) || o->momentum < 0.0f || o->momentum >= 1.0f) {
        snprintf(err, errlen, "momentum must be in [0, 1) (got %g)", (double)o->momentum);
        return false;
    }
    if (o->kind == OPTIM_SGD && o->momentum != 0.0f) {
        snprintf(err, errlen, "optimizer sgd has no momentum (got momentum %g): use optimizer momentum or nesterov",
                 (double)o->momentum);
        return false;
    }
    if (o->kind == OPTIM_NESTEROV && o->momentum == 0.0f) {
        snprintf(err, errlen, "optimizer nesterov needs momentum > 0");
        return false;
    }
    if (!isfinite(o->weight_decay) || o->weight_decay < 0.0f || o->weight_decay > 1.0f) {
        snprintf(err, errlen, "weight_decay must be in [0, 1] (got %g)", (double)o->weight_decay);
        return false;
    }
    if (!isfinite(o->beta1) || o->beta1 < 0.0f || o->beta1 >= 1.0f) {
        snprintf(err, errlen, "beta1 must be in [0, 1) (got %g)", (double)o->beta1);
        return false;
    }
    if (!isfinite(o->beta2) || o->beta2 < 0.0f || o->beta2 >= 1.0f) {
        snprintf(err, errlen, "beta2 must be in [0, 1) (got %g)", (double)o->beta2);
        return false;
    }
    if (!isfinite(o->eps) || o->eps <= 0.0f || o->eps > 1.0f) {
        snprintf(err, errlen, "eps must be in (0, 1] (got %g)", (double)o->eps);
        return false;
    }
    if (!isfinite(o->clip_grad_norm) || o->clip_grad_norm < 0.0f) {
        snprintf(err, errlen, "clip_grad_norm must be a finite number >= 0 (0: off) (got %g)", (double)o->clip_grad_norm);
        return false;
    }
    return true;
}
