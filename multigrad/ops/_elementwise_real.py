"""The elementwise functions the array API standard defines for real numbers only, with
derivatives: remainder, floor_divide, logaddexp, atan2, hypot, maximum, minimum, clip,
copysign (``elementwise`` re-exports them, with its own rounding functions, which use
``named_real_forward``, ``zero_vjp`` and ``zero_jvp`` from here).

Complex input has no derivative here: each forward refuses it with an error naming the op and
complex numbers where the backend refuses it, and the rules of ``maximum``, ``minimum`` and
``clip`` refuse it where the backend orders complex numbers (NumPy, lexicographically).

Special points (see ``elementwise`` for the conventions they follow):

- ``maximum``, ``minimum`` and ``clip`` (which is ``minimum(maximum(x, min), max)``) split the
  cotangent evenly at ties, half to each side (central differences agree);
- ``atan2`` and ``hypot`` at the origin: 0; ``atan2`` across its branch cut (``x1 = 0``,
  ``x2 < 0``) the derivative of the continuous angle, ``(x2 dx1 - x1 dx2) / (x1**2 + x2**2)``;
- ``logaddexp``: wrt ``x1``, ``sigmoid(x1 - x2)`` (exactly 1/2 at ties, with second derivative
  1/4 there); an infinite argument takes the limit (1 or 0), and two equal infinities are a tie;
- ``remainder``: 1 wrt ``x1``, ``-floor_divide(x1, x2)`` wrt ``x2``; ``copysign`` wrt ``x1``:
  0 at ``x1 == 0``, wrt ``x2``: 0; ``floor_divide``: 0, and ``x1 / x2`` at an infinite
  operand, as the standard says (NumPy follows Python's ``//`` there).
"""

from __future__ import annotations

import math

from array_api_compat import is_numpy_namespace

from ..autograd import defprimitive
from ._helpers import const_like, real_forward, real_only, refuse_complex, sigmoid, where_or_zero

__all__ = ["atan2", "clip", "copysign", "floor_divide", "hypot", "logaddexp", "maximum",
           "minimum", "remainder"]

_PY_SCALARS = (int, float)


# -- declaration helpers -----------------------------------------------------------------------

def zero_vjp(xp, g, ans, *arrays):
    return xp.zeros_like(g)


def zero_jvp(xp, t, ans, *arrays):
    return xp.zeros_like(t)


def named_real_forward(name, arity):
    """The namespace's ``name``, a function of ``arity`` arrays that the standard defines for
    real numbers only, refusing complex input (``refuse_complex``): one Python frame, with
    the op's own signature; a compiled step calls the namespace's function itself."""
    if arity == 1:
        def forward(xp, x):
            refuse_complex(name, (x,))
            return getattr(xp, name)(x)
    else:
        def forward(xp, x1, x2):
            refuse_complex(name, (x1, x2))
            return getattr(xp, name)(x1, x2)
    forward.__name__ = forward.__qualname__ = name
    forward.real_kernel = name
    return forward


def _remainder_x2(xp, g, ans, x1, x2):
    # remainder = x1 - x2 * floor(x1 / x2); the floor is piecewise constant
    return -g * xp.floor_divide(x1, x2)


remainder = defprimitive(
    "remainder",
    forward=named_real_forward("remainder", 2),
    vjp=(lambda xp, g, ans, x1, x2: g, _remainder_x2),
    jvp=(lambda xp, t, ans, x1, x2: t, _remainder_x2),
    doc="Elementwise remainder of ``x1 / x2``, with the sign of ``x2`` (Python's ``%``).",
)


def _nonfinite(xp, a, sync: bool):
    """Where ``a`` (an array or a Python scalar) is not finite: None when it is known finite
    throughout (a scalar or a non-floating array; with ``sync``, a floating array found so by
    one reduction read to the host), True for an infinite or nan scalar."""
    if isinstance(a, (int, float)):
        return None if math.isfinite(a) else True
    if not xp.isdtype(a.dtype, "real floating"):
        return None
    finite = xp.isfinite(a)
    return None if sync and bool(xp.all(finite)) else xp.logical_not(finite)


def _floor_divide(xp, x1, x2):
    out = xp.floor_divide(x1, x2)
    # NumPy and CuPy follow Python's // at an infinite operand (inf // 2 is nan, 1 // -inf is
    # -1); the standard gives x1 / x2 there (+-inf, or a zero with the sign of the quotient).
    # On NumPy only inputs that hold an infinity or a nan pay for more than one check; where a
    # read to the host would wait for a GPU or compute a lazy array, the fix is selected
    # elementwise instead.
    sync = is_numpy_namespace(xp)
    masks = [m for m in (_nonfinite(xp, x1, sync), _nonfinite(xp, x2, sync)) if m is not None]
    if not masks:
        return out
    if any(m is True for m in masks):
        return xp.divide(x1, x2)
    mask = masks[0] if len(masks) == 1 else xp.logical_or(masks[0], masks[1])
    return xp.where(mask, xp.divide(x1, x2), out)


floor_divide = defprimitive(
    "floor_divide",
    forward=real_forward("floor_divide", _floor_divide),
    vjp=(zero_vjp, zero_vjp),
    jvp=(zero_jvp, zero_jvp),
    doc="Elementwise ``floor(x1 / x2)`` (Python's ``//``); zero gradient. An infinite operand "
        "gives ``x1 / x2``, as the standard says.",
)


def _logaddexp_share(xp, g, a, b, ans):
    # d/da log(e**a + e**b) = sigmoid(a - b): exactly 1/2 at a tie and differentiable there
    # (sigmoid' = 1/4), accurate however large a and b are. Equal infinities are the one point
    # where a - b breaks (inf - inf): a tie by the same convention, with safe inputs.
    if isinstance(b, _PY_SCALARS):
        b = const_like(xp, b, ans)
    same_infinity = xp.logical_and(a == b, xp.isinf(ans))
    difference = xp.where(same_infinity, 0.0, a) - xp.where(same_infinity, 0.0, b)
    return g * sigmoid(xp, difference)


logaddexp = defprimitive(
    "logaddexp",
    forward=named_real_forward("logaddexp", 2),
    vjp=(lambda xp, g, ans, x1, x2: _logaddexp_share(xp, g, x1, x2, ans),
         lambda xp, g, ans, x1, x2: _logaddexp_share(xp, g, x2, x1, ans)),
    jvp=(lambda xp, t, ans, x1, x2: _logaddexp_share(xp, t, x1, x2, ans),
         lambda xp, t, ans, x1, x2: _logaddexp_share(xp, t, x2, x1, ans)),
    doc="Elementwise ``log(exp(x1) + exp(x2))``, without overflow.",
)


def _over_radius_sq(xp, g, numerator, x1, x2):
    """``g * numerator / (x1**2 + x2**2)``, and 0 at the origin (safe denominator there)."""
    r2 = x1 * x1 + x2 * x2
    origin = r2 == 0
    return xp.where(origin, 0.0, g * numerator / xp.where(origin, 1.0, r2))


def _over_hypot(xp, g, x, ans):
    """``g * x / ans`` for hypot, and 0 at the origin."""
    origin = ans == 0
    return xp.where(origin, 0.0, g * x / xp.where(origin, 1.0, ans))


atan2 = defprimitive(
    "atan2",
    forward=named_real_forward("atan2", 2),
    # d atan2(y, x) = (x dy - y dx) / (x**2 + y**2)
    vjp=(lambda xp, g, ans, x1, x2: _over_radius_sq(xp, g, x2, x1, x2),
         lambda xp, g, ans, x1, x2: _over_radius_sq(xp, g, -x1, x1, x2)),
    jvp=(lambda xp, t, ans, x1, x2: _over_radius_sq(xp, t, x2, x1, x2),
         lambda xp, t, ans, x1, x2: _over_radius_sq(xp, t, -x1, x1, x2)),
    doc="Elementwise angle of the point ``(x2, x1)``, in ``[-pi, pi]``.",
)

hypot = defprimitive(
    "hypot",
    forward=named_real_forward("hypot", 2),
    vjp=(lambda xp, g, ans, x1, x2: _over_hypot(xp, g, x1, ans),
         lambda xp, g, ans, x1, x2: _over_hypot(xp, g, x2, ans)),
    jvp=(lambda xp, t, ans, x1, x2: _over_hypot(xp, t, x1, ans),
         lambda xp, t, ans, x1, x2: _over_hypot(xp, t, x2, ans)),
    doc="Elementwise ``sqrt(x1**2 + x2**2)``, without overflow.",
)


# -- maximum, minimum, clip, sign manipulation -------------------------------------------------

def _max_share(xp, g, a, b, op="maximum"):
    """The part of ``g`` that ``a`` gets in ``maximum(a, b)``: all where it wins, half at a tie.

    Two masked copies, each by the device's fastest where-or-zero, rather than a ``where``
    nested in a ``where``, which NumPy runs branching on every element (a ReLU spelled
    ``maximum(h, 0.0)`` would pay for it on every step). Complex numbers have no order in the
    standard (NumPy's maximum orders them lexicographically): ``op`` refuses them."""
    real_only(op, a)
    real_only(op, b)
    return where_or_zero(xp, a > b, g) + where_or_zero(xp, a == b, g * 0.5)


def _min_share(xp, g, a, b, op="minimum"):
    """The part of ``g`` that ``a`` gets in ``minimum(a, b)``: all where it wins, half at a tie
    (as ``_max_share``)."""
    real_only(op, a)
    real_only(op, b)
    return where_or_zero(xp, a < b, g) + where_or_zero(xp, a == b, g * 0.5)


maximum = defprimitive(
    "maximum",
    forward=named_real_forward("maximum", 2),
    vjp=(lambda xp, g, ans, x1, x2: _max_share(xp, g, x1, x2),
         lambda xp, g, ans, x1, x2: _max_share(xp, g, x2, x1)),
    jvp=(lambda xp, t, ans, x1, x2: _max_share(xp, t, x1, x2),
         lambda xp, t, ans, x1, x2: _max_share(xp, t, x2, x1)),
    doc="Elementwise larger of ``x1`` and ``x2``; a tie splits the gradient evenly.",
)

minimum = defprimitive(
    "minimum",
    forward=named_real_forward("minimum", 2),
    vjp=(lambda xp, g, ans, x1, x2: _min_share(xp, g, x1, x2),
         lambda xp, g, ans, x1, x2: _min_share(xp, g, x2, x1)),
    jvp=(lambda xp, t, ans, x1, x2: _min_share(xp, t, x1, x2),
         lambda xp, t, ans, x1, x2: _min_share(xp, t, x2, x1)),
    doc="Elementwise smaller of ``x1`` and ``x2``; a tie splits the gradient evenly.",
)


# clip(x, lo, hi) is minimum(maximum(x, lo), hi): each rule walks g back through those stages
def _clip_x(xp, g, ans, x, lo, hi):
    real_only("clip", x)
    if hi is not None:
        g = _min_share(xp, g, x if lo is None else xp.maximum(x, lo), hi, "clip")
    return g if lo is None else _max_share(xp, g, x, lo, "clip")


def _clip_lo(xp, g, ans, x, lo, hi):
    if hi is not None:
        g = _min_share(xp, g, xp.maximum(x, lo), hi, "clip")
    return _max_share(xp, g, lo, x, "clip")


def _clip_hi(xp, g, ans, x, lo, hi):
    return _min_share(xp, g, hi, x if lo is None else xp.maximum(x, lo), "clip")


clip_p = defprimitive(
    "clip",
    forward=real_forward("clip", lambda xp, x, lo, hi: xp.clip(x, min=lo, max=hi)),
    vjp=(_clip_x, _clip_lo, _clip_hi),
    jvp=(_clip_x, _clip_lo, _clip_hi),
)


def clip(x, /, min=None, max=None):
    """Clamp each element of ``x`` to ``[min, max]`` (a bound may be an array, scalar or None).

    The gradient reaches ``x`` inside the interval and a bound where it binds; at a tie
    (``x == min``) it is split evenly, as in ``minimum(maximum(x, min), max)``.
    """
    return clip_p(x, min, max)


def _copysign_x1(xp, g, ans, x1, x2):
    # copysign(x1, x2) = +-x1: -1 where the signs differ, and the subgradient 0 at x1 == 0
    if isinstance(x2, _PY_SCALARS):
        flip = xp.signbit(x1) if math.copysign(1.0, x2) > 0 else xp.logical_not(xp.signbit(x1))
    else:
        flip = xp.signbit(x1) != xp.signbit(x2)
    return xp.where(x1 == 0, 0.0, xp.where(flip, -g, g))


copysign = defprimitive(
    "copysign",
    forward=named_real_forward("copysign", 2),
    vjp=(_copysign_x1, zero_vjp),
    jvp=(_copysign_x1, zero_jvp),
    doc="Elementwise magnitude of ``x1`` with the sign (bit) of ``x2``.",
)
