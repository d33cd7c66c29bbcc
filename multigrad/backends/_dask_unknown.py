"""Dask arrays with sizes unknown until computed (nan in the shape: rows picked by a boolean
mask): the reshapes and assignments Dask refuses for them, done block by block or as a
select. Each returns None where it does not apply, and the caller leaves the call to Dask."""

from __future__ import annotations

import math

from ._device import same_shape

__all__ = ["assign_by_select", "reshape_by_rows"]


def reshape_by_rows(x, shape):
    """A reshape that Dask refuses when the number of rows is unknown until computed (after a
    mask), done block by block; None for any other. Flattening: with every axis but the
    first whole in each block, the blocks' flattened contents follow one another in C order.
    Back to rows (a flattened array's gradient): each block holds whole rows, as the
    flattening made it. Rows to another shape of the same size: block by block too."""
    def unknown(n):
        return n == -1 or math.isnan(n)
    if (len(shape) == 1 and unknown(shape[0]) and x.ndim > 1
            and not any(math.isnan(n) for n in x.shape[1:])):
        whole = x.rechunk({d: -1 for d in range(1, x.ndim)})
        return whole.map_blocks(lambda b: b.reshape(-1), drop_axis=tuple(range(1, x.ndim)),
                                chunks=((math.nan,) * whole.numblocks[0],), dtype=x.dtype)
    rows = shape[1:]
    if not rows or not unknown(shape[0]) or not all(n >= 0 for n in rows):  # (nan fails)
        return _reshape_leading(x, shape)
    if x.ndim == 1:
        return x.map_blocks(lambda b: b.reshape((-1,) + rows),
                            new_axis=tuple(range(1, len(shape))),
                            chunks=(x.chunks[0],) + tuple((n,) for n in rows), dtype=x.dtype)
    if math.isnan(x.shape[0]) and math.prod(x.shape[1:]) == math.prod(rows):
        # each row to another shape of the same size: rows stay in their blocks
        whole = x.rechunk({d: -1 for d in range(1, x.ndim)})
        return whole.map_blocks(lambda b: b.reshape((-1,) + rows), drop_axis=(
            tuple(range(len(shape), x.ndim))), new_axis=tuple(range(x.ndim, len(shape))),
            chunks=(x.chunks[0],) + tuple((n,) for n in rows), dtype=x.dtype)
    return _reshape_leading(x, shape)


def _reshape_leading(x, shape):
    """A reshape that regroups only the axes before ``x``'s first of unknown size and keeps
    the others (an index array's dimensions in front of the rows a mask picked, as a gather
    from those rows has them); None for any other. Those leading axes go into one chunk."""
    first = next(d for d, n in enumerate(x.shape) if math.isnan(n))
    tail = tuple(x.shape[first:])
    lead = list(shape[:len(shape) - len(tail)])
    if len(shape) < len(tail) or not same_shape(tuple(shape[len(lead):]), tail):
        return None
    size = math.prod(x.shape[:first])
    if lead.count(-1) == 1:
        rest = math.prod(n for n in lead if n != -1)
        lead[lead.index(-1)] = size // rest if rest and size % rest == 0 else -1
    if not all(n >= 0 for n in lead) or math.prod(lead) != size:  # (nan fails)
        return None
    whole = x.rechunk({d: -1 for d in range(first)})
    axes = {"new_axis": tuple(range(first, len(lead)))} if len(lead) > first else {
        "drop_axis": tuple(range(len(lead), first))}
    return whole.map_blocks(lambda b: b.reshape(tuple(lead) + b.shape[first:]), **axes,
                            chunks=tuple((n,) for n in lead) + whole.chunks[first:],
                            dtype=x.dtype)


def assign_by_select(da, chunk_module, x, key, value):
    """``x[key] = value`` as a select, for an ``x`` with sizes unknown until computed (rows
    picked by a mask; Dask's setitem refuses such an array): a key of ints and slices that
    leaves every axis of unknown size whole. None for any other key."""
    key, whole = key if isinstance(key, tuple) else (key,), slice(None)
    if key.count(Ellipsis) == 1:  # the axes it stands for, whole
        at = key.index(Ellipsis)
        key = key[:at] + (whole,) * (x.ndim - len(key) + 1) + key[at + 1:]
    if len(key) > x.ndim or not all(isinstance(k, (int, slice)) for k in key):
        return None
    picked = x[key]
    value = da.asarray(value, dtype=x.dtype)
    if not same_shape(value.shape, picked.shape):  # broadcast in the picked elements' chunks
        value = value + da.zeros_like(picked)
    mask, axis = None, 0  # axis: where axis d of x sits in the (expanded) value
    for d, n in enumerate(x.shape):
        item = key[d] if d < len(key) else whole
        if math.isnan(n):
            if item != whole:
                return None
            axis += 1
            continue
        if isinstance(item, int):
            positions = [item % n]
            value = value[(whole,) * axis + (None,)]  # (Dask's expand_dims reshapes: no nan)
        else:
            positions = list(range(n))[item]
        where = {p: k for k, p in enumerate(positions)}
        if positions != list(range(n)):  # spread the written values to their positions
            value = da.take(value, [where.get(j, 0) for j in range(n)], axis=axis)
            written = chunk_module.asarray([j in where for j in range(n)])
            written = da.from_array(written.reshape((1,) * d + (n,) + (1,) * (x.ndim - d - 1)))
            mask = written if mask is None else mask & written
        axis += 1
    return value if mask is None else da.where(mask, value, x)
