"""Ops for sequence models (makemore, GPT): exact GELU, LayerNorm, masked softmax, attention.

Each op is one graph node with its backward beside it, like the rest of engine.nn.functional
(which re-exports them: `F.layer_norm`, `F.scaled_dot_product_attention`, ...). Shapes and
names follow torch.nn.functional.
"""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor, as_tensor as _t, node, unbroadcast

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erf64 = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    """The error function of a numpy array (numpy has none).

    float64 (gradient checks, parity tests): math.erf on every element, exact but slow.
    float32 (training): Numerical Recipes' Chebyshev fit of erfc (relative error < 1.2e-7),
    computed in float32: within 4e-7 of the true erf, a few float32 ulps, for one exp."""
    x = np.asarray(x)
    if x.dtype == np.float64:
        return _erf64(x).astype(np.float64)
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = t * 0.17087277  # Horner's rule, in place: no temporary arrays
    for c in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
              0.37409196, 1.00002368):
        poly += c
        poly *= t
    poly -= 1.26551223 + z * z
    np.exp(poly, out=poly)
    poly *= t
    return np.copysign(1.0 - poly, x).astype(x.dtype, copy=False)


def gelu(x, approximate="none"):
    """GELU(x) = x * Phi(x), Phi the standard normal CDF (PyTorch's default, exact form).

    approximate="tanh" is the older tanh formula (GPT-2, makemore's NewGELU): Tensor.gelu."""
    x = _t(x)
    if approximate == "tanh":
        return x.gelu()
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    xd = x.data
    # y = x Phi(x) and, for the backward, dy/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) /
    # sqrt(2 pi): both made in the forward pass, so the backward is one product
    if xd.dtype == np.float32:  # in blocks that stay in cache across _phi32's ~20 passes
        flat = xd.reshape(-1)
        y, dy = np.empty_like(flat), np.empty_like(flat)
        cdf = np.empty(min(_BLOCK, flat.size), flat.dtype)
        for i in range(0, flat.size, _BLOCK):
            b = slice(i, i + _BLOCK)
            xb, e = flat[b], dy[b]
            q = cdf[:xb.size]
            _phi32(xb, q, e)
            np.multiply(xb, q, out=y[b])
            e *= xb
            e *= _INV_SQRT_2PI
            e += q
        y, dy = y.reshape(xd.shape), dy.reshape(xd.shape)
    else:
        cdf = 0.5 * (1.0 + erf(xd / _SQRT2))
        y, dy = xd * cdf, cdf + xd * np.exp(-0.5 * xd * xd) * _INV_SQRT_2PI
    return node(y, (x,), lambda g: (g * dy,), "gelu")


_AS = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)


_BLOCK = 32768  # float32s per block: 128 KB, a few such arrays fit a core's L2


def _phi32(x, q, e):
    """Phi(x) into q and exp(-x^2/2) into e (float32 arrays of x's shape), for GELU: one
    exp serves both.

    Abramowitz & Stegun 7.1.26, erfc(z) = t (a5 + t (a4 + ...)) exp(-z^2) with t = 1 / (1 +
    p z), z = |x| / sqrt(2): |error| < 1.5e-7, float32's own precision, in half the passes of
    ``erf`` (the transformer's GELU was a quarter of its step in the page, numpy without SIMD)."""
    t = np.abs(x)
    t *= 0.3275911 / _SQRT2
    t += 1.0
    np.reciprocal(t, out=t)
    np.multiply(x, x, out=e)
    e *= -0.5
    np.exp(e, out=e)
    np.multiply(t, _AS[0], out=q)
    for c in _AS[1:]:
        q += c
        q *= t
    q *= e
    q *= -0.5  # -Phi(-|x|) = -erfc(z) / 2
    q += 0.5   # 1/2 - Phi(-|x|), then the sign of x, then + 1/2
    np.copysign(q, x, out=q)
    q += 0.5


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over its last len(normalized_shape) axes (no running stats).

    y = (x - mean) / sqrt(var + eps) * weight + bias, var biased (divided by D)."""
    x = _t(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in normalized_shape "
                         f"{shape}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    d = math.prod(shape)
    xd = x.data
    xhat = xd - xd.mean(axis=axes, keepdims=True)  # centred, then scaled in place
    rows = xhat.reshape(xhat.shape[:x.ndim - len(shape)] + (d,))
    var = np.einsum("...i,...i->...", rows, rows) / d  # one pass, no x^2 temporary
    inv = 1.0 / np.sqrt(var.reshape(var.shape + (1,) * len(shape)) + eps)
    xhat *= inv
    y = xhat * weight.data if weight is not None else xhat.copy()
    if bias is not None:
        y += bias.data
    lead = tuple(range(x.ndim - len(shape)))

    def backward(g):
        gw = (g * xhat).sum(axis=lead) if weight is not None and weight.requires_grad else None
        gb = g.sum(axis=lead) if bias is not None and bias.requires_grad else None
        gx = None
        if x.requires_grad:  # the mean and the variance depend on x too
            gx = g * weight.data if weight is not None else g.copy()
            mean_gh = gx.mean(axis=axes, keepdims=True)
            mean_ghx = (gx * xhat).mean(axis=axes, keepdims=True)
            gx -= mean_gh  # inv * (gh - mean(gh) - xhat * mean(gh * xhat))
            gx -= xhat * mean_ghx
            gx *= inv
        return tuple(gr for gr, p in zip((gx, gw, gb), (x, weight, bias)) if p is not None)
    parents = tuple(p for p in (x, weight, bias) if p is not None)
    return node(y.astype(xd.dtype, copy=False), parents, backward, "layer_norm")


def causal_mask(t, s=None):
    """(t, s) bool, True where query i may look at key j: j <= i (no peeking ahead)."""
    return np.tril(np.ones((t, t if s is None else s), dtype=bool))


def masked_softmax(x, mask=None, dim=-1):
    """softmax over `dim` where only positions with mask True take part (others get 0).

    The mask broadcasts against x. Masked scores are set to -inf before the max is taken
    and subtracted (so exp never overflows); a row with nothing allowed gives zeros, not NaN."""
    x = _t(x)
    z = x.data if mask is None else np.where(mask, x.data, -np.inf)
    m = z.max(axis=dim, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)  # a fully masked row: exp(-inf) = 0 everywhere
    y = np.exp(z - m)
    s = y.sum(axis=dim, keepdims=True)
    y /= np.where(s > 0, s, 1)
    y = y.astype(x.dtype, copy=False)
    # d softmax: y * (g - sum(g * y)); masked entries have y = 0, so they get no gradient
    return node(y, (x,), lambda g: (y * (g - (g * y).sum(axis=dim, keepdims=True)),),
                "masked_softmax")


def attention(query, key, value, attn_mask=None, is_causal=False, scale=None):
    """(output, weights): softmax(q k^T * scale + mask) v, the weights kept for plotting.

    query (..., T, E), key (..., S, E), value (..., S, Ev). attn_mask: bool, True = may
    attend (PyTorch's scaled_dot_product_attention convention), or a float added to the
    scores. is_causal: query i sees keys 0..i only. One graph node: scores, mask, softmax
    and weighted sum in place, their backward beside them (the weights are a constant)."""
    q, k, v = _t(query), _t(key), _t(value)
    qd, kd, vd = q.data, k.data, v.data
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = backend.matmul(qd, kd, tb=True)  # (..., T, S): how much query i wants key j
    s *= scale
    keep = None
    if attn_mask is not None:
        am = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if am.dtype == bool:
            keep = am
        else:
            s = s + am  # may broadcast s up, or lift its dtype
    if is_causal:
        cm = causal_mask(q.shape[-2], k.shape[-2])
        keep = cm if keep is None else keep & cm
    if keep is not None:
        np.copyto(s, -np.inf, where=~np.broadcast_to(keep, s.shape))
    m = s.max(axis=-1, keepdims=True)  # softmax in place; a fully masked row gives zeros
    m[~np.isfinite(m)] = 0
    s -= m
    np.exp(s, out=s)
    t = s.sum(axis=-1, keepdims=True)
    t[t == 0] = 1
    s /= t
    w = s.astype(qd.dtype, copy=False)
    out = backend.matmul(w, vd)

    def backward(g):
        gw = backend.matmul(g, vd, tb=True)
        gv = backend.matmul(w, g, ta=True)
        gw -= (gw * w).sum(axis=-1, keepdims=True)  # d softmax: w * (gw - sum(gw * w))
        gw *= w
        gw *= scale
        gq = backend.matmul(gw, kd)
        gk = backend.matmul(gw, qd, ta=True)
        return (unbroadcast(gq, q.shape), unbroadcast(gk, k.shape), unbroadcast(gv, v.shape))
    return node(out, (q, k, v), backward, "attention"), Tensor(w)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None):
    """As torch.nn.functional.scaled_dot_product_attention (without dropout)."""
    if dropout_p:
        raise NotImplementedError("scaled_dot_product_attention: dropout_p is not supported")
    return attention(query, key, value, attn_mask, is_causal, scale)[0]
