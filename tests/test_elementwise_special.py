"""The elementwise functions' conventions at ties and singular points, on every backend.

Pins what the op table cannot check against finite differences: exact subgradients (ties split
evenly, abs'(0) = 0, pow at a zero base), finite gradients where a naive rule makes nan or inf
(masked sqrt, logaddexp at +-1000, atan2 and hypot at the origin), second derivatives through
the rules run on tensors, the cotangents of real/imag/conj on complex input, Python scalars in
every binary function, and which results carry gradients at all.
"""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg


def _grad(f, *xs, create_graph=False):
    """Gradients of ``sum(f(*xs))`` with respect to each of ``xs``."""
    return mg.autograd.grad(mg.sum(f(*xs)), list(xs), create_graph=create_graph)


def _tangent(f, x, direction):
    return mg.jvp(f, [x], [direction])[1]


def _values(t):
    return np.asarray(t.numpy(), dtype=np.float64)


def _assert_close(t, expected, backend):
    tol = 1e-12 if backend.precise else 1e-6
    np.testing.assert_allclose(_values(t), expected, rtol=tol, atol=tol)


# -- subgradients at ties and kinks --------------------------------------------------------------

@pytest.mark.parametrize("fn", [mg.maximum, mg.minimum])
def test_ties_split_evenly(fn, backend):
    a = backend.tensor([1.0, 2.0, -0.5], requires_grad=True)
    b = backend.tensor([1.0, 0.0, 3.0], requires_grad=True)
    wins = [0.5, 1.0, 0.0] if fn is mg.maximum else [0.5, 0.0, 1.0]
    ga, gb = _grad(fn, a, b)
    _assert_close(ga, wins, backend)
    _assert_close(gb, 1.0 - np.array(wins), backend)
    # forward mode agrees: the tangent at a tie is the mean of the two tangents
    t = _tangent(lambda a_: fn(a_, b), a, backend.tensor([4.0, 4.0, 4.0]))
    _assert_close(t, 4.0 * np.array(wins), backend)


def test_tie_with_a_python_scalar(backend):
    x = backend.tensor([0.0, 1.0, -1.0], requires_grad=True)
    (g,) = _grad(lambda x: mg.maximum(x, 0.0), x)
    _assert_close(g, [0.5, 1.0, 0.0], backend)
    (g,) = _grad(lambda x: mg.clip(x, min=0.0, max=1.0), x)
    _assert_close(g, [0.5, 0.5, 0.0], backend)


def test_clip_routes_the_gradient_to_the_binding_bound(backend):
    x = backend.tensor([-2.0, 0.25, 3.0, 1.0], requires_grad=True)
    lo = backend.tensor([-1.0, -1.0, -1.0, -1.0], requires_grad=True)
    hi = backend.tensor([1.0, 1.0, 1.0, 1.0], requires_grad=True)
    gx, glo, ghi = _grad(mg.clip, x, lo, hi)
    _assert_close(gx, [0.0, 1.0, 0.0, 0.5], backend)
    _assert_close(glo, [1.0, 0.0, 0.0, 0.0], backend)
    _assert_close(ghi, [0.0, 0.0, 1.0, 0.5], backend)


def test_abs_at_zero_has_subgradient_zero(backend):
    x = backend.tensor([0.0, -0.0, -2.0, 3.0], requires_grad=True)
    (g,) = _grad(mg.abs, x)
    _assert_close(g, [0.0, 0.0, -1.0, 1.0], backend)
    t = _tangent(mg.abs, x, backend.tensor([1.0, 1.0, 1.0, 1.0]))
    _assert_close(t, [0.0, 0.0, -1.0, 1.0], backend)


def test_copysign_gradient_follows_the_signs(backend):
    x1 = backend.tensor([2.0, 2.0, -2.0, 0.0, 2.0], requires_grad=True)
    x2 = backend.tensor([1.0, -1.0, -3.0, -1.0, -0.0], requires_grad=True)
    g1, g2 = _grad(mg.copysign, x1, x2)
    _assert_close(g1, [1.0, -1.0, 1.0, 0.0, -1.0], backend)
    _assert_close(g2, [0.0] * 5, backend)


# -- finite gradients at singular points ------------------------------------------------------

def _masked_sqrt(x):
    positive = x > 0
    return mg.where(positive, mg.sqrt(mg.where(positive, x, 1.0)), 0.0)


def test_double_where_sqrt_is_finite_at_zero_and_below(backend):
    x = backend.tensor([0.0, -1.0, -0.0, 4.0], requires_grad=True)
    (g,) = _grad(_masked_sqrt, x, create_graph=True)
    _assert_close(g, [0.0, 0.0, 0.0, 0.25], backend)
    (h,) = mg.autograd.grad(mg.sum(g), [x])
    _assert_close(h, [0.0, 0.0, 0.0, -1.0 / 32.0], backend)
    t = _tangent(_masked_sqrt, x, backend.tensor([1.0, 1.0, 1.0, 1.0]))
    _assert_close(t, [0.0, 0.0, 0.0, 0.25], backend)


def test_where_with_a_python_scalar_matches_numpy(backend):
    # where(mask, x, 0) takes the device's fast path, for 0 only and floating x only: another
    # scalar, or integers, keep where's values and dtype
    mask = np.array([True, False, True])
    cond = backend.tensor(mask)
    x, k = backend.tensor([1.5, -2.5, 3.5]), backend.tensor(np.array([1, 2, 3]))
    for values, other in ((x, 0.0), (x, 0), (x, -1.0), (x, -1), (k, 0), (k, -1)):
        out = mg.where(cond, values, other)
        assert out.dtype == values.dtype
        np.testing.assert_array_equal(out.numpy(), np.where(mask, values.numpy(), other))


def test_pow_at_a_zero_base(backend):
    x = backend.tensor(0.0, requires_grad=True)
    (g,) = _grad(lambda x: mg.pow(x, 2.0), x)
    _assert_close(g, 0.0, backend)
    (g,) = _grad(lambda x: x ** 0, x)          # the constant 1: no 0 * 0**-1 = nan
    _assert_close(g, 0.0, backend)
    base = backend.tensor([0.0, -2.0, 0.0, 2.0], requires_grad=True)
    expo = backend.tensor([2.0, 2.0, 0.0, 3.0], requires_grad=True)
    gb, ge = _grad(mg.pow, base, expo)
    _assert_close(gb, [0.0, -4.0, 0.0, 12.0], backend)
    # wrt the exponent: 0 where the base is <= 0 (log masked), x**y log x elsewhere
    _assert_close(ge, [0.0, 0.0, 0.0, 8.0 * np.log(2.0)], backend)
    (ge,) = _grad(lambda e: mg.pow(2.0, e), expo)
    _assert_close(ge, 2.0 ** np.array([2.0, 2.0, 0.0, 3.0]) * np.log(2.0), backend)


def test_pow_second_derivative(backend):
    x = backend.tensor([-1.5, 0.0, 2.0], requires_grad=True)
    (g,) = _grad(lambda x: x ** 3, x, create_graph=True)
    (h,) = mg.autograd.grad(mg.sum(g), [x])
    _assert_close(g, 3.0 * np.array([-1.5, 0.0, 2.0]) ** 2, backend)
    _assert_close(h, 6.0 * np.array([-1.5, 0.0, 2.0]), backend)


@pytest.mark.parametrize("extreme", [1000.0, -1000.0])
def test_logaddexp_is_finite_at_extremes(extreme, backend):
    a = backend.tensor([extreme, extreme, extreme, 0.0], requires_grad=True)
    b = backend.tensor([extreme, -extreme, 0.0, -extreme], requires_grad=True)
    ga, gb = _grad(mg.logaddexp, a, b)
    big = 1.0 if extreme > 0 else 0.0
    _assert_close(ga, [0.5, big, big, big], backend)
    _assert_close(gb, [0.5, 1.0 - big, 1.0 - big, 1.0 - big], backend)
    t = _tangent(lambda a_: mg.logaddexp(a_, b), a, backend.tensor([1.0, 1.0, 1.0, 1.0]))
    _assert_close(t, [0.5, big, big, big], backend)


def test_logaddexp_at_infinities(backend):
    a = backend.tensor([np.inf, -np.inf, np.inf, -np.inf], requires_grad=True)
    b = backend.tensor([np.inf, -np.inf, 0.0, 0.0], requires_grad=True)
    y = mg.logaddexp(a, b)
    ga, gb = mg.autograd.grad(y, [a, b], grad_outputs=mg.ones_like(y))
    _assert_close(ga, [0.5, 0.5, 1.0, 0.0], backend)
    _assert_close(gb, [0.5, 0.5, 0.0, 1.0], backend)


def test_atan2_and_hypot_at_the_origin(backend):
    y = backend.tensor([0.0, 1.0], requires_grad=True)
    x = backend.tensor([0.0, 1.0], requires_grad=True)
    gy, gx = _grad(mg.atan2, y, x)
    _assert_close(gy, [0.0, 0.5], backend)
    _assert_close(gx, [0.0, -0.5], backend)
    gy, gx = _grad(mg.hypot, y, x)
    _assert_close(gy, [0.0, np.sqrt(0.5)], backend)
    _assert_close(gx, [0.0, np.sqrt(0.5)], backend)


# -- zero gradients and no gradients --------------------------------------------------------

@pytest.mark.parametrize("fn", [mg.floor, mg.ceil, mg.round, mg.trunc, mg.sign,
                                lambda x: mg.floor_divide(x, 0.5)],
                         ids=["floor", "ceil", "round", "trunc", "sign", "floor_divide"])
def test_rounding_results_carry_a_zero_gradient(fn, backend):
    x = backend.tensor([-1.5, 0.25, 2.75], requires_grad=True)
    y = fn(x)
    assert y.requires_grad and y.dtype == backend.dtype
    (g,) = _grad(fn, x)
    assert g is not None and g.dtype == backend.dtype and g.device == x.device
    _assert_close(g, [0.0, 0.0, 0.0], backend)
    _assert_close(_tangent(fn, x, backend.tensor([1.0, 1.0, 1.0])), [0.0] * 3, backend)
    # the chain continues past the zero: y + x still has gradient 1
    (g,) = _grad(lambda x: fn(x) + x, x)
    _assert_close(g, [1.0, 1.0, 1.0], backend)


def test_floor_divide_by_or_of_an_infinity_is_the_quotient(backend):
    # the standard's special cases, where NumPy and CuPy follow Python's // (inf // 2 is nan,
    # 1 // -inf is -1): on NumPy after a check on the host, elsewhere selected per element
    x1 = backend.tensor([np.inf, 1.0, -3.0, 7.0, -np.inf])
    x2 = backend.tensor([2.0, -np.inf, 2.0, 0.5, np.inf])
    got = _values(mg.floor_divide(x1, x2))
    np.testing.assert_array_equal(got[:4], [np.inf, -0.0, -2.0, 14.0])
    assert np.signbit(got[1]) and np.isnan(got[4])
    _assert_close(mg.floor_divide(x1, 2.0), [np.inf, 0.0, -2.0, 3.0, -np.inf], backend)
    _assert_close(mg.floor_divide(x1, -np.inf)[1:4], [-0.0, 0.0, -0.0], backend)


def test_floor_divide_reads_finiteness_on_the_host_only_where_asked():
    # with sync (NumPy) one reduction read on the host clears a finite operand, so finite
    # input pays for no elementwise fix; without it (a GPU, a lazy array) nothing is read and
    # the fix is selected per element
    from array_api_compat import numpy as xp

    from multigrad.ops._elementwise_real import _nonfinite
    finite, infinite = xp.asarray([1.0, -2.0]), xp.asarray([1.0, np.inf])
    assert _nonfinite(xp, finite, sync=True) is None
    np.testing.assert_array_equal(_nonfinite(xp, finite, sync=False), [False, False])
    np.testing.assert_array_equal(_nonfinite(xp, infinite, sync=True), [False, True])
    assert _nonfinite(xp, 2.0, sync=False) is None and _nonfinite(xp, -np.inf, sync=True)
    assert _nonfinite(xp, xp.asarray([1, 2]), sync=False) is None


def test_comparisons_and_predicates_carry_no_gradient(backend):
    x = backend.tensor([-1.0, 0.0, np.nan], requires_grad=True)
    floats = [x > 0, x <= 0.0, mg.equal(x, x), x != 1.0, mg.isnan(x), mg.isinf(x),
              mg.isfinite(x), mg.signbit(x), mg.nextafter(x, 1.0)]
    k = backend.tensor(np.array([1, 2, 3]))
    flags = backend.tensor(np.array([True, False, True]))
    ints = [k < 2, mg.greater_equal(k, k), k & 1, k << 1, ~k, mg.floor(k),
            mg.logical_and(flags, True), flags ^ flags, mg.logical_not(flags)]
    for r in floats + ints:
        assert not r.requires_grad
    # a mask from a tensor that requires grad still selects gradients
    (g,) = _grad(lambda x: mg.where(x > 0, x, 0.0), backend.tensor([2.0, -1.0],
                                                                    requires_grad=True))
    _assert_close(g, [1.0, 0.0], backend)


# -- Python scalars in every binary function --------------------------------------------------

FLOAT_BINARY = ["add", "subtract", "multiply", "divide", "pow", "atan2", "hypot", "logaddexp",
                "copysign", "maximum", "minimum", "remainder", "floor_divide", "nextafter",
                "equal", "not_equal", "greater", "greater_equal", "less", "less_equal"]
INT_BINARY = ["bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
              "bitwise_right_shift", "add", "multiply", "remainder", "floor_divide"]


@pytest.mark.parametrize("name", FLOAT_BINARY)
def test_python_scalars_match_arrays(name, backend):
    fn = getattr(mg, name)
    x = backend.tensor([0.6, 1.3, 1.9], requires_grad=True)
    s = 0.75
    s_arr = backend.tensor(s)
    for scalar_first in (False, True):
        def with_scalar(x):
            return fn(s, x) if scalar_first else fn(x, s)

        def with_array(x):
            return fn(s_arr, x) if scalar_first else fn(x, s_arr)

        y, ref = with_scalar(x), with_array(x)
        assert y.dtype == ref.dtype and y.device == ref.device
        _assert_close(y, _values(ref), backend)
        if y.requires_grad:
            _assert_close(_grad(with_scalar, x)[0], _values(_grad(with_array, x)[0]), backend)


@pytest.mark.parametrize("name", INT_BINARY)
def test_python_ints_with_integer_tensors(name, backend):
    fn = getattr(mg, name)
    k = backend.tensor(np.array([1, 6, 7]))
    np.testing.assert_array_equal(fn(k, 2).numpy(), fn(k, backend.tensor(np.array(2))).numpy())
    np.testing.assert_array_equal(fn(3, k).numpy(), fn(backend.tensor(np.array(3)), k).numpy())


def test_operators_with_python_scalars(backend):
    x = backend.tensor([0.5, 2.0], requires_grad=True)
    (g,) = _grad(lambda x: 2.0 ** x + x * 2.0 - 1.0 / x + (3 - x) ** 2, x)
    v = np.array([0.5, 2.0])
    _assert_close(g, 2.0 ** v * np.log(2.0) + 2.0 + 1.0 / v ** 2 - 2 * (3 - v), backend)


# -- complex parts (JAX's convention: cotangents g, -1j * g, conj(g)) -----------------------------

def test_complex_parts_cotangents(backend):
    ctype = mg.complex64 if backend.dtype == mg.float32 else mg.complex128
    z = backend.tensor(np.array([1.0 + 2.0j, -3.0 + 0.5j]), dtype=ctype, requires_grad=True)
    v = backend.tensor([2.0, -1.0])
    (g,) = mg.autograd.grad(mg.sum(mg.real(z) * v), [z])
    assert g.dtype == ctype
    np.testing.assert_allclose(g.numpy(), [2.0, -1.0], rtol=1e-6)
    (g,) = mg.autograd.grad(mg.sum(mg.imag(z) * v), [z])
    np.testing.assert_allclose(g.numpy(), [-2.0j, 1.0j], rtol=1e-6)
    (g,) = mg.autograd.grad(mg.sum(mg.imag(mg.conj(z)) * v), [z])
    np.testing.assert_allclose(g.numpy(), [2.0j, -1.0j], rtol=1e-6)
    # forward mode: the parts of the tangent
    t = backend.tensor(np.array([0.5 - 1.0j, 2.0 + 0.0j]), dtype=ctype)
    np.testing.assert_allclose(_tangent(mg.imag, z, t).numpy(), [-1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(_tangent(mg.conj, z, t).numpy(), [0.5 + 1.0j, 2.0], rtol=1e-6)


# -- second derivatives: every rule also runs on tensors ---------------------------------------

def _smooth_specs():
    from op_specs.elementwise import SPECS
    return [pytest.param(spec, id=spec.name) for spec in SPECS
            if spec.differentiable and spec.make is None and not spec.complex]


@pytest.mark.parametrize("spec", _smooth_specs())
def test_second_derivative_matches_differences_of_the_gradient(spec, backend64, rng):
    """<d/dx <grad f(x), u>, w> from create_graph=True against central differences."""
    shapes, params, _ = list(spec.cases())[-1]
    arrays = spec.inputs(rng, shapes, params)
    args = spec.grad_args or tuple(k for k, a in enumerate(arrays) if a.dtype.kind == "f")
    v = rng.standard_normal(np.broadcast_shapes(*shapes))
    us = [rng.standard_normal(arrays[k].shape) for k in args]
    ws = [rng.standard_normal(arrays[k].shape) for k in args]

    def pairing(values, create_graph):
        xs = [backend64.tensor(a, requires_grad=k in args) for k, a in enumerate(values)]
        out = spec.fn(*xs, **params)
        grads = mg.autograd.grad(mg.sum(out * backend64.tensor(v)), [xs[k] for k in args],
                                 create_graph=create_graph)
        total = mg.sum(grads[0] * backend64.tensor(us[0]))
        for g, u in zip(grads[1:], us[1:]):
            total = total + mg.sum(g * backend64.tensor(u))
        return xs, total

    xs, total = pairing(arrays, True)
    second = (mg.autograd.grad(total, [xs[k] for k in args], allow_unused=True)
              if total.requires_grad else [None] * len(args))
    analytic = sum(float(np.sum(_values(s) * w)) for s, w in zip(second, ws) if s is not None)

    h = 1e-5

    def shifted(sign):
        values = list(arrays)
        for k, w in zip(args, ws):
            values[k] = arrays[k] + sign * h * w
        return float(_values(pairing(values, False)[1]))

    numeric = (shifted(1) - shifted(-1)) / (2 * h)
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-5), spec.name
