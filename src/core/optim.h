/* The optimizers, as data: which update and its hyperparameters. The update itself runs as its
 * own pass over the flat parameter allocation (src/kernels/optimizer.wgsl), with the state
 * slots it needs carved like the parameters; the CPU reference (optimizer_update in
 * reference.c) computes the same thing. Semantics are PyTorch's. */
#ifndef WGTRAIN_OPTIM_H
#define WGTRAIN_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The values are the OPT override constant of optimizer.wgsl, except SGD and MOMENTUM, which
 * are both torch.optim.SGD (OPT 0): SGD is momentum 0. */
typedef enum optim_kind {
    OPTIM_SGD = 0,      /* torch.optim.SGD(momentum=0) */
    OPTIM_MOMENTUM = 1, /* torch.optim.SGD(momentum=m), heavy ball, dampening 0 */
    OPTIM_NESTEROV = 2, /* torch.optim.SGD(momentum=m, nesterov=True) */
    OPTIM_ADAM = 3,     /* torch.optim.Adam (weight decay added to the gradient) */
    OPTIM_ADAMW = 4,    /* torch.optim.AdamW (decoupled weight decay) */
} optim_kind;

#define OPTIM_MAX_SLOTS 2

typedef struct optim_config {
    optim_kind kind;
    float momentum;     /* SGD family; 0 for OPTIM_SGD */
    float weight_decay; /* >= 0 */
    float beta1, beta2, eps; /* Adam family */
    float clip_grad_norm;    /* > 0: clip_grad_norm_(max_norm) before every step; 0: off */
} optim_config;

/* State slots the optimizer keeps per parameter: velocity (1) for the SGD family, exp_avg and
 * exp_avg_sq (2) for Adam and AdamW. The SGD family always has its slot (zeros at momentum 0),
 * so a checkpoint has one layout per optimizer. */
uint32_t optim_slots(optim_kind k);
/* The torch name of slot s, for checkpoints: "velocity", "exp_avg", "exp_avg_sq". */
const char *optim_slot_name(optim_kind k, uint32_t s);
/* The kernel's OPT value. */
uint32_t optim_kernel_op(optim_kind k);
/* Adam's bias corrections 1 - beta^t of the 1-based step t. */
void optim_bias_corrections(const optim_config *o, uint64_t t, float *bc1, float *bc2);

const char *optim_name(optim_kind k); /* "sgd", "momentum", "nesterov", "adam", "adamw" */
bool optim_parse(const char *s, optim_kind *out);
/* True, or a one-line message that starts with the field at fault (mlp_config.h naming). */
bool optim_check(const optim_config *o, char *err, size_t errlen);

#endif
