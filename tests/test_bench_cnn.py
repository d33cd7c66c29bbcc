"""Workload 3, the CNN training step: every system agrees with the hand-written reference, and
the reference's backward pass is the derivative of its forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import _env
from benchmarks._timing import CHECK_RTOL
from benchmarks.workloads import cnn
from benchmarks.workloads._common import Context

import multigrad as mg


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_smoke_run_checks_and_times_every_system(device):
    peers, _ = _env.choose_peers(list(_env.PEERS))
    ctx = Context(mg.get_device(device), 1, "smoke", peers, progress=lambda line: None)
    cnn.run(ctx)
    [case] = ctx.cases
    assert (case["workload"], case["metric"], case["unit"]) == ("CNN step", "smoke", "ms")
    assert not [why for why in case["skipped"].values() if "wrong result" in why]
    expected = {"reference", "multigrad", "multigrad compiled"}
    if device == "cpu":
        expected |= {p for p in peers if p != "numpy"}  # each installed peer runs on NumPy
    else:
        assert set(case["skipped"]) == {p for p in peers if p != "numpy"}
    assert set(case["samples"]) == expected
    assert set(case["errors"]) == expected
    assert all(err <= CHECK_RTOL for err in case["errors"].values())
    assert all(len(s) == 2 and min(s) > 0 for s in case["samples"].values())  # 2 smoke rounds


def _reference_loss_and_grads(x, labels, params):
    """One reference step in float64 (on fresh copies: the step updates them in place)."""
    ctx = Context(mg.get_device("cpu"), 1, "smoke", [])
    loss, *grads = cnn.Reference(ctx, x, labels, [p.copy() for p in params]).step()
    return float(loss), grads


def test_reference_gradients_match_central_differences():
    x, labels, params = cnn.problem(batch=4, side=8)
    x, params = x.astype(np.float64), [p.astype(np.float64) for p in params]
    _, grads = _reference_loss_and_grads(x, labels, params)
    rng = np.random.default_rng(1)
    for k, (p, g) in enumerate(zip(params, grads, strict=True)):
        assert np.any(g != 0), f"parameter {k} has a zero gradient: the check would see nothing"
        direction = rng.standard_normal(p.shape)
        step = 1e-6
        up, down = [q.copy() for q in params], [q.copy() for q in params]
        up[k] += step * direction
        down[k] -= step * direction
        slope = (_reference_loss_and_grads(x, labels, up)[0]
                 - _reference_loss_and_grads(x, labels, down)[0]) / (2 * step)
        assert np.sum(g * direction) == pytest.approx(slope, rel=1e-5, abs=1e-9), k
