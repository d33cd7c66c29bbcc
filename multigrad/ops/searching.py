"""Searching functions of the array API standard.

Primitives: where, argmax, argmin, nonzero, searchsorted, count_nonzero.

Only ``where`` is differentiable: it routes the cotangent to the selected branch. The others
return indices or counts, which carry no gradient (their results never require one).

To keep a masked singular point (``where(x > 0, sqrt(x), 0)`` at ``x <= 0``) from turning into
``inf * 0 = nan`` in backward, also sanitise the dangerous branch's input:
``where(x > 0, sqrt(where(x > 0, x, 1)), 0)`` (the "double where").
"""

from __future__ import annotations

from ..autograd import _record, defprimitive
from ..backends import device_of
from ._helpers import library_axis, where_or_zero

__all__ = ["where", "argmax", "argmin", "nonzero", "searchsorted", "count_nonzero"]

def _where(xp, condition, x1, x2):
    # where(mask, values, 0) on floating values, as every masking rule and a ReLU spelled
    # with where write it: by the device's fastest way to it (NumPy's where branches on
    # every element, about 7x slower on a mask no branch predictor learns)
    if type(x2) in (int, float) and x2 == 0 and hasattr(x1, "dtype"):
        device = device_of(x1)
        if x1.dtype in device.grad_dtypes:
            return device.where_or_zero(condition, x1)
    return xp.where(condition, x1, x2)


where_p = defprimitive(
    "where",
    forward=_where,
    vjp=(None,
         lambda xp, g, ans, condition, x1, x2: where_or_zero(xp, condition, g),
         lambda xp, g, ans, condition, x1, x2: where_or_zero(xp, xp.logical_not(condition), g)),
    jvp=(None,
         lambda xp, t, ans, condition, x1, x2: where_or_zero(xp, condition, t),
         lambda xp, t, ans, condition, x1, x2: where_or_zero(xp, xp.logical_not(condition), t)),
)


def where(condition, x1, x2, /):
    """Elements of ``x1`` where ``condition`` is true, else of ``x2`` (all broadcast)."""
    return where_p(condition, x1, x2)


argmax_p = defprimitive(
    "argmax",
    forward="argmax",
)

argmin_p = defprimitive(
    "argmin",
    forward="argmin",
)


def argmax(x, /, *, axis=None, keepdims=False):
    """Index of the (first) maximum of ``x`` along ``axis`` (of the flattened array if None)."""
    return argmax_p(x, axis=library_axis(x, axis, "argmax"), keepdims=keepdims)


def argmin(x, /, *, axis=None, keepdims=False):
    """Index of the (first) minimum of ``x`` along ``axis`` (of the flattened array if None)."""
    return argmin_p(x, axis=library_axis(x, axis, "argmin"), keepdims=keepdims)


nonzero_p = defprimitive(
    "nonzero",
    forward=lambda xp, x: tuple(xp.nonzero(x)),
    multi_output=True,
)


def nonzero(x, /):
    """Indices of the non-zero elements of ``x``: one index array per dimension."""
    _record.data_dependent("nonzero")
    return nonzero_p(x)


searchsorted_p = defprimitive(
    "searchsorted",
    forward=lambda xp, x1, x2, sorter, side: xp.searchsorted(x1, x2, side=side, sorter=sorter),
)


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    """Indices where the elements of ``x2`` would be inserted into the sorted 1-D ``x1``."""
    return searchsorted_p(x1, x2, sorter, side=side)


def _count_nonzero(xp, x, axis, keepdims):
    # over no axis each element counts itself: array-api-compat's torch namespace silently
    # counts every element there
    if axis == ():
        return xp.astype(x != 0, xp.int64)
    return xp.count_nonzero(x, axis=axis, keepdims=keepdims)


count_nonzero_p = defprimitive(
    "count_nonzero",
    forward=_count_nonzero,
)


def count_nonzero(x, /, *, axis=None, keepdims=False):
    """Number of non-zero elements of ``x`` over ``axis`` (all axes if None)."""
    return count_nonzero_p(x, axis=library_axis(x, axis, "count_nonzero"), keepdims=keepdims)
