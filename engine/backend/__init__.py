"""The one seam where a matrix product runs.

Every matmul in `engine` (Linear, im2col convolutions, their backward passes) calls
`matmul` here. The active backend decides, per call, whether it takes the product
(WebGPU takes only large ones); anything it declines or fails on runs on numpy.
A backend that fails is dropped for the rest of the session and `status()` says why.
"""
import time

from . import numpy_backend

_numpy = numpy_backend.NumpyBackend()
_backends = {"numpy": _numpy}
_active = _numpy
_reason = "default: numpy (no other backend selected)"
_stats = {}


class BackendError(RuntimeError):
    """Raised by a backend that cannot compute a product; the seam falls back to numpy."""


def register(backend):
    """Make a backend (an object with .name, .accepts(m, k, n), .matmul(a, b, ta, tb)) selectable."""
    _backends[backend.name] = backend


def use(name, reason=None):
    """Switch the active backend at run time; `reason` is what status() reports."""
    global _active, _reason
    if name not in _backends:
        raise ValueError(f"unknown matmul backend {name!r}; available: {sorted(_backends)}")
    _active = _backends[name]
    _reason = reason or f"selected: {name}"


def _fall_back(why):
    global _active, _reason
    _active, _reason = _numpy, why


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
    be = _active if _active is not _numpy and _active.accepts(m, k, n) else _numpy
    t = time.perf_counter()
    try:
        out = be.matmul(a, b, ta, tb)
    except BackendError as e:
        _fall_back(f"{be.name} failed, using numpy for the rest of the session: {e}")
        be, t = _numpy, time.perf_counter()
        out = be.matmul(a, b, ta, tb)
    _record(be.name, time.perf_counter() - t)
    return out


def status():
    """Which backend is active and why, plus calls and seconds per backend that ran."""
    return {"backend": _active.name, "reason": _reason,
            "stats": {k: dict(v) for k, v in _stats.items()}}


def reset_stats():
    _stats.clear()
