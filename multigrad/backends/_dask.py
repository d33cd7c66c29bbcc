"""Dask as a backend: ``"dask"`` (chunks are NumPy arrays) and ``"dask:cuda"`` (CuPy chunks).

A Dask device is *lazy*: every op builds a task graph and nothing is computed until
``multigrad.compute`` (or a read of values: ``float``, ``.numpy()``, saving) asks. Its *host*
("cpu", or "cuda:0" for CuPy chunks) is the device whose arrays may meet Dask arrays in one op:
the host array is broadcast into the graph as one piece (a model's parameters with chunked
data), and the result is lazy.

The namespace is array-api-compat's Dask namespace with what it lacks done by blocks:
``take(axis=None)``, ``take_along_axis`` (the taken axis in one chunk), ``repeat(axis=None)``,
``eye`` with more columns than rows (Dask's misses a block), ``linalg.cross`` (the vectors'
axis in one chunk), and the linear algebra of stacks of matrices (each matrix in one chunk,
the stack split as the array is; ``_dask_linalg``): ``det``, ``slogdet``, ``eigh``,
``eigvalsh``, ``eig``, ``eigvals``, ``pinv``, ``inv``, ``cholesky``, ``solve``, ``svd`` (also
with full matrices), ``svdvals``, ``qr`` (also complete), ``matrix_norm`` (2, -2, nuc),
``matrix_rank`` and ``vector_norm`` of sizes unknown until computed; Dask's own where it takes
the call (one matrix, tall-and-skinny QR and SVD). Other functions it lacks raise an
AttributeError naming the function and Dask. Where Dask goes wrong, the namespace mends it:
``max``/``min`` of empty arrays, running sums' zero-size chunks, and the reshapes,
assignments and sorts it refuses for sizes unknown until computed (``_dask_unknown``). Scatter-add runs per chunk of the rows
(the chunk library's own ``add.at``) and sums the partial results as a tree; random numbers
come from Dask's generators, seeded from a host generator so that a state replays the draws.
"""

from __future__ import annotations

import math
import types

from ._dask_linalg import linalg
from ._dask_unknown import assign_by_select, reshape_by_rows
from ._device import same_shape
from ._dtypes import dtype_name
from ._random import Generator, changing, drawn

__all__ = ["dask_device", "DaskNamespaceError", "DASK_NATIVE"]

try:
    from array_api_compat.common._helpers import _DASK_DEVICE as DASK_NATIVE
except ImportError:  # an array-api-compat that names it otherwise: Dask accepts None too
    DASK_NATIVE = None


class DaskNamespaceError(AttributeError):
    """A function of the standard that array-api-compat's Dask namespace lacks and multigrad
    does not implement by blocks either."""


def dask_device(chunks_on: str):
    """The ``Device`` of Dask arrays whose chunks are NumPy ("cpu") or CuPy ("cuda")."""
    from ._device import Device, DeviceError, _cached, get_device

    name = "dask" if chunks_on == "cpu" else "dask:cuda"
    try:
        import dask.array as da
        import array_api_compat.dask.array as compat
    except ImportError as err:
        raise DeviceError(f"device {name!r} needs Dask, which is not installed: install "
                          "multigrad with the 'backends' extra (python -m pip install -e "
                          "'.[backends]')") from err
    host = get_device("cpu" if chunks_on == "cpu" else "cuda:0")
    chunk_lib = host.xp  # the chunks' own kernels, for the work done by blocks
    if chunks_on == "cpu":
        import numpy as chunk_module
    else:
        import cupy as chunk_module
    # array-api-compat's device object for Dask ("cpu" would name NumPy's device too)
    native = DASK_NATIVE
    xp = _namespace(compat, da, chunk_module, chunk_lib, native)

    def scatter_add(xp_, n, indices, values):
        return _scatter_add(da, chunk_module, n, indices, values)

    def to_host(a):
        # a value read (float(loss), repr, saving) computes the pending lazy gradients in the
        # same pass: reading the loss, then the gradients, would otherwise read the data twice
        from ..autograd._lazy import resolve
        return host.to_host(resolve([da.asarray(a)])[0])

    def from_host(a):
        return da.from_array(host.from_host(a), chunks="auto", asarray=False)

    def random(device, seed):
        return DaskGenerator(da, chunk_module, seed, host)

    def assign(x, key, value):
        # Dask's x[key] = value rewrites the graph of the array object x in place, and
        # asarray(x, copy=True) returns x itself: the update goes to a new object
        if 0 in getattr(value, "shape", ()):  # no element to write (Dask refuses an empty
            return x  # value with "shape mismatch ... (0, 4, 2) ... (0, 4, 2)")
        if any(math.isnan(n) for n in x.shape):  # Dask's setitem refuses unknown sizes
            selected = assign_by_select(da, chunk_module, x, key, value)
            if selected is not None:
                return selected
        out = x.copy()
        out[key] = value
        return out

    def special(name):
        # the host's kernel (SciPy's) chunk by chunk: multigrad.special's fallbacks from
        # standard functions build graphs of hundreds of tasks per chunk
        kernel = host.special(name)
        if kernel is None:
            return None
        from dask.array.core import elemwise  # broadcasts the chunks, finds the dtype
        return lambda *args: elemwise(kernel, *args)

    def checked(a, check):
        def block(b):
            check(b)
            return b
        return a.map_blocks(block, dtype=a.dtype)

    ext = {"scatter_add": scatter_add, "random": random, "to_host": to_host,
           "from_host": from_host, "assign": assign, "special": _cached(special),
           "checked": checked}
    return Device(name, "dask", xp, native, ext, lazy=True, host=host)


def _namespace(compat, da, chunk_module, chunk_lib, native):
    """array-api-compat's Dask namespace, with what it lacks done by blocks."""
    ns = types.ModuleType("multigrad.backends.dask_namespace",
                          "array-api-compat's Dask namespace, completed by blocks")
    ns.__dict__.update({k: v for k, v in vars(compat).items() if not k.startswith("__")})
    ns.__getattr__ = _refuse("")  # a module's __getattr__: names it does not hold

    def broadcast_to(x, /, shape):
        shape = tuple(shape)
        if same_shape(x.shape, shape):  # Dask refuses an unknown size even to itself
            return x
        lead = len(shape) - x.ndim
        made = [d for d, n in enumerate(shape) if math.isnan(n)
                and (d < lead or not math.isnan(x.shape[d - lead]))]
        if made:  # Dask would build a graph that fails when it computes
            raise ValueError(f"cannot broadcast shape {x.shape} to {shape}: the size of axis "
                             f"{made[0]} is unknown until computed (rows a mask picked), and "
                             "broadcasting cannot make it; compute the sizes first "
                             "(multigrad.persist)")
        return compat.broadcast_to(x, shape)

    def take(x, indices, /, *, axis=None):
        if axis is None:  # the standard's 1-D form
            x, axis = compat.reshape(x, (-1,)), 0
        return compat.take(x, indices, axis=axis)

    def take_along_axis(x, indices, /, *, axis=-1):
        axis %= x.ndim
        shape = tuple(max(a, b) if d != axis else b
                      for d, (a, b) in enumerate(zip(x.shape, indices.shape)))
        x = broadcast_to(x, shape[:axis] + (x.shape[axis],) + shape[axis + 1:])
        indices = broadcast_to(indices, shape)
        x = x.rechunk({axis: -1})
        indices = indices.rechunk(tuple(c if d != axis else (shape[axis],)
                                        for d, c in enumerate(x.chunks)))
        return da.map_blocks(lambda a, i: chunk_module.take_along_axis(a, i, axis=axis),
                             x, indices, dtype=x.dtype, chunks=indices.chunks)

    def eye(n_rows, n_cols=None, /, **kw):
        # Dask builds a graph with a missing block when n_cols != n_rows (dask/dask#11937):
        # cut the rectangle out of a square one
        n_cols = n_rows if n_cols is None else n_cols
        n = max(n_rows, n_cols)
        return compat.eye(n, n, **kw)[:n_rows, :n_cols]

    def repeat(x, repeats, /, *, axis=None):
        if axis is None:  # the standard's flattened form, which Dask's repeat lacks
            x, axis = compat.reshape(x, (-1,)), 0
        if not isinstance(repeats, int):
            raise NotImplementedError(
                "repeat with an array of counts is not available on Dask: the result's length "
                "is the counts' sum, unknown until computed; give an int count, or compute "
                "the array first (multigrad.compute) or use another device")
        return compat.repeat(x, repeats, axis=axis)

    def reshape(x, /, shape, *, copy=None):
        shape = tuple(shape)
        if any(math.isnan(n) for n in x.shape):
            by_rows = reshape_by_rows(x, shape)
            if by_rows is not None:
                return by_rows
            try:
                return compat.reshape(x, shape, copy=copy)
            except ValueError as err:
                raise ValueError(
                    f"the array of shape {x.shape} has sizes unknown until computed (nan: "
                    f"rows picked by a mask); a reshape to {shape} that regroups its rows "
                    "needs them: compute it first (multigrad.compute)") from err
        try:
            return compat.reshape(x, shape, copy=copy)
        except NotImplementedError:
            # Dask splits or merges axes only along chunk boundaries: the axes after the
            # leading ones the reshape keeps go into one chunk each first
            kept = 0
            while kept < min(x.ndim, len(shape)) and x.shape[kept] == shape[kept]:
                kept += 1
            whole = x.rechunk({d: -1 for d in range(kept, x.ndim)})
            return compat.reshape(whole, shape, copy=copy)

    def empty_safe(reduction, ufunc: str):
        # Dask's max and min of an empty array go wrong both ways: where the reduced axes are
        # not empty (the maximum along the columns of a (0, 3) array, a (0,) array) they
        # raise NumPy's "zero-size array to reduction operation", and along an empty axis
        # they compute a (0,) array for a result of shape (3,) instead of raising
        def reduce(x, /, *, axis=None, keepdims=False):
            axes = range(x.ndim) if axis is None else (
                [a % x.ndim for a in axis] if isinstance(axis, tuple) else [axis % x.ndim])
            if 0 in x.shape:  # known to be empty (an unknown size is nan, not 0)
                if not all(x.shape[d] for d in axes):
                    raise ValueError(f"zero-size array to reduction operation {ufunc} "
                                     "which has no identity")
                # a result without values: any element along the reduced axes makes it
                return x[tuple((slice(0, 1) if keepdims else 0) if d in axes else slice(None)
                               for d in range(x.ndim))]
            return reduction(x, axis=axis, keepdims=keepdims)
        reduce.__name__ = reduction.__name__
        return reduce

    def no_empty_chunks(cumulative):
        # with include_initial, an empty axis ends with a zero-size chunk beside the initial
        # value's; Dask then builds a broken graph for an elementwise op with an array chunked
        # otherwise ("axis 1 is out of bounds" when it computes)
        def run(x, /, **kw):
            out = cumulative(x, **kw)
            chunks = tuple(tuple(c for c in along if c) or along[:1] for along in out.chunks)
            return out if chunks == out.chunks else out.rechunk(chunks)
        run.__name__ = cumulative.__name__
        return run

    def one_chunk_along(sorting):
        # array-api-compat puts the axis in one chunk with "auto" chunks elsewhere, which Dask
        # refuses for sizes unknown until computed: the axis alone is enough
        def run(x, /, *, axis=-1, **kw):
            if any(math.isnan(n) for n in x.shape) and x.numblocks[axis] > 1:
                x = x.rechunk({axis % x.ndim: -1})
            return sorting(x, axis=axis, **kw)
        run.__name__ = sorting.__name__
        return run

    def expand_dims(x, /, *, axis=0):
        # Dask's reshapes, and a reshape refuses the nan of rows a mask picked; an index
        # with None does not
        if not any(math.isnan(n) for n in x.shape) or not isinstance(axis, int):
            return compat.expand_dims(x, axis=axis)
        if not -x.ndim - 1 <= axis <= x.ndim:
            raise IndexError(f"expand_dims: axis {axis} is out of range for {x.ndim + 1} "
                             "dimensions")
        return x[(slice(None),) * (axis % (x.ndim + 1)) + (None,)]

    def clip(x, /, min=None, max=None):
        # array-api-compat's broadcasts the bounds to a shape computed with NumPy, which
        # refuses the nan of rows a mask picked: the same maximum and minimum without it
        if not any(math.isnan(n) for n in x.shape):
            return compat.clip(x, min=min, max=max)
        out = x if min is None else da.maximum(x, min)
        out = out if max is None else da.minimum(out, max)
        return out.astype(x.dtype)

    def searchsorted(x1, x2, /, *, side="left", sorter=None):
        if sorter is not None:  # Dask's takes none: the sorted array itself, by a take
            x1 = compat.take(x1, sorter, axis=0)
        return compat.searchsorted(x1, x2, side=side)

    ns.take, ns.take_along_axis, ns.eye, ns.repeat = take, take_along_axis, eye, repeat
    ns.searchsorted, ns.clip, ns.expand_dims = searchsorted, clip, expand_dims
    ns.broadcast_to = broadcast_to
    ns.reshape = reshape
    ns.max, ns.min = empty_safe(compat.max, "maximum"), empty_safe(compat.min, "minimum")
    ns.cumulative_sum = no_empty_chunks(compat.cumulative_sum)
    ns.cumulative_prod = no_empty_chunks(compat.cumulative_prod)
    ns.sort, ns.argsort = one_chunk_along(compat.sort), one_chunk_along(compat.argsort)
    # the standard's dunder names, which the copy of the namespace above leaves out
    ns.__array_namespace_info__ = compat.__array_namespace_info__
    ns.__array_api_version__ = compat.__array_api_version__
    ns.linalg = linalg(compat.linalg, da, chunk_module, _refuse("linalg."))
    ns.fft = _fft(compat.fft)
    return ns


_TRANSFORMS = ("fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft",
               "ihfft")


def _fft(compat_fft):
    """array-api-compat's Dask ``fft``, each transform first rechunking the axes it
    transforms into one chunk each (Dask transforms no other)."""
    ns = types.ModuleType("multigrad.backends.dask_namespace.fft")
    ns.__dict__.update({k: v for k, v in vars(compat_fft).items() if not k.startswith("__")})
    ns.__getattr__ = _refuse("fft.")

    def whole_axes(transform):
        def run(x, /, **kw):
            if "axis" in kw or "axes" not in kw and "s" not in kw:  # 1-D: axis=-1 by default
                axes = (kw.get("axis", -1),)
            elif kw.get("axes") is not None:
                axes = kw["axes"]
            elif kw.get("s") is not None:  # the last len(s) axes
                axes = range(x.ndim - len(kw["s"]), x.ndim)
            else:
                axes = range(x.ndim)
            return transform(x.rechunk({a % x.ndim: -1 for a in axes}), **kw)
        run.__name__ = transform.__name__
        return run
    for name in _TRANSFORMS:
        setattr(ns, name, whole_axes(getattr(compat_fft, name)))
    return ns


def _refuse(prefix):
    def missing(name):
        raise DaskNamespaceError(
            f"{prefix}{name} is not available on Dask: array-api-compat's Dask namespace lacks "
            "it and multigrad has no block version; compute the array first (multigrad.compute) "
            "or use another device")
    return missing


def _scatter_add(da, chunk_module, n, indices, values):
    """Per chunk of rows, ``add.at`` into zeros of ``(n, *rest)``; the partial sums of the
    chunks are then added as a tree (Dask's reduction)."""
    rest = tuple(values.shape[1:])
    values, indices = da.asarray(values), da.asarray(indices)
    if any(math.isnan(s) for s in rest):
        return _scatter_add_by_columns(da, chunk_module, n, indices, values)
    if values.numblocks[1:] != (1,) * (values.ndim - 1):
        values = values.rechunk({d: -1 for d in range(1, values.ndim)})
    if indices.chunks[0] != values.chunks[0]:  # unknown chunks (a mask's) come aligned
        indices = indices.rechunk((values.chunks[0],))

    # map_blocks aligns trailing axes: the indices' one axis must meet the values' first
    indices = indices[(slice(None),) + (None,) * len(rest)]

    def block(v, i):
        out = chunk_module.zeros((1, n) + rest, dtype=v.dtype)
        chunk_module.add.at(out[0], i.reshape(-1), v)
        return out
    # one (1, n, *rest) partial sum per chunk of rows: the rows' axis keeps its blocks (one
    # element each), the new axis 1 holds the n rows written
    partial = da.map_blocks(block, values, indices, dtype=values.dtype,
                            new_axis=1, chunks=((1,) * values.numblocks[0], (n,))
                            + tuple((s,) for s in rest))
    return partial.sum(axis=0)


def _scatter_add_by_columns(da, chunk_module, n, indices, values):
    """``_scatter_add`` where trailing sizes are unknown until computed (rows a mask picked,
    moved behind the indexed axis, as a gradient of ``rows[:, idx]`` has them): each chunk
    of the trailing axes scatters all the rows on its own, its sizes known inside it."""
    if max(values.numblocks[0], indices.numblocks[0]) > 1 and math.isnan(values.shape[0]):
        raise ValueError("scatter_add on Dask: the values' rows, in several chunks, and their "
                         "trailing dimensions have sizes unknown until computed; compute the "
                         "array first (multigrad.compute)")
    if values.numblocks[0] > 1:  # (Dask refuses to rechunk an unknown size, even to itself)
        values = values.rechunk({0: -1})
    if indices.numblocks[0] > 1:
        indices = indices.rechunk(-1)
    indices = indices[(slice(None),) + (None,) * (values.ndim - 1)]

    def block(v, i):
        out = chunk_module.zeros((n,) + v.shape[1:], dtype=v.dtype)
        chunk_module.add.at(out, i.reshape(-1), v)
        return out
    return da.map_blocks(block, values, indices, dtype=values.dtype,
                         chunks=((n,),) + values.chunks[1:])


class DaskGenerator(Generator):
    """Dask's random generators (drawn chunk by chunk inside the graph), each draw seeded
    from a host NumPy generator whose state is this generator's."""

    def __init__(self, da, chunk_module, seed, host):
        import numpy as np
        self._da, self._chunk_module = da, chunk_module
        self._seeds = np.random.default_rng(seed)

    def get_state(self):
        """The generator's state, for ``set_state``: the host seed generator's (a dict)."""
        return self._seeds.bit_generator.state

    def set_state(self, state) -> None:
        """Return to a state ``get_state`` gave: the draws that followed it come again."""
        changing(self)
        self._seeds.bit_generator.state = state

    def _rng(self):
        changing(self)
        seed = int(self._seeds.integers(0, 2 ** 63))
        return self._da.random.default_rng(self._chunk_module.random.default_rng(seed))

    def normal(self, shape, dtype, mean=0.0, std=1.0):
        x = self._rng().standard_normal(tuple(shape), dtype=_real(dtype)) * std + mean
        return drawn(self, "normal", (shape, dtype, mean, std), x)

    def uniform(self, shape, dtype, low=0.0, high=1.0):
        x = self._rng().random(tuple(shape), dtype=_real(dtype)) * (high - low) + low
        return drawn(self, "uniform", (shape, dtype, low, high), x)

    def integers(self, low, high, shape, dtype):
        x = self._rng().integers(low, high, tuple(shape), dtype=dtype_name(dtype))
        return drawn(self, "integers", (low, high, shape, dtype), x)


def _real(dtype):
    name = dtype_name(dtype)
    if name not in ("float32", "float64"):
        raise TypeError(f"random floats need float32 or float64, not {dtype!r}")
    return name
