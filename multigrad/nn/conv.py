"""Convolution layers: ``Conv1d``, ``Conv2d`` (see ``_convolution`` for how they compute)."""

from __future__ import annotations

import math

from .._defaults import get_default_dtype
from ..autograd import Tensor
from ..backends import get_device
from ._convolution import as_tuple, convolution
from .init import make_generator
from .linear import uniform_parameter
from .module import Module, check_input, check_sizes

__all__ = ["Conv1d", "Conv2d"]


class _ConvNd(Module):
    """Shared by ``Conv1d`` and ``Conv2d``: ``nd`` spatial dims."""

    nd = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, *, device=None, dtype=None,
                 seed: int | None = None, generator=None):
        super().__init__()
        name = type(self).__name__
        check_sizes(name, 1, in_channels=in_channels, groups=groups)
        check_sizes(name, 0, out_channels=out_channels)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = as_tuple(kernel_size, self.nd, "kernel_size", name)
        if min(self.kernel_size) < 1:
            raise ValueError(f"{name}: kernel_size must be positive, got {kernel_size!r}")
        self.stride = as_tuple(stride, self.nd, "stride", name)
        self.padding = padding if isinstance(padding, str) else as_tuple(
            padding, self.nd, "padding", name)
        self.dilation = as_tuple(dilation, self.nd, "dilation", name)
        device = get_device(device)
        dtype = get_default_dtype() if dtype is None else dtype
        gen = make_generator(device, seed, generator)
        fan_in = in_channels // groups * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = uniform_parameter(
            (out_channels, in_channels // groups) + self.kernel_size, bound, device, dtype, gen)
        if bias:
            self.bias = uniform_parameter((out_channels,), bound, device, dtype, gen)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x, self.weight)
        return convolution(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                           self.groups, self.nd, f"conv{self.nd}d", repr(self))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}")


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) over inputs ``(N, in_channels, L)``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out; ``groups`` must divide both.
    kernel_size, stride, dilation : int
    padding : int or {"valid", "same"}
        Zeros added on both sides.
    groups : int
        Channels split into this many independent groups.
    bias : bool
    device, dtype, seed, generator
        Where and how the parameters are made: uniform in ``+-1/sqrt(fan_in)``, of ``dtype``
        (default ``multigrad.get_default_dtype()``, float32; an input of another dtype is an
        error), drawn from ``generator``, a new one seeded with ``seed``, or the device's
        default generator.
    """

    nd = 1


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over inputs ``(N, in_channels, H, W)``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out; ``groups`` must divide both.
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int) or {"valid", "same"}
        Zeros added on both sides.
    groups : int
        Channels split into this many independent groups.
    bias : bool
    device, dtype, seed, generator
        Where and how the parameters are made: uniform in ``+-1/sqrt(fan_in)``, of ``dtype``
        (default ``multigrad.get_default_dtype()``, float32; an input of another dtype is an
        error), drawn from ``generator``, a new one seeded with ``seed``, or the device's
        default generator.
    """

    nd = 2
