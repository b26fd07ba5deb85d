/* wgtrain devices: every adapter Dawn offers, with the limits that matter here. */
#include <stdio.h>
#include <string.h>

#include "host/args.h"
#include "cli/cli.h"
#include "host/dawn_library.h"

/* "no", "yes", or "8 lanes" / "4-128 lanes": the sizes a subgroup may have, where reported */
static const char *subgroup_lanes(const gpu_adapter_info *a, char *out, size_t size) {
    if (!a->has_subgroups) return "no";
    if (!a->subgroup_min_size) return "yes";
    if (a->subgroup_min_size == a->subgroup_max_size)
        snprintf(out, size, "%u lanes", a->subgroup_min_size);
    else
        snprintf(out, size, "%u-%u lanes", a->subgroup_min_size, a->subgroup_max_size);
    return out;
}

int cmd_devices(int argc, char **argv) {
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: wgtrain devices [--json]\nLists the adapters Dawn offers (backend, type, key limits), then the CPU "
                   "engine (--device cpu), and which one --device auto trains on.\n");
            return 0;
        } else return usage_error("unknown option '%s' for devices", argv[i]);
    }
    char err[512];
    gpu_adapter_info a[32];
    int n = 0;
    bool dawn = dawn_library_open(err, sizeof err), real_gpu = false;
    if (dawn) {
        host_hold_stderr();
        n = gpu_list_adapters(a, 32);
        host_release_stderr();
    }
    for (int i = 0; i < n; i++) real_gpu = real_gpu || (a[i].backend != WGPUBackendType_Null && !gpu_adapter_is_software(&a[i]));
    uint32_t cores = host_cpu_count();
    const char *isa = cpu_isa_name(cpu_isa_available(CPU_ISA_AVX2) ? CPU_ISA_AVX2 : CPU_ISA_GENERIC);
    cJSON *list = json ? cJSON_CreateArray() : NULL;
    char lanes[48];
    for (int i = 0; i < n; i++) {
        if (json) {
            cJSON *d = cJSON_CreateObject();
            bool ok = d && json_add_string(d, "name", a[i].name) && json_add_string(d, "backend", gpu_backend_name(a[i].backend)) &&
                      json_add_string(d, "type", gpu_adapter_type_name(a[i].type)) &&
                      json_add_integer(d, "max_storage_binding", a[i].max_storage_binding) &&
                      json_add_integer(d, "max_buffer_size", a[i].max_buffer_size) &&
                      json_add_integer(d, "max_workgroup_storage", a[i].max_workgroup_storage) &&
                      json_add_integer(d, "max_invocations", a[i].max_invocations) &&
                      json_add(d, "timestamps", cJSON_CreateBool(a[i].has_timestamps)) &&
                      json_add(d, "subgroups", cJSON_CreateBool(a[i].has_subgroups)) &&
                      json_add_integer(d, "subgroup_min_size", a[i].subgroup_min_size) &&
                      json_add_integer(d, "subgroup_max_size", a[i].subgroup_max_size);
            if (!ok || !cJSON_AddItemToArray(list, d)) cJSON_Delete(d);
        } else
            printf("%d. %s\n   backend %s, %s%s\n   max storage binding %llu MiB, max buffer %llu MiB, workgroup "
                   "storage %u KiB, %u invocations/workgroup, timestamps %s, subgroups %s\n",
                   i + 1, a[i].name, gpu_backend_name(a[i].backend), gpu_adapter_type_name(a[i].type),
                   a[i].backend == WGPUBackendType_Null ? " (computes nothing; never used for training)" : "",
                   (unsigned long long)(a[i].max_storage_binding >> 20), (unsigned long long)(a[i].max_buffer_size >> 20),
                   a[i].max_workgroup_storage >> 10, a[i].max_invocations, a[i].has_timestamps ? "yes" : "no",
                   subgroup_lanes(&a[i], lanes, sizeof lanes));
    }
    /* the CPU engine is always there */
    if (json) {
        cJSON *d = cJSON_CreateObject();
        bool ok = d && json_add_string(d, "name", "cpu") && json_add_string(d, "backend", "cpu") &&
                  json_add_string(d, "type", "CPU engine") && json_add_string(d, "isa", isa) &&
                  json_add_integer(d, "threads", cores) && json_add(d, "auto", cJSON_CreateBool(!real_gpu));
        if (!ok || !cJSON_AddItemToArray(list, d)) cJSON_Delete(d);
        cli_json_line(list);
    } else {
        printf("%d. cpu: wgtrain's CPU engine (--device cpu)\n   %s kernels, %u threads by default (--threads N)\n", n + 1,
               isa, cores);
        printf("--device auto trains on %s\n", real_gpu ? "the GPU (a real adapter is offered)"
                                                         : "the CPU engine (no real GPU adapter is offered)");
    }
    if (!dawn) fprintf(stderr, "wgtrain: no GPU adapters: %s\n", err);
    return 0;
}
