"""engine.nn.functional (import as F): layer ops, each a single fused graph node.

Fusing a layer into one node (instead of a chain of small Tensor ops) keeps Python
overhead low, which is most of the cost at playground batch sizes. Layouts follow
PyTorch: weight (out, in), images NCHW. The sequence-model ops (exact GELU, layer_norm,
attention) are written in seqops.py and offered here too, as torch.nn.functional has them.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import backend
from ..losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss  # noqa: F401
from ..tensor import Tensor, as_tensor as _t, node, rng
from .seqops import (attention, causal_mask, gelu, layer_norm, masked_softmax,  # noqa: F401
                     scaled_dot_product_attention, self_attention)


def pair(v):
    """(v, v) for a number, else v's two values: kernel sizes, strides, paddings."""
    return (int(v), int(v)) if np.isscalar(v) else tuple(int(a) for a in v)


def _grad(t, fn):
    """fn() only if t needs a gradient: skips e.g. the image gradient of the first conv."""
    return fn() if t is not None and t.requires_grad else None


# -- linear -----------------------------------------------------------------------------
def linear(x, weight, bias=None):
    """y = x @ weight.T + bias; x (..., in), weight (out, in), bias (out,)."""
    x = _t(x)
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} "
                         f"features but weight of shape {weight.shape} expects {weight.shape[1]}")
    xd, w = x.data, weight.data
    x2 = xd if xd.ndim == 2 else xd.reshape(-1, xd.shape[-1])
    y = backend.matmul(x2, w, tb=True)
    if bias is not None:
        y += bias.data

    def backward(g):
        g = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        return (_grad(x, lambda: backend.matmul(g, w).reshape(xd.shape)),
                _grad(weight, lambda: backend.matmul(g, x2, ta=True)),
                _grad(bias, lambda: g.sum(axis=0)))
    parents = (x, weight) if bias is None else (x, weight, bias)
    return node(y.reshape(xd.shape[:-1] + (w.shape[0],)), parents, backward, "linear")


# -- convolution and pooling ------------------------------------------------------------
def _out_size(n, k, s, p, name, shape):
    o = (n + 2 * p - k) // s + 1
    if o < 1:
        raise ValueError(f"{name}: input of shape {shape} is too small for kernel {k}, "
                         f"padding {p}, stride {s}")
    return o


def _offsets(kh, kw, sh, sw, ho, wo):
    """For each kernel offset (i, j): the row and column slices that offset sees."""
    return [(i, j, slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation, as PyTorch). x (N, C, H, W), weight (O, C, kh, kw).

    im2col: gather every receptive field into a row of `cols`, then one big matmul.
    Internally channels-last (NHWC) memory: gathering copies contiguous runs of C, and the
    output is returned as an NCHW view of it, so the next layer's gather is cheap too.
    With a backend that has image kernels (WebAssembly), im2col and col2im are one pass each
    in the kernel (the same contract as the numpy below)."""
    x = _t(x)
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input {x.shape} must be (N, C, H, W) with C matching "
                         f"weight {weight.shape} (out_channels, in_channels, kh, kw)")
    n, c, h, w_ = x.shape
    o, _, kh, kw = weight.shape
    ho = _out_size(h, kh, sh, ph, "conv2d", x.shape)
    wo = _out_size(w_, kw, sw, pw, "conv2d", x.shape)
    xh = x.data.transpose(0, 2, 3, 1)  # NHWC view
    kern = backend.kernels() if xh.dtype == np.float32 else None
    if kern is None and (ph or pw):
        xh = np.pad(xh, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    offs = _offsets(kh, kw, sh, sw, ho, wo)
    if kern is not None:  # the kernel reads the padding as zeros itself
        cols = kern.im2col(np.ascontiguousarray(xh), kh, kw, sh, sw, ph, pw, ho, wo)
    elif c >= 4:  # one copy of all windows; for few channels a loop over offsets is faster
        cols = sliding_window_view(xh, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]
        cols = cols.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, kh * kw * c)
    else:
        cols = np.empty((n, ho, wo, kh, kw, c), xh.dtype)
        for i, j, r, s in offs:
            cols[:, :, :, i, j, :] = xh[:, r, s, :]
        cols = cols.reshape(n * ho * wo, kh * kw * c)
    wm = weight.data.transpose(0, 2, 3, 1).reshape(o, -1)  # (O, kh*kw*C), matching cols
    y = backend.matmul(cols, wm, tb=True)  # (N*ho*wo, O)
    if bias is not None:
        y += bias.data

    def backward(g):
        g2 = g.transpose(0, 2, 3, 1).reshape(-1, o)  # free when g is NHWC in memory
        gw = _grad(weight, lambda: backend.matmul(g2, cols, ta=True)
                   .reshape(o, kh, kw, c).transpose(0, 3, 1, 2))
        gb = _grad(bias, lambda: _column_sums(g2))
        gx = None
        if x.requires_grad and kern is not None:
            gx = kern.col2im(backend.matmul(g2, wm), (n, h, w_, c), kh, kw, sh, sw, ph, pw,
                             ho, wo).transpose(0, 3, 1, 2)
        elif x.requires_grad:  # col2im: add each offset's share back where it came from
            gc = backend.matmul(g2, wm).reshape(n, ho, wo, kh, kw, c)
            gxh = np.zeros((n, h + 2 * ph, w_ + 2 * pw, c), gc.dtype)
            for i, j, r, s in offs:
                gxh[:, r, s, :] += gc[:, :, :, i, j, :]
            gx = gxh[:, ph:ph + h, pw:pw + w_, :].transpose(0, 3, 1, 2)
        return (gx, gw) if bias is None else (gx, gw, gb)
    parents = (x, weight) if bias is None else (x, weight, bias)
    out = y.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)
    return node(out, parents, backward, "conv2d")


def _column_sums(a):
    """a.sum(axis=0) for a tall (M, C) array, summed as (M/r, r*C) rows, then r rows: numpy
    adds a row of C at a time, so wider rows are several times faster (3x in Pyodide, 10x
    on CPython for conv2d's bias gradients) and the running sums shorter (more accurate)."""
    m, c = a.shape
    r = 1
    while m % (2 * r) == 0 and r * c < 1024:
        r *= 2
    return a.reshape(m // r, r * c).sum(axis=0).reshape(r, c).sum(axis=0)


def _pool(x, kernel_size, stride, padding, name, pad_value):
    """Shared set-up of the pools: sizes, and a padded view of x in its memory layout.

    conv2d outputs lie in memory as NHWC; walking them as NHWC (and giving the gradient
    the same layout) keeps every elementwise pass contiguous, before and after the pool."""
    x = _t(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    (sh, sw) = pair(stride if stride is not None else kernel_size)
    ho = _out_size(x.shape[2], kh, sh, ph, name, x.shape)
    wo = _out_size(x.shape[3], kw, sw, pw, name, x.shape)
    last = x.data.transpose(0, 2, 3, 1).flags.c_contiguous  # channels-last memory
    perm, inv = ((0, 2, 3, 1), (0, 3, 1, 2)) if last else ((0, 1, 2, 3), (0, 1, 2, 3))
    xv = x.data.transpose(perm)  # spatial axes: 1, 2 if last else 2, 3
    lead = (slice(None),) if last else (slice(None), slice(None))
    if ph or pw:
        pads = [(0, 0)] * 4
        pads[len(lead)], pads[len(lead) + 1] = (ph, ph), (pw, pw)
        xv = np.pad(xv, pads, constant_values=pad_value)
    wins = [lead + (r, s) for _, _, r, s in _offsets(kh, kw, sh, sw, ho, wo)]
    unpad = lead + (slice(ph, ph + x.shape[2]), slice(pw, pw + x.shape[3]))
    return x, xv, wins, unpad, perm, inv, kh * kw


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over each window; the gradient goes to the first maximum (as PyTorch).

    A loop over the kh*kw kernel offsets, each a strided view: no copies of windows; with a
    backend that has image kernels (WebAssembly), _max_pool_kernel instead."""
    x, xv, wins, unpad, perm, inv, _ = _pool(x, kernel_size, stride, padding, "max_pool2d", -np.inf)
    kern = backend.kernels() if x.dtype == np.float32 else None
    if kern is not None:
        return _max_pool_kernel(kern, x, kernel_size, stride, padding)
    apart = all(s >= k for s, k in zip(pair(stride or kernel_size), pair(kernel_size)))
    y = xv[wins[0]].copy()
    for win in wins[1:]:
        np.maximum(y, xv[win], out=y)

    def backward(g):
        g = g.transpose(perm)
        gx = np.zeros(xv.shape, g.dtype)
        free = np.ones(y.shape, bool)  # windows whose max has not been routed yet
        for win in wins:
            hit = xv[win] == y
            hit &= free
            if apart:  # windows don't overlap: write in place, no temporary
                np.multiply(g, hit, out=gx[win])
            else:
                gx[win] += g * hit
            free ^= hit
        return (gx[unpad].transpose(inv),)
    return node(y.transpose(inv), (x,), backward, "max_pool2d")


def _max_pool_kernel(kern, x, kernel_size, stride, padding):
    """max_pool2d in the backend's kernels, one pass each way: the forward keeps, for every
    output, the index of its window's first maximum, and the backward sends g there. The
    kernels take channels-last images: NHWC memory as it is, NCHW memory as N*C images of
    one channel (no copy either way)."""
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    sh, sw = pair(stride if stride is not None else kernel_size)
    n, c, h, w = x.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if x.data.transpose(0, 2, 3, 1).flags.c_contiguous:
        img = x.data.transpose(0, 2, 3, 1)

        def to_img(a):
            return a.transpose(0, 2, 3, 1)

        def from_img(a):
            return a.transpose(0, 3, 1, 2)
    else:
        img = np.ascontiguousarray(x.data).reshape(n * c, h, w, 1)

        def to_img(a):
            return a.reshape(n * c, a.shape[2], a.shape[3], 1)

        def from_img(a):
            return a.reshape(n, c, a.shape[1], a.shape[2])
    y, arg = kern.max_pool2d(img, kh, kw, sh, sw, ph, pw, ho, wo)

    def backward(g):
        return (from_img(kern.max_pool2d_backward(to_img(g), arg, img.shape)),)
    return node(from_img(y), (x,), backward, "max_pool2d")


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over each window (padding counts as zeros, PyTorch's count_include_pad=True)."""
    x, xv, wins, unpad, perm, inv, k = _pool(x, kernel_size, stride, padding, "avg_pool2d", 0)
    y = xv[wins[0]].copy()
    for win in wins[1:]:
        y += xv[win]
    y *= 1.0 / k

    def backward(g):
        g = g.transpose(perm) * (1.0 / k)
        gx = np.zeros(xv.shape, g.dtype)
        for win in wins:
            gx[win] += g
        return (gx[unpad].transpose(inv),)
    return node(y.transpose(inv), (x,), backward, "avg_pool2d")


# -- normalisation, dropout, embedding ----------------------------------------------------
def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (axis 1) over the batch (and spatial axes).

    training: use batch statistics and update running_mean/var in place (running_var with
    the unbiased variance, as PyTorch). Otherwise use the running statistics."""
    x = _t(x)
    xd = x.data
    if xd.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, ...), got shape {xd.shape}")
    axes = (0,) + tuple(range(2, xd.ndim))
    shape = (1, -1) + (1,) * (xd.ndim - 2)
    m = xd.size // xd.shape[1]
    batch_stats = training or running_mean is None
    if batch_stats:
        if m < 2:
            raise ValueError(f"batch_norm: need more than 1 value per channel when training, "
                             f"got input shape {xd.shape}")
        mean = xd.mean(axis=axes)
        xc = xd - mean.reshape(shape)
        var = (xc * xc).mean(axis=axes)
        if training and running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (m / (m - 1))
    else:
        mean, var = running_mean, running_var
        xc = xd - mean.reshape(shape)
    inv = (1.0 / np.sqrt(var + eps)).astype(xd.dtype, copy=False).reshape(shape)
    xhat = xc * inv
    y = xhat * weight.data.reshape(shape) if weight is not None else xhat.copy()
    if bias is not None:
        y += bias.data.reshape(shape)

    def backward(g):
        gw = _grad(weight, lambda: (g * xhat).sum(axis=axes))
        gb = _grad(bias, lambda: g.sum(axis=axes))
        gx = None
        if x.requires_grad:
            gh = g * weight.data.reshape(shape) if weight is not None else g
            if batch_stats:  # the mean and variance depend on x too
                gx = (inv / m) * (m * gh - gh.sum(axis=axes).reshape(shape)
                                  - xhat * (gh * xhat).sum(axis=axes).reshape(shape))
            else:
                gx = gh * inv
        return tuple(gr for gr, p in zip((gx, gw, gb), (x, weight, bias)) if p is not None)
    parents = tuple(p for p in (x, weight, bias) if p is not None)
    return node(y, parents, backward, "batch_norm")


def dropout(x, p=0.5, training=True):
    """Inverted dropout: zero each value with probability p, scale the rest by 1/(1-p)."""
    x = _t(x)
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    keep = rng().random(x.shape, dtype=np.float32) >= p
    mask = keep * x.dtype.type(1 / (1 - p)) if p < 1 else np.zeros(x.shape, x.dtype)
    return node(x.data * mask, (x,), lambda g: (g * mask,), "dropout")


def embedding(idx, weight):
    """Rows of weight picked by integer indices idx (any shape) -> idx.shape + (dim,)."""
    i = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
    if i.dtype.kind == "f":
        i = i.astype(np.int64)
    if i.size and (i.min() < 0 or i.max() >= weight.shape[0]):
        raise IndexError(f"embedding: indices must be in [0, {weight.shape[0]}), got range "
                         f"[{i.min()}, {i.max()}]")

    flat = i.reshape(-1)
    order = np.argsort(flat, kind="stable")  # each row's uses side by side, in their order
    rows = flat[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if rows.size else rows

    def backward(g):  # repeats add up: one reduceat over the sorted uses (np.add.at is slow)
        gw = np.zeros(weight.shape, g.dtype)
        if starts.size:
            gw[rows[starts]] = np.add.reduceat(g.reshape(-1, weight.shape[1])[order], starts)
        return (gw,)
    return node(weight.data[i], (weight,), backward, "embedding")


# -- activations (thin wrappers over Tensor methods) ------------------------------------
def relu(x):
    return _t(x).relu()


def leaky_relu(x, negative_slope=0.01):
    return _t(x).leaky_relu(negative_slope)


def tanh(x):
    return _t(x).tanh()


def sigmoid(x):
    return _t(x).sigmoid()


def softmax(x, dim=-1):
    return _t(x).softmax(axis=dim)


def log_softmax(x, dim=-1):
    return _t(x).log_softmax(axis=dim)
