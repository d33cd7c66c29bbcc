"""Activations as modules, each calling multigrad's function of the same name."""

from __future__ import annotations

from ..autograd import Tensor
from ..ops import gelu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from .module import Module, check_input

__all__ = ["ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax", "Softplus"]


class ReLU(Module):
    """``max(x, 0)`` elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        return relu(x)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        return sigmoid(x)


class Tanh(Module):
    """``tanh(x)`` elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        return tanh(x)


class GELU(Module):
    """``x * Phi(x)`` elementwise; ``approximate="tanh"`` for the tanh form."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        return gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """``softmax`` along ``axis``."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        return softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """``log_softmax`` along ``axis``."""

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        return log_softmax(x, axis=self.axis)


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta`` elementwise, without overflow."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        return softplus(x) if self.beta == 1.0 else softplus(self.beta * x) / self.beta

    def extra_repr(self) -> str:
        return f"beta={self.beta}"
