"""Saving and loading tensors, state dicts and optimiser states, in a file that holds only data.

``save(obj, path)`` writes nested dicts, lists and tuples of tensors and plain Python values
(``None``, ``bool``, ``int``, ``float``, ``str``); ``load(path, device=...)`` reads them back.
Loading runs no code from the file: there is no pickle, only a JSON header and raw bytes.

The format: the 8 magic bytes ``b"MGRDSAVE"``, the header's length as a little-endian
unsigned 64-bit integer, the header (UTF-8 JSON), then each tensor's values as C-ordered
little-endian bytes, one after the other in the header's order. The header is
``{"format": "multigrad", "version": 1, "tree": ..., "tensors": [...]}``: every node of
``tree`` is a one-entry object, ``{"tensor": index}``, ``{"dict": [[key, node], ...]}`` (keys
are strings or integers), ``{"list": [node, ...]}``, ``{"tuple": [node, ...]}`` or
``{"value": literal}``; each entry of ``tensors`` holds ``dtype``, ``shape``, ``device`` (where
it was saved) and ``requires_grad``.

``load`` trusts nothing in the file. Every malformed, truncated or hostile file raises
``SerializationError`` (a ``ValueError``) naming what is wrong, after reading no more than the
file holds and before allocating more than a small multiple of its size: lengths and shapes are
checked against the bytes actually present before anything is read or allocated, and nesting
is bounded (``MAX_DEPTH`` containers; ``save`` refuses deeper objects too).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import reprlib
import struct
from typing import Any, Iterator

from .autograd import Tensor
from .backends import DTYPES, Device, DeviceError, get_device
from .backends._io import from_le_bytes, to_le_bytes

__all__ = ["save", "load", "SerializationError", "MAX_DEPTH", "MAX_NDIM"]

MAGIC = b"MGRDSAVE"
VERSION = 1
#: the deepest nesting of dicts, lists and tuples that ``save`` writes and ``load`` reads
MAX_DEPTH = 100
#: the most axes a tensor may have (NumPy's and CuPy's limit)
MAX_NDIM = 64
#: an array's bytes, counting each axis of length 0 as 1, stay below this (NumPy's limit)
_MAX_ARRAY_BYTES = 2**63
_LENGTH = struct.Struct("<Q")
_PREAMBLE = len(MAGIC) + _LENGTH.size
_PLAIN = (type(None), bool, int, float, str)


class SerializationError(ValueError):
    """``multigrad.load`` was given a file it cannot read: not a multigrad file, damaged,
    truncated, or inconsistent (its message names the key and what was expected)."""


# error messages quote at most this much of what they found
_short = reprlib.Repr()
_short.maxlevel, _short.maxstring, _short.maxother = 3, 80, 80


def _where(path: tuple) -> str:
    """A key path as Python subscripts, ``['state'][0]['exp_avg']``."""
    return "".join(f"[{k!r}]" for k in path) or "(the top-level object)"


# -- saving ---------------------------------------------------------------------------------

@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[str]:
    """A name beside ``path`` to write the new file to; it replaces ``path`` when the block
    ends without an error, and is removed otherwise (``path`` is then left as it was)."""
    path = os.fspath(path)
    partial = f"{path}.partial"
    try:
        yield partial
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def _encode(obj, path: tuple, tensors: list) -> dict:
    """The header node for ``obj``; tensors met are appended to ``tensors`` with their path."""
    if len(path) > MAX_DEPTH:
        raise ValueError(f"save: {_where(path[:3])}... is nested more than {MAX_DEPTH} "
                         "containers deep (does a container hold itself?)")
    if isinstance(obj, Tensor):
        tensors.append((path, obj))
        return {"tensor": len(tensors) - 1}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"save: key {key!r} at {_where(path)} is a "
                                f"{type(key).__name__}; dict keys must be str or int")
            items.append([key, _encode(value, path + (key,), tensors)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {kind: [_encode(v, path + (i,), tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, _PLAIN):
        return {"value": obj}
    raise TypeError(f"save: {_where(path)} is a {type(obj).__name__}; save writes tensors, "
                    "dicts, lists, tuples, None, bool, int, float and str")


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (tensors, possibly nested in dicts, lists and tuples) to ``path``.

    Parameters
    ----------
    obj : Tensor, dict, list, tuple or plain value
        What to save: a module's or optimiser's ``state_dict()``, a tensor, or any nesting of
        them with ``None``, ``bool``, ``int``, ``float`` and ``str``. Dict keys must be strings
        or integers (both come back as they were).
    path : str or os.PathLike
        The file to write; it is replaced only once the whole file is written.

    Raises
    ------
    TypeError
        Naming the key of a value that cannot be saved (nothing is written then).
    ValueError
        ``obj`` is nested more than ``MAX_DEPTH`` containers deep (nothing is written then).
    """
    tensors: list = []
    tree = _encode(obj, (), tensors)
    if any(t.device.lazy for _, t in tensors):  # Dask tensors: computed together, in one pass
        from ._dask import compute
        computed = compute(*(t for _, t in tensors))
        tensors = [(key, Tensor(c.data, t.device).requires_grad_(t.requires_grad)
                        if t.device.lazy else t) for (key, t), c in zip(tensors, computed)]
    header = {"format": "multigrad", "version": VERSION, "tree": tree,
              "tensors": [{"dtype": t.dtype.name, "shape": list(t.shape), "device": t.device.name,
                           "requires_grad": bool(t.requires_grad)} for _, t in tensors]}
    text = json.dumps(header).encode("utf-8")
    with replacing(path) as partial, open(partial, "wb") as f:
        f.write(MAGIC + _LENGTH.pack(len(text)) + text)
        for _, t in tensors:
            f.write(to_le_bytes(t.device.host if t.device.lazy else t.device, t.data))


# -- loading --------------------------------------------------------------------------------

class _Malformed(Exception):
    """What is wrong with the file; ``load`` turns it into a SerializationError naming it."""


def _is_count(n) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


def _check_entry(entry, index: int, paths: dict) -> int:
    """Check one entry of the header's ``tensors``; returns its tensor's size in bytes."""
    where = f"tensor {_where(paths[index])}"
    if not isinstance(entry, dict) or not {"dtype", "shape", "device"} <= set(entry):
        raise _Malformed(f"{where}: expected an object with 'dtype', 'shape' and 'device', "
                         f"got {_short.repr(entry)}")
    dtype = entry["dtype"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise _Malformed(f"{where}: unknown dtype {_short.repr(dtype)}; expected one of "
                         f"{', '.join(DTYPES)}")
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
        raise _Malformed(f"{where}: shape {_short.repr(shape)} is not a list of non-negative "
                         "integers")
    if len(shape) > MAX_NDIM:
        raise _Malformed(f"{where}: shape has {len(shape)} axes; at most {MAX_NDIM} are "
                         "supported")
    itemsize = DTYPES[dtype].bits // 8
    # Python ints do not overflow: a shape claiming 2**80 elements is measured, never allocated
    if math.prod(n for n in shape if n) * itemsize >= _MAX_ARRAY_BYTES:
        raise _Malformed(f"{where}: shape {_short.repr(shape)} of {dtype} is too large for any "
                         f"array (2**63 bytes or more)")
    if not isinstance(entry["device"], str):
        raise _Malformed(f"{where}: device {_short.repr(entry['device'])} is not a device name")
    requires_grad = entry.get("requires_grad", False)
    if not isinstance(requires_grad, bool) or (
            requires_grad and "floating" not in DTYPES[dtype].kind):
        raise _Malformed(f"{where}: requires_grad must be true or false, and true only for a "
                         f"floating-point dtype; got {_short.repr(requires_grad)} with {dtype}")
    return math.prod(shape) * itemsize


def _tensor_paths(node, path: tuple, paths: dict) -> None:
    """Check the tree's structure and note the key path of every tensor index."""
    if len(path) > MAX_DEPTH:
        raise _Malformed(f"{_where(path[:3])}...: the tree is nested more than {MAX_DEPTH} "
                         "containers deep")
    if not isinstance(node, dict) or len(node) != 1:
        raise _Malformed(f"{_where(path)}: expected an object with one of the entries "
                         f"'tensor', 'dict', 'list', 'tuple', 'value', got {_short.repr(node)}")
    (kind, content), = node.items()
    if kind == "tensor":
        if not _is_count(content) or content in paths:
            raise _Malformed(f"{_where(path)}: bad or repeated tensor index "
                             f"{_short.repr(content)}")
        paths[content] = path
    elif kind == "dict":
        for item in content if isinstance(content, list) else [None]:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))
                    and not isinstance(item[0], bool)):
                raise _Malformed(f"{_where(path)}: expected a list of [key, value] pairs, got "
                                 f"{_short.repr(content)}")
            _tensor_paths(item[1], path + (item[0],), paths)
    elif kind in ("list", "tuple"):
        if not isinstance(content, list):
            raise _Malformed(f"{_where(path)}: expected a list of items, got "
                             f"{_short.repr(content)}")
        for i, item in enumerate(content):
            _tensor_paths(item, path + (i,), paths)
    elif kind != "value" or not isinstance(content, _PLAIN):
        raise _Malformed(f"{_where(path)}: unknown entry {_short.repr(kind)} (or a value that "
                         "is not plain data)")


def _decode(node, tensors: list):
    (kind, content), = node.items()
    if kind == "tensor":
        return tensors[content]
    if kind == "dict":
        return {key: _decode(value, tensors) for key, value in content}
    if kind in ("list", "tuple"):
        items = [_decode(item, tensors) for item in content]
        return tuple(items) if kind == "tuple" else items
    return content


def _read_header(f, file_size: int) -> tuple[dict, dict, list]:
    """The checked header, the key path of each tensor, and each tensor's size in bytes."""
    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise _Malformed(f"not a multigrad file (expected it to start with {MAGIC!r}, found "
                         f"{magic!r})")
    length = f.read(_LENGTH.size)
    if len(length) != _LENGTH.size:
        raise _Malformed("the file ends inside the header's length")
    (length,) = _LENGTH.unpack(length)
    if length > file_size - _PREAMBLE:  # checked before reading: the length may be 2**63
        raise _Malformed(f"the header should have {length} bytes, the file has "
                         f"{file_size - _PREAMBLE}")
    text = f.read(length)
    if len(text) != length:  # the file shrank while we read it
        raise _Malformed(f"the header should have {length} bytes, the file has {len(text)}")
    try:
        header = json.loads(text.decode("utf-8"))
    except ValueError as err:  # bad UTF-8, bad JSON, or an integer of more than 4300 digits
        raise _Malformed(f"the header is not valid JSON ({_short.repr(str(err))})") from None
    except RecursionError:  # json recurses once per bracket
        raise _Malformed(f"the header is nested too deeply (more than {MAX_DEPTH} containers)"
                         ) from None
    if not isinstance(header, dict) or header.get("format") != "multigrad":
        raise _Malformed("the header does not say 'format': 'multigrad'")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version != VERSION:
        raise _Malformed(f"format version {_short.repr(version)}; this multigrad reads "
                         f"version {VERSION}")
    if not isinstance(header.get("tensors"), list) or "tree" not in header:
        raise _Malformed("the header lacks 'tree' or its list of 'tensors'")
    paths: dict = {}
    _tensor_paths(header["tree"], (), paths)
    entries = header["tensors"]
    if sorted(paths) != list(range(len(entries))):
        raise _Malformed(f"the tree refers to tensors {_short.repr(sorted(paths))}, the header "
                         f"lists {len(entries)}")
    sizes = [_check_entry(entry, index, paths) for index, entry in enumerate(entries)]
    # every tensor's bytes must be in the file before any is read or allocated
    left = file_size - _PREAMBLE - length
    for index, (entry, nbytes) in enumerate(zip(entries, sizes)):
        if nbytes > left:
            raise _Malformed(f"tensor {_where(paths[index])}: expected {nbytes} bytes of "
                             f"{entry['dtype']} data for shape {tuple(entry['shape'])}, the "
                             f"file has {left} (it is truncated)")
        left -= nbytes
    if left:
        raise _Malformed(f"{left} unexpected byte(s) after the last tensor")
    return header, paths, sizes


def _target(entry: dict, device: Device | None, path: tuple) -> Device:
    if device is not None:
        return device
    try:
        return get_device(entry["device"])
    except DeviceError as err:
        raise DeviceError(f"load: tensor {_where(path)} was saved on "
                          f"{_short.repr(entry['device'])}, which is not available here ({err}); "
                          "pass device=... to load it elsewhere") from None


def load(path: str | os.PathLike, *, device: str | Device | None = None) -> Any:
    """Read what ``save`` wrote, with every tensor on ``device``.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``multigrad.save``.
    device : str or Device, optional
        Where to put every tensor (``"cpu"``, ``"cuda"``, ``"strict:device1"``...). Default:
        the device each tensor was saved from.

    Returns
    -------
    object
        The saved object: dicts, lists, tuples and plain values as they were, tensors with
        their dtype, shape, values and ``requires_grad``.

    Raises
    ------
    SerializationError
        A ``ValueError``: the file is not a multigrad file, is truncated or damaged, or claims
        more than it holds (a header or tensor longer than the file, a shape too large for any
        array, more than ``MAX_NDIM`` axes, nesting deeper than ``MAX_DEPTH``, an unknown dtype,
        a repeated or missing tensor); the message names the key and what was expected. It is
        raised before anything larger than the file is allocated.
    DeviceError
        The device (asked for, or saved from) is not available here.
    OSError
        The file cannot be opened or read.
    """
    name = os.fspath(path)
    if device is not None:
        try:
            device = get_device(device)
        except DeviceError as err:
            raise DeviceError(f"load: cannot load onto device {device!r}: {err}") from None
    with open(name, "rb") as f:
        try:
            header, paths, sizes = _read_header(f, os.fstat(f.fileno()).st_size)
            entries = header["tensors"]
            targets = [_target(e, device, paths[i]) for i, e in enumerate(entries)]
            tensors = []
            for index, (entry, target, nbytes) in enumerate(zip(entries, targets, sizes)):
                buffer = bytearray(nbytes)  # read into, and used by the array without a copy
                got = f.readinto(buffer)
                if got != nbytes:  # the file shrank while we read it
                    raise _Malformed(f"tensor {_where(paths[index])}: expected {nbytes} bytes, "
                                     f"the file has {got} (it is truncated)")
                data = from_le_bytes(target, buffer, entry["dtype"], tuple(entry["shape"]))
                t = Tensor(data, target)
                tensors.append(t.requires_grad_() if entry.get("requires_grad") else t)
        except _Malformed as err:
            raise SerializationError(f"load: {name} is malformed: {err}") from None
    return _decode(header["tree"], tensors)
