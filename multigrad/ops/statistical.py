"""Statistical functions (reductions) of the array API standard.

Primitives: sum, prod, mean, var, std, max, min, cumulative_sum, cumulative_prod.
(``count_nonzero`` is a searching function in the standard: see ``searching``.)

Conventions
-----------
- ``axis`` is None, an int or a tuple; rules expand the cotangent back over the reduced axes,
  then broadcast.
- max/min: tied maxima (minima) split the cotangent evenly, and the JVP is the mean of the
  tangents over the ties, so both modes stay each other's transpose (central differences agree
  for two tied elements); second derivatives are 0. A reduction over an empty axis has no
  value (an error, as in NumPy); the reductions of an empty array over non-empty axes, and
  sum and prod over empty axes (0 and 1), have empty gradients.
- prod and cumulative_prod never divide by ``x``: the derivative is a product of the *other*
  factors, built from exclusive cumulative products (prod, O(n)) or from an n-by-n table of
  cumulative products with one factor left out (cumulative_prod, O(n**2) memory along the axis),
  so inputs with one or several zeros get exact gradients, to every order.
- std: the gradient at a constant slice (std = 0, one element included) is taken as 0 (a
  subgradient; central differences see ``|h| std(u)``, also 0), and so is its second
  derivative, with the division sanitised so it never becomes ``inf * 0 = nan``. var of one
  element (``correction=0``) is the constant 0: derivatives 0.
- var/std with ``N - correction <= 0``: the forward is not finite and the gradient is nan.
- Complex input (JAX's convention, see ``multigrad.transforms``): sum, mean, prod and the
  cumulative ones are holomorphic and keep their formulas; var and std are real,
  ``var = sum(|x - mean(x)|**2) / (N - correction)`` (the variances of the real and the
  imaginary parts added, on every backend), with gradient
  ``2 conj(x - mean(x)) / (N - correction)``; max and min refuse complex input (the standard
  has no order on complex numbers).
"""

from __future__ import annotations

import math

from ..autograd import LINEAR, Tensor, defprimitive
from ..backends import is_lazy_array
from ._helpers import (array_device, conj_if, is_complex, library_axis, native_dtype,
                       normalize_axis, real_forward, real_only, reshaped, where_or_zero)

__all__ = ["sum", "prod", "mean", "var", "std", "max", "min", "cumulative_sum",
           "cumulative_prod"]


# -- helpers shared by the rules (both namespaces) -----------------------------------------------

def expand_reduced(xp, g, x, axis, keepdims):
    """Broadcast a reduction's cotangent ``g`` back to the shape of the input ``x`` (an array,
    or its shape). On a Dask array, against the array itself: no shape can name a size
    unknown until computed (after a mask), and the result takes the array's chunks."""
    x_shape = tuple(x.shape) if hasattr(x, "shape") else tuple(x)
    if not keepdims:
        axes = normalize_axis(axis, len(x_shape))
        g = reshaped(xp, g, tuple(1 if k in axes else n for k, n in enumerate(x_shape)))
    if hasattr(x, "shape") and (is_lazy_array(x) or isinstance(x, Tensor) and x.device.lazy):
        return g + xp.zeros_like(x)  # in x's chunks: Dask broadcasts into a single chunk
    return xp.broadcast_to(g, x_shape)


def reduced_size(x_shape, axis, op: str = "this reduction") -> int:
    """How many elements each result of a reduction over ``axis`` combines; a ValueError
    naming ``op`` where that number is unknown until computed (a Dask array after a mask)."""
    sizes = [x_shape[k] for k in normalize_axis(axis, len(x_shape))]
    if not all(n == n and n is not None for n in sizes):
        raise ValueError(f"{op}: its gradient needs the number of elements it reduces, which "
                         f"is unknown until computed (shape {tuple(x_shape)}, a Dask array "
                         "picked by a mask); compute the sizes first (multigrad.persist, or "
                         "Dask's compute_chunk_sizes())")
    return math.prod(sizes)


def _count(xp, x, axis):
    """``reduced_size`` as a number, or counted inside the graph where it is unknown."""
    sizes = [x.shape[k] for k in normalize_axis(axis, x.ndim)]
    if all(n == n and n is not None for n in sizes):
        return math.prod(sizes)
    return xp.sum(xp.ones_like(x), axis=axis, keepdims=True)


def _upto(axis: int, stop_or_slice):
    """An index tuple that slices only along ``axis`` (strict wants every axis named)."""
    return (slice(None),) * axis + (stop_or_slice, Ellipsis)


def _exclusive_prod_along(xp, x, axis: int):
    """Product of the other elements along one axis, without dividing (zeros are fine)."""
    n = x.shape[axis]
    # before[j] = x[0] * ... * x[j-1];  after[j] = x[j+1] * ... * x[n-1]
    before = xp.cumulative_prod(x, axis=axis, include_initial=True)[_upto(axis, slice(0, n))]
    after_flipped = xp.cumulative_prod(xp.flip(x, axis=axis), axis=axis, include_initial=True)
    after = xp.flip(after_flipped[_upto(axis, slice(0, n))], axis=axis)
    return before * after


def exclusive_prod(xp, x, axes: tuple):
    """For each element, the product of every other element of its slice over ``axes``.

    Over several axes: the others in the same row of the first axis, times the exclusive
    product (over the remaining axes) of the first axis' products.
    """
    if not axes:
        return xp.ones_like(x)
    first, rest = axes[0], axes[1:]
    out = _exclusive_prod_along(xp, x, first)
    if rest:
        out = out * exclusive_prod(xp, xp.prod(x, axis=first, keepdims=True), rest)
    return out


def _leave_one_out_cumprod(xp, x, axis: int, include_initial: bool):
    """The table behind cumulative_prod's derivatives, and the mask of its live entries.

    With ``j`` at position ``axis`` and ``k`` at ``axis + 1``:
    ``table[j, k] = prod(x[i] for i <= k if i != j)`` (``k`` shifted by one with
    ``include_initial``), which is ``d out[k] / d x[j]`` where ``live[j, k]`` (``j`` is among
    the factors of ``out[k]``) and unused elsewhere.
    """
    n = x.shape[axis]
    m = n + 1 if include_initial else n
    trailing = (1,) * (x.ndim - axis - 1)
    rows = xp.reshape(xp.arange(n, device=array_device(x)), (n, 1) + trailing)
    cols = xp.reshape(xp.arange(m, device=array_device(x)), (1, m) + trailing)
    shift = 1 if include_initial else 0
    diagonal = rows == xp.reshape(xp.arange(n, device=array_device(x)), (1, n) + trailing)
    x_rows = xp.reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])
    # factor j replaced by 1 in row j, then the running product along the row
    table = xp.cumulative_prod(xp.where(diagonal, 1.0, x_rows), axis=axis + 1,
                               include_initial=include_initial)
    return table, rows + shift <= cols


def _insert_axis(xp, a, axis: int):
    return xp.reshape(a, a.shape[:axis] + (1,) + a.shape[axis:])


# -- sum, prod, mean ------------------------------------------------------------------------------

sum_p = defprimitive(
    "sum",
    forward=lambda xp, x, axis, dtype, keepdims: xp.sum(
        x, axis=axis, dtype=native_dtype(xp, dtype), keepdims=keepdims),
    vjp=(lambda xp, g, ans, x, axis, dtype, keepdims:
         expand_reduced(xp, g, x, axis, keepdims),),
    jvp=(LINEAR,),
)


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    """Sum of the elements of ``x`` over ``axis`` (all axes if None)."""
    return sum_p(x, axis=library_axis(x, axis, "sum"), dtype=dtype, keepdims=keepdims)


prod_p = defprimitive(
    "prod",
    forward=lambda xp, x, axis, dtype, keepdims: xp.prod(
        x, axis=axis, dtype=native_dtype(xp, dtype), keepdims=keepdims),
    # d prod / d x[j] = product of the other factors (no division, so zeros are exact)
    vjp=(lambda xp, g, ans, x, axis, dtype, keepdims:
         expand_reduced(xp, g, x, axis, keepdims)
         * exclusive_prod(xp, x, normalize_axis(axis, x.ndim)),),
    jvp=(lambda xp, t, ans, x, axis, dtype, keepdims:
         xp.sum(t * exclusive_prod(xp, x, normalize_axis(axis, x.ndim)), axis=axis,
                keepdims=keepdims),),
)


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    """Product of the elements of ``x`` over ``axis`` (all axes if None)."""
    return prod_p(x, axis=library_axis(x, axis, "prod"), dtype=dtype, keepdims=keepdims)


mean_p = defprimitive(
    "mean",
    forward="mean",
    vjp=(lambda xp, g, ans, x, axis, keepdims:
         expand_reduced(xp, g, x, axis, keepdims) / _count(xp, x, axis),),
    jvp=(LINEAR,),
)


def mean(x, /, *, axis=None, keepdims=False):
    """Arithmetic mean of ``x`` over ``axis`` (all axes if None)."""
    return mean_p(x, axis=library_axis(x, axis, "mean"), keepdims=keepdims)


# -- var, std -------------------------------------------------------------------------------------

def _centered(xp, x, axis):
    return x - xp.mean(x, axis=axis, keepdims=True)


def _spread_forward(name):
    """var or std: the namespace's own for real input; for complex input (which the standard
    leaves out, and array-api-strict refuses) the variance of the real parts plus that of the
    imaginary parts, the mean of |x - mean|**2, a real result."""
    def forward(xp, x, axis, correction, keepdims):
        if not is_complex(x):
            return getattr(xp, name)(x, axis=axis, correction=correction, keepdims=keepdims)
        total = (xp.var(xp.real(x), axis=axis, correction=correction, keepdims=keepdims)
                 + xp.var(xp.imag(x), axis=axis, correction=correction, keepdims=keepdims))
        return total if name == "var" else xp.sqrt(total)
    forward.__name__ = forward.__qualname__ = name
    return forward


def _dof(x_shape, axis, correction) -> float:
    """``1 / (N - correction)``, nan where that is not positive (the forward is not finite)."""
    dof = reduced_size(x_shape, axis, "var and std") - correction
    return 1.0 / dof if dof > 0 else math.nan


def _var_vjp(xp, g, ans, x, axis, correction, keepdims):
    # d var = 2 Re(conj(x - mean) dx) / (N - correction); the mean's own derivative sums to zero
    scale = 2.0 * _dof(x.shape, axis, correction)
    centered = conj_if(xp, _centered(xp, x, axis), is_complex(x))
    return expand_reduced(xp, g, x, axis, keepdims) * (scale * centered)


def _var_jvp(xp, t, ans, x, axis, correction, keepdims):
    scale = 2.0 * _dof(x.shape, axis, correction)
    complex_ = is_complex(x)
    dot = xp.sum(t * conj_if(xp, _centered(xp, x, axis), complex_), axis=axis,
                 keepdims=keepdims)
    return scale * (xp.real(dot) if complex_ else dot)


var_p = defprimitive(
    "var",
    forward=_spread_forward("var"),
    vjp=(_var_vjp,),
    jvp=(_var_jvp,),
)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Variance of ``x`` over ``axis``, dividing by ``N - correction``."""
    return var_p(x, axis=library_axis(x, axis, "var"), correction=correction, keepdims=keepdims)


def _std_scale(xp, ans, x, axis, correction):
    """``1 / ((N - correction) std)``, and 0 where std == 0 (the subgradient there; double
    where: no 1/0). Only that point is guarded: a nan std (N - correction <= 0) stays nan."""
    zero = ans == 0
    safe = xp.where(zero, 1.0, ans)
    return zero, _dof(x.shape, axis, correction) / safe


def _std_vjp(xp, g, ans, x, axis, correction, keepdims):
    # d std = d var / (2 std) = Re(conj(x - mean) dx) / ((N - correction) std)
    zero, scale = _std_scale(xp, ans, x, axis, correction)
    g_scaled = xp.where(zero, 0.0, g * scale)
    centered = conj_if(xp, _centered(xp, x, axis), is_complex(x))
    return expand_reduced(xp, g_scaled, x.shape, axis, keepdims) * centered


def _std_jvp(xp, t, ans, x, axis, correction, keepdims):
    zero, scale = _std_scale(xp, ans, x, axis, correction)
    complex_ = is_complex(x)
    dot = xp.sum(t * conj_if(xp, _centered(xp, x, axis), complex_), axis=axis,
                 keepdims=keepdims)
    return xp.where(zero, 0.0, (xp.real(dot) if complex_ else dot) * scale)


std_p = defprimitive(
    "std",
    forward=_spread_forward("std"),
    vjp=(_std_vjp,),
    jvp=(_std_jvp,),
)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Standard deviation of ``x`` over ``axis``, dividing by ``N - correction``."""
    return std_p(x, axis=library_axis(x, axis, "std"), correction=correction, keepdims=keepdims)


# -- max, min -------------------------------------------------------------------------------------

def _ties(xp, ans, x, axis, keepdims):
    """Where ``x`` attains the extremum, and how many elements tie for it (keepdims shape)."""
    hit = x == expand_reduced(xp, ans, x, axis, keepdims)  # x itself: its sizes may be unknown
    count = xp.sum(xp.astype(hit, x.dtype), axis=axis, keepdims=True)
    return hit, count


def _extremum(name):
    """max or min: ``name``'s primitive (complex numbers have no order in the standard, and
    its rules refuse them)."""
    def vjp(xp, g, ans, x, axis, keepdims):
        # tied elements share the cotangent evenly
        real_only(name, x)
        hit, count = _ties(xp, ans, x, axis, keepdims)
        return where_or_zero(xp, hit, expand_reduced(xp, g, x, axis, keepdims) / count)

    def jvp(xp, t, ans, x, axis, keepdims):
        # the mean tangent over the ties: the transpose of the even split above
        real_only(name, x)
        hit, count = _ties(xp, ans, x, axis, keepdims)
        total = xp.sum(where_or_zero(xp, hit, t), axis=axis, keepdims=True)
        out = total / count
        return out if keepdims else reshaped(xp, out, ans.shape)

    def forward(xp, x, axis, keepdims):
        return getattr(xp, name)(x, axis=axis, keepdims=keepdims)
    return defprimitive(name, forward=real_forward(name, forward), vjp=(vjp,), jvp=(jvp,))


max_p = _extremum("max")
min_p = _extremum("min")


def max(x, /, *, axis=None, keepdims=False):
    """Maximum of ``x`` over ``axis``; tied maxima share the gradient evenly."""
    return max_p(x, axis=library_axis(x, axis, "max"), keepdims=keepdims)


def min(x, /, *, axis=None, keepdims=False):
    """Minimum of ``x`` over ``axis``; tied minima share the gradient evenly."""
    return min_p(x, axis=library_axis(x, axis, "min"), keepdims=keepdims)


# -- cumulative sums and products -----------------------------------------------------------------

def _cumulative_axis(x, axis, name) -> int:
    """The standard's axis rule (optional for 1-D input only), as a non-negative int."""
    if x.ndim == 0:  # the standard's rule; NumPy's cumsum would give one element, strict fails
        raise ValueError(f"{name}: expected an array of one or more dimensions, got a 0-d array")
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"{name}: axis is required for a {x.ndim}-dimensional array")
        return 0
    return normalize_axis(axis, x.ndim, name)[0]


def _cumsum_vjp(xp, g, ans, x, axis, dtype, include_initial):
    # out[k] sums x[j] for j <= k, so x[j] gets the reversed running sum of g from j on
    reversed_sum = xp.flip(xp.cumulative_sum(xp.flip(g, axis=axis), axis=axis), axis=axis)
    if include_initial:  # out[0] is the empty sum: it depends on no x
        reversed_sum = reversed_sum[_upto(axis, slice(1, None))]
    return reversed_sum


cumulative_sum_p = defprimitive(
    "cumulative_sum",
    forward=lambda xp, x, axis, dtype, include_initial: xp.cumulative_sum(
        x, axis=axis, dtype=native_dtype(xp, dtype), include_initial=include_initial),
    vjp=(_cumsum_vjp,),
    jvp=(LINEAR,),
)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """Running sums of ``x`` along ``axis`` (starting with 0 if ``include_initial``)."""
    return cumulative_sum_p(x, axis=_cumulative_axis(x, axis, "cumulative_sum"), dtype=dtype,
                            include_initial=include_initial)


def _cumprod_vjp(xp, g, ans, x, axis, dtype, include_initial):
    table, live = _leave_one_out_cumprod(xp, x, axis, include_initial)
    terms = xp.where(live, _insert_axis(xp, g, axis) * table, 0.0)
    return xp.sum(terms, axis=axis + 1)


def _cumprod_jvp(xp, t, ans, x, axis, dtype, include_initial):
    table, live = _leave_one_out_cumprod(xp, x, axis, include_initial)
    terms = xp.where(live, _insert_axis(xp, t, axis + 1) * table, 0.0)
    return xp.sum(terms, axis=axis)


cumulative_prod_p = defprimitive(
    "cumulative_prod",
    forward=lambda xp, x, axis, dtype, include_initial: xp.cumulative_prod(
        x, axis=axis, dtype=native_dtype(xp, dtype), include_initial=include_initial),
    vjp=(_cumprod_vjp,),
    jvp=(_cumprod_jvp,),
)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    """Running products of ``x`` along ``axis`` (starting with 1 if ``include_initial``)."""
    return cumulative_prod_p(x, axis=_cumulative_axis(x, axis, "cumulative_prod"), dtype=dtype,
                             include_initial=include_initial)
