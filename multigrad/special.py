"""Special functions, differentiable: ``multigrad.special`` (see ``multigrad.ops.special``).

The names and arguments are ``scipy.special``'s, and SciPy finds them here for tensors: with
``SCIPY_ARRAY_API=1``, ``scipy.special.erf(t)`` of a multigrad tensor calls
``multigrad.special.erf(t)`` (SciPy looks for a namespace's special functions in its
``special`` attribute), so code written against ``scipy.special`` differentiates unchanged.
"""

from .ops import special as _family

globals().update({name: getattr(_family, name) for name in _family.__all__})

__all__ = list(_family.__all__)
