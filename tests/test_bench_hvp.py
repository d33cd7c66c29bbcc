"""Workload 4 of the benchmarks, the Hessian-vector product (tiny sizes: proves it, measures
nothing)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import _env
from benchmarks._timing import CHECK_RTOL
from benchmarks.workloads import hvp
from benchmarks.workloads._common import REFERENCE, Context

import multigrad as mg

METRICS = [metric for _, metric in hvp.MODES]


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_smoke_run_checks_and_times_every_system(device):
    peers, _ = _env.choose_peers(_env.PEERS)  # those installed
    ctx = Context(mg.get_device(device), 1, "smoke", peers, progress=lambda line: None)
    hvp.run(ctx)
    assert [case["metric"] for case in ctx.cases] == METRICS
    peers_here = set(peers) - {"numpy"} if device == "cpu" else set()
    runnable = {REFERENCE, "multigrad", "multigrad compiled"} | peers_here
    for case in ctx.cases:
        assert case["workload"] == "Hessian-vector product"
        assert set(case["samples"]) == runnable  # none failed its check
        assert all(len(s) == 2 and min(s) > 0 for s in case["samples"].values())
        assert set(case["errors"]) == runnable
        assert max(case["errors"].values()) <= CHECK_RTOL
        # torch, HIPS autograd and jax have no array_api_strict device: each says so
        assert set(case["skipped"]) == set(peers) - {"numpy"} - peers_here
        assert all(case["skipped"].values())

def test_reference_matches_central_differences():
    """The hand-written floor against differences of the function it differentiates."""
    ctx = Context(mg.get_device("cpu"), 1, "smoke", ["numpy"])
    x, v = hvp.problem(7)
    reference = hvp._reference(ctx, x, v)
    (g,), (hv,) = reference["grad"](), reference["fwd_rev"]()

    def f(y):
        return hvp.rosenbrock(y, np.sum)

    step = 1e-6
    basis = np.eye(x.size) * step
    assert g == pytest.approx([(f(x + e) - f(x - e)) / (2 * step) for e in basis], rel=1e-6)

    def gradient_at(y):
        return hvp._reference(ctx, y, v)["grad"]()[0]

    along_v = (gradient_at(x + step * v) - gradient_at(x - step * v)) / (2 * step)
    assert hv == pytest.approx(along_v, rel=1e-6)
