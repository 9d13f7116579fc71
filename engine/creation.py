"""Making tensors: from data (`tensor`), filled (`zeros`, `ones`), random from engine's seeded
generator (`randn`, `rand`), and from other tensors (`cat`, `stack`, `where`), each of those
with its backward beside it. PyTorch's names; `engine` exports them all."""
import numpy as np

from .tensor import Tensor, as_tensor, node, rng, unbroadcast


def tensor(data, requires_grad=False, dtype=None):
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def cat(tensors, axis=0):
    tensors = [as_tensor(t) for t in tensors]
    ends = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    try:
        out = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError as e:
        raise ValueError(f"cat along axis {axis}: shapes {[t.shape for t in tensors]} "
                         f"must match except on that axis") from e
    return node(out, tuple(tensors), lambda g: tuple(np.split(g, ends, axis=axis)), "cat")


def stack(tensors, axis=0):
    tensors = [as_tensor(t) for t in tensors]
    try:
        out = np.stack([t.data for t in tensors], axis=axis)
    except ValueError as e:
        raise ValueError(f"stack: all shapes must be equal, got {[t.shape for t in tensors]}") from e
    return node(out, tuple(tensors), lambda g: tuple(
        np.squeeze(s, axis) for s in np.split(g, len(tensors), axis=axis)), "stack")


def where(cond, a, b):
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    a, b = as_tensor(a), as_tensor(b)
    return node(np.where(cond, a.data, b.data), (a, b), lambda g: (
        unbroadcast(np.where(cond, g, 0), a.shape), unbroadcast(np.where(cond, 0, g), b.shape)),
        "where")


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def zeros(*shape, requires_grad=False):
    return Tensor(np.zeros(_shape(shape), np.float32), requires_grad)


def ones(*shape, requires_grad=False):
    return Tensor(np.ones(_shape(shape), np.float32), requires_grad)


def randn(*shape, requires_grad=False):
    return Tensor(rng().standard_normal(_shape(shape), dtype=np.float32), requires_grad)


def rand(*shape, requires_grad=False):
    return Tensor(rng().random(_shape(shape), dtype=np.float32), requires_grad)
