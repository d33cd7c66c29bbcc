"""JAX as a backend: ``"jax:cpu"`` and ``"jax:cuda:N"`` (JAX's GPUs).

JAX arrays are immutable: ``assign`` is ``x.at[key].set(value)``, a functional update, and
scatter-add is ``zeros.at[indices].add(values)`` (which accumulates repeated indices). Random
numbers come from ``jax.random`` with a key and a counter, so a state is two Python ints.

Making the first JAX device turns on ``jax_enable_x64``: without it JAX has no float64, int64
or complex128, which the standard requires and the derivative checks run in.
"""

from __future__ import annotations

from ._dtypes import dtype_name
from ._random import Generator, changing, drawn

__all__ = ["jax_device"]


def jax_device(platform: str, index: int):
    """The ``Device`` of JAX on ``platform`` ("cpu" or "cuda") number ``index``."""
    from ._device import Device, DeviceError

    name = "jax:cpu" if platform == "cpu" else f"jax:cuda:{index}"
    try:
        import jax
    except ImportError as err:
        raise DeviceError(f"device {name!r} needs JAX, which is not installed: "
                          "python -m pip install jax") from err
    jax.config.update("jax_enable_x64", True)
    try:
        found = jax.devices("cpu" if platform == "cpu" else "gpu")
    except RuntimeError:  # no such backend in this jaxlib (a CPU-only install has no GPU)
        found = []
    if not 0 <= index < len(found):
        raise DeviceError(f"device {name!r} does not exist: JAX sees {len(found)} "
                          f"{platform} device(s)")
    import jax.numpy as xp
    import numpy as np

    native = found[index]

    def scatter_add(xp_, n, indices, values):
        zeros = xp.zeros((n,) + tuple(values.shape[1:]), dtype=values.dtype, device=native)
        return zeros.at[indices].add(values)

    def assign(x, key, value):
        return x.at[key].set(value)

    def to_host(a):
        return np.asarray(a)

    def from_host(a):
        return jax.device_put(np.asarray(a), native)

    def random(device, seed):
        return JaxGenerator(jax, native, seed)

    ext = {"scatter_add": scatter_add, "assign": assign, "random": random,
           "to_host": to_host, "from_host": from_host,
           "synchronize": lambda: jax.effects_barrier()}
    if platform == "cpu":
        ext["host_view"] = to_host
    return Device(name, "jax", xp, native, ext)


class JaxGenerator(Generator):
    """``jax.random`` with a key made from the seed and a counter folded in for each draw."""

    def __init__(self, jax, native, seed):
        self._jax, self._native = jax, native
        self._seed = int(seed or 0) & 0x7FFFFFFFFFFFFFFF
        self._counter = 0

    def get_state(self) -> dict:
        """The generator's state, for ``set_state``: its seed and counter, as Python ints."""
        return {"seed": self._seed, "counter": self._counter}

    def set_state(self, state: dict) -> None:
        """Return to a state ``get_state`` gave: the draws that followed it come again."""
        if not (isinstance(state, dict) and set(state) == {"seed", "counter"}):
            raise TypeError(f"JaxGenerator.set_state: expected the dict 'seed', 'counter' that "
                            f"get_state returns, got {state!r}")
        changing(self)
        self._seed, self._counter = int(state["seed"]), int(state["counter"])

    def _key(self):
        changing(self)
        random = self._jax.random
        key = random.fold_in(random.key(self._seed), self._counter)
        self._counter += 1
        return key

    def _put(self, x):
        return self._jax.device_put(x, self._native)

    def _dtype(self, dtype):
        return getattr(self._jax.numpy, dtype_name(dtype))

    def normal(self, shape, dtype, mean=0.0, std=1.0):
        x = self._jax.random.normal(self._key(), tuple(shape), self._dtype(dtype)) * std + mean
        return drawn(self, "normal", (shape, dtype, mean, std), self._put(x))

    def uniform(self, shape, dtype, low=0.0, high=1.0):
        x = self._jax.random.uniform(self._key(), tuple(shape), self._dtype(dtype), low, high)
        return drawn(self, "uniform", (shape, dtype, low, high), self._put(x))

    def integers(self, low, high, shape, dtype):
        x = self._jax.random.randint(self._key(), tuple(shape), low, high, self._dtype(dtype))
        return drawn(self, "integers", (low, high, shape, dtype), self._put(x))
