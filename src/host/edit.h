/* Live edits (core/live.h) as the hosts show and take them: the event every host publishes
 * for an applied edit (CLI --json lines, the dashboard's SSE and the browser worker's events,
 * the run history), its one-line text, and the CLI's --control lines. Portable: no I/O. */
#ifndef WGTRAIN_HOST_EDIT_H
#define WGTRAIN_HOST_EDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/mlp.h"
#include "util/json.h"

/* {"event":"edit","step":S,"epoch":E,"epoch_step":K,"x":X,"lr":..,"momentum":..,"lr_scale":..}:
 * step is the global 0-based index of the first step that ran with the edit (the steps done
 * before it), epoch the 1-based epoch it is in and epoch_step the steps of that epoch before
 * it, x = S / steps_per_epoch (the loss chart's axis, in epochs); lr and momentum appear when
 * the edit set them (lr: the learning rate of step S), lr_scale always (core/live.h). */
cJSON *host_edit_json(const mlp_edit *e, const mlp_edit_result *r, uint32_t steps_per_epoch);
/* "lr 0.01", "momentum 0.8" or "lr 0.01, momentum 0.8": the charts' annotation label. */
void host_edit_label(const mlp_edit *e, const mlp_edit_result *r, char *buf, size_t cap);

/* One line of `wgtrain train --control`: "lr X", "momentum M", both ("lr 0.01 momentum 0.8"),
 * with "=" allowed for the space ("lr=0.01"). Returns 1 for an edit, 0 for a blank line or a
 * # comment, -1 with a one-line message in err. Only the numbers are checked here; their
 * ranges are the engine's (mlp_edit_hparams). */
int host_edit_parse_line(const char *line, mlp_edit *out, char *err, size_t errlen);

#endif
