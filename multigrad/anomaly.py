"""Anomaly mode: find the op whose backward first produced nan or inf.

Inside ``with multigrad.detect_anomaly():`` every op recorded on the tape remembers the file and
line of the user's code that called it (frames inside multigrad are skipped), and the backward
pass checks each cotangent it computes; the first one holding nan or inf raises
``AnomalyError`` naming the op and that place. Outside the block nothing is recorded or checked:
the mode costs nothing when it is off. Inside, each check waits for the device, so use it to
debug, not to train.
"""

from __future__ import annotations

import contextlib

from .autograd._backward import AnomalyError
from .autograd._grad_mode import _state

__all__ = ["AnomalyError", "detect_anomaly", "is_anomaly_enabled"]


def is_anomaly_enabled() -> bool:
    """Whether anomaly mode is on in this thread."""
    return _state.anomaly


class detect_anomaly(contextlib.ContextDecorator):
    """Record call sites and check the backward pass for nan and inf (thread-local).

    Use it as a context manager or a decorator, around both the forward pass (where call
    sites are recorded) and the backward pass (where values are checked)::

        with multigrad.detect_anomaly():
            loss = model(x)
            loss.backward()   # AnomalyError: the backward of sqrt (called at model.py:12) ...
    """

    def _recreate_cm(self):  # a fresh instance per decorated call, so recursion nests right
        return type(self)()

    def __enter__(self):
        self.prev = _state.anomaly
        _state.anomaly = True
        return self

    def __exit__(self, *exc):
        _state.anomaly = self.prev
        return False
