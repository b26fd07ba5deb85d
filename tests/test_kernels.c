/* Test (a): every GPU kernel against the CPU reference at several shapes, outputs poisoned,
 * ||gpu - ref|| / ||ref|| < 1e-5 and no NaN. Same code as `wgtrain check`. */
#include "gpu_fixture.h"
#include "core/selfcheck.h"

static void report(void *user, const selfcheck_result *r) {
    CHECK(r->pass, "%s %s [%s]: rel %.3e max %.3e%s %s", r->kernel, r->tensor, r->shape, r->rel_error, r->max_abs,
          r->has_nan ? " NaN" : "", r->error);
    (*(int *)user)++;
}

int main(void) {
    gpu_context *gpu = fixture_gpu();
    if (!gpu) return check_exit("test_kernels");
    int results = 0;
    /* two seeds: fresh random inputs, not one lucky draw */
    int failures = selfcheck_kernels(gpu, 1, report, &results) + selfcheck_kernels(gpu, 20261127, report, &results);
    CHECK(failures == 0, "%d kernel mismatches", failures);
    CHECK(results >= 100, "expected every kernel at every shape to report, got %d results", results);
    gpu_context_destroy(gpu);
    return check_exit("test_kernels");
}
