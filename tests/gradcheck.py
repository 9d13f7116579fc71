"""Finite-difference gradient checks for engine ops and layers (float64)."""
import numpy as np

from engine import Tensor


def gradcheck(fn, *inputs, eps=1e-6, rtol=1e-4, atol=1e-6, seed=0):
    """Check autograd grads of `fn(*inputs)` against central finite differences.

    Each input (array-like or Tensor) becomes a float64 Tensor that requires grad; the
    scalar checked is sum(w * out) over every output with fixed random weights w, so a
    wrong gradient in any element of any output shows. Raises AssertionError naming the
    input and the worst element; returns the analytic grads."""
    xs = [Tensor(np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64),
                 requires_grad=True) for x in inputs]
    outs = fn(*xs)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(o.shape) for o in outs]

    def value():
        res = fn(*xs)
        res = list(res) if isinstance(res, (tuple, list)) else [res]
        return sum(float((w * r.data).sum()) for w, r in zip(ws, res))

    for x in xs:
        x.grad = None
    total = None
    for w, o in zip(ws, outs):
        term = (o * Tensor(w)).sum()
        total = term if total is None else total + term
    total.backward()

    analytic = []
    for i, x in enumerate(xs):
        got = np.zeros_like(x.data) if x.grad is None else x.grad
        want = np.zeros_like(x.data)
        flat = x.data.reshape(-1)  # a view: edits move x
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            hi = value()
            flat[j] = old - eps
            lo = value()
            flat[j] = old
            want.reshape(-1)[j] = (hi - lo) / (2 * eps)
        if not np.allclose(got, want, rtol=rtol, atol=atol):
            k = np.unravel_index(np.argmax(np.abs(got - want)), got.shape) if got.ndim else ()
            raise AssertionError(f"gradcheck: input {i} (shape {x.shape}): autograd {got[k]} vs "
                                 f"finite difference {want[k]} at index {k}")
        analytic.append(got)
    return analytic
