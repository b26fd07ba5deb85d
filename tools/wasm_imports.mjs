// Checks a wasm module's imports against the browser build's allow-list, after the link:
// every "env" import must be listed in ALLOWLIST (the webgpu.h subset and the host's own
// imports), and the only WASI imports are the few that wasi-libc's stdio needs, which the
// Worker shims. A file, clock or thread call that slips into the engine (fopen brings WASI's
// path_open, clock_gettime its clock_time_get) fails here, at build time.
// Usage: node tools/wasm_imports.mjs MODULE.wasm ALLOWLIST
import { readFileSync } from 'node:fs';

const WASI_ALLOWED = new Set(['fd_write', 'fd_close', 'fd_seek', 'fd_fdstat_get']);
const [file, listFile] = process.argv.slice(2);
const allowed = new Set(readFileSync(listFile, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
const module = new WebAssembly.Module(readFileSync(file));
const bad = WebAssembly.Module.imports(module).filter((i) =>
  i.module === 'env' ? !allowed.has(i.name) : !(i.module === 'wasi_snapshot_preview1' && WASI_ALLOWED.has(i.name)));
for (const i of bad) console.error(`${file}: import ${i.module}.${i.name} is not allowed in the browser build (src/web/imports.txt)`);
process.exitCode = bad.length ? 1 : 0;
