#!/usr/bin/env bash
# The run history (src/host/runs_db.c, wgtrain runs): train records a run with its
# configuration, reports, epochs, events, accuracy and model path; runs lists, shows, deletes
# and exports it (jsonl, csv, html); a kill -9 mid-run leaves a database that opens, passes
# PRAGMA integrity_check and holds the reports up to the kill; a corrupt or foreign file is one
# line and a non-zero exit, never a crash. Every database lives under build/test-runs.
source "$(dirname "$0")/lib.sh"
DIR="$ROOT/build/test-runs"
rm -rf "$DIR" && mkdir -p "$DIR"
DB="$DIR/runs.db"
py() { python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); $2" "$@"; }

# two short runs, one saved
"$WGTRAIN" train --epochs 2 --train-limit 2000 --report-every 4 --runs-db "$DB" --save "$DIR/m.safetensors" >"$TMP/a.out" 2>&1 \
  && ok "train records into $DB" || bad "train --runs-db failed: $(cat "$TMP/a.out")"
grep -q "^Recorded: run 1 in $DB" "$TMP/a.out" && ok "train says which run it recorded" || bad "no Recorded line: $(tail -2 "$TMP/a.out")"
"$WGTRAIN" train --epochs 1 --train-limit 1000 --optimizer adam --lr 0.001 --hidden 64,32 --json --runs-db "$DB" >"$TMP/b.json" 2>&1 \
  && "$WGTRAIN" runs --json --runs-db "$DB" | grep -q '^{"runs":\[{"id":2,.*"source":"cli","status":"done","model":"64,32","optimizer":"adam","epochs":1,' \
  && ok "a --json run is recorded too (runs --json lists it first)" || bad "second run: $(tail -2 "$TMP/b.json")"
[ "$(py "$DB" 'print(c.execute("PRAGMA journal_mode").fetchone()[0], c.execute("PRAGMA user_version").fetchone()[0])' )" = "wal 1" ] \
  && ok "WAL mode, schema version 1" || bad "journal mode / user_version: $(py "$DB" 'print(c.execute("PRAGMA journal_mode").fetchone())')"

# list
"$WGTRAIN" runs --runs-db "$DB" >"$TMP/list" 2>&1 || bad "runs list failed"
acc1=$(grep '"event":"done"' "$TMP/b.json" | sed -E 's/.*"test_accuracy":([0-9.]+).*/\1/')
grep -Eq "^ +1 +20[0-9-]+ [0-9:]+ +cli +128 +momentum +2 +[0-9]+\.[0-9]{2} +$DIR/m.safetensors$" "$TMP/list" \
  && ok "list: run 1 with its date, model, optimizer, epochs, accuracy, model path" || bad "list row 1: $(cat "$TMP/list")"
grep -Eq "^ +2 .* 64,32 +adam +1 +$(awk "BEGIN{printf \"%.2f\", 100*$acc1}") +-$" "$TMP/list" \
  && ok "list: run 2 (no model file) with the accuracy train printed" || bad "list row 2 (acc $acc1): $(cat "$TMP/list")"
[ "$(sed -n 2p "$TMP/list" | awk '{print $1}')" = 2 ] && ok "newest first" || bad "order: $(cat "$TMP/list")"

# show: configuration, device, epochs, events, every report
"$WGTRAIN" runs show 1 --runs-db "$DB" >"$TMP/show" 2>&1 || bad "runs show 1 failed"
n_reports=$(py "$DB" 'print(c.execute("select count(*) from records where run=1 and kind=\"progress\"").fetchone()[0])')
grep -q "^progress reports: $n_reports$" "$TMP/show" && [ "$n_reports" -ge 8 ] && ok "show: $n_reports progress reports" || bad "show reports ($n_reports): $(cat "$TMP/show")"
[ "$(grep -c '^Epoch [12]: loss=' "$TMP/show")" = 2 ] && grep -q '^  batch  *64$' "$TMP/show" && grep -Eq '^  (backend|engine) ' "$TMP/show" \
  && grep -q "^event: saved $DIR/m.safetensors$" "$TMP/show" && ok "show: epochs, configuration, device, events" || bad "show: $(cat "$TMP/show")"
"$WGTRAIN" runs show 1 --json --runs-db "$DB" | node -e '
const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
const ep = r.records.filter((x) => x.kind === "epoch");
if (r.run.config.epochs !== 2 || ep.length !== 2 || ep[1].data.confusion.flat().reduce((a, b) => a + b) !== 10000 || !r.weights || r.weights.tiles !== 128) process.exit(1);' \
  && ok "show --json: config, two epochs with confusion matrices of the test set, weight tiles" || bad "show --json"

grep -q "^health panels: $n_reports$" "$TMP/show" && ! grep -q "^kernel times" "$TMP/show" \
  && ok "show: a health panel per report, no kernel times (not asked for)" || bad "show health: $(tail -3 "$TMP/show")"
# kernel times, when train measures them (the WGSL kernels on lavapipe): recorded and shown
"$WGTRAIN" train --device gpu --epochs 1 --train-limit 640 --report-every 5 --kernel-times --no-health --runs-db "$DIR/kt.db" >/dev/null 2>&1
"$WGTRAIN" runs show 1 --runs-db "$DIR/kt.db" >"$TMP/kt-show" 2>&1
grep -q "^health panels: 0$" "$TMP/kt-show" && grep -q "^kernel times: 2 timed reports; the last, epoch 1 step 10:$" "$TMP/kt-show" \
  && [ "$(grep -Ec '^  (input_gather|dense_forward layer [12]|softmax_xent_backward|dense_backward layer [12]|optimizer) +[0-9.]+ us$' "$TMP/kt-show")" = 7 ] \
  && ok "show: the kernel times of the last timed step, a kernel a line" || bad "show kernel times: $(cat "$TMP/kt-show")"

# exports
"$WGTRAIN" runs export 1 --format csv -o "$DIR/r1.csv" --runs-db "$DB" || bad "csv export failed"
[ "$(head -1 "$DIR/r1.csv")" = "kind,epoch,step,x,loss,accuracy,test_loss,test_accuracy,seconds,samples_per_second,lr,momentum" ] \
  && [ "$(grep -c '^progress,' "$DIR/r1.csv")" = "$n_reports" ] && [ "$(grep -c '^epoch,' "$DIR/r1.csv")" = 2 ] \
  && ok "csv: a header, $n_reports report rows, 2 epoch rows" || bad "csv: $(head -3 "$DIR/r1.csv")"
"$WGTRAIN" runs export 1 --format jsonl -o "$DIR/r1.jsonl" --runs-db "$DB" || bad "jsonl export failed"
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const t = (k) => lines.filter((l) => l.type === k).length;
if (lines[0].type !== "run" || lines[0].id !== 1 || t("progress") !== +process.argv[2] || t("epoch") !== 2 || t("event") < 2) process.exit(1);
/* the health panel of every report, as train --json prints it */
const h = lines.filter((l) => l.type === "health");
if (h.length !== +process.argv[2] || !h.every((x) => x.layers.length === 2 && x.layers[0].weight === "0.weight" && x.layers[0].grad_norm > 0)) process.exit(2);' "$DIR/r1.jsonl" "$n_reports" \
  && ok "jsonl: the run, then every record (a health panel per report)" || bad "jsonl: $(head -c 300 "$DIR/r1.jsonl")"
"$WGTRAIN" runs export 1 --format html -o "$DIR/report.html" --runs-db "$DB" || bad "html export failed"
! grep -q "__WGTRAIN_RUN_DATA__" "$DIR/report.html" && ! grep -Eiq '(src|href)="(https?:)?//' "$DIR/report.html" \
  && ! grep -Eq '<(link|img|iframe)[ >]' "$DIR/report.html" && [ "$(grep -c '</script>' "$DIR/report.html")" = 2 ] \
  && ok "html: data inlined, no external file" || bad "html report is not self-contained"
"$WGTRAIN" runs export 2 --format csv -o - --runs-db "$DB" | grep -q '^epoch,1,' && ok "export -o - writes to stdout" || bad "export to stdout"

# delete
"$WGTRAIN" runs delete 2 --runs-db "$DB" | grep -q "^deleted run 2 from" && ok "delete 2" || bad "delete 2"
"$WGTRAIN" runs --runs-db "$DB" | grep -Eq '^ +2 ' && bad "run 2 still listed" || ok "run 2 is gone from the list"
[ "$(py "$DB" 'print(c.execute("select count(*) from records where run=2").fetchone()[0])')" = 0 ] && ok "its records went with it" || bad "records of run 2 left"
expect_error 1 "no run 2 in" -- runs delete 2 --runs-db "$DB"
expect_error 1 "no run 99 in" -- runs show 99 --runs-db "$DB"
expect_error 1 "no run 99 in" -- runs export 99 --format csv -o "$DIR/x.csv" --runs-db "$DB"

# bad flags and arguments
expect_error 2 "run ID: 'abc' is not a whole number" -- runs show abc --runs-db "$DB"
expect_error 2 "run ID must be a whole number from 1" -- runs show 0 --runs-db "$DB"
expect_error 2 "runs show needs a run ID" -- runs show --runs-db "$DB"
expect_error 2 "unknown action 'rm'" -- runs rm 1 --runs-db "$DB"
expect_error 2 "--format must be jsonl, csv or html \(got 'xml'\)" -- runs export 1 --format xml -o "$DIR/x" --runs-db "$DB"
expect_error 2 "runs export needs --format" -- runs export 1 -o "$DIR/x" --runs-db "$DB"
expect_error 2 "runs export needs -o FILE" -- runs export 1 --format csv --runs-db "$DB"
expect_error 2 "unknown option '--bogus' for runs" -- runs --bogus
expect_error 1 "folder .* does not exist|No such file" -- runs export 1 --format csv -o "$DIR/nowhere/x.csv" --runs-db "$DB"
expect_error 2 "--no-history and --runs-db exclude each other" -- train --no-history --runs-db "$DB" --epochs 1
expect_error 2 "--runs-db needs a file name" -- train --runs-db= --epochs 1
expect_error 1 "no run history there \(the file does not exist\)" -- runs --runs-db "$DIR/missing.db"
expect_error 1 "folder '$DIR/nowhere' does not exist" -- train --epochs 1 --train-limit 500 --runs-db "$DIR/nowhere/r.db"
expect_error 1 "is a folder, expected a run history file" -- train --epochs 1 --train-limit 500 --runs-db "$DIR"
rm -rf "$XDG_DATA_HOME/wgtrain"
"$WGTRAIN" train --epochs 1 --train-limit 500 --no-history >"$TMP/nh" 2>&1 && [ ! -e "$XDG_DATA_HOME/wgtrain/runs.db" ] && ! grep -q Recorded "$TMP/nh" \
  && ok "--no-history records nothing" || bad "--no-history: $(cat "$TMP/nh")"
"$WGTRAIN" train --epochs 1 --train-limit 500 >"$TMP/dflt" 2>&1 && grep -q "^Recorded: run 1 in $XDG_DATA_HOME/wgtrain/runs.db" "$TMP/dflt" \
  && ok "the default history is \$XDG_DATA_HOME/wgtrain/runs.db" || bad "default path: $(tail -1 "$TMP/dflt")"

# corrupt and foreign files: one line, exit 1, for train (before any training) and for runs
head -c 8192 /dev/urandom > "$DIR/noise.db"
expect_error 1 "noise.db: not a wgtrain run history \(not an SQLite database\)" -- train --epochs 1 --runs-db "$DIR/noise.db"
expect_error 1 "noise.db: not a wgtrain run history \(not an SQLite database\)" -- runs --runs-db "$DIR/noise.db"
printf 'id,loss\n1,0.5\n' > "$DIR/text.db"
expect_error 1 "not an SQLite database" -- runs show 1 --runs-db "$DIR/text.db"
py "$DIR/foreign.db" 'c.execute("create table t(x)"); c.commit()'
expect_error 1 "foreign.db: an SQLite database, but not a wgtrain run history" -- train --epochs 1 --runs-db "$DIR/foreign.db"
expect_error 1 "foreign.db: an SQLite database, but not a wgtrain run history" -- runs --runs-db "$DIR/foreign.db"
py "$DIR/wrong.db" 'c.execute("create table runs(x)"); c.execute("PRAGMA user_version=1"); c.commit()'
expect_error 1 "wrong.db: an SQLite database with schema version 1, but its tables are not" -- runs --runs-db "$DIR/wrong.db"
py "$DB" 'c.execute("PRAGMA wal_checkpoint(TRUNCATE)")' >/dev/null
cp "$DB" "$DIR/newer.db"
py "$DIR/newer.db" 'c.execute("PRAGMA user_version=2"); c.commit()'
expect_error 1 "newer.db: run history schema version 2 is newer than this wgtrain's \(1\)" -- runs --runs-db "$DIR/newer.db"
expect_error 1 "schema version 2 is newer" -- train --epochs 1 --runs-db "$DIR/newer.db"
# a page of the records table overwritten: the damage shows when it is read
cp "$DB" "$DIR/damaged.db"
pages=$(( $(stat -c %s "$DIR/damaged.db") / 4096 ))
dd if=/dev/urandom of="$DIR/damaged.db" bs=4096 seek=2 count=$((pages - 2)) conv=notrunc status=none
expect_error 1 "damaged.db: (the run history is corrupt|not a wgtrain run history)" -- runs show 1 --runs-db "$DIR/damaged.db"

# kill -9 mid-run: the database opens, passes integrity_check and holds the run's reports up
# to the kill (every report is its own commit)
KDB="$DIR/killed.db"
"$WGTRAIN" train --epochs 3 --train-limit 30000 --report-every 2 --runs-db "$KDB" >"$TMP/k.out" 2>&1 &
pid=$!
n=0
for _ in $(seq 1 600); do
  n=$(py "$KDB" 'print(c.execute("select count(*) from records where kind=\"progress\"").fetchone()[0])' 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 20 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
seen=$n
[ "$seen" -ge 20 ] && ok "killed with SIGKILL after $seen reports" || bad "the run did not reach 20 reports before the kill ($seen): $(tail -2 "$TMP/k.out")"
[ "$(py "$KDB" 'print(c.execute("PRAGMA integrity_check").fetchone()[0])')" = ok ] && ok "integrity_check: ok" || bad "integrity_check failed"
after=$(py "$KDB" 'print(c.execute("select count(*) from records where run=1 and kind=\"progress\"").fetchone()[0])')
status=$(py "$KDB" 'print(c.execute("select status from runs where id=1").fetchone()[0])')
# the records form one unbroken sequence (none lost between commits), and there are no more
# progress reports than 3 epochs make (469 steps an epoch, a report every 2: 235); how many the
# run wrote between the last look and the kill depends on the machine's load
gaps=$(py "$KDB" 'print(c.execute("select max(seq) - min(seq) + 1 - count(*) from records where run=1").fetchone()[0])')
[ "$after" -ge "$seen" ] && [ "$after" -le $((3 * 235)) ] && [ "$gaps" = 0 ] && [ "$status" = running ] \
  && ok "the run holds $after reports (seen $seen before the kill), none missing, status $status" \
  || bad "after the kill: $after reports (seen $seen), $gaps missing, status $status"
"$WGTRAIN" runs show 1 --runs-db "$KDB" | grep -q "^progress reports: $after$" && ok "runs show reads the killed run" || bad "runs show after the kill"
"$WGTRAIN" train --epochs 1 --train-limit 500 --runs-db "$KDB" >/dev/null 2>&1 && "$WGTRAIN" runs --runs-db "$KDB" | grep -Eq '^ +2 ' \
  && ok "a new run is recorded after the kill" || bad "the killed history does not take a new run"
finish
