"""Every op of the table on every backend: forward, VJP, JVP, transpose identity, placement.

Finite differences need float64, so the checks against them run on the float64 backends; the
transpose identity ``<v, J u> = <J^T v, u>`` needs none, and runs on every backend and dtype
(float32, device1, CUDA), where it also catches a VJP and a JVP that disagree.

Complex specs (``-complex``) run in complex128 and complex64: directions ``u`` and cotangents
``v`` are complex, central differences move the real and the imaginary parts of the inputs
along ``u``, and every pairing is the real part ``Re sum(a * b)``, as JAX's convention pairs a
cotangent with a tangent. The complex specs marked ``second_order="fd"`` also have their second
derivatives (reverse over reverse and forward over reverse) checked against central
differences of the gradient.
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


FLOATING = (mg.float32, mg.float64, mg.complex64, mg.complex128)


def _float_outputs(outs):
    return [k for k, o in enumerate(outs) if o.dtype in FLOATING]


def _complex_dtype(backend):
    """The complex dtype of the backend's precision."""
    return mg.complex64 if backend.dtype_name == "float32" else mg.complex128


def _setup(spec, shapes, params, backend, rng):
    reason = spec.xfail_reason(backend.id)
    if reason:
        pytest.xfail(reason)
    arrays = spec.inputs(rng, shapes, params)
    return (arrays, *_leaves(spec, arrays, backend))


def _leaves(spec, arrays, backend):
    """Tensors of ``arrays`` (of the backend's precision), those differentiated
    (``grad_args``) requiring gradients."""
    xs = [backend.tensor(a, dtype=_complex_dtype(backend) if a.dtype.kind == "c" else None)
          for a in arrays]
    grad_args = spec.grad_args
    if grad_args is None:
        grad_args = tuple(k for k, a in enumerate(arrays) if a.dtype.kind in "fc")
    for k in grad_args:
        xs[k].requires_grad_()
    return xs, grad_args


def _call(spec, xs, params):
    return _as_tuple(spec.fn(*xs, **params))


def _inner(a, b) -> float:
    """<a, b> = Re sum(a * b), computed on the host in float64 (complex128)."""
    a = np.asarray(a.numpy(), dtype=np.complex128)
    b = np.asarray(b.numpy(), dtype=np.complex128)
    return float(np.real(np.sum(a * b)))


def _random_like(rng, backend, t):
    values = rng.standard_normal(t.shape)
    if t.dtype in (mg.complex64, mg.complex128):
        values = values + 1j * rng.standard_normal(t.shape)
    return backend.tensor(values, dtype=t.dtype)


def pairing(outs, vs, live):
    """<v, f(x)> over the floating outputs: a real scalar (the real part of a complex
    output's pairing), whose gradient is ``J^T v``."""
    total = 0
    for k in live:
        product = outs[k] * vs[k]
        if product.dtype in (mg.complex64, mg.complex128):
            product = mg.real(product)
        total = total + mg.sum(product)
    return total


@pytest.mark.parametrize("spec, shapes, params", CASES)
def test_forward(spec, shapes, params, backend, rng):
    arrays, xs, _ = _setup(spec, shapes, params, backend, rng)
    outs = _call(spec, xs, params)
    for o in outs:
        assert o.device == xs[0].device, f"{spec.name}: result left the inputs' device"
        if o.dtype in (mg.float32, mg.float64):
            assert o.dtype == backend.dtype, f"{spec.name}: {backend.dtype} in, {o.dtype} out"
        if o.dtype in (mg.complex64, mg.complex128):
            assert o.dtype == _complex_dtype(backend), (
                f"{spec.name}: {backend.dtype} precision in, {o.dtype} out")
        if not spec.differentiable:
            assert not o.requires_grad, f"{spec.name}: a non-differentiable result is on the graph"
    if spec.ref is None:
        return
    host = [a.astype(backend.dtype_name) if a.dtype.kind == "f" else
            a.astype(_complex_dtype(backend).name) if a.dtype.kind == "c" else a
            for a in arrays]
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


def _vjp(spec, xs, params, grad_args, live, vs, create_graph=False):
    """<v, f(x)> differentiated in reverse mode: one gradient per argument in grad_args."""
    outs = _call(spec, xs, params)
    return mg.autograd.grad(pairing(outs, vs, live), [xs[k] for k in grad_args],
                            allow_unused=True, create_graph=create_graph)


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


SECOND_ORDER_CASES = [case for case in DIFFERENTIABLE_CASES
                      if case.values[0].complex and case.values[0].second_order == "fd"]


@pytest.mark.parametrize("spec, shapes, params", SECOND_ORDER_CASES)
def test_complex_second_order_matches_finite_differences(spec, shapes, params, backend64, rng):
    """<d/dx <J^T v, u>, w> by reverse over reverse and by forward over reverse, against
    central differences of <J^T v, u> along w (the real and imaginary parts moving)."""
    xs, grad_args, outs, live, vs, us = _diff_case(spec, shapes, params, backend64, rng)
    ws = {k: _random_like(rng, backend64, xs[k]) for k in grad_args}
    us, ws = _seen(spec, backend64, us), _seen(spec, backend64, ws)

    def slope(*moving):
        args = list(xs)
        for k, m in zip(grad_args, moving):
            args[k] = m
        grads = _vjp(spec, args, params, grad_args, live, vs, create_graph=True)
        return pairing(grads, [us[k] for k in grad_args],
                       [i for i, g in enumerate(grads) if g is not None])

    moving = [xs[k] for k in grad_args]
    numeric = directional(slope, moving, [ws[k] for k in grad_args]).item()
    s = slope(*moving)
    second = (mg.autograd.grad(s, moving, allow_unused=True) if s.requires_grad
              else [None] * len(moving))
    reverse = sum(_inner(h, ws[k]) for h, k in zip(second, grad_args) if h is not None)
    forward = mg.jvp(slope, moving, [ws[k] for k in grad_args])[1].item()
    tol = spec.grad_rtol["float64"]
    for how, got in (("reverse over reverse", reverse), ("forward over reverse", forward)):
        assert got == pytest.approx(numeric, rel=tol, abs=tol), (
            f"{spec.name}: <H u, w> by {how} = {got!r}, central differences {numeric!r}")
