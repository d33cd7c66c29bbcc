"""multigrad: automatic differentiation on any array API library.

multigrad is itself an array API namespace: its functions take and return ``Tensor`` objects
that live on a device (NumPy on the CPU, CuPy on CUDA GPUs, or any library array-api-compat
knows) and differentiate in reverse and forward mode, to any order.
"""

import math as _math
import sys as _sys

# the one place the version is written (pyproject.toml reads it from here)
__version__ = "0.1.0"

from . import autograd, backends, ops
from ._info import __array_namespace_info__
from .autograd import Tensor, defprimitive, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd._primitive import set_namespace as _set_namespace
from .backends import (DTYPES as _DTYPES, Device, DeviceError, DType, MixedDeviceError, devices,
                       get_default_device, get_device, set_default_device)
from .ops import *  # noqa: F401,F403
from .ops import __all__ as _ops_all
from . import _array_object, _tensor_methods  # install operators and methods on Tensor
from . import fft, linalg, numerical, special
from ._defaults import (default_generator, get_default_dtype, manual_seed, rand, randint, randn,
                        randperm, set_default_dtype)
from . import nn
from .transforms import grad, hessian, hvp, jacfwd, jacrev, jvp, value_and_grad, vjp
from . import batching
from .batching import vmap
from .numerical import GradcheckError, gradcheck
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from .checkpoint import checkpoint
from .compile import CompileError, compile
from .function import Function, FunctionCtx
from . import optim, viz
from .serialization import SerializationError, load, save
from ._dask import compute, persist
from ._safetensors import load_safetensors, save_safetensors

__array_api_version__ = "2025.12"

globals().update(_DTYPES)  # multigrad.float32, multigrad.bool, ...

e = _math.e
pi = _math.pi
inf = _math.inf
nan = _math.nan
newaxis = None

# rules that must record (create_graph, forward mode) run in this namespace
_set_namespace(_sys.modules[__name__])
batching.install()  # every primitive's batching rule, now that all are declared

__all__ = (["Device", "DeviceError", "DType", "GradcheckError", "MixedDeviceError", "Tensor",
            "__array_api_version__", "__array_namespace_info__", "__version__", "autograd",
            "backends", "batching", "defprimitive", "devices", "e", "enable_grad", "fft", "get_default_device",
            "get_device", "grad", "gradcheck", "hessian", "hvp", "inf", "is_grad_enabled",
            "jacfwd", "jacrev", "jvp", "linalg", "nan", "newaxis", "nn", "no_grad", "numerical",
            "pi", "set_default_device", "set_grad_enabled", "special", "value_and_grad",
            "vjp", "vmap"]
           + list(_DTYPES) + list(_ops_all))
# user-defined functions, checkpointing and anomaly mode
__all__ += ["AnomalyError", "Function", "FunctionCtx", "checkpoint", "detect_anomaly",
            "is_anomaly_enabled"]
# compiled steps
__all__ += ["CompileError", "compile"]
# defaults: the dtype of models and random draws, seeding, random tensors
__all__ += ["default_generator", "get_default_dtype", "manual_seed", "rand", "randint", "randn",
            "randperm", "set_default_dtype"]
# optimisers, saving and loading, pictures of the graph
__all__ += ["SerializationError", "load", "load_safetensors", "optim", "save", "save_safetensors",
            "viz"]
# lazy (Dask) tensors and their gradients, evaluated in one pass
__all__ += ["compute", "persist"]
