"""Neural networks: modules, layers, losses and initialisers, built on multigrad's ops.

Every layer is composed from multigrad's differentiable functions, so it runs unchanged on every
device (NumPy, CuPy, array-api-strict...) and differentiates in reverse and forward mode.
Parameters are made on the ``device=`` a layer is given (default: the default device), with
random values from that device's generator; ``module.to(device)`` moves them.

``multigrad.nn.functional`` has the layers as functions and the losses; ``multigrad.nn.init``
the initialisers.
"""

from . import functional, init
from .activation import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .conv import Conv1d, Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Flatten, Linear
from .module import Module, Parameter, Sequential
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["functional", "init", "Module", "Parameter", "Sequential", "Linear", "Flatten",
           "Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d",
           "LayerNorm", "Dropout", "Embedding", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax",
           "LogSoftmax", "Softplus"]
