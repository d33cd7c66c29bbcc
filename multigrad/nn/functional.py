"""Layers as functions: ``multigrad.nn.functional`` (the modules call these).

Everything here is composed from multigrad's differentiable ops and two primitives of nn's
own with closed-form rules (convolution patches, standardization), so it differentiates in
reverse and forward mode, to any order, on every device. Activations and losses are
re-exported, so ``import multigrad.nn.functional as F`` gives ``F.relu``, ``F.cross_entropy``...
"""

from __future__ import annotations

from ..autograd import Tensor, no_grad
from ..batching._marks import mark_draw, random_batch
from ..ops import (asarray, gelu, log_softmax, reshape, relu, sigmoid, softmax, softplus, sqrt,
                   tanh, take, where)
from ._convolution import convolution, pool
from ._normalization import standardize
from .init import make_generator
from .losses import (binary_cross_entropy_with_logits, check_floating, check_indices,
                     cross_entropy, mse_loss, nll_loss, on_device_of)

__all__ = ["linear", "conv1d", "conv2d", "max_pool2d", "avg_pool2d", "batch_norm",
           "layer_norm", "dropout", "embedding", "relu", "sigmoid", "tanh", "gelu", "softmax",
           "log_softmax", "softplus", "mse_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy_with_logits"]


def __dir__():
    # what ``dir(F)`` and tab completion show: the functions, not this module's imports
    return sorted(__all__)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` with ``weight`` of shape ``(out_features, in_features)``."""
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: expected input of shape (..., {weight.shape[-1]}) for weight "
                         f"of shape {weight.shape}, got {input.shape}")
    out = input @ weight.mT
    return out if bias is None else out + bias


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of ``input`` ``(N, C, L)`` with ``weight`` ``(O, C/groups, k)``.

    ``padding`` is an int or ``"valid"``/``"same"`` (zeros on both sides).
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of ``input`` ``(N, C, H, W)`` with ``weight``
    ``(O, C/groups, kH, kW)``, plus ``bias`` ``(O,)``.

    ``stride``, ``padding`` (zeros) and ``dilation`` are ints or pairs; ``padding`` may also be
    ``"valid"`` or ``"same"`` (stride 1). Output size per dim:
    ``(n + 2 padding - dilation (k - 1) - 1) // stride + 1``.
    """
    return convolution(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1) -> Tensor:
    """Maximum over each window of ``input`` ``(N, C, H, W)`` or ``(C, H, W)``.

    ``stride`` defaults to ``kernel_size``; padding counts as ``-inf``. Tied maxima share the
    gradient evenly.
    """
    return pool(input, "max", kernel_size, stride, padding, dilation, 2, "max_pool2d")


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0,
               count_include_pad: bool = True) -> Tensor:
    """Mean over each window of ``input`` ``(N, C, H, W)`` or ``(C, H, W)``.

    ``stride`` defaults to ``kernel_size``; padded zeros count in the mean unless
    ``count_include_pad=False``.
    """
    return pool(input, "avg", kernel_size, stride, padding, 1, 2, "avg_pool2d",
                count_include_pad=count_include_pad)


def _channel_shape(x: Tensor) -> tuple:
    """The shape that broadcasts a per-channel ``(C,)`` vector against ``(N, C, ...)``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _update_running(running: Tensor | None, batch_value: Tensor, momentum: float) -> None:
    """``running <- (1 - momentum) running + momentum batch_value``, rebinding the tensor (its
    old array is never written, so anything that saved it stays right)."""
    if running is None:
        return
    with no_grad():
        new = (1 - momentum) * running + momentum * batch_value.detach()
        running.data = new.data


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) of ``input`` ``(N, C, ...)``.

    In training (or without running statistics) the batch's mean and biased variance over every
    axis but 1 normalise, and the running statistics (when given) move towards the batch's mean
    and unbiased variance by ``momentum``, updated in place. Otherwise the running statistics
    normalise. Then ``weight`` scales and ``bias`` shifts, per channel.
    """
    check_floating(input, "batch_norm")
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...), got {input.shape}")
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (input.shape[1],):
            raise ValueError(f"batch_norm: {name} must have shape ({input.shape[1]},) for input "
                             f"of shape {input.shape}, got {t.shape}")
    shape = _channel_shape(input)
    if training or running_mean is None or running_var is None:
        axes = (0,) + tuple(range(2, input.ndim))
        count = input.size // input.shape[1]
        if count < 2 and training:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got "
                             f"input of shape {input.shape}")
        out, mu, v = standardize(input, axes, eps)
        if training:
            _update_running(running_mean, reshape(mu, (input.shape[1],)), momentum)
            _update_running(running_var, reshape(v, (input.shape[1],)) * (count / (count - 1)),
                            momentum)
    else:
        out = (input - reshape(running_mean, shape)) / sqrt(reshape(running_var, shape) + eps)
    if weight is not None:
        out = out * reshape(weight, shape)
    if bias is not None:
        out = out + reshape(bias, shape)
    return out


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise ``input`` over its last dims, of shape ``normalized_shape``, then scale by
    ``weight`` and shift by ``bias`` (both of that shape)."""
    check_floating(input, "layer_norm")
    normalized_shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                        else tuple(normalized_shape))
    k = len(normalized_shape)
    if k == 0 or input.shape[input.ndim - k:] != normalized_shape or input.ndim < k:
        raise ValueError(f"layer_norm: expected input of shape (..., "
                         f"{', '.join(map(str, normalized_shape))}), got {input.shape}")
    out, _, _ = standardize(input, tuple(range(input.ndim - k, input.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def dropout(input: Tensor, p: float = 0.5, training: bool = True, *, generator=None,
            seed: int | None = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the others by ``1 / (1 - p)``.

    The mask is drawn on ``input``'s device from ``generator`` (made by ``device.random``), or
    from a new generator seeded with ``seed``; inside ``vmap``, one per example unless the vmap
    was asked for ``randomness="same"``. The identity when not ``training``.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    gen = make_generator(input.device, seed, generator)
    shape, levels = random_batch(input.shape)
    keep = mark_draw(asarray(gen.uniform(shape, input.dtype), device=input.device), levels) >= p
    if keep.device is not input.device:
        raise ValueError(f"dropout: the generator draws on {keep.device.name} but the input is "
                         f"on {input.device.name}; make it with that device's random()")
    if p == 1.0:
        return where(keep, input, 0.0)  # keeps nothing; avoids dividing by zero
    return where(keep, input * (1.0 / (1.0 - p)), 0.0)


def embedding(input, weight: Tensor) -> Tensor:
    """Rows of ``weight`` ``(num_embeddings, dim)`` at integer indices ``input`` (any shape);
    the result has shape ``input.shape + (dim,)``. Repeated indices accumulate their
    gradients."""
    indices = on_device_of(input, weight, "embedding")
    if not indices.device.xp.isdtype(indices.data.dtype, "integral"):
        raise TypeError(f"embedding: indices must have an integer dtype, not "
                        f"{indices.dtype.name}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must have shape (num_embeddings, dim), got "
                         f"{weight.shape}")
    indices = check_indices(indices, weight.shape[0], "indices", "embedding")
    rows = take(weight, reshape(indices, (-1,)), axis=0)
    return reshape(rows, indices.shape + (weight.shape[1],))
