"""multigrad.special's derivative rules where they change formula or leave the domain: sinc's
Taylor series below |x| = 1/4 against exact references on both sides of the switch and to the
fourth order, the entropies outside their domains and at x = 0, and polygamma's order argument.

These complement tests/test_special.py, whose central differences (tolerance 1e-6) cannot see a
series term of size 1e-11 or an error in a third derivative.
"""

from __future__ import annotations

import math
import warnings
from decimal import Decimal, localcontext

import numpy as np
import pytest

import multigrad as mg

# log(0) in a derivative at the edge of a domain makes NumPy warn; the values are what is checked
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

S = mg.special
# the backends whose forwards differ: SciPy's kernels (cpu) and the fallbacks (strict)
DEVICES = ["cpu", "strict:CPU_DEVICE"]


def _nth_derivative(f, order):
    """x -> the ``order``-th derivative of the elementwise ``f`` at x (reverse over reverse)."""
    for _ in range(order):
        f = (lambda g: lambda x: mg.grad(lambda x: mg.sum(g(x)))(x))(f)
    return f


# -- sinc ---------------------------------------------------------------------------------------

_PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")


def _exact_sinc_derivative(x: float, order: int) -> float:
    """The ``order``-th derivative of sinc at ``x`` by its Taylor series, sum_m (-1)^m (pi
    x)^2m / (2m + 1)!, differentiated term by term, in 50-digit decimal arithmetic: for |x| <= 2
    the terms lose at most 3 of those digits to cancellation, so the result is the exact value
    rounded once to float."""
    with localcontext() as ctx:
        ctx.prec = 50
        x, total = Decimal(x), Decimal(0)
        for m in range((order + 1) // 2, 60):
            coefficient = Decimal((-1) ** m * math.perm(2 * m, order)) / math.factorial(2 * m + 1)
            total += coefficient * _PI ** (2 * m) * x ** (2 * m - order)
        return float(total)


# below 1/4 the derivative is a polynomial, exact to rounding at every order; above, the
# closed form (cos(pi x) - sinc(x)) / x, whose third and higher derivatives lose digits near
# the split (4e-14 at the fourth), so only its first two are held to rounding
SINC_SIDES = {
    "series": ([-0.2499, 0.1, 0.2, 0.24, float(np.nextafter(0.25, 0))], (1, 2, 3, 4)),
    "closed form": ([0.25, 0.2501, -0.26, 0.4, 1.0, 1.2], (1, 2)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("side", SINC_SIDES)
def test_sinc_derivatives_are_exact_to_rounding_on_both_sides_of_the_series(device, side):
    points, orders = SINC_SIDES[side]
    x = mg.asarray(points, device=device)
    for order in orders:
        want = [_exact_sinc_derivative(p, order) for p in points]
        np.testing.assert_allclose(_nth_derivative(S.sinc, order)(x).numpy(), want, rtol=2e-15,
                                   atol=0, err_msg=f"derivative of order {order}")


@pytest.mark.parametrize("device", DEVICES)
def test_sinc_at_zero_is_one_without_a_warning(device):
    """The forward divides by pi x only where x != 0 (a 0 / 0 there would warn, then be
    discarded)."""
    x = mg.asarray([0.0, 0.5], device=device)
    first = mg.grad(lambda x: mg.sum(S.sinc(x)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, slope, curvature = S.sinc(x), first(x), mg.grad(lambda x: mg.sum(first(x)))(x)
    assert (value.numpy()[0], slope.numpy()[0]) == (1.0, 0.0)
    assert curvature.numpy()[0] == pytest.approx(-math.pi ** 2 / 3, rel=1e-15)


# -- the entropies outside their domains and at x = 0 -------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("f", [S.rel_entr, S.kl_div], ids=["rel_entr", "kl_div"])
def test_divergences_are_flat_outside_their_domain_without_nan_on_the_way(device, f):
    """Where x < 0 (above and below -1) or y <= 0 the function is the constant inf: first and
    second derivatives 0, and the discarded formulas see safe inputs (anomaly mode would name
    a log(0) or 0 / 0 in a backward pass)."""
    x = mg.asarray([-0.5, -1e-3, -2.0, 1.0, 1.0, 0.5], device=device)
    y = mg.asarray([2.0, 0.5, 2.0, 0.0, -1.0, -1e-3], device=device)
    first = mg.grad(lambda x, y: mg.sum(f(x, y)), argnums=(0, 1))
    with mg.detect_anomaly():
        for wrt in (0, 1):
            d = (lambda wrt: lambda x, y: first(x, y)[wrt])(wrt)
            for derivative in (first(x, y)[wrt],
                               *mg.grad(lambda x, y: mg.sum(d(x, y)), argnums=(0, 1))(x, y)):
                np.testing.assert_array_equal(derivative.numpy(), 0.0)



@pytest.mark.parametrize("device", DEVICES)
def test_entr_is_flat_below_zero_without_nan_on_the_way(device):
    """entr is the constant -inf for x < 0 (above and below -1): derivatives 0."""
    x = mg.asarray([-0.5, -1e-3, -2.0], device=device)
    first = mg.grad(lambda x: mg.sum(S.entr(x)))
    with mg.detect_anomaly():
        np.testing.assert_array_equal(first(x).numpy(), 0.0)
        np.testing.assert_array_equal(mg.grad(lambda x: mg.sum(first(x)))(x).numpy(), 0.0)

# At x = 0 the derivative wrt x is the one-sided infinity, constant in x: its derivative wrt
# x is 0, and no 0 * inf is formed on the way (a Hessian's basis tangents are 0 at the other
# entries). Wrt y the divergences' formulas hold along x = 0, so d/dx of them is -1/y there,
# and the infinity is -inf - log(y), whose d/dy is the same -1/y: the Hessian is symmetric
# (it had 0 above the diagonal).
HESSIANS_AT_X_ZERO = {
    "entr": (lambda v: mg.sum(S.entr(v)), [0.0, 0.5], [[0.0, 0.0], [0.0, -1 / 0.5]]),
    "rel_entr": (lambda v: S.rel_entr(v[0], v[1]), [0.0, 2.0],
                 [[0.0, -1 / 2.0], [-1 / 2.0, 0.0]]),
    "kl_div": (lambda v: S.kl_div(v[0], v[1]), [0.0, 2.0], [[0.0, -1 / 2.0], [-1 / 2.0, 0.0]]),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", HESSIANS_AT_X_ZERO)
def test_entropies_hessian_at_x_zero_is_the_same_forward_and_reverse(device, name):
    f, point, want = HESSIANS_AT_X_ZERO[name]
    v = mg.asarray(point, device=device)
    np.testing.assert_array_equal(mg.jacfwd(mg.grad(f))(v).numpy(), want)
    np.testing.assert_array_equal(mg.jacrev(mg.grad(f))(v).numpy(), want)


@pytest.mark.parametrize("device", DEVICES)
def test_divergences_derivative_wrt_y_along_x_zero_includes_y_zero(device):
    """rel_entr(0, y) = 0 and kl_div(0, y) = y for y >= 0: along x = 0 the derivative wrt y is
    0 and 1, at y = 0 too (the right derivative)."""
    x = mg.zeros((3,), device=device)
    y = mg.asarray([0.0, 1.0, 2.0], device=device)
    for f, want in ((S.rel_entr, 0.0), (S.kl_div, 1.0)):
        np.testing.assert_array_equal(mg.grad(lambda y: mg.sum(f(x, y)))(y).numpy(), want)



@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("f, y_at_log_zero", [(S.xlogy, 0.0), (S.xlog1py, -1.0)],
                         ids=["xlogy", "xlog1py"])
def test_xlogy_derivative_wrt_y_where_x_is_0_and_the_log_infinite(device, f, y_at_log_zero):
    """x log y is 0 all along x = 0, log(0) included: there the derivative wrt y, x / y, is 0
    and so are its own derivatives; the 0 / 0 is not formed (no warning, no nan)."""
    x, y = mg.zeros((1,), device=device), mg.asarray([y_at_log_zero], device=device)
    d_dy = mg.grad(lambda x, y: mg.sum(f(x, y)), argnums=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = d_dy(x, y)
        wrt_y = mg.grad(lambda y: mg.sum(d_dy(x, y)))(y)
    wrt_x = mg.grad(lambda x: mg.sum(d_dy(x, y)))(x)  # (computes log(0) for d/dx, which warns)
    assert (first.numpy()[0], wrt_y.numpy()[0], wrt_x.numpy()[0]) == (0.0, 0.0, 0.0)

# -- polygamma's order --------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_polygamma_order_is_an_int_or_a_0d_integer_tensor(device):
    x = mg.asarray([0.5, 1.5], device=device)
    want = S.polygamma(2, x).numpy()
    for n in (mg.asarray(2, device=device), np.int64(2)):
        np.testing.assert_array_equal(S.polygamma(n, x).numpy(), want)
    # a float order is refused as Python's 2.0 is, not truncated (1.5 gave polygamma(1, x))
    for n in (mg.asarray(1.5, device=device), mg.asarray(2.0, device=device), 2.0,
              mg.asarray([2], device=device)):
        with pytest.raises(TypeError, match="special.polygamma: n must be a non-negative integer"):
            S.polygamma(n, x)
    with pytest.raises(ValueError, match="special.polygamma: n must be a non-negative integer"):
        S.polygamma(mg.asarray(-1, device=device), x)
