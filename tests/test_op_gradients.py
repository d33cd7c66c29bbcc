"""Every op of the table on every backend: forward, VJP, JVP, transpose identity, placement.

Finite differences need float64, so the checks against them run on the float64 backends; the
transpose identity ``<v, J u> = <J^T v, u>`` needs none, and runs on every backend and dtype
(float32, device1, CUDA), where it also catches a VJP and a JVP that disagree.
"""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg
from multigrad.numerical import directional
from op_specs import ALL_SPECS

CASES = [pytest.param(spec, shapes, params, id=cid)
         for spec in ALL_SPECS for shapes, params, cid in spec.cases()]
# the derivative checks run on the specs with derivatives only (the others' results must not
# require gradients, which test_forward checks)
DIFFERENTIABLE_CASES = [case for case in CASES if case.values[0].differentiable]


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def _float_outputs(outs):
    return [k for k, o in enumerate(outs) if o.dtype in (mg.float32, mg.float64)]


def _setup(spec, shapes, params, backend, rng):
    reason = spec.xfail_reason(backend.id)
    if reason:
        pytest.xfail(reason)
    arrays = spec.inputs(rng, shapes, params)
    return (arrays, *_leaves(spec, arrays, backend))


def _leaves(spec, arrays, backend):
    """Tensors of ``arrays``, those differentiated (``grad_args``) requiring gradients."""
    xs = [backend.tensor(a) for a in arrays]
    grad_args = spec.grad_args
    if grad_args is None:
        grad_args = tuple(k for k, a in enumerate(arrays) if a.dtype.kind == "f")
    for k in grad_args:
        xs[k].requires_grad_()
    return xs, grad_args


def _call(spec, xs, params):
    return _as_tuple(spec.fn(*xs, **params))


def _inner(a, b) -> float:
    """<a, b> computed on the host in float64."""
    a = np.asarray(a.numpy(), dtype=np.float64)
    b = np.asarray(b.numpy(), dtype=np.float64)
    return float(np.sum(a * b))


def _random_like(rng, backend, t):
    return backend.tensor(rng.standard_normal(t.shape), dtype=t.dtype)


@pytest.mark.parametrize("spec, shapes, params", CASES)
def test_forward(spec, shapes, params, backend, rng):
    arrays, xs, _ = _setup(spec, shapes, params, backend, rng)
    outs = _call(spec, xs, params)
    for o in outs:
        assert o.device == xs[0].device, f"{spec.name}: result left the inputs' device"
        if o.dtype in (mg.float32, mg.float64):
            assert o.dtype == backend.dtype, f"{spec.name}: {backend.dtype} in, {o.dtype} out"
        if not spec.differentiable:
            assert not o.requires_grad, f"{spec.name}: a non-differentiable result is on the graph"
    if spec.ref is None:
        return
    host = [a.astype(backend.dtype_name) if a.dtype.kind == "f" else a for a in arrays]
    expected = _as_tuple(spec.ref(*host, **params))
    assert len(expected) == len(outs)
    for o, e in zip(outs, expected):
        e = np.asarray(e)
        got = o.numpy()
        assert got.shape == e.shape, f"{spec.name}: shape {got.shape}, reference {e.shape}"
        if e.dtype.kind in "fc":
            np.testing.assert_allclose(got, e, rtol=spec.rtol[backend.dtype_name],
                                       atol=spec.atol[backend.dtype_name])
        else:
            np.testing.assert_array_equal(got, e)


def _diff_case(spec, shapes, params, backend, rng):
    arrays, xs, grad_args = _setup(spec, shapes, params, backend, rng)
    outs = _call(spec, xs, params)
    live = _float_outputs(outs)
    vs = {k: _random_like(rng, backend, outs[k]) for k in live}
    us = {k: _random_like(rng, backend, xs[k]) for k in grad_args}
    return xs, grad_args, outs, live, vs, us


def _seen(spec, backend, us):
    """The directions the function's derivative sees (see ``OpSpec.projection``)."""
    if spec.projection is None:
        return us
    return {k: backend.tensor(spec.projection(u.numpy()), dtype=u.dtype) for k, u in us.items()}


def _vjp(spec, xs, params, grad_args, live, vs):
    """<v, f(x)> differentiated in reverse mode: one gradient per argument in grad_args."""
    outs = _call(spec, xs, params)
    total = sum(mg.sum(outs[k] * vs[k]) for k in live)
    return mg.autograd.grad(total, [xs[k] for k in grad_args], allow_unused=True)


def _jvp(spec, xs, params, grad_args, us):
    """f's tangent along us in forward mode."""
    def f(*diffed):
        args = list(xs)
        for k, d in zip(grad_args, diffed):
            args[k] = d
        return _call(spec, args, params)
    _, tangents = mg.jvp(f, [xs[k] for k in grad_args], [us[k] for k in grad_args])
    return _as_tuple(tangents)


def _fd(spec, xs, params, grad_args, us):
    """f's derivative along us by central differences, one tensor per output."""
    def output(k):
        def f(*diffed):
            args = list(xs)
            for i, d in zip(grad_args, diffed):
                args[i] = d
            return _call(spec, args, params)[k]
        return f
    n_out = len(_call(spec, xs, params))
    with mg.no_grad():  # nothing here is differentiated: skip recording
        return [directional(output(k), [xs[i] for i in grad_args], [us[i] for i in grad_args])
                for k in range(n_out)]


@pytest.mark.parametrize("spec, shapes, params", DIFFERENTIABLE_CASES)
def test_vjp_matches_finite_differences(spec, shapes, params, backend64, rng):
    xs, grad_args, outs, live, vs, us = _diff_case(spec, shapes, params, backend64, rng)
    grads = _vjp(spec, xs, params, grad_args, live, vs)
    numeric = _fd(spec, xs, params, grad_args, _seen(spec, backend64, us))
    reverse = sum(_inner(g, us[k]) for g, k in zip(grads, grad_args) if g is not None)
    expected = sum(_inner(numeric[k], vs[k]) for k in live)
    tol = spec.grad_rtol["float64"]
    assert reverse == pytest.approx(expected, rel=tol, abs=tol), (
        f"{spec.name}: <J^T v, u> = {reverse!r} but central differences give {expected!r}")


@pytest.mark.parametrize("spec, shapes, params", DIFFERENTIABLE_CASES)
def test_jvp_matches_finite_differences(spec, shapes, params, backend64, rng):
    xs, grad_args, outs, live, vs, us = _diff_case(spec, shapes, params, backend64, rng)
    tangents = _jvp(spec, xs, params, grad_args, us)
    numeric = _fd(spec, xs, params, grad_args, _seen(spec, backend64, us))
    tol = spec.grad_rtol["float64"]
    for k in live:
        np.testing.assert_allclose(tangents[k].numpy(), numeric[k].numpy(), rtol=tol, atol=tol,
                                   err_msg=f"{spec.name}: tangent of output {k}")


@pytest.mark.parametrize("spec, shapes, params", DIFFERENTIABLE_CASES)
def test_transpose_identity_and_placement(spec, shapes, params, backend, rng):
    xs, grad_args, outs, live, vs, us = _diff_case(spec, shapes, params, backend, rng)
    grads = _vjp(spec, xs, params, grad_args, live, vs)
    tangents = _jvp(spec, xs, params, grad_args, us)
    for g, k in zip(grads, grad_args):
        if g is not None:
            assert g.dtype == xs[k].dtype and g.device == xs[k].device, (
                f"{spec.name}: gradient of argument {k} is {g.dtype} on {g.device}, its primal "
                f"{xs[k].dtype} on {xs[k].device}")
            assert g.shape == xs[k].shape
    for k in live:
        t = tangents[k]
        assert t.dtype == outs[k].dtype and t.device == outs[k].device and t.shape == outs[k].shape
    lhs = sum(_inner(vs[k], tangents[k]) for k in live)
    rhs = sum(_inner(g, us[k]) for g, k in zip(grads, grad_args) if g is not None)
    scale = float(sum(np.sum(np.abs(vs[k].numpy()) * np.abs(tangents[k].numpy())) for k in live))
    tol = spec.grad_rtol[backend.dtype_name]
    assert lhs == pytest.approx(rhs, rel=tol, abs=tol * (1 + scale)), (
        f"{spec.name}: <v, J u> = {lhs!r} but <J^T v, u> = {rhs!r}")
