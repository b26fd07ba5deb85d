/* The training recipe's flags: see recipe_flags.h. */
#include "host/recipe_flags.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/args.h"

/* usage_error, returning -1 (this parser's error) */
__attribute__((format(printf, 1, 2))) static int usage_error_neg(const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    usage_error("%s", msg);
    return -1;
}

int host_recipe_flag(int argc, char **argv, int *i, mlp_config *c, host_recipe_given *given) {
    const char *a = argv[*i], *v;
    if (flag_is(a, "--batch")) {
        if (!(v = flag_value(argc, argv, i, "--batch")) || !parse_u32("--batch", v, 1, MLP_MAX_BATCH, &c->batch)) return -1;
        given->batch = true;
    } else if (flag_is(a, "--hidden")) {
        if (!(v = flag_value(argc, argv, i, "--hidden"))) return -1;
        char why[256];
        if (!model_hidden_parse(v, &c->arch, why, sizeof why)) return config_usage_error(why), -1;
        given->hidden = true;
    } else if (flag_is(a, "--activation")) {
        if (!(v = flag_value(argc, argv, i, "--activation"))) return -1;
        if (!model_activation_parse(v, &c->arch.activation))
            return usage_error_neg("--activation must be relu, gelu, tanh, sigmoid or leaky_relu (got '%s')", v);
        given->activation = true;
    } else if (flag_is(a, "--init")) {
        if (!(v = flag_value(argc, argv, i, "--init"))) return -1;
        if (!model_init_parse(v, &c->init)) return usage_error_neg("--init must be torch, kaiming or xavier (got '%s')", v);
        given->init = true;
    } else if (flag_is(a, "--lr")) {
        if (!(v = flag_value(argc, argv, i, "--lr")) || !parse_float("--lr", v, &c->lr)) return -1;
        if (!(c->lr > 0)) {
            if (strtod(v, NULL) > 0) /* positive, but below float32's smallest value */
                return usage_error_neg("--lr %s rounds to 0 in float32 (the smallest positive float32 is about 1.4e-45): "
                                   "it must be > 0", v);
            return usage_error_neg("--lr must be > 0 (got %s)", v);
        }
        given->lr = true;
    } else if (flag_is(a, "--momentum")) {
        if (!(v = flag_value(argc, argv, i, "--momentum")) || !parse_float("--momentum", v, &c->momentum)) return -1;
        if (c->momentum < 0 || c->momentum >= 1) return usage_error_neg("--momentum must be in [0, 1) (got %s)", v);
        given->momentum = true;
    } else if (flag_is(a, "--schedule")) {
        if (!(v = flag_value(argc, argv, i, "--schedule"))) return -1;
        if (!mlp_schedule_parse(v, &c->schedule))
            return usage_error_neg("--schedule must be constant, cosine, step or onecycle (got '%s')", v);
        given->schedule = true;
    } else if (flag_is(a, "--optimizer")) {
        if (!(v = flag_value(argc, argv, i, "--optimizer"))) return -1;
        if (!optim_parse(v, &c->optimizer))
            return usage_error_neg("--optimizer must be sgd, momentum, nesterov, adam or adamw (got '%s')", v);
        given->optimizer = true;
    } else if (flag_is(a, "--weight-decay")) {
        if (!(v = flag_value(argc, argv, i, "--weight-decay")) || !parse_float("--weight-decay", v, &c->weight_decay)) return -1;
        given->weight_decay = true;
    } else if (flag_is(a, "--beta1")) {
        if (!(v = flag_value(argc, argv, i, "--beta1")) || !parse_float("--beta1", v, &c->beta1)) return -1;
        given->beta1 = true;
    } else if (flag_is(a, "--beta2")) {
        if (!(v = flag_value(argc, argv, i, "--beta2")) || !parse_float("--beta2", v, &c->beta2)) return -1;
        given->beta2 = true;
    } else if (flag_is(a, "--eps")) {
        if (!(v = flag_value(argc, argv, i, "--eps")) || !parse_float("--eps", v, &c->eps)) return -1;
        given->eps = true;
    } else if (flag_is(a, "--clip-grad-norm")) {
        if (!(v = flag_value(argc, argv, i, "--clip-grad-norm")) || !parse_float("--clip-grad-norm", v, &c->clip_grad_norm))
            return -1;
        given->clip_grad_norm = true;
    } else if (flag_is(a, "--label-smoothing")) {
        if (!(v = flag_value(argc, argv, i, "--label-smoothing")) || !parse_float("--label-smoothing", v, &c->label_smoothing))
            return -1;
        given->label_smoothing = true;
    } else if (flag_is(a, "--dropout")) {
        if (!(v = flag_value(argc, argv, i, "--dropout")) || !parse_float("--dropout", v, &c->dropout)) return -1;
        given->dropout = true;
    } else if (flag_is(a, "--warmup")) {
        if (!(v = flag_value(argc, argv, i, "--warmup")) || !parse_u32("--warmup", v, 0, 10000000, &c->warmup)) return -1;
        given->warmup = true;
    } else {
        return 0;
    }
    return 1;
}

bool host_recipe_finish(mlp_config *c, const host_recipe_given *given) {
    /* sgd is momentum 0: the default momentum belongs to the momentum optimizer */
    if (c->optimizer == OPTIM_SGD && !given->momentum) c->momentum = 0.0f;
    if (c->optimizer >= OPTIM_ADAM && given->momentum) {
        usage_error("--momentum is for sgd-family optimizers; %s takes --beta1 and --beta2", optim_name(c->optimizer));
        return false;
    }
    if (c->optimizer >= OPTIM_ADAM) c->momentum = 0.0f;
    /* torch.optim.AdamW's default weight decay */
    if (c->optimizer == OPTIM_ADAMW && !given->weight_decay) c->weight_decay = 0.01f;
    return true;
}
