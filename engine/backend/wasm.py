"""WebAssembly SIMD backend (contract.Backend, with image kernels, sequence-model kernels and
a fused Adam step): the kernels of site/wasm/*.c run on numpy's own buffers in Pyodide's
heap, called synchronously from Python. Every browser recent enough for Pyodide has SIMD (Chrome 91+,
Firefox 89+, Safari 16.4+); where it is missing, install() says so and numpy stays.

The page worker calls `await install(module_url=<url of site/wasm/kernels.js>)` after numpy
and the wheel are loaded (install imports kernels.js itself and finds Pyodide's memory),
then WebGPU's install: the GPU takes the large products and leaves the rest to wasm.

- `JsLayer`: the JavaScript side (descentWasm's exports), fakeable: tests on CPython pass a
  fake that computes with numpy on the same pointers.
- `WasmBackend`: what the seam calls: float32 products (anything else -> numpy), the
  channels-last image kernels, the sequence-model kernels (GELU, attention's softmax,
  LayerNorm, and self-attention whole) and `adam_step`.
Importable on CPython: `js`, `pyodide` and `pyodide_js` are imported only when installing.
"""
import ctypes

import numpy as np

from . import calibration
from .contract import BackendError
from .webgpu import js_message

# Until calibrated: Python -> JS -> wasm costs a few microseconds a call, so tiny products
# stay on numpy.
DEFAULT_THRESHOLD = 16 ** 3
CALIBRATION_SIZES = (4, 8, 16, 32, 64, 128)  # 128³: a clear win, so a noisy 64³ cannot rule wasm out
IMAGE_KERNELS = ("im2col", "col2im", "max_pool", "max_pool_backward")  # images.c exports
SEQ_KERNELS = ("gelu", "softmax", "softmax_backward", "layer_norm", "layer_norm_backward",
               "add", "mul", "sum_squares", "scale")  # seq.c
ATTENTION_KERNELS = ("attention", "attention_backward")  # attn.c (an older build may lack them)


class WasmError(RuntimeError):
    """The kernels cannot be used; the message is the reason."""


def address(x):
    """The address of an array's first element (in Pyodide: an offset in the wasm heap).

    Through the buffer protocol (ctypes) when the array is writable and contiguous: about
    3x cheaper in Pyodide than building __array_interface__'s dict (~6 vs ~16 µs a call,
    and a training step takes dozens)."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(x))
    except (TypeError, ValueError, BufferError):  # read-only, not contiguous, or empty
        return x.__array_interface__["data"][0]


class JsLayer:
    """The JavaScript side: gemm(...) and adam(...) on pointers, and the scratch size gemm needs.

    gemm(a, b, c, batch, m, k, n, ta, tb, stride_a, stride_b, scratch) and
    adam(p, g, M, V, n, b1, b2, shrink, l2, eps_c, neg_step) as in site/wasm/kernels.c;
    `images` / `seq`: {name: function} of the IMAGE_KERNELS / SEQ_KERNELS (+ ATTENTION_KERNELS)
    it has (an older build may have none)."""

    def __init__(self, gemm, adam, scratch_bytes, where="WebAssembly SIMD", images=None, seq=None):
        self.gemm, self.adam, self.scratch_bytes, self.where = gemm, adam, scratch_bytes, where
        self.images, self.seq = dict(images or {}), dict(seq or {})

    @classmethod
    async def connect(cls, module_url=None, wasm_url=None):
        """The real layer in Pyodide; raises WasmError naming the first thing missing."""
        try:
            import js
            import pyodide.code
            import pyodide_js
        except ImportError:
            raise WasmError("not running in Pyodide (no `js` module): numpy only") from None
        if getattr(js, "WebAssembly", None) is None:
            raise WasmError("this JavaScript engine has no WebAssembly")
        if getattr(js, "descentWasm", None) is None and module_url:
            try:
                await pyodide.code.run_js(f"import({module_url!r})")
            except Exception as e:
                raise WasmError(f"could not load {module_url}: {js_message(e)}") from None
        api = getattr(js, "descentWasm", None)
        if api is None:
            raise WasmError("the kernels module (site/wasm/kernels.js) is not loaded "
                            "(pass install(module_url=...))")
        if not api.simd:
            raise WasmError("this browser has no WebAssembly SIMD (simd128)")
        try:
            memory = api.pyodideMemory(pyodide_js._module)
        except Exception as e:
            raise WasmError(f"cannot share Pyodide's memory with the kernels: {js_message(e)}") from None
        try:
            await api.init(memory, wasm_url)
        except Exception as e:
            raise WasmError(f"kernels.wasm failed to load: {js_message(e)}") from None
        images = {name: getattr(api, name) for name in IMAGE_KERNELS
                  if getattr(api.exports, name, None) is not None}
        seq = {name: getattr(api.exports, name) for name in SEQ_KERNELS + ATTENTION_KERNELS
               if getattr(api.exports, name, None) is not None}
        fma = ", relaxed: fused multiply-add" if getattr(api, "fma", False) else ""
        return cls(api.gemm, api.adam, int(api.scratchBytes),
                   f"WebAssembly SIMD{fma}, zero-copy on Pyodide's heap", images, seq)


class WasmBackend:
    """The numpy wrapper: float32 products with m*k*n >= threshold go to the wasm GEMM."""
    name = "wasm"

    def __init__(self, layer, threshold=DEFAULT_THRESHOLD):
        self.layer, self.threshold = layer, threshold
        # packing space for the GEMM, owned by numpy (so it lives in Pyodide's heap too)
        self._scratch = np.empty(layer.scratch_bytes // 4 + 4, np.float32)
        self._scratch_at = -(-address(self._scratch) // 16) * 16  # 16-byte aligned
        self.has_images = set(IMAGE_KERNELS) <= set(layer.images)
        self.has_seq = set(SEQ_KERNELS) <= set(layer.seq)
        self.has_attention = self.has_seq and set(ATTENTION_KERNELS) <= set(layer.seq)

    def accepts(self, m, k, n):
        return m * k * n >= self.threshold

    @staticmethod
    def _stored(x, t):
        """A C-contiguous float32 array and its transpose flag; a transposed view is passed
        as its contiguous base with the flag flipped, so no copy is made."""
        if x.flags.c_contiguous:
            return x, t
        xt = x.swapaxes(-1, -2)
        if xt.flags.c_contiguous:
            return xt, not t
        return np.ascontiguousarray(x), t

    def matmul(self, a, b, ta=False, tb=False):
        if a.dtype != np.float32 or b.dtype != np.float32:  # the kernels are float32 only
            return np.matmul(a.swapaxes(-1, -2) if ta else a, b.swapaxes(-1, -2) if tb else b)
        m, k = (a.shape[-1], a.shape[-2]) if ta else a.shape[-2:]
        n = b.shape[-2] if tb else b.shape[-1]
        sa, sb = a.shape[:-2], b.shape[:-2]
        if sa and sb and sa != sb:  # general broadcasting: materialise both batches
            shape = np.broadcast_shapes(sa, sb)
            a, b = (np.broadcast_to(x, shape + x.shape[-2:]) for x in (a, b))
            sa = sb = shape
        batch_shape = sa or sb
        batch = int(np.prod(batch_shape)) if batch_shape else 1
        out = np.empty(batch_shape + (m, n), np.float32)  # writable: autograd updates in place
        if out.size == 0:
            return out
        xa, ta = self._stored(a, ta)
        xb, tb = self._stored(b, tb)
        stride_a, stride_b = (m * k if sa else 0), (k * n if sb else 0)
        if batch > 1 and not sb and not ta:  # one B for all: a single (batch*m) x k product
            m, batch, stride_a = batch * m, 1, 0
        try:
            self.layer.gemm(address(xa), address(xb), address(out), batch, m, k, n, int(ta),
                            int(tb), stride_a, stride_b, self._scratch_at)
        except Exception as e:
            raise BackendError(f"wasm gemm failed: {js_message(e)}") from e
        return out

    def adam_step(self, p, g, M, V, b1, b2, shrink, l2, eps_c, neg_step):
        """contract.FusedAdam: one step in place (engine.optim's Adam asks the seam for it
        while this backend runs); False (nothing done) unless all are contiguous float32."""
        for x in (p, g, M, V):
            if x.dtype != np.float32 or not x.flags.c_contiguous:
                return False
        if g.shape != p.shape:
            return False
        self.layer.adam(address(p), address(g), address(M), address(V), p.size, b1, b2,
                        shrink, l2, eps_c, neg_step)
        return True

    # -- contract.ImageKernels: x (N, H, W, C) C-contiguous float32; windows kh x kw at
    # stride (sh, sw), padding (ph, pw), ho x wo of them.
    def im2col(self, x, kh, kw, sh, sw, ph, pw, ho, wo):
        """(N*ho*wo, kh*kw*C): each window's kh x kw x C values as a row, zeros for padding."""
        n, h, w, c = x.shape
        cols = np.empty((n * ho * wo, kh * kw * c), np.float32)
        self.layer.images["im2col"](address(x), address(cols), n, h, w, c, kh, kw, sh, sw,
                                    ph, pw, ho, wo)
        return cols

    def col2im(self, gcols, shape, kh, kw, sh, sw, ph, pw, ho, wo):
        """im2col's adjoint: (N, H, W, C) = `shape`, each row added back where it was read."""
        gcols = np.ascontiguousarray(gcols, np.float32)
        gx = np.empty(shape, np.float32)
        self.layer.images["col2im"](address(gcols), address(gx), *shape, kh, kw, sh, sw,
                                    ph, pw, ho, wo)
        return gx

    def max_pool2d(self, x, kh, kw, sh, sw, ph, pw, ho, wo):
        """(y (N, ho, wo, C), arg): each window's max, and the flat index in x of its first
        maximum (raster order; -1 for a window wholly in the padding)."""
        n, h, w, c = x.shape
        y = np.empty((n, ho, wo, c), np.float32)
        arg = np.empty((n, ho, wo, c), np.int32)
        self.layer.images["max_pool"](address(x), address(y), address(arg), n, h, w, c, kh, kw,
                                      sh, sw, ph, pw, ho, wo)
        return y, arg

    def max_pool2d_backward(self, g, arg, shape):
        """Gradient of x (`shape`): zeros, plus each g at its window's arg."""
        g = np.ascontiguousarray(g, np.float32)
        gx = np.empty(shape, np.float32)
        self.layer.images["max_pool_backward"](address(g), address(arg), address(gx), g.size,
                                               gx.size)
        return gx

    # -- contract.SeqKernels: float32 arrays, C-contiguous (made so here when they are not)
    def gelu(self, x, need_dy=True):
        """(y, dy): GELU(x) and its derivative, shaped as x (dy None unless `need_dy`)."""
        x = np.ascontiguousarray(x, np.float32)
        y, dy = np.empty_like(x), np.empty_like(x) if need_dy else None
        if x.size:
            self.layer.seq["gelu"](address(x), address(y), 0 if dy is None else address(dy),
                                   x.size, self._scratch_at)
        return y, dy

    def add(self, a, b):
        """a + b, elementwise, for a and b of one shape (engine.backend.add)."""
        return self._elementwise("add", a, b)

    def mul(self, a, b):
        """a * b, elementwise, for a and b of one shape (GELU's backward)."""
        return self._elementwise("mul", a, b)

    def _elementwise(self, name, a, b):
        a, b = (np.ascontiguousarray(x, np.float32) for x in (a, b))
        out = np.empty_like(a)
        if out.size:
            self.layer.seq[name](address(a), address(b), address(out), out.size)
        return out

    def sum_squares(self, x):
        """sum(x ** 2) as a Python float, accumulated in float64 (clip_grad_norm_)."""
        x = np.ascontiguousarray(x, np.float32)
        return float(self.layer.seq["sum_squares"](address(x), x.size)) if x.size else 0.0

    def scale_(self, x, c):
        """x *= c in place (x C-contiguous, writable float32). Returns x."""
        if x.size:
            self.layer.seq["scale"](address(x), x.size, float(c))
        return x

    def softmax_(self, s, scale, causal):
        """s (..., T, S): softmax(scale * s) over S in place, key j <= row i only when
        causal. Returns s."""
        if not (s.flags.c_contiguous and s.flags.writeable):  # the kernel writes rows in place
            s[...] = self.softmax_(np.array(s, np.float32), scale, causal)
            return s
        if s.size:
            self.layer.seq["softmax"](address(s), s.size // s.shape[-1], s.shape[-1], s.shape[-2],
                                      float(scale), int(causal), self._scratch_at)
        return s

    def softmax_backward_(self, g, w, scale):
        """g = w * (g - sum(g * w)) * scale in place, over the last axis. Returns g."""
        if not (g.flags.c_contiguous and g.flags.writeable):
            g[...] = self.softmax_backward_(np.array(g, np.float32), w, scale)
            return g
        w = np.ascontiguousarray(w, np.float32)
        if g.size:
            self.layer.seq["softmax_backward"](address(g), address(w), g.size // g.shape[-1],
                                               g.shape[-1], float(scale))
        return g

    def attention(self, qkv, n_head, scale, causal):
        """(out (B, T, C), weights (B, n_head, T, T)) of self-attention on qkv (B, T, 3C)."""
        qkv = np.ascontiguousarray(qkv, np.float32)
        b, t, c3 = qkv.shape
        out = np.empty((b, t, c3 // 3), np.float32)
        w = np.empty((b, n_head, t, t), np.float32)
        if out.size:
            self.layer.seq["attention"](address(qkv), address(out), address(w), b, t, n_head,
                                        c3 // (3 * n_head), float(scale), int(causal),
                                        self._scratch_at)
        return out, w

    def attention_backward(self, qkv, w, g, n_head, scale, causal):
        """The gradient (B, T, 3C) of qkv from the output's g (B, T, C)."""
        qkv, w, g = (np.ascontiguousarray(a, np.float32) for a in (qkv, w, g))
        b, t, c3 = qkv.shape
        gx = np.empty_like(qkv)  # every element written
        if gx.size:
            gs = np.empty((t, t), np.float32)  # one head's score gradient at a time
            self.layer.seq["attention_backward"](address(qkv), address(w), address(g), address(gx),
                                                 address(gs), b, t, n_head, c3 // (3 * n_head),
                                                 float(scale), int(causal), self._scratch_at)
        return gx

    def layer_norm(self, x, weight, bias, eps):
        """Over the last axis: (y, xhat, inv) with inv shaped x.shape[:-1] + (1,)."""
        x = np.ascontiguousarray(x, np.float32)
        y, xhat = np.empty_like(x), np.empty_like(x)
        inv = np.empty(x.shape[:-1] + (1,), np.float32)
        weight, bias = (None if a is None else np.ascontiguousarray(a, np.float32) for a in (weight, bias))
        w, b = (0 if a is None else address(a) for a in (weight, bias))
        if x.size:
            self.layer.seq["layer_norm"](address(x), w, b, address(y), address(xhat), address(inv),
                                         x.size // x.shape[-1], x.shape[-1], float(eps))
        return y, xhat, inv

    def layer_norm_backward(self, g, xhat, inv, weight, need_x, need_w, need_b):
        """(gx, gw, gb) of layer_norm (None where not asked for); gw, gb summed over rows."""
        g, xhat, inv = (np.ascontiguousarray(a, np.float32) for a in (g, xhat, inv))
        weight = None if weight is None else np.ascontiguousarray(weight, np.float32)
        d, new = g.shape[-1], np.empty if g.size else np.zeros  # no rows: zero sums
        gx = np.empty_like(g) if need_x else None
        gw = new(d, np.float32) if need_w else None
        gb = new(d, np.float32) if need_b else None
        ptr = [0 if a is None else address(a) for a in (weight, gx, gw, gb)]
        if g.size:
            self.layer.seq["layer_norm_backward"](address(g), address(xhat), address(inv), *ptr,
                                                  g.size // d, d)
        return gx, gw, gb


def calibrate(backend, sizes=CALIBRATION_SIZES, **kw):
    """calibration.calibrate over wasm's sizes: (threshold, timings)."""
    return calibration.calibrate(backend, sizes, **kw)


backend = None  # the installed WasmBackend, if any


async def install(module_url=None, wasm_url=None, threshold=None, layer=None):
    """Make the WebAssembly kernels the seam's backend when possible. Returns (ok, reason).

    module_url: where site/wasm/kernels.js is (absolute URL); wasm_url: a kernels*.wasm
    (default: kernels-relaxed.wasm next to kernels.js where the browser has relaxed SIMD, else
    kernels.wasm). threshold: multiply-adds (m*k*n) from which products go to wasm; None
    calibrates it here (well under a second). Adam/AdamW steps use the fused kernel
    while this backend runs. On any failure numpy stays active (matmul and Adam) and
    engine.backend.status() reports the reason."""
    global backend
    from . import adopt, unavailable
    try:
        layer = layer or await JsLayer.connect(module_url, wasm_url)
        be = WasmBackend(layer)
        how = "set by caller"
        if threshold is None:
            threshold, timings = calibrate(be)
            how = "calibrated: " + ", ".join(f"{s}³ numpy {1e6 * tn:.0f} µs / wasm {1e6 * tw:.0f} µs"
                                             for s, tn, tw in timings)
        be.threshold = threshold
    except WasmError as e:
        reason = f"numpy: WebAssembly kernels unavailable: {e}"
        unavailable(reason)
        return False, reason
    backend = be
    slower = threshold == float("inf") and f"numpy: {layer.where} was slower than numpy at every size ({how})"
    return adopt(be, f"wasm ({layer.where}): products of >= {threshold:.0f} multiply-adds ({how})", slower)


def set_threshold(threshold):
    """Override the size threshold (multiply-adds) of the installed backend."""
    if backend is None:
        raise RuntimeError("wasm backend not installed")
    backend.threshold = threshold
