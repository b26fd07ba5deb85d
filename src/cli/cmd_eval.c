/* wgtrain eval: not written yet. */
#include "cli/args.h"
#include "cli/cli.h"

int cmd_eval(int argc, char **argv) { return runtime_error("eval: not available yet"); }
