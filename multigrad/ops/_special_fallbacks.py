"""Special functions from standard calls only: the forwards of ``multigrad.special`` on a
library without a kernel of its own (array-api-strict, NumPy without SciPy, ...).

Each takes the namespace ``xp`` and raw arrays, and returns an array of the input's dtype and
device. Accuracy in float64 (checked against SciPy by ``tests/test_special.py``):

- ``erf``, ``erfc``, ``ndtr``, ``log_ndtr``: the series and continued fraction of
  ``multigrad.ops.nn`` (relative error below 1.3e-13, tails included; ``ndtr`` and ``log_ndtr``
  also round ``x / sqrt(2)``, by up to 2.2e-16, which their tails magnify ``x**2``-fold, as
  SciPy's do: 1.7e-13 at ``x = -28``; ``log_ndtr`` takes the logarithm of the fraction, so it
  stays finite as far out as ``x = -1e5``);
- ``erfinv``, ``erfcinv``, ``ndtri``: an initial guess within 2e-3 (Winitzki's formula),
  then three Newton steps, on ``log erfc`` far from their zeros, on ``erf`` near them:
  ``erfinv(y)`` for ``|y| <= 1/2``, ``erfcinv(q)`` as ``-erfinv(q - 1)`` for
  ``|q - 1| <= 1/2`` and ``ndtri(p)`` as ``-sqrt(2) erfcinv(2p)`` (``q - 1`` and ``2p``
  exact), so that all three keep their relative accuracy there (relative error below 2e-15
  near their zeros, 1e-13 elsewhere), with SciPy's signs of zero;
- ``gammaln``, ``polygamma`` (``digamma`` is ``n = 0``): the recurrence up to ``x + 8 + n``,
  where the asymptotic (Stirling) series converges to rounding, and the reflection formula
  below 1/2; ``betaln`` from three ``gammaln`` (it loses digits when both arguments are large);
- ``i0``, ``i1`` and their scaled forms: the power series (all terms positive) up to
  ``|x| = 25``, the asymptotic series beyond, whose 25 terms leave an error below 1.5e-19
  (relative; its smallest term, near the fiftieth, would be ``exp(-50)``);
- ``logit``: ``log(x) - log1p(-x)`` below ``x = 1/3``, ``log1p((2x - 1) / (1 - x))`` from
  there, which does not cancel near 1/2 (relative error below 2e-15 throughout);
- ``xlogy``, ``xlog1py``, ``entr``, ``rel_entr``, ``kl_div``: their definitions, with SciPy's
  values at the edges of their domains.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .nn import erf_series, erfc_fraction, erfc_nonnegative, normal_cdf

__all__ = ["FALLBACKS"]

_INV_SQRT_PI = 1 / math.sqrt(math.pi)
_INV_SQRT2 = 1 / math.sqrt(2)
_SQRT2 = math.sqrt(2)
_LN2 = math.log(2)
_LN_PI = math.log(math.pi)
_HALF_LN_2PI = 0.5 * math.log(2 * math.pi)
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_NEWTON_STEPS = 3  # from within 2e-3: 4e-6, 2e-11, then rounding
# Bernoulli numbers B_2, B_4, ..., B_20 (the asymptotic series of log Gamma and polygamma)
_BERNOULLI = (Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30),
              Fraction(5, 66), Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510),
              Fraction(43867, 798), Fraction(-174611, 330))


# -- error function and the normal distribution --------------------------------------------

def _erfc_tail(xp, a):
    """``(small, erfc(a) for a < 2 fed 0 elsewhere, f, fraction(f))`` shared by the tails."""
    small = a < 2.0
    f = xp.where(small, 2.0, a)
    return small, f, erfc_fraction(xp, f)


def erf(xp, x):
    a = xp.abs(x)
    small, f, d = _erfc_tail(xp, a)
    tail = _INV_SQRT_PI * xp.exp(-f * f) / d  # erfc(|x|) for |x| >= 2
    big = xp.where(x >= 0, 1 - tail, tail - 1)
    return xp.where(small, erf_series(xp, xp.where(small, x, 0.0)), big)


def erfc(xp, x):
    upper = erfc_nonnegative(xp, xp.abs(x))
    return xp.where(x >= 0, upper, 2 - upper)


def ndtr(xp, x):
    return normal_cdf(xp, x)


def _log_erfc_nonnegative(xp, a):
    """log erfc(a) for a >= 0, finite however large a is."""
    small, f, d = _erfc_tail(xp, a)
    near = xp.log(erfc_nonnegative(xp, xp.where(small, a, 0.0)))
    return xp.where(small, near, -f * f - 0.5 * _LN_PI - xp.log(d))


def log_ndtr(xp, x):
    positive = x >= 0
    a = xp.abs(x) * _INV_SQRT2
    # x >= 0: log(1 - erfc(a) / 2), exact for small tails through log1p
    upper = xp.log1p(-0.5 * erfc_nonnegative(xp, xp.where(positive, a, 0.0)))
    return xp.where(positive, upper, _log_erfc_nonnegative(xp, a) - _LN2)


def _initial_inverse(xp, log_one_minus_y2):
    """Winitzki's approximation of |erfinv(y)| from ``log(1 - y**2)`` (relative error < 2e-3)."""
    a = 0.147
    t = 2 / (math.pi * a) + 0.5 * log_one_minus_y2
    return xp.sqrt(xp.sqrt(t * t - log_one_minus_y2 / a) - t)


def _erfcinv_upper(xp, p):
    """x >= 0 with erfc(x) = p, for p in (0, 1]: Newton on log erfc(x) - log p."""
    log_p = xp.log(p)
    x = _initial_inverse(xp, log_p + xp.log(2 - p))
    for _ in range(_NEWTON_STEPS):
        log_erfc = _log_erfc_nonnegative(xp, x)
        # d/dx log erfc(x) = -2/sqrt(pi) exp(-x**2 - log erfc(x))
        slope = -_TWO_OVER_SQRT_PI * xp.exp(-x * x - log_erfc)
        x = xp.abs(x - (log_erfc - log_p) / slope)
    return x


def _erfinv_small(xp, s):
    """erfinv(s) for |s| <= 1/2: Newton on erf itself, which keeps the relative accuracy of
    tiny arguments (erf is nearly linear there and computed relative to its value)."""
    x = xp.copysign(_initial_inverse(xp, xp.log1p(-s * s)), s)
    for _ in range(_NEWTON_STEPS):
        # x + (s - erf(x)) / erf'(x), not x - (erf(x) - s) / erf'(x): at s = -0.0 the step is
        # +0.0 and the sum is +0.0, SciPy's erfinv(-0.0) (and its -0.0 at erfcinv(1))
        x = x + (s - erf(xp, x)) / (_TWO_OVER_SQRT_PI * xp.exp(-x * x))
    return x


def _erfcinv_tail(xp, p):
    """x >= 0 with erfc(x) = p, for p in [0, 1/2): inf at 0, nan below 0 and at nan."""
    inside = p > 0
    x = _erfcinv_upper(xp, xp.where(inside, p, 0.25))
    return xp.where(inside, x, xp.where(p == 0, math.inf, xp.full_like(p, math.nan)))


def erfcinv(xp, q):
    d = q - 1  # exact for q in [1/2, 2] (Sterbenz)
    near = xp.abs(d) <= 0.5
    # near 1: -erfinv(q - 1), accurate relative to its value as erfinv is near 0; Newton on
    # log erfc would leave log erfc's rounding near 0, an absolute error of about 1e-16 in x
    # (relative 4e-9 at q = 1 - 1e-8)
    x = -_erfinv_small(xp, xp.where(near, d, 0.0))
    lower = q > 1
    p = xp.where(lower, 2 - q, q)  # exact: q in [1, 2] (Sterbenz)
    tail = _erfcinv_tail(xp, xp.where(near, 0.25, p))
    return xp.where(near, x, xp.where(lower, -tail, tail))


def erfinv(xp, y):
    a = xp.abs(y)
    small = a <= 0.5
    x = _erfinv_small(xp, xp.where(small, y, 0.0))
    # |y| > 1/2: erfc^-1(1 - |y|), where 1 - |y| is exact
    tail = _erfcinv_tail(xp, xp.where(small, 0.25, 1 - a))
    return xp.where(small, x, xp.where(y >= 0, tail, -tail))


def ndtri(xp, p):
    # 2p is exact: near p = 1/2 erfcinv runs on 2p - 1, relative to its value
    return -_SQRT2 * erfcinv(xp, 2 * p)


# -- logistic ---------------------------------------------------------------------------------

def logit(xp, x):
    # log(x) - log1p(-x) cancels near x = 1/2: its roundings, about |log x| + |log1p(-x)|
    # in all, are relative to 4 |x - 1/2|. log1p((2x - 1) / (1 - x)) does not cancel: 2x - 1
    # is exact from x = 1/4, 1 - x from 1/2, so its argument carries one rounding above 1/2
    # and two below, which log1p magnifies by t / ((1 + t) log1p(t)) at t = (2x - 1) / (1 - x):
    # below 1 above 1/2, 1.6 at 1/3, without bound as x -> 0. At 1/3 the two forms are about
    # equally accurate (three roundings each); below it the difference, above it the quotient.
    near_half = x >= 1 / 3
    quotient = xp.log1p((2 * x - 1) / (1 - x))  # inf at x = 1; nan beyond, as SciPy's
    return xp.where(near_half, quotient, xp.log(x) - xp.log1p(-x))


# -- gamma family -----------------------------------------------------------------------------

def _sinpi_and_cospi_up_to_sign(xp, x):
    """sin(pi x) and cos(pi x), both times (-1)**round(x): all that |sin(pi x)| and cot(pi x)
    need. Computed at x - round(x), in [-1/2, 1/2] and exact, so large x loses nothing."""
    r = x - xp.round(x)
    return xp.sin(math.pi * r), xp.cos(math.pi * r)


def _lgamma_from_half(xp, x):
    """log Gamma(x) for x >= 1/2: Stirling's series at x + 8."""
    z = x + 8.0
    shift = xp.log(x)
    for k in range(1, 8):
        shift = shift + xp.log(x + k)
    w = (1 / z) ** 2  # not 1 / z**2, which overflows first
    series = 0.0
    for k in reversed(range(1, 8)):  # B_2k / (2k (2k - 1) z**(2k - 1)), k = 1..7
        series = series * w + float(_BERNOULLI[k - 1] / (2 * k * (2 * k - 1)))
    return (z - 0.5) * xp.log(z) - z + _HALF_LN_2PI + series / z - shift


def gammaln(xp, x):
    reflect = x < 0.5
    direct = _lgamma_from_half(xp, xp.where(reflect, 1 - x, x))
    sin, _ = _sinpi_and_cospi_up_to_sign(xp, xp.where(reflect & xp.isfinite(x), x, 0.5))
    sin = xp.abs(xp.where(reflect, sin, 1.0))
    # log|Gamma(x)| = log(pi / |sin(pi x)|) - log Gamma(1 - x); inf at the poles (sin = 0)
    out = xp.where(reflect, _LN_PI - xp.log(sin) - direct, direct)
    return xp.where(xp.isinf(x), math.inf, out)  # not inf - inf


def _cot_derivative_coefficients(n: int) -> list[int]:
    """Coefficients (constant first) of P_n with d^n/dy^n cot(y) = P_n(cot(y)):
    P_0(c) = c and P_{k+1}(c) = -(1 + c**2) P_k'(c)."""
    p = [0, 1]
    for _ in range(n):
        dp = [k * c for k, c in enumerate(p)][1:]  # P_k has degree k + 1: never empty
        nxt = [0] * (len(dp) + 2)
        for k, c in enumerate(dp):
            nxt[k] -= c
            nxt[k + 2] -= c
        p = nxt
    return p


def _polygamma_from_half(xp, x, n: int):
    """psi^(n)(x) for x >= 1/2: the recurrence up to z = x + 8 + n, then the asymptotic
    series there."""
    shift = 8 + n
    z = x + shift
    w = (1 / z) ** 2  # not 1 / z**2, which overflows first
    sign = -1.0 if n % 2 == 0 else 1.0  # (-1)**(n + 1)
    if n == 0:
        series = 0.0
        for k in reversed(range(1, len(_BERNOULLI) + 1)):
            series = series * w + float(_BERNOULLI[k - 1] / (2 * k))
        at_z = xp.log(z) - 0.5 / z - series * w
        steps = 1 / x
        for k in range(1, shift):
            steps = steps + 1 / (x + k)
        return at_z - steps
    series = 0.0
    for k in reversed(range(1, len(_BERNOULLI) + 1)):
        coefficient = _BERNOULLI[k - 1] * math.factorial(2 * k + n - 1) / math.factorial(2 * k)
        series = series * w + float(coefficient)
    leading = math.factorial(n - 1) + math.factorial(n) / 2 / z + series * w
    # powers of 1/z rather than of z: they underflow to 0 far out instead of overflowing
    at_z = sign * leading * (1 / z) ** n
    steps = (1 / x) ** (n + 1)
    for k in range(1, shift):
        steps = steps + (1 / (x + k)) ** (n + 1)
    return at_z + sign * math.factorial(n) * steps


def polygamma(xp, x, n):
    reflect = x < 0.5
    direct = _polygamma_from_half(xp, xp.where(reflect, 1 - x, x), n)
    sin, cos = _sinpi_and_cospi_up_to_sign(xp, xp.where(reflect & xp.isfinite(x), x, 0.5))
    pole = reflect & ((sin == 0) | xp.isinf(x))  # -inf too: no limit there
    cot = cos / xp.where(reflect & ~pole, sin, 1.0)  # the poles are set below
    # Horner from the leading coefficient, not from 0: where cot overflows (0 < |x| < 2e-309)
    # 0 * inf would give nan; P_n's terms all have one sign there, so inf stays inf
    coefficients = _cot_derivative_coefficients(n)
    poly = float(coefficients[-1])
    for c in reversed(coefficients[:-1]):
        poly = poly * cot + float(c)
    # psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) cot^(n)(pi x)
    mirrored = (1.0 if n % 2 == 0 else -1.0) * direct - math.pi ** (n + 1) * poly
    # at the poles and at -inf, SciPy's values: digamma's limits at 0 (-inf, and inf at -0.0),
    # nan at -1, -2... and -inf; the derivatives (-1)^(n+1) inf
    if n == 0:
        limit_at_0 = -xp.copysign(xp.full_like(x, math.inf), x)
        at_pole = xp.where(x == 0, limit_at_0, xp.full_like(x, math.nan))
    else:
        at_pole = math.inf if n % 2 else -math.inf
    return xp.where(pole, at_pole, xp.where(reflect, mirrored, direct))


def betaln(xp, a, b):
    return gammaln(xp, a) + gammaln(xp, b) - gammaln(xp, a + b)


# -- x log y and entropies ----------------------------------------------------------------------

def xlogy(xp, x, y):
    zero = (x == 0) & ~xp.isnan(y)
    return xp.where(zero, 0.0, x * xp.log(xp.where(zero, 1.0, y)))


def xlog1py(xp, x, y):
    zero = (x == 0) & ~xp.isnan(y)
    return xp.where(zero, 0.0, x * xp.log1p(xp.where(zero, 0.0, y)))


def entr(xp, x):
    positive = x > 0
    inside = -x * xp.log(xp.where(positive, x, 1.0))
    return xp.where(positive, inside, xp.where(x == 0, 0.0, xp.where(x < 0, -math.inf, x)))


def _divergence(xp, x, y, at_zero, inside):
    both = (x > 0) & (y > 0)
    xs, ys = xp.where(both, x, 1.0), xp.where(both, y, 1.0)
    edge = xp.where((x == 0) & (y >= 0), at_zero, xp.full_like(xs * ys, math.inf))
    out = xp.where(both, inside(xs, ys), edge)
    return xp.where(xp.isnan(x) | xp.isnan(y), math.nan, out)


def rel_entr(xp, x, y):
    return _divergence(xp, x, y, 0.0, lambda xs, ys: xs * (xp.log(xs) - xp.log(ys)))


def kl_div(xp, x, y):
    return _divergence(xp, x, y, y, lambda xs, ys: xs * (xp.log(xs) - xp.log(ys)) - xs + ys)


# -- modified Bessel functions of the first kind, orders 0 and 1 --------------------------------

_BESSEL_SPLIT = 25.0
_SERIES_TERMS = 50
_ASYMPTOTIC_TERMS = 25


def _bessel_series(xp, x, order: int):
    """I_order(x) by its power series (every term positive for x >= 0)."""
    q = x * x / 4
    acc = 1.0
    for k in reversed(range(1, _SERIES_TERMS)):
        acc = 1 + acc * q / (k * (k + order))
    return acc if order == 0 else acc * x / 2


def _bessel_asymptotic_scaled(xp, a, order: int):
    """exp(-a) I_order(a) for a >= 25: sqrt(1 / (2 pi a)) sum (-1)^k c_k / a^k."""
    mu = 4 * order * order
    coefficients, c = [], 1.0
    for k in range(_ASYMPTOTIC_TERMS):
        coefficients.append(c * (-1) ** k)
        c = c * (mu - (2 * k + 1) ** 2) / ((k + 1) * 8)
    inv = 1 / a
    acc = 0.0
    for c in reversed(coefficients):
        acc = acc * inv + c
    return acc / xp.sqrt(2 * math.pi * a)


def _bessel(xp, x, order: int, scaled: bool):
    a = xp.abs(x)
    small = a <= _BESSEL_SPLIT
    s = xp.where(small, a, 0.0)
    near = _bessel_series(xp, s, order)
    if scaled:
        near = near * xp.exp(-s)
    far_a = xp.where(small, _BESSEL_SPLIT, a)
    far = _bessel_asymptotic_scaled(xp, far_a, order)
    if not scaled:
        far = far * xp.exp(far_a)
    out = xp.where(small, near, far)
    return out if order == 0 else xp.where(x < 0, -out, out)


FALLBACKS = {
    "erf": erf, "erfc": erfc, "erfinv": erfinv, "erfcinv": erfcinv, "ndtr": ndtr,
    "log_ndtr": log_ndtr, "ndtri": ndtri, "logit": logit, "gammaln": gammaln,
    "polygamma": polygamma, "betaln": betaln, "xlogy": xlogy, "xlog1py": xlog1py, "entr": entr,
    "rel_entr": rel_entr, "kl_div": kl_div,
    "i0": lambda xp, x: _bessel(xp, x, 0, False), "i0e": lambda xp, x: _bessel(xp, x, 0, True),
    "i1": lambda xp, x: _bessel(xp, x, 1, False), "i1e": lambda xp, x: _bessel(xp, x, 1, True),
}
