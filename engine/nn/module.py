"""Module: the base of every layer. It finds its Parameters (tensors that learn), buffers
(arrays that don't, like BatchNorm's running statistics) and child Modules by attribute
assignment; saves and loads them as a state dict with PyTorch's names; and describes its
architecture as JSON (`spec()`, rebuilt by `from_spec`), so a saved model is weights plus
a spec: no pickle.
"""
import collections
import contextlib

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor a Module learns: requires_grad is on, and Modules register it."""
    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


__IncompatibleKeys = collections.namedtuple("IncompatibleKeys", "missing_keys unexpected_keys")
_registry = {}


_IncompatibleKeys = collections.namedtuple("IncompatibleKeys", "missing_keys unexpected_keys")
_registry = {}


def register(cls):
    """Class decorator: make a Module type rebuildable by from_spec (by its class name)."""
    _registry[cls.__name__] = cls
    return cls


def record_args(module, **kw):
    """Record a module's constructor arguments (JSON-able) for spec(); call it in __init__."""
    module.__dict__["_args"] = {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()}


def recorded_args(module):
    """A copy of what record_args recorded ({} if nothing)."""
    return dict(module.__dict__.get("_args", {}))


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
        """named_modules' modules, in its order, without building names (parameters() runs
        every training step)."""
        seen, out = set(), []

        def walk(m):
            if id(m) not in seen:
                seen.add(id(m))
                out.append(m)
                for c in m._modules.values():
                    walk(c)
        walk(self)
        return iter(out)

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
        """named_parameters' parameters, without their names."""
        seen = set()
        for m in self.modules() if recurse else (self,):
            for p in m._parameters.values():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield p

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
        """Set the mode here and, through each child's own train(), below (as PyTorch; a
        training loop calls this every step, so no names are built)."""
        self.__dict__["training"] = mode
        for m in self._modules.values():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    @contextlib.contextmanager
    def evaluating(self):
        """`with model.evaluating():` eval mode inside (dropout off, BatchNorm's running
        statistics); the mode from before comes back after, even on an error."""
        was_training = self.training
        self.eval()
        try:
            yield self
        finally:
            self.train(was_training)

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
                            f"do; for your own Module, call nn.record_args(self, **its constructor "
                            f"kwargs) in __init__ and decorate the class with @nn.register")
        return {"type": type(self).__name__, "args": dict(self._args)}

    @classmethod
    def rebuild(cls, spec):
        """A new module of this type (fresh weights) from its spec(); from_spec calls it."""
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
    return cls.rebuild(spec)
