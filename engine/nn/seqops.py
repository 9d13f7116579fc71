"""Ops for sequence models (makemore, GPT): exact GELU, LayerNorm, masked softmax, attention
and multi-head self-attention straight from a packed q|k|v projection (a GPT's c_attn).

Each op is one graph node with its backward beside it, like the rest of engine.nn.functional
(which re-exports them: `F.layer_norm`, `F.scaled_dot_product_attention`, ...). Shapes and
names follow torch.nn.functional. Where a backend has sequence-model kernels (WebAssembly in
the page, backend.seq_kernels()) GELU, LayerNorm and attention's softmax run there, and
self_attention whole (its products, softmax and backward) when it has attention kernels.
"""
import functools
import math

import numpy as np

from .. import backend
from ..tensor import Tensor, as_tensor as _t, is_grad_enabled, node, unbroadcast

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
    kern = backend.seq_kernels() if xd.dtype == np.float32 else None
    need = x.requires_grad and is_grad_enabled()  # no gradient: no dy
    if kern is not None:  # one pass, the same formulas (WebAssembly, in the page)
        y, dy = kern.gelu(xd, need)  # and the backward's product there too (numpy's has no SIMD)
        return node(y, (x,), lambda g: (kern.mul(g, dy) if g.dtype == dy.dtype else g * dy,),
                    "gelu")
    if xd.dtype == np.float32:  # in blocks that stay in cache across _phi32's ~20 passes
        flat = xd.reshape(-1)
        y = np.empty_like(flat)
        dy = np.empty_like(flat) if need else None
        q, e, t = (np.empty(min(_BLOCK, flat.size), flat.dtype) for _ in range(3))
        for i in range(0, flat.size, _BLOCK):
            b = slice(i, i + _BLOCK)
            xb = flat[b]
            n = xb.size
            eb = dy[b] if need else e[:n]
            _phi32(xb, q[:n], eb, t[:n])
            np.multiply(xb, q[:n], out=y[b])
            if need:
                eb *= xb
                eb *= _INV_SQRT_2PI
                eb += q[:n]
        y = y.reshape(xd.shape)
        dy = dy.reshape(xd.shape) if need else None
    else:
        cdf = 0.5 * (1.0 + erf(xd / _SQRT2))
        y, dy = xd * cdf, cdf + xd * np.exp(-0.5 * xd * xd) * _INV_SQRT_2PI
    return node(y, (x,), lambda g: (g * dy,), "gelu")


# A&S 7.1.26: erfc(z) = (a1 t + ... + a5 t^5) exp(-z^2), t = 1 / (1 + p z). _phi32 takes
# the polynomial times -1/2 (it then gives -Phi(-|x|) directly) and in s = LAM t, LAM^5 =
# -a5 / 2, so that its s^5 coefficient is 1 and Horner starts with an add (one pass less);
# s = (LAM / P) / (1 / P + |x|) with P = p / sqrt(2) (three passes, not four)
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)  # a1 .. a5
_LAM = -(0.5 * _A[4]) ** 0.2
_AS = tuple(-0.5 * a / _LAM ** (i + 1) for i, a in enumerate(_A[:4]))[::-1]  # of s^4 .. s^1
_P = 0.3275911 / _SQRT2


_BLOCK = 32768  # float32s per block: 128 KB, a few such arrays fit a core's L2


def _phi32(x, q, e, t):
    """Phi(x) into q and exp(-x^2/2) into e (float32 arrays of x's shape; t is scratch), for
    GELU: one exp serves both.

    Abramowitz & Stegun 7.1.26, erfc(z) = t (a1 + t (a2 + ...)) exp(-z^2) with t = 1 / (1 +
    p z), z = |x| / sqrt(2): |error| < 1.5e-7, float32's own precision, in half the passes of
    ``erf`` (the transformer's GELU was a quarter of its step in the page, numpy without SIMD).
    Each step is one numpy pass over a cache-sized block, in its cheapest form: unary ufuncs
    (square, 1 / t) over two-operand ones, x's sign bit put on by integer ops (twice as fast
    as copysign)."""
    np.abs(x, out=t)
    t += 1.0 / _P
    np.divide(_LAM / _P, t, out=t)  # s = LAM / (1 + p z)
    np.square(x, out=e)
    e *= -0.5
    np.exp(e, out=e)
    np.add(t, _AS[0], out=q)
    q *= t
    for c in _AS[1:]:
        q += c
        q *= t
    q *= e     # -Phi(-|x|) = -erfc(z) / 2
    q += 0.5   # 1/2 - Phi(-|x|) >= 0 (to within A&S's error), then the sign of x, then + 1/2
    bits = t.view(np.uint32)
    np.bitwise_and(x.view(np.uint32), np.uint32(0x80000000), out=bits)
    np.bitwise_or(q.view(np.uint32), bits, out=q.view(np.uint32))
    q += 0.5


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over its last len(normalized_shape) axes (no running stats).

    y = (x - mean) / sqrt(var + eps) * weight + bias, var biased (divided by D)."""
    x = _t(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in normalized_shape "
                         f"{shape}")
    d = math.prod(shape)
    rows = x.data.reshape(x.size // d if d else 0, d)  # one sample per row
    wd, bd = (None if p is None else p.data.reshape(d) for p in (weight, bias))
    kern = backend.seq_kernels() if rows.dtype == np.float32 else None
    # WebAssembly in the page: one pass per row, the same formulas as the numpy below
    forward, backward_rows = ((kern.layer_norm, kern.layer_norm_backward) if kern is not None
                              else (_layer_norm_rows, _layer_norm_rows_backward))
    y, xhat, inv = forward(rows, wd, bd, eps)

    def backward(g):
        need = [p is not None and p.requires_grad for p in (x, weight, bias)]
        grads = backward_rows(g.reshape(rows.shape), xhat, inv, wd, *need)
        shapes = (x.shape, shape, shape)
        return tuple(None if gr is None else gr.reshape(s)
                     for gr, s, p in zip(grads, shapes, (x, weight, bias)) if p is not None)
    parents = tuple(p for p in (x, weight, bias) if p is not None)
    return node(y.reshape(x.shape), parents, backward, "layer_norm")


def _layer_norm_rows(x, weight, bias, eps):
    """layer_norm over the rows of x (N, D): (y, xhat, inv), inv (N, 1) = 1 / std.

    The row sums are products with a vector of ones (BLAS), several times faster than
    numpy's sum along a short last axis."""
    d = x.shape[1]
    per = np.full((d, 1), 1.0 / max(d, 1), x.dtype)
    xhat = x - x @ per  # centred, then scaled in place
    var = np.einsum("ij,ij->i", xhat, xhat)[:, None] / d  # one pass, no x^2 temporary
    inv = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
    xhat *= inv
    y = xhat * weight if weight is not None else xhat.copy()
    if bias is not None:
        y += bias
    return y, xhat, inv


def _layer_norm_rows_backward(g, xhat, inv, weight, need_x, need_w, need_b):
    """(gx, gw, gb) of _layer_norm_rows, None where not needed; gw, gb summed over rows.

    gx = inv * (gh - mean(gh) - xhat * mean(gh * xhat)) with gh = g * weight: the mean and
    the variance depend on x too."""
    n, d = g.shape
    gxh = g * xhat if need_w or need_x else None
    ones = np.ones(n, g.dtype)
    gw = ones @ gxh if need_w else None  # column sums as products, as the row sums above
    gb = ones @ g if need_b else None
    gx = None
    if need_x:
        per = np.full((d, 1), 1.0 / max(d, 1), g.dtype) if weight is None else (
            (weight / max(d, 1)).reshape(d, 1))
        gx = g * weight if weight is not None else g.copy()
        gx -= xhat * (gxh @ per)  # xhat * mean(gh * xhat) per row
        gx -= g @ per  # mean(gh) per row
        gx *= inv
    return gx, gw, gb


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


def _softmax_(s, scale, causal, mask=None):
    """softmax(scale * s + mask) over the last axis of the scores s, in place when it can;
    causal: key j takes part in row i only when j <= i. mask: bool (True = may attend) or
    float (added). A fully masked row gives zeros. Returns the weights."""
    kern = backend.seq_kernels() if mask is None and s.dtype == np.float32 else None
    if kern is not None:  # scale, causal mask and softmax in one pass (WebAssembly, in the page)
        return kern.softmax_(s, scale, causal)
    dtype, (t, n) = s.dtype, s.shape[-2:]
    s *= scale
    if mask is None and n:
        # exp(s - c) for any c per row gives the same softmax. numpy's max along a short
        # last axis is slow (a third of the attention), so c is a score the row keeps (key
        # min(i, n-1)); the row's max is taken only if some score is far enough above its c
        # for exp to overflow
        pick = s[..., np.arange(t), np.minimum(np.arange(t), n - 1)]
        s -= pick[..., None]
        if causal:
            s += _causal_bias(t, n, dtype)
        if s.size and s.max() > 80 - math.log(n):
            s -= s.max(axis=-1, keepdims=True)
    else:
        keep = causal_mask(t, n) if causal else None
        if mask is not None and mask.dtype == bool:
            keep = mask if keep is None else keep & mask
        elif mask is not None:
            s = s + mask  # may broadcast s up, or lift its dtype
        if keep is not None:
            np.copyto(s, -np.inf, where=~np.broadcast_to(keep, s.shape))
        m = s.max(axis=-1, keepdims=True)
        m[~np.isfinite(m)] = 0  # a fully masked row: exp(-inf) = 0 everywhere
        s -= m
    np.exp(s, out=s)
    total = np.matmul(s, np.ones((n, 1), s.dtype))  # the row sums: faster than s.sum(-1)
    total[total == 0] = 1
    np.reciprocal(total, out=total)
    s *= total
    return s.astype(dtype, copy=False)


@functools.lru_cache(maxsize=16)
def _causal_bias(t, n, dtype):
    """(t, n): 0 where key j <= query i, -inf above (read only: shared between calls)."""
    bias = np.where(causal_mask(t, n), 0, -np.inf).astype(dtype)
    bias.flags.writeable = False
    return bias


def _softmax_backward_(gw, w, scale):
    """In place: the gradient of the scores from that of the weights w,
    w * (gw - sum(gw * w)) * scale (masked entries have w = 0: no gradient)."""
    kern = backend.seq_kernels() if gw.dtype == np.float32 else None
    if kern is not None:
        return kern.softmax_backward_(gw, w, scale)
    gw -= np.einsum("...j,...j->...", gw, w)[..., None]
    gw *= w
    gw *= scale
    return gw


def attention(query, key, value, attn_mask=None, is_causal=False, scale=None):
    """(output, weights): softmax(q k^T * scale + mask) v, the weights kept for plotting.

    query (..., T, E), key (..., S, E), value (..., S, Ev). attn_mask: bool, True = may
    attend (PyTorch's scaled_dot_product_attention convention), or a float added to the
    scores. is_causal: query i sees keys 0..i only. One graph node: scores, mask, softmax
    and weighted sum in place, their backward beside them (the weights are a constant)."""
    q, k, v = _t(query), _t(key), _t(value)
    qd, kd, vd = q.data, k.data, v.data
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    mask = None
    if attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    s = backend.matmul(qd, kd, tb=True)  # (..., T, S): how much query i wants key j
    w = _softmax_(s, scale, is_causal, mask).astype(qd.dtype, copy=False)
    out = backend.matmul(w, vd)

    def backward(g):
        gw = backend.matmul(g, vd, tb=True)
        gv = backend.matmul(w, g, ta=True)
        _softmax_backward_(gw, w, scale)
        gq = backend.matmul(gw, kd)
        gk = backend.matmul(gw, qd, ta=True)
        return (unbroadcast(gq, q.shape), unbroadcast(gk, k.shape), unbroadcast(gv, v.shape))
    return node(out, (q, k, v), backward, "attention"), Tensor(w)


def self_attention(qkv, n_head, is_causal=True, scale=None, attn_mask=None):
    """(output, weights) of multi-head self-attention straight from the packed projection
    qkv (B, T, 3C) = [queries | keys | values], each C = n_head heads side by side (a GPT's
    c_attn output); output (B, T, C) has the heads side by side again, weights (B, n_head,
    T, T). attn_mask as attention's. One graph node: the head split is a view, and the
    backward writes the (B, T, 3C) gradient in one array (no split, transpose or merge nodes
    in between)."""
    x = _t(qkv)
    if x.ndim != 3 or x.shape[-1] % (3 * n_head):
        raise ValueError(f"self_attention: qkv must be (B, T, 3 * C) with C divisible by "
                         f"n_head={n_head}, got shape {x.shape}")
    b, t, c3 = x.shape
    hs = c3 // (3 * n_head)
    scale = 1.0 / math.sqrt(hs) if scale is None else scale
    kern = backend.seq_kernels() if attn_mask is None and x.dtype == np.float32 else None
    if getattr(kern, "has_attention", False):  # the page: all of it in one wasm call each way
        xd = x.data
        out, w = kern.attention(xd, n_head, scale, is_causal)
        return node(out, (x,), lambda g: (kern.attention_backward(xd, w, g, n_head, scale,
                                                                  is_causal),),
                    "self_attention"), Tensor(w)
    # one copy into (3, B, nh, T, hs): the six products below then read contiguous heads
    # (on strided views each would copy its operand again, the wasm kernels most of all)
    q, k, v = np.ascontiguousarray(x.data.reshape(b, t, 3, n_head, hs).transpose(2, 0, 3, 1, 4))
    mask = None
    if attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        try:
            fits = np.broadcast_shapes(mask.shape, (b, n_head, t, t)) == (b, n_head, t, t)
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"self_attention: attn_mask of shape {mask.shape} does not "
                             f"broadcast to the scores' {(b, n_head, t, t)}")
    w = _softmax_(backend.matmul(q, k, tb=True), scale, is_causal, mask).astype(x.dtype,
                                                                               copy=False)
    out = backend.matmul(w, v).transpose(0, 2, 1, 3).reshape(b, t, c3 // 3)

    def backward(g):
        gh = np.ascontiguousarray(g.reshape(b, t, n_head, hs).transpose(0, 2, 1, 3))
        gx = np.empty((b, t, 3, n_head, hs), g.dtype)
        gq, gk, gv = gx.transpose(2, 0, 3, 1, 4)  # views: written in place
        gv[...] = backend.matmul(w, gh, ta=True)
        gw = _softmax_backward_(backend.matmul(gh, v, tb=True), w, scale)
        gq[...] = backend.matmul(gw, k)
        gk[...] = backend.matmul(gw, q, ta=True)
        return (gx.reshape(b, t, c3),)
    return node(out, (x,), backward, "self_attention"), Tensor(w)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None):
    """As torch.nn.functional.scaled_dot_product_attention (without dropout)."""
    if dropout_p:
        raise NotImplementedError("scaled_dot_product_attention: dropout_p is not supported")
    return attention(query, key, value, attn_mask, is_causal, scale)[0]
