"""``Embedding``: a lookup table of learned vectors."""

from __future__ import annotations

from .._defaults import get_default_dtype
from ..autograd import Tensor
from ..backends import get_device
from ..ops import empty
from . import functional as F
from .init import normal_
from .module import Module, Parameter, check_sizes

__all__ = ["Embedding"]


class Embedding(Module):
    """Row ``i`` of ``weight`` ``(num_embeddings, embedding_dim)`` for each index ``i``.

    ``weight`` starts as N(0, 1) draws on ``device`` (from ``generator``, a new one seeded with
    ``seed``, or the device's default generator), of ``dtype`` (default
    ``multigrad.get_default_dtype()``, float32). The output has shape
    ``indices.shape + (embedding_dim,)``; an index repeated in a batch accumulates its
    gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, device=None, dtype=None,
                 seed: int | None = None, generator=None):
        super().__init__()
        check_sizes("Embedding", 0, num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        dtype = get_default_dtype() if dtype is None else dtype
        weight = Parameter(empty((num_embeddings, embedding_dim), dtype=dtype,
                                 device=get_device(device)))
        self.weight = normal_(weight, generator=generator, seed=seed)

    def forward(self, indices) -> Tensor:
        if isinstance(indices, Tensor) and not indices.device.xp.isdtype(
                indices.data.dtype, "integral"):
            raise TypeError(f"{self!r}: expected integer indices, got dtype "
                            f"{indices.dtype.name}")
        return F.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
