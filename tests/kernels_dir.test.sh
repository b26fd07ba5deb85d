#!/usr/bin/env bash
# --kernels-dir: the kernels and the prelude (src/kernels/prelude.wgsl, which the runtime puts in
# front of every kernel) come from the folder, the binary's prelude where the folder has none,
# and a compile error names the file and the line it is in.
source "$(dirname "$0")/lib.sh"

acc_of() { grep '"event":"done"' "$1" | sed -E 's/.*"test_accuracy":([0-9.]+).*/\1/'; }
run() { "$WGTRAIN" train --device gpu --epochs 1 --train-limit 640 --seed 3 --json "$@" 2>"$TMP/err"; }

run >"$TMP/embedded.json"
want=$(acc_of "$TMP/embedded.json")
[ -n "$want" ] && ok "the embedded kernels train: test accuracy $want" || bad "embedded run: $(cat "$TMP/err")"

mkdir "$TMP/copy"; cp "$ROOT"/src/kernels/*.wgsl "$TMP/copy/"
run --kernels-dir "$TMP/copy" >"$TMP/copy.json"
got=$(acc_of "$TMP/copy.json")
[ -n "$got" ] && [ "$got" = "$want" ] && ok "a copy of src/kernels gives the same run ($got)" \
  || bad "--kernels-dir copy: '$got', want '$want' ($(cat "$TMP/err"))"

# every file is read once: `check` compiles some 150 pipeline variants (it used to run out of
# file slots after 64 reads and report kernels "not found")
"$WGTRAIN" check --kernels-dir "$TMP/copy" >"$TMP/check.out" 2>&1 \
  && grep -q "^all kernels match the CPU reference: 0 failures" "$TMP/check.out" \
  && ok "check --kernels-dir: every kernel matches" || bad "check --kernels-dir: $(grep -v '^ok' "$TMP/check.out" | head -3)"

# no prelude.wgsl in the folder: the binary's
mkdir "$TMP/noprelude"; cp "$ROOT"/src/kernels/*.wgsl "$TMP/noprelude/"; rm "$TMP/noprelude/prelude.wgsl"
run --kernels-dir "$TMP/noprelude" >"$TMP/noprelude.json"
got=$(acc_of "$TMP/noprelude.json")
[ "$got" = "$want" ] && ok "a folder without prelude.wgsl takes the binary's ($got)" \
  || bad "no prelude.wgsl: '$got', want '$want' ($(cat "$TMP/err"))"

# the folder's prelude is the one compiled: another pixel normalisation, another run
mkdir "$TMP/std"; cp "$ROOT"/src/kernels/*.wgsl "$TMP/std/"
sed -i 's/^const PIXEL_STD: f32 = 0.3081;$/const PIXEL_STD: f32 = 3.081;/' "$TMP/std/prelude.wgsl"
grep -q 'PIXEL_STD: f32 = 3.081;' "$TMP/std/prelude.wgsl" || bad "the test's edit of prelude.wgsl did not apply"
run --kernels-dir "$TMP/std" >"$TMP/std.json"
got=$(acc_of "$TMP/std.json")
[ -n "$got" ] && [ "$got" != "$want" ] && ok "the folder's prelude.wgsl is compiled in (pixels / 3.081: $got, not $want)" \
  || bad "an edited prelude.wgsl changed nothing: '$got' ($(cat "$TMP/err"))"

# compile errors: in the prelude at its own line, in a kernel at the kernel's line
mkdir "$TMP/badprelude"; cp "$ROOT"/src/kernels/*.wgsl "$TMP/badprelude/"
printf 'fn broken( {\n' >>"$TMP/badprelude/prelude.wgsl"
line=$(wc -l <"$TMP/badprelude/prelude.wgsl")
expect_error 1 "prelude\.wgsl:$line:[0-9]+: error: " -- train --kernels-dir "$TMP/badprelude" --epochs 1 --train-limit 640
mkdir "$TMP/badkernel"; cp "$ROOT"/src/kernels/*.wgsl "$TMP/badkernel/"
{ printf 'fn broken( {\n'; cat "$ROOT/src/kernels/dense_forward.wgsl"; } >"$TMP/badkernel/dense_forward.wgsl"
expect_error 1 "dense_forward\.wgsl:1:[0-9]+: error: " -- train --kernels-dir "$TMP/badkernel" --epochs 1 --train-limit 640 \
  --kernels reference
# a binding belongs to its kernel: one in the prelude is refused, by name
mkdir "$TMP/bindprelude"; cp "$ROOT"/src/kernels/*.wgsl "$TMP/bindprelude/"
printf '@group(0) @binding(9) var<storage, read> stray: array<f32>;\n' >>"$TMP/bindprelude/prelude.wgsl"
expect_error 1 "prelude\.wgsl declares binding 'stray'" -- train --kernels-dir "$TMP/bindprelude" --epochs 1 --train-limit 640

finish
