"""Functions networks need beyond the array API standard.

Primitives: softmax, log_softmax, logsumexp, relu, sigmoid, softplus, gelu.

Each is a primitive of its own because a composition of standard calls would overflow
(``exp(1000)``), lose precision (``log(1 + exp(x))`` for very negative ``x``) or record many nodes
where one does. All are finite, with finite derivatives, for inputs as large as ``|x| = 1000`` in
float32 and float64:

- ``softmax``, ``log_softmax``, ``logsumexp`` shift by the maximum over ``axis`` before
  exponentiating (a slice whose maximum is infinite is shifted by 0 instead, so that
  ``logsumexp`` of an all ``-inf`` slice is ``-inf`` rather than nan). ``-inf`` entries (masked
  logits) get softmax 0 and derivatives 0 (``log_softmax``'s own ``-inf`` outputs have
  derivative 1 wrt their input). An all ``-inf`` slice: ``softmax`` and ``log_softmax`` are nan
  (0 / 0); ``logsumexp`` is ``-inf``, with gradient ``1/n`` on each entry (a tie, as for
  ``logaddexp(-inf, -inf)``); a slice with ``+inf`` entries: ``logsumexp`` is ``+inf``, its
  gradient split evenly among them. Those limits are constants: second derivatives 0.
- ``sigmoid`` exponentiates only ``-|x|``; ``softplus(x) = max(x, 0) + log1p(exp(-|x|))``, and its
  derivative ``sigmoid(x)`` is taken as ``exp(x - softplus(x))``, an exponent that is never
  positive.
- ``relu``: the derivative at 0 is taken as 0 (the usual subgradient), the second derivative 0.
- every rule stays differentiable where the function is smooth: the reflections ``sigmoid``
  and ``gelu`` use to reach the negative half are ``where(x >= 0, x, -x)``, not ``abs(x)``
  (whose subgradient 0 at 0 would lose the derivative there).
- They are functions of real numbers: their rules refuse complex input with an error naming
  the op (NumPy would compute some of them, ordering complex numbers lexicographically).
- ``gelu(x, approximate="none")`` is ``x * Phi(x)`` with ``Phi`` the standard normal CDF. The
  standard has no ``erf``, so ``Phi`` is computed here from standard functions: for ``|z| < 2``
  the series ``erf(z) = 2/sqrt(pi) exp(-z**2) sum_n 2**n z**(2n+1) / (2n+1)!!`` (every term
  positive, so nothing cancels), else the continued fraction of ``erfc``. In float64 the
  absolute error of ``erf`` is below 1e-15 and the relative error of ``erfc`` (hence of ``Phi``
  for negative ``x``) below 1.3e-13 (most just below ``|z| = 2``, where ``1 - erf`` cancels
  two digits; 2e-15 from the continued fraction on); in float32, whose series stops at
  ``|z| = 1`` (below 2, ``1 - erf`` would lose hundreds of ulp of ``erfc``), below 1e-6 and
  1e-5. The price is about eighty elementwise passes per evaluation of ``Phi``; the tanh form
  costs a handful.
  ``approximate="tanh"`` is the usual ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))``.
"""

from __future__ import annotations

import math

from ..autograd import Tensor, defprimitive
from ._helpers import (array_device, held, normalize_axis, real_forward, real_only, reduced_axes,
                       where_positive)
from ._helpers import sigmoid as _stable_sigmoid

__all__ = ["softmax", "log_softmax", "logsumexp", "relu", "sigmoid", "softplus", "gelu"]


# -- helpers (each runs on raw arrays and on tensors alike) -----------------------------------

def _keep_shape(shape, axes):
    """The shape of a reduction over ``axes`` with ``keepdims=True``."""
    return tuple(1 if k in axes else n for k, n in enumerate(shape))


def _shifted_max(xp, x, axes):
    """The maximum over ``axes`` (kept), replaced by 0 where it is not finite (and 0 over
    empty axes, which have no maximum: there logsumexp is log(0) = -inf, softmax empty)."""
    if any(x.shape[a] == 0 for a in axes):
        return xp.zeros(_keep_shape(x.shape, axes), dtype=x.dtype, device=array_device(x))
    m = xp.max(x, axis=axes, keepdims=True)
    # an all -inf (or a +inf) slice would give inf - inf = nan after the shift
    return xp.where(xp.isfinite(m), m, xp.zeros_like(m))


def _logsumexp_kept(xp, x, axes):
    m = _shifted_max(xp, x, axes)
    return xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True)) + m


# -- softmax, log_softmax, logsumexp ----------------------------------------------------------

def _softmax_forward(xp, x, axis):
    e = xp.exp(x - _shifted_max(xp, x, axis))
    return e / xp.sum(e, axis=axis, keepdims=True)


def _softmax_rule(xp, g, ans, x, axis):
    # d softmax: s * (g - <g, s>) over the axis
    real_only("softmax", ans)
    return ans * (g - xp.sum(g * ans, axis=axis, keepdims=True))


softmax_p = defprimitive(
    "softmax",
    forward=real_forward("softmax", _softmax_forward),
    vjp=(_softmax_rule,),
    jvp=(_softmax_rule,),
)


def softmax(x: Tensor, /, *, axis: int | tuple[int, ...] = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed without overflow."""
    return softmax_p(x, axis=reduced_axes(axis, x.ndim, "softmax"))


def _log_softmax_forward(xp, x, axis):
    # (x - m) - log sum exp(x - m): subtracting m first keeps float32 rows of large values exact
    shifted = x - _shifted_max(xp, x, axis)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def _log_softmax_vjp(xp, g, ans, x, axis):
    # d log_softmax: g - softmax * sum(g) over the axis, with softmax = exp(ans)
    real_only("log_softmax", ans)
    return g - xp.exp(ans) * xp.sum(g, axis=axis, keepdims=True)


def _log_softmax_jvp(xp, t, ans, x, axis):
    real_only("log_softmax", ans)
    return t - xp.sum(xp.exp(ans) * t, axis=axis, keepdims=True)


log_softmax_p = defprimitive(
    "log_softmax",
    forward=real_forward("log_softmax", _log_softmax_forward),
    vjp=(_log_softmax_vjp,),
    jvp=(_log_softmax_jvp,),
)


def log_softmax(x: Tensor, /, *, axis: int | tuple[int, ...] = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``: the logarithm of ``softmax``, without underflow."""
    return log_softmax_p(x, axis=reduced_axes(axis, x.ndim, "log_softmax"))


def _logsumexp_forward(xp, x, axis, keepdims):
    out = _logsumexp_kept(xp, x, axis)
    if keepdims:
        return out
    return xp.reshape(out, tuple(n for k, n in enumerate(x.shape) if k not in axis))


def _logsumexp_weights(xp, ans, x, axis, keepdims):
    """softmax(x) over ``axis``, from the result: exp(x - logsumexp(x)).

    Where the result is infinite that is inf - inf, so those slices take the limits, as
    constants: +inf entries share the weight evenly, and a slice of all -inf is a tie of all
    its entries (as ``logaddexp(-inf, -inf)`` is). Their inputs are sanitised (double where).
    """
    real_only("logsumexp", x)
    if not keepdims:
        ans = xp.reshape(ans, _keep_shape(x.shape, axis))
    infinite = xp.isinf(ans)
    finite_weights = xp.exp(xp.where(infinite, 0.0, x) - xp.where(infinite, 0.0, ans))
    x_held, ans_held = held(x), held(ans)
    peaks = xp.where(ans_held == math.inf, xp.astype(x_held == math.inf, x.dtype), 1.0)
    return xp.where(infinite, peaks / xp.sum(peaks, axis=axis, keepdims=True), finite_weights)


def _logsumexp_vjp(xp, g, ans, x, axis, keepdims):
    if not keepdims:
        g = xp.reshape(g, _keep_shape(x.shape, axis))
    return g * _logsumexp_weights(xp, ans, x, axis, keepdims)


def _logsumexp_jvp(xp, t, ans, x, axis, keepdims):
    return xp.sum(t * _logsumexp_weights(xp, ans, x, axis, keepdims), axis=axis,
                  keepdims=keepdims)


logsumexp_p = defprimitive(
    "logsumexp",
    forward=real_forward("logsumexp", _logsumexp_forward),
    vjp=(_logsumexp_vjp,),
    jvp=(_logsumexp_jvp,),
)


def logsumexp(x: Tensor, /, *, axis: int | tuple[int, ...] | None = None,
              keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis`` (all axes if None), computed without overflow."""
    return logsumexp_p(x, axis=reduced_axes(axis, x.ndim, "logsumexp"), keepdims=keepdims)


# -- elementwise activations ------------------------------------------------------------------

def _relu_rule(xp, g, ans, x):
    # derivative 1 for x > 0, and 0 for x <= 0 (the subgradient 0 at the kink)
    real_only("relu", x)
    return where_positive(xp, x, g)


relu = defprimitive(
    "relu",
    forward=real_forward("relu", lambda xp, x: xp.maximum(x, 0)),
    vjp=(_relu_rule,),
    jvp=(_relu_rule,),
    doc="Elementwise ``max(x, 0)``; its derivative at 0 is taken as 0.",
)


def _sigmoid_rule(xp, g, ans, x):
    # d sigmoid = sigmoid * (1 - sigmoid)
    real_only("sigmoid", ans)
    return g * ans * (1 - ans)


sigmoid = defprimitive(
    "sigmoid",
    forward=real_forward("sigmoid", _stable_sigmoid),
    vjp=(_sigmoid_rule,),
    jvp=(_sigmoid_rule,),
    doc="Elementwise logistic function ``1 / (1 + exp(-x))``, without overflow.",
)


def _softplus_rule(xp, g, ans, x):
    # d softplus = sigmoid(x) = exp(x - softplus(x)); the exponent is never positive
    real_only("softplus", x)
    return g * xp.exp(x - ans)


softplus = defprimitive(
    "softplus",
    forward=real_forward("softplus", lambda xp, x: xp.maximum(x, xp.zeros_like(x))
                         + xp.log1p(xp.exp(-xp.abs(x)))),
    vjp=(_softplus_rule,),
    jvp=(_softplus_rule,),
    doc="Elementwise ``log(1 + exp(x))``, without overflow or loss of precision.",
)


# -- gelu -------------------------------------------------------------------------------------

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_INV_SQRT_PI = 1 / math.sqrt(math.pi)
_INV_SQRT_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715
_SERIES_TERMS = 30  # erf series on |z| < 2: terms fall below 1e-16 of the sum by then
_FRACTION_DEPTH = 48  # erfc continued fraction on |z| >= 2: converged to 4e-15 (relative)
_SPLIT = 2.0
# below float64: the fraction has converged to float32's rounding (3e-8 relative) from |z| = 1
# on, where 1 - erf(z) starts to lose digits to the cancellation (hundreds of ulp near 2)
_SPLIT_SINGLE = 1.0


def _series_coefficients(n):
    """c_k = 2**k / (1 * 3 * ... * (2k + 1)), so erf(z) = 2/sqrt(pi) exp(-z**2) z sum c_k z**2k."""
    c = [1.0]
    for k in range(1, n):
        c.append(c[-1] * 2.0 / (2 * k + 1))
    return tuple(c)


_SERIES = _series_coefficients(_SERIES_TERMS)


def erf_series(xp, s):
    """erf(s) for |s| < 2, by the series of the module docstring (every term positive)."""
    s2 = s * s
    acc = _SERIES[-1]
    for c in reversed(_SERIES[:-1]):
        acc = acc * s2 + c
    return _TWO_OVER_SQRT_PI * xp.exp(-s2) * s * acc


def erfc_fraction(xp, f):
    """The continued fraction ``d`` of ``erfc(f) = exp(-f**2) / (sqrt(pi) d)``, for f >= 2:
    d = f + (1/2) / (f + 1 / (f + (3/2) / (f + ...)))."""
    denom = f
    for k in range(_FRACTION_DEPTH, 0, -1):
        denom = f + (k / 2) / denom
    return denom


def erfc_nonnegative(xp, a):
    """erfc(a) for a >= 0, accurate relative to its value (see the module docstring)."""
    split = _SPLIT if a.dtype == xp.float64 else _SPLIT_SINGLE
    small = a < split
    # series branch below the split; elsewhere fed 0 so that z**60 cannot overflow
    erfc_small = 1 - erf_series(xp, xp.where(small, a, 0.0))
    # continued fraction branch from the split on; elsewhere fed the split, not to divide by 0
    f = xp.where(small, split, a)
    erfc_large = _INV_SQRT_PI * xp.exp(-f * f) / erfc_fraction(xp, f)
    return xp.where(small, erfc_small, erfc_large)


def normal_cdf(xp, x):
    """Phi(x) = erfc(-x / sqrt(2)) / 2, accurate relative to its value in both tails."""
    # where(x >= 0, x, -x) rather than abs(x): abs' = sign(0) = 0 would lose Phi'(0)
    nonnegative = x >= 0
    half_tail = 0.5 * erfc_nonnegative(xp, xp.where(nonnegative, x, -x) * _INV_SQRT_2)
    return xp.where(nonnegative, 1 - half_tail, half_tail)


def _tanh_inner(xp, x):
    """sqrt(2/pi) (x + 0.044715 x**3), with x**2 capped so that x**3 cannot overflow.

    The cap changes nothing: at |x| >= 100 tanh of the inner value is +-1 to the last bit.
    """
    x2 = x * x
    x2 = xp.where(x2 < 1e4, x2, 1e4)
    return _SQRT_2_OVER_PI * x * (1 + _GELU_CUBIC * x2), x2


def _gelu_forward(xp, x, approximate):
    if approximate == "tanh":
        inner, _ = _tanh_inner(xp, x)
        return 0.5 * x * (1 + xp.tanh(inner))
    return x * normal_cdf(xp, x)


def _gelu_derivative(xp, x, approximate):
    real_only("gelu", x)
    if approximate == "tanh":
        inner, x2 = _tanh_inner(xp, x)
        th = xp.tanh(inner)
        # d/dx: (1 + th)/2 + x/2 (1 - th**2) sqrt(2/pi) (1 + 3 * 0.044715 x**2)
        return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * (
            _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x2))
    # d (x Phi(x)) = Phi(x) + x phi(x); exp underflows to 0 for large |x|, never overflows
    return normal_cdf(xp, x) + x * (_INV_SQRT_2PI * xp.exp(-0.5 * (x * x)))


gelu_p = defprimitive(
    "gelu",
    forward=real_forward("gelu", _gelu_forward),
    vjp=(lambda xp, g, ans, x, approximate: g * _gelu_derivative(xp, x, approximate),),
    jvp=(lambda xp, t, ans, x, approximate: t * _gelu_derivative(xp, x, approximate),),
)


def gelu(x: Tensor, /, *, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate="tanh"`` for the tanh form."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', not {approximate!r}")
    return gelu_p(x, approximate=approximate)
