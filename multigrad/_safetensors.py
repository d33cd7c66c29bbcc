"""State dicts to and from ``.safetensors`` files, the weights format PyTorch, JAX/Flax and
Hugging Face share: ``save_safetensors(model.state_dict(), path)`` and
``load_safetensors(path, device=...)``, named after what those libraries call
``safetensors.torch.save_file`` and ``load_file``.

A safetensors file holds a flat mapping of names to arrays and a mapping of strings to strings
(its metadata); loading it runs no code. What does not fit (an optimiser's nested state, plain
Python values, ``requires_grad``) stays in ``multigrad.save``'s own container: see
``docs/saving.md``.

The package ``safetensors`` is an optional extra (``pip install 'multigrad-xp[safetensors]'``),
imported only when one of these functions is called. Its NumPy API takes and returns NumPy
arrays on the host; this module only calls their methods (``flags``, ``copy``), and moves them
to and from devices with ``Device.to_host``/``from_host``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .autograd import Tensor
from .backends import Device, DeviceError, get_default_device, get_device
from .serialization import SerializationError, replacing

__all__ = ["save_safetensors", "load_safetensors"]

INSTALL = ("pip install 'multigrad-xp[safetensors]' (from a checkout: "
           "pip install -e '.[safetensors]')")

#: the safetensors dtype code of each multigrad dtype it can hold (it has no complex128)
CODES = {"bool": "BOOL", "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
         "uint8": "U8", "uint16": "U16", "uint32": "U32", "uint64": "U64",
         "float32": "F32", "float64": "F64", "complex64": "C64"}
_DTYPES_OF = {code: name for name, code in CODES.items()}


def _safetensors(caller: str):
    """The ``safetensors`` package, or an ImportError naming the extra that installs it."""
    try:
        import safetensors
        import safetensors.numpy  # noqa: F401
    except ImportError as err:
        raise ImportError(f"{caller} needs the safetensors package, which is not installed: "
                          f"{INSTALL}") from err
    return safetensors


def _host_arrays(tensors, caller: str) -> dict:
    """Each tensor's values as a C-contiguous host array, every entry checked first."""
    if not isinstance(tensors, Mapping):
        raise TypeError(f"{caller}: expected a mapping of names to tensors (as "
                        f"state_dict() returns), got {type(tensors).__name__}")
    for key, value in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"{caller}: key {key!r} is a {type(key).__name__}; a safetensors "
                            "file names its tensors with strings")
        if isinstance(value, (Mapping, list, tuple)):
            raise TypeError(f"{caller}: {key!r} is a {type(value).__name__}; a safetensors file "
                            "holds a flat mapping of names to tensors, so nested state (an "
                            "optimiser's state_dict) goes to multigrad.save instead")
        if not isinstance(value, Tensor):
            raise TypeError(f"{caller}: {key!r} is a {type(value).__name__}, not a tensor; a "
                            "safetensors file holds tensors only: pass plain values as "
                            "metadata={...} (strings), or use multigrad.save")
        if value.dtype.name not in CODES:
            raise TypeError(f"{caller}: {key!r} is {value.dtype.name}, which safetensors cannot "
                            f"hold (it holds {', '.join(CODES)}); use multigrad.save")
    arrays = {}
    for key, value in tensors.items():
        host = value.device.to_host(value.data)
        # safetensors writes the memory behind the array as it lies: a transposed view would
        # be saved in the wrong order
        arrays[key] = host if host.flags.c_contiguous else host.copy(order="C")
    return arrays


def save_safetensors(tensors: Mapping[str, Tensor], path: str | os.PathLike, *,
                     metadata: Mapping[str, str] | None = None) -> None:
    """Write a flat mapping of names to tensors (a state dict) as a ``.safetensors`` file.

    Parameters
    ----------
    tensors : mapping of str to Tensor
        Typically ``model.state_dict()``. Values are saved, not ``requires_grad`` nor device.
    path : str or os.PathLike
        The file to write; it is replaced only once the whole file is written.
    metadata : mapping of str to str, optional
        Text stored in the file's header (``__metadata__``): a step count, a config.

    Raises
    ------
    ImportError
        The ``safetensors`` extra is not installed (the message says how to install it).
    TypeError
        Naming the key of a value a safetensors file cannot hold: a nested container, a plain
        value, a complex128 tensor; or a metadata entry that is not a string. Nothing is
        written then.
    OSError
        The file cannot be written (a missing folder, no permission).
    """
    caller = "save_safetensors"
    safetensors = _safetensors(caller)
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"{caller}: metadata must be a mapping of str to str, got "
                            f"{type(metadata).__name__}")
        for key, value in metadata.items():
            if not (isinstance(key, str) and isinstance(value, str)):
                raise TypeError(f"{caller}: metadata entry {key!r}: {value!r} is not a pair of "
                                "strings (convert numbers with str())")
        metadata = dict(metadata)
    arrays = _host_arrays(tensors, caller)
    try:
        with replacing(path) as partial:
            safetensors.numpy.save_file(arrays, partial, metadata=metadata)
    except safetensors.SafetensorError as err:  # everything was checked: it failed to write
        raise OSError(f"{caller}: cannot write {os.fspath(path)}: {err}") from None


def load_safetensors(path: str | os.PathLike, *,
                     device: str | Device | None = None) -> dict[str, Tensor]:
    """Read a ``.safetensors`` file (written by multigrad, PyTorch, Flax...) into tensors.

    Parameters
    ----------
    path : str or os.PathLike
        A safetensors file.
    device : str or Device, optional
        Where to put every tensor. Default: the default device
        (``multigrad.get_default_device()``); the file itself names none.

    Returns
    -------
    dict of str to Tensor
        Every tensor of the file by name, not requiring gradients; ready for
        ``model.load_state_dict``. The file's metadata is read with
        ``safetensors.safe_open(path, "numpy").metadata()``.

    Raises
    ------
    ImportError
        The ``safetensors`` extra is not installed (the message says how to install it).
    SerializationError
        A ``ValueError``: the file is not a safetensors file or is damaged, or it holds a dtype
        multigrad has none for (float16, bfloat16, float8...; the message names the tensor).
        Raised before any tensor is read.
    DeviceError
        ``device`` is not available here.
    OSError
        The file cannot be opened or read.
    """
    caller = "load_safetensors"
    safetensors = _safetensors(caller)
    try:
        target = get_default_device() if device is None else get_device(device)
    except DeviceError as err:
        raise DeviceError(f"{caller}: cannot load onto device {device!r}: {err}") from None
    name = os.fspath(path)
    try:
        with safetensors.safe_open(name, framework="numpy") as f:
            keys = list(f.keys())
            for key in keys:  # every dtype is checked before any tensor is read
                code = f.get_slice(key).get_dtype()
                if code not in _DTYPES_OF:
                    raise SerializationError(
                        f"{caller}: tensor {key!r} in {name} is {code}, which multigrad has no "
                        f"dtype for (it reads {', '.join(_DTYPES_OF)}); convert it where it was "
                        "saved, as model.float() does in PyTorch")
            return {key: Tensor(target.from_host(f.get_tensor(key)), target) for key in keys}
    except safetensors.SafetensorError as err:
        raise SerializationError(f"{caller}: {name} is not a readable safetensors file: "
                                 f"{err}") from None
