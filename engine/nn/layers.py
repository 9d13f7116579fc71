"""The layers with weights or a shape job: Linear, Conv2d, pools, Flatten, Dropout,
BatchNorm, Embedding. PyTorch's constructor arguments, parameter names and default inits;
each forward is one engine.nn.functional op.
"""
import math

import numpy as np

from . import functional as F, init
from .module import Module, Parameter, record_args, recorded_args, register


def _uniform_param(shape, bound):
    return init.uniform_(Parameter(np.empty(shape, np.float32)), -bound, bound)


@register
class Linear(Module):
    """y = x @ W.T + b with W (out_features, in_features); PyTorch's default init."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        record_args(self, in_features=in_features, out_features=out_features, bias=bias)
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
        record_args(self, in_channels=in_channels, out_channels=out_channels,
                    kernel_size=kernel_size, stride=stride, padding=padding, bias=bias)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (F.pair(kernel_size), F.pair(stride),
                                                       F.pair(padding))
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
        record_args(self, kernel_size=kernel_size, stride=stride, padding=padding)
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
        record_args(self, start_dim=start_dim, end_dim=end_dim)
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
        record_args(self, p=p)
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
        record_args(self, num_features=num_features, eps=eps, momentum=momentum, affine=affine,
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
                f"affine={self.affine}, bias={recorded_args(self)['bias']}, "
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
        record_args(self, num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = init.normal_(Parameter(np.empty((num_embeddings, embedding_dim), np.float32)))

    def forward(self, idx):
        return F.embedding(idx, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"

