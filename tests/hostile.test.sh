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

finish
