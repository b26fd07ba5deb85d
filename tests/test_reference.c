/* Tests of the CPU reference (src/core/reference.c):
 *   1. finite-difference gradient check of ref_mlp_loss's analytic gradient, and of
 *      ref_model_loss's at depth 2 for every activation;
 *   2. dense_forward / dense_backward against a naive double recomputation at odd sizes;
 *   3. softmax_xent_forward_backward: loss, gradient, first-maximum "correct", huge logits;
 *   4. ref_mlp_step: a small step lowers the batch loss; plain and momentum SGD as specified;
 *   5. a tiny overfit of one batch. */
#include "check.h"
#include "core/reference.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixed-seed local PRNG (splitmix64) ---- */

static uint64_t rng_state = 0x5eed0123456789abULL;

static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static double rng_unit(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }

static float rng_uniform(float lo, float hi) { return (float)(lo + (hi - lo) * rng_unit()); }

static uint32_t rng_below(uint32_t n) { return (uint32_t)(rng_next() % n); }

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "test_reference: out of memory\n");
        exit(2);
    }
    return p;
}

static void fill_uniform(float *a, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) {
        a[i] = rng_uniform(lo, hi);
    }
}

/* A random dataset of n u8 images with labels in [0, classes). lit == 0: every pixel uniform
 * in [0, 255]; lit > 0: MNIST-like, a pixel is lit (uniform in [128, 255]) with probability
 * lit and 0 otherwise. */
typedef struct dataset {
    int n, pixels;
    uint8_t *images, *labels;
    uint32_t *order;
} dataset;

static dataset make_dataset(int n, int pixels, int classes, double lit) {
    dataset d;
    d.n = n;
    d.pixels = pixels;
    d.images = xmalloc((size_t)n * (size_t)pixels);
    d.labels = xmalloc((size_t)n);
    d.order = xmalloc((size_t)n * sizeof(uint32_t));
    for (size_t i = 0; i < (size_t)n * (size_t)pixels; i++) {
        if (lit == 0.0) {
            d.images[i] = (uint8_t)(rng_next() & 0xff);
        } else {
            d.images[i] = rng_unit() < lit ? (uint8_t)(128 + (rng_next() & 0x7f)) : 0;
        }
    }
    for (int i = 0; i < n; i++) {
        d.labels[i] = (uint8_t)rng_below((uint32_t)classes);
        d.order[i] = (uint32_t)i;
    }
    /* Fisher-Yates shuffle, so order is a real permutation and not the identity */
    for (int i = n - 1; i > 0; i--) {
        uint32_t j = rng_below((uint32_t)i + 1);
        uint32_t t = d.order[i];
        d.order[i] = d.order[j];
        d.order[j] = t;
    }
    return d;
}

static void free_dataset(dataset *d) {
    free(d->images);
    free(d->labels);
    free(d->order);
}

/* Labels in the gathered order, as the softmax sees them: labels[order[start + b]]. */
static uint8_t *gather_labels(const dataset *d, uint32_t start, int batch) {
    uint8_t *l = xmalloc((size_t)batch);
    for (int b = 0; b < batch; b++) {
        l[b] = d->labels[d->order[start + (uint32_t)b]];
    }
    return l;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- 1. finite-difference gradient check ---- */

/* mask[b][h] = 1 where the layer-1 pre-activation is > 0 (the ReLU pattern). */
static void relu_pattern(uint8_t *mask, const ref_mlp *m, const dataset *d, uint32_t start,
                         int B) {
    float *x = xmalloc((size_t)B * m->inputs * sizeof(float));
    float *pre = xmalloc((size_t)B * m->hidden * sizeof(float));
    input_gather_forward(x, d->images, d->order, start, B, m->inputs);
    dense_forward(pre, x, m->w1, m->b1, B, m->inputs, m->hidden);
    for (int k = 0; k < B * m->hidden; k++) mask[k] = pre[k] > 0.0f;
    free(x);
    free(pre);
}

/* Central difference of the batch loss in params[j] with step eps, in double, divided by the
 * step actually taken in float. *kink is set when the ReLU pattern at p +- eps differs from
 * mask0: layer-1 pre-activations are affine in any single parameter, so an unchanged pattern
 * at both ends means no kink anywhere in [p - eps, p + eps]. */
static double central_diff(ref_mlp *m, size_t j, float eps, const dataset *d,
                           const uint8_t *labels, uint32_t start, int B, const uint8_t *mask0,
                           uint8_t *mask, int *kink) {
    size_t nm = (size_t)B * (size_t)m->hidden;
    float saved = m->params[j];
    float p_plus = saved + eps, p_minus = saved - eps;
    m->params[j] = p_plus;
    double lp = ref_mlp_loss(m, NULL, d->images, d->labels, d->order, start, B);
    relu_pattern(mask, m, d, start, B);
    *kink |= memcmp(mask, mask0, nm) != 0;
    m->params[j] = p_minus;
    double lm = ref_mlp_loss(m, NULL, d->images, d->labels, d->order, start, B);
    relu_pattern(mask, m, d, start, B);
    *kink |= memcmp(mask, mask0, nm) != 0;
    m->params[j] = saved;
    return (lp - lm) / ((double)p_plus - (double)p_minus);
}

static void test_gradient_check(void) {
    const int I = 784, H = 7, C = 10, B = 5, N = 12;
    const uint32_t start = 4;
    /* MNIST-like images (~20% of pixels lit): with dense uniform noise every image shares a
     * large common input component, so most hidden units tend to be dead for the whole
     * batch and many sampled gradients would be trivially zero. */
    dataset d = make_dataset(N, I, C, 0.2);
    uint8_t *labels = gather_labels(&d, start, B);

    size_t sizes[4];
    ref_param_sizes(sizes, I, H, C);
    CHECK(sizes[0] == (size_t)H * I && sizes[1] == (size_t)H && sizes[2] == (size_t)C * H &&
              sizes[3] == (size_t)C,
          "size table %zu %zu %zu %zu", sizes[0], sizes[1], sizes[2], sizes[3]);
    size_t np = sizes[0] + sizes[1] + sizes[2] + sizes[3];
    float *params = xmalloc(np * sizeof(float));
    float *grads = xmalloc(np * sizeof(float));
    fill_uniform(params, np, -0.1f, 0.1f);
    ref_mlp m;
    ref_mlp_point(&m, params, I, H, C);
    CHECK(m.num_params == np, "num_params %zu != %zu", m.num_params, np);
    CHECK(m.w1 == params && m.b1 == params + sizes[0] && m.w2 == m.b1 + sizes[1] &&
              m.b2 == m.w2 + sizes[2],
          "ref_mlp_point carves w1, b1, w2, b2 contiguously");

    for (size_t i = 0; i < np; i++) {
        grads[i] = NAN; /* must be overwritten everywhere */
    }
    double loss0 = ref_mlp_loss(&m, grads, d.images, d.labels, d.order, start, B);
    double loss_nograd = ref_mlp_loss(&m, NULL, d.images, d.labels, d.order, start, B);
    CHECK(loss0 == loss_nograd, "loss with grads %.17g != without %.17g", loss0, loss_nograd);
    CHECK(isfinite(loss0) && loss0 > 0.0, "loss %g", loss0);
    int nonfinite_grads = 0;
    for (size_t i = 0; i < np; i++) {
        nonfinite_grads += !isfinite(grads[i]);
    }
    CHECK(nonfinite_grads == 0, "%d gradient entries not written or not finite", nonfinite_grads);

    /* Sample ~200 indices: every bias, 40 of w2, the rest from w1. */
    enum { NS = 200 };
    size_t idx[NS];
    int ns = 0;
    size_t off_b1 = sizes[0], off_w2 = off_b1 + sizes[1], off_b2 = off_w2 + sizes[2];
    for (size_t k = 0; k < sizes[1]; k++) idx[ns++] = off_b1 + k;
    for (size_t k = 0; k < sizes[3]; k++) idx[ns++] = off_b2 + k;
    for (int k = 0; k < 40; k++) idx[ns++] = off_w2 + rng_below((uint32_t)sizes[2]);
    while (ns < NS) idx[ns++] = rng_below((uint32_t)sizes[0]);

    /* The numerical derivative is a Richardson extrapolation of central differences,
     * (4 D(eps/2) - D(eps)) / 3, which cancels the eps^2 truncation term: with eps = 1e-2 a
     * plain central difference is off by up to ~3e-5 on w2 (large hidden activations, large
     * third derivative), while at eps = 1e-3 float noise dominates.
     *
     * Noise floor: activations are stored in float, so the loss carries ~1e-9..1e-8 of
     * rounding noise and the quotient ~3e-9/eps of it (measured: up to ~3e-7 at eps = 1e-2,
     * e.g. on w1 gradients of ~3e-6 of a unit active for one sample only). The relative error
     * is |num - ana| / max(floor, |num| + |ana|) with floor = 1e-6 / eps (1e-4 at eps = 1e-2):
     * at the 1e-2 threshold that accepts an absolute difference of 1e-8/eps, 3x the noise.
     * (A fixed 1e-6 floor makes seeds fail on noise alone, e.g. 16 of 200 samples of one
     * nearly dead unit.)
     *
     * A step whose interval contains a ReLU kink makes the quotient meaningless; that is
     * detected exactly and the sample retried with a 10x smaller step (and a 10x larger
     * floor). Samples that contain a kink even at the smallest step are only reported and
     * must stay rare. */
    static const float eps_ladder[] = {1e-2f, 1e-3f, 1e-4f};
    const int n_eps = (int)(sizeof eps_ladder / sizeof eps_ladder[0]);
    /* Gradients this large checked at the largest step sit far above the noise, so there no
     * outlier is excused: that catches an error in a single entry. */
    const double big = 1e-3;
    uint8_t *mask0 = xmalloc((size_t)B * H), *mask = xmalloc((size_t)B * H);
    relu_pattern(mask0, &m, &d, start, B);
    double rel[NS];
    int n_checked = 0, over = 0, kinks = 0, retried = 0, nonfinite = 0, nonzero = 0;
    double max_rel = 0.0, max_rel_big = 0.0;
    size_t max_at = 0;
    int n_big = 0;
    for (int s = 0; s < ns; s++) {
        size_t j = idx[s];
        double ana = (double)grads[j];
        double num = NAN;
        int kink = 1, e_used = -1;
        for (int e = 0; e < n_eps && kink; e++) {
            e_used = e;
            kink = 0;
            double d1 = central_diff(&m, j, eps_ladder[e], &d, labels, start, B, mask0, mask,
                                     &kink);
            double d2 = central_diff(&m, j, 0.5f * eps_ladder[e], &d, labels, start, B, mask0,
                                     mask, &kink);
            num = (4.0 * d2 - d1) / 3.0;
            retried += kink && e + 1 < n_eps;
        }
        double floor_e = 1e-6 / (double)eps_ladder[e_used];
        double r = fabs(num - ana) / fmax(floor_e, fabs(num) + fabs(ana));
        if (!isfinite(num) || !isfinite(ana) || !isfinite(r)) nonfinite++;
        if (ana != 0.0) nonzero++;
        if (kink) {
            kinks++;
            continue;
        }
        rel[n_checked++] = r;
        if (e_used == 0 && fabs(num) + fabs(ana) >= big) {
            n_big++;
            if (r > max_rel_big) max_rel_big = r;
        }
        if (r >= 1e-2) over++;
        if (r > max_rel) {
            max_rel = r;
            max_at = j;
        }
    }
    qsort(rel, (size_t)n_checked, sizeof(double), cmp_double);
    double median = n_checked ? rel[n_checked / 2] : NAN;
    printf("gradient check: %d params sampled (%d with nonzero analytic gradient), %d checked "
           "(%d retries with a smaller step near a ReLU kink, %d left unchecked): relative "
           "error max %.3e (param %zu), median %.3e, %d >= 1e-2; max %.3e over the %d with "
           "|num| + |ana| >= %g at eps 1e-2\n",
           ns, nonzero, n_checked, retried, kinks, max_rel, max_at, median, over, max_rel_big,
           n_big, big);
    CHECK(nonfinite == 0, "%d non-finite gradients or relative errors", nonfinite);
    /* rare outliers (noise, a kink missed by the float pattern) are allowed: at most 1% */
    CHECK(over <= ns / 100, "%d of %d relative errors >= 1e-2 (max %g at %zu)", over,
          n_checked, max_rel, max_at);
    CHECK(median < 1e-3, "median relative error %g", median);
    CHECK(max_rel_big < 5e-3, "relative error %g on a gradient well above the noise",
          max_rel_big);
    CHECK(n_big >= ns / 2, "only %d of %d samples well above the noise", n_big, ns);
    /* kinks at every step size must stay rare, or the check would cover little */
    CHECK(kinks <= ns / 20, "%d of %d samples cross a ReLU kink at every step size", kinks, ns);
    /* a check over all-zero gradients would prove nothing */
    CHECK(nonzero >= ns / 2, "only %d of %d sampled analytic gradients nonzero", nonzero, ns);

    free(mask0);
    free(mask);
    free(params);
    free(grads);
    free(labels);
    free_dataset(&d);
}

/* ---- 1b. the same check for any model of the layer table: depth 2, every activation ---- */

static double model_diff(ref_model *m, size_t j, float eps, const dataset *d, uint32_t start, int B) {
    float saved = m->params[j], p_plus = saved + eps, p_minus = saved - eps;
    m->params[j] = p_plus;
    double lp = ref_model_loss(m, NULL, NULL, d->images, d->labels, d->order, start, B);
    m->params[j] = p_minus;
    double lm = ref_model_loss(m, NULL, NULL, d->images, d->labels, d->order, start, B);
    m->params[j] = saved;
    return (lp - lm) / ((double)p_plus - (double)p_minus);
}

static void test_model_gradient_check(void) {
    const int B = 6, N = 11;
    const uint32_t start = 3;
    for (int act = MODEL_ACT_RELU; act <= MODEL_ACT_LEAKY_RELU; act++) {
        model_arch a = {30, 4, 2, {9, 6}, (model_activation)act};
        dataset d = make_dataset(N, (int)a.inputs, (int)a.classes, 0.3);
        size_t np = model_param_count(&a);
        float *params = xmalloc(np * sizeof(float)), *grads = xmalloc(np * sizeof(float));
        model_init_params(&a, MODEL_INIT_TORCH, 11 + (uint64_t)act, params);
        ref_model m;
        ref_model_point(&m, &a, params);
        for (size_t i = 0; i < np; i++) grads[i] = NAN; /* must be overwritten everywhere */
        double loss = ref_model_loss(&m, grads, NULL, d.images, d.labels, d.order, start, B);
        CHECK(isfinite(loss) && loss > 0, "%s: loss %g", model_activation_name(a.activation), loss);
        /* every parameter, Richardson-extrapolated central differences as in test 1. The smooth
         * activations take a larger step: their error falls as the step grows (float noise of
         * the loss, ~1e-8 / eps, dominates; measured 2e-3 at eps 1e-2, 5e-4 at 4e-2, for
         * sigmoid's small gradients). ReLU's and leaky ReLU's kinks want a small step and can
         * spoil a few samples, so a few outliers are allowed there. */
        bool kinked = act == MODEL_ACT_RELU || act == MODEL_ACT_LEAKY_RELU;
        const float EPS_FULL = kinked ? 1e-2f : 4e-2f, EPS_HALF = EPS_FULL / 2;
        int over = 0, nonzero = 0, checked = 0;
        double max_rel = 0, worst_big = 0;
        for (size_t j = 0; j < np; j++) {
            double ana = grads[j];
            double num = (4.0 * model_diff(&m, j, EPS_HALF, &d, start, B) - model_diff(&m, j, EPS_FULL, &d, start, B)) / 3.0;
            double r = fabs(num - ana) / fmax(1e-4, fabs(num) + fabs(ana));
            CHECK(isfinite(ana) && isfinite(num), "%s: gradient %zu not finite", model_activation_name(a.activation), j);
            nonzero += ana != 0;
            checked++;
            if (r >= 1e-2) over++;
            if (r > max_rel) max_rel = r;
            if (fabs(num) + fabs(ana) >= 1e-3 && r > worst_big) worst_big = r;
        }
        printf("model gradient check 30-9-6-4 %s: %d params, %d nonzero, max relative error %.3e (%.3e above 1e-3), %d >= 1e-2\n",
               model_activation_name(a.activation), checked, nonzero, max_rel, worst_big, over);
        CHECK(over <= (kinked ? checked / 50 : 0), "%s: %d of %d relative errors >= 1e-2", model_activation_name(a.activation),
              over, checked);
        if (!kinked) CHECK(worst_big < 1e-3, "%s: relative error %g on a large gradient", model_activation_name(a.activation), worst_big);
        CHECK(nonzero >= checked / 2, "%s: only %d of %d gradients nonzero", model_activation_name(a.activation), nonzero, checked);
        free(params), free(grads);
        free_dataset(&d);
    }
    /* dropout (a fixed mask: the noise seed is fixed) and label smoothing keep the loss smooth
     * in every parameter under tanh: the same check, no outlier allowed */
    {
        const int B2 = 6;
        model_arch a = {30, 4, 2, {9, 6}, MODEL_ACT_TANH};
        dataset d = make_dataset(11, (int)a.inputs, (int)a.classes, 0.3);
        size_t np = model_param_count(&a);
        float *params = xmalloc(np * sizeof(float)), *grads = xmalloc(np * sizeof(float));
        model_init_params(&a, MODEL_INIT_XAVIER, 5, params);
        ref_model m;
        ref_model_point(&m, &a, params);
        m.dropout = 0.3f, m.label_smoothing = 0.1f, m.noise = 0x1234567u;
        ref_model_loss(&m, grads, NULL, d.images, d.labels, d.order, 2, B2);
        int over = 0, dropped = 0;
        double worst = 0;
        for (size_t j = 0; j < np; j++) {
            double num = (4.0 * model_diff(&m, j, 2e-2f, &d, 2, B2) - model_diff(&m, j, 4e-2f, &d, 2, B2)) / 3.0;
            double r = fabs(num - grads[j]) / fmax(1e-4, fabs(num) + fabs(grads[j]));
            over += r >= 1e-2;
            if (fabs(num) + fabs(grads[j]) >= 1e-3 && r > worst) worst = r;
        }
        for (uint32_t i = 0; i < (uint32_t)B2 * 9; i++) dropped += !dropout_keep(m.noise, 0, i, m.dropout);
        printf("model gradient check 30-9-6-4 tanh, dropout 0.3 (%d of %d units of layer 0 dropped), smoothing 0.1: max relative "
               "error %.3e above 1e-3, %d >= 1e-2\n", dropped, B2 * 9, worst, over);
        CHECK(dropped > 0 && dropped < B2 * 9, "the mask drops some units, not all: %d of %d", dropped, B2 * 9);
        CHECK(over == 0 && worst < 1e-3, "dropout + smoothing gradient: %d outliers, worst %g", over, worst);
        /* smoothing 0 is exactly the unsmoothed loss */
        float lg[8] = {1, -2, 0.5f, 3, 0, 0, -1, 2}, d1[8], d2[8];
        uint8_t lb[2] = {3, 1};
        CHECK(softmax_xent_smoothed(d1, NULL, NULL, lg, lb, 2, 4, 0.0f) == softmax_xent_forward_backward(d2, NULL, NULL, lg, lb, 2, 4) &&
                  !memcmp(d1, d2, sizeof d1),
              "smoothing 0 is the plain cross-entropy");
        free(params), free(grads);
        free_dataset(&d);
    }
    /* the seed's model through the layer table is the seed's model: same loss, same gradient */
    {
        const int I = 784, H = 7, C = 10, B2 = 5;
        dataset d = make_dataset(12, I, C, 0.2);
        model_arch a = {784, 10, 1, {7}, MODEL_ACT_RELU};
        size_t np = model_param_count(&a);
        CHECK(np == (size_t)H * I + H + (size_t)C * H + C, "size table of 784-7-10: %zu", np);
        float *params = xmalloc(np * 4), *g1 = xmalloc(np * 4), *g2 = xmalloc(np * 4);
        model_init_params(&a, MODEL_INIT_TORCH, 3, params);
        ref_model m;
        ref_mlp old;
        ref_model_point(&m, &a, params);
        ref_mlp_point(&old, params, I, H, C);
        double l1 = ref_model_loss(&m, g1, NULL, d.images, d.labels, d.order, 2, B2);
        double l2 = ref_mlp_loss(&old, g2, d.images, d.labels, d.order, 2, B2);
        CHECK(l1 == l2 && memcmp(g1, g2, np * 4) == 0, "ref_model and ref_mlp differ on 784-7-10 (%.17g vs %.17g)", l1, l2);
        /* scratch that cannot be had (a batch of 2^40 samples: terabytes) is a NaN loss and no
         * update, never an abort: the engine runs inside hosts such as a browser tab */
        const int huge = 1 << 30;
        memcpy(g2, params, np * 4);
        ref_step_result r = ref_model_step(&m, g1, NULL, d.images, d.labels, d.order, 0, huge, 0.1f, 0.0f);
        CHECK(isnan(r.loss) && !memcmp(g2, params, np * 4), "out of memory: loss %g, parameters untouched", r.loss);
        CHECK(isnan(ref_mlp_loss(&old, g1, d.images, d.labels, d.order, 0, huge)), "out of memory in ref_mlp_loss is a NaN loss");
        free(params), free(g1), free(g2);
        free_dataset(&d);
    }
}

/* ---- 2. dense layer against a naive double recomputation ---- */

/* |got - want| within float rounding of the result plus double-accumulation slack. */
static int close_to(float got, double want, double abs_sum) {
    return isfinite(got) && fabs((double)got - want) <= 2e-7 * fabs(want) + 1e-12 * abs_sum + 1e-30;
}

static void test_dense(void) {
    const int Bs[] = {1, 3, 17}, Cins[] = {1, 5, 33}, Couts[] = {1, 10, 13};
    int bad_fwd = 0, bad_dw = 0, bad_db = 0, bad_dinp = 0, bad_null = 0;
    for (int bi = 0; bi < 3; bi++)
        for (int ii = 0; ii < 3; ii++)
            for (int oi = 0; oi < 3; oi++) {
                int B = Bs[bi], Ci = Cins[ii], Co = Couts[oi];
                size_t ni = (size_t)B * Ci, no = (size_t)B * Co, nw = (size_t)Co * Ci;
                float *inp = xmalloc(ni * sizeof(float)), *w = xmalloc(nw * sizeof(float));
                float *bias = xmalloc((size_t)Co * sizeof(float));
                float *out = xmalloc(no * sizeof(float)), *dout = xmalloc(no * sizeof(float));
                float *dinp = xmalloc(ni * sizeof(float)), *dw = xmalloc(nw * sizeof(float));
                float *dbias = xmalloc((size_t)Co * sizeof(float));
                float *dw2 = xmalloc(nw * sizeof(float));
                float *dbias2 = xmalloc((size_t)Co * sizeof(float));
                fill_uniform(inp, ni, -2.0f, 2.0f);
                fill_uniform(w, nw, -1.0f, 1.0f);
                fill_uniform(bias, (size_t)Co, -1.0f, 1.0f);
                fill_uniform(dout, no, -1.0f, 1.0f);
                /* garbage in the outputs: everything must be overwritten, never += */
                for (size_t k = 0; k < no; k++) out[k] = 12345.0f;
                for (size_t k = 0; k < ni; k++) dinp[k] = 12345.0f;
                for (size_t k = 0; k < nw; k++) dw[k] = dw2[k] = 12345.0f;
                for (int k = 0; k < Co; k++) dbias[k] = dbias2[k] = 12345.0f;

                dense_forward(out, inp, w, bias, B, Ci, Co);
                dense_backward(dinp, dw, dbias, dout, inp, w, B, Ci, Co);
                dense_backward(NULL, dw2, dbias2, dout, inp, w, B, Ci, Co);

                for (int b = 0; b < B; b++)
                    for (int o = 0; o < Co; o++) {
                        double s = bias[o], a = fabs(bias[o]);
                        for (int i = 0; i < Ci; i++) {
                            double t = (double)inp[b * Ci + i] * (double)w[o * Ci + i];
                            s += t;
                            a += fabs(t);
                        }
                        bad_fwd += !close_to(out[b * Co + o], s, a);
                    }
                for (int o = 0; o < Co; o++) {
                    double s = 0, a = 0;
                    for (int b = 0; b < B; b++) {
                        s += dout[b * Co + o];
                        a += fabs(dout[b * Co + o]);
                    }
                    bad_db += !close_to(dbias[o], s, a);
                    for (int i = 0; i < Ci; i++) {
                        double sw = 0, aw = 0;
                        for (int b = 0; b < B; b++) {
                            double t = (double)dout[b * Co + o] * (double)inp[b * Ci + i];
                            sw += t;
                            aw += fabs(t);
                        }
                        bad_dw += !close_to(dw[o * Ci + i], sw, aw);
                    }
                }
                for (int b = 0; b < B; b++)
                    for (int i = 0; i < Ci; i++) {
                        double s = 0, a = 0;
                        for (int o = 0; o < Co; o++) {
                            double t = (double)dout[b * Co + o] * (double)w[o * Ci + i];
                            s += t;
                            a += fabs(t);
                        }
                        bad_dinp += !close_to(dinp[b * Ci + i], s, a);
                    }
                bad_null += memcmp(dw, dw2, nw * sizeof(float)) != 0 ||
                            memcmp(dbias, dbias2, (size_t)Co * sizeof(float)) != 0;

                free(inp); free(w); free(bias); free(out); free(dout);
                free(dinp); free(dw); free(dbias); free(dw2); free(dbias2);
            }
    CHECK(bad_fwd == 0, "%d dense_forward outputs off", bad_fwd);
    CHECK(bad_dw == 0, "%d dense_backward dw entries off", bad_dw);
    CHECK(bad_db == 0, "%d dense_backward dbias entries off", bad_db);
    CHECK(bad_dinp == 0, "%d dense_backward dinp entries off", bad_dinp);
    CHECK(bad_null == 0, "%d sizes where dinp == NULL changed dw/dbias", bad_null);

    /* relu pair: mask from the forward output */
    float x[6] = {-1.0f, 0.0f, 2.0f, -0.0f, 1e-30f, -3.0f}, y[6], dy[6], dx[6];
    for (int k = 0; k < 6; k++) dy[k] = (float)(k + 1);
    relu_forward(y, x, 6);
    relu_backward(dx, y, dy, 6);
    const float ye[6] = {0, 0, 2.0f, 0, 1e-30f, 0}, dxe[6] = {0, 0, 3.0f, 0, 5.0f, 0};
    int relu_bad = 0;
    for (int k = 0; k < 6; k++) relu_bad += y[k] != ye[k] || dx[k] != dxe[k];
    CHECK(relu_bad == 0, "relu forward/backward: %d entries off", relu_bad);
}

/* ---- 3. softmax + cross-entropy ---- */

static void test_softmax_xent(void) {
    enum { B = 6, C = 10 };
    float logits[B * C], dlogits[B * C], losses[B];
    uint8_t labels[B];
    uint32_t correct[B];
    fill_uniform(logits, B * C, -5.0f, 5.0f);
    for (int b = 0; b < B; b++) labels[b] = (uint8_t)rng_below(C);
    /* row 0: label at the maximum so "correct" is exercised both ways */
    labels[0] = 3;
    logits[0 * C + 3] = 9.0f;
    for (int k = 0; k < B * C; k++) dlogits[k] = 12345.0f;

    double mean = softmax_xent_forward_backward(dlogits, losses, correct, logits, labels, B, C);
    double want_mean = 0;
    int bad_loss = 0, bad_grad = 0, bad_sum = 0, bad_correct = 0;
    for (int b = 0; b < B; b++) {
        const float *row = logits + b * C;
        double mx = row[0], z = 0;
        int am = 0;
        for (int c = 1; c < C; c++)
            if (row[c] > mx) { mx = row[c]; am = c; }
        for (int c = 0; c < C; c++) z += exp((double)row[c] - mx);
        double p_label = exp((double)row[labels[b]] - mx) / z;
        double want = -log(p_label);
        want_mean += want;
        bad_loss += !(fabs((double)losses[b] - want) <= 1e-6 * (1.0 + want));
        double rs = 0;
        for (int c = 0; c < C; c++) {
            double p = exp((double)row[c] - mx) / z;
            double g = (p - (c == labels[b])) / B;
            bad_grad += !(fabs((double)dlogits[b * C + c] - g) <= 1e-7);
            rs += dlogits[b * C + c];
        }
        bad_sum += !(fabs(rs) < 1e-6);
        bad_correct += correct[b] != (uint32_t)(am == labels[b]);
    }
    want_mean /= B;
    CHECK(fabs(mean - want_mean) <= 1e-9 * (1.0 + want_mean), "mean loss %.17g want %.17g",
          mean, want_mean);
    CHECK(bad_loss == 0, "%d losses != -log p[label]", bad_loss);
    CHECK(bad_grad == 0, "%d dlogits != (p - y)/B", bad_grad);
    CHECK(bad_sum == 0, "%d dlogits rows do not sum to 0", bad_sum);
    CHECK(bad_correct == 0, "%d correct flags off", bad_correct);
    CHECK(correct[0] == 1, "row 0 has its label at the maximum");

    /* ties: the FIRST maximum decides */
    float tie[2 * 4] = {1.0f, 3.0f, 0.0f, 3.0f, 1.0f, 3.0f, 0.0f, 3.0f};
    uint8_t tie_labels[2] = {1, 3};
    uint32_t tie_correct[2] = {7, 7};
    softmax_xent_forward_backward(NULL, NULL, tie_correct, tie, tie_labels, 2, 4);
    CHECK(tie_correct[0] == 1 && tie_correct[1] == 0, "first maximum: got %u %u",
          tie_correct[0], tie_correct[1]);

    /* huge logits stay finite */
    float huge[3 * 4] = {1e4f, -1e4f, 0.0f, 0.0f,   /* label 1: loss 2e4 */
                         1e4f, -1e4f, 0.0f, 0.0f,   /* label 0: loss ~0 */
                         1e4f, 1e4f, 1e4f, 1e4f};   /* all equal: log 4 */
    uint8_t huge_labels[3] = {1, 0, 2};
    float hd[3 * 4], hl[3];
    uint32_t hc[3];
    double hm = softmax_xent_forward_backward(hd, hl, hc, huge, huge_labels, 3, 4);
    int hfin = isfinite(hm);
    for (int k = 0; k < 12; k++) hfin &= isfinite(hd[k]);
    for (int k = 0; k < 3; k++) hfin &= isfinite(hl[k]);
    CHECK(hfin, "huge logits give non-finite results (mean %g)", hm);
    CHECK(fabs(hl[0] - 2e4) <= 1e-2, "huge loss[0] %g want 2e4", hl[0]);
    CHECK(fabs(hl[1]) <= 1e-6, "huge loss[1] %g want 0", hl[1]);
    CHECK(fabs(hl[2] - log(4.0)) <= 1e-6, "equal huge logits loss %g want log 4", hl[2]);
    for (int b = 0; b < 3; b++) {
        double rs = hd[b * 4] + hd[b * 4 + 1] + hd[b * 4 + 2] + hd[b * 4 + 3];
        CHECK(fabs(rs) < 1e-6, "huge row %d dlogits sum %g", b, rs);
    }
    CHECK(fabs(hd[0] - 1.0 / 3) < 1e-7 && fabs(hd[1] + 1.0 / 3) < 1e-7, "huge row 0 dlogits %g %g",
          hd[0], hd[1]);
    CHECK(hc[0] == 0 && hc[1] == 1 && hc[2] == 0, "huge correct %u %u %u", hc[0], hc[1], hc[2]);
}

/* ---- 4. one SGD step ---- */

static void init_torch_like(ref_mlp *m) {
    float k1 = 1.0f / sqrtf((float)m->inputs), k2 = 1.0f / sqrtf((float)m->hidden);
    fill_uniform(m->w1, (size_t)m->hidden * m->inputs, -k1, k1);
    fill_uniform(m->b1, (size_t)m->hidden, -k1, k1);
    fill_uniform(m->w2, (size_t)m->classes * m->hidden, -k2, k2);
    fill_uniform(m->b2, (size_t)m->classes, -k2, k2);
}

/* The correct count of a batch, recomputed from the layer functions. */
static uint32_t count_correct(const ref_mlp *m, const dataset *d, uint32_t start, int B) {
    float *x = xmalloc((size_t)B * m->inputs * sizeof(float));
    float *h = xmalloc((size_t)B * m->hidden * sizeof(float));
    float *lg = xmalloc((size_t)B * m->classes * sizeof(float));
    uint32_t *cor = xmalloc((size_t)B * sizeof(uint32_t));
    uint8_t *labels = gather_labels(d, start, B);
    input_gather_forward(x, d->images, d->order, start, B, m->inputs);
    dense_forward(h, x, m->w1, m->b1, B, m->inputs, m->hidden);
    relu_forward(h, h, B * m->hidden);
    dense_forward(lg, h, m->w2, m->b2, B, m->hidden, m->classes);
    softmax_xent_forward_backward(NULL, NULL, cor, lg, labels, B, m->classes);
    uint32_t n = 0;
    for (int b = 0; b < B; b++) n += cor[b];
    free(x); free(h); free(lg); free(cor); free(labels);
    return n;
}

static void test_step(void) {
    const int I = 784, H = 12, C = 10, B = 16, N = 40;
    const uint32_t start = 9;
    dataset d = make_dataset(N, I, C, 0.0);
    uint8_t *labels = gather_labels(&d, start, B);
    size_t sizes[4];
    ref_param_sizes(sizes, I, H, C);
    size_t np = sizes[0] + sizes[1] + sizes[2] + sizes[3];
    float *params = xmalloc(np * sizeof(float)), *p0 = xmalloc(np * sizeof(float));
    float *g = xmalloc(np * sizeof(float)), *g_loss = xmalloc(np * sizeof(float));
    float *v = xmalloc(np * sizeof(float)), *v0 = xmalloc(np * sizeof(float));
    ref_mlp m;
    ref_mlp_point(&m, params, I, H, C);
    init_torch_like(&m);
    memcpy(p0, params, np * sizeof(float));

    /* input normalisation, exactly as specified */
    float *x = xmalloc((size_t)2 * I * sizeof(float));
    input_gather_forward(x, d.images, d.order, start, 2, I);
    int bad_x = 0;
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < I; k++) {
            uint8_t px = d.images[(size_t)d.order[start + b] * I + k];
            float want = ((float)px * (1.0f / 255.0f) - REF_PIXEL_MEAN) / REF_PIXEL_STD;
            bad_x += x[b * I + k] != want;
        }
    CHECK(bad_x == 0, "%d gathered inputs off", bad_x);
    free(x);

    /* plain SGD, velocity NULL */
    const float lr = 0.01f;
    double before = ref_mlp_loss(&m, g_loss, d.images, d.labels, d.order, start, B);
    uint32_t want_correct = count_correct(&m, &d, start, B);
    ref_step_result r = ref_mlp_step(&m, g, NULL, d.images, d.labels, d.order, start, B, lr, 0.0f);
    double after = ref_mlp_loss(&m, NULL, d.images, d.labels, d.order, start, B);
    printf("one step lr %.2f: loss %.6f -> %.6f\n", lr, before, after);
    CHECK(r.loss == before, "step loss %.17g != ref_mlp_loss %.17g", r.loss, before);
    CHECK(r.correct == want_correct, "step correct %u != %u", r.correct, want_correct);
    CHECK(memcmp(g, g_loss, np * sizeof(float)) == 0, "step grads differ from ref_mlp_loss's");
    CHECK(after < before, "a small step did not lower the loss: %.9f -> %.9f", before, after);
    int bad_p = 0;
    for (size_t i = 0; i < np; i++) bad_p += params[i] != p0[i] - lr * g[i];
    CHECK(bad_p == 0, "%d params != p - lr*g", bad_p);

    /* momentum: v = momentum*v + g; p -= lr*v */
    memcpy(params, p0, np * sizeof(float));
    fill_uniform(v, np, -0.01f, 0.01f);
    memcpy(v0, v, np * sizeof(float));
    const float mom = 0.9f;
    r = ref_mlp_step(&m, g, v, d.images, d.labels, d.order, start, B, lr, mom);
    CHECK(r.loss == before, "momentum step loss %.17g != %.17g", r.loss, before);
    int bad_v = 0;
    bad_p = 0;
    for (size_t i = 0; i < np; i++) {
        float vi = mom * v0[i] + g[i];
        bad_v += v[i] != vi;
        bad_p += params[i] != p0[i] - lr * vi;
    }
    CHECK(bad_v == 0, "%d velocities != momentum*v + g", bad_v);
    CHECK(bad_p == 0, "%d params != p - lr*v", bad_p);

    /* sgd_update alone: momentum 0 leaves v untouched; from v == 0 momentum's first step is plain */
    float pa[3] = {1.0f, -2.0f, 0.5f}, pb[3] = {1.0f, -2.0f, 0.5f};
    float va[3] = {0.25f, 0.5f, -1.0f}, vb[3] = {0, 0, 0}, ga[3] = {0.1f, -0.2f, 3.0f};
    sgd_update(pa, va, ga, 3, 0.5f, 0.0f);
    CHECK(va[0] == 0.25f && va[1] == 0.5f && va[2] == -1.0f, "momentum 0 touched v");
    sgd_update(pb, vb, ga, 3, 0.5f, 0.9f);
    CHECK(memcmp(pa, pb, sizeof pa) == 0 && memcmp(vb, ga, sizeof vb) == 0,
          "first momentum step from v=0 differs from plain SGD");

    free(params); free(p0); free(g); free(g_loss); free(v); free(v0); free(labels);
    free_dataset(&d);
}

/* ---- 5. tiny overfit ---- */

static void test_overfit(void) {
    const int I = 784, H = 16, C = 10, B = 8;
    /* Sparse MNIST-like images: with dense uniform noise every image shares a large common
     * component and lr 0.1 overfits only for some seeds; with ~5% lit pixels 300 of 300
     * seeds tried reached < 2% of the start in 30 steps. */
    dataset d = make_dataset(B, I, C, 0.05);
    uint8_t *labels = gather_labels(&d, 0, B);
    size_t sizes[4];
    ref_param_sizes(sizes, I, H, C);
    size_t np = sizes[0] + sizes[1] + sizes[2] + sizes[3];
    float *params = xmalloc(np * sizeof(float)), *g = xmalloc(np * sizeof(float));
    ref_mlp m;
    ref_mlp_point(&m, params, I, H, C);
    init_torch_like(&m);
    double first = 0, last = 0;
    int finite = 1;
    for (int step = 0; step < 30; step++) {
        ref_step_result r = ref_mlp_step(&m, g, NULL, d.images, d.labels, d.order, 0, B, 0.1f, 0.0f);
        if (step == 0) first = r.loss;
        finite &= isfinite(r.loss);
    }
    last = ref_mlp_loss(&m, NULL, d.images, d.labels, d.order, 0, B);
    uint32_t acc = count_correct(&m, &d, 0, B);
    printf("overfit: loss %.6f -> %.6f after 30 steps, %u/%d correct\n", first, last, acc, B);
    CHECK(finite && isfinite(last), "overfit went non-finite");
    CHECK(last < 0.1 * first, "overfit: loss %g not below 10%% of %g", last, first);
    free(params); free(g); free(labels);
    free_dataset(&d);
}

int main(void) {
    test_gradient_check();
    test_model_gradient_check();
    test_dense();
    test_softmax_xent();
    test_step();
    test_overfit();
    return check_exit("test_reference");
}
