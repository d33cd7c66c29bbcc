"""Convolution and pooling, composed from standard slicing, ``stack`` and ``matmul``.

The input is padded (one ``setitem`` into a constant tensor), then for every kernel offset one
strided slice picks the input element that offset sees in every output position; stacking the
slices gives the patches ``(N, C, K, *out)`` with ``K = prod(kernel)`` (one primitive, whose
backward, another, adds the slices' cotangents into one array). Convolution is then one
batched matmul over groups, pooling a ``max`` or ``mean`` over the ``K`` axis. Python loops run
over kernel offsets only, never over output positions, and every step differentiates through
existing primitives, so gradients, tangents and higher orders come for free.

Conventions: a max-pooling window with tied maxima shares the cotangent evenly among them (the
rule of ``max``); average pooling counts padded zeros unless ``count_include_pad=False``.
"""

from __future__ import annotations

import itertools
import math

from ..autograd import LINEAR, Tensor, defprimitive
from ..ops import full, matmul, max as max_, mean, ones_like, reshape, setitem, sum as sum_
from ..ops._helpers import array_device, assigned, run

__all__ = ["as_tuple", "convolution", "pool"]

_SPATIAL = {1: "L", 2: "HW", 3: "DHW"}  # names of the spatial dims, for error messages


def as_tuple(value, n: int, what: str, op: str) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints as a tuple of ``n`` ints."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{op}: {what} must be an int or {n} ints, not {value!r}")
    return value


def _pad(x: Tensor, pads, value: float) -> Tensor:
    """``x`` with ``pads[d] = (before, after)`` elements of ``value`` around its last dims."""
    if not any(lo or hi for lo, hi in pads):
        return x
    nd = len(pads)
    inner = x.shape[x.ndim - nd:]
    shape = x.shape[:x.ndim - nd] + tuple(n + lo + hi for n, (lo, hi) in zip(inner, pads))
    key = (Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(inner, pads))
    return setitem(full(shape, value, dtype=x.dtype, device=x.device), key, x)


def _out_size(n: int, k: int, stride: int, dilation: int, who: str) -> int:
    span = dilation * (k - 1) + 1
    if n < span:
        raise ValueError(f"{who}: the (padded) input size {n} is smaller than the dilated kernel "
                         f"size {span}; the output would be empty")
    return (n - span) // stride + 1


def _gather_patches(xp, x, *, keys, axis, shape):
    return xp.stack([x[key] for key in keys], axis=axis)


def _scatter_patches(xp, g, *, keys, axis, shape):
    """The adjoint of the patches (col2im): each offset's slice of ``g`` added into its place
    of one zero array of ``shape``, rather than one full-size array per offset; in place where
    arrays allow it, functionally where they are immutable (JAX)."""
    out = xp.zeros(shape, dtype=g.dtype, device=array_device(g))
    lead = (slice(None),) * axis
    for k, key in enumerate(keys):
        out = assigned(out, key, out[key] + g[lead + (k, Ellipsis)])
    return out


# Two primitives, each the other's adjoint: the patches (im2col) and adding them back
# (col2im). As primitives, a compiled step runs col2im as one kernel of in-place additions, and
# a node of either keeps no array (both are linear; the input's shape is a parameter).
# Internal (register=False): nn's tests check them through every convolution and pooling layer,
# to second order.
_patches_p = defprimitive(
    "patches", forward=_gather_patches,
    vjp=(lambda xp, g, ans, x, *, keys, axis, shape: run(_scatter_p, xp, g, keys=keys,
                                                         axis=axis, shape=shape),),
    jvp=(LINEAR,), register=False)
_scatter_p = defprimitive(
    "scatter_patches", forward=_scatter_patches,
    vjp=(lambda xp, g, ans, y, *, keys, axis, shape: run(_patches_p, xp, g, keys=keys,
                                                         axis=axis, shape=shape),),
    jvp=(LINEAR,), register=False)


def _patches(x: Tensor, kernel, stride, dilation, who: str) -> tuple[Tensor, tuple]:
    """``(..., K, *out)``: the input element each kernel offset sees at every output position."""
    nd = len(kernel)
    lead = x.ndim - nd
    out = tuple(_out_size(n, k, s, d, who) for n, k, s, d in
                zip(x.shape[lead:], kernel, stride, dilation))
    keys = tuple((Ellipsis,) + tuple(slice(o * d, o * d + s * (m - 1) + 1, s)
                                     for o, d, s, m in zip(offset, dilation, stride, out))
                 for offset in itertools.product(*(range(k) for k in kernel)))
    return _patches_p(x, keys=keys, axis=lead, shape=x.shape), out


def _padding_pairs(padding, kernel, stride, dilation, op: str):
    """``(before, after)`` per spatial dim from an int, ints, ``"valid"`` or ``"same"``."""
    nd = len(kernel)
    if padding == "valid":
        return ((0, 0),) * nd
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' needs stride 1, not {stride}")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int, {nd} ints, 'valid' or 'same', not "
                         f"{padding!r}")
    return tuple((p, p) for p in as_tuple(padding, nd, "padding", op))


def convolution(x: Tensor, weight: Tensor, bias: Tensor | None, stride, padding, dilation,
                groups: int, nd: int, op: str, who: str | None = None) -> Tensor:
    """N-d cross-correlation of ``x`` ``(N, C, *spatial)`` with ``weight`` ``(O, C/groups,
    *kernel)``; ``op`` names the function and ``who`` the layer in error messages."""
    who = who or op
    spatial = _SPATIAL[nd]
    if weight.ndim != nd + 2:
        raise ValueError(f"{who}: weight must have shape (out_channels, in_channels/groups, "
                         f"{', '.join('k' + c for c in spatial)}), got {weight.shape}")
    out_channels, per_group = weight.shape[:2]
    kernel = weight.shape[2:]
    if not isinstance(groups, int) or groups < 1 or out_channels % groups:
        raise ValueError(f"{who}: groups={groups!r} must be a positive int dividing "
                         f"out_channels={out_channels}")
    channels = per_group * groups
    if x.ndim != nd + 2 or x.shape[1] != channels:
        raise ValueError(f"{who}: expected input of shape (N, {channels}, {', '.join(spatial)}), "
                         f"got {x.shape}")
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{who}: bias must have shape ({out_channels},), got {bias.shape}")
    stride = as_tuple(stride, nd, "stride", op)
    dilation = as_tuple(dilation, nd, "dilation", op)
    if min(stride + dilation) < 1:
        raise ValueError(f"{who}: stride and dilation must be positive, got stride={stride}, "
                         f"dilation={dilation}")
    pads = _padding_pairs(padding, kernel, stride, dilation, op)
    if min(min(p) for p in pads) < 0:
        raise ValueError(f"{who}: padding must not be negative, got {padding!r}")
    patches, out = _patches(_pad(x, pads, 0.0), kernel, stride, dilation, who)
    n = x.shape[0]
    k = math.prod(kernel)
    # (N, C, K, *out) -> (N, groups, C/groups * K, L): the (channel, offset) order of the weight
    patches = reshape(patches, (n, groups, per_group * k, math.prod(out)))
    w = reshape(weight, (groups, out_channels // groups, per_group * k))
    y = reshape(matmul(w, patches), (n, out_channels) + out)
    if bias is not None:
        y = y + reshape(bias, (out_channels,) + (1,) * nd)
    return y


def pool(x: Tensor, kind: str, kernel_size, stride, padding, dilation, nd: int, op: str,
         who: str | None = None, count_include_pad: bool = True) -> Tensor:
    """Max (``kind="max"``) or average pooling over the last ``nd`` dims of ``x``."""
    who = who or op
    kernel = as_tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else as_tuple(stride, nd, "stride", op)
    dilation = as_tuple(dilation, nd, "dilation", op)
    pad = as_tuple(padding, nd, "padding", op)
    if min(kernel + stride + dilation) < 1:
        raise ValueError(f"{who}: kernel_size, stride and dilation must be positive")
    if any(p < 0 or 2 * p > k for p, k in zip(pad, kernel)):
        # a window made only of padding would have no input element to pool
        raise ValueError(f"{who}: padding {pad} must be between 0 and half the kernel size "
                         f"{kernel}")
    spatial = _SPATIAL[nd]
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{who}: expected input of shape (N, C, {', '.join(spatial)}) or "
                         f"(C, {', '.join(spatial)}), got {x.shape}")
    pads = tuple((p, p) for p in pad)
    fill = -math.inf if kind == "max" else 0.0
    patches, _ = _patches(_pad(x, pads, fill), kernel, stride, dilation, who)
    axis = x.ndim - nd
    if kind == "max":
        return max_(patches, axis=axis)
    if count_include_pad or not any(pad):
        return mean(patches, axis=axis)
    counts, _ = _patches(_pad(ones_like(x), pads, 0.0), kernel, stride, dilation, who)
    return sum_(patches, axis=axis) / sum_(counts, axis=axis)
