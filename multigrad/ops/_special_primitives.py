"""How ``multigrad.special`` declares its primitives: forwards by the device's kernel or by
standard calls, rules that multiply by a derivative, and arguments made floating tensors."""

from __future__ import annotations

from ..autograd import Tensor, defprimitive
from ..backends import device_of
from ._special_fallbacks import FALLBACKS
from .creation import asarray
from .dtypes import result_type
from .manipulation import astype

__all__ = ["kernel", "recorded", "unary", "binary", "floating"]


def _native(name: str, arrays, params):
    """The device's kernel for ``name`` applied to ``arrays``, or None where it has none."""
    device = device_of(arrays[0])
    if name == "polygamma":
        n = params["n"]
        native = device.special("psi" if n == 0 else "polygamma")
        if native is None:
            return None
        return native(*arrays) if n == 0 else native(n, *arrays)
    native = device.special(name)
    return None if native is None else native(*arrays)


def kernel(name: str):
    """``run(xp, arrays, params)``: special function ``name`` by the device's kernel, else by
    standard calls."""
    fallback = FALLBACKS[name]

    def run(xp, arrays, params):
        out = _native(name, arrays, params)
        if out is None:
            return fallback(xp, *arrays, **params)
        # SciPy's polygamma computes in float64 whatever it is given
        dtype = arrays[0].dtype
        return out if out.dtype == dtype else xp.astype(out, dtype)
    return run


def recorded(prim, xp, *arrays, **params):
    """``prim`` inside a rule: recorded on tensors (higher order), its forward on raw arrays."""
    if any(isinstance(a, Tensor) for a in arrays):
        return prim(*arrays, **params)
    return prim.forward(xp, *arrays, **params)


def unary(name: str, derivative, forward=None):
    """A primitive of one argument whose VJP and JVP multiply by ``derivative(xp, ans, x)``."""
    if forward is None:
        run = kernel(name)

        def forward(xp, x):
            return run(xp, (x,), {})
    return defprimitive(
        name, forward=forward,
        vjp=(lambda xp, g, ans, x, **p: g * derivative(xp, ans, x, **p),),
        jvp=(lambda xp, t, ans, x, **p: t * derivative(xp, ans, x, **p),))


def binary(name: str, d_x, d_y):
    """A primitive of two arguments; ``d_x(xp, ans, x, y)`` and ``d_y(...)`` its partials."""
    run = kernel(name)

    def forward(xp, x, y):
        return run(xp, (x, y), {})
    return defprimitive(
        name, forward=forward,
        vjp=(lambda xp, g, ans, x, y: g * d_x(xp, ans, x, y),
             lambda xp, g, ans, x, y: g * d_y(xp, ans, x, y)),
        jvp=(lambda xp, t, ans, x, y: t * d_x(xp, ans, x, y),
             lambda xp, t, ans, x, y: t * d_y(xp, ans, x, y)))


def floating(name: str, *args):
    """``args`` as tensors of one floating dtype on one device (Python scalars and integer
    tensors take the floating dtype of the others, or the device's default)."""
    args = [a if isinstance(a, (Tensor, int, float)) else asarray(a) for a in args]
    tensors = [a for a in args if isinstance(a, Tensor)]
    if not tensors:
        raise TypeError(f"special.{name}: expected at least one tensor argument, got "
                        f"{', '.join(type(a).__name__ for a in args)}")
    if any(t.dtype.kind == "complex floating" for t in tensors):
        raise TypeError(f"special.{name}: complex arguments are not supported")
    floats = [t for t in tensors if t.dtype.kind == "real floating"]
    device = tensors[0].device
    dtype = result_type(*floats) if floats else device.default_dtype()
    return [(a if a.dtype == dtype else astype(a, dtype)) if isinstance(a, Tensor)
            else asarray(a, dtype=dtype, device=device) for a in args]
