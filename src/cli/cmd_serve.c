/* wgtrain serve: not written yet. */
#include "cli/args.h"
#include "cli/cli.h"

int cmd_serve(int argc, char **argv) { return runtime_error("serve: not available yet"); }
