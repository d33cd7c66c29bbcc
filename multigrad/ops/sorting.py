"""Sorting functions of the array API standard.

Primitives: sort, argsort.

``sort`` is differentiable: each output element is an input element, so the cotangent goes
back through the permutation (gathered with the inverse permutation, ``argsort`` of the
permutation, rather than scattered, so the rule runs in both namespaces). Tied values get the
cotangent of the position the (stable) sort put them in: the one-sided derivative along the
directions that keep that order (central differences, which average the two sides, would
split a tie evenly, as ``max`` does). Piecewise linear: second derivatives are 0.
``argsort`` returns indices: no gradient. Complex numbers have no order in the standard (NumPy
sorts them lexicographically): sort's rules refuse them.
"""

from __future__ import annotations

from ..autograd import defprimitive
from ._helpers import real_forward, real_only

__all__ = ["sort", "argsort"]


def _sort_order(xp, x, axis, descending, stable):
    """The permutation ``sort`` applied: ``sorted = take_along_axis(x, order)``."""
    real_only("sort", x)
    return xp.argsort(x, axis=axis, descending=descending, stable=stable)


def _sort_vjp(xp, g, ans, x, axis, descending, stable):
    order = _sort_order(xp, x, axis, descending, stable)
    # x[order[k]] landed at position k, so x[j] gets g[inverse[j]] with inverse = argsort(order)
    inverse = xp.argsort(order, axis=axis)
    return xp.take_along_axis(g, inverse, axis=axis)


def _sort_jvp(xp, t, ans, x, axis, descending, stable):
    return xp.take_along_axis(t, _sort_order(xp, x, axis, descending, stable), axis=axis)


sort_p = defprimitive(
    "sort",
    forward=real_forward("sort", lambda xp, x, axis, descending, stable: xp.sort(
        x, axis=axis, descending=descending, stable=stable)),
    vjp=(_sort_vjp,),
    jvp=(_sort_jvp,),
)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    """``x`` sorted along ``axis``; the gradient flows back through the permutation."""
    return sort_p(x, axis=axis, descending=descending, stable=stable)


argsort_p = defprimitive(
    "argsort",
    forward=lambda xp, x, axis, descending, stable: xp.argsort(
        x, axis=axis, descending=descending, stable=stable),
)


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    """The indices that sort ``x`` along ``axis`` (no gradient)."""
    return argsort_p(x, axis=axis, descending=descending, stable=stable)
