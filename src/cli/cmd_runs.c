/* wgtrain runs: the run history (host/runs_db.h) that `wgtrain train` and `wgtrain serve`
 * record: list, show, delete, export. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/ckpt.h"
#include "cli/cli.h"
#include "host/args.h"
#include "host/runs_db.h"

static const char *runs_help =
    "usage: wgtrain runs [list] [options]\n"
    "       wgtrain runs show ID [options]\n"
    "       wgtrain runs delete ID [options]\n"
    "       wgtrain runs export ID --format jsonl|csv|html -o FILE [options]\n"
    "The run history: every run of 'wgtrain train' and 'wgtrain serve' with its configuration,\n"
    "device, progress reports, epochs, events, final accuracy and model path.\n"
    "\n"
    "  --runs-db PATH    the history to read (default $XDG_DATA_HOME/wgtrain/runs.db, else\n"
    "                    ~/.local/share/wgtrain/runs.db)\n"
    "  --json            list and show: JSON instead of text\n"
    "  --format F        export: jsonl (the run, then one line per record), csv (one row per\n"
    "                    progress report, epoch and live edit) or html (one self-contained report that\n"
    "                    opens offline: charts, confusion matrix, weight tiles, configuration)\n"
    "  -o FILE           export: the file to write ('-': standard output)\n";

static bool parse_id(const char *s, int64_t *out) {
    uint64_t v;
    if (!parse_u64("run ID", s, &v)) return false;
    if (v < 1 || v > INT64_MAX) {
        usage_error("run ID must be a whole number from 1 (got %s)", s);
        return false;
    }
    *out = (int64_t)v;
    return true;
}

static const char *text_of(const cJSON *o, const char *key, const char *dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static double number_of(const cJSON *o, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static void print_accuracy(double a) {
    if (a < 0) printf("%-9s", "-");
    else printf("%-9.2f", 100 * a);
}

static int list_runs(runs_db *db, bool json) {
    char err[PATH_MAX + 256];
    cJSON *list = runs_list(db, err, sizeof err);
    if (!list) return runtime_error("%s", err);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        if (o && !json_add(o, "runs", list)) cJSON_Delete(o), o = NULL;
        cli_json_line(o);
        return 0;
    }
    if (!cJSON_GetArraySize(list)) {
        printf("no runs recorded in %s\n", runs_path(db));
        cJSON_Delete(list);
        return 0;
    }
    printf("%5s  %-20s  %-7s  %-12s  %-10s  %6s  %-9s %s\n", "id", "date (UTC)", "source", "model", "optimizer", "epochs",
           "test acc%", "model path");
    const cJSON *r;
    cJSON_ArrayForEach(r, list) {
        char date[32];
        snprintf(date, sizeof date, "%s", text_of(r, "created", "?"));
        char *t = strchr(date, 'T');
        if (t) *t = ' ';
        size_t n = strlen(date);
        if (n && date[n - 1] == 'Z') date[n - 1] = 0;
        const char *status = text_of(r, "status", "?");
        printf("%5.0f  %-20s  %-7s  %-12s  %-10s  %6.0f  ", number_of(r, "id", 0), date, text_of(r, "source", "?"),
               text_of(r, "model", "?"), text_of(r, "optimizer", "?"), number_of(r, "epochs", 0));
        print_accuracy(number_of(r, "final_accuracy", -1));
        printf(" %s%s%s%s\n", text_of(r, "model_path", "-"), strcmp(status, "done") ? " (" : "", strcmp(status, "done") ? status : "",
               strcmp(status, "done") ? ")" : "");
    }
    cJSON_Delete(list);
    return 0;
}

static void print_object(const char *title, const cJSON *o) {
    printf("%s:\n", title);
    const cJSON *m;
    cJSON_ArrayForEach(m, o) {
        char *v = cJSON_IsString(m) ? NULL : json_print(m);
        printf("  %-16s %s\n", m->string, v ? v : m->valuestring);
        cJSON_free(v);
    }
}

static int show_run(runs_db *db, int64_t id, bool json) {
    char err[PATH_MAX + 256] = "";
    bool found;
    cJSON *all = runs_get(db, id, &found, err, sizeof err);
    if (!all) return found || err[0] ? runtime_error("%s", err) : runtime_error("no run %" PRId64 " in %s", id, runs_path(db));
    if (json) {
        cli_json_line(all);
        return 0;
    }
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(all, "run");
    printf("run %" PRId64 ": %s run of %s, %s\n", id, text_of(run, "source", "?"), text_of(run, "created", "?"), text_of(run, "status", "?"));
    double acc = number_of(run, "final_accuracy", -1);
    if (acc >= 0) printf("final test accuracy: %.2f%%\n", 100 * acc);
    printf("model file: %s\n", text_of(run, "model_path", "none"));
    print_object("configuration", cJSON_GetObjectItemCaseSensitive(run, "config"));
    print_object("device", cJSON_GetObjectItemCaseSensitive(run, "device"));
    size_t reports = 0, health = 0, timed = 0;
    const cJSON *last_timed = NULL;
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(all, "records")) {
        const char *kind = text_of(r, "kind", "");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "data");
        if (!strcmp(kind, "progress")) reports++;
        else if (!strcmp(kind, "health")) health++;
        else if (!strcmp(kind, "kernel_times") && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(d, "kernels"))) timed++, last_timed = d;
        else if (!strcmp(kind, "epoch"))
            printf("Epoch %.0f: loss=%.4f train_acc=%.2f%% test_acc=%.2f%% time=%.2fs%s\n", number_of(d, "epoch", 0),
                   number_of(d, "loss", 0), 100 * number_of(d, "train_accuracy", 0), 100 * number_of(d, "test_accuracy", 0),
                   number_of(d, "seconds", 0), cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "partial")) ? " (partial)" : "");
        else if (!strcmp(kind, "event") && !strcmp(text_of(d, "event", ""), "edit")) {
            char label[96] = "";
            if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "lr"))) snprintf(label, sizeof label, "lr %.7g", number_of(d, "lr", 0));
            if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "momentum")))
                snprintf(label + strlen(label), sizeof label - strlen(label), "%smomentum %.7g", *label ? ", " : "",
                         number_of(d, "momentum", 0));
            printf("event: edit %s from step %.0f (epoch %.0f, step %.0f)\n", label, number_of(d, "step", 0) + 1,
                   number_of(d, "epoch", 0), number_of(d, "epoch_step", 0) + 1);
        } else if (!strcmp(kind, "event")) {
            const char *detail = text_of(d, "path", text_of(d, "message", text_of(d, "resumed_from", "")));
            printf("event: %s%s%s\n", text_of(d, "event", "?"), *detail ? " " : "", detail);
        }
    }
    printf("progress reports: %zu\n", reports);
    printf("health panels: %zu\n", health);
    if (last_timed) { /* the last timed step, a kernel a line as train's --kernel-times prints them */
        printf("kernel times: %zu timed report%s; the last, epoch %.0f step %.0f:\n", timed, timed == 1 ? "" : "s", number_of(last_timed, "epoch", 0),
               number_of(last_timed, "step", 0));
        const cJSON *k;
        cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(last_timed, "kernels"))
            printf("  %-32s %10.1f us\n", text_of(k, "label", text_of(k, "name", "?")), number_of(k, "us", 0));
    }
    cJSON_Delete(all);
    return 0;
}

static int delete_run(runs_db *db, int64_t id) {
    char err[PATH_MAX + 256];
    int rc = runs_delete(db, id, err, sizeof err);
    if (rc < 0) return runtime_error("%s", err);
    if (rc == 0) return runtime_error("no run %" PRId64 " in %s", id, runs_path(db));
    printf("deleted run %" PRId64 " from %s\n", id, runs_path(db));
    return 0;
}

static int export_run(runs_db *db, int64_t id, runs_format f, const char *out) {
    char err[PATH_MAX + 256] = "";
    bool found;
    cJSON *all = runs_get(db, id, &found, err, sizeof err);
    if (!all) return found || err[0] ? runtime_error("%s", err) : runtime_error("no run %" PRId64 " in %s", id, runs_path(db));
    host_buf b = {0};
    bool ok = runs_export(all, f, &b, err, sizeof err);
    cJSON_Delete(all);
    int rc = 0;
    if (!ok) rc = runtime_error("export of run %" PRId64 ": %s", id, err);
    else if (!strcmp(out, "-")) {
        if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) rc = runtime_error("cannot write the export to standard output");
    } else if (ckpt_write_atomic(out, (const uint8_t *)b.data, b.len, err, sizeof err) != CKPT_OK)
        rc = runtime_error("%s", err);
    host_buf_free(&b);
    return rc;
}

int cmd_runs(int argc, char **argv) {
    runs_options ro = {0};
    const char *action = NULL, *id_text = NULL, *format = NULL, *out = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int g = runs_flag(argc, argv, &i, &ro);
        if (g < 0) return EXIT_USAGE;
        if (g > 0) {
            if (ro.off) return usage_error("--no-history is for train and serve; runs reads a history");
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(runs_help, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (flag_is(a, "--format")) {
            if (!(format = flag_value(argc, argv, &i, "--format"))) return EXIT_USAGE;
        } else if (flag_is(a, "-o") || flag_is(a, "--output")) {
            if (!(out = flag_value(argc, argv, &i, a[1] == 'o' ? "-o" : "--output"))) return EXIT_USAGE;
            if (!*out) return usage_error("-o needs a file name");
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s' for runs", a);
        } else if (!action) {
            action = a;
        } else if (!id_text) {
            id_text = a;
        } else {
            return usage_error("runs: unexpected argument '%s'", a);
        }
    }
    if (!action) action = "list";
    bool list = !strcmp(action, "list"), show = !strcmp(action, "show"), del = !strcmp(action, "delete"), exp = !strcmp(action, "export");
    if (!list && !show && !del && !exp) return usage_error("runs: unknown action '%s' (list, show, delete or export)", action);
    if (list && id_text) return usage_error("runs list takes no run ID (got '%s')", id_text);
    if (!list && !id_text) return usage_error("runs %s needs a run ID ('wgtrain runs' lists them)", action);
    int64_t id = 0;
    if (id_text && !parse_id(id_text, &id)) return EXIT_USAGE;
    runs_format f = RUNS_JSONL;
    if (exp) {
        if (!format) return usage_error("runs export needs --format jsonl, csv or html");
        if (!runs_format_parse(format, &f)) return usage_error("--format must be jsonl, csv or html (got '%s')", format);
        if (!out) return usage_error("runs export needs -o FILE ('-' for standard output)");
    } else if (format || out) {
        return usage_error("--format and -o are for runs export");
    }
    if (json && (del || exp)) return usage_error("--json is for runs list and runs show");
    char err[PATH_MAX + 256];
    runs_db *db = runs_open_options(&ro, false, err, sizeof err);
    if (!db) {
        /* a history never written is an empty list, not an error */
        if (list && !ro.path && strstr(err, "does not exist")) {
            if (json) printf("{\"runs\":[]}\n");
            else printf("no runs recorded yet\n");
            return 0;
        }
        return runtime_error("%s", err);
    }
    int rc = list ? list_runs(db, json) : show ? show_run(db, id, json) : del ? delete_run(db, id) : export_run(db, id, f, out);
    runs_close(db);
    return rc;
}
