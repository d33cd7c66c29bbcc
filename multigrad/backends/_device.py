"""Devices: one array library on one device, with the kernels the standard lacks.

A ``Device`` bundles the array-api-compat namespace ``xp`` of a library, that library's own
device object, and an extension table (scatter-add, fast forms of ``where`` and of sums over
leading axes, random numbers, special functions, host transfer, synchronisation). Every kernel
in multigrad runs through ``device.xp``; nothing else in the package names numpy or cupy.
Devices are cached singletons, so comparing two of them is ``is``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading

import array_api_compat

from ._dtypes import DTYPES, DType, as_dtype, dtype_name
from . import _cuda, _fallbacks
from ._random import CupyGenerator, NumpyStyleGenerator

__all__ = ["Device", "DeviceError", "MixedDeviceError", "get_device", "device_of", "devices",
           "set_default_device", "get_default_device", "joined_device", "same_shape",
           "is_lazy_array"]


class DeviceError(RuntimeError):
    """A device was asked for that this machine or installation cannot provide."""


class MixedDeviceError(ValueError):
    """Arrays on different devices (or of different array libraries) met in one op."""


class Device:
    """One array library on one device.

    Attributes
    ----------
    name : str
        Readable name, also accepted wherever a device is: ``"cpu"``, ``"cuda:0"``,
        ``"strict:device1"`` (array-api-strict's devices are named as they are asked for).
    library : str
        ``"numpy"``, ``"cupy"``, ``"array_api_strict"`` or the module name of another library.
    xp : module
        The library's array API namespace (through array-api-compat).
    native : object
        The library's own device object, as passed to ``device=`` of ``xp`` functions.
    lazy : bool
        Its ops build a task graph and compute nothing until asked (Dask).
    host : Device or None
        For a lazy device, the device whose arrays may meet its arrays in one op: they are
        broadcast into the graph, and the result is lazy ("cpu" for "dask").
    """

    __slots__ = ("name", "library", "xp", "native", "lazy", "host", "grad_dtypes",
                 "_native_dtypes", "_ext", "__weakref__")

    def __init__(self, name, library, xp, native, ext, lazy=False, host=None):
        self.name = name
        self.library = library
        self.xp = xp
        self.native = native
        self.lazy = lazy
        self.host = host
        self._ext = ext
        self._native_dtypes = {n: getattr(xp, n) for n in DTYPES if hasattr(xp, n)}
        # dtypes whose results may carry gradients (looked up once per op on the hot path), as
        # arrays report them: numpy's array dtype is np.dtype('float32'), not np.float32
        self.grad_dtypes = frozenset(
            xp.empty((0,), dtype=self._native_dtypes[n], device=native).dtype
            for n in ("float32", "float64", "complex64", "complex128")
            if n in self._native_dtypes)

    def __repr__(self) -> str:
        return f"Device({self.name!r})"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other) -> bool:
        if isinstance(other, Device):
            return self is other
        try:
            return get_device(other) is self
        except (DeviceError, TypeError, ValueError):
            return False

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self):
        return (get_device, (self.name,))

    # -- dtypes --------------------------------------------------------------------------
    def native_dtype(self, dtype):
        """The library's dtype object for a multigrad ``DType`` (or any dtype spelling)."""
        if dtype is None:
            return None
        name = dtype_name(dtype)
        try:
            return self._native_dtypes[name]
        except KeyError:
            raise TypeError(f"dtype {dtype!r} is not supported on device {self.name!r}") from None

    def default_dtype(self, kind: str = "real floating") -> DType:
        """The default dtype of a kind ("real floating", "integral", ...) on this device."""
        info = self.xp.__array_namespace_info__()
        return as_dtype(info.default_dtypes(device=self.native)[kind])

    # -- the extension table ---------------------------------------------------------------
    def scatter_add(self, n: int, indices, values):
        """Sum ``values[k]`` into row ``indices[k]`` of an ``(n, *values.shape[1:])`` zero array.

        Repeated indices accumulate, which plain ``x[idx] += v`` does not do.
        """
        return self._ext.get("scatter_add", _fallbacks.scatter_add)(self.xp, n, indices, values)

    def checked(self, x, check):
        """``x`` (a lazy array) with ``check(block)`` run on each of its blocks when it
        computes: the value checks an op cannot run eagerly on a lazy device (``check``
        raises on bad values)."""
        return self._ext["checked"](x, check)

    def assign(self, x, key, value):
        """``x[key] = value`` on an array nobody else holds; returns the updated array (``x``
        itself, or a new one where arrays are immutable: JAX's ``x.at[key].set(value)``)."""
        functional = self._ext.get("assign")
        if functional is not None:
            return functional(x, key, value)
        x[key] = value
        return x

    def index(self, x, key):
        """``x[key]`` for a basic key (ints, slices of any step, None, a final Ellipsis), by
        this library's way to slices of negative step where it has no ``x[::-1]``."""
        native = self._ext.get("index")
        return native(x, key) if native is not None else x[key]

    def where_or_zero(self, mask, values):
        """``where(mask, values, 0)``: ``values`` where ``mask`` is true, else (positive) zero,
        by this library's fastest way to it."""
        native = self._ext.get("where_or_zero")
        return native(mask, values) if native is not None else self.xp.where(mask, values, 0.0)

    def where_positive(self, x, values):
        """``where(x > 0, values, 0)`` (ReLU's derivative applied to ``values``), by this
        library's fastest way to it."""
        native = self._ext.get("where_positive")
        return native(x, values) if native is not None else self.where_or_zero(x > 0, values)

    def sum_leading(self, x, n: int):
        """``sum(x, axis=(0, ..., n - 1))`` (a gradient summed over broadcast dimensions), by
        this library's fastest way to it."""
        native = self._ext.get("sum_leading")
        return native(x, n) if native is not None else self.xp.sum(x, axis=tuple(range(n)))

    def random(self, seed):
        """A seeded random generator on this device.

        It draws with ``normal(shape, dtype, mean, std)``, ``uniform(shape, dtype, low, high)``
        and ``integers(low, high, shape, dtype)``; ``get_state()`` returns its state and
        ``set_state(state)`` returns to it, so the same numbers can be drawn again.
        """
        factory = self._ext.get("random")
        if factory is None:
            return _fallbacks.Counter64Generator(self.xp, self.native, seed)
        return factory(self, seed)

    def special(self, name: str):
        """The library's own kernel of the special function ``name`` (``scipy.special``'s on
        NumPy, ``cupyx.scipy.special``'s on CuPy), or None where there is none (another
        library, or SciPy not installed): ``multigrad.special`` then computes it from
        standard functions."""
        find = self._ext.get("special")
        return None if find is None else find(name)

    def to_host(self, x, copy: bool = False):
        """The values of ``x`` (an array of this device) as a NumPy array on the host.

        On a host device the result may share memory with ``x``; ``copy=True`` guarantees it
        does not (a device's arrays are copied to the host anyway).
        """
        host = self._ext["to_host"](x)
        if copy and self._ext.get("to_host_shares", False):
            host = host.copy()
        return host

    def host_view(self, x):
        """A read-only NumPy view of ``x`` without a copy, or None where ``x`` is not in host
        memory (a GPU, or a device that refuses implicit conversion as a GPU would)."""
        view = self._ext.get("host_view")
        if view is None:
            return None
        host = view(x).view()
        host.flags.writeable = False
        return host

    def from_host(self, x):
        """Copy a NumPy array (or nested sequence) from the host onto this device."""
        return self._ext.get("from_host", lambda a: self.xp.asarray(a, device=self.native))(x)

    def synchronize(self) -> None:
        """Wait until all work queued on this device has finished (for honest timing)."""
        sync = self._ext.get("synchronize")
        if sync is not None:
            sync()

    @property
    def fuses(self) -> bool:
        """Whether this library makes fused elementwise kernels (``fuse``)."""
        return "fuse" in self._ext

    def fuse(self, expression, in_dtypes: list, out_dtype):
        """One kernel computing an elementwise ``expression`` (``compile._fusion``'s
        language) from arrays of ``in_dtypes``, or None where this library has no way to make
        one (then the ops run one by one)."""
        fuse = self._ext.get("fuse")
        return None if fuse is None else fuse(expression, in_dtypes, out_dtype)

    def capture(self, run_all, inputs, generators):
        """A program captured into one launch (``backends._cuda.GraphReplay``), called as
        the program is; None where this library has no such thing."""
        capture = self._ext.get("capture")
        return None if capture is None else capture(run_all, inputs, generators)


# ----------------------------------------------------------------------------------------------
# Backends: how each known library is loaded, named and extended.

def _numpy_device(spec):
    import numpy as np
    import array_api_compat.numpy as xp

    def scatter_add(xp_, n, indices, values):
        out = np.zeros((n,) + tuple(values.shape[1:]), dtype=values.dtype)
        np.add.at(out, indices, values)
        return out

    def where_or_zero(mask, values):
        # NumPy's where branches on every element: with a mask no branch predictor can learn
        # (ReLU's, say) it is about 15x slower than and-ing the values' bits with all ones
        # (true) or all zeros (false), which is where's result exactly: the values where the
        # mask is true, whatever they are, and +0.0 where it is false, inf and nan included.
        if values.dtype.kind != "f" or mask.dtype != np.bool_:
            return np.where(mask, values, 0.0)
        # one array, built in place: the mask as integers, negated (true: -1, all bits set),
        # and-ed with the values
        out = np.empty(np.broadcast_shapes(mask.shape, values.shape), dtype=values.dtype)
        bits = out.view(np.dtype(f"i{values.dtype.itemsize}"))
        np.copyto(bits, mask, casting="unsafe")
        np.negative(bits, out=bits)
        np.bitwise_and(values.view(bits.dtype), bits, out=bits)
        return out

    def random(device, seed):
        return NumpyStyleGenerator(np.random.default_rng(seed), xp, device.native)

    def special(name):
        try:  # SciPy is optional: without it, multigrad.special computes from standard functions
            import scipy.special
        except ImportError:
            return None
        return getattr(scipy.special, name, None)

    ext = {"scatter_add": scatter_add, "where_or_zero": where_or_zero, "random": random,
           "special": _cached(special), "to_host": np.asarray, "to_host_shares": True,
           "host_view": np.asarray, "from_host": np.asarray}
    return Device("cpu", "numpy", xp, "cpu", ext)


def _cupy_device(index: int):
    try:
        import cupy
    except ImportError as err:
        raise DeviceError(
            "device 'cuda' needs CuPy, which is not installed: install multigrad with the "
            "'cuda12' or 'cuda13' extra (pip install -e '.[cuda12]') matching your CUDA driver"
        ) from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # cupy raises CUDARuntimeError when no driver/GPU is present
        raise DeviceError(f"device 'cuda' needs a CUDA GPU, but CuPy found none ({err})") from err
    if not 0 <= index < count:
        raise DeviceError(f"device 'cuda:{index}' does not exist: this machine has {count} "
                          f"CUDA GPU(s) (cuda:0 to cuda:{count - 1})")
    import array_api_compat.cupy as xp
    import numpy as np

    native = cupy.cuda.Device(index)

    def scatter_add(xp_, n, indices, values):
        with native:
            out = cupy.zeros((n,) + tuple(values.shape[1:]), dtype=values.dtype)
            cupy.add.at(out, indices, values)
        return out

    # one pass, where where(x > 0, ...) makes the mask an array of its own first: on an H100,
    # 0.110 against 0.190 ms for 4096 x 4096 float32 (benchmarks/profile_gpu_mlp.py)
    where_positive_kernel = cupy.ElementwiseKernel(
        "T x, U values", "U out", "out = x > 0 ? values : (U)0", "multigrad_where_positive")

    def where_positive(x, values):
        with native:
            return where_positive_kernel(x, values)

    def sum_leading(x, n):
        # On large arrays CuPy reduces over leading axes about 3x slower than cuBLAS multiplies
        # by a vector of ones, which sums the same numbers: 0.147 against 0.046 ms for 4096 x
        # 4096 float32 on an H100 (benchmarks/profile_gpu_mlp.py). On small ones the product
        # costs the host more (a vector of ones to fill, a slower call): 55 against 20 us
        # for a 256 x 512 bias gradient (benchmarks/profile_mlp_step.py).
        if x.ndim > n and x.size >= 1 << 20 and x.dtype.kind in "fc":
            rows, rest = math.prod(x.shape[:n]), x.shape[n:]
            with native:
                ones = cupy.ones(rows, dtype=x.dtype)
                out = ones @ cupy.reshape(x, (rows, math.prod(rest)))
            return out if len(rest) == 1 else cupy.reshape(out, rest)
        return cupy.sum(x, axis=tuple(range(n)))

    def random(device, seed):
        with native:
            return CupyGenerator(cupy.random.default_rng(seed), xp, native)

    def from_host(a):
        host = np.asarray(a)
        with native:
            if host.ndim == 0:
                # CuPy 14.2 turns -0.0 into 0.0 when it makes a 0-d array from a 0-d NumPy
                # array (or a Python float); a one-element array is copied bit for bit
                return cupy.asarray(host.reshape(1)).reshape(())
            return cupy.asarray(host)

    def special(name):
        try:
            import cupyx.scipy.special
        except ImportError:  # a CuPy built without it: standard functions instead
            return None
        kernel = getattr(cupyx.scipy.special, name, None)
        if kernel is None:
            return None

        def on_device(*arrays):
            with native:
                return kernel(*arrays)
        return on_device

    def capture(run_all, inputs, generators):
        return _cuda.GraphReplay(native, run_all, inputs, generators)

    ext = {"scatter_add": scatter_add, "where_positive": where_positive,
           "sum_leading": sum_leading, "random": random, "special": _cached(special),
           "to_host": cupy.asnumpy, "from_host": from_host, "synchronize": native.synchronize,
           "fuse": _cuda.fuse, "capture": capture}
    return Device(f"cuda:{index}", "cupy", xp, native, ext)


def _cached(find):
    """``find(name)``, looked up once per name."""
    found = {}

    def lookup(name):
        if name not in found:
            found[name] = find(name)
        return found[name]
    return lookup


def _strict_device(native_name: str):
    try:
        import array_api_strict as xp
    except ImportError as err:
        raise DeviceError(
            f"device 'strict:{native_name}' needs array-api-strict, which is not installed: "
            "python -m pip install array-api-strict (or install multigrad with the 'test' "
            "extra)") from err
    import numpy as np

    native = xp.Device(native_name)

    def to_host(a):
        # array_api_strict refuses to hand a non-CPU array to NumPy, as CuPy does: move it first.
        return np.asarray(xp.asarray(a, device=xp.Device("CPU_DEVICE"), copy=True))

    def from_host(a):
        return xp.asarray(np.asarray(a), device=native)

    ext = {"to_host": to_host, "from_host": from_host}
    if native_name == "CPU_DEVICE":  # in host memory: NumPy reads it without a copy
        ext["host_view"] = np.asarray
    return Device(f"strict:{native_name}", "array_api_strict", xp, native, ext)


def _generic_device(xp, native):
    import numpy as np

    def to_host(a):
        try:
            return np.from_dlpack(a)
        except Exception:  # libraries without DLPack export for this device: go through the buffer
            return np.asarray(a)

    name = f"{xp.__name__.rsplit('.', 1)[-1]}:{native}"
    # DLPack's export may share memory with the array
    return Device(name, xp.__name__, xp, native, {"to_host": to_host, "to_host_shares": True})


# ----------------------------------------------------------------------------------------------
# Resolution: spec -> Device, array -> Device, with caches so the hot path never resolves twice.

_lock = threading.RLock()  # re-entrant: a Dask device makes its host device first
_by_name: dict[str, Device] = {}
_by_array_type: dict[tuple, Device] = {}
_STRICT_DEVICES = ("CPU_DEVICE", "device1", "device2")


def _parse(spec: str) -> tuple[str, object]:
    s = spec.strip()
    if s in ("cpu", "numpy", "numpy:cpu"):
        return "cpu", lambda: _numpy_device("cpu")
    if s == "cuda" or s.startswith("cuda:"):
        idx = s.partition(":")[2] or "0"
        if not (idx.isascii() and idx.isdigit()):  # isdigit() alone accepts "²"
            raise DeviceError(f"unknown device {spec!r}: a CUDA device is 'cuda' or 'cuda:N'")
        return f"cuda:{int(idx)}", lambda: _cupy_device(int(idx))
    library, _, rest = s.partition(":")
    if library in _NAMED:
        return _NAMED[library](spec, rest)
    for prefix in ("array_api_strict:", "strict:"):
        if s.startswith(prefix) or s == prefix[:-1]:
            dev = s[len(prefix):] if s.startswith(prefix) else "CPU_DEVICE"
            if dev not in _STRICT_DEVICES:
                raise DeviceError(f"unknown device {spec!r}: array_api_strict's devices are "
                                  + ", ".join(f"'strict:{d}'" for d in _STRICT_DEVICES))
            return f"strict:{dev}", lambda: _strict_device(dev)
    raise DeviceError(f"unknown device {spec!r}: expected 'cpu', 'cuda', 'cuda:N', "
                      "'strict:CPU_DEVICE', 'strict:device1', 'strict:device2', 'torch:cpu', "
                      "'torch:cuda:N', 'jax:cpu', 'jax:cuda:N', 'dask' or 'dask:cuda' "
                      "(multigrad.devices() lists this machine's)")


def _cpu_or_cuda(library, spec, rest):
    """``library:cpu`` or ``library:cuda[:N]``: the canonical name and the device's maker."""
    kind, _, idx = rest.partition(":")
    if kind == "cpu" and not idx:
        index = 0
    elif kind in ("cuda", "gpu") and (not idx or (idx.isascii() and idx.isdigit())):
        kind, index = "cuda", int(idx or 0)
    else:
        raise DeviceError(f"unknown device {spec!r}: {library}'s devices are '{library}:cpu' "
                          f"and '{library}:cuda:N'")
    name = f"{library}:cpu" if kind == "cpu" else f"{library}:cuda:{index}"
    if library == "torch":
        from ._torch import torch_device
        return name, lambda: torch_device(kind, index)
    from ._jax import jax_device
    return name, lambda: jax_device(kind, index)


def _dask_named(spec, rest):
    if rest not in ("", "cpu", "cuda"):
        raise DeviceError(f"unknown device {spec!r}: Dask's devices are 'dask' (NumPy chunks) "
                          "and 'dask:cuda' (CuPy chunks)")
    from ._dask import dask_device
    chunks_on = "cuda" if rest == "cuda" else "cpu"
    return ("dask:cuda" if rest == "cuda" else "dask"), lambda: dask_device(chunks_on)


_NAMED = {"torch": lambda spec, rest: _cpu_or_cuda("torch", spec, rest),
          "jax": lambda spec, rest: _cpu_or_cuda("jax", spec, rest),
          "dask": _dask_named}


def _from_name(spec: str) -> Device:
    dev = _by_name.get(spec)
    if dev is not None:
        return dev
    name, make = _parse(spec)
    with _lock:
        dev = _by_name.get(name)
        if dev is None:
            dev = make()
            _by_name[name] = dev
        _by_name[spec] = dev
    return dev


def get_device(spec=None) -> Device:
    """The ``Device`` for a device spec.

    Parameters
    ----------
    spec : str, Device, native device object or None
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"strict:device1"``; a ``Device``; a library's own
        device object (``cupy.cuda.Device(0)``, ``array_api_strict.Device("device1")``);
        ``None`` for the default device.
    """
    if spec is None:
        return get_default_device()
    if isinstance(spec, Device):
        return spec
    if isinstance(spec, str):
        return _from_name(spec)
    module = type(spec).__module__.split(".")[0]
    if module == "array_api_compat":  # its stand-in device for Dask arrays
        return _from_name("dask")
    if module == "array_api_strict":
        return _from_name("strict:" + spec._device)
    if module == "cupy":
        return _from_name(f"cuda:{spec.id}")
    if module == "torch":
        return _from_name(f"torch:{spec.type}:{spec.index or 0}" if spec.type == "cuda"
                          else f"torch:{spec.type}")
    if module in ("jax", "jaxlib"):
        return _from_name(f"jax:{spec.platform}" if spec.platform == "cpu"
                          else f"jax:cuda:{spec.id}")
    raise DeviceError(f"unknown device {spec!r}: expected a device name such as 'cpu' or "
                      "'cuda:0', a multigrad Device, or a CuPy, array_api_strict, PyTorch or "
                      "JAX device")


def device_of(array) -> Device:
    """The ``Device`` an array of any supported library lives on."""
    native = array_api_compat.device(array)
    key = (type(array), native if _hashable(native) else id(native))
    dev = _by_array_type.get(key)
    if dev is not None:
        return dev
    xp = array_api_compat.array_namespace(array)
    module = xp.__name__
    if module == "array_api_compat.numpy":
        dev = get_device("cpu")
    elif module == "array_api_compat.cupy":
        dev = get_device(f"cuda:{native.id}")
    elif module in ("array_api_strict", "array_api_compat.torch", "jax.numpy"):
        dev = get_device(native)
    elif module == "array_api_compat.dask.array":
        dev = get_device("dask" if native == "cpu" else "dask:cuda")
    else:
        with _lock:
            dev = _generic_device(xp, native)
            _by_name.setdefault(dev.name, dev)
    _by_array_type[key] = dev
    return dev


def joined_device(op: str, first: Device, other: Device) -> Device:
    """The device of an op whose arguments are on ``first`` and ``other`` (not the same): a
    lazy device when the other is its host (the host array joins its graph, "host-by-Dask"),
    else a MixedDeviceError naming the op and both devices."""
    if first.lazy and other is first.host:
        return first
    if other.lazy and first is other.host:
        return other
    hint = ("; a Dask array meets only arrays of its host, " + (first if first.lazy else
            other).host.name) if first.lazy or other.lazy else ""
    raise MixedDeviceError(f"{op}: arguments are on different devices ({first.name} and "
                           f"{other.name}); move one with .to(){hint}")


def unknown_size(n) -> bool:
    """Whether a size in a shape is unknown until computed: the standard's None, or Dask's
    nan (after a boolean mask)."""
    return n is None or n != n


def same_shape(a, b) -> bool:
    """Whether two shapes are the same, an unknown size (None or nan) matching an unknown
    one: compared without computing anything."""
    return len(a) == len(b) and all(x == y or (unknown_size(x) and unknown_size(y))
                                    for x, y in zip(a, b))


def is_array(x) -> bool:
    """Whether ``x`` is an array of a supported library or a multigrad ``Tensor``: anything
    with ``__array_namespace__``, and the arrays array-api-compat knows that lack it (PyTorch
    tensors, Dask arrays)."""
    return hasattr(x, "__array_namespace__") or array_api_compat.is_array_api_obj(x)


def is_lazy_array(x) -> bool:
    """Whether ``x`` is an array of a lazy library (a Dask array)."""
    return hasattr(x, "__dask_graph__")


def _hashable(obj) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True


def devices() -> list[Device]:
    """The devices this machine can use: the CPU, each CUDA GPU that CuPy sees,
    array_api_strict's devices, and those of PyTorch, JAX and Dask where each is installed
    ("torch:cpu", "torch:cuda:N", "jax:cpu", JAX's GPUs, "dask", "dask:cuda").

    Listing JAX's devices makes them, and making a JAX device turns on JAX's
    ``jax_enable_x64`` for the process (JAX has no float64 without it): JAX code of your own
    then makes float64 arrays from Python floats and float64 NumPy arrays."""
    found = [get_device("cpu")]
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # no CuPy, or no driver or GPU: no CUDA devices
        count = 0
    found += [get_device(f"cuda:{i}") for i in range(count)]
    if importlib.util.find_spec("array_api_strict") is not None:
        found += [get_device(f"strict:{d}") for d in _STRICT_DEVICES]
    if importlib.util.find_spec("torch") is not None:
        import torch
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        found += [get_device("torch:cpu")] + [get_device(f"torch:cuda:{i}") for i in range(gpus)]
    if importlib.util.find_spec("jax") is not None:
        found.append(get_device("jax:cpu"))
        import jax
        try:
            gpus = len(jax.devices("gpu"))
        except RuntimeError:  # a CPU-only jaxlib
            gpus = 0
        found += [get_device(f"jax:cuda:{i}") for i in range(gpus)]
    if importlib.util.find_spec("dask") is not None:
        found.append(get_device("dask"))
        if count:
            found.append(get_device("dask:cuda"))
    return found


_default = threading.local()


def set_default_device(spec) -> Device:
    """Set the device that new tensors use when none is given (per thread); returns it."""
    _default.device = get_device(spec) if spec is not None else None
    return get_default_device()


def get_default_device() -> Device:
    """The default device: ``set_default_device``'s, else ``$MULTIGRAD_DEVICE``, else "cpu"."""
    dev = getattr(_default, "device", None)
    if dev is None:
        dev = get_device(os.environ.get("MULTIGRAD_DEVICE") or "cpu")
    return dev
