"""Creation functions of the array API standard, ``tensor``, and moves between devices.

Primitives: to_device (a move is differentiable: its cotangent moves back to the source), tril,
triu (the cotangent keeps the same triangle), meshgrid (multi-output; output k is input k
broadcast, so its cotangent is summed over the other axes).

Creation functions make leaves: their results carry no gradient unless ``tensor(...,
requires_grad=True)`` or ``requires_grad_()`` asks for one. Without ``device=`` they use the
default device (``multigrad.set_default_device`` or ``$MULTIGRAD_DEVICE``); the ``*_like``
functions use their argument's device.
"""

from __future__ import annotations

from ..autograd import LINEAR, Tensor, _record, defprimitive
from ..backends import Device, as_dtype, device_of, get_device, is_array, unknown_size
from ._helpers import native_dtype

__all__ = ["asarray", "tensor", "to_device", "arange", "empty", "empty_like", "eye", "from_dlpack",
           "full", "full_like", "linspace", "meshgrid", "ones", "ones_like", "tril", "triu",
           "zeros", "zeros_like"]


def _move(x, source: Device, target: Device):
    """Move a raw array between devices: within a library by its own means, else via the host."""
    if source is target:
        return x
    if source.library == target.library:
        return target.xp.asarray(x, device=target.native, copy=True)
    return target.from_host(source.to_host(x))


def _move_back(xp, g, ans, x, device, source):
    if isinstance(g, Tensor):
        return to_device_p(g, device=source, source=device)
    return _move(g, device, source)


to_device_p = defprimitive(
    "to_device",
    forward=lambda xp, x, device, source: _move(x, source, device),
    vjp=(_move_back,),
    jvp=(LINEAR,),
    changes_device=True,
)


def to_device(x, device, /):
    """``x`` on ``device`` (the same tensor if it is there already); gradients move back."""
    target = get_device(device)
    if x.device is target:
        return x
    return to_device_p(x, device=target, source=x.device)


def asarray(obj, /, *, dtype=None, device=None, copy=None):
    """Convert ``obj`` (a tensor, an array of any supported library, a Python scalar or a nested
    sequence of them) to a tensor on ``device`` with ``dtype``.

    A tensor stays on the graph: moving or casting it is differentiable. An array of another
    library (PyTorch, JAX, Dask...) lands on that library's device ("torch:cpu", "jax:cpu",
    "dask") without a conversion, and a lazy one (Dask) is not computed; a NumPy array goes
    to the default device, as Python data does.
    """
    if isinstance(obj, Tensor):
        out = obj
        if device is not None:
            out = to_device(out, device)
        if (dtype is not None and out.dtype != dtype) or (copy and out is obj):
            from .manipulation import astype  # a copy of any dtype, differentiable
            out = astype(out, out.dtype if dtype is None else dtype, copy=True)
        return out
    if isinstance(obj, (list, tuple)) and _holds_tensor(obj):
        return _stack_nested(obj, dtype, device)
    if is_array(obj) or hasattr(obj, "__dlpack__"):  # a Dask array stays lazy, on "dask"
        source = device_of(obj)
        if device is not None:
            target = get_device(device)
        elif source.library == "numpy":
            target = get_device()  # host data goes to the default device, as Python data does
        else:
            target = source  # an array of a device's own library stays where it is
        moves = source is not target
        if copy is False and moves:
            raise ValueError(f"asarray: copy=False, but moving from {source.name} to "
                             f"{target.name} needs a copy")
        native, keep = native_dtype(target.xp, dtype), None if moves else copy

        def convert(a):
            return target.xp.asarray(_move(a, source, target), dtype=native, copy=keep)
        return Tensor(_standard(_record.derive(convert, obj, from_python=True), obj), target)
    target = get_device(device)
    if copy is False:
        raise ValueError("asarray: copy=False cannot be honoured for a Python scalar or sequence")
    xp = target.xp
    if isinstance(obj, (float, complex)):
        # through a one-element sequence: CuPy 14.2 turns -0.0 into 0.0 when it makes a 0-d
        # array from a Python float, and copies a one-element list bit for bit
        return Tensor(_record.created(xp.reshape(xp.asarray(
            [obj], dtype=native_dtype(xp, dtype), device=target.native), ())), target)
    try:
        data = xp.asarray(obj, dtype=native_dtype(xp, dtype), device=target.native)
    except OverflowError as err:
        raise OverflowError(f"asarray: {err}; the widest integer dtypes are int64 and "
                            "uint64") from None
    return Tensor(_record.created(_standard(data, obj)), target)


def _standard(data, source):
    """``data`` if its dtype is one of the standard's; else a TypeError naming what the values
    were (strings, objects, integers beyond 64 bits...)."""
    try:
        as_dtype(data.dtype)
    except TypeError:
        kind = getattr(data.dtype, "kind", None)
        what = {"U": "strings", "S": "bytes", "M": "dates", "m": "time spans"}.get(kind)
        if kind == "O":
            what = ("integers beyond the 64-bit range of int64 and uint64"
                    if _all_ints(source) else "Python objects that are not numbers")
        raise TypeError(f"asarray: cannot make a tensor of {what or f'dtype {data.dtype}'}: "
                        "tensors hold bool, integer, floating-point or complex numbers") from None
    return data


def _all_ints(obj) -> bool:
    if isinstance(obj, (list, tuple)):
        return all(_all_ints(o) for o in obj)
    return isinstance(obj, int)


def _holds_tensor(obj) -> bool:
    return any(isinstance(o, Tensor) or (isinstance(o, (list, tuple)) and _holds_tensor(o))
               for o in obj)


def _stack_nested(obj, dtype, device):
    """A nested sequence holding tensors: stack it, so gradients reach those tensors."""
    from .manipulation import stack
    return stack([asarray(o, dtype=dtype, device=device) for o in obj])


def tensor(data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new leaf tensor holding a copy of ``data``.

    Parameters
    ----------
    data : array_like
        A Python scalar, nested sequence, array of any supported library, or tensor (whose
        values are copied; the result is a new leaf).
    dtype : DType, optional
        Default: inferred from ``data`` (Python floats take the device's default float).
    device : str or Device, optional
        Default: the default device (``set_default_device``, ``$MULTIGRAD_DEVICE``, "cpu").
    requires_grad : bool
        Record operations on this tensor so that gradients reach it.
    """
    if isinstance(data, Tensor):
        data = data.detach()
    out = asarray(data, dtype=dtype, device=device, copy=True).detach()
    return out.requires_grad_() if requires_grad else out


def _create(fn_name, shape_or_args, dtype, device, **kw):
    target = get_device(device)
    xp = target.xp
    return Tensor(_record.created(getattr(xp, fn_name)(
        *shape_or_args, dtype=native_dtype(xp, dtype), device=target.native, **kw)), target)


def zeros(shape, *, dtype=None, device=None) -> Tensor:
    """A tensor of zeros."""
    return _create("zeros", (shape,), dtype, device)


def ones(shape, *, dtype=None, device=None) -> Tensor:
    """A tensor of ones."""
    return _create("ones", (shape,), dtype, device)


def empty(shape, *, dtype=None, device=None) -> Tensor:
    """An uninitialised tensor."""
    return _create("empty", (shape,), dtype, device)


def full(shape, fill_value, *, dtype=None, device=None) -> Tensor:
    """A tensor filled with ``fill_value``."""
    return _create("full", (shape, fill_value), dtype, device)


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None) -> Tensor:
    """A 2-D tensor with ones on the ``k``-th diagonal."""
    return _create("eye", (n_rows, n_cols), dtype, device, k=k)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``."""
    return _create("arange", (start, stop, step), dtype, device)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop``."""
    return _create("linspace", (start, stop, num), dtype, device, endpoint=endpoint)


def _like(fn_name, x, args, dtype, device):
    target = x.device if device is None else get_device(device)
    xp = target.xp
    dtype = x.dtype if dtype is None else dtype
    shape = x.shape
    if (target is x.device and any(unknown_size(n) for n in shape)
            and len(x.data.shape) == len(shape)):  # not batched: the array is the tensor's
        # no shape names a size unknown until computed (Dask's nan, after a mask): the
        # library's own *_like makes it from the array, in its chunks
        return Tensor(getattr(xp, f"{fn_name}_like")(x.data, *args,
                                                      dtype=native_dtype(xp, dtype)), target)
    return Tensor(_record.created(getattr(xp, fn_name)(
        shape, *args, dtype=native_dtype(xp, dtype), device=target.native)), target)


def zeros_like(x, /, *, dtype=None, device=None) -> Tensor:
    """Zeros of ``x``'s shape, dtype and device."""
    return _like("zeros", x, (), dtype, device)


def ones_like(x, /, *, dtype=None, device=None) -> Tensor:
    """Ones of ``x``'s shape, dtype and device."""
    return _like("ones", x, (), dtype, device)


def empty_like(x, /, *, dtype=None, device=None) -> Tensor:
    """An uninitialised tensor of ``x``'s shape, dtype and device."""
    return _like("empty", x, (), dtype, device)


def full_like(x, /, fill_value, *, dtype=None, device=None) -> Tensor:
    """``fill_value`` in ``x``'s shape, dtype and device."""
    return _like("full", x, (fill_value,), dtype, device)


# DLPack's device types: where a producer's memory is (``__dlpack_device__``)
_DLPACK_HOMES = {1: lambda index: "cpu", 2: lambda index: f"cuda:{index}"}
_OWN_LIBRARIES = ("numpy", "cupy", "array_api_strict")


def from_dlpack(x, /, *, device=None, copy=None) -> Tensor:
    """A tensor from any object that supports DLPack (or an array of a supported library).

    An array of another library (a PyTorch or JAX tensor...) becomes a tensor of multigrad's
    library for its memory, sharing that memory where DLPack allows: in CPU memory a "cpu"
    (NumPy) tensor, on a CUDA GPU a "cuda:N" (CuPy) tensor; ``device=`` moves it on from there.
    """
    if (isinstance(x, Tensor) or not hasattr(x, "__dlpack_device__")
            or type(x).__module__.partition(".")[0] in _OWN_LIBRARIES):
        return asarray(x, device=device, copy=copy)
    kind, index = x.__dlpack_device__()
    home = _DLPACK_HOMES.get(int(kind))
    if home is None:
        raise ValueError(f"from_dlpack: the array is on DLPack device type {int(kind)}; "
                         "multigrad takes arrays in CPU memory or on a CUDA GPU")
    target = get_device(home(index))
    given = {} if copy is None else {"copy": copy}
    data = _record.derive(lambda a: target.xp.from_dlpack(a, **given), x, from_python=True)
    out = Tensor(_standard(data, x), target)
    return out if device is None else to_device(out, device)


tril_p = defprimitive(
    "tril",
    forward=lambda xp, x, k: xp.tril(x, k=k),
    vjp=(lambda xp, g, ans, x, k: xp.tril(g, k=k),),
    jvp=(LINEAR,),
)


def tril(x, /, *, k=0):
    """The lower triangle of the last two axes of ``x``: zeros above the ``k``-th diagonal."""
    return tril_p(x, k=k)


triu_p = defprimitive(
    "triu",
    forward=lambda xp, x, k: xp.triu(x, k=k),
    vjp=(lambda xp, g, ans, x, k: xp.triu(g, k=k),),
    jvp=(LINEAR,),
)


def triu(x, /, *, k=0):
    """The upper triangle of the last two axes of ``x``: zeros below the ``k``-th diagonal."""
    return triu_p(x, k=k)


def _grid_axis(n_arrays, argnum, indexing):
    """The output axis along which input ``argnum`` varies ('xy' swaps the first two)."""
    if indexing == "xy" and n_arrays > 1 and argnum < 2:
        return 1 - argnum
    return argnum


def _meshgrid_vjp(xp, g, ans, *arrays, indexing, argnum):
    axis = _grid_axis(len(arrays), argnum, indexing)
    others = tuple(d for d in range(g[argnum].ndim) if d != axis)
    summed = xp.sum(g[argnum], axis=others) if others else g[argnum]
    return xp.reshape(summed, arrays[argnum].shape)


def _meshgrid_jvp(xp, t, ans, *arrays, indexing, argnum):
    axis = _grid_axis(len(arrays), argnum, indexing)
    # only output argnum depends on input argnum; the engine broadcasts this to its shape
    along = xp.reshape(t, tuple(-1 if d == axis else 1 for d in range(ans[argnum].ndim)))
    return tuple(along if k == argnum else None for k in range(len(ans)))


meshgrid_p = defprimitive(
    "meshgrid",
    forward=lambda xp, *arrays, indexing: tuple(xp.meshgrid(*arrays, indexing=indexing)),
    vjp=(_meshgrid_vjp,),
    jvp=(_meshgrid_jvp,),
    variadic=True,
    multi_output=True,
)


def meshgrid(*arrays, indexing="xy"):
    """Coordinate grids from 1-D arrays: 'xy' (Cartesian) or 'ij' (matrix) indexing."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', not {indexing!r}")
    return meshgrid_p(*arrays, indexing=indexing)
