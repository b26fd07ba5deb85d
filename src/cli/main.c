/* wgtrain: a neural-network trainer whose every kernel is a WGSL compute shader. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "host/args.h"
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
    "  runs      the run history: list, show, delete, export (jsonl, csv, html)\n"
    "\n"
    "'wgtrain COMMAND --help' lists a command's options.\n";

/* A file-size limit (ulimit -f, RLIMIT_FSIZE) must end a run with a message, not a signal.
 *
 * SIGXFSZ is ignored, so that a write past the limit fails with EFBIG, which the checkpoint code
 * reports ("file size limit reached"). But the GPU stack is the first to meet the limit: Mesa's
 * lavapipe backs device memory with memory files, its ftruncate then fails with EFBIG and Dawn
 * touches the mapping anyway, which raises SIGBUS inside the driver. Nothing can be recovered
 * there, so when a finite limit is in force a SIGBUS handler writes one line that names the
 * limit (prepared beforehand: write() is all the handler does, which is async-signal-safe) to
 * the original stderr (kept by dup, since the CLI silences fd 2 while Dawn probes adapters) and
 * ends with exit 1. Without a finite limit SIGBUS keeps its default action: it is some other
 * fault, and a core dump says more than a guess. */
static char fsize_msg[256];
static size_t fsize_len;
static int fsize_fd = -1;

static void on_sigbus(int sig) {
    (void)sig;
    if (write(fsize_fd, fsize_msg, fsize_len) < 0) fsize_len = 0;
    _exit(1);
}

static void guard_file_size_limit(void) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
    fsize_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (fsize_fd < 0) return;
    int n = snprintf(fsize_msg, sizeof fsize_msg,
                     "wgtrain: the GPU stack failed (SIGBUS) under a file-size limit of %llu bytes (ulimit -f %llu): "
                     "its memory files cannot grow past it; raise the limit, e.g. 'ulimit -f unlimited'\n",
                     (unsigned long long)rl.rlim_cur, (unsigned long long)(rl.rlim_cur / 1024));
    if (n <= 0 || (size_t)n >= sizeof fsize_msg) return;
    fsize_len = (size_t)n;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

int main(int argc, char **argv) {
    guard_file_size_limit();
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
    if (!strcmp(cmd, "runs")) return cmd_runs(argc - 2, argv + 2);
    if (!strcmp(cmd, "help")) {
        fputs(help, stdout);
        return 0;
    }
    return usage_error("unknown command '%s'", cmd);
}
