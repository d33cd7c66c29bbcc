"""Loss functions, composed from multigrad's differentiable ops.

``cross_entropy`` works from logits through ``log_softmax`` (a primitive that shifts by the
maximum), and ``binary_cross_entropy_with_logits`` through ``softplus``, so both stay finite for
logits as large as 1000. Every loss takes ``reduction``: ``"mean"`` (the default), ``"sum"`` or
``"none"`` (one loss per sample). Targets of ``mse_loss`` and
``binary_cross_entropy_with_logits`` with an integer or boolean dtype (0/1 labels) are cast to
the input's dtype.
"""

from __future__ import annotations

from ..autograd import Tensor, _record
from ..backends import MixedDeviceError, is_array, same_shape
from ..ops import (asarray, astype, expand_dims, log_softmax, mean, softplus, squeeze,
                   sum as sum_, take_along_axis)

__all__ = ["mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy_with_logits"]


def on_device_of(value, like: Tensor, op: str) -> Tensor:
    """``value`` as a tensor on ``like``'s device: data (lists, arrays) is placed there, but a
    tensor on another device is an error, as in every op (moves are explicit)."""
    if isinstance(value, Tensor):
        if value.device is not like.device:
            raise MixedDeviceError(f"{op}: arguments are on different devices "
                                   f"({like.device.name} and {value.device.name}); move one "
                                   "with .to()")
        return value
    return asarray(value, device=like.device)


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum_(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def check_indices(indices: Tensor, n: int, what: str, op: str) -> Tensor:
    """``indices``, after raising IndexError naming ``op`` unless every one is in ``[0, n)``
    (one transfer to the host; two more to name an offender). A compiled step checks again on
    every call; on a lazy device the returned indices raise it when they compute."""
    def error(low, high):
        return IndexError(f"{op}: {what} must be in [0, {n}); got {low if low < 0 else high}")
    return _record.in_range(indices, 0, n, error)


def check_floating(input, op: str) -> None:
    """Raise TypeError naming ``op`` unless ``input`` is a tensor of a real floating dtype (or
    an array, left to the ops)."""
    if isinstance(input, Tensor):
        if input.dtype.kind != "real floating":
            raise TypeError(f"{op}: input must be a Tensor of a real floating-point dtype, got "
                            f"dtype {input.dtype.name}")
    elif not is_array(input):
        raise TypeError(f"{op}: input must be a Tensor of a real floating-point dtype, got a "
                        f"{type(input).__name__}")


def _as_values(target: Tensor, input: Tensor) -> Tensor:
    """Integer or boolean targets (0/1 labels) as values of ``input``'s dtype."""
    if target.dtype.kind in ("bool", "signed integer", "unsigned integer"):
        return astype(target, input.dtype)
    return target


def _same_shape(input: Tensor, target: Tensor, op: str) -> None:
    if not same_shape(input.shape, target.shape):  # (rows a Dask mask picked: nan)
        raise ValueError(f"{op}: input has shape {input.shape} but target has shape "
                         f"{target.shape}; they must match")


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)**2``, reduced."""
    check_floating(input, "mse_loss")
    target = _as_values(on_device_of(target, input, "mse_loss"), input)
    _same_shape(input, target, "mse_loss")
    return _reduce((input - target) ** 2, reduction, "mse_loss")


def _class_indices(log_probs: Tensor, target, op: str) -> Tensor:
    """Check integer class targets of shape ``(N, d1, ...)`` against ``(N, C, d1, ...)``."""
    target = on_device_of(target, log_probs, op)
    if not target.device.xp.isdtype(target.data.dtype, "integral"):
        raise TypeError(f"{op}: target has dtype {target.dtype.name}; class labels must be "
                        "integer class indices (convert them with multigrad.astype(target, "
                        "multigrad.int64))")
    expected = _index_shape(log_probs)
    if not same_shape(target.shape, expected):
        raise ValueError(f"{op}: input of shape {log_probs.shape} needs class indices of shape "
                         f"{expected}, got {target.shape}")
    return check_indices(target, log_probs.shape[1 if log_probs.ndim > 1 else 0],
                         "class indices", op)


def _index_shape(input: Tensor) -> tuple:
    """The shape of class-index targets for ``input`` ``(N, C, d1, ...)``: ``(N, d1, ...)``."""
    return input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()


def _check_probabilities(input: Tensor, target: Tensor) -> None:
    """A floating target of ``cross_entropy`` holds class probabilities, of input's shape; one
    of the class-index shape is labels in the wrong dtype."""
    if same_shape(target.shape, input.shape):
        return
    if same_shape(target.shape, _index_shape(input)):
        raise TypeError(f"cross_entropy: target of shape {target.shape} has dtype "
                        f"{target.dtype.name}; class labels must be integer class indices "
                        "(convert them with multigrad.astype(target, multigrad.int64)); a "
                        f"floating target holds class probabilities, of input's shape "
                        f"{input.shape}")
    raise ValueError(f"cross_entropy: target has shape {target.shape}; input of shape "
                     f"{input.shape} needs class probabilities of its shape (a floating dtype) "
                     f"or class indices of shape {_index_shape(input)} (an integer dtype)")


def _picked(log_probs: Tensor, target: Tensor) -> Tensor:
    """``log_probs[n, target[n, ...], ...]``: the log-probability of each sample's class."""
    axis = 1 if log_probs.ndim > 1 else 0
    picked = take_along_axis(log_probs, expand_dims(target, axis=axis), axis=axis)
    return squeeze(picked, axis=axis)


def nll_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices ``target`` ``(N, d1, ...)`` under
    log-probabilities ``input`` ``(N, C, d1, ...)`` (classes on axis 1; ``(C,)`` unbatched)."""
    target = _class_indices(input, target, "nll_loss")
    return _reduce(-_picked(input, target), reduction, "nll_loss")


def cross_entropy(input: Tensor, target, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits ``input`` ``(N, C, d1, ...)`` and ``target``.

    Parameters
    ----------
    input : Tensor
        Unnormalised scores, classes on axis 1 (or a single sample of shape ``(C,)``).
    target : Tensor or array_like
        Class indices of shape ``(N, d1, ...)`` (an integer dtype), or class probabilities of
        ``input``'s shape (a floating dtype).
    reduction : {"mean", "sum", "none"}
        "mean" averages over samples (and ``d1, ...``).
    label_smoothing : float
        ``eps`` in [0, 1]: the target becomes ``(1 - eps) * target + eps / C``.

    Returns
    -------
    Tensor
        ``-sum(target * log_softmax(input))`` over classes, reduced.
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    check_floating(input, "cross_entropy")
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have a class axis, got a 0-d tensor")
    axis = 1 if input.ndim > 1 else 0
    n_classes = input.shape[axis]
    log_probs = log_softmax(input, axis=axis)
    target = on_device_of(target, input, "cross_entropy")
    if target.device.xp.isdtype(target.data.dtype, "real floating"):
        _check_probabilities(input, target)
        if label_smoothing:
            target = (1 - label_smoothing) * target + label_smoothing / n_classes
        loss = -sum_(target * log_probs, axis=axis)
    else:
        target = _class_indices(log_probs, target, "cross_entropy")
        loss = -_picked(log_probs, target)
        if label_smoothing:
            # eps/C on every class: the mean of -log_probs over the classes, weighted by eps
            uniform = -mean(log_probs, axis=axis)
            loss = (1 - label_smoothing) * loss + label_smoothing * uniform
    return _reduce(loss, reduction, "cross_entropy")


def binary_cross_entropy_with_logits(input: Tensor, target, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy between ``sigmoid(input)`` and probabilities ``target``.

    Computed as ``(1 - t) x + (1 + (w - 1) t) softplus(-x)`` (``w = pos_weight``, default 1),
    which is ``-t log sigmoid(x) - (1 - t) log(1 - sigmoid(x))`` without overflow.
    """
    check_floating(input, "binary_cross_entropy_with_logits")
    target = _as_values(on_device_of(target, input, "binary_cross_entropy_with_logits"), input)
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    log_weight = 1.0 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * input + log_weight * softplus(-input)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")
