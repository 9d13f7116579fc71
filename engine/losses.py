"""Losses on raw model outputs, each one fused graph node (forward and backward together).

Working on logits rather than probabilities keeps them numerically stable: no log(0),
no exp overflow. Names and arguments follow torch.nn.functional.
"""
import numpy as np

from .tensor import Tensor, as_tensor as _t, node

REDUCTIONS = ("mean", "sum", "none")


def _reduce(per_item, reduction, name):
    """The reduced loss value and the factor its gradient carries (1/n for a mean)."""
    if reduction == "mean":
        return np.asarray(per_item.mean(), per_item.dtype), 1.0 / max(per_item.size, 1)
    if reduction == "sum":
        return np.asarray(per_item.sum(), per_item.dtype), 1.0
    if reduction == "none":
        return per_item, 1.0
    raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _class_indices(target, n, c, ignore_index=-100):
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.shape != (n,):
        raise ValueError(f"cross_entropy: target must hold one class index per row, shape ({n},); "
                         f"got shape {t.shape} for logits of shape ({n}, {c})")
    if t.dtype.kind == "f":
        if not np.all(t == np.round(t)):
            raise ValueError("cross_entropy: target holds non-integer values; pass class indices "
                             "(ints in [0, C)) or class probabilities of shape (N, C)")
        t = t.astype(np.int64)
    elif t.dtype.kind not in "iub":
        raise ValueError(f"cross_entropy: target dtype {t.dtype} is not integer class indices")
    bad = t[((t < 0) | (t >= c)) & (t != ignore_index)]
    if bad.size:
        raise ValueError(f"cross_entropy: target values must be in [0, {c}) for logits of shape "
                         f"({n}, {c}) (or ignore_index={ignore_index}); found {bad[:5].tolist()}")
    return t


def _class_last(x, target):
    """(N, C, d1, ...) logits as (N*d1*..., C) rows, and the target to match (as PyTorch)."""
    c = x.shape[1]
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    rows = x.transpose(perm).reshape(-1, c)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.shape == x.shape and t.dtype.kind == "f":  # class probabilities, laid out like x
        return rows, t.transpose(perm).reshape(-1, c)
    if t.shape != (x.shape[0],) + x.shape[2:]:
        raise ValueError(f"cross_entropy: for logits of shape {x.shape} (N, C, d1, ...) the "
                         f"target must have shape {(x.shape[0],) + x.shape[2:]}, got {t.shape}. "
                         f"Logits shaped (B, T, C)? Use logits.reshape(-1, C) and "
                         f"target.reshape(-1), as in PyTorch")
    return rows, t.reshape(-1)


def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0, ignore_index=-100):
    """Softmax cross-entropy. logits (N, C); target class indices (N,) or probabilities (N, C).

    As in PyTorch, logits (N, C, d1, ...) put the classes on axis 1 with target (N, d1, ...);
    a language model's (B, T, C) logits go in as logits.reshape(-1, C), target.reshape(-1).
    Targets equal to ignore_index count for nothing (the mean is over the others).
    Backward is (softmax(logits) - q) / N where q is the (smoothed) target distribution."""
    x = _t(logits)
    if x.ndim > 2:
        rows, t = _class_last(x, target)
        out = cross_entropy(rows, t, reduction, label_smoothing, ignore_index)
        return out.reshape((x.shape[0],) + x.shape[2:]) if reduction == "none" else out
    if x.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C) or (N, C, d1, ...), got shape "
                         f"{x.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    n, c = x.shape
    eps = label_smoothing
    z = x.data - x.data.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    soft = isinstance(target, (Tensor, np.ndarray)) and target.shape == (n, c) and c > 1 \
        and (target.dtype.kind == "f")
    keep = None
    if soft:
        q = target.data if isinstance(target, Tensor) else target
        q = q * (1 - eps) + eps / c if eps else q
        per_item = -(q * logp).sum(axis=1)
    else:
        t = _class_indices(target, n, c, ignore_index)
        rows = np.arange(n)
        keep = t != ignore_index
        if keep.all():
            keep = None
        else:
            t = np.where(keep, t, 0)
        per_item = -logp[rows, t]
        if eps:
            per_item = (1 - eps) * per_item - eps / c * logp.sum(axis=1)
        if keep is not None:
            per_item = per_item * keep
    out, scale = _reduce(per_item, reduction, "cross_entropy")
    if keep is not None and reduction == "mean":  # the mean over the rows not ignored
        scale = 1.0 / max(int(keep.sum()), 1)
        out = np.asarray(per_item.sum() * scale, per_item.dtype)

    def backward(g):
        p = np.exp(logp)
        if soft:
            p -= q
        else:
            p[rows, t] -= 1 - eps
            if eps:
                p -= eps / c
            if keep is not None:
                p *= keep[:, None]
        g = g[:, None] if reduction == "none" else g
        return (p * (g * scale),)
    return node(out.astype(x.dtype, copy=False), (x,), backward, "cross_entropy")


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Sigmoid + binary cross-entropy, stable form: max(x, 0) - x*t + log(1 + exp(-|x|))."""
    x, t = _t(logits), _t(target)
    if x.shape != t.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target shape {t.shape} must equal "
                         f"logits shape {x.shape}")
    xd, td = x.data, t.data
    per_item = np.maximum(xd, 0) - xd * td + np.log1p(np.exp(-np.abs(xd)))
    out, scale = _reduce(per_item, reduction, "binary_cross_entropy_with_logits")

    def backward(g):
        e = np.exp(-np.abs(xd))  # stable sigmoid
        sig = np.where(xd >= 0, 1 / (1 + e), e / (1 + e))
        g = g * scale
        return (sig - td) * g, -xd * g
    return node(out.astype(xd.dtype, copy=False), (x, t), backward, "bce_with_logits")


def mse_loss(input, target, reduction="mean"):
    """Mean squared error. Unlike PyTorch (which warns and broadcasts), shapes must match."""
    x, t = _t(input), _t(target)
    if x.shape != t.shape:
        raise ValueError(f"mse_loss: input shape {x.shape} and target shape {t.shape} differ")
    d = x.data - t.data
    out, scale = _reduce(d * d, reduction, "mse_loss")

    def backward(g):
        gx = 2 * d * (g * scale)
        return gx, -gx
    return node(out.astype(d.dtype, copy=False), (x, t), backward, "mse_loss")
