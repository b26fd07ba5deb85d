// webgpu.h on navigator.gpu: the subset that src/gpu/webgpu.h declares, and exactly that, for
// the engine compiled to wasm32. Handles are small integers into a table of browser objects.
// Struct offsets come from webgpu_layout.js, which tools/wasm_layout.c prints at build time
// from the same header for the same target: no offset here is written by hand.
//
// The wasm32 C ABI, as it meets JavaScript:
// - uint64_t values (WGPUFuture, WGPUFlags, sizes and offsets) cross as BigInt; size_t is 32-bit
//   and crosses as Number, so SIZE_MAX (WGPU_STRLEN, WGPU_WHOLE_MAP_SIZE) arrives as -1.
// - Structs passed by value (callback infos, WGPUStringView, WGPUAdapterInfo) arrive as
//   pointers to a copy; the bridge passes them to C callbacks the same way.
// - Memory growth replaces memory.buffer, so views are re-made whenever it changed.
//
// Waiting: wgpuInstanceWaitAny returns a Promise; the Worker wraps it in WebAssembly.Suspending
// so the engine keeps its blocking style. Callbacks run as their mode allows (WaitAnyOnly ones
// inside WaitAny, AllowProcessEvents ones also in ProcessEvents, AllowSpontaneous ones at once)
// and never block: JSPI cannot suspend through the JavaScript frame that calls them.
import { layout as L } from './webgpu_layout.js';

const STATUS = { success: 1, error: 2 };
const WAIT = { success: 1, timedOut: 2, error: 3 };
const FEATURES = { 0x3: 'timestamp-query', 0xa: 'shader-f16', 0x11: 'subgroups' };
const MODE = { waitAnyOnly: 1, allowProcessEvents: 2, allowSpontaneous: 3 };
const ERROR_TYPE = { noError: 1, validation: 2, outOfMemory: 3, internal: 4, unknown: 5 };
const BUFFER_BINDING = { 2: 'uniform', 3: 'storage', 4: 'read-only-storage' };
const ERROR_FILTER = { 1: 'validation', 2: 'out-of-memory', 3: 'internal' };
const U64_LIMITS = new Set(['maxUniformBufferBindingSize', 'maxStorageBufferBindingSize', 'maxBufferSize']);
const U32_MAX = 0xffffffff;
const U64_MAX = 0xffffffffffffffffn;

function errorType(e) {
  if (!e) return ERROR_TYPE.noError;
  if (typeof GPUValidationError !== 'undefined' && e instanceof GPUValidationError) return ERROR_TYPE.validation;
  if (typeof GPUOutOfMemoryError !== 'undefined' && e instanceof GPUOutOfMemoryError) return ERROR_TYPE.outOfMemory;
  if (typeof GPUInternalError !== 'undefined' && e instanceof GPUInternalError) return ERROR_TYPE.internal;
  return ERROR_TYPE.unknown;
}

// adapter: the GPUAdapter the Worker already obtained (it checks for one before starting the
// engine, so that "no adapter" is the page's own clear message). onError: uncaught failures
// inside a callback.
export function createBridge({ adapter: firstAdapter, onError = (e) => console.error(e) }) {
  let adapter = firstAdapter; // requestDevice consumes an adapter: setAdapter() gives a new one
  let exports = null; // the wasm instance's exports, set by bind()
  let view = null;
  const utf8 = new TextEncoder();
  const text = new TextDecoder();

  const dv = () => {
    const buf = exports.memory.buffer;
    if (!view || view.buffer !== buf) view = new DataView(buf);
    return view;
  };
  const u8 = () => new Uint8Array(exports.memory.buffer);
  const u32 = (p) => dv().getUint32(p, true);
  const i32 = (p) => dv().getInt32(p, true);
  const u64 = (p) => dv().getBigUint64(p, true);
  const setU32 = (p, v) => dv().setUint32(p, v >>> 0, true);
  const setU64 = (p, v) => dv().setBigUint64(p, BigInt(v), true);

  // ---- strings (WGPUStringView) ----
  function cString(p) {
    const m = u8();
    let e = p;
    while (m[e]) e++;
    return text.decode(m.subarray(p, e));
  }
  function readView(p) {
    const data = u32(p + L.WGPUStringView.data);
    const len = u32(p + L.WGPUStringView.length);
    if (!data) return undefined;
    if (len === U32_MAX) return cString(data);
    return text.decode(u8().subarray(data, data + len));
  }
  // A NUL-terminated copy of s in wasm memory, malloc'd.
  function allocString(s) {
    const bytes = utf8.encode(s ?? '');
    const p = exports.malloc(bytes.length + 1);
    u8().set(bytes, p);
    u8()[p + bytes.length] = 0;
    return p;
  }
  function writeView(p, s) {
    if (s === undefined || s === null) {
      setU32(p + L.WGPUStringView.data, 0);
      setU32(p + L.WGPUStringView.length, 0);
      return;
    }
    setU32(p + L.WGPUStringView.data, allocString(s));
    setU32(p + L.WGPUStringView.length, utf8.encode(s).length);
  }
  // Runs fn(ptr) with a temporary WGPUStringView of s, freed afterwards.
  function withView(s, fn) {
    const p = exports.malloc(L.WGPUStringView.sizeof);
    writeView(p, s);
    try { return fn(p); } finally {
      const data = u32(p + L.WGPUStringView.data);
      if (data) exports.free(data);
      exports.free(p);
    }
  }

  // ---- handles ----
  const objects = new Map(); // handle -> { obj, refs, ...extra }
  let nextHandle = 1;
  function wrap(obj, extra = {}) {
    const h = nextHandle++;
    objects.set(h, { obj, refs: 1, ...extra });
    return h;
  }
  const entry = (h) => objects.get(h);
  const get = (h) => (h ? objects.get(h)?.obj : undefined);
  function release(h) {
    const e = objects.get(h);
    if (e && --e.refs <= 0) objects.delete(h);
  }

  // ---- callbacks and futures ----
  const callback = (fnIndex) => exports.__indirect_function_table.get(fnIndex);
  function callbackInfo(p) {
    return {
      mode: u32(p + L.WGPUBufferMapCallbackInfo.mode),
      fn: u32(p + L.WGPUBufferMapCallbackInfo.callback),
      u1: u32(p + L.WGPUBufferMapCallbackInfo.userdata1),
      u2: u32(p + L.WGPUBufferMapCallbackInfo.userdata2),
    };
  }
  function safely(fn) {
    try { fn(); } catch (e) { onError(e); }
  }
  const devices = []; // every GPUDevice made, for the Worker's tests and the curious
  const destroyedByEngine = new WeakSet(); // devices that C's wgpuDeviceDestroy ended
  const futures = new Map(); // id (BigInt) -> { settled, fire, mode, promise }
  let nextFuture = 1n;
  // Starts a future that settles with promise; deliver(result) calls the C callback.
  function future(info, promise, deliver) {
    const id = nextFuture++;
    const f = { settled: false, fired: false, mode: info.mode, fire: null };
    f.promise = promise.then(
      (value) => ({ ok: true, value }),
      (error) => ({ ok: false, error }),
    ).then((result) => {
      f.settled = true;
      f.fire = () => {
        if (f.fired) return;
        f.fired = true;
        futures.delete(id);
        if (info.fn) safely(() => deliver(result));
      };
      if (f.mode === MODE.allowSpontaneous) f.fire();
    });
    futures.set(id, f);
    return id;
  }

  // ---- the functions of webgpu.h ----
  const imports = {
    wgpuCreateInstance: () => wrap({ kind: 'instance' }),
    wgpuInstanceRelease: release,
    wgpuInstanceRequestAdapter(instance, optionsPtr, infoPtr) {
      const info = callbackInfo(infoPtr);
      const backend = optionsPtr ? u32(optionsPtr + L.WGPURequestAdapterOptions.backendType) : 0;
      // The browser's one adapter stands for every backend but Dawn's Null one.
      const promise = backend === 1 ? Promise.resolve(null) : Promise.resolve(adapter);
      return future(info, promise, (r) => {
        const a = r.ok ? r.value : null;
        const message = a ? '' : r.ok ? 'the browser offers no WebGPU adapter' : String(r.error);
        withView(message, (msg) => callback(info.fn)(a ? 1 : 3, a ? wrap(a) : 0, msg, info.u1, info.u2));
      });
    },
    async wgpuInstanceWaitAny(instance, count, infosPtr, timeoutNs) {
      const ids = [];
      for (let i = 0; i < count; i++) ids.push(u64(infosPtr + i * L.WGPUFutureWaitInfo.sizeof + L.WGPUFutureWaitInfo.future));
      const pending = ids.map((id) => futures.get(id)).filter(Boolean);
      if (pending.length < ids.length) return WAIT.error; // an unknown or already delivered future
      if (!pending.some((f) => f.settled)) {
        const timeout = BigInt.asUintN(64, BigInt(timeoutNs));
        const waits = [Promise.race(pending.map((f) => f.promise))];
        let timer = null;
        if (timeout !== U64_MAX) waits.push(new Promise((r) => { timer = setTimeout(r, Number(timeout / 1000000n)); }));
        await Promise.race(waits);
        clearTimeout(timer);
      }
      let any = false;
      ids.forEach((id, i) => {
        const f = futures.get(id);
        const done = f && f.settled;
        setU32(infosPtr + i * L.WGPUFutureWaitInfo.sizeof + L.WGPUFutureWaitInfo.completed, done ? 1 : 0);
        if (done) { any = true; f.fire(); }
      });
      return any ? WAIT.success : WAIT.timedOut;
    },
    wgpuInstanceProcessEvents() {
      for (const f of [...futures.values()]) if (f.settled && f.mode !== MODE.waitAnyOnly) f.fire();
    },

    wgpuAdapterGetInfo(a, p) {
      const info = get(a).info;
      writeView(p + L.WGPUAdapterInfo.vendor, info.vendor);
      writeView(p + L.WGPUAdapterInfo.architecture, info.architecture);
      writeView(p + L.WGPUAdapterInfo.device, info.device || info.description || [info.vendor, info.architecture].filter(Boolean).join(' ') || 'WebGPU adapter');
      writeView(p + L.WGPUAdapterInfo.description, info.description);
      setU32(p + L.WGPUAdapterInfo.backendType, 2); // WebGPU: the browser chose the native backend
      setU32(p + L.WGPUAdapterInfo.adapterType, info.isFallbackAdapter ? 3 : 4); // CPU, or unknown
      setU32(p + L.WGPUAdapterInfo.vendorID, 0);
      setU32(p + L.WGPUAdapterInfo.deviceID, 0);
      setU32(p + L.WGPUAdapterInfo.subgroupMinSize, info.subgroupMinSize ?? 0);
      setU32(p + L.WGPUAdapterInfo.subgroupMaxSize, info.subgroupMaxSize ?? 0);
      return STATUS.success;
    },
    wgpuAdapterInfoFreeMembers(p) {
      for (const f of ['vendor', 'architecture', 'device', 'description']) {
        const data = u32(p + L.WGPUAdapterInfo[f] + L.WGPUStringView.data);
        if (data) exports.free(data);
      }
    },
    wgpuAdapterGetLimits(a, p) {
      const limits = get(a).limits;
      for (const [name, offset] of Object.entries(L.WGPULimits)) {
        if (name === 'sizeof' || !(name in limits)) continue;
        if (U64_LIMITS.has(name)) setU64(p + offset, limits[name]);
        else setU32(p + offset, limits[name]);
      }
      return STATUS.success;
    },
    wgpuAdapterHasFeature: (a, feature) => (get(a).features.has(FEATURES[feature]) ? 1 : 0),
    wgpuAdapterRelease: release,
    wgpuAdapterRequestDevice(a, descPtr, infoPtr) {
      const info = callbackInfo(infoPtr);
      const gpuAdapter = get(a);
      const requiredFeatures = [];
      const requiredLimits = {};
      let lost = null;
      let uncaptured = null;
      if (descPtr) {
        const n = u32(descPtr + L.WGPUDeviceDescriptor.requiredFeatureCount);
        const list = u32(descPtr + L.WGPUDeviceDescriptor.requiredFeatures);
        for (let i = 0; i < n; i++) requiredFeatures.push(FEATURES[u32(list + 4 * i)]);
        const lim = u32(descPtr + L.WGPUDeviceDescriptor.requiredLimits);
        for (const [name, offset] of Object.entries(lim ? L.WGPULimits : {})) {
          if (name === 'sizeof' || !(name in gpuAdapter.limits)) continue;
          const v = U64_LIMITS.has(name) ? u64(lim + offset) : u32(lim + offset);
          if (v !== U64_MAX && v !== U32_MAX) requiredLimits[name] = Number(v); // all bits set: undefined
        }
        lost = callbackInfo(descPtr + L.WGPUDeviceDescriptor.deviceLostCallbackInfo);
        const ue = descPtr + L.WGPUDeviceDescriptor.uncapturedErrorCallbackInfo;
        uncaptured = {
          fn: u32(ue + L.WGPUUncapturedErrorCallbackInfo.callback),
          u1: u32(ue + L.WGPUUncapturedErrorCallbackInfo.userdata1),
          u2: u32(ue + L.WGPUUncapturedErrorCallbackInfo.userdata2),
        };
      }
      const promise = gpuAdapter.requestDevice({ requiredFeatures, requiredLimits });
      return future(info, promise, (r) => {
        if (!r.ok) {
          withView(String(r.error && r.error.message || r.error), (msg) => callback(info.fn)(3, 0, msg, info.u1, info.u2));
          return;
        }
        const device = r.value;
        const handle = wrap(device, { queue: 0 });
        // the callbacks take `WGPUDevice const *`: one cell in wasm memory holds the handle
        const cell = exports.malloc(4);
        setU32(cell, handle);
        devices.push(device);
        if (lost && lost.fn) {
          // "destroyed" tells C that its own wgpuDeviceDestroy ended the device; a device
          // destroyed by anything else is, for the engine, lost (reason unknown)
          device.lost.then((l) => safely(() => withView(l.message || 'the device was lost', (msg) =>
            callback(lost.fn)(cell, l.reason === 'destroyed' && destroyedByEngine.has(device) ? 2 : 1, msg, lost.u1, lost.u2))));
        }
        if (uncaptured && uncaptured.fn) {
          device.addEventListener('uncapturederror', (ev) => safely(() => withView(ev.error.message, (msg) =>
            callback(uncaptured.fn)(cell, errorType(ev.error), msg, uncaptured.u1, uncaptured.u2))));
        }
        withView('', (msg) => callback(info.fn)(1, handle, msg, info.u1, info.u2));
      });
    },

    wgpuDeviceCreateBuffer(d, p) {
      return wrap(get(d).createBuffer({
        label: readView(p + L.WGPUBufferDescriptor.label),
        usage: Number(u64(p + L.WGPUBufferDescriptor.usage)),
        size: Number(u64(p + L.WGPUBufferDescriptor.size)),
        mappedAtCreation: !!u32(p + L.WGPUBufferDescriptor.mappedAtCreation),
      }), { mapped: null });
    },
    wgpuDeviceCreateShaderModule(d, p) {
      const chain = u32(p + L.WGPUShaderModuleDescriptor.nextInChain);
      const code = chain && u32(chain + L.WGPUChainedStruct.sType) === 2 ? readView(chain + L.WGPUShaderSourceWGSL.code) : '';
      return wrap(get(d).createShaderModule({ label: readView(p + L.WGPUShaderModuleDescriptor.label), code }));
    },
    wgpuDeviceCreateBindGroupLayout(d, p) {
      const n = u32(p + L.WGPUBindGroupLayoutDescriptor.entryCount);
      const base = u32(p + L.WGPUBindGroupLayoutDescriptor.entries);
      const entries = [];
      for (let i = 0; i < n; i++) {
        const e = base + i * L.WGPUBindGroupLayoutEntry.sizeof;
        entries.push({
          binding: u32(e + L.WGPUBindGroupLayoutEntry.binding),
          visibility: Number(u64(e + L.WGPUBindGroupLayoutEntry.visibility)),
          buffer: {
            type: BUFFER_BINDING[u32(e + L.WGPUBindGroupLayoutEntry.bufferType)],
            hasDynamicOffset: !!u32(e + L.WGPUBindGroupLayoutEntry.hasDynamicOffset),
            minBindingSize: Number(u64(e + L.WGPUBindGroupLayoutEntry.minBindingSize)),
          },
        });
      }
      return wrap(get(d).createBindGroupLayout({ label: readView(p + L.WGPUBindGroupLayoutDescriptor.label), entries }));
    },
    wgpuDeviceCreatePipelineLayout(d, p) {
      const n = u32(p + L.WGPUPipelineLayoutDescriptor.bindGroupLayoutCount);
      const list = u32(p + L.WGPUPipelineLayoutDescriptor.bindGroupLayouts);
      const bindGroupLayouts = [];
      for (let i = 0; i < n; i++) bindGroupLayouts.push(get(u32(list + 4 * i)));
      return wrap(get(d).createPipelineLayout({ label: readView(p + L.WGPUPipelineLayoutDescriptor.label), bindGroupLayouts }));
    },
    wgpuDeviceCreateComputePipeline(d, p) {
      const n = u32(p + L.WGPUComputePipelineDescriptor.constantCount);
      const list = u32(p + L.WGPUComputePipelineDescriptor.constants);
      const constants = {};
      for (let i = 0; i < n; i++) {
        const c = list + i * L.WGPUConstantEntry.sizeof;
        constants[readView(c + L.WGPUConstantEntry.key)] = dv().getFloat64(c + L.WGPUConstantEntry.value, true);
      }
      const layout = u32(p + L.WGPUComputePipelineDescriptor.layout);
      return wrap(get(d).createComputePipeline({
        label: readView(p + L.WGPUComputePipelineDescriptor.label),
        layout: layout ? get(layout) : 'auto',
        compute: {
          module: get(u32(p + L.WGPUComputePipelineDescriptor.module)),
          entryPoint: readView(p + L.WGPUComputePipelineDescriptor.entryPoint),
          constants,
        },
      }));
    },
    wgpuDeviceCreateBindGroup(d, p) {
      const n = u32(p + L.WGPUBindGroupDescriptor.entryCount);
      const base = u32(p + L.WGPUBindGroupDescriptor.entries);
      const entries = [];
      for (let i = 0; i < n; i++) {
        const e = base + i * L.WGPUBindGroupEntry.sizeof;
        const size = u64(e + L.WGPUBindGroupEntry.size);
        const resource = { buffer: get(u32(e + L.WGPUBindGroupEntry.buffer)), offset: Number(u64(e + L.WGPUBindGroupEntry.offset)) };
        if (size !== U64_MAX) resource.size = Number(size);
        entries.push({ binding: u32(e + L.WGPUBindGroupEntry.binding), resource });
      }
      return wrap(get(d).createBindGroup({
        label: readView(p + L.WGPUBindGroupDescriptor.label),
        layout: get(u32(p + L.WGPUBindGroupDescriptor.layout)),
        entries,
      }));
    },
    wgpuDeviceCreateCommandEncoder: (d, p) =>
      wrap(get(d).createCommandEncoder(p ? { label: readView(p + L.WGPUCommandEncoderDescriptor.label) } : {})),
    wgpuDeviceCreateQuerySet: (d, p) => wrap(get(d).createQuerySet({
      label: readView(p + L.WGPUQuerySetDescriptor.label),
      type: u32(p + L.WGPUQuerySetDescriptor.type) === 2 ? 'timestamp' : 'occlusion',
      count: u32(p + L.WGPUQuerySetDescriptor.count),
    })),
    wgpuDeviceGetQueue(d) {
      const e = entry(d);
      if (!e.queue) e.queue = wrap(e.obj.queue);
      else objects.get(e.queue).refs++;
      return e.queue;
    },
    wgpuDeviceHasFeature: (d, feature) => (get(d).features.has(FEATURES[feature]) ? 1 : 0),
    wgpuDevicePushErrorScope: (d, filter) => get(d).pushErrorScope(ERROR_FILTER[filter]),
    wgpuDevicePopErrorScope(d, infoPtr) {
      const info = callbackInfo(infoPtr);
      return future(info, get(d).popErrorScope(), (r) => {
        const err = r.ok ? r.value : r.error;
        withView(err ? err.message || String(err) : '', (msg) =>
          callback(info.fn)(r.ok ? 1 : 3, r.ok ? errorType(err) : ERROR_TYPE.unknown, msg, info.u1, info.u2));
      });
    },
    wgpuDeviceDestroy(d) {
      destroyedByEngine.add(get(d));
      get(d).destroy();
    },
    wgpuDeviceRelease: release,

    wgpuShaderModuleGetCompilationInfo(m, infoPtr) {
      const info = callbackInfo(infoPtr);
      return future(info, get(m).getCompilationInfo(), (r) => {
        const messages = r.ok ? r.value.messages : [];
        const size = L.WGPUCompilationMessage.sizeof;
        const list = exports.malloc(Math.max(1, messages.length) * size);
        u8().fill(0, list, list + messages.length * size);
        messages.forEach((msg, i) => {
          const p = list + i * size;
          writeView(p + L.WGPUCompilationMessage.message, msg.message);
          setU32(p + L.WGPUCompilationMessage.type, { error: 1, warning: 2, info: 3 }[msg.type] ?? 3);
          setU64(p + L.WGPUCompilationMessage.lineNum, msg.lineNum);
          setU64(p + L.WGPUCompilationMessage.linePos, msg.linePos);
          setU64(p + L.WGPUCompilationMessage.offset, msg.offset);
          setU64(p + L.WGPUCompilationMessage.length, msg.length);
        });
        const ci = exports.malloc(L.WGPUCompilationInfo.sizeof);
        u8().fill(0, ci, ci + L.WGPUCompilationInfo.sizeof);
        setU32(ci + L.WGPUCompilationInfo.messageCount, messages.length);
        setU32(ci + L.WGPUCompilationInfo.messages, list);
        try {
          callback(info.fn)(r.ok ? 1 : 2, ci, info.u1, info.u2);
        } finally {
          messages.forEach((_, i) => exports.free(u32(list + i * size + L.WGPUCompilationMessage.message + L.WGPUStringView.data)));
          exports.free(list);
          exports.free(ci);
        }
      });
    },
    wgpuShaderModuleRelease: release,

    wgpuBufferMapAsync(b, mode, offset, size, infoPtr) {
      const info = callbackInfo(infoPtr);
      const buffer = get(b);
      const whole = size === -1 || size >>> 0 === U32_MAX;
      const promise = buffer.mapAsync(Number(mode), offset >>> 0, whole ? undefined : size >>> 0);
      return future(info, promise, (r) => {
        const message = r.ok ? '' : String(r.error && r.error.message || r.error);
        const status = r.ok ? 1 : r.error && r.error.name === 'AbortError' ? 4 : 3;
        withView(message, (msg) => callback(info.fn)(status, msg, info.u1, info.u2));
      });
    },
    // The mapped range lives outside wasm memory: it is copied in once and the same pointer is
    // returned for the same range (the browser throws on a second getMappedRange of it).
    wgpuBufferGetConstMappedRange(b, offset, size) {
      const e = entry(b);
      offset >>>= 0;
      const whole = size === -1 || size >>> 0 === U32_MAX;
      const key = `${offset}:${whole ? 'end' : size >>> 0}`;
      e.mapped ??= new Map();
      if (e.mapped.has(key)) return e.mapped.get(key);
      let range;
      try {
        range = new Uint8Array(e.obj.getMappedRange(offset, whole ? undefined : size >>> 0));
      } catch (err) {
        return 0;
      }
      const p = exports.malloc(Math.max(1, range.length));
      u8().set(range, p);
      e.mapped.set(key, p);
      return p;
    },
    wgpuBufferUnmap(b) {
      const e = entry(b);
      if (e.mapped) for (const p of e.mapped.values()) exports.free(p);
      e.mapped = null;
      e.obj.unmap();
    },
    wgpuBufferGetSize: (b) => BigInt(get(b).size),
    wgpuBufferDestroy: (b) => get(b).destroy(),
    wgpuBufferRelease(b) {
      const e = entry(b);
      if (e && e.refs === 1 && e.mapped) for (const p of e.mapped.values()) exports.free(p);
      release(b);
    },

    wgpuCommandEncoderCopyBufferToBuffer: (enc, src, srcOffset, dst, dstOffset, size) =>
      get(enc).copyBufferToBuffer(get(src), Number(srcOffset), get(dst), Number(dstOffset), Number(size)),
    wgpuCommandEncoderClearBuffer(enc, b, offset, size) {
      const s = BigInt.asUintN(64, BigInt(size));
      get(enc).clearBuffer(get(b), Number(offset), s === U64_MAX ? undefined : Number(s));
    },
    wgpuCommandEncoderBeginComputePass(enc, p) {
      const desc = {};
      if (p) {
        desc.label = readView(p + L.WGPUComputePassDescriptor.label);
        const tw = u32(p + L.WGPUComputePassDescriptor.timestampWrites);
        if (tw) {
          desc.timestampWrites = { querySet: get(u32(tw + L.WGPUPassTimestampWrites.querySet)) };
          const begin = u32(tw + L.WGPUPassTimestampWrites.beginningOfPassWriteIndex);
          const end = u32(tw + L.WGPUPassTimestampWrites.endOfPassWriteIndex);
          if (begin !== U32_MAX) desc.timestampWrites.beginningOfPassWriteIndex = begin;
          if (end !== U32_MAX) desc.timestampWrites.endOfPassWriteIndex = end;
        }
      }
      return wrap(get(enc).beginComputePass(desc));
    },
    wgpuCommandEncoderResolveQuerySet: (enc, qs, first, count, dst, dstOffset) =>
      get(enc).resolveQuerySet(get(qs), first, count, get(dst), Number(dstOffset)),
    wgpuCommandEncoderFinish: (enc, p) =>
      wrap(get(enc).finish(p ? { label: readView(p + L.WGPUCommandEncoderDescriptor.label) } : {})),
    wgpuCommandEncoderRelease: release,
    wgpuCommandBufferRelease: release,

    wgpuComputePassEncoderSetPipeline: (pass, pipeline) => get(pass).setPipeline(get(pipeline)),
    wgpuComputePassEncoderSetBindGroup(pass, index, group, count, offsetsPtr) {
      const offsets = count ? new Uint32Array(exports.memory.buffer, offsetsPtr, count) : [];
      get(pass).setBindGroup(index, get(group), offsets);
    },
    wgpuComputePassEncoderDispatchWorkgroups: (pass, x, y, z) => get(pass).dispatchWorkgroups(x, y, z),
    wgpuComputePassEncoderEnd: (pass) => get(pass).end(),
    wgpuComputePassEncoderRelease: release,

    wgpuQueueSubmit(q, count, list) {
      const buffers = [];
      for (let i = 0; i < count; i++) buffers.push(get(u32(list + 4 * i)));
      get(q).submit(buffers);
    },
    wgpuQueueWriteBuffer: (q, b, offset, data, size) =>
      get(q).writeBuffer(get(b), Number(offset), exports.memory.buffer, data >>> 0, size >>> 0),
    wgpuQueueRelease: release,

    wgpuBindGroupRelease: release,
    wgpuBindGroupLayoutRelease: release,
    wgpuPipelineLayoutRelease: release,
    wgpuComputePipelineRelease: release,
    wgpuQuerySetDestroy: (qs) => get(qs).destroy(),
    wgpuQuerySetRelease: release,
  };

  return {
    imports,
    devices,
    bind(instanceExports) { exports = instanceExports; },
    setAdapter(a) { adapter = a; },
  };
}
