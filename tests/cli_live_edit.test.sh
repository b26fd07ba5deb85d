#!/usr/bin/env bash
# wgtrain train --control -: live edits of the learning rate and the momentum from stdin. A
# file on stdin is readable at once, so every line lands at the first report (step 4 here, on
# the CPU engine, which runs one step at a time): the test is deterministic. Checks the --json
# edit event and the text line, a bad line's one-line warning (training goes on), that the edit
# changes the run, the run history's event and its exports, and that resuming a checkpoint
# taken after an edit gives the bits of the edited run that never stopped.
source "$(dirname "$0")/lib.sh"
DB="$TMP/runs.db"
common=(--device cpu --threads 1 --epochs 2 --train-limit 1000 --batch 125 --report-every 4 --seed 7)

printf 'lr 0.2\nbogus 1\nmomentum 1.5\n\n# a comment\nmomentum 0.5\n' >"$TMP/edits.txt"
"$WGTRAIN" train "${common[@]}" --json --control - --save "$TMP/a.safetensors" --runs-db "$DB" \
  <"$TMP/edits.txt" >"$TMP/a.json" 2>"$TMP/a.err"
rc=$?
[ $rc -eq 0 ] && ok "a run with --control ends well (exit 0)" || bad "--control run exit $rc: $(cat "$TMP/a.err")"
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const ed = lines.filter(l => l.event === "edit");
if (ed.length !== 2) { console.error("edits:", JSON.stringify(ed)); process.exit(1); }
const [a, b] = ed;
if (a.step !== 4 || a.epoch !== 1 || a.epoch_step !== 4 || a.x !== 0.5 || a.lr !== 0.2 || "momentum" in a) { console.error(JSON.stringify(a)); process.exit(2); }
if (b.step !== 4 || b.momentum !== 0.5 || "lr" in b || !(b.lr_scale > 0)) { console.error(JSON.stringify(b)); process.exit(3); }
/* the edit lines come right after the report they were read at */
const i = lines.indexOf(a);
if (lines[i - 1].event !== "progress" || lines[i - 1].step !== 4) process.exit(4);' "$TMP/a.json" \
  && ok "--json: an edit event per applied line, at step 4 (the first report), with its values" \
  || bad "--json edit events: $(grep edit "$TMP/a.json")"
grep -q "^wgtrain: warning: --control line 2 'bogus 1': unknown control 'bogus'" "$TMP/a.err" \
  && grep -q "^wgtrain: warning: --control line 3 'momentum 1.5': momentum must be in \[0, 1) (got 1.5) (nothing changed)" "$TMP/a.err" \
  && [ "$(grep -c '' "$TMP/a.err")" = 2 ] \
  && ok "bad lines: one warning line each on stderr, naming the line and the reason" || bad "warnings: $(cat "$TMP/a.err")"

# the edit changed the run: without it, other losses from the report after step 4 on
"$WGTRAIN" train "${common[@]}" --json --no-history </dev/null >"$TMP/plain.json" 2>/dev/null
node -e '
const load = f => require("fs").readFileSync(f, "utf8").trim().split("\n").map(JSON.parse).filter(l => l.event === "progress");
const a = load(process.argv[1]), p = load(process.argv[2]);
if (a[0].loss !== p[0].loss) process.exit(1);   /* steps 0..3: before the edit */
if (a[1].loss === p[1].loss) process.exit(2);   /* steps 4..7: step 4 ran at lr 0.2 */' "$TMP/a.json" "$TMP/plain.json" \
  && ok "the edit changes the run from the report after it, not before" || bad "edited and plain losses"

# text mode: one line per edit
printf 'lr 0.05\n' | "$WGTRAIN" train "${common[@]}" --control - --no-history >"$TMP/text.out" 2>"$TMP/text.err"
grep -Eq '^Edit: lr 0.05 from step 5 \(epoch 1, step 5 of 8\)$' "$TMP/text.out" && ok "text mode: 'Edit: lr 0.05 from step 5 (epoch 1, step 5 of 8)'" \
  || bad "text edit line: $(cat "$TMP/text.out" "$TMP/text.err")"

# the run history: the edits are events of the run, in show and in every export
"$WGTRAIN" runs show 1 --runs-db "$DB" >"$TMP/show.txt" 2>&1
grep -q '^event: edit lr 0.2 from step 5 (epoch 1, step 5)$' "$TMP/show.txt" && grep -q '^event: edit momentum 0.5 from step 5' "$TMP/show.txt" \
  && ok "runs show lists the edits" || bad "runs show: $(grep event "$TMP/show.txt")"
"$WGTRAIN" runs export 1 --format jsonl -o "$TMP/r.jsonl" --runs-db "$DB"
grep '"type":"event"' "$TMP/r.jsonl" | grep -q '"event":"edit","step":4,"epoch":1,"epoch_step":4,"x":0.5,"lr":0.2' \
  && ok "jsonl export holds the edit event" || bad "jsonl: $(grep edit "$TMP/r.jsonl")"
"$WGTRAIN" runs export 1 --format csv -o "$TMP/r.csv" --runs-db "$DB"
grep -q '^edit,1,4,0.5,,,,,,,0.2,$' "$TMP/r.csv" && grep -q '^edit,1,4,0.5,,,,,,,,0.5$' "$TMP/r.csv" \
  && ok "csv export: a row per edit with its lr and momentum" || bad "csv: $(grep -E '^(kind|edit)' "$TMP/r.csv")"
"$WGTRAIN" runs export 1 --format html -o "$TMP/r.html" --runs-db "$DB"
grep -q '"event":"edit"' "$TMP/r.html" && ok "the html report carries the edits" || bad "html report lacks the edits"

# resume after an edit: epoch 1 with the edits, checkpoint, then --resume: the same model bits
"$WGTRAIN" train "${common[@]}" --json --control - --stop-after 1 --checkpoint-dir "$TMP/ck" --no-history \
  <"$TMP/edits.txt" >"$TMP/b1.json" 2>/dev/null
state="$TMP/ck/epoch-000001/training_state.safetensors"
grep -aq '"edit_lr_scale"' "$state" && grep -aq '"edit_momentum":"0.5"' "$state" && ok "the training state records the edits in effect" \
  || bad "no edit keys in $state"
"$WGTRAIN" train --device cpu --threads 1 --resume "$TMP/ck" --save "$TMP/b.safetensors" --json --no-history </dev/null >"$TMP/b2.json" 2>"$TMP/b2.err"
cmp -s "$TMP/a.safetensors" "$TMP/b.safetensors" && ok "resume after an edit: the model file of the edited run that never stopped, byte for byte" \
  || bad "resumed model differs: $(cat "$TMP/b2.err")"

# a run that an edit makes diverge: the stop quotes the learning rate of that step, the edited one
printf 'lr 1000\n' | "$WGTRAIN" train "${common[@]}" --lr 0.01 --optimizer sgd --hidden 256,128 --schedule constant --control - --no-history \
  >/dev/null 2>"$TMP/div.err"
rc=$?
[ $rc -eq 1 ] && grep -Eq '^wgtrain: the loss became (NaN|infinite) at epoch [12], step [0-9]+ of 8.*: lower the learning rate \(1000 at that step, of --lr 0\.01\)$' "$TMP/div.err" \
  && ok "diverged after an edit: the message quotes the edited lr of that step ($(cut -c1-60 "$TMP/div.err")...)" || bad "divergence after an edit: rc $rc, $(cat "$TMP/div.err")"

expect_error 2 "--control takes '-' \(edit lines on stdin\), not 'file.txt'" -- train --control file.txt
finish
