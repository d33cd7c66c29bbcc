"""Utility functions of the array API standard.

Primitives: all, any (truth tests: no gradient), diff.

``diff`` is linear in ``x``, ``prepend`` and ``append`` jointly (it differences their
concatenation), so each argument's tangent is the op applied to that tangent with zeros in the
other arguments' places, and the VJP is the adjoint difference: the n-th difference's transpose
is ``(-1)**n`` times n differences of the cotangent padded with a zero at each end, split back
into the three pieces.
"""

from __future__ import annotations

from ..autograd import defprimitive
from ._helpers import array_device, library_axis

__all__ = ["all", "any", "diff"]

all_p = defprimitive(
    "all",
    forward="all",
)

any_p = defprimitive(
    "any",
    forward="any",
)


def all(x, /, *, axis=None, keepdims=False):
    """Whether every element of ``x`` over ``axis`` is true (non-zero)."""
    return all_p(x, axis=library_axis(x, axis, "all"), keepdims=keepdims)


def any(x, /, *, axis=None, keepdims=False):
    """Whether some element of ``x`` over ``axis`` is true (non-zero)."""
    return any_p(x, axis=library_axis(x, axis, "any"), keepdims=keepdims)


def _edge_zeros(xp, g, axis):
    """Zeros of ``g``'s shape with length 1 along ``axis``."""
    shape = tuple(1 if k == axis else n for k, n in enumerate(g.shape))
    return xp.zeros(shape, dtype=g.dtype, device=array_device(g))


def _concat_cotangent(xp, g, axis, n):
    """The cotangent of the concatenation (prepend, x, append) that ``diff`` differences."""
    axis = axis % g.ndim
    for _ in range(n):
        # first difference y[k] = z[k+1] - z[k] has transpose z[j] = g[j-1] - g[j]
        edge = _edge_zeros(xp, g, axis)
        g = -_diff_forward(xp, g, edge, edge, axis, 1)
    return g


def _piece(g, axis, start, stop):
    axis = axis % g.ndim
    # name every axis (Ellipsis for the rest): array_api_strict refuses shorter keys
    return g[(slice(None),) * axis + (slice(start, stop), Ellipsis)]


def _length(a, axis):
    return 0 if a is None else a.shape[axis]


def _diff_vjp_x(xp, g, ans, x, prepend, append, axis, n):
    start = _length(prepend, axis)
    return _piece(_concat_cotangent(xp, g, axis, n), axis, start, start + x.shape[axis])


def _diff_vjp_prepend(xp, g, ans, x, prepend, append, axis, n):
    return _piece(_concat_cotangent(xp, g, axis, n), axis, 0, prepend.shape[axis])


def _diff_vjp_append(xp, g, ans, x, prepend, append, axis, n):
    full = _concat_cotangent(xp, g, axis, n)
    stop = full.shape[axis % full.ndim]
    return _piece(full, axis, stop - append.shape[axis], stop)


def _zeros_or_none(xp, a):
    return None if a is None else xp.zeros_like(a)


def _diff_forward(xp, x, prepend, append, axis, n):
    # pass the ends only when given: NumPy's diff would take None as a value to prepend
    ends = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}
    return xp.diff(x, axis=axis, n=n, **ends)


diff_p = defprimitive(
    "diff",
    forward=_diff_forward,
    vjp=(_diff_vjp_x, _diff_vjp_prepend, _diff_vjp_append),
    # jointly linear: each argument's tangent with zeros in the others' places
    jvp=(lambda xp, t, ans, x, prepend, append, axis, n: _diff_forward(
             xp, t, _zeros_or_none(xp, prepend), _zeros_or_none(xp, append), axis, n),
         lambda xp, t, ans, x, prepend, append, axis, n: _diff_forward(
             xp, xp.zeros_like(x), t, _zeros_or_none(xp, append), axis, n),
         lambda xp, t, ans, x, prepend, append, axis, n: _diff_forward(
             xp, xp.zeros_like(x), _zeros_or_none(xp, prepend), t, axis, n)),
)


def diff(x, /, *, axis=-1, n=1, prepend=None, append=None):
    """The ``n``-th forward difference of ``x`` along ``axis``, after adding ``prepend``
    and ``append`` at the ends."""
    return diff_p(x, prepend, append, axis=axis, n=n)
