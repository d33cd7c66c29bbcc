"""Property-based tests over the op table (hypothesis): the search for what the fixed cases miss.

Hypothesis draws, per op spec (``op_specs.ALL_SPECS``): a seed for the spec's own input builder,
one of its cases, and, where the spec allows (``OpSpec.random``), random shapes (0-d and empty
included, broadcasting pairs), axes and ``keepdims``; a dtype; and values with infinities, nan,
signed zeros, exact ties and the op's declared special values (``OpSpec.special``) mixed in.

- forward: equal to the NumPy reference, nan where it is nan, errors where it errs;
- no leaks: an elementwise op's gradient and tangent at an element are the same whatever the
  other elements hold (inf, nan): nothing non-finite crosses from one element to another;
- derivatives: VJP and JVP against central differences, and the second derivative (reverse
  over reverse) against central differences of the gradient where the op is smooth at its
  draws (0 where it is piecewise linear: ``OpSpec.second_order``);
- special points: at the declared special values every derivative is finite and the modes are
  each other's transpose; where the op is smooth there (``OpSpec.smooth_at_special``) first and
  second derivatives match central differences, and where it is piecewise linear the second
  derivative is 0.

Examples per test come from the hypothesis profile that ``tests/conftest.py`` registers: a few
per spec in the normal run (``multigrad``); ``pytest --hypothesis-profile=multigrad-long`` runs
many more. Both are derandomized (the same examples every run) and have no deadline.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import multigrad as mg
from multigrad.numerical import directional
from op_specs import ALL_SPECS
from test_op_gradients import (_as_tuple, _fd, _float_outputs, _inner, _jvp, _leaves, _seen,
                               pairing)

UNUSUAL = [np.inf, -np.inf, np.nan, 0.0, -0.0]
NON_FINITE = [np.inf, -np.inf, np.nan]
_CASES = {spec.name: list(spec.cases()) for spec in ALL_SPECS}


def _ids(specs):
    return [pytest.param(spec, id=spec.name) for spec in specs]


# the complex specs are checked by tests/test_op_gradients.py and tests/test_complex.py
REAL_SPECS = [s for s in ALL_SPECS if not s.complex]
RANDOM_FORWARD = [s for s in REAL_SPECS if s.random and s.ref is not None]
ELEMENTWISE = [s for s in REAL_SPECS if s.random == "elementwise" and s.differentiable]
DIFFERENTIABLE = [s for s in REAL_SPECS if s.differentiable]
SPECIAL = [s for s in REAL_SPECS if s.special is not None]


class _Backend:
    """The CPU backend in one dtype (fixtures do not mix with hypothesis' examples)."""

    def __init__(self, dtype_name="float64"):
        self.dtype = getattr(mg, dtype_name)
        self.dtype_name = dtype_name

    def tensor(self, values, requires_grad=False, dtype=None):
        values = np.asarray(values)
        if dtype is None and values.dtype.kind == "f":
            dtype = self.dtype
        return mg.tensor(values, dtype=dtype, device="cpu", requires_grad=requires_grad)


F64 = _Backend()


# -- drawing cases ---------------------------------------------------------------------------

@st.composite
def _axes(draw, ndim):
    if ndim == 0:
        return None
    return draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                          st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)
                          .map(tuple)))


@st.composite
def _case(draw, spec, nonempty=False, same_shapes=False):
    """(shapes, params): one of the spec's cases, its shapes (and axes) redrawn where allowed."""
    shapes, params, _ = draw(st.sampled_from(_CASES[spec.name]))
    low = 1 if nonempty else 0
    if spec.random == "elementwise":
        if same_shapes:
            shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=low, max_side=4))
            shapes = (shape,) * len(shapes)
        else:
            shapes = tuple(draw(hnp.mutually_broadcastable_shapes(
                num_shapes=len(shapes), min_dims=0, max_dims=3, min_side=low,
                max_side=3)).input_shapes)
    elif spec.random == "reduction":
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=low, max_side=3))
        shapes = (shape,)
        params = dict(params, axis=draw(_axes(len(shape))), keepdims=draw(st.booleans()))
    return shapes, params


_SEEDS = st.integers(0, 2 ** 32 - 1)


def _mixed(rng, arrays, pools, fraction):
    """``arrays`` with about ``fraction`` of each float argument's elements drawn from its
    pool (None: left alone)."""
    out = []
    for a, pool in zip(arrays, pools):
        if pool is None or a.dtype.kind != "f":
            out.append(a)
            continue
        picks = rng.choice(np.asarray(pool, dtype=np.float64), size=a.shape)
        out.append(np.where(rng.random(a.shape) < fraction, picks, a))
    return out


def _with_ties(rng, arrays):
    """Copy one element of each float argument over a few others: exact ties."""
    out = []
    for a in arrays:
        if a.dtype.kind == "f" and a.size > 1:
            a = np.array(a, copy=True)
            flat = a.reshape(-1)
            flat[rng.random(flat.size) < 0.3] = flat[rng.integers(flat.size)]
        out.append(a)
    return out


def _special_pools(spec):
    return spec.special if spec.special is not None else (None,) * 8


# -- derivatives ---------------------------------------------------------------------------

def _pairing(spec, xs, params, vs):
    """<v, f(x)> over the floating outputs (the real part for complex ones)."""
    outs = _as_tuple(spec.fn(*xs, **params))
    return pairing(outs, vs, _float_outputs(outs))


def _gradient(spec, xs, params, grad_args, vs, create_graph):
    grads = mg.autograd.grad(_pairing(spec, xs, params, vs), [xs[k] for k in grad_args],
                             create_graph=create_graph, allow_unused=True)
    return [mg.zeros_like(xs[k]) if g is None else g for g, k in zip(grads, grad_args)]


def _random_like(rng, t):
    if t.dtype == mg.complex128:  # a complex result of real inputs (eig, fft)
        return F64.tensor(rng.standard_normal(t.shape) + 1j * rng.standard_normal(t.shape))
    return F64.tensor(rng.standard_normal(t.shape))


def _directions(spec, xs, params, grad_args, rng):
    outs = _as_tuple(spec.fn(*xs, **params))
    live = _float_outputs(outs)
    vs = {k: _random_like(rng, outs[k]) for k in live}
    us = {k: _random_like(rng, xs[k]) for k in grad_args}
    return outs, live, vs, us


def _check_first_order(spec, xs, params, grad_args, rng, tol):
    outs, live, vs, us = _directions(spec, xs, params, grad_args, rng)
    seen = _seen(spec, F64, us)
    numeric = _fd(spec, xs, params, grad_args, seen)
    grads = _gradient(spec, xs, params, grad_args, vs, False)
    reverse = sum(_inner(g, us[k]) for g, k in zip(grads, grad_args))
    expected = sum(_inner(numeric[k], vs[k]) for k in live)
    assert reverse == pytest.approx(expected, rel=tol, abs=tol), (
        f"{spec.name}: <J^T v, u> = {reverse!r}, central differences {expected!r}")
    tangents = _jvp(spec, xs, params, grad_args, us)
    for k in live:
        np.testing.assert_allclose(tangents[k].numpy(), numeric[k].numpy(), rtol=tol, atol=tol,
                                   err_msg=f"{spec.name}: tangent of output {k}")
    return grads, tangents, live, vs, us


def _second_order(spec, xs, params, grad_args, rng):
    """(<H u, w> by reverse over reverse, and the same by central differences of <grad, u>)."""
    _, _, vs, us = _directions(spec, xs, params, grad_args, rng)
    ws = {k: _random_like(rng, xs[k]) for k in grad_args}
    us, ws = _seen(spec, F64, us), _seen(spec, F64, ws)

    def slope(*ys):  # <grad <v, f>, u>
        args = list(xs)
        for k, y in zip(grad_args, ys):
            args[k] = y
        grads = _gradient(spec, args, params, grad_args, vs, True)
        return sum(mg.sum(g * us[k]) for g, k in zip(grads, grad_args))

    moving = [xs[k] for k in grad_args]
    s = slope(*moving)
    second = (mg.autograd.grad(s, moving, allow_unused=True) if s.requires_grad
              else [None] * len(moving))
    analytic = sum(_inner(h, ws[k]) for h, k in zip(second, grad_args) if h is not None)
    numeric = directional(slope, moving, [ws[k] for k in grad_args]).item()
    return analytic, numeric


def _check_second_order(spec, xs, params, grad_args, rng, how):
    analytic, numeric = _second_order(spec, xs, params, grad_args, rng)
    if how == "zero":
        assert analytic == 0.0, f"{spec.name}: piecewise linear, but <H u, w> = {analytic!r}"
    else:
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-5), (
            f"{spec.name}: <H u, w> = {analytic!r}, central differences {numeric!r}")


# -- the properties ---------------------------------------------------------------------------

def _finite(t):
    return bool(np.all(np.isfinite(t.numpy())))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("spec", _ids(RANDOM_FORWARD))
@given(data=st.data())
def test_forward_matches_numpy_on_any_shape_and_value(spec, data):
    shapes, params = data.draw(_case(spec))
    dtype = data.draw(st.sampled_from(["float32", "float64"]))
    rng = np.random.default_rng(data.draw(_SEEDS))
    arrays = spec.inputs(rng, shapes, params)
    arrays = _mixed(rng, arrays, [UNUSUAL + list(p or []) for p in _special_pools(spec)], 0.3)
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in _with_ties(rng, arrays)]
    backend = _Backend(dtype)
    xs = [backend.tensor(a) for a in arrays]
    try:
        expected = _as_tuple(spec.ref(*arrays, **params))
    except (ValueError, IndexError, TypeError):  # NumPy refuses: so must multigrad
        with pytest.raises(Exception):
            spec.fn(*xs, **params)
        return
    outs = _as_tuple(spec.fn(*xs, **params))
    assert len(outs) == len(expected)
    for o, e in zip(outs, expected):
        e = np.asarray(e)
        assert o.shape == e.shape, f"{spec.name}: shape {o.shape}, NumPy {e.shape}"
        if e.dtype.kind == "f":
            assert o.dtype == backend.dtype
            np.testing.assert_allclose(o.numpy(), e, rtol=spec.rtol[dtype],
                                       atol=spec.atol[dtype], equal_nan=True,
                                       err_msg=f"{spec.name} at {arrays}")
        else:
            np.testing.assert_array_equal(o.numpy(), e)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("spec", _ids(ELEMENTWISE))
@given(data=st.data())
def test_nothing_leaks_between_elements(spec, data):
    shapes, params = data.draw(_case(spec, nonempty=True, same_shapes=True))
    rng = np.random.default_rng(data.draw(_SEEDS))
    clean = spec.inputs(rng, shapes, params)
    poisoned = _mixed(rng, clean, [NON_FINITE] * len(clean), 0.3)
    hit = np.zeros(shapes[0], dtype=bool)
    for a, b in zip(clean, poisoned):
        hit |= ~((a == b) | (np.isnan(a) & np.isnan(b)))
    results = []
    for arrays in (clean, poisoned):
        xs, grad_args = _leaves(spec, arrays, F64)
        _, _, vs, us = _directions(spec, xs, params, grad_args, np.random.default_rng(1))
        grads = _gradient(spec, xs, params, grad_args, vs, False)
        tangents = _jvp(spec, xs, params, grad_args, us)
        results.append([np.broadcast_to(t.numpy(), shapes[0]) for t in grads + list(tangents)])
    for k, (c, p) in enumerate(zip(*results)):
        np.testing.assert_array_equal(p[~hit], c[~hit], err_msg=(
            f"{spec.name}: derivative {k} at clean elements changed when others became "
            f"non-finite ({poisoned})"))


@pytest.mark.parametrize("spec", _ids(DIFFERENTIABLE))
@given(data=st.data())
def test_derivatives_match_central_differences(spec, data):
    shapes, params = data.draw(_case(spec, nonempty=True))
    rng = np.random.default_rng(data.draw(_SEEDS))
    xs, grad_args = _leaves(spec, spec.inputs(rng, shapes, params), F64)
    # (where the value is not finite, var's N - correction <= 0 say, differences say nothing)
    assume(all(_finite(o) for o in _as_tuple(spec.fn(*xs, **params)) if o.dtype == mg.float64))
    grads, tangents, live, _, _ = _check_first_order(spec, xs, params, grad_args, rng,
                                                     spec.grad_rtol["float64"])
    for t in grads + [tangents[k] for k in live]:
        assert _finite(t), f"{spec.name}: a non-finite derivative where the op is smooth"
    if spec.second_order != "skip":
        _check_second_order(spec, xs, params, grad_args, rng, spec.second_order)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("spec", _ids(SPECIAL))
@given(data=st.data())
def test_derivatives_at_special_points(spec, data):
    shapes, params = data.draw(_case(spec, nonempty=True))
    rng = np.random.default_rng(data.draw(_SEEDS))
    arrays = _mixed(rng, spec.inputs(rng, shapes, params), spec.special,
                    data.draw(st.sampled_from([0.5, 1.0])))
    xs, grad_args = _leaves(spec, arrays, F64)
    if spec.smooth_at_special:
        _check_first_order(spec, xs, params, grad_args, rng, spec.grad_rtol["float64"])
        _check_second_order(spec, xs, params, grad_args, rng, spec.second_order)
        return
    _, live, vs, us = _directions(spec, xs, params, grad_args, rng)
    grads = _gradient(spec, xs, params, grad_args, vs, False)
    tangents = _jvp(spec, xs, params, grad_args, us)
    for t in grads + [tangents[k] for k in live]:
        assert _finite(t), f"{spec.name}: a non-finite derivative at {arrays}"
    lhs = sum(_inner(vs[k], tangents[k]) for k in live)
    rhs = sum(_inner(g, us[k]) for g, k in zip(grads, grad_args))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9), (
        f"{spec.name}: <v, J u> = {lhs!r} but <J^T v, u> = {rhs!r} at {arrays}")
    if spec.second_order == "zero":
        _check_second_order(spec, xs, params, grad_args, rng, "zero")
