"""Losses as modules, each calling ``multigrad.nn.functional``'s function of the same name:
``loss = nn.CrossEntropyLoss()(logits, labels)``."""

from __future__ import annotations

from ..autograd import Tensor
from .losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss
from .module import Module

__all__ = ["MSELoss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or "
                             f"'none', not {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """``mse_loss(input, target, reduction)``: the squared error, reduced."""

    def forward(self, input: Tensor, target) -> Tensor:
        return mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """``cross_entropy(input, target, reduction, label_smoothing)`` from logits (classes on
    axis 1) and class indices or probabilities."""

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target) -> Tensor:
        return cross_entropy(input, target, self.reduction, self.label_smoothing)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, label_smoothing={self.label_smoothing}"


class NLLLoss(_Loss):
    """``nll_loss(input, target, reduction)`` from log-probabilities and class indices."""

    def forward(self, input: Tensor, target) -> Tensor:
        return nll_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``binary_cross_entropy_with_logits(input, target, reduction, pos_weight)``."""

    def __init__(self, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        if pos_weight is None or isinstance(pos_weight, Tensor):
            self.register_buffer("pos_weight", pos_weight)  # moves with the module, as in PyTorch
        else:
            self.pos_weight = pos_weight

    def forward(self, input: Tensor, target) -> Tensor:
        return binary_cross_entropy_with_logits(input, target, self.reduction, self.pos_weight)
