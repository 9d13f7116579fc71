"""Losses as Modules (nn.CrossEntropyLoss(), ...): wrappers over engine.losses' functions,
with PyTorch's names and arguments."""
from ..losses import REDUCTIONS, binary_cross_entropy_with_logits, cross_entropy, mse_loss
from .module import Module, record_args, recorded_args, register


class _Loss(Module):
    fn = None

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, "
                             f"got {reduction!r}")
        record_args(self, reduction=reduction)
        self.reduction = reduction

    def forward(self, input, target):
        return type(self).fn(input, target, **recorded_args(self))

    def extra_repr(self):
        return ""


@register
class CrossEntropyLoss(_Loss):
    fn = staticmethod(cross_entropy)

    def __init__(self, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        record_args(self, reduction=reduction, label_smoothing=label_smoothing)
        self.label_smoothing = label_smoothing


@register
class BCEWithLogitsLoss(_Loss):
    fn = staticmethod(binary_cross_entropy_with_logits)


@register
class MSELoss(_Loss):
    fn = staticmethod(mse_loss)
