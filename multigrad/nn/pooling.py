"""Pooling layers: ``MaxPool2d``, ``AvgPool2d``."""

from __future__ import annotations

from ..autograd import Tensor
from ._convolution import pool
from .module import Module, check_input

__all__ = ["MaxPool2d", "AvgPool2d"]


class MaxPool2d(Module):
    """Maximum over windows of ``(N, C, H, W)`` inputs; ``stride`` defaults to the kernel."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.dilation = padding, dilation

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        return pool(x, "max", self.kernel_size, self.stride, self.padding, self.dilation, 2,
                    "max_pool2d", repr(self))

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}")


class AvgPool2d(Module):
    """Mean over windows of ``(N, C, H, W)`` inputs; ``stride`` defaults to the kernel."""

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.count_include_pad = count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        return pool(x, "avg", self.kernel_size, self.stride, self.padding, 1, 2, "avg_pool2d",
                    repr(self), count_include_pad=self.count_include_pad)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"count_include_pad={self.count_include_pad}")
