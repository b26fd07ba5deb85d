/* --json output of the commands; see cli.h. */
#include <stdio.h>

#include "cli/cli.h"

void cli_json_line(cJSON *obj) {
    char *text = json_print(obj);
    cJSON_Delete(obj);
    if (!text) {
        fprintf(stderr, "wgtrain: out of memory writing a JSON line\n");
        return;
    }
    printf("%s\n", text);
    cJSON_free(text);
}

cJSON *cli_json_hidden(const model_arch *arch) {
    cJSON *a = cJSON_CreateArray();
    bool ok = a != NULL;
    for (uint32_t l = 0; ok && l < arch->hidden_layers; l++) ok = cJSON_AddItemToArray(a, json_integer(arch->hidden[l]));
    if (!ok) cJSON_Delete(a);
    return ok ? a : NULL;
}
