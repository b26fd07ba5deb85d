/* wgtrain: a neural-network trainer whose every kernel is a WGSL compute shader. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"

static const char *help =
    "usage: wgtrain [COMMAND] [options]\n"
    "\n"
    "Commands:\n"
    "  train     train the MLP on MNIST (the default command)\n"
    "  devices   list the adapters WebGPU (Dawn) offers\n"
    "  check     test every kernel against the CPU reference on your adapter\n"
    "  serve     live training dashboard in the browser (http://127.0.0.1:2020)\n"
    "  eval      test accuracy, per-class accuracy and confusion matrix of a saved model\n"
    "  predict   classify PNG or PGM images with a saved model\n"
    "  bench     time training per batch size, with per-kernel GPU times\n"
    "\n"
    "'wgtrain COMMAND --help' lists a command's options.\n";

int main(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(help, stdout);
            return 0;
        }
        return cmd_train(argc - 1, argv + 1);
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train")) return cmd_train(argc - 2, argv + 2);
    if (!strcmp(cmd, "devices")) return cmd_devices(argc - 2, argv + 2);
    if (!strcmp(cmd, "check")) return cmd_check(argc - 2, argv + 2);
    if (!strcmp(cmd, "serve")) return cmd_serve(argc - 2, argv + 2);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 2, argv + 2);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc - 2, argv + 2);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc - 2, argv + 2);
    if (!strcmp(cmd, "help")) {
        fputs(help, stdout);
        return 0;
    }
    return usage_error("unknown command '%s'", cmd);
}
