"""The real kernels (site/wasm/*.c, built here) run under Node.js against numpy: the GEMM with
row strides under its batched export, attn.c's whole self-attention, forward and backward,
causal or not, GELU (simd.h's exp4) and the elementwise kernels, in the plain and the
relaxed-SIMD build. Each call runs one export on a heap image (the arrays at known offsets,
the rest untouched NaN where an output goes), which is what Pyodide's heap is to the kernels
in the page (tests/test_wasm_page.py)."""
import math
import shutil
import subprocess

import numpy as np
import pytest

from playground.sitebuild import kernels

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(not (NODE and (shutil.which("clang-14") or shutil.which("clang"))),
                                reason="needs node and clang-14 (apt-get install nodejs clang-14 lld-14)")
RUN = """
import { readFileSync, writeFileSync } from "node:fs";
const [wasm, heapPath, name, ...args] = process.argv.slice(2);
const heap = readFileSync(heapPath);
const memory = new WebAssembly.Memory({ initial: Math.ceil(heap.length / 65536) });
new Uint8Array(memory.buffer).set(heap);
const { instance } = await WebAssembly.instantiate(readFileSync(wasm), { env: { memory } });
const ret = instance.exports[name](...args.map(Number));
if (ret !== undefined) console.log(ret);
writeFileSync(heapPath, new Uint8Array(memory.buffer, 0, heap.length));
"""


@pytest.fixture(scope="module", params=["plain", "relaxed"])
def module(request, tmp_path_factory):
    """(node command line for the build, its folder, its gemm_scratch_bytes() / 4: the two
    builds' tile sizes differ)."""
    tmp = tmp_path_factory.mktemp("wasm")
    out = kernels.build(tmp / "k.wasm")
    (tmp / "run.mjs").write_text(RUN)
    if request.param == "plain":
        cmd = [NODE, str(tmp / "run.mjs"), str(out)]
    else:  # Node 20 validates relaxed SIMD behind a flag; a later Node may have it on and the flag gone
        flag = ["--experimental-wasm-relaxed-simd"]
        if subprocess.run([NODE, *flag, "-e", "0"], capture_output=True, check=False).returncode:
            flag = []
        cmd = [NODE, *flag, str(tmp / "run.mjs"), str(kernels.relaxed_path(out))]
    (tmp / "empty.bin").write_bytes(bytes(1 << 20))  # the module asks for some memory
    size = subprocess.run([*cmd, str(tmp / "empty.bin"), "gemm_scratch_bytes", "0"], check=True,
                          capture_output=True, text=True).stdout
    return cmd, tmp, int(float(size)) // 4


class Heap:
    """float32 arrays laid out from offset 1024, 16-byte aligned; call() runs one export."""

    def __init__(self, module):
        self.cmd, self.tmp, self.scratch_floats = module
        self.parts, self.end = [], 1024

    def put(self, a):
        a = np.ascontiguousarray(a, np.float32)
        at, self.end = self.end, self.end + -(-a.nbytes // 16) * 16
        self.parts.append((at, a))
        return at

    def room(self, *shape):  # an output: NaN until the kernel writes it
        return self.put(np.full(shape, np.nan, np.float32))

    def call(self, name, *args):
        scratch = self.room(self.scratch_floats)
        heap = bytearray(self.end + 64)
        for at, a in self.parts:
            heap[at:at + a.nbytes] = a.tobytes()
        path = self.tmp / "heap.bin"
        path.write_bytes(heap)
        run = subprocess.run([*self.cmd, str(path), name, *map(str, args), str(scratch)], check=True,
                             capture_output=True, text=True)
        self.data = path.read_bytes()
        return float(run.stdout) if run.stdout.strip() else None  # what the export returned

    def get(self, at, *shape):
        return np.frombuffer(self.data, np.float32, int(np.prod(shape)), at).reshape(shape)


@pytest.mark.parametrize("batch,m,k,n", [(1, 5, 3, 9), (3, 64, 32, 64), (2, 70, 300, 13), (1, 4, 0, 8)])
@pytest.mark.parametrize("ta,tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_gemm_matches_numpy(module, batch, m, k, n, ta, tb):
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((batch, k, m) if ta else (batch, m, k)).astype(np.float32)
    b = rng.standard_normal((batch, n, k) if tb else (batch, k, n)).astype(np.float32)
    h = Heap(module)
    pa, pb, pc = h.put(a), h.put(b), h.room(batch, m, n)
    h.call("gemm", pa, pb, pc, batch, m, k, n, ta, tb, m * k, k * n)
    want = (a.swapaxes(1, 2) if ta else a).astype(np.float64) @ (b.swapaxes(1, 2) if tb else b)
    np.testing.assert_allclose(h.get(pc, batch, m, n), want, atol=1e-4 * (k + 1) ** 0.5)


def reference(qkv, nh, scale, causal, g):
    """float64: out, weights and the gradient of qkv, heads split the plain way."""
    b, t, c3 = qkv.shape
    q, k, v = qkv.astype(np.float64).reshape(b, t, 3, nh, c3 // (3 * nh)).transpose(2, 0, 3, 1, 4)
    s = q @ k.swapaxes(-1, -2) * scale
    if causal:
        s = np.where(np.tril(np.ones((t, t), bool)), s, -np.inf)
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    w /= w.sum(axis=-1, keepdims=True)
    gh = g.astype(np.float64).reshape(b, t, nh, -1).transpose(0, 2, 1, 3)
    gw = gh @ v.swapaxes(-1, -2)
    gs = w * (gw - (gw * w).sum(axis=-1, keepdims=True)) * scale
    gx = np.stack([gs @ k, gs.swapaxes(-1, -2) @ q, w.swapaxes(-1, -2) @ gh])
    return ((w @ v).transpose(0, 2, 1, 3).reshape(b, t, -1), w,
            gx.transpose(1, 3, 0, 2, 4).reshape(b, t, c3))


@pytest.mark.parametrize("b,t,nh,hs", [(2, 64, 4, 32), (3, 7, 3, 5), (1, 70, 2, 12), (1, 1, 1, 1)])
@pytest.mark.parametrize("causal", [1, 0])
def test_attention_forward_and_backward_match_numpy(module, b, t, nh, hs, causal):
    rng = np.random.default_rng(t)
    c, scale = nh * hs, hs ** -0.5
    qkv = (rng.standard_normal((b, t, 3 * c)) * 2).astype(np.float32)
    g = rng.standard_normal((b, t, c)).astype(np.float32)
    out, w, gx = reference(qkv, nh, scale, causal, g)
    h = Heap(module)
    px, po, pw = h.put(qkv), h.room(b, t, c), h.room(b, nh, t, t)
    h.call("attention", px, po, pw, b, t, nh, hs, scale, causal)
    np.testing.assert_allclose(h.get(po, b, t, c), out, atol=2e-5 * np.abs(out).max())
    np.testing.assert_allclose(h.get(pw, b, nh, t, t), w, atol=2e-6)  # zeros above the diagonal
    h = Heap(module)
    args = [h.put(qkv), h.put(w), h.put(g), h.room(b, t, 3 * c), h.room(t, t)]
    h.call("attention_backward", *args, b, t, nh, hs, scale, causal)
    np.testing.assert_allclose(h.get(args[3], b, t, 3 * c), gx, atol=2e-5 * np.abs(gx).max())


def test_gelu_and_its_derivative_match_erf(module):
    """simd.h's exp4 (under seq.c's GELU) against math.erf in float64, NaN kept, odd length."""
    x = np.concatenate([np.linspace(-12, 12, 1001), [np.nan, 0.0, -90.0, 90.0]]).astype(np.float32)
    h = Heap(module)
    px, py, pdy = h.put(x), h.room(x.size), h.room(x.size)
    h.call("gelu", px, py, pdy, x.size)
    xs = x.astype(np.float64)
    phi = 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in xs]))
    dy = phi + xs * np.exp(-xs * xs / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(h.get(py, x.size), xs * phi, rtol=1e-6, atol=3e-7, equal_nan=True)
    np.testing.assert_allclose(h.get(pdy, x.size), dy, rtol=1e-6, atol=3e-7, equal_nan=True)


def test_gelu_without_the_derivative_writes_y_alone(module):
    """dy = NULL (no gradient wanted): the same y, and nothing written where dy would be."""
    x = np.linspace(-5, 5, 103).astype(np.float32)
    h = Heap(module)
    px, py, pdy = h.put(x), h.room(x.size), h.room(x.size)
    h.call("gelu", px, py, pdy, x.size)
    want = h.get(py, x.size).copy()
    h = Heap(module)
    px, py, guard = h.put(x), h.room(x.size), h.room(x.size)
    h.call("gelu", px, py, 0, x.size)
    np.testing.assert_array_equal(h.get(py, x.size), want)
    assert np.isnan(h.get(guard, x.size)).all()


def test_mul_add_sum_squares_and_scale(module):
    """seq.c's elementwise kernels (sums, GELU's backward, clip_grad_norm_), odd length: a tail."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(1003).astype(np.float32) for _ in range(2))
    h = Heap(module)
    pa, pb, out = h.put(a), h.put(b), h.room(a.size)
    h.call("mul", pa, pb, out, a.size)
    np.testing.assert_array_equal(h.get(out, a.size), a * b)  # one float32 rounding each
    h.call("add", pa, pb, out, a.size)
    np.testing.assert_array_equal(h.get(out, a.size), a + b)
    big = a * np.float32(1e30)  # its squares overflow float32, not the float64 sum
    h = Heap(module)
    at = h.put(big)
    want = float(np.sum(big.astype(np.float64) ** 2))
    assert h.call("sum_squares", at, big.size) == pytest.approx(want, rel=1e-12)
    h = Heap(module)
    at = h.put(a)
    h.call("scale", at, a.size, 0.375)
    np.testing.assert_array_equal(h.get(at, a.size), a * np.float32(0.375))
