"""``Dropout``, with its random generator on the device of its inputs."""

from __future__ import annotations

from ..autograd import Tensor
from ..backends import Device, get_device
from . import functional as F
from .init import make_generator
from .module import Module, check_input

__all__ = ["Dropout"]


class Dropout(Module):
    """In training mode, zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)``; the identity in eval mode.

    The layer holds the generator it draws from: without ``seed`` or ``generator``, the default
    generator of its device (``multigrad.manual_seed`` seeds it; holding it lets a compiled
    step find it); with ``seed``, a new one made by ``device.random(seed)`` on ``device``;
    ``generator=`` supplies one. ``module.to(other)`` takes the generator there (the default
    one, or a new one seeded with ``seed`` again); so does an input that arrives on another
    device, unless the generator was supplied (then that is an error). A pickled or deep-copied
    Dropout does not carry the generator (it holds its array library's module): the copy takes
    its device's again in the same way.
    """

    def __init__(self, p: float = 0.5, *, device=None, seed: int | None = None, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p, self.seed = p, seed
        self._given = generator is not None
        self._device = get_device(device)
        self.generator = make_generator(self._device, seed, generator)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["generator"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _given=False)
        self.generator = make_generator(self._device, self.seed)

    def _moved_to(self, device: Device) -> None:
        if device is not self._device and not self._given:
            self._device = device
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
        return F.dropout(x, self.p, True, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"
