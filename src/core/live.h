/* Live edits: the learning rate and the momentum changed while a run trains, as a researcher
 * does with torch's param_group['lr'] and param_group['momentum'] between steps.
 *
 * The rule, the same on both engines and in every host:
 *   - An edit takes effect at the engine's next step not yet handed to the device (the GPU
 *     engine encodes a report interval of steps ahead; the CPU engine runs one at a time), and
 *     the engine reports that step (0-based over the whole run).
 *   - lr X: from that step on, every step's learning rate is the schedule's (mlp_step_lr,
 *     warmup included) times lr_scale = X / (the schedule's lr at that step). So the next step
 *     runs at exactly X and the schedule's shape (cosine's fall, step's drops, onecycle's
 *     phases) continues from there, scaled. A later lr edit replaces the scale; it does not
 *     compound. An edit to the lr the step would have had anyway is lr_scale 1: nothing changes.
 *   - momentum M: the SGD family's momentum (torch.optim.SGD's param_group['momentum']) from
 *     that step on; the momentum buffer is kept. Adam and AdamW have no momentum of that name:
 *     torch's counterpart is betas[0], so M sets beta1 (bias correction 1 - beta1^t then uses
 *     the new beta1, as torch computes it each step from the group's current betas).
 *   - Values are checked as the flags are: lr a finite number in (0, 1000], momentum in [0, 1);
 *     plain sgd has no momentum to edit and nesterov needs momentum > 0 (as mlp_config_check).
 *
 * What the edits have changed (mlp_live) is part of the training state: a checkpoint records it
 * and a resumed run restores it, so resuming an edited run gives the same bits as the edited
 * run that never stopped. Pure functions: no I/O. */
#ifndef WGTRAIN_LIVE_H
#define WGTRAIN_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/optim.h"

struct mlp_config;

/* The edits in effect. */
typedef struct mlp_live {
    double lr_scale; /* every step's lr is the schedule's times this (1: no lr edit) */
    float momentum;  /* the SGD family's momentum, or Adam's beta1, in effect */
} mlp_live;

/* One edit: either field or both. */
typedef struct mlp_edit {
    bool set_lr, set_momentum;
    float lr, momentum;
} mlp_edit;

/* Where an edit took effect and what is in effect from there. */
typedef struct mlp_edit_result {
    uint64_t step;   /* the first step (0-based, global) that runs with it */
    float lr;        /* that step's learning rate */
    double lr_scale;
    float momentum;  /* momentum (SGD family) or beta1 (Adam family) from that step on */
} mlp_edit_result;

/* No edits: lr_scale 1 and the config's momentum (beta1 for the Adam family). */
mlp_live mlp_live_initial(const struct mlp_config *c);
/* The learning rate of a step with the edits in effect: mlp_step_lr itself at lr_scale 1,
 * else (float)(mlp_step_lr * lr_scale), the product taken in double. */
float mlp_live_step_lr(const struct mlp_config *c, const mlp_live *l, uint64_t step, uint64_t total_steps);
/* The optimizer of a step with the edits in effect (mlp_optim with momentum or beta1 replaced). */
optim_config mlp_live_optim(const struct mlp_config *c, const mlp_live *l);
/* Whether a live state fits the config (a checkpoint's): lr_scale finite and > 0, the
 * momentum as an edit must be. One-line message naming the field, as mlp_config_check. */
bool mlp_live_check(const struct mlp_config *c, const mlp_live *l, char *err, size_t errlen);
/* Applies an edit at `step` (0-based, global) of a run of total_steps: checks its values, sets
 * *l and fills *out. On a bad value *l is unchanged and err names the field ("lr must be ...",
 * "momentum must be ..."). */
bool mlp_live_apply(const struct mlp_config *c, mlp_live *l, const mlp_edit *e, uint64_t step, uint64_t total_steps,
                    mlp_edit_result *out, char *err, size_t errlen);
#endif
