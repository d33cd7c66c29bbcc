"""Clearing accumulated gradients, shared by ``Module.zero_grad`` and ``Optimizer.zero_grad``."""

from __future__ import annotations

from typing import Iterable

from .autograd import Tensor
from .ops import zeros_like


def forget_grads(params: Iterable[Tensor], set_to_none: bool) -> None:
    """Set each parameter's ``.grad`` to None, or (``set_to_none=False``) a gradient that exists
    to new zeros of the parameter's shape, dtype and device; None stays None."""
    for p in params:
        p.grad = None if set_to_none or p.grad is None else zeros_like(p)
