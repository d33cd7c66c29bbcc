"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d`` (with running statistics),
``LayerNorm``."""

from __future__ import annotations

from .._defaults import get_default_dtype
from ..autograd import Tensor
from ..backends import get_device
from ..ops import ones, zeros
from . import functional as F
from .module import Module, Parameter, check_input, check_sizes

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    """Shared by the batch norms; ``ndims`` lists the input ranks each accepts."""

    ndims: tuple = ()
    layout = ""
    ignored_state = ("num_batches_tracked",)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, device=None,
                 dtype=None):
        super().__init__()
        check_sizes(type(self).__name__, 0, num_features=num_features)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        device = get_device(device)
        dtype = get_default_dtype() if dtype is None else dtype
        if affine:
            self.weight = Parameter(ones((num_features,), dtype=dtype, device=device))
            self.bias = Parameter(zeros((num_features,), dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros((num_features,), dtype=dtype,
                                                       device=device))
            self.register_buffer("running_var", ones((num_features,), dtype=dtype,
                                                     device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x, self.weight if self.weight is not None else self.running_mean)
        if x.ndim not in self.ndims or x.shape[1] != self.num_features:
            raise ValueError(f"{self!r}: expected input of shape "
                             f"{self.layout.format(C=self.num_features)}, got {x.shape}")
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training or not self.track_running_stats,
                            momentum=self.momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs, per channel.

    In training mode each batch is normalised by its own mean and (biased) variance, and the
    buffers ``running_mean``/``running_var`` move towards the batch's mean and unbiased variance:
    ``running = (1 - momentum) running + momentum batch``. In eval mode the running statistics
    normalise. ``weight`` (ones) and ``bias`` (zeros) scale and shift when ``affine``.
    Parameters and buffers have ``dtype`` (default ``multigrad.get_default_dtype()``, float32);
    an input of another dtype is an error. A PyTorch state dict's ``num_batches_tracked`` is
    accepted by ``load_state_dict`` and ignored (``momentum`` is always a number here).
    """

    ndims = (2, 3)
    layout = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` inputs, per channel (see ``BatchNorm1d``)."""

    ndims = (4,)
    layout = "(N, {C}, H, W)"


class LayerNorm(Module):
    """Normalise over the last dims (of shape ``normalized_shape``) of each sample, then scale
    and shift elementwise by ``weight`` (ones) and ``bias`` (zeros) when
    ``elementwise_affine``, of ``dtype`` (default ``multigrad.get_default_dtype()``, float32;
    an input of another dtype is an error)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, *, device=None, dtype=None):
        super().__init__()
        self.normalized_shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                                 else tuple(normalized_shape))
        for n in self.normalized_shape:
            check_sizes("LayerNorm", 0, normalized_shape=n)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        device = get_device(device)
        dtype = get_default_dtype() if dtype is None else dtype
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(self.normalized_shape, dtype=dtype, device=device))

    def forward(self, x: Tensor) -> Tensor:
        check_input(self, x, self.weight)
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            raise ValueError(f"{self!r}: expected input of shape (..., "
                             f"{', '.join(map(str, self.normalized_shape))}), got {x.shape}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
