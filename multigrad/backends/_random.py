"""Which random generators a block of code draws from, and their states before it did.

Every generator ``Device.random`` makes has ``get_state()`` and ``set_state(state)``, and calls
``changing(self)`` before each draw and each ``set_state``. ``observe_draws()`` collects, for
the code inside it (in this thread), each generator whose state it changed with the state
before the first change: what ``multigrad.checkpoint`` needs to draw the same numbers again
when it recomputes, and to put every generator back afterwards. With no observer, a draw costs
one attribute read more.
"""

from __future__ import annotations

import contextlib
import threading

from ._dtypes import dtype_name

__all__ = ["observe_draws", "changing", "NumpyStyleGenerator", "CupyGenerator"]


class _Observers(threading.local):
    # a class-level default, so a thread that never observed reads an empty tuple
    active: tuple = ()


_observers = _Observers()


@contextlib.contextmanager
def observe_draws():
    """Collect ``{generator: state before its first change}`` for the draws (and
    ``set_state`` calls) inside the block.

    Observers nest: a draw is seen by every observer open in its thread.
    """
    seen: dict = {}
    outer = _observers.active
    _observers.active = outer + (seen,)
    try:
        yield seen
    finally:
        _observers.active = outer


def changing(generator) -> None:
    """Tell the observers of this thread that ``generator``'s state is about to change."""
    for seen in _observers.active:
        if generator not in seen:
            seen[generator] = generator.get_state()


class NumpyStyleGenerator:
    """Random numbers from a NumPy-style Generator (numpy, cupy), as arrays of the device."""

    def __init__(self, rng, xp, native):
        self._rng, self._xp, self._native = rng, xp, native

    def get_state(self):
        """The generator's state, for ``set_state``: NumPy's bit-generator state (a dict)."""
        return self._rng.bit_generator.state  # a new dict at each call

    def set_state(self, state) -> None:
        """Return to a state ``get_state`` gave: the draws that followed it come again."""
        changing(self)
        self._rng.bit_generator.state = state

    def normal(self, shape, dtype, mean=0.0, std=1.0):
        changing(self)
        x = self._rng.standard_normal(size=tuple(shape), dtype=_real(dtype)) * std + mean
        return self._xp.astype(x, x.dtype)  # a 0-d result stays an array

    def uniform(self, shape, dtype, low=0.0, high=1.0):
        changing(self)
        x = self._rng.random(size=tuple(shape), dtype=_real(dtype)) * (high - low) + low
        return self._xp.astype(x, x.dtype)

    def integers(self, low, high, shape, dtype):
        changing(self)
        return self._rng.integers(low, high, size=tuple(shape), dtype=dtype_name(dtype))


class CupyGenerator(NumpyStyleGenerator):
    """CuPy's Generator: its bit generator keeps the cuRAND state of every GPU thread in one
    device array (``_state``, CuPy's own attribute), which the state is a copy of."""

    def get_state(self):
        """The generator's state, for ``set_state``: a copy of the cuRAND states (on the GPU)."""
        with self._native:
            return self._rng.bit_generator._state.copy()

    def set_state(self, state) -> None:
        """Return to a state ``get_state`` gave: the draws that followed it come again."""
        changing(self)
        with self._native:
            self._rng.bit_generator._state[...] = state  # in place: kernels hold its address


def _real(dtype):
    name = dtype_name(dtype)
    if name not in ("float32", "float64"):
        raise TypeError(f"random floats need float32 or float64, not {dtype!r}")
    return name
