#!/usr/bin/env bash
# Builds the libFuzzer targets with AddressSanitizer and UndefinedBehaviorSanitizer into
# build/fuzz/: fuzz_checkpoint (safetensors parser), fuzz_idx (IDX parser + gzip), fuzz_image
# (PNG/PGM decoding + MNIST preprocessing). Needs clang with libFuzzer (Debian: apt-get install
# clang). Exits 3, saying so, when no such clang is found. FUZZ_CC overrides the compiler.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cc=${FUZZ_CC:-}
if [ -z "$cc" ]; then
  for c in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
    if command -v "$c" >/dev/null; then cc=$c; break; fi
  done
fi
if [ -z "$cc" ] || ! command -v "$cc" >/dev/null; then
  echo "fuzz/build.sh: clang not found (Debian: apt-get install clang)"; exit 3
fi
out=build/fuzz
mkdir -p "$out"
# libFuzzer must exist for this clang: try the smallest program first
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$probe/p.c"
if ! "$cc" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
  echo "fuzz/build.sh: $cc cannot build libFuzzer targets: $(head -1 "$probe/err")"; exit 3
fi
flags=(-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Isrc)
# cJSON: Debian's source (scripts/setup.sh puts it in .deps/cjson) is built with the sanitizers
# too, so that the fuzzer sees inside the parser; without it, the system's libcjson
cjson=(-lcjson)
[ -f .deps/cjson/cJSON.c ] && cjson=(-I.deps .deps/cjson/cJSON.c)
"$cc" "${flags[@]}" -o "$out/fuzz_checkpoint" fuzz/fuzz_checkpoint.c src/checkpoint/safetensors.c src/checkpoint/sha256_nettle.c src/core/model.c src/core/optim.c src/util/message.c src/util/json.c "${cjson[@]}" -lnettle -lm
"$cc" "${flags[@]}" -o "$out/fuzz_idx" fuzz/fuzz_idx.c src/data/idx.c src/data/idx_gzip.c src/util/message.c -lz
"$cc" "${flags[@]}" -o "$out/fuzz_image" fuzz/fuzz_image.c src/image/image.c src/image/preprocess.c src/util/file_read.c src/util/message.c -lpng -lm
echo "fuzz/build.sh: built $out/fuzz_checkpoint $out/fuzz_idx $out/fuzz_image with $cc"
