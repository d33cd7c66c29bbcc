"""Initialisers: fill a tensor in place with random or constant values, on its own device.

Random values come from a generator on the tensor's device: ``generator=`` (one made by
``device.random(seed)``, to draw a sequence of tensors from one stream), or a fresh one seeded
with ``seed=``, or by default the device's default generator, which ``multigrad.manual_seed``
seeds (without it, it is seeded from the operating system and results differ between runs).

Fan-in and fan-out follow the usual convention: for a weight of shape ``(out, in, *kernel)`` the
fan-in is ``in * prod(kernel)`` and the fan-out ``out * prod(kernel)``; a 1-D tensor has fan-in and
fan-out equal to its length.
"""

from __future__ import annotations

import math

from ..autograd import Tensor, no_grad
from ..backends._random import default_generator
from ..ops import asarray, full_like

__all__ = ["calculate_gain", "fan_in_and_out", "make_generator", "uniform_", "normal_",
           "kaiming_normal_", "kaiming_uniform_", "xavier_normal_", "xavier_uniform_",
           "lecun_normal_", "lecun_uniform_", "zeros_", "ones_", "constant_"]

_GAINS = {"linear": 1.0, "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "sigmoid": 1.0,
          "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "selu": 0.75}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance steady through ``nonlinearity``.

    ``"leaky_relu"`` takes its negative slope as ``param`` (default 0.01).
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    try:
        return _GAINS[nonlinearity]
    except KeyError:
        raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one "
                         f"of {', '.join(sorted(_GAINS))} or 'leaky_relu'") from None


def fan_in_and_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)`` (or a 1-D tensor)."""
    if tensor.ndim == 0:
        raise ValueError("fan_in_and_out: a 0-d tensor has no fan-in or fan-out")
    if tensor.ndim == 1:
        return tensor.shape[0], tensor.shape[0]
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def make_generator(device, seed: int | None = None, generator=None):
    """``generator`` if given, else a new generator on ``device`` seeded with ``seed``, else
    the default generator of ``device`` (``multigrad.manual_seed`` seeds it)."""
    if generator is not None:
        return generator
    return default_generator(device) if seed is None else device.random(seed)


def _fill(tensor: Tensor, raw) -> Tensor:
    """Rebind ``tensor`` to new values (not an op: the tape never sees an initialisation)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a Tensor, got {type(tensor).__name__}")
    with no_grad():
        tensor.data = asarray(raw, device=tensor.device, dtype=tensor.dtype).data
    return tensor


def uniform_(tensor: Tensor, low: float = 0.0, high: float = 1.0, *, generator=None,
             seed: int | None = None) -> Tensor:
    """Fill ``tensor`` with draws from U(low, high); returns it."""
    gen = make_generator(tensor.device, seed, generator)
    return _fill(tensor, gen.uniform(tensor.shape, tensor.dtype, low, high))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None,
            seed: int | None = None) -> Tensor:
    """Fill ``tensor`` with draws from N(mean, std**2); returns it."""
    gen = make_generator(tensor.device, seed, generator)
    return _fill(tensor, gen.normal(tensor.shape, tensor.dtype, mean, std))


def _fan(tensor: Tensor, mode: str) -> int:
    fan_in, fan_out = fan_in_and_out(tensor)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', not {mode!r}")


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", *, generator=None,
                    seed: int | None = None) -> Tensor:
    """He initialisation: N(0, std**2) with ``std = gain / sqrt(fan)``.

    ``a`` is the negative slope of a leaky ReLU (0 gives ReLU's gain sqrt(2)).
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator=generator, seed=seed)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", *, generator=None,
                     seed: int | None = None) -> Tensor:
    """He initialisation: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator=generator, seed=seed)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, *, generator=None,
                   seed: int | None = None) -> Tensor:
    """Glorot initialisation: N(0, std**2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator=generator, seed=seed)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, *, generator=None,
                    seed: int | None = None) -> Tensor:
    """Glorot initialisation: U(-bound, bound), ``bound = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = fan_in_and_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator=generator, seed=seed)


def lecun_normal_(tensor: Tensor, *, generator=None, seed: int | None = None) -> Tensor:
    """LeCun initialisation: N(0, 1 / fan_in)."""
    std = 1.0 / math.sqrt(_fan(tensor, "fan_in"))
    return normal_(tensor, 0.0, std, generator=generator, seed=seed)


def lecun_uniform_(tensor: Tensor, *, generator=None, seed: int | None = None) -> Tensor:
    """LeCun initialisation: U(-bound, bound) with ``bound = sqrt(3 / fan_in)``."""
    bound = math.sqrt(3.0 / _fan(tensor, "fan_in"))
    return uniform_(tensor, -bound, bound, generator=generator, seed=seed)


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill ``tensor`` with ``value``; returns it."""
    return _fill(tensor, full_like(tensor, value).data)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros; returns it."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones; returns it."""
    return constant_(tensor, 1.0)
