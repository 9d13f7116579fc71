"""engine: a small, readable numpy neural-net engine with reverse-mode autograd.

PyTorch-shaped names, float32 throughout, numpy and the stdlib only."""
from . import backend
from .tensor import Tensor, NonFiniteLossError, matmul, no_grad, is_grad_enabled, manual_seed
from .creation import tensor, zeros, ones, randn, rand, cat, stack, where

__version__ = "0.1.0"
from . import losses, nn, optim, io  # noqa: E402  (after tensor: they build on it)

__all__ = ["Tensor", "NonFiniteLossError", "cat", "stack", "where", "matmul", "no_grad",
           "is_grad_enabled", "manual_seed", "tensor", "zeros", "ones", "randn", "rand",
           "backend", "losses", "nn", "optim", "io"]
