// Descent's WebAssembly SIMD kernels (kernels.wasm, built from site/wasm/*.c), for a window or
// a worker. Where the browser has relaxed SIMD, init() loads kernels-relaxed.wasm instead: the
// same kernels with a fused multiply-add in the GEMM (about twice the products' speed). engine/backend/wasm.py calls them synchronously from Python on numpy's buffers:
//
//   const memory = descentWasm.pyodideMemory(pyodide._module);   // Pyodide's own heap
//   await descentWasm.init(memory);   // or (memory, url of a kernels*.wasm)
//   descentWasm.gemm(a, b, c, batch, m, k, n, ta, tb, strideA, strideB, scratch);  // pointers
//   descentWasm.adam(p, g, M, V, n, b1, b2, shrink, l2, epsC, negStep);
//   descentWasm.im2col / col2im / max_pool / max_pool_backward(...)   // channels-last images
//   descentWasm.exports.gelu / softmax / layer_norm ...   // sequence-model kernels (seq.c)
//   descentWasm.status()   // {ready, reason, simd, relaxed, fma, url, scratchBytes, memoryBytes}
//
// The module imports its memory, so sharing Pyodide's WebAssembly.Memory means the pointers
// are numpy data addresses: no copies. Growth of that memory needs nothing here (the module
// holds the Memory object, not a typed-array view of it).

// (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt): valid only where SIMD128 works
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
                                   10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
// (func (result v128) three i8x16.splat of 0, f32x4.relaxed_madd): valid only with relaxed SIMD
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
  10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 133, 2, 11]);

// An Emscripten side module that imports env.memory and nothing else: its dylink.0 section
// (no memory, no table) then the import section. See pyodideMemory().
const MEMORY_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0,
  0, 15, 8, ...[..."dylink.0"].map(c => c.charCodeAt(0)), 1, 4, 0, 0, 0, 0,
  2, 15, 1, 3, ...[..."env"].map(c => c.charCodeAt(0)), 6, ...[..."memory"].map(c => c.charCodeAt(0)), 2, 0, 0]);

function notReady() {
  throw new Error(`descentWasm is not ready: ${api.reason}`);
}

const api = {
  ready: false,
  reason: "not initialised (call descentWasm.init(memory, url))",
  simd: WebAssembly.validate(SIMD_PROBE),
  relaxed: WebAssembly.validate(RELAXED_PROBE),
  url: null,      // the module loaded
  fma: false,     // whether it is the relaxed-SIMD build (fused multiply-add)
  memory: null,
  exports: null,
  scratchBytes: 0,
  gemm: notReady,   // replaced by the wasm export itself once ready: no JS in between
  adam: notReady,
  im2col: notReady,
  col2im: notReady,
  max_pool: notReady,
  max_pool_backward: notReady,

  // Pyodide's WebAssembly.Memory. Emscripten keeps it in a closure; Pyodide 0.29 does not
  // export it. Its dynamic linker hands it to every side module it loads (env.memory), so
  // we ask it to load a one-import side module and take the memory from the import object
  // at instantiation (a sentinel error stops the load there: nothing is registered).
  pyodideMemory(module) {
    if (module.wasmMemory instanceof WebAssembly.Memory) return module.wasmMemory;
    if (typeof module.loadWebAssemblyModule !== "function") {
      throw new Error("this Pyodide does not expose its memory or its dynamic linker");
    }
    const Instance = WebAssembly.Instance, sentinel = {};
    let memory = null;
    WebAssembly.Instance = function (mod, imports) {
      memory = imports.env.memory;
      throw sentinel;
    };
    try {
      module.loadWebAssemblyModule(MEMORY_PROBE, {loadAsync: false, nodelete: true},
                                   "descent-memory-probe", {}, 0);
    } catch (e) {
      if (e !== sentinel) throw e;
    } finally {
      WebAssembly.Instance = Instance;
    }
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new Error("Pyodide's dynamic linker did not pass a WebAssembly.Memory");
    }
    if (module.HEAPU8 && module.HEAPU8.buffer !== memory.buffer) {  // Emscripten refreshes HEAPU8 on growth
      throw new Error("the memory found is not Pyodide's heap (HEAPU8 views another buffer)");
    }
    return memory;
  },

  async init(memory, url) {  // url: by default kernels(-relaxed).wasm next to this module
    api.ready = false;
    const here = (name) => new URL(name, import.meta.url).href;
    // the relaxed build first where it validates; kernels.wasm if it is missing (an older build)
    const urls = url != null ? [String(url)] :
      api.relaxed ? [here("kernels-relaxed.wasm"), here("kernels.wasm")] : [here("kernels.wasm")];
    try {
      if (!api.simd) throw new Error("this browser has no WebAssembly SIMD (simd128)");
      if (!(memory instanceof WebAssembly.Memory)) throw new Error("init() needs a WebAssembly.Memory");
      let resp = null, failed = null;
      for (const u of urls) {  // offline, a missing file fails the fetch itself: try the next
        api.url = u;
        try {
          resp = await fetch(u);
          failed = null;
        } catch (e) {
          resp = null;
          failed = e;
        }
        if (resp && resp.ok) break;
      }
      if (failed) throw new Error(`could not fetch ${api.url}: ${failed.message || failed}`);
      if (!resp.ok) throw new Error(`could not fetch ${api.url}: HTTP ${resp.status}`);
      api.fma = api.relaxed && api.url.endsWith("-relaxed.wasm");
      const {instance} = await WebAssembly.instantiate(await resp.arrayBuffer(), {env: {memory}});
      api.memory = memory;
      api.exports = instance.exports;
      api.scratchBytes = instance.exports.gemm_scratch_bytes();
      api.gemm = instance.exports.gemm;
      api.adam = instance.exports.adam;
      for (const name of ["im2col", "col2im", "max_pool", "max_pool_backward"]) {
        api[name] = instance.exports[name] || notReady;
      }
      api.ready = true;
      api.reason = "ready";
    } catch (e) {
      api.reason = String(e && e.message || e);
      throw e;
    }
    return api.status();
  },

  status() {
    return {ready: api.ready, reason: api.reason, simd: api.simd, relaxed: api.relaxed, fma: api.fma, url: api.url,
            scratchBytes: api.scratchBytes,
            memoryBytes: api.memory ? api.memory.buffer.byteLength : 0};
  },
};

globalThis.descentWasm = api;
export default api;
