/* Live edits of the learning rate and the momentum; see live.h. */
#include "core/live.h"

#include <math.h>
#include <stdio.h>

#include "core/mlp.h"

static bool adam_family(const mlp_config *c) { return c->optimizer == OPTIM_ADAM || c->optimizer == OPTIM_ADAMW; }

mlp_live mlp_live_initial(const mlp_config *c) {
    mlp_live l = {1.0, adam_family(c) ? c->beta1 : c->momentum};
    return l;
}

float mlp_live_step_lr(const mlp_config *c, const mlp_live *l, uint64_t step, uint64_t total_steps) {
    float lr = mlp_step_lr(c, step, total_steps);
    /* at scale 1 the very same bits as a run that was never edited */
    return l->lr_scale == 1.0 ? lr : (float)((double)lr * l->lr_scale);
}

optim_config mlp_live_optim(const mlp_config *c, const mlp_live *l) {
    optim_config o = mlp_optim(c);
    if (adam_family(c)) o.beta1 = l->momentum;
    else o.momentum = l->momentum;
    return o;
}

/* The momentum of an edit or a live state, checked as the config's is. */
static bool check_momentum(const mlp_config *c, float m, char *err, size_t errlen) {
    if (!isfinite(m) || m < 0.0f || m >= 1.0f) {
        snprintf(err, errlen, "momentum must be in [0, 1) (got %g)", (double)m);
        return false;
    }
    if (c->optimizer == OPTIM_SGD && m != 0.0f) {
        snprintf(err, errlen, "momentum: optimizer sgd has no momentum to edit (train with optimizer momentum or nesterov)");
        return false;
    }
    if (c->optimizer == OPTIM_NESTEROV && m == 0.0f) {
        snprintf(err, errlen, "momentum must be > 0 for optimizer nesterov (got 0)");
        return false;
    }
    return true;
}

bool mlp_live_check(const mlp_config *c, const mlp_live *l, char *err, size_t errlen) {
    if (!isfinite(l->lr_scale) || !(l->lr_scale > 0)) {
        snprintf(err, errlen, "lr_scale must be a finite number > 0 (got %g)", l->lr_scale);
        return false;
    }
    return check_momentum(c, l->momentum, err, errlen);
}

bool mlp_live_apply(const mlp_config *c, mlp_live *l, const mlp_edit *e, uint64_t step, uint64_t total_steps,
                    mlp_edit_result *out, char *err, size_t errlen) {
    if (!e->set_lr && !e->set_momentum) {
        snprintf(err, errlen, "an edit needs lr or momentum");
        return false;
    }
    mlp_live next = *l;
    if (e->set_lr) {
        if (!isfinite(e->lr) || !(e->lr > 0.0f) || e->lr > 1000.0f) {
            snprintf(err, errlen, "lr must be a finite number > 0 and <= 1000 (got %g)", (double)e->lr);
            return false;
        }
        float scheduled = mlp_step_lr(c, step, total_steps);
        double scale = (double)e->lr / (double)scheduled;
        if (!(scheduled > 0.0f) || !isfinite(scale)) {
            snprintf(err, errlen, "lr: the schedule's learning rate at step %llu is %g, which no scale turns into %g",
                     (unsigned long long)step + 1, (double)scheduled, (double)e->lr);
            return false;
        }
        next.lr_scale = scale;
    }
    if (e->set_momentum) {
        if (!check_momentum(c, e->momentum, err, errlen)) return false;
        next.momentum = e->momentum;
    }
    *l = next;
    out->step = step;
    out->lr = mlp_live_step_lr(c, l, step, total_steps);
    out->lr_scale = l->lr_scale;
    out->momentum = l->momentum;
    return true;
}
