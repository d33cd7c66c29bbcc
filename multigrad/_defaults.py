"""What multigrad uses when it is not told: the default dtype of models and random draws, and
the default random generator of each device.

- ``set_default_dtype``/``get_default_dtype``: the floating dtype of the parameters and
  buffers of ``nn`` layers and of the random creation functions, float32 until changed (on
  every device, as in PyTorch and JAX). The array API's creation functions (``asarray``,
  ``zeros``, ``linspace``...) keep the standard's default, the device's own
  (``__array_namespace_info__().default_dtypes()``: float64 on NumPy), so that code written
  for the standard (SciPy, scikit-learn) computes as it would on NumPy.
- ``manual_seed(seed)`` seeds one default generator per device (the registry
  ``multigrad.backends._random.default_generators()``), which layers, initialisers,
  ``Dropout`` and the random creation functions draw from when given no ``seed`` or
  ``generator``: after it, two runs of a script draw the same numbers. Without it each device's
  generator is seeded from the operating system.
- ``randn``, ``rand``, ``randint``, ``randperm``: random tensors on the default device (or
  ``device=``), drawn from its default generator (or ``generator=``, one made by
  ``device.random(seed)``). Inside ``vmap`` each example draws its own numbers, unless the
  vmap was asked for ``randomness="same"``.
"""

from __future__ import annotations

import operator

from .autograd import Tensor
from .backends import DType, as_dtype, device_of, get_device
from .backends._random import default_generator as _registered, seed_default_generators
from .ops import argsort

__all__ = ["set_default_dtype", "get_default_dtype", "manual_seed", "default_generator",
           "randn", "rand", "randint", "randperm"]

_FLOATING = ("float32", "float64")


class _Default:
    dtype: DType = as_dtype("float32")


def set_default_dtype(dtype) -> None:
    """Set the floating dtype of new ``nn`` layers' parameters and of random tensors.

    Parameters
    ----------
    dtype : DType
        ``multigrad.float32`` (the default) or ``multigrad.float64``. The array API creation
        functions (``asarray``, ``zeros``...) are not affected: they follow the device's
        default, as the standard asks.
    """
    try:
        new = as_dtype(dtype)
    except TypeError:
        new = None
    if new is None or new.name not in _FLOATING:
        raise TypeError(f"set_default_dtype: expected multigrad.float32 or multigrad.float64, "
                        f"got {dtype!r}")
    _Default.dtype = new


def get_default_dtype() -> DType:
    """The floating dtype of new ``nn`` layers and random tensors (float32 unless
    ``set_default_dtype`` changed it)."""
    return _Default.dtype


def manual_seed(seed: int) -> None:
    """Seed the default random generator of every device with ``seed``.

    Layers, initialisers, ``Dropout`` and ``randn``/``rand``/``randint``/``randperm`` draw from
    it when given no ``seed`` or ``generator``, so a script that calls ``manual_seed`` first
    draws the same numbers on every run.
    """
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TypeError(f"manual_seed: expected an integer seed, got {seed!r}") from None
    if seed < 0:
        raise ValueError(f"manual_seed: the seed must be non-negative, got {seed}")
    seed_default_generators(seed)


def default_generator(device=None):
    """The default random generator of ``device`` (default: the default device): what
    layers, initialisers, ``Dropout`` and the random functions draw from when given no seed or
    generator. It draws raw arrays (``normal(shape, dtype)``, ``uniform``, ``integers``) and
    has ``get_state``/``set_state``."""
    return _registered(get_device(device))


def _shape(shape: tuple, where: str) -> tuple:
    """``randn(2, 3)`` and ``randn((2, 3))`` alike: the shape as a tuple of ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        shape = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"{where}: the shape must be integers, got {shape!r}") from None
    if any(n < 0 for n in shape):
        raise ValueError(f"{where}: the shape must not be negative, got {shape}")
    return shape


def _source(device, generator):
    """The device a random function draws on (None: wherever ``generator`` draws) and the
    generator it draws from."""
    if generator is None:
        target = get_device(device)
        return target, _registered(target)
    return (None if device is None else get_device(device)), generator


def _per_example(shape: tuple) -> tuple[tuple, tuple]:
    """Inside ``vmap(randomness="different")``: the shape to draw, with the batch axes, and
    the vmaps' levels (see ``multigrad.batching``); else ``shape`` and ``()``."""
    from .batching._marks import random_batch  # imported late: batching is built on ours
    return random_batch(shape)


def _wrap(raw, device, where: str, requires_grad: bool = False, levels: tuple = ()) -> Tensor:
    """A draw as a tensor, checked to be on ``device`` (when one was asked for); inside vmap,
    batched by the ``levels`` it was drawn for."""
    drew_on = device_of(raw)
    if device is not None and drew_on is not device:
        raise ValueError(f"{where}: the generator draws on {drew_on.name} but device= is "
                         f"{device.name}; make the generator with that device's random(seed)")
    out = Tensor(raw, drew_on)
    if levels:
        from .batching._marks import mark_draw
        mark_draw(out, levels)
    return out.requires_grad_() if requires_grad else out


def _floating(dtype, where: str) -> DType:
    dtype = get_default_dtype() if dtype is None else as_dtype(dtype)
    if dtype.name not in _FLOATING:
        raise TypeError(f"{where}: dtype must be float32 or float64, got {dtype.name}")
    return dtype


def randn(*shape, dtype=None, device=None, generator=None, requires_grad: bool = False) -> Tensor:
    """Draws from the standard normal distribution, of shape ``shape``.

    Parameters
    ----------
    *shape : int or one tuple of int
        ``randn(2, 3)`` or ``randn((2, 3))``.
    dtype : DType, optional
        Default: ``get_default_dtype()`` (float32 unless changed).
    device : str or Device, optional
        Default: the default device.
    generator : optional
        One made by ``device.random(seed)``; default: the device's default generator
        (``manual_seed``).
    requires_grad : bool
        Make the result a leaf that requires gradients.
    """
    shape, levels = _per_example(_shape(shape, "randn"))
    device, gen = _source(device, generator)
    return _wrap(gen.normal(shape, _floating(dtype, "randn")), device, "randn", requires_grad,
                 levels)


def rand(*shape, dtype=None, device=None, generator=None, requires_grad: bool = False) -> Tensor:
    """Draws from the uniform distribution on ``[0, 1)``, of shape ``shape`` (see ``randn``
    for the arguments)."""
    shape, levels = _per_example(_shape(shape, "rand"))
    device, gen = _source(device, generator)
    return _wrap(gen.uniform(shape, _floating(dtype, "rand")), device, "rand", requires_grad,
                 levels)


def randint(low: int, high: int, shape, *, dtype=None, device=None, generator=None) -> Tensor:
    """Integers drawn uniformly from ``[low, high)``, of shape ``shape``.

    ``dtype`` defaults to int64; see ``randn`` for ``device`` and ``generator``.
    """
    low, high = operator.index(low), operator.index(high)
    if high <= low:
        raise ValueError(f"randint: high must be greater than low, got low={low}, high={high}")
    shape = _shape((shape,) if isinstance(shape, int) else tuple(shape), "randint")
    dtype = as_dtype("int64" if dtype is None else dtype)
    if dtype.kind not in ("signed integer", "unsigned integer"):
        raise TypeError(f"randint: dtype must be an integer dtype, got {dtype.name}")
    shape, levels = _per_example(shape)
    device, gen = _source(device, generator)
    return _wrap(gen.integers(low, high, shape, dtype), device, "randint", levels=levels)


def randperm(n: int, *, device=None, generator=None) -> Tensor:
    """A random permutation of ``0, ..., n - 1`` (int64), as ``argsort`` of uniform draws."""
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"randperm: n must not be negative, got {n}")
    device, gen = _source(device, generator)
    shape, levels = _per_example((n,))
    keys = _wrap(gen.uniform(shape, as_dtype("float64")), device, "randperm", levels=levels)
    return argsort(keys)

