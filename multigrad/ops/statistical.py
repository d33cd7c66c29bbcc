"""Statistical functions (reductions) of the array API standard.

Primitives: sum, ...

Conventions: ``axis`` is None, an int or a tuple; rules expand the cotangent back over the
reduced axes, then broadcast. Ties in max/min split the cotangent evenly.
"""

from __future__ import annotations

import builtins

from ..autograd import LINEAR, defprimitive
from ._helpers import native_dtype, normalize_axis

__all__ = ["sum"]


def expand_reduced(xp, g, x_shape, axis, keepdims):
    """Broadcast a reduction's cotangent ``g`` back to the input's shape ``x_shape``."""
    if not keepdims:
        axes = normalize_axis(axis, len(x_shape))
        g = xp.reshape(g, tuple(1 if k in axes else n for k, n in enumerate(x_shape)))
    return xp.broadcast_to(g, x_shape)


sum_p = defprimitive(
    "sum",
    forward=lambda xp, x, axis, dtype, keepdims: xp.sum(
        x, axis=axis, dtype=native_dtype(xp, dtype), keepdims=keepdims),
    vjp=(lambda xp, g, ans, x, axis, dtype, keepdims:
         expand_reduced(xp, g, x.shape, axis, keepdims),),
    jvp=(LINEAR,),
)


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    """Sum of the elements of ``x`` over ``axis`` (all axes if None)."""
    return sum_p(x, axis=axis, dtype=dtype, keepdims=keepdims)
