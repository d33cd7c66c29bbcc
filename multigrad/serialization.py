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
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Any

from .autograd import Tensor
from .backends import DTYPES, Device, DeviceError, get_device
from .backends._io import from_le_bytes, to_le_bytes

__all__ = ["save", "load"]

MAGIC = b"MGRDSAVE"
VERSION = 1
_LENGTH = struct.Struct("<Q")
_PLAIN = (type(None), bool, int, float, str)


def _where(path: tuple) -> str:
    """A key path as Python subscripts, ``['state'][0]['exp_avg']``."""
    return "".join(f"[{k!r}]" for k in path) or "(the top-level object)"


# -- saving ---------------------------------------------------------------------------------

def _encode(obj, path: tuple, tensors: list) -> dict:
    """The header node for ``obj``; tensors met are appended to ``tensors`` with their path."""
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
    """
    tensors: list = []
    tree = _encode(obj, (), tensors)
    header = {"format": "multigrad", "version": VERSION, "tree": tree,
              "tensors": [{"dtype": t.dtype.name, "shape": list(t.shape), "device": t.device.name,
                           "requires_grad": bool(t.requires_grad)} for _, t in tensors]}
    text = json.dumps(header).encode("utf-8")
    path = os.fspath(path)
    partial = f"{path}.partial"
    try:
        with open(partial, "wb") as f:
            f.write(MAGIC + _LENGTH.pack(len(text)) + text)
            for _, t in tensors:
                f.write(to_le_bytes(t.device, t.data))
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


# -- loading --------------------------------------------------------------------------------

class _Malformed(ValueError):
    pass


def _nbytes(entry: dict) -> int:
    return math.prod(entry["shape"]) * (DTYPES[entry["dtype"]].bits // 8)


def _check_entry(entry, index: int, paths: dict) -> None:
    where = f"tensor {_where(paths[index])}"
    if not isinstance(entry, dict) or not {"dtype", "shape", "device"} <= set(entry):
        raise _Malformed(f"{where}: expected an object with 'dtype', 'shape' and 'device', "
                         f"got {entry!r}")
    if not isinstance(entry["dtype"], str) or entry["dtype"] not in DTYPES:
        raise _Malformed(f"{where}: unknown dtype {entry['dtype']!r}; expected one of "
                         f"{', '.join(DTYPES)}")
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise _Malformed(f"{where}: shape {shape!r} is not a list of non-negative integers")
    if not isinstance(entry["device"], str):
        raise _Malformed(f"{where}: device {entry['device']!r} is not a device name")
    requires_grad = entry.get("requires_grad", False)
    if not isinstance(requires_grad, bool) or (
            requires_grad and "floating" not in DTYPES[entry["dtype"]].kind):
        raise _Malformed(f"{where}: requires_grad must be true or false, and true only for a "
                         f"floating-point dtype; got {requires_grad!r} with {entry['dtype']}")


def _tensor_paths(node, path: tuple, paths: dict) -> None:
    """Check the tree's structure and note the key path of every tensor index."""
    if not isinstance(node, dict) or len(node) != 1:
        raise _Malformed(f"{_where(path)}: expected an object with one of the entries "
                         f"'tensor', 'dict', 'list', 'tuple', 'value', got {node!r}")
    (kind, content), = node.items()
    if kind == "tensor":
        if not isinstance(content, int) or isinstance(content, bool) or content in paths:
            raise _Malformed(f"{_where(path)}: bad or repeated tensor index {content!r}")
        paths[content] = path
    elif kind == "dict":
        for item in content if isinstance(content, list) else [None]:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))
                    and not isinstance(item[0], bool)):
                raise _Malformed(f"{_where(path)}: expected a list of [key, value] pairs, got "
                                 f"{content!r}")
            _tensor_paths(item[1], path + (item[0],), paths)
    elif kind in ("list", "tuple"):
        if not isinstance(content, list):
            raise _Malformed(f"{_where(path)}: expected a list of items, got {content!r}")
        for i, item in enumerate(content):
            _tensor_paths(item, path + (i,), paths)
    elif kind != "value" or not isinstance(content, _PLAIN):
        raise _Malformed(f"{_where(path)}: unknown entry {kind!r} (or a value that is not "
                         "plain data)")


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


def _read_header(f) -> tuple[dict, dict]:
    magic = f.read(len(MAGIC))
    if magic != MAGIC:
        raise _Malformed(f"not a multigrad file (expected it to start with {MAGIC!r}, found "
                         f"{magic!r})")
    length = f.read(_LENGTH.size)
    if len(length) != _LENGTH.size:
        raise _Malformed("the file ends inside the header's length")
    (length,) = _LENGTH.unpack(length)
    text = f.read(length)
    if len(text) != length:
        raise _Malformed(f"the header should have {length} bytes, the file has {len(text)}")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _Malformed(f"the header is not valid JSON ({err})") from None
    if not isinstance(header, dict) or header.get("format") != "multigrad":
        raise _Malformed("the header does not say 'format': 'multigrad'")
    if header.get("version") != VERSION:
        raise _Malformed(f"format version {header.get('version')!r}; this multigrad reads "
                         f"version {VERSION}")
    if not isinstance(header.get("tensors"), list) or "tree" not in header:
        raise _Malformed("the header lacks 'tree' or its list of 'tensors'")
    paths: dict = {}
    _tensor_paths(header["tree"], (), paths)
    entries = header["tensors"]
    if sorted(paths) != list(range(len(entries))):
        raise _Malformed(f"the tree refers to tensors {sorted(paths)}, the header lists "
                         f"{len(entries)}")
    for index, entry in enumerate(entries):
        _check_entry(entry, index, paths)
    return header, paths


def _target(entry: dict, device: Device | None, path: tuple) -> Device:
    if device is not None:
        return device
    try:
        return get_device(entry["device"])
    except DeviceError as err:
        raise DeviceError(f"load: tensor {_where(path)} was saved on {entry['device']!r}, "
                          f"which is not available here ({err}); pass device=... to load it "
                          "elsewhere") from None


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
    DeviceError
        The device (asked for, or saved from) is not available here.
    ValueError
        The file is not a multigrad file, or is damaged; the message names the key and what
        was expected.
    """
    name = os.fspath(path)
    if device is not None:
        try:
            device = get_device(device)
        except DeviceError as err:
            raise DeviceError(f"load: cannot load onto device {device!r}: {err}") from None
    with open(name, "rb") as f:
        try:
            header, paths = _read_header(f)
            entries = header["tensors"]
            targets = [_target(e, device, paths[i]) for i, e in enumerate(entries)]
            tensors = []
            for index, (entry, target) in enumerate(zip(entries, targets)):
                expected = _nbytes(entry)
                buffer = f.read(expected)
                if len(buffer) != expected:
                    raise _Malformed(f"tensor {_where(paths[index])}: expected {expected} bytes "
                                     f"of {entry['dtype']} data for shape "
                                     f"{tuple(entry['shape'])}, the file has {len(buffer)} "
                                     "(it is truncated)")
                data = from_le_bytes(target, buffer, entry["dtype"], tuple(entry["shape"]))
                t = Tensor(data, target)
                tensors.append(t.requires_grad_() if entry.get("requires_grad") else t)
            rest = len(f.read())
            if rest:
                raise _Malformed(f"{rest} unexpected byte(s) after the last tensor")
        except _Malformed as err:
            raise ValueError(f"load: {name} is malformed: {err}") from None
    return _decode(header["tree"], tensors)
