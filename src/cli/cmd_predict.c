/* wgtrain predict: not written yet. */
#include "cli/args.h"
#include "cli/cli.h"

int cmd_predict(int argc, char **argv) { return runtime_error("predict: not available yet"); }
