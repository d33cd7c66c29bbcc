"""Neural networks: modules, layers, losses and initialisers, built on multigrad's ops.

Every layer is composed from multigrad's differentiable functions, so it runs unchanged on every
device (NumPy, CuPy, array-api-strict...) and differentiates in reverse and forward mode.
Parameters are made on the ``device=`` a layer is given (default: the default device), of
the ``dtype=`` it is given (default: ``multigrad.get_default_dtype()``, float32 on every
device; an input of another dtype is an error, as in PyTorch), with random values from that
device's default generator (``multigrad.manual_seed``) unless ``seed=`` or ``generator=`` is
given; ``module.to(device)`` moves them.

``multigrad.nn.functional`` has the layers as functions and the losses; ``multigrad.nn.init``
the initialisers.
"""

from . import functional, init
from .activation import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .container import Identity, ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d
from .dropout import Dropout
from .embedding import Embedding
from ._functional_call import functional_call, per_example_grads
from .linear import Flatten, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["functional", "init", "functional_call", "per_example_grads", "Module", "Parameter",
           "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Flatten", "Conv1d", "Conv2d", "MaxPool2d",
           "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "Embedding",
           "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax", "Softplus",
           "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss"]
