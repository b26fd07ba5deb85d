/* Test (a): every GPU kernel against the CPU reference at several shapes, outputs poisoned,
 * ||gpu - ref|| / ||ref|| < 1e-5 and no NaN. Same code as `wgtrain check`. */
#include <string.h>

#include "gpu_fixture.h"
#include "core/selfcheck.h"
#include "core/tiles.h"

static void report(void *user, const selfcheck_result *r) {
    CHECK(r->pass, "%s %s [%s]: rel %.3e max %.3e%s %s", r->kernel, r->tensor, r->shape, r->rel_error, r->max_abs,
          r->has_nan ? " NaN" : "", r->error);
    (*(int *)user)++;
}

int main(void) {
    gpu_context *gpu = fixture_gpu();
    if (!gpu) return check_exit("test_kernels");
    /* the tile sizes are the host's (core/tiles.h): WGSL gives them no default, so a kernel
     * compiled without the table's constants has no pipeline */
    gpu_kernel *k = NULL;
    CHECK(gpu_kernel_get(gpu, "dense_forward.wgsl", NULL, 0, &k) != GPU_OK && strstr(gpu_error(gpu), "WG"),
          "dense_forward.wgsl without its tile constants must fail, naming WG: %s", gpu_error(gpu));
    CHECK(tiles_kernel_get(gpu, "dense_forward.wgsl", NULL, 0, &k) == GPU_OK && k->workgroup_size == TILE_DENSE_WG,
          "with them: %s (workgroup %u)", gpu_error(gpu), k ? k->workgroup_size : 0);
    int results = 0;
    /* two seeds: fresh random inputs, not one lucky draw */
    int failures = selfcheck_kernels(gpu, 1, report, &results) + selfcheck_kernels(gpu, 20261127, report, &results);
    CHECK(failures == 0, "%d kernel mismatches", failures);
    CHECK(results >= 100, "expected every kernel at every shape to report, got %d results", results);
    gpu_context_destroy(gpu);
    return check_exit("test_kernels");
}
