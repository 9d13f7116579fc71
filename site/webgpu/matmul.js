// Descent's WebGPU float32 matmul: C[b] = op(A[b]) @ op(B[b]), op = optional transpose.
// One device per page (or worker), pipeline compiled once, buffers pooled, one read-back
// per call. Works in window and worker scopes; Python reaches it as `js.descentGPU`.

// Each workgroup computes a TM x TN tile of C; each of its WX x WY threads owns an RM x RN
// block (RN a multiple of 4: vec4 columns) kept in registers across the K loop.
export const CONFIG = { WX: 8, WY: 8, RM: 8, RN: 8, TK: 16 };

function kernel({ WX, WY, RM, RN, TK }) {
  const TM = WY * RM, TN = WX * RN, T = WX * WY, R4 = RM / 4, C4 = RN / 4;
  const body = []; // the unrolled k step: RM/4 + RN/4 vec4 reads from shared memory, RM*RN/4 vec4 FMAs
  for (let i = 0; i < R4; i++) body.push(`let a${i} = As[k * ${TM / 4}u + lid.y * ${R4}u + ${i}u];`);
  for (let j = 0; j < C4; j++) body.push(`let b${j} = Bs[k * ${TN / 4}u + lid.x * ${C4}u + ${j}u];`);
  for (let r = 0; r < RM; r++)
    for (let j = 0; j < C4; j++) body.push(`acc[${r * C4 + j}] += a${r >> 2}.${"xyzw"[r & 3]} * b${j};`);
  return { TM, TN, code: /* wgsl */ `
struct Params { M: u32, K: u32, N: u32, ta: u32, tb: u32, strideA: u32, strideB: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// k-major tiles, 4 consecutive rows (A) / columns (B) per vec4
var<workgroup> As: array<vec4<f32>, ${(TK * TM) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(TK * TN) / 4}>;

@compute @workgroup_size(${WX}, ${WY})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let row0 = wg.y * ${TM}u;
  let col0 = wg.x * ${TN}u;
  let aBase = wg.z * p.strideA;
  let bBase = wg.z * p.strideB;
  var acc: array<vec4<f32>, ${RM * C4}>;
  for (var k0 = 0u; k0 < p.K; k0 += ${TK}u) {
    for (var i = tid; i < ${TK * TM}u; i += ${T}u) {
      // element (m, k) of op(A); walk memory order so neighbouring threads read neighbours
      var m = i / ${TK}u; var ka = i % ${TK}u;
      if (p.ta != 0u) { ka = i / ${TM}u; m = i % ${TM}u; }
      let gm = row0 + m; let gka = k0 + ka;
      var va = 0.0;
      if (gm < p.M && gka < p.K) {
        va = A[aBase + select(gm * p.K + gka, gka * p.M + gm, p.ta != 0u)];
      }
      As[ka * ${TM / 4}u + m / 4u][m % 4u] = va;
    }
    for (var i = tid; i < ${TK * TN}u; i += ${T}u) {
      // element (k, n) of op(B)
      var kb = i / ${TN}u; var n = i % ${TN}u;
      if (p.tb != 0u) { n = i / ${TK}u; kb = i % ${TK}u; }
      let gn = col0 + n; let gkb = k0 + kb;
      var vb = 0.0;
      if (gn < p.N && gkb < p.K) {
        vb = B[bBase + select(gkb * p.N + gn, gn * p.K + gkb, p.tb != 0u)];
      }
      Bs[kb * ${TN / 4}u + n / 4u][n % 4u] = vb;
    }
    workgroupBarrier();
    for (var k = 0u; k < ${TK}u; k++) {
      ${body.join("\n      ")}
    }
    workgroupBarrier();
  }
  let cBase = wg.z * p.M * p.N;
  let gn0 = col0 + lid.x * ${RN}u;
  for (var r = 0u; r < ${RM}u; r++) {
    let gm = row0 + lid.y * ${RM}u + r;
    if (gm >= p.M) { break; }
    for (var c = 0u; c < ${RN}u; c++) {
      if (gn0 + c < p.N) { C[cBase + gm * p.N + gn0 + c] = acc[r * ${C4}u + c / 4u][c % 4u]; }
    }
  }
}` };
}

const state = { kernel: null, device: null, pipeline: null, params: null, adapter: null, lost: null, starting: null };
const pool = new Map(); // "usage:bytes" -> free GPUBuffers

function poolKey(usage, bytes) { return `${usage}:${bytes}`; }

function takeBuffer(usage, bytes) {
  // Round up to a power of two (>= 256 B) so buffers of similar sizes get reused.
  const size = Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
  const free = pool.get(poolKey(usage, size));
  return (free && free.pop()) || state.device.createBuffer({ size, usage });
}

function giveBuffer(buf) {
  const key = poolKey(buf.usage, buf.size);
  if (!pool.has(key)) pool.set(key, []);
  const free = pool.get(key);
  if (free.length < 4) free.push(buf); else buf.destroy();
}

function describe(adapter) {
  const info = adapter.info || {};
  const name = info.description || [info.vendor, info.architecture].filter(Boolean).join(" ") || "unknown adapter";
  return { name, vendor: info.vendor || "", architecture: info.architecture || "",
           device: info.device || "", description: info.description || "",
           isFallbackAdapter: !!(info.isFallbackAdapter ?? adapter.isFallbackAdapter) };
}

// Set up the one device; resolves to the adapter's description, rejects with a precise reason.
export function init(options = {}) {
  if (state.device && !state.lost) return Promise.resolve(state.adapter);
  if (state.starting) return state.starting;
  state.starting = (async () => {
    const gpu = globalThis.navigator && globalThis.navigator.gpu;
    if (!gpu) throw new Error("no navigator.gpu: this browser has no WebGPU");
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference || "high-performance" });
    if (!adapter) throw new Error("navigator.gpu.requestAdapter() returned null: no usable GPU adapter (WebGPU disabled or blocked here)");
    const lim = adapter.limits;
    const device = await adapter.requestDevice({ requiredLimits: {
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize, maxBufferSize: lim.maxBufferSize } });
    state.lost = null;
    device.lost.then((info) => {
      if (state.device === device) state.lost = `WebGPU device lost (${info.reason}): ${info.message || "no message"}`;
    });
    state.kernel = kernel({ ...CONFIG, ...(options.config || {}) });
    const module = device.createShaderModule({ code: state.kernel.code });
    state.pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
    state.params = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    state.device = device;
    state.adapter = describe(adapter);
    pool.clear();
    return state.adapter;
  })();
  state.starting.finally(() => { state.starting = null; }).catch(() => {});
  return state.starting;
}

export function status() {
  return { ready: !!state.device && !state.lost, lost: state.lost, adapter: state.adapter && state.adapter.name,
           maxBytes: state.device ? state.device.limits.maxStorageBufferBindingSize : 0 };
}

// op(A) is M x K, op(B) is K x N; A is stored K x M when ta, B is N x K when tb.
// batch products read A (B) at offset b*M*K (b*K*N), or always at 0 when broadcastA (B).
export async function matmul(a, b, M, K, N, ta = false, tb = false, batch = 1, broadcastA = false, broadcastB = false) {
  if (state.lost) throw new Error(state.lost);
  if (!state.device) throw new Error("WebGPU not initialised: call descentGPU.init() first");
  const out = new Float32Array(batch * M * N);
  if (out.length === 0) return out;
  const device = state.device, S = GPUBufferUsage.STORAGE;
  const sa = broadcastA ? 0 : M * K, sb = broadcastB ? 0 : K * N;
  if (a.length < (broadcastA ? 1 : batch) * M * K || b.length < (broadcastB ? 1 : batch) * K * N)
    throw new Error(`matmul: inputs too short for ${batch}x${M}x${K}x${N}`);
  const bufA = takeBuffer(S | GPUBufferUsage.COPY_DST, Math.max(4, a.byteLength));
  const bufB = takeBuffer(S | GPUBufferUsage.COPY_DST, Math.max(4, b.byteLength));
  const bufC = takeBuffer(S | GPUBufferUsage.COPY_SRC, out.byteLength);
  const read = takeBuffer(GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, out.byteLength);
  try {
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    if (a.length) device.queue.writeBuffer(bufA, 0, a);
    if (b.length) device.queue.writeBuffer(bufB, 0, b);
    device.queue.writeBuffer(state.params, 0, new Uint32Array([M, K, N, ta ? 1 : 0, tb ? 1 : 0, sa, sb, 0]));
    const bind = device.createBindGroup({ layout: state.pipeline.getBindGroupLayout(0), entries: [
      { binding: 0, resource: { buffer: bufA } }, { binding: 1, resource: { buffer: bufB } },
      { binding: 2, resource: { buffer: bufC } }, { binding: 3, resource: { buffer: state.params } }] });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(state.pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(Math.ceil(N / state.kernel.TN), Math.ceil(M / state.kernel.TM), batch);
    pass.end();
    enc.copyBufferToBuffer(bufC, 0, read, 0, out.byteLength);
    device.queue.submit([enc.finish()]);
    const errors = Promise.all([device.popErrorScope(), device.popErrorScope()]);
    const [[validation, oom]] = await Promise.all([errors, read.mapAsync(GPUMapMode.READ, 0, out.byteLength)]);
    if (validation || oom) {
      read.unmap();
      throw new Error(`WebGPU error: ${(validation || oom).message}`);
    }
    out.set(new Float32Array(read.getMappedRange(0, out.byteLength)));
    read.unmap();
  } catch (e) {
    await new Promise((r) => setTimeout(r, 0)); // let device.lost settle so the reason is the real one
    if (state.lost) throw new Error(state.lost);
    throw e;
  } finally {
    for (const buf of [bufA, bufB, bufC, read]) if (buf.mapState !== "pending") giveBuffer(buf);
  }
  return out;
}

// Plain-JS reference with the same signature (used by tests and when there is no GPU).
export function matmulCPU(a, b, M, K, N, ta = false, tb = false, batch = 1, broadcastA = false, broadcastB = false) {
  const out = new Float32Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const ao = broadcastA ? 0 : z * M * K, bo = broadcastB ? 0 : z * K * N, co = z * M * N;
    for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) {
      const av = a[ao + (ta ? k * M + i : i * K + k)];
      for (let j = 0; j < N; j++) out[co + i * N + j] += av * b[bo + (tb ? j * K + k : k * N + j)];
    }
  }
  return out;
}

// Test hook: lose the device the way a driver reset would.
export function destroyDevice() { if (state.device) state.device.destroy(); }

const api = { kernel, init, status, matmul, matmulCPU, destroyDevice, get device() { return state.device; } };
globalThis.descentGPU = api;
export default api;
