"""multigrad.special: derivatives of first and second order at ordinary and special points,
the standard-function fallbacks against SciPy over wide ranges, and multigrad without SciPy.

The op table (``tests/op_specs/special.py``) checks every function on every backend with the
table's fixed difference step; here the points are nearer the singularities, so each derivative
is compared with central differences whose step is scaled to the distance from the nearest
one. Reverse over reverse, forward over reverse and forward mode must all agree.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.special as sc

import multigrad as mg
from multigrad.ops._special_fallbacks import FALLBACKS

# the special points give inf and nan on purpose (log 0 in a derivative at y = 0, polygamma
# at 1e-300...), which NumPy and array-api-strict announce with RuntimeWarnings; the values
# are what the tests check
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

S = mg.special
ROOT = Path(__file__).resolve().parent.parent
# the backends whose forwards differ: SciPy's kernels (numpy) and the fallbacks (strict)
DEVICES = ["cpu", "strict:CPU_DEVICE"]


def _derivatives(f, x):
    """f'(x), f''(x) (reverse over reverse) and the same by forward mode, elementwise."""
    d1 = mg.grad(lambda x: mg.sum(f(x)))
    first, second = d1(x), mg.grad(lambda x: mg.sum(d1(x)))(x)
    ones = mg.ones_like(x)
    _, tangent = mg.jvp(f, (x,), (ones,))
    _, tangent2 = mg.jvp(d1, (x,), (ones,))  # forward over reverse
    return first, second, tangent, tangent2


def _central(f, x, h, device):
    """(f(x + h) - f(x - h)) / 2h elementwise, on the host; 2h is taken as the difference of
    the two points as rounded (near 1, x + 1e-13 is not exactly 1e-13 away from x)."""
    up, down = x + h, x - h
    return (f(mg.asarray(up, device=device)).numpy()
            - f(mg.asarray(down, device=device)).numpy()) / (up - down)


def _check(f, points, device, distance, rtol=1e-6):
    """f', f'' against central differences at ``points``, with steps of 1e-5 of ``distance``
    (each point's distance to the nearest singularity, or its scale)."""
    x = np.asarray(points, dtype=np.float64)
    h = 1e-5 * np.asarray(distance, dtype=np.float64)
    t = mg.asarray(x, device=device)
    first, second, tangent, tangent2 = _derivatives(f, t)
    d1 = mg.grad(lambda x: mg.sum(f(x)))
    np.testing.assert_allclose(first.numpy(), _central(f, x, h, device), rtol=rtol, atol=1e-9,
                               err_msg="first derivative")
    np.testing.assert_allclose(second.numpy(), _central(d1, x, h, device), rtol=10 * rtol,
                               atol=1e-8, err_msg="second derivative")
    np.testing.assert_allclose(tangent.numpy(), first.numpy(), rtol=1e-12, atol=0,
                               err_msg="forward mode")
    np.testing.assert_allclose(tangent2.numpy(), second.numpy(), rtol=1e-12, atol=0,
                               err_msg="forward over reverse")


@pytest.mark.parametrize("device", DEVICES)
def test_erf_near_zero_and_in_the_tails(device):
    points = [-4.0, -1e-3, -1e-9, 1e-9, 1e-3, 0.7, 5.0]
    _check(S.erf, points, device, np.maximum(np.abs(points), 1e-3))
    _check(S.erfc, points, device, np.maximum(np.abs(points), 1e-3))
    # at 0 exactly: erf'(0) = 2/sqrt(pi), erf''(0) = 0
    first, second, _, _ = _derivatives(S.erf, mg.zeros((1,), device=device))
    np.testing.assert_allclose(first.numpy(), [2 / np.sqrt(np.pi)], rtol=1e-15)
    assert second.numpy()[0] == 0.0


@pytest.mark.parametrize("device", DEVICES)
def test_inverse_error_functions_near_their_ends(device):
    points = [-1 + 1e-9, -0.5, 1e-12, 0.9999]
    _check(S.erfinv, points, device, [1e-9, 0.5, 1.0, 1e-4], rtol=1e-5)
    _check(S.erfcinv, [1e-10, 0.3, 1.0, 2 - 1e-8], device, [1e-10, 0.3, 1.0, 1e-8], rtol=1e-5)
    _check(S.ndtri, [1e-12, 0.5, 1 - 1e-9], device, [1e-12, 0.5, 1e-9], rtol=1e-5)
    # at the ends, infinite as the functions
    ends = mg.asarray([-1.0, 1.0], device=device)
    grad = mg.grad(lambda y: mg.sum(S.erfinv(y)))(ends).numpy()
    np.testing.assert_array_equal(grad, [np.inf, np.inf])


@pytest.mark.parametrize("device", DEVICES)
def test_logit_and_logistic_near_the_boundaries(device):
    points = [1e-8, 1e-3, 0.5, 1 - 1e-3, 1 - 1e-8]
    _check(S.logit, points, device, [1e-8, 1e-3, 0.5, 1e-3, 1e-8])
    far = [-700.0, -30.0, 0.0, 30.0, 700.0]
    _check(S.expit, far, device, 1.0)
    _check(S.log_expit, far, device, 1.0)
    # logit'(x) = 1 / (x (1 - x)): exact, even one ulp from the boundaries
    x = np.array([np.nextafter(0.0, 1.0) * 2**60, np.nextafter(1.0, 0.0)])
    g = mg.grad(lambda p: mg.sum(S.logit(p)))(mg.asarray(x, device=device)).numpy()
    np.testing.assert_allclose(g, 1 / (x * (1 - x)), rtol=1e-15)


@pytest.mark.parametrize("device", DEVICES)
def test_gammaln_and_polygamma_near_the_poles(device):
    points = [-2.5, -1 - 1e-4, -1 + 1e-4, -1e-5, 1e-5, 1.0, 2.0, 170.5]
    distance = [0.5, 1e-4, 1e-4, 1e-5, 1e-5, 1.0, 1.0, 1.0]
    _check(S.gammaln, points, device, distance)
    _check(S.digamma, points, device, distance, rtol=1e-5)
    _check(lambda x: S.polygamma(2, x), [-1.5, -1e-3, 0.25, 7.0], device,
           [0.5, 1e-3, 0.25, 1.0], rtol=1e-5)
    # gammaln's zeros at 1 and 2: the derivatives are digamma's values there
    g = mg.grad(lambda x: mg.sum(S.gammaln(x)))(mg.asarray([1.0, 2.0], device=device))
    np.testing.assert_allclose(g.numpy(), [-np.euler_gamma, 1 - np.euler_gamma], rtol=1e-13)


@pytest.mark.parametrize("device", DEVICES)
def test_betaln_in_both_arguments(device):
    b = mg.asarray([2.0, 0.01, 30.0], device=device)
    a = mg.asarray([1e-3, 0.5, 40.0], device=device)
    _check(lambda a: S.betaln(a, b), [1e-3, 0.5, 40.0], device, [1e-3, 0.5, 1.0])
    _check(lambda b: S.betaln(a, b), [2.0, 0.01, 30.0], device, [1.0, 0.01, 1.0])


@pytest.mark.parametrize("device", DEVICES)
def test_normal_distribution_functions_in_the_far_left_tail(device):
    points = [-40.0, -8.0, -1e-6, 3.0, 9.0]
    _check(S.log_ndtr, points, device, 1.0)
    _check(S.ndtr, [-8.0, -1e-6, 3.0], device, 1.0)
    # d log_ndtr ~ -x far out, where ndtr itself underflows
    g = mg.grad(lambda x: mg.sum(S.log_ndtr(x)))(mg.asarray([-1e4], device=device))
    np.testing.assert_allclose(g.numpy(), [1e4], rtol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_xlogy_at_x_zero_first_and_mixed_second_derivatives(device):
    x = mg.asarray([0.0, 0.0, 0.0, 1.5], device=device)
    y = mg.asarray([0.5, 3.0, 0.0, 0.2], device=device)
    for f, log, ratio in ((S.xlogy, np.log, lambda y: y), (S.xlog1py, np.log1p, lambda y: 1 + y)):
        dx, dy = mg.grad(lambda x, y: mg.sum(f(x, y)), argnums=(0, 1))(x, y)
        with np.errstate(divide="ignore"):
            np.testing.assert_allclose(dx.numpy(), log(y.numpy()))
        # wrt y: x / y, 0 all along x = 0 (the function is 0 there), also where y = 0
        np.testing.assert_array_equal(dy.numpy()[:3], [0.0, 0.0, 0.0])
        # the mixed derivative at x = 0 is 1 / y (0 * log y is x log y's value, not a constant)
        d_dy = mg.grad(lambda x, y: mg.sum(f(x, y)), argnums=1)
        mixed = mg.grad(lambda x: mg.sum(d_dy(x, y)))(x).numpy()
        np.testing.assert_allclose(mixed[:2], 1 / ratio(y.numpy()[:2]), rtol=1e-15)
        # and d2/dy2 = -x / y**2 is 0 on x = 0
        assert mg.grad(lambda y: mg.sum(d_dy(x, y)))(y).numpy()[0] == 0.0
    _check(lambda x: S.xlogy(x, y[:2]), [0.0, 1e-3], device, 1.0)


@pytest.mark.parametrize("device", DEVICES)
def test_entropies_near_zero_and_at_the_edge_of_their_domains(device):
    _check(S.entr, [1e-7, 0.3, 5.0], device, [1e-7, 0.3, 1.0])
    y = mg.asarray([0.3, 1e-3, 2.0], device=device)
    for f in (S.rel_entr, S.kl_div):
        _check(lambda x: f(x, y), [1e-6, 0.5, 2.0], device, [1e-6, 0.5, 1.0])
        _check(lambda y: f(mg.asarray([1e-6, 0.5, 2.0], device=device), y),
               [0.3, 1e-3, 2.0], device, [0.3, 1e-3, 1.0])
    # at x = 0: the right derivative wrt x is -inf, wrt y the formula (0 and 1)
    x0, y0 = mg.zeros((1,), device=device), mg.asarray([2.0], device=device)
    for f, wrt_y in ((S.rel_entr, 0.0), (S.kl_div, 1.0)):
        dx, dy = mg.grad(lambda x, y: mg.sum(f(x, y)), argnums=(0, 1))(x0, y0)
        assert dx.numpy()[0] == -np.inf and dy.numpy()[0] == wrt_y
    assert mg.grad(lambda x: mg.sum(S.entr(x)))(x0).numpy()[0] == np.inf
    # outside the domain the functions are constants (inf), with derivative 0
    out = mg.asarray([-1.0], device=device)
    assert mg.grad(lambda x: mg.sum(S.rel_entr(x, y0)))(out).numpy()[0] == 0.0
    # wrt both arguments, at x < 0, y = 0 and y < 0
    one = mg.asarray([1.0], device=device)
    for f in (S.rel_entr, S.kl_div):
        for x, y in ((out, y0), (one, 0.0 * y0), (one, -y0), (one, -0.25 * y0)):
            dx, dy = mg.grad(lambda x, y: mg.sum(f(x, y)), argnums=(0, 1))(x, y)
            assert dx.numpy()[0] == 0.0 and dy.numpy()[0] == 0.0


@pytest.mark.parametrize("device", DEVICES)
def test_bessel_functions_at_zero_and_far_out(device):
    points = [-60.0, -26.0, -1.0, -0.5, 0.999, 2.0, 24.0, 60.0]
    for f in (S.i0, S.i0e, S.i1, S.i1e):
        _check(f, points, device, 1.0, rtol=1e-5)
    # i0e and i1e have |x| in them: a kink at 0, approached with steps that shrink with |x|
    for f in (S.i0e, S.i1e):
        _check(f, [-1e-3, 1e-3], device, 1e-3, rtol=1e-5)
    # near 0, where i0 and i1 are too flat for differences: their Taylor series
    x = np.array([-1e-3, 1e-8, 1e-4])
    for f, first, second in ((S.i0, x / 2 + x ** 3 / 16, 0.5 + 3 * x ** 2 / 16),
                             (S.i1, 0.5 + 3 * x ** 2 / 16, 3 * x / 8 + 5 * x ** 3 / 96)):
        g, gg, _, _ = _derivatives(f, mg.asarray(x, device=device))
        np.testing.assert_allclose(g.numpy(), first, rtol=1e-12)
        np.testing.assert_allclose(gg.numpy(), second, rtol=1e-10)
    # at 0: i0' = 0 and i1' = i1e' = 1/2 (the limits); i0'' = 1/2
    zero = mg.zeros((1,), device=device)
    for f, first, second in ((S.i0, 0.0, 0.5), (S.i1, 0.5, 0.0), (S.i1e, 0.5, 0.0)):
        g, gg, _, _ = _derivatives(f, zero)
        assert g.numpy()[0] == first and gg.numpy()[0] == pytest.approx(second, abs=1e-15)


@pytest.mark.parametrize("device", DEVICES)
def test_sinc_on_both_sides_of_its_series(device):
    _check(S.sinc, [-2.5, -0.3, -0.25, -0.2, 0.2, 0.2499, 1.0, 3.7], device, 0.1)
    # near 0, where sinc is flat to rounding: its Taylor series
    x = np.array([-1e-4, 0.0, 1e-7, 1e-3])
    first, second, _, _ = _derivatives(S.sinc, mg.asarray(x, device=device))
    k = np.arange(1, 8)[:, None]
    terms = (-1.0) ** k * np.pi ** (2 * k) / np.array([math.factorial(2 * n + 1) for n in
                                                       range(1, 8)])[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_allclose(first.numpy(), np.sum(terms * 2 * k * x ** (2 * k - 1), 0),
                                   rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(second.numpy(),
                               np.sum(terms * 2 * k * (2 * k - 1) * x ** (2 * k - 2), 0),
                               rtol=1e-14)


# -- the fallbacks, against SciPy ----------------------------------------------------------------

def _agree(name, got, want, rtol, floor=1.0):
    """SciPy's non-finite values exactly, the others within ``rtol`` (a number, or one per point)
    relative to ``max(|want|, floor)``: absolute near zeros with the default floor, relative to
    the last digit of the smallest values with ``floor=0``."""
    got, want = np.asarray(got), np.asarray(want)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    finite = np.isfinite(want) & ~same
    assert np.all(same | finite), f"{name}: non-finite values differ from SciPy's"
    got, want = got[finite], want[finite]
    error = np.abs(got - want) / np.maximum(np.abs(want), floor)
    rtol = np.broadcast_to(rtol, finite.shape)[finite]
    worst = np.argmax(error / rtol) if error.size else None
    assert worst is None or error[worst] < rtol[worst], (
        f"{name}: off SciPy by {error[worst]:.1e} (relative) where it is {want[worst]:.3e}")


# among the points, the thresholds of the fallbacks' branches: |x| = 2 (erf's series and
# continued fraction), 25 (the Bessel functions' power and asymptotic series), and entr's -1
WIDE = np.concatenate([np.linspace(-40, 40, 1601) + 0.013, [0.0, 1e-300, -1e-9, 1e-8, np.inf,
                                                             -np.inf, np.nan, -1.0, 2.0, -2.0,
                                                             25.0, -25.0]])
UNIT = np.concatenate([np.linspace(-1, 1, 801), [1e-300, 1e-12, -1 + 1e-12, 1 - 1e-15, 1.5,
                                                 np.nan]])
POSITIVE = np.concatenate([np.linspace(-30, 30, 1201) + 0.0123, [0.0, -1.0, -2.0, 1.0, 2.0,
                                                                 1e-300, 1e300, np.inf]])


@pytest.mark.parametrize("name, points, reference, rtol", [
    ("erf", WIDE, sc.erf, 1e-15), ("erfc", WIDE, sc.erfc, 1e-13), ("ndtr", WIDE, sc.ndtr, 1e-13),
    ("log_ndtr", np.concatenate([WIDE, [-1e5, -300.0]]), sc.log_ndtr, 1e-13),
    ("logit", (1 + UNIT) / 2, sc.logit, 1e-14),
    ("gammaln", POSITIVE, sc.gammaln, 1e-13), ("i0", WIDE, sc.i0, 1e-14),
    ("i0e", WIDE, sc.i0e, 1e-14), ("i1", WIDE, sc.i1, 1e-14), ("i1e", WIDE, sc.i1e, 1e-14),
    ("entr", WIDE, sc.entr, 1e-15),
])
def test_fallbacks_agree_with_scipy(name, points, reference, rtol):
    xp = mg.get_device("strict:CPU_DEVICE").xp
    got = np.asarray(FALLBACKS[name](xp, xp.asarray(points)))
    _agree(name, got, reference(points), rtol)


TINY = np.concatenate([np.geomspace(1e-300, 1e-3, 61), -np.geomspace(1e-300, 1e-3, 61)])
# to the end of the normal numbers: erfc(26.5) = 5e-307, ndtr(-37) = 6e-300
TAILS = np.linspace(-37, 37, 1481) + 0.0123
# around 1, where erfcinv vanishes (and halved, ndtri and logit at 1/2), to past the switches
# of their branches: |q - 1| = 1/2 for erfcinv, p = 1/4 and 3/4 for ndtri, x = 1/3 for logit
OFF_ONE = np.concatenate([np.geomspace(2.0**-52, 0.6, 61), [2.0**-53, 1 / 3, 0.5]])
AROUND_ONE = np.concatenate([1 - OFF_ONE, 1 + OFF_ONE])


@pytest.mark.parametrize("name, points, rtol", [
    # near 0, where they vanish: erf by its series, erfinv by Newton on erf itself (not on
    # erfc, which would lose the digits of a tiny y), i1 and i1e by the power series
    ("erf", TINY, 1e-15), ("erfinv", TINY, 1e-15), ("i1", TINY, 1e-15), ("i1e", TINY, 1e-15),
    # the tails, relative to the smallest values: the 1e-13 of the module docstring; ndtr and
    # log_ndtr also round x / sqrt(2), an error that the tails magnify x**2-fold: up to
    # 2.2e-16 x**2 for them and as much for SciPy's
    ("erfc", np.linspace(-6, 26.5, 651) + 0.0123, 1e-13),
    ("ndtr", TAILS, 1e-13 + 4.4e-16 * TAILS ** 2),
    ("log_ndtr", TAILS, 1e-13 + 4.4e-16 * TAILS ** 2),
    # the inverses over their domains, relative to their values (below 1/2 in size only near
    # their zeros, where the next cases take more points)
    ("erfinv", UNIT, 1e-13), ("erfcinv", 1 - UNIT, 1e-13), ("ndtri", (1 + UNIT) / 2, 1e-13),
    # near their zeros: erfcinv(q) as -erfinv(q - 1) and ndtri(p) as -sqrt(2) erfcinv(2p)
    # (off by 4e-9 from Newton on log erfc, whose rounding near 0 is absolute), logit as
    # log1p((2x - 1) / (1 - x)) (off by 6e-12 as log(x) - log1p(-x), which cancels); logit
    # also out to its ends
    ("erfcinv", AROUND_ONE, 2e-15), ("ndtri", AROUND_ONE / 2, 2e-15),
    ("logit", np.concatenate([AROUND_ONE / 2, np.geomspace(1e-300, 0.2, 40),
                              1 - np.geomspace(2.0**-53, 0.2, 40)]), 2e-15),
])
def test_fallbacks_are_accurate_relative_to_the_smallest_values(name, points, rtol):
    xp = mg.get_device("strict:CPU_DEVICE").xp
    got = np.asarray(FALLBACKS[name](xp, xp.asarray(points)))
    _agree(name, got, getattr(sc, name)(points), rtol, floor=0.0)


def test_float32_erfc_and_erfinv_fallbacks_leave_the_series_at_1():
    """In float32 erfc's series ``1 - erf(x)`` cancels: it stops at ``|x| = 1`` there (at 2 in
    float64), where the continued fraction has converged to float32's rounding. Stopping at 2,
    erfc lost up to 600 ulp below 2 (``multigrad.ops.nn`` promises 1e-5 relative), and erfinv,
    by Newton on log erfc at ``erfc^-1(1 - |y|)``, 80 ulp near ``|y| = 0.99``."""
    xp = mg.get_device("strict:CPU_DEVICE").xp
    x = np.linspace(-9, 9, 1801, dtype=np.float32)
    got = np.asarray(FALLBACKS["erfc"](xp, xp.asarray(x)))
    _agree("erfc", got, sc.erfc(x.astype(np.float64)), 1e-5, floor=0.0)
    y = np.concatenate([np.linspace(0.9, 1, 2001, dtype=np.float32)[:-1],
                        np.linspace(-1, -0.9, 2001, dtype=np.float32)[1:]])
    want = sc.erfinv(y.astype(np.float64))
    got = np.asarray(FALLBACKS["erfinv"](xp, xp.asarray(y)))
    two_ulp = 2 * np.spacing(np.abs(want).astype(np.float32)) / np.abs(want)
    _agree("erfinv", got, want, two_ulp, floor=0.0)


def test_fallbacks_zeros_have_scipys_signs():
    """``_agree`` takes -0.0 for 0.0; here the signs count: SciPy's erfinv(-0.0) is +0.0 (not
    -0.0, as an odd function's might be), erfcinv(1) is -0.0, ndtri(1/2) and logit(1/2) +0.0."""
    xp = mg.get_device("strict:CPU_DEVICE").xp
    for name, x in (("erfinv", [0.0, -0.0]), ("erfcinv", [1.0]), ("ndtri", [0.5]),
                    ("logit", [0.5])):
        got = np.asarray(FALLBACKS[name](xp, xp.asarray(x)))
        want = getattr(sc, name)(np.asarray(x))
        np.testing.assert_array_equal(got, want, err_msg=name)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg=name)


@pytest.mark.parametrize("name, fallback, reference, bound", [
    ("gammaln", lambda xp, x: FALLBACKS["gammaln"](xp, x), sc.gammaln, 1.5e-15),
    ("digamma", lambda xp, x: FALLBACKS["polygamma"](xp, x, 0), sc.psi, 1e-16),
])
def test_gamma_fallbacks_have_no_systematic_error_where_their_series_starts(name, fallback,
                                                                             reference, bound):
    """On [1/2, 1] the asymptotic series runs at its smallest argument, z = x + 8 in [8.5, 9],
    where its last terms weigh most. A wrong or missing term is a smooth offset there, below
    the rounding of single values (up to 7e-15 for gammaln, 2e-15 for digamma) but not below
    their mean over many points, where the rounding averages out: to 1e-17 for digamma, to
    -4e-16 for gammaln (the rounding of adding log(2 pi) / 2 to values in [8, 16), the same at
    every point)."""
    xp = mg.get_device("strict:CPU_DEVICE").xp
    x = np.linspace(0.5, 1.0, 1001)
    bias = np.mean(np.asarray(fallback(xp, xp.asarray(x))) - reference(x))
    assert abs(bias) < bound, f"{name}: mean error {bias:.1e} on [1/2, 1]"


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_polygamma_fallback_agrees_with_scipy_on_both_sides_of_the_reflection(n):
    xp = mg.get_device("strict:CPU_DEVICE").xp
    # and SciPy's infinities where cot(pi x) overflows (|x| < 2e-309), at -0.0 and at -inf
    points = np.concatenate([POSITIVE, [5e-324, 1e-310, -1e-310, -0.0, -np.inf]])
    got = np.asarray(FALLBACKS["polygamma"](xp, xp.asarray(points), n=n))
    _agree(f"polygamma({n})", got, sc.polygamma(n, points) if n else sc.psi(points), 1e-12)


def test_binary_fallbacks_agree_with_scipy_at_the_edges_of_their_domains():
    xp = mg.get_device("strict:CPU_DEVICE").xp
    x = np.array([0.0, 0.0, 1.0, -1.0, 2.0, 0.0, np.nan, 3.0, 0.5, 1e-300, 1.0, 0.0, 0.0, 1.0,
                  np.inf])
    y = np.array([0.0, 2.0, 0.0, 1.0, -1.0, np.nan, 1.0, 3.0, 0.25, 7.0, 2.0, -1.0, -0.5, -0.5,
                  0.0])
    for name in ("xlogy", "xlog1py", "rel_entr", "kl_div"):
        got = np.asarray(FALLBACKS[name](xp, xp.asarray(x), xp.asarray(y)))
        _agree(name, got, getattr(sc, name)(x, y), 1e-13)
    a, b = np.meshgrid(np.geomspace(1e-3, 300, 25), np.geomspace(1e-3, 300, 25))
    got = np.asarray(FALLBACKS["betaln"](xp, xp.asarray(a), xp.asarray(b)))
    # three gammaln of magnitude up to ~1700 cancel: absolute accuracy, not relative
    np.testing.assert_allclose(got, sc.betaln(a, b), rtol=0, atol=1e-11)


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_float32_in_float32_out(device):
    x = mg.asarray(np.linspace(0.1, 0.9, 5), dtype=mg.float32, device=device)
    for name in ("erf", "erfinv", "gammaln", "digamma", "ndtri", "i0e", "sinc", "entr"):
        out = getattr(S, name)(x)
        assert out.dtype == mg.float32 and out.device == device, name
        np.testing.assert_allclose(out.numpy(), getattr(sc, name)(x.numpy()), rtol=2e-5,
                                   atol=1e-6, err_msg=name)
    assert S.polygamma(1, x).dtype == mg.float32  # SciPy's polygamma computes in float64


def test_arguments_are_checked():
    x = mg.asarray([0.5, 1.5])
    with pytest.raises(ValueError, match="special.polygamma: n must be a non-negative integer"):
        S.polygamma(-1, x)
    with pytest.raises(TypeError, match="special.polygamma: n must be a non-negative integer"):
        S.polygamma(1.5, x)
    with pytest.raises(TypeError, match="special.erf: complex arguments are not supported"):
        S.erf(mg.asarray([1j]))
    with pytest.raises(TypeError, match="special.xlogy: expected at least one tensor"):
        S.xlogy(0.0, 1.0)
    # integers take the device's default floating dtype; Python scalars take the tensor's
    assert S.erf(mg.asarray([1, 2])).dtype == mg.float64
    out = S.xlogy(2.0, mg.asarray([1.0, 3.0], dtype=mg.float32))
    assert out.dtype == mg.float32
    np.testing.assert_allclose(out.numpy(), 2 * np.log([1.0, 3.0]), rtol=1e-6)


def test_expit_is_sigmoid_and_softplus_is_reexported():
    assert S.softplus is mg.softplus and S.logsumexp is mg.logsumexp
    x = mg.asarray([-3.0, 0.0, 3.0])
    np.testing.assert_array_equal(S.expit(x).numpy(), mg.sigmoid(x).numpy())
    assert S.psi is S.digamma


def test_multigrad_imports_and_computes_without_scipy():
    """SciPy is optional: with it hidden, ``import multigrad`` works and the special functions
    on NumPy fall back to standard functions (same values)."""
    code = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError("scipy hidden for this test")
sys.meta_path.insert(0, Hide())
import multigrad as mg
assert "scipy" not in sys.modules
import json
x = mg.asarray([0.25, 0.5, 2.0])
grad = mg.grad(lambda x: mg.sum(mg.special.erfinv(x / 4)))(x)
print(json.dumps([mg.special.erf(x).tolist(), mg.special.gammaln(x).tolist(), grad.tolist()]))
assert "scipy" not in sys.modules
"""
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    erf, gammaln, grad = json.loads(done.stdout)
    x = np.array([0.25, 0.5, 2.0])
    np.testing.assert_allclose(erf, sc.erf(x), rtol=1e-15)
    np.testing.assert_allclose(gammaln, sc.gammaln(x), rtol=1e-13)
    np.testing.assert_allclose(grad, np.sqrt(np.pi) / 2 * np.exp(sc.erfinv(x / 4) ** 2) / 4,
                               rtol=1e-13)
