"""Indexing functions of the array API standard, and the array object's ``[]``.

Primitives: getitem, setitem, take, take_along_axis, scatter_add.

Keys: ints, slices (any step), ``None``, one ``Ellipsis``, integer arrays (tensors, backend
arrays, NumPy arrays or nested lists of ints, moved to the indexed tensor's device) and boolean
masks, combined with NumPy's rules: integer arrays broadcast together, and their dimensions go
where the first one stood if they are adjacent, else first. Every key is rewritten into a
portable form (a basic slice, then one ``take`` over the flattened indexed axes) so the same
key works on every backend, array_api_strict included. Out-of-bounds integers raise
``IndexError`` naming the op, the index and the axis; checking integer *arrays* reads their
minimum and maximum, one device synchronisation per call.

Conventions: repeated indices ACCUMULATE in every gradient (``x[[0, 0]]`` sends two cotangents
to ``x[0]``), through ``scatter_add`` (the device's kernel, or the portable fallback).
``setitem(x, key, value)`` returns a new tensor; with repeated indices the last write wins,
on every backend (NumPy's rule; CuPy leaves it unspecified, so the writes are deduplicated
first), and only that write gets ``value``'s cotangent (an overwritten one gets 0, as central
differences say). Index arrays carry no gradient.
"""

from __future__ import annotations

import math
import operator
from typing import NamedTuple

from ..autograd import LINEAR, Tensor, _record, defprimitive
from ..autograd._primitive import namespace
from ..backends import MixedDeviceError, device_of, is_array, same_shape, unknown_size
from ._helpers import array_device, run
from .searching import nonzero_p

__all__ = ["getitem", "setitem", "take", "take_along_axis", "scatter_add"]


class _Slot(NamedTuple):
    """An index array inside a key template; the arrays travel as positional arguments."""

    k: int
    new_axis: bool = False  # a 0-d boolean: makes a new axis of length 1 and indexes it


def _raw(a):
    return a.data if isinstance(a, Tensor) else a


def _raw_xp(like, xp):
    """The backend namespace, for index arithmetic that never needs recording."""
    return like.device.xp if isinstance(like, Tensor) else xp


# -- scatter-add: the adjoint of every gather -------------------------------------------------

scatter_add_p = defprimitive(
    "scatter_add",
    forward=lambda xp, values, indices, n: device_of(values).scatter_add(n, indices, values),
    # the adjoint of a scatter is a gather
    vjp=(lambda xp, g, ans, values, indices, n: xp.take(g, indices, axis=0), None),
    jvp=(LINEAR, None),
    doc="``out[indices[k]] += values[k]`` into ``n`` zero rows; repeated indices accumulate.",
)


def scatter_add(values, indices, /, n):
    """Rows of ``values`` summed into ``n`` zero rows at ``indices`` (repeats accumulate).

    ``out[indices[k]] += values[k]``: the result has shape ``(n, *values.shape[1:])``; the
    gradient with respect to ``values`` gathers the cotangent's rows at ``indices``.
    """
    if values.ndim == 0:
        raise ValueError("scatter_add: values needs a first dimension to scatter")
    indices = _as_index_tensor("scatter_add", values, indices)
    if indices.ndim != 1 or indices.shape[0] != values.shape[0]:
        raise ValueError(f"scatter_add: indices must be 1-D with one entry per row of values "
                         f"(values shape {values.shape}, indices shape {indices.shape})")
    indices = _check_bounds("scatter_add", indices, n, 0)
    # on the tensor (not its raw array), so a batch of index arrays stays one
    return scatter_add_p(values, _nonnegative(namespace(), indices, n), n=n)


def _scatter_rows(xp, values, indices, n):
    """Scatter-add rows of ``values`` (raw or tensor) at raw int ``indices`` into ``n`` rows."""
    if isinstance(values, Tensor):
        indices = Tensor(indices, values.device)
    return run(scatter_add_p, xp, values, indices, n=n)


def scatter_along_axis(xp, g, indices, axis, n):
    """The adjoint of ``take(x, indices, axis=axis)`` for 1-D raw ``indices`` in ``[0, n)``."""
    order = (axis,) + tuple(d for d in range(g.ndim) if d != axis)
    out = _scatter_rows(xp, xp.permute_dims(g, order), indices, n)
    return xp.permute_dims(out, tuple(order.index(d) for d in range(g.ndim)))


def _shaped(xp, a, shape):
    """``a`` reshaped to ``shape``; as it is where it has that shape, so that sizes unknown
    until computed (the rows a Dask mask picks) need no compute."""
    return a if same_shape(tuple(a.shape), tuple(shape)) else xp.reshape(a, shape)


def _rows(xp, a, rest=()):
    """``a`` reshaped to ``(-1, *rest)`` (as it is where it has that form already)."""
    if a.ndim == 1 + len(rest) and same_shape(tuple(a.shape[1:]), tuple(rest)):
        return a
    return xp.reshape(a, (-1,) + tuple(rest))


def _nonnegative(xp, idx, n):
    """Integer indices as int64 in ``[0, n)`` (negative ones count from the end)."""
    idx = xp.astype(idx, xp.int64)
    return xp.where(idx < 0, idx + n, idx)


# -- keys ---------------------------------------------------------------------------------------

def _norm_slice(s: slice, n: int) -> slice:
    """A slice with in-bounds start and stop (array_api_strict rejects the others); as it is
    on an axis of unknown size (Dask's nan), which only a lazy library has."""
    if unknown_size(n):
        return s
    start, stop, step = s.indices(n)
    if not range(start, stop, step):
        return slice(0, 0, 1)
    return slice(start, None if stop < 0 else stop, step)


def _check_bounds(op, idx: Tensor, n: int, axis: int) -> Tensor:
    """``idx``, after raising IndexError naming the op, an offending index and the axis
    unless every index is in ``[-n, n)`` (a compiled step checks again on every call). On a
    lazy device the check joins the graph instead: the returned indices raise it when they
    compute (the indices of several axes, made into flat positions, would otherwise land in
    another row without an error)."""
    def out_of_bounds(low, high):
        bad = high if high >= n else low
        return IndexError(f"{op}: index {bad} is out of bounds for axis {axis} of size {n}")
    return _record.in_range(idx, -n, n, out_of_bounds)


def _as_index_tensor(op, x, item) -> Tensor:
    from .creation import asarray
    if isinstance(item, Tensor):
        t = item
    elif isinstance(item, (list, tuple)) and len(item) == 0:
        t = asarray(item, dtype="int64", device=x.device)
    else:
        t = asarray(item, device=x.device)
    if t.device is not x.device:
        raise MixedDeviceError(f"{op}: the index is on {t.device.name} but the tensor is on "
                               f"{x.device.name}; move one with .to()")
    if not t.device.xp.isdtype(t.data.dtype, ("integral", "bool")):
        raise IndexError(f"{op}: index arrays must have an integer or boolean dtype, not "
                         f"{t.dtype.name}")
    return t


def _unknown_size_error(op, index, shape, dim) -> ValueError:
    """The error for ``index`` into axis ``dim`` of ``shape``, whose size is unknown until
    computed: Dask cannot pick rows it cannot count (nor bound-check them)."""
    return ValueError(f"{op}: {index} into axis {dim} of shape {shape}, whose size is unknown "
                      "until computed (a Dask array picked by a mask); compute the sizes "
                      "first (multigrad.persist, or Dask's compute_chunk_sizes())")


def _normalize_key(op, x, key):
    """A full-length key template (ints, slices, None, _Slot) and its index tensors."""
    items = []
    for item in key if isinstance(key, tuple) else (key,):
        if item is None or item is Ellipsis or isinstance(item, slice):
            items.append(item)
        elif isinstance(item, (bool, list, tuple)) or is_array(item):
            items.append(_as_index_tensor(op, x, item))
        else:
            try:
                items.append(operator.index(item))
            except TypeError:
                raise IndexError(f"{op}: {item!r} is not a valid index; use ints, slices, None, "
                                 "..., or integer or boolean arrays") from None
    is_mask = [isinstance(it, Tensor) and it.device.xp.isdtype(it.data.dtype, "bool")
               for it in items]
    used = sum(it.ndim if mask else 0 if it is None or it is Ellipsis else 1
               for it, mask in zip(items, is_mask))
    n_ellipsis = sum(it is Ellipsis for it in items)
    if n_ellipsis > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    if used > x.ndim:
        raise IndexError(f"{op}: too many indices for a tensor of shape {x.shape}: {used} "
                         "dimension(s) indexed")
    fill = [slice(None)] * (x.ndim - used)
    if n_ellipsis:
        at = items.index(Ellipsis)
        items[at:at + 1], is_mask[at:at + 1] = fill, [False] * len(fill)
    else:
        items += fill
        is_mask += [False] * len(fill)

    template, arrays, dim = [], [], 0
    for it, mask in zip(items, is_mask):
        if it is None:
            template.append(None)
        elif isinstance(it, int):
            n = x.shape[dim]
            if unknown_size(n):
                raise _unknown_size_error(op, f"integer index {it}", x.shape, dim)
            if not -n <= it < n:
                raise IndexError(f"{op}: index {it} is out of bounds for axis {dim} of size {n}")
            template.append(it % n)
            dim += 1
        elif isinstance(it, slice):
            if it.step == 0:  # (slice.indices would say so without the op, Dask not at all)
                raise ValueError(f"{op}: the slice {it} along axis {dim} has step 0")
            template.append(_norm_slice(it, x.shape[dim]))
            dim += 1
        elif mask:
            _record.data_dependent(f"{op} with a boolean mask")
            xp = it.device.xp
            if it.ndim == 0:  # True: a new axis of length 1; False: of length 0
                template.append(_Slot(len(arrays), True))
                arrays.append(Tensor(xp.nonzero(xp.reshape(it.data, (1,)))[0], x.device))
                continue
            covered = x.shape[dim:dim + it.ndim]
            for d in range(dim, dim + it.ndim):  # (even a mask computed from those rows)
                if unknown_size(x.shape[d]):
                    raise _unknown_size_error(op, f"a boolean index of shape {it.shape}",
                                              x.shape, d)
            if not same_shape(it.shape, covered):
                raise IndexError(f"{op}: a boolean index of shape {it.shape} does not match the "
                                 f"shape {covered} of the dimensions it indexes (from axis {dim})")
            for coords in nonzero_p(it):  # the primitive: a batch of masks stays one
                template.append(_Slot(len(arrays)))
                arrays.append(coords)
            dim += it.ndim
        else:
            if unknown_size(x.shape[dim]):
                raise _unknown_size_error(op, f"an index array of shape {it.shape}", x.shape,
                                          dim)
            template.append(_Slot(len(arrays)))
            arrays.append(_check_bounds(op, it, x.shape[dim], dim))
            dim += 1
    return tuple(template), arrays


class _Plan(NamedTuple):
    """How a key with index arrays runs: a basic slice ``x[basic]`` (one axis per key item),
    then one ``take`` over the indexed axes ``adv``, flattened row-major."""

    basic: tuple
    y_shape: tuple
    adv: tuple
    dims: tuple
    rest: tuple
    dest: int  # where the index dimensions go among the others


def _plan(x_shape, key) -> _Plan | None:
    """The plan of an advanced key, or None for a basic key (no index arrays)."""
    if not any(isinstance(it, _Slot) for it in key):
        return None
    basic, y_shape, dim = [], [], 0
    for it in key:
        if it is None or (isinstance(it, _Slot) and it.new_axis):
            basic.append(None)
            y_shape.append(1)
            continue
        n = x_shape[dim]
        dim += 1
        if isinstance(it, slice):
            basic.append(it)
            y_shape.append(n if it == slice(None) else len(range(*it.indices(n))))
        else:  # ints join the index arrays, as in NumPy
            basic.append(slice(None))
            y_shape.append(n)
    adv = tuple(p for p, it in enumerate(key) if isinstance(it, (int, _Slot)))
    rest = tuple(p for p in range(len(key)) if p not in adv)
    adjacent = adv == tuple(range(adv[0], adv[-1] + 1))
    return _Plan(tuple(basic), tuple(y_shape), adv, tuple(y_shape[p] for p in adv), rest,
                 adv[0] if adjacent else 0)


def _linear_index(xp, key, arrays, plan):
    """The row-major flat position, within the indexed axes, that each index picks (raw)."""
    lin, stride = None, 1
    for p, n in zip(reversed(plan.adv), reversed(plan.dims)):
        it = key[p]
        term = it if isinstance(it, int) else _nonnegative(xp, arrays[it.k], n)
        term = term * stride
        lin = term if lin is None else term + lin
        stride *= n
    return lin


def _placement(n_index, n_rest, dest):
    """Axis order taking ``(index dims..., other dims...)`` to the result's order."""
    return (tuple(range(n_index, n_index + dest)) + tuple(range(n_index))
            + tuple(range(n_index + dest, n_index + n_rest)))


def _basic(x, key):
    """``x[key + (...,)]`` (the Ellipsis keeps NumPy from returning a scalar); slices of
    negative step through the device, as PyTorch has none."""
    key = key + (Ellipsis,)
    if any(type(it) is slice and it.step is not None and it.step < 0 for it in key):
        return device_of(x).index(x, key)
    return x[key]


def _gather(xp, x, *arrays, key):
    plan = _plan(x.shape, key)
    if plan is None:
        return _basic(x, key)
    y = _basic(x, plan.basic)
    lin = _linear_index(xp, key, arrays, plan)
    rest_shape = tuple(plan.y_shape[p] for p in plan.rest)
    flat = _shaped(xp, xp.permute_dims(y, plan.adv + plan.rest),
                   (math.prod(plan.dims),) + rest_shape)
    out = _shaped(xp, xp.take(flat, _rows(xp, lin), axis=0), lin.shape + rest_shape)
    if plan.dest:
        out = xp.permute_dims(out, _placement(lin.ndim, len(rest_shape), plan.dest))
    return out


def _getitem_vjp(xp, g, ans, x, *arrays, key):
    plan = _plan(x.shape, key)
    if plan is None:
        return run(setitem_p, xp, xp.zeros_like(x), g, key=key)
    rx = _raw_xp(g, xp)
    lin = _record.derive(lambda *raw: _linear_index(rx, key, raw, plan), *map(_raw, arrays))
    rest_shape = tuple(plan.y_shape[p] for p in plan.rest)
    if plan.dest:
        order = _placement(lin.ndim, len(rest_shape), plan.dest)
        g = xp.permute_dims(g, tuple(order.index(d) for d in range(len(order))))
    g = _rows(xp, g, rest_shape)
    gy = _scatter_rows(xp, g, _record.derive(lambda i: _rows(rx, i), lin),
                       math.prod(plan.dims))
    gy = _shaped(xp, gy, plan.dims + rest_shape)
    order = plan.adv + plan.rest
    gy = xp.permute_dims(gy, tuple(order.index(d) for d in range(len(order))))
    if plan.basic == tuple(slice(None) for _ in x.shape):
        return gy
    return run(setitem_p, xp, xp.zeros_like(x), gy, key=plan.basic)


getitem_p = defprimitive(
    "getitem",
    forward=_gather,
    vjp=(_getitem_vjp,),
    jvp=(LINEAR,),
)


def getitem(x, key, /):
    """``x[key]``: basic slicing, integer arrays and boolean masks (``Tensor.__getitem__``)."""
    template, arrays = _normalize_key("getitem", x, key)
    return getitem_p(x, *arrays, key=template)


# -- setitem: a functional update -------------------------------------------------------------

def _assign_fallback(xp, flat, positions, values):
    """``flat[positions] = values`` for distinct ``positions`` from the standard's functions
    alone (array_api_strict has no integer-array assignment): a scatter-add into zeros."""
    device = device_of(flat)
    n, work = flat.shape[0], values
    if xp.isdtype(values.dtype, "bool"):
        work = xp.astype(values, xp.int64)
    # counted in integers: complex values have no order to compare with 0
    hit = device.scatter_add(n, positions, xp.ones(positions.shape, dtype=xp.int64,
                                                   device=array_device(flat))) > 0
    return xp.where(hit, xp.astype(device.scatter_add(n, positions, work), flat.dtype), flat)


def _write_positions(xp, x_shape, arrays, key, device):
    """The flat position in ``x`` of every element an advanced ``key`` writes (raw, the shape
    of ``x[key]``), and whether each write is the last one to its position (the one that
    stays: NumPy's rule, made deterministic on every backend)."""
    cells = xp.reshape(xp.arange(math.prod(x_shape), dtype=xp.int64, device=device), x_shape)
    positions = _gather(xp, cells, *arrays, key=key)
    flat = xp.reshape(positions, (-1,))
    if flat.shape[0] == 0:  # nothing written (array_api_strict refuses [:-1] of nothing)
        return positions, xp.ones(positions.shape, dtype=xp.bool, device=device)
    order = xp.argsort(flat, stable=True)
    ordered = xp.take(flat, order)
    # in stable order the last write to a position comes last among its equals
    last_sorted = xp.concat([ordered[:-1] != ordered[1:],
                             xp.ones((1,), dtype=xp.bool, device=device)])
    last = xp.take(last_sorted, xp.argsort(order))
    return positions, xp.reshape(last, positions.shape)


def _assign(xp, x, value, *arrays, key):
    # a fresh array we own: writing into it is safe
    return _assign_over(xp, xp.asarray(x, copy=True), value, *arrays, key=key)


def _assign_over(xp, out, value, *arrays, key):
    """``out[key] = value``, written into ``out`` where the library allows; the result."""
    if not hasattr(value, "shape"):
        value = xp.asarray(value, dtype=out.dtype, device=array_device(out))
    if _plan(out.shape, key) is None:
        shape = _gather(xp, out, key=key).shape
        if not same_shape(value.shape, shape):  # (microseconds of Python each in NumPy)
            value = xp.broadcast_to(value, shape)
        # array_api_strict assigns through no None: drop them, with their length-1 axes
        kept = tuple(it for it in key if it is not None)
        if len(kept) != len(key):
            makes_axis = [it for it in key if not isinstance(it, int)]  # one per result axis
            value = xp.reshape(value, tuple(n for n, it in zip(shape, makes_axis)
                                            if it is not None))
        # through the device: a functional update where arrays are immutable (JAX)
        return device_of(out).assign(out, kept + (Ellipsis,), value)
    positions, last = _write_positions(xp, out.shape, arrays, key, array_device(out))
    values = xp.broadcast_to(value, positions.shape)[last]
    positions = positions[last]
    flat = xp.reshape(out, (-1,))
    try:
        flat = device_of(flat).assign(flat, positions, values)
    except (IndexError, NotImplementedError):  # no integer-array assignment (array_api_strict)
        flat = _assign_fallback(xp, flat, positions, values)
    return xp.reshape(flat, out.shape)


def _setitem_value_vjp(xp, g, ans, x, value, *arrays, key):
    # value gets the cotangent of the places it wrote and stayed in (none where overwritten)
    gathered = run(getitem_p, xp, g, *arrays, key=key)
    if _plan(x.shape, key) is None:
        return gathered
    rx, device = _raw_xp(g, xp), array_device(_raw(g))
    last = _record.derive(lambda *raw: _write_positions(rx, x.shape, raw, key, device)[1],
                          *map(_raw, arrays))
    return xp.where(Tensor(last, g.device) if isinstance(g, Tensor) else last, gathered, 0.0)


setitem_p = defprimitive(
    "setitem",
    forward=_assign,
    overwrite=_assign_over,
    # x keeps its cotangent where it was not overwritten; value gets the cotangent of its places
    vjp=(lambda xp, g, ans, x, value, *arrays, key: run(setitem_p, xp, g, 0.0, *arrays, key=key),
         _setitem_value_vjp),
    jvp=(lambda xp, t, ans, x, value, *arrays, key: setitem_p(t, 0.0, *arrays, key=key),
         lambda xp, t, ans, x, value, *arrays, key: setitem_p(xp.zeros_like(ans), t, *arrays,
                                                              key=key)),
)


def setitem(x, key, value, /):
    """A new tensor equal to ``x`` with ``x[key] = value`` (``Tensor.__setitem__`` rebinds to it).

    Differentiable in ``x`` (zero cotangent where overwritten) and in ``value``.
    """
    from .creation import asarray
    if is_array(value) or isinstance(value, (list, tuple)):
        value = asarray(value, dtype=x.dtype, device=x.device)
    mask = key[0] if isinstance(key, tuple) and len(key) == 1 else key
    if is_array(mask) and getattr(value, "ndim", 0) == 0:
        mask = _as_index_tensor("setitem", x, mask)
        if mask.dtype.kind == "bool" and mask.shape == x.shape:
            # x[mask] = scalar with a mask of x's shape is where(mask, scalar, x): no
            # positions to find (on Dask they would be of unknown number)
            from .searching import where
            return where(mask, asarray(value, dtype=x.dtype, device=x.device), x)
    template, arrays = _normalize_key("setitem", x, key)
    if arrays and any(unknown_size(n) for n in x.shape):
        # the cells written are found by their flat positions, which need every size
        raise ValueError(f"setitem: index arrays (or a mask) into an array of shape {x.shape}, "
                         "whose sizes are unknown until computed (a Dask array picked by a "
                         "mask); compute the sizes first (multigrad.persist), or write with "
                         "ints and slices, or with multigrad.where")
    return setitem_p(x, value, *arrays, key=template)


# -- take, take_along_axis --------------------------------------------------------------------

def _take_vjp(xp, g, ans, x, indices, axis):
    axis = 0 if axis is None else axis % x.ndim
    n, rx = x.shape[axis], _raw_xp(g, xp)
    # N-d indices: flatten their dimensions into one, as scatter_along_axis wants
    flat = _record.derive(lambda i: rx.reshape(_nonnegative(rx, i, n), (-1,)), _raw(indices))
    g = xp.reshape(g, x.shape[:axis] + (flat.shape[0],) + x.shape[axis + 1:])
    return scatter_along_axis(xp, g, flat, axis, n)


take_p = defprimitive(
    "take",
    forward=lambda xp, x, indices, axis: xp.take(
        x, _nonnegative(xp, indices, x.shape[0 if axis is None else axis]), axis=axis),
    vjp=(_take_vjp, None),
    jvp=(LINEAR, None),
)


def _index_argument(op, x, indices, axis):
    indices = _as_index_tensor(op, x, indices)
    if indices.device.xp.isdtype(indices.data.dtype, "bool"):
        raise IndexError(f"{op}: indices must have an integer dtype, not bool")
    return _check_bounds(op, indices, x.shape[axis], axis % x.ndim)


def take(x, indices, /, *, axis=None):
    """Elements of ``x`` at ``indices`` along ``axis`` (optional for 1-D ``x``)."""
    if axis is None and x.ndim != 1:
        raise ValueError(f"take: axis is required for a tensor of {x.ndim} dimensions "
                         f"(shape {x.shape})")
    return take_p(x, _index_argument("take", x, indices, 0 if axis is None else axis), axis=axis)


def _flat_positions(rx, indices, x_shape, shape, axis):
    """The flat position in ``x`` of every element ``take_along_axis`` picks (raw)."""
    strides = [math.prod(x_shape[d + 1:]) for d in range(len(x_shape))]
    positions = _nonnegative(rx, indices, x_shape[axis]) * strides[axis]
    for d in range(len(x_shape)):
        if d != axis and x_shape[d] != 1:
            coords = rx.arange(shape[d], dtype=rx.int64, device=array_device(positions))
            positions = positions + rx.reshape(coords * strides[d], tuple(
                shape[d] if k == d else 1 for k in range(len(x_shape))))
    return rx.reshape(rx.broadcast_to(positions, shape), (-1,))


def _take_along_axis_vjp(xp, g, ans, x, indices, axis):
    rx = _raw_xp(g, xp)
    axis %= x.ndim
    if any(unknown_size(n) for n in x.shape):
        return _take_along_axis_vjp_by_comparing(xp, rx, g, x, indices, axis)
    shape = tuple(ans.shape)
    positions = _record.derive(lambda i: _flat_positions(rx, i, tuple(x.shape), shape, axis),
                               _raw(indices))
    flat = _scatter_rows(xp, xp.reshape(g, (-1,)), positions, math.prod(x.shape))
    return xp.reshape(flat, x.shape)


def _take_along_axis_vjp_by_comparing(xp, rx, g, x, indices, axis):
    """The adjoint of ``take_along_axis`` where other sizes are unknown until computed (rows a
    Dask mask picked; cross_entropy's picking of each row's class): flat positions need every
    size, a comparison of each index with every position along the axis needs only that
    axis's. Each picked cotangent lands where its index equals the position."""
    n = x.shape[axis]
    hits = _record.derive(lambda i: rx.expand_dims(_nonnegative(rx, i, n), axis=-1) == rx.arange(
        n, dtype=rx.int64, device=array_device(i)), _raw(indices))
    if isinstance(g, Tensor):
        hits = Tensor(hits, g.device)
    summed = xp.sum(xp.where(hits, xp.expand_dims(g, axis=-1), 0.0), axis=axis)
    return xp.moveaxis(summed, -1, axis)


take_along_axis_p = defprimitive(
    "take_along_axis",
    forward=lambda xp, x, indices, axis: xp.take_along_axis(
        x, _nonnegative(xp, indices, x.shape[axis]), axis=axis),
    vjp=(_take_along_axis_vjp, None),
    jvp=(LINEAR, None),
)


def take_along_axis(x, indices, /, *, axis=-1):
    """Elements of ``x`` at ``indices`` along ``axis``, matched position by position."""
    indices = _index_argument("take_along_axis", x, indices, axis)
    return take_along_axis_p(x, indices, axis=axis)
