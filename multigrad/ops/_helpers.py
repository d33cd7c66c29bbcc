"""Helpers shared by the rules of several op families.

Each works in both namespaces a rule runs in: on raw backend arrays with the backend's ``xp``,
and on multigrad tensors with multigrad's namespace (where it records).
"""

from __future__ import annotations

import functools

from array_api_compat import device as array_device

from ..autograd import Tensor
from ..backends import as_dtype, device_of, is_lazy_array, same_shape

__all__ = ["array_device", "assigned", "reshaped", "is_tensor", "is_complex", "conj_if",
           "refuse_complex", "real_forward", "real_only", "const_like", "held", "native_dtype",
           "normalize_axis", "run", "sigmoid",
           "where_or_zero", "where_positive"]


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


# (type of dtype, dtype) -> whether it is complex: the rules ask on every call, and a backend's
# dtype is compared only with its own library's (a strict dtype meeting a NumPy one would warn)
_COMPLEX_DTYPES: dict = {}


def is_complex(a) -> bool:
    """Whether ``a`` (an array, a tensor or a Python scalar) holds complex numbers."""
    if isinstance(a, (int, float)):
        return False
    if isinstance(a, complex):
        return True
    dtype = a.dtype
    key = type(dtype), dtype
    known = _COMPLEX_DTYPES.get(key)
    if known is None:
        known = _COMPLEX_DTYPES[key] = as_dtype(dtype).kind == "complex floating"
    return known


def conj_if(xp, a, complex_: bool):
    """``conj(a)`` where the rule works on complex numbers, ``a`` itself otherwise (no copy,
    and no node under ``create_graph``)."""
    return xp.conj(a) if complex_ else a


def refuse_complex(op: str, arrays) -> None:
    """Raise TypeError naming ``op``, a function the standard defines for real numbers only,
    when one of ``arrays`` is complex: backends answer such input with an error that names
    no op (NumPy's "ufunc not supported", array-api-strict's "Only real numeric dtypes") or
    with a value (NumPy orders complex numbers lexicographically in ``maximum``), which
    would be silently wrong."""
    for a in arrays:
        if a is not None and is_complex(a):
            raise TypeError(f"{op}: complex input is not supported: {op} is defined for real "
                            "numbers only (and so is its derivative); apply it to mg.real(z), "
                            "mg.imag(z) or mg.abs(z)")


def real_forward(op: str, forward, real_kernel: str | None = None):
    """``forward(xp, *arrays, **params)`` of ``op``, a function of real numbers, refusing
    complex input (``refuse_complex``). Its signature stays ``forward``'s
    (``inspect.signature`` follows ``__wrapped__``). ``real_kernel``: the namespace function
    ``forward`` equals on real input, which a compiled step calls in its place."""
    @functools.wraps(forward)
    def checked(xp, *arrays, **params):
        refuse_complex(op, arrays)
        return forward(xp, *arrays, **params)
    checked.real_kernel = real_kernel
    return checked


def real_only(op: str, a) -> None:
    """Raise TypeError naming ``op`` when ``a`` is complex: called by the derivative rules of
    the ops the array API standard defines for real numbers only (orderings, ``atan2``,
    activations), which have no complex derivative; a silent value would be wrong."""
    if is_complex(a):
        raise TypeError(f"{op}: no derivative for complex input ({as_dtype(a.dtype).name}): "
                        f"{op} is defined for real numbers only (it orders or splits them); "
                        "apply it to mg.real(z), mg.imag(z) or mg.abs(z) instead")


def const_like(xp, value, like):
    """A 0-d array holding ``value`` with the dtype and device of ``like``."""
    return xp.asarray(value, dtype=like.dtype, device=array_device(like))


def reshaped(xp, a, shape):
    """``xp.reshape(a, shape)``; ``a`` itself where it has that shape, and by indexing on a
    lazy (Dask) array where the reshape only adds or drops axes of length 1: Dask cannot
    reshape a size unknown until computed (nan, after a mask), and rechunks for a reshape
    that indexing does without."""
    shape = tuple(shape)
    if same_shape(tuple(a.shape), shape):
        return a
    if not (a.device.lazy if isinstance(a, Tensor) else is_lazy_array(a)):
        return xp.reshape(a, shape)
    if not same_shape(tuple(n for n in a.shape if n != 1), tuple(n for n in shape if n != 1)):
        return xp.reshape(a, shape)  # not a matter of length-1 axes: the library says why
    squeezed = a[tuple(0 if n == 1 else slice(None) for n in a.shape)]
    return squeezed[tuple(None if n == 1 else slice(None) for n in shape)]


def assigned(x, key, value):
    """``x`` with ``x[key] = value``, for an ``x`` nobody else holds: in place on a tensor
    (recording) and on a mutable array, a new array where arrays are immutable (JAX)."""
    if isinstance(x, Tensor):
        x[key] = value
        return x
    return device_of(x).assign(x, key, value)


def held(a):
    """``a``'s values with no derivative: a tensor without history (a raw array as it is).

    For a factor whose derivative a convention sets to 0 on some region, so that the second
    derivatives of a rule stay consistent with its first.
    """
    return a.detach() if isinstance(a, Tensor) else a


def run(prim, xp, *args, **params):
    """Call ``prim`` on tensors (recording) or run its forward on raw arrays, so a rule can use
    another primitive with the same text in both namespaces."""
    if any(isinstance(a, Tensor) for a in args):
        return prim(*args, **params)
    return prim.forward(xp, *args, **params)


def sigmoid(xp, x):
    """``1 / (1 + exp(-x))`` without overflow, differentiable at every ``x`` (0 included).

    Each branch exponentiates a number that is never positive; ``where(x >= 0, -x, x)`` rather
    than ``-abs(x)``, whose subgradient 0 at 0 would lose the derivative there.
    """
    nonnegative = x >= 0
    e = xp.exp(xp.where(nonnegative, -x, x))
    return xp.where(nonnegative, 1 / (1 + e), e / (1 + e))


def normalize_axis(axis, ndim: int, op: str = "") -> tuple[int, ...]:
    """``axis`` (None, int or tuple, negative allowed) as a sorted tuple of non-negative axes;
    a 0-d array takes axis 0 or -1 (as NumPy's reductions do), both read as 0. The errors
    begin with ``op``'s name where one is given."""
    where = f"{op}: " if op else ""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{where}axis {a} is out of range for an array of {ndim} "
                             "dimension(s)")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{where}axis {axis} repeats an axis")
    return tuple(sorted(out))


def reduced_axes(axis, ndim: int, op: str) -> tuple[int, ...]:
    """``normalize_axis`` for an op that reduces or drops axes, where a 0-d array's axis 0
    (or -1) names the array itself, as NumPy's reductions and ``squeeze`` take it: no axis."""
    axes = normalize_axis(axis, ndim, op)
    return axes if ndim else ()


def library_axis(x, axis, op: str):
    """``axis`` of a reduction of ``x`` as every library takes it: a 0-d array's axis 0 or -1
    (the array itself, as NumPy's reductions read it; JAX and Dask refuse it) becomes None;
    any other axis of a 0-d array is refused with ``op``'s name."""
    if axis is None or x.ndim:
        return axis
    normalize_axis(axis, 0, op)
    return None


def native_dtype(xp, dtype):
    """``dtype`` (any spelling) as namespace ``xp``'s own dtype object; None stays None."""
    return None if dtype is None else getattr(xp, as_dtype(dtype).name)


def where_or_zero(xp, mask, values):
    """``xp.where(mask, values, 0.0)``: on raw arrays by the device's fastest way to it (see
    ``Device.where_or_zero``), on tensors by ``where`` itself, which records."""
    if isinstance(values, Tensor):
        return xp.where(mask, values, 0.0)
    return device_of(values).where_or_zero(mask, values)


def where_positive(xp, x, values):
    """``xp.where(x > 0, values, 0.0)``: on raw arrays by the device's fastest way to it (see
    ``Device.where_positive``), on tensors by ``where`` itself, which records."""
    if isinstance(values, Tensor):
        return xp.where(x > 0, values, 0.0)
    return device_of(values).where_positive(x, values)
