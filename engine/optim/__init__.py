"""Optimisers: SGD (momentum, Nesterov, weight decay), Adam and AdamW, with PyTorch's
update rules, names and state_dict layout. Learning-rate schedules live in
`engine.optim.lr_scheduler`; gradient clipping in `engine.nn.utils`.

Each step updates `p.data` in place with a few numpy ufunc calls per parameter, writing
into preallocated buffers (`out=`): no new arrays per step, and anything holding a
reference to a parameter's array sees the new values.
"""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]

class Optimizer:
    """Holds a list of parameters and updates them from their `.grad` on each `step()`.

    One parameter group only ("param_groups-lite"): the hyperparameters are attributes
    (`opt.lr = 1e-4` takes effect at the next step); `param_groups` is a PyTorch-style view
    of them, so `for g in opt.param_groups: g["lr"] = 1e-4` works too.
    """
    _hyper = ("lr",)  # the hyperparameter attributes, in state_dict order

    def __init__(self, params, **hyper):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list (did the model register any?)")
        for i, p in enumerate(self.params):
            if isinstance(p, dict):
                raise TypeError("parameter groups (dicts) are not supported: pass one list of "
                                "parameters and set opt.lr etc. for everyone")
            if not isinstance(p, Tensor):
                raise TypeError(f"parameter {i} is a {type(p).__name__}, not an engine Tensor")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("a parameter appears more than once: it would be updated twice per step")
        for k, v in hyper.items():
            setattr(self, k, v)
        self.state = {}     # parameter index -> dict of per-parameter state, as in PyTorch
        self._scratch = {}  # dtype -> flat work buffer, reused by every parameter and step

    @property
    def param_groups(self):
        return [_Group(self)]

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.data)

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(p.data, p.grad, self.state.setdefault(i, {}))
        return loss

    def _update(self, p, g, state):
        raise NotImplementedError

    def _tmp(self, p):
        """A scratch array shaped like p (a view into one shared buffer)."""
        buf = self._scratch.get(p.dtype)
        if buf is None or buf.size < p.size:
            buf = self._scratch[p.dtype] = np.empty(p.size, p.dtype)
        return buf[:p.size].reshape(p.shape)

    def _with_decay(self, p, g, wd):
        """g + wd*p (L2 decay through the gradient) without touching p.grad."""
        if not wd:
            return g
        t = self._tmp(p)
        np.multiply(p, wd, out=t)
        t += g
        return t

    # -- saving and restoring the optimiser's own state ---------------------------------
    def _state_out(self, state):
        return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}

    def _state_in(self, state):
        return {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                for k, v in state.items()}

    def state_dict(self):
        """{"state": {index: {...}}, "param_groups": [{hyperparameters, "params": [indices]}]},
        PyTorch's layout, with numpy arrays; copies, so later steps don't change it."""
        group = {k: getattr(self, k) for k in self._hyper}
        group["params"] = list(range(len(self.params)))
        return {"state": {i: self._state_out(s) for i, s in self.state.items()},
                "param_groups": [group]}

    def load_state_dict(self, sd):
        """Restore what state_dict() returned; checks everything before changing anything."""
        try:
            state, (group,) = sd["state"], sd["param_groups"]
            n = len(group["params"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not an optimizer state_dict with one parameter group ({e!r})") from e
        if n != len(self.params):
            raise ValueError(f"state_dict is for {n} parameters, this optimizer has {len(self.params)}")
        if missing := [k for k in self._hyper if k not in group]:
            raise ValueError(f"state_dict lacks hyperparameters {missing} "
                             f"(saved from a different optimizer type?)")
        for i, s in state.items():
            if not 0 <= int(i) < n:
                raise ValueError(f"state_dict has state for parameter {i}, there are only {n}")
            for k, v in s.items():
                if isinstance(v, np.ndarray) and v.shape != self.params[int(i)].shape:
                    raise ValueError(f"state '{k}' of parameter {i} has shape {v.shape}, "
                                     f"the parameter has {self.params[int(i)].shape}")
        for k in self._hyper:
            setattr(self, k, group[k])
        self.state = {int(i): self._state_in(s) for i, s in state.items()}

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(self, k)}" for k in self._hyper)
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


class _Group:
    """opt.param_groups[0]: reads and writes the optimiser's hyperparameter attributes."""

    def __init__(self, opt):
        self._opt = opt

    def keys(self):
        return [*self._opt._hyper, "params"]

    def __getitem__(self, k):
        if k == "params":
            return self._opt.params
        if k not in self._opt._hyper:
            raise KeyError(k)
        return getattr(self._opt, k)

    def __setitem__(self, k, v):
        if k not in self._opt._hyper:
            raise KeyError(f"{k!r} is not a hyperparameter of {type(self._opt).__name__}")
        setattr(self._opt, k, v)

    def __repr__(self):
        return repr({k: self[k] for k in self._opt._hyper})


def _check(ok, msg):
    if not ok:
        raise ValueError(msg)


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule:

        d = g + weight_decay * p
        buf = d (first step), else momentum * buf + (1 - dampening) * d
        d = d + momentum * buf   (nesterov)   or   d = buf   (plain momentum)
        p -= lr * d
    """
    _hyper = ("lr", "momentum", "dampening", "nesterov", "weight_decay")

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        _check(lr >= 0, f"invalid learning rate {lr} (must be >= 0)")
        _check(momentum >= 0, f"invalid momentum {momentum} (must be >= 0)")
        _check(weight_decay >= 0, f"invalid weight_decay {weight_decay} (must be >= 0)")
        _check(not nesterov or (momentum > 0 and dampening == 0),
               "Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay)

    def _update(self, p, g, state):
        g = self._with_decay(p, g, self.weight_decay)
        t = self._tmp(p)  # may be g itself: every use below reads g before writing t
        mu = self.momentum
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= mu
                if self.dampening:
                    np.multiply(g, 1 - self.dampening, out=t)
                    buf += t
                else:
                    buf += g
            if self.nesterov:
                np.multiply(g, -self.lr, out=t)
                p += t
                np.multiply(buf, -self.lr * mu, out=t)
            else:
                np.multiply(buf, -self.lr, out=t)
        else:
            np.multiply(g, -self.lr, out=t)
        p += t


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's rule, with step t counted per parameter:

        g = g + weight_decay * p            (L2 decay: part of the gradient)
        m = b1*m + (1-b1)*g ;  v = b2*v + (1-b2)*g*g
        p -= lr/(1-b1^t) * m / (sqrt(v/(1-b2^t)) + eps)

    For speed it keeps the sums M = m/(1-b1) and V = v/(1-b2) (one multiply fewer each)
    and folds every constant into two scalars; state_dict() reports PyTorch's m and v.
    """
    _hyper = ("lr", "betas", "eps", "weight_decay")
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _check(lr >= 0, f"invalid learning rate {lr} (must be >= 0)")
        _check(eps >= 0, f"invalid eps {eps} (must be >= 0)")
        _check(all(0 <= b < 1 for b in betas), f"invalid betas {betas} (each must be in [0, 1))")
        _check(weight_decay >= 0, f"invalid weight_decay {weight_decay} (must be >= 0)")
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)

    def _update(self, p, g, state):
        b1, b2 = self.betas
        if not state:
            state.update(step=0, M=np.zeros_like(p), V=np.zeros_like(p))
        state["step"] = t = state["step"] + 1
        # sqrt(v / (1-b2^t)) = c * sqrt(V), so the update is  -step * M / (sqrt(V) + eps/c)
        c = math.sqrt((1 - b2) / (1 - b2 ** t))
        step = self.lr * (1 - b1) / ((1 - b1 ** t) * c)
        M, V = state["M"], state["V"]
        fused_adam = backend.fused_adam()  # the wasm kernel in the page; None on CPython
        if fused_adam is not None:  # the same float32 operations, in one kernel call
            wd = self.weight_decay
            shrink, l2 = (1 - self.lr * wd, 0.0) if self._decoupled else (1.0, wd)
            if fused_adam(p, g, M, V, b1, b2, shrink, l2, self.eps / c, -step):
                return
        if self._decoupled:  # AdamW: shrink the weights directly, not through the gradient
            if self.weight_decay:
                p *= 1 - self.lr * self.weight_decay
        else:
            g = self._with_decay(p, g, self.weight_decay)
        tmp = self._tmp(p)  # may be g: g is read first
        M *= b1
        M += g
        V *= b2
        np.square(g, out=tmp)  # one operand read: faster than g * g
        V += tmp
        np.sqrt(V, out=tmp)
        tmp += self.eps / c
        np.divide(M, tmp, out=tmp)
        tmp *= -step
        p += tmp

    def _state_out(self, state):
        b1, b2 = self.betas
        return {"step": state["step"], "exp_avg": state["M"] * (1 - b1),
                "exp_avg_sq": state["V"] * (1 - b2)}

    def _state_in(self, state):
        b1, b2 = self.betas
        return {"step": int(state["step"]),
                "M": np.array(state["exp_avg"], copy=True) / (1 - b1),
                "V": np.array(state["exp_avg_sq"], copy=True) / (1 - b2)}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's rule:
    p *= 1 - lr * weight_decay, then the Adam step on the plain gradient."""
    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

