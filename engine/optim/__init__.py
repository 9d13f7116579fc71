"""Optimisers: SGD (momentum, Nesterov, weight decay), Adam and AdamW, with PyTorch's
update rules, names, parameter groups and state_dict layout. Learning-rate schedules live
in `engine.optim.lr_scheduler`; gradient clipping in `engine.nn.utils`.

    opt = AdamW([{"params": matrices, "weight_decay": 0.1},
                 {"params": gains, "weight_decay": 0.0}], lr=1e-3)

Each group is a plain dict: its "params" and every hyperparameter, the ones it does not
set taken from the constructor's (opt.defaults). A plain list of parameters is one group.

Each step updates `p.data` in place with a few numpy ufunc calls per parameter, writing
into preallocated buffers (`out=`): no new arrays per step, and anything holding a
reference to a parameter's array sees the new values.
"""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import lr_scheduler

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]


class Optimizer:
    """Updates its parameters from their `.grad` on each `step()`, group by group.

    `opt.param_groups[i]["lr"] = 1e-4` changes one group at the next step. The shortcut
    `opt.lr` (and opt.betas, ...) reads group 0's value; `opt.lr = 1e-4` sets it in every
    group, which is what a schedule wants. The state of parameter i (counted across the
    groups in order, as in state_dict()) is `opt.state[i]`.
    """

    def __init__(self, params, **defaults):
        if isinstance(params, (Tensor, set, dict)):
            raise TypeError(f"give the parameters as a list (of Tensors, or of group dicts), "
                            f"not a {type(params).__name__}")
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list (did the model register any?)")
        self._validate(defaults)
        self.defaults, self.param_groups, self.state = defaults, [], {}
        self._scratch = {}  # dtype -> flat work buffer, reused by every parameter and step
        if not isinstance(params[0], dict):
            if bad := [i for i, p in enumerate(params) if isinstance(p, dict)]:
                raise TypeError(f"parameter {bad[0]} is a dict: give either Tensors or groups")
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a group {"params": [...], hyperparameter: value, ...}; the hyperparameters
        it leaves out are the optimizer's defaults."""
        k = len(self.param_groups)
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"parameter group {k} must be a dict with a 'params' list, "
                            f"got {type(group).__name__}")
        if unknown := sorted(set(group) - {"params", *self.defaults}):
            raise ValueError(f"parameter group {k}: unknown hyperparameter(s) {unknown}; "
                             f"{type(self).__name__} takes {list(self.defaults)}")
        ps = group["params"]
        if isinstance(ps, set):
            raise TypeError(f"parameter group {k}: params is a set, whose order changes from "
                            f"run to run; give a list")
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        if not ps:
            raise ValueError(f"parameter group {k} has no parameters")
        for i, p in enumerate(ps):
            if not isinstance(p, Tensor):
                raise TypeError(f"parameter {i} of group {k} is a {type(p).__name__}, "
                                f"not an engine Tensor")
        seen = {id(p) for p in self.params}
        if len({id(p) for p in ps}) != len(ps) or any(id(p) in seen for p in ps):
            raise ValueError(f"parameter group {k}: a parameter appears more than once (in "
                             f"this or an earlier group): it would be updated twice per step")
        full = {**self.defaults, **group, "params": ps}
        try:
            self._validate(full)
        except ValueError as e:
            raise ValueError(f"parameter group {k}: {e}") from None
        self.param_groups.append(full)

    def _validate(self, h):
        """Raise ValueError for a bad hyperparameter value in h (defaults or a group)."""

    # -- opt.lr etc.: group 0's value to read; writing sets every group --------------------
    def __getattr__(self, name):  # only called for names not found the usual way
        if name in self.__dict__.get("defaults", ()):
            return self.param_groups[0][name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name in self.__dict__.get("defaults", ()):
            for g in self.param_groups:
                g[name] = value
        else:
            super().__setattr__(name, value)

    @property
    def params(self):
        """Every parameter, group after group."""
        return [p for g in self.param_groups for p in g["params"]]

    def _numbered(self):
        """(i, parameter, its group) for each parameter, i counted across the groups."""
        i = 0
        for g in self.param_groups:
            for p in g["params"]:
                yield i, p, g
                i += 1

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.data)

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        i = 0  # counted across the groups, as state_dict() numbers the parameters
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p.data, p.grad, self.state.setdefault(i, {}), group)
                i += 1
        return loss

    def _update(self, p, g, state, group):
        """Update the array p in place from its gradient g, with the group's hyperparameters."""
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
    def _state_out(self, state, group):
        return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}

    def _state_in(self, state, group):
        return {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                for k, v in state.items()}

    def state_dict(self):
        """{"state": {i: {...}}, "param_groups": [{hyperparameters, "params": [i, ...]}]},
        PyTorch's layout (i counts the parameters across the groups), with numpy arrays;
        copies, so later steps don't change it."""
        groups, first = [], 0
        for g in self.param_groups:
            n = len(g["params"])
            groups.append({**{k: v for k, v in g.items() if k != "params"},
                           "params": list(range(first, first + n))})
            first += n
        state = {i: self._state_out(self.state[i], g)
                 for i, _, g in self._numbered() if i in self.state}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, sd):
        """Restore what state_dict() returned (the groups' hyperparameters and every
        parameter's state); all is checked before anything changes. Keys a group has
        beyond this optimizer's hyperparameters (PyTorch's "foreach", ...) are ignored."""
        try:
            state = {i: dict(s) for i, s in sd["state"].items()}
            saved = list(sd["param_groups"])
            sizes = [len(g["params"]) for g in saved]
            # the saved ids, group by group, name our parameters in the same order
            index = {i: n for n, i in enumerate(i for g in saved for i in g["params"])}
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not an optimizer state_dict ({e!r})") from e
        if len(saved) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(saved)} parameter groups, this optimizer "
                             f"has {len(self.param_groups)}")
        for k, (g, n) in enumerate(zip(self.param_groups, sizes)):
            if n != len(g["params"]):
                raise ValueError(f"parameter group {k}: state_dict is for {n} parameters, "
                                 f"this optimizer has {len(g['params'])}")
            if missing := [h for h in self.defaults if h not in saved[k]]:
                raise ValueError(f"parameter group {k}: state_dict lacks hyperparameters "
                                 f"{missing} (saved from a different optimizer type?)")
        groups = [{**{h: s[h] for h in self.defaults}, "params": g["params"]}
                  for s, g in zip(saved, self.param_groups)]
        for k, g in enumerate(groups):
            try:
                self._validate(g)
            except ValueError as e:
                raise ValueError(f"parameter group {k} of the state_dict: {e}") from None
        slots = [(p, g) for g in groups for p in g["params"]]
        new = {}
        for i, s in state.items():
            if i not in index:
                raise ValueError(f"state_dict has state for parameter {i}, which no group lists")
            n = index[i]
            p, g = slots[n]
            for k, v in s.items():
                if isinstance(v, np.ndarray) and v.shape != p.shape:
                    raise ValueError(f"state '{k}' of parameter {i} has shape {v.shape}, "
                                     f"the parameter has {p.shape}")
            try:
                new[n] = self._state_in(s, g)
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"damaged state for parameter {i} ({e!r})") from e
        for g, h in zip(self.param_groups, groups):  # the same dicts: anyone holding one sees it
            g.update(h)
        self.state = new

    def __repr__(self):
        def hypers(g):
            return ", ".join(f"{k}={g[k]}" for k in self.defaults)
        if len(self.param_groups) == 1:
            return f"{type(self).__name__}({len(self.params)} parameters, {hypers(self.param_groups[0])})"
        inner = "; ".join(f"group {k}: {len(g['params'])} parameters, {hypers(g)}"
                          for k, g in enumerate(self.param_groups))
        return f"{type(self).__name__}({inner})"


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

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay)

    def _validate(self, h):
        _check(h["lr"] >= 0, f"invalid learning rate {h['lr']} (must be >= 0)")
        _check(h["momentum"] >= 0, f"invalid momentum {h['momentum']} (must be >= 0)")
        _check(h["weight_decay"] >= 0, f"invalid weight_decay {h['weight_decay']} (must be >= 0)")
        _check(not h["nesterov"] or (h["momentum"] > 0 and h["dampening"] == 0),
               "Nesterov momentum needs momentum > 0 and dampening = 0")

    def _update(self, p, g, state, group):
        lr, mu, damp = group["lr"], group["momentum"], group["dampening"]
        g = self._with_decay(p, g, group["weight_decay"])
        t = self._tmp(p)  # may be g itself: every use below reads g before writing t
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= mu
                if damp:
                    np.multiply(g, 1 - damp, out=t)
                    buf += t
                else:
                    buf += g
            if group["nesterov"]:
                np.multiply(g, -lr, out=t)
                p += t
                np.multiply(buf, -lr * mu, out=t)
            else:
                np.multiply(buf, -lr, out=t)
        else:
            np.multiply(g, -lr, out=t)
        p += t


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's rule, with step t counted per parameter:

        g = g + weight_decay * p            (L2 decay: part of the gradient)
        m = b1*m + (1-b1)*g ;  v = b2*v + (1-b2)*g*g
        p -= lr/(1-b1^t) * m / (sqrt(v/(1-b2^t)) + eps)

    For speed it keeps the sums M = m/(1-b1) and V = v/(1-b2) (one multiply fewer each)
    and folds every constant into two scalars; state_dict() reports PyTorch's m and v.
    """
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)

    def _validate(self, h):
        _check(h["lr"] >= 0, f"invalid learning rate {h['lr']} (must be >= 0)")
        _check(h["eps"] >= 0, f"invalid eps {h['eps']} (must be >= 0)")
        _check(len(h["betas"]) == 2 and all(0 <= b < 1 for b in h["betas"]),
               f"invalid betas {h['betas']} (two, each in [0, 1))")
        _check(h["weight_decay"] >= 0, f"invalid weight_decay {h['weight_decay']} (must be >= 0)")

    def _update(self, p, g, state, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state.update(step=0, M=np.zeros_like(p), V=np.zeros_like(p))
        state["step"] = t = state["step"] + 1
        # sqrt(v / (1-b2^t)) = c * sqrt(V), so the update is  -step * M / (sqrt(V) + eps/c)
        c = math.sqrt((1 - b2) / (1 - b2 ** t))
        step = lr * (1 - b1) / ((1 - b1 ** t) * c)
        M, V = state["M"], state["V"]
        fused_adam = backend.fused_adam()  # the wasm kernel in the page; None on CPython
        if fused_adam is not None:  # the same float32 operations, in one kernel call
            shrink, l2 = (1 - lr * wd, 0.0) if self._decoupled else (1.0, wd)
            if fused_adam(p, g, M, V, b1, b2, shrink, l2, eps / c, -step):
                return
        if self._decoupled:  # AdamW: shrink the weights directly, not through the gradient
            if wd:
                p *= 1 - lr * wd
        else:
            g = self._with_decay(p, g, wd)
        tmp = self._tmp(p)  # may be g: g is read first
        M *= b1
        M += g
        V *= b2
        np.square(g, out=tmp)  # one operand read: faster than g * g
        V += tmp
        np.sqrt(V, out=tmp)
        tmp += eps / c
        np.divide(M, tmp, out=tmp)
        tmp *= -step
        p += tmp

    def _state_out(self, state, group):
        b1, b2 = group["betas"]
        return {"step": state["step"], "exp_avg": state["M"] * (1 - b1),
                "exp_avg_sq": state["V"] * (1 - b2)}

    def _state_in(self, state, group):
        b1, b2 = group["betas"]
        return {"step": int(state["step"]),
                "M": np.array(state["exp_avg"], copy=True) / (1 - b1),
                "V": np.array(state["exp_avg_sq"], copy=True) / (1 - b2)}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's rule:
    p *= 1 - lr * weight_decay, then the Adam step on the plain gradient."""
    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

