"""Standardization over some axes as one primitive, for batch and layer normalization.

``(x - mean) / sqrt(var + eps)`` composed from ops makes about nine full-size arrays in its
forward and some twenty in its backward (each op's rule on its own). As one primitive with
the closed-form rules it makes five forward and seven backward, and keeps only its outputs:
with ``y`` the result, ``r = 1 / sqrt(var + eps)`` and means over the axes,

    dx = r g_y - r mean(g_y) - r mean(g_y y) y  +  g_mean / n  +  2 g_var y / (n r)

(the last two terms from the mean and the variance, which are outputs too: batch norm moves
its running statistics with them), and the JVP is the same operator: the derivative of
``y`` in ``x`` is symmetric.
"""

from __future__ import annotations

import math

from ..autograd import defprimitive

__all__ = ["standardize"]


def _standardize(xp, x, *, axes, eps):
    mu = xp.mean(x, axis=axes, keepdims=True)
    centred = x - mu
    v = xp.mean(centred * centred, axis=axes, keepdims=True)
    return centred / xp.sqrt(v + eps), mu, v


def _standardize_vjp(xp, g, ans, x, *, axes, eps):
    g_y, g_mu, g_v = g
    y, _, v = ans
    n = math.prod(y.shape[a] for a in axes)
    r = 1.0 / xp.sqrt(v + eps)
    mean_g = xp.mean(g_y, axis=axes, keepdims=True)
    mean_gy = xp.mean(g_y * y, axis=axes, keepdims=True)
    # per-channel coefficients first, so that the full-size arrays are few
    of_y = (2.0 / n) * g_v / r - r * mean_gy
    constant = g_mu / n - r * mean_g
    return r * g_y + (y * of_y + constant)


def _standardize_jvp(xp, t, ans, x, *, axes, eps):
    y, _, v = ans
    r = 1.0 / xp.sqrt(v + eps)
    mean_t = xp.mean(t, axis=axes, keepdims=True)
    mean_ty = xp.mean(t * y, axis=axes, keepdims=True)
    return r * t - (r * mean_t + (r * mean_ty) * y), mean_t, (2.0 * mean_ty) / r


# Internal (register=False): tests/test_nn_layers.py checks it against central differences
# through batch and layer norm, and directly with cotangents on all three outputs.
_standardize_p = defprimitive("standardize", forward=_standardize, vjp=(_standardize_vjp,),
                              jvp=(_standardize_jvp,), multi_output=True, register=False)


def standardize(x, axes: tuple, eps: float):
    """``((x - mean) / sqrt(var + eps), mean, var)``: the mean and the biased variance over
    ``axes``, kept as length-1 axes."""
    return _standardize_p(x, axes=tuple(axes), eps=float(eps))
