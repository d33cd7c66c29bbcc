"""Manipulation functions of the array API standard, and ``astype``.

Primitives: reshape, broadcast_to, broadcast_arrays, astype, concat, stack, unstack, permute_dims,
flip, roll, tile, repeat. Composed from them: expand_dims, squeeze (reshape), moveaxis
(permute_dims); ``broadcast_shapes`` is plain shape arithmetic.

All are linear, so each VJP is the adjoint rearrangement (a cotangent that was copied is summed:
broadcast and tiled copies, repeated elements). Single-input ops use ``LINEAR`` JVPs; the
variadic ones (concat, stack) are linear in each argument only jointly, so their JVP puts the
tangent among zeros. Gradients flow through ``astype`` between floating dtypes only.
"""

from __future__ import annotations

import builtins
import math
import operator

from ..autograd import LINEAR, Tensor, _record, defprimitive
from ..backends import as_dtype
from ._helpers import array_device, native_dtype, normalize_axis, reduced_axes
from .indexing import _raw, _raw_xp, scatter_along_axis

__all__ = ["reshape", "broadcast_to", "broadcast_arrays", "broadcast_shapes", "astype", "concat",
           "expand_dims", "flip", "moveaxis", "permute_dims", "repeat", "roll", "squeeze", "stack",
           "tile", "unstack"]

reshape_p = defprimitive(
    "reshape",
    forward="reshape",
    vjp=(lambda xp, g, ans, x, shape, copy: xp.reshape(g, x.shape),),
    jvp=(LINEAR,),
)


def reshape(x, /, shape, *, copy=None):
    """The elements of ``x`` in a new ``shape`` (one entry may be -1)."""
    return reshape_p(x, shape=tuple(shape), copy=copy)


broadcast_to_p = defprimitive(
    "broadcast_to",
    forward="broadcast_to",
    # the engine sums broadcast dimensions back, so the cotangent passes through unchanged
    vjp=(lambda xp, g, ans, x, shape: g,),
    jvp=(LINEAR,),
)


def broadcast_to(x, /, shape):
    """``x`` broadcast to ``shape``."""
    return broadcast_to_p(x, shape=tuple(shape))


broadcast_arrays_p = defprimitive(
    "broadcast_arrays",
    forward=lambda xp, *arrays: tuple(xp.broadcast_arrays(*arrays)),
    # output k is input k broadcast: the engine sums its cotangent back
    vjp=(lambda xp, g, ans, *arrays, argnum: g[argnum],),
    jvp=(lambda xp, t, ans, *arrays, argnum: tuple(t if k == argnum else None
                                                   for k in range(len(ans))),),
    variadic=True,
    multi_output=True,
)


def broadcast_arrays(*arrays):
    """The arrays broadcast against one another (a tuple)."""
    return broadcast_arrays_p(*arrays)


def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to (a tuple of ints)."""
    ndim = builtins.max((len(s) for s in shapes), default=0)
    out = []
    for k in range(ndim):
        sizes = {s[len(s) - ndim + k] for s in shapes if len(s) - ndim + k >= 0} - {1}
        if len(sizes) > 1:
            raise ValueError(f"broadcast_shapes: shapes {', '.join(map(str, shapes))} do not "
                             f"broadcast (sizes {sorted(sizes)} in dimension {k - ndim})")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


astype_p = defprimitive(
    "astype",
    forward=lambda xp, x, dtype, copy: xp.astype(x, native_dtype(xp, dtype), copy=copy),
    # the engine casts the cotangent back to the input's dtype
    vjp=(lambda xp, g, ans, x, dtype, copy: g,),
    jvp=(LINEAR,),
)


_REAL_NUMBER_KINDS = frozenset({"real floating", "signed integer", "unsigned integer"})


def astype(x, dtype, /, *, copy=True, device=None):
    """``x`` converted to ``dtype`` (and moved to ``device`` if given).

    Gradients flow between floating dtypes; a cast to an integer or boolean dtype cuts them.
    A complex ``x`` casts to no real-valued dtype, as the standard asks: the cast would drop
    the imaginary part silently (take ``real(x)`` instead).
    """
    target = as_dtype(dtype)
    if target.kind in _REAL_NUMBER_KINDS and as_dtype(x.dtype).kind == "complex floating":
        raise TypeError(f"astype: casting complex ({as_dtype(x.dtype).name}) to {target.name} "
                        "is not permitted by the array API standard (it would drop the "
                        "imaginary part): take mg.real(x), mg.imag(x) or mg.abs(x) first")
    out = astype_p(x, dtype=dtype, copy=copy)
    return out if device is None else out.to(device)


# -- joining and splitting ----------------------------------------------------------------------

def _concat_vjp(xp, g, ans, *arrays, axis, argnum):
    if axis is None:  # the inputs were flattened
        start = builtins.sum(math.prod(a.shape) for a in arrays[:argnum])
        piece = g[start:start + math.prod(arrays[argnum].shape)]
        return xp.reshape(piece, arrays[argnum].shape)
    axis %= g.ndim
    start = builtins.sum(a.shape[axis] for a in arrays[:argnum])
    return g[(slice(None),) * axis + (slice(start, start + arrays[argnum].shape[axis]), Ellipsis)]


concat_p = defprimitive(
    "concat",
    forward=lambda xp, *arrays, axis: xp.concat(list(arrays), axis=axis),
    vjp=(_concat_vjp,),
    # affine, not linear, in one argument: the tangent goes among zeros for the others
    jvp=(lambda xp, t, ans, *arrays, axis, argnum: xp.concat(
        [t if k == argnum else xp.zeros_like(a) for k, a in enumerate(arrays)], axis=axis),),
    variadic=True,
)


def concat(arrays, /, *, axis=0):
    """The arrays joined along an existing ``axis`` (flattened first if ``axis`` is None)."""
    return concat_p(*arrays, axis=axis)


stack_p = defprimitive(
    "stack",
    forward=lambda xp, *arrays, axis: xp.stack(list(arrays), axis=axis),
    vjp=(lambda xp, g, ans, *arrays, axis, argnum:
         g[(slice(None),) * (axis % g.ndim) + (argnum, Ellipsis)],),
    jvp=(lambda xp, t, ans, *arrays, axis, argnum: xp.stack(
        [t if k == argnum else xp.zeros_like(a) for k, a in enumerate(arrays)], axis=axis),),
    variadic=True,
)


def stack(arrays, /, *, axis=0):
    """The arrays (of one shape) joined along a new ``axis``."""
    return stack_p(*arrays, axis=axis)


unstack_p = defprimitive(
    "unstack",
    forward=lambda xp, x, axis: tuple(xp.unstack(x, axis=axis)),
    vjp=(lambda xp, g, ans, x, axis: xp.stack(list(g), axis=axis),),
    jvp=(LINEAR,),
    multi_output=True,
)


def unstack(x, /, *, axis=0):
    """The slices of ``x`` along ``axis``, as a tuple."""
    return unstack_p(x, axis=axis)


# -- rearranging --------------------------------------------------------------------------------

permute_dims_p = defprimitive(
    "permute_dims",
    forward="permute_dims",
    # the adjoint of a permutation is its inverse
    vjp=(lambda xp, g, ans, x, axes: xp.permute_dims(g, tuple(axes.index(d)
                                                              for d in range(len(axes)))),),
    jvp=(LINEAR,),
)


def permute_dims(x, /, axes):
    """``x`` with its axes in the order ``axes``."""
    return permute_dims_p(x, axes=tuple(a % x.ndim for a in axes))


def moveaxis(x, source, destination, /):
    """``x`` with the axes ``source`` moved to the positions ``destination``."""
    source = (source,) if isinstance(source, int) else tuple(source)
    destination = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(source) != len(destination):
        raise ValueError(f"moveaxis: {len(source)} source axes but {len(destination)} "
                         "destinations")
    source = [s % x.ndim for s in source]
    destination = [d % x.ndim for d in destination]
    order = [a for a in range(x.ndim) if a not in source]
    for d, s in sorted(zip(destination, source)):
        order.insert(d, s)
    return permute_dims(x, order)


def expand_dims(x, /, axis):
    """``x`` with new axes of length 1 at the positions ``axis`` (an int or a tuple)."""
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim = x.ndim + len(axes)
    for a in axes:
        if not -ndim <= a < ndim:
            raise IndexError(f"expand_dims: axis {a} is out of range for a result of {ndim} "
                             "dimensions")
    new = {a % ndim for a in axes}
    if len(new) != len(axes):
        raise ValueError(f"expand_dims: axis {axis} repeats a position")
    sizes = iter(x.shape)
    return reshape(x, tuple(1 if k in new else next(sizes) for k in range(ndim)))


def squeeze(x, /, axis):
    """``x`` without the axes ``axis`` (an int or a tuple), each of length 1."""
    axes = reduced_axes(axis, x.ndim, "squeeze")
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has length {x.shape[a]}, not 1 (shape "
                             f"{x.shape})")
    return reshape(x, tuple(n for k, n in enumerate(x.shape) if k not in axes))


flip_p = defprimitive(
    "flip",
    forward="flip",
    vjp=(lambda xp, g, ans, x, axis: xp.flip(g, axis=axis),),
    jvp=(LINEAR,),
)


def flip(x, /, *, axis=None):
    """``x`` with the order of elements reversed along ``axis`` (all axes if None)."""
    return flip_p(x, axis=axis if axis is None or isinstance(axis, int) else tuple(axis))


roll_p = defprimitive(
    "roll",
    forward=lambda xp, x, shift, axis: xp.roll(x, shift, axis=axis),
    # rolling back undoes the roll
    vjp=(lambda xp, g, ans, x, shift, axis: xp.roll(
        g, -shift if isinstance(shift, int) else tuple(-s for s in shift), axis=axis),),
    jvp=(LINEAR,),
)


def roll(x, /, shift, *, axis=None):
    """``x`` with elements shifted by ``shift`` along ``axis`` (flattened if None), wrapping."""
    try:
        shift = operator.index(shift)  # NumPy's integers too
    except TypeError:
        try:
            shift = tuple(operator.index(s) for s in shift)
        except TypeError:  # a float shift was truncated by NumPy, silently
            raise TypeError(f"roll: shift must be an int or a tuple of ints, got "
                            f"{shift!r}") from None
    return roll_p(x, shift=shift, axis=axis if axis is None or isinstance(axis, int)
                  else tuple(axis))


def _tile_vjp(xp, g, ans, x, repetitions):
    ndim = builtins.max(x.ndim, len(repetitions))
    reps = (1,) * (ndim - len(repetitions)) + tuple(repetitions)
    shape = (1,) * (ndim - x.ndim) + tuple(x.shape)
    # output axis k is (copy, element) pairs: split them and sum over the copies
    split = xp.reshape(g, tuple(n for pair in zip(reps, shape) for n in pair))
    summed = xp.sum(split, axis=tuple(range(0, 2 * ndim, 2)))
    return xp.reshape(summed, x.shape)


tile_p = defprimitive(
    "tile",
    forward=lambda xp, x, repetitions: xp.tile(x, repetitions),
    vjp=(_tile_vjp,),
    jvp=(LINEAR,),
)


def tile(x, repetitions, /):
    """``x`` repeated ``repetitions[k]`` times along each axis ``k``."""
    return tile_p(x, repetitions=tuple(repetitions))


def _repeat_vjp(xp, g, ans, x, repeats, axis):
    shape = (math.prod(x.shape),) if axis is None else tuple(x.shape)
    axis = 0 if axis is None else axis % x.ndim
    n = shape[axis]
    if isinstance(repeats, int):  # each element's copies sit side by side: sum them
        split = xp.reshape(g, shape[:axis] + (n, repeats) + shape[axis + 1:])
        return xp.reshape(xp.sum(split, axis=axis + 1), x.shape)
    rx = _raw_xp(g, xp)
    source = rx.repeat(rx.arange(n, dtype=rx.int64, device=array_device(_raw(g))), _raw(repeats))
    return xp.reshape(scatter_along_axis(xp, g, source, axis, n), x.shape)


repeat_p = defprimitive(
    "repeat",
    forward=lambda xp, x, repeats, axis: xp.repeat(x, repeats, axis=axis),
    vjp=(_repeat_vjp, None),
    jvp=(LINEAR, None),
)


def repeat(x, repeats, /, *, axis=None):
    """Each element of ``x`` repeated ``repeats`` times (an int or an integer array) along
    ``axis`` (``x`` flattened first if None)."""
    if not isinstance(repeats, (int, Tensor)):
        from .creation import asarray
        repeats = asarray(repeats, device=x.device)
    if isinstance(repeats, Tensor):
        _record.data_dependent("repeat with an array of repeats")
    return repeat_p(x, repeats, axis=axis)
