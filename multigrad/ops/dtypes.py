"""Data type functions of the array API standard, on multigrad's ``DType`` objects.

Functions: can_cast, finfo, iinfo, isdtype, result_type (``astype`` lives in ``manipulation``).

They take multigrad dtypes (``multigrad.float32``), any backend's dtype of a standard name,
tensors and raw backend arrays (their dtype), and, in ``result_type``, Python scalars. The
promotion lattice is the standard's only: no promotion across kinds (int with float, bool with
anything else), and ``uint64`` with a signed integer has no result. Python scalars promote
"weakly": they take the dtype of the arrays they meet, provided its kind can hold them (a bool
only with bool, an int with integer or floating dtypes, a float with floating ones, a complex
with floating ones, turning a real floating dtype complex).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..autograd import Tensor
from ..backends import DTYPES, DType, as_dtype, is_array

__all__ = ["can_cast", "finfo", "iinfo", "isdtype", "result_type"]

_KIND_GROUPS = {
    "bool": ("bool",),
    "signed integer": ("signed integer",),
    "unsigned integer": ("unsigned integer",),
    "integral": ("signed integer", "unsigned integer"),
    "real floating": ("real floating",),
    "complex floating": ("complex floating",),
    "numeric": ("signed integer", "unsigned integer", "real floating", "complex floating"),
}

_SCALARS = (bool, int, float, complex)


def _dtype_of(x, what: str) -> DType:
    """A ``DType`` from a dtype (any library's), a tensor or a backend array."""
    if isinstance(x, Tensor):
        return x.dtype
    try:
        return as_dtype(x)
    except TypeError:
        pass
    # a backend array (not a dtype-like type such as numpy.float32, which also has .dtype)
    if not isinstance(x, type) and is_array(x):
        return as_dtype(x.dtype)
    raise TypeError(f"{what}: expected a dtype or an array, got {type(x).__name__} {x!r}")


def _named(kind: str, bits: int) -> DType:
    return next(d for d in DTYPES.values() if d.kind == kind and d.bits == bits)


def _promote(a: DType, b: DType) -> DType:
    """The standard's promotion of two dtypes; TypeError where it defines none."""
    if a is b:
        return a
    kinds = {a.kind, b.kind}
    if len(kinds) == 1 and a.kind != "bool":
        return a if a.bits >= b.bits else b
    if kinds == {"signed integer", "unsigned integer"}:
        signed, unsigned = (a, b) if a.kind == "signed integer" else (b, a)
        if signed.bits > unsigned.bits:
            return signed
        if unsigned.bits < 64:  # the smallest signed type that holds both
            return _named("signed integer", 2 * unsigned.bits)
    if kinds == {"real floating", "complex floating"}:
        real, cplx = (a, b) if a.kind == "real floating" else (b, a)
        return _named("complex floating", max(cplx.bits, 2 * real.bits))
    raise TypeError(f"{a.name} and {b.name} do not promote to a common dtype under the array "
                    "API standard's rules (convert one with astype)")


def _promote_scalar(dtype: DType, s) -> DType:
    """Where a Python scalar meets an array of ``dtype``: the result's dtype."""
    kind = dtype.kind
    if isinstance(s, bool):
        if kind != "bool":
            raise TypeError(f"a Python bool only promotes with bool arrays, not {dtype.name}")
        return dtype
    if isinstance(s, int):
        if kind == "bool":
            raise TypeError("a Python int does not promote with bool arrays")
        if kind in _KIND_GROUPS["integral"]:
            info = iinfo(dtype)
            if not info.min <= s <= info.max:
                raise OverflowError(f"the Python int {s} is out of the bounds of {dtype.name}")
        return dtype
    if kind not in ("real floating", "complex floating"):
        raise TypeError(f"a Python {type(s).__name__} only promotes with floating-point arrays, "
                        f"not {dtype.name}")
    if isinstance(s, complex) and kind == "real floating":
        return _named("complex floating", 2 * dtype.bits)
    return dtype


def result_type(*arrays_and_dtypes):
    """The dtype that results from applying the standard's promotion rules to the arguments."""
    dtypes, scalars = [], []
    for a in arrays_and_dtypes:
        if isinstance(a, _SCALARS):
            scalars.append(a)
        else:
            dtypes.append(_dtype_of(a, "result_type"))
    if not dtypes:
        raise ValueError("result_type: at least one array or dtype is required")
    result = dtypes[0]
    for d in dtypes[1:]:
        result = _promote(result, d)
    for s in scalars:
        result = _promote_scalar(result, s)
    return result


def can_cast(from_, to, /):
    """Whether ``from_`` (a dtype or an array) casts to ``to`` under the promotion rules."""
    source, target = _dtype_of(from_, "can_cast"), _dtype_of(to, "can_cast")
    try:
        return _promote(source, target) is target
    except TypeError:
        return False


def isdtype(dtype, kind):
    """Whether ``dtype`` is of ``kind``: a dtype, a kind name ("integral"...) or a tuple."""
    dtype = _dtype_of(dtype, "isdtype")
    if isinstance(kind, tuple):
        if any(isinstance(k, tuple) for k in kind):
            raise TypeError("isdtype: kind may be a tuple of dtypes and kind names, not nested")
        return any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str) and kind not in DTYPES:
        if kind not in _KIND_GROUPS:
            raise ValueError(f"isdtype: unknown kind {kind!r}; expected one of "
                             f"{', '.join(map(repr, _KIND_GROUPS))} or a dtype")
        return dtype.kind in _KIND_GROUPS[kind]
    return dtype is _dtype_of(kind, "isdtype")


@dataclass(frozen=True)
class finfo_object:
    """Machine limits of a floating-point dtype (what ``finfo`` returns)."""

    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: DType


@dataclass(frozen=True)
class iinfo_object:
    """Machine limits of an integer dtype (what ``iinfo`` returns)."""

    bits: int
    max: int
    min: int
    dtype: DType


# IEEE 754 binary32 and binary64: (mantissa bits, largest exponent)
_IEEE = {32: (23, 127), 64: (52, 1023)}


def finfo(type, /):
    """Limits of a floating-point dtype; for a complex dtype, of its real component's dtype."""
    dtype = _dtype_of(type, "finfo")
    if dtype.kind not in ("real floating", "complex floating"):
        raise TypeError(f"finfo: {dtype.name} is not a floating-point dtype (use iinfo)")
    bits = dtype.bits if dtype.kind == "real floating" else dtype.bits // 2
    mantissa, max_exp = _IEEE[bits]
    largest = (2.0 - 2.0 ** -mantissa) * 2.0 ** max_exp
    return finfo_object(bits=bits, eps=2.0 ** -mantissa, max=largest, min=-largest,
                        smallest_normal=2.0 ** (1 - max_exp),
                        dtype=_named("real floating", bits))


def iinfo(type, /):
    """Limits of an integer dtype."""
    dtype = _dtype_of(type, "iinfo")
    if dtype.kind == "signed integer":
        return iinfo_object(dtype.bits, 2 ** (dtype.bits - 1) - 1, -2 ** (dtype.bits - 1), dtype)
    if dtype.kind == "unsigned integer":
        return iinfo_object(dtype.bits, 2 ** dtype.bits - 1, 0, dtype)
    raise TypeError(f"iinfo: {dtype.name} is not an integer dtype (use finfo)")
