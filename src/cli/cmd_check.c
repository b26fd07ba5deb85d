/* wgtrain check: every kernel against the CPU reference, on the user's own adapter. */
#include <stdio.h>
#include <string.h>

#include "host/args.h"
#include "cli/cli.h"
#include "core/selfcheck.h"

typedef struct check_state {
    bool json, verbose;
    int printed;
} check_state;

static void report(void *user, const selfcheck_result *r) {
    check_state *s = user;
    if (s->json) {
        cJSON *j = cJSON_CreateObject();
        bool ok = j && json_add_string(j, "kernel", r->kernel) && json_add_string(j, "tensor", r->tensor) &&
                  json_add_string(j, "shape", r->shape) && json_add_number(j, "rel_error", r->rel_error, 4) &&
                  json_add_number(j, "max_abs", r->max_abs, 4) && json_add(j, "nan", cJSON_CreateBool(r->has_nan)) &&
                  json_add(j, "pass", cJSON_CreateBool(r->pass)) && (!r->error[0] || json_add_string(j, "error", r->error));
        if (!ok) cJSON_Delete(j), j = NULL;
        cli_json_line(j);
        return;
    }
    if (r->error[0]) {
        printf("FAIL %-29s %-18s %s\n", r->kernel, r->shape, r->error);
        return;
    }
    printf("%s %-29s %-10s %-40s rel %.2e  max |d| %.2e%s\n", r->pass ? "ok  " : "FAIL", r->kernel, r->tensor,
           r->shape, r->rel_error, r->max_abs, r->has_nan ? "  NaN!" : "");
}

int cmd_check(int argc, char **argv) {
    host_gpu_options o = {0};
    check_state st = {false, false, 0};
    uint64_t seed = 1;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int g = host_gpu_flag(argc, argv, &i, &o);
        if (g < 0) return EXIT_USAGE;
        if (g > 0) continue;
        if (!strcmp(argv[i], "--json")) st.json = true;
        else if (flag_is(argv[i], "--seed")) {
            if (!(v = flag_value(argc, argv, &i, "--seed")) || !parse_u64("--seed", v, &seed)) return EXIT_USAGE;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: wgtrain check [--seed N] [--json] [--adapter NAME] [--backend B] [--kernels-dir DIR]\n"
                   "Runs every kernel on random inputs at several shapes and compares it with the CPU reference\n"
                   "(pass: ||gpu-ref||/||ref|| < %g, no NaN), then GPU training steps against CPU steps.\n",
                   SELFCHECK_TOLERANCE);
            return 0;
        } else return usage_error("unknown option '%s' for check", argv[i]);
    }
    gpu_context *gpu = host_gpu_open(&o);
    if (!gpu) return 1;
    if (!st.json) printf("adapter: %s (%s)\n", gpu_info(gpu)->name, gpu_backend_name(gpu_info(gpu)->backend));
    int failures = selfcheck_kernels(gpu, seed, report, &st);
    failures += selfcheck_steps(gpu, seed, report, &st);
    gpu_context_destroy(gpu);
    if (!st.json) printf("%s: %d failure%s\n", failures ? "FAILED" : "all kernels match the CPU reference", failures,
                         failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
