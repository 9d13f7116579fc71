"""engine.nn.utils: gradient clipping (as torch.nn.utils)."""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor


def _params(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _sum_of_squares(g, kern):
    """sum(g ** 2) as a Python float: the seam's kernel (float64 sums, in the page), else one
    BLAS dot (no squared copy), in float64 only when float32 overflows."""
    if kern is not None and g.dtype == np.float32:
        return kern.sum_squares(g)
    g = g.reshape(-1)
    s = float(np.dot(g, g))
    if not math.isfinite(s) and np.isfinite(g).all():
        g = g.astype(np.float64)
        s = float(np.dot(g, g))
    return s


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients together so their joint norm is at most max_norm.

    Returns the norm before clipping (a float): watch it to spot exploding gradients."""
    grads = [p for p in _params(parameters) if p.grad is not None]
    if not grads:
        return 0.0
    kern = backend.seq_kernels()
    if norm_type == math.inf:
        total = max(float(np.abs(p.grad).max()) for p in grads)
    elif norm_type == 2:
        total = math.sqrt(sum(_sum_of_squares(p.grad, kern) for p in grads))
    else:
        total = sum(float((np.abs(p.grad.astype(np.float64)) ** norm_type).sum())
                    for p in grads) ** (1.0 / norm_type)
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in grads:  # in place, unless a grad is a read-only (broadcast) view
            g, c = p.grad, p.grad.dtype.type(coef)
            if not g.flags.writeable:
                p.grad = g * c
            elif kern is not None and g.dtype == np.float32 and g.flags.c_contiguous:
                kern.scale_(g, c)
            else:
                g *= c
    return total


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient value into [-clip_value, clip_value]."""
    for p in _params(parameters):
        if p.grad is not None:
            p.grad = np.clip(p.grad, -clip_value, clip_value)
