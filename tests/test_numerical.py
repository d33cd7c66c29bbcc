"""``multigrad.numerical`` (finite differences) and ``multigrad.gradcheck``.

References are analytic derivatives; the error-order tests check that halving the step divides
the error by about 4 (central, O(h**2)) or 2 (forward, O(h)).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import multigrad as mg
from multigrad import numerical


# -- default_step --------------------------------------------------------------------------------

def test_default_step():
    eps64, eps32 = 2.0 ** -52, 2.0 ** -23
    assert numerical.default_step(mg.float64) == pytest.approx(eps64 ** (1 / 3))
    assert numerical.default_step(mg.float64, "forward") == pytest.approx(math.sqrt(eps64))
    assert numerical.default_step(mg.float32) == pytest.approx(eps32 ** (1 / 3))
    assert numerical.default_step("float32", "forward") == pytest.approx(math.sqrt(eps32))
    with pytest.raises(TypeError, match="floating"):
        numerical.default_step(mg.int64)


def test_unknown_method_is_refused():
    x = mg.tensor(1.0)
    with pytest.raises(ValueError, match="'central' or 'forward'"):
        numerical.derivative(mg.exp, x, method="backward")


# -- derivative and directional ------------------------------------------------------------------

@pytest.mark.parametrize("method, tol", [("central", 1e-9), ("forward", 1e-6)])
def test_derivative_with_default_step(backend64, method, tol):
    x = backend64.tensor(0.7)
    d = numerical.derivative(lambda t: mg.exp(t) * t, x, method=method)
    assert d.device == x.device
    assert float(d) == pytest.approx((1 + 0.7) * math.exp(0.7), rel=tol)


@pytest.mark.parametrize("method, order", [("central", 2), ("forward", 1)])
def test_error_order(method, order):
    # f = exp at 1: every derivative is e, so the leading error is e h**2 / 6 (central) or
    # e h / 2 (forward), and halving h divides it by 2**order
    x = mg.tensor(1.0)
    errors = [abs(float(numerical.derivative(mg.exp, x, method=method, step=h)) - math.e)
              for h in (0.02, 0.01, 0.005)]
    for big, small in zip(errors, errors[1:]):
        assert big / small == pytest.approx(2 ** order, rel=0.05)
    leading = math.e * 0.01 ** 2 / 6 if method == "central" else math.e * 0.01 / 2
    assert errors[1] == pytest.approx(leading, rel=0.05)


def test_directional_matches_the_analytic_directional_derivative(backend64):
    xv, yv = np.array([0.3, -0.8]), np.array([1.2, 0.4])
    uv, vv = np.array([1.0, 2.0]), np.array([-0.5, 0.25])
    x, y = backend64.tensor(xv), backend64.tensor(yv)
    u, v = backend64.tensor(uv), backend64.tensor(vv)
    d = numerical.directional(lambda a, b: mg.tanh(a) * b, [x, y], [u, v])
    assert d.shape == (2,) and d.device == x.device
    expected = (1 - np.tanh(xv) ** 2) * yv * uv + np.tanh(xv) * vv
    np.testing.assert_allclose(d.numpy(), expected, rtol=1e-9)


def test_differences_record_nothing():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    d = numerical.directional(lambda a: a * a, [x], [mg.ones_like(x)])
    assert not d.requires_grad


# -- numerical_grad ------------------------------------------------------------------------------

@pytest.mark.parametrize("method, tol", [("central", 1e-8), ("forward", 1e-5)])
def test_numerical_grad(backend64, method, tol):
    xv = np.array([[0.5, -1.0, 0.2], [1.5, 0.1, -0.3]])
    wv = np.array([0.7, -0.2, 1.1])
    x, w = backend64.tensor(xv), backend64.tensor(wv)

    def f(a, b):
        return mg.sum(mg.exp(a * b) + a * a)

    gx, gw = numerical.numerical_grad(f, [x, w], method=method)
    assert gx.shape == (2, 3) and gw.shape == (3,)
    assert gx.device == x.device and gw.device == x.device
    e = np.exp(xv * wv)
    np.testing.assert_allclose(gx.numpy(), wv * e + 2 * xv, rtol=tol, atol=tol)
    np.testing.assert_allclose(gw.numpy(), (xv * e).sum(axis=0), rtol=tol, atol=tol)


def test_numerical_grad_of_a_scalar_input():
    x = mg.tensor(0.4)
    (g,) = numerical.numerical_grad(lambda a: mg.tanh(a), [x])
    assert g.shape == ()
    assert float(g) == pytest.approx(1 - math.tanh(0.4) ** 2, rel=1e-9)


# -- gradcheck -----------------------------------------------------------------------------------

def _wrong_square():
    """x**2 whose VJP says 3x instead of 2x (its JVP is right): a bug gradcheck must catch."""
    return mg.defprimitive(
        "wrong_square",
        forward=lambda xp, x: x * x,
        vjp=(lambda xp, g, ans, x: 3 * g * x,),
        jvp=(lambda xp, t, ans, x: 2 * t * x,),
        register=False,
    )


def test_user_primitive_stays_out_of_the_registry():
    _wrong_square()
    assert "wrong_square" not in mg.autograd.REGISTRY


def test_gradcheck_passes_on_a_correct_function(backend64):
    a = backend64.tensor([[0.5, -1.0], [0.3, 2.0]], requires_grad=True)
    b = backend64.tensor([0.7, -0.4], requires_grad=True)
    assert mg.gradcheck(lambda x, y: mg.exp(x * y) + mg.tanh(x) / (y * y + 1), a, b) is True


def test_gradcheck_reports_a_wrong_vjp():
    wrong = _wrong_square()
    a = mg.tensor([1.0, 1.0, 1.0], requires_grad=True)
    b = mg.tensor([0.1, 0.2, 2.0], requires_grad=True)  # the error 1 * b is largest at (2,)
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(lambda x, y: x * wrong(y), a, b)
    message = str(info.value)
    assert "input 1" in message and "(2,)" in message
    found = re.search(r"reverse mode ([-\d.e+]+), numerical ([-\d.e+]+)", message)
    assert found, message
    reverse, numeric = float(found.group(1)), float(found.group(2))
    assert reverse / numeric == pytest.approx(1.5, rel=1e-6)  # 3x claimed, 2x true
    assert isinstance(info.value, AssertionError)  # pytest shows it as a failed check


def test_gradcheck_without_raising():
    wrong = _wrong_square()
    x = mg.tensor([0.5, 1.5], requires_grad=True)
    assert mg.gradcheck(wrong, x, raise_exception=False) is False
    assert mg.gradcheck(lambda t: t * t, x, raise_exception=False) is True


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad=True"):
        mg.gradcheck(mg.exp, mg.tensor([1.0]))


def test_gradcheck_of_a_gradient_checks_second_derivatives(backend64):
    """f computing a gradient inside: differences of it need grad mode and leaves that
    require gradients; a wrong create_graph backward would fail here."""
    x = backend64.tensor([0.3, -1.2, 2.0], requires_grad=True)

    def gradient(a):
        return mg.autograd.grad(mg.sum(mg.tanh(a) * a * a), [a], create_graph=True)[0]

    assert mg.gradcheck(gradient, x)
