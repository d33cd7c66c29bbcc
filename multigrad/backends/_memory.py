"""Which arrays own their memory, and which kernels can write into an array given to them.

``multigrad.compile`` reuses the memory of an array a program no longer needs for a later
result of the same shape and dtype (``out=``): NumPy's and CuPy's ufuncs take ``out=``, and
both libraries say through ``base`` whether an array owns its memory. Other libraries have
neither (the standard has no ``out=``), so their programs allocate every result.
"""

from __future__ import annotations

import sys

import numpy as np

__all__ = ["out_kind", "memory_of"]


def _numpy_and_cupy(attribute: str) -> tuple:
    """NumPy's ``attribute`` (``ufunc``, ``ndarray``), and CuPy's when CuPy is imported."""
    cupy = sys.modules.get("cupy")
    return (getattr(np, attribute),) + ((getattr(cupy, attribute),) if cupy else ())


def out_kind(kernel) -> str | None:
    """"elementwise" for a kernel that takes ``out=`` and may write over its own inputs
    (a ufunc), "general" for one that takes ``out=`` only distinct from its inputs (a
    generalized ufunc: ``matmul``), None for the rest."""
    if isinstance(kernel, _numpy_and_cupy("ufunc")):
        return "elementwise" if kernel.signature is None else "general"
    return None


def memory_of(array):
    """None for an array whose memory this module cannot vouch for; ``array`` itself when it
    owns its memory (a kernel may write over it once nobody reads it); else the array whose
    memory it views."""
    if not isinstance(array, _numpy_and_cupy("ndarray")):
        return None
    return array if array.base is None else array.base
