"""The WebAssembly SIMD backend (engine/backend/wasm.py, site/wasm/kernels.{c,js}).

On CPython: the seam's routing, fallback reasons, threshold and Adam hook with a fake JS
layer that computes on the very pointers the backend passes (so strides, transposes and
batch folding are checked); the build helper's safety checks. The real kernels in the page: tests/test_wasm_page.py."""
import asyncio
import ctypes
import os
import pathlib
import shutil

import numpy as np
import pytest

import engine
from engine import backend as seam
from engine import optim
from engine.backend import calibration, wasm
from playground.sitebuild import kernels

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIST = pathlib.Path(os.environ.get("DESCENT_PYODIDE_DIST", ROOT.parent / "shared" / "pyodide-dist"))


def _floats(ptr, count):
    return np.ctypeslib.as_array((ctypes.c_float * max(count, 1)).from_address(ptr))[:count]


class FakeLayer(wasm.JsLayer):
    """kernels.c's contract in numpy, reading and writing memory at the given addresses."""

    def __init__(self, fail=None, images=True):
        kernels = {"im2col": self._im2col, "col2im": self._col2im, "max_pool": self._max_pool,
                   "max_pool_backward": self._max_pool_backward}
        super().__init__(self._gemm, self._adam, 4096, "fake WebAssembly", kernels if images else {})
        self.calls, self.fail = [], fail

    # the image kernels, written plainly (loops over windows) on the same pointers
    @staticmethod
    def _windows(N, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo):
        for n in range(N):
            for oh in range(Ho):
                for ow in range(Wo):
                    yield n, oh, ow, [(oh * sh - ph + i, ow * sw - pw + j)
                                      for i in range(kh) for j in range(kw)]

    def _im2col(self, x, cols, N, H, W, C, kh, kw, sh, sw, ph, pw, Ho, Wo):
        self.calls.append(("im2col", N, H, W, C))
        X = _floats(x, N * H * W * C).reshape(N, H, W, C)
        out = _floats(cols, N * Ho * Wo * kh * kw * C).reshape(N, Ho, Wo, kh * kw, C)
        for n, oh, ow, cells in self._windows(N, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo):
            for q, (h, w) in enumerate(cells):
                out[n, oh, ow, q] = X[n, h, w] if 0 <= h < H and 0 <= w < W else 0

    def _col2im(self, gcols, gx, N, H, W, C, kh, kw, sh, sw, ph, pw, Ho, Wo):
        self.calls.append(("col2im", N, H, W, C))
        G = _floats(gcols, N * Ho * Wo * kh * kw * C).reshape(N, Ho, Wo, kh * kw, C)
        out = _floats(gx, N * H * W * C).reshape(N, H, W, C)
        out[:] = 0
        for n, oh, ow, cells in self._windows(N, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo):
            for q, (h, w) in enumerate(cells):
                if 0 <= h < H and 0 <= w < W:
                    out[n, h, w] += G[n, oh, ow, q]

    def _max_pool(self, x, y, arg, N, H, W, C, kh, kw, sh, sw, ph, pw, Ho, Wo):
        self.calls.append(("max_pool", N, H, W, C))
        X = _floats(x, N * H * W * C)
        Y = _floats(y, N * Ho * Wo * C).reshape(N, Ho, Wo, C)
        A = np.ctypeslib.as_array((ctypes.c_int32 * (N * Ho * Wo * C)).from_address(arg))
        A = A.reshape(N, Ho, Wo, C)
        for n, oh, ow, cells in self._windows(N, H, W, kh, kw, sh, sw, ph, pw, Ho, Wo):
            for c in range(C):
                idx = [((n * H + h) * W + w) * C + c for h, w in cells if 0 <= h < H and 0 <= w < W]
                best = max(range(len(idx)), key=lambda q: (X[idx[q]], -q))  # first maximum
                Y[n, oh, ow, c], A[n, oh, ow, c] = X[idx[best]], idx[best]

    def _max_pool_backward(self, g, arg, gx, n_out, n_in):
        self.calls.append(("max_pool_backward", n_out, n_in))
        G, out = _floats(g, n_out), _floats(gx, n_in)
        A = np.ctypeslib.as_array((ctypes.c_int32 * n_out).from_address(arg))
        out[:] = 0
        np.add.at(out, A, G)

    def _gemm(self, a, b, c, batch, m, k, n, ta, tb, stride_a, stride_b, scratch):
        self.calls.append(("gemm", batch, m, k, n, ta, tb, stride_a, stride_b))
        if self.fail:
            raise RuntimeError(self.fail)
        assert scratch % 16 == 0
        for z in range(batch):
            A = _floats(a + 4 * z * stride_a, m * k).reshape((k, m) if ta else (m, k))
            B = _floats(b + 4 * z * stride_b, k * n).reshape((n, k) if tb else (k, n))
            _floats(c + 4 * z * m * n, m * n)[:] = ((A.T if ta else A) @ (B.T if tb else B)).ravel()

    def _adam(self, p, g, M, V, n, b1, b2, shrink, l2, eps_c, neg_step):
        self.calls.append(("adam", n))
        f = np.float32
        P, G, Mv, Vv = (_floats(x, n) for x in (p, g, M, V))
        P *= f(shrink)
        G = P * f(l2) + G if l2 else G
        Mv[:] = Mv * f(b1) + G
        Vv[:] = Vv * f(b2) + G * G
        P += (Mv / (np.sqrt(Vv) + f(eps_c))) * f(neg_step)


def test_address_is_the_first_elements_address_for_any_array():
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    ro = x.copy()
    ro.flags.writeable = False
    for v in [x, x[1:], x.T, x[:, 1:], np.broadcast_to(x[0], (3, 5)), np.empty(0, np.float32), ro]:
        assert wasm.address(v) == v.__array_interface__["data"][0]


@pytest.fixture
def restore_seam():
    yield
    seam.use("numpy")
    wasm.backend = None


def install(**kw):
    return asyncio.run(wasm.install(**kw))


def test_not_in_pyodide_numpy_stays_with_the_reason(restore_seam):
    ok, why = install()
    assert not ok and why == "numpy: WebAssembly kernels unavailable: not running in Pyodide (no `js` module): numpy only"
    assert seam.status() == {**seam.status(), "backend": "numpy", "reason": why}
    assert seam.fused_adam() is None


def test_routing_by_threshold_and_results(restore_seam):
    layer = FakeLayer()
    ok, why = install(layer=layer, threshold=8 ** 3)
    assert ok and seam.status()["backend"] == "wasm" and "products of >= 512 multiply-adds" in why
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((8, 8), dtype=np.float32), rng.standard_normal((8, 9), dtype=np.float32)
    np.testing.assert_allclose(seam.matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)
    assert len(layer.calls) == 1
    small = seam.matmul(a[:4, :4], b[:4, :4])  # 64 multiply-adds: numpy
    np.testing.assert_allclose(small, a[:4, :4] @ b[:4, :4], rtol=1e-6)
    assert len(layer.calls) == 1 and seam.status()["stats"]["numpy"]["calls"] >= 1
    wasm.set_threshold(1)
    seam.matmul(a[:1, :1], b[:1, :1])
    assert len(layer.calls) == 2


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_transposes_batches_and_views_without_copies(restore_seam, ta, tb):
    layer = FakeLayer()
    install(layer=layer, threshold=1)
    rng = np.random.default_rng(1)

    def ref(a, b):
        return np.matmul(a.swapaxes(-1, -2) if ta else a, b.swapaxes(-1, -2) if tb else b)

    def shaped(batch, rows, cols, t):
        return rng.standard_normal(batch + ((cols, rows) if t else (rows, cols)), dtype=np.float32)

    cases = [((), (), 7, 13, 5), ((3,), (3,), 6, 5, 4), ((3,), (), 6, 5, 4), ((), (3,), 6, 5, 4),
             ((2, 1), (3,), 4, 3, 2), ((1,), (4,), 2, 3, 5)]
    for ba, bb, m, k, n in cases:
        a, b = shaped(ba, m, k, ta), shaped(bb, k, n, tb)
        got = seam.matmul(a, b, ta, tb)
        assert got.dtype == np.float32 and got.flags.writeable
        np.testing.assert_allclose(got, ref(a, b), rtol=1e-5, atol=1e-5, err_msg=str((ba, bb, m, k, n)))
    # a transposed view goes in as its base with the flag flipped: no copy, flags in the call
    a, b = shaped((), 9, 6, not ta), shaped((), 6, 5, tb)
    layer.calls.clear()
    got = seam.matmul(a.T, b, ta, tb)
    np.testing.assert_allclose(got, ref(a.T, b), rtol=1e-5, atol=1e-5)
    assert layer.calls[0][5] == int(not ta)
    # non-contiguous in both axes: copied, still right
    a = shaped((), 2 * 9, 2 * 6, ta)[::2, ::2]
    np.testing.assert_allclose(seam.matmul(a, b, ta, tb), ref(a, b), rtol=1e-5, atol=1e-5)


def test_shared_b_folds_the_batch_into_one_product(restore_seam):
    layer = FakeLayer()
    install(layer=layer, threshold=1)
    a = np.ones((4, 3, 5), np.float32)
    b = np.ones((5, 2), np.float32)
    np.testing.assert_array_equal(seam.matmul(a, b), np.full((4, 3, 2), 5, np.float32))
    assert layer.calls == [("gemm", 1, 12, 5, 2, 0, 0, 0, 0)]


def test_other_dtypes_and_empty_shapes_stay_on_numpy(restore_seam):
    layer = FakeLayer()
    install(layer=layer, threshold=1)
    a, b = np.ones((3, 4)), np.ones((4, 2), np.float32)
    got = seam.matmul(a, b)
    assert got.dtype == np.float64 and (got == 4).all() and not layer.calls
    assert seam.matmul(np.ones((0, 4), np.float32), b).shape == (0, 2) and not layer.calls


def test_kernel_failure_falls_back_for_the_session_and_says_why(restore_seam):
    layer = FakeLayer(fail="RuntimeError: memory access out of bounds")
    install(layer=layer, threshold=1)
    a = np.ones((3, 4), np.float32)
    np.testing.assert_array_equal(seam.matmul(a, a.T), np.full((3, 3), 4, np.float32))
    st = seam.status()
    assert st["backend"] == "numpy"
    assert st["reason"].startswith("wasm failed, using numpy for the rest of the session: wasm gemm failed:")
    assert "out of bounds" in st["reason"]


def test_calibration_picks_the_crossover(restore_seam, monkeypatch):
    now, real = [0.0], np.matmul

    def numpy_matmul(a, b):  # a fake clock: numpy costs 1 ms at 32³
        now[0] += 1e-3 * (a.shape[0] / 32) ** 3
        return real(a, b)

    class Timed(FakeLayer):  # wasm: half numpy's time plus 100 µs a call (loses below 32³)
        def _gemm(self, *args):
            now[0] += 1e-4 + 0.5e-3 * (args[4] / 32) ** 3
            super()._gemm(*args)

    monkeypatch.setattr(np, "matmul", numpy_matmul)
    threshold, timings = wasm.calibrate(wasm.WasmBackend(Timed()), sizes=(4, 8, 16, 32, 64),
                                        clock=lambda: now[0])
    assert threshold == 32 ** 3
    assert [s for s, *_ in timings] == [16, 32, 64]  # stopped at the first size where wasm lost
    assert calibration.pick_threshold([(64, 1.0, 2.0)]) == float("inf")


def test_calibration_measures_a_loss_again_before_ruling_wasm_out(restore_seam, monkeypatch):
    # the kernels are 4x faster than numpy at every size, but a burst of load elsewhere
    # lands on their first rounds at the largest size (other pages booting on the same cores)
    now, real, burst = [0.0], np.matmul, [4]

    def numpy_matmul(a, b):
        now[0] += 1e-3 * (a.shape[0] / 32) ** 3
        return real(a, b)

    class Bursty(FakeLayer):
        def _gemm(self, *args):
            slow = burst[0] > 0 and args[4] == 64
            burst[0] -= slow
            now[0] += (0.25 + 10 * slow) * 1e-3 * (args[4] / 32) ** 3
            super()._gemm(*args)

    monkeypatch.setattr(np, "matmul", numpy_matmul)
    threshold, timings = wasm.calibrate(wasm.WasmBackend(Bursty()), sizes=(16, 32, 64),
                                        clock=lambda: now[0], warmup=0)
    assert burst[0] == 0 and threshold == 16 ** 3  # the burst was spent, and did not decide
    assert [s for s, *_ in timings] == [16, 32, 64]
    burst[0] = 10 ** 6  # a loss that stays a loss: wasm is out at 64³ and below
    threshold, _ = wasm.calibrate(wasm.WasmBackend(Bursty()), sizes=(16, 32, 64),
                                  clock=lambda: now[0], warmup=0)
    assert threshold == float("inf")


def test_wasm_slower_everywhere_leaves_numpy_with_the_reason(restore_seam, monkeypatch):
    monkeypatch.setattr(wasm, "calibrate", lambda be: (float("inf"), [(4, 1e-6, 2e-6)]))
    ok, why = install(layer=FakeLayer())
    assert not ok and seam.status()["backend"] == "numpy"
    assert why == ("numpy: fake WebAssembly was slower than numpy at every size "
                   "(calibrated: 4³ numpy 1 µs / wasm 2 µs)")


@pytest.mark.parametrize("opt_cls,kw", [(optim.Adam, {}), (optim.Adam, {"weight_decay": 0.1}),
                                        (optim.AdamW, {"weight_decay": 0.05})])
def test_fused_adam_hook_matches_numpy_bit_for_bit(restore_seam, opt_cls, kw):
    def run(fused):
        engine.manual_seed(0)
        ps = [engine.randn(5, 7, requires_grad=True), engine.randn(7, requires_grad=True)]
        opt = opt_cls(ps, lr=1e-2, **kw)
        rng = np.random.default_rng(3)
        for _ in range(4):
            for p in ps:
                p.grad = rng.standard_normal(p.shape, dtype=np.float32)
            opt.step()
        return [p.data.copy() for p in ps], opt.state_dict()

    want, sd_want = run(False)
    layer = FakeLayer()
    install(layer=layer, threshold=1)
    got, sd_got = run(True)
    assert sum(c[0] == "adam" for c in layer.calls) == 8
    for w, g in zip(want, got):
        np.testing.assert_array_equal(g, w)
    for i in sd_want["state"]:
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(sd_got["state"][i][key], sd_want["state"][i][key])
    # numpy active again (e.g. after a failure): the hook declines, numpy does the step
    seam.use("numpy")
    layer.calls.clear()
    run(True)
    assert not layer.calls


@pytest.mark.parametrize("nhwc", [True, False])
def test_image_kernels_stand_in_for_conv_and_pool_numpy(restore_seam, nhwc):
    """conv2d and max_pool2d through a backend's image kernels (the plain fake here, the real
    ones in the page below) give numpy's values and gradients, from NHWC and NCHW memory."""
    from engine import Tensor
    from engine.nn import functional as F
    rs = np.random.default_rng(3)

    def image(*shape):  # NCHW, stored channels-last (as conv2d outputs) or not
        x = rs.standard_normal(shape, dtype=np.float32)
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if nhwc else x

    def run(x, w, g_pool, ties):
        xt, wt = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
        h = F.conv2d(xt, wt, None, (2, 1), (1, 2))
        h.data[:, :, :2, :2] = ties  # ties: the first maximum takes the gradient
        p1 = F.max_pool2d(h, 2)
        p2 = F.max_pool2d(h, (3, 2), (2, 1), 1)
        ((p1 * Tensor(g_pool[0])).sum() + (p2 * Tensor(g_pool[1])).sum()).backward()
        return [a.copy() for a in (h.data, p1.data, p2.data, xt.grad, wt.grad)]
    x, w = image(2, 5, 7, 6), rs.standard_normal((4, 5, 3, 2), dtype=np.float32)
    g_pool = [rs.standard_normal(s, dtype=np.float32) for s in [(2, 4, 2, 4), (2, 4, 2, 10)]]
    want = run(x, w, g_pool, 0.5)
    layer = install(layer=FakeLayer(), threshold=1)[0] and wasm.backend.layer
    assert seam.kernels() is wasm.backend
    got = run(x, w, g_pool, 0.5)
    assert {c[0] for c in layer.calls} >= {"im2col", "col2im", "max_pool", "max_pool_backward"}
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    seam.use("numpy")  # not the active backend: numpy again
    assert seam.kernels() is None


def test_a_kernels_module_without_image_kernels_leaves_numpy_loops(restore_seam):
    install(layer=FakeLayer(images=False), threshold=1)
    assert seam.status()["backend"] == "wasm" and seam.kernels() is None


# -- the build ---------------------------------------------------------------------------------
needs_clang = pytest.mark.skipif(not (shutil.which("clang-14") or shutil.which("clang")),
                                 reason="clang-14 is not installed (apt-get install clang-14 lld-14)")


@needs_clang
def test_build_makes_a_module_that_owns_no_memory(tmp_path):
    out = kernels.build(tmp_path / "k.wasm")
    data = out.read_bytes()
    assert kernels.imports(data) == [("env", "memory", 2)]
    assert set(kernels.EXPORTS) <= set(kernels.exports(data))
    assert not list(tmp_path.glob("*.probe.wasm"))


@needs_clang
@pytest.mark.parametrize("body,why", [
    ("EXPORT(f) float f(int i){ volatile float t[64]; t[i&63]=1; return t[(i+1)&63]; }", "shadow stack"),
    ("static const float T[5] = {1,2,3,4,5};\nEXPORT(f) float f(int i){ return T[i % 5] * i; }",
     "data segment"),
    ("EXPORT(f) void f(float *p, int n){ for (int i=0;i<n;i++) p[i] = __builtin_sinf(p[i]); }",
     "undefined symbol: sinf"),  # a libc call: the link fails (it would be an import)
])
def test_build_refuses_what_would_touch_pyodides_memory(tmp_path, body, why):
    src = tmp_path / "bad.c"
    src.write_text('#define EXPORT(n) __attribute__((export_name(#n)))\n' + body + "\n"
                   + "".join(f"EXPORT({e}) void {e}(void){{}}\n" for e in kernels.EXPORTS))
    with pytest.raises(kernels.BuildError, match=why):
        kernels.build(tmp_path / "bad.wasm", source=src)


def test_build_without_clang_names_the_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(kernels.BuildError, match=r"apt-get install clang-14 lld-14"):
        kernels.build(tmp_path / "k.wasm")
