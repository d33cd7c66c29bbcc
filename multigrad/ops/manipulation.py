"""Manipulation functions of the array API standard, and ``astype``.

Primitives: reshape, broadcast_to, astype, ...

All are linear, so every JVP is ``LINEAR``; each VJP is the adjoint rearrangement.
"""

from __future__ import annotations

from ..autograd import LINEAR, defprimitive
from ._helpers import native_dtype

__all__ = ["reshape", "broadcast_to", "astype"]

reshape_p = defprimitive(
    "reshape",
    forward=lambda xp, x, shape, copy: xp.reshape(x, shape, copy=copy),
    vjp=(lambda xp, g, ans, x, shape, copy: xp.reshape(g, x.shape),),
    jvp=(LINEAR,),
)


def reshape(x, /, shape, *, copy=None):
    """The elements of ``x`` in a new ``shape`` (one entry may be -1)."""
    return reshape_p(x, shape=tuple(shape), copy=copy)


broadcast_to_p = defprimitive(
    "broadcast_to",
    forward=lambda xp, x, shape: xp.broadcast_to(x, shape),
    # the engine sums broadcast dimensions back, so the cotangent passes through unchanged
    vjp=(lambda xp, g, ans, x, shape: g,),
    jvp=(LINEAR,),
)


def broadcast_to(x, /, shape):
    """``x`` broadcast to ``shape``."""
    return broadcast_to_p(x, shape=tuple(shape))


astype_p = defprimitive(
    "astype",
    forward=lambda xp, x, dtype, copy: xp.astype(x, native_dtype(xp, dtype), copy=copy),
    # the engine casts the cotangent back to the input's dtype
    vjp=(lambda xp, g, ans, x, dtype, copy: g,),
    jvp=(LINEAR,),
)


def astype(x, dtype, /, *, copy=True, device=None):
    """``x`` converted to ``dtype`` (and moved to ``device`` if given).

    Gradients flow between floating dtypes; a cast to an integer or boolean dtype cuts them.
    """
    out = astype_p(x, dtype=dtype, copy=copy)
    return out if device is None else out.to(device)
