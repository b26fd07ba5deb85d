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
#endif
