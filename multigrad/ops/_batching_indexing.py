"""Batching rules that need more than the batch axis in front (see ``_batching``): indexing
and ``__setitem__``, gathering and scattering, searching, ``unique_*``, and the patches that
convolution and pooling are built on.

Indexing a batch by an index shared by the batch keeps the batch axis whole (a leading
``slice(None)``); indexing by index arrays that differ per example adds one more index array,
the example's number, so that example ``b`` reads (or writes) only its own row. Where NumPy's
rules put the index dimensions first (index arrays that are not adjacent), the batch axis is
moved back to the front.

Functions whose result's size depends on the values (``nonzero``, ``unique_*``) batch when
every example gives the same size, and raise ``ValueError`` naming the op otherwise: a batch
is one array.
"""

from __future__ import annotations

import math

from ._batching import (all_batched, batch_size, line_up, logical_ndim, shift_axis, with_batch,
                        _kind)
from ._helpers import normalize_axis
from .indexing import _plan, _Slot

__all__ = ["build", "patches_rule"]


def _index_arrays_batched(first: int):
    """A ``vjp_batches`` verdict: the derivative rules read raw index arrays (positions from
    ``first`` on), so they run on batches only when those are shared by the batch."""
    return lambda batched: not any(batched[first:])


def _index_shape(xp, key, shapes) -> tuple:
    """The broadcast shape of a key's index arrays (of these shapes; ints are 0-d)."""
    used = [tuple(shapes[it.k]) for it in key if isinstance(it, _Slot)]
    return xp.broadcast_shapes(*used) if used else ()


def _batched_key(xp, key, arrays, batched, size):
    """The key and index arrays of one example made a key of the batch: the example's number
    as a leading index array when an index array differs per example, else a leading
    ``slice(None)``; and how to bring the result to the batch axis, then one example's
    layout (a permutation of its axes, or None)."""
    index_ndim = len(_index_shape(xp, key, [a.shape[1:] if b else a.shape
                                            for a, b in zip(arrays, batched)]))
    if any(batched):
        ndim = max(logical_ndim(a, b) for a, b in zip(arrays, batched))
        lined = [line_up(xp, a, ndim) if b else a for a, b in zip(arrays, batched)]
        device = next(a.device for a, b in zip(arrays, batched) if b)
        rows = xp.reshape(xp.arange(size, dtype=xp.int64, device=device), (size,) + (1,) * ndim)
        # the index dimensions now come first, after the batch: put them where one
        # example's go (after its first ``dest`` other dimensions; the plan reads no sizes)
        dest = _plan((1,) * len(key), key).dest
        return (_Slot(len(lined)),) + tuple(key), lined + [rows], _after(index_ndim, dest)
    new_key = (slice(None),) + tuple(key)
    new_plan = _plan((1,) * len(new_key), new_key)
    if new_plan is not None and new_plan.dest == 0:
        # index arrays apart from each other put their dimensions first, the batch after
        return new_key, list(arrays), ("move", index_ndim)
    return new_key, list(arrays), None


def _after(index_ndim: int, dest: int):
    """The permutation taking ``(batch, index dims, other dims)`` to ``(batch, first dest
    other dims, index dims, the rest)``, or None when it is the identity."""
    if not dest:
        return None
    return ("order", index_ndim, dest)


def _arrange(xp, out, how):
    """A gathered batch in the layout ``_batched_key`` says (batch axis first)."""
    if how is None:
        return out
    kind, k, *rest = how
    if kind == "move":
        return xp.moveaxis(out, k, 0) if k else out
    dest = rest[0]
    order = (0,) + tuple(range(1 + k, 1 + k + dest)) + tuple(range(1, 1 + k)) + tuple(
        range(1 + k + dest, out.ndim))
    return xp.permute_dims(out, order)


def _disarrange(xp, value, how):
    """The inverse of ``_arrange``: a batch of values (batch axis first, one example's layout)
    in the layout the batched key gathers."""
    if how is None:
        return value
    kind, k, *rest = how
    if kind == "move":
        return xp.moveaxis(value, 0, k) if k else value
    dest = rest[0]
    order = (0,) + tuple(range(1 + k, 1 + k + dest)) + tuple(range(1, 1 + k)) + tuple(
        range(1 + k + dest, value.ndim))
    return xp.permute_dims(value, tuple(order.index(d) for d in range(value.ndim)))


def _getitem(prim):
    @_kind(None, _index_arrays_batched(1))
    def rule(xp, args, batched, *, key):
        x, arrays = args[0], list(args[1:])
        size = batch_size(args, batched)
        if not batched[0]:
            x = with_batch(xp, x, size)
        key, arrays, how = _batched_key(xp, key, arrays, batched[1:], size)
        return _arrange(xp, prim(x, *arrays, key=key), how), True
    return rule


def _example_shape(x_shape, key, index_shape) -> tuple:
    """The shape of ``x[key]`` for one example of shape ``x_shape`` (key from
    ``_normalize_key``)."""
    plan = _plan(x_shape, key)
    if plan is None:
        shape, dim = [], 0
        for it in key:
            if it is None:
                shape.append(1)
                continue
            if isinstance(it, slice):
                shape.append(len(range(*it.indices(x_shape[dim]))))
            dim += 1
        return tuple(shape)
    rest = tuple(plan.y_shape[p] for p in plan.rest)
    return rest[:plan.dest] + tuple(index_shape) + rest[plan.dest:]


def _setitem(prim):
    @_kind(None, _index_arrays_batched(2))
    def rule(xp, args, batched, *, key):
        x, value, arrays = args[0], args[1], list(args[2:])
        size = batch_size(args, batched)
        if not batched[0]:  # every example gets its own copy to write into
            x = with_batch(xp, x, size)
        if hasattr(value, "shape"):
            shapes = [a.shape[1:] if b else a.shape for a, b in zip(arrays, batched[2:])]
            target = _example_shape(tuple(x.shape[1:]), key, _index_shape(xp, key, shapes))
            if batched[1]:
                value = xp.broadcast_to(line_up(xp, value, len(target)), (size,) + target)
            else:
                value = with_batch(xp, xp.broadcast_to(value, target), size)
        key, arrays, how = _batched_key(xp, key, arrays, batched[2:], size)
        if hasattr(value, "shape"):
            value = _disarrange(xp, value, how)
        return prim(x, value, *arrays, key=key), True
    return rule


def _take(prim):
    @_kind(None, _index_arrays_batched(1))
    def rule(xp, args, batched, *, axis):
        (x, indices), (bx, bi) = args, batched
        ndim = logical_ndim(x, bx)
        ax = 0 if axis is None else normalize_axis(axis, ndim)[0]
        if not bi:
            return prim(x, indices, axis=ax + 1), True
        size = indices.shape[0]
        picked = tuple(indices.shape[1:])
        if not bx:  # one take of every example's indices, then the batch axis to the front
            out = prim(x, xp.reshape(indices, (-1,)), axis=ax)
            out = xp.reshape(out, tuple(x.shape[:ax]) + (size,) + picked
                             + tuple(x.shape[ax + 1:]))
            return (xp.moveaxis(out, ax, 0) if ax else out), True
        # example b takes from its own rows: the batch and the axis flattened into one
        n = x.shape[ax + 1]
        moved = xp.moveaxis(x, ax + 1, 1)
        rest = tuple(moved.shape[2:])
        rows = xp.reshape(xp.arange(size, dtype=xp.int64, device=x.device),
                          (size,) + (1,) * len(picked))
        flat = xp.reshape(xp.where(indices < 0, indices + n, indices) + rows * n, (-1,))
        out = xp.reshape(prim(xp.reshape(moved, (size * n,) + rest), flat, axis=0),
                         (size,) + picked + rest)
        # (batch, picked, before, after) -> (batch, before, picked, after)
        k = len(picked)
        order = (0,) + tuple(range(1 + k, 1 + k + ax)) + tuple(range(1, 1 + k)) + tuple(
            range(1 + k + ax, out.ndim))
        return xp.permute_dims(out, order), True
    return rule


def _take_along_axis(prim):
    @_kind("axis", _index_arrays_batched(1))
    def rule(xp, args, batched, *, axis):
        ndim = logical_ndim(args[0], batched[0])
        x, indices = all_batched(xp, args, batched)
        return prim(x, indices, axis=shift_axis(axis, ndim)), True
    return rule


def _scatter_add(prim):
    @_kind(None)  # its derivatives gather by take, whose rule batches the indices
    def rule(xp, args, batched, *, n):
        (values, indices), (bv, bi) = args, batched
        if not bi:  # every example's rows land in the same rows: scatter along axis 1
            out = prim(xp.moveaxis(values, 0, 1), indices, n=n)
            return xp.moveaxis(out, 1, 0), True
        size = indices.shape[0]
        if not bv:
            values = with_batch(xp, values, size)
        m = indices.shape[1]
        rows = xp.reshape(xp.arange(size, dtype=indices.dtype, device=indices.device),
                          (size, 1))
        flat = xp.reshape(indices + rows * n, (-1,))
        out = prim(xp.reshape(values, (size * m,) + tuple(values.shape[2:])), flat, n=size * n)
        return xp.reshape(out, (size, n) + tuple(values.shape[2:])), True
    return rule


def _patches(prim):
    """Convolution's patches (im2col) and their adjoint (col2im): ``keys`` slice the last
    axes, ``axis`` counts the leading ones and ``shape`` is the input's, all of one example."""
    @_kind(None)
    def rule(xp, args, batched, *, keys, axis, shape):
        size = args[0].shape[0]
        return prim(args[0], keys=keys, axis=axis + 1, shape=(size,) + tuple(shape)), True
    return rule


# -- searching --------------------------------------------------------------------------------------

def _same_count(op: str, counts) -> int:
    """The one count every example has (read on the host, over the whole array: an outer
    vmap's examples too), or ValueError naming ``op``."""
    raw, backend = counts.data, counts.device.xp
    if math.prod(raw.shape) == 0:  # (a PyTorch tensor's size is a method)
        return 0
    low, high = int(backend.min(raw)), int(backend.max(raw))
    if low != high:
        raise ValueError(f"vmap: {op} gives {low} results for some examples and {high} for "
                         "others, but a batch holds one shape; pad the input, or run it in a "
                         "Python loop")
    return low


def _nonzero(prim, count_nonzero):
    @_kind(None)
    def rule(xp, args, batched):
        x = args[0]
        size, ndim = x.shape[0], x.ndim - 1
        counts = count_nonzero(x, axis=tuple(range(1, ndim + 1)), keepdims=False)
        k = _same_count("nonzero", counts)
        coords = prim(x)[1:]  # row-major: each example's coordinates together, in order
        return tuple(xp.reshape(c, (size, k)) for c in coords), (True,) * ndim
    return rule


def _searchsorted(prim):
    @_kind(None)
    def rule(xp, args, batched, *, side):
        (x1, x2, sorter), (b1, b2, bs) = args, batched
        if not (b1 or bs):  # one sorted array for the whole batch
            return prim(x1, x2, sorter, side=side), True
        size = batch_size(args, batched)
        x1 = x1 if b1 else with_batch(xp, x1, size)
        if sorter is not None:
            x1 = xp.take_along_axis(x1, sorter if bs else with_batch(xp, sorter, size), axis=1)
        x2 = x2 if b2 else with_batch(xp, x2, size)
        rows = xp.reshape(x1, (size,) + (1,) * (x2.ndim - 1) + (x1.shape[1],))
        values = xp.reshape(x2, tuple(x2.shape) + (1,))
        below = rows < values if side == "left" else rows <= values
        return xp.sum(xp.astype(below, xp.int64), axis=-1), True
    return rule


# -- sets -------------------------------------------------------------------------------------------

def _isin(prim):
    @_kind(None)
    def rule(xp, args, batched, *, invert):
        (x1, x2), (b1, b2) = args, batched
        if not b2:
            return prim(x1, x2, invert=invert), True
        size = x2.shape[0]
        x1 = x1 if b1 else with_batch(xp, x1, size)
        pool = xp.reshape(x2, (size,) + (1,) * (x1.ndim - 1) + (-1,))
        found = xp.any(xp.reshape(x1, tuple(x1.shape) + (1,)) == pool, axis=-1)
        return (xp.logical_not(found) if invert else found), True
    return rule


def _unique(op: str, fields: tuple):
    """``unique_*`` on each example's flattened values at once: sorted rows, a mark at each
    first value of a run (NaNs are each their own, as the standard asks), and from those the
    values, first indices, inverse indices and counts, as ``fields`` asks."""
    @_kind(None)
    def rule(xp, args, batched):
        x = args[0]
        size, shape = x.shape[0], tuple(x.shape[1:])
        n = math.prod(shape)
        flat = xp.reshape(x, (size, n))  # (not -1: a batch of no examples has no size to infer)
        order = xp.argsort(flat, axis=1, stable=True)
        ordered = xp.take_along_axis(flat, order, axis=1)
        first = xp.concat([xp.ones((size, min(n, 1)), dtype=xp.bool, device=x.device),
                           ordered[:, 1:] != ordered[:, :-1]], axis=1)
        k = _same_count(op, xp.sum(xp.astype(first, xp.int64), axis=1))
        # where the runs start: a stable sort of "not first" puts them in front, in order
        starts = xp.argsort(xp.astype(xp.logical_not(first), xp.int8), axis=1,
                            stable=True)[:, :k]
        found = {"values": xp.take_along_axis(ordered, starts, axis=1)}
        if "counts" in fields:
            ends = xp.concat([starts[:, 1:], xp.full((size, min(k, 1)), n, dtype=xp.int64,
                                                     device=x.device)], axis=1)
            found["counts"] = ends - starts
        if "indices" in fields:  # a stable sort puts each value's first occurrence first
            found["indices"] = xp.take_along_axis(order, starts, axis=1)
        if "inverse_indices" in fields:
            group = xp.cumulative_sum(xp.astype(first, xp.int64), axis=1) - 1
            inverse = xp.take_along_axis(group, xp.argsort(order, axis=1), axis=1)
            found["inverse_indices"] = xp.reshape(inverse, (size,) + shape)
        outs = tuple(found[f] for f in fields)
        return (outs if len(outs) > 1 else outs[0]), (True,) * len(outs)
    return rule


_UNIQUE = {"unique_all": ("values", "indices", "inverse_indices", "counts"),
           "unique_counts": ("values", "counts"),
           "unique_inverse": ("values", "inverse_indices"),
           "unique_values": ("values",)}


def build(registry: dict) -> dict:
    """``{name: rule}`` for the primitives of ``registry`` this module covers."""
    rules = {
        "getitem": _getitem(registry["getitem"]),
        "setitem": _setitem(registry["setitem"]),
        "take": _take(registry["take"]),
        "take_along_axis": _take_along_axis(registry["take_along_axis"]),
        "scatter_add": _scatter_add(registry["scatter_add"]),
        "nonzero": _nonzero(registry["nonzero"], registry["count_nonzero"]),
        "searchsorted": _searchsorted(registry["searchsorted"]),
        "isin": _isin(registry["isin"]),
    }
    for name, fields in _UNIQUE.items():
        rules[name] = _unique(name, fields)
    return rules


def patches_rule(prim):
    """The rule of convolution's and pooling's patches primitive and of its adjoint
    (``nn._convolution``)."""
    return _patches(prim)
