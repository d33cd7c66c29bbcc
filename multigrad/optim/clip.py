"""Gradient clipping by the total norm of all gradients, computed on their device."""

from __future__ import annotations

from typing import Iterable

from ..autograd import Tensor, no_grad
from ..ops import asarray, astype, minimum, result_type, stack
from ..ops.linalg import vector_norm

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0) -> Tensor:
    """Scale the gradients so that their total norm is at most ``max_norm``; return that norm.

    The total norm is the ``norm_type`` norm of all gradients together, as if they were one
    vector. Gradients are multiplied by ``min(1, max_norm / (total + 1e-6))``: a device-side
    factor, so no value is read back to the host (an infinite or NaN total makes every
    gradient NaN or zero rather than raising).

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Tensors whose ``.grad`` is clipped (those without a gradient are skipped).
    max_norm : float
        The largest total norm allowed.
    norm_type : float
        The order of the norm (``2.0``, ``1.0``, ``math.inf``...).

    Returns
    -------
    Tensor
        The total norm before clipping: a 0-d tensor on the first gradient's device.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    if not isinstance(max_norm, (int, float)) or max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a number >= 0, got {max_norm!r}")
    with_grad = [p for p in parameters if p.grad is not None]
    if not with_grad:
        raise ValueError("clip_grad_norm_: none of the parameters has a gradient (call "
                         "backward() first)")
    with no_grad():
        device = with_grad[0].grad.device
        norms = [asarray(vector_norm(p.grad, ord=norm_type), device=device) for p in with_grad]
        dtype = result_type(*norms)
        total = vector_norm(stack([astype(n, dtype) for n in norms]), ord=norm_type)
        factor = minimum(max_norm / (total + 1e-6), 1.0)
        for p in with_grad:
            p.grad = p.grad * astype(asarray(factor, device=p.grad.device), p.grad.dtype)
    return total
