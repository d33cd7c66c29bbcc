"""``Dropout``, drawing its masks on the device of its inputs."""

from __future__ import annotations

from ..autograd import Tensor
from ..backends import Device, get_device
from ..backends._random import default_generator
from . import functional as F
from .init import make_generator
from .module import Module, check_input

__all__ = ["Dropout"]


class Dropout(Module):
    """In training mode, zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)``; the identity in eval mode.

    Masks come from the default generator of the input's device (``multigrad.manual_seed``
    seeds it), unless the layer is given ``seed=`` (it then holds a generator of its own, made
    by ``device.random(seed)`` on ``device``) or ``generator=`` (one made by
    ``device.random``). A layer with a seed of its own makes a new generator, seeded with
    ``seed`` again, when ``module.to(other)`` moves it or an input arrives on another device;
    with a supplied generator that is an error. A pickled or deep-copied Dropout does not carry
    its generator (it holds its array library's module): the copy makes a new one on its
    device, seeded with ``seed`` again (without a seed, it draws from the default generator).
    """

    def __init__(self, p: float = 0.5, *, device=None, seed: int | None = None, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p, self.seed = p, seed
        self._given = generator is not None
        self._device = get_device(device)
        self.generator = None if seed is None and generator is None else make_generator(
            self._device, seed, generator)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["generator"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _given=False)
        if self.seed is not None:
            self.generator = make_generator(self._device, self.seed)

    def _moved_to(self, device: Device) -> None:
        if device is not self._device and not self._given:
            self._device = device
            if self.seed is not None:
                self.generator = make_generator(device, self.seed)

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x)
        if not self.training or self.p == 0.0:
            return x
        if x.device is not self._device:
            if self._given:
                raise ValueError(f"{self!r}: its generator is on {self._device.name} but the "
                                 f"input is on {x.device.name}")
            self._moved_to(x.device)
        gen = self.generator if self.generator is not None else default_generator(x.device)
        return F.dropout(x, self.p, True, generator=gen)

    def extra_repr(self) -> str:
        return f"p={self.p}"
