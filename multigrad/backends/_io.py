"""Arrays to and from little-endian bytes on the host, for ``multigrad.save``/``load``.

The only place outside the device table that handles NumPy arrays: the bytes pass through a
host copy, made explicitly with the device's ``to_host``/``from_host``.
"""

from __future__ import annotations

import numpy as np

from ._device import Device

__all__ = ["to_le_bytes", "from_le_bytes"]


def to_le_bytes(device: Device, x) -> bytes:
    """The values of ``x`` (an array of ``device``) as C-ordered little-endian bytes."""
    host = np.ascontiguousarray(device.to_host(x))
    return host.astype(host.dtype.newbyteorder("<"), copy=False).tobytes()


def from_le_bytes(device: Device, buffer: bytes | bytearray, dtype_name: str,
                  shape: tuple[int, ...]):
    """An array of ``device`` from C-ordered little-endian bytes of ``dtype_name`` values.

    A ``bytearray`` on a little-endian host is used in place, without a copy.
    """
    host = np.frombuffer(buffer, dtype=np.dtype(dtype_name).newbyteorder("<")).reshape(shape)
    native = host.dtype.newbyteorder("=")
    if host.dtype != native or not host.flags.writeable:  # a view of bytes is read-only
        host = host.astype(native)
    return device.from_host(host)
