"""The WGSL matmul kernels in real headless Chromium (SwiftShader here) vs a numpy reference."""
import base64

import numpy as np
import pytest

pytestmark = pytest.mark.browser

RUN = """async ([a64, b64, M, K, N, ta, tb, batch, bcA, bcB]) => {
  const gpu = (await import('/site/webgpu/matmul.js')).default;
  const dec = (s) => new Float32Array(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer);
  const info = await gpu.init();
  const out = await gpu.matmul(dec(a64), dec(b64), M, K, N, ta, tb, batch, bcA, bcB);
  let s = ''; const u8 = new Uint8Array(out.buffer);
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  return [info.name, info.architecture, btoa(s)];
}"""


def gpu_matmul(page, a, b, ta=False, tb=False):
    """op(a) @ op(b) on the page's GPU; a/b are 2-D, or 3-D for a batch (one side may be 2-D)."""
    m, k = (a.shape[-1], a.shape[-2]) if ta else a.shape[-2:]
    n = b.shape[-2] if tb else b.shape[-1]
    batch = max(a.shape[0] if a.ndim == 3 else 1, b.shape[0] if b.ndim == 3 else 1)
    enc = lambda x: base64.b64encode(np.ascontiguousarray(x, np.float32).tobytes()).decode()
    name, arch, out = page.evaluate(RUN, [enc(a), enc(b), int(m), int(k), int(n), ta, tb, batch,
                                          a.ndim == 2 and batch > 1, b.ndim == 2 and batch > 1])
    c = np.frombuffer(base64.b64decode(out), np.float32)
    print(f"adapter: {name} ({arch})")
    return c.reshape((batch, m, n) if batch > 1 else (m, n)), name


def reference(a, b, ta, tb):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return np.matmul(a64.swapaxes(-1, -2) if ta else a64, b64.swapaxes(-1, -2) if tb else b64)


def check(page, shape_a, shape_b, ta=False, tb=False, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = rng.standard_normal(shape_b).astype(np.float32)
    got, name = gpu_matmul(page, a, b, ta, tb)
    want = reference(a, b, ta, tb)
    k = a.shape[-2] if ta else a.shape[-1]
    assert got.shape == want.shape
    # float32 accumulation error grows like sqrt(K); |entries| ~ sqrt(K) too
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * k)
    assert not page.errors
    return name


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 13, 5), (64, 64, 64), (257, 129, 65), (1024, 1024, 1024)])
def test_kernel_matches_reference(blank_page, m, k, n):
    name = check(blank_page, (m, k), (k, n))
    print(f"{m}x{k}x{n} ok on {name}")


@pytest.mark.parametrize("m,k,n", [(7, 13, 5), (257, 129, 65), (128, 256, 64)])
def test_transposed_a(blank_page, m, k, n):
    check(blank_page, (k, m), (k, n), ta=True)


@pytest.mark.parametrize("m,k,n", [(7, 13, 5), (257, 129, 65), (128, 256, 64)])
def test_transposed_b(blank_page, m, k, n):
    check(blank_page, (m, k), (n, k), tb=True)


def test_both_transposed(blank_page):
    check(blank_page, (33, 70), (19, 33), ta=True, tb=True)


def test_batch(blank_page):
    check(blank_page, (5, 37, 23), (5, 23, 41))


def test_batch_broadcast_and_transposed(blank_page):
    check(blank_page, (4, 50, 30), (20, 50), ta=True, tb=True)  # B shared by every batch entry
    check(blank_page, (30, 50), (3, 50, 17))                    # A shared


def test_adapter_is_swiftshader(blank_page):
    info = blank_page.evaluate("async () => (await import('/site/webgpu/matmul.js')).default.init()")
    print(f"adapter: {info}")
    assert info["architecture"] == "swiftshader" or "swiftshader" in info["name"].lower()


def test_pool_reuses_buffers_and_results_stay_correct(blank_page):
    # the same shapes twice, then a smaller one that fits a pooled buffer: no stale data leaks
    for shape in [(100, 60, 70), (100, 60, 70), (9, 11, 3)]:
        m, k, n = shape
        check(blank_page, (m, k), (k, n), seed=m)


def test_worker_scope(blank_page):
    """The module runs in a DedicatedWorker (Panel's pyodide-worker runs Python there)."""
    out = blank_page.evaluate("""async () => {
      const src = `self.onmessage = async () => {
        try {
          const gpu = (await import('${location.origin}/site/webgpu/matmul.js')).default;
          const info = await gpu.init();
          const c = await gpu.matmul(new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), 2, 2, 2);
          postMessage({name: info.name, c: Array.from(c), global: typeof self.descentGPU});
        } catch (e) { postMessage({error: String(e)}); }
      };`;
      const w = new Worker(URL.createObjectURL(new Blob([src], {type: 'text/javascript'})));
      return await new Promise((r) => { w.onmessage = (e) => r(e.data); w.postMessage(0); });
    }""")
    assert "error" not in out, out
    print(f"worker adapter: {out['name']}")
    assert out["c"] == [19, 22, 43, 50] and out["global"] == "object"


@pytest.mark.parametrize("config", [{"WX": 16, "WY": 16, "RM": 4, "RN": 4, "TK": 8},
                                    {"WX": 4, "WY": 8, "RM": 4, "RN": 8, "TK": 32}])
def test_other_tile_configurations(blank_page, config):
    """The WGSL generator is right for other register-block / tile shapes too (tuning knob)."""
    err = blank_page.evaluate("""async (config) => {
      const gpu = (await import('/site/webgpu/matmul.js')).default;
      await gpu.init({config});
      const M = 131, K = 77, N = 45;
      let s = 1; const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5;
      const a = Float32Array.from({length: 2 * M * K}, rnd), b = Float32Array.from({length: 2 * K * N}, rnd);
      let err = 0;
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const c = await gpu.matmul(a, b, M, K, N, ta, tb, 2), r = gpu.matmulCPU(a, b, M, K, N, ta, tb, 2);
        err = Math.max(err, c.reduce((m, v, i) => Math.max(m, Math.abs(v - r[i])), 0));
      }
      return err;
    }""", config)
    assert err < 1e-4
