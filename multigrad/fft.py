"""The array API standard's ``fft`` extension, differentiable."""

from .ops import fft as _family

globals().update({name: getattr(_family, name) for name in _family.__all__})

__all__ = list(_family.__all__)
