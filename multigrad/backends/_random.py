"""Which random generators a block of code draws from, and their states before it did.

Every generator ``Device.random`` makes has ``get_state()`` and ``set_state(state)``, and calls
``changing(self)`` before each draw and each ``set_state``. ``observe_draws()`` collects, for
the code inside it (in this thread), each generator whose state it changed with the state
before the first change: what ``multigrad.checkpoint`` needs to draw the same numbers again
when it recomputes, and to put every generator back afterwards. With no observer, a draw costs
one attribute read more.

Each draw also reports itself through ``drawn(generator, method, args, result)`` to the
recorder of ``multigrad.compile`` when one is recording in this thread, so that
a compiled step draws again on every call instead of keeping the recorded numbers
(``set_recorder``).

The default generators (``multigrad.manual_seed``) live here too, in one registry:
``default_generators()`` is the dict ``{Device: generator}`` of those made so far, and
``default_generator(device)`` returns (making it on first use) the one of a device, which
layers, initialisers, Dropout and the random creation functions draw from when they are given
no seed or generator. ``seed_default_generators(seed)`` reseeds them in place (a holder of one
sees the new stream) and seeds those made later; before it is called, each is seeded from the
operating system.
"""

from __future__ import annotations

import contextlib
import secrets
import threading

from ._dtypes import dtype_name

__all__ = ["observe_draws", "changing", "set_recorder", "drawn", "Generator",
           "NumpyStyleGenerator", "CupyGenerator", "default_generators", "default_generator",
           "seed_default_generators"]


class _Observers(threading.local):
    # class-level defaults, so a thread that never observed reads an empty tuple and None
    active: tuple = ()
    recorder = None  # multigrad.compile's recorder, while it records a step in this thread


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


def set_recorder(recorder):
    """Report every draw in this thread to ``recorder.draw(generator, method, args, result)``
    from now on (None: to nobody); returns the recorder there was."""
    outer = _observers.recorder
    _observers.recorder = recorder
    return outer


def drawn(generator, method: str, args: tuple, result):
    """Report a draw to the recorder of this thread, if any; returns ``result``."""
    recorder = _observers.recorder
    if recorder is not None:
        recorder.draw(generator, method, args, result)
    return result


def changing(generator) -> None:
    """Tell the observers of this thread that ``generator``'s state is about to change."""
    for seen in _observers.active:
        if generator not in seen:
            seen[generator] = generator.get_state()


# -- the default generators -------------------------------------------------------------------

_DEFAULT_GENERATORS: dict = {}  # Device -> its default generator
_default_lock = threading.Lock()


class _Seed:
    value: int | None = None  # manual_seed's seed; None: each generator seeded from the OS


def default_generators() -> dict:
    """The registry of default generators: ``{Device: generator}``, those made so far."""
    return _DEFAULT_GENERATORS


def default_generator(device):
    """The default generator of ``device`` (a ``Device``), made on first use."""
    gen = _DEFAULT_GENERATORS.get(device)
    if gen is None:
        with _default_lock:
            gen = _DEFAULT_GENERATORS.get(device)
            if gen is None:
                seed = _Seed.value if _Seed.value is not None else secrets.randbits(63)
                gen = _DEFAULT_GENERATORS[device] = device.random(seed)
    return gen


def seed_default_generators(seed: int) -> None:
    """Seed every default generator with ``seed``: those made already, in place (through
    ``set_state``, so holders and observers see the change), and those made later."""
    with _default_lock:
        _Seed.value = seed
        for device, gen in _DEFAULT_GENERATORS.items():
            gen.set_state(device.random(seed).get_state())


class Generator:
    """What every generator of ``Device.random`` is: draws (``normal``, ``uniform``,
    ``integers``) return arrays of its device; ``get_state``/``set_state`` save and restore."""


class NumpyStyleGenerator(Generator):
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
        # astype: a 0-d result stays an array
        return drawn(self, "normal", (shape, dtype, mean, std), self._xp.astype(x, x.dtype))

    def uniform(self, shape, dtype, low=0.0, high=1.0):
        changing(self)
        x = self._rng.random(size=tuple(shape), dtype=_real(dtype)) * (high - low) + low
        return drawn(self, "uniform", (shape, dtype, low, high), self._xp.astype(x, x.dtype))

    def integers(self, low, high, shape, dtype):
        changing(self)
        return drawn(self, "integers", (low, high, shape, dtype),
                     self._rng.integers(low, high, size=tuple(shape), dtype=dtype_name(dtype)))


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
