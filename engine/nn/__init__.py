"""engine.nn: Modules, shaped like torch.nn so a learner's code transfers.

A Module holds Parameters (tensors that learn), buffers (arrays that don't, like
BatchNorm's running statistics) and child Modules, all found by attribute assignment.
Every built-in layer can describe itself as JSON (`spec()`) and be rebuilt (`from_spec`),
so a saved model is weights (`state_dict`) plus a spec: no pickle.
"""
import collections
import math

import numpy as np

from ..tensor import Tensor
from . import functional, init, seqops, utils
from . import functional as F
from ..losses import REDUCTIONS

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "Linear", "Conv2d", "MaxPool2d",
           "AvgPool2d", "Flatten", "Dropout", "BatchNorm1d", "BatchNorm2d", "Embedding", "ReLU",
           "LeakyReLU", "Tanh", "Sigmoid", "GELU", "Softmax", "LogSoftmax", "Identity",
           "CrossEntropyLoss", "BCEWithLogitsLoss", "MSELoss", "LayerNorm", "MultiheadAttention",
           "TransformerEncoderLayer", "from_spec", "register",
           "functional", "init", "utils"]


class Parameter(Tensor):
    """A Tensor a Module learns: requires_grad is on, and Modules register it."""
    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_IncompatibleKeys = collections.namedtuple("IncompatibleKeys", "missing_keys unexpected_keys")
_registry = {}


def register(cls):
    """Class decorator: make a Module type rebuildable by from_spec (by its class name)."""
    _registry[cls.__name__] = cls
    return cls


class Module:
    """Base class: subclass it, assign layers/Parameters in __init__, define forward()."""

    def __init__(self):
        d = self.__dict__
        d["_parameters"], d["_buffers"], d["_modules"] = {}, {}, {}
        d["training"] = True

    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attributes (assigning {name!r})")
        params, mods, bufs = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            mods.pop(name, None), bufs.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None), bufs.pop(name, None)
            mods[name] = value
        elif name in bufs:
            bufs[name] = value
        else:
            params.pop(name, None), mods.pop(name, None)
        object.__setattr__(self, name, value)

    def register_buffer(self, name, array):
        """A non-learned array saved in state_dict (e.g. BatchNorm's running_mean)."""
        self._buffers[name] = None
        setattr(self, name, None if array is None else np.asarray(array))

    def register_parameter(self, name, param):
        setattr(self, name, param)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- traversal ------------------------------------------------------------------
    def named_modules(self, prefix="", _seen=None):
        seen = set() if _seen is None else _seen
        if id(self) in seen:
            return
        seen.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name, seen)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) pairs, PyTorch names: '0.weight', 'features.3.bias'."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, p in m._parameters.items():
                if p is not None and id(p) not in seen:  # a shared parameter counts once
                    seen.add(id(p))
                    yield (f"{mp}.{name}" if mp else name), p

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self):
        for mp, m in self.named_modules():
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mp}.{name}" if mp else name), b

    def buffers(self):
        return (b for _, b in self.named_buffers())

    def num_parameters(self):
        return sum(p.size for p in self.parameters())

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- modes and grads ----------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, flag=True):
        for p in self.parameters():
            p.requires_grad = flag
        return self

    def _cast(self, dtype):
        for p in self.parameters():
            p.data = p.data.astype(dtype)
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None and b.dtype.kind == "f":
                    setattr(m, name, b.astype(dtype))
        return self

    def double(self):
        """float64 parameters and buffers (for gradient checks)."""
        return self._cast(np.float64)

    def float(self):
        return self._cast(np.float32)

    # -- saving and loading ---------------------------------------------------------
    def _state_items(self, prefix=""):
        """(name, owner module, attribute) for every entry of the state dict, in order."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, self, name
        for name, b in self._buffers.items():
            if b is not None:
                yield prefix + name, self, name
        for name, m in self._modules.items():
            yield from m._state_items(f"{prefix}{name}.")

    def state_dict(self):
        """Ordered name -> numpy array copy: parameters and buffers, named as PyTorch does."""
        out = collections.OrderedDict()
        for name, m, attr in self._state_items():
            v = getattr(m, attr)
            out[name] = np.array(v.data if isinstance(v, Tensor) else v, copy=True)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into this module's parameters and buffers.

        Checks every name and shape first; on any problem raises RuntimeError listing them
        all and changes nothing."""
        items = {name: (m, attr) for name, m, attr in self._state_items()}
        missing = [k for k in items if k not in state_dict]
        unexpected = [k for k in state_dict if k not in items]
        problems, values = [], {}
        for k, (m, attr) in items.items():
            if k not in state_dict:
                continue
            cur = getattr(m, attr)
            cur = cur.data if isinstance(cur, Tensor) else cur
            try:
                v = np.asarray(state_dict[k])
                v = v.astype(cur.dtype, casting="same_kind" if cur.dtype.kind == "f" else "unsafe")
            except (TypeError, ValueError) as e:
                problems.append(f"  {k}: cannot use a value of type {type(state_dict[k]).__name__} "
                                f"({e})")
                continue
            if v.shape != cur.shape:
                problems.append(f"  {k}: shape {v.shape} in the checkpoint, {cur.shape} in the model")
            values[k] = v
        if strict and missing:
            problems.insert(0, "  missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.insert(0, "  unexpected keys: " + ", ".join(map(str, unexpected)))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__} "
                               f"(nothing was changed):\n" + "\n".join(problems))
        for k, v in values.items():
            m, attr = items[k]
            cur = getattr(m, attr)
            np.copyto(cur.data if isinstance(cur, Tensor) else cur, v)
        return _IncompatibleKeys(missing, unexpected)

    # -- architecture as JSON -------------------------------------------------------
    def spec(self):
        """A JSON-able dict of the architecture: {"type": ..., "args": {...}}."""
        if type(self).__name__ not in _registry or not hasattr(self, "_args"):
            raise TypeError(f"{type(self).__name__} has no spec: built-in layers and Sequential "
                            f"do; for your own Module, set self._args (its constructor kwargs) "
                            f"and decorate the class with @nn.register")
        return {"type": type(self).__name__, "args": dict(self._args)}

    @classmethod
    def _from_spec(cls, spec):
        return cls(**spec.get("args", {}))

    # -- printing -------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [f"({n}): " + repr(m).replace("\n", "\n  ") for n, m in self._modules.items()]
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def from_spec(spec):
    """Rebuild a Module (fresh weights) from Module.spec() output."""
    try:
        cls = _registry[spec["type"]]
    except (KeyError, TypeError):
        raise ValueError(f"from_spec: unknown module spec {spec!r}; known types: "
                         f"{sorted(_registry)}") from None
    return cls._from_spec(spec)


def _args(self, **kw):
    """Record constructor arguments (JSON-able) for spec()."""
    self.__dict__["_args"] = {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}


# -- containers ---------------------------------------------------------------------------
@register
class Sequential(Module):
    """Apply modules in order. Sequential(a, b) names them '0', '1'; an OrderedDict names them."""

    def __init__(self, *mods):
        super().__init__()
        items = mods[0].items() if len(mods) == 1 and isinstance(mods[0], dict) else \
            ((str(i), m) for i, m in enumerate(mods))
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {name} is a {type(m).__name__}, not a Module")
            setattr(self, name, m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.items())
        if isinstance(i, slice):
            return Sequential(collections.OrderedDict(mods[i]))
        return mods[i][1]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, m):
        setattr(self, str(len(self)), m)
        return self

    def spec(self):
        names = list(self._modules)
        s = {"type": type(self).__name__, "children": [m.spec() for m in self._modules.values()]}
        if names != [str(i) for i in range(len(names))]:
            s["names"] = names
        return s

    @classmethod
    def _from_spec(cls, spec):
        mods = [from_spec(c) for c in spec["children"]]
        if "names" in spec:
            return cls(collections.OrderedDict(zip(spec["names"], mods)))
        return cls(*mods)


@register
class ModuleList(Module):
    """A list of Modules whose parameters are registered (names '0', '1', ...)."""

    def __init__(self, mods=()):
        super().__init__()
        for m in mods:
            self.append(m)

    def append(self, m):
        setattr(self, str(len(self)), m)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def spec(self):
        return {"type": "ModuleList", "children": [m.spec() for m in self]}

    @classmethod
    def _from_spec(cls, spec):
        return cls([from_spec(c) for c in spec["children"]])


# -- layers -------------------------------------------------------------------------------
def _uniform_param(shape, bound):
    return init.uniform_(Parameter(np.empty(shape, np.float32)), -bound, bound)


@register
class Linear(Module):
    """y = x @ W.T + b with W (out_features, in_features); PyTorch's default init."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        _args(self, in_features=in_features, out_features=out_features, bias=bias)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(np.empty((out_features, in_features), np.float32))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # = U(-1/sqrt(in), 1/sqrt(in))
        self.bias = _uniform_param((out_features,), 1 / math.sqrt(in_features)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


@register
class Conv2d(Module):
    """2-D convolution, NCHW, weight (out_channels, in_channels, kh, kw); PyTorch's init."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        _args(self, in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
              stride=stride, padding=padding, bias=bias)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (F._pair(kernel_size), F._pair(stride),
                                                       F._pair(padding))
        self.weight = Parameter(np.empty((out_channels, in_channels) + self.kernel_size, np.float32))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        self.bias = _uniform_param((out_channels,), 1 / math.sqrt(fan_in)) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        s += f", padding={self.padding}" if self.padding != (0, 0) else ""
        return s + (", bias=False" if self.bias is None else "")


@register
class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        _args(self, kernel_size=kernel_size, stride=stride, padding=padding)
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


@register
class AvgPool2d(MaxPool2d):
    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


@register
class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        _args(self, start_dim=start_dim, end_dim=end_dim)
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        s = x.shape
        a, b = self.start_dim % len(s), self.end_dim % len(s)
        return x.reshape(s[:a] + (-1,) + s[b + 1:])

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


@register
class Dropout(Module):
    """Zero values with probability p while training (inverted dropout); identity in eval()."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        _args(self, p=p)
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class _BatchNorm(Module):
    _dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 bias=True):
        super().__init__()
        _args(self, num_features=num_features, eps=eps, momentum=momentum, affine=affine,
              track_running_stats=track_running_stats, bias=bias)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, np.float32)) if affine else None
        self.bias = Parameter(np.zeros(num_features, np.float32)) if affine and bias else None
        track = track_running_stats
        self.register_buffer("running_mean", np.zeros(num_features, np.float32) if track else None)
        self.register_buffer("running_var", np.ones(num_features, np.float32) if track else None)
        self.register_buffer("num_batches_tracked", np.array(0, np.int64) if track else None)

    def forward(self, x):
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected input of "
                             f"{' or '.join(f'{d}-D' for d in self._dims)} with {self.num_features} "
                             f"channels on axis 1, got shape {x.shape}")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1  # in place: a 0-d array
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / int(self.num_batches_tracked)
        use_batch = self.training or self.running_mean is None
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            use_batch, momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self._args['bias']}, "
                f"track_running_stats={self.track_running_stats}")


@register
class BatchNorm1d(_BatchNorm):
    """Normalise features of (N, C) or (N, C, L) input over the batch."""
    _dims = (2, 3)


@register
class BatchNorm2d(_BatchNorm):
    """Normalise channels of (N, C, H, W) input over batch and space."""
    _dims = (4,)


@register
class Embedding(Module):
    """A lookup table: integer indices -> rows of weight (num_embeddings, embedding_dim), N(0,1) init."""

    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        _args(self, num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = init.normal_(Parameter(np.empty((num_embeddings, embedding_dim), np.float32)))

    def forward(self, idx):
        return F.embedding(idx, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


# -- activations --------------------------------------------------------------------------
def _activation(name, fn, **defaults):
    """A parameter-free Module class calling fn(x, **its args)."""
    def __init__(self, *args, **kw):
        Module.__init__(self)
        kw = {**defaults, **dict(zip(defaults, args)), **kw}
        unknown = set(kw) - set(defaults) - {"inplace"}
        if unknown:
            raise TypeError(f"{name}: unexpected arguments {sorted(unknown)}")
        kw.pop("inplace", None)  # accepted for PyTorch code; always out of place here
        _args(self, **kw)
        for k, v in kw.items():
            object.__setattr__(self, k, v)

    def forward(self, x):
        return fn(x, **self._args)

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self._args.items())
    return register(type(name, (Module,), {"__init__": __init__, "forward": forward,
                                           "extra_repr": extra_repr, "__doc__": fn.__doc__}))


ReLU = _activation("ReLU", F.relu)
LeakyReLU = _activation("LeakyReLU", F.leaky_relu, negative_slope=0.01)
Tanh = _activation("Tanh", F.tanh)
Sigmoid = _activation("Sigmoid", F.sigmoid)
GELU = _activation("GELU", seqops.gelu, approximate="none")  # exact; or approximate="tanh"
Softmax = _activation("Softmax", F.softmax, dim=-1)
LogSoftmax = _activation("LogSoftmax", F.log_softmax, dim=-1)
Identity = _activation("Identity", lambda x: x)


# -- losses as modules --------------------------------------------------------------------
class _Loss(Module):
    fn = None

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, "
                             f"got {reduction!r}")
        _args(self, reduction=reduction)
        self.reduction = reduction

    def forward(self, input, target):
        return type(self).fn(input, target, **self._args)

    def extra_repr(self):
        return ""


@register
class CrossEntropyLoss(_Loss):
    fn = staticmethod(F.cross_entropy)

    def __init__(self, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        _args(self, reduction=reduction, label_smoothing=label_smoothing)
        self.label_smoothing = label_smoothing


@register
class BCEWithLogitsLoss(_Loss):
    fn = staticmethod(F.binary_cross_entropy_with_logits)


@register
class MSELoss(_Loss):
    fn = staticmethod(F.mse_loss)


# -- sequence models: LayerNorm, attention, transformer block (engine/nn/attention.py) -----
from .attention import LayerNorm, MultiheadAttention, TransformerEncoderLayer  # noqa: E402

# Their functional forms live in seqops.py and are offered as F.* too, like PyTorch's
# torch.nn.functional: F.layer_norm, F.scaled_dot_product_attention, F.gelu (exact by default).
for _name in ("gelu", "layer_norm", "masked_softmax", "causal_mask", "attention",
              "scaled_dot_product_attention"):
    setattr(functional, _name, getattr(seqops, _name))
