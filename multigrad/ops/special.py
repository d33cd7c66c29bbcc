"""Special functions (``multigrad.special``), differentiable in both modes, to any order.

Primitives: erf, erfc, erfinv, erfcinv, logit, gammaln, polygamma (``digamma`` is
``polygamma(0, x)``), betaln, ndtr, log_ndtr, ndtri, xlogy, xlog1py, entr, rel_entr, kl_div,
i0, i0e, i1, i1e, sinc. Compositions: ``expit`` (``sigmoid``), ``log_expit``
(``-softplus(-x)``); re-exported from the network functions: ``softplus``, ``logsumexp``,
``softmax``, ``log_softmax``. The names and arguments are SciPy's, so that SciPy, which looks
for a namespace's special functions in its ``special`` attribute, reaches these for tensors
(``scipy.special.erf(t)`` under ``SCIPY_ARRAY_API=1``).

Forwards: the device's own kernel where it has one (``scipy.special`` on NumPy,
``cupyx.scipy.special`` on CuPy; see ``Device.special``), else standard calls
(``_special_fallbacks``); ``sinc`` is standard calls everywhere. Results keep the floating
dtype of the inputs; integer inputs are computed in the device's default floating dtype.

Derivatives are written with these same functions (``d erfinv = sqrt(pi)/2 exp(erfinv**2)``,
``d gammaln = digamma``, ``d polygamma(n) = polygamma(n + 1)``, ``d i0 = i1``...), so every
order has the accuracy of the functions themselves (``_special_primitives`` declares them). At
the edges of the domains:

- ``xlogy``/``xlog1py`` at ``x = 0``: ``log(y)``/``log1p(y)`` wrt ``x``, and ``x / y`` (0)
  wrt ``y``, with 0 at ``x = y = 0`` (the function is 0 all along ``x = 0``), so that the
  mixed second derivative ``1 / y`` is right there too;
- ``entr``, ``rel_entr``, ``kl_div`` at ``x = 0``: the one-sided derivative, infinite wrt
  ``x`` (constant in ``x``), the formula wrt ``y`` (0 and 1), and the mixed second derivative
  ``-1 / y`` either way; outside the domain, where the function is a constant infinity, 0;
- ``logit`` at 0 and 1, ``erfinv`` at +-1, ``ndtri`` at 0 and 1: infinite, as the function;
- ``i1`` and ``i1e`` near 0: the series of ``i1'`` (``i0 - i1 / x`` would cancel);
  ``sinc`` near 0: its Taylor series;
- ``gammaln`` and ``polygamma`` at their poles: what the functions give there (inf or nan).
Each uses the "double where": a branch ``where`` discards is computed from a safe input.
"""

from __future__ import annotations

import math
import operator

from ._special_primitives import binary, floating, kernel, recorded, unary
from .nn import log_softmax, logsumexp, sigmoid, softmax, softplus

__all__ = ["erf", "erfc", "erfinv", "erfcinv", "expit", "logit", "log_expit", "gammaln",
           "digamma", "psi", "polygamma", "betaln", "ndtr", "log_ndtr", "ndtri", "xlogy",
           "xlog1py", "entr", "rel_entr", "kl_div", "i0", "i0e", "i1", "i1e", "sinc",
           "softplus", "logsumexp", "softmax", "log_softmax"]

_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


# -- error function and the normal distribution ---------------------------------------------

def _gauss(xp, x, scale):
    """scale * exp(-x**2)."""
    return scale * xp.exp(-(x * x))


erf_p = unary("erf", lambda xp, ans, x: _gauss(xp, x, _TWO_OVER_SQRT_PI))
erfc_p = unary("erfc", lambda xp, ans, x: _gauss(xp, x, -_TWO_OVER_SQRT_PI))
# d erfinv(y) = 1 / erf'(erfinv(y)) = sqrt(pi)/2 exp(erfinv(y)**2)
erfinv_p = unary("erfinv", lambda xp, ans, x: _SQRT_PI_OVER_2 * xp.exp(ans * ans))
erfcinv_p = unary("erfcinv", lambda xp, ans, x: -_SQRT_PI_OVER_2 * xp.exp(ans * ans))
ndtr_p = unary("ndtr", lambda xp, ans, x: _INV_SQRT_2PI * xp.exp(-0.5 * (x * x)))
# d log Phi(x) = phi(x) / Phi(x) = exp(log phi(x) - log Phi(x)): no 0/0 in the left tail
log_ndtr_p = unary("log_ndtr", lambda xp, ans, x: xp.exp(
    -0.5 * (x * x) - ans - math.log(_SQRT_2PI)))
ndtri_p = unary("ndtri", lambda xp, ans, x: _SQRT_2PI * xp.exp(0.5 * (ans * ans)))


def erf(x, /):
    """The error function ``2/sqrt(pi) * integral of exp(-t**2) from 0 to x``."""
    return erf_p(*floating("erf", x))


def erfc(x, /):
    """The complementary error function ``1 - erf(x)``, accurate where it is small."""
    return erfc_p(*floating("erfc", x))


def erfinv(y, /):
    """The inverse of ``erf`` on ``[-1, 1]`` (+-inf at +-1, nan outside)."""
    return erfinv_p(*floating("erfinv", y))


def erfcinv(y, /):
    """The inverse of ``erfc`` on ``[0, 2]`` (+inf at 0, -inf at 2, nan outside)."""
    return erfcinv_p(*floating("erfcinv", y))


def ndtr(x, /):
    """The standard normal cumulative distribution function ``Phi(x)``."""
    return ndtr_p(*floating("ndtr", x))


def log_ndtr(x, /):
    """``log(Phi(x))``, finite far into the left tail where ``Phi`` underflows."""
    return log_ndtr_p(*floating("log_ndtr", x))


def ndtri(p, /):
    """The inverse of ``ndtr``: the standard normal quantile of ``p`` in ``[0, 1]``."""
    return ndtri_p(*floating("ndtri", p))


# -- logistic ---------------------------------------------------------------------------------

# d logit = 1 / (x (1 - x)), infinite at 0 and 1 as logit is
logit_p = unary("logit", lambda xp, ans, x: 1 / (x * (1 - x)))


def expit(x, /):
    """The logistic function ``1 / (1 + exp(-x))`` (``multigrad.sigmoid``)."""
    return sigmoid(*floating("expit", x))


def logit(p, /):
    """``log(p / (1 - p))``, the inverse of ``expit`` (-inf at 0, inf at 1)."""
    return logit_p(*floating("logit", p))


def log_expit(x, /):
    """``log(expit(x)) = -softplus(-x)``, without overflow or underflow."""
    (x,) = floating("log_expit", x)
    return -softplus(-x)


# -- gamma family -------------------------------------------------------------------------------

_polygamma_kernel = kernel("polygamma")


def _polygamma_forward(xp, x, n):
    return _polygamma_kernel(xp, (x,), {"n": n})


polygamma_p = unary("polygamma", lambda xp, ans, x, n: recorded(polygamma_p, xp, x, n=n + 1),
                     forward=_polygamma_forward)
gammaln_p = unary("gammaln", lambda xp, ans, x: recorded(polygamma_p, xp, x, n=0))


def _d_betaln(xp, ans, a, b):
    return recorded(polygamma_p, xp, a, n=0) - recorded(polygamma_p, xp, a + b, n=0)


betaln_p = binary("betaln", _d_betaln, lambda xp, ans, a, b: _d_betaln(xp, ans, b, a))


def gammaln(x, /):
    """``log|Gamma(x)|`` (inf at the poles 0, -1, -2, ...)."""
    return gammaln_p(*floating("gammaln", x))


def polygamma(n, x, /):
    """The ``n``-th derivative of ``digamma``: ``psi^(n)(x)`` (``n`` a non-negative int: a
    Python int or a 0-d integer tensor; a float is refused, even 2.0, rather than truncated)."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"special.polygamma: n must be a non-negative integer, got "
                        f"{n!r}") from None
    if n < 0:
        raise ValueError(f"special.polygamma: n must be a non-negative integer, got {n}")
    return polygamma_p(*floating("polygamma", x), n=n)


def digamma(x, /):
    """``psi(x) = d/dx log Gamma(x)`` (SciPy also calls it ``psi``)."""
    return polygamma_p(*floating("digamma", x), n=0)


psi = digamma


def betaln(a, b, /):
    """``log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)``."""
    return betaln_p(*floating("betaln", a, b))


# -- x log y and entropies ----------------------------------------------------------------------

def _safe_ratio(xp, x, y):
    """x / y, and 0 where both are 0 (x log y is 0 all along x = 0). Only that point is
    masked: elsewhere on x = 0 the ratio's derivative wrt x, 1 / y, is the mixed second
    derivative of x log y."""
    both_zero = (x == 0) & (y == 0)
    return xp.where(both_zero, 0.0, x / xp.where(both_zero, 1.0, y))


xlogy_p = binary("xlogy", lambda xp, ans, x, y: xp.log(y),
                  lambda xp, ans, x, y: _safe_ratio(xp, x, y))
xlog1py_p = binary("xlog1py", lambda xp, ans, x, y: xp.log1p(y),
                    lambda xp, ans, x, y: _safe_ratio(xp, x, 1 + y))


def _d_entr(xp, ans, x):
    positive = x > 0
    # -(log x + 1) inside; +inf at 0 (the right derivative); 0 where entr is -inf
    inside = -(xp.log(xp.where(positive, x, 1.0)) + 1)
    return xp.where(positive, inside, xp.where(x == 0, math.inf, xp.zeros_like(x)))


entr_p = unary("entr", _d_entr)


def _inside(xp, inside, x, y):
    """``x`` and ``y`` replaced by 1 outside ``inside`` (the double where)."""
    return xp.where(inside, x, 1.0), xp.where(inside, y, 1.0)


def _d_divergence_x(extra):
    """d/dx of x log(x / y) (+ ``extra``) for x, y > 0; -inf at x = 0 (the right
    derivative), as ``-inf - log(y)``: its derivative wrt y is then the limit -1 / y, the
    mixed second derivative that the rule wrt y gives there too (a plain -inf would have
    none, and the Hessian would not be symmetric)."""
    def rule(xp, ans, x, y):
        both = (x > 0) & (y > 0)
        xs, ys = _inside(xp, both, x, y)
        edge_y = xp.where((x == 0) & (y > 0), y, 1.0)
        return xp.where(both, xp.log(xs) - xp.log(ys) + extra,
                        xp.where(x == 0, -math.inf - xp.log(edge_y), xp.zeros_like(x)))
    return rule


# wrt y the formulas hold on x = 0 too (there the function is 0, or y, for every y > 0), so
# that the mixed second derivative, -1 / y, is right at the edge as well
def _d_rel_entr_y(xp, ans, x, y):
    inside = (x >= 0) & (y > 0)
    xs, ys = _inside(xp, inside, x, y)
    return xp.where(inside, -xs / ys, 0.0)


def _d_kl_div_y(xp, ans, x, y):
    inside = (x >= 0) & (y > 0)
    xs, ys = _inside(xp, inside, x, y)
    # at x = y = 0: kl_div(0, y) = y for y >= 0, so 1 (the right derivative)
    return xp.where(inside, 1 - xs / ys, xp.where((x == 0) & (y == 0), 1.0, xp.zeros_like(xs)))


rel_entr_p = binary("rel_entr", _d_divergence_x(1.0), _d_rel_entr_y)
kl_div_p = binary("kl_div", _d_divergence_x(0.0), _d_kl_div_y)


def xlogy(x, y, /):
    """``x * log(y)``, and 0 where ``x == 0`` (unless ``y`` is nan)."""
    return xlogy_p(*floating("xlogy", x, y))


def xlog1py(x, y, /):
    """``x * log1p(y)``, and 0 where ``x == 0`` (unless ``y`` is nan)."""
    return xlog1py_p(*floating("xlog1py", x, y))


def entr(x, /):
    """Elementwise entropy ``-x log x`` for ``x > 0``; 0 at 0, ``-inf`` for ``x < 0``."""
    return entr_p(*floating("entr", x))


def rel_entr(x, y, /):
    """``x log(x / y)`` for ``x, y > 0``; 0 where ``x == 0 <= y``; ``inf`` elsewhere."""
    return rel_entr_p(*floating("rel_entr", x, y))


def kl_div(x, y, /):
    """``x log(x / y) - x + y`` for ``x, y > 0``; ``y`` where ``x == 0 <= y``; ``inf``
    elsewhere."""
    return kl_div_p(*floating("kl_div", x, y))


# -- modified Bessel functions of the first kind ------------------------------------------------

# d i1 = i0 - i1 / x, whose two terms cancel as x -> 0 (to 1/2, and the second derivative's
# to 3x/8): below |x| = 1 it is the series of i1' instead,
# sum_k (2k + 1) x^2k / (2^(2k+1) k! (k+1)!), 14 terms to rounding
_I1_PRIME_SERIES = tuple((2 * k + 1) / (2 ** (2 * k + 1) * math.factorial(k)
                                        * math.factorial(k + 1)) for k in range(14))


def _i1_prime_near_zero(xp, x):
    """i1'(x) for |x| < 1, by its series (a polynomial in x**2, so every order is exact)."""
    x2 = x * x
    acc = _I1_PRIME_SERIES[-1]
    for c in reversed(_I1_PRIME_SERIES[:-1]):
        acc = acc * x2 + c
    return acc


def _d_i1(xp, ans, x):
    small = xp.abs(x) < 1
    xs, xl = xp.where(small, x, 0.0), xp.where(small, 1.0, x)
    return xp.where(small, _i1_prime_near_zero(xp, xs), recorded(i0_p, xp, xl) - ans / xl)


def _d_i1e(xp, ans, x):
    # i1e' = exp(-|x|) i1' - sign(x) i1e; from |x| = 1 on as i0e - i1e (sign(x) + 1/x), which
    # does not cancel there (and exp(-|x|) i1' would overflow far out)
    small = xp.abs(x) < 1
    xs, xl = xp.where(small, x, 0.0), xp.where(small, 1.0, x)
    near = xp.exp(-xp.abs(xs)) * _i1_prime_near_zero(xp, xs) - xp.sign(xs) * ans
    return xp.where(small, near, recorded(i0e_p, xp, xl) - ans * (xp.sign(xl) + 1 / xl))


i0_p = unary("i0", lambda xp, ans, x: recorded(i1_p, xp, x))
i0e_p = unary("i0e", lambda xp, ans, x: recorded(i1e_p, xp, x) - xp.sign(x) * ans)
i1_p = unary("i1", _d_i1)
i1e_p = unary("i1e", _d_i1e)


def i0(x, /):
    """The modified Bessel function of the first kind of order 0."""
    return i0_p(*floating("i0", x))


def i0e(x, /):
    """``exp(-|x|) * i0(x)``, without overflow."""
    return i0e_p(*floating("i0e", x))


def i1(x, /):
    """The modified Bessel function of the first kind of order 1."""
    return i1_p(*floating("i1", x))


def i1e(x, /):
    """``exp(-|x|) * i1(x)``, without overflow."""
    return i1e_p(*floating("i1e", x))


# -- sinc -----------------------------------------------------------------------------------------

_SINC_SPLIT = 0.25
# sinc'(x) = sum_k>=1 (-1)^k 2k pi^2k x^(2k-1) / (2k+1)!, for |x| < 1/4 (where cos(pi x) -
# sinc(x) would cancel); 10 terms are below rounding there
_SINC_SERIES = tuple((-1) ** k * 2 * k * math.pi ** (2 * k) / math.factorial(2 * k + 1)
                     for k in range(1, 11))


def _sinc_forward(xp, x):
    zero = x == 0
    y = math.pi * xp.where(zero, 1.0, x)
    return xp.where(zero, 1.0, xp.sin(y) / y)


def _d_sinc(xp, ans, x):
    small = xp.abs(x) < _SINC_SPLIT
    s = xp.where(small, x, 0.0)
    s2 = s * s
    acc = _SINC_SERIES[-1]
    for c in reversed(_SINC_SERIES[:-1]):
        acc = acc * s2 + c
    xl = xp.where(small, 1.0, x)
    # (cos(pi x) - sinc(x)) / x; at the small arguments: (-1 - ans) / 1, finite
    return xp.where(small, acc * s, (xp.cos(math.pi * xl) - ans) / xl)


sinc_p = unary("sinc", _d_sinc, forward=_sinc_forward)


def sinc(x, /):
    """The normalised sinc ``sin(pi x) / (pi x)``, 1 at 0."""
    return sinc_p(*floating("sinc", x))

