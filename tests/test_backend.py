"""The matmul seam: switching, per-backend accounting, declining, failure fallback, transposes."""
import numpy as np
import pytest

from engine import Tensor, backend

RNG = np.random.default_rng(5)


@pytest.fixture(autouse=True)
def fresh_seam(monkeypatch):
    """Each test starts on numpy with empty stats; whatever it registers is forgotten after."""
    monkeypatch.setattr(backend, "_backends", dict(backend._backends))
    monkeypatch.setattr(backend, "_active", backend._numpy)
    monkeypatch.setattr(backend, "_under", backend._numpy)
    monkeypatch.setattr(backend, "_reason", "default")
    monkeypatch.setattr(backend, "_stats", {})


class Fake:
    """Computes in float64 with np.matmul and casts back; records what it was given."""

    def __init__(self, name="fake", min_work=0, fail=None):
        self.name, self.min_work, self.fail, self.calls = name, min_work, fail, []

    def accepts(self, m, k, n):
        return m * k * n >= self.min_work

    def matmul(self, a, b, ta=False, tb=False):
        self.calls.append((a.shape, b.shape, ta, tb))
        if self.fail:
            raise backend.BackendError(self.fail)
        x = a.astype(np.float64).swapaxes(-1, -2) if ta else a.astype(np.float64)
        y = b.astype(np.float64).swapaxes(-1, -2) if tb else b.astype(np.float64)
        return np.matmul(x, y).astype(np.result_type(a, b))


def r(*s):
    return RNG.standard_normal(s).astype(np.float32)


def test_seam_counts_calls_and_seconds_per_backend():
    for _ in range(3):
        backend.matmul(r(8, 9), r(9, 4))
    s = backend.status()
    assert s["backend"] == "numpy"
    assert s["stats"]["numpy"]["calls"] == 3
    assert s["stats"]["numpy"]["seconds"] > 0
    # a Tensor product goes through the seam: 1 call forward, 2 in backward
    backend.reset_stats()
    assert backend.status()["stats"] == {}
    x, w = Tensor(r(5, 3), requires_grad=True), Tensor(r(3, 2), requires_grad=True)
    y = x @ w
    assert backend.status()["stats"]["numpy"]["calls"] == 1
    y.sum().backward()
    assert backend.status()["stats"]["numpy"]["calls"] == 3


def test_status_is_a_snapshot():
    backend.matmul(r(2, 2), r(2, 2))
    s = backend.status()
    s["stats"]["numpy"]["calls"] = 99
    assert backend.status()["stats"]["numpy"]["calls"] == 1


def test_use_switches_backend_and_reason():
    fake = Fake()
    backend.register(fake)
    backend.use("fake")
    assert backend.status()["backend"] == "fake"
    assert backend.status()["reason"] == "selected: fake"
    out = backend.matmul(r(3, 4), r(4, 5))
    assert out.shape == (3, 5) and len(fake.calls) == 1
    assert backend.status()["stats"]["fake"]["calls"] == 1 and "numpy" not in backend.status()["stats"]
    backend.use("numpy", reason="user picked numpy")
    backend.matmul(r(3, 4), r(4, 5))
    assert len(fake.calls) == 1
    assert backend.status()["backend"] == "numpy" and backend.status()["reason"] == "user picked numpy"
    assert backend.status()["stats"]["numpy"]["calls"] == 1


def test_unknown_backend_name_errors_and_changes_nothing():
    with pytest.raises(ValueError, match=r"'webgpuu'.*available.*numpy"):
        backend.use("webgpuu")
    assert backend.status()["backend"] == "numpy" and backend.status()["reason"] == "default"


def test_backend_that_accepts_only_large_products_gets_only_those():
    fake = Fake(min_work=1000)
    backend.register(fake)
    backend.use("fake")
    small, large = (r(4, 5), r(5, 6)), (r(10, 10), r(10, 10))
    np.testing.assert_allclose(backend.matmul(*small), small[0] @ small[1], rtol=1e-6)
    np.testing.assert_allclose(backend.matmul(*large), large[0] @ large[1], rtol=1e-5, atol=1e-6)
    backend.matmul(r(2, 10, 10), r(10, 10))          # m,k,n = 10,10,10: accepted
    backend.matmul(r(20, 9), r(3, 9), tb=True)        # m,k,n = 20,9,3 = 540: declined
    backend.matmul(r(50, 20), r(50, 30), ta=True)    # m,k,n = 20,50,30: accepted (k from ta)
    assert [c[:2] for c in fake.calls] == [((10, 10), (10, 10)), ((2, 10, 10), (10, 10)),
                                           ((50, 20), (50, 30))]
    stats = backend.status()["stats"]
    assert stats["fake"]["calls"] == 3 and stats["numpy"]["calls"] == 2
    assert backend.status()["backend"] == "fake"  # declining is not failing


def test_failing_backend_falls_back_to_numpy_for_the_session():
    fake = Fake(fail="device lost")
    backend.register(fake)
    backend.use("fake")
    a, b = r(6, 7), r(7, 3)
    np.testing.assert_allclose(backend.matmul(a, b), a @ b, rtol=1e-6)  # the caller still gets it
    s = backend.status()
    assert s["backend"] == "numpy"
    assert "fake" in s["reason"] and "device lost" in s["reason"]
    assert s["stats"]["numpy"]["calls"] == 1 and "fake" not in s["stats"]
    for _ in range(3):  # never tried again
        backend.matmul(a, b)
    assert len(fake.calls) == 1
    assert backend.status()["stats"]["numpy"]["calls"] == 4


def test_failure_inside_autograd_still_gives_right_grads():
    backend.register(Fake(fail="lost"))
    backend.use("fake")
    x, w = Tensor(r(4, 3), requires_grad=True), Tensor(r(3, 2), requires_grad=True)
    (x @ w).sum().backward()
    np.testing.assert_allclose(x.grad, np.ones((4, 2)) @ w.data.T, rtol=1e-6)
    np.testing.assert_allclose(w.grad, x.data.T @ np.ones((4, 2)), rtol=1e-6)
    assert backend.status()["backend"] == "numpy"


def test_other_exceptions_are_not_swallowed():
    class Broken(Fake):
        def matmul(self, a, b, ta=False, tb=False):
            raise TypeError("a bug, not a device problem")
    backend.register(Broken(name="broken"))
    backend.use("broken")
    with pytest.raises(TypeError, match="a bug"):
        backend.matmul(r(2, 2), r(2, 2))


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
                                   ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2))])
@pytest.mark.parametrize("use_fake", [False, True])
def test_transposed_flags_match_explicit_transposes(sa, sb, use_fake):
    if use_fake:
        backend.register(Fake())
        backend.use("fake")
    a, b = r(*sa), r(*sb)
    want = np.matmul(a, b)
    at, bt = np.ascontiguousarray(a.swapaxes(-1, -2)), np.ascontiguousarray(b.swapaxes(-1, -2))
    for x, y, ta, tb in [(a, b, False, False), (at, b, True, False), (a, bt, False, True),
                         (at, bt, True, True)]:
        np.testing.assert_allclose(backend.matmul(x, y, ta=ta, tb=tb), want, rtol=1e-5, atol=1e-6)


def test_inner_size_mismatch_names_shapes_and_flags():
    with pytest.raises(ValueError, match=r"\(3, 4\)ᵀ @ \(5, 6\).*3 vs 5"):
        backend.matmul(r(3, 4), r(5, 6), ta=True)


def _grads(run_on):
    if run_on != "numpy":
        backend.use(run_on)
    xs = [np.arange(-6, 6, dtype=np.float32).reshape(3, 4) / 4,  # exactly representable
          np.arange(8, dtype=np.float32).reshape(4, 2) - 3,
          np.arange(-4, 20, dtype=np.float32).reshape(2, 3, 4) / 8,
          np.array([1, -2, 0.5, 3], np.float32)]
    x, w, b, v = (Tensor(a, requires_grad=True) for a in xs)
    out = ((x @ w).relu() * 2).sum() + (b @ w).sum() + (b @ v * (x @ v)).sum() + (v @ w).sum()
    out.backward()
    backend.use("numpy")
    return out.data, [t.grad for t in (x, w, b, v)]


def test_autograd_grads_identical_whichever_backend_runs():
    fake = Fake()
    backend.register(fake)
    ref_out, ref = _grads("numpy")
    out, got = _grads("fake")
    assert len(fake.calls) >= 12  # forward and both backward products went to it
    assert out == ref_out
    for g, want in zip(got, ref):
        assert g.dtype == np.float32
        np.testing.assert_array_equal(g, want)


def test_autograd_grads_match_closely_on_random_inputs_across_backends():
    fake = Fake()
    backend.register(fake)
    xs = [r(2, 5, 3), r(3, 4), r(4)]

    def run():
        a, w, v = (Tensor(x, requires_grad=True) for x in xs)
        ((a @ w).tanh() @ v).sum().backward()
        return [t.grad for t in (a, w, v)]
    ref = run()
    backend.use("fake")
    got = run()
    assert fake.calls
    for g, want in zip(got, ref):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)


def test_a_new_backend_hands_what_it_declines_to_the_one_it_replaced():
    """In the page: WebGPU takes large products, WebAssembly the rest, numpy nothing."""
    small, big = Fake("wasm"), Fake("gpu", min_work=1000)
    backend.register(small)
    backend.register(big)
    backend.use("wasm")
    backend.use("gpu", "gpu for large products")
    backend.matmul(r(20, 20), r(20, 20))  # 8000: the GPU
    backend.matmul(r(3, 4), r(4, 5))      # 60: declined by the GPU, taken by wasm
    assert len(big.calls) == 1 and len(small.calls) == 1
    s = backend.status()
    assert (s["backend"], s["under"], s["reason"]) == ("gpu", "wasm", "gpu for large products")
    assert "numpy" not in s["stats"]
    backend.unavailable("some other backend could not start")  # says nothing while one runs
    assert backend.status()["reason"] == "gpu for large products"
    backend.use("numpy", "user picked numpy")  # numpy alone
    backend.matmul(r(20, 20), r(20, 20))
    assert len(big.calls) == 1 and backend.status()["under"] == "numpy"


def test_when_no_backend_starts_the_reason_keeps_every_backend_that_was_tried():
    backend.use("numpy", "user picked numpy")
    backend.unavailable("numpy: the kernels were slower than numpy at every size (128³ ...)")
    backend.unavailable("numpy: WebGPU unavailable: no adapter")
    assert backend.status()["reason"] == ("numpy: the kernels were slower than numpy at every "
                                          "size (128³ ...); WebGPU unavailable: no adapter")
    backend.use("numpy", "user picked numpy")  # a new start: only what is tried from now on
    backend.unavailable("numpy: WebGPU unavailable: no adapter")
    assert backend.status()["reason"] == "numpy: WebGPU unavailable: no adapter"


def test_a_failing_backend_under_another_is_dropped_alone():
    small, big = Fake("wasm", fail="memory access out of bounds"), Fake("gpu", min_work=1000)
    backend.register(small)
    backend.register(big)
    backend.use("wasm")
    backend.use("gpu")
    a, b = r(3, 4), r(4, 5)
    np.testing.assert_allclose(backend.matmul(a, b), a @ b, rtol=1e-6)  # numpy answered
    s = backend.status()
    assert (s["backend"], s["under"]) == ("gpu", "numpy") and "out of bounds" in s["reason"]
    assert s["reason"].startswith("wasm failed, using gpu for the rest of the session")
    backend.matmul(r(20, 20), r(20, 20))
    assert len(big.calls) == 1


def test_observe_sees_each_product_inside_its_block_only():
    seen = []
    a, b = np.ones((3, 4), np.float32), np.ones((5, 4), np.float32)
    with backend.observe(lambda a, b, ta, tb, out, dt: seen.append((a.shape, b.shape, tb, out.shape, dt >= 0))):
        backend.matmul(a, b, tb=True)
        backend.matmul(a, b.T)
    backend.matmul(a, b, tb=True)  # after the block: not seen
    assert seen == [((3, 4), (5, 4), True, (3, 5), True), ((3, 4), (4, 5), False, (3, 5), True)]
