"""Forward mode: tangents pushed forward with the primal values.

Each forward-mode transform opens a new level for the time its function runs; tensors carry
``{level: tangent}`` and ``apply`` runs the JVP rules of the highest level first, so nested
transforms keep their tangents apart. The public ``multigrad.jvp`` (with pytrees) is in
``multigrad.transforms``; this module holds the pieces it and the other transforms share.
"""

from __future__ import annotations

import contextlib
import threading

from ._primitive import namespace, new_level
from ._tensor import Tensor

__all__ = ["forward_level", "with_tangent", "take_tangent", "has_live_tangents",
           "live_tangents"]


class _Live(threading.local):
    levels: frozenset = frozenset()  # the levels whose transforms are running now


_live = _Live()


@contextlib.contextmanager
def forward_level():
    """Open a fresh forward-mode level, live until the block ends; yields its id."""
    level = new_level()
    before = _live.levels
    _live.levels = before | {level}
    try:
        yield level
    finally:
        _live.levels = before


def has_live_tangents(tangents) -> bool:
    """Whether a ``{level: tangent}`` mapping holds a tangent of a transform still running.

    Tangents of finished transforms stay on the tensors and nodes they reached; nobody reads
    them again, so they must not make a later reverse pass record itself.
    """
    return bool(tangents) and not _live.levels.isdisjoint(tangents)


def live_tangents(tangents):
    """The tangents of running transforms in a ``{level: tangent}`` mapping, and theirs in
    turn (a tangent of an inner transform may carry a tangent of an outer one)."""
    if not has_live_tangents(tangents):
        return
    levels = _live.levels
    for level, t in tangents.items():
        if level in levels:
            yield t
            yield from live_tangents(t._tangents)


def with_tangent(x: Tensor, t: Tensor, level: int) -> Tensor:
    """An alias of ``x`` (same data and tape identity) carrying tangent ``t`` at ``level``."""
    alias = Tensor(x.data, x.device, x.requires_grad, x._node, x._index)
    alias._tangents = dict(x._tangents or ())
    alias._tangents[level] = t
    return alias


def take_tangent(y: Tensor, level: int) -> tuple[Tensor, Tensor]:
    """Split ``y`` into its primal (an alias without ``level``) and its tangent at ``level``
    (zeros where ``y`` does not depend on that level's inputs)."""
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
