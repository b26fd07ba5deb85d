#include "cli/args.h"
#include "cli/cli.h"
int cmd_check(int argc, char **argv) { return runtime_error("check: not yet"); }
