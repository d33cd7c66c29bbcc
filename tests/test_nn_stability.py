"""The network functions stay finite where naive formulas overflow, and keep their conventions.

Each function is evaluated at ``|x| = 1000`` (where ``exp`` overflows in both float32 and
float64) on every backend; values, reverse-mode gradients and forward-mode tangents must be
finite. Softmax rows must sum to 1, and gelu's home-made erf must reach float64 accuracy.
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


def _finite(t) -> bool:
    return bool(np.all(np.isfinite(t.numpy())))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_finite_values_and_gradients_at_extremes(name, backend):
    f = FUNCTIONS[name]
    x = backend.tensor(EXTREMES, requires_grad=True)
    y = f(x)
    assert y.dtype == backend.dtype
    assert _finite(y), f"{name}({EXTREMES}) = {y.numpy()}"
    weights = backend.tensor(np.linspace(0.5, 1.5, y.size).reshape(y.shape))
    (g,) = mg.autograd.grad(mg.sum(y * weights), [x])
    assert g.dtype == backend.dtype and g.device == x.device
    assert _finite(g), f"gradient of {name} at {EXTREMES}: {g.numpy()}"
    _, tangent = mg.jvp(f, [x.detach()], [backend.tensor(np.ones_like(EXTREMES))])
    assert _finite(tangent), f"tangent of {name} at {EXTREMES}: {tangent.numpy()}"


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


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        mg.gelu(mg.tensor([1.0]), approximate="erf")


def test_second_derivatives_are_finite_at_extremes(backend64):
    x = backend64.tensor(EXTREMES, requires_grad=True)
    for name in ("sigmoid", "softplus", "log_softmax", "gelu"):
        (g,) = mg.autograd.grad(mg.sum(FUNCTIONS[name](x)), [x], create_graph=True)
        (h,) = mg.autograd.grad(mg.sum(g), [x], allow_unused=True)
        assert h is None or _finite(h), f"second derivative of {name}: {h.numpy()}"
