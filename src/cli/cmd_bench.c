/* wgtrain bench: not written yet. */
#include "cli/args.h"
#include "cli/cli.h"

int cmd_bench(int argc, char **argv) { return runtime_error("bench: not available yet"); }
