"""CPython tests of the WebGPU backend's selection, threshold and fallback logic, with a
fake JS layer standing in for Pyodide + site/webgpu/matmul.js."""
import asyncio
import types

import numpy as np
import pytest

import engine.backend as seam
from engine.backend import calibration, webgpu


class FakePromise:
    def __init__(self, fn):
        self.fn = fn

    def __await__(self):
        return self.fn()
        yield  # makes this a generator-based awaitable


class FakeApi:
    """Mimics descentGPU: computes with numpy, records calls, can be made to fail."""

    def __init__(self, init_error=None, fail_with=None):
        self.init_error, self.fail_with, self.calls = init_error, fail_with, []

    def init(self):
        def go():
            if self.init_error:
                raise RuntimeError(self.init_error)
            return types.SimpleNamespace(name="fake adapter")
        return FakePromise(go)

    def status(self):
        return types.SimpleNamespace(maxBytes=1 << 30)

    def matmul(self, a, b, m, k, n, ta, tb, batch, bca, bcb):
        self.calls.append((m, k, n, ta, tb, batch, bca, bcb))

        def go():
            if self.fail_with:
                raise RuntimeError(self.fail_with)
            A = np.frombuffer(a, np.float32).reshape((1 if bca else batch,) + ((k, m) if ta else (m, k)))
            B = np.frombuffer(b, np.float32).reshape((1 if bcb else batch,) + ((n, k) if tb else (k, n)))
            return np.matmul(A.swapaxes(1, 2) if ta else A, B.swapaxes(1, 2) if tb else B).astype(np.float32)
        return FakePromise(go)


def fake_layer(api, jspi=True):
    def run_sync(p):
        return p.fn()
    return webgpu.JsLayer(api, run_sync, lambda: jspi,
                          to_js=lambda buf: bytes(memoryview(buf).cast("B")),
                          from_js=from_js)


def from_js(arr, out=None):
    if out is None:
        return memoryview(arr.reshape(-1))
    memoryview(out).cast("B")[:] = arr.tobytes()
    return out


@pytest.fixture(autouse=True)
def restore_seam():
    saved = dict(seam._backends), seam._active, seam._under, seam._reason
    yield
    seam._backends.clear()
    seam._backends.update(saved[0])
    seam._active, seam._under, seam._reason = saved[1:]
    webgpu.backend = None
    seam.reset_stats()


def install(**kw):
    return asyncio.run(webgpu.install(**kw))


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_engine_imports_and_install_on_cpython_leaves_numpy_with_reason():
    ok, reason = install()
    assert not ok and "not running in Pyodide" in reason
    st = seam.status()
    assert st["backend"] == "numpy" and st["reason"] == reason
    a, b = rand(3, 4), rand(4, 5)
    np.testing.assert_allclose(seam.matmul(a, b), a @ b)


def test_large_products_go_to_gpu_small_stay_on_numpy():
    api = FakeApi()
    ok, reason = install(threshold=32 ** 3, layer=fake_layer(api))
    assert ok and seam.status()["backend"] == "webgpu" and "fake adapter" in reason
    small = seam.matmul(rand(8, 8), rand(8, 8))
    assert api.calls == [] and small.shape == (8, 8)
    a, b = rand(40, 50), rand(50, 30)
    out = seam.matmul(a, b)
    assert len(api.calls) == 1 and out.dtype == np.float32 and out.flags.writeable
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)
    assert set(seam.status()["stats"]) == {"numpy", "webgpu"}


def test_transposed_views_are_passed_without_copy_as_flipped_flags():
    api = FakeApi()
    install(threshold=1, layer=fake_layer(api))
    a, b = rand(30, 20), rand(25, 20)
    out = seam.matmul(a, b.T)              # b.T is a view: sent as b with tb=True
    assert api.calls[-1][:5] == (30, 20, 25, False, True)
    np.testing.assert_allclose(out, a @ b.T, rtol=1e-5, atol=1e-5)
    out = seam.matmul(a, b, tb=True)       # explicit ABᵀ
    assert api.calls[-1][:5] == (30, 20, 25, False, True)
    out = seam.matmul(a, rand(30, 7), ta=True)  # AᵀB
    assert api.calls[-1][:5] == (20, 30, 7, True, False) and out.shape == (20, 7)


def test_batches_and_broadcast():
    api = FakeApi()
    install(threshold=1, layer=fake_layer(api))
    a, w = rand(2, 3, 6, 5), rand(5, 4)
    np.testing.assert_allclose(seam.matmul(a, w), a @ w, rtol=1e-5, atol=1e-5)
    assert api.calls[-1][5:] == (6, False, True)
    a1, b3 = rand(1, 6, 5), rand(3, 5, 4)  # general broadcasting is materialised
    np.testing.assert_allclose(seam.matmul(a1, b3), a1 @ b3, rtol=1e-5, atol=1e-5)
    assert api.calls[-1][5:] == (3, False, False)


def test_float64_inputs_keep_numpy_result_dtype():
    install(threshold=1, layer=fake_layer(FakeApi()))
    a, b = rand(4, 4).astype(np.float64), rand(4, 4)
    assert seam.matmul(a, b).dtype == np.float64


def test_no_adapter_leaves_numpy_with_the_js_reason():
    why = "navigator.gpu.requestAdapter() returned null: no usable GPU adapter"
    ok, reason = install(threshold=1, layer=fake_layer(FakeApi(init_error=why)))
    assert not ok and why in reason and seam.status()["backend"] == "numpy"
    assert seam.status()["reason"] == reason


def test_without_run_sync_products_stay_on_numpy():
    api = FakeApi()
    install(threshold=1, layer=fake_layer(api, jspi=False))
    a, b = rand(9, 9), rand(9, 9)
    np.testing.assert_allclose(seam.matmul(a, b), a @ b, rtol=1e-6)
    assert api.calls == []


def test_device_loss_falls_back_to_numpy_for_the_session_and_says_why():
    api = FakeApi()
    install(threshold=1, layer=fake_layer(api))
    a, b = rand(9, 9), rand(9, 9)
    seam.matmul(a, b)
    api.fail_with = "WebGPU device lost (destroyed): Device was destroyed."
    np.testing.assert_allclose(seam.matmul(a, b), a @ b, rtol=1e-6)
    st = seam.status()
    assert st["backend"] == "numpy" and "device lost" in st["reason"]
    n = len(api.calls)
    seam.matmul(a, b)
    assert len(api.calls) == n  # the GPU is not tried again
    assert not webgpu.backend.gpu.ok and "device lost" in webgpu.backend.gpu.reason


def test_pick_threshold_takes_the_crossover():
    t = [(64, 1.0, 2.0), (128, 1.0, 1.5), (256, 2.0, 1.0), (512, 8.0, 2.0)]
    assert calibration.pick_threshold(t) == 256 ** 3
    assert calibration.pick_threshold([(64, 1, 2), (128, 1, 3)]) == float("inf")
    # a GPU win at one small size followed by a loss does not count
    assert calibration.pick_threshold([(64, 2, 1), (128, 1, 2), (256, 3, 1)]) == 256 ** 3


def test_calibration_sets_threshold_and_override():
    ok, reason = install(calibrate_sizes=(8, 16), layer=fake_layer(FakeApi()))
    assert "calibrated" in reason
    webgpu.set_threshold(123)
    assert webgpu.backend.threshold == 123 and webgpu.backend.accepts(5, 5, 5)
    assert not webgpu.backend.accepts(2, 2, 2)


def test_buffer_level_fallback_is_pure_python():
    a, b = rand(3, 4).reshape(-1), rand(4, 2).reshape(-1)
    out, who, why = webgpu.matmul_buffers(None, a.tobytes(), b.tobytes(), 3, 4, 2)
    assert who == "python" and why
    np.testing.assert_allclose(np.frombuffer(out, np.float32).reshape(3, 2),
                               a.reshape(3, 4) @ b.reshape(4, 2), rtol=1e-5)
    b2 = rand(3, 2, seed=1)
    out = webgpu.matmul_python(a.tobytes(), b2.tobytes(), 4, 3, 2, ta=True)
    np.testing.assert_allclose(np.frombuffer(out, np.float32).reshape(4, 2),
                               a.reshape(3, 4).T @ b2, rtol=1e-5)


def test_products_too_big_for_one_binding_run_on_numpy_without_dropping_the_gpu():
    api = FakeApi()
    install(threshold=1, layer=fake_layer(api))
    webgpu.backend.gpu.max_bytes = 1000
    a, b = rand(20, 20), rand(20, 20)  # 1600 bytes each
    np.testing.assert_allclose(seam.matmul(a, b), a @ b, rtol=1e-6)
    assert api.calls == [] and seam.status()["backend"] == "webgpu"


def test_calibration_stops_where_the_gpu_first_loses():
    api = FakeApi()
    be = webgpu.WebGPUBackend(asyncio.run(webgpu.GPU(fake_layer(api)).start()))
    ticks = iter(range(10 ** 6))
    # fake clock: every timed call lasts 1 tick, so numpy and GPU tie -> the GPU "loses" at once
    threshold, timings = asyncio.run(calibration.calibrate_gpu(be, sizes=(8, 16, 32), clock=lambda: next(ticks)))
    assert threshold == float("inf") and [t[0] for t in timings] == [32]
    assert len(api.calls) == 3  # warm-up + 2 repeats at the largest size only
