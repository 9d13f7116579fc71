// The kernel benchmark's page side (playground/bench/kernel_bench.py drives it): builds of
// kernels.wasm, each in its own memory, timed on a GPT baby step's shapes. One call = one round
// for one build; instances persist across calls, so V8's tier-up carries over between rounds.
"use strict";
(() => {
  const builds = [];
  const GROW = 65536;

  function decode(b64) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes;
  }

  // memory layout: [scratch | 8 sets of GEMM operands | GELU's and attention's arrays]
  async function load(b64, floats) {
    const memory = new WebAssembly.Memory({ initial: 16 });
    const { instance } = await WebAssembly.instantiate(decode(b64), { env: { memory } });
    const e = instance.exports;
    const scratch = 64;
    const base = scratch + Math.ceil(e.gemm_scratch_bytes() / 64) * 64;
    const need = base + 4 * floats + 1024 - memory.buffer.byteLength;
    if (need > 0) memory.grow(Math.ceil(need / GROW));
    const f = new Float32Array(memory.buffer);
    for (let i = base / 4; i < f.length; i++) f[i] = Math.sin(i) * 2;  // no NaN, no denormals
    return { e, scratch, base, f };
  }

  // max |c - a.b| / (|a.b| + 1) over the first row of the last product, recomputed here: the
  // timed kernel did compute the product
  function check(f, A, B, C, [M, K, N, ta, tb]) {
    let err = 0;
    for (let j = 0; j < Math.min(N, 8); j++) {
      let dot = 0;
      for (let p = 0; p < K; p++) dot += (ta ? f[A + p * M] : f[A + p]) * (tb ? f[B + j * K + p] : f[B + p * N + j]);
      err = Math.max(err, Math.abs(f[C + j] - dot) / (Math.abs(dot) + 1));
    }
    return err;
  }

  const now = () => performance.now();

  // shapes: [[M, K, N, ta, tb], ...]; returns {gemm: [ms per shape], check: the last product's
// relative error, gelu: ms, attention: [fwd, bwd]}
  async function round({ index, wasm, shapes, setFloats, gelu, attn, repeats }) {
    const other = 3 * gelu + 2 * attn.qkv + attn.w + 2 * attn.out + attn.t * attn.t + 256;
    if (!builds[index]) builds[index] = await load(wasm, 8 * setFloats + other);
    const { e, scratch, base, f } = builds[index];
    const out = { gemm: [] };
    for (const [M, K, N, ta, tb] of shapes) {  // operands rotate over 8 sets: cold, as in a step
      const at = (j) => base + 4 * (j % 8) * setFloats;
      const run = (j) => e.gemm(at(j), at(j) + 4 * M * K, at(j) + 4 * (M * K + K * N), 1, M, K, N,
                                ta, tb, 0, 0, scratch);
      run(0);
      const t = now();
      for (let j = 0; j < repeats; j++) run(j);
      out.gemm.push((now() - t) / repeats);
      run(0);
      out.check = check(f, at(0) / 4, at(0) / 4 + M * K, at(0) / 4 + M * K + K * N, [M, K, N, ta, tb]);
    }
    let p = base + 4 * 8 * setFloats;
    const next = (n) => { const q = p; p += 4 * n + 64; p -= p % 16; return q; };
    const x = next(gelu), y = next(gelu), dy = next(gelu);
    e.gelu(x, y, dy, gelu, scratch);
    let t = now();
    for (let j = 0; j < repeats; j++) e.gelu(x, y, dy, gelu, scratch);
    out.gelu = (now() - t) / repeats;
    const { b, t: T, heads, hs } = attn;
    const qkv = next(attn.qkv), o = next(attn.out), w = next(attn.w), g = next(attn.out),
          gx = next(attn.qkv), gs = next(T * T), scale = 1 / Math.sqrt(hs);
    e.attention(qkv, o, w, b, T, heads, hs, scale, 1, scratch);
    t = now();
    for (let j = 0; j < repeats; j++) e.attention(qkv, o, w, b, T, heads, hs, scale, 1, scratch);
    const fwd = (now() - t) / repeats;
    t = now();
    for (let j = 0; j < repeats; j++) e.attention_backward(qkv, w, g, gx, gs, b, T, heads, hs, scale, 1, scratch);
    out.attention = [fwd, (now() - t) / repeats];
    return out;
  }

  window.kernelTiming = { round };
})();
