"""The network functions stay finite where naive formulas overflow, and keep their conventions.

Each function is evaluated at ``|x| = 1000`` (where ``exp`` overflows in both float32 and
float64) on every backend; values, reverse-mode gradients and forward-mode tangents must equal
references computed here in float64 from stable formulas (NumPy and ``math.erfc``), and so must
the second derivatives. Softmax rows must sum to 1, and gelu's home-made erf must reach float64
accuracy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import multigrad as mg

EXTREMES = np.array([-1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0])

FUNCTIONS = {
    "softmax": mg.softmax,
    "log_softmax": mg.log_softmax,
    "logsumexp": mg.logsumexp,
    "relu": mg.relu,
    "sigmoid": mg.sigmoid,
    "softplus": mg.softplus,
    "gelu": mg.gelu,
    "gelu-tanh": lambda x: mg.gelu(x, approximate="tanh"),
}

_erfc = np.vectorize(math.erfc, otypes=[np.float64])
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def _normal(x):
    """The standard normal CDF and density."""
    return 0.5 * _erfc(-x / math.sqrt(2)), np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _tanh_form(x):
    """gelu's tanh form and its derivative (x**3 is finite in float64 at |x| = 1000)."""
    inner = _SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)
    th = np.tanh(inner)
    slope = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
    return 0.5 * x * (1 + th), 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * slope


def _reference(name, x):
    """(value, Jacobian) in float64; the Jacobian is (outputs, inputs)."""
    if name == "softmax":
        s = _softmax(x)
        return s, np.diag(s) - np.outer(s, s)
    if name == "log_softmax":
        m = np.max(x)
        return x - m - np.log(np.sum(np.exp(x - m))), np.eye(x.size) - _softmax(x)[None, :]
    if name == "logsumexp":
        m = np.max(x)
        return m + np.log(np.sum(np.exp(x - m))), _softmax(x)[None, :]
    if name == "relu":
        return np.maximum(x, 0.0), np.diag((x > 0).astype(np.float64))
    if name == "sigmoid":
        s = _sigmoid(x)
        return s, np.diag(s * (1 - s))
    if name == "softplus":
        return np.logaddexp(0.0, x), np.diag(_sigmoid(x))
    if name == "gelu":
        cdf, density = _normal(x)
        return x * cdf, np.diag(cdf + x * density)
    value, slope = _tanh_form(x)
    return value, np.diag(slope)


def _host(t):
    return np.asarray(t.numpy(), dtype=np.float64)


def _close(got, expected, backend, what):
    tol = dict(rtol=1e-12, atol=1e-12) if backend.precise else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_host(got), expected, err_msg=what, **tol)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_values_and_gradients_at_extremes(name, backend):
    f = FUNCTIONS[name]
    value, jacobian = _reference(name, EXTREMES)
    x = backend.tensor(EXTREMES, requires_grad=True)
    y = f(x)
    assert y.dtype == backend.dtype
    _close(y, value, backend, f"{name}({EXTREMES})")
    weights = np.linspace(0.5, 1.5, y.size).reshape(y.shape)
    (g,) = mg.autograd.grad(mg.sum(y * backend.tensor(weights)), [x])
    assert g.dtype == backend.dtype and g.device == x.device
    _close(g, jacobian.T @ weights.reshape(-1), backend, f"gradient of {name}")
    _, tangent = mg.jvp(f, [x.detach()], [backend.tensor(np.ones_like(EXTREMES))])
    _close(tangent, (jacobian @ np.ones_like(EXTREMES)).reshape(value.shape), backend,
           f"tangent of {name}")


def test_softmax_rows_sum_to_one(backend):
    rows = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, 1000.0],
                     [-1000.0, -1000.0, -999.0], [0.1, 0.2, 0.3]])
    s = mg.softmax(backend.tensor(rows), axis=-1).numpy()
    np.testing.assert_allclose(np.sum(s, axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(s[1], 1 / 3, rtol=1e-6)
    columns = mg.softmax(backend.tensor(rows.T), axis=0).numpy()
    np.testing.assert_allclose(np.sum(columns, axis=0), 1.0, rtol=1e-6)
    log_rows = mg.log_softmax(backend.tensor(rows)).numpy()
    np.testing.assert_allclose(np.sum(np.exp(log_rows), axis=-1), 1.0, rtol=1e-6)


def test_saturated_values(backend):
    big = backend.tensor(np.array([-1000.0, 1000.0]))
    np.testing.assert_array_equal(mg.sigmoid(big).numpy(), [0.0, 1.0])
    np.testing.assert_array_equal(mg.softplus(big).numpy(), [0.0, 1000.0])
    np.testing.assert_array_equal(mg.relu(big).numpy(), [0.0, 1000.0])
    np.testing.assert_array_equal(mg.gelu(big).numpy(), [0.0, 1000.0])
    pair = backend.tensor(np.array([1000.0, 1000.0]))
    assert mg.logsumexp(pair).item() == pytest.approx(1000.0 + math.log(2.0), rel=1e-6)


def test_logsumexp_of_all_minus_infinity_is_minus_infinity(backend):
    x = backend.tensor(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]))
    with np.errstate(divide="ignore"):  # log(0) = -inf is the point of this test
        out = mg.logsumexp(x, axis=-1).numpy()
    assert out[0] == -np.inf and out[1] == 0.0


def test_relu_derivative_at_zero_is_zero(backend):
    x = backend.tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    (g,) = mg.autograd.grad(mg.sum(mg.relu(x)), [x])
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0, 1.0])


def test_gelu_matches_erf_to_float64_accuracy():
    xs = np.linspace(-12.0, 12.0, 2401)
    phi = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in xs])
    got = mg.gelu(mg.tensor(xs, dtype=mg.float64)).numpy()
    expected = xs * phi
    rel = np.abs(got - expected) / np.maximum(np.abs(expected), 1e-300)
    assert np.max(rel[expected != 0]) < 1e-12
    x = mg.tensor(xs, dtype=mg.float64, requires_grad=True)
    (g,) = mg.autograd.grad(mg.sum(mg.gelu(x)), [x])
    density = np.exp(-0.5 * xs ** 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(g.numpy(), phi + xs * density, rtol=1e-12, atol=1e-15)


def test_erf_and_erfc_have_their_documented_float64_accuracy():
    # nn's docstring: erf to 1e-15 absolute, erfc to 1.3e-13 relative, most of that just below
    # |z| = 2 where 1 - erf cancels (a dropped series term or fraction level shows there)
    from multigrad.ops.nn import erf_series, erfc_nonnegative
    sc = pytest.importorskip("scipy.special")
    z = np.concatenate([np.linspace(0.0, 1.9, 1901), np.linspace(1.9, 2.0, 4001)[1:-1]])
    np.testing.assert_allclose(erf_series(np, z), sc.erf(z), rtol=0, atol=1e-15)
    np.testing.assert_allclose(erfc_nonnegative(np, z), sc.erfc(z), rtol=1.3e-13, atol=0)
    beyond = np.linspace(2.0, 26.0, 2401)  # the continued fraction, while erfc is normal
    np.testing.assert_allclose(erfc_nonnegative(np, beyond), sc.erfc(beyond), rtol=2.5e-15,
                               atol=0)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        mg.gelu(mg.tensor([1.0]), approximate="erf")


def _second_derivative_reference(name, x, v):
    """H v for the loss sum(f(x)), from the analytic second derivatives."""
    if name == "log_softmax":  # gradient 1 - n softmax: H = -n (diag(s) - s s^T)
        s = _softmax(x)
        return -x.size * s * (v - np.dot(s, v))
    if name == "sigmoid":
        s = _sigmoid(x)
        return s * (1 - s) * (1 - 2 * s) * v
    if name == "softplus":
        s = _sigmoid(x)
        return s * (1 - s) * v
    _, density = _normal(x)  # gelu'' = (2 - x**2) phi(x)
    return (2 - x * x) * density * v


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "log_softmax", "gelu"])
def test_second_derivatives_at_extremes(backend64, name):
    x = backend64.tensor(EXTREMES, requires_grad=True)
    v = np.linspace(-1.0, 2.0, EXTREMES.size)
    (g,) = mg.autograd.grad(mg.sum(FUNCTIONS[name](x)), [x], create_graph=True)
    (h,) = mg.autograd.grad(mg.sum(g * backend64.tensor(v)), [x])
    np.testing.assert_allclose(_host(h), _second_derivative_reference(name, EXTREMES, v),
                               rtol=1e-10, atol=1e-14, err_msg=f"second derivative of {name}")
