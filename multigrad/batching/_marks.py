"""Batch levels and the marks that say which tensors a ``vmap`` batches.

Each running ``vmap`` opens a level (an id from the counter forward mode uses, so later,
inner transforms have higher levels). A tensor batched by it carries a ``Mark`` in its
``_tangents`` dict under that level, where forward mode keeps tangents: the engine already
reads that dict on every op, so code without ``vmap`` pays nothing, and ``apply`` sends any op
on such a tensor to the batching code (the highest level first, as for tangents).

The array of a marked tensor is *physical*: it holds one axis per level that batches it, in
front, in the order of the levels (the outermost vmap's first). What the user's function sees
is the *logical* tensor, without those axes: ``shape``, ``ndim`` and ``size`` hide them
(installed on ``Tensor`` below). Stripping the highest level's mark gives the tensor as that
level's batching rule sees it: the batch axis is then its axis 0.

A mark also says whose tape the tensor is on (see ``_dispatch``):

- ``physical``: batched, and recorded (if at all) by the ops its batching rules run on the
  whole arrays; a transform outside the vmap differentiates those, and sums over the batch
  where an unbatched tensor met it.
- ``logical``: batched, on the tape of a transform running *inside* the vmap (its gradients
  are per example);
- ``per_example``: not batched (the same for every example), but on such a tape too, so its
  cotangent is per example (a ``grad`` inside ``vmap`` of an argument ``vmap`` does not batch).
"""

from __future__ import annotations

import math
import threading

from ..autograd import Tensor
from ..autograd._primitive import _strip, new_level

__all__ = ["Level", "Mark", "open_level", "live_levels", "marks_of", "mark_at", "alias",
           "strip", "batch_axes", "is_batched", "top_level", "random_batch", "mark_draw"]


class Mark:
    """How a tensor stands at one vmap level: batched or not, on whose tape."""

    __slots__ = ("level", "batched", "logical")

    def __init__(self, level: "Level", batched: bool, logical: bool):
        self.level, self.batched, self.logical = level, batched, logical

    def __repr__(self) -> str:
        kind = "per_example" if not self.batched else "logical" if self.logical else "physical"
        return f"<vmap level {self.level.id} ({self.level.size}): {kind}>"


class Level:
    """One running ``vmap``: its id, batch size, randomness, and its three marks."""

    __slots__ = ("id", "size", "randomness", "physical", "logical", "per_example")

    def __init__(self, size: int, randomness: str):
        self.id = new_level()
        self.size = size
        self.randomness = randomness
        self.physical = Mark(self, True, False)
        self.logical = Mark(self, True, True)
        self.per_example = Mark(self, False, True)

    def mark(self, batched: bool, logical: bool) -> Mark:
        if not batched:
            return self.per_example
        return self.logical if logical else self.physical


class _Live(threading.local):
    levels: tuple = ()  # the running vmaps of this thread, outermost first


_live = _Live()


class open_level:
    """Context manager: a fresh level, live (seen by transforms and random draws) inside."""

    def __init__(self, size: int, randomness: str):
        self.level = Level(size, randomness)

    def __enter__(self) -> Level:
        self.before = _live.levels
        _live.levels = self.before + (self.level,)
        return self.level

    def __exit__(self, *exc):
        _live.levels = self.before
        return False


def live_levels() -> tuple:
    """The levels of the vmaps running in this thread, outermost first."""
    return _live.levels


def random_batch(shape: tuple) -> tuple[tuple, tuple]:
    """For a random draw of ``shape``: the shape to draw, with one axis in front for each
    running vmap whose randomness is ``"different"`` (outermost first), and those vmaps'
    levels, to mark the draw with (``mark_draw``); outside vmap, ``shape`` and ``()``."""
    levels = tuple(lv for lv in _live.levels if lv.randomness == "different")
    return tuple(lv.size for lv in levels) + tuple(shape), levels


def mark_draw(t: Tensor, levels: tuple) -> Tensor:
    """A fresh draw ``t`` (of ``random_batch``'s shape) marked as batched by ``levels``, in
    place; returns it."""
    if levels:
        t._tangents = {**(t._tangents or {}), **{lv.id: lv.physical for lv in levels}}
    return t


def marks_of(t) -> dict:
    """``{level id: Mark}`` of a tensor (empty for anything else)."""
    tangents = t._tangents if isinstance(t, Tensor) else None
    if not tangents:
        return {}
    return {k: v for k, v in tangents.items() if type(v) is Mark}


def mark_at(t, level_id: int):
    """The mark of ``t`` at a level, or None."""
    tangents = t._tangents if isinstance(t, Tensor) else None
    mark = tangents.get(level_id) if tangents else None
    return mark if type(mark) is Mark else None


def is_batched(t) -> bool:
    """Whether a tensor has a batch axis of some vmap."""
    tangents = t._tangents if isinstance(t, Tensor) else None
    return bool(tangents) and any(type(v) is Mark and v.batched for v in tangents.values())


def top_level(t):
    """The highest level id in ``t``'s marks and tangents, or None."""
    tangents = t._tangents if isinstance(t, Tensor) else None
    return max(tangents) if tangents else None


def batch_axes(tangents) -> int:
    """How many batch axes an array with these marks holds in front."""
    return sum(1 for v in tangents.values() if type(v) is Mark and v.batched)


def alias(t: Tensor, tangents: dict | None) -> Tensor:
    """A tensor with ``t``'s array and place on the tape, and these marks and tangents."""
    out = Tensor(t.data, t.device, t.requires_grad, t._node, t._index)
    out._tangents = tangents or None
    return out


# ``t`` without its mark at ``level_id`` (the level's batch axis becomes its axis 0): the
# engine's alias of a tensor without one level's tangent, for marks as for tangents
strip = _strip


# -- the logical view on Tensor: shape, ndim and size without the batch axes ------------------

_physical_size = Tensor.size.fget
_plain_detach = Tensor.detach


def _shape(self) -> tuple:
    shape = tuple(self.data.shape)  # the physical shape, without a second call
    tangents = self._tangents
    if tangents is None:
        return shape
    n = batch_axes(tangents)
    return shape[n:] if n else shape


def _ndim(self) -> int:
    ndim = self.data.ndim
    tangents = self._tangents
    return ndim if tangents is None else ndim - batch_axes(tangents)


def _size(self):
    tangents = self._tangents
    if tangents is None or not batch_axes(tangents):
        return _physical_size(self)
    return math.prod(_shape(self))


def _detach(self) -> Tensor:
    """A tensor sharing this one's data, outside the graph and without tangents (a batched
    tensor keeps its batch marks: they say what its array holds)."""
    out = _plain_detach(self)
    tangents = self._tangents
    if tangents:
        kept = {k: v for k, v in tangents.items() if type(v) is Mark and v.batched}
        out._tangents = kept or None
    return out


Tensor.shape = property(_shape, doc="The shape; inside ``vmap``, without the batch axes.")
Tensor.ndim = property(_ndim, doc="The number of axes; inside ``vmap``, without the batch axes.")
Tensor.size = property(_size, doc=Tensor.size.__doc__ + " Inside ``vmap``, of one example.")
Tensor.detach = _detach
