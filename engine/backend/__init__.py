"""The one seam where a matrix product runs.

Every matmul in `engine` (Linear, im2col convolutions, their backward passes) calls
`matmul` here. The active backend decides, per call, whether it takes the product
(WebGPU takes only large ones); what it declines goes to the backend it replaced (in the
page: WebAssembly under WebGPU), then to numpy. A backend that fails is dropped for the
rest of the session and `status()` says why.

What a backend provides is written down in contract.py: matmul (required), image kernels,
sequence-model kernels and a fused Adam step (optional, found here by `kernels()`,
`seq_kernels()` and `fused_adam()`; `add` sends large float32 sums to the sequence-model
kernels). One file per backend: numpy_backend.py, wasm.py, webgpu.py; how a backend finds
the size from which it wins is calibration.py.
"""
import time
from contextlib import contextmanager

import numpy as np

from . import numpy_backend
from .contract import BackendError

_numpy = numpy_backend.NumpyBackend()
_backends = {"numpy": _numpy}
_active = _numpy
_under = _numpy  # takes what _active declines: the backend _active replaced
_reason = "default: numpy (no other backend selected)"
_stats = {}
_observers = []  # observe(): a profiler's hooks, called after every product


def register(backend):
    """Make a backend (contract.Backend: .name, .accepts(m, k, n), .matmul(a, b, ta, tb)) selectable."""
    _backends[backend.name] = backend


def registered():
    """The names use() accepts."""
    return sorted(_backends)


def active():
    """The backend in charge now (its matmul is tried first)."""
    return _active


def use(name, reason=None):
    """Switch the active backend at run time; `reason` is what status() reports. The backend
    it replaces (other than numpy) takes the products the new one declines; "numpy" alone
    clears both."""
    global _active, _under, _reason
    if name not in _backends:
        raise ValueError(f"unknown matmul backend {name!r}; available: {sorted(_backends)}")
    new = _backends[name]
    if new is _numpy:
        _under = _numpy
    elif _active is not new and _active is not _numpy:
        _under = _active
    _active = new
    _reason = reason or f"selected: {name}"


def adopt(backend, reason, slower=None):
    """An installer's last step: register `backend`, which started, and use it unless its
    calibration found it slower than what runs now at every size (`slower` says so).
    Returns install()'s (used, reason)."""
    register(backend)
    if slower:
        unavailable(slower)
        return False, slower
    use(backend.name, reason)
    return True, reason


def unavailable(reason):
    """An optional backend could not start: say why, unless another one already runs.
    Reasons start "numpy: "; a second one is added to the first (the bar then says why
    neither the kernels nor the GPU run, not just the last one tried)."""
    global _reason
    if _active is _numpy:
        earlier = _reason.startswith("numpy: ") and _reason != reason
        _reason = f"{_reason}; {reason.removeprefix('numpy: ')}" if earlier else reason


def _drop(be, error):
    """`be` failed: it is out for the rest of the session; the one under it takes over."""
    global _active, _under, _reason
    if be is _active:
        _active, _under = _under, _numpy
    elif be is _under:
        _under = _numpy
    _reason = f"{be.name} failed, using {_active.name} for the rest of the session: {error}"


def _record(name, seconds):
    s = _stats.setdefault(name, {"calls": 0, "seconds": 0.0})
    s["calls"] += 1
    s["seconds"] += seconds


def matmul(a, b, ta=False, tb=False):
    """op(a) @ op(b) where op transposes the last two axes when ta / tb is set.

    Shapes follow numpy's matmul (leading axes broadcast as a batch)."""
    m, k = (a.shape[-1], a.shape[-2]) if ta else a.shape[-2:]
    k2, n = (b.shape[-1], b.shape[-2]) if tb else b.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: inner sizes differ: {a.shape}{'ᵀ' if ta else ''} @ "
                         f"{b.shape}{'ᵀ' if tb else ''} ({k} vs {k2})")
    be = _active if _active is not _numpy and _active.accepts(m, k, n) else (
        _under if _under is not _numpy and _under.accepts(m, k, n) else _numpy)
    t = time.perf_counter()
    try:
        out = be.matmul(a, b, ta, tb)
    except BackendError as e:
        _drop(be, e)
        be, t = _numpy, time.perf_counter()
        out = be.matmul(a, b, ta, tb)
    dt = time.perf_counter() - t
    _record(be.name, dt)
    for fn in _observers:
        fn(a, b, ta, tb, out, dt)
    return out


ADD_KERNEL_MIN = 16384  # floats: below this, numpy's add beats the call into a kernel


def add(a, b):
    """a + b (numpy arrays). Two C-contiguous float32 arrays of one large shape go to the
    `add` of a backend with sequence-model kernels (WebAssembly SIMD in the page, where
    numpy's loop has none): a transformer's residual adds and its gradients' sums."""
    if (a.size >= ADD_KERNEL_MIN and a.shape == b.shape and a.dtype == b.dtype == np.float32
            and a.flags.c_contiguous and b.flags.c_contiguous):
        kern = seq_kernels()
        if kern is not None:
            return kern.add(a, b)
    return np.add(a, b)


@contextmanager
def observe(fn):
    """Inside the block, fn(a, b, ta, tb, out, seconds) is called after every product (how a
    profiler sees the products without replacing `matmul`)."""
    _observers.append(fn)
    try:
        yield
    finally:
        _observers.remove(fn)


def kernels():
    """The backend (active, else the one under it) with channels-last image kernels
    (contract.ImageKernels), or None: conv2d and max_pool2d in engine.nn.functional use
    them in place of their numpy loops."""
    for be in (_active, _under):
        if getattr(be, "has_images", False):
            return be
    return None


def seq_kernels():
    """The backend (active, else the one under it) with sequence-model kernels
    (contract.SeqKernels: GELU, attention's softmax, LayerNorm), or None: engine.nn.seqops
    then computes with numpy."""
    for be in (_active, _under):
        if getattr(be, "has_seq", False):
            return be
    return None


def fused_adam():
    """The `adam_step` of the backend (active, else the one under it) that has one
    (contract.FusedAdam), or None: engine.optim's Adam then updates with numpy."""
    for be in (_active, _under):
        step = getattr(be, "adam_step", None)
        if step is not None:
            return step
    return None


def status():
    """Which backend is active and why, plus calls and seconds per backend that ran."""
    return {"backend": _active.name, "under": _under.name, "reason": _reason,
            "stats": {k: dict(v) for k, v in _stats.items()}}


def reset_stats():
    _stats.clear()
