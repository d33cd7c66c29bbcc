"""Pure array-API versions of the extension kernels, for libraries without a native one.

They are slower than the native kernels but run on any conforming namespace, and the test
suite checks them on CPU against the native ones.
"""

from __future__ import annotations

import math

import array_api_compat

from ._dtypes import dtype_name
from ._random import Generator, changing, drawn

__all__ = ["scatter_add", "Counter64Generator"]

# one-hot blocks are (n, _CHUNK); this bounds the temporary memory of scatter_add
_CHUNK = 1024


def scatter_add(xp, n: int, indices, values):
    """``out[indices[k]] += values[k]`` for every k, accumulating repeats, as one-hot matmuls.

    Products with 0 and 1 are exact, so the result equals a sequential accumulation up to the
    order of the additions.
    """
    m = indices.shape[0]
    rest = tuple(values.shape[1:])
    width = math.prod(rest)
    flat = xp.reshape(values, (m, width))
    device = array_api_compat.device(values)
    out = xp.zeros((n, width), dtype=values.dtype, device=device)
    rows = xp.arange(n, dtype=indices.dtype, device=device)
    for start in range(0, m, _CHUNK):
        stop = min(start + _CHUNK, m)  # the standard leaves out-of-bounds slice stops undefined
        onehot = xp.astype(rows[:, None] == indices[None, start:stop], values.dtype)
        out = out + onehot @ flat[start:stop, :]
    return xp.reshape(out, (n,) + rest)


class Counter64Generator(Generator):
    """A counter-based generator (SplitMix64 over a running counter) in standard uint64 ops.

    Streams are reproducible for a seed on every library, though they differ from the
    libraries' own generators.
    """

    _GOLDEN = 0x9E3779B97F4A7C15

    def __init__(self, xp, native, seed):
        self._xp, self._native = xp, native
        self._key = ((int(seed or 0) + 1) * self._GOLDEN) & 0xFFFFFFFFFFFFFFFF
        self._counter = 0

    def get_state(self) -> dict:
        """The generator's state, for ``set_state``: its key and counter, as Python ints."""
        return {"key": self._key, "counter": self._counter}

    def set_state(self, state: dict) -> None:
        """Return to a state ``get_state`` gave: the draws that followed it come again."""
        if not (isinstance(state, dict) and set(state) == {"key", "counter"}
                and all(isinstance(v, int) for v in state.values())):
            raise TypeError(f"Counter64Generator.set_state: expected the dict of Python ints "
                            f"'key' and 'counter' that get_state returns, got {state!r}")
        changing(self)
        self._key, self._counter = state["key"], state["counter"]

    def _dtype(self, dtype):
        """The namespace's own dtype for any spelling (multigrad's DType, a name, a native)."""
        return getattr(self._xp, dtype_name(dtype))

    def _bits(self, count: int):
        changing(self)  # every draw comes through here, before the counter moves
        xp = self._xp
        u64 = xp.uint64
        z = xp.arange(self._counter, self._counter + count, dtype=u64, device=self._native)
        self._counter += count
        z = z * xp.asarray(self._GOLDEN, dtype=u64, device=self._native) + xp.asarray(
            self._key, dtype=u64, device=self._native)
        z = (z ^ (z >> 30)) * xp.asarray(0xBF58476D1CE4E5B9, dtype=u64, device=self._native)
        z = (z ^ (z >> 27)) * xp.asarray(0x94D049BB133111EB, dtype=u64, device=self._native)
        return z ^ (z >> 31)

    def _unit(self, count: int, dtype):
        """Uniform floats in [0, 1) with 53 random bits (float64) or 24 (float32)."""
        xp = self._xp
        dtype = self._dtype(dtype)
        bits = 53 if dtype == xp.float64 else 24
        z = self._bits(count) >> (64 - bits)
        return xp.astype(z, dtype) * (2.0 ** -bits)

    def uniform(self, shape, dtype, low=0.0, high=1.0):
        count = math.prod(shape)
        return drawn(self, "uniform", (shape, dtype, low, high), self._xp.reshape(
            self._unit(count, dtype) * (high - low) + low, tuple(shape)))

    def normal(self, shape, dtype, mean=0.0, std=1.0):
        xp = self._xp
        count = math.prod(shape)
        half = (count + 1) // 2
        # Box-Muller; 1 - u keeps the logarithm's argument in (0, 1]
        u1 = 1.0 - self._unit(half, dtype)
        u2 = self._unit(half, dtype)
        radius = xp.sqrt(-2.0 * xp.log(u1))
        z = xp.concat([radius * xp.cos(2 * math.pi * u2), radius * xp.sin(2 * math.pi * u2)])
        return drawn(self, "normal", (shape, dtype, mean, std),
                     xp.reshape(z[:count] * std + mean, tuple(shape)))

    def integers(self, low, high, shape, dtype):
        xp = self._xp
        count = math.prod(shape)
        span = xp.asarray(high - low, dtype=xp.uint64, device=self._native)
        z = self._bits(count) % span  # modulo bias is below 2**-40 for spans under 2**24
        return drawn(self, "integers", (low, high, shape, dtype),
                     xp.reshape(xp.astype(z, self._dtype(dtype)) + low, tuple(shape)))
