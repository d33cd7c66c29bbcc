"""``Linear`` (a dense layer) and ``Flatten``."""

from __future__ import annotations

import math

from .._defaults import get_default_dtype
from ..autograd import Tensor
from ..backends import get_device
from ..ops import empty, reshape
from . import functional as F
from .init import make_generator, uniform_
from .module import Module, Parameter, check_input, check_sizes

__all__ = ["Linear", "Flatten", "uniform_parameter"]


def uniform_parameter(shape: tuple, bound: float, device, dtype, generator) -> Parameter:
    """A new parameter on ``device`` drawn from U(-bound, bound)."""
    p = Parameter(empty(shape, dtype=dtype, device=device))
    return uniform_(p, -bound, bound, generator=generator)


class Linear(Module):
    """``y = x @ weight.T + bias``, with ``weight`` ``(out_features, in_features)``.

    Weight and bias start uniform in ``+-1/sqrt(in_features)``, drawn on ``device`` from
    ``generator``, or a new one seeded with ``seed``, or the device's default generator
    (``multigrad.manual_seed``). ``dtype`` defaults to ``multigrad.get_default_dtype()``
    (float32); an input of another dtype is an error.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, device=None,
                 dtype=None, seed: int | None = None, generator=None):
        super().__init__()
        # the initial bound is 1/sqrt(in_features)
        check_sizes("Linear", 1, in_features=in_features)
        check_sizes("Linear", 0, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        device = get_device(device)
        dtype = get_default_dtype() if dtype is None else dtype
        gen = make_generator(device, seed, generator)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = uniform_parameter((out_features, in_features), bound, device, dtype, gen)
        if bias:
            self.bias = uniform_parameter((out_features,), bound, device, dtype, gen)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x, self.weight)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self!r}: expected input of shape (..., {self.in_features}), got "
                             f"{x.shape}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Merge the axes ``start_axis`` to ``end_axis`` (inclusive) into one."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1):
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        start, end = self.start_axis % max(x.ndim, 1), self.end_axis % max(x.ndim, 1)
        if x.ndim == 0 or start > end:
            raise ValueError(f"{self!r}: cannot flatten axes {self.start_axis} to "
                             f"{self.end_axis} of input of shape {x.shape}")
        merged = math.prod(x.shape[start:end + 1])
        return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"
