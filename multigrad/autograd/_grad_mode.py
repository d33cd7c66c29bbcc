"""Grad mode: whether applying a primitive records it on the tape (per thread)."""

from __future__ import annotations

import contextlib
import threading

__all__ = ["is_grad_enabled", "set_grad_enabled", "no_grad", "enable_grad"]

class _State(threading.local):
    # A class-level default: reading a missing attribute of a plain threading.local raises
    # and catches AttributeError inside getattr (microseconds per op on the hot path).
    enabled = True
    # anomaly mode (multigrad.detect_anomaly): record call sites, check backward for nan/inf
    anomaly = False


_state = _State()


def is_grad_enabled() -> bool:
    """Whether operations on tensors that require gradients are being recorded."""
    return _state.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn recording on or off: a context manager, a decorator, or (called) a plain switch."""

    def __init__(self, mode: bool):
        self.prev = is_grad_enabled()
        self.mode = bool(mode)
        _state.enabled = self.mode

    def __enter__(self):
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False


class no_grad(contextlib.ContextDecorator):
    """Record nothing inside this block or decorated function (thread-local).

    Results are plain tensors that do not require gradients; use it for evaluation and for
    parameter updates.
    """

    def _recreate_cm(self):  # a fresh instance per decorated call, so recursion nests right
        return type(self)()

    def __enter__(self):
        self.prev = is_grad_enabled()
        _state.enabled = False
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False


class enable_grad(contextlib.ContextDecorator):
    """Record again inside a ``no_grad`` block (thread-local)."""

    def _recreate_cm(self):
        return type(self)()

    def __enter__(self):
        self.prev = is_grad_enabled()
        _state.enabled = True
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False
