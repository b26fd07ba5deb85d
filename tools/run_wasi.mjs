// Runs a wasm32-wasi command (a build-time tool such as tools/wasm_layout.c) under Node's WASI
// and exits with its status. Usage: node tools/run_wasi.mjs TOOL.wasm
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

const wasi = new WASI({ version: 'preview1', args: process.argv.slice(2), env: {} });
const module = await WebAssembly.compile(await readFile(process.argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
