/* The wgtrain commands (src/cli/cmd_*.c); what they share with the server is the host layer. */
#ifndef WGTRAIN_CLI_H
#define WGTRAIN_CLI_H
#include "host/host.h"

int cmd_train(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_serve(int argc, char **argv);   /* src/cli/cmd_serve.c */
int cmd_eval(int argc, char **argv);    /* src/cli/cmd_eval.c */
int cmd_predict(int argc, char **argv); /* src/cli/cmd_predict.c */
int cmd_bench(int argc, char **argv);   /* src/cli/cmd_bench.c */
int cmd_runs(int argc, char **argv);    /* src/cli/cmd_runs.c: the run history */

/* --json output (src/cli/json_out.c): one object per line, built with cJSON so that every
 * string (adapter names, paths, messages) is escaped. */
#include "core/model.h"
#include "util/json.h"
/* Prints obj unformatted and a newline, then deletes it. NULL (out of memory): a message on
 * stderr instead. */
void cli_json_line(cJSON *obj);
/* The hidden widths as an array: [256,128]. */
cJSON *cli_json_hidden(const model_arch *arch);
#endif
