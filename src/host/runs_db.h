/* The run history: every training run (from `wgtrain train` or `wgtrain serve`) with its
 * configuration, device, every progress report and epoch, its events, its final accuracy and
 * its model path, in an SQLite database (libsqlite3). The browser trainer keeps the same
 * records in IndexedDB (web/history.js); both export through the same report template
 * (web/report.html).
 *
 * The database runs in WAL mode with synchronous=NORMAL, and every record is its own
 * transaction: a process killed mid-run (kill -9) leaves the database consistent, holding
 * every record up to the last one written. Its schema version is PRAGMA user_version
 * (RUNS_SCHEMA_VERSION); a file that is not SQLite, SQLite without this schema, or a newer
 * schema is refused with a one-line reason. */
#ifndef WGTRAIN_RUNS_DB_H
#define WGTRAIN_RUNS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/buf.h"
#include "util/json.h"

#define RUNS_SCHEMA_VERSION 1

typedef struct runs_db runs_db;

/* The default database: $XDG_DATA_HOME/wgtrain/runs.db, else ~/.local/share/wgtrain/runs.db.
 * False (err says why) when neither variable is set. */
bool runs_default_path(char *out, size_t cap, char *err, size_t errlen);

/* Opens (create: and creates, with its folder, when missing) the history at path and checks
 * its schema. NULL with a one-line reason in err on failure. */
runs_db *runs_open(const char *path, bool create, char *err, size_t errlen);
void runs_close(runs_db *db);
const char *runs_path(const runs_db *db);

/* A new run: source is "cli", "server" or "browser"; config and device are JSON objects
 * (config's "hidden", "optimizer" and "epochs" fill the list's columns). Returns its id,
 * 0 on failure (err). */
int64_t runs_begin(runs_db *db, const char *source, const cJSON *config, const cJSON *device, char *err, size_t errlen);
/* One record of a run, committed at once: kind "progress" (a report: x, loss, accuracy, ...),
 * "epoch" (an epoch record, with its confusion matrix) or "event" ({"event": ...}). */
bool runs_record(runs_db *db, int64_t run, const char *kind, const cJSON *data);
/* The last first-layer weights (the dashboard's "weights" payload), for the report's tiles. */
bool runs_set_weights(runs_db *db, int64_t run, const cJSON *weights);
/* The run's end: status "done", "stopped" or "error"; accuracy < 0 when there is none;
 * model_path NULL when no model file was written. */
bool runs_finish(runs_db *db, int64_t run, const char *status, double accuracy, const char *model_path);

/* The list: [{"id","created","source","status","model","optimizer","epochs","final_accuracy",
 * "model_path"}], newest first. NULL on failure (err). */
cJSON *runs_list(runs_db *db, char *err, size_t errlen);
/* One run with everything recorded: {"run":{...the list's fields, "config","device",
 * "finished"},"records":[{"kind","epoch","step","data"}...],"weights":... or null}.
 * *found is false (and NULL returned) when there is no such run. */
cJSON *runs_get(runs_db *db, int64_t id, bool *found, char *err, size_t errlen);
/* 1 deleted, 0 no such run, -1 failure (err). */
int runs_delete(runs_db *db, int64_t id, char *err, size_t errlen);

/* Exports of runs_get's object: JSON lines (the run, then one line per record), CSV (one row
 * per progress report, epoch and live edit: lr and momentum columns), and one self-contained HTML report (web/report.html with the
 * run's data inlined: charts, confusion matrix, weight tiles, configuration, device). */
typedef enum runs_format { RUNS_JSONL, RUNS_CSV, RUNS_HTML } runs_format;
bool runs_format_parse(const char *s, runs_format *out);
bool runs_export(const cJSON *run, runs_format f, host_buf *out, char *err, size_t errlen);

#endif

/* ---- the history flags of `wgtrain train` and `wgtrain serve` (native hosts only) ---- */
typedef struct runs_options {
    const char *path; /* --runs-db PATH; NULL: the default */
    bool off;         /* --no-history */
} runs_options;
#define RUNS_FLAGS_HELP                                                                                              \
    "  --runs-db PATH    record the run in this history (default $XDG_DATA_HOME/wgtrain/runs.db,\n"                  \
    "                    else ~/.local/share/wgtrain/runs.db); 'wgtrain runs' lists them\n"                           \
    "  --no-history      record nothing\n"
/* Consumes --runs-db or --no-history at argv[*i]: 1 consumed, 0 not such a flag, -1 after a
 * usage error. */
int runs_flag(int argc, char **argv, int *i, runs_options *o);
/* Opens the history the flags name (creating it); NULL with err "" under --no-history, NULL
 * with a reason in err on failure. */
runs_db *runs_open_options(const runs_options *o, bool create, char *err, size_t errlen);
