#!/usr/bin/env bash
# The browser build's boundaries (make web), checked on the built artifacts:
#  - the wasm module imports only the allow-list (src/web/imports.txt) and wasi-libc's stdio;
#  - the bridge (web/webgpu_bridge.js) implements exactly the functions src/gpu/webgpu.h
#    declares, and the allow-list names exactly those plus the host's own imports, all of
#    which the Worker provides;
#  - a call outside the subset fails the link, and a file call fails the import check.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
WASM=build/web/wgtrain.wasm
LIST=src/web/imports.txt

if node tools/wasm_imports.mjs "$WASM" "$LIST"; then ok "$WASM imports only the allow-list"; else bad "$WASM has imports outside the allow-list"; fi

declared=$(grep -o 'wgpu[A-Za-z]*(' src/gpu/webgpu.h | tr -d '(' | sort -u)
listed=$(grep -v '^#' "$LIST" | grep '^wgpu' | sort -u)
bridged=$(node --no-warnings --input-type=module -e "
  import('$ROOT/build/web/webgpu_bridge.js').then(({ createBridge }) => {
    console.log(Object.keys(createBridge({ adapter: null }).imports).sort().join('\n'));
  });" 2>&1) || bridged="(the bridge did not load: $bridged)"
if [ "$declared" = "$listed" ]; then ok "the allow-list names every webgpu.h function ($(echo "$declared" | wc -l))"
else bad "allow-list and webgpu.h differ: $(diff <(echo "$declared") <(echo "$listed") | tr '\n' ' ')"; fi
if [ "$declared" = "$bridged" ]; then ok "the bridge implements exactly webgpu.h's subset"
else bad "bridge and webgpu.h differ: $(diff <(echo "$declared") <(echo "$bridged") | tr '\n' ' ')"; fi
for h in $(grep -v '^#' "$LIST" | grep '^host_'); do
  if grep -Eq "^  (async )?$h[(:]" web/engine_worker.js && grep -Eq "WEB_IMPORT\($h\)|import_name\(\"$h\"\)" src/web/*.c; then
    ok "$h is declared by the host and provided by the Worker"
  else bad "$h: not both declared in src/web/ and provided in web/engine_worker.js"; fi
done

# layouts come from the compiler, and differ from x86-64 where the issue says they do
if grep -q 'WGPUStringView: { sizeof: 8, data: 0, length: 4 }' build/web/webgpu_layout.js &&
   grep -q 'WGPUBufferDescriptor: { sizeof: 40, label: 4, usage: 16, size: 24,' build/web/webgpu_layout.js; then
  ok "generated wasm32 layouts: WGPUStringView 8 bytes, WGPUBufferDescriptor.size at 24"
else bad "unexpected generated layouts: $(head -c 400 build/web/webgpu_layout.js)"; fi

rm -f build/wasm-probe/*.wasm
out=$(make --no-print-directory build/wasm-probe/stray_symbol.wasm 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'undefined symbol: wgpuDeviceCreateTexture' <<<"$out"; then ok "a webgpu.h call outside the subset fails the link"
else bad "stray_symbol linked (rc $rc): $out"; fi
out=$(make --no-print-directory build/wasm-probe/stray_file.wasm 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'wasi_snapshot_preview1.path_open is not allowed' <<<"$out"; then ok "a file call (fopen) fails the import check"
else bad "stray_file passed (rc $rc): $out"; fi
finish
