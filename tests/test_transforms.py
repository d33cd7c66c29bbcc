"""The function transforms one at a time: grad, value_and_grad, vjp, jvp, jacrev, jacfwd,
hessian and hvp, with argnums and pytrees, against analytic derivatives; and their errors.

Compositions of transforms are in test_nested_transforms.py.
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


# -- grad and value_and_grad ----------------------------------------------------------------------

def test_grad_matches_the_analytic_gradient(backend):
    x = backend.tensor(X)
    g = mg.grad(lambda a: mg.sum(a ** 3 + mg.sin(a)))(x)
    _close(g, 3 * X ** 2 + np.cos(X), backend)
    # first order outside any transform: nothing recorded, the input untouched
    assert not g.requires_grad and x.grad is None and not x.requires_grad


def test_grad_argnums_selects_and_orders_the_arguments(backend):
    xv, yv = X, np.linspace(0.5, 2.0, X.size)
    x, y = backend.tensor(xv), backend.tensor(yv)

    def f(a, b):
        return mg.sum(a * a * b)

    _close(mg.grad(f, argnums=1)(x, y), xv ** 2, backend)
    _close(mg.grad(f, argnums=-2)(x, y), 2 * xv * yv, backend)
    gy, gx = mg.grad(f, argnums=(1, 0))(x, y)
    _close(gy, xv ** 2, backend)
    _close(gx, 2 * xv * yv, backend)


def test_grad_over_nested_containers_keeps_their_structure(backend):
    w, b, s = backend.tensor(X), backend.tensor(X[:2]), backend.tensor(np.array(3.0))
    params = {"layer": [w, (b,)], "scale": s}

    def f(p):
        w, (b,) = p["layer"]
        return p["scale"] * mg.sum(w * w) + mg.sum(b)

    g = mg.grad(f)(params)
    assert set(g) == {"layer", "scale"} and isinstance(g["layer"], list)
    assert isinstance(g["layer"][1], tuple)
    _close(g["layer"][0], 6 * X, backend)
    _close(g["layer"][1][0], np.ones(2), backend)
    _close(g["scale"], np.sum(X * X), backend)


def test_grad_of_an_unused_argument_is_zero(backend):
    x, y = backend.tensor(X), backend.tensor(X)
    gx, gy = mg.grad(lambda a, b: mg.sum(a * a), argnums=(0, 1))(x, y)
    _close(gy, np.zeros_like(X), backend)
    # a constant function: no dependence at all
    _close(mg.grad(lambda a: mg.sum(y))(x), np.zeros_like(X), backend)


def test_value_and_grad_with_aux(backend):
    x = backend.tensor(X)

    def f(a):
        y = mg.sum(mg.exp(a))
        return y, {"mean": mg.mean(a), "label": "exp"}

    (value, aux), g = mg.value_and_grad(f, has_aux=True)(x)
    _close(value, np.sum(np.exp(X)), backend)
    _close(g, np.exp(X), backend)
    _close(aux["mean"], X.mean(), backend)
    assert aux["label"] == "exp"
    assert not value.requires_grad and not aux["mean"].requires_grad

    g2, aux2 = mg.grad(f, has_aux=True)(x)
    _close(g2, np.exp(X), backend)
    assert aux2["label"] == "exp"


def test_grad_works_under_no_grad(backend):
    # a transform asks for its own derivative: an enclosing no_grad does not switch it off
    x = backend.tensor(X)
    with mg.no_grad():
        g = mg.grad(lambda a: mg.sum(a * a))(x)
    _close(g, 2 * X, backend)


def test_grad_leaves_the_users_graph_usable(backend):
    # f closes over a tensor recorded from a user's leaf: the transform must neither free that
    # graph nor drop the dependence (its result is differentiable with respect to w)
    w = backend.tensor(X, requires_grad=True)
    h = mg.tanh(w)
    x = backend.tensor(np.ones_like(X))
    g = mg.grad(lambda a: mg.sum(h * a * a))(x)  # 2 h x
    _close(g, 2 * np.tanh(X), backend)
    assert g.requires_grad
    # d/dw sum(2 tanh(w)) = 2 (1 - tanh^2); the graph of h stays for the backward below
    (gw,) = mg.autograd.grad(mg.sum(g), [w], retain_graph=True)
    _close(gw, 2 * (1 - np.tanh(X) ** 2), backend)
    mg.sum(h).backward()
    _close(w.grad, 1 - np.tanh(X) ** 2, backend)


# -- vjp and jvp ----------------------------------------------------------------------------------

def _sin_pairs(a):
    return mg.sin(a[:-1]) * a[1:]


def _sin_pairs_jacobian(x):
    jac = np.zeros((x.size - 1, x.size))
    for i in range(x.size - 1):
        jac[i, i] = np.cos(x[i]) * x[i + 1]
        jac[i, i + 1] = np.sin(x[i])
    return jac


def test_vjp_pullback_can_be_called_many_times(backend):
    x = backend.tensor(X)
    out, pullback = mg.vjp(_sin_pairs, x)
    _close(out, np.sin(X[:-1]) * X[1:], backend)
    jac = _sin_pairs_jacobian(X)
    for row in range(X.size - 1):
        (g,) = pullback(backend.tensor(np.eye(X.size - 1)[row]))
        _close(g, jac[row], backend)
    u = np.linspace(-1.0, 1.0, X.size - 1)
    (g,) = pullback(backend.tensor(u))
    _close(g, u @ jac, backend)


def test_vjp_over_pytree_outputs_and_primals(backend):
    x, y = backend.tensor(X), backend.tensor(X[::-1].copy())

    def f(p, q):
        return {"prod": p["a"] * q, "sum": (mg.sum(p["a"]),)}

    out, pullback = mg.vjp(f, {"a": x}, y)
    assert set(out) == {"prod", "sum"}
    u = backend.tensor(np.arange(X.size, dtype=float))
    gp, gq = pullback({"sum": (backend.tensor(np.array(2.0)),), "prod": u})
    _close(gp["a"], np.arange(X.size) * X[::-1] + 2.0, backend)
    _close(gq, np.arange(X.size) * X, backend)


def test_jvp_over_pytrees_with_aux(backend):
    x, u = backend.tensor(X), backend.tensor(np.full(X.size, 0.5))
    s, ds = backend.tensor(np.array(2.0)), backend.tensor(np.array(-1.0))

    def f(p):
        y = p["scale"] * mg.exp(p["x"])
        return [y, mg.sum(y)], mg.max(p["x"])

    (y, total), (dy, dtotal), aux = mg.jvp(f, ({"x": x, "scale": s},),
                                           ({"x": u, "scale": ds},), has_aux=True)
    # d(s e^x) = ds e^x + s e^x u
    _close(y, 2 * np.exp(X), backend)
    _close(dy, -np.exp(X) + 2 * np.exp(X) * 0.5, backend)
    _close(dtotal, np.sum(-np.exp(X) + np.exp(X)), backend)
    _close(aux, X.max(), backend)
    assert aux._tangents is None


def test_jvp_of_an_output_independent_of_the_primals_is_zero(backend):
    c = backend.tensor(X)
    _, t = mg.jvp(lambda a: mg.exp(c), (backend.tensor(X),), (backend.tensor(X),))
    _close(t, np.zeros_like(X), backend)


# -- Jacobians ------------------------------------------------------------------------------------

def _random_function(backend, rng, n, m):
    """A random smooth map R^n -> R^m: two random layers with different nonlinearities."""
    a = backend.tensor(rng.standard_normal((4, n)))
    b = backend.tensor(rng.standard_normal((m, 4)))
    c = backend.tensor(rng.standard_normal((m, n)))

    def f(x):
        h = mg.tanh(mg.matmul(a, x)) + mg.exp(0.3 * mg.matmul(a, mg.sin(x)))
        return mg.matmul(b, h * h) + mg.matmul(c, x) * mg.sum(x * x)
    return f


@pytest.mark.parametrize("n, m", [(1, 3), (4, 2), (5, 5), (3, 1)])
def test_jacfwd_equals_jacrev_on_random_functions(n, m, backend, rng):
    f = _random_function(backend, rng, n, m)
    x = backend.tensor(rng.standard_normal(n))
    fwd, rev = mg.jacfwd(f)(x), mg.jacrev(f)(x)
    assert fwd.shape == rev.shape == (m, n)
    _close(fwd, rev.numpy(), backend)
    assert np.abs(rev.numpy()).max() > 1e-2  # a vanished Jacobian would make the check empty


def test_jacobian_of_a_linear_map_is_the_matrix(backend, rng):
    a = rng.standard_normal((3, 4))
    at = backend.tensor(a)
    x = backend.tensor(rng.standard_normal(4))
    for jac in (mg.jacfwd, mg.jacrev):
        _close(jac(lambda v: mg.matmul(at, v))(x), a, backend)


def test_jacobian_blocks_follow_outputs_then_arguments(backend):
    x, y = backend.tensor(np.ones((2, 3))), backend.tensor(np.array([1.0, 2.0]))

    def f(a, b):
        return {"ab": a * b[:, None], "b": mg.sum(b * b)}

    for jac in (mg.jacfwd, mg.jacrev):
        j = jac(f, argnums=(0, 1))(x, y)
        assert j["ab"][0].shape == (2, 3, 2, 3) and j["ab"][1].shape == (2, 3, 2)
        assert j["b"][0].shape == (2, 3) and j["b"][1].shape == (2,)
        _close(j["b"][1], np.array([2.0, 4.0]), backend)
        _close(j["b"][0], np.zeros((2, 3)), backend)
        want = np.zeros((2, 3, 2))
        want[0, :, 0], want[1, :, 1] = 1.0, 1.0
        _close(j["ab"][1], want, backend)


# -- Hessians and Hessian-vector products ---------------------------------------------------------

def _rosenbrock(x):
    return mg.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosenbrock_hessian(x):
    n = x.size
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i + 1, i + 1] += 200
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
    return h


def test_hessian_of_a_quadratic_form(backend, rng):
    a, b = rng.standard_normal((4, 4)), rng.standard_normal(4)
    at, bt = backend.tensor(a), backend.tensor(b)
    x = backend.tensor(rng.standard_normal(4))
    h = mg.hessian(lambda v: mg.vecdot(v, mg.matmul(at, v)) + mg.vecdot(bt, v))(x)
    _close(h, a + a.T, backend)


def test_hessian_of_rosenbrock(backend):
    xv = np.array([-1.2, 1.0, 0.5, 0.8, 1.1])
    _close(mg.hessian(_rosenbrock)(backend.tensor(xv)), _rosenbrock_hessian(xv), backend)


def test_hessian_of_logsumexp(backend):
    # H = diag(p) - p p^T with p = softmax(x)
    p = np.exp(X - X.max())
    p /= p.sum()
    _close(mg.hessian(mg.logsumexp)(backend.tensor(X)), np.diag(p) - np.outer(p, p), backend)


def test_hessian_blocks_of_two_arguments(backend):
    # f = sum(x^2 y): d2/dx2 = diag(2y), d2/dxdy = diag(2x), d2/dy2 = 0
    xv, yv = X[:3], np.array([0.5, 1.5, -2.0])
    h = mg.hessian(lambda a, b: mg.sum(a * a * b), argnums=(0, 1))(backend.tensor(xv),
                                                                     backend.tensor(yv))
    _close(h[0][0], np.diag(2 * yv), backend)
    _close(h[0][1], np.diag(2 * xv), backend)
    _close(h[1][0], np.diag(2 * xv), backend)
    _close(h[1][1], np.zeros((3, 3)), backend)


@pytest.mark.parametrize("name", ["rosenbrock", "logsumexp"])
def test_hvp_equals_hessian_times_vector(name, backend, rng):
    f = {"rosenbrock": _rosenbrock, "logsumexp": mg.logsumexp}[name]
    x = backend.tensor(rng.uniform(-1.0, 1.0, 6))
    v = backend.tensor(rng.standard_normal(6))
    (g,), (hv,) = mg.hvp(f, (x,), (v,))
    want = mg.hessian(f)(x).numpy() @ v.numpy()
    _close(hv, want, backend)
    _close(g, mg.grad(f)(x).numpy(), backend)


def test_hvp_never_forms_the_hessian(backend):
    # one evaluation of f whatever the size, and a size whose dense Hessian (10^10 entries)
    # would not fit in memory
    calls = []

    def f(x):
        calls.append(1)
        return mg.sum(mg.exp(x) * x)

    n = 100_000
    xv = np.linspace(-1.0, 1.0, n)
    (_,), (hv,) = mg.hvp(f, (backend.tensor(xv),), (backend.tensor(np.ones(n)),))
    assert len(calls) == 1
    np.testing.assert_allclose(hv.numpy(), np.exp(xv) * (xv + 2),
                               **(_tol(backend) if backend.precise else dict(rtol=1e-3)))
    calls.clear()
    mg.hessian(f)(backend.tensor(xv[:4]))
    assert len(calls) == 1  # every column in one batched pass (vmap over the basis)


# -- bad input ------------------------------------------------------------------------------------

def _square_sum(a):
    return mg.sum(a * a)


def test_grad_of_a_non_scalar_output_names_the_shape():
    with pytest.raises(ValueError, match=r"grad\(exp\): f must return a scalar \(one element\), "
                                         r"got an output of shape \(3,\)"):
        mg.grad(mg.exp)(mg.tensor([1.0, 2.0, 3.0]))


def test_grad_of_a_pair_suggests_has_aux():
    with pytest.raises(TypeError, match=r"got a tuple \(pass has_aux=True"):
        mg.grad(lambda a: (mg.sum(a), a))(mg.tensor([1.0]))
    with pytest.raises(TypeError, match=r"has_aux=True needs f to return a pair"):
        mg.grad(_square_sum, has_aux=True)(mg.tensor([1.0]))


@pytest.mark.parametrize("argnums", [2, -3, (0, 2)])
def test_argnums_out_of_range(argnums):
    x = mg.tensor([1.0])
    with pytest.raises(ValueError, match=r"grad\(<lambda>\): argnums -?[23] is out of range for "
                                         r"a call with 2 positional arguments"):
        mg.grad(lambda a, b: mg.sum(a * b), argnums=argnums)(x, x)
    with pytest.raises(ValueError, match=r"jacrev\(<lambda>\): argnums -?[23] is out of range"):
        mg.jacrev(lambda a, b: a * b, argnums=argnums)(x, x)


@pytest.mark.parametrize("argnums, match", [
    ("0", "argnums must be an int or a non-empty tuple of ints, got '0'"),
    ((), "argnums must be an int or a non-empty tuple of ints"),
    ((0, 0), r"argnums \(0, 0\) repeats an argument"),
])
def test_argnums_of_the_wrong_kind(argnums, match):
    with pytest.raises((TypeError, ValueError), match=match):
        mg.grad(_square_sum, argnums=argnums)


def test_argnums_naming_one_argument_twice():
    x = mg.tensor([1.0])
    with pytest.raises(ValueError, match=r"argnums \(0, -2\) name the same argument twice"):
        mg.grad(lambda a, b: mg.sum(a * b), argnums=(0, -2))(x, x)


def test_grad_of_an_integer_or_non_tensor_argument_names_it():
    with pytest.raises(TypeError, match=r"grad\(_square_sum\): argument 0 has dtype int64; only "
                                        r"floating-point tensors can be differentiated"):
        mg.grad(_square_sum)(mg.tensor([1, 2]))
    with pytest.raises(TypeError, match=r"argument 0\['w'\]\[1\] is a float, not a Tensor"):
        mg.grad(lambda p: mg.sum(p["w"][0]))({"w": [mg.tensor([1.0]), 2.0]})


def test_tangent_of_the_wrong_shape_names_the_leaf():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"jvp\(_square_sum\): tangent \[0\] has shape \(3,\) but "
                                         r"its primal has shape \(2,\)"):
        mg.jvp(_square_sum, (x,), (mg.tensor([1.0, 2.0, 3.0]),))
    with pytest.raises(ValueError, match=r"tangent \[1\]\['b'\] has shape \(1,\) but its primal "
                                         r"has shape \(2,\)"):
        mg.jvp(lambda a, p: a * p["b"], (x, {"b": x}), (x, {"b": mg.tensor([1.0])}))


def test_tangent_of_the_wrong_dtype():
    x = mg.tensor([1.0, 2.0], dtype=mg.float64)
    with pytest.raises(TypeError, match=r"tangent \[0\] has dtype float32 but its primal has "
                                        r"dtype float64"):
        mg.jvp(_square_sum, (x,), (mg.tensor([1.0, 2.0], dtype=mg.float32),))


def test_tangent_on_another_device():
    x = mg.tensor([1.0, 2.0], dtype=mg.float32, device="strict:device1")
    t = mg.tensor([1.0, 2.0], dtype=mg.float32, device="strict:device2")
    with pytest.raises(mg.MixedDeviceError, match=r"tangent \[0\] is on .*device2 but its primal "
                                                  r"is on .*device1"):
        mg.jvp(_square_sum, (x,), (t,))
    with pytest.raises(mg.MixedDeviceError, match=r"hvp\(_square_sum\): tangent \[0\] is on"):
        mg.hvp(_square_sum, (x,), (t,))


@pytest.mark.parametrize("tangents, match", [
    (({"a": 1, "c": 2},), r"at \[0\]: a dict with keys \['a', 'b'\] vs a dict with keys "
                          r"\['a', 'c'\]"),
    (({"a": 1, "b": [1, 2]},), r"at \[0\]\['b'\]: a leaf vs a list of 2"),
    (({"a": 1, "b": 2}, 3), r"at the top: a tuple of 1 vs a tuple of 2"),
])
def test_tangents_whose_structure_differs_from_the_primals(tangents, match):
    x = mg.tensor([1.0])
    with pytest.raises(ValueError, match=r"jvp\(<lambda>\): the tangents' structure differs "
                                         r"from the primals' " + match):
        mg.jvp(lambda p: p["a"] * p["b"], ({"a": x, "b": x},), tangents)


def test_cotangents_that_do_not_fit_the_output():
    x = mg.tensor([1.0, 2.0])
    _, pullback = mg.vjp(lambda a: (a, mg.sum(a)), x)
    with pytest.raises(ValueError, match=r"pullback: the cotangents' structure differs from the "
                                         r"output's at the top: a tuple of 2 vs a tuple of 1"):
        pullback((x,))
    with pytest.raises(ValueError, match=r"cotangent \[1\] has shape \(2,\) but its output has "
                                         r"shape \(\)"):
        pullback((x, x))


def test_jvp_needs_sequences_of_primals_and_tangents():
    x = mg.tensor([1.0])
    with pytest.raises(TypeError, match=r"primals and tangents must be tuples or lists"):
        mg.jvp(_square_sum, x, x)


# -- argnums on jvp, vjp and hvp: the other arguments are held constant ----------------------------

def _product(a, b):
    return mg.sum(mg.sin(a) * b * b)  # d/da = cos(a) b^2, d/db = 2 sin(a) b, d2/db2 = 2 sin(a)


def test_jvp_argnums_moves_only_the_chosen_arguments(backend):
    av, bv, vv = X, np.linspace(0.5, 2.0, X.size), np.linspace(-1.0, 1.0, X.size)
    a, b, v = backend.tensor(av), backend.tensor(bv), backend.tensor(vv)
    _, t_b = mg.jvp(_product, (a, b), (v,), argnums=1)
    _close(t_b, np.sum(2 * np.sin(av) * bv * vv), backend)
    _, t_a = mg.jvp(_product, (a, b), (v,), argnums=(0,))
    _close(t_a, np.sum(np.cos(av) * bv ** 2 * vv), backend)


def test_vjp_argnums_returns_one_cotangent_per_chosen_argument(backend):
    av, bv = X, np.linspace(0.5, 2.0, X.size)
    a, b = backend.tensor(av), backend.tensor(bv)
    one = backend.tensor(np.array(1.0))
    _, pullback = mg.vjp(_product, a, b, argnums=1)
    _close(pullback(one), 2 * np.sin(av) * bv, backend)  # an int: the cotangent itself
    _, pullback = mg.vjp(_product, a, b, argnums=(1, 0))
    g_b, g_a = pullback(one)
    _close(g_b, 2 * np.sin(av) * bv, backend)
    _close(g_a, np.cos(av) * bv ** 2, backend)


def test_hvp_argnums_differentiates_only_the_chosen_arguments(backend):
    av, bv, vv = X, np.linspace(0.5, 2.0, X.size), np.linspace(-1.0, 1.0, X.size)
    a, b, v = backend.tensor(av), backend.tensor(bv), backend.tensor(vv)
    (g_b,), (hv_b,) = mg.hvp(_product, (a, b), (v,), argnums=1)
    _close(g_b, 2 * np.sin(av) * bv, backend)
    _close(hv_b, 2 * np.sin(av) * vv, backend)


def test_argnums_errors_name_the_transform_and_the_problem():
    a, b = mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0])
    with pytest.raises(ValueError, match=r"jvp\(_product\): argnums 2 is out of range"):
        mg.jvp(_product, (a, b), (a,), argnums=2)
    with pytest.raises(ValueError, match=r"hvp\(_product\): argnums \(0, 0\) repeats"):
        mg.hvp(_product, (a, b), (a, a), argnums=(0, 0))
    with pytest.raises(ValueError, match=r"vjp\(_product\): argnums -3 is out of range"):
        mg.vjp(_product, a, b, argnums=-3)
    with pytest.raises(ValueError, match=r"tangents' structure differs"):
        mg.jvp(_product, (a, b), (a, b), argnums=0)
