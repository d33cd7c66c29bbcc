"""Elementwise functions of the array API standard (2025.12), each a primitive.

Primitives, named as in the spec:

- smooth: abs, acos, acosh, asin, asinh, atan, cos, cosh, exp, expm1, log, log1p, log2, log10,
  reciprocal, sin, sinh, sqrt, square, tan, tanh; add, subtract, multiply, divide, pow;
- linear: negative, positive, real, conj, imag;
- piecewise constant (float results with a zero gradient, so ``x.grad`` is zeros, not None):
  ceil, floor, round, trunc, and sign of real numbers;
- without gradient (boolean, integer or bit-level results): equal, not_equal, greater,
  greater_equal, less, less_equal, logical_and, logical_not, logical_or, logical_xor,
  bitwise_and, bitwise_or, bitwise_xor, bitwise_invert, bitwise_left_shift,
  bitwise_right_shift, isfinite, isinf, isnan, signbit, nextafter;
- functions of real numbers only, declared in ``_elementwise_real`` and exported from here:
  atan2, hypot, logaddexp, copysign, maximum, minimum, remainder, clip, floor_divide.

Conventions. Arguments broadcast, and the engine sums cotangents back to each input's shape, so
rules return arrays of the broadcast shape. Either argument of a binary function may be a Python
scalar (``x * 2.0``, ``2.0 ** x``, ``maximum(x, 0.0)``); it takes the other's dtype and device,
and rules never hand it to ``xp`` unconverted.

Special points. Where a rule switches branch at a point the function is smooth at (``pow`` at
``x2 == 0``, a tie of ``logaddexp``), the rule stays the derivative's formula there, so that its
own derivatives (second order and up) are right too: only the points where the formula itself
breaks (``0 * inf``, ``inf - inf``, ``0 / 0``) are guarded, by the "double where" (a branch that
``where`` discards is computed from a safe input, so a zero cotangent never meets an infinity).
Where the function is not differentiable, the first derivative is the subgradient below and
the second derivative is 0, the derivative of that constant (``_elementwise_real`` lists those
of its functions):

- ``abs`` at 0 and ``sign`` of real numbers everywhere: 0;
- ``pow``: wrt ``x1``, ``x2 * x1**(x2 - 1)``, also at ``x2 == 0`` (where its derivative in
  ``x2`` is ``1 / x1``), and 0 at ``0**0``; wrt ``x2``, ``x1**x2 * log(x1)`` for ``x1 > 0``,
  and 0 for ``x1 <= 0`` to every order (the limit at ``x1 == 0``; the real power has no
  derivative in ``x2`` for ``x1 < 0``), so mixed second derivatives are 0 there too;
- at the edge of a domain the true one-sided derivatives, infinite: ``sqrt``, ``log``,
  ``log2``, ``log10`` at 0, ``log1p`` at -1, ``asin``, ``acos`` at +-1 and ``acosh`` at 1 give
  +-inf to the first and second order (``reciprocal`` and ``divide`` at 0 likewise); ``atanh``
  at +-1 gives inf, and nan to the second order (inf - inf in the product rule of its accurate
  form ``1 / ((1 - x)(1 + x))``).

Complex inputs follow JAX's convention (see ``multigrad.transforms``): a holomorphic function's
VJP and JVP are the same formula, ``g * f'(z)`` and ``t * f'(z)`` (``_smooth``; ``pow`` on the
principal branch, a negative real base of a complex power included); ``real``, ``imag`` and
``conj`` pull back ``g``, ``-1j * g`` and ``conj(g)``; ``abs`` (``conj(z) / |z|``, 0 at 0) and
``sign`` (``z / |z|``, 0 at 0) are the non-holomorphic ones. On a branch cut (``sqrt``, ``log``
on the negative real axis) the forward and its derivative take the side of the imaginary
part's signed zero. ``expm1`` and ``tanh`` correct NumPy's complex results at the standard's
special cases (zeros, infinities, nan), paid for only by inputs that hold one.
"""

from __future__ import annotations

import cmath
import math

from array_api_compat import is_numpy_namespace

from ..autograd import LINEAR, defprimitive
from ._elementwise_real import (atan2, clip, copysign, floor_divide, hypot, logaddexp, maximum,
                                minimum, named_real_forward, remainder, zero_jvp, zero_vjp)
from ._helpers import held, is_complex

__all__ = [
    "abs", "acos", "acosh", "add", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_and",
    "bitwise_left_shift", "bitwise_invert", "bitwise_or", "bitwise_right_shift", "bitwise_xor",
    "ceil", "clip", "conj", "copysign", "cos", "cosh", "divide", "equal", "exp", "expm1",
    "floor", "floor_divide", "greater", "greater_equal", "hypot", "imag", "isfinite", "isinf",
    "isnan", "less", "less_equal", "log", "log1p", "log2", "log10", "logaddexp", "logical_and",
    "logical_not", "logical_or", "logical_xor", "maximum", "minimum", "multiply", "negative",
    "nextafter", "not_equal", "positive", "pow", "real", "reciprocal", "remainder", "round",
    "sign", "signbit", "sin", "sinh", "square", "sqrt", "subtract", "tan", "tanh", "trunc",
]

_PY_NUMBERS = (int, float, complex)
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


# -- declaration helpers -----------------------------------------------------------------------

def _smooth(name, scale, doc, forward=None):
    """A unary primitive whose VJP and JVP are both ``scale(xp, g_or_t, ans, x)``.

    ``scale`` multiplies its second argument by the derivative, which is what both modes need
    for a function of one real variable, and for a holomorphic function of a complex one
    (JAX's convention: the cotangent is ``g * f'(z)``, not conjugated).
    """
    return defprimitive(name, forward=forward or name, vjp=(scale,), jvp=(scale,), doc=doc)


def _piecewise_constant(name, doc, arity=1, forward=None):
    """A primitive with a float result but a zero derivative: the result stays on the graph."""
    return defprimitive(name, forward=forward or name, vjp=(zero_vjp,) * arity,
                        jvp=(zero_jvp,) * arity, doc=doc)


def _no_gradient(name, doc):
    """A primitive whose results never carry gradients (bool, integer, bit-level results)."""
    return defprimitive(name, forward=name, doc=doc)


# -- arithmetic --------------------------------------------------------------------------------

add = defprimitive(
    "add",
    forward="add",
    vjp=(lambda xp, g, ans, x1, x2: g,
         lambda xp, g, ans, x1, x2: g),
    jvp=(lambda xp, t, ans, x1, x2: t,
         lambda xp, t, ans, x1, x2: t),
    doc="Elementwise ``x1 + x2``.",
)

subtract = defprimitive(
    "subtract",
    forward="subtract",
    vjp=(lambda xp, g, ans, x1, x2: g,
         lambda xp, g, ans, x1, x2: -g),
    jvp=(lambda xp, t, ans, x1, x2: t,
         lambda xp, t, ans, x1, x2: -t),
    doc="Elementwise ``x1 - x2``.",
)

multiply = defprimitive(
    "multiply",
    forward="multiply",
    vjp=(lambda xp, g, ans, x1, x2: g * x2,
         lambda xp, g, ans, x1, x2: g * x1),
    jvp=(LINEAR, LINEAR),
    doc="Elementwise ``x1 * x2``.",
)

divide = defprimitive(
    "divide",
    forward="divide",
    # d(x1/x2)/dx2 = -x1/x2**2 = -ans/x2
    vjp=(lambda xp, g, ans, x1, x2: g / x2,
         lambda xp, g, ans, x1, x2: -g * ans / x2),
    jvp=(LINEAR,
         lambda xp, t, ans, x1, x2: -t * ans / x2),
    doc="Elementwise ``x1 / x2``.",
)

negative = defprimitive(
    "negative",
    forward="negative",
    vjp=(lambda xp, g, ans, x: -g,),
    jvp=(LINEAR,),
    doc="Elementwise ``-x``.",
)

positive = defprimitive(
    "positive",
    forward="positive",
    vjp=(lambda xp, g, ans, x: g,),
    jvp=(LINEAR,),
    doc="Elementwise ``+x`` (a copy).",
)

square = _smooth("square", lambda xp, g, ans, x: g * (2 * x), "Elementwise ``x * x``.")
# d sqrt = 1 / (2 sqrt): infinite at 0, the true one-sided derivative
sqrt = _smooth("sqrt", lambda xp, g, ans, x: g / (2 * ans), "Elementwise square root.")
# d (1/x) = -1/x**2 = -ans**2
reciprocal = _smooth("reciprocal", lambda xp, g, ans, x: -g * (ans * ans),
                     "Elementwise ``1 / x``.")


def _over_modulus(xp, numerator, modulus):
    """``numerator / modulus``, and 0 where ``modulus`` is 0 (double where: no 0 / 0)."""
    zero = modulus == 0
    return xp.where(zero, 0.0, numerator / xp.where(zero, 1.0, modulus))


def _abs_vjp(xp, g, ans, x):
    if is_complex(x):  # d|z| = Re(conj(z) dz) / |z|: the cotangent g conj(z) / |z|
        return _over_modulus(xp, g * xp.conj(x), ans)
    return g * xp.sign(x)  # sign(0) == 0 gives the subgradient 0 at 0


def _abs_jvp(xp, t, ans, x):
    if is_complex(x):
        return xp.real(_over_modulus(xp, xp.conj(x) * t, ans))
    return t * xp.sign(x)


abs = defprimitive("abs", forward="abs", vjp=(_abs_vjp,), jvp=(_abs_jvp,),
                   doc="Elementwise absolute value (the modulus of a complex number).")


# -- powers, exponentials and logarithms -------------------------------------------------------

def _expm1(xp, x):
    out = xp.expm1(x)
    if not is_complex(x):
        return out
    # NumPy's complex expm1 is nan at infinities and -0 at -0 + 0j, where the standard's special
    # cases are those of exp(z) - 1; on NumPy only inputs holding a zero or a non-finite part pay
    # for more than the check (elsewhere a read to the host would wait for a GPU or compute a
    # lazy array)
    special = xp.logical_or(xp.logical_not(xp.isfinite(x)), x == 0)
    if is_numpy_namespace(xp) and not bool(xp.any(special)):
        return out
    return xp.where(special, xp.exp(x) - 1, out)


_expm1.real_kernel = "expm1"  # what a compiled step calls on real input


exp = _smooth("exp", lambda xp, g, ans, x: g * ans, "Elementwise ``e**x``.")
expm1 = _smooth("expm1", lambda xp, g, ans, x: g * (ans + 1),
                "Elementwise ``exp(x) - 1``, accurate for small ``x``.", forward=_expm1)
log = _smooth("log", lambda xp, g, ans, x: g / x, "Elementwise natural logarithm.")
log1p = _smooth("log1p", lambda xp, g, ans, x: g / (x + 1),
                "Elementwise ``log(1 + x)``, accurate for small ``x``.")
log2 = _smooth("log2", lambda xp, g, ans, x: g / (x * _LN2), "Elementwise base-2 logarithm.")
log10 = _smooth("log10", lambda xp, g, ans, x: g / (x * _LN10),
                "Elementwise base-10 logarithm.")


def _pow_x1(xp, g, ans, x1, x2):
    # d x1**x2 / dx1 = x2 * x1**(x2 - 1). At 0**0 that is 0 * 0**-1 = nan for the constant 1
    # (x1**0): the one point given a safe base (double where). Elsewhere the formula stays whole,
    # so that its own derivative in x2 is right at x2 == 0 (1 / x1, not the 0 of a constant).
    if isinstance(x2, _PY_NUMBERS):
        return xp.zeros_like(g) if x2 == 0 else g * (x2 * xp.pow(x1, x2 - 1))
    zero_to_zero = xp.logical_and(x1 == 0, x2 == 0)
    base = xp.where(zero_to_zero, 1.0, x1)
    # a real power: where x1 <= 0 the derivative in x2 is 0 (see _pow_x2), to every order, so
    # x2 is held there; a complex power (principal branch) is holomorphic in both
    exponent = x2 if is_complex(ans) else xp.where(x1 > 0, x2, held(x2))
    return xp.where(zero_to_zero, 0.0, g * (exponent * xp.pow(base, exponent - 1)))


def _pow_x2(xp, g, ans, x1, x2):
    # d x1**x2 / dx2 = x1**x2 * log(x1) for x1 > 0; for a real power 0 at x1 <= 0, where
    # log(x1) is sanitised; for a complex one the principal log (a negative real base too), 0
    # at x1 == 0 (the limit where Re(x2) > 0)
    complex_ = is_complex(ans)
    if isinstance(x1, _PY_NUMBERS):
        if complex_:
            return g * (ans * cmath.log(x1)) if x1 != 0 else xp.zeros_like(g)
        return g * (ans * math.log(x1)) if x1 > 0 else xp.zeros_like(g)
    # the power is recomputed from the sanitised base rather than taken from ans: at x1 == 0
    # the masked zero cotangent would meet ans's infinite derivative (x2 < 1) as 0 * inf
    inside = x1 != 0 if complex_ else x1 > 0
    base = xp.where(inside, x1, 1.0)
    if complex_ and not is_complex(base):  # a real base of a complex power: the complex log
        base = xp.astype(base, ans.dtype)
    return xp.where(inside, g * (xp.pow(base, x2) * xp.log(base)), 0.0)


pow = defprimitive(
    "pow",
    forward="pow",
    vjp=(_pow_x1, _pow_x2),
    jvp=(_pow_x1, _pow_x2),
    doc="Elementwise ``x1 ** x2``.",
)


# -- trigonometric and hyperbolic --------------------------------------------------------------

sin = _smooth("sin", lambda xp, g, ans, x: g * xp.cos(x), "Elementwise sine.")
cos = _smooth("cos", lambda xp, g, ans, x: -g * xp.sin(x), "Elementwise cosine.")
# d tan = 1 + tan**2
tan = _smooth("tan", lambda xp, g, ans, x: g * (1 + ans * ans), "Elementwise tangent.")
asin = _smooth("asin", lambda xp, g, ans, x: g / xp.sqrt(1 - x * x), "Elementwise arcsine.")
acos = _smooth("acos", lambda xp, g, ans, x: -g / xp.sqrt(1 - x * x), "Elementwise arccosine.")
atan = _smooth("atan", lambda xp, g, ans, x: g / (1 + x * x), "Elementwise arctangent.")
sinh = _smooth("sinh", lambda xp, g, ans, x: g * xp.cosh(x), "Elementwise hyperbolic sine.")
cosh = _smooth("cosh", lambda xp, g, ans, x: g * xp.sinh(x), "Elementwise hyperbolic cosine.")


def _tanh(xp, x):
    out = xp.tanh(x)
    if not is_complex(x):
        return out
    # at real part +-inf and a finite imaginary part y the standard gives +-1 + copysign(0, y) j;
    # NumPy gives the zero the sign of sin(2 y): conjugated there (on NumPy only inputs holding
    # an infinite real part pay for more than the check)
    infinite = xp.isinf(xp.real(x))
    if is_numpy_namespace(xp) and not bool(xp.any(infinite)):
        return out
    y = xp.imag(x)
    flipped = xp.logical_and(xp.logical_and(infinite, xp.isfinite(y)),
                             xp.signbit(xp.imag(out)) != xp.signbit(y))
    return xp.where(flipped, xp.conj(out), out)


_tanh.real_kernel = "tanh"  # what a compiled step calls on real input


# d tanh = 1 - tanh**2
tanh = _smooth("tanh", lambda xp, g, ans, x: g * (1 - ans * ans),
               "Elementwise hyperbolic tangent.", forward=_tanh)
asinh = _smooth("asinh", lambda xp, g, ans, x: g / xp.sqrt(x * x + 1),
                "Elementwise inverse hyperbolic sine.")
# x - 1 and x + 1 apart rather than x*x - 1: no cancellation near x = 1; divided one after the
# other, not multiplied, so that at x = 1 the second derivative is -inf, not 0 * inf = nan
acosh = _smooth("acosh", lambda xp, g, ans, x: g / xp.sqrt(x - 1) / xp.sqrt(x + 1),
                "Elementwise inverse hyperbolic cosine.")
atanh = _smooth("atanh", lambda xp, g, ans, x: g / ((1 - x) * (1 + x)),
                "Elementwise inverse hyperbolic tangent.")


# -- rounding and sign: float results with a zero gradient -------------------------------------

ceil = _piecewise_constant("ceil", "Elementwise smallest integer ``>= x``; zero gradient.",
                          forward=named_real_forward("ceil", 1))
floor = _piecewise_constant("floor", "Elementwise largest integer ``<= x``; zero gradient.",
                           forward=named_real_forward("floor", 1))
# complex: each part rounded, also piecewise constant
round = _piecewise_constant("round", "Elementwise nearest integer, ties to even; zero gradient.")
trunc = _piecewise_constant("trunc", "Elementwise integer part, toward zero; zero gradient.",
                           forward=named_real_forward("trunc", 1))


# sign(z) = z / |z| has d sign = (dz - s**2 conj(dz)) / (2 |z|) for complex z != 0 (0 at 0, as
# for real numbers, whose sign is piecewise constant)
def _sign_vjp(xp, g, ans, x):
    if not is_complex(x):
        return xp.zeros_like(g)
    return _over_modulus(xp, g - xp.conj(g * ans * ans), 2 * xp.abs(x))


def _sign_jvp(xp, t, ans, x):
    if not is_complex(x):
        return xp.zeros_like(t)
    return _over_modulus(xp, t - ans * ans * xp.conj(t), 2 * xp.abs(x))


sign = defprimitive("sign", forward="sign", vjp=(_sign_vjp,), jvp=(_sign_jvp,),
                    doc="Elementwise sign: -1, 0 or 1 (zero gradient); ``z / |z|`` for complex "
                        "``z`` (0 at 0).")


# -- complex parts -----------------------------------------------------------------------------

real = defprimitive(
    "real",
    forward="real",
    # the engine casts g back to x's complex dtype: cotangent g + 0j
    vjp=(lambda xp, g, ans, x: g,),
    jvp=(LINEAR,),
    doc="Elementwise real part (the identity for real input).",
)

imag = defprimitive(
    "imag",
    forward="imag",
    vjp=(lambda xp, g, ans, x: -1j * xp.astype(g, x.dtype),),
    jvp=(LINEAR,),
    doc="Elementwise imaginary part of complex ``x``.",
)

conj = defprimitive(
    "conj",
    forward="conj",
    vjp=(lambda xp, g, ans, x: xp.conj(g),),
    jvp=(LINEAR,),
    doc="Elementwise complex conjugate (the identity for real input).",
)


# -- no gradient: comparisons, logic, bits, classification -------------------------------------

equal = _no_gradient("equal", "Elementwise ``x1 == x2``.")
not_equal = _no_gradient("not_equal", "Elementwise ``x1 != x2``.")
greater = _no_gradient("greater", "Elementwise ``x1 > x2``.")
greater_equal = _no_gradient("greater_equal", "Elementwise ``x1 >= x2``.")
less = _no_gradient("less", "Elementwise ``x1 < x2``.")
less_equal = _no_gradient("less_equal", "Elementwise ``x1 <= x2``.")
logical_and = _no_gradient("logical_and", "Elementwise logical AND of booleans.")
logical_or = _no_gradient("logical_or", "Elementwise logical OR of booleans.")
logical_xor = _no_gradient("logical_xor", "Elementwise logical XOR of booleans.")
logical_not = _no_gradient("logical_not", "Elementwise logical NOT of booleans.")
bitwise_and = _no_gradient("bitwise_and", "Elementwise bitwise AND (integers, booleans).")
bitwise_or = _no_gradient("bitwise_or", "Elementwise bitwise OR (integers, booleans).")
bitwise_xor = _no_gradient("bitwise_xor", "Elementwise bitwise XOR (integers, booleans).")
bitwise_invert = _no_gradient("bitwise_invert", "Elementwise bitwise NOT (integers, booleans).")
bitwise_left_shift = _no_gradient("bitwise_left_shift",
                                  "Elementwise ``x1 << x2`` of integers.")
bitwise_right_shift = _no_gradient("bitwise_right_shift",
                                   "Elementwise ``x1 >> x2`` of integers.")
isfinite = _no_gradient("isfinite", "Elementwise test for finite values.")
isinf = _no_gradient("isinf", "Elementwise test for infinite values.")
isnan = _no_gradient("isnan", "Elementwise test for NaN.")
signbit = _no_gradient("signbit", "Elementwise test of the sign bit (true for -0.0).")
nextafter = _no_gradient("nextafter",
                         "Elementwise next representable value after ``x1`` toward ``x2``.")
