/* Live edits of the learning rate and the momentum (core/live.h), on both engines through
 * host_trainer (the CPU engine, and the WGSL kernels on a Vulkan adapter: lavapipe here, both
 * the per-layer and the fused kernels):
 *   1. an edit to the lr the next step has anyway (and the momentum it has) is scale 1 and
 *      changes no bit of the run;
 *   2. an edit to a new lr and momentum takes effect exactly at the step the engine reports:
 *      every report before it has the unedited run's loss, the first after it differs; the
 *      CPU engine reports the step after the one just reported, the GPU engine the step
 *      after the report interval it has already submitted;
 *   3. the edited run matches the CPU reference's replay (reference.c) that applies the same
 *      lr multiplier and momentum from that step on, and not the replay without the edit;
 *   4. resume after an edit (params, state, epochs done and the live state) gives the bits of
 *      the edited run that never stopped, and without the live state it does not;
 *   5. Adam: "momentum" sets beta1; bad values are refused with the field named, and change
 *      nothing; an edit between epochs takes effect at the next epoch's first step;
 *   6. mlp_live_step_lr's rule against an independent computation, for every schedule. */
#include "check.h"
#include "core/reference.h"
#include "gpu_fixture.h"
#include "host/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x11FE0D17ull;
static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_live_edit: out of memory\n");
        exit(2);
    }
    return p;
}

typedef struct data {
    uint8_t *images, *labels;
    uint32_t n;
} data;

static data random_data(uint32_t n, const model_arch *a) {
    data d = {xmalloc((size_t)n * a->inputs), xmalloc(n), n};
    for (size_t i = 0; i < (size_t)n * a->inputs; i++) d.images[i] = (uint8_t)model_splitmix64(&rng);
    for (uint32_t i = 0; i < n; i++) d.labels[i] = (uint8_t)(model_splitmix64(&rng) % a->classes);
    return d;
}

/* ---- one run, with an optional edit at a chosen report ---- */

#define MAX_REPORTS 64
typedef struct run_log {
    /* the edit to make at report `at` (1-based; 0: none) */
    int at;
    mlp_edit edit;
    bool same_lr; /* 1.: the lr the next step has anyway, found with a first momentum-only edit */
    host_trainer *tr;
    /* what happened */
    int reports;
    double loss[MAX_REPORTS];
    uint64_t report_step[MAX_REPORTS]; /* global steps done at each report */
    mlp_status edit_status;
    mlp_edit_result result;
    uint32_t steps_per_epoch;
    uint64_t total_steps;
} run_log;

static bool on_progress(void *user, const mlp_progress *p) {
    run_log *l = user;
    if (l->reports < MAX_REPORTS) {
        l->loss[l->reports] = p->loss;
        l->report_step[l->reports] = (uint64_t)(p->epoch - 1) * p->steps + p->step;
    }
    l->reports++;
    if (l->reports == l->at) {
        mlp_edit e = l->edit;
        if (l->same_lr) {
            /* where would it land? a momentum-only edit (the same momentum) says, and is itself a no-op */
            mlp_edit m = {false, true, 0, host_trainer_live(l->tr).momentum};
            mlp_edit_result r;
            CHECK(host_trainer_edit(l->tr, &m, &r) == MLP_OK, "the same momentum: %s", host_trainer_error(l->tr));
            e.set_lr = true;
            e.lr = mlp_step_lr(host_trainer_config(l->tr), r.step, l->total_steps);
        }
        l->edit_status = host_trainer_edit(l->tr, &e, &l->result);
    }
    return true;
}

typedef struct outcome {
    float *params, *state;
    mlp_live live;
    run_log log;
} outcome;

static outcome train(const host_device *dev, const mlp_config *c, const data *d, uint32_t epochs, const run_log *plan) {
    size_t np = mlp_param_count(&c->arch);
    uint32_t slots = optim_slots(c->optimizer);
    outcome o = {xmalloc(np * 4), xmalloc(slots * np * 4), {0, 0}, {0}};
    if (plan) o.log = *plan;
    mlp_dataset ds = {d->images, d->labels, d->n};
    host_trainer *t = NULL;
    mlp_status s = host_trainer_create(dev, c, &ds, NULL, &t);
    o.log.tr = t;
    o.log.steps_per_epoch = (d->n + c->batch - 1) / c->batch;
    o.log.total_steps = (uint64_t)o.log.steps_per_epoch * c->epochs;
    for (uint32_t e = 0; e < epochs && s == MLP_OK; e++) s = host_trainer_train_epoch(t, on_progress, &o.log, NULL);
    if (s == MLP_OK) s = host_trainer_read_params(t, o.params);
    for (uint32_t k = 0; k < slots && s == MLP_OK; k++) s = host_trainer_read_state(t, k, o.state + k * np);
    CHECK(s == MLP_OK, "training: %s", host_trainer_error(t));
    if (s == MLP_OK) o.live = host_trainer_live(t);
    host_trainer_destroy(t);
    o.log.tr = NULL;
    return o;
}

static void outcome_free(outcome *o) { free(o->params), free(o->state); }

/* ---- 3. the reference's replay with the edit applied from step `from` on ---- */

static float *replay(const mlp_config *c, const data *d, uint32_t epochs, uint64_t from, const mlp_edit *e) {
    size_t np = mlp_param_count(&c->arch);
    uint32_t slots = optim_slots(c->optimizer), n = d->n;
    float *params = xmalloc(np * 4), *grads = xmalloc(np * 4), *state = calloc(slots * np, 4);
    uint32_t *order = xmalloc(n * 4);
    mlp_init_params(c, params);
    ref_model m;
    ref_model_point(&m, &c->arch, params);
    m.label_smoothing = c->label_smoothing;
    m.dropout = c->dropout;
    uint64_t spe = (n + c->batch - 1) / c->batch, total = spe * c->epochs, st = 0;
    /* the rule, computed here on its own: the schedule times lr / (the schedule at `from`) */
    double scale = e && e->set_lr ? (double)e->lr / (double)mlp_step_lr(c, from, total) : 1.0;
    for (uint32_t ep = 1; ep <= epochs; ep++) {
        mlp_epoch_order(c->seed, ep, n, order);
        for (uint32_t start = 0; start < n; start += c->batch, st++) {
            uint32_t count = n - start < c->batch ? n - start : c->batch;
            bool edited = e && st >= from;
            optim_config o = mlp_optim(c);
            if (edited && e->set_momentum) *(c->optimizer >= OPTIM_ADAM ? &o.beta1 : &o.momentum) = e->momentum;
            float lr = mlp_step_lr(c, st, total);
            if (edited && e->set_lr) lr = (float)((double)lr * scale);
            m.noise = mlp_step_noise(c->seed, st);
            ref_model_loss(&m, grads, NULL, d->images, d->labels, order, start, (int)count);
            float clip = o.clip_grad_norm > 0 ? clip_factor(grads, np, o.clip_grad_norm) : 1.0f, bc1, bc2;
            optim_bias_corrections(&o, st + 1, &bc1, &bc2);
            optimizer_update(m.params, state, np, grads, np, &o, lr, bc1, bc2, clip);
        }
    }
    free(grads), free(state), free(order);
    return params;
}

/* The error of what training changed: |got - want| / |want - init|, so that a difference in
 * the updates is not hidden by the initial weights' norm. */
static const float *g_init;
static double rel_error(const float *got, const float *want, size_t n) {
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) return INFINITY;
        double x = (double)got[i] - want[i], w = (double)want[i] - g_init[i];
        diff += x * x;
        norm += w * w;
    }
    return sqrt(diff / (norm > 0 ? norm : 1));
}

static float *init_of(const mlp_config *c) {
    float *p = xmalloc(mlp_param_count(&c->arch) * 4);
    mlp_init_params(c, p);
    return p;
}

/* ---- 1.-5. on one engine ---- */

static void check_engine(const char *name, const host_device *dev, mlp_config c, double tolerance) {
    model_arch a = c.arch;
    data d = random_data(240, &a);
    size_t np = mlp_param_count(&a);
    uint32_t slots = optim_slots(c.optimizer);
    bool gpu = dev->engine == HOST_ENGINE_GPU;
    uint32_t spe = (d.n + c.batch - 1) / c.batch;

    outcome base = train(dev, &c, &d, 2, NULL);

    /* 1. the same lr and momentum: not a bit changes */
    run_log same = {.at = 3, .same_lr = true};
    outcome o1 = train(dev, &c, &d, 2, &same);
    CHECK(o1.log.edit_status == MLP_OK, "%s: the same lr", name);
    CHECK(o1.log.result.lr_scale == 1.0, "%s: the same lr is scale 1 (got %.17g)", name, o1.log.result.lr_scale);
    CHECK(!memcmp(o1.params, base.params, np * 4) && !memcmp(o1.state, base.state, slots * np * 4),
          "%s: an edit to the same lr and momentum changes nothing", name);

    /* 2. a new lr and momentum at report 3 */
    run_log plan = {.at = 3, .edit = {true, true, 0, 0.5f}};
    plan.edit.lr = 2.5f * c.lr;
    outcome o2 = train(dev, &c, &d, 2, &plan);
    run_log *l = &o2.log;
    CHECK(l->edit_status == MLP_OK, "%s: the edit", name);
    uint64_t done = l->report_step[plan.at - 1];
    /* where it lands: the CPU engine's next step; the GPU's after the chunk already submitted */
    uint64_t want = gpu ? done + c.report_every : done;
    if (gpu && want > spe) want = spe; /* a chunk never crosses an epoch's end */
    CHECK(l->result.step == want, "%s: the edit takes effect at step %llu (got %llu)", name, (unsigned long long)want,
          (unsigned long long)l->result.step);
    CHECK(l->result.lr == plan.edit.lr, "%s: the next step runs at the lr given (%g, got %g)", name, (double)plan.edit.lr,
          (double)l->result.lr);
    CHECK(l->result.momentum == 0.5f && o2.live.momentum == 0.5f, "%s: the momentum in effect", name);
    CHECK(fabs(l->result.lr_scale - (double)plan.edit.lr / mlp_step_lr(&c, want, l->total_steps)) < 1e-12,
          "%s: the scale is the lr over the schedule's", name);
    int first_changed = -1;
    for (int r = 0; r < l->reports && r < MAX_REPORTS; r++) {
        uint64_t begin = r ? l->report_step[r - 1] : 0; /* the report covers steps begin..report_step-1 */
        if (begin < want && l->report_step[r] <= want)
            CHECK(l->loss[r] == base.log.loss[r], "%s: report %d (steps %llu..%llu) ran before the edit: the same loss", name, r + 1,
                  (unsigned long long)begin, (unsigned long long)l->report_step[r] - 1);
        if (first_changed < 0 && l->loss[r] != base.log.loss[r]) first_changed = r;
    }
    int expect_changed = -1;
    for (int r = 0; r < l->reports && r < MAX_REPORTS && expect_changed < 0; r++)
        if (l->report_step[r] > want + 1) expect_changed = r; /* step want's update shows in step want + 1's loss */
    CHECK(first_changed == expect_changed, "%s: the first report that differs is the first with a step from %llu (report %d, got %d)",
          name, (unsigned long long)want, expect_changed + 1, first_changed + 1);

    /* 3. the reference's replay with the same multiplier and momentum from that step */
    float *ref_edit = replay(&c, &d, 2, l->result.step, &plan.edit), *ref_plain = replay(&c, &d, 2, 0, NULL), *init = init_of(&c);
    g_init = init;
    double e_edit = rel_error(o2.params, ref_edit, np), e_plain = rel_error(o2.params, ref_plain, np);
    double e_base = rel_error(base.params, ref_plain, np);
    printf("  %-28s edited vs replay with the edit %.2e, vs without %.2e; unedited vs replay %.2e\n", name, e_edit, e_plain, e_base);
    CHECK(e_edit < tolerance, "%s: the edited run is the replay with the edit (rel %.3e)", name, e_edit);
    CHECK(e_base < tolerance, "%s: the unedited run is the plain replay (rel %.3e)", name, e_base);
    CHECK(e_plain > 100 * tolerance, "%s: and not the replay without it (rel %.3e)", name, e_plain);
    free(ref_edit), free(ref_plain), free(init);

    /* 4. resume after the edit: epoch 1 with the edit, then a new trainer from its state */
    outcome first = train(dev, &c, &d, 1, &plan);
    mlp_dataset ds = {d.images, d.labels, d.n};
    for (int with_live = 1; with_live >= 0; with_live--) {
        host_trainer *t = NULL;
        mlp_status s = host_trainer_create(dev, &c, &ds, NULL, &t);
        if (s == MLP_OK) s = host_trainer_write_params(t, first.params);
        for (uint32_t k = 0; k < slots && s == MLP_OK; k++) s = host_trainer_write_state(t, k, first.state + k * np);
        if (s == MLP_OK && with_live) s = host_trainer_set_live(t, &first.live);
        host_trainer_set_epochs_done(t, 1);
        if (s == MLP_OK) s = host_trainer_train_epoch(t, NULL, NULL, NULL);
        float *p = xmalloc(np * 4);
        if (s == MLP_OK) s = host_trainer_read_params(t, p);
        CHECK(s == MLP_OK, "%s: resume: %s", name, host_trainer_error(t));
        if (with_live) CHECK(!memcmp(p, o2.params, np * 4), "%s: resume after an edit gives the edited run's bits", name);
        else CHECK(memcmp(p, o2.params, np * 4) != 0, "%s: (without the live state it would not)", name);
        free(p);
        host_trainer_destroy(t);
    }

    /* 5. bad values change nothing; an edit between epochs lands on the next epoch's first step */
    host_trainer *t = NULL;
    CHECK(host_trainer_create(dev, &c, &ds, NULL, &t) == MLP_OK, "%s: create", name);
    struct {
        mlp_edit e;
        const char *says;
    } bad[] = {
        {{true, false, 0.0f, 0}, "lr must be"},     {{true, false, -1.0f, 0}, "lr must be"},
        {{true, false, NAN, 0}, "lr must be"},      {{true, false, 2000.0f, 0}, "lr must be"},
        {{false, true, 0, 1.0f}, "momentum must be"}, {{false, true, 0, -0.1f}, "momentum must be"},
        {{false, true, 0, NAN}, "momentum must be"}, {{false, false, 0, 0}, "needs lr or momentum"},
        {{true, true, 0.1f, 2.0f}, "momentum must be"}, /* all or nothing: the lr is not taken either */
    };
    mlp_live before = host_trainer_live(t);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mlp_edit_result r;
        CHECK(host_trainer_edit(t, &bad[i].e, &r) == MLP_ERR_CONFIG && strstr(host_trainer_error(t), bad[i].says),
              "%s: bad edit %zu refused with '%s' (got '%s')", name, i, bad[i].says, host_trainer_error(t));
        mlp_live now = host_trainer_live(t);
        CHECK(now.lr_scale == before.lr_scale && now.momentum == before.momentum, "%s: bad edit %zu changed nothing", name, i);
    }
    CHECK(host_trainer_train_epoch(t, NULL, NULL, NULL) == MLP_OK, "%s: an epoch", name);
    mlp_edit between = {true, false, 0.01f, 0};
    mlp_edit_result r;
    CHECK(host_trainer_edit(t, &between, &r) == MLP_OK && r.step == spe && r.lr == 0.01f,
          "%s: between epochs, at the next epoch's first step %u (got %llu)", name, spe, (unsigned long long)r.step);
    mlp_live bad_live = {0.0, 0.5f};
    CHECK(host_trainer_set_live(t, &bad_live) == MLP_ERR_CONFIG, "%s: a live state of scale 0 is refused", name);
    host_trainer_destroy(t);

    outcome_free(&base), outcome_free(&o1), outcome_free(&o2), outcome_free(&first);
    free(d.images), free(d.labels);
}

/* Adam: momentum is beta1 (bias correction too), checked against the replay; sgd and nesterov's rules. */
static void check_optimizer_rules(const host_device *dev) {
    model_arch a = model_arch_default();
    a.inputs = 37, a.classes = 7, a.hidden[0] = 23;
    mlp_config c = mlp_config_default();
    c.arch = a, c.batch = 16, c.epochs = 2, c.report_every = 3, c.seed = 5;
    c.optimizer = OPTIM_ADAM, c.lr = 2e-3f, c.momentum = 0, c.schedule = MLP_SCHEDULE_ONECYCLE, c.warmup = 4;
    data d = random_data(100, &a);
    size_t np = mlp_param_count(&a);
    run_log plan = {.at = 2, .edit = {true, true, 5e-3f, 0.5f}};
    outcome o = train(dev, &c, &d, 2, &plan);
    CHECK(o.log.edit_status == MLP_OK && o.live.momentum == 0.5f, "adam: momentum edits beta1");
    float *ref = replay(&c, &d, 2, o.log.result.step, &plan.edit), *plain = replay(&c, &d, 2, 0, NULL), *init = init_of(&c);
    g_init = init;
    double e = rel_error(o.params, ref, np), e0 = rel_error(o.params, plain, np);
    printf("  adam (cpu), beta1 edit      vs replay with the edit %.2e, vs without %.2e\n", e, e0);
    CHECK(e < 1e-5 && e0 > 1e-3, "adam: the replay with beta1 edited (rel %.3e; without %.3e)", e, e0);
    free(ref), free(plain), free(init), outcome_free(&o);

    mlp_dataset ds = {d.images, d.labels, d.n};
    mlp_edit_result r;
    host_trainer *t;
    c.optimizer = OPTIM_SGD, c.schedule = MLP_SCHEDULE_CONSTANT, c.warmup = 0;
    CHECK(host_trainer_create(dev, &c, &ds, NULL, &t) == MLP_OK, "sgd: create");
    mlp_edit m = {false, true, 0, 0.9f};
    CHECK(host_trainer_edit(t, &m, &r) == MLP_ERR_CONFIG && strstr(host_trainer_error(t), "sgd has no momentum"),
          "sgd: no momentum to edit (got '%s')", host_trainer_error(t));
    host_trainer_destroy(t);
    c.optimizer = OPTIM_NESTEROV, c.momentum = 0.9f;
    CHECK(host_trainer_create(dev, &c, &ds, NULL, &t) == MLP_OK, "nesterov: create");
    m.momentum = 0;
    CHECK(host_trainer_edit(t, &m, &r) == MLP_ERR_CONFIG && strstr(host_trainer_error(t), "nesterov"),
          "nesterov: momentum 0 refused (got '%s')", host_trainer_error(t));
    m.momentum = 0.7f;
    CHECK(host_trainer_edit(t, &m, &r) == MLP_OK && r.step == 0 && r.momentum == 0.7f, "nesterov: momentum 0.7 from step 0");
    host_trainer_destroy(t);
    free(d.images), free(d.labels);
}

/* 6. the lr rule for every schedule, against its own computation */
static void check_rule(void) {
    mlp_config c = mlp_config_default();
    c.epochs = 3, c.warmup = 5;
    uint64_t total = 90;
    for (int s = 0; s < 4; s++) {
        c.schedule = (mlp_schedule)s;
        mlp_live l = mlp_live_initial(&c);
        CHECK(l.lr_scale == 1.0 && l.momentum == c.momentum, "initial live state");
        for (uint64_t st = 0; st < total; st++)
            CHECK(mlp_live_step_lr(&c, &l, st, total) == mlp_step_lr(&c, st, total), "scale 1 is the schedule itself");
        mlp_edit e = {true, false, 0.0123f, 0};
        mlp_edit_result r;
        char err[256];
        CHECK(mlp_live_apply(&c, &l, &e, 40, total, &r, err, sizeof err), "%s", err);
        CHECK(r.lr == 0.0123f && mlp_live_step_lr(&c, &l, 40, total) == 0.0123f, "%s: step 40 runs at exactly 0.0123",
              mlp_schedule_name(c.schedule));
        double scale = (double)0.0123f / (double)mlp_step_lr(&c, 40, total);
        for (uint64_t st = 41; st < total; st++)
            CHECK(mlp_live_step_lr(&c, &l, st, total) == (float)((double)mlp_step_lr(&c, st, total) * scale),
                  "%s: step %llu: the shape continues, scaled", mlp_schedule_name(c.schedule), (unsigned long long)st);
        /* a second edit replaces the scale */
        e.lr = 0.02f;
        CHECK(mlp_live_apply(&c, &l, &e, 60, total, &r, err, sizeof err) && r.lr == 0.02f &&
                  l.lr_scale == (double)0.02f / (double)mlp_step_lr(&c, 60, total),
              "%s: a later edit replaces the scale", mlp_schedule_name(c.schedule));
    }
    mlp_config adam = c;
    adam.optimizer = OPTIM_ADAMW, adam.momentum = 0, adam.beta1 = 0.85f;
    CHECK(mlp_live_initial(&adam).momentum == 0.85f, "adam's live momentum is beta1");
}

int main(void) {
    check_rule();
    model_arch a = model_arch_default();
    a.inputs = 45, a.classes = 6, a.hidden[0] = 19, a.hidden[1] = 11, a.hidden_layers = 2;
    a.activation = MODEL_ACT_TANH;
    mlp_config c = mlp_config_default();
    c.arch = a, c.batch = 20, c.epochs = 3, c.report_every = 2, c.seed = 3, c.lr = 0.05f, c.momentum = 0.9f;
    c.schedule = MLP_SCHEDULE_COSINE, c.warmup = 3;
    host_device cpu = {HOST_ENGINE_CPU, NULL, NULL};
    check_engine("cpu engine, momentum", &cpu, c, 1e-5);
    mlp_config n = c;
    n.optimizer = OPTIM_NESTEROV, n.weight_decay = 1e-3f, n.schedule = MLP_SCHEDULE_STEP;
    check_engine("cpu engine, nesterov", &cpu, n, 1e-5);
    check_optimizer_rules(&cpu);

    gpu_context *gpu = fixture_gpu();
    if (gpu) {
        host_device g = {HOST_ENGINE_GPU, gpu, NULL};
        mlp_config r = c;
        r.kernels = MLP_KERNELS_REFERENCE;
        check_engine("gpu per-layer, momentum", &g, r, 1e-4);
        /* the fused kernels: MNIST's shape, one hidden ReLU layer */
        mlp_config f = c;
        f.arch = model_arch_default();
        f.arch.hidden[0] = 24;
        f.kernels = MLP_KERNELS_FUSED;
        f.batch = 24;
        f.report_every = 3;
        check_engine("gpu fused, momentum", &g, f, 1e-4);
        mlp_config ad = c;
        ad.kernels = MLP_KERNELS_REFERENCE, ad.optimizer = OPTIM_ADAMW, ad.lr = 3e-3f, ad.momentum = 0, ad.weight_decay = 0.01f;
        check_engine("gpu per-layer, adamw", &g, ad, 1e-4);
        gpu_context_destroy(gpu);
    }
    return check_exit("test_live_edit");
}
