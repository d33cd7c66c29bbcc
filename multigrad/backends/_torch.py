"""PyTorch as a backend: ``"torch:cpu"`` and ``"torch:cuda:N"``.

Its extension table: scatter-add by ``index_add_`` (which accumulates repeated indices),
random numbers from a ``torch.Generator`` of the device, host transfer through ``.numpy()``,
and indexing and assignment through slices of negative step (which PyTorch refuses: they
become positive slices and a ``flip``).
Tensors never require PyTorch's own gradients here: multigrad's tape does the differentiating.
"""

from __future__ import annotations

from ._random import Generator, changing, drawn
from ._dtypes import dtype_name

__all__ = ["torch_device"]


def _import_torch(name: str):
    try:
        import torch
    except ImportError as err:
        raise _device_error(f"device {name!r} needs PyTorch, which is not installed: "
                            "python -m pip install torch") from err
    return torch


def _device_error(message):
    from ._device import DeviceError
    return DeviceError(message)


def torch_device(kind: str, index: int):
    """The ``Device`` of PyTorch on ``kind`` ("cpu" or "cuda") number ``index``."""
    from ._device import Device

    name = "torch:cpu" if kind == "cpu" else f"torch:cuda:{index}"
    torch = _import_torch(name)
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not 0 <= index < count:
            raise _device_error(f"device {name!r} does not exist: PyTorch sees {count} CUDA "
                                "GPU(s)")
    import array_api_compat.torch as xp
    import numpy as np

    native = torch.device("cpu") if kind == "cpu" else torch.device("cuda", index)

    def scatter_add(xp_, n, indices, values):
        out = torch.zeros((n,) + tuple(values.shape[1:]), dtype=values.dtype,
                          device=values.device)
        return out.index_add_(0, indices, values)

    def to_host(a):
        return a.detach().cpu().numpy()

    def from_host(a):
        # a copy: torch.asarray would share a NumPy array's memory, and warn on a read-only one
        return torch.tensor(np.asarray(a), device=native)

    def random(device, seed):
        return TorchGenerator(torch, native, seed)

    def index(x, key):
        positive, flips = _positive_steps(key, x.shape)
        out = x[positive]
        return torch.flip(out, flips) if flips else out

    def assign(x, key, value):
        positive, flips = _positive_steps(key, x.shape)
        if flips:
            target = x[positive]
            value = torch.flip(torch.broadcast_to(torch.as_tensor(value, dtype=x.dtype,
                                                                  device=x.device),
                                                  target.shape), flips)
        x[positive] = value
        return x

    ext = {"scatter_add": scatter_add, "random": random, "to_host": to_host,
           "to_host_shares": kind == "cpu", "from_host": from_host, "index": index,
           "assign": assign}
    if kind == "cpu":
        ext["host_view"] = to_host
    else:
        ext["synchronize"] = lambda: torch.cuda.synchronize(native)
    return Device(name, "torch", xp, native, ext)


class TorchGenerator(Generator):
    """Random numbers from a ``torch.Generator`` on the device."""

    def __init__(self, torch, native, seed):
        self._torch, self._native = torch, native
        self._gen = torch.Generator(device=native)
        self._gen.manual_seed(int(seed or 0) & 0xFFFFFFFFFFFFFFFF)

    def get_state(self):
        """The generator's state, for ``set_state``: PyTorch's state tensor (on the host)."""
        return self._gen.get_state()

    def set_state(self, state) -> None:
        """Return to a state ``get_state`` gave: the draws that followed it come again."""
        changing(self)
        self._gen.set_state(state)

    def _dtype(self, dtype):
        return getattr(self._torch, dtype_name(dtype))

    def normal(self, shape, dtype, mean=0.0, std=1.0):
        changing(self)
        x = self._torch.randn(tuple(shape), generator=self._gen, dtype=self._dtype(dtype),
                              device=self._native) * std + mean
        return drawn(self, "normal", (shape, dtype, mean, std), x)

    def uniform(self, shape, dtype, low=0.0, high=1.0):
        changing(self)
        x = self._torch.rand(tuple(shape), generator=self._gen, dtype=self._dtype(dtype),
                             device=self._native) * (high - low) + low
        return drawn(self, "uniform", (shape, dtype, low, high), x)

    def integers(self, low, high, shape, dtype):
        changing(self)
        x = self._torch.randint(low, high, tuple(shape), generator=self._gen,
                                dtype=self._dtype(dtype), device=self._native)
        return drawn(self, "integers", (low, high, shape, dtype), x)


def _positive_steps(key, shape):
    """A basic ``key`` (ints, slices, None, a final Ellipsis) with each slice of negative step
    made positive, and the result's axes that must then be flipped."""
    items = key if isinstance(key, tuple) else (key,)
    positive, flips, dim, axis = [], [], 0, 0
    for it in items:
        if it is None:
            positive.append(it)
            axis += 1
        elif it is Ellipsis:  # last in multigrad's keys: no flipped axis after it
            positive.append(it)
        elif isinstance(it, slice):
            picked = range(*it.indices(shape[dim]))
            if it.step is not None and it.step < 0:
                if picked:
                    positive.append(slice(picked[-1], picked[0] + 1, -it.step))
                    flips.append(axis)
                else:
                    positive.append(slice(0, 0, 1))
            else:
                positive.append(it)
            dim += 1
            axis += 1
        else:  # an int: no axis in the result
            positive.append(it)
            dim += 1
    return tuple(positive), flips
