"""Anomaly mode: the first nan or inf of a backward pass names its op and the user's line."""

from __future__ import annotations

import re

import numpy as np
import pytest

import multigrad as mg
from multigrad.autograd._primitive import apply as _apply

_THIS_FILE = re.escape(__file__)

# the nan and inf these tests make on purpose also make NumPy warn
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _line_of(marker: str) -> int:
    """The line of this file holding ``marker`` (so the test does not hard-code numbers)."""
    with open(__file__) as f:
        for number, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return number
    raise LookupError(marker)


def test_names_the_op_and_the_user_line(backend):
    x = backend.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        y = mg.sqrt(x)  # the sqrt line
        loss = mg.sum(y * 2)
        line = _line_of("# the sqrt line")
        with pytest.raises(mg.AnomalyError, match=rf"backward of sqrt \(called at "
                                                  rf"{_THIS_FILE}:{line}\) produced nan or inf "
                                                  r"in the gradient of its argument 0"):
            loss.backward()
    assert x.grad is None


def test_recorded_in_forward_checked_in_a_later_block(backend):
    x = backend.tensor([-1.0, 1.0], requires_grad=True)
    with mg.detect_anomaly():
        y = mg.maximum(x, 0.0)
        z = mg.log(x * 0.0 + y)  # the log line
    line = _line_of("# the log line")
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError,
                                            match=rf"backward of log \(called at "
                                                  rf"{_THIS_FILE}:{line}\)"):
        mg.sum(z).backward()


def test_a_function_subclass_is_located_at_its_apply_call(backend):
    class Reciprocal(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 1 / x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return -g / (x * x)

    x = backend.tensor([0.0, 2.0], requires_grad=True)
    with mg.detect_anomaly():
        y = Reciprocal.apply(x)  # the apply line
        with pytest.raises(mg.AnomalyError, match=rf"backward of Reciprocal \(called at "
                                                  rf"{_THIS_FILE}:"
                                                  rf"{_line_of('# the apply line')}\)"):
            mg.sum(y * 0.0 + 1.0).backward(create_graph=True)


def test_finite_backward_passes_and_nothing_recorded_outside(backend):
    x = backend.tensor([1.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        assert mg.is_anomaly_enabled()
        mg.sum(mg.sqrt(x)).backward()
    assert not mg.is_anomaly_enabled()
    np.testing.assert_allclose(x.grad.numpy(), 0.5 / np.sqrt([1.0, 4.0]), rtol=1e-6)
    y = mg.sqrt(x)
    assert not hasattr(y.node, "site")  # zero cost when off: no call site is looked up


def test_op_recorded_outside_the_mode_says_so(backend):
    x = backend.tensor([0.0], requires_grad=True)
    y = mg.sqrt(x)
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError,
                                            match=r"backward of sqrt \(its call site was not "
                                                  r"recorded: the forward pass ran outside "
                                                  r"detect_anomaly\(\)\)"):
        mg.sum(y).backward()


def test_non_finite_seed(backend):
    x = backend.tensor([1.0], requires_grad=True)
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError,
                                            match=r"seed 0 of the backward pass holds nan"):
        (x * 2).backward(backend.tensor([float("nan")]))


def test_decorator_form(backend):
    @mg.detect_anomaly()
    def run():
        x = backend.tensor([0.0], requires_grad=True)
        mg.sum(mg.sqrt(x)).backward()

    with pytest.raises(mg.AnomalyError, match=r"backward of sqrt"):
        run()
    assert not mg.is_anomaly_enabled()


def test_without_anomaly_mode_nan_passes_silently(backend):
    x = backend.tensor([0.0], requires_grad=True)
    mg.sum(mg.sqrt(x)).backward()
    assert not np.isfinite(x.grad.numpy()).all()
    assert _apply is mg.autograd.apply
