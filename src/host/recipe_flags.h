/* The training recipe's flags (model, optimizer, schedule), parsed one way for every command
 * that trains: `wgtrain train` and `wgtrain bench --time-to-accuracy`. */
#ifndef WGTRAIN_RECIPE_FLAGS_H
#define WGTRAIN_RECIPE_FLAGS_H
#include <stdbool.h>

#include "core/mlp.h"

/* which recipe flags the command line gave (a resumed run takes the others from its checkpoint;
 * some defaults depend on the optimizer) */
#define HOST_RECIPE_GIVEN_FIELDS                                                                   \
    bool batch, hidden, activation, init, lr, momentum, schedule, optimizer, weight_decay, beta1, \
        beta2, eps, clip_grad_norm, warmup, label_smoothing, dropout;
typedef struct host_recipe_given {
    HOST_RECIPE_GIVEN_FIELDS
} host_recipe_given;

/* Parses argv[*i] when it is a recipe flag (--batch, --hidden, --activation, --init, --lr,
 * --momentum, --schedule, --optimizer, --weight-decay, --beta1, --beta2, --eps,
 * --clip-grad-norm, --label-smoothing, --dropout, --warmup) into c, marking it in given.
 * Returns 1 when it took the flag (advancing *i past its value), 0 when argv[*i] is not one,
 * -1 after a usage error. */
int host_recipe_flag(int argc, char **argv, int *i, mlp_config *c, host_recipe_given *given);

/* The defaults that follow from the optimizer (sgd is momentum 0; adam and adamw take betas, not
 * --momentum; adamw's weight decay is torch's 0.01). False after a usage error. */
bool host_recipe_finish(mlp_config *c, const host_recipe_given *given);
#endif
