"""Every op of the table through ``multigrad.compile``: forward, VJP and JVP replayed from a
recorded program equal the eager ones, on every backend.

Each case compiles one function returning the op's outputs, the gradients of ``<v, f(x)>``
and the tangents along ``u``; the second call replays the program, and its results must be
bitwise those of eager execution (nothing is fused on arrays this small). Ops whose result's
shape depends on the values (``nonzero``, boolean masks, ``unique_*``) cannot be replayed:
compile must refuse them with its error.
"""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg
from op_specs import ALL_SPECS
from test_op_gradients import (CASES, _as_tuple, _call, _float_outputs, _random_like, _setup,
                               pairing)

DATA_DEPENDENT = "depends on the values"


def _derivatives(spec, params, grad_args, live):
    """``f(*xs, *vs, *us) -> (outputs, VJP, JVP)`` for the case, as one function to compile."""
    def f(xs, vs, us):
        outs = _call(spec, xs, params)
        grads, tangents = (), ()
        if live and grad_args:
            total = pairing(outs, dict(zip(live, vs)), live)
            grads = mg.autograd.grad(total, [xs[k] for k in grad_args], allow_unused=True)

            def of(*diffed):
                args = list(xs)
                for k, d in zip(grad_args, diffed):
                    args[k] = d
                return _call(spec, args, params)
            _, tangents = mg.jvp(of, [xs[k] for k in grad_args], list(us))
        return tuple(o.detach() for o in outs), tuple(grads), _as_tuple(tangents)
    return f


def _flat(result):
    outs, grads, tangents = result
    return [None if t is None else t.numpy() for t in (*outs, *grads, *tangents)]


@pytest.mark.parametrize("spec, shapes, params", CASES)
def test_compiled_op_equals_eager(spec, shapes, params, backend, rng):
    arrays, xs, grad_args = _setup(spec, shapes, params, backend, rng)
    if not spec.differentiable:
        grad_args = ()
    outs = _call(spec, xs, params)
    live = _float_outputs(outs) if spec.differentiable else []
    vs = [_random_like(rng, backend, outs[k]) for k in live]
    us = [_random_like(rng, backend, xs[k]) for k in grad_args]
    f = _derivatives(spec, params, grad_args, live)
    step = mg.compile(f)
    try:
        step(xs, vs, us)  # records
    except mg.CompileError as err:
        assert DATA_DEPENDENT in str(err), err
        return
    eager, replayed = _flat(f(xs, vs, us)), _flat(step(xs, vs, us))
    assert step.cache_info().hits == 1, "the second call should replay the program"
    assert len(eager) == len(replayed)
    for k, (e, r) in enumerate(zip(eager, replayed)):
        if e is None or r is None:
            assert e is None and r is None, f"{spec.name}: result {k}"
            continue
        assert r.dtype == e.dtype and r.shape == e.shape, f"{spec.name}: result {k}"
        if (spec.complex or backend.device.lazy) and e.dtype.kind in "fc":
            # NumPy multiplies complex scalars (eager's 0-d results) and arrays (the program's
            # buffers) with different roundings; Dask sums chunk by chunk, and the program's
            # chunks differ where it skipped a multiplication by a broadcast one: equal to a
            # few ulps
            tol = 16 * np.finfo(e.dtype).eps
            np.testing.assert_allclose(r, e, rtol=tol, atol=tol * (1 + np.max(np.abs(e),
                                                                              initial=0)),
                                       err_msg=f"{spec.name}: result {k}")
            continue
        np.testing.assert_array_equal(r, e, err_msg=f"{spec.name}: result {k}")


def test_repeat_by_a_python_int_is_replayed(backend):
    # only an array of repeats makes the result's shape depend on values
    values = np.arange(6.0).reshape(2, 3)
    step = mg.compile(lambda x: mg.repeat(x, 2, axis=0))
    step(backend.tensor(values))  # records
    np.testing.assert_array_equal(step(backend.tensor(values)).numpy(),
                                  np.repeat(values, 2, axis=0))
    assert step.cache_info().hits == 1
