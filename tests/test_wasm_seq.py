"""The sequence-model kernels of the WebAssembly backend (site/wasm/seq.c) on CPython, and the
relaxed-SIMD build (playground/sitebuild/relaxed.py).

A fake JS layer computes each kernel's contract plainly in float64 (math.erf, loops over rows)
on the very pointers engine/backend/wasm.py passes, so what is checked here is the plumbing:
engine.nn.seqops asks the seam for the kernels, hands them the right arrays, shapes and
flags, and routes their results into values and gradients equal to its numpy code's. The
real kernels against numpy in Chromium: tests/test_wasm_page.py."""
import asyncio
import math
import shutil

import numpy as np
import pytest

from engine import backend as seam
from engine.backend import wasm
from engine.nn import seqops
from engine.nn.utils import clip_grad_norm_
from engine.tensor import Tensor, no_grad
from playground.sitebuild import kernels, relaxed
from test_wasm_backend import FakeLayer, _floats


class FakeSeqLayer(FakeLayer):
    """FakeLayer plus seq.c's kernels, in float64 on the same addresses."""

    def __init__(self):
        super().__init__()
        self.seq = {"gelu": self._gelu, "softmax": self._softmax, "softmax_backward": self._softmax_bw,
                    "layer_norm": self._ln, "layer_norm_backward": self._ln_bw, "add": self._add,
                    "mul": self._mul, "sum_squares": self._sum_squares, "scale": self._scale}

    def _add(self, a, b, out, n):
        self.calls.append(("add", n))
        _floats(out, n)[:] = _floats(a, n).astype(np.float64) + _floats(b, n)

    def _mul(self, a, b, out, n):
        self.calls.append(("mul", n))
        _floats(out, n)[:] = _floats(a, n).astype(np.float64) * _floats(b, n)

    def _sum_squares(self, x, n):
        self.calls.append(("sum_squares", n))
        return float(np.sum(_floats(x, n).astype(np.float64) ** 2))

    def _scale(self, x, n, c):
        self.calls.append(("scale", n, c))
        _floats(x, n)[:] *= np.float32(c)

    def _gelu(self, x, y, dy, n, scratch):
        self.calls.append(("gelu", n))
        X = _floats(x, n).astype(np.float64)
        cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in X])
        _floats(y, n)[:] = X * cdf
        if dy:
            _floats(dy, n)[:] = cdf + X * np.exp(-X * X / 2) / math.sqrt(2 * math.pi)

    def _softmax(self, s, rows, n, t, scale, causal, scratch):
        self.calls.append(("softmax", rows, n, t, scale, causal))
        S = _floats(s, rows * n).reshape(rows, n)
        for r in range(rows):
            keep = min(r % t + 1, n) if causal else n
            z = S[r, :keep].astype(np.float64) * scale
            e = np.exp(z - z.max())
            S[r] = 0
            S[r, :keep] = e / e.sum()

    def _softmax_bw(self, g, w, rows, n, scale):
        self.calls.append(("softmax_backward", rows, n, scale))
        G, W = _floats(g, rows * n).reshape(rows, n), _floats(w, rows * n).reshape(rows, n)
        G[:] = W * (G - (G * W).sum(axis=1, keepdims=True)) * scale

    def _ln(self, x, w, b, y, xhat, inv, rows, d, eps):
        self.calls.append(("layer_norm", rows, d, bool(w), bool(b)))
        X = _floats(x, rows * d).reshape(rows, d).astype(np.float64)
        c = X - X.mean(axis=1, keepdims=True)
        iv = 1 / np.sqrt((c * c).mean(axis=1, keepdims=True) + eps)
        h = c * iv
        _floats(xhat, rows * d)[:] = h.ravel()
        _floats(inv, rows)[:] = iv.ravel()
        out = h * (_floats(w, d) if w else 1) + (_floats(b, d) if b else 0)
        _floats(y, rows * d)[:] = out.ravel()

    def _ln_bw(self, g, xhat, inv, w, gx, gw, gb, rows, d):
        self.calls.append(("layer_norm_backward", rows, d, bool(gx), bool(gw), bool(gb)))
        G = _floats(g, rows * d).reshape(rows, d).astype(np.float64)
        H = _floats(xhat, rows * d).reshape(rows, d)
        gh = G * (_floats(w, d) if w else 1)
        if gx:
            iv = _floats(inv, rows)[:, None]
            out = iv * (gh - gh.mean(axis=1, keepdims=True) - H * (gh * H).mean(axis=1, keepdims=True))
            _floats(gx, rows * d)[:] = out.ravel()
        if gw:
            _floats(gw, d)[:] = (G * H).sum(axis=0)
        if gb:
            _floats(gb, d)[:] = G.sum(axis=0)


@pytest.fixture
def fake():
    layer = FakeSeqLayer()
    ok, _ = asyncio.run(wasm.install(layer=layer, threshold=1))
    assert ok and seam.seq_kernels() is wasm.backend
    yield layer
    seam.use("numpy")
    wasm.backend = None


def _both(fn, shapes, dtype=np.float32):
    """fn's output and its inputs' gradients with the seam on wasm (the fake kernels), then on
    numpy; the same random inputs and output gradient each time."""
    out = {}
    for name in ("wasm", "numpy"):
        seam.use(name)
        rng = np.random.default_rng(3)
        ts = [Tensor((rng.standard_normal(s) * 2).astype(dtype), requires_grad=True) for s in shapes]
        y = fn(*ts)
        y = y[0] if isinstance(y, tuple) else y
        y.backward(rng.standard_normal(y.shape).astype(dtype))
        out[name] = [y.data] + [t.grad for t in ts]
    return out["wasm"], out["numpy"]


def _close(got, want, tol=2e-5):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * (np.abs(w).max() + 1e-30))


def test_gelu_goes_to_the_kernel_and_agrees(fake):
    got, want = _both(lambda x: seqops.gelu(x), [(3, 5, 7)])
    _close(got, want)
    assert ("gelu", 105) in fake.calls


def test_gelu_backward_multiplies_in_the_kernel(fake):
    x = Tensor(np.random.default_rng(3).standard_normal((5, 7)).astype(np.float32), requires_grad=True)
    y = seqops.gelu(x)
    g = np.random.default_rng(4).standard_normal((5, 7)).astype(np.float32)
    y.backward(g)
    assert ("mul", 35) in fake.calls
    _, dy = seam.seq_kernels().gelu(x.data)
    np.testing.assert_allclose(x.grad, g.astype(np.float64) * dy, rtol=1e-6)
    assert x.grad.dtype == np.float32


def test_gelu_without_grad_asks_no_derivative(fake):
    """Sampling and val estimates (no_grad) get the same y, and the kernel writes no dy."""
    x = np.random.default_rng(5).standard_normal((4, 9)).astype(np.float32)
    y, dy = seam.seq_kernels().gelu(x, need_dy=False)
    assert dy is None
    np.testing.assert_array_equal(y, seam.seq_kernels().gelu(x)[0])
    with no_grad():
        out = seqops.gelu(Tensor(x, requires_grad=True))
    np.testing.assert_array_equal(out.data, y)
    assert not out.requires_grad


def test_large_float32_sums_go_to_the_add_kernel_forward_and_backward(fake):
    rng = np.random.default_rng(6)
    n = seam.ADD_KERNEL_MIN
    x = Tensor(rng.standard_normal((4, n // 4)).astype(np.float32), requires_grad=True)
    r = Tensor(rng.standard_normal((4, n // 4)).astype(np.float32))
    y = x + r       # a residual add
    z = y * 2 + y   # y feeds two ops: its gradient is a sum of two
    z.backward(np.ones(z.shape, np.float32))
    assert [c for c in fake.calls if c[0] == "add"] == [("add", n)] * 3
    np.testing.assert_array_equal(y.data, x.data + r.data)
    np.testing.assert_array_equal(x.grad, np.full(x.shape, 3, np.float32))
    fake.calls.clear()
    small = Tensor(np.ones((3, 5), np.float32), requires_grad=True)
    wide = Tensor(np.ones((4, n // 4)), requires_grad=True)  # float64
    (small + small).sum().backward()
    (wide + wide).sum().backward()
    (x + Tensor(np.ones(n // 4, np.float32))).sum().backward()  # broadcast
    (x.T + r.T).sum().backward()  # not C-contiguous
    assert not [c for c in fake.calls if c[0] == "add"]
    assert small.grad.dtype == np.float32 and wide.grad.dtype == np.float64


def test_clip_grad_norm_sums_and_scales_in_the_kernels(fake):
    rng = np.random.default_rng(5)
    ps = [Tensor(rng.standard_normal(s).astype(np.float32) * 1e20, requires_grad=True)
          for s in ((3, 4), (7,), (2, 2, 5))]
    for p in ps:  # 1e40 squared overflows float32: the kernel's float64 sum does not
        p.grad = rng.standard_normal(p.shape).astype(np.float32) * np.float32(1e20)
    grads = [p.grad.copy() for p in ps]
    want = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    total = clip_grad_norm_(ps, 1.0)
    assert total == pytest.approx(want, rel=1e-12) and math.isfinite(total)
    assert [c[0] for c in fake.calls] == ["sum_squares"] * 3 + ["scale"] * 3
    for p, g in zip(ps, grads):
        np.testing.assert_allclose(p.grad, g * np.float32(1.0 / (want + 1e-6)), rtol=1e-6)
    joint = math.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in ps))
    assert joint == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_leaves_float64_and_read_only_grads_to_numpy(fake):
    a = Tensor(np.ones(4), requires_grad=True)
    a.grad = np.full(4, 3.0)  # float64
    b = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b.grad = np.broadcast_to(np.float32(4.0), (2, 3))  # read-only view
    total = clip_grad_norm_([a, b], 1.0)
    assert total == pytest.approx(math.sqrt(36 + 96))
    assert [c[0] for c in fake.calls] == ["sum_squares"]  # b's sum only; no scale call
    np.testing.assert_allclose(a.grad, 3.0 / (total + 1e-6))
    np.testing.assert_allclose(b.grad, np.float32(4.0 / (total + 1e-6)), rtol=1e-6)
    assert a.grad.dtype == np.float64 and b.grad.dtype == np.float32


def test_layer_norm_with_and_without_affine(fake):
    got, want = _both(lambda x, w, b: seqops.layer_norm(x, 6, w, b), [(2, 3, 6), (6,), (6,)])
    _close(got, want)
    assert ("layer_norm", 6, 6, True, True) in fake.calls
    assert ("layer_norm_backward", 6, 6, True, True, True) in fake.calls
    fake.calls.clear()
    got, want = _both(lambda x: seqops.layer_norm(x, (5,)), [(4, 5)])
    _close(got, want)
    assert ("layer_norm", 4, 5, False, False) in fake.calls
    got, want = _both(lambda x, w: seqops.layer_norm(x, (3, 4), w), [(2, 3, 4), (3, 4)])  # two axes
    _close(got, want)
    assert ("layer_norm", 2, 12, True, False) in fake.calls


def test_layer_norm_weight_without_grad_is_not_summed(fake):
    seam.use("wasm")
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    w = Tensor(np.full(4, 2.0, np.float32))  # a constant: no gradient wanted
    seqops.layer_norm(x, 4, w).sum().backward()
    assert w.grad is None and x.grad is not None
    assert ("layer_norm_backward", 3, 4, True, False, False) in fake.calls


@pytest.mark.parametrize("shapes,kw", [
    ([(2, 3, 7, 5), (2, 3, 7, 5), (2, 3, 7, 4)], {"is_causal": True}),
    ([(2, 5, 8), (2, 9, 8), (2, 9, 3)], {"is_causal": True}),   # fewer queries than keys
    ([(4, 6, 8), (4, 6, 8), (4, 6, 8)], {"scale": 0.3}),         # no mask
])
def test_attention_softmax_goes_to_the_kernel_and_agrees(fake, shapes, kw):
    got, want = _both(lambda q, k, v: seqops.attention(q, k, v, **kw), shapes)
    _close(got, want)
    t, s = shapes[0][-2], shapes[1][-2]
    soft = [c for c in fake.calls if c[0] == "softmax"]
    assert soft and soft[0][1:4] == (int(np.prod(shapes[0][:-2])) * t, s, t)
    assert soft[0][5] == int(kw.get("is_causal", False))
    assert any(c[0] == "softmax_backward" for c in fake.calls)


def test_self_attention_from_packed_qkv_uses_the_kernels(fake):
    got, want = _both(lambda x: seqops.self_attention(x, 2), [(3, 5, 12)])  # 2 heads of 2
    _close(got, want)
    soft = [c for c in fake.calls if c[0] == "softmax"]  # rows = B * heads * T, keys, T
    assert soft and soft[0][1:4] == (30, 5, 5) and soft[0][5] == 1
    assert soft[0][4] == pytest.approx(2 ** -0.5)
    assert any(c[0] == "softmax_backward" and c[1:3] == (30, 5) for c in fake.calls)


def test_what_the_kernels_do_not_cover_stays_on_numpy(fake):
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((4, 6)), requires_grad=True)  # float64
    seqops.gelu(x).sum().backward()
    seqops.layer_norm(x, 6).sum().backward()
    q = Tensor(rng.standard_normal((2, 4, 3)).astype(np.float32))
    mask = np.tril(np.ones((4, 4), bool))
    seqops.attention(q, q, q, attn_mask=mask)  # an explicit mask: numpy's softmax
    assert not [c for c in fake.calls if c[0] != "gemm"]


def test_an_older_kernels_module_without_seq_kernels_leaves_numpy():
    layer = FakeLayer()  # no seq kernels (a kernels.wasm built before seq.c)
    try:
        asyncio.run(wasm.install(layer=layer, threshold=1))
        assert seam.status()["backend"] == "wasm" and seam.seq_kernels() is None
        x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
        seqops.gelu(x).sum().backward()
        assert x.grad is not None
    finally:
        seam.use("numpy")
        wasm.backend = None


class FakeAttentionLayer(FakeSeqLayer):
    """FakeSeqLayer plus attn.c's whole self-attention, in float64 on the same addresses."""

    def __init__(self):
        super().__init__()
        self.seq.update(attention=self._attention, attention_backward=self._attention_bw)

    @staticmethod
    def _heads(qkv, b, t, nh, hs, scale, causal):
        q, k, v = _floats(qkv, b * t * 3 * nh * hs).astype(np.float64).reshape(
            b, t, 3, nh, hs).transpose(2, 0, 3, 1, 4)
        s = q @ k.swapaxes(-1, -2) * scale
        if causal:
            s = np.where(np.tril(np.ones((t, t), bool)), s, -np.inf)
        w = np.exp(s - s.max(axis=-1, keepdims=True))
        return q, k, v, w / w.sum(axis=-1, keepdims=True)

    def _attention(self, qkv, out, w, b, t, nh, hs, scale, causal, scratch):
        self.calls.append(("attention", b, t, nh, hs, scale, causal))
        *_, v, W = self._heads(qkv, b, t, nh, hs, scale, causal)
        _floats(w, W.size)[:] = W.ravel()
        _floats(out, b * t * nh * hs)[:] = (W @ v).transpose(0, 2, 1, 3).ravel()

    def _attention_bw(self, qkv, w, g, gx, gs, b, t, nh, hs, scale, causal, scratch):
        self.calls.append(("attention_backward", b, t, nh, hs, scale, causal))
        q, k, v, _ = self._heads(qkv, b, t, nh, hs, scale, causal)
        W = _floats(w, b * nh * t * t).reshape(b, nh, t, t)
        G = _floats(g, b * t * nh * hs).reshape(b, t, nh, hs).transpose(0, 2, 1, 3)
        gw = G @ v.swapaxes(-1, -2)
        gw = W * (gw - (gw * W).sum(axis=-1, keepdims=True)) * scale
        parts = np.stack([gw @ k, gw.swapaxes(-1, -2) @ q, W.swapaxes(-1, -2) @ G])
        _floats(gx, parts.size)[:] = parts.transpose(1, 3, 0, 2, 4).ravel()


@pytest.mark.parametrize("causal", [True, False])
def test_self_attention_goes_whole_to_the_attention_kernels_and_agrees(causal):
    layer = FakeAttentionLayer()
    try:
        assert asyncio.run(wasm.install(layer=layer, threshold=1))[0]
        assert wasm.backend.has_attention
        got, want = _both(lambda x: seqops.self_attention(x, 3, is_causal=causal), [(2, 5, 18)])
        _close(got, want)  # 3 heads of 2: values and the gradient of the packed qkv
        names = [c[0] for c in layer.calls]
        assert "softmax" not in names and "softmax_backward" not in names
        assert ("attention", 2, 5, 3, 2, pytest.approx(2 ** -0.5), int(causal)) in layer.calls
        assert ("attention_backward", 2, 5, 3, 2, pytest.approx(2 ** -0.5), int(causal)) in layer.calls
        layer.calls.clear()
        seam.use("wasm")
        x = Tensor(np.ones((1, 4, 6), np.float32), requires_grad=True)
        seqops.self_attention(x, 1, attn_mask=np.tril(np.ones((4, 4), bool)))  # a mask: not theirs
        assert "attention" not in [c[0] for c in layer.calls]
    finally:
        seam.use("numpy")
        wasm.backend = None


# -- the relaxed-SIMD build ---------------------------------------------------------------------
needs_clang = pytest.mark.skipif(not (shutil.which("clang-14") or shutil.which("clang")),
                                 reason="clang-14 is not installed (apt-get install clang-14 lld-14)")


@needs_clang
def test_build_makes_both_modules_and_rewrites_every_fma(tmp_path):
    out = kernels.build(tmp_path / "k.wasm")
    fast = kernels.relaxed_path(out)
    assert fast.name == "k-relaxed.wasm" and fast.is_file()
    base, rel = out.read_bytes(), fast.read_bytes()
    for data in (base, rel):
        assert kernels.imports(data) == [("env", "memory", 2)]
        assert set(kernels.EXPORTS) <= set(kernels.exports(data))
    assert relaxed.standard_madd(base)[1] == 0          # no fused multiply-add in kernels.wasm
    assert relaxed.standard_madd(rel) == (rel, 0)       # none left to rewrite: all standard now
    # compiled again, before the rewrite: clang-14's prototype opcodes are there, 8 per kernel
    raw = tmp_path / "raw.wasm"
    kernels.compile_c(kernels.find_clang(), [str(s) for s in kernels.SOURCES], raw,
                     kernels.FLAGS + kernels.RELAXED_FLAGS)
    new, count = relaxed.standard_madd(raw.read_bytes())
    assert count >= 8 and new == rel
    assert len(new) == len(raw.read_bytes())


def test_rewrite_walks_instructions_not_bytes():
    # one function: v128.const holding the bytes fd af 01, then the prototype fma, then end
    body = bytes([0]) + bytes([0xFD, 12]) + bytes([0xFD, 0xAF, 0x01] + [0] * 13) \
        + bytes([0xFD, 12]) + bytes(16) + bytes([0xFD, 12]) + bytes(16) + bytes([0xFD, 0xAF, 0x01, 0x1A, 0x0B])
    code = bytes([1, len(body)]) + body
    module = b"\0asm\1\0\0\0" + bytes([10, len(code)]) + code
    new, count = relaxed.standard_madd(module)
    assert count == 1
    assert new[-5:] == bytes([0xFD, 0x85, 0x02, 0x1A, 0x0B])      # the instruction, rewritten
    assert new.count(bytes([0xFD, 0xAF, 0x01])) == 1             # the constant's bytes, kept
    with pytest.raises(ValueError, match="not known"):
        bad = bytes([0, 0xFB, 0x0B])  # a GC-proposal prefix the walker does not know
        relaxed.standard_madd(b"\0asm\1\0\0\0" + bytes([10, len(bad) + 2, 1, len(bad)]) + bad)


def test_in_place_kernels_on_strided_views_write_back_and_nothing_else(fake):
    rng = np.random.default_rng(0)
    base = rng.standard_normal((3, 4, 8)).astype(np.float32)
    keep = base[:, :, 1::2].copy()
    view = base[:, :, ::2]  # (3, 4, 4), every other float: the kernel must not see it raw
    z = view.astype(np.float64) * 0.5 + np.where(np.tril(np.ones((4, 4), bool)), 0, -np.inf)
    want = np.exp(z - z.max(axis=-1, keepdims=True))
    want /= want.sum(axis=-1, keepdims=True)
    be = seam.seq_kernels()
    assert be.softmax_(view, 0.5, True) is view
    np.testing.assert_allclose(view, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(base[:, :, 1::2], keep)
    g = rng.standard_normal((3, 4, 8)).astype(np.float32)
    gview, w = g[:, :, ::2], np.ascontiguousarray(view)
    want_g = w * (gview - (gview * w).sum(axis=-1, keepdims=True)) * 2.0
    odd = g[:, :, 1::2].copy()
    assert be.softmax_backward_(gview, w, 2.0) is gview
    np.testing.assert_allclose(gview, want_g, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(g[:, :, 1::2], odd)
