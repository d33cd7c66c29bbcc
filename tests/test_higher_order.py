"""Higher-order derivatives: reverse over reverse (``autograd.grad(create_graph=True)``), forward
over reverse (``jvp`` of a gradient), reverse over forward, and forward over forward.

References are analytic derivatives, or central differences of a lower derivative where the
analytic form would be unreadable (the matmul-tanh network).
"""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg
from multigrad import autograd


def _tol(backend):
    return dict(rtol=1e-10, atol=1e-10) if backend.precise else dict(rtol=2e-4, atol=2e-4)


def _derivatives(f, x, order):
    """[f'(x), f''(x), ...] elementwise, by repeated reverse mode on sum(f)."""
    out = []
    y = mg.sum(f(x))
    for _ in range(order):
        (y,) = autograd.grad(y, [x], create_graph=True)
        out.append(y)
        y = mg.sum(y)
    return out


def _check(derivs, expected, backend):
    for k, (got, want) in enumerate(zip(derivs, expected), start=1):
        assert got.shape == want.shape, f"derivative {k}: shape {got.shape}"
        assert got.dtype == backend.dtype and got.device == backend.device
        np.testing.assert_allclose(got.numpy(), want, err_msg=f"derivative {k}", **_tol(backend))


X = np.array([-1.3, -0.4, 0.2, 0.9, 1.6])


# -- reverse over reverse against analytic derivatives -------------------------------------------

def test_polynomial_third_order(backend):
    # f = 3x^4 - 2x^3 + x: f' = 12x^3 - 6x^2 + 1, f'' = 36x^2 - 12x, f''' = 72x - 12
    x = backend.tensor(X, requires_grad=True)
    derivs = _derivatives(lambda a: 3.0 * a * a * a * a - 2.0 * a * a * a + a, x, 3)
    _check(derivs, [12 * X ** 3 - 6 * X ** 2 + 1, 36 * X ** 2 - 12 * X, 72 * X - 12], backend)


def test_pow_third_order(backend):
    # (x**3)''' = 6 through pow's rules, which must themselves be differentiable
    x = backend.tensor(X, requires_grad=True)
    derivs = _derivatives(lambda a: a ** 3, x, 3)
    _check(derivs, [3 * X ** 2, 6 * X, np.full_like(X, 6.0)], backend)


def test_exp_of_linear_third_order(backend):
    # exp(2x)^(n) = 2^n exp(2x)
    x = backend.tensor(X, requires_grad=True)
    derivs = _derivatives(lambda a: mg.exp(2.0 * a), x, 3)
    _check(derivs, [2 ** n * np.exp(2 * X) for n in (1, 2, 3)], backend)


def test_tanh_third_order(backend):
    # t' = 1 - t^2, t'' = -2t(1 - t^2), t''' = (6t^2 - 2)(1 - t^2)
    x = backend.tensor(X, requires_grad=True)
    t = np.tanh(X)
    derivs = _derivatives(mg.tanh, x, 3)
    _check(derivs, [1 - t ** 2, -2 * t * (1 - t ** 2), (6 * t ** 2 - 2) * (1 - t ** 2)], backend)


def test_log_third_order(backend):
    xv = np.abs(X) + 0.5
    x = backend.tensor(xv, requires_grad=True)
    derivs = _derivatives(mg.log, x, 3)
    _check(derivs, [1 / xv, -1 / xv ** 2, 2 / xv ** 3], backend)


def test_log_exp_chain_third_order(backend):
    # softplus = log(1 + e^x): f' = s, f'' = s(1 - s), f''' = s(1 - s)(1 - 2s), s = sigmoid(x)
    x = backend.tensor(X, requires_grad=True)
    s = 1 / (1 + np.exp(-X))
    derivs = _derivatives(lambda a: mg.log(1.0 + mg.exp(a)), x, 3)
    _check(derivs, [s, s * (1 - s), s * (1 - s) * (1 - 2 * s)], backend)


def test_exp_tanh_chain_third_order(backend):
    # f = exp(tanh x); with t = tanh x, s = 1 - t^2 (s' = -2ts) and h = s - 2t (h' = -2s(t+1)):
    # f' = e^t s, f'' = e^t s h, f''' = e^t s (s h - 2t h - 2s(t + 1))
    x = backend.tensor(X, requires_grad=True)
    t = np.tanh(X)
    s = 1 - t ** 2
    h = s - 2 * t
    e = np.exp(t)
    derivs = _derivatives(lambda a: mg.exp(mg.tanh(a)), x, 3)
    _check(derivs, [e * s, e * s * h, e * s * (s * h - 2 * t * h - 2 * s * (t + 1))], backend)


def test_sin_reverse_third_and_fourth_order(backend):
    x = backend.tensor(X, requires_grad=True)
    derivs = _derivatives(mg.sin, x, 4)
    _check(derivs, [np.cos(X), -np.sin(X), -np.cos(X), np.sin(X)], backend)


def test_mixed_partials_of_two_inputs(backend):
    # f = x^2 y^3: d^3 f / dx dy dy = 2x * 6y = 12 x y
    xv, yv = np.array([0.5, -1.5]), np.array([2.0, 0.3])
    x = backend.tensor(xv, requires_grad=True)
    y = backend.tensor(yv, requires_grad=True)
    (gx,) = autograd.grad(mg.sum(x * x * y * y * y), [x], create_graph=True)  # 2 x y^3
    (gxy,) = autograd.grad(mg.sum(gx), [y], create_graph=True)  # 6 x y^2
    (gxyy,) = autograd.grad(mg.sum(gxy), [y])  # 12 x y
    np.testing.assert_allclose(gxyy.numpy(), 12 * xv * yv, **_tol(backend))


def test_backward_with_create_graph_then_grad_of_grad(backend):
    x = backend.tensor(X, requires_grad=True)
    mg.sum(x * x * x).backward(create_graph=True)  # .grad = 3x^2, itself on the graph
    assert x.grad.requires_grad
    (h,) = autograd.grad(mg.sum(x.grad), [x])
    np.testing.assert_allclose(h.numpy(), 6 * X, **_tol(backend))


# -- a matmul-tanh network against central differences -------------------------------------------

def _central(fn, points, directions, h=1e-4):
    """(fn(p + h u) - fn(p - h u)) / 2h for a scalar fn that differentiates internally, so its
    arguments are fresh leaves requiring gradients (numerical.directional detaches them)."""
    def at(sign):
        shifted = [mg.tensor(p.detach() + sign * h * u, requires_grad=True)
                   for p, u in zip(points, directions)]
        return float(fn(*shifted))
    return (at(1.0) - at(-1.0)) / (2 * h)


def test_matmul_tanh_network_third_order(backend64, rng):
    inputs = backend64.tensor(rng.standard_normal((4, 3)))
    w1 = backend64.tensor(rng.standard_normal((3, 5)) * 0.7, requires_grad=True)
    w2 = backend64.tensor(rng.standard_normal((5, 2)) * 0.7, requires_grad=True)
    u1 = backend64.tensor(rng.standard_normal((3, 5)))
    u2 = backend64.tensor(rng.standard_normal((5, 2)))

    def loss(a, b):
        return mg.sum(mg.tanh(mg.matmul(mg.tanh(mg.matmul(inputs, a)), b)))

    def along(g1, g2):
        return mg.sum(g1 * u1) + mg.sum(g2 * u2)

    def first(a, b):  # <grad f, u>
        return along(*autograd.grad(loss(a, b), [a, b], create_graph=True))

    def second(a, b):  # <u, H u>
        return along(*autograd.grad(first(a, b), [a, b], create_graph=True))

    # second derivative along u: reverse over reverse vs differences of the first
    s2 = second(w1, w2)
    fd2 = _central(first, [w1, w2], [u1, u2])
    assert float(s2) == pytest.approx(fd2, rel=1e-6, abs=1e-8)
    # third derivative along u: three reverse passes vs differences of the second
    (g1, g2) = autograd.grad(s2, [w1, w2])
    s3 = float(along(g1, g2))
    fd3 = _central(second, [w1, w2], [u1, u2])
    assert s3 == pytest.approx(fd3, rel=1e-5, abs=1e-7)
    assert abs(s3) > 1e-3  # a derivative that vanished would make the check empty


# -- forward over reverse, reverse over forward, forward over forward ----------------------------

def test_jvp_over_grad_is_the_hessian_vector_product(backend):
    # f = sum(x^3 + e^x): H = diag(6x + e^x)
    uv = np.linspace(-1.0, 1.0, X.size)
    x = backend.tensor(X, requires_grad=True)
    u = backend.tensor(uv)

    def gradient(a):
        return autograd.grad(mg.sum(a * a * a + mg.exp(a)), [a], create_graph=True)[0]

    g, hu = mg.jvp(gradient, [x], [u])
    np.testing.assert_allclose(g.numpy(), 3 * X ** 2 + np.exp(X), **_tol(backend))
    np.testing.assert_allclose(hu.numpy(), (6 * X + np.exp(X)) * uv, **_tol(backend))
    assert hu.dtype == backend.dtype and hu.device == backend.device


def test_jvp_over_second_derivative_is_third_order(backend):
    # d/dx along u of tanh'' = tanh''' * u
    uv = np.full(X.size, 0.5)
    x = backend.tensor(X, requires_grad=True)

    def second(a):
        (g,) = autograd.grad(mg.sum(mg.tanh(a)), [a], create_graph=True)
        (h,) = autograd.grad(mg.sum(g), [a], create_graph=True)
        return h

    _, t = mg.jvp(second, [x], [backend.tensor(uv)])
    th = np.tanh(X)
    np.testing.assert_allclose(t.numpy(), (6 * th ** 2 - 2) * (1 - th ** 2) * uv,
                               **_tol(backend))


def test_grad_of_a_jvp_tangent(backend):
    # reverse over forward: the tangent of sin along ones is cos x, whose gradient is -sin x
    x = backend.tensor(X, requires_grad=True)
    _, t = mg.jvp(mg.sin, [x], [mg.ones_like(x)])
    (g,) = autograd.grad(mg.sum(t), [x])
    np.testing.assert_allclose(g.numpy(), -np.sin(X), **_tol(backend))


def test_jvp_of_jvp_of_jvp_of_sin(backend):
    # forward over forward over forward: sin''' = -cos, along u three times
    uv = np.array([1.0, 2.0, -1.0, 0.5, 3.0])
    x = backend.tensor(X)
    u = backend.tensor(uv)

    def d1(a):
        return mg.jvp(mg.sin, [a], [u])[1]

    def d2(a):
        return mg.jvp(d1, [a], [u])[1]

    out, d3 = mg.jvp(d2, [x], [u])
    np.testing.assert_allclose(out.numpy(), -np.sin(X) * uv ** 2, **_tol(backend))
    np.testing.assert_allclose(d3.numpy(), -np.cos(X) * uv ** 3, **_tol(backend))
    assert d3.dtype == backend.dtype and d3.device == backend.device


def test_nested_jvp_with_different_directions_keeps_levels_apart(backend):
    # d/dx along v of (d/dx along u of x^3) = 6 x u v; mixing the levels would give u^2 or v^2
    uv, vv = np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([0.5, -1.0, 0.25, 2.0, -0.5])
    x = backend.tensor(X)
    u, v = backend.tensor(uv), backend.tensor(vv)
    _, t = mg.jvp(lambda a: mg.jvp(lambda b: b * b * b, [a], [u])[1], [x], [v])
    np.testing.assert_allclose(t.numpy(), 6 * X * uv * vv, **_tol(backend))


# -- third order at the points where rules switch branch --------------------------------------

THIRD_ORDER_AT_SPECIAL_POINTS = {
    # (function of a list of tensors, the point)
    "logaddexp at a tie": (lambda a, b: mg.logaddexp(a, b), [np.array([0.4]), np.array([0.4])]),
    "pow at exponent 0": (lambda a, b: mg.pow(a, b), [np.array([2.0]), np.array([0.0])]),
    "gelu at 0": (lambda a: mg.gelu(a), [np.array([0.0])]),
    "sigmoid at 0": (lambda a: mg.sigmoid(a), [np.array([0.0])]),
    "det at a singular matrix": (lambda a: mg.linalg.det(a),
                                 [np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])]),
    "det at the identity": (lambda a: mg.linalg.det(a), [np.eye(3)]),
}


@pytest.mark.parametrize("name", list(THIRD_ORDER_AT_SPECIAL_POINTS))
def test_third_derivative_at_special_points(backend64, rng, name):
    fn, point = THIRD_ORDER_AT_SPECIAL_POINTS[name]
    xs = [backend64.tensor(p, requires_grad=True) for p in point]
    us = [backend64.tensor(rng.standard_normal(p.shape)) for p in point]

    def along(grads):
        return sum(mg.sum(g * u) for g, u in zip(grads, us))

    def second(*ys):  # <u, H u>
        first = along(autograd.grad(mg.sum(fn(*ys)), list(ys), create_graph=True))
        return along(autograd.grad(first, list(ys), create_graph=True))

    s2 = second(*xs)
    s3 = float(along(autograd.grad(s2, xs)))
    assert s3 == pytest.approx(_central(second, xs, us), rel=1e-5, abs=1e-6), name
