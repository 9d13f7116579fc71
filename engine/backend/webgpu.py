"""WebGPU matmul backend (contract.Backend, no extras): large products run on
site/webgpu/matmul.js, called synchronously from Python through JSPI (`pyodide.ffi.run_sync`).

Two layers, so the bare Pyodide core (which has no numpy) can test the bridge:
- `GPU`: buffer level. float32 Python buffers in, a float32 memoryview out; no numpy and
  no package-relative imports at the top, so this file also loads on its own.
- `WebGPUBackend`: what engine.backend's seam calls; the products it declines (below its
  calibrated threshold) go to the backend it replaced (in the page: the wasm kernels).
`await install()` tries to set it all up; when anything is missing it leaves what ran
before and `engine.backend.status()["reason"]` says exactly why. Importable on CPython:
`pyodide` and `js` are imported only when installing.
"""
import array

# A few hundred microseconds per dispatch + read-back: below ~128³ numpy always wins.
DEFAULT_THRESHOLD = 128 ** 3
CALIBRATION_SIZES = (64, 128, 192, 256, 384, 512)


class GPUError(RuntimeError):
    """The GPU cannot compute a product; the message is the reason."""


def js_message(exc):
    """First line of an exception's text, without JavaScript's "Error: " prefix."""
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return text[len("Error: "):] if text.startswith("Error: ") else text


class JsLayer:
    """The JavaScript side: the `descentGPU` API, run_sync and can_run_sync (fakeable in tests)."""

    def __init__(self, api, run_sync, can_run_sync, to_js, from_js):
        self.api, self.run_sync, self.can_run_sync = api, run_sync, can_run_sync
        self.to_js, self.from_js = to_js, from_js

    @classmethod
    async def connect(cls, module_url=None):
        """The real layer in Pyodide; raises GPUError naming the first thing missing."""
        try:
            import js
            import pyodide.code
            import pyodide.ffi
        except ImportError:
            raise GPUError("not running in Pyodide (no `js` module): numpy only") from None
        if getattr(getattr(js, "navigator", None), "gpu", None) is None:
            raise GPUError("no navigator.gpu: this browser has no WebGPU")
        if not hasattr(js.WebAssembly, "Suspending") or not hasattr(pyodide.ffi, "run_sync"):
            raise GPUError("no JSPI (WebAssembly.Suspending): Python cannot wait for the GPU "
                           "synchronously in this browser")
        if getattr(js, "descentGPU", None) is None and module_url:
            try:
                await pyodide.code.run_js(f"import({module_url!r})")
            except Exception as e:
                raise GPUError(f"could not load {module_url}: {js_message(e)}") from None
        api = getattr(js, "descentGPU", None)
        if api is None:
            raise GPUError("the WebGPU matmul module (site/webgpu/matmul.js) is not loaded")

        def to_js(buf):
            mv = memoryview(buf).cast("B").cast("f")
            arr = js.Float32Array.new(len(mv))
            arr.assign(mv)
            return arr

        def from_js(arr, out=None):
            if out is None:
                return arr.to_memoryview()
            arr.assign_to(out)
            return out

        return cls(api, pyodide.ffi.run_sync, pyodide.ffi.can_run_sync, to_js, from_js)


class GPU:
    """Buffer-level hook: `matmul` takes float32 buffers + shapes and returns a memoryview.

    After any failure it stays down (`ok` False) and `reason` says why."""

    def __init__(self, layer):
        self.layer = layer
        self.ok = False
        self.adapter = None
        self.max_bytes = 0
        self.reason = "not started"

    async def start(self):
        try:
            info = await self.layer.api.init()
            self.adapter = str(info.name)
            self.max_bytes = int(self.layer.api.status().maxBytes)
        except Exception as e:
            self._fail(js_message(e))
        self.ok, self.reason = True, f"WebGPU ready on {self.adapter}"
        return self

    def _fail(self, why):
        self.ok, self.reason = False, why
        raise GPUError(why)

    def fits(self, nbytes):
        return nbytes <= self.max_bytes

    def _promise(self, a, b, m, k, n, ta, tb, batch, broadcast_a, broadcast_b):
        if not self.ok:
            raise GPUError(self.reason)
        L = self.layer
        return L.api.matmul(L.to_js(a), L.to_js(b), m, k, n, bool(ta), bool(tb), batch,
                            bool(broadcast_a), bool(broadcast_b))

    def matmul(self, a, b, m, k, n, ta=False, tb=False, batch=1, broadcast_a=False,
               broadcast_b=False, out=None):
        """op(a) @ op(b) for `batch` products, synchronously (call it from an asyncio task
        or runPythonAsync, where JSPI can suspend). a is m x k (k x m when ta), b is k x n
        (n x k when tb); a broadcast side holds one matrix for the whole batch."""
        if not self.layer.can_run_sync():
            raise GPUError("run_sync is not possible here (not inside an asyncio task / runPythonAsync)")
        p = self._promise(a, b, m, k, n, ta, tb, batch, broadcast_a, broadcast_b)
        try:
            res = self.layer.run_sync(p)
        except Exception as e:
            self._fail(js_message(e))
        return self.layer.from_js(res, out)

    async def matmul_async(self, a, b, m, k, n, ta=False, tb=False, batch=1,
                           broadcast_a=False, broadcast_b=False, out=None):
        p = self._promise(a, b, m, k, n, ta, tb, batch, broadcast_a, broadcast_b)
        try:
            res = await p
        except Exception as e:
            self._fail(js_message(e))
        return self.layer.from_js(res, out)


def matmul_python(a, b, m, k, n, ta=False, tb=False, batch=1, broadcast_a=False, broadcast_b=False):
    """Pure-Python reference with `GPU.matmul`'s signature (the no-numpy fallback)."""
    a, b = memoryview(a).cast("B").cast("f"), memoryview(b).cast("B").cast("f")
    out = array.array("f", bytes(4 * batch * m * n))
    for z in range(batch):
        ao, bo, co = (0 if broadcast_a else z * m * k), (0 if broadcast_b else z * k * n), z * m * n
        for i in range(m):
            for j in range(n):
                out[co + i * n + j] = sum(a[ao + (p * m + i if ta else i * k + p)] *
                                          b[bo + (j * k + p if tb else p * n + j)] for p in range(k))
    return memoryview(out)


def matmul_buffers(gpu, a, b, m, k, n, **kw):
    """Buffer-level hook with fallback: (result memoryview, who answered, why)."""
    if gpu is not None and gpu.ok:
        try:
            return gpu.matmul(a, b, m, k, n, **kw), "webgpu", gpu.reason
        except GPUError:
            pass
    why = gpu.reason if gpu is not None else "no GPU hook"
    return matmul_python(a, b, m, k, n, **kw), "python", why


class WebGPUBackend:
    """The numpy wrapper: products with m*k*n >= threshold go to the GPU."""
    name = "webgpu"

    def __init__(self, gpu, threshold=DEFAULT_THRESHOLD):
        self.gpu, self.threshold = gpu, threshold

    def accepts(self, m, k, n):
        return m * k * n >= self.threshold and self.gpu.layer.can_run_sync()

    @staticmethod
    def _stored(x, t):
        """A C-contiguous float32 array and its transpose flag; a transposed view is passed
        as its contiguous base with the flag flipped, so no copy is made."""
        import numpy as np
        if x.dtype == np.float32 and x.flags.c_contiguous:
            return x, t
        xt = x.swapaxes(-1, -2)
        if x.dtype == np.float32 and xt.flags.c_contiguous:
            return xt, not t
        return np.ascontiguousarray(x, dtype=np.float32), t

    def matmul(self, a, b, ta=False, tb=False):
        import numpy as np
        from .contract import BackendError
        m, k = (a.shape[-1], a.shape[-2]) if ta else a.shape[-2:]
        n = b.shape[-2] if tb else b.shape[-1]
        sa, sb = a.shape[:-2], b.shape[:-2]
        if sa and sb and sa != sb:  # general broadcasting: materialise both batches
            shape = np.broadcast_shapes(sa, sb)
            a, b = (np.broadcast_to(x, shape + x.shape[-2:]) for x in (a, b))
            sa = sb = shape
        batch_shape = sa or sb
        batch = int(np.prod(batch_shape)) if batch_shape else 1
        if batch > 65535 or not all(self.gpu.fits(4 * s) for s in (a.size, b.size, batch * m * n)):
            # beyond one dispatch / one binding: this product alone runs on numpy
            return np.matmul(a.swapaxes(-1, -2) if ta else a, b.swapaxes(-1, -2) if tb else b)
        xa, ta2 = self._stored(a, ta)
        xb, tb2 = self._stored(b, tb)
        dtype = np.result_type(a.dtype, b.dtype)
        out = np.empty(batch_shape + (m, n), np.float32)  # writable: autograd updates in place
        try:
            self.gpu.matmul(xa, xb, m, k, n, ta2, tb2, batch, out=out,
                            broadcast_a=not sa and batch > 1, broadcast_b=not sb and batch > 1)
        except GPUError as e:
            raise BackendError(str(e)) from e
        return out if dtype == np.float32 else out.astype(dtype)


backend = None  # the installed WebGPUBackend, if any


async def install(threshold=None, calibrate_sizes=CALIBRATION_SIZES, module_url=None, layer=None):
    """Make WebGPU the seam's backend when possible. Returns (ok, reason).

    threshold: multiply-adds (m*k*n) from which products go to the GPU; None calibrates
    it here (time both, take the crossover). On any failure numpy stays active and
    engine.backend.status() reports the reason."""
    global backend
    from . import active, adopt, unavailable
    from .calibration import calibrate_gpu
    now = active()  # what the GPU would take over from: numpy, or the WebAssembly kernels
    try:
        layer = layer or await JsLayer.connect(module_url)
        gpu = await GPU(layer).start()
        be = WebGPUBackend(gpu)
        how = "set by caller"
        if threshold is None:
            threshold, timings = await calibrate_gpu(be, calibrate_sizes, cpu=now.matmul)
            how = "calibrated: " + ", ".join(f"{s}³ {now.name} {1e3 * tn:.1f} ms / gpu {1e3 * tg:.1f} ms"
                                             for s, tn, tg in timings)
        be.threshold = threshold
    except GPUError as e:
        reason = f"numpy: WebGPU unavailable: {e}"
        unavailable(reason)
        return False, reason
    backend = be
    slower = threshold == float("inf") and (
        f"{now.name}: WebGPU on {gpu.adapter} was slower than {now.name} at every size ({how})")
    return adopt(be, f"webgpu on {gpu.adapter}: products of >= {threshold:.0f} multiply-adds ({how})", slower)


def set_threshold(threshold):
    """Override the size threshold (multiply-adds) of the installed backend."""
    if backend is None:
        raise RuntimeError("WebGPU backend not installed")
    backend.threshold = threshold
