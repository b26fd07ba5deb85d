#!/usr/bin/env bash
# What a hostile test found (issue 9), outside the server: a FIFO in place of a file, a flipped
# bit in a saved model, a file-size limit. Each must end promptly with one "wgtrain: ..." line.
source "$(dirname "$0")/lib.sh"

make_set "$TMP/small" 200
"$WGTRAIN" train --data "$TMP/small" --epochs 1 --hidden 8 --batch 50 --save "$TMP/m.st" >/dev/null 2>"$TMP/train.err" \
  && ok "a small model to work with" || bad "train --save: $(cat "$TMP/train.err")"
python3 -c 'import sys; sys.stdout.buffer.write(b"P5\n28 28\n255\n" + bytes(range(256))*3 + bytes(16))' > "$TMP/digit.pgm"

# ---- 1. a FIFO where a file is expected: refused at once, never waited on -------------------
cp -r "$TMP/small" "$TMP/fifo-data"; rm "$TMP/fifo-data/train-images-idx3-ubyte"
mkfifo "$TMP/fifo-data/train-images-idx3-ubyte"
expect_error_within 1 1 "fifo-data/train-images-idx3-ubyte: is a FIFO, expected a file" -- train --data "$TMP/fifo-data" --epochs 1
cp -r "$TMP/small" "$TMP/fifo-test"; rm "$TMP/fifo-test/t10k-labels-idx1-ubyte"
mkfifo "$TMP/fifo-test/t10k-labels-idx1-ubyte"
expect_error_within 1 1 "t10k-labels-idx1-ubyte: is a FIFO, expected a file" -- eval --model "$TMP/m.st" --data "$TMP/fifo-test"
mkfifo "$TMP/model.fifo"
expect_error_within 1 1 "model.fifo: is a FIFO, expected a file" -- eval --model "$TMP/model.fifo" --data "$TMP/small"
mkdir "$TMP/fifo-ckpt"; mkfifo "$TMP/fifo-ckpt/model.safetensors"
expect_error_within 1 1 "fifo-ckpt/model.safetensors: is a FIFO, expected a file" -- eval --model "$TMP/fifo-ckpt" --data "$TMP/small"
expect_error_within 1 1 "model.fifo: is a FIFO, expected a file" -- predict --model "$TMP/model.fifo" "$TMP/digit.pgm"
mkfifo "$TMP/digit.fifo"
expect_error_within 1 1 "digit.fifo: is a FIFO, expected a file" -- predict --model "$TMP/m.st" "$TMP/digit.fifo"
# the reader is the same for every other kind of non-file
expect_error_within 1 1 "/dev/null: is a character device, expected a file" -- eval --model /dev/null --data "$TMP/small"

# ---- 4. a flipped bit in a saved model: the sha256 digest of the tensor data catches it -------
# the digest is SHA-256 (checked against Python's hashlib) of exactly the bytes after the header
python3 - "$TMP/m.st" <<'PY' && ok "m.st records sha256 = hashlib.sha256(tensor data)" || bad "m.st: sha256 metadata missing or wrong"
import hashlib, json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
meta = json.loads(b[8:8 + n])["__metadata__"]
sys.exit(0 if meta.get("sha256") == hashlib.sha256(b[8 + n:]).hexdigest() else 1)
PY
# one exponent bit of one weight, in the middle of the data section
python3 - "$TMP/m.st" "$TMP/flipped.st" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
i = 8 + n + ((len(b) - 8 - n) // 8) * 4 + 3  # the top byte of a float: sign and exponent
b[i] ^= 0x10
open(sys.argv[2], "wb").write(b)
PY
expect_error 1 "flipped.st: tensor data does not match the file's sha256 digest" -- eval --model "$TMP/flipped.st" --data "$TMP/small"
expect_error 1 "flipped.st: tensor data does not match the file's sha256 digest" -- predict --model "$TMP/flipped.st" "$TMP/digit.pgm"
mkdir "$TMP/flipdir"; cp "$TMP/flipped.st" "$TMP/flipdir/model.safetensors"
expect_error 1 "flipdir/model.safetensors: tensor data does not match" -- eval --model "$TMP/flipdir" --data "$TMP/small"
# a malformed digest is an error too, not a silent pass
python3 - "$TMP/m.st" "$TMP/baddigest.st" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
i = b.index(b'"sha256":"') + 10
open(sys.argv[2], "wb").write(b[:i] + b"X" + b[i + 1:])
PY
expect_error 1 "baddigest.st: metadata sha256 is .*not 64 lowercase hex digits" -- eval --model "$TMP/baddigest.st" --data "$TMP/small"
# no digest (another tool's file, or an older wgtrain's): loads, with exactly one notice line
python3 - "$TMP/m.st" "$TMP/nodigest.st" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); del h["__metadata__"]["sha256"]
j = json.dumps(h, separators=(",", ":")).encode(); j += b" " * (-len(j) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(j)) + j + b[8 + n:])
PY
"$WGTRAIN" eval --model "$TMP/nodigest.st" --data "$TMP/small" >"$TMP/nd.out" 2>"$TMP/nd.err"; rc=$?
if [ $rc -eq 0 ] && grep -q '^Test accuracy' "$TMP/nd.out" && [ "$(grep -c '' "$TMP/nd.err")" -eq 1 ] \
   && grep -q "^wgtrain: note: .*nodigest.st has no sha256 digest; its tensor data cannot be verified$" "$TMP/nd.err"; then
  ok "a model without a digest evaluates, with one notice: $(cat "$TMP/nd.err")"
else bad "no digest: rc=$rc stderr: $(cat "$TMP/nd.err")"; fi
"$WGTRAIN" eval --model "$TMP/m.st" --data "$TMP/small" >/dev/null 2>"$TMP/m.err" && [ ! -s "$TMP/m.err" ] \
  && ok "a model with a good digest evaluates silently" || bad "good model: $(cat "$TMP/m.err")"
# --resume checks both files' digests too (before the weights fingerprint it had already)
"$WGTRAIN" train --data "$TMP/small" --epochs 2 --stop-after 1 --hidden 8 --batch 50 --checkpoint-dir "$TMP/ck" >/dev/null 2>&1
python3 - "$TMP/ck/epoch-000001/training_state.safetensors" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-1] ^= 0x01  # the last bit of the momentum buffer
open(sys.argv[1], "wb").write(b)
PY
expect_error 1 "cannot resume: .*epoch-000001/training_state.safetensors: tensor data does not match the file's sha256 digest" -- \
  train --resume "$TMP/ck" --data "$TMP/small"

# ---- 5. a file-size limit: one line that names it, never a signal ----------------------------
# Under ulimit -f 5000 lavapipe cannot size its memory files: that was SIGBUS (rc 135) in train
# and SIGXFSZ (rc 153) in eval. On a real GPU the run may succeed instead, which is fine too.
printf '#!/usr/bin/env bash\nulimit -f "$1"; shift; exec "$@"\n' > "$TMP/limit.sh"; chmod +x "$TMP/limit.sh"
limited() { local f=$1; shift; WGTRAIN_WRAP="$TMP/limit.sh $f" "$@"; }
if "$WGTRAIN" devices 2>/dev/null | grep -qi 'llvmpipe\|lavapipe'; then
  limited 5000 expect_error 1 "file-size limit of 5120000 bytes \(ulimit -f 5000\)" -- train --device gpu --data "$TMP/small" --epochs 1
  limited 5000 expect_error 1 "file-size limit of 5120000 bytes \(ulimit -f 5000\)" -- eval --device gpu --model "$TMP/m.st" --data "$TMP/small"
fi
# a limit below the files the run will write is said before training, not after it
limited 100 expect_error 1 "--save .*big.st: the file-size limit \(ulimit -f 100, 102400 bytes\) is smaller than the [0-9]+-byte model file" -- \
  train --data "$TMP/small" --epochs 1 --save "$TMP/big.st"
limited 100 expect_error 1 "--checkpoint-dir .*ck2: the file-size limit \(ulimit -f 100" -- \
  train --data "$TMP/small" --epochs 1 --checkpoint-dir "$TMP/ck2"

finish
