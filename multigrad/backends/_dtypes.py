"""multigrad's dtype objects: one set shared by every backend.

Each backend has its own dtype objects (``numpy.float32``, ``array_api_strict.float32``...), so
multigrad names dtypes with its own singletons and translates at the boundary. A ``DType``
compares equal to any backend dtype of the same name, so ``t.dtype == numpy.float32`` holds.
"""

from __future__ import annotations

__all__ = ["DType", "DTYPES", "as_dtype", "dtype_name"]


class DType:
    """A data type of the array API standard (``multigrad.float32`` and friends)."""

    __slots__ = ("name", "kind", "bits")

    def __init__(self, name: str, kind: str, bits: int):
        self.name = name
        self.kind = kind  # "bool", "signed integer", "unsigned integer", "real floating", "complex floating"
        self.bits = bits

    def __repr__(self) -> str:
        return f"multigrad.{self.name}"

    __str__ = __repr__

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self is other
        return dtype_name(other) == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self):
        return (as_dtype, (self.name,))


_KINDS = {
    "bool": ("bool", 8),
    "int8": ("signed integer", 8),
    "int16": ("signed integer", 16),
    "int32": ("signed integer", 32),
    "int64": ("signed integer", 64),
    "uint8": ("unsigned integer", 8),
    "uint16": ("unsigned integer", 16),
    "uint32": ("unsigned integer", 32),
    "uint64": ("unsigned integer", 64),
    "float32": ("real floating", 32),
    "float64": ("real floating", 64),
    "complex64": ("complex floating", 64),
    "complex128": ("complex floating", 128),
}

DTYPES: dict[str, DType] = {name: DType(name, kind, bits) for name, (kind, bits) in _KINDS.items()}


def dtype_name(dtype) -> str | None:
    """The standard's name of a backend dtype, type or string (``None`` if it has none)."""
    if isinstance(dtype, DType):
        return dtype.name
    if isinstance(dtype, str):
        return dtype if dtype in DTYPES else None
    # numpy/cupy dtypes have .name, numpy scalar types (numpy.float32) __name__; others print
    # as "library.float32" (array_api_strict, torch)
    for name in (getattr(dtype, "name", None), getattr(dtype, "__name__", None),
                 str(dtype).rsplit(".", 1)[-1]):
        if isinstance(name, str) and name in DTYPES:
            return name
    return None


# keyed by (type, dtype): a strict dtype compared with a numpy one would warn
_AS_DTYPE: dict = {}


def as_dtype(dtype) -> DType:
    """multigrad's ``DType`` for a backend dtype, a dtype name or a ``DType``."""
    if isinstance(dtype, DType):
        return dtype
    try:
        return _AS_DTYPE[type(dtype), dtype]
    except (KeyError, TypeError):  # not seen yet, or unhashable
        pass
    name = dtype_name(dtype)
    if name is None:
        raise TypeError(f"{dtype!r} is not a data type of the array API standard "
                        f"(expected one of {', '.join(DTYPES)})")
    if not isinstance(dtype, str):
        _AS_DTYPE[type(dtype), dtype] = DTYPES[name]
    return DTYPES[name]
