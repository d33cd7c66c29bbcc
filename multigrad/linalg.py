"""The array API standard's ``linalg`` extension, differentiable."""

from .ops import linalg as _family

globals().update({name: getattr(_family, name) for name in _family.LINALG_ALL})

__all__ = list(_family.LINALG_ALL)
