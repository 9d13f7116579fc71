"""Activations as Modules (nn.ReLU(), nn.GELU(approximate="tanh"), ...): parameter-free
wrappers over engine.nn.functional, with PyTorch's names and arguments."""
from . import functional as F
from .module import Module, record_args, recorded_args, register


def _activation(name, fn, **defaults):
    """A parameter-free Module class calling fn(x, **its args)."""
    def __init__(self, *args, **kw):
        Module.__init__(self)
        kw = {**defaults, **dict(zip(defaults, args)), **kw}
        unknown = set(kw) - set(defaults) - {"inplace"}
        if unknown:
            raise TypeError(f"{name}: unexpected arguments {sorted(unknown)}")
        kw.pop("inplace", None)  # accepted for PyTorch code; always out of place here
        record_args(self, **kw)
        for k, v in kw.items():
            object.__setattr__(self, k, v)

    def forward(self, x):
        return fn(x, **recorded_args(self))

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in recorded_args(self).items())
    return register(type(name, (Module,), {"__init__": __init__, "forward": forward,
                                           "extra_repr": extra_repr, "__doc__": fn.__doc__}))


ReLU = _activation("ReLU", F.relu)
LeakyReLU = _activation("LeakyReLU", F.leaky_relu, negative_slope=0.01)
Tanh = _activation("Tanh", F.tanh)
Sigmoid = _activation("Sigmoid", F.sigmoid)
GELU = _activation("GELU", F.gelu, approximate="none")  # exact; or approximate="tanh"
Softmax = _activation("Softmax", F.softmax, dim=-1)
LogSoftmax = _activation("LogSoftmax", F.log_softmax, dim=-1)
Identity = _activation("Identity", lambda x: x)
