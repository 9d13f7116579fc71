"""Tensor: a numpy array that remembers how it was made, so it can send gradients back.

Each op computes its forward value and defines, right beside it, a `backward(g)` that
turns the gradient of the output into gradients of its inputs (the chain rule).
`loss.backward()` walks the graph in reverse topological order calling them.
"""
import contextlib
import math

import numpy as np

from . import backend

_grad_enabled = True
_rng = np.random.default_rng(0)


def manual_seed(seed):
    """Seed everything random in engine (init, dropout, shuffles that don't take a seed)."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng():
    return _rng


@contextlib.contextmanager
def no_grad():
    """Within this block ops build no graph (inference, optimiser updates)."""
    global _grad_enabled
    old, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = old


def is_grad_enabled():
    return _grad_enabled


class NonFiniteLossError(FloatingPointError):
    """backward() was called on a loss that is NaN or infinite."""


def unbroadcast(g, shape):
    """Sum g down to `shape`: the gradient of a broadcast is the sum over the copies."""
    if g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _as_array(x, dtype=None):
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and dtype is None:
        return x
    return np.asarray(x, dtype=dtype or np.float32)


def node(data, parents, backward, op):
    """The output of an op: a Tensor of `data` that, if a parent needs gradients, remembers
    its `parents` and `backward` (as .grad_fn: output gradient -> one gradient per parent)."""
    out = Tensor(np.asarray(data))  # asarray: a numpy float64 scalar must not become float32
    if _grad_enabled and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out.parents = parents
        out.grad_fn = backward
        out.op = op
    return out


class Tensor:
    """data (a numpy array), grad, and for an op's output: parents, grad_fn and op's name."""
    __slots__ = ("data", "grad", "requires_grad", "parents", "grad_fn", "op")
    __array_priority__ = 100  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = _as_array(data.data if isinstance(data, Tensor) else data, dtype)
        self.grad = None
        self.requires_grad = requires_grad
        self.parents = ()
        self.grad_fn = None
        self.op = ""

    # -- the backward pass ----------------------------------------------------------
    def backward(self, grad=None):
        """Accumulate d(self)/d(leaf) into every leaf's .grad that requires grad."""
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad (made under no_grad, "
                               "detached, or from inputs without requires_grad=True)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a scalar, got shape "
                                   f"{self.shape}; pass grad= of that shape or call .sum() first")
            if not np.isfinite(self.data).all():
                raise NonFiniteLossError(
                    f"the loss is {self.data.item()}: training diverged. Try a lower learning "
                    f"rate (e.g. 10x smaller), gradient clipping, or check the inputs for NaN.")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.data.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(): gradient shape {grad.shape} != tensor shape {self.shape}")
        order, seen, stack = [], set(), [(self, False)]
        while stack:  # iterative DFS: deep graphs must not hit the recursion limit
            t, done = stack.pop()
            if done:
                order.append(t)
            elif id(t) not in seen:
                seen.add(id(t))
                stack.append((t, True))
                stack.extend((p, False) for p in t.parents if p.requires_grad)
        grads = {id(self): grad}
        for t in reversed(order):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if not t.parents:  # a leaf: .grad is its own writable array in the leaf's dtype
                if t.grad is None:
                    t.grad = np.array(g, dtype=t.data.dtype)
                else:
                    t.grad += g  # accumulates in place, as PyTorch does
                continue
            for p, pg in zip(t.parents, t.grad_fn(g)):
                if pg is None or not p.requires_grad:
                    continue
                grads[id(p)] = pg if id(p) not in grads else backend.add(grads[id(p)], pg)

    def zero_grad(self):
        self.grad = None

    def detach(self):
        return Tensor(self.data)

    def requires_grad_(self, flag=True):
        self.requires_grad = flag
        return self

    # -- conveniences --------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    T = property(lambda self: self.transpose())

    def numpy(self):
        return self.data

    def item(self):
        return self.data.item()

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        g = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}{g})"

    def _lift(self, x):
        return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=self.data.dtype))

    def _binary(self, other, fn, op):
        other = self._lift(other)
        try:
            return fn(self.data, other.data), other
        except ValueError as e:
            raise ValueError(f"{op}: shapes {self.shape} and {other.shape} do not broadcast") from e

    # -- elementwise arithmetic ----------------------------------------------------
    def __add__(self, other):
        out, other = self._binary(other, backend.add, "add")
        a, b = self.shape, other.shape
        return node(out, (self, other),
                    lambda g: (unbroadcast(g, a), unbroadcast(g, b)), "+")

    def __mul__(self, other):
        out, other = self._binary(other, np.multiply, "mul")
        x, y = self.data, other.data
        return node(out, (self, other),
                    lambda g: (unbroadcast(g * y, x.shape), unbroadcast(g * x, y.shape)), "*")

    def __truediv__(self, other):
        out, other = self._binary(other, np.divide, "div")
        x, y = self.data, other.data
        return node(out, (self, other), lambda g: (
            unbroadcast(g / y, x.shape), unbroadcast(-g * x / (y * y), y.shape)), "/")

    def __pow__(self, p):
        x = self.data
        if isinstance(p, (Tensor, np.ndarray)):  # d/dy x**y = x**y log x
            out, p = self._binary(p, np.power, "pow")
            y = p.data
            return node(out, (self, p), lambda g: (
                unbroadcast(g * y * x ** (y - 1), x.shape),
                unbroadcast(g * out * np.log(x), y.shape) if p.requires_grad else None), "**")
        return node(x ** p, (self,), lambda g: (
            g * p * x ** (p - 1) if p != 0 else np.zeros_like(g),), f"**{p}")

    def __rpow__(self, base):
        return self._lift(base) ** self

    def __neg__(self):
        return node(-self.data, (self,), lambda g: (-g,), "neg")

    def __sub__(self, other):
        return self + (-self._lift(other))

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return self._lift(other) - self

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(self._lift(other), self)

    # -- elementwise functions -----------------------------------------------------
    def exp(self):
        y = np.exp(self.data)
        return node(y, (self,), lambda g: (g * y,), "exp")

    def log(self):
        x = self.data
        return node(np.log(x), (self,), lambda g: (g / x,), "log")

    def sqrt(self):
        y = np.sqrt(self.data)
        return node(y, (self,), lambda g: (g / (2 * y),), "sqrt")

    def abs(self):
        x = self.data
        return node(np.abs(x), (self,), lambda g: (g * np.sign(x),), "abs")

    def clip(self, lo=None, hi=None):
        x = self.data
        keep = np.ones(x.shape, bool) if lo is None else x >= lo
        keep = keep if hi is None else keep & (x <= hi)
        return node(np.clip(x, lo, hi), (self,), lambda g: (g * keep,), "clip")

    def relu(self):
        x = self.data
        return node(np.maximum(x, 0), (self,), lambda g: (g * (x > 0),), "relu")

    def leaky_relu(self, slope=0.01):
        x = self.data
        pos = x > 0
        return node(np.where(pos, x, x * slope), (self,),
                    lambda g: (np.where(pos, g, g * slope),), "leaky_relu")

    def tanh(self):
        y = np.tanh(self.data)
        return node(y, (self,), lambda g: (g * (1 - y * y),), "tanh")

    def sigmoid(self):
        x = self.data
        # exp of a non-positive number only: no overflow warning for large |x|
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        return node(y, (self,), lambda g: (g * y * (1 - y),), "sigmoid")

    def gelu(self):
        """GELU, tanh approximation (PyTorch: nn.GELU(approximate='tanh'))."""
        x = self.data
        c = x.dtype.type(math.sqrt(2 / math.pi))
        u = c * (x + 0.044715 * x ** 3)
        t = np.tanh(u)
        y = 0.5 * x * (1 + t)
        return node(y, (self,), lambda g: (
            g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)),), "gelu")

    def softmax(self, axis=-1):
        y = np.exp(self.data - self.data.max(axis=axis, keepdims=True))
        y /= y.sum(axis=axis, keepdims=True)
        return node(y, (self,),
                    lambda g: (y * (g - (g * y).sum(axis=axis, keepdims=True)),), "softmax")

    def log_softmax(self, axis=-1):
        z = self.data - self.data.max(axis=axis, keepdims=True)
        y = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
        return node(y, (self,), lambda g: (
            g - np.exp(y) * g.sum(axis=axis, keepdims=True),), "log_softmax")

    # -- reductions ----------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        shape = self.shape

        def backward(g):
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, shape),)
        return node(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward, "sum")

    def _count(self, axis):
        if axis is None:
            return self.data.size
        return math.prod(self.shape[a] for a in ((axis,) if np.ndim(axis) == 0 else axis))

    def mean(self, axis=None, keepdims=False):
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / self._count(axis))

    def var(self, axis=None, keepdims=False, unbiased=True):
        d = self - self.mean(axis=axis, keepdims=True)
        n = self._count(axis)
        return (d * d).sum(axis=axis, keepdims=keepdims) * (1.0 / (n - 1 if unbiased else n))

    def max(self, axis=None, keepdims=False):
        x = self.data
        m = x.max(axis=axis, keepdims=True)
        hit = x == m
        share = (hit / hit.sum(axis=axis, keepdims=True)).astype(x.dtype)  # ties split the gradient

        def backward(g):
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            return (g * share,)
        out = m if keepdims else (m.reshape(()) if axis is None else np.squeeze(m, axis))
        return node(out, (self,), backward, "max")

    def min(self, axis=None, keepdims=False):
        return -((-self).max(axis=axis, keepdims=keepdims))

    def argmax(self, axis=None):
        return self.data.argmax(axis=axis)

    # -- shape ---------------------------------------------------------------------
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        old = self.shape
        try:
            out = self.data.reshape(shape)
        except ValueError as e:
            raise ValueError(f"reshape: cannot view shape {old} ({self.size} values) as {shape}") from e
        return node(out, (self,), lambda g: (g.reshape(old),), "reshape")

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        """As torch.flatten: merge dims start_dim..end_dim (nn.Flatten uses start_dim=1)."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if len(axes) == 2 and self.ndim != 2:  # PyTorch style: swap two dims
            perm = list(range(self.ndim))
            perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
            axes = perm
        axes = tuple(a % self.ndim for a in axes) or tuple(reversed(range(self.ndim)))
        inv = tuple(np.argsort(axes))
        return node(self.data.transpose(axes), (self,), lambda g: (g.transpose(inv),), "T")

    permute = transpose

    def __getitem__(self, idx):
        idx = idx.data if isinstance(idx, Tensor) else idx
        shape, dtype = self.shape, self.dtype
        fancy = isinstance(idx, (list, np.ndarray)) or (
            isinstance(idx, tuple) and any(isinstance(i, (list, np.ndarray)) for i in idx))

        def backward(g):
            full = np.zeros(shape, dtype)
            if fancy:
                np.add.at(full, idx, g)  # repeated indices must add up
            else:
                full[idx] = g
            return (full,)
        return node(self.data[idx], (self,), backward, "index")


def as_tensor(x):
    """x itself if it is a Tensor, else a constant Tensor of it."""
    return x if isinstance(x, Tensor) else Tensor(x)


def matmul(a, b):
    """a @ b through the backend seam; batched and 1-D operands as in numpy/PyTorch."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else -1]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"(a's last dim must equal b's {'second-to-' if b.ndim > 1 else ''}last)")
    if a.ndim == 1:
        return matmul(a.reshape(1, -1), b).reshape(b.shape[:-2] + b.shape[-1:] if b.ndim > 1 else ())
    if b.ndim == 1:
        return matmul(a, b.reshape(-1, 1)).reshape(a.shape[:-1])
    x, y = a.data, b.data
    out = backend.matmul(x, y)

    def backward(g):
        gx = backend.matmul(g, y, tb=True)
        if y.ndim == 2 and x.ndim > 2:  # fold the batch into rows: one product, no sum
            gy = backend.matmul(x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1]), ta=True)
        else:
            gy = backend.matmul(x, g, ta=True)
        return unbroadcast(gx, x.shape), unbroadcast(gy, y.shape)
    return node(out, (a, b), backward, "@")
