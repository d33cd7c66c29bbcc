"""Helpers shared by the rules of several op families.

Each works in both namespaces a rule runs in: on raw backend arrays with the backend's ``xp``,
and on multigrad tensors with multigrad's namespace (where it records).
"""

from __future__ import annotations

from array_api_compat import device as array_device

from ..autograd import Tensor
from ..backends import as_dtype, device_of, is_lazy_array, same_shape

__all__ = ["array_device", "assigned", "reshaped", "is_tensor", "const_like", "held", "native_dtype", "normalize_axis", "run", "sigmoid",
           "where_or_zero", "where_positive"]


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


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


def normalize_axis(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, int or tuple, negative allowed) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for an array of {ndim} dimension(s)")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"axis {axis} repeats an axis")
    return tuple(sorted(out))


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
