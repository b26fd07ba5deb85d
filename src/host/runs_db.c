/* The run history in SQLite; see runs_db.h. */
#include "host/runs_db.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gpu/embedded.h"

struct runs_db {
    sqlite3 *db;
    char path[PATH_MAX];
};

static const char *const schema =
    "CREATE TABLE runs("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " model TEXT, optimizer TEXT, epochs INTEGER,"
    " config TEXT NOT NULL, device TEXT,"
    " final_accuracy REAL, model_path TEXT, finished TEXT, weights TEXT);"
    "CREATE TABLE records("
    " run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " epoch INTEGER, step INTEGER,"
    " data TEXT NOT NULL,"
    " PRIMARY KEY(run, seq)) WITHOUT ROWID;"
    "PRAGMA user_version = 1;";

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* sqlite's reason, in the words a user needs */
static void db_err(const runs_db *d, char *err, size_t errlen, const char *what) {
    int code = sqlite3_extended_errcode(d->db) & 0xff;
    if (code == SQLITE_NOTADB)
        set_err(err, errlen, "%s: not a wgtrain run history (not an SQLite database)", d->path);
    else if (code == SQLITE_CORRUPT)
        set_err(err, errlen, "%s: the run history is corrupt (%s); move it aside to start a new one", d->path,
                sqlite3_errmsg(d->db));
    else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        set_err(err, errlen, "%s: the run history is locked by another process (%s)", d->path, sqlite3_errmsg(d->db));
    else
        set_err(err, errlen, "%s: %s: %s", d->path, what, sqlite3_errmsg(d->db));
}

bool runs_default_path(char *out, size_t cap, char *err, size_t errlen) {
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/') n = snprintf(out, cap, "%s/wgtrain/runs.db", xdg);
    else if (home && *home) n = snprintf(out, cap, "%s/.local/share/wgtrain/runs.db", home);
    else {
        set_err(err, errlen, "no place for the run history: neither XDG_DATA_HOME nor HOME is set (pass --runs-db PATH or --no-history)");
        return false;
    }
    if (n < 0 || (size_t)n >= cap) {
        set_err(err, errlen, "the run history's default path is too long (pass --runs-db PATH)");
        return false;
    }
    return true;
}

/* mkdir -p of path's folder */
static bool make_parent(const char *path, char *err, size_t errlen) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return true;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            set_err(err, errlen, "cannot create %s for the run history: %s", dir, strerror(errno));
            return false;
        }
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        set_err(err, errlen, "cannot create %s for the run history: %s", dir, strerror(errno));
        return false;
    }
    return true;
}

static bool exec(runs_db *d, const char *sql, char *err, size_t errlen) {
    if (sqlite3_exec(d->db, sql, NULL, NULL, NULL) == SQLITE_OK) return true;
    db_err(d, err, errlen, "cannot prepare the run history");
    return false;
}

/* the tables hold the columns this code reads and writes */
static bool schema_fits(runs_db *d) {
    static const char *const probes[] = {
        "SELECT id, created, source, status, model, optimizer, epochs, config, device, final_accuracy, model_path, "
        "finished, weights FROM runs LIMIT 0",
        "SELECT run, seq, kind, epoch, step, data FROM records LIMIT 0",
    };
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(d->db, probes[i], -1, &st, NULL);
        sqlite3_finalize(st);
        if (rc != SQLITE_OK) return false;
    }
    return true;
}

static int query_int(runs_db *d, const char *sql, int64_t *out) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0), rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

runs_db *runs_open(const char *path, bool create, char *err, size_t errlen) {
    if (!path || !*path) {
        set_err(err, errlen, "the run history needs a file name");
        return NULL;
    }
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode)) {
        set_err(err, errlen, "%s: is a folder, expected a run history file", path);
        return NULL;
    }
    if (exists && !S_ISREG(sb.st_mode)) {
        set_err(err, errlen, "%s: not a regular file, expected a run history file", path);
        return NULL;
    }
    if (!exists && !create) {
        set_err(err, errlen, "%s: no run history there (the file does not exist)", path);
        return NULL;
    }
    runs_db *d = calloc(1, sizeof *d);
    if (!d) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(d->path, sizeof d->path, "%s", path);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(path, &d->db, flags, NULL) != SQLITE_OK) {
        set_err(err, errlen, "%s: cannot open the run history: %s", path, d->db ? sqlite3_errmsg(d->db) : "out of memory");
        runs_close(d);
        return NULL;
    }
    sqlite3_extended_result_codes(d->db, 1);
    sqlite3_busy_timeout(d->db, 5000);
    int64_t version = 0, objects = 0;
    if (query_int(d, "PRAGMA user_version", &version) != SQLITE_OK ||
        query_int(d, "SELECT count(*) FROM sqlite_master", &objects) != SQLITE_OK) {
        db_err(d, err, errlen, "cannot read the run history");
        runs_close(d);
        return NULL;
    }
    if (version > RUNS_SCHEMA_VERSION) {
        set_err(err, errlen, "%s: run history schema version %lld is newer than this wgtrain's (%d): use a newer wgtrain", path,
                (long long)version, RUNS_SCHEMA_VERSION);
        runs_close(d);
        return NULL;
    }
    if (version == 0 && objects > 0) {
        set_err(err, errlen, "%s: an SQLite database, but not a wgtrain run history (no wgtrain schema in it)", path);
        runs_close(d);
        return NULL;
    }
    if (version == RUNS_SCHEMA_VERSION && !schema_fits(d)) {
        set_err(err, errlen, "%s: an SQLite database with schema version %d, but its tables are not wgtrain's run history", path,
                RUNS_SCHEMA_VERSION);
        runs_close(d);
        return NULL;
    }
    /* WAL: a reader never waits for the writer, and a killed writer loses only what it had not
     * committed; NORMAL: commits are not synced one by one (a power cut may lose the last few,
     * a killed process none) */
    if (!exec(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", err, errlen)) {
        runs_close(d);
        return NULL;
    }
    if (version == 0) {
        bool ok = exec(d, "BEGIN IMMEDIATE", err, errlen);
        int64_t again = 0;
        /* another process may have created it meanwhile */
        if (ok && query_int(d, "PRAGMA user_version", &again) == SQLITE_OK && again == 0) ok = exec(d, schema, err, errlen);
        if (ok) ok = exec(d, "COMMIT", err, errlen);
        else sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        if (!ok) {
            runs_close(d);
            return NULL;
        }
    }
    return d;
}

void runs_close(runs_db *d) {
    if (!d) return;
    sqlite3_close(d->db);
    free(d);
}

const char *runs_path(const runs_db *d) { return d->path; }

static char *print(const cJSON *j) { return j ? json_print(j) : NULL; }

static const char *str_member(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t runs_begin(runs_db *d, const char *source, const cJSON *config, const cJSON *device, char *err, size_t errlen) {
    char *cfg = print(config), *dev = print(device);
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    const cJSON *epochs = cJSON_GetObjectItemCaseSensitive(config, "epochs");
    if (cfg &&
        sqlite3_prepare_v2(d->db,
                           "INSERT INTO runs(created, source, status, model, optimizer, epochs, config, device) "
                           "VALUES(strftime('%Y-%m-%dT%H:%M:%SZ','now'), ?, 'running', ?, ?, ?, ?, ?)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, source, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, str_member(config, "hidden"), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, str_member(config, "optimizer"), -1, SQLITE_TRANSIENT);
        if (cJSON_IsNumber(epochs)) sqlite3_bind_int64(st, 4, (int64_t)epochs->valuedouble);
        sqlite3_bind_text(st, 5, cfg, -1, SQLITE_TRANSIENT);
        if (dev) sqlite3_bind_text(st, 6, dev, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_DONE) id = sqlite3_last_insert_rowid(d->db);
    }
    if (!id) {
        if (cfg) db_err(d, err, errlen, "cannot record the run");
        else set_err(err, errlen, "out of memory");
    }
    sqlite3_finalize(st);
    cJSON_free(cfg);
    cJSON_free(dev);
    return id;
}

static int64_t member_int(const cJSON *o, const char *key, int64_t dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

bool runs_record(runs_db *d, int64_t run, const char *kind, const cJSON *data) {
    char *text = print(data);
    if (!text) return false;
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(d->db,
                                 "INSERT INTO records(run, seq, kind, epoch, step, data) "
                                 "VALUES(?1, (SELECT coalesce(max(seq), 0) + 1 FROM records WHERE run = ?1), ?2, ?3, ?4, ?5)",
                                 -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        int64_t e = member_int(data, "epoch", -1), s = member_int(data, "step", -1);
        if (e >= 0) sqlite3_bind_int64(st, 3, e);
        if (s >= 0) sqlite3_bind_int64(st, 4, s);
        sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    cJSON_free(text);
    return ok;
}

bool runs_set_weights(runs_db *d, int64_t run, const cJSON *weights) {
    char *text = print(weights);
    if (!text) return false;
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(d->db, "UPDATE runs SET weights = ? WHERE id = ?", -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, run);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    cJSON_free(text);
    return ok;
}

bool runs_finish(runs_db *d, int64_t run, const char *status, double accuracy, const char *model_path) {
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(d->db,
                                 "UPDATE runs SET status = ?, final_accuracy = ?, model_path = ?, "
                                 "finished = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?",
                                 -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
        if (accuracy >= 0 && isfinite(accuracy)) sqlite3_bind_double(st, 2, accuracy);
        if (model_path) sqlite3_bind_text(st, 3, model_path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, run);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return ok;
}

/* ---- reading ---- */

/* a column as JSON: text as a string, numbers as numbers, NULL as null */
static cJSON *column(sqlite3_stmt *st, int i) {
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return json_integer((unsigned long long)sqlite3_column_int64(st, i));
    case SQLITE_FLOAT: return json_number(sqlite3_column_double(st, i), 7);
    case SQLITE_TEXT: return json_string((const char *)sqlite3_column_text(st, i));
    default: return cJSON_CreateNull();
    }
}

/* a JSON text column parsed (null when empty or not JSON: the run is still shown) */
static cJSON *json_column(sqlite3_stmt *st, int i) {
    const char *t = (const char *)sqlite3_column_text(st, i);
    cJSON *v = t ? cJSON_Parse(t) : NULL;
    return v ? v : cJSON_CreateNull();
}

#define LIST_COLUMNS "id, created, source, status, model, optimizer, epochs, final_accuracy, model_path"
static const char *const list_names[] = {"id", "created", "source", "status", "model", "optimizer", "epochs", "final_accuracy",
                                         "model_path"};
#define LIST_N 9

static cJSON *list_row(sqlite3_stmt *st) {
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    for (int i = 0; ok && i < LIST_N; i++) ok = json_add(o, list_names[i], column(st, i));
    if (!ok) cJSON_Delete(o);
    return ok ? o : NULL;
}

cJSON *runs_list(runs_db *d, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    cJSON *list = cJSON_CreateArray();
    int rc = list ? sqlite3_prepare_v2(d->db, "SELECT " LIST_COLUMNS " FROM runs ORDER BY id DESC", -1, &st, NULL) : SQLITE_NOMEM;
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rc = cJSON_AddItemToArray(list, list_row(st)) ? SQLITE_OK : SQLITE_NOMEM;
    }
    if (rc != SQLITE_DONE) {
        db_err(d, err, errlen, "cannot read the run history");
        cJSON_Delete(list);
        list = NULL;
    }
    sqlite3_finalize(st);
    return list;
}

cJSON *runs_get(runs_db *d, int64_t id, bool *found, char *err, size_t errlen) {
    *found = false;
    sqlite3_stmt *st = NULL;
    cJSON *o = cJSON_CreateObject(), *run = NULL, *records = NULL, *weights = NULL;
    int rc = o ? sqlite3_prepare_v2(d->db, "SELECT " LIST_COLUMNS ", config, device, finished, weights FROM runs WHERE id = ?", -1,
                                    &st, NULL)
               : SQLITE_NOMEM;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *found = true;
            run = list_row(st);
            bool ok = run && json_add(run, "config", json_column(st, LIST_N)) && json_add(run, "device", json_column(st, LIST_N + 1)) &&
                      json_add(run, "finished", column(st, LIST_N + 2));
            weights = ok ? json_column(st, LIST_N + 3) : NULL;
            rc = ok && weights ? SQLITE_OK : SQLITE_NOMEM;
        } else if (rc == SQLITE_DONE) {
            sqlite3_finalize(st);
            cJSON_Delete(o);
            return NULL;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK) {
        rc = json_add(o, "run", run) && json_add(o, "records", (records = cJSON_CreateArray())) && json_add(o, "weights", weights)
                 ? SQLITE_OK
                 : SQLITE_NOMEM;
        run = weights = NULL;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(d->db, "SELECT kind, data FROM records WHERE run = ? ORDER BY seq", -1, &st, NULL);
    if (rc == SQLITE_OK) sqlite3_bind_int64(st, 1, id);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *r = cJSON_CreateObject();
        bool ok = r && json_add(r, "kind", column(st, 0)) && json_add(r, "data", json_column(st, 1)) && cJSON_AddItemToArray(records, r);
        if (!ok) cJSON_Delete(r);
        rc = ok ? SQLITE_OK : SQLITE_NOMEM;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_NOMEM) set_err(err, errlen, "out of memory");
        else db_err(d, err, errlen, "cannot read the run history");
        cJSON_Delete(run);
        cJSON_Delete(weights);
        cJSON_Delete(o);
        *found = false;
        return NULL;
    }
    return o;
}

int runs_delete(runs_db *d, int64_t id, char *err, size_t errlen) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->db, "DELETE FROM runs WHERE id = ?", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        db_err(d, err, errlen, "cannot delete the run");
        return -1;
    }
    return sqlite3_changes(d->db) > 0 ? 1 : 0;
}

/* ---- exports ---- */

bool runs_format_parse(const char *s, runs_format *out) {
    if (!strcmp(s, "jsonl")) *out = RUNS_JSONL;
    else if (!strcmp(s, "csv")) *out = RUNS_CSV;
    else if (!strcmp(s, "html")) *out = RUNS_HTML;
    else return false;
    return true;
}

static void put_json(host_buf *b, const cJSON *j) {
    char *t = json_print(j);
    if (!t) {
        b->oom = true;
        return;
    }
    host_buf_puts(b, t);
    cJSON_free(t);
}

static bool export_jsonl(const cJSON *all, host_buf *b) {
    cJSON *head = cJSON_CreateObject();
    bool ok = head && cJSON_AddItemToObject(head, "type", cJSON_CreateString("run"));
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(all, "run")) {
        if (ok) ok = cJSON_AddItemToObject(head, m->string, cJSON_Duplicate(m, true));
    }
    ok = ok && cJSON_AddItemToObject(head, "weights", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(all, "weights"), true));
    if (ok) put_json(b, head), host_buf_puts(b, "\n");
    cJSON_Delete(head);
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(all, "records")) {
        if (!ok) break;
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(r, "data");
        cJSON *line = cJSON_CreateObject();
        ok = line && cJSON_AddItemToObject(line, "type", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r, "kind"), false));
        cJSON_ArrayForEach(m, data) {
            if (!ok) break;
            if (!strcmp(m->string, "type")) continue;
            ok = cJSON_AddItemToObject(line, m->string, cJSON_Duplicate(m, true));
        }
        if (ok) put_json(b, line), host_buf_puts(b, "\n");
        cJSON_Delete(line);
    }
    return ok && !b->oom;
}

static void csv_number(host_buf *b, const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    host_buf_puts(b, ",");
    if (cJSON_IsNumber(v)) host_buf_printf(b, "%.9g", v->valuedouble);
}

static bool export_csv(const cJSON *all, host_buf *b) {
    host_buf_puts(b, "kind,epoch,step,x,loss,accuracy,test_loss,test_accuracy,seconds,samples_per_second,lr,momentum\n");
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(all, "records")) {
        const char *kind = str_member(r, "kind");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "data");
        bool progress = kind && !strcmp(kind, "progress"), epoch = kind && !strcmp(kind, "epoch");
        /* a live edit (host/edit.h): where it took effect (step: of its epoch, as a report's) and its values */
        const char *event = kind && !strcmp(kind, "event") ? str_member(d, "event") : NULL;
        if (event && !strcmp(event, "edit")) {
            host_buf_puts(b, "edit");
            csv_number(b, d, "epoch");
            csv_number(b, d, "epoch_step");
            csv_number(b, d, "x");
            host_buf_puts(b, ",,,,,,");
            csv_number(b, d, "lr");
            csv_number(b, d, "momentum");
            host_buf_puts(b, "\n");
            continue;
        }
        if (!progress && !epoch) continue;
        host_buf_puts(b, kind);
        csv_number(b, d, "epoch");
        csv_number(b, d, "step");
        if (epoch && !cJSON_GetObjectItemCaseSensitive(d, "x")) csv_number(b, d, "epoch"); /* a whole epoch ends at x = epoch */
        else csv_number(b, d, "x");
        csv_number(b, d, "loss");
        csv_number(b, d, progress ? "accuracy" : "train_accuracy");
        csv_number(b, d, "test_loss");
        csv_number(b, d, "test_accuracy");
        csv_number(b, d, "seconds");
        csv_number(b, d, "samples_per_second");
        host_buf_puts(b, ",,\n");
    }
    return !b->oom;
}

#define REPORT_SLOT "__WGTRAIN_RUN_DATA__"

static bool export_html(const cJSON *all, host_buf *b, char *err, size_t errlen) {
    const embedded_file *t = embedded_find(web_files, "report.html");
    const char *slot = t ? strstr(t->data, REPORT_SLOT) : NULL;
    if (!slot) {
        set_err(err, errlen, "the report template (web/report.html) is missing from this build");
        return false;
    }
    char *json = json_print(all);
    if (!json) return false;
    host_buf_append(b, t->data, (size_t)(slot - t->data));
    /* inside <script>: no '<' at all, so that neither </script> nor <!-- can occur (JSON
     * reads \u003c as '<') */
    for (const char *p = json; *p; p++) {
        if (*p == '<') host_buf_puts(b, "\\u003c");
        else host_buf_append(b, p, 1);
    }
    cJSON_free(json);
    host_buf_puts(b, slot + strlen(REPORT_SLOT));
    return !b->oom;
}

bool runs_export(const cJSON *run, runs_format f, host_buf *out, char *err, size_t errlen) {
    bool ok = f == RUNS_JSONL ? export_jsonl(run, out) : f == RUNS_CSV ? export_csv(run, out) : export_html(run, out, err, errlen);
    if (!ok && err && !*err) set_err(err, errlen, "out of memory");
    return ok;
}

/* ---- flags ---- */

#include "host/args.h"

int runs_flag(int argc, char **argv, int *i, runs_options *o) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--no-history")) {
        if (o->path) return usage_error("--no-history and --runs-db exclude each other"), -1;
        o->off = true;
        return 1;
    }
    if (flag_is(a, "--runs-db")) {
        if (!(v = flag_value(argc, argv, i, "--runs-db"))) return -1;
        if (!*v) return usage_error("--runs-db needs a file name"), -1;
        if (o->off) return usage_error("--no-history and --runs-db exclude each other"), -1;
        o->path = v;
        return 1;
    }
    return 0;
}

runs_db *runs_open_options(const runs_options *o, bool create, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (o->off) return NULL;
    char path[PATH_MAX];
    if (o->path) snprintf(path, sizeof path, "%s", o->path);
    else if (!runs_default_path(path, sizeof path, err, errlen)) return NULL;
    /* the default's folders are made; a given path's folder must exist */
    if (!o->path && create && !make_parent(path, err, errlen)) return NULL;
    if (o->path && create) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        struct stat sb;
        if (slash) {
            *(slash == dir ? slash + 1 : slash) = 0;
            if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                set_err(err, errlen, "--runs-db %s: folder '%s' does not exist", path, dir);
                return NULL;
            }
        }
    }
    return runs_open(path, create, err, errlen);
}
