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
    # the recorder of the step multigrad.compile is recording in this thread (see _record)
    recorder = None


_state = _State()


def is_grad_enabled() -> bool:
    """Whether operations on tensors that require gradients are being recorded."""
    return _state.enabled


class _GradMode(contextlib.ContextDecorator):
    """Grad mode ``mode`` inside a block, or during each call of a decorated function; what
    was on before is restored after, also when the block raises."""

    mode = True

    def _recreate_cm(self):  # a fresh instance per decorated call: calls nest and may recurse
        fresh = _GradMode()
        fresh.mode = self.mode
        return fresh

    def __enter__(self):
        self.prev = _state.enabled
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False


class set_grad_enabled(_GradMode):
    """Turn recording on or off: a plain switch when called, a context manager, or a
    decorator (the mode then applies during each call only, as in PyTorch)."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = _state.enabled
        _state.enabled = self.mode  # called as a plain function, the switch takes effect now

    def __enter__(self):
        # the switch happened in __init__; ``prev`` is what was on before it
        _state.enabled = self.mode
        return self

    def __call__(self, func):
        # as a decorator, the switch in __init__ must not outlive the decoration
        _state.enabled = self.prev
        return super().__call__(func)


class no_grad(_GradMode):
    """Record nothing inside this block or decorated function (thread-local).

    Results are plain tensors that do not require gradients; use it for evaluation and for
    parameter updates.
    """

    mode = False


class enable_grad(_GradMode):
    """Record again inside a ``no_grad`` block (thread-local)."""

    mode = True
