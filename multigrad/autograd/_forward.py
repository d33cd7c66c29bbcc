"""Forward mode: tangents pushed forward with the primal values.

Each ``jvp`` call opens a new level; tensors carry ``{level: tangent}`` and ``apply`` runs the
JVP rules of the highest level first, so nested transforms keep their tangents apart.
"""

from __future__ import annotations

from ..backends import MixedDeviceError
from ._primitive import namespace, new_level
from ._tensor import Tensor

__all__ = ["jvp"]


def _with_tangent(x: Tensor, t: Tensor, level: int) -> Tensor:
    """An alias of ``x`` (same data and tape identity) carrying tangent ``t`` at ``level``."""
    alias = Tensor(x.data, x.device, x.requires_grad, x._node, x._index)
    alias._tangents = dict(x._tangents or ())
    alias._tangents[level] = t
    return alias


def _take_tangent(y: Tensor, level: int):
    """Split ``y`` into its primal (an alias without ``level``) and its tangent at ``level``."""
    tangents = y._tangents or {}
    t = tangents.get(level)
    if t is None:
        t = namespace().zeros_like(y)
    if level in tangents:
        primal = Tensor(y.data, y.device, y.requires_grad, y._node, y._index)
        rest = {k: v for k, v in tangents.items() if k != level}
        primal._tangents = rest or None
    else:
        primal = y
    return primal, t


def jvp(f, primals, tangents):
    """Evaluate ``f(*primals)`` and its directional derivative along ``tangents``.

    Parameters
    ----------
    f : callable
        A function of tensors returning a tensor or a tuple of tensors.
    primals, tangents : sequence of Tensor
        The point and the direction; each tangent has its primal's shape, dtype and device.

    Returns
    -------
    (out, tangent_out)
        ``f(*primals)`` and ``J_f(primals) @ tangents``, with matching structure.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    for k, (x, t) in enumerate(zip(primals, tangents)):
        if not isinstance(x, Tensor) or not isinstance(t, Tensor):
            raise TypeError(f"jvp: primal and tangent {k} must be Tensors, got "
                            f"{type(x).__name__} and {type(t).__name__}")
        if t.shape != x.shape:
            raise ValueError(f"jvp: tangent {k} has shape {t.shape} but its primal has shape "
                             f"{x.shape}")
        if t.dtype != x.dtype:
            raise TypeError(f"jvp: tangent {k} has dtype {t.dtype.name} but its primal has dtype "
                            f"{x.dtype.name}")
        if t.device is not x.device:
            raise MixedDeviceError(f"jvp: tangent {k} is on {t.device.name} but its primal is on "
                                   f"{x.device.name}")
    level = new_level()
    out = f(*(_with_tangent(x, t, level) for x, t in zip(primals, tangents)))
    if isinstance(out, Tensor):
        return _take_tangent(out, level)
    pairs = [_take_tangent(y, level) for y in out]
    return tuple(p for p, _ in pairs), tuple(t for _, t in pairs)
