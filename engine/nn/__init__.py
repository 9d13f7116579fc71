"""engine.nn: Modules, shaped like torch.nn so a learner's code transfers.

module.py      Module (parameters, buffers, children, state_dict, spec), Parameter, register
containers.py  Sequential, ModuleList
layers.py      Linear, Conv2d, pools, Flatten, Dropout, BatchNorm, Embedding
activation.py  ReLU, GELU, Softmax, ... ;  loss.py  CrossEntropyLoss, ...
attention.py   LayerNorm, MultiheadAttention, TransformerEncoderLayer
functional.py  the ops they call (import as F), seqops.py the sequence-model ones;
init.py, utils.py as torch.nn.init and torch.nn.utils.
"""
from . import functional, init, utils
from .activation import GELU, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .attention import LayerNorm, MultiheadAttention, TransformerEncoderLayer
from .containers import ModuleList, Sequential
from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Embedding, Flatten,
                     Linear, MaxPool2d)
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import Module, Parameter, from_spec, record_args, recorded_args, register

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "Linear", "Conv2d", "MaxPool2d",
           "AvgPool2d", "Flatten", "Dropout", "BatchNorm1d", "BatchNorm2d", "Embedding", "ReLU",
           "LeakyReLU", "Tanh", "Sigmoid", "GELU", "Softmax", "LogSoftmax", "Identity",
           "CrossEntropyLoss", "BCEWithLogitsLoss", "MSELoss", "LayerNorm", "MultiheadAttention",
           "TransformerEncoderLayer", "from_spec", "register", "record_args", "recorded_args",
           "functional", "init", "utils"]
