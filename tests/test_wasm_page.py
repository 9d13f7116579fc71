"""The WebAssembly SIMD kernels in headless Chromium with the shared Pyodide distribution:
the real kernels (site/wasm/kernels.{c,js}) on numpy's buffers in Pyodide's heap, against
numpy; the backend's install, fallback reasons and speed there. (CPython side:
tests/test_wasm_backend.py.)"""
import json
import os
import pathlib
import shutil

import numpy as np
import pytest

from playground.sitebuild import kernels

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIST = pathlib.Path(os.environ.get("DESCENT_PYODIDE_DIST", ROOT.parent / "shared" / "pyodide-dist"))


# -- in the page: headless Chromium, the shared Pyodide distribution, the real kernels ----------
BOOT = """async (files) => {
  const {loadPyodide} = await import('/pyodide-dist/pyodide.mjs');
  const py = await loadPyodide({indexURL: '/pyodide-dist/'});
  await py.loadPackage('numpy');
  for (const [path, text] of Object.entries(files)) {
    py.FS.mkdirTree('/home/pyodide/' + path.split('/').slice(0, -1).join('/'));
    py.FS.writeFile('/home/pyodide/' + path, text);
  }
  py.globals.set('ORIGIN', location.origin);
  globalThis.py = py;
  return py.version;
}"""

PRELUDE = """
import json, time
import numpy as np
import engine
from engine import backend as seam, optim
from engine.backend import wasm
MODULE_URL = ORIGIN + '/site/wasm/kernels.js'
rng = np.random.default_rng(0)
def randn(*shape):
    return rng.standard_normal(shape, dtype=np.float32)
"""


def _types(route):
    path = DIST / route.request.url.split("/pyodide-dist/", 1)[1].split("?")[0]
    if not path.is_file():
        return route.fulfill(status=404, body="not found")
    kind = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
            ".json": "application/json"}.get(path.suffix, "application/octet-stream")
    route.fulfill(path=str(path), headers={"Content-Type": kind})


@pytest.fixture(scope="module")
def page(chromium_launcher, http_server):
    """One page per module with Pyodide + numpy booted and the repo's engine in its FS."""
    if not (DIST / "pyodide.mjs").is_file():
        pytest.skip(f"no Pyodide distribution at {DIST} (set DESCENT_PYODIDE_DIST)")
    if not (shutil.which("clang-14") or shutil.which("clang")):
        pytest.skip("clang-14 is not installed (apt-get install clang-14 lld-14): no kernels.wasm")
    kernels.build()
    ctx = chromium_launcher(webgpu=False).new_context()
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.route("**/pyodide-dist/**", _types)
    pg.goto(http_server + "/blank.html")
    files = {str(p.relative_to(ROOT)): p.read_text() for p in (ROOT / "engine").rglob("*.py")}
    pg.evaluate(BOOT, files)
    pg.evaluate("code => py.runPythonAsync(code)", PRELUDE)
    yield pg
    ctx.close()


INSTALLED = """
if wasm.backend is None:  # this test run on its own (-k)
    await wasm.install(module_url=MODULE_URL)
seam.use('wasm')
"""


def run(page, code):
    """Run Python in the page (top-level await allowed); its last expression, via JSON."""
    return json.loads(page.evaluate("code => py.runPythonAsync(code)", code + "\njson.dumps(_)"))


browser = pytest.mark.browser


@browser
def test_in_page_fallback_reasons(page):
    res = run(page, """
out = {'404': await wasm.install(module_url=MODULE_URL, wasm_url=ORIGIN + '/site/wasm/missing.wasm')}
import js
js.descentWasm.simd = False
out['simd'] = await wasm.install(module_url=MODULE_URL)
js.descentWasm.simd = True
out['status'] = seam.status()['backend']
_ = out""")
    assert res["404"] == [False, "numpy: WebAssembly kernels unavailable: kernels.wasm failed to load: "
                                 "could not fetch " + res["404"][1].split("could not fetch ")[1]]
    assert res["404"][1].endswith("/site/wasm/missing.wasm: HTTP 404")
    assert res["simd"] == [False, "numpy: WebAssembly kernels unavailable: this browser has no "
                                  "WebAssembly SIMD (simd128)"]
    assert res["status"] == "numpy"


@browser
def test_in_page_install_shares_pyodides_memory(page):
    res = run(page, """
t = time.perf_counter()
ok, why = await wasm.install(module_url=MODULE_URL)
seconds = time.perf_counter() - t
_ = {'ok': ok, 'why': why, 'seconds': seconds, 'backend': seam.status()['backend'],
     'fused': seam.fused_adam() is not None}""")
    print(f"\ninstall() in {res['seconds']:.2f} s: {res['why']}")
    assert res["ok"] and res["backend"] == "wasm" and res["fused"], res
    assert res["seconds"] < 1.5
    same = page.evaluate("() => descentWasm.memory.buffer === py._module.HEAPU8.buffer")
    assert same, "the kernels do not run on Pyodide's own memory"
    assert not page.errors


@browser
def test_in_page_gemm_matches_numpy_at_odd_shapes(page):
    res = run(page, INSTALLED + """
wasm.set_threshold(1)
def ref(a, b, ta, tb):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.matmul(a.swapaxes(-1, -2) if ta else a, b.swapaxes(-1, -2) if tb else b)
def stored(batch, rows, cols, t):
    return randn(*batch, *((cols, rows) if t else (rows, cols)))
seam.reset_stats()
errs = {}
shapes = [((), (), 1, 1, 1), ((), (), 7, 13, 5), ((), (), 64, 64, 64), ((), (), 257, 129, 65),
          ((3,), (3,), 9, 17, 11), ((4,), (), 5, 6, 7), ((), (4,), 5, 6, 7), ((2, 1), (3,), 6, 3, 9)]
for ba, bb, m, k, n in shapes:
    for ta in (False, True):
        for tb in (False, True):
            a, b = stored(ba, m, k, ta), stored(bb, k, n, tb)
            got = seam.matmul(a, b, ta, tb)
            want = ref(a, b, ta, tb)
            errs[f'{ba}{bb} {m}x{k}x{n} ta={ta} tb={tb}'] = float(np.abs(got - want).max() / (np.abs(want).max() + 1e-6))
a = randn(40, 70)[::2, 1::3]          # non-contiguous both ways: copied
b = randn(46, 40)[::2].T              # (40, 23): a transposed, strided view
errs['non-contiguous'] = float(np.abs(seam.matmul(a, b, False, True) - ref(a, b, False, True)).max())
big = np.ones(48 * 2 ** 20 // 4, np.float32)  # grow Pyodide's memory: the kernels must see it
a, b = randn(33, 65), randn(65, 17)
errs['after growth'] = float(np.abs(seam.matmul(a, b) - ref(a, b, False, False)).max())
del big
_ = {'errs': errs, 'stats': seam.status()['stats'], 'backend': seam.status()['backend']}""")
    bad = {k: v for k, v in res["errs"].items() if not v < 2e-6 * 50}
    assert not bad, bad
    assert res["backend"] == "wasm" and "numpy" not in res["stats"], res["stats"]
    assert page.evaluate("() => descentWasm.memory.buffer === py._module.HEAPU8.buffer")


@browser
def test_in_page_fused_adam_equals_numpy_adam(page):
    res = run(page, INSTALLED + """
def steps(opt_cls, **kw):
    engine.manual_seed(0)
    ps = [engine.randn(300, 7, requires_grad=True), engine.randn(13, requires_grad=True)]
    opt = opt_cls(ps, lr=1e-2, **kw)
    g = np.random.default_rng(1)
    for _ in range(5):
        for p in ps:
            p.grad = g.standard_normal(p.shape, dtype=np.float32)
        opt.step()
    return [p.data for p in ps]
diffs = {}
for name, cls, kw in [('adam', optim.Adam, {}), ('adam-l2', optim.Adam, {'weight_decay': 0.1}),
                      ('adamw', optim.AdamW, {'weight_decay': 0.05})]:
    seam.use('wasm')
    fused = steps(cls, **kw)
    seam.use('numpy')
    plain = steps(cls, **kw)
    diffs[name] = max(float(np.abs(x - y).max()) for x, y in zip(fused, plain))
seam.use('wasm')
_ = diffs""")
    assert res == {"adam": 0.0, "adam-l2": 0.0, "adamw": 0.0}, res


@browser
def test_in_page_mlp_training_same_losses_on_both_backends(page):
    res = run(page, INSTALLED + """
from engine import nn
def train():
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 10))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    g = np.random.default_rng(2)
    x, y = g.standard_normal((256, 64), dtype=np.float32), g.integers(0, 10, 256)
    losses = []
    for i in range(12):
        xb, yb = engine.tensor(x[i % 4 * 64:][:64]), engine.tensor(y[i % 4 * 64:][:64])
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad(); loss.backward(); opt.step()
        losses.append(float(loss.item()))
    return losses
wasm.set_threshold(1)
seam.use('wasm'); seam.reset_stats()
with_wasm = train(); calls = seam.status()['stats']
seam.use('numpy')
with_numpy = train()
seam.use('wasm')
_ = {'wasm': with_wasm, 'numpy': with_numpy, 'calls': calls}""")
    print(f"\nlosses wasm {res['wasm'][-3:]} numpy {res['numpy'][-3:]}; seam calls {res['calls']}")
    assert res["calls"]["wasm"]["calls"] >= 12 * 5
    np.testing.assert_allclose(res["wasm"], res["numpy"], rtol=1e-4)


@browser
def test_in_page_image_kernels_match_numpy(page):
    """kernels.c's im2col / col2im / max_pool against engine's numpy loops, odd shapes,
    padding, strides, overlapping windows, ties, NHWC and NCHW memory."""
    res = run(page, INSTALLED + """
from engine import Tensor
from engine.nn import functional as F
def case(shape, nhwc, conv, pool, ties):
    x = randn(*shape)
    if nhwc:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    w = randn(conv[0], shape[1], *conv[1])
    out = {}
    for name in ('wasm', 'numpy'):
        seam.use(name)
        xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
        h = F.conv2d(xt, wt, None, conv[2], conv[3])
        if ties:
            h.data[:, :, ::2, :] = 0.25
        p = F.max_pool2d(h, *pool)
        (p * Tensor(np.linspace(-1, 1, p.data.size, dtype=np.float32).reshape(p.shape))).sum().backward()
        out[name] = [h.data, p.data, xt.grad, wt.grad]
    return max(float(np.abs(a - b).max() / (np.abs(b).max() + 1e-6)) for a, b in zip(*out.values()))
errs = {}
for shape, nhwc, conv, pool, ties in [
        ((3, 1, 28, 28), False, (16, (3, 3), 1, 0), (2,), False),
        ((2, 16, 13, 13), True, (32, (3, 3), 1, 0), (2,), True),
        ((2, 5, 9, 7), True, (6, (3, 2), (2, 1), (1, 2)), ((3, 2), (2, 1), 1), True),
        ((1, 3, 6, 5), False, (7, (1, 1), 1, 0), (3, 1, 1), False)]:
    errs[f'{shape} nhwc={nhwc} conv={conv} pool={pool}'] = case(shape, nhwc, conv, pool, ties)
seam.use('wasm')
_ = errs""")
    bad = {k: v for k, v in res.items() if not v < 1e-5}
    assert not bad, bad


@browser
def test_in_page_seq_kernels_match_numpy(page):
    """seq.c's GELU, attention softmax, LayerNorm, sums and clip_grad_norm_'s passes, attn.c's
    self-attention (values and gradients) against the numpy code, odd sizes (tails of 1-3
    floats), NaN and infinities."""
    res = run(page, INSTALLED + """
from engine import Tensor
from engine.nn import seqops
def both(fn, *shapes):
    out = {}
    for name in ('wasm', 'numpy'):
        seam.use(name)
        g = np.random.default_rng(1)
        ts = [Tensor(g.standard_normal(s).astype(np.float32) * 3, requires_grad=True) for s in shapes]
        y = fn(*ts)
        y = y[0] if isinstance(y, tuple) else y
        y.backward(g.standard_normal(y.shape).astype(np.float32))
        out[name] = [y.data] + [t.grad for t in ts]
    return max(float(np.abs(a - b).max() / (np.abs(b).max() + 1e-30)) for a, b in zip(*out.values()))
errs = {
  'gelu': both(lambda x: seqops.gelu(x), (7, 33)),
  'gelu wide': both(lambda x: seqops.gelu(x * 10), (1001,)),
  'layer_norm': both(lambda x, w, b: seqops.layer_norm(x, 130, w, b), (5, 130), (130,), (130,)),
  'layer_norm plain': both(lambda x: seqops.layer_norm(x, 6), (3, 4, 6)),
  'causal': both(lambda q, k, v: seqops.attention(q, k, v, is_causal=True), (2, 3, 7, 5), (2, 3, 7, 5), (2, 3, 7, 4)),
  'causal 64': both(lambda q, k, v: seqops.attention(q, k, v, is_causal=True), (2, 4, 64, 32), (2, 4, 64, 32), (2, 4, 64, 32)),
  'causal T < S': both(lambda q, k, v: seqops.attention(q, k, v, is_causal=True), (2, 5, 8), (2, 9, 8), (2, 9, 3)),
  'no mask': both(lambda q, k, v: seqops.attention(q, k, v, scale=0.3), (4, 6, 8), (4, 6, 8), (4, 6, 8)),
  'self_attention 64': both(lambda x: seqops.self_attention(x, 4), (2, 64, 384)),  # attn.c
  'self_attention odd': both(lambda x: seqops.self_attention(x, 3, is_causal=False), (3, 7, 45)),
  'add': both(lambda x, y: x + y + x, (130, 129), (130, 129)),  # >= ADD_KERNEL_MIN: seq.c's add
}
from engine.nn.utils import clip_grad_norm_
clip = {}
for name in ('wasm', 'numpy'):  # seq.c's sum_squares and scale
    seam.use(name)
    gen = np.random.default_rng(2)
    ps = [Tensor(np.ones(s, np.float32), requires_grad=True) for s in ((33, 7), (5,))]
    for p in ps:
        p.grad = gen.standard_normal(p.shape).astype(np.float32) * 10
    clip[name] = [np.array([clip_grad_norm_(ps, 1.0)])] + [p.grad for p in ps]
errs['clip_grad_norm_'] = max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(*clip.values()))
special = np.array([np.nan, 1, -np.inf, np.inf, 0, -100, 100, -3], np.float32)
g = {}
for name in ('wasm', 'numpy'):
    seam.use(name)
    g[name] = seqops.gelu(Tensor(special)).data.tolist()
seam.use('wasm')
_ = {'errs': errs, 'gelu': g}""")
    bad = {k: v for k, v in res["errs"].items() if not v < 1e-5}
    assert not bad, res["errs"]
    np.testing.assert_allclose(np.array(res["gelu"]["wasm"], float), np.array(res["gelu"]["numpy"], float),
                               rtol=1e-6, equal_nan=True)


@browser
def test_in_page_relaxed_build_is_loaded_and_agrees_with_plain_simd(page):
    """Chromium has relaxed SIMD: kernels.js loads kernels-relaxed.wasm (fused multiply-add in
    the GEMM); kernels.wasm, asked for by name, gives the same products to float32 rounding."""
    res = run(page, """
import js
ok, why = await wasm.install(module_url=MODULE_URL, threshold=1)
seam.use('wasm')
out = {'relaxed': bool(js.descentWasm.relaxed), 'fma': bool(js.descentWasm.fma),
       'url': str(js.descentWasm.url), 'why': why}
a, b = randn(130, 70), randn(70, 91)
fast = seam.matmul(a, b)
await wasm.install(module_url=MODULE_URL, wasm_url=ORIGIN + '/site/wasm/kernels.wasm', threshold=1)
seam.use('wasm')
out['fma_plain'] = bool(js.descentWasm.fma)
plain = seam.matmul(a, b)
want = a.astype(np.float64) @ b.astype(np.float64)
out['err_fast'] = float(np.abs(fast - want).max())
out['err_plain'] = float(np.abs(plain - want).max())
await wasm.install(module_url=MODULE_URL, threshold=1)  # back to the default for later tests
seam.use('wasm')
_ = out""")
    assert res["relaxed"] and res["fma"] and res["url"].endswith("/site/wasm/kernels-relaxed.wasm"), res
    assert res["why"].startswith("wasm (WebAssembly SIMD, relaxed: fused multiply-add, zero-copy")
    assert not res["fma_plain"]
    assert res["err_fast"] < 1e-4 and res["err_plain"] < 1e-4, res


@browser
def test_in_page_speed_print(page):
    """Not a timed test: GFLOP/s of numpy-in-Pyodide and the wasm backend, and what copying
    the operands into a separate wasm memory would cost if the heap could not be shared."""
    res = run(page, INSTALLED + """
import js
def per_call(fn, budget=0.15):
    best = float('inf')
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while True:
            fn(); n += 1
            if time.perf_counter() - t0 >= budget / 3:
                break
        best = min(best, (time.perf_counter() - t0) / n)
    return best
def copy_out(x):  # what a non-shared memory would need: Python buffer -> a new Float32Array
    arr = js.Float32Array.new(x.size)
    arr.assign(x.reshape(-1))
    return arr
be = wasm.backend
rows = []
for m, k, n in [(64, 784, 256), (512, 512, 512)]:
    for form, (ta, tb) in {'AB': (False, False), 'AᵀB': (True, False), 'ABᵀ': (False, True)}.items():
        a = randn(*((k, m) if ta else (m, k)))
        b = randn(*((n, k) if tb else (k, n)))
        A, B = (a.T if ta else a), (b.T if tb else b)
        flop = 2 * m * k * n
        t_np = per_call(lambda: np.matmul(A, B), 0.6 if m == 512 else 0.15)
        t_w = per_call(lambda: be.matmul(a, b, ta, tb))
        t_copy = per_call(lambda: [copy_out(x) for x in (a, b, np.empty((m, n), np.float32))])
        rows.append([f'{m}x{k}x{n} {form}', flop / t_np / 1e9, flop / t_w / 1e9, t_w * 1e3, t_copy * 1e3])
ps = [engine.randn(*s, requires_grad=True) for s in [(784, 256), (256,), (256, 128), (128,), (128, 10), (10,)]]
for p in ps:
    p.grad = randn(*p.shape)
opt = optim.Adam(ps)
adam = {}
for name in ('numpy', 'wasm'):
    seam.use(name)
    adam[name] = per_call(opt.step) * 1e3
seam.use('wasm')
_ = {'rows': rows, 'adam': adam}""")
    print("\nin the page (headless Chromium, Pyodide 0.29.3): GFLOP/s")
    print(f"  {'product':<22}{'numpy':>8}{'wasm':>8}{'wasm ms':>9}{'copy ms*':>10}")
    for name, g_np, g_w, ms, copy_ms in res["rows"]:
        print(f"  {name:<22}{g_np:8.2f}{g_w:8.1f}{ms:9.3f}{copy_ms:10.3f}")
    print("  * copying A, B and C into a separate memory (not done: the heap is shared)")
    print(f"  Adam step, MLP 784-256-128-10: numpy {res['adam']['numpy']:.2f} ms, "
          f"fused wasm {res['adam']['wasm']:.2f} ms")
    assert all(g_w > g_np for _, g_np, g_w, _, _ in res["rows"])
