"""The dispatcher: which array library and device an array lives on.

See ``Device`` for the extension table (scatter-add, a fast where-or-zero, random numbers,
host transfer, synchronisation) that fills the gaps of the array API standard.
"""

from ._dtypes import DTYPES, DType, as_dtype, dtype_name
from ._device import (Device, DeviceError, MixedDeviceError, device_of, devices, get_default_device,
                      get_device, is_array, is_lazy_array, joined_device, same_shape,
                      set_default_device, unknown_size)

__all__ = ["DTYPES", "DType", "Device", "DeviceError", "MixedDeviceError", "as_dtype", "device_of",
           "devices", "dtype_name", "get_default_device", "get_device", "is_array", "is_lazy_array",
           "joined_device", "same_shape", "set_default_device", "unknown_size"]
