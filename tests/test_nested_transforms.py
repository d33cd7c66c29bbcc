"""Transforms inside transforms: every pairing of forward and reverse mode, third order,
perturbation confusion, and when a nested backward pass records itself.

A ``grad`` whose inputs (or whose function's closure) carry an outer transform's state must
record its backward pass so the outer one sees through it; otherwise it stays first order.
"""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg


def _tol(backend):
    return dict(rtol=1e-10, atol=1e-10) if backend.precise else dict(rtol=2e-4, atol=2e-4)


def _close(got, want, backend):
    assert got.dtype == backend.dtype and got.device == backend.device
    np.testing.assert_allclose(got.numpy(), want, **_tol(backend))


X = np.array([-1.3, -0.4, 0.2, 0.9, 1.6])
U = np.array([1.0, 2.0, -1.0, 0.5, 3.0])
V = np.array([0.5, -1.0, 0.25, 2.0, -0.5])


def _f(a):
    """sum(x^3 + e^x sin x): gradient 3x^2 + e^x (sin x + cos x), Hessian diag(6x + 2 e^x cos x)"""
    return mg.sum(a * a * a + mg.exp(a) * mg.sin(a))


def _f_grad(x):
    return 3 * x ** 2 + np.exp(x) * (np.sin(x) + np.cos(x))


def _f_hess_diag(x):
    return 6 * x + 2 * np.exp(x) * np.cos(x)


# -- the four pairings ----------------------------------------------------------------------------

def test_jvp_of_jvp_keeps_the_directions_apart(backend):
    # d/dx along v of (d/dx along u of f_vec) for f_vec = x^3 e^x... elementwise: f'' u v
    x, u, v = backend.tensor(X), backend.tensor(U), backend.tensor(V)

    def along_u(a):
        return mg.jvp(lambda b: b * b * b, (a,), (u,))[1]

    out, t = mg.jvp(along_u, (x,), (v,))
    _close(out, 3 * X ** 2 * U, backend)
    _close(t, 6 * X * U * V, backend)


def test_jvp_of_grad_is_the_hessian_vector_product(backend):
    x, u = backend.tensor(X), backend.tensor(U)
    g, hu = mg.jvp(mg.grad(_f), (x,), (u,))
    _close(g, _f_grad(X), backend)
    _close(hu, _f_hess_diag(X) * U, backend)


def test_grad_of_jvp_differentiates_the_directional_derivative(backend):
    # <grad f(x), u> differentiated in x is H u
    x, u = backend.tensor(X), backend.tensor(U)
    g = mg.grad(lambda a: mg.jvp(_f, (a,), (u,))[1])(x)
    _close(g, _f_hess_diag(X) * U, backend)


def test_grad_of_grad(backend):
    # f = x^4 + sin x: f'' = 12 x^2 - sin x, and the third derivative 24 x - cos x
    def f(a):
        return a ** 4 + mg.sin(a)

    for xv in X:
        x = backend.tensor(np.array(xv))
        _close(mg.grad(mg.grad(f))(x), 12 * xv ** 2 - np.sin(xv), backend)
        _close(mg.grad(mg.grad(mg.grad(f)))(x), 24 * xv - np.cos(xv), backend)


def test_grad_of_the_sum_of_a_gradient_is_the_hessian_row_sum(backend):
    x = backend.tensor(X)
    _close(mg.grad(lambda a: mg.sum(mg.grad(_f)(a)))(x), _f_hess_diag(X), backend)


# -- third order ----------------------------------------------------------------------------------

@pytest.mark.parametrize("order", ["fff", "ffr", "frf", "rff"])
def test_third_order_derivative_of_sin_in_every_mode_order(order, backend):
    # sin''' = -cos; composing three transforms in the given order (f: jvp along ones,
    # r: grad of the sum), innermost first
    x = backend.tensor(X)
    ones = backend.tensor(np.ones_like(X))

    def forward(g):
        return lambda a: mg.jvp(g, (a,), (ones,))[1]

    def reverse(g):
        return mg.grad(lambda a: mg.sum(g(a)))

    d = mg.sin
    for mode in order:
        d = forward(d) if mode == "f" else reverse(d)
    _close(d(x), -np.cos(X), backend)


def test_third_order_jvp_of_sin_along_a_direction(backend):
    # forward over forward over forward: the primal of the outermost is sin'' u^2, its
    # tangent sin''' u^3
    x, u = backend.tensor(X), backend.tensor(U)

    def d1(a):
        return mg.jvp(mg.sin, (a,), (u,))[1]

    def d2(a):
        return mg.jvp(d1, (a,), (u,))[1]

    out, d3 = mg.jvp(d2, (x,), (u,))
    _close(out, -np.sin(X) * U ** 2, backend)
    _close(d3, -np.cos(X) * U ** 3, backend)


# -- perturbation confusion -----------------------------------------------------------------------

def _outer_d(mode, f, x):
    if mode == "r":
        return mg.grad(f)(x)
    return mg.jvp(f, (x,), (mg.ones_like(x),))[1]


def _inner_d(mode, f, y):
    if mode == "r":
        return mg.grad(f)(y)
    return mg.jvp(f, (y,), (mg.ones_like(y),))[1]


@pytest.mark.parametrize("outer, inner", [("r", "r"), ("f", "f"), ("f", "r"), ("r", "f")])
@pytest.mark.parametrize("y0", [-2.0, 0.0, 3.5])
def test_perturbation_confusion_classic(outer, inner, y0, backend):
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1; mixing the two perturbations gives 2
    x = backend.tensor(np.array(1.5))
    y = backend.tensor(np.array(y0))
    got = _outer_d(outer, lambda a: a * _inner_d(inner, lambda b: a + b, y), x)
    _close(got, 1.0, backend)


@pytest.mark.parametrize("outer, inner", [("r", "r"), ("f", "f"), ("f", "r"), ("r", "f")])
def test_perturbation_confusion_at_the_same_point(outer, inner, backend):
    # d/dx [d/dy (x y) at y = x] = d/dx [x] = 1; an inner derivative that also took x's
    # perturbation would see d/dx (x^2) = 2x
    x = backend.tensor(np.array(1.5))
    got = _outer_d(outer, lambda a: _inner_d(inner, lambda b: a * b, a), x)
    _close(got, 1.0, backend)


# -- second order by every route ------------------------------------------------------------------

def test_every_hessian_route_agrees(backend, rng):
    a = backend.tensor(rng.standard_normal((3, 4)))

    def f(x):
        return mg.logsumexp(mg.matmul(a, mg.tanh(x))) + mg.sum(x ** 4)

    x = backend.tensor(rng.standard_normal(4))
    reference = mg.hessian(f)(x).numpy()  # jacfwd(jacrev)
    assert np.abs(reference).max() > 1e-2
    for route in (mg.jacrev(mg.jacrev(f)), mg.jacrev(mg.jacfwd(f)), mg.jacfwd(mg.jacfwd(f)),
                  mg.jacfwd(mg.grad(f))):
        _close(route(x), reference, backend)
    (_,), (hv,) = mg.hvp(f, (x,), (backend.tensor(U[:4]),))
    _close(hv, reference @ U[:4], backend)


def test_pullback_differentiated_with_respect_to_its_cotangent(backend, rng):
    # <J^T u, w> differentiated in u is J w: reverse over a vjp whose cotangent needs gradients
    x = backend.tensor(X)
    w = rng.standard_normal(X.size)
    _, pullback = mg.vjp(lambda a: mg.sin(a[:-1]) * a[1:], x)
    jw = mg.grad(lambda u: mg.sum(pullback(u)[0] * backend.tensor(w)))(
        backend.tensor(np.ones(X.size - 1)))
    jac = np.zeros((X.size - 1, X.size))
    for i in range(X.size - 1):
        jac[i, i], jac[i, i + 1] = np.cos(X[i]) * X[i + 1], np.sin(X[i])
    _close(jw, jac @ w, backend)


def test_grad_through_a_pullback_called_twice(backend):
    # d/dx of |J^T e0|^2 + |J^T e1|^2 for f(x) = x^2 (J = diag 2x, one row at a time)
    def loss(a):
        _, pullback = mg.vjp(lambda b: b * b, a)
        total = 0.0
        for k in range(2):
            (g,) = pullback(mg.astype(mg.arange(2, device=a.device) == k, a.dtype))
            total = total + mg.sum(g * g)
        return total

    _close(mg.grad(loss)(backend.tensor(np.array([0.5, -2.0]))), 8 * np.array([0.5, -2.0]),
           backend)


# -- when the backward pass records itself --------------------------------------------------------

def test_nested_gradient_records_only_when_an_outer_transform_needs_it(backend):
    seen = []

    def spy(a):
        g = mg.grad(_f)(a)
        seen.append((g.requires_grad, g._tangents is not None))
        return mg.sum(g)

    x = backend.tensor(X)
    spy(x)  # alone: first order, nothing recorded
    mg.grad(spy)(x)  # under an outer grad: recorded
    # under a jvp: the rules run on tensors, so the tangent flows through them, but nothing
    # will differentiate them in reverse, so they are not recorded
    mg.jvp(spy, (x,), (x,))
    assert seen == [(False, False), (True, False), (False, True)]
    assert mg.jvp(mg.grad(_f), (x,), (x,))[0]._tangents is None


def test_stale_tangents_of_a_finished_jvp_do_not_make_grad_record(backend):
    # a value leaked out of a finished jvp still carries that level's tangent; nobody will read
    # it, so a later grad stays first order
    leaked = []

    def f(a):
        y = mg.exp(a)
        leaked.append(y)
        return y

    x = backend.tensor(X)
    mg.jvp(f, (x,), (x,))
    g = mg.grad(lambda a: mg.sum(a * leaked[0]))(x)
    _close(g, np.exp(X), backend)
    assert not g.requires_grad


def test_mixed_partial_through_a_closure_over_an_outer_variable(backend):
    # d/dx [d/dy (x^2 y^3)] = 2x * 3y^2: the inner grad closes over the outer variable
    xv, yv = 0.7, -1.3

    def inner(a):
        return mg.grad(lambda b: a * a * b * b * b)(backend.tensor(np.array(yv)))

    _close(mg.grad(inner)(backend.tensor(np.array(xv))), 6 * xv * yv ** 2, backend)
    _close(mg.jvp(inner, (backend.tensor(np.array(xv)),), (backend.tensor(np.array(1.0)),))[1],
           6 * xv * yv ** 2, backend)


def test_second_order_results_carry_no_dead_graph(backend):
    # hvp and hessian take a gradient inside jvp, which records itself for the tangents; once
    # they return, nothing can differentiate with respect to that gradient's variables
    x = backend.tensor(X)
    (g,), (hv,) = mg.hvp(_f, (x,), (x,))
    assert not g.requires_grad and not hv.requires_grad
    assert not mg.hessian(_f)(x[:3]).requires_grad
    _close(hv, _f_hess_diag(X) * X, backend)


def test_second_order_results_stay_differentiable_for_what_is_live(backend):
    # a user's leaf in f's closure: d/dw sum(H v) for f = sum(w x^3), H v = 6 w x v
    w = backend.tensor(np.full(X.size, 2.0), requires_grad=True)
    x, v = backend.tensor(X), backend.tensor(U)
    (_,), (hv,) = mg.hvp(lambda a: mg.sum(w * a * a * a), (x,), (v,))
    (gw,) = mg.autograd.grad(mg.sum(hv), [w])
    _close(gw, 6 * X * U, backend)
    # an outer grad with respect to the direction: d/dv <H v, u> = H u
    hu = mg.grad(lambda d: mg.sum(mg.hvp(_f, (x,), (d,))[1][0] * backend.tensor(V)))(v)
    _close(hu, _f_hess_diag(X) * V, backend)


# -- reverse mode through forward over reverse (hvp runs its backward pass unrecorded unless
#    a reverse pass will go through it) ------------------------------------------------------

def _hvp(f, x, v):
    return mg.hvp(f, (x,), (v,))[1][0]


def test_gradient_of_hvp_with_respect_to_the_direction(backend):
    x, v, w = backend.tensor(X), backend.tensor(V), backend.tensor(U)
    got = mg.grad(lambda d: mg.sum(w * _hvp(_f, x, d)))(v)
    _close(got, (6 * X + 2 * np.exp(X) * np.cos(X)) * U, backend)  # H w (H is symmetric)


def test_gradient_of_hvp_with_respect_to_the_point(backend):
    x, v, w = backend.tensor(X), backend.tensor(V), backend.tensor(U)
    got = mg.grad(lambda a: mg.sum(w * _hvp(_f, a, v)))(x)
    third = 6 + 2 * np.exp(X) * (np.cos(X) - np.sin(X))
    _close(got, third * V * U, backend)


def test_hvp_of_a_function_closing_over_a_leaf_of_the_users_graph(backend):
    p = backend.tensor(U).requires_grad_()
    x, v = backend.tensor(X), backend.tensor(V)
    hv = _hvp(lambda a: mg.sum(p * a * a * a), x, v)  # 6 p x v
    assert hv.requires_grad  # the user's graph goes on through it
    _close(hv, 6 * U * X * V, backend)
    mg.sum(hv).backward()
    _close(p.grad, 6 * X * V, backend)


def test_hvp_alone_records_nothing(backend):
    x, v = backend.tensor(X), backend.tensor(V)
    (g,), (hv,) = mg.hvp(_f, (x,), (v,))
    assert not g.requires_grad and not hv.requires_grad
    _close(hv, (6 * X + 2 * np.exp(X) * np.cos(X)) * V, backend)
